#!/usr/bin/env python3
"""A disk's bulkhead-blk worker killed under a real driver: the Linux guest runs two writer
loops (each iteration: a 4 KiB block carrying its sequence number, position and the checksum
of its random payload, written with dd oflag=direct conv=fsync, "FSYNCED" printed, then read
back O_DIRECT and compared) and one reader loop (a 2 MiB region of the image's own pattern,
read O_DIRECT again and again, always the same checksum), while the host SIGKILLs the worker
ten times. The supervisor restarts it each time (its stderr says so), the restarted worker
resubmits what was in flight, and the guest sees nothing: no I/O error in its kernel log, every
read-back and re-read right, the loops going on after every kill. Afterwards every block the
guest reported fsynced is in the image with the content it wrote, and nothing else changed."""

import hashlib
import os
import random
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import BOOT_TIMEOUT, Deadline, TestFailure, block_pattern, check, run_tests  # noqa: E402,F401

BLK = 4096
SPAN = 256                # blocks per writer
WRITERS = 2
RFIRST = WRITERS * SPAN   # the reader's region: blocks RFIRST .. RFIRST + RBLOCKS - 1
RBLOCKS = 512
KILLS = 10
# the supervisor gives up after 5 restarts within 10 s (fail-stop); stay clear of that
KILL_SPACING = 3.0

SCRIPT = r"""
stty -echo
writer() {
    w=$1
    n=0
    while [ -e /tmp/run ]; do
        n=$((n+1))
        pos=$((w * SPAN + n % SPAN))
        dd if=/dev/urandom of=/tmp/p$w bs=3968 count=1 status=none
        psum=$(md5sum </tmp/p$w | cut -c1-32)
        { printf '%-127s\n' "SEQ $n W $w POS $pos SUM $psum"; cat /tmp/p$w; } >/tmp/b$w
        sum=$(md5sum </tmp/b$w | cut -c1-32)
        if ! dd if=/tmp/b$w of=/dev/vda bs=4096 count=1 seek=$pos conv=fsync oflag=direct \
                status=none 2>/tmp/e$w; then
            echo "WRITE-FAILED $w $n: $(cat /tmp/e$w)"
            return 1
        fi
        echo "FSYNCED $w $n $pos $sum"
        got=$(dd if=/dev/vda bs=4096 count=1 skip=$pos iflag=direct status=none | md5sum | cut -c1-32)
        if [ "$got" != "$sum" ]; then
            echo "VERIFY-FAILED $w $n $pos $got $sum"
            return 1
        fi
    done
    echo "WRITER-END $w $n"
}
reader() {
    r=0
    want=
    while [ -e /tmp/run ]; do
        r=$((r+1))
        got=$(dd if=/dev/vda bs=65536 skip=RSKIP count=RCOUNT iflag=direct status=none | md5sum | cut -c1-32)
        [ -n "$want" ] || { want=$got; echo "READ-MD5 $want"; }
        if [ "$got" != "$want" ]; then
            echo "READ-FAILED $r $got $want"
            return 1
        fi
        echo "READ-OK $r"
    done
    echo "READER-END $r"
}
: >/tmp/run
writer 0 &
writer 1 &
reader &
echo LOOPS-STARTED
read -r line
echo "HOST-SAID $line"
rm -f /tmp/run
wait
echo "IOERRORS=$(dmesg | grep -c 'I/O error')"
! dmesg | grep -q 'I/O error'
""".replace("SPAN", str(SPAN)).replace("RSKIP", str(RFIRST * BLK // 65536)) \
   .replace("RCOUNT", str(RBLOCKS * BLK // 65536))


def progress(vm):
    """(fsynced count per writer, reads done) so far."""
    out = vm.serial()
    w = [len(re.findall(r"^FSYNCED %d \d+ " % i, out, re.M)) for i in range(WRITERS)]
    return w, len(re.findall(r"^READ-OK \d+$", out, re.M))


def failures(vm):
    return re.findall(r"^.*(?:FAILED|I/O error).*$", vm.serial(), re.M)


def wait_progress(vm, w0, r0, what, timeout=90):
    """Until every writer fsynced 2 more blocks and the reader read its region again."""
    dl = Deadline(timeout)
    while True:
        bad = failures(vm)
        check(not bad, "%s: the guest saw failures: %r\n%s" % (what, bad, vm.logs()))
        w, r = progress(vm)
        if all(w[i] >= w0[i] + 2 for i in range(WRITERS)) and r >= r0 + 1:
            return
        check(vm.proc.poll() is None, "%s: the VM ended\n%s" % (what, vm.logs()))
        check(not dl.expired(), "%s: the guest's I/O did not go on within %ss (writers %r -> "
              "%r, reads %d -> %d)\n%s" % (what, timeout, w0, w, r0, r, vm.logs()))
        time.sleep(0.1)


def wait_new_worker(vm, old, timeout=20):
    dl = Deadline(timeout)
    while True:
        ws = vm.blk_workers()
        if len(ws) == 1 and ws[0] != old:
            return ws[0]
        check(not dl.expired(), "no new bulkhead-blk %ss after killing %d (workers: %r)\n%s"
              % (timeout, old, ws, vm.logs()))
        time.sleep(0.05)


def check_image(img, out):
    """Every block the guest reported fsynced holds, in the image, the last content it
    reported for that position; the reader's region and the untouched blocks are as made."""
    with open(img, "rb") as f:
        data = f.read()
    latest, ends = {}, []
    for w in range(WRITERS):
        ns = [int(x) for x in re.findall(r"^FSYNCED %d (\d+) " % w, out, re.M)]
        ends.append(int(re.search(r"^WRITER-END %d (\d+)$" % w, out, re.M).group(1)))
        check(ns == list(range(1, ends[w] + 1)),
              "writer %d: FSYNCED lines are not 1..%d" % (w, ends[w]))
    # Several guest processes share the console: another one's output may land in the middle
    # of a line, so a record is found wherever it stands, and one that was cut apart is
    # reported as such rather than as a wrong block.
    seen = set()
    for m in re.finditer(r"FSYNCED (\d+) (\d+) (\d+) ([0-9a-f]{32})(?![0-9a-f])", out):
        w, n, pos, s = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        check(pos == w * SPAN + n % SPAN, "FSYNCED line %r: wrong position" % m.group(0))
        latest[pos] = max(latest.get(pos, (n, w, s)), (n, w, s))
        seen.add((w, n))
    for w in range(WRITERS):
        cut = [n for n in range(1, ends[w] + 1) if (w, n) not in seen]
        check(not cut, "writer %d: the console cut the FSYNCED records of %r apart" % (w, cut))
    check(latest, "the guest fsynced nothing")
    for pos in range(RFIRST + RBLOCKS):
        block = data[pos * BLK:(pos + 1) * BLK]
        if pos not in latest:
            check(block == block_pattern(pos), "block %d changed though the guest never wrote "
                  "it: %r" % (pos, block[:32]))
            continue
        n, w, s = latest[pos]
        hdr = block[:128].decode("latin-1")
        got = hashlib.md5(block).hexdigest()
        if got == s:
            hm = re.match(r"SEQ (\d+) W (\d+) POS (\d+) SUM ([0-9a-f]{32}) *\n$", hdr)
            check(hm and (int(hm.group(1)), int(hm.group(2)), int(hm.group(3))) == (n, w, pos)
                  and hashlib.md5(block[128:]).hexdigest() == hm.group(4),
                  "block %d: header %r does not match writer %d's SEQ %d" % (pos, hdr, w, n))
            continue
        raise TestFailure("block %d: writer %d reported SEQ %d fsynced (md5 %s), the image "
                          "holds md5 %s with header %r" % (pos, w, n, s, got, hdr.rstrip()))


def kill_worker_ten_times(env):
    env.restarts_expected = True
    img = env.image("disk.img", (RFIRST + RBLOCKS) * BLK, pattern=True)
    with open(img, "rb") as f:
        f.seek(RFIRST * BLK)
        region_md5 = hashlib.md5(f.read(RBLOCKS * BLK)).hexdigest()
    vm = env.linux(SCRIPT, extra=["-drive", "id=disk0,file=%s" % img,
                                  "-device", "virtio-blk-device,drive=disk0"]).start(stdin=True)
    vm.wait_serial(r"^LOOPS-STARTED")
    wait_progress(vm, [1] * WRITERS, 1, "before any kill", BOOT_TIMEOUT)
    got = vm.wait_serial(r"^READ-MD5 ([0-9a-f]{32})$").group(1)
    check(got == region_md5, "the guest reads md5 %s for the pattern region, the image has %s"
          % (got, region_md5))
    rng = random.Random(int(os.environ.get("RESTART_SEED", "1")))
    pids = []
    last_kill = 0.0
    for k in range(KILLS):
        ws = vm.blk_workers()
        check(len(ws) == 1, "kill %d: want one bulkhead-blk, found %r" % (k + 1, ws))
        w0, r0 = progress(vm)
        # somewhere in the middle of the guest's I/O, and not too soon after the last restart
        time.sleep(max(0.0, last_kill + KILL_SPACING - time.monotonic()) + rng.uniform(0, 0.5))
        os.kill(ws[0], signal.SIGKILL)
        last_kill = time.monotonic()
        pids.append(ws[0])
        new = wait_new_worker(vm, ws[0])
        check(new not in pids, "worker pid %d reused" % new)
        wait_progress(vm, w0, r0, "after kill %d" % (k + 1))
    w, r = progress(vm)
    vm.type_line("finish")
    vm.wait_serial(r"^HOST-SAID finish")
    vm.test_exit()
    vm.expect_end(0, r"(?m)^bulkhead: the guest powered off$")
    out = vm.serial()
    check(not failures(vm), "the guest saw failures: %r\n%s" % (failures(vm), vm.logs()))
    check(vm.value("IOERRORS") == "0", "the guest logged I/O errors\n" + vm.logs())
    check(re.search(r"^READER-END \d+$", out, re.M), "the reader did not end cleanly\n" + vm.logs())
    restarts = re.findall(r"^bulkhead: drive disk0: bulkhead-blk (.*); restarting it$",
                          vm.stderr(), re.M)
    check(len(restarts) == KILLS, "bulkhead's stderr reports %d restarts, want %d: %r\n%s"
          % (len(restarts), KILLS, restarts, vm.logs()))
    check(all("signal" in x and "Killed" in x for x in restarts),
          "restart reasons do not name SIGKILL: %r" % restarts)
    check("fail-stop" not in vm.stderr(), "the VM paused (fail-stop)\n" + vm.logs())
    check_image(img, out)
    print("  %d kills; the writers fsynced %r blocks, the reader read its region %d times"
          % (KILLS, w, r), flush=True)


if __name__ == "__main__":
    sys.exit(run_tests([kill_worker_ten_times]))
