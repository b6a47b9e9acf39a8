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
import subprocess
import sys

import guest_bench  # puts tests/linux on the path too
from test_net import Tap, HOST_IP, GUEST_IP  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SIZE = (int(sys.argv[2]) if len(sys.argv) > 2 else 32) << 20
TAP = "bhbench0"
PORT = 6101


def argv_for(backend, initrd):
    kernel = guest_bench.kernel()
    if backend == "bulkhead":
        return [os.environ["BULKHEAD"], "-kernel", kernel, "-initrd", initrd, "-serial", "stdio",
                "-m", "256", "-netdev", "tap,id=n0,ifname=" + TAP,
                "-device", "virtio-net-device,netdev=n0", "-append", guest_bench.APPEND]
    vhost = "on" if backend == "qemu-vhost-net" else "off"
    return ["qemu-system-x86_64", "-M", "microvm,rtc=on", "-accel", "kvm", "-cpu", "host",
            "-m", "256", "-nodefaults", "-nographic", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", guest_bench.APPEND,
            "-netdev", "tap,id=n0,ifname=%s,script=no,downscript=no,vhost=%s" % (TAP, vhost),
            "-device", "virtio-net-device,netdev=n0"]


def main():
    if not os.path.exists("/dev/vhost-net"):
        subprocess.run(["modprobe", "vhost_net"], stderr=subprocess.DEVNULL)
    if not os.path.exists("/dev/vhost-net"):
        raise SystemExit("bench-net-guest: /dev/vhost-net is missing (modprobe vhost_net)")
    initrd = guest_bench.initrd("bench-net-guest", r"""
ip link set lo up
ip addr add %s/24 dev eth0
ip link set eth0 up
sleep 1
yes bulkhead-net | head -c %d | nc %s %d && echo BENCH-SENT
exit 0
""" % (GUEST_IP, SIZE, HOST_IP, PORT))

    def one_run(backend):
        srv = socket.create_server((HOST_IP, PORT), reuse_port=True)
        return guest_bench.guest_run(backend, argv_for(backend, initrd), srv, SIZE)

    tap = Tap(TAP)
    try:
        rc = guest_bench.run(["bulkhead", "qemu-userspace", "qemu-vhost-net"], ROUNDS, one_run,
                             "%d MiB guest -> host" % (SIZE >> 20),
                             [("bulkhead", "qemu-userspace"), ("bulkhead", "qemu-vhost-net")])
    finally:
        tap.close()
    sys.exit(rc)


if __name__ == "__main__":
    main()
