#!/usr/bin/env python3
"""How a running Linux guest ends and pauses under bulkhead: the guest powers off (exit 0,
SHUTDOWN guest-shutdown, its synced write in the image); QMP stop/cont while the guest writes
and fsyncs in a loop (the loop's counter stands still while stopped and moves again after
cont, no I/O error, every write in the image); QMP quit (SHUTDOWN host-qmp-quit, exit 0,
nothing left behind); a kernel panic with panic=-1 and `reboot -f` by the kernel's default
method, reboot=k (i8042), reboot=a (ACPI reset register) and reboot=t (triple fault) -- each
a guest reset: "bulkhead: the guest reset", exit 0, RESET and SHUTDOWN guest-reset, within a
deadline, through a triple fault only for reboot=t; and system_powerdown (an ACPI
power-button press that busybox acpid in the guest turns into its own shutdown, which writes
to the disk and powers off: exit 0)."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import BOOT_TIMEOUT, MiB, Deadline, TestFailure, check, run_tests  # noqa: E402
from qmplib import check_event_shape, proc_alive  # noqa: E402

# A guest that is going down has this long to be gone (its kernel prints, then resets).
END_TIMEOUT = 90
BLK = 4096


def drive(env, name, size):
    img = env.image(name, size, pattern=False)
    return img, ["-drive", "id=disk0,file=%s" % img, "-device", "virtio-blk-device,drive=disk0"]


def check_gone(vm, pids):
    """After the VM ended: none of its processes left, its QMP socket removed."""
    dl = Deadline(10)
    while [p for p in pids if proc_alive(p)] and not dl.expired():
        time.sleep(0.05)
    left = [p for p in pids if proc_alive(p)]
    check(not left, "processes of the VM still alive after it ended: %r\n%s" % (left, vm.logs()))
    check(not os.path.exists(vm.sock), "QMP socket %s left behind" % vm.sock)


def end_events(c, guest, reason, reset):
    """The events that announced the end (after it: they wait in the socket): RESET first
    when it is a reset, then SHUTDOWN, then nothing but the connection's close."""
    if reset:
        check_event_shape(c.event("RESET", timeout=END_TIMEOUT), "RESET",
                          {"guest": guest, "reason": reason})
    check_event_shape(c.event("SHUTDOWN", timeout=END_TIMEOUT), "SHUTDOWN",
                      {"guest": guest, "reason": reason})
    rest = c.expect_eof(timeout=END_TIMEOUT)
    check(all("event" in m for m in rest), "replies after the end: %r" % rest)
    check(not [m for m in rest + c.events if m["event"] in ("RESET", "SHUTDOWN")],
          "end announced twice: %r" % (rest + c.events))


def block_text(k, line):
    """What a guest `printf LINE | dd bs=4096 count=1 conv=sync` leaves in block k."""
    return (line.encode() + bytes(BLK))[:BLK]


def read_block(img, k):
    with open(img, "rb") as f:
        f.seek(k * BLK)
        return f.read(BLK)


# ------------------------------------------------------------------ power off, quit

def guest_poweroff(env):
    img, extra = drive(env, "disk.img", 4 * MiB)
    script = ("printf 'POWEROFF-MARK\\n' | dd of=/dev/vda bs=4096 count=1 seek=3 conv=sync "
              "2>/dev/null || echo WRITE-FAILED\n"
              "sync\n"
              "echo GUEST-POWEROFF-NOW\n"
              "poweroff -f\n"
              "echo POWEROFF-RETURNED\n")
    vm = env.linux(script, extra=extra).start()
    c = vm.connect()
    pids = vm.tree()
    vm.wait_serial(r"^GUEST-POWEROFF-NOW")
    vm.expect_end(0, r"(?m)^bulkhead: the guest powered off$", END_TIMEOUT)
    end_events(c, True, "guest-shutdown", reset=False)
    check_gone(vm, pids)
    out = vm.serial()
    check("WRITE-FAILED" not in out and "POWEROFF-RETURNED" not in out
          and "BULKHEAD-TEST-EXIT" not in out, "the guest did not power off where it should\n"
          + vm.logs())
    check(read_block(img, 3) == block_text(3, "POWEROFF-MARK\n"),
          "the write the guest synced before powering off is not in the image")


def qmp_quit(env):
    img, extra = drive(env, "disk.img", 4 * MiB)
    script = ("i=0\n"
              "while :; do i=$((i+1)); printf 'Q %d\\n' $i | dd of=/dev/vda bs=4096 count=1 "
              "seek=$((i % 64)) conv=sync,fsync 2>/dev/null; echo \"QCOUNT $i\"; done\n")
    vm = env.linux(script, extra=extra).start()
    c, other = vm.connect(), vm.connect()
    vm.wait_serial(r"^QCOUNT 3$")
    check(len(vm.blk_workers()) == 1, "one bulkhead-blk worker expected: %r" % vm.blk_workers())
    pids = vm.tree()
    r = c.cmd_raw("quit", id="q")
    check(r == {"return": {}, "id": "q"}, "quit reply %r" % r)
    vm.expect_end(0, r"quit requested over QMP", 30)
    end_events(c, False, "host-qmp-quit", reset=False)
    end_events(other, False, "host-qmp-quit", reset=False)
    check_gone(vm, pids)
    check("BULKHEAD-TEST-EXIT" not in vm.serial(), "the guest script ended by itself")


# ------------------------------------------------------------------ stop / cont

STOPCONT = r"""
stty -echo
: >/tmp/run
(
    n=0
    while [ -e /tmp/run ]; do
        n=$((n+1))
        if ! printf 'SEQ %08d\n' $n | dd of=/dev/vda bs=4096 count=1 seek=$((n % NBLK)) \
                conv=sync,fsync oflag=direct status=none 2>/tmp/dd.err; then
            echo "WRITE-FAILED $n: $(cat /tmp/dd.err)"
            break
        fi
        echo "COUNT $n"
    done
    echo "LOOP-END $n"
) &
echo LOOP-STARTED
read -r line
echo "HOST-SAID $line"
rm -f /tmp/run
wait
echo "IOERRORS=$(dmesg | grep -c 'I/O error')"
! dmesg | grep -q 'I/O error'
"""


def counts(vm):
    return [int(x) for x in re.findall(r"^COUNT (\d+)$", vm.serial(), re.M)]


def last_count(vm):
    c = counts(vm)
    return c[-1] if c else 0


def wait_count(vm, n, timeout):
    """Until the guest printed COUNT n or later."""
    dl = Deadline(timeout)
    while last_count(vm) < n:
        check(vm.proc.poll() is None, "the VM ended while waiting for COUNT %d\n%s"
              % (n, vm.logs()))
        check(not dl.expired(), "no COUNT %d within %ss\n%s" % (n, timeout, vm.logs()))
        time.sleep(0.1)


def stop_cont(env):
    nblk = 1024
    img, extra = drive(env, "disk.img", nblk * BLK)
    vm = env.linux(STOPCONT.replace("NBLK", str(nblk)), extra=extra).start(stdin=True)
    c = vm.connect()
    wait_count(vm, 5, BOOT_TIMEOUT)
    for rnd in range(2):
        c.cmd("stop")
        check_event_shape(c.event("STOP"), "STOP")
        check(c.cmd("query-status")["status"] == "paused", "query-status after stop")
        # what the guest printed before the vCPUs parked has reached the output by now
        time.sleep(1.0)
        stopped = last_count(vm)
        time.sleep(3.0)
        check(last_count(vm) == stopped, "round %d: the guest went on while stopped: COUNT %d "
              "-> %d" % (rnd, stopped, last_count(vm)))
        check(c.cmd("query-status")["status"] == "paused", "query-status while stopped")
        c.cmd("cont")
        check_event_shape(c.event("RESUME"), "RESUME")
        check(c.cmd("query-status")["status"] == "running", "query-status after cont")
        wait_count(vm, stopped + 5, 60)
    vm.type_line("finish")
    vm.wait_serial(r"^HOST-SAID finish")
    vm.test_exit()
    vm.expect_end(0, r"(?m)^bulkhead: the guest powered off$", END_TIMEOUT)
    out = vm.serial()
    check("WRITE-FAILED" not in out, "a guest write failed\n" + vm.logs())
    check(vm.value("IOERRORS") == "0", "the guest logged I/O errors\n" + vm.logs())
    final = int(re.search(r"^LOOP-END (\d+)$", out, re.M).group(1))
    seen = counts(vm)
    # one COUNT line may be garbled by the echo of the line the host typed
    check(seen == sorted(set(seen)) and seen[-1] == final and len(seen) >= final - 1,
          "COUNT lines are not 1..%d: %r" % (final, seen))
    # each position holds the last sequence number written there
    with open(img, "rb") as f:
        data = f.read()
    for n in range(max(1, final - nblk + 1), final + 1):
        k = n % nblk
        got = data[k * BLK:(k + 1) * BLK]
        want = block_text(k, "SEQ %08d\n" % n)
        check(got == want, "block %d holds %r, want SEQ %08d (written and fsynced)"
              % (k, got[:16], n))


# ------------------------------------------------------------------ resets

TRIPLE = r"triple fault \(KVM_EXIT_SHUTDOWN\)"


def guest_reset(env, script, append="", wait_re=None, triple=False):
    """Boot, let the guest reset itself; it must end as a reset within END_TIMEOUT, by a
    triple fault exactly when `triple` (every other method must work without falling back
    to one)."""
    vm = env.linux(script, append=append).start()
    c = vm.connect()
    pids = vm.tree()
    vm.wait_serial(wait_re)
    vm.expect_end(0, r"(?m)^bulkhead: the guest reset$", END_TIMEOUT)
    end_events(c, True, "guest-reset", reset=True)
    check_gone(vm, pids)
    check(bool(re.search(TRIPLE, vm.stderr())) == triple, "the reset %s a triple fault\n%s"
          % ("was not" if triple else "fell back to", vm.logs()))
    check("BULKHEAD-TEST-EXIT" not in vm.serial(), "the guest went on after the reset\n"
          + vm.logs())
    return vm


REBOOT = "echo GUEST-REBOOT-NOW\nreboot -f\necho REBOOT-RETURNED\nsleep 600\n"


def reboot(env, append="", triple=False):
    vm = guest_reset(env, REBOOT, append=append, wait_re=r"^GUEST-REBOOT-NOW", triple=triple)
    check(re.search(r"reboot: Restarting system", vm.serial()),
          "the guest kernel did not say it restarts\n" + vm.logs())


def reboot_default(env):
    reboot(env)


def reboot_kbd(env):
    reboot(env, "reboot=k")


def reboot_acpi(env):
    reboot(env, "reboot=a")


def reboot_triple(env):
    reboot(env, "reboot=t", triple=True)


def panic_reboots(env):
    """panic=-1 (linuxlib's command line): a panicking kernel reboots at once, by its
    default method."""
    script = "echo GUEST-PANIC-NOW\necho c >/proc/sysrq-trigger\necho PANIC-RETURNED\nsleep 600\n"
    vm = guest_reset(env, script, wait_re=r"^GUEST-PANIC-NOW")
    check(re.search(r"Kernel panic - not syncing: sysrq triggered crash", vm.serial()),
          "the guest did not panic\n" + vm.logs())


# ------------------------------------------------------------------ power button

POWERDOWN = r"""
mkdir -p /etc/acpi/PWRF
cat >/etc/acpi/PWRF/00000080 <<'EOF'
#!/bin/sh
exec >/dev/console 2>&1
echo GUEST-POWER-BUTTON
printf 'ORDERLY-SHUTDOWN\n' | dd of=/dev/vda bs=4096 count=1 seek=5 conv=sync,fsync 2>/dev/null \
    || echo SHUTDOWN-WRITE-FAILED
echo GUEST-SHUTDOWN-DONE
poweroff -f
EOF
chmod 755 /etc/acpi/PWRF/00000080
echo "INPUT-DEVICES: $(grep -h '^N:' /proc/bus/input/devices | tr '\n' ' ')"
acpid -d -c /etc/acpi >/dev/console 2>&1 &
sleep 1
echo ACPID-READY
sleep 600
echo NO-POWER-BUTTON-IN-10-MINUTES
"""


def system_powerdown(env):
    img, extra = drive(env, "disk.img", 4 * MiB)
    vm = env.linux(POWERDOWN, extra=extra).start()
    c = vm.connect()
    pids = vm.tree()
    vm.wait_serial(r"^ACPID-READY")
    r = c.cmd_raw("system_powerdown", id="p")
    check(r == {"return": {}, "id": "p"}, "system_powerdown reply %r" % r)
    check_event_shape(c.event("POWERDOWN"), "POWERDOWN")
    try:
        vm.wait_serial(r"^GUEST-POWER-BUTTON", timeout=60)
    except TestFailure as ex:
        m = re.search(r"^INPUT-DEVICES:.*$", vm.serial(), re.M)
        raise TestFailure("the guest's acpid never saw a power-button press (%s)\n%s"
                          % (m.group(0) if m else "no input device list", ex))
    vm.wait_serial(r"^GUEST-SHUTDOWN-DONE", timeout=60)
    vm.expect_end(0, r"(?m)^bulkhead: the guest powered off$", END_TIMEOUT)
    end_events(c, True, "guest-shutdown", reset=False)
    check_gone(vm, pids)
    check("SHUTDOWN-WRITE-FAILED" not in vm.serial(), "the guest's shutdown could not write\n"
          + vm.logs())
    check(read_block(img, 5) == block_text(5, "ORDERLY-SHUTDOWN\n"),
          "what the guest's shutdown wrote is not in the image")


if __name__ == "__main__":
    sys.exit(run_tests([guest_poweroff, stop_cont, qmp_quit, panic_reboots, reboot_default,
                        reboot_kbd, reboot_acpi, reboot_triple, system_powerdown]))
