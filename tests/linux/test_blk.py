#!/usr/bin/env python3
"""virtio-blk through bulkhead-blk under the stock Linux virtio_blk driver. The guest script
prints what it sees as KEY=value lines; the host compares them with the image files and, once
bulkhead has exited, checks what reached the images byte for byte.

  one_disk_data_path   capacity, serial, reads (checksums and block numbers), a write with
                       fsync, O_DIRECT reads and writes, flush (write_cache, the flush request
                       counter, sync + blockdev --flushbufs), discard (punches a hole: the host
                       sees zeros and fewer allocated blocks) and write-zeroes (split over more
                       than one request), then the whole image against a model of every write
  readonly_and_iops    readonly=on: /sys ro=1, no discard/write-zeroes, every kind of write
                       fails, image unchanged (size not a sector multiple: the tail is not
                       addressable); iops=20 against an unlimited disk on the same O_DIRECT
                       read loop, timed by the host
  six_disks            six -drive/-device pairs: vda..vdf, each with its own serial, size and
                       content, each guest write landing in its own image; one of them
                       direct=on where the host file system takes O_DIRECT
  multiqueue           2 vCPUs: a disk with the default queues (one per vCPU) is 2 blk-mq
                       hardware queues in the guest, one with num-queues=1 is 1; an O_DIRECT
                       read job pinned to each vCPU reads its part of the image intact, and
                       the worker served requests on each of the 2 queues (4 vCPUs made the
                       nested test host's emulation triple-fault or hang the guest at boot
                       in about half the runs)
"""

import hashlib
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, block_pattern, check, run_tests  # noqa: E402

KiB = 1024
BLK = 4096

# dev-blk/blk.h: BLK_MAX_DISCARD_SECTORS (1 GiB) and BLK_MAX_WRITE_ZEROES_SECTORS
# (BLK_ZERO_IOVS x BLK_ZERO_BUF = 8 MiB); virtio_blk turns them into these queue limits.
DISCARD_MAX_BYTES = 1 << 30
WRITE_ZEROES_MAX_BYTES = 8 * MiB

# Shell helpers every guest script starts with. Kernel messages would interleave with the
# KEY=value lines on the console: keep them off it (dmesg is printed at the end instead).
PRELUDE = r"""
dmesg -n 1
# util-linux's (it has -z); busybox sh runs its own applet for a bare `blkdiscard`
BLKDISCARD=/opt/bin/blkdiscard
md5() { md5sum | cut -d' ' -f1; }
# md5 of LEN bytes at byte OFF of DEV read with O_DIRECT (all multiples of 4 KiB)
dmd5() { dd if="$1" bs=4096 skip=$(($2 / 4096)) count=$(($3 / 4096)) iflag=direct 2>/dev/null | md5; }
# the guest's uptime in milliseconds
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
# completed flush requests of a disk (Documentation/block/stat.rst, field 16)
flushes() { awk '{ print $16 }' "/sys/block/$1/stat"; }
"""

EPILOGUE = r"""
dmesg | grep -iE 'vd[a-f]|virtio|blk|I/O error' | sed 's/^/DMESG: /'
exit 0
"""


def yes_data(word, n):
    """What the guest's `yes WORD | head -c N` produces."""
    line = (word + "\n").encode()
    return (line * (n // len(line) + 1))[:n]


def md5(b):
    return hashlib.md5(b).hexdigest()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def eq(vm, key, want):
    got = vm.value(key)
    check(got == str(want), "%s=%r, want %r\n%s" % (key, got, str(want), vm.logs()))
    return got


def boot_and_finish(vm):
    vm.start()
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")


def first_diff(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def check_image(path, model, what):
    got = read(path)
    check(len(got) == len(model), "%s: image is %d bytes, want %d" % (what, len(got), len(model)))
    if got != model:
        i = first_diff(got, model)
        check(False, "%s: image differs from the expected content first at byte %d "
              "(block %d): have %r, want %r" % (what, i, i // BLK, got[i:i + 32], model[i:i + 32]))


# ------------------------------------------------------------------------------ one disk

SIZE1 = 32 * MiB + 3 * BLK          # not a power of two: capacity must be exact
SERIAL1 = "bh-data-0001"
W_OFF, W_LEN = 5 * MiB + 3 * BLK, 3 * BLK                   # dd conv=fsync
D_OFF, D_LEN = 6 * MiB, 64 * KiB                            # dd oflag=direct
S_OFF, S_LEN = 7 * MiB + BLK, 2 * BLK                       # write, sync, --flushbufs
F_OFF, F_LEN = 7 * MiB + 8 * BLK, BLK                       # write, fsync: flush counted
DISC_OFF, DISC_LEN = 8 * MiB, 1 * MiB                       # blkdiscard
Z_OFF, Z_LEN = 16 * MiB, 10 * MiB                           # blkdiscard -z: > 8 MiB, split
R_OFF, R_LEN = 100 * BLK, 16 * BLK                          # dd iflag=direct, 4 KiB reads
RB_OFF, RB_LEN = 20 * MiB + 0, 2 * MiB                      # dd iflag=direct bs=1M

ONE_DISK = PRELUDE + r"""
D=/dev/vda
echo "SIZE_SECTORS=$(cat /sys/block/vda/size)"
echo "SIZE_BYTES=$(blockdev --getsize64 $D)"
echo "SERIAL=$(cat /sys/block/vda/serial)"
echo "RO=$(cat /sys/block/vda/ro)"
echo "DISCARD_MAX=$(cat /sys/block/vda/queue/discard_max_bytes)"
echo "DISCARD_GRAN=$(cat /sys/block/vda/queue/discard_granularity)"
echo "WZ_MAX=$(cat /sys/block/vda/queue/write_zeroes_max_bytes)"
echo "WRITE_CACHE=$(cat /sys/block/vda/queue/write_cache)"

# reads through the page cache: the whole disk, and two blocks by number
echo "MD5_ALL_BEFORE=$(md5 <$D)"
echo "BLOCK7=$(dd if=$D bs=4096 skip=7 count=1 2>/dev/null | head -c 14)"
echo "BLOCK8194=$(dd if=$D bs=4096 skip=8194 count=1 2>/dev/null | head -c 14)"
# O_DIRECT reads: 4 KiB requests, and 1 MiB ones (many segments each)
echo "MD5_DIRECT_4K=$(dmd5 $D %(R_OFF)d %(R_LEN)d)"
echo "MD5_DIRECT_1M=$(dd if=$D bs=1M skip=%(RB_OFF_M)d count=%(RB_LEN_M)d iflag=direct 2>/dev/null | md5)"

# write + fsync
yes BULKHEAD-FSYNC-WRITE | head -c %(W_LEN)d >/tmp/w
dd if=/tmp/w of=$D bs=4096 seek=%(W_SEEK)d conv=fsync 2>/dev/null; echo "WRITE_RC=$?"
# O_DIRECT write, read back with O_DIRECT
yes BULKHEAD-DIRECT-WRITE | head -c %(D_LEN)d >/tmp/dw
dd if=/tmp/dw of=$D bs=4096 seek=%(D_SEEK)d oflag=direct 2>/dev/null; echo "DIRECT_WRITE_RC=$?"
echo "MD5_DIRECT_BACK=$(dmd5 $D %(D_OFF)d %(D_LEN)d)"

# flush: a write through the page cache, sync, blockdev --flushbufs
yes BULKHEAD-SYNC-WRITE | head -c %(S_LEN)d >/tmp/sw
dd if=/tmp/sw of=$D bs=4096 seek=%(S_SEEK)d 2>/dev/null; echo "SYNC_DD_RC=$?"
sync; echo "SYNC_RC=$?"
blockdev --flushbufs $D; echo "FLUSHBUFS_RC=$?"
# fsync sends a flush request to the device: the completed-flush counter must move
f0=$(flushes vda)
yes BULKHEAD-FLUSH-WRITE | head -c %(F_LEN)d >/tmp/fw
dd if=/tmp/fw of=$D bs=4096 seek=%(F_SEEK)d conv=fsync 2>/dev/null; echo "FLUSH_DD_RC=$?"
f1=$(flushes vda)
echo "FLUSHES=$f0 $f1"

# discard and write-zeroes, read back with O_DIRECT (nothing from the page cache)
$BLKDISCARD -f -o %(DISC_OFF)d -l %(DISC_LEN)d $D; echo "DISCARD_RC=$?"
echo "MD5_DISCARDED=$(dmd5 $D %(DISC_OFF)d %(DISC_LEN)d)"
$BLKDISCARD -f -z -o %(Z_OFF)d -l %(Z_LEN)d $D; echo "ZERO_RC=$?"
echo "MD5_ZEROED=$(dmd5 $D %(Z_OFF)d %(Z_LEN)d)"

# everything once more, from the device
echo 3 >/proc/sys/vm/drop_caches
echo "MD5_ALL_AFTER=$(dd if=$D bs=1M iflag=direct 2>/dev/null | md5)"
""" % dict(R_OFF=R_OFF, R_LEN=R_LEN, RB_OFF_M=RB_OFF // MiB, RB_LEN_M=RB_LEN // MiB,
           W_LEN=W_LEN, W_SEEK=W_OFF // BLK, D_LEN=D_LEN, D_SEEK=D_OFF // BLK, D_OFF=D_OFF,
           S_LEN=S_LEN, S_SEEK=S_OFF // BLK, F_LEN=F_LEN, F_SEEK=F_OFF // BLK,
           DISC_OFF=DISC_OFF, DISC_LEN=DISC_LEN, Z_OFF=Z_OFF, Z_LEN=Z_LEN) + EPILOGUE


def one_disk_data_path(env):
    img = env.image("data.img", SIZE1)
    orig = read(img)
    blocks_before = os.stat(img).st_blocks
    vm = env.linux(ONE_DISK, extra=["-drive", "id=data,file=%s,serial=%s" % (img, SERIAL1),
                                    "-device", "virtio-blk-device,drive=data,id=blk0"])
    boot_and_finish(vm)

    # what the device looks like
    eq(vm, "SIZE_SECTORS", SIZE1 // 512)
    eq(vm, "SIZE_BYTES", SIZE1)
    eq(vm, "SERIAL", SERIAL1)
    eq(vm, "RO", 0)
    eq(vm, "DISCARD_MAX", DISCARD_MAX_BYTES)
    eq(vm, "DISCARD_GRAN", 512)
    eq(vm, "WZ_MAX", WRITE_ZEROES_MAX_BYTES)
    eq(vm, "WRITE_CACHE", "write back")     # VIRTIO_BLK_F_FLUSH: fsync sends flushes

    # reads
    eq(vm, "MD5_ALL_BEFORE", md5(orig))
    eq(vm, "BLOCK7", "block 00000007")
    eq(vm, "BLOCK8194", "block 00008194")
    eq(vm, "MD5_DIRECT_4K", md5(orig[R_OFF:R_OFF + R_LEN]))
    eq(vm, "MD5_DIRECT_1M", md5(orig[RB_OFF:RB_OFF + RB_LEN]))

    # writes, flush, discard, write-zeroes: every one succeeded as the guest saw it
    for k in ("WRITE_RC", "DIRECT_WRITE_RC", "SYNC_DD_RC", "SYNC_RC", "FLUSHBUFS_RC",
              "FLUSH_DD_RC", "DISCARD_RC", "ZERO_RC"):
        eq(vm, k, 0)
    eq(vm, "MD5_DIRECT_BACK", md5(yes_data("BULKHEAD-DIRECT-WRITE", D_LEN)))
    f0, f1 = (int(x) for x in vm.value("FLUSHES").split())
    check(f1 > f0, "no flush request completed for write + fsync (flushes %d -> %d)" % (f0, f1))
    eq(vm, "MD5_DISCARDED", md5(bytes(DISC_LEN)))
    eq(vm, "MD5_ZEROED", md5(bytes(Z_LEN)))

    # the image: the original with exactly these changes
    model = bytearray(orig)
    model[W_OFF:W_OFF + W_LEN] = yes_data("BULKHEAD-FSYNC-WRITE", W_LEN)
    model[D_OFF:D_OFF + D_LEN] = yes_data("BULKHEAD-DIRECT-WRITE", D_LEN)
    model[S_OFF:S_OFF + S_LEN] = yes_data("BULKHEAD-SYNC-WRITE", S_LEN)
    model[F_OFF:F_OFF + F_LEN] = yes_data("BULKHEAD-FLUSH-WRITE", F_LEN)
    model[DISC_OFF:DISC_OFF + DISC_LEN] = bytes(DISC_LEN)
    model[Z_OFF:Z_OFF + Z_LEN] = bytes(Z_LEN)
    check_image(img, bytes(model), "data.img")
    eq(vm, "MD5_ALL_AFTER", md5(bytes(model)))

    # discard punches a hole (dev-blk: FALLOC_FL_PUNCH_HOLE): the blocks are given back. A
    # file system may add a metadata block for the split extent: allow one 4 KiB block.
    blocks_after = os.stat(img).st_blocks
    freed = blocks_before - blocks_after
    check(freed >= DISC_LEN // 512 - 8,
          "discard of %d bytes freed %d sectors of the image (st_blocks %d -> %d): no hole"
          % (DISC_LEN, freed, blocks_before, blocks_after))


# ------------------------------------------------------------------------ read-only + IOPS

RO_SIZE = 8 * MiB + 700             # a tail smaller than a sector is not addressable
RO_SERIAL = "bh-readonly"
# 1/IOPS (50 ms) well above one read's own time in the nested test host (about 20 ms), so
# the limit, not the read, sets the pace
IOPS = 20
IOPS_COUNT = 100
# dev-blk/blk.c blk_bucket_init/ready: the bucket holds iops/10 tokens (at least 1) and may
# hold almost one more from refill progress, and starts full.
IOPS_BURST = max(IOPS // 10, 1) + 1

RO_IOPS = PRELUDE + r"""
D=/dev/vda
echo "RO=$(cat /sys/block/vda/ro)"
echo "RO_SIZE_SECTORS=$(cat /sys/block/vda/size)"
echo "RO_SERIAL=$(cat /sys/block/vda/serial)"
echo "RO_DISCARD_MAX=$(cat /sys/block/vda/queue/discard_max_bytes)"
echo "RO_WZ_MAX=$(cat /sys/block/vda/queue/write_zeroes_max_bytes)"
echo "RO_MD5=$(md5 <$D)"
yes BULKHEAD-RO-WRITE | head -c 8192 >/tmp/w
dd if=/tmp/w of=$D bs=4096 seek=3 conv=fsync 2>/dev/null; echo "RO_WRITE_RC=$?"
dd if=/tmp/w of=$D bs=4096 seek=5 oflag=direct 2>/dev/null; echo "RO_DIRECT_WRITE_RC=$?"
$BLKDISCARD -f -o 0 -l 65536 $D 2>/dev/null; echo "RO_DISCARD_RC=$?"
$BLKDISCARD -f -z -o 65536 -l 65536 $D 2>/dev/null; echo "RO_ZERO_RC=$?"
echo 3 >/proc/sys/vm/drop_caches
echo "RO_MD5_AFTER=$(md5 <$D)"

# the same O_DIRECT 4 KiB read loop (distinct offsets) on the unlimited and the limited disk;
# the host times it between the BEGIN and END lines, with the clock dev-blk's bucket runs on
for d in vdc vdb; do
	echo "SERIAL_$d=$(cat /sys/block/$d/serial)"
	echo "IOPS-BEGIN $d"
	t0=$(now_ms)
	n=$(dd if=/dev/$d of=/dev/null bs=4096 count=%(COUNT)d iflag=direct 2>&1 | sed -n 's/+.*records in//p')
	t1=$(now_ms)
	echo "IOPS-END $d"
	echo "READS_$d=$n"
	echo "MS_$d=$((t1 - t0))"
done
""" % dict(COUNT=IOPS_COUNT) + EPILOGUE


def readonly_and_iops(env):
    ro = env.image("ro.img", RO_SIZE - 700)
    with open(ro, "ab") as f:
        f.write(b"T" * 700)
    ro_orig = read(ro)
    lim = env.image("limited.img", 4 * MiB)
    unl = env.image("unlimited.img", 4 * MiB)
    vm = env.linux(RO_IOPS, extra=[
        "-drive", "id=ro,file=%s,readonly=on,serial=%s" % (ro, RO_SERIAL),
        "-device", "virtio-blk-device,drive=ro,id=blk0",
        "-drive", "id=lim,file=%s,iops=%d,serial=limited" % (lim, IOPS),
        "-device", "virtio-blk-device,drive=lim,id=blk1",
        "-drive", "id=unl,file=%s,serial=unlimited" % unl,
        "-device", "virtio-blk-device,drive=unl,id=blk2"])
    vm.start()
    host_s = {}
    for d in ("vdc", "vdb"):
        pos = vm.wait_serial(r"^IOPS-BEGIN %s" % d).end()
        t0 = time.monotonic()
        vm.wait_serial(r"^IOPS-END %s" % d, start=pos)
        host_s[d] = time.monotonic() - t0
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")

    eq(vm, "RO", 1)
    eq(vm, "RO_SIZE_SECTORS", RO_SIZE // 512)
    eq(vm, "RO_SERIAL", RO_SERIAL)
    eq(vm, "RO_DISCARD_MAX", 0)
    eq(vm, "RO_WZ_MAX", 0)
    addressable = RO_SIZE // 512 * 512
    eq(vm, "RO_MD5", md5(ro_orig[:addressable]))
    for k in ("RO_WRITE_RC", "RO_DIRECT_WRITE_RC", "RO_DISCARD_RC", "RO_ZERO_RC"):
        rc = vm.value(k)
        check(rc.isdigit() and rc != "0", "%s=%r: a write to a read-only disk succeeded\n%s"
              % (k, rc, vm.logs()))
    eq(vm, "RO_MD5_AFTER", md5(ro_orig[:addressable]))
    check(read(ro) == ro_orig, "ro.img changed")

    eq(vm, "SERIAL_vdb", "limited")
    eq(vm, "SERIAL_vdc", "unlimited")
    eq(vm, "READS_vdb", IOPS_COUNT)
    eq(vm, "READS_vdc", IOPS_COUNT)
    lim_s, unl_s = host_s["vdb"], host_s["vdc"]
    floor = (IOPS_COUNT - IOPS_BURST) / IOPS       # 4.85 s
    print("  iops=%d: %d reads in %.2fs (guest clock %.2fs), no less than %.2fs allowed; "
          "unlimited %.2fs (guest clock %.2fs)"
          % (IOPS, IOPS_COUNT, lim_s, int(vm.value("MS_vdb")) / 1000, floor, unl_s,
             int(vm.value("MS_vdc")) / 1000), flush=True)
    # a functional check of the limit: generous margins (the host sees the guest's lines up
    # to a poll interval late)
    check(lim_s >= 0.9 * floor - 0.25, "iops=%d: %d reads took %.2fs, the limit allows no "
          "less than %.2fs" % (IOPS, IOPS_COUNT, lim_s, floor))
    check(lim_s >= 1.5 * unl_s and lim_s - unl_s >= 0.4 * floor,
          "iops=%d: %.2fs is not clearly longer than the unlimited disk's %.2fs"
          % (IOPS, lim_s, unl_s))
    # a limiter that stalls instead of pacing
    check(lim_s < 5 * floor + 2 * unl_s + 10,
          "iops=%d: %d reads took %.2fs" % (IOPS, IOPS_COUNT, lim_s))
    for p, n in ((lim, "limited.img"), (unl, "unlimited.img")):
        check_image(p, b"".join(block_pattern(k) for k in range(4 * MiB // BLK)), n)


# ----------------------------------------------------------------------------- six disks

SIX = PRELUDE + r"""
for d in vda vdb vdc vdd vde vdf; do
	s=$(cat /sys/block/$d/serial)
	echo "DISK_$d=$s $(cat /sys/block/$d/size) $(dd if=/dev/$d bs=4096 count=1 2>/dev/null | head -c 15) $(md5 </dev/$d)"
	echo "WRITTEN-BY-GUEST-TO-$s" | dd of=/dev/$d bs=4096 seek=1 conv=sync,fsync 2>/dev/null
	echo "WROTE_$d=$?"
done
echo "DISKS=$(ls /sys/block | grep '^vd' | tr '\n' ' ')"
"""  + EPILOGUE


def odirect_dir(env):
    """A directory whose file system takes O_DIRECT: the test's own, else the one bulkhead
    lives in (the nested test host's /tmp is tmpfs, which takes O_DIRECT only from Linux 6.6;
    the repository is shared over 9p, which does). None when neither."""
    for d in (env.tmp, os.path.dirname(os.environ["BULKHEAD"])):
        probe = None
        try:
            fd, probe = tempfile.mkstemp(prefix=".bh-odirect.", dir=d)
            os.close(fd)
            os.close(os.open(probe, os.O_RDWR | os.O_DIRECT))
            return d
        except OSError:
            pass
        finally:
            if probe:
                os.unlink(probe)
    return None


def six_disks(env):
    imgs = []
    ddir = odirect_dir(env)
    made = []
    try:
        for i in range(6):
            size = 2 * MiB + i * 64 * KiB            # each disk its own size
            serial = "bh-six-%d" % i
            if i == 5 and ddir and ddir != env.tmp:
                fd, p = tempfile.mkstemp(prefix=".bh-six.", suffix=".img", dir=ddir)
                os.close(fd)
                made.append(p)
            else:
                p = env.path("six%d.img" % i)
            with open(p, "wb") as f:
                tag = ("DISK-%d-CONTENT!" % i).encode()
                f.write(tag + block_pattern(0)[len(tag):])
                for k in range(1, size // BLK):
                    f.write(block_pattern(k + 1000 * i))
            imgs.append((p, serial, size, read(p), i == 5 and ddir is not None))
        extra = []
        for i, (p, serial, _, _, direct) in enumerate(imgs):
            extra += ["-drive", "id=d%d,file=%s,serial=%s%s" % (i, p, serial,
                                                              ",direct=on" if direct else ""),
                      "-device", "virtio-blk-device,drive=d%d,id=blk%d" % (i, i)]
        if ddir is None:
            print("  no file system here takes O_DIRECT: no direct=on disk", flush=True)
        vm = env.linux(SIX, extra=extra)
        boot_and_finish(vm)

        eq(vm, "DISKS", "vda vdb vdc vdd vde vdf")
        if ddir is not None:
            check(re.search(r"^blk/d5: serving \d+ sectors, O_DIRECT", vm.stderr(), re.M),
                  "direct=on: the worker of d5 does not say O_DIRECT\n%s" % vm.logs())
        seen = {}
        for d in ("vda", "vdb", "vdc", "vdd", "vde", "vdf"):
            parts = vm.value("DISK_" + d).split()
            check(len(parts) == 4, "DISK_%s=%r" % (d, parts))
            seen[parts[0]] = (d, parts)
            eq(vm, "WROTE_" + d, 0)
        check(sorted(seen) == sorted(s for _, s, _, _, _ in imgs),
              "the guest's serials %r, want %r" % (sorted(seen), [s for _, s, _, _, _ in imgs]))
        for i, (p, serial, size, orig, _) in enumerate(imgs):
            d, (s, sectors, tag, sum_) = seen[serial]
            check(sectors == str(size // 512), "%s (%s): %s sectors, want %d"
                  % (d, serial, sectors, size // 512))
            check(tag == "DISK-%d-CONTENT!" % i, "%s (%s) starts with %r" % (d, serial, tag))
            check(sum_ == md5(orig), "%s (%s): guest md5 %s, image %s"
                  % (d, serial, sum_, md5(orig)))
            model = bytearray(orig)
            w = ("WRITTEN-BY-GUEST-TO-%s\n" % serial).encode()
            model[BLK:2 * BLK] = w + bytes(BLK - len(w))
            check_image(p, bytes(model), "%s (%s)" % (os.path.basename(p), serial))
    finally:
        for p in made:
            os.unlink(p)


MQ_JOB_BLOCKS = 1024     # 4 MiB per job
MQ_CPUS = 2              # more vCPUs make the nested test host's emulation fault more often
MQ = PRELUDE + r"""
echo "MQ_VDA=$(ls /sys/block/vda/mq | wc -l)"
echo "MQ_VDB=$(ls /sys/block/vdb/mq | wc -l)"
# one O_DIRECT read job on each vCPU: blk-mq sends what a CPU submits down its own queue
for c in $(seq 0 %(last)d); do
  (taskset -c $c dd if=/dev/vda bs=4096 skip=$((c * %(n)d)) count=%(n)d iflag=direct \
      2>/dev/null | md5 >/tmp/job$c) &
done
wait
for c in $(seq 0 %(last)d); do echo "MQ_JOB$c=$(cat /tmp/job$c)"; done
""" % {"n": MQ_JOB_BLOCKS, "last": MQ_CPUS - 1} + EPILOGUE


def multiqueue(env):
    """A disk gets one queue per vCPU by default and num-queues= when given; the guest's
    blk-mq uses every one (one reader per vCPU, the worker counts requests per queue)."""
    img = env.image("mq.img", MQ_CPUS * MQ_JOB_BLOCKS * BLK)
    one = env.image("one.img", 1 * MiB)
    orig = read(img)
    vm = env.linux(MQ, smp=MQ_CPUS, extra=[
        "-drive", "id=a,file=%s" % img, "-device", "virtio-blk-device,drive=a,id=vda",
        "-drive", "id=b,file=%s" % one, "-device", "virtio-blk-device,drive=b,num-queues=1"])
    boot_and_finish(vm)
    eq(vm, "MQ_VDA", MQ_CPUS)
    eq(vm, "MQ_VDB", 1)
    job = MQ_JOB_BLOCKS * BLK
    for c in range(MQ_CPUS):
        eq(vm, "MQ_JOB%d" % c, md5(orig[c * job:(c + 1) * job]))
    err = vm.stderr()
    check(re.search(r"^blk/a: serving \d+ sectors, %d queue\(s\)" % MQ_CPUS, err, re.M),
          "the worker of a does not serve %d queues\n%s" % (MQ_CPUS, vm.logs()))
    m = re.search(r"^blk/a: requests per queue: (.*)$", err, re.M)
    check(m, "the worker of a did not count its requests per queue\n" + vm.logs())
    served = dict((int(q), int(n)) for q, n in re.findall(r"q(\d+) (\d+)", m.group(1)))
    check(sorted(served) == list(range(MQ_CPUS)) and all(n > 0 for n in served.values()),
          "requests per queue %r: want all of q0..q%d used\n%s" % (served, MQ_CPUS - 1,
                                                                   vm.logs()))
    check(sum(served.values()) >= MQ_CPUS * MQ_JOB_BLOCKS // 256,
          "only %d requests for %d blocks read" % (sum(served.values()),
                                                  MQ_CPUS * MQ_JOB_BLOCKS))


if __name__ == "__main__":
    sys.exit(run_tests([one_disk_data_path, readonly_and_iops, six_disks, multiqueue]))
