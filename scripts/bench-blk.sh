#!/usr/bin/env bash
# Block benchmark: 4 KiB random reads and writes at queue depth 1 and 32 against
#   blk     bulkhead-blk polling for up to 32 us (--poll-us=32, QEMU's iothread default)
#   blk0    bulkhead-blk as by default, without polling
#   qsd     qemu-storage-daemon's vhost-user-blk export (aio=io_uring)
#   raw     io_uring straight on the same file (tests/harness/uring-bench), no vhost-user
# the first three driven through the vhost-user harness (tests/harness/hx-bench, which kicks
# only when the backend asks, as Linux's driver does). Every case runs REPS times with the
# backends interleaved (blk, blk0, qsd, raw, blk, blk0, ...), so a machine that slows down
# mid-run slows every backend alike; it prints min/median/max IOPS per backend and the ratios
# of the medians, the median p50/p99 latency, and the backend's CPU time per I/O (from
# /proc/PID/stat; raw counts its own process, which is driver and backend in one). Both cache
# modes by default: the page cache, then O_DIRECT on a real file. Last, the CPU a polling
# bulkhead-blk takes while its frontend is attached and idle, and its PSS.
#
# usage: scripts/bench-blk.sh [BUILDDIR]        (default <repo>/build; must be built)
# env:   BENCH_REPS (default 5), BENCH_SECONDS per run (default 2), BENCH_IMG_MIB (512),
#        BENCH_MODES ("page direct"), BENCH_DIR (where the image goes; default /var/tmp,
#        which must take O_DIRECT for the direct mode)
# Absolute numbers mean little on a shared 2-core VM; compare the ratios of one run.
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=$(readlink -f "${1:-$REPO/build}")
REPS=${BENCH_REPS:-5}
SECS=${BENCH_SECONDS:-2}
IMG_MIB=${BENCH_IMG_MIB:-512}
MODES=${BENCH_MODES:-page direct}
BLK=$BUILD/dev-blk/bulkhead-blk
HXB=$BUILD/tests/harness/hx-bench
URB=$BUILD/tests/harness/uring-bench
QSD=$(command -v qemu-storage-daemon || true)
BACKENDS=(blk blk0 qsd raw)

die() { echo "bench-blk: $*" >&2; exit 1; }
for b in "$BLK" "$HXB" "$URB"; do
	[[ -x $b ]] || die "$b missing; build first: meson setup $BUILD && ninja -C $BUILD"
done
[[ -n $QSD ]] || die "qemu-storage-daemon missing (apt-get install qemu-system-x86)"
[[ $REPS =~ ^[0-9]+$ ]] && ((REPS >= 1)) || die "BENCH_REPS must be a positive number"

DIR=$(mktemp -d "${BENCH_DIR:-/var/tmp}/bench-blk.XXXXXX")
PIDS=()
stop_backends() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
}
trap 'stop_backends; rm -rf "$DIR"' EXIT

IMG=$DIR/disk.img
echo "bench-blk: a ${IMG_MIB} MiB image (allocated, not sparse) in $DIR"
dd if=/dev/zero of="$IMG" bs=1M count="$IMG_MIB" conv=fsync status=none
if [[ $MODES == *direct* ]] && ! dd if="$IMG" of=/dev/null bs=4096 count=1 iflag=direct \
	status=none 2>/dev/null; then
	die "$DIR does not take O_DIRECT: set BENCH_DIR to a directory on a real file system, or BENCH_MODES=page"
fi

wait_sock() {
	local i
	for i in $(seq 200); do
		[[ -S $1 ]] && return 0
		kill -0 "$2" 2>/dev/null || die "backend for $1 exited at startup: $(cat "$DIR"/*.log)"
		sleep 0.05
	done
	die "no socket $1"
}

# start_backends MODE: blk, blk0 and qsd listening on $DIR/NAME.sock
start_backends() {
	local mode=$1 direct=() cache=off pid
	if [[ $mode == direct ]]; then
		direct=(--direct)
		cache=on
	fi
	"$BLK" --socket-path="$DIR/blk.sock" --blk-file="$IMG" --name=bench --poll-us=32 \
		"${direct[@]}" 2>"$DIR/blk.log" &
	pid=$!; PIDS+=("$pid"); BLK_PID=$pid
	wait_sock "$DIR/blk.sock" "$pid"
	"$BLK" --socket-path="$DIR/blk0.sock" --blk-file="$IMG" --name=bench0 \
		"${direct[@]}" 2>"$DIR/blk0.log" &
	pid=$!; PIDS+=("$pid")
	wait_sock "$DIR/blk0.sock" "$pid"
	# locking=off: the bulkhead-blk processes hold the same image (they never run at once)
	"$QSD" --blockdev "driver=file,node-name=f,filename=$IMG,aio=io_uring,cache.direct=$cache,locking=off" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$DIR/qsd.sock,writable=on" \
		2>"$DIR/qsd.log" &
	pid=$!; PIDS+=("$pid")
	wait_sock "$DIR/qsd.sock" "$pid"
}

# run_one MODE BACKEND RW QD: one run; appends its result line to $DIR/MODE.BACKEND.RW.QD
run_one() {
	local mode=$1 b=$2 rw=$3 qd=$4 out raw_args=()
	[[ $mode == direct ]] && raw_args=(--direct)
	case $b in
	raw) out=$("$URB" --file="$IMG" --rw="$rw" --qd="$qd" --seconds="$SECS" "${raw_args[@]}") ;;
	*) out=$("$HXB" --socket="$DIR/$b.sock" --rw="$rw" --qd="$qd" --seconds="$SECS") ;;
	esac || die "$mode $b $rw qd$qd failed: $out"
	echo "$out" >>"$DIR/$mode.$b.$rw.$qd"
}

# summary FILE...: "min median max p50 p99 cpu" of the result lines in each FILE
summary() {
	python3 - "$@" <<'EOF'
import re, statistics, sys
for path in sys.argv[1:]:
    runs = [dict(re.findall(r"(\w+)=(\S+)", l)) for l in open(path) if l.startswith("iops=")]
    def med(k):
        v = [float(r[k]) for r in runs if r.get(k, "n/a") != "n/a"]
        return statistics.median(v) if v else float("nan")
    iops = sorted(float(r["iops"]) for r in runs)
    print("%.0f %.0f %.0f %.1f %.1f %.2f" % (iops[0], statistics.median(iops), iops[-1],
          med("lat_p50_us"), med("lat_p99_us"), med("cpu_us_per_io")))
EOF
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

pss_start=
for mode in $MODES; do
	start_backends "$mode"
	[[ -n $pss_start ]] || pss_start=$(awk '/^Pss:/ { print $2 }' "/proc/$BLK_PID/smaps_rollup")
	echo
	echo "bench-blk: cache=$mode, 4 KiB random I/O, $REPS runs of ${SECS}s per backend and case, interleaved"
	for rw in randread randwrite; do
		for qd in 1 32; do
			for ((i = 1; i <= REPS; i++)); do
				for b in "${BACKENDS[@]}"; do
					run_one "$mode" "$b" "$rw" "$qd"
				done
			done
			printf 'bench-blk: %-6s %-9s qd=%-2s  %-4s %9s %9s %9s  %8s %8s %7s\n' "$mode" "$rw" \
				"$qd" backend "min" "median" "max" "p50 us" "p99 us" "cpu/io"
			declare -A MED=()
			for b in "${BACKENDS[@]}"; do
				read -r mn md mx p50 p99 cpu < <(summary "$DIR/$mode.$b.$rw.$qd")
				MED[$b]=$md
				printf 'bench-blk: %-6s %-9s qd=%-2s  %-4s %9s %9s %9s  %8s %8s %7s\n' "$mode" \
					"$rw" "$qd" "$b" "$mn" "$md" "$mx" "$p50" "$p99" "$cpu"
			done
			printf 'bench-blk: %-6s %-9s qd=%-2s  medians: blk/qsd %s  blk/raw %s  blk/blk0 %s  blk0/qsd %s\n' \
				"$mode" "$rw" "$qd" "$(ratio "${MED[blk]}" "${MED[qsd]}")" \
				"$(ratio "${MED[blk]}" "${MED[raw]}")" "$(ratio "${MED[blk]}" "${MED[blk0]}")" \
				"$(ratio "${MED[blk0]}" "${MED[qsd]}")"
			unset MED
		done
	done
	if [[ $mode == "${MODES##* }" ]]; then
		# the last mode's polling worker, attached and idle for 10 s after a short run
		idle=$("$HXB" --socket="$DIR/blk.sock" --rw=randread --qd=1 --seconds=1 --idle=10 |
			sed -n 's/^idle_cpu_pct=//p')
		echo
		echo "bench-blk: bulkhead-blk (polling up to 32 us) attached and idle for 10 s: ${idle}% of a core"
		sleep 0.2
		echo "bench-blk: bulkhead-blk idle PSS: ${pss_start} KiB before any frontend, $(awk '/^Pss:/ { print $2 }' "/proc/$BLK_PID/smaps_rollup") KiB after the runs"
	fi
	stop_backends
done
