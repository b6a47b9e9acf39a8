#!/usr/bin/env bash
# bench-worker-pss: the idle memory of the device workers. Starts N instances of each worker
# program by hand (bulkhead-blk on a 64 MiB file, bulkhead-net on a tap of its own inside a
# private network namespace, bulkhead-vsock in unix-socket mode), waits until each listens on
# its vhost-user socket, and prints each kind's PSS per instance (/proc/PID/smaps_rollup:
# shared library pages are split between the instances, as on a host running many VMs)
# against the aim of 1 MiB. Needs root for the network namespace.
#
# usage: scripts/bench-worker-pss.sh [BUILD_DIR] [N]      (defaults: build, 4)
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=${1:-$REPO/build}
N=${2:-4}
if [[ ${BENCH_PSS_IN_NETNS:-} != 1 ]]; then
	BENCH_PSS_IN_NETNS=1 exec unshare --net -- bash "$0" "$BUILD" "$N"
fi
for p in dev-blk/bulkhead-blk dev-net/bulkhead-net dev-vsock/bulkhead-vsock; do
	[[ -x $BUILD/$p ]] || { echo "bench-worker-pss: $BUILD/$p not built" >&2; exit 1; }
done
D=$(mktemp -d /tmp/bench-worker-pss.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
truncate -s 64M "$D/disk.img"

# start KIND ARGS...: N instances, each with its own socket D/KIND-I.sock
start() {
	local kind=$1 i
	shift
	for ((i = 0; i < N; i++)); do
		"$BUILD/dev-$kind/bulkhead-$kind" --socket-path="$D/$kind-$i.sock" \
			"${@//@I@/$i}" 2>>"$D/$kind.log" &
		pids+=($!)
		echo "$kind $!" >>"$D/pids"
	done
}
for ((i = 0; i < N; i++)); do
	ip tuntap add dev "bhpss$i" mode tap
done
start blk --blk-file="$D/disk.img" --read-only
start net --tap=bhpss@I@ --mac=52:54:00:00:00:1@I@
start vsock --guest-cid=1@I@ --uds-path="$D/vm-@I@.sock"
for s in blk net vsock; do
	for ((i = 0; i < N; i++)); do
		for _ in $(seq 100); do [[ -S $D/$s-$i.sock ]] && break; sleep 0.05; done
		[[ -S $D/$s-$i.sock ]] || { cat "$D/$s.log"; echo "bench-worker-pss: bulkhead-$s did not start" >&2; exit 1; }
	done
done
echo "bench-worker-pss: $N idle instances of each worker (no frontend connected)"
printf '%-16s %10s %10s %10s\n' worker "min KiB" "max KiB" "vs 1 MiB"
for s in blk net vsock; do
	awk -v k="$s" '$1 == k { print $2 }' "$D/pids" | while read -r p; do
		awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup"
	done | sort -n | awk -v k="bulkhead-$s" '{ v[NR] = $1 } END {
		printf "%-16s %10d %10d %9.2fx\n", k, v[1], v[NR], v[NR] / 1024 }'
done
