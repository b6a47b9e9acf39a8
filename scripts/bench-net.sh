#!/usr/bin/env bash
# bench-net: frames per second and Gbit/s through bulkhead-net between the vhost-user harness
# (the guest's rings) and a tap, both directions, against a plain read/write loop on the same
# tap in the same run; single queue pair, 1514-byte frames. Needs root (a network namespace
# and a tap of its own; nothing outside it is touched).
#
# usage: scripts/bench-net.sh [BUILD_DIR] [SECONDS] [ROUNDS]     (defaults: build, 3, 1)
# ROUNDS > 1 alternates raw and bulkhead that many times per direction (SECONDS/ROUNDS each):
# on a machine shared with other load, both sides of a ratio then see the same share of it.
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=${1:-$REPO/build}
SECS=${2:-3}
ROUNDS=${3:-1}
BENCH=$BUILD/tests/harness/hx-net-bench
NET=$BUILD/dev-net/bulkhead-net

for f in "$BENCH" "$NET"; do
	[[ -x $f ]] || { echo "bench-net: $f not built (ninja -C $BUILD)" >&2; exit 1; }
done
echo "bench-net: $(nproc) CPUs, ${SECS}s per measurement in $ROUNDS round(s), 1514-byte frames," \
	"1 queue pair"
exec "$BENCH" --bin="$NET" --seconds="$SECS" --rounds="$ROUNDS"
