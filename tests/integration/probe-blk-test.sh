#!/bin/bash
# End-to-end disk test on the core: boot the guest probe with probe=blk (tests/probes/blk.c,
# a ring-3 virtio-mmio driver) against a disk image, check the probe's lines, then check the
# image ON THE HOST and the core's count of register accesses (the core must not be on the
# per-request path: N accesses for blk.loop reads stays far below the read count).
#
# usage: probe-blk-test.sh --bulkhead BIN --probe ELF --variant rw|ro|acpi-off|qsd
#                          [--loop N] [--max-reg N] [--timeout S]
#   rw        -drive id=d0,file=IMG,serial=S: read, write, flush, GET_ID, past-end, loop
#   ro        the same disk with readonly=on: writes answer IOERR, the image is unchanged
#   acpi-off  rw with -machine acpi=off: the probe finds the slot in virtio_mmio.device=
#   qsd       qemu-storage-daemon --export type=vhost-user-blk, attached with
#             -chardev socket + -device vhost-user-blk-device
set -u

bulkhead= probe= variant=rw loop=2000 maxreg=200 tmo=120
while [ $# -gt 0 ]; do
	case "$1" in
	--bulkhead) bulkhead=$2; shift ;;
	--probe) probe=$2; shift ;;
	--variant) variant=$2; shift ;;
	--loop) loop=$2; shift ;;
	--max-reg) maxreg=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	*) echo "probe-blk-test: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done
case "$variant" in
rw|ro|acpi-off|qsd) ;;
*) echo "probe-blk-test: unknown variant '$variant'" >&2; exit 2 ;;
esac

dir=$(mktemp -d /tmp/probe-blk.XXXXXX)
qsd_pid=
cmd=()
cleanup() {
	if [ -n "$qsd_pid" ]; then
		kill "$qsd_pid" 2>/dev/null
		wait "$qsd_pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

out=$dir/out err=$dir/err img=$dir/disk.img sock=$dir/blk.sock
touch "$out" "$err"
fail() {
	echo "probe-blk-test ($variant): FAIL: $*"
	echo "---- command: ${cmd[*]}"
	echo "---- guest serial output (stdout):"
	cat "$out"
	echo "---- bulkhead stderr:"
	cat "$err"
	[ -f "$dir/qsd.log" ] && { echo "---- qemu-storage-daemon:"; cat "$dir/qsd.log"; }
	exit 1
}

[ -x "$bulkhead" ] || fail "$bulkhead is not built"
[ -f "$probe" ] || fail "probe image $probe is missing"

# 1 MiB image: 4 KiB block k holds byte k (blk.fill=1 checks every read of the loop), then
# sector 0 is all 0xa5 (blk.expect). expected = what the image must hold afterwards.
python3 "$(dirname "$0")"/probe-image.py "$img"
cp "$img" "$dir/expected"
[ "$(stat -c %s "$img")" = 1048576 ] || fail "could not build the test image"

token="bh$RANDOM$RANDOM$$"
serial="bh-serial-$RANDOM"
append="probe=blk probe.token=$token blk.expect=a5 blk.sectors=2048 blk.fill=1 blk.loop=$loop"
cmd=("$bulkhead" -kernel "$probe" -serial stdio -smp 1 -m 256)
case "$variant" in
ro)
	cmd+=(-drive "id=d0,file=$img,serial=$serial,readonly=on")
	append+=" blk.ro=1 blk.serial=$serial" ;;
rw|acpi-off)
	cmd+=(-drive "id=d0,file=$img,serial=$serial")
	append+=" blk.write=3c blk.serial=$serial" ;;
qsd)
	command -v qemu-storage-daemon >/dev/null || fail "qemu-storage-daemon is not installed"
	qemu-storage-daemon --blockdev "driver=file,node-name=f,filename=$img" \
		--export "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path=$sock,writable=on" \
		</dev/null >"$dir/qsd.log" 2>&1 &
	qsd_pid=$!
	for _ in $(seq 100); do
		[ -S "$sock" ] && break
		kill -0 "$qsd_pid" 2>/dev/null || fail "qemu-storage-daemon exited"
		sleep 0.1
	done
	[ -S "$sock" ] || fail "qemu-storage-daemon did not create $sock"
	cmd+=(-chardev "socket,id=c,path=$sock" -device vhost-user-blk-device,chardev=c)
	# QEMU's vhost-user-blk export answers GET_ID with this fixed serial
	append+=" blk.write=3c blk.serial=vhost_user_blk" ;;
esac
[ "$variant" = acpi-off ] && cmd+=(-machine acpi=off)
cmd+=(-append "$append")
[ "$variant" = ro ] || printf '\074%.0s' $(seq 512) |
	dd of="$dir/expected" bs=512 seek=1 conv=notrunc status=none

timeout -k 5 "$tmo" "${cmd[@]}" </dev/null >"$out" 2>"$err"
rc=$?
[ $rc = 124 ] || [ $rc = 137 ] && fail "bulkhead did not exit within ${tmo}s (killed by timeout)"
[ $rc = 0 ] || fail "bulkhead exited with status $rc, expected 0"

# ---- what the guest saw ----
grep -aq '^PROBE START' "$out" || fail "no 'PROBE START' line: the guest never ran"
grep -aq 'PROBE FAIL' "$out" && fail "the probe reported failed checks"
grep -aq '^PROBE TRAP' "$out" && fail "the probe trapped"
grep -aqF "PROBE OK cmdline token=$token" "$out" || fail "the probe did not see its token"
need=("blk-init" "blk-capacity sectors=2048" "blk-read0 pattern=0xa5" "blk-flush status OK"
      "blk-read-past-end sector 2048: IOERR" "blk-loop reads=$loop data-checked=1" "blk-status")
if [ "$variant" = acpi-off ]; then need+=("virtio-discover cmdline"); else need+=("virtio-discover acpi"); fi
case "$variant" in
ro) need+=("blk-ro write answered IOERR" "blk-getid serial=$serial") ;;
qsd) need+=("blk-rw" "blk-write1 pattern=0x3c read back" "blk-getid serial=vhost_user_blk") ;;
*) need+=("blk-rw" "blk-write1 pattern=0x3c read back" "blk-getid serial=$serial") ;;
esac
for c in "${need[@]}"; do
	grep -aqF "PROBE OK $c" "$out" || fail "missing 'PROBE OK $c'"
done
grep -aqE '^PROBE DONE [0-9]+ ok 0 failed' "$out" || fail "no 'PROBE DONE <n> ok 0 failed' line"
grep -aqx 'bulkhead: the guest powered off' "$err" || fail "stderr does not say the guest powered off"

# ---- what reached the disk: sector 1 written (not for ro), nothing else touched ----
[ "$variant" = qsd ] && { kill "$qsd_pid"; wait "$qsd_pid" 2>/dev/null; qsd_pid=; }
cmp -s "$img" "$dir/expected" ||
	fail "the image differs from what the probe wrote: $(cmp "$img" "$dir/expected" 2>&1 | head -1)"

# ---- the core stayed off the request path ----
n=$(grep -aoE 'slot 0: [0-9]+ register accesses' "$err" | tail -1 | grep -oE '[0-9]+ ' | tr -d ' ')
[ -n "$n" ] || fail "the core did not log 'slot 0: N register accesses'"
[ "$n" -lt "$maxreg" ] || fail "slot 0 had $n register accesses for $loop reads (limit $maxreg)"

cat "$out"
echo "probe-blk-test ($variant): ok: $(grep -a 'PROBE OK blk-loop' "$out" | cut -d' ' -f4-), $n register accesses"
