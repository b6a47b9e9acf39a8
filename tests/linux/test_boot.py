#!/usr/bin/env python3
"""Booting: the stock cloud kernel as bzImage and as ELF vmlinux, 1, 2 and 4 vCPUs counted by
the guest, 256 MiB and 4 GiB of RAM seen as MemTotal, and the serial console both ways (a
line typed on bulkhead's stdin reaches the guest shell, its answer comes back)."""

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


if __name__ == "__main__":
    sys.exit(run_tests([bzimage_1cpu_256m, elf_vmlinux_2cpus_256m, bzimage_4cpus_4g,
                        serial_both_ways]))
