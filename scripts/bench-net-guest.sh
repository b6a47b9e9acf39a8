#!/usr/bin/env bash
# Guest -> host TCP throughput, bulkhead vs QEMU microvm (userspace virtio-net and vhost-net),
# in one run, through the KVM test host where this machine has no usable KVM.
#   bash scripts/bench-net-guest.sh [ROUNDS] [MiB]      (defaults 3 and 32)
# Needs a build in build/ (or BULKHEAD=path, not under /tmp: the test host has its own /tmp)
# and the guest assets (built on first use).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BULKHEAD=${BULKHEAD:-$REPO/build/vmm-core/bulkhead}
[[ -x $BULKHEAD ]] || { echo "bench-net-guest: $BULKHEAD not built (meson setup build && ninja -C build)" >&2; exit 1; }
bash "$REPO/scripts/guest-assets.sh" "$REPO/assets" >/dev/null
exec bash "$REPO/scripts/kvm-host.sh" --need linux --timeout 3000 -- \
	env BULKHEAD="$BULKHEAD" ASSETS_DIR="$REPO/assets" python3 "$REPO/scripts/bench_net_guest.py" "$@"
