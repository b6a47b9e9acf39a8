#!/bin/bash
# A stock Linux guest that reboots ends the VM as a reset, by each of the kernel's methods:
# the Debian cloud kernel (assets/vmlinuz) with the default initramfs and bulkhead.reboot=1
# (its /init then runs `reboot -f`), plus
#   default   no reboot= at all: on hardware-reduced ACPI Linux picks EFI, finds no EFI and
#             jumps to the real-mode reset vector F000:FFF0 (the core's stub resets via i8042)
#   k         reboot=k: the i8042 reset command
#   a         reboot=a: the FADT reset register
#   t         reboot=t: a triple fault (empty IDT, int3), which the core treats as a reset
# Each must end within a deadline with exit status 0 and "bulkhead: the guest reset"; a
# method that leaves the guest spinning fails on the deadline.
#
# usage: linux-reboot.sh BULKHEAD ASSETS_DIR default|k|a|t    (through kvm-host.sh --need linux)
# env:   LINUX_BOOT_TIMEOUT   seconds for the guest to reach its reboot (default 240)
set -u

usage="usage: linux-reboot.sh BULKHEAD ASSETS_DIR default|k|a|t"
bulkhead=${1:?$usage}
assets=${2:?$usage}
method=${3:?$usage}
boot_tmo=${LINUX_BOOT_TIMEOUT:-240}
# from "reboot: Restarting system" to the end: the kernel's own steps are immediate, but
# reboot=k first waits for the i8042 (kb_wait) and everything runs under TCG here
end_tmo=60

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
# shellcheck source=linux-lib.sh
. "$HERE/linux-lib.sh"

case $method in
default) append= ;;
k|a|t) append="reboot=$method" ;;
*) echo "$usage" >&2; exit 2 ;;
esac

ll_init "linux-reboot-$method"
ll_need_assets "$assets"
ll_boot '^BULKHEAD-GUEST-REBOOT' "$boot_tmo" "$bulkhead" -kernel "$assets/vmlinuz" \
	-initrd "$assets/initrd.gz" -serial stdio -m 256 \
	-append "console=ttyS0 panic=-1 bulkhead.reboot=1 $append" ||
	ll_fail "the guest never got to its reboot"
ll_wait_exit "$end_tmo"
[ "$LL_RC" = 124 ] && ll_fail "the VM did not end within ${end_tmo}s of the guest's reboot"
[ "$LL_RC" = 0 ] || ll_fail "bulkhead exited with status $LL_RC, want 0"
grep -aqx 'bulkhead: the guest reset' "$LL_ERR" || ll_fail "stderr does not say 'bulkhead: the guest reset'"
grep -aq 'reboot: machine restart' "$LL_OUT" || ll_fail "the kernel did not restart the machine"
grep -aq 'BULKHEAD-GUEST-HALT-FAILED' "$LL_OUT" && ll_fail "the guest's init went on after reboot -f"
if [ "$method" = t ]; then
	grep -aq 'triple fault' "$LL_ERR" || ll_fail "stderr does not name the triple fault"
fi
ll_pass "reboot${append:+ ($append)} ends the VM as a reset, exit 0"
