#!/usr/bin/env bash
# Run a command where /dev/kvm is complete enough for what it needs.
#
#   hardware KVM        the command runs here, directly
#   kvm_pvm             --need probe runs here (guest probes work in ring 3); --need linux
#                       (a stock kernel, which kvm_pvm cannot take to init) runs nested
#   no /dev/kvm         nested
#
# Nested means inside the KVM test host: QEMU TCG with -cpu max (an emulated AMD-V with nested
# paging) boots Debian's generic kernel (scripts/kvm-host-assets.sh), loads kvm-amd, mounts
# this machine's / read-only and the repository (plus any --share) read-write over 9p, with
# its own tmpfs on /run and /dev/shm and its own ext4 on /tmp (unix sockets cannot live on 9p,
# O_DIRECT does not work on tmpfs before Linux 6.6), switch_roots and
# runs the command there with the same working directory and environment. Its output comes
# back on stdout, its exit status is ours; a test host that does not finish within --timeout
# is killed and reported (exit 124), with the tail of its kernel log.
#
# The test host is itself a guest of QEMU's TCG emulating AMD-V, and that emulation is not
# flawless under load: now and then the test host's own kernel panics ("corrupted stack end
# detected inside scheduler"), its vCPUs get no turn for tens of seconds (CI saw soft lockups
# of an idle CPU "stuck for 26s"), or an NMI arrives that nothing in it sent or claims (CI saw
# "NMI: Not continuing" at random places, twice in a row). Nothing a user process does can
# cause that, and it says nothing about the command. So an oops panics the test host; a soft
# lockup, an RCU stall or an unknown NMI is only logged (a stall that passes is harmless, and
# one that does not ends in a hang); a watchdog that stops being fed, because the whole host
# hangs, powers it off. When the host dies (panics, is powered off by its watchdog, or its
# QEMU fails) before the command has finished, the command runs again in a fresh test host,
# up to four attempts in all, with each dead host's kernel log on stderr. A command that
# finishes, whatever its status, never runs twice; neither does one whose test host could not
# be set up, nor one that outlives --timeout (each attempt has the whole of it). The command
# finds in $BULKHEAD_KVM_HOST_PROGRESS a file that outlives the attempts: a test runner that
# lists its passed cases there resumes after them (CI saw one test's host hang twice in a row).
#
# usage: scripts/kvm-host.sh [--need probe|linux] [--timeout S] [--vdso off] [--share DIR]...
#                            [--mem MIB] [--smp N] [--] COMMAND [ARG...]
#        scripts/kvm-host.sh --where [--need probe|linux]    print direct|nested and why
# env:   BULKHEAD_KVM_HOST=direct|nested   force the choice (e.g. simulate a machine without
#        /dev/kvm on one that has it); BULKHEAD_KVM_HOST_VDSO=off   as --vdso off;
#        BULKHEAD_KVM_HOST_LOG=FILE   keep the test host's kernel log there;
#        BULKHEAD_KVM_HOST_WATCHDOG=S   seconds without a sign of life before the test host is
#        declared hung (default 120; tests of this script lower it).
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
need=probe tmo=1800 vdso=${BULKHEAD_KVM_HOST_VDSO:-on} mem=6144 smp=2 where=0
watchdog=${BULKHEAD_KVM_HOST_WATCHDOG:-120} attempts=4
shares=("$REPO")
while (($#)); do
	case $1 in
	--need) need=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	--vdso) vdso=$2; shift ;;
	--share) shares+=("$(readlink -f "$2")"); shift ;;
	--mem) mem=$2; shift ;;
	--smp) smp=$2; shift ;;
	--where) where=1 ;;
	--) shift; break ;;
	-*) echo "kvm-host: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
case $need in probe|linux) ;; *) echo "kvm-host: --need probe|linux" >&2; exit 2 ;; esac
case $vdso in on|off) ;; *) echo "kvm-host: --vdso on|off" >&2; exit 2 ;; esac
[[ $watchdog =~ ^[0-9]+$ ]] && ((watchdog >= 10 && watchdog <= 600)) ||
	{ echo "kvm-host: BULKHEAD_KVM_HOST_WATCHDOG must be 10-600 seconds" >&2; exit 2; }

# choose: sets mode (direct|nested) and why.
choose() {
	if [[ -n ${BULKHEAD_KVM_HOST:-} ]]; then
		mode=$BULKHEAD_KVM_HOST why="BULKHEAD_KVM_HOST=$mode"
		[[ $mode == direct || $mode == nested ]] || { echo "kvm-host: BULKHEAD_KVM_HOST=direct|nested" >&2; exit 2; }
	elif [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
		mode=nested why="no usable /dev/kvm here"
	elif [[ -d /sys/module/kvm_pvm ]]; then
		if [[ $need == probe ]]; then
			mode=direct why="kvm_pvm runs guest probes"
		else
			mode=nested why="kvm_pvm cannot take a stock kernel to init"
		fi
	else
		mode=direct why="hardware KVM"
	fi
	# The vDSO switch is a property of the test host's kernel.
	if [[ $vdso == off && $mode == direct ]]; then
		mode=nested why="$why; --vdso off needs the test host"
	fi
}
choose
if ((where)); then
	echo "$mode ($why)"
	exit 0
fi
(($#)) || { echo "kvm-host: no command given" >&2; exit 2; }
[[ $mode == direct ]] && exec "$@"

bash "$REPO/scripts/kvm-host-assets.sh" >&2
ASSETS=$REPO/assets/kvm-host
command -v qemu-system-x86_64 >/dev/null || { echo "kvm-host: qemu-system-x86_64 missing (scripts/deps.sh)" >&2; exit 1; }

XCHG=$(mktemp -d /tmp/kvm-host.XXXXXX)
qpid=
cleanup() {
	[[ -n $qpid ]] && kill -KILL "$qpid" 2>/dev/null
	rm -rf "$XCHG"
}
trap cleanup EXIT
# host_log N: the last N lines of the test host's kernel log, on stderr
host_log() { tail -n "$1" "$XCHG/console.log" >&2 2>/dev/null || true; }
# meson's timeout arrives as SIGTERM: say where the test host was before it goes.
on_signal() {
	echo "kvm-host: stopped by a signal; the test host's kernel log ends:" >&2
	host_log 15
	exit 130
}
trap on_signal INT TERM HUP

# Stage 2 runs as PID 1 of the test host, in this machine's root: same directory, same
# environment, the command's output on ttyS0 (our stdout), its status in the exchange dir.
interactive=0
[[ -t 0 && -t 1 ]] && interactive=1
{
	echo '#!/bin/sh'
	echo 'ip link set lo up 2>/dev/null'
	echo 'mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null'
	echo 'mkdir -p /dev/pts && mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts'
	# what udev would have made: process substitution and /dev/stdin need them
	echo 'ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin'
	echo 'ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr'
	echo 'exec </dev/ttyS0 >/dev/ttyS0 2>&1'
	if ((interactive)); then
		echo "stty sane rows $(tput lines 2>/dev/null || echo 24) cols $(tput cols 2>/dev/null || echo 80)"
	else
		# No line discipline on the way back: bytes as the command wrote them.
		echo 'stty raw -echo'
	fi
	# Fed every 5 s from user space: if it starves for $watchdog s the host is hung.
	echo "/bin/busybox watchdog -T $watchdog -t 5 /dev/watchdog ||"
	echo '	{ echo "kvm-host: cannot start the watchdog" >/dev/ttyS1; exec /bin/busybox poweroff -f; }'
	echo "cd $(printf %q "$PWD") || exit 1"
	echo '/bin/bash /run/kvm-host/run </dev/ttyS0 >/dev/ttyS0 2>&1'
	echo 'echo $? >/run/kvm-host/rc'
	echo 'sync'
	echo 'exec /bin/busybox poweroff -f'
} >"$XCHG/stage2"
{
	# The environment travels as NUL-separated NAME=VALUE pairs.
	echo 'while IFS= read -r -d "" kv; do export "$kv"; done </run/kvm-host/environ'
	echo 'export BULKHEAD_KVM_HOST_INSIDE=1'
	# see the header: tests/integration/qmp/qmplib.py's run_tests uses it
	echo 'export BULKHEAD_KVM_HOST_PROGRESS=/run/kvm-host/progress'
	((interactive)) || echo 'exec </dev/null'
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$XCHG/run"
env -0 | grep -zv -e '^BASH_FUNC_' -e '^_=' -e '^SHLVL=' -e '^PWD=' -e '^OLDPWD=' >"$XCHG/environ" || true

virtfs=(-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
	-virtfs "local,path=$XCHG,mount_tag=xchg,security_model=none,multidevs=remap")
sharelist=
i=0
for s in "${shares[@]}"; do
	virtfs+=(-virtfs "local,path=$s,mount_tag=share$i,security_model=none,multidevs=remap")
	sharelist+=${sharelist:+:}$s
	i=$((i + 1))
done
# panic=-1 with -no-reboot: a test host whose kernel fails ends at once, its log saying why.
# Soft lockups, RCU stalls and unknown NMIs are logged, not fatal: under TCG a vCPU thread the
# machine does not schedule for a while looks like a lockup to the test host, and an NMI that
# reaches it late (a backtrace request of the stall detector, given up on after 10 s) is one
# nobody claims. The watchdog catches hangs.
append="console=ttyS1 quiet panic=-1 oops=panic"
append+=" kvmhost.shares=$sharelist"
[[ $vdso == off ]] && append+=" vdso=0"

stdin=/dev/null
((interactive)) && stdin=/dev/stdin

# boot_test_host: one test host, until it ends or --timeout passes (exit 124 from here).
boot_test_host() {
	local deadline=$((SECONDS + tmo))
	rm -f "$XCHG/rc" "$XCHG/console.log" "$XCHG/scratch.ext4"
	# The test host's /tmp: a sparse ext4 image, so O_DIRECT works there as on a real host.
	truncate -s 32G "$XCHG/scratch.ext4"
	PATH=$PATH:/usr/sbin:/sbin mkfs.ext4 -q -F -O ^has_journal -N 65536 -m 0 -E nodiscard \
		"$XCHG/scratch.ext4" || { echo "kvm-host: mkfs.ext4 failed (e2fsprogs)" >&2; exit 1; }
	# The kernel log goes to a file; ttyS0 is the command's terminal.
	qemu-system-x86_64 -M q35 -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" \
		-nodefaults -display none -no-reboot -vga none \
		-kernel "$ASSETS/vmlinuz" -initrd "$ASSETS/initrd.gz" -append "$append" \
		-chardev stdio,id=cmd,signal=off -serial chardev:cmd \
		-serial "file:$XCHG/console.log" \
		-drive "if=none,id=scratch,file=$XCHG/scratch.ext4,format=raw,cache=unsafe,discard=unmap" \
		-device virtio-blk-pci,drive=scratch \
		-device i6300esb -action watchdog=poweroff \
		"${virtfs[@]}" <"$stdin" &
	qpid=$!
	while kill -0 "$qpid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			kill -KILL "$qpid" 2>/dev/null
			wait "$qpid" 2>/dev/null || true
			qpid=
			echo "kvm-host: the test host did not finish within $tmo s; killed it. Its kernel log ends:" >&2
			host_log 30
			exit 124
		fi
		sleep 0.2
	done
	qstatus=0
	wait "$qpid" 2>/dev/null || qstatus=$?
	qpid=
	[[ -n ${BULKHEAD_KVM_HOST_LOG:-} ]] && cp "$XCHG/console.log" "$BULKHEAD_KVM_HOST_LOG"
	return 0
}

for ((attempt = 1; ; attempt++)); do
	boot_test_host
	if [[ -s $XCHG/rc ]]; then
		# a stall the host lived through may explain a slow or timed-out command
		stall=$(grep -m1 -E 'soft lockup|rcu: .*stall|NMI received for unknown reason' "$XCHG/console.log" 2>/dev/null || true)
		[[ -n $stall ]] && echo "kvm-host: note: the test host's kernel logged trouble it lived through: ${stall# }" >&2
		exit "$(cat "$XCHG/rc")"
	fi
	# /init says "kvm-host: ..." when it cannot set the host up: that is not worth a retry.
	# Any other end without the command's status is the host's death: a panic says so in
	# its log; a host that hung was powered off by its watchdog and says nothing.
	if ((attempt < attempts)) && ! grep -q '^kvm-host: ' "$XCHG/console.log"; then
		failure=$(grep -m1 -E 'Kernel panic' "$XCHG/console.log" 2>/dev/null || true)
		if [[ -n $failure ]]; then
			failure="its kernel failed (${failure# })"
		elif ((qstatus == 0)); then
			failure="it stopped without a panic: hung until its watchdog powered it off after $watchdog s, or reset itself"
		else
			failure="its QEMU ended with status $qstatus"
		fi
		echo "kvm-host: the test host died before the command finished: $failure; its log ends:" >&2
		host_log 30
		echo "kvm-host: that is the emulated test host, not the command: running the command again in a fresh one (attempt $((attempt + 1)) of $attempts)" >&2
		continue
	fi
	echo "kvm-host: the test host ended (qemu status $qstatus) before the command finished. Its kernel log ends:" >&2
	host_log 30
	exit 125
done
