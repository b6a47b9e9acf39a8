#!/usr/bin/env bash
# Boot the default Linux guest (Debian cloud bzImage + busybox initramfs from
# scripts/guest-assets.sh) under bulkhead and require that init runs and bulkhead exits 0.
#
# On kvm_pvm (ring 0 instruction-emulated, some instructions missing) a stock kernel may not
# get that far. Exactly one situation is reported as SKIP (exit 77): the host is kvm_pvm AND
# the core reported KVM_EXIT_INTERNAL_ERROR for a vCPU (with registers and instruction bytes)
# AND bulkhead then exited on its own without a crash. The report names the failing
# instruction and how far the guest got. A timeout, a crash of bulkhead, a missing marker with
# any other exit, or a non-zero exit after the marker are FAILs (exit 1).
#
# env: BULKHEAD (default <repo>/build/vmm-core/bulkhead), ASSETS_DIR (default <repo>/assets),
#      LINUX_BOOT_TIMEOUT seconds (default 2400), LINUX_BOOT_KERNEL (default vmlinuz),
#      LINUX_BOOT_INITRD (default initrd.gz; initrd.cpio on kvm_pvm), LINUX_BOOT_WORKAROUNDS
#      (kernel cmdline additions; default: the kvm_pvm set below on kvm_pvm, none elsewhere),
#      LINUX_BOOT_KEEP=DIR (keep the console and log files there).
set -uo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
REPO=$(dirname "$(dirname "$HERE")")
BULKHEAD=${BULKHEAD:-$REPO/build/vmm-core/bulkhead}
ASSETS=${ASSETS_DIR:-$REPO/assets}
TIMEOUT=${LINUX_BOOT_TIMEOUT:-2400}
KERNEL=$ASSETS/${LINUX_BOOT_KERNEL:-vmlinuz}
MARKER=BULKHEAD-GUEST-INIT-OK

# Why each kvm_pvm workaround (see ENVIRONMENT.md: the emulator lacks some instructions):
#   clearcpuid=xsave   no xsave/xrstor (not emulated); 6.1 dropped the old "noxsave" switch
#   clearcpuid=smap    no clac/stac in uaccess paths (6.1 dropped "nosmap")
#   clearcpuid=cx16    no cmpxchg16b; clearcpuid=popcnt: no popcnt (hweight alternatives)
#   clearcpuid=ssse3,sse4_1,sse4_2,avx,avx2,aes,pclmulqdq,sha_ni: the SIMD crypto and
#                      checksum code (blake2s, crc32c, ...) picks these up at boot and its
#                      xmm instructions (e.g. movd %ecx,%xmm15) are not emulated in ring 0;
#                      without them the generic C code runs. (clac/stac, int3, fwait,
#                      fxsave/fxrstor, ldmxcsr/stmxcsr that remain are emulated by the core.)
#   nokaslr            fixed addresses, so a reported rip means the same thing in every run
#   mitigations=off    fewer emulated instructions per syscall/context switch
#   nowatchdog, rcupdate.rcu_cpu_stall_suppress=1: at emulated speed the soft-lockup and RCU
#                      stall detectors fire constantly, and each stack dump is more slow console
#                      output; they diagnose nothing here
# (scripts/demo.sh --linux uses the same list; keep the two in step.)
PVM_WORKAROUNDS="clearcpuid=xsave,smap,cx16,popcnt,ssse3,sse4_1,sse4_2,avx,avx2,aes,pclmulqdq,sha_ni nokaslr mitigations=off nowatchdog rcupdate.rcu_cpu_stall_suppress=1"

fail() { echo "linux-boot: FAIL: $*"; exit 1; }

is_pvm() { [[ -d /sys/module/kvm_pvm ]]; }

[[ -x $BULKHEAD ]] || fail "bulkhead not built at $BULKHEAD (meson setup build && ninja -C build)"
[[ -e /dev/kvm ]] || fail "/dev/kvm missing: this test needs KVM"
bash "$REPO/scripts/guest-assets.sh" "$ASSETS" || fail "scripts/guest-assets.sh failed"

# On kvm_pvm the same initramfs goes in uncompressed: gunzip in emulated ring 0 is slow.
if is_pvm; then
	INITRD=$ASSETS/${LINUX_BOOT_INITRD:-initrd.cpio}
else
	INITRD=$ASSETS/${LINUX_BOOT_INITRD:-initrd.gz}
fi
if [[ -n ${LINUX_BOOT_WORKAROUNDS+x} ]]; then
	WORKAROUNDS=$LINUX_BOOT_WORKAROUNDS
elif is_pvm; then
	WORKAROUNDS=$PVM_WORKAROUNDS
else
	WORKAROUNDS=
fi
# pci=off: the microvm has no PCI bus, so probing 0xcf8 would only cost exits.
APPEND="console=ttyS0 reboot=k panic=1 pci=off $WORKAROUNDS"

TMP=$(mktemp -d /tmp/linux-boot.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
CON=$TMP/console.txt	# guest serial console (bulkhead stdout)
ERR=$TMP/bulkhead.log	# bulkhead's own log lines (stderr)

echo "linux-boot: host KVM: $(is_pvm && echo 'kvm_pvm (ring 0 emulated)' || echo 'hardware')"
echo "linux-boot: kernel $(cat "$ASSETS/kernel-version") ($(basename "$KERNEL")), initramfs $(basename "$INITRD"), timeout ${TIMEOUT}s"
echo "linux-boot: workarounds on the kernel command line: ${WORKAROUNDS:-none}"
echo "linux-boot: $BULKHEAD -kernel $KERNEL -initrd $INITRD -serial stdio -m 512 -append \"$APPEND\""

# kvm_pvm runs guest ring 3 natively but does not route a stock kernel's SYSCALL entry:
# the first system call of a user process lands on the kernel's entry address in ring 3
# and faults there ("modprobe[39]: segfault at ffffffff81c00080 ip ffffffff81c00080"),
# so init cannot run. Recognise exactly that: a user process faulting with its ip at a
# kernel address.
user_syscall_fault() {
	grep -a -E '\]: segfault at ffffffff[0-9a-f]{8} ip ffffffff[0-9a-f]{8} ' "$CON" | head -n 1
}

start=$(date +%s)
# timeout signals its whole process group, so bulkhead's children go too; stdin is
# /dev/null because -serial stdio must not wait for a terminal.
timeout --kill-after=15 "$TIMEOUT" "$BULKHEAD" -kernel "$KERNEL" -initrd "$INITRD" \
	-serial stdio -m 512 -append "$APPEND" </dev/null >"$CON" 2>"$ERR" &
vmm=$!
# On kvm_pvm, once user processes fault on their first system call init can never run:
# stop there (give the kernel a few seconds to log what follows) instead of waiting out
# the timeout.
stopped_early=0
while kill -0 "$vmm" 2>/dev/null; do
	if is_pvm && [[ -n $(user_syscall_fault) ]]; then
		sleep 20
		kill -TERM "$vmm" 2>/dev/null
		stopped_early=1
		break
	fi
	sleep 2
done
wait "$vmm"
rc=$?
secs=$(($(date +%s) - start))
tr -d '\r' <"$CON" >"$TMP/c" && mv "$TMP/c" "$CON"
if [[ -n ${LINUX_BOOT_KEEP:-} ]]; then
	mkdir -p "$LINUX_BOOT_KEEP" && cp "$CON" "$ERR" "$LINUX_BOOT_KEEP/"
fi

# How far the guest got: the last kernel log line and the last console lines.
report_progress() {
	local last
	last=$(grep -a -E '^\[ *[0-9]+\.[0-9]+\]' "$CON" | tail -n 1)
	echo "linux-boot: console: $(wc -l <"$CON") lines in ${secs}s; last kernel log line: ${last:-(none)}"
	echo "linux-boot: last console lines:"
	tail -n 15 "$CON" | sed 's/^/  | /'
	echo "linux-boot: last bulkhead log lines:"
	tail -n 12 "$ERR" | sed 's/^/  ! /'
}

has_marker() { grep -aq "$MARKER" "$CON"; }
diagnosis() { grep -a -E 'vCPU [0-9]+: KVM_EXIT_INTERNAL_ERROR' "$ERR" | head -n 1; }

if has_marker && ((rc == 0)); then
	echo "linux-boot: PASS: guest init ran ($MARKER) and bulkhead exited 0 after ${secs}s"
	tail -n 5 "$CON" | sed 's/^/  | /'
	exit 0
fi
report_progress
if ((rc == 124 || rc == 137)) && ((!stopped_early)); then
	fail "no result within ${TIMEOUT}s (bulkhead killed by timeout)$(has_marker && echo ', after the init marker')"
fi
((rc > 128)) && ((!stopped_early)) && fail "bulkhead died from signal $((rc - 128))"

ufault=$(user_syscall_fault)
if is_pvm && ! has_marker && [[ -n $ufault ]]; then
	echo "linux-boot: the kernel booted to user space, but user processes cannot make system calls:"
	echo "  | ${ufault#*] }"
	grep -a -E 'Kernel panic|Attempted to kill init|Run /init' "$CON" | head -n 3 | sed 's/^/  | /'
	echo "linux-boot: SKIP: on kvm_pvm a user process's SYSCALL goes to the kernel's entry address" \
		"in ring 3 (a PVM-enlightened guest kernel is needed for that); the kernel itself ran" \
		"until its first user process (see above) with workarounds: ${WORKAROUNDS:-none};" \
		"on hardware KVM this test must pass"
	exit 77
fi

why=$(diagnosis)
if is_pvm && [[ -n $why ]]; then
	has_marker && echo "linux-boot: note: the guest did reach init ($MARKER) before this"
	echo "linux-boot: the core stopped the guest: $why"
	grep -a -E 'vCPU [0-9]+: (r[a-z0-9]+ +[0-9a-f]{16}|rflags)' "$ERR" | head -n 6 | sed 's/^/  ! /'
	echo "linux-boot: SKIP: kvm_pvm could not run this kernel to the end (emulation failure above, with" \
		"workarounds: ${WORKAROUNDS:-none}); on hardware KVM this test must pass"
	exit 77
fi
[[ -n $why ]] && fail "emulation failure on a host that is not kvm_pvm: $why"
has_marker && fail "init marker seen but bulkhead exited $rc"
fail "bulkhead exited $rc without the init marker and without an emulation-failure diagnosis"
