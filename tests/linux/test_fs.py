#!/usr/bin/env python3
"""Suite 'linux', virtio-fs: the stock kernel's virtiofs driver against a real virtiofsd
(QEMU's, /usr/lib/qemu/virtiofsd from Debian's qemu-system-common) that the test starts
before the VM, as Kata does, on -device vhost-user-fs-device: the core drives it through its
generic vhost-user slot and shows the config space (tag, request queues) itself.

  fs_share       Kata's chardev form (server,nowait, bulkhead connects all the same): the guest
                 mounts -t virtiofs by the tag, reads a file the host wrote (and 8 MiB by md5),
                 writes one back and 8 MiB more, unmounts; the host finds both intact. bulkhead
                 spawns no worker for the device; the VM's end closes virtiofsd's connection
  fs_backend_fails  num-request-queues=2, which QEMU's virtiofsd does not serve (it exits
                 when the driver starts the second request queue): the device needs a reset,
                 the guest cannot use the share, the VM runs on and says why
  fs_refused     virtiofsd not listening: bulkhead ends at start with one line (exit 1); a
                 wrong tag in the guest's mount fails in the guest, not in bulkhead
"""

import hashlib
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, Deadline, check, run_tests  # noqa: E402
import qmplib  # noqa: E402  (linuxlib put it on the path)

VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
TAG = "hostshare"
BIG = 8 * MiB


def pattern(n):
    line = b"bulkhead virtio-fs 0123456789abcdef\n"
    return (line * (n // len(line) + 1))[:n]


def start_virtiofsd(env, sock, shared):
    """virtiofsd serving shared on sock, as Kata starts it: before the VM, listening."""
    log = open(os.path.join(env.tmp, "virtiofsd.log"), "w")
    p = subprocess.Popen([VIRTIOFSD, "--socket-path=" + sock, "-o", "source=" + shared,
                          "-o", "cache=none", "-o", "sandbox=chroot"], stderr=log,
                         stdout=log, start_new_session=True)
    env.at_end.append(lambda: (p.poll() is None and p.kill(), p.wait(), log.close()))
    dl = Deadline(30)
    while not os.path.exists(sock):
        check(p.poll() is None and not dl.expired(), "virtiofsd did not listen on %s: %s"
              % (sock, open(log.name).read()))
        time.sleep(0.05)
    return p


def fs_args(sock, extra=""):
    return ["-chardev", "socket,id=virtio_fs,path=%s,server,nowait" % sock,
            "-device", "vhost-user-fs-device,id=extra-fs,chardev=virtio_fs,tag=%s%s"
            % (TAG, extra)]


GUEST = r"""
dmesg -n 5
mkdir -p /mnt
mount -t virtiofs %(tag)s /mnt && echo MOUNT=ok || echo MOUNT=fail
echo HOSTFILE="$(cat /mnt/from-host.txt)"
echo HOSTBIG="$(md5sum /mnt/host-big.bin | cut -d' ' -f1)"
echo "written by the guest" > /mnt/from-guest.txt
yes "bulkhead virtio-fs 0123456789abcdef" | head -c %(big)d > /mnt/guest-big.bin
umount /mnt && echo UMOUNT=ok || echo UMOUNT=fail
exit 0
"""


def share_dir(env):
    shared = os.path.join(env.tmp, "shared")
    os.mkdir(shared)
    with open(os.path.join(shared, "from-host.txt"), "w") as f:
        f.write("written by the host\n")
    with open(os.path.join(shared, "host-big.bin"), "wb") as f:
        f.write(pattern(BIG))
    return shared


def check_share(vm, shared):
    check(vm.value("MOUNT") == "ok", "the guest could not mount -t virtiofs %s\n%s"
          % (TAG, vm.logs()))
    check(vm.value("HOSTFILE") == "written by the host", "the guest read %r from the host's "
          "file" % vm.value("HOSTFILE"))
    check(vm.value("HOSTBIG") == hashlib.md5(pattern(BIG)).hexdigest(),
          "the guest's md5 of the host's 8 MiB: %s" % vm.value("HOSTBIG"))
    check(vm.value("UMOUNT") == "ok", "umount failed\n" + vm.logs())
    vm.test_exit()
    with open(os.path.join(shared, "from-guest.txt")) as f:
        got = f.read()
    check(got == "written by the guest\n", "the host found %r in the guest's file" % got)
    with open(os.path.join(shared, "guest-big.bin"), "rb") as f:
        got = f.read()
    check(got == pattern(BIG), "the guest's 8 MiB reached the host as %d bytes, %s"
          % (len(got), "intact" if got == pattern(BIG)[:len(got)] else "corrupted"))


def fs_share(env):
    sock = os.path.join(env.tmp, "vhost-fs.sock")
    shared = share_dir(env)
    fsd = start_virtiofsd(env, sock, shared)
    vm = env.linux(GUEST % {"tag": TAG, "big": BIG}, extra=fs_args(sock)).start()
    vm.value("MOUNT")
    comms = sorted(qmplib.proc_comm(p) for p in qmplib.proc_children(vm.proc.pid))
    check(comms == ["bulkhead-core", "bulkhead-qmpd"], "bulkhead's children with only a "
          "virtio-fs device: %r" % comms)
    check_share(vm, shared)
    vm.wait_exit()
    check(re.search(r"backend virtio_fs attached", vm.stderr()), "no attach logged\n"
          + vm.logs())
    # virtiofsd serves one connection: the VM's end closed it
    try:
        fsd.wait(30)
    except subprocess.TimeoutExpired:
        check(False, "virtiofsd still runs 30 s after the VM ended")


def fs_backend_fails(env):
    """QEMU's virtiofsd serves one request queue and exits when the driver starts a second:
    the device needs a reset, the guest cannot use the share, the VM runs on."""
    sock = os.path.join(env.tmp, "vhost-fs.sock")
    fsd = start_virtiofsd(env, sock, share_dir(env))
    vm = env.linux(r"""
mkdir -p /mnt
mount -t virtiofs %s /mnt 2>/dev/null
timeout -s KILL 10 ls /mnt >/dev/null 2>&1 && echo LS=ok || echo LS=fail
exit 0
""" % TAG, extra=fs_args(sock, ",num-request-queues=2")).start()
    # mount returns at once (Linux sends FUSE_INIT in the background); its first use waits
    # for an answer that never comes
    check(vm.value("LS", timeout=120) == "fail", "a share whose backend died was readable")
    with vm.connect() as q:
        check(q.cmd("query-status")["status"] == "running", "the VM stopped with its backend")
    vm.test_exit()
    err = vm.stderr()
    check(re.search(r"slot \d+: device needs reset: the backend did not start", err) and
          re.search(r"backend virtio_fs detached", err), "the backend's end is not in the "
          "log\n" + vm.logs())
    check(fsd.wait(30) != 0, "virtiofsd did not exit with an error")


def fs_refused(env):
    sock = os.path.join(env.tmp, "nobody.sock")
    vm = env.linux("exit 0", qmp=False, extra=fs_args(sock))
    p = subprocess.run(vm.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    want = "bulkhead: -chardev virtio_fs: cannot connect to '%s': No such file or directory" % sock
    check(p.returncode == 1 and p.stderr.strip() == want,
          "no virtiofsd: exit %d, %r; want 1 and %r" % (p.returncode, p.stderr, want))
    # a tag the host does not serve: the guest's mount fails, the VM runs on
    sock = os.path.join(env.tmp, "vhost-fs.sock")
    start_virtiofsd(env, sock, share_dir(env))
    vm = env.linux(r"""
mkdir -p /mnt
mount -t virtiofs other /mnt 2>/dev/null && echo MOUNT=ok || echo MOUNT=fail
exit 0
""", extra=fs_args(sock)).start()
    check(vm.value("MOUNT") == "fail", "a mount of a tag nobody serves succeeded")
    vm.test_exit()


if __name__ == "__main__":
    sys.exit(run_tests([fs_share, fs_backend_fails, fs_refused]))
