#!/usr/bin/env bash
# Interop: a Linux guest under QEMU TCG uses bulkhead-blk as its disk through
# `-device vhost-user-blk-pci` (guest RAM is a shared memfd). The guest reads a marker the
# host put in sector 0, writes a pattern to /dev/vda, flushes, drops its caches and reads the
# pattern back; afterwards the image on the host must hold the pattern, the guest must have
# seen the right size and serial, and the worker must still be alive.
#
# The default initramfs (scripts/guest-assets.sh) is reused unchanged: a second cpio archive
# appended to it (the kernel unpacks concatenated archives in order) replaces /init with the
# test script below.
#
# env: BULKHEAD_BLK (default <repo>/build/dev-blk/bulkhead-blk), ASSETS_DIR (default
#      <repo>/assets, built when missing), QEMU (qemu-system-x86_64), QEMU_TIMEOUT (300).
# exit: 0 pass, 1 fail.
set -euo pipefail

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
REPO=$(dirname "$(dirname "$HERE")")
ASSETS=${ASSETS_DIR:-$REPO/assets}
BLK=${BULKHEAD_BLK:-$REPO/build/dev-blk/bulkhead-blk}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${QEMU_TIMEOUT:-300}
SERIAL=qemu-blk-serial42
IMG_MIB=64
PAT_SEEK=256            # the pattern goes at 4 KiB block 256 (1 MiB)
PAT_BYTES=1048576

. "$HERE/qemu-lib.sh"
fail() { echo "qemu-blk: FAIL: $*"; exit 1; }

command -v "$QEMU" >/dev/null || fail "$QEMU not installed (scripts/deps.sh installs it)"
[[ -x $BLK ]] || fail "$BLK not built"
for t in cpio gzip seq cmp; do
	command -v "$t" >/dev/null || fail "$t missing"
done
bash "$REPO/scripts/guest-assets.sh" "$ASSETS" >/dev/null

DIR=$(mktemp -d /tmp/qemu-blk.XXXXXX)
BLK_PID=
cleanup() {
	if [[ -n $BLK_PID ]]; then
		kill -KILL "$BLK_PID" 2>/dev/null || true
		wait "$BLK_PID" 2>/dev/null || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT

# --- the image: zeros with a marker in sector 0 ------------------------------------------------
IMG=$DIR/disk.img
truncate -s ${IMG_MIB}M "$IMG"
printf 'HOST-MARKER-7f3a9c\n' | dd of="$IMG" conv=notrunc status=none
# The pattern: unique 8-byte lines, so a misplaced block cannot compare equal.
pattern() { seq 1000000 9999999 | head -c $PAT_BYTES; }

# --- the test /init, appended as a second archive ----------------------------------------------
mkdir -p "$DIR/extra"
{
	ql_init_head BLKTEST
	cat <<EOF
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 200 ]; do sleep 0.1; i=\$((i + 1)); done
[ -b /dev/vda ] || { echo "BLKTEST-FAIL no /dev/vda"; done_; }
echo "BLKTEST-INFO size=\$(cat /sys/block/vda/size) serial=\$(cat /sys/block/vda/serial 2>/dev/null) ro=\$(cat /sys/block/vda/ro)"
echo "BLKTEST-MARKER \$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -n 1)"
seq 1000000 9999999 | head -c $PAT_BYTES >/tmp/pat
if dd if=/tmp/pat of=/dev/vda bs=4096 seek=$PAT_SEEK oflag=direct conv=fsync 2>/tmp/dd.err; then
	echo BLKTEST-WRITE-OK
else
	echo "BLKTEST-FAIL write: \$(cat /tmp/dd.err)"
fi
sync
blockdev --flushbufs /dev/vda && echo BLKTEST-FLUSH-OK
echo 3 >/proc/sys/vm/drop_caches
if dd if=/dev/vda bs=4096 skip=$PAT_SEEK count=$((PAT_BYTES / 4096)) iflag=direct 2>/dev/null | cmp -s - /tmp/pat; then
	echo BLKTEST-READBACK-OK
else
	echo BLKTEST-FAIL readback differs
fi
done_
EOF
} >"$DIR/extra/init"
ql_initrd "$DIR" "$ASSETS"

# --- the backend, then the guest ---------------------------------------------------------------
SOCK=$DIR/blk.sock
"$BLK" --socket-path="$SOCK" --blk-file="$IMG" --serial=$SERIAL --num-queues=2 --name=qemu \
	2>"$DIR/blk.log" &
BLK_PID=$!
ql_wait_socket "$BLK_PID" "$SOCK" "$DIR/blk.log" bulkhead-blk

LOG=$DIR/console.log
start=$(date +%s)
rc=0
timeout --kill-after=10 "$TIMEOUT" "$QEMU" -M pc,memory-backend=mem -accel tcg -m 256 \
	-object memory-backend-memfd,id=mem,size=256M,share=on \
	-nodefaults -nographic -serial stdio -no-reboot \
	-kernel "$ASSETS/vmlinuz" -initrd "$DIR/initrd.gz" \
	-append "console=ttyS0 reboot=k panic=1 quiet" \
	-chardev socket,id=c0,path="$SOCK" -device vhost-user-blk-pci,chardev=c0,num-queues=2 \
	</dev/null >"$LOG" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
ql_console "$LOG"
grep -a -E 'BLKTEST|BULKHEAD|virtio|vda|qemu-system' "$LOG" | tail -n 30 | sed 's/^/  | /'
sed 's/^/  blk| /' "$DIR/blk.log" | tail -n 20

((rc != 124)) || fail "the guest did not finish within ${TIMEOUT}s"
has BULKHEAD-GUEST-INIT-OK || fail "the guest did not reach init (qemu status $rc)"
has BLKTEST-FAIL && fail "$(grep -a BLKTEST-FAIL "$LOG" | head -n 1)"
want_size=$((IMG_MIB * 2048))
has "BLKTEST-INFO size=$want_size serial=$SERIAL ro=0" ||
	fail "guest saw $(grep -a BLKTEST-INFO "$LOG" || echo 'no disk info'), want size=$want_size serial=$SERIAL"
has "BLKTEST-MARKER HOST-MARKER-7f3a9c" || fail "guest did not read the host's sector 0"
has BLKTEST-WRITE-OK || fail "guest write did not finish"
has BLKTEST-FLUSH-OK || fail "guest flush failed"
has BLKTEST-READBACK-OK || fail "guest read back something else"
has BLKTEST-END || fail "guest script did not finish"

# The host image holds the guest's pattern at the same place.
cmp -s <(dd if="$IMG" bs=4096 skip=$PAT_SEEK count=$((PAT_BYTES / 4096)) status=none) <(pattern) ||
	fail "the host image does not hold the pattern the guest wrote"
# and the worker outlived its frontend (it accepts the next one)
kill -0 "$BLK_PID" 2>/dev/null || fail "bulkhead-blk died"
echo "qemu-blk: PASS: guest wrote, flushed and read back 1 MiB through bulkhead-blk (vhost-user-blk-pci, TCG, ${secs}s); host image verified"
