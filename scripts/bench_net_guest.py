#!/usr/bin/env python3
"""Guest -> host TCP throughput of a Linux guest's virtio-net: bulkhead (bulkhead-net) against
QEMU microvm on the same KVM with userspace virtio-net (-netdev tap,vhost=off) and with the
kernel's vhost-net (vhost=on); same kernel, same initramfs, same tap, backends interleaved.
Run inside a KVM (scripts/bench-net-guest.sh puts it in the KVM test host where needed).

Each run boots the guest, which sends SIZE bytes with busybox nc; the host side times the
stream from its first to its last byte (boot is not counted). Prints every run, then
min/median/max MiB/s per backend and the ratios of the medians. A run that does not complete
within RUN_TIMEOUT is killed, printed with the end of its logs and counted as failed; the
medians are of the completed runs.

usage: bench_net_guest.py [ROUNDS] [MiB]    env: BULKHEAD, ASSETS_DIR"""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "linux"))
import linuxlib  # noqa: E402
from test_net import Tap, HOST_IP, GUEST_IP  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SIZE = (int(sys.argv[2]) if len(sys.argv) > 2 else 32) << 20
TAP = "bhbench0"
PORT = 6101
RUN_TIMEOUT = 600


def argv_for(backend, kernel, initrd, append):
    if backend == "bulkhead":
        return [os.environ["BULKHEAD"], "-kernel", kernel, "-initrd", initrd, "-serial", "stdio",
                "-m", "256", "-netdev", "tap,id=n0,ifname=" + TAP,
                "-device", "virtio-net-device,netdev=n0", "-append", append]
    vhost = "on" if backend == "qemu-vhost-net" else "off"
    return ["qemu-system-x86_64", "-M", "microvm,rtc=on", "-accel", "kvm", "-cpu", "host",
            "-m", "256", "-nodefaults", "-nographic", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", append,
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=%s" % (TAP, vhost),
            "-device", "virtio-net-device,netdev=n0"]


def one_run(backend, initrd):
    srv = socket.create_server((HOST_IP, PORT), reuse_port=True)
    srv.settimeout(600)
    got = {}

    def sink():
        c, _ = srv.accept()
        n, t0 = 0, None
        while n < SIZE:
            b = c.recv(1 << 16)
            if not b:
                break
            if t0 is None:
                t0 = time.monotonic()
            n += len(b)
        got["secs"] = time.monotonic() - t0
        got["bytes"] = n
        c.close()

    th = threading.Thread(target=sink, daemon=True)
    th.start()
    kernel = os.path.join(linuxlib.ASSETS, "vmlinuz")
    try:
        p = subprocess.run(argv_for(backend, kernel, initrd,
                                    "console=ttyS0 panic=-1 quiet bulkhead.modules=1"),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        status, out, err = "exit %d" % p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as ex:
        status = "killed after %d s" % RUN_TIMEOUT
        out, err = (ex.stdout or b"").decode(errors="replace"), (ex.stderr or b"").decode(
            errors="replace")
    th.join(5)
    srv.close()
    if got.get("bytes") != SIZE or "BENCH-SENT" not in out:
        print("%s: the transfer did not complete (%s, %d of %d bytes)\n%s\n%s"
              % (backend, status, got.get("bytes", 0), SIZE, out[-1500:], err[-1500:]),
              flush=True)
        return None
    return SIZE / got["secs"] / (1 << 20)


def main():
    if not os.path.exists("/dev/vhost-net"):
        subprocess.run(["modprobe", "vhost_net"], stderr=subprocess.DEVNULL)
    backends = ["bulkhead", "qemu-userspace", "qemu-vhost-net"]
    if not os.path.exists("/dev/vhost-net"):
        raise SystemExit("bench-net-guest: /dev/vhost-net is missing (modprobe vhost_net)")
    script = r"""
ip link set lo up
ip addr add %s/24 dev eth0
ip link set eth0 up
sleep 1
yes bulkhead-net | head -c %d | nc %s %d && echo BENCH-SENT
exit 0
""" % (GUEST_IP, SIZE, HOST_IP, PORT)
    os.makedirs("/tmp/bench-net-guest", exist_ok=True)
    initrd = linuxlib.guest_initrd("/tmp/bench-net-guest/initrd.gz", script)
    tap = Tap(TAP)
    res = {b: [] for b in backends}
    failed = {b: 0 for b in backends}
    try:
        for r in range(ROUNDS):
            for b in backends:
                v = one_run(b, initrd)
                if v is None:
                    failed[b] += 1
                    print("round %d %-15s    failed" % (r + 1, b), flush=True)
                    continue
                res[b].append(v)
                print("round %d %-15s %7.1f MiB/s" % (r + 1, b, v), flush=True)
    finally:
        tap.close()
    med = {b: statistics.median(v) for b, v in res.items() if v}
    print("\n%-15s %8s %8s %8s %7s   (MiB/s, %d MiB guest -> host, %d rounds)"
          % ("backend", "min", "median", "max", "failed", SIZE >> 20, ROUNDS))
    for b, v in res.items():
        if v:
            print("%-15s %8.1f %8.1f %8.1f %7d" % (b, min(v), med[b], max(v), failed[b]))
        else:
            print("%-15s %8s %8s %8s %7d" % (b, "-", "-", "-", failed[b]))
    for other in ("qemu-userspace", "qemu-vhost-net"):
        if "bulkhead" in med and other in med:
            print("bulkhead / %-15s %.2fx" % (other, med["bulkhead"] / med[other]))
    sys.exit(1 if any(failed.values()) else 0)


if __name__ == "__main__":
    main()
