#!/usr/bin/env bash
# README command 1: install dependencies, build, and boot the default guest with its serial
# console on this terminal. Exits with bulkhead's status (0 when the guest powered off or
# reset). On kvm_pvm hosts, where a stock Linux kernel cannot boot yet (ring 0 is
# instruction-emulated and some instructions are missing), it boots the guest probe from
# tests/probes instead and says so.
#
# usage: bash scripts/demo.sh [--linux]      (--linux: boot Linux even on kvm_pvm)
# env:   BUILDDIR (default <repo>/build)
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=${BUILDDIR:-$REPO/build}
BULKHEAD=$BUILD/vmm-core/bulkhead
cd "$REPO"

force_linux=0
[[ ${1:-} == --linux ]] && force_linux=1

bash scripts/deps.sh
if [[ -f $BUILD/build.ninja ]]; then
	meson setup --reconfigure "$BUILD" >/dev/null
else
	meson setup "$BUILD" >/dev/null
fi
ninja -C "$BUILD" >/dev/null
echo "demo: built $BULKHEAD"

# -serial stdio reads the guest's keyboard input from stdin; without a terminal (CI, a pipe)
# give it /dev/null so nothing waits on input that never comes.
stdin=/dev/stdin
[[ -t 0 ]] || stdin=/dev/null

run() {
	echo "demo: $*"
	echo "demo: ---------------- guest serial console ----------------"
	local rc=0
	"$@" <"$stdin" || rc=$?
	echo "demo: ---------------- bulkhead exited with status $rc ----------------"
	return "$rc"
}

if [[ -d /sys/module/kvm_pvm ]] && ((!force_linux)); then
	probe=$(find "$BUILD/tests/probes" -name 'probe.elf' -print -quit 2>/dev/null || true)
	[[ -n $probe ]] || { echo "demo: probe guest not built (tests/probes)" >&2; exit 1; }
	cat <<EOF
demo: *** This host's KVM is kvm_pvm: guest ring 0 is instruction-emulated and some
demo: *** instructions are missing, so a stock Linux kernel cannot boot to init here
demo: *** (tests/integration/linux-boot.sh records how far it gets). Booting the guest
demo: *** PROBE instead: a small guest that checks CPUs, memory, ACPI tables and the serial
demo: *** port from ring 3 and powers off. Use --linux to try the Linux guest anyway.
EOF
	run "$BULKHEAD" -name demo-probe -kernel "$probe" -serial stdio -smp 2 -m 256 \
		-append "probe=basic expect.cpus=2 expect.mem=268435456 expect.acpi=1 probe.aps=1 probe.token=demo$$"
	exit
fi

bash scripts/guest-assets.sh
echo "demo: booting the Debian cloud kernel $(cat assets/kernel-version) with the busybox initramfs;"
echo "demo: the guest prints BULKHEAD-GUEST-INIT-OK from /init and powers off."
extra=
# The kvm_pvm workarounds of tests/integration/linux-boot.sh (explained there).
[[ -d /sys/module/kvm_pvm ]] &&
	extra=" clearcpuid=xsave,smap,cx16,popcnt,ssse3,sse4_1,sse4_2,avx,avx2,aes,pclmulqdq,sha_ni nokaslr mitigations=off nowatchdog rcupdate.rcu_cpu_stall_suppress=1"
initrd=assets/initrd.gz
# gunzip runs instruction-emulated on kvm_pvm; the uncompressed copy is the same initramfs.
[[ -d /sys/module/kvm_pvm ]] && initrd=assets/initrd.cpio
run "$BULKHEAD" -name demo-linux -kernel assets/vmlinuz -initrd "$initrd" -serial stdio \
	-smp 1 -m 512 -append "console=ttyS0 reboot=k panic=1 pci=off$extra"
