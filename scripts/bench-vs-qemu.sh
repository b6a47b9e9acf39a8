#!/usr/bin/env bash
# Side-by-side boot benchmark: bulkhead and QEMU microvm (-M microvm -accel kvm -cpu host, its
# own qboot firmware) boot the same Debian cloud kernel and busybox initramfs, 1 vCPU, 512 MiB,
# in the same KVM (scripts/kvm-host.sh --need linux: the nested test host where this machine
# cannot run a stock kernel, where absolute times mean nothing and only the ratios do).
# Runs are interleaved (bulkhead, qemu, bulkhead, ...); printed per VMM: median (min-max) of
#   init    exec -> the guest's first init line (BULKHEAD-GUEST-INIT-OK)
#   exit    exec -> the VMM's exit after the guest powered off
#   exits   KVM exits during the run (debugfs kvm/exits; io, mmio, halt shown too)
#   pss     PSS of all the VMM's processes while the guest idles after init, and pss_vmm:
#           the same without guest RAM (what the VMM itself costs)
# and the bulkhead/QEMU ratio of each.
#
# usage: bash scripts/bench-vs-qemu.sh [-n RUNS (default 5)] [-b BUILD_DIR]
set -euo pipefail
REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
runs=5 build=$REPO/build
while (($#)); do
	case $1 in
	-n) runs=$2; shift ;;
	-b) build=$(readlink -f "$2"); shift ;;
	*) echo "usage: $0 [-n RUNS] [-b BUILD_DIR]" >&2; exit 2 ;;
	esac
	shift
done
[[ -x $build/vmm-core/bulkhead ]] || { echo "bench-vs-qemu: build first (ninja -C $build)" >&2; exit 1; }
bash "$REPO/scripts/guest-assets.sh" >/dev/null
exec bash "$REPO/scripts/kvm-host.sh" --need linux -- python3 "$REPO/scripts/bench_vs_qemu.py" \
	"$runs" "$build/vmm-core/bulkhead" "$REPO/assets"
