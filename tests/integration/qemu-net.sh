#!/usr/bin/env bash
# Interop: a Linux guest under QEMU TCG uses bulkhead-net as its NIC through `-netdev
# vhost-user,queues=2` and `-device virtio-net-pci,mq=on` (guest RAM is a shared memfd). All of
# it runs in a network namespace of its own: a two-queue tap with the host side's address,
# bulkhead-net on that tap, QEMU. The guest must see the MAC it was given, configure an
# address and ping the host side; the host side then pings the guest back; the worker must
# still be alive afterwards.
#
# The default initramfs (scripts/guest-assets.sh: virtio_net, failover and net_failover are
# in it) is reused with a second cpio archive whose /init is the test script below.
#
# The NIC has no MSI-X (vectors=0): QEMU 7.2 (Debian 12) segfaults in vhost_net_start when it
# masks the control queue's MSI-X vector of a vhost-user netdev (virtio_net_guest_notifier_mask
# looks the control queue up as a data queue pair that does not exist); INTx avoids that path.
#
# env: BULKHEAD_NET (default <repo>/build/dev-net/bulkhead-net), ASSETS_DIR (default
#      <repo>/assets, built when missing), QEMU (qemu-system-x86_64), QEMU_TIMEOUT (300),
#      QEMU_NET_PAIRS (queue pairs and vCPUs, default 2), QEMU_WRAP (a command QEMU runs
#      under, e.g. "gdb -batch -ex run -ex bt --args").
# exit: 0 pass, 1 fail.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
REPO=$(dirname "$(dirname "$HERE")")
ASSETS=${ASSETS_DIR:-$REPO/assets}
NET=${BULKHEAD_NET:-$REPO/build/dev-net/bulkhead-net}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${QEMU_TIMEOUT:-300}
MAC=52:54:00:be:ef:42
TAP=bhq0
HOST_IP=10.77.0.1
GUEST_IP=10.77.0.2
PAIRS=${QEMU_NET_PAIRS:-2}

. "$HERE/qemu-lib.sh"
fail() { echo "qemu-net: FAIL: $*"; exit 1; }

# Everything below runs inside a private network namespace (root: CAP_NET_ADMIN there); the
# namespace, its tap and its routes vanish with the last process in it.
if [[ ${QEMU_NET_IN_NETNS:-} != 1 ]]; then
	command -v unshare >/dev/null || fail "unshare missing"
	QEMU_NET_IN_NETNS=1 exec unshare --net -- bash "$0" "$@"
fi

command -v "$QEMU" >/dev/null || fail "$QEMU not installed (scripts/deps.sh installs it)"
[[ -x $NET ]] || fail "$NET not built"
for t in cpio gzip ip; do
	command -v "$t" >/dev/null || fail "$t missing"
done
# the host's ping, or busybox's (which the guest assets need anyway)
PING=(ping)
command -v ping >/dev/null || PING=(busybox ping)
"${PING[@]}" -c 1 -W 1 127.0.0.1 >/dev/null 2>&1 || ip link set lo up
bash "$REPO/scripts/guest-assets.sh" "$ASSETS" >/dev/null

DIR=$(mktemp -d /tmp/qemu-net.XXXXXX)
NET_PID=
QEMU_PID=
cleanup() {
	for p in $QEMU_PID $NET_PID; do
		kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$DIR"
}
trap cleanup EXIT

# --- the host side: a two-queue tap with an address ------------------------------------------
ip link set lo up
ip tuntap add dev $TAP mode tap $( ((PAIRS > 1)) && echo multi_queue)
ip addr add $HOST_IP/24 dev $TAP
ip link set $TAP up

# --- the test /init, appended as a second archive ----------------------------------------------
mkdir -p "$DIR/extra"
{
	ql_init_head NETTEST
	cat <<EOF
i=0
while [ ! -e /sys/class/net/eth0 ] && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i + 1)); done
[ -e /sys/class/net/eth0 ] || { echo "NETTEST-FAIL no eth0"; done_; }
echo "NETTEST-MAC \$(cat /sys/class/net/eth0/address)"
echo "NETTEST-QUEUES \$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)"
ip link set lo up
ip addr add $GUEST_IP/24 dev eth0
ip link set eth0 up
if ping -c 3 -W 5 $HOST_IP; then echo NETTEST-PING-OK; else echo "NETTEST-FAIL ping"; fi
# large ICMP: fragments of full-size frames both ways
if ping -c 2 -W 5 -s 8000 $HOST_IP; then echo NETTEST-BIGPING-OK; else echo "NETTEST-FAIL big ping"; fi
# stay up until the host side pinged back (it touches /nothing: a bounded wait)
sleep 6
done_
EOF
} >"$DIR/extra/init"
ql_initrd "$DIR" "$ASSETS"

# --- the backend, then the guest ---------------------------------------------------------------
SOCK=$DIR/net.sock
"$NET" --socket-path="$SOCK" --tap=$TAP --queues=$PAIRS --mac=$MAC --name=qemu 2>"$DIR/net.log" &
NET_PID=$!
ql_wait_socket "$NET_PID" "$SOCK" "$DIR/net.log" bulkhead-net

LOG=$DIR/console.log
start=$(date +%s)
timeout --kill-after=10 "$TIMEOUT" ${QEMU_WRAP:-} "$QEMU" -M pc,memory-backend=mem -accel tcg -smp $PAIRS -m 256 \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-nodefaults -nographic -serial stdio -no-reboot \
	-kernel "$ASSETS/vmlinuz" -initrd "$DIR/initrd.gz" \
	-append "console=ttyS0 reboot=k panic=1 quiet" \
	-chardev socket,id=c0,path="$SOCK" -netdev vhost-user,id=n0,chardev=c0,queues=$PAIRS \
	-device virtio-net-pci,netdev=n0,mac=$MAC,mq=$( ((PAIRS > 1)) && echo on || echo off),vectors=0 \
	</dev/null >"$LOG" 2>&1 &
QEMU_PID=$!
# the host side pings the guest once it has its address
pinged=0
for _ in $(seq $((TIMEOUT * 2))); do
	kill -0 "$QEMU_PID" 2>/dev/null || break
	if grep -aq NETTEST-PING-OK "$LOG" 2>/dev/null; then
		"${PING[@]}" -c 2 -W 5 $GUEST_IP >"$DIR/hostping.log" 2>&1 && pinged=1
		break
	fi
	sleep 0.5
done
rc=0
wait "$QEMU_PID" || rc=$?
QEMU_PID=
secs=$(($(date +%s) - start))
ql_console "$LOG"
grep -a -E "NETTEST|BULKHEAD|virtio|eth0|qemu-system|bytes from|packet|^#" "$LOG" | tail -n 30 | sed 's/^/  | /'
sed 's/^/  net| /' "$DIR/net.log" | tail -n 20

((rc != 124)) || fail "the guest did not finish within ${TIMEOUT}s"
has BULKHEAD-GUEST-INIT-OK || fail "the guest did not reach init (qemu status $rc)"
has NETTEST-FAIL && fail "$(grep -a NETTEST-FAIL "$LOG" | head -n 1)"
has "NETTEST-MAC $MAC" || fail "guest saw $(grep -a NETTEST-MAC "$LOG" || echo 'no MAC'), want $MAC"
has "NETTEST-QUEUES $PAIRS" || fail "guest has $(grep -a NETTEST-QUEUES "$LOG" || echo 'no') rx queues, want $PAIRS"
has NETTEST-PING-OK || fail "guest could not ping the host side"
has NETTEST-BIGPING-OK || fail "guest could not ping the host side with 8000-byte packets"
((pinged)) || fail "the host side could not ping the guest: $(cat "$DIR/hostping.log" 2>/dev/null)"
has NETTEST-END || fail "guest script did not finish"
kill -0 "$NET_PID" 2>/dev/null || fail "bulkhead-net died"
echo "qemu-net: PASS: guest (mac $MAC, 2 queue pairs) and host pinged each other through bulkhead-net (vhost-user netdev, TCG, ${secs}s)"
