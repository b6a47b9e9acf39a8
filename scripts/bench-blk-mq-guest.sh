#!/usr/bin/env bash
# A Linux guest with 4 vCPUs reading one bulkhead disk with O_DIRECT from 4 pinned jobs, the
# disk served with 1 queue and with 4 (num-queues=), interleaved, through the KVM test host
# where this machine has no usable KVM.
#   bash scripts/bench-blk-mq-guest.sh [ROUNDS] [MiB]      (defaults 3 and 64)
# Needs a build in build/ (or BULKHEAD=path, not under /tmp: the test host has its own /tmp)
# and the guest assets (built on first use).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BULKHEAD=${BULKHEAD:-$REPO/build/vmm-core/bulkhead}
[[ -x $BULKHEAD ]] || { echo "bench-blk-mq-guest: $BULKHEAD not built (meson setup build && ninja -C build)" >&2; exit 1; }
bash "$REPO/scripts/guest-assets.sh" "$REPO/assets" >/dev/null
exec bash "$REPO/scripts/kvm-host.sh" --need linux --smp 4 --timeout 3000 -- \
	env BULKHEAD="$BULKHEAD" ASSETS_DIR="$REPO/assets" python3 "$REPO/scripts/bench_blk_mq_guest.py" "$@"
