#!/bin/bash
# Boot benchmark: run the basic guest probe N times and print the median (min, max) time from
# exec of bulkhead to (1) the first byte of guest serial output, a proxy for the first guest
# instruction, (2) the "PROBE DONE" line and (3) process exit. Absolute numbers mean little on
# this KVM (guest ring 0 is emulated): compare runs made on the same machine.
#
# usage: scripts/bench-boot.sh [-n RUNS] [-b BUILD_DIR] [--smp N] [--mem MIB] [-- extra bulkhead args]
set -eu

runs=10 build=build smp=1 mem=256
while [ $# -gt 0 ]; do
	case "$1" in
	-n) runs=$2; shift ;;
	-b) build=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--) shift; break ;;
	*) echo "usage: $0 [-n RUNS] [-b BUILD_DIR] [--smp N] [--mem MIB] [-- extra args]" >&2; exit 2 ;;
	esac
	shift
done

bulkhead=$build/vmm-core/bulkhead
probe=$build/tests/probes/probe.elf
for f in "$bulkhead" "$probe"; do
	[ -e "$f" ] || { echo "bench-boot: $f is missing; build with ninja -C $build" >&2; exit 1; }
done

append="probe=basic expect.cpus=$smp expect.mem=$((mem << 20)) probe.token=bench"
exec python3 - "$runs" "$bulkhead" -kernel "$probe" -serial stdio -smp "$smp" -m "$mem" \
	-append "$append" "$@" <<'PY'
import os, select, statistics, subprocess, sys, time

runs, cmd = int(sys.argv[1]), sys.argv[2:]
TIMEOUT = 60.0

def one():
    t0 = time.monotonic_ns()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    first = done = None
    buf = b""
    while True:
        left = TIMEOUT - (time.monotonic_ns() - t0) / 1e9
        if left <= 0 or not select.select([p.stdout], [], [], left)[0]:
            p.kill()
            sys.exit("bench-boot: run exceeded %ds" % TIMEOUT)
        chunk = os.read(p.stdout.fileno(), 65536)
        now = time.monotonic_ns()
        if not chunk:
            break
        if first is None:
            first = now
        buf += chunk
        if done is None and b"PROBE DONE" in buf:
            done = now
    rc = p.wait()
    end = time.monotonic_ns()
    if rc != 0 or done is None or b"PROBE FAIL" in buf:
        sys.stderr.write(buf.decode(errors="replace"))
        sys.exit("bench-boot: run failed (exit %d)" % rc)
    return [(x - t0) / 1e6 for x in (first, done, end)]

samples = [one() for _ in range(runs)]
print("bench-boot: %d runs of %s" % (runs, " ".join(cmd)))
for i, what in enumerate(("first serial byte", "PROBE DONE", "process exit")):
    col = [s[i] for s in samples]
    print("  %-18s median %8.2f ms  (min %8.2f, max %8.2f)"
          % (what, statistics.median(col), min(col), max(col)))
PY
