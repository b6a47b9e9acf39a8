#!/usr/bin/env python3
"""O_DIRECT read throughput of a Linux guest with 4 vCPUs on one bulkhead disk served with
1 queue and with 4 queues (num-queues=), interleaved: 4 dd jobs, each pinned to its own vCPU,
each reading its own quarter of the image in 4 KiB O_DIRECT reads at once. The guest times
the jobs from the start of the first to the end of the last (its boot does not count). Run
inside a KVM (scripts/bench-blk-mq-guest.sh puts it in the KVM test host where needed).

usage: bench_blk_mq_guest.py [ROUNDS] [MiB]    env: BULKHEAD, ASSETS_DIR"""

import os
import re
import subprocess
import sys

import guest_bench

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SIZE = (int(sys.argv[2]) if len(sys.argv) > 2 else 64) << 20
DIR = "/tmp/bench-blk-mq-guest"
BACKENDS = {"bulkhead 1 queue": 1, "bulkhead 4 queues": 4}


def one_run(name, initrd, img):
    argv = [os.environ["BULKHEAD"], "-kernel", guest_bench.kernel(), "-initrd", initrd,
            "-serial", "stdio", "-smp", "4", "-m", "256",
            "-drive", "id=d,file=%s,direct=on" % img,
            "-device", "virtio-blk-device,drive=d,num-queues=%d" % BACKENDS[name],
            "-append", guest_bench.APPEND]
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=guest_bench.RUN_TIMEOUT)
        out, err, status = p.stdout, p.stderr, "exit %d" % p.returncode
    except subprocess.TimeoutExpired as ex:
        out = (ex.stdout or b"").decode(errors="replace")
        err = (ex.stderr or b"").decode(errors="replace")
        status = "killed after %d s" % guest_bench.RUN_TIMEOUT
    m = re.search(r"^BENCH-MS=(\d+) QUEUES=(\d+)", out, re.M)
    if not m or int(m.group(1)) <= 0 or int(m.group(2)) != BACKENDS[name]:
        print("%s: no result (%s)\n%s\n%s" % (name, status, out[-1500:], err[-1500:]),
              flush=True)
        return None
    return SIZE / (int(m.group(1)) / 1000.0) / (1 << 20)


def main():
    per_job = SIZE // 4 // 4096
    initrd = guest_bench.initrd("bench-blk-mq-guest", r"""
now_ms() { awk '{ printf "%%d", $1 * 1000 }' /proc/uptime; }
t0=$(now_ms)
for c in 0 1 2 3; do
  taskset -c $c dd if=/dev/vda of=/dev/null bs=4096 skip=$((c * %(n)d)) count=%(n)d \
      iflag=direct 2>/dev/null &
done
wait
echo "BENCH-MS=$(( $(now_ms) - t0 )) QUEUES=$(ls /sys/block/vda/mq | wc -l)"
exit 0
""" % {"n": per_job})
    os.makedirs(DIR, exist_ok=True)
    img = os.path.join(DIR, "disk.img")
    with open(img, "wb") as f:
        for _ in range(SIZE >> 20):
            f.write(os.urandom(1 << 20))
    try:
        status = guest_bench.run(list(BACKENDS), ROUNDS, lambda b: one_run(b, initrd, img),
                                 "%d MiB O_DIRECT reads, 4 jobs on 4 vCPUs" % (SIZE >> 20),
                                 [("bulkhead 4 queues", "bulkhead 1 queue")])
    finally:
        os.unlink(img)
    sys.exit(status)


if __name__ == "__main__":
    main()
