"""What the guest-side benchmarks (bench_net_guest.py, bench_vsock_guest.py) share: a stream
sink that times its first to its last byte, one guest run with a deadline, the interleaved
rounds, and the summary (min/median/max per backend, ratios of medians). Imported, not run."""

import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "linux"))
import linuxlib  # noqa: E402

RUN_TIMEOUT = 600
APPEND = "console=ttyS0 panic=-1 quiet bulkhead.modules=1"


class Sink(threading.Thread):
    """Accepts one connection on the listening socket srv and reads size bytes from it; secs is
    the time from the first byte to the last (a guest's boot does not count)."""

    def __init__(self, srv, size):
        super().__init__(daemon=True)
        self.srv, self.size, self.n, self.secs = srv, size, 0, None
        srv.settimeout(RUN_TIMEOUT)

    def run(self):
        c, _ = self.srv.accept()
        t0 = None
        while self.n < self.size:
            b = c.recv(1 << 16)
            if not b:
                break
            if t0 is None:
                t0 = time.monotonic()
            self.n += len(b)
        self.secs = time.monotonic() - t0 if t0 is not None else None
        c.close()


def guest_run(name, argv, srv, size):
    """Boots argv (a VM whose guest sends size bytes to srv, then prints BENCH-SENT); MiB/s of
    the stream, or None (printed with the end of its logs) when it did not complete."""
    sink = Sink(srv, size)
    sink.start()
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        status, out, err = "exit %d" % p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as ex:
        status = "killed after %d s" % RUN_TIMEOUT
        out = (ex.stdout or b"").decode(errors="replace")
        err = (ex.stderr or b"").decode(errors="replace")
    sink.join(5)
    srv.close()
    if sink.n != size or "BENCH-SENT" not in out or not sink.secs:
        print("%s: the transfer did not complete (%s, %d of %d bytes)\n%s\n%s"
              % (name, status, sink.n, size, out[-1500:], err[-1500:]), flush=True)
        return None
    return size / sink.secs / (1 << 20)


def initrd(name, script):
    """The default initramfs with script as /test.sh, under /tmp/<name>/."""
    os.makedirs("/tmp/" + name, exist_ok=True)
    return linuxlib.guest_initrd("/tmp/%s/initrd.gz" % name, script)


def kernel():
    return os.path.join(linuxlib.ASSETS, "vmlinuz")


def run(backends, rounds, one_run, what, ratios):
    """rounds x backends, interleaved (one_run(backend) -> MiB/s or None); prints every run,
    the summary and the ratios of medians (pairs (a, b): a / b). Exit status 1 when a run
    failed."""
    res = {b: [] for b in backends}
    failed = {b: 0 for b in backends}
    for r in range(rounds):
        for b in backends:
            v = one_run(b)
            if v is None:
                failed[b] += 1
                print("round %d %-17s    failed" % (r + 1, b), flush=True)
                continue
            res[b].append(v)
            print("round %d %-17s %7.1f MiB/s" % (r + 1, b, v), flush=True)
    med = {b: statistics.median(v) for b, v in res.items() if v}
    print("\n%-17s %8s %8s %8s %7s   (MiB/s, %s, %d rounds)"
          % ("backend", "min", "median", "max", "failed", what, rounds))
    for b, v in res.items():
        if v:
            print("%-17s %8.1f %8.1f %8.1f %7d" % (b, min(v), med[b], max(v), failed[b]))
        else:
            print("%-17s %8s %8s %8s %7d" % (b, "-", "-", "-", failed[b]))
    for a, b in ratios:
        if a in med and b in med:
            print("%s / %s: %.2fx" % (a, b, med[a] / med[b]))
    return 1 if any(failed.values()) else 0
