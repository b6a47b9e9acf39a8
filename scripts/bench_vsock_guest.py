#!/usr/bin/env python3
"""Guest -> host vsock stream throughput of a Linux guest's virtio-vsock driver: bulkhead in
unix-socket mode (bulkhead-vsock carries the data to a host unix listener at <uds>_<port>), in
kernel mode (bulkhead-vsock hands the rings to the host's vhost-vsock; the host listens with
AF_VSOCK) and QEMU microvm with -device vhost-vsock-device (the same vhost-vsock, QEMU's own
wiring); same kernel, same initramfs, backends interleaved. Run inside a KVM
(scripts/bench-vsock-guest.sh puts it in the KVM test host where needed).

Each run boots the guest, which sends SIZE bytes with socat VSOCK-CONNECT; the host side times
the stream from its first to its last byte (boot is not counted). Prints every run, then
min/median/max MiB/s per backend and the ratios of the medians; a run that does not complete
is printed with the end of its logs and counted as failed.

usage: bench_vsock_guest.py [ROUNDS] [MiB]    env: BULKHEAD, ASSETS_DIR"""

import os
import socket
import subprocess
import sys

import guest_bench

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SIZE = (int(sys.argv[2]) if len(sys.argv) > 2 else 64) << 20
CID = 9
PORT = 6102
UDS = "/tmp/bench-vsock-guest/vm.sock"


def argv_for(backend, initrd):
    kernel = guest_bench.kernel()
    if backend.startswith("bulkhead"):
        dev = "vsock,id=v0,guest-cid=%d" % CID
        if backend == "bulkhead-unix":
            dev += ",uds-path=" + UDS
        return [os.environ["BULKHEAD"], "-kernel", kernel, "-initrd", initrd, "-serial", "stdio",
                "-m", "256", "-device", dev, "-append", guest_bench.APPEND]
    return ["qemu-system-x86_64", "-M", "microvm,rtc=on", "-accel", "kvm", "-cpu", "host",
            "-m", "256", "-nodefaults", "-nographic", "-serial", "stdio", "-no-reboot",
            "-kernel", kernel, "-initrd", initrd, "-append", guest_bench.APPEND,
            "-device", "vhost-vsock-device,guest-cid=%d" % CID]


def listener(backend):
    if backend == "bulkhead-unix":
        path = "%s_%d" % (UDS, PORT)
        if os.path.exists(path):
            os.unlink(path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
    else:
        srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
        srv.bind((socket.VMADDR_CID_ANY, PORT))
    srv.listen(1)
    return srv


def main():
    if not os.path.exists("/dev/vhost-vsock"):
        subprocess.run(["modprobe", "vhost_vsock"], stderr=subprocess.DEVNULL)
    if not os.path.exists("/dev/vhost-vsock"):
        raise SystemExit("bench-vsock-guest: /dev/vhost-vsock is missing (modprobe vhost_vsock)")
    initrd = guest_bench.initrd("bench-vsock-guest", r"""
sleep 1
yes bulkhead-vsock | head -c %d | socat -u STDIN VSOCK-CONNECT:2:%d && echo BENCH-SENT
exit 0
""" % (SIZE, PORT))

    def one_run(backend):
        return guest_bench.guest_run(backend, argv_for(backend, initrd), listener(backend), SIZE)

    sys.exit(guest_bench.run(
        ["bulkhead-unix", "bulkhead-kernel", "qemu-vhost-vsock"], ROUNDS, one_run,
        "%d MiB guest -> host" % (SIZE >> 20),
        [("bulkhead-unix", "qemu-vhost-vsock"), ("bulkhead-kernel", "qemu-vhost-vsock"),
         ("bulkhead-unix", "bulkhead-kernel")]))


if __name__ == "__main__":
    main()
