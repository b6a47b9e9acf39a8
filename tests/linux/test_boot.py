#!/usr/bin/env python3
"""Booting: the stock cloud kernel as bzImage and as ELF vmlinux, 1, 2 and 4 vCPUs counted by
the guest, 256 MiB and 4 GiB of RAM seen as MemTotal, the serial console both ways (a line
typed on bulkhead's stdin reaches the guest shell, its answer comes back), and a guest whose
whole configuration comes from a StratoVirt JSON file (-config), the command line overriding
its vcpu_count."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, check, run_tests  # noqa: E402

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


if __name__ == "__main__":
    sys.exit(run_tests([bzimage_1cpu_256m, elf_vmlinux_2cpus_256m, bzimage_4cpus_4g,
                        serial_both_ways, json_config]))
