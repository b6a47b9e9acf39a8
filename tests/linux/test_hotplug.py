#!/usr/bin/env python3
"""Disk hotplug into a running Linux guest (virtio_blk over virtio-mmio), with no -drive at
boot: the six disk slots exist from boot as empty disks (vda..vdf, 0 sectors). For each slot,
QMP blockdev-add + device_add {"driver":"virtio-blk-mmio","addr":"0xN"}: the guest's disk
gets the image's capacity (a config-change interrupt; only that disk changes), reads the
image's exact content and writes to it (O_DIRECT, fsync); device_del: DEVICE_DELETED, the
guest's disk drops back to 0 sectors and reads nothing, the image holds exactly what the guest
wrote; then another image goes into the same slot and the guest reads it. The guest runs a
small command loop on its console, driven by the host line by line."""

import hashlib
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, Deadline, TestFailure, check, run_tests  # noqa: E402
from qmplib import check_event_shape  # noqa: E402

BLK = 4096
SLOTS = 6
DISKS = ["vd" + chr(ord("a") + i) for i in range(SLOTS)]

AGENT = r"""
stty -echo
size() { cat /sys/block/$1/size; }
sizes() {
    s=
    for d in vda vdb vdc vdd vde vdf; do s="$s $d=$(size $d)"; done
    echo "SIZES$s"
}
# waitsize DEV SECTORS: until the disk has that capacity (at most 60 s)
waitsize() {
    i=0
    while [ "$(size $1)" != "$2" ]; do
        i=$((i+1))
        if [ $i -gt 600 ]; then
            echo "WAITSIZE-TIMEOUT $1 has $(size $1) sectors, want $2"
            return 1
        fi
        usleep 100000
    done
}
# md5 DEV: the whole disk, read past the page cache
md5() { dd if=/dev/$1 bs=65536 iflag=direct status=none | md5sum | cut -d' ' -f1; }
# wr DEV BLOCK TEXT: one 4 KiB block (TEXT, then zeros), O_DIRECT and fsync
wr() { printf '%s\n' "$3" | dd of=/dev/$1 bs=4096 count=1 seek=$2 conv=sync,fsync oflag=direct status=none; }
sizes
echo AGENT-READY
while read -r n cmd; do
    [ "$cmd" = quit ] && break
    eval "$cmd"
    echo "AGENT-DONE $n $?"
done
echo "IOERRORS=$(dmesg | grep -c 'I/O error')"
"""


class Agent:
    """The guest's command loop: one shell command line per call."""

    def __init__(self, vm):
        self.vm = vm
        self.n = 0
        vm.wait_serial(r"^AGENT-READY")

    def run(self, cmd, timeout=90):
        """Run cmd in the guest; returns what the guest printed for it (status must be 0)."""
        self.n += 1
        start = len(self.vm.serial())
        self.vm.type_line("%d %s" % (self.n, cmd))
        m = self.vm.wait_serial(r"^AGENT-DONE %d (\d+)$" % self.n, timeout, start)
        out = self.vm.serial()[start:m.start()]
        check(m.group(1) == "0", "guest command %r failed (status %s):\n%s\n%s"
              % (cmd, m.group(1), out, self.vm.logs()))
        return out

    def line(self, cmd, key, timeout=90):
        """The value of the guest's "KEY value" line for cmd."""
        out = self.run(cmd, timeout)
        m = re.search(r"^%s (.*)$" % re.escape(key), out, re.M)
        check(m, "no %s line for %r:\n%s" % (key, cmd, out))
        return m.group(1).strip()

    def sizes(self):
        s = self.line("sizes", "SIZES")
        return {k: int(v) for k, v in (w.split("=") for w in s.split())}


def make_image(path, size, tag):
    """size bytes; 4 KiB block k says which image and block it is."""
    with open(path, "wb") as f:
        for k in range(size // BLK):
            line = ("%s block %06d\n" % (tag, k)).encode()
            f.write((line * (BLK // len(line) + 1))[:BLK])
    with open(path, "rb") as f:
        return bytearray(f.read())


def put_block(data, k, text):
    data[k * BLK:(k + 1) * BLK] = ((text + "\n").encode() + bytes(BLK))[:BLK]


def md5(data):
    return hashlib.md5(bytes(data)).hexdigest()


def check_image(path, want, what):
    with open(path, "rb") as f:
        got = f.read()
    if got == bytes(want):
        return
    diff = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                min(len(got), len(want)))
    raise TestFailure("%s: image differs from what the guest wrote: first at byte %d "
                         "(block %d: %r), %d bytes, want %d"
                         % (what, diff, diff // BLK, got[diff // BLK * BLK:][:32], len(got),
                            len(want)))


def wait_workers(vm, n, what):
    dl = Deadline(20)
    while len(vm.blk_workers()) != n and not dl.expired():
        time.sleep(0.05)
    check(len(vm.blk_workers()) == n, "%s: %d bulkhead-blk workers, want %d"
          % (what, len(vm.blk_workers()), n))


def plug(c, node, dev, path, slot):
    check(c.cmd("blockdev-add", {"node-name": node, "file": {"driver": "file", "filename": path},
                                 "cache": {"direct": False}, "read-only": False}) == {},
          "blockdev-add %s" % node)
    check(c.cmd("device_add", {"id": dev, "driver": "virtio-blk-mmio", "addr": "0x%x" % slot,
                               "drive": node}) == {}, "device_add %s into 0x%x" % (dev, slot))


def unplug(c, node, dev):
    r = c.cmd_raw("device_del", {"id": dev}, id="del")
    check(r == {"return": {}, "id": "del"}, "device_del %s: %r" % (dev, r))
    e = c.event("DEVICE_DELETED")
    check_event_shape(e, "DEVICE_DELETED")
    check(e.get("data", {}).get("device") == dev, "DEVICE_DELETED %r, want device %s" % (e, dev))
    check(c.cmd("blockdev-del", {"node-name": node}) == {}, "blockdev-del %s" % node)


def expect_sizes(agent, want, what):
    got = agent.sizes()
    check(got == want, "%s: the guest's disk sizes are %r, want %r" % (what, got, want))


def hotplug_six_slots(env):
    vm = env.linux(AGENT).start(stdin=True)
    c = vm.connect()
    agent = Agent(vm)
    sectors = dict.fromkeys(DISKS, 0)
    expect_sizes(agent, sectors, "at boot, with no -drive")
    check(vm.blk_workers() == [], "bulkhead-blk running before any disk: %r" % vm.blk_workers())

    first, content = [], []
    for slot, disk in enumerate(DISKS):
        path = env.path("a%d.img" % slot)
        size = (slot + 1) * MiB + slot * BLK
        data = make_image(path, size, "image-a slot-%d" % slot)
        plug(c, "img%da" % slot, "disk%d" % slot, path, slot)
        wait_workers(vm, slot + 1, "after device_add into slot %d" % slot)
        agent.run("waitsize %s %d" % (disk, size // 512))
        sectors[disk] = size // 512
        expect_sizes(agent, sectors, "after plugging slot %d" % slot)
        got = agent.line("echo MD5 $(md5 %s)" % disk, "MD5")
        check(got == md5(data), "slot %d: the guest reads md5 %s, the image is %s"
              % (slot, got, md5(data)))
        # the guest writes the second and the last block; they read back, and only they change
        last = size // BLK - 1
        for k in (1, last):
            text = "guest wrote disk %s block %d" % (disk, k)
            agent.run("wr %s %d '%s'" % (disk, k, text))
            put_block(data, k, text)
        got = agent.line("echo MD5 $(md5 %s)" % disk, "MD5")
        check(got == md5(data), "slot %d: after its writes the guest reads md5 %s, want %s"
              % (slot, got, md5(data)))
        first.append(path)
        content.append(data)
    out = agent.run("dmesg | grep 'detected capacity change'")
    for disk in DISKS:
        check(re.search(r"%s: detected capacity change from 0 to %d" % (disk, sectors[disk]), out),
              "the guest kernel did not log %s's capacity change:\n%s" % (disk, out))

    for slot, disk in enumerate(DISKS):
        unplug(c, "img%da" % slot, "disk%d" % slot)
        wait_workers(vm, SLOTS - 1, "after device_del of slot %d" % slot)
        agent.run("waitsize %s 0" % disk)
        sectors[disk] = 0
        expect_sizes(agent, sectors, "after unplugging slot %d" % slot)
        n = agent.line("echo BYTES $(dd if=/dev/%s bs=4096 count=1 iflag=direct status=none "
                       "| wc -c)" % disk, "BYTES")
        check(n == "0", "slot %d: the unplugged disk still reads %s bytes" % (slot, n))
        check_image(first[slot], content[slot], "slot %d after device_del" % slot)

        # another image into the same slot
        path = env.path("b%d.img" % slot)
        size = (SLOTS - slot) * MiB
        data = make_image(path, size, "image-b slot-%d" % slot)
        plug(c, "img%db" % slot, "disk%d" % slot, path, slot)
        wait_workers(vm, SLOTS, "after plugging slot %d again" % slot)
        agent.run("waitsize %s %d" % (disk, size // 512))
        sectors[disk] = size // 512
        expect_sizes(agent, sectors, "after plugging slot %d again" % slot)
        got = agent.line("echo MD5 $(md5 %s)" % disk, "MD5")
        check(got == md5(data), "slot %d, second image: the guest reads md5 %s, want %s"
              % (slot, got, md5(data)))
        check_image(path, data, "slot %d, second image (only read)" % slot)

    vm.type_line("0 quit")
    vm.test_exit()
    check(vm.value("IOERRORS") == "0", "the guest logged I/O errors\n" + vm.logs())
    vm.expect_end(0, r"(?m)^bulkhead: the guest powered off$")
    for slot in range(SLOTS):
        check_image(first[slot], content[slot], "slot %d's first image at the end" % slot)
    check(c.events == [], "unexpected events: %r" % c.events)


if __name__ == "__main__":
    sys.exit(run_tests([hotplug_six_slots]))
