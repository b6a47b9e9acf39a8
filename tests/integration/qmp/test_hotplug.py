#!/usr/bin/env python3
"""Disk hotplug on microvm, StratoVirt style, end to end: the guest probe (probe=hotplug,
tests/probes/hotplug.c) watches empty slot 1; QMP blockdev-add + device_add {"driver":
"virtio-blk-mmio","addr":"0x1"} plugs a bulkhead-blk worker into it; the probe reads and
writes the disk; device_del unplugs it (DEVICE_DELETED); the image on the host holds what
the guest wrote. Twice, into the same slot. Then the errors: unknown ids, a busy slot, a
reused id, a missing file, a slot that does not exist, a node in use -- each a clear error
that changes nothing, which the test proves by doing the real thing afterwards and by
counting bulkhead-blk workers. Last, -hotplug-dir: files outside, symlinks inside pointing out
and ".." ways out are refused; files inside work, however they are named."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmplib import Deadline, TestFailure, check, check_event_shape, run_tests  # noqa: E402

SECTOR = 512


def make_image(path, fill0, size=1 << 20):
    """size bytes: sector 0 all fill0, 4 KiB block k >= 1 all (k & 0xff)."""
    with open(path, "wb") as f:
        f.write(bytes([fill0]) * SECTOR + bytes(4096 - SECTOR))
        for k in range(1, size // 4096):
            f.write(bytes([k & 0xff]) * 4096)
    with open(path, "rb") as f:
        return bytearray(f.read())


def blockdev(node, path, direct=True, ro=False):
    # the manual's line, with our path
    return {"node-name": node, "file": {"driver": "file", "filename": path},
            "cache": {"direct": direct}, "read-only": ro}


def check_deleted(c, dev):
    r = c.cmd_raw("device_del", {"id": dev}, id="del")
    check(r == {"return": {}, "id": "del"}, "device_del %s: %r" % (dev, r))
    e = c.event("DEVICE_DELETED")
    check_event_shape(e, "DEVICE_DELETED")
    d = e.get("data", {})
    check(d.get("device") == dev, "DEVICE_DELETED data %r, want device %r" % (d, dev))
    # the manual shows "path":"drive-0"; QEMU's form is /machine/peripheral/<id>
    check(d.get("path") in (dev, "/machine/peripheral/" + dev), "DEVICE_DELETED path %r" % d)


def wait_workers(vm, n, what):
    dl = Deadline(15)
    while len(vm.blk_workers()) != n and not dl.expired():
        time.sleep(0.05)
    check(len(vm.blk_workers()) == n, "%s: %d bulkhead-blk workers, want %d"
          % (what, len(vm.blk_workers()), n))


def test_hotplug_guest(env):
    imgs = [env.path("hp1.img"), env.path("hp2.img")]
    want = [make_image(imgs[0], 0xa5), make_image(imgs[1], 0xa5)]
    vm = env.vm(append="probe=hotplug hp.slot=1 hp.cycles=2 hp.secs=90 blk.expect=a5 "
                "blk.write=3c blk.sectors=2048 hp.linger=120").start()
    c = vm.connect()
    watcher = vm.connect()
    vm.wait_serial(r"^PROBE OK hotplug-empty slot=1 ", timeout=60)
    check(vm.blk_workers() == [], "bulkhead-blk running before any disk")
    for k, (node, img) in enumerate((("drive-0", imgs[0]), ("drive-1", imgs[1])), 1):
        vm.wait_serial(r"^PROBE READY hotplug-attach cycle=%d$" % k, timeout=90)
        check(c.cmd("blockdev-add", blockdev(node, img, direct=(k == 1))) == {}, "blockdev-add")
        check(c.cmd("device_add", {"id": node, "driver": "virtio-blk-mmio", "addr": "0x1"}) == {},
              "device_add")
        wait_workers(vm, 1, "after device_add")
        vm.wait_serial(r"^PROBE OK hotplug-attach cycle=%d sectors=2048 " % k, timeout=90)
        vm.wait_serial(r"^PROBE READY hotplug-detach cycle=%d$" % k, timeout=90)
        check(not [ln for ln in vm.serial().splitlines() if ln.startswith("PROBE FAIL")],
              "the probe failed checks on the hot-plugged disk\n" + vm.logs())
        for m in ("blk-read0 pattern=0xa5", "blk-write1 pattern=0x3c read back",
                  "blk-flush status OK", "blk-read-past-end sector 2048: IOERR", "blk-rw"):
            check(vm.serial().count("PROBE OK " + m) == k, "cycle %d: no 'PROBE OK %s'" % (k, m))
        check_deleted(c, node)
        check_event_shape(watcher.event("DEVICE_DELETED"), "DEVICE_DELETED")
        vm.wait_serial(r"^PROBE OK hotplug-detach cycle=%d " % k, timeout=90)
        wait_workers(vm, 0, "after device_del")
        check(c.cmd("blockdev-del", {"node-name": node}) == {}, "blockdev-del after device_del")
        # what reached the image on the host: sector 1 written, nothing else touched
        want[k - 1][SECTOR:2 * SECTOR] = bytes([0x3c]) * SECTOR
        with open(img, "rb") as f:
            got = f.read()
        if got != bytes(want[k - 1]):
            diff = next((i for i in range(min(len(got), len(want[k - 1])))
                         if got[i] != want[k - 1][i]), min(len(got), len(want[k - 1])))
            raise TestFailure("image %d differs from what the guest wrote: first difference at "
                              "byte %d (%d bytes, want %d)" % (k, diff, len(got), len(want[k - 1])))
    vm.wait_serial(r"^PROBE OK hotplug-done cycles=2$", timeout=30)
    check("PROBE FAIL" not in vm.serial(), "the probe failed checks\n" + vm.logs())
    check(c.events == [] and watcher.events == [], "unexpected events %r %r"
          % (c.events, watcher.events))
    c.cmd("quit")
    check(vm.wait_exit(30) == 0, "exit status %r" % vm.proc.returncode)


def test_hotplug_errors(env):
    img, img2, boot = env.path("a.img"), env.path("b.img"), env.path("boot.img")
    for p in (img, img2, boot):
        make_image(p, 0, size=1 << 16)
    vm = env.vm(extra=["-drive", "id=rootfs,file=%s" % boot]).start()
    c = vm.connect()
    wait_workers(vm, 1, "the boot disk")
    base = vm.blk_workers()

    # a missing file: error naming it, and the node name stays free
    missing = env.path("no-such.img")
    c.err("blockdev-add", blockdev("drive-0", missing), cls="GenericError",
          desc_re="no-such.img|No such file|not found|exist")
    c.err("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x1"},
          desc_re="drive-0")
    check(c.cmd("blockdev-add", blockdev("drive-0", img)) == {}, "blockdev-add after the failure")
    # a reused node name
    c.err("blockdev-add", blockdev("drive-0", img2), cls="GenericError", desc_re="drive-0")
    # an unknown drive, a slot that does not exist or is malformed, slot 0 taken at boot
    c.err("device_add", {"id": "nodrive", "driver": "virtio-blk-mmio", "addr": "0x2"},
          desc_re="nodrive")
    c.err("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x6"},
          cls="GenericError")
    c.err("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "zz"},
          cls="GenericError", desc_re="addr")
    c.err("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x0"},
          cls="GenericError")
    c.err("device_add", {"id": "drive-0", "driver": "no-such-driver", "addr": "0x1"},
          cls="GenericError", desc_re="driver|no-such-driver")
    check(vm.blk_workers() == base, "a refused device_add left a worker behind")
    # the real thing
    check(c.cmd("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x1"}) == {},
          "device_add")
    wait_workers(vm, 2, "after device_add")
    workers = vm.blk_workers()
    check(c.cmd("blockdev-add", blockdev("drive-1", img2, ro=True)) == {}, "second blockdev-add")
    # a busy slot; a device id in use; a node in use by another device
    c.err("device_add", {"id": "drive-1", "driver": "virtio-blk-mmio", "addr": "0x1"},
          cls="GenericError")
    c.err("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x2"},
          cls="GenericError", desc_re="drive-0")
    c.err("device_add", {"id": "other", "driver": "virtio-blk-mmio", "addr": "0x2",
                         "drive": "drive-0"}, cls="GenericError", desc_re="drive-0")
    c.err("blockdev-del", {"node-name": "drive-0"}, cls="GenericError", desc_re="drive-0")
    c.err("device_del", {"id": "nobody"}, cls="DeviceNotFound")
    c.err("blockdev-del", {"node-name": "nobody"})
    check(vm.blk_workers() == workers, "the errors changed the workers: %r -> %r"
          % (workers, vm.blk_workers()))
    # nothing changed: drive-1 still fits another slot, drive-0 is still plugged
    check(c.cmd("device_add", {"id": "drive-1", "driver": "virtio-blk-mmio", "addr": "0x2"}) == {},
          "device_add drive-1 into 0x2")
    wait_workers(vm, 3, "after the second device_add")
    check_deleted(c, "drive-0")
    check_deleted(c, "drive-1")
    wait_workers(vm, 1, "after both device_del")
    c.err("device_del", {"id": "drive-0"}, cls="DeviceNotFound")
    check(c.cmd("blockdev-del", {"node-name": "drive-0"}) == {}, "blockdev-del drive-0")
    check(c.cmd("blockdev-del", {"node-name": "drive-1"}) == {}, "blockdev-del drive-1")
    c.err("blockdev-del", {"node-name": "drive-0"})
    check(vm.blk_workers() == base, "boot disk worker changed")
    # slots are reusable after all that
    check(c.cmd("blockdev-add", blockdev("drive-0", img)) == {}, "blockdev-add again")
    check(c.cmd("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x1"}) == {},
          "device_add again")
    check_deleted(c, "drive-0")
    check(c.cmd("query-status")["status"] == "running", "VM still running")
    c.cmd("quit")
    check(vm.wait_exit() == 0, "exit status after quit")


def test_hotplug_dirs(env):
    """-hotplug-dir: blockdev-add opens only files that really are inside an allowed directory
    (the path of what was opened, symlinks followed and ".." gone); refusals change nothing."""
    allowed, other = env.path("allowed"), env.path("other")
    os.mkdir(allowed)
    os.mkdir(other)
    os.mkdir(os.path.join(allowed, "sub"))
    inside, outside = os.path.join(allowed, "in.img"), env.path("out.img")
    elsewhere = os.path.join(other, "else.img")
    for p in (inside, outside, elsewhere):
        make_image(p, 0, size=1 << 16)
    os.symlink(outside, os.path.join(allowed, "link-out.img"))
    os.symlink("../other/else.img", os.path.join(allowed, "rel-out.img"))
    os.symlink("in.img", os.path.join(allowed, "link-in.img"))
    os.symlink(allowed, env.path("allowed-link"))
    # the directory named through a symlink: what counts is where it really is
    os.mkdir(env.path("empty"))
    vm = env.vm(extra=["-hotplug-dir", env.path("allowed-link"),
                       "-hotplug-dir", env.path("empty")]).start()
    c = vm.connect()
    refused = "outside the allowed hotplug directories"
    for path in (outside,                                      # plainly outside
                 elsewhere,                                    # another directory
                 os.path.join(allowed, "link-out.img"),        # a symlink inside, pointing out
                 os.path.join(allowed, "rel-out.img"),         # the same, relative
                 os.path.join(allowed, "..", "out.img"),       # ".." out of it
                 os.path.join(allowed, "sub", "..", "..", "out.img"),
                 env.path("allowed-link") + "/../out.img"):  # ".." after the dir's link
        d = c.err("blockdev-add", blockdev("drive-0", path), cls="GenericError", desc_re=refused)
        check(path in d, "the refusal does not name %r: %r" % (path, d))
    # a missing file inside is just missing
    c.err("blockdev-add", blockdev("drive-0", os.path.join(allowed, "none.img")),
          cls="GenericError", desc_re="Could not open")
    check(vm.blk_workers() == [], "a refused blockdev-add started a worker")
    # nothing was taken: the node name is free, and files inside work, however named
    for k, path in enumerate((inside, os.path.join(allowed, "link-in.img"),
                              os.path.join(allowed, "sub", "..", "in.img"),
                              os.path.join(env.path("allowed-link"), "in.img"))):
        check(c.cmd("blockdev-add", blockdev("drive-%d" % k, path)) == {},
              "blockdev-add %s" % path)
    check(c.cmd("device_add", {"id": "drive-0", "driver": "virtio-blk-mmio", "addr": "0x1"}) == {},
          "device_add")
    wait_workers(vm, 1, "after device_add")
    fds = os.path.join("/proc", str(vm.blk_workers()[0]), "fd")
    held = {os.readlink(os.path.join(fds, f)) for f in os.listdir(fds)}
    check(os.path.realpath(inside) in held, "the worker does not hold %s: %r" % (inside, held))
    check_deleted(c, "drive-0")
    wait_workers(vm, 0, "after device_del")
    for k in range(4):
        check(c.cmd("blockdev-del", {"node-name": "drive-%d" % k}) == {}, "blockdev-del")
    c.cmd("quit")
    check(vm.wait_exit() == 0, "exit status after quit")


if __name__ == "__main__":
    sys.exit(run_tests([test_hotplug_guest, test_hotplug_errors, test_hotplug_dirs]))
