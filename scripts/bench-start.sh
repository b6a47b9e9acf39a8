#!/usr/bin/env bash
# Start-up benchmark: bulkhead against QEMU microvm in the same run, with a Kata-style
# configuration (Kata Containers' StratoVirt command line, DESIGN §10): 2 vCPUs, 512 MiB, the
# default guest kernel and initramfs, QMP on a unix socket, virtio-rng, a read-only virtio-blk
# rootfs (a sparse 64 MiB raw image), virtio-net on a tap, and vsock:
#   bulkhead  -device vsock,guest-cid=N (kernel mode) when /dev/vhost-vsock opens, otherwise
#             -device vsock,...,uds-path=DIR/v.sock (unix-socket mode)
#   QEMU      -M microvm -accel kvm (-accel tcg when KVM does not work for QEMU here: then the
#             comparison is against TCG) -nodefaults -nographic, the equivalent devices, and
#             vhost-vsock-device only when /dev/vhost-vsock opens (else no vsock on QEMU's side)
# Each run times, from the exec of the VMM, until a QMP client polling its socket (1 ms
# sleeps) has the greeting and {"return": {}} for qmp_capabilities ("exec->QMP ready"); then
# the PSS of the VMM's whole process tree (smaps_rollup); then sends quit and times until the
# VMM exits ("quit->exit"). Runs are interleaved (bulkhead, qemu, bulkhead, ...); printed per
# side: min/median/max of exec->QMP ready, the medians of quit->exit and PSS, and the
# bulkhead/qemu ratios of the medians. The guest keeps booting in the background (the
# initramfs gets a /test.sh that idles, so where it reaches init it never powers off before
# quit); on a shared 2-core machine absolute numbers mean little: compare the ratios of one run.
#
# Needs root (it creates two taps, bhbenchN, one per side). Everything it makes (taps, image,
# temp dir) goes on every exit path.
#
# usage: scripts/bench-start.sh [RUNS (default 10)] [BUILDDIR (default <repo>/build)]
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
RUNS=${1:-10}
BUILD=$(readlink -f "${2:-$REPO/build}")
BULKHEAD=$BUILD/vmm-core/bulkhead
ASSETS=$REPO/assets

die() { echo "bench-start: $*" >&2; exit 1; }
[[ $RUNS =~ ^[0-9]+$ ]] && ((RUNS >= 1)) || die "usage: $0 [RUNS (>= 1)] [BUILDDIR]"
((EUID == 0)) || die "must run as root: it creates the tap devices both VMMs need (sudo $0 $*)"
[[ -x $BULKHEAD ]] || die "$BULKHEAD missing; build first: meson setup $BUILD && ninja -C $BUILD"
command -v qemu-system-x86_64 >/dev/null ||
	die "qemu-system-x86_64 missing (scripts/deps.sh, or apt-get install qemu-system-x86)"
command -v ip >/dev/null || die "ip missing (apt-get install iproute2)"
[[ -c /dev/net/tun ]] || die "/dev/net/tun missing (modprobe tun)"
if [[ ! -f $ASSETS/vmlinuz || ! -f $ASSETS/initrd.gz ]]; then
	echo "bench-start: building the guest assets (scripts/guest-assets.sh)"
	bash "$REPO/scripts/guest-assets.sh" >/dev/null
fi

DIR=
TAPS=()
# shellcheck disable=SC2317   # (run from the traps)
cleanup() {
	local pid
	trap - EXIT INT TERM HUP
	if [[ -n ${PY_PID:-} ]] && kill -0 "$PY_PID" 2>/dev/null; then
		kill -TERM "$PY_PID" 2>/dev/null || true
		wait "$PY_PID" 2>/dev/null || true
	fi
	# a VMM the helper could not stop (say it was killed): its whole session
	if [[ -n $DIR && -f $DIR/vmm.pid ]]; then
		pid=$(<"$DIR/vmm.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && kill -KILL -- "-$pid" 2>/dev/null; then
			sleep 0.2
		fi
	fi
	for t in "${TAPS[@]}"; do
		ip tuntap del dev "$t" mode tap 2>/dev/null || ip link del dev "$t" 2>/dev/null || true
	done
	[[ -z $DIR ]] || rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

DIR=$(mktemp -d "${TMPDIR:-/tmp}/bench-start.XXXXXX")
IMG=$DIR/rootfs.img
truncate -s 64M "$IMG"

# two taps, bhbenchN and bhbenchN+1, with the first free N
n=0
while ((${#TAPS[@]} < 2)); do
	((n < 200)) || die "could not create two tap devices bhbench0..bhbench199"
	if ip tuntap add dev "bhbench$n" mode tap 2>/dev/null; then
		TAPS+=("bhbench$n")
	fi
	n=$((n + 1))
done

# QEMU's accelerator: KVM when QEMU can use it here
if echo quit | timeout 30 qemu-system-x86_64 -M microvm -accel kvm -nodefaults -display none \
	-S -monitor stdio >/dev/null 2>&1; then
	ACCEL=kvm
	echo "bench-start: QEMU: -M microvm -accel kvm"
else
	ACCEL=tcg
	echo "bench-start: QEMU: KVM does not work for QEMU here: -accel tcg; the comparison is against TCG"
fi

# vsock: kernel mode when /dev/vhost-vsock opens (-c first: <> would create a plain file)
if [[ -c /dev/vhost-vsock ]] && (exec 9<>/dev/vhost-vsock) 2>/dev/null; then
	VSOCK=kernel
	echo "bench-start: vsock: /dev/vhost-vsock opens: bulkhead -device vsock (kernel mode), QEMU -device vhost-vsock-device"
else
	VSOCK=uds
	echo "bench-start: vsock: /dev/vhost-vsock does not open: bulkhead -device vsock,uds-path= (unix-socket mode);"
	echo "bench-start:        QEMU runs WITHOUT vsock, so the two sides differ by that device"
fi
# a CID no other VM is likely to hold (kernel mode refuses a CID in use)
CID=$((1000 + $$ % 100000))
echo "bench-start: taps ${TAPS[0]} (bulkhead) ${TAPS[1]} (qemu), image $IMG (64 MiB sparse), guest CID $CID"
echo "bench-start: $RUNS runs per side, interleaved; $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

python3 "$REPO/scripts/bench_start.py" "$RUNS" "$BULKHEAD" "$ASSETS" "$DIR" "$IMG" \
	"${TAPS[0]}" "${TAPS[1]}" "$ACCEL" "$VSOCK" "$CID" &
PY_PID=$!
rc=0
wait "$PY_PID" || rc=$?
PY_PID=
echo
echo "bench-start: load after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$rc"
