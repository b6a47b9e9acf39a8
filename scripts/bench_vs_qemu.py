"""The measuring half of scripts/bench-vs-qemu.sh (runs where /dev/kvm is; see there)."""

import gzip
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time

RUNS, BULKHEAD, ASSETS = int(sys.argv[1]), sys.argv[2], sys.argv[3]
TIMEOUT = 180.0
INIT = b"BULKHEAD-GUEST-INIT-OK"
IDLE = b"BENCH-IDLE"
# Per-VM statistics live in DEBUGFS/<pid>-<fd>/ while the VM exists (the top-level files sum
# over live VMs only), so they are sampled while the run goes on; the last sample counts.
DEBUGFS = "/sys/kernel/debug/kvm"
RAM_MIB = 512
STATS = ("exits", "io_exits", "mmio_exits", "halt_exits", "irq_exits")


def cpio_one(name, data, mode=0o100755):
    def entry(n, m, d):
        h = "070701" + "".join("%08X" % v for v in (1, m, 0, 0, 1, 0, len(d), 0, 0, 0, 0, len(n) + 1, 0))
        b = h.encode() + n.encode() + b"\0"
        b += b"\0" * (-len(b) % 4) + d
        return b + b"\0" * (-len(b) % 4)
    return entry(name, mode, data) + entry("TRAILER!!!", 0, b"")


def make_initrd(tmp):
    """The default initramfs plus a /test.sh that idles 2 s after init (the PSS sample)."""
    path = os.path.join(tmp, "initrd.gz")
    with open(os.path.join(ASSETS, "initrd.gz"), "rb") as f, open(path, "wb") as o:
        o.write(f.read())
        o.write(gzip.compress(cpio_one("test.sh", b"#!/bin/sh\necho BENCH-IDLE\nsleep 2\n"), mtime=0))
    return path


def kvm_stats(pids):
    """Sum of the statistics of the VMs that processes in pids created, or None."""
    dirs = [d for d in os.listdir(DEBUGFS) if d.split("-")[0].isdigit()
            and int(d.split("-")[0]) in pids] if os.path.isdir(DEBUGFS) else []
    if not dirs:
        return None
    out = dict.fromkeys(STATS, 0)
    for d in dirs:
        for s in STATS:
            try:
                with open(os.path.join(DEBUGFS, d, s)) as f:
                    out[s] += int(f.read())
            except OSError:
                return None
    return out


def tree(pid):
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        st = f.read()
                except OSError:
                    continue
                if int(st[st.rfind(")") + 2:].split()[1]) == p:
                    todo.append(int(d))
    return pids


def pss_kib(pids, ram_kib):
    """(total PSS, PSS outside guest RAM) of pids in KiB. Guest RAM is every mapping at least
    as large as the VM's RAM (bulkhead's memfd in the core and workers, QEMU's anonymous
    block): the guest touches the same pages under both VMMs, the rest is the VMM's own."""
    total = own = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps" % p) as f:
                size = 0
                for line in f:
                    if line.startswith("Size:"):
                        size = int(line.split()[1])
                    elif line.startswith("Pss:"):
                        v = int(line.split()[1])
                        total += v
                        own += v if size < ram_kib else 0
        except OSError:
            pass
    return total, own


def one(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    buf, init, pss, own, stats, sampled = b"", None, None, None, None, 0.0
    while True:
        if time.monotonic() - t0 > TIMEOUT:
            os.killpg(p.pid, signal.SIGKILL)
            sys.exit("bench-vs-qemu: %s exceeded %ds; output ends %r" % (cmd[0], TIMEOUT, buf[-500:]))
        if time.monotonic() - sampled >= 0.2:
            stats = kvm_stats(tree(p.pid)) or stats
            sampled = time.monotonic()
        if not select.select([p.stdout], [], [], 0.1)[0]:
            continue
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        if init is None and INIT in buf:
            init = time.monotonic() - t0
        if pss is None and IDLE in buf:
            time.sleep(1.0)
            pss, own = pss_kib(tree(p.pid), RAM_MIB * 1024)
    rc = p.wait()
    end = time.monotonic() - t0
    if rc != 0 or init is None or pss is None:
        sys.exit("bench-vs-qemu: %s exited %d (init seen: %s); output ends %r"
                 % (cmd[0], rc, init is not None, buf[-800:]))
    return {"init": init, "exit": end, "pss": pss, "pss_vmm": own, **(stats or dict.fromkeys(STATS))}


def main():
    tmp = tempfile.mkdtemp(prefix="bench-vs-qemu.")
    initrd = make_initrd(tmp)
    kernel = os.path.join(ASSETS, "vmlinuz")
    append = "console=ttyS0 panic=-1"
    vmms = {
        "bulkhead": [BULKHEAD, "-kernel", kernel, "-initrd", initrd, "-serial", "stdio",
                     "-smp", "1", "-m", str(RAM_MIB), "-append", append],
        "qemu": ["qemu-system-x86_64", "-M", "microvm", "-accel", "kvm", "-cpu", "host",
                 "-smp", "1", "-m", str(RAM_MIB), "-nodefaults", "-no-user-config", "-nographic",
                 "-serial", "stdio", "-kernel", kernel, "-initrd", initrd, "-append", append],
    }
    res = {k: [] for k in vmms}
    for i in range(RUNS):
        for name, cmd in vmms.items():
            r = one(cmd)
            res[name].append(r)
            print("run %d %-8s init %.2fs exit %.2fs exits %s pss %d KiB (outside guest RAM %d KiB)"
                  % (i + 1, name, r["init"], r["exit"], r["exits"], r["pss"], r["pss_vmm"]),
                  flush=True)
    print()
    print("%-10s %-28s %-28s %s" % ("metric", "bulkhead", "qemu microvm", "bulkhead/qemu"))
    for m, unit in (("init", "s"), ("exit", "s"), ("exits", ""), ("io_exits", ""),
                    ("mmio_exits", ""), ("halt_exits", ""), ("pss", " KiB"),
                    ("pss_vmm", " KiB")):
        cols = []
        meds = []
        for name in vmms:
            v = [r[m] for r in res[name]]
            if any(x is None for x in v):
                cols.append("n/a")
                meds.append(None)
                continue
            med = statistics.median(v)
            meds.append(med)
            fmt = "%.2f" if unit == "s" else "%d"
            cols.append(("%s%s (%s-%s)" % (fmt, unit, fmt, fmt)) % (med, min(v), max(v)))
        ratio = "%.2fx" % (meds[0] / meds[1]) if None not in meds and meds[1] else "n/a"
        print("%-10s %-28s %-28s %s" % (m, cols[0], cols[1], ratio))
    subprocess.run(["rm", "-rf", tmp])


main()
