"""The measuring half of scripts/bench-start.sh (which makes the taps, the image and the temp
dir, checks KVM and vhost-vsock, and removes everything afterwards; see there).

usage: bench_start.py RUNS BULKHEAD ASSETS DIR IMG TAP_BULKHEAD TAP_QEMU ACCEL VSOCK CID
  ACCEL  kvm | tcg (QEMU's accelerator)
  VSOCK  kernel | uds (bulkhead's vsock mode; QEMU gets vhost-vsock-device only with kernel)
"""

import gzip
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid

(RUNS, BULKHEAD, ASSETS, DIR, IMG, TAP_BH, TAP_QEMU, ACCEL, VSOCK, CID) = sys.argv[1:]
RUNS, CID = int(RUNS), int(CID)
TIMEOUT_NS = 60 * 10**9          # exec -> QMP ready, and quit -> exit, each at most this
POLL_S = 0.001                   # between connect attempts
RAM_MIB = 512
APPEND = "console=ttyS0 panic=-1"
PIDFILE = os.path.join(DIR, "vmm.pid")   # the running VMM, for the shell's trap


class Failed(Exception):
    pass


def cpio_one(name, data, mode=0o100755):
    def entry(n, m, d):
        h = "070701" + "".join("%08X" % v for v in (1, m, 0, 0, 1, 0, len(d), 0, 0, 0, 0, len(n) + 1, 0))
        b = h.encode() + n.encode() + b"\0"
        b += b"\0" * (-len(b) % 4) + d
        return b + b"\0" * (-len(b) % 4)
    return entry(name, mode, data) + entry("TRAILER!!!", 0, b"")


def make_initrd():
    """assets/initrd.gz plus a /test.sh that idles: where the guest reaches init (hardware KVM)
    it must not power off by itself before the benchmark's quit."""
    path = os.path.join(DIR, "initrd.gz")
    with open(os.path.join(ASSETS, "initrd.gz"), "rb") as f, open(path, "wb") as o:
        o.write(f.read())
        o.write(gzip.compress(cpio_one("test.sh", b"#!/bin/sh\nexec sleep 1000000\n"), mtime=0))
    return path


def commands(initrd):
    kernel = os.path.join(ASSETS, "vmlinuz")

    def bulkhead(i, sock):
        vs = "vsock,id=vsock0,guest-cid=%d" % CID
        if VSOCK == "uds":
            vs += ",uds-path=" + os.path.join(DIR, "v.sock")
        return [BULKHEAD, "-name", "sandbox-bench%d" % i, "-uuid", str(uuid.uuid4()),
                "-smp", "2", "-m", str(RAM_MIB), "-kernel", kernel, "-initrd", initrd,
                "-append", APPEND, "-qmp", "unix:%s,server,nowait" % sock,
                "-machine", "type=microvm,dump-guest-core=off",
                "-object", "rng-random,id=objrng0,filename=/dev/urandom",
                "-device", "virtio-rng-device,rng=objrng0,id=virtio-rng0",
                "-drive", "id=rootfs,file=%s,readonly=on,direct=off" % IMG,
                "-device", "virtio-blk-device,drive=rootfs,id=virtio-blk0",
                "-netdev", "tap,id=eth0,ifname=" + TAP_BH,
                "-device", "virtio-net-device,netdev=eth0,id=eth0,mac=52:54:00:12:34:56",
                "-device", vs]

    def qemu(i, sock):
        cmd = ["qemu-system-x86_64", "-M", "microvm", "-accel", ACCEL, "-nodefaults", "-nographic",
               "-smp", "2", "-m", str(RAM_MIB), "-kernel", kernel, "-initrd", initrd,
               "-append", APPEND, "-qmp", "unix:%s,server,nowait" % sock,
               "-object", "rng-random,id=rng0,filename=/dev/urandom",
               "-device", "virtio-rng-device,rng=rng0",
               "-drive", "id=rootfs,file=%s,format=raw,if=none,readonly=on" % IMG,
               "-device", "virtio-blk-device,drive=rootfs",
               "-netdev", "tap,id=eth0,ifname=%s,script=no,downscript=no" % TAP_QEMU,
               "-device", "virtio-net-device,netdev=eth0"]
        if VSOCK == "kernel":
            cmd += ["-device", "vhost-vsock-device,guest-cid=%d" % CID]
        return cmd

    return {"bulkhead": bulkhead, "qemu": qemu}


def tree(pid):
    """pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    st = f.read()
            except OSError:
                continue
            children.setdefault(int(st[st.rfind(")") + 2:].split()[1]), []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total


def read_msg(s, buf, deadline):
    """One QMP message (a line) from s; returns (message, rest of buf)."""
    while b"\n" not in buf:
        left = (deadline - time.monotonic_ns()) / 1e9
        if left <= 0:
            raise Failed("no QMP message in time (have %r)" % buf[-200:])
        s.settimeout(left)
        chunk = s.recv(65536)
        if not chunk:
            raise Failed("QMP socket closed (have %r)" % buf[-200:])
        buf += chunk
    line, buf = buf.split(b"\n", 1)
    return json.loads(line), buf


def stderr_tail(log):
    try:
        with open(log, "rb") as f:
            return f.read()[-800:].decode(errors="replace")
    except OSError:
        return ""


def one(name, cmd, sock, log):
    """exec -> QMP ready (ns), PSS of the tree at ready (KiB), quit -> exit (ns), notes."""
    for f in (sock, os.path.join(DIR, "v.sock")):
        if os.path.lexists(f):
            os.unlink(f)
    notes = []
    with open(log, "wb") as err:
        t0 = time.monotonic_ns()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True)
    with open(PIDFILE, "w") as f:
        f.write("%d\n" % p.pid)
    s = None
    try:
        deadline = t0 + TIMEOUT_NS
        while True:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sock)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if p.poll() is not None:
                    raise Failed("exited with %d before its QMP socket answered: %s"
                                 % (p.returncode, stderr_tail(log)))
                if time.monotonic_ns() > deadline:
                    raise Failed("no QMP socket after %ds" % (TIMEOUT_NS // 10**9))
                time.sleep(POLL_S)
        buf = b""
        greeting, buf = read_msg(s, buf, deadline)
        if "QMP" not in greeting:
            raise Failed("greeting is %r" % greeting)
        s.sendall(b'{"execute":"qmp_capabilities"}\n')
        while True:
            reply, buf = read_msg(s, buf, deadline)
            if "event" in reply:
                continue
            if reply != {"return": {}}:
                raise Failed("qmp_capabilities answered %r" % reply)
            break
        ready = time.monotonic_ns() - t0
        pids = tree(p.pid)
        pss = pss_kib(pids)
        tq = time.monotonic_ns()
        s.sendall(b'{"execute":"quit"}\n')
        try:
            rc = p.wait(TIMEOUT_NS / 1e9)
        except subprocess.TimeoutExpired:
            raise Failed("still running %ds after quit" % (TIMEOUT_NS // 10**9))
        quit_exit = time.monotonic_ns() - tq
        if rc != 0:
            notes.append("exit status %d after quit" % rc)
        # The VMM's other processes must go with it.
        t_end = time.monotonic() + 2.0
        while True:
            left = [q for q in pids[1:] if alive(q)]
            if not left or time.monotonic() > t_end:
                break
            time.sleep(0.01)
        if left:
            notes.append("processes %s still there 2 s after the VMM exited" % left)
        if name == "bulkhead" and VSOCK == "uds" and os.path.lexists(os.path.join(DIR, "v.sock")):
            notes.append("v.sock left behind")
        return ready, pss, quit_exit, len(pids), notes
    finally:
        if s is not None:
            s.close()
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        try:
            os.unlink(PIDFILE)
        except FileNotFoundError:
            pass


def ms(ns):
    return ns / 1e6


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    initrd = make_initrd()
    mk = commands(initrd)
    res = {k: [] for k in mk}
    odd = []
    for i in range(1, RUNS + 1):
        for name in mk:
            sock = os.path.join(DIR, "%s.qmp" % name)
            log = os.path.join(DIR, "%s.log" % name)
            try:
                ready, pss, qe, nproc, notes = one(name, mk[name](i, sock), sock, log)
            except Failed as e:
                sys.exit("bench-start: run %d %s: %s" % (i, name, e))
            res[name].append((ready, pss, qe))
            odd += ["run %d %s: %s" % (i, name, n) for n in notes]
            print("bench-start: run %2d %-8s  exec->QMP ready %8.2f ms  quit->exit %8.2f ms  "
                  "PSS %7d KiB in %d process(es)%s"
                  % (i, name, ms(ready), ms(qe), pss, nproc,
                     ("  [" + "; ".join(notes) + "]") if notes else ""), flush=True)
    print()
    print("bench-start: %-8s  %30s  %16s  %14s" % ("", "exec->QMP ready, ms", "quit->exit, ms",
                                                    "PSS at ready"))
    print("bench-start: %-8s  %9s %9s %9s  %16s  %14s" % ("side", "min", "median", "max",
                                                          "median", "median KiB"))
    med = {}
    for name, rs in res.items():
        ready = [r[0] for r in rs]
        med[name] = (statistics.median(ready), statistics.median(r[2] for r in rs),
                     statistics.median(r[1] for r in rs))
        print("bench-start: %-8s  %9.2f %9.2f %9.2f  %16.2f  %14d"
              % (name, ms(min(ready)), ms(med[name][0]), ms(max(ready)), ms(med[name][1]),
                 med[name][2]))
    b, q = med["bulkhead"], med["qemu"]

    def ratio(x, y):
        return "%.2f" % (x / y) if y else "n/a"
    print("bench-start: ratio of medians bulkhead/qemu: exec->QMP ready %s, quit->exit %s, PSS %s"
          % (ratio(b[0], q[0]), ratio(b[1], q[1]), ratio(b[2], q[2])))
    if odd:
        print()
        for o in odd:
            print("bench-start: note: " + o)


main()
