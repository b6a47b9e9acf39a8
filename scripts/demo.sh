#!/usr/bin/env bash
# README command 1: install dependencies, build, and boot the default Linux guest (Debian's
# cloud kernel with a busybox initramfs, scripts/guest-assets.sh) with its serial console on
# this terminal. On a terminal the guest ends at a shell (exit it, or run poweroff, to end
# the VM); without one it prints its init line and powers off. Exits with bulkhead's status
# (0 when the guest powered off or reset).
#
# Where it runs: directly on hardware KVM, otherwise (no /dev/kvm, or kvm_pvm, where a stock
# kernel cannot reach init) inside the nested KVM test host of scripts/kvm-host.sh. One line
# says which.
#
# usage: bash scripts/demo.sh
# env:   BUILDDIR (default <repo>/build); BULKHEAD_KVM_HOST=direct|nested forces the choice.
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=${BUILDDIR:-$REPO/build}
BULKHEAD=$BUILD/vmm-core/bulkhead
cd "$REPO"

bash scripts/deps.sh
if [[ -f $BUILD/build.ninja ]]; then
	meson setup --reconfigure "$BUILD" >/dev/null
else
	meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" >/dev/null
echo "demo: built $BULKHEAD"
bash scripts/guest-assets.sh

append="console=ttyS0 panic=-1 bulkhead.modules=1"
if [[ -t 0 && -t 1 ]]; then
	append+=" bulkhead.shell=1"
	ends="a shell on this terminal (exit or poweroff ends the VM)"
else
	ends="its init line, then it powers off (no terminal)"
fi
echo "demo: KVM: $(bash scripts/kvm-host.sh --need linux --where)"
echo "demo: booting Debian's cloud kernel $(cat assets/kernel-version) with the busybox initramfs;"
echo "demo: the guest prints BULKHEAD-GUEST-INIT-OK and ends at $ends."
cmd=("$BULKHEAD" -name demo -kernel assets/vmlinuz -initrd assets/initrd.gz -serial stdio
	-smp 2 -m 512 -append "$append")
echo "demo: ${cmd[*]}"
echo "demo: ---------------- guest serial console ----------------"
rc=0
bash scripts/kvm-host.sh --need linux -- "${cmd[@]}" || rc=$?
echo "demo: ---------------- bulkhead exited with status $rc ----------------"
exit "$rc"
