#!/usr/bin/env bash
# Guest -> host vsock throughput, bulkhead (unix-socket and kernel mode) vs QEMU microvm with
# vhost-vsock-device, in one run, through the KVM test host where this machine has no usable
# KVM.
#   bash scripts/bench-vsock-guest.sh [ROUNDS] [MiB]      (defaults 3 and 64)
# Needs a build in build/ (or BULKHEAD=path, not under /tmp: the test host has its own /tmp)
# and the guest assets (built on first use).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BULKHEAD=${BULKHEAD:-$REPO/build/vmm-core/bulkhead}
[[ -x $BULKHEAD ]] || { echo "bench-vsock-guest: $BULKHEAD not built (meson setup build && ninja -C build)" >&2; exit 1; }
bash "$REPO/scripts/guest-assets.sh" "$REPO/assets" >/dev/null
exec bash "$REPO/scripts/kvm-host.sh" --need linux --timeout 3000 -- \
	env BULKHEAD="$BULKHEAD" ASSETS_DIR="$REPO/assets" python3 "$REPO/scripts/bench_vsock_guest.py" "$@"
