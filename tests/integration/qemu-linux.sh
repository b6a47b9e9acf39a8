#!/usr/bin/env bash
# Boot the default guest assets (scripts/guest-assets.sh) under QEMU TCG and check that init
# ran, the virtio/vsock modules load in order, and the guest powered QEMU off. This validates
# the assets independently of bulkhead; vhost-user interop tests reuse qemu_boot below.
#
# env: ASSETS_DIR (default <repo>/assets, built when missing), QEMU (qemu-system-x86_64),
#      QEMU_TIMEOUT seconds (default 240), QEMU_EXTRA extra qemu arguments.
# exit: 0 pass, 1 fail.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
REPO=$(dirname "$(dirname "$HERE")")
ASSETS=${ASSETS_DIR:-$REPO/assets}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${QEMU_TIMEOUT:-240}

fail() { echo "qemu-linux: FAIL: $*"; exit 1; }

command -v "$QEMU" >/dev/null || fail "$QEMU not installed (scripts/deps.sh installs it)"
bash "$REPO/scripts/guest-assets.sh" "$ASSETS"

LOG=$(mktemp /tmp/qemu-linux.XXXXXX.log)
trap 'rm -f "$LOG"' EXIT

# qemu_boot APPEND [extra qemu args...]: console output goes to $LOG; returns qemu's status
# (124 on timeout).
qemu_boot() {
	local append=$1
	shift
	# -serial stdio with no terminal: stdin from /dev/null so QEMU never waits on it.
	timeout --kill-after=10 "$TIMEOUT" "$QEMU" -M pc -accel tcg -m 256 -nodefaults -nographic \
		-serial stdio -no-reboot -kernel "$ASSETS/vmlinuz" -initrd "$ASSETS/initrd.gz" \
		-append "$append" ${QEMU_EXTRA:-} "$@" </dev/null >"$LOG" 2>&1
}

start=$(date +%s)
rc=0
qemu_boot "console=ttyS0 reboot=k panic=1 quiet bulkhead.modules=1" || rc=$?
secs=$(($(date +%s) - start))
tr -d '\r' <"$LOG" >"$LOG.txt" && mv "$LOG.txt" "$LOG"
tail -n 20 "$LOG" | sed 's/^/  | /'
has() { grep -aq -- "$1" "$LOG"; }

((rc != 124)) || fail "no power-off within ${TIMEOUT}s"
has BULKHEAD-GUEST-INIT-OK || fail "init marker missing (qemu status $rc)"
has BULKHEAD-MODULES-OK ||
	fail "virtio modules did not load: $(grep -a 'BULKHEAD-MODULES-FAIL' "$LOG" || echo 'no module line')"
has BULKHEAD-GUEST-POWEROFF || fail "init did not reach poweroff"
((rc == 0)) || fail "qemu exited with status $rc"
echo "qemu-linux: PASS: kernel $(cat "$ASSETS/kernel-version") reached init and powered off in ${secs}s (TCG)"
