#!/usr/bin/env bash
# Interop: a Linux guest under QEMU TCG uses bulkhead-rng (unix-socket mode, under its seccomp
# filter) through `-device vhost-user-rng-pci` (guest RAM is a shared memfd). Linux's own
# virtio_rng driver and hw_random core in the guest, two boots:
#   plain     --filename=/dev/urandom: rng_available lists a virtio_rng device, it is (or is
#             made) rng_current, 64 KiB come out of /dev/hwrng, and 4 KiB of it hold at least
#             200 of the 256 byte values
#   limited   --max-bytes=2048 --period=1000: after a 4 KiB read that spends whatever period
#             was running, 8 KiB take at least 3 s of guest time (/proc/uptime): 4 periods
#             at least, only the first of which may have begun before the timed read
# After each boot the worker must have seen QEMU go ("served N requests, M bytes" is logged on
# a disconnect; M at least what the guest read), still be alive and listening, must never have
# hit a blocked syscall ("seccomp:" on its stderr), and must exit 0 on SIGTERM. Its socket is
# removed here: under seccomp it cannot unlink it (whoever made the path removes it).
#
# The default initramfs (scripts/guest-assets.sh: virtio_rng is in it) is reused with a second
# cpio archive whose /init is the test script below.
#
# env: BULKHEAD_RNG (default <repo>/build/dev-rng/bulkhead-rng), ASSETS_DIR (default
#      <repo>/assets, built when missing), QEMU (qemu-system-x86_64), QEMU_TIMEOUT (240, per
#      boot).
# exit: 0 pass, 1 fail.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
REPO=$(dirname "$(dirname "$HERE")")
ASSETS=${ASSETS_DIR:-$REPO/assets}
RNG=${BULKHEAD_RNG:-$REPO/build/dev-rng/bulkhead-rng}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${QEMU_TIMEOUT:-240}
BYTES=65536         # read in the plain boot
DISTINCT_MIN=200    # distinct byte values in 4 KiB
LIMIT=2048 PERIOD=1000 PRIME=4096 TIMED=8192 MIN_SECS=3

. "$HERE/qemu-lib.sh"
fail() { echo "qemu-rng: FAIL: $*"; exit 1; }

command -v "$QEMU" >/dev/null || fail "$QEMU not installed (scripts/deps.sh installs it)"
[[ -x $RNG ]] || fail "$RNG not built"
for t in cpio gzip awk; do
	command -v "$t" >/dev/null || fail "$t missing"
done
"$QEMU" -device help 2>&1 | grep -q '"vhost-user-rng-pci"' ||
	fail "$QEMU has no vhost-user-rng-pci device"
bash "$REPO/scripts/guest-assets.sh" "$ASSETS" >/dev/null

DIR=$(mktemp -d /tmp/qemu-rng.XXXXXX)
RNG_PID=
QEMU_PID=
# QEMU_PID is timeout(1), which leads a process group of its own with QEMU in it: a SIGKILL
# to it alone would leave QEMU running.
cleanup() {
	if [[ -n $QEMU_PID ]]; then
		kill -KILL -- -"$QEMU_PID" 2>/dev/null || true
		kill -KILL "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	if [[ -n $RNG_PID ]]; then
		kill -KILL "$RNG_PID" 2>/dev/null || true
		wait "$RNG_PID" 2>/dev/null || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- the guest's test /init: the common part, then one boot's own lines ---------------------------
# rng_pick: rng_available must list a virtio_rng device (the hw_random core registers it
# when the driver probes; a moment's grace all the same); it becomes rng_current.
guest_init() {	# guest_init DIR BODY
	mkdir -p "$1/extra"
	{
		ql_init_head RNGTEST
		cat <<'EOF'
export PATH=/opt/bin:/bin
dmesg -n 1
HR=/sys/class/misc/hw_random
name=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	avail=$(cat $HR/rng_available 2>/dev/null)
	for n in $avail; do
		case $n in virtio_rng*) name=$n; break 2 ;; esac
	done
	sleep 0.5
done
echo "RNGTEST-AVAILABLE $avail"
[ -n "$name" ] || { echo "RNGTEST-FAIL no virtio_rng device in rng_available"; done_; }
cur=$(cat $HR/rng_current)
echo "RNGTEST-WAS-CURRENT $cur"
[ "$cur" = "$name" ] || echo "$name" >$HR/rng_current
echo "RNGTEST-CURRENT $(cat $HR/rng_current)"
[ -c /dev/hwrng ] || { echo "RNGTEST-FAIL no /dev/hwrng"; done_; }
now() { cut -d' ' -f1 /proc/uptime; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
EOF
		printf '%s\ndone_\n' "$2"
	} >"$1/extra/init"
	ql_initrd "$1" "$ASSETS"
}

# --- one boot ------------------------------------------------------------------------------------
# boot NAME BODY WORKER-ARGS...: the worker, then QEMU until the guest powers off, then the
# worker's side of it. Leaves the console in $DIR/NAME/console.log (ql_console: has() reads
# it), the worker's stderr in $DIR/NAME/rng.log, the guest's run time in $secs.
boot() {
	local name=$1 body=$2 d=$DIR/$1 rc st start alive
	shift 2
	mkdir -p "$d"
	guest_init "$d" "$body"

	"$RNG" --socket-path="$d/vhost.sock" --name="$name" "$@" 2>"$d/rng.log" &
	RNG_PID=$!
	ql_wait_socket "$RNG_PID" "$d/vhost.sock" "$d/rng.log" bulkhead-rng

	start=$(date +%s)
	timeout --kill-after=10 "$TIMEOUT" "$QEMU" -M pc,memory-backend=mem -accel tcg -smp 1 -m 256 \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-nodefaults -nographic -serial stdio -no-reboot \
		-kernel "$ASSETS/vmlinuz" -initrd "$d/initrd.gz" \
		-append "console=ttyS0 reboot=k panic=1 quiet" \
		-chardev socket,id=rng0,path="$d/vhost.sock" -device vhost-user-rng-pci,chardev=rng0 \
		</dev/null >"$d/console.log" 2>&1 &
	QEMU_PID=$!
	rc=0
	wait "$QEMU_PID" || rc=$?
	QEMU_PID=
	secs=$(($(date +%s) - start))

	# QEMU is gone: the worker logs the frontend's statistics and listens again
	for _ in $(seq 100); do
		grep -q 'frontend disconnected' "$d/rng.log" && break
		kill -0 "$RNG_PID" 2>/dev/null || break
		sleep 0.1
	done
	alive=0
	kill -0 "$RNG_PID" 2>/dev/null && alive=1
	st=0
	if ((alive)); then
		kill -TERM "$RNG_PID"
		for _ in $(seq 100); do
			kill -0 "$RNG_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$RNG_PID" 2>/dev/null && st=timeout
	fi
	if [[ $st != timeout ]]; then	# else the trap kills it
		wait "$RNG_PID" || st=$?
		RNG_PID=
	fi
	rm -f "$d/vhost.sock"

	ql_console "$d/console.log"
	echo "--- $name: qemu status $rc, ${secs}s"
	grep -a -E "RNGTEST|BULKHEAD|virtio|rng|qemu-system|^#" "$d/console.log" | tail -n 30 |
		sed 's/^/  | /'
	sed 's/^/  rng| /' "$d/rng.log" | tail -n 20

	((rc != 124)) || fail "$name: the guest did not finish within ${TIMEOUT}s"
	has BULKHEAD-GUEST-INIT-OK || fail "$name: the guest did not reach init (qemu status $rc)"
	has RNGTEST-FAIL && fail "$name: $(grep -a RNGTEST-FAIL "$d/console.log" | head -n 1)"
	has RNGTEST-END || fail "$name: guest script did not finish"
	! grep -qE 'seccomp: .* blocked' "$d/rng.log" ||
		fail "$name: bulkhead-rng hit its seccomp filter: $(grep -E 'seccomp: .* blocked' "$d/rng.log")"
	((alive)) || fail "$name: bulkhead-rng died (status $st)"
	[[ $st != timeout ]] || fail "$name: bulkhead-rng did not exit within 10 s of SIGTERM"
	[[ $st == 0 ]] || fail "$name: bulkhead-rng exited with status $st on SIGTERM"
	grep -q 'frontend disconnected' "$d/rng.log" || fail "$name: bulkhead-rng never saw QEMU go"
	grep -q 'signal 15: exiting' "$d/rng.log" || fail "$name: bulkhead-rng did not log its SIGTERM"
	stats=$(grep -o 'served [0-9]* requests, [0-9]* bytes; throttled [0-9]* times' "$d/rng.log" |
		tail -n 1) || fail "$name: bulkhead-rng logged no statistics"
	read -r _ served_reqs _ served_bytes _ _ throttled _ <<<"$stats"
	current=$(grep -a '^RNGTEST-CURRENT' "$d/console.log" | cut -d' ' -f2 || true)
	[[ $current == virtio_rng* ]] || fail "$name: rng_current is '$current', not the virtio_rng device"
}

val() { grep -a "^$1 " "$QL_LOG" | tail -n 1 | cut -d' ' -f2- || true; }
int() { [[ $1 =~ ^[0-9]+$ ]] || fail "$2 is '$1', not a number"; }

# --- plain: 64 KiB and their spread --------------------------------------------------------------
boot plain "$(cat <<EOF
t0=\$(now)
echo "RNGTEST-BYTES \$(head -c $BYTES /dev/hwrng | wc -c)"
t1=\$(now)
echo "RNGTEST-BYTES-SECS \$(secs \$t0 \$t1)"
echo "RNGTEST-DISTINCT \$(head -c 4096 /dev/hwrng | od -An -v -tx1 | tr -s ' ' '\n' | grep . | sort -u | wc -l)"
EOF
)" --filename=/dev/urandom
plain_secs=$secs
got=$(val RNGTEST-BYTES) distinct=$(val RNGTEST-DISTINCT) read_secs=$(val RNGTEST-BYTES-SECS)
int "$got" "bytes read"
int "$distinct" "distinct byte values"
((got == BYTES)) || fail "plain: read $got of $BYTES bytes from /dev/hwrng"
((distinct >= DISTINCT_MIN)) || fail "plain: 4 KiB from /dev/hwrng hold $distinct distinct byte values (want >= $DISTINCT_MIN)"
((served_bytes >= BYTES)) || fail "plain: bulkhead-rng served $served_bytes bytes, the guest read $BYTES"
plain_summary="$current; 64 KiB in ${read_secs}s guest time; $distinct distinct byte values in 4 KiB; worker: $served_reqs requests, $served_bytes bytes"

# --- limited: 2048 bytes per second --------------------------------------------------------------
boot limited "$(cat <<EOF
head -c $PRIME /dev/hwrng >/dev/null
t0=\$(now)
n=\$(head -c $TIMED /dev/hwrng | wc -c)
t1=\$(now)
echo "RNGTEST-LIMITED \$n"
echo "RNGTEST-LIMITED-SECS \$(secs \$t0 \$t1)"
EOF
)" --filename=/dev/urandom --max-bytes=$LIMIT --period=$PERIOD
limited_secs=$secs
got=$(val RNGTEST-LIMITED) took=$(val RNGTEST-LIMITED-SECS)
int "$got" "rate-limited bytes read"
[[ $took =~ ^[0-9]+\.[0-9]+$ ]] || fail "limited: the guest's timing is '$took'"
((got == TIMED)) || fail "limited: read $got of $TIMED bytes from /dev/hwrng"
awk -v t="$took" -v m="$MIN_SECS" 'BEGIN { exit !(t >= m) }' ||
	fail "limited: $TIMED bytes at $LIMIT per ${PERIOD} ms arrived in ${took}s of guest time (want >= ${MIN_SECS}s)"
((served_bytes >= PRIME + TIMED)) || fail "limited: bulkhead-rng served $served_bytes bytes, the guest read $((PRIME + TIMED))"
((throttled > 0)) || fail "limited: bulkhead-rng never throttled"
limited_summary="$TIMED bytes in ${took}s guest time; worker: $served_reqs requests, $served_bytes bytes, throttled $throttled times"

echo "qemu-rng: PASS: a QEMU guest (vhost-user-rng-pci, TCG) reads /dev/hwrng through bulkhead-rng under seccomp: $plain_summary (${plain_secs}s); at $LIMIT bytes per $PERIOD ms: $limited_summary (${limited_secs}s)"
