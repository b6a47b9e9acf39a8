#!/usr/bin/env bash
# Block benchmark: 4 KiB random reads and writes at queue depth 1 and 32, through the
# vhost-user harness (tests/harness/hx-bench) against bulkhead-blk and against
# qemu-storage-daemon's vhost-user-blk export (same harness, same run, same image), and raw
# io_uring on the same file (tests/harness/uring-bench). Prints IOPS per case, the ratios
# dev-blk/qsd and dev-blk/raw, and the idle PSS of bulkhead-blk from /proc/PID/smaps_rollup.
#
# usage: scripts/bench-blk.sh [BUILDDIR]        (default <repo>/build; must be built)
# env:   BENCH_SECONDS per case (default 5), BENCH_IMG_MIB (default 512),
#        BENCH_DIRECT=1 to run every backend with O_DIRECT (default: page cache),
#        QSD_AIO (threads|io_uring, default io_uring: the same engine as bulkhead-blk)
# Absolute numbers mean little on a shared 2-core VM; compare the ratios of one run.
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=$(readlink -f "${1:-$REPO/build}")
SECS=${BENCH_SECONDS:-5}
IMG_MIB=${BENCH_IMG_MIB:-512}
DIRECT=${BENCH_DIRECT:-0}
QSD_AIO=${QSD_AIO:-io_uring}
BLK=$BUILD/dev-blk/bulkhead-blk
HXB=$BUILD/tests/harness/hx-bench
URB=$BUILD/tests/harness/uring-bench
QSD=$(command -v qemu-storage-daemon || true)

die() { echo "bench-blk: $*" >&2; exit 1; }
for b in "$BLK" "$HXB" "$URB"; do
	[[ -x $b ]] || die "$b missing; build first: meson setup $BUILD && ninja -C $BUILD"
done
[[ -n $QSD ]] || die "qemu-storage-daemon missing (apt-get install qemu-system-x86)"

DIR=$(mktemp -d /tmp/bench-blk.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$DIR"
}
trap cleanup EXIT

IMG=$DIR/disk.img
echo "bench-blk: preparing a ${IMG_MIB} MiB image (allocated, not sparse) in $DIR"
dd if=/dev/zero of="$IMG" bs=1M count="$IMG_MIB" conv=fsync status=none

wait_sock() {
	local i
	for i in $(seq 200); do
		[[ -S $1 ]] && return 0
		kill -0 "$2" 2>/dev/null || die "backend for $1 exited at startup"
		sleep 0.05
	done
	die "no socket $1"
}

blk_args=(--socket-path="$DIR/blk.sock" --blk-file="$IMG" --name=bench)
qsd_cache=off
urb_args=()
if ((DIRECT)); then
	blk_args+=(--direct)
	qsd_cache=on
	urb_args+=(--direct)
fi

"$BLK" "${blk_args[@]}" 2>"$DIR/blk.log" &
BLK_PID=$!
PIDS+=("$BLK_PID")
wait_sock "$DIR/blk.sock" "$BLK_PID"
sleep 0.2
pss_start=$(awk '/^Pss:/ { print $2 }' "/proc/$BLK_PID/smaps_rollup")

# qsd: locking=off because bulkhead-blk has the same image open (they never run at once).
"$QSD" --blockdev "driver=file,node-name=f,filename=$IMG,aio=$QSD_AIO,cache.direct=$qsd_cache,locking=off" \
	--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$DIR/qsd.sock,writable=on" \
	2>"$DIR/qsd.log" &
QSD_PID=$!
PIDS+=("$QSD_PID")
wait_sock "$DIR/qsd.sock" "$QSD_PID"

declare -A IOPS
iops_of() { sed -n 's/^iops=\([0-9]*\).*/\1/p'; }

run_case() {
	local backend=$1 rw=$2 qd=$3 out
	case $backend in
	blk) out=$("$HXB" --socket="$DIR/blk.sock" --rw="$rw" --qd="$qd" --seconds="$SECS") ;;
	qsd) out=$("$HXB" --socket="$DIR/qsd.sock" --rw="$rw" --qd="$qd" --seconds="$SECS") ;;
	raw) out=$("$URB" --file="$IMG" --rw="$rw" --qd="$qd" --seconds="$SECS" "${urb_args[@]}") ;;
	esac || die "$backend $rw qd$qd failed: $out"
	IOPS[$backend,$rw,$qd]=$(iops_of <<<"$out")
	printf '  %-4s %-10s qd=%-3s %10s IOPS\n' "$backend" "$rw" "$qd" "${IOPS[$backend,$rw,$qd]}"
}

echo "bench-blk: 4 KiB random I/O, ${SECS}s per case, cache=$([[ $DIRECT == 1 ]] && echo direct || echo page), qsd aio=$QSD_AIO"
for rw in randread randwrite; do
	for qd in 1 32; do
		for backend in blk qsd raw; do
			run_case "$backend" "$rw" "$qd"
		done
	done
done

kill -0 "$BLK_PID" 2>/dev/null || die "bulkhead-blk died during the runs"
sleep 0.2
pss_end=$(awk '/^Pss:/ { print $2 }' "/proc/$BLK_PID/smaps_rollup")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
printf 'bench-blk: %-10s %-4s %10s %10s %10s %9s %9s\n' rw qd dev-blk qsd raw blk/qsd blk/raw
for rw in randread randwrite; do
	for qd in 1 32; do
		b=${IOPS[blk,$rw,$qd]} q=${IOPS[qsd,$rw,$qd]} r=${IOPS[raw,$rw,$qd]}
		printf 'bench-blk: %-10s %-4s %10s %10s %10s %9s %9s\n' "$rw" "$qd" "$b" "$q" "$r" \
			"$(ratio "$b" "$q")" "$(ratio "$b" "$r")"
	done
done
echo "bench-blk: bulkhead-blk idle PSS: ${pss_start} KiB before any frontend, ${pss_end} KiB after the runs (no frontend attached)"
