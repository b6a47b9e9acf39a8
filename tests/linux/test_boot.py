#!/usr/bin/env python3
"""Booting: the stock cloud kernel as bzImage and as ELF vmlinux, 1, 2 and 4 vCPUs counted by
the guest, 256 MiB and 4 GiB of RAM seen as MemTotal, the serial console both ways (a line
typed on bulkhead's stdin reaches the guest shell, its answer comes back), and a guest whose
whole configuration comes from a StratoVirt JSON file (-config), the command line overriding
its vcpu_count; and the virtio-rng device (-object rng-random + -device virtio-rng-device)
as the guest's hardware RNG, through a worker restart and under its rate limit; and the
virtio console (hvc0) on a unix socket: output buffered while no client is there, input
both ways, a client that leaves and comes back, a worker that is killed and restarted."""

import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, check, run_tests  # noqa: E402
from qmplib import Deadline, proc_alive  # noqa: E402

INFO = 'echo "CPUS=$(nproc)"; echo "MEMTOTAL_KB=$(awk \'/^MemTotal/ { print $2 }\' /proc/meminfo)"\n'


def boot(env, kernel, smp, mem_mib):
    vm = env.linux(INFO, kernel=kernel, smp=smp, mem=mem_mib, qmp=False, modules=False).start()
    check(int(vm.value("CPUS")) == smp, "guest counts %s CPUs, want %d" % (vm.value("CPUS"), smp))
    kb = int(vm.value("MEMTOTAL_KB"))
    # MemTotal is RAM less what the kernel reserves for itself (its image, page tables, ...)
    want = mem_mib * MiB // 1024
    check(want * 0.80 < kb <= want, "MemTotal %d kB for -m %d" % (kb, mem_mib))
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")


def bzimage_1cpu_256m(env):
    boot(env, "vmlinuz", 1, 256)


def elf_vmlinux_2cpus_256m(env):
    boot(env, "vmlinux", 2, 256)


def bzimage_4cpus_4g(env):
    boot(env, "vmlinuz", 4, 4096)


def serial_both_ways(env):
    script = 'echo "READY-FOR-INPUT"\nread -r line\necho "GUEST-GOT:[$line]"\n'
    vm = env.linux(script, qmp=False, modules=False).start(stdin=True)
    vm.wait_serial(r"^READY-FOR-INPUT")
    vm.type_line("hello from the host 42")
    vm.wait_serial(r"^GUEST-GOT:\[hello from the host 42\]$")
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")


def json_config(env):
    """-config FILE alone describes the VM (kernel, initrd, command line, vCPUs, memory in
    bytes, a disk, the serial console); -smp on the command line overrides the file."""
    img = env.image("disk.img", 4 * MiB)
    script = INFO + 'echo "SERIAL=$(cat /sys/block/vda/serial)"\n' \
        'echo "SECTORS=$(cat /sys/block/vda/size)"\n'
    vm = env.linux(script, qmp=False)
    argv = vm.argv
    cfg = {
        "boot-source": {"kernel_image_path": argv[argv.index("-kernel") + 1],
                        "initrd_fs_path": argv[argv.index("-initrd") + 1],
                        "boot_args": argv[argv.index("-append") + 1]},
        "machine-config": {"type": "MicroVm", "vcpu_count": 2, "mem_size": 512 * MiB},
        "drive": [{"drive_id": "rootfs", "path_on_host": img, "read_only": True,
                   "serial_num": "from-json"}],
        "serial": {"stdio": True},
    }
    path = env.path("vm.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    vm.argv = [argv[0], "-name", "json", "-config", path, "-smp", "3"]
    vm.start()
    check(int(vm.value("CPUS")) == 3, "guest counts %s CPUs, want -smp's 3 over the file's 2"
          % vm.value("CPUS"))
    kb = int(vm.value("MEMTOTAL_KB"))
    check(512 * MiB // 1024 * 0.80 < kb <= 512 * MiB // 1024, "MemTotal %d kB for mem_size "
          "512 MiB" % kb)
    check(vm.value("SERIAL") == "from-json", "the disk's serial is %r" % vm.value("SERIAL"))
    check(vm.value("SECTORS") == str(4 * MiB // 512), "the disk has %s sectors"
          % vm.value("SECTORS"))
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")


RNG = ["-object", "rng-random,id=objrng0,filename=/dev/urandom",
       "-device", "virtio-rng-device,rng=objrng0,id=virtio-rng0"]
# how many distinct byte values 4 KiB from /dev/hwrng show (random: all 256, nearly surely)
RNG_READ = r"""
rng_read() {
  echo "CURRENT$1=$(cat /sys/class/misc/hw_random/rng_current)"
  echo "BYTES$1=$(head -c 65536 /dev/hwrng | wc -c)"
  echo "DISTINCT$1=$(head -c 4096 /dev/hwrng | od -An -v -tx1 | tr -s ' ' '\n' | grep . | sort -u | wc -l)"
}
"""


def kill_worker(vm, program):
    """SIGKILL the VM's one worker named program and wait until the supervisor has started
    its successor."""
    def workers():
        return sorted(p for p in vm.children(program) if proc_alive(p))

    old = workers()
    check(len(old) == 1, "want one %s, found %r" % (program, old))
    os.kill(old[0], signal.SIGKILL)
    dl = Deadline(30)
    while workers() in ([], old):
        check(not dl.expired(), "no new %s 30 s after the kill\n%s" % (program, vm.logs()))
        time.sleep(0.1)


def rng(env):
    """The guest's hw_random core picks virtio_rng.0 and reads 64 KiB from /dev/hwrng; after
    its bulkhead-rng is killed, a new one serves the next 64 KiB."""
    env.restarts_expected = True
    script = RNG_READ + "rng_read 1\nread -r line\nrng_read 2\n"
    vm = env.linux(script, qmp=False, extra=RNG).start(stdin=True)
    for k in ("1", "2"):
        if k == "2":
            kill_worker(vm, "bulkhead-rng")
            vm.type_line("go")
        check(vm.value("CURRENT" + k) == "virtio_rng.0", "rng_current is %r"
              % vm.value("CURRENT" + k))
        check(vm.value("BYTES" + k) == "65536", "read %s of 65536 bytes from /dev/hwrng"
              % vm.value("BYTES" + k))
        check(int(vm.value("DISTINCT" + k)) >= 200, "4 KiB from /dev/hwrng hold %s distinct "
              "byte values" % vm.value("DISTINCT" + k))
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")


def rng_rate_limit(env):
    """max-bytes=2048,period=1000: 12 KiB take at least 5 periods (what the guest's own hwrng
    thread takes meanwhile only slows it down), and all of it arrives."""
    extra = RNG[:3] + ["virtio-rng-device,rng=objrng0,id=virtio-rng0,max-bytes=2048,period=1000"]
    script = r"""
t0=$(cut -d' ' -f1 /proc/uptime)
echo "BYTES=$(head -c 12288 /dev/hwrng | wc -c)"
t1=$(cut -d' ' -f1 /proc/uptime)
echo "SECONDS=$(awk -v a=$t0 -v b=$t1 'BEGIN { print b - a }')"
"""
    vm = env.linux(script, qmp=False, extra=extra).start()
    check(vm.value("BYTES") == "12288", "read %s of 12288 bytes" % vm.value("BYTES"))
    secs = float(vm.value("SECONDS"))
    check(secs >= 4.5, "12 KiB at 2 KiB per second arrived in %.2f s" % secs)
    print("rng_rate_limit: 12 KiB in %.2f s at 2048 bytes per 1000 ms" % secs, flush=True)
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")


def console_read(sock_path, want, timeout=60):
    """Connect to the console socket and read until want (bytes) came; returns what came."""
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(timeout)
    c.connect(sock_path)
    got = b""
    dl = Deadline(timeout)
    while want not in got:
        check(not dl.expired(), "the console gave %r, not %r" % (got, want))
        b = c.recv(4096)
        check(b, "the console closed after %r, before %r" % (got, want))
        got += b
    return c, got


def console(env):
    """-device virtio-serial-device -device virtconsole on a server,nowait -chardev socket:
    what the guest writes to /dev/hvc0 before any client comes is buffered and read by the
    first; a line sent by the client reaches the guest; the client leaves, the guest writes,
    a new client gets it; bulkhead-hvc is killed, the socket stays, the next client gets
    what the guest writes after the restart."""
    env.restarts_expected = True
    path = env.path("con.sock")
    extra = ["-device", "virtio-serial-device,id=virtio-serial0",
             "-chardev", "socket,id=charconsole0,path=%s,server,nowait" % path,
             "-device", "virtconsole,chardev=charconsole0,id=virtio-console0,nr=0"]
    script = r"""
stty -F /dev/hvc0 raw -echo
head -n1 /dev/hvc0 >/tmp/in &
echo CONSOLE-HELLO-1 >/dev/hvc0
echo STEP=1
read -r line
wait
echo "GOT=$(cat /tmp/in)"
read -r line
echo CONSOLE-HELLO-2 >/dev/hvc0
echo STEP=2
read -r line
echo CONSOLE-HELLO-3 >/dev/hvc0
echo STEP=3
"""
    vm = env.linux(script, qmp=False, extra=extra).start(stdin=True)
    check(vm.value("STEP") == "1", "the guest script did not start")
    check(oct(os.stat(path).st_mode & 0o777) == "0o600", "the console socket is mode %o"
          % (os.stat(path).st_mode & 0o777))
    c, _ = console_read(path, b"CONSOLE-HELLO-1")
    c.sendall(b"from-the-host\n")
    vm.type_line("go")
    check(vm.value("GOT") == "from-the-host", "the guest read %r" % vm.value("GOT"))
    c.close()
    vm.type_line("go")
    vm.wait_serial(r"^STEP=2")
    c, _ = console_read(path, b"CONSOLE-HELLO-2")
    c.close()
    kill_worker(vm, "bulkhead-hvc")
    vm.type_line("go")
    vm.wait_serial(r"^STEP=3")
    c, _ = console_read(path, b"CONSOLE-HELLO-3")
    c.close()
    vm.test_exit()
    vm.expect_end(0, r"the guest powered off")
    check(not os.path.exists(path), "the console socket is left behind")


if __name__ == "__main__":
    sys.exit(run_tests([bzimage_1cpu_256m, elf_vmlinux_2cpus_256m, bzimage_4cpus_4g,
                        serial_both_ways, json_config, rng, rng_rate_limit, console]))
