# Shared by the bash Linux-guest tests (linux-powerdown.sh, linux-reboot.sh): a work
# directory on a tmpfs (the QMP socket cannot live on 9p), files staged into an extra
# initramfs archive appended to the default one (Linux unpacks concatenated archives),
# bulkhead started in its own session, waits with deadlines, one QMP exchange over socat,
# and failure reports that carry the guest console and bulkhead's stderr. Sourced, not run.

# ll_init NAME: sets LL_WORK, LL_STAGE, LL_OUT, LL_ERR, LL_SOCK; cleans up on exit.
ll_init() {
	LL_NAME=$1
	LL_WORK=$(mktemp -d "/tmp/$1.XXXXXX") || exit 1
	LL_STAGE=$LL_WORK/stage LL_OUT=$LL_WORK/serial.out LL_ERR=$LL_WORK/bulkhead.err
	LL_SOCK=$LL_WORK/qmp.sock LL_PID= LL_RC=
	mkdir -p "$LL_STAGE"
	trap ll_cleanup EXIT
}

ll_cleanup() {
	# only the session we started: bulkhead and the processes it spawned (reaped with
	# stderr closed, so bash's "Killed" job notice does not pose as a test failure)
	[ -n "$LL_PID" ] && { kill -KILL -- "-$LL_PID"; wait "$LL_PID"; } 2>/dev/null
	rm -rf "$LL_WORK"
}

# ll_need_assets DIR: the guest assets scripts/test.sh builds before any test runs
ll_need_assets() {
	local f
	for f in vmlinuz initrd.gz; do
		[ -s "$1/$f" ] || { echo "$LL_NAME: FAIL: $1/$f missing (bash scripts/guest-assets.sh)"; exit 1; }
	done
}

# ll_stage_file GUEST_PATH MODE < content
ll_stage_file() {
	mkdir -p "$LL_STAGE$(dirname "$1")"
	cat >"$LL_STAGE$1"
	chmod "$2" "$LL_STAGE$1"
}

# ll_initrd BASE: LL_INITRD = BASE followed by the staged files as a gzip'd newc archive
ll_initrd() {
	LL_INITRD=$LL_WORK/initrd.gz
	cp "$1" "$LL_INITRD" || exit 1
	(cd "$LL_STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
		gzip -n >>"$LL_INITRD" || exit 1
}

# ll_start CMD...: in its own session so ll_cleanup can end all of it
ll_start() {
	LL_CMD=("$@")
	: >"$LL_OUT"
	: >"$LL_ERR"
	setsid "$@" </dev/null >"$LL_OUT" 2>"$LL_ERR" &
	LL_PID=$!
}

ll_fail() {
	echo "$LL_NAME: FAIL: $*"
	echo "---- command: ${LL_CMD[*]}"
	echo "---- guest console (last 60 lines):"
	tail -n 60 "$LL_OUT" | tr -d '\r'
	echo "---- bulkhead stderr:"
	cat "$LL_ERR"
	exit 1
}

ll_pass() {
	echo "---- guest console (last 15 lines):"
	tail -n 15 "$LL_OUT" | tr -d '\r'
	echo "---- bulkhead stderr:"
	cat "$LL_ERR"
	echo "$LL_NAME: ok: $*"
	exit 0
}

# ll_wait_serial ERE SECONDS: 0 once the guest console has a matching line; 1 on the
# deadline or when bulkhead ended first
ll_wait_serial() {
	local end=$((SECONDS + $2))
	while ((SECONDS < end)); do
		tr -d '\r' <"$LL_OUT" | grep -aEq "$1" && return 0
		kill -0 "$LL_PID" 2>/dev/null || { tr -d '\r' <"$LL_OUT" | grep -aEq "$1"; return; }
		sleep 0.2
	done
	return 1
}

# ll_emulation_fault: did the guest meet the nested test host's emulation, without a word from
# its kernel? There the vCPU is AMD-V emulated by QEMU TCG, which now and then corrupts a
# guest's CPU state (a trivial probe guest has triple-faulted that way while idle) or stops a
# vCPU for good (a 4-vCPU guest fell silent in ACPI set-up, its VM alive); a Linux kernel
# that meets a fault or a lockup itself says so. Two shapes count: a triple fault, and a guest
# silent before its init ran while its VM still runs. Prints which. (tests/linux/linuxlib.py's
# emulation_fault is the same rule.)
ll_emulation_fault() {
	[ "${BULKHEAD_KVM_HOST_INSIDE:-}" = 1 ] || return 1
	! tr -d '\r' <"$LL_OUT" | grep -aEq 'Kernel panic|BUG:|Oops|double fault' || return 1
	if grep -aq 'triple fault (KVM_EXIT_SHUTDOWN)' "$LL_ERR"; then
		echo "the guest triple-faulted with no kernel message"
	elif kill -0 "$LL_PID" 2>/dev/null && ! grep -aq '^BULKHEAD-GUEST-INIT-OK' "$LL_OUT"; then
		echo "the guest fell silent before its init ran, with no kernel message"
	else
		return 1
	fi
}

# ll_boot ERE SECONDS CMD...: ll_start CMD and wait (ll_wait_serial) for the guest to reach
# ERE; a boot that ends in an emulation fault (ll_emulation_fault) first is started once
# more, saying so. 1 when the guest does not get there.
ll_boot() {
	local ere=$1 tmo=$2 why
	shift 2
	ll_start "$@"
	ll_wait_serial "$ere" "$tmo" && return 0
	why=$(ll_emulation_fault) || return 1
	{ kill -KILL -- "-$LL_PID"; wait "$LL_PID"; } 2>/dev/null
	echo "$LL_NAME: RETRY: $why before $ere, an emulation fault of the nested test host;" \
		"booting it once more. Its console ended:"
	tail -n 20 "$LL_OUT" | tr -d '\r'
	rm -f "$LL_SOCK"
	ll_start "$@"
	ll_wait_serial "$ere" "$tmo"
}

# ll_wait_exit SECONDS: LL_RC = bulkhead's exit status, or 124 after killing it at the deadline
ll_wait_exit() {
	local end=$((SECONDS + $1))
	while kill -0 "$LL_PID" 2>/dev/null && ((SECONDS < end)); do
		sleep 0.2
	done
	if kill -0 "$LL_PID" 2>/dev/null; then
		{ kill -KILL -- "-$LL_PID"; wait "$LL_PID"; } 2>/dev/null
		LL_RC=124 LL_PID=
		return
	fi
	wait "$LL_PID"
	LL_RC=$? LL_PID=
}

# ll_qmp JSON: negotiate, send one command, print everything the server said (greeting,
# replies, events) within a short grace period
ll_qmp() {
	{ echo '{"execute":"qmp_capabilities"}'; sleep 0.5; echo "$1"; sleep 2; } |
		socat -t 2 - "UNIX-CONNECT:$LL_SOCK"
}
