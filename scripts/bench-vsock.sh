#!/usr/bin/env bash
# bench-vsock: stream throughput through bulkhead-vsock (unix-socket mode) between the
# vhost-user harness (the guest's rings and transport) and a host unix socket, both
# directions, against a raw AF_UNIX socketpair moving the same bytes in the same run; 64 KiB
# writes. Runs RUNS times and prints min/median/max of each ratio (vsock / raw).
#
# usage: scripts/bench-vsock.sh [BUILD_DIR] [MIB] [RUNS]     (defaults: build, 512, 3)
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=${1:-$REPO/build}
MIB=${2:-512}
RUNS=${3:-3}
BENCH=$BUILD/tests/harness/hx-vsock-bench
VSOCK=$BUILD/dev-vsock/bulkhead-vsock

for f in "$BENCH" "$VSOCK"; do
	[[ -x $f ]] || { echo "bench-vsock: $f not built (ninja -C $BUILD)" >&2; exit 1; }
done
echo "bench-vsock: $(nproc) CPUs, $MIB MiB per direction, 64 KiB writes, $RUNS runs"
h2g=() g2h=()
for ((i = 1; i <= RUNS; i++)); do
	line=$(BULKHEAD_VSOCK=$VSOCK "$BENCH" "$MIB" 2>/dev/null)
	echo "run $i: $line"
	h2g+=("$(sed -E 's/.*host->guest [0-9]+ MB\/s \(([0-9.]+)x\).*/\1/' <<<"$line")")
	g2h+=("$(sed -E 's/.*guest->host [0-9]+ MB\/s \(([0-9.]+)x\).*/\1/' <<<"$line")")
done
stats() {
	sort -g | awk '{ v[NR] = $1 } END { printf "min %.2fx median %.2fx max %.2fx", v[1], v[int((NR + 1) / 2)], v[NR] }'
}
echo "host->guest / raw: $(printf '%s\n' "${h2g[@]}" | stats)"
echo "guest->host / raw: $(printf '%s\n' "${g2h[@]}" | stats)"
