#!/bin/bash
# QMP benchmark: bulkhead against QEMU in the same run, on the same machine.
#   ready      time from exec to the answer of the first query-status (connect as soon as the
#              socket answers, qmp_capabilities, query-status); median of N starts
#   rtt        round trip of query-status on one connection (median and p99)
#   1 client   sequential commands per second, and pipelined (64 in flight)
#   16 clients sequential commands per second summed over 16 client processes
#   PSS        sum of Pss (smaps_rollup) over every process of the VM, after the load
# bulkhead runs the guest probe in its waiting mode (probe=wait, a small guest); QEMU runs
# `qemu-system-x86_64 -M microvm -accel tcg -S -nodefaults -nographic` with no kernel (-S: it
# never starts the guest). Absolute numbers depend on the machine; the ratios are the point.
# Targets (issue 4): ready <= 1/4 of QEMU's, rtt <= 1/2 of QEMU's, >= 10000 commands/s,
# all bulkhead processes together < 5 MiB PSS.
#
# usage: scripts/bench-qmp.sh [-n STARTS] [-b BUILD_DIR] [-t SECONDS_PER_LOAD] [--mem MIB]
set -eu

starts=5 build=build secs=2 mem=256
while [ $# -gt 0 ]; do
	case "$1" in
	-n) starts=$2; shift ;;
	-b) build=$2; shift ;;
	-t) secs=$2; shift ;;
	--mem) mem=$2; shift ;;
	*) echo "usage: $0 [-n STARTS] [-b BUILD_DIR] [-t SECONDS] [--mem MIB]" >&2; exit 2 ;;
	esac
	shift
done

bulkhead=$build/vmm-core/bulkhead
probe=$build/tests/probes/probe.elf
for f in "$bulkhead" "$probe" "$build/qmpd/bulkhead-qmpd"; do
	[ -e "$f" ] || { echo "bench-qmp: $f is missing; build with ninja -C $build" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null ||
	{ echo "bench-qmp: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)" >&2; exit 1; }

exec python3 - "$starts" "$secs" "$mem" "$bulkhead" "$probe" <<'PY'
import multiprocessing as mp, os, shutil, signal, socket, statistics, subprocess, sys
import tempfile, threading, time

starts, secs, mem = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
bulkhead, probe = sys.argv[4], sys.argv[5]
tmp = tempfile.mkdtemp(prefix="bench-qmp.")
live = []
QS = b'{"execute":"query-status"}\n'


NCLIENTS = 16
signal.signal(signal.SIGTERM, lambda *a: sys.exit("bench-qmp: terminated"))


def extra_socks(kind, sock):
    """The sockets the 16 clients use. A QEMU monitor serves one client at a time, so QEMU
    gets one -qmp socket per client; bulkhead serves them all on its one socket."""
    if kind == "bulkhead":
        return [sock] * NCLIENTS
    return ["%s.%d" % (sock, i) for i in range(NCLIENTS)]


def argv(kind, sock, extra):
    if kind == "bulkhead":
        return [bulkhead, "-kernel", probe, "-serial", "stdio", "-smp", "1", "-m", str(mem),
                "-qmp", "unix:%s,server,nowait" % sock, "-append", "probe=wait wait.secs=3600"]
    a = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-S", "-nodefaults",
         "-nographic", "-smp", "1", "-m", str(mem), "-qmp", "unix:%s,server,nowait" % sock]
    for x in (extra or []):
        a += ["-qmp", "unix:%s,server,nowait" % x]
    return a


def readline(s, buf):
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise EOFError("server closed the connection")
        buf += d
    i = buf.index(b"\n")
    return buf[:i], buf[i + 1:]


def client(sock, deadline):
    """Connected and negotiated, or None before the deadline passes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock)
    except OSError:
        s.close()
        return None
    s.settimeout(max(0.1, deadline - time.monotonic()))
    buf = b""
    _, buf = readline(s, buf)                          # greeting
    s.sendall(b'{"execute":"qmp_capabilities"}\n')
    _, buf = readline(s, buf)
    return s


def start(kind, n, extra=False):
    sock = os.path.join(tmp, "%s%d.sock" % (kind, n))
    t0 = time.monotonic()
    p = subprocess.Popen(argv(kind, sock, extra_socks(kind, sock) if extra else None), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    live.append(p)
    deadline = t0 + 60
    while True:
        if p.poll() is not None:
            sys.exit("bench-qmp: %s exited with %d before answering" % (kind, p.returncode))
        if time.monotonic() > deadline:
            sys.exit("bench-qmp: %s did not answer QMP within 60 s" % kind)
        s = client(sock, deadline) if os.path.exists(sock) else None
        if s:
            s.sendall(QS)
            line, _ = readline(s, b"")
            ready = time.monotonic() - t0
            if b'"return"' not in line:
                sys.exit("bench-qmp: %s query-status: %r" % (kind, line))
            return p, extra_socks(kind, sock), s, ready
        time.sleep(0.0005)


def stop(p, s):
    try:
        s.sendall(b'{"execute":"quit"}\n')
        p.wait(10)
    except Exception:
        pass
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    s.close()


def rtt(s, n=2000):
    t, buf = [], b""
    for _ in range(n):
        a = time.perf_counter_ns()
        s.sendall(QS)
        _, buf = readline(s, buf)
        t.append(time.perf_counter_ns() - a)
    t.sort()
    return statistics.median(t) / 1000, t[int(len(t) * 0.99)] / 1000


def sequential(s, seconds):
    n, buf, end = 0, b"", time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(50):
            s.sendall(QS)
            _, buf = readline(s, buf)
        n += 50
    return n


def pipelined(s, seconds, window=64):
    batch, n, buf = QS * window, 0, b""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        s.sendall(batch)
        got = 0
        while got < window:
            d = s.recv(1 << 20)
            if not d:
                raise EOFError("server closed the connection")
            got += d.count(b"\n")
        n += window
    return n / (time.monotonic() - t0)


def worker(sock, seconds, barrier, q):
    s = client(sock, time.monotonic() + 30)
    if s is None:
        barrier.abort()
        return
    barrier.wait(60)
    q.put(sequential(s, seconds))
    s.close()


def many(socks, seconds):
    k = len(socks)
    barrier, q = mp.Barrier(k + 1), mp.Queue()
    ps = [mp.Process(target=worker, args=(x, seconds, barrier, q)) for x in socks]
    for p in ps:
        p.start()
    try:
        barrier.wait(60)
    except threading.BrokenBarrierError:
        for p in ps:
            p.kill()
        sys.exit("bench-qmp: not all %d clients could connect" % k)
    t0 = time.monotonic()
    total = sum(q.get(timeout=seconds + 60) for _ in ps)
    for p in ps:
        p.join()
    return total / max(seconds, time.monotonic() - t0)


def tree(pid):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    st = open("/proc/%s/stat" % d).read()
                except OSError:
                    continue
                if int(st[st.rfind(")") + 2:].split()[1]) == p:
                    todo.append(int(d))
    return out


def pss_kib(pid):
    total, names = 0, []
    for p in tree(pid):
        try:
            for line in open("/proc/%d/smaps_rollup" % p):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
            names.append(open("/proc/%d/comm" % p).read().strip())
        except OSError:
            pass
    return total, names


def bench(kind):
    r = {"ready": []}
    for i in range(starts):
        p, socks, s, ready = start(kind, i, extra=(i == starts - 1))
        r["ready"].append(ready * 1000)
        if i < starts - 1:
            stop(p, s)
    r["pss_idle"], _ = pss_kib(p.pid)
    r["rtt"], r["rtt99"] = rtt(s)
    r["seq1"] = sequential(s, secs) / secs
    r["pipe1"] = pipelined(s, secs)
    r["seq16"] = many(socks, secs)
    r["pss"], r["procs"] = pss_kib(p.pid)
    stop(p, s)
    return r


try:
    res = {k: bench(k) for k in ("bulkhead", "qemu")}
finally:
    for p in live:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)

b, q = res["bulkhead"], res["qemu"]
med = statistics.median
print("bench-qmp: %d starts each, %.1f s per load, guest RAM %d MiB" % (starts, secs, mem))
print("%-28s %14s %14s %10s" % ("", "bulkhead", "qemu", "ratio"))
rows = [
    ("ready, median (ms)", med(b["ready"]), med(q["ready"])),
    ("ready, min (ms)", min(b["ready"]), min(q["ready"])),
    ("query-status rtt median (us)", b["rtt"], q["rtt"]),
    ("query-status rtt p99 (us)", b["rtt99"], q["rtt99"]),
    ("1 client sequential (cmd/s)", b["seq1"], q["seq1"]),
    ("1 client pipelined (cmd/s)", b["pipe1"], q["pipe1"]),
    ("16 clients (cmd/s)", b["seq16"], q["seq16"]),
    ("PSS idle (KiB)", b["pss_idle"], q["pss_idle"]),
    ("PSS after load (KiB)", b["pss"], q["pss"]),
]
for name, x, y in rows:
    print("%-28s %14.1f %14.1f %10.3f" % (name, x, y, x / y if y else float("nan")))
print("bulkhead processes: %s" % " ".join(b["procs"]))
best = max(b["seq1"], b["pipe1"], b["seq16"])
for what, ok in (("ready <= 1/4 of qemu", med(b["ready"]) <= med(q["ready"]) / 4),
                 ("rtt <= 1/2 of qemu", b["rtt"] <= q["rtt"] / 2),
                 (">= 10000 commands/s (best of the three loads: %.0f)" % best, best >= 10000),
                 ("PSS of all bulkhead processes < 5 MiB", b["pss"] < 5 * 1024)):
    print("target %-55s %s" % (what, "met" if ok else "NOT met"))
PY
