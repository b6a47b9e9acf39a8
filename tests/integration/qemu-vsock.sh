#!/usr/bin/env bash
# Interop: a Linux guest under QEMU TCG uses bulkhead-vsock (unix-socket mode) through
# `-device vhost-user-vsock-pci` (guest RAM is a shared memfd; QEMU reads the guest CID from
# the backend with GET_CONFIG). Linux's own virtio-vsock driver and socat in the guest:
#   guest -> host   8 MiB to host port 5000 reach a listener at <uds>_5000, md5 checked
#   host -> guest   CONNECT 1234 on the VM's socket, "OK <port>", 8 MiB to the guest's md5sum
#                   listener; the answer is the md5 of what was sent
# Every guest packet carries the CID QEMU read from the backend, and bulkhead-vsock drops any
# other, so data in both directions also shows the CID came through GET_CONFIG.
# then the host connects to port 1235, which lets the guest power off; the worker must still be
# alive afterwards.
#
# env: BULKHEAD_VSOCK (default <repo>/build/dev-vsock/bulkhead-vsock), ASSETS_DIR (default
#      <repo>/assets, built when missing), QEMU (qemu-system-x86_64), QEMU_TIMEOUT (300).
# exit: 0 pass, 1 fail.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
REPO=$(dirname "$(dirname "$HERE")")
ASSETS=${ASSETS_DIR:-$REPO/assets}
VSOCK=${BULKHEAD_VSOCK:-$REPO/build/dev-vsock/bulkhead-vsock}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${QEMU_TIMEOUT:-300}
CID=7
XFER=$((8 << 20))

. "$HERE/qemu-lib.sh"
fail() { echo "qemu-vsock: FAIL: $*"; exit 1; }

command -v "$QEMU" >/dev/null || fail "$QEMU not installed (scripts/deps.sh installs it)"
[[ -x $VSOCK ]] || fail "$VSOCK not built"
for t in cpio gzip python3; do
	command -v "$t" >/dev/null || fail "$t missing"
done
bash "$REPO/scripts/guest-assets.sh" "$ASSETS" >/dev/null

DIR=$(mktemp -d /tmp/qemu-vsock.XXXXXX)
VSOCK_PID=
QEMU_PID=
HOST_PID=
cleanup() {
	for p in $QEMU_PID $HOST_PID $VSOCK_PID; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$DIR"
}
trap cleanup EXIT

# --- the test /init, appended as a second archive ----------------------------------------------
mkdir -p "$DIR/extra"
{
	ql_init_head VSOCKTEST
	cat <<EOF
export PATH=/opt/bin:/bin
dmesg -n 1
socat -t 60 VSOCK-LISTEN:1234,fork EXEC:md5sum &
(socat -u VSOCK-LISTEN:1235 STDOUT >/dev/null 2>&1; echo VSOCKTEST-BYE) &
bye=\$!
sleep 1
echo VSOCKTEST-LISTENING
if yes bulkhead-vsock | head -c $XFER | socat -u STDIN VSOCK-CONNECT:2:5000; then
	echo VSOCKTEST-SENT-OK
else
	echo "VSOCKTEST-FAIL send to host port 5000"
fi
wait \$bye
done_
EOF
} >"$DIR/extra/init"
ql_initrd "$DIR" "$ASSETS"

# --- the backend, the host side, then the guest ----------------------------------------------------
SOCK=$DIR/vhost.sock UDS=$DIR/vm.sock LOG=$DIR/console.log
"$VSOCK" --socket-path="$SOCK" --guest-cid=$CID --uds-path="$UDS" --name=qemu \
	2>"$DIR/vsock.log" &
VSOCK_PID=$!
ql_wait_socket "$VSOCK_PID" "$SOCK" "$DIR/vsock.log" bulkhead-vsock

# The host side: a listener at <uds>_5000 that hashes one connection; once the guest listens,
# CONNECT 1234 with the same data and the guest's md5 back; then port 1235 to end the guest.
python3 - "$UDS" "$LOG" "$XFER" >"$DIR/host.log" 2>&1 <<'EOF' &
import hashlib, socket, sys, threading, time
uds, log, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
line = b"bulkhead-vsock\n"
data = (line * (n // len(line) + 1))[:n]
want = hashlib.md5(data).hexdigest()
deadline = time.monotonic() + 280

srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(uds + "_5000")
srv.listen(1)
srv.settimeout(280)
got = {}

def sink():
    c, _ = srv.accept()
    c.settimeout(120)
    h, total = hashlib.md5(), 0
    while True:
        b = c.recv(1 << 18)
        if not b:
            break
        h.update(b)
        total += len(b)
    got["in"] = (h.hexdigest(), total)

t = threading.Thread(target=sink, daemon=True)
t.start()
while b"VSOCKTEST-LISTENING" not in open(log, "rb").read():
    if time.monotonic() > deadline:
        sys.exit("HOST-FAIL the guest never listened")
    time.sleep(0.2)

def connect(port):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(uds)
    s.sendall(b"CONNECT %d\n" % port)
    reply = b""
    while not reply.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        reply += b
    return s, reply

def exchange():
    s, reply = connect(1234)
    print("HOST-CONNECT-REPLY %r" % reply)
    if not reply.startswith(b"OK "):
        return "CONNECT 1234 answered %r" % reply
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    answer = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        answer += b
    s.close()
    out = answer.split(b" ")[0].decode(errors="replace").strip()
    print("HOST-TO-GUEST md5 %s (want %s)" % (out, want))
    t.join(200)
    print("GUEST-TO-HOST %r (want %s, %d bytes)" % (got.get("in"), want, n))
    if out != want or got.get("in") != (want, n):
        return "data differs"
    return None

try:
    err = exchange()
except OSError as ex:
    err = "%s" % ex
finally:
    try:        # lets the guest power off either way
        connect(1235)[0].close()
    except OSError as ex:
        print("HOST-FAIL port 1235: %s" % ex)
print("HOST-FAIL " + err if err else "HOST-OK")
EOF
HOST_PID=$!

start=$(date +%s)
timeout --kill-after=10 "$TIMEOUT" "$QEMU" -M pc,memory-backend=mem -accel tcg -smp 1 -m 256 \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-nodefaults -nographic -serial stdio -no-reboot \
	-kernel "$ASSETS/vmlinuz" -initrd "$DIR/initrd.gz" \
	-append "console=ttyS0 reboot=k panic=1 quiet" \
	-chardev socket,id=c0,path="$SOCK" -device vhost-user-vsock-pci,chardev=c0 \
	</dev/null >"$LOG" 2>&1 &
QEMU_PID=$!
rc=0
wait "$QEMU_PID" || rc=$?
QEMU_PID=
secs=$(($(date +%s) - start))
wait "$HOST_PID" || true
HOST_PID=
ql_console "$LOG"
grep -a -E "VSOCKTEST|BULKHEAD|vsock|qemu-system|^#" "$LOG" | tail -n 30 | sed 's/^/  | /'
sed 's/^/  host| /' "$DIR/host.log"
sed 's/^/  vsock| /' "$DIR/vsock.log" | tail -n 20

((rc != 124)) || fail "the guest did not finish within ${TIMEOUT}s"
has BULKHEAD-GUEST-INIT-OK || fail "the guest did not reach init (qemu status $rc)"
has VSOCKTEST-FAIL && fail "$(grep -a VSOCKTEST-FAIL "$LOG" | head -n 1)"
grep -q '^HOST-OK$' "$DIR/host.log" || fail "host side: $(grep -a HOST-FAIL "$DIR/host.log" || echo 'no result')"
has VSOCKTEST-SENT-OK || fail "the guest's send to host port 5000 did not finish"
has VSOCKTEST-BYE || fail "the guest never saw the host's connection to port 1235"
has VSOCKTEST-END || fail "guest script did not finish"
kill -0 "$VSOCK_PID" 2>/dev/null || fail "bulkhead-vsock died"
echo "qemu-vsock: PASS: 8 MiB each way between a QEMU guest (vhost-user-vsock-pci, cid $CID) and unix sockets through bulkhead-vsock (TCG, ${secs}s)"
