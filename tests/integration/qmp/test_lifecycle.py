#!/usr/bin/env python3
"""How a VM ends under QMP, and how it outlives qmpd: quit (SHUTDOWN host-qmp-quit to every
client, then exit 0 and nothing left behind), system_reset (RESET, then the VM ends like a
guest reset: this microvm ends on reset, as with reboot=k), and qmpd killed with SIGKILL
(the guest keeps running, the supervisor starts a new qmpd, clients reconnect)."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmplib import (QMP, Deadline, TestFailure, check, check_event_shape,  # noqa: E402
                    proc_alive, run_tests)


def check_gone(vm, pids):
    """After the VM ended: no process of its tree left, its socket file removed."""
    dl = Deadline(10)
    while [p for p in pids if proc_alive(p)] and not dl.expired():
        time.sleep(0.05)
    left = [p for p in pids if proc_alive(p)]
    check(not left, "processes of the VM still alive: %r" % left)
    check(not os.path.exists(vm.sock), "socket %s left behind" % vm.sock)


def reply_and_event(c, cmd, event):
    """Send cmd; both its {} reply and the event must arrive (the manual shows them in
    either order); returns the event."""
    r = c.cmd_raw(cmd, id="x")
    check(r == {"return": {}, "id": "x"}, "%s reply %r" % (cmd, r))
    return c.event(event)


def test_quit(env):
    vm = env.vm(smp=2).start()
    vm.wait_serial(r"^PROBE TICK 1$", timeout=60)
    c, other = vm.connect(), vm.connect()
    pids = vm.tree()
    check(len(pids) >= 3, "expected supervisor, core and qmpd, found %r" % pids)
    e = reply_and_event(c, "quit", "SHUTDOWN")
    check_event_shape(e, "SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
    check_event_shape(other.event("SHUTDOWN"), "SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"})
    for cl in (c, other):
        rest = cl.expect_eof()
        check(all("event" in m for m in rest), "replies after quit: %r" % rest)
    check(vm.wait_exit() == 0, "bulkhead exit status %r after quit" % vm.proc.returncode)
    check_gone(vm, pids)


def test_system_reset(env):
    vm = env.vm().start()
    vm.wait_serial(r"^PROBE TICK 1$", timeout=60)
    c = vm.connect()
    pids = vm.tree()
    e = reply_and_event(c, "system_reset", "RESET")
    check_event_shape(e, "RESET")
    check(e.get("data", {}).get("guest") is False, "RESET data %r, want guest false" % e.get("data"))
    rest = c.expect_eof()
    check(all("event" in m for m in rest), "replies after system_reset: %r" % rest)
    check(vm.wait_exit() == 0, "bulkhead exit status %r after system_reset" % vm.proc.returncode)
    check("PROBE DONE" not in vm.serial(), "the probe finished on its own instead of being reset")
    check_gone(vm, pids)


def test_qmpd_killed(env):
    vm = env.vm().start()
    c = vm.connect()
    check(c.cmd("query-status")["status"] == "running", "running before")
    old = vm.qmpd_pid()
    core = vm.core_pid()
    os.kill(old, signal.SIGKILL)
    c.expect_eof(timeout=10)
    # the guest keeps running without qmpd: its ticks go on
    vm.wait_serial(r"^PROBE TICK 1$", timeout=60)
    n = vm.ticks()
    vm.wait_serial(r"^PROBE TICK %d$" % (n + 2), timeout=30)
    check(vm.proc.poll() is None and proc_alive(core), "the VM died with qmpd")
    # a new qmpd answers on the same socket (the supervisor restarts it)
    dl = Deadline(20)
    while True:
        try:
            c2 = QMP(vm.sock, timeout=5)
            break
        except (OSError, TestFailure) as ex:
            if dl.expired():
                raise TestFailure("no new connection within 20 s after qmpd died: %s\n%s"
                                  % (ex, vm.logs()))
            time.sleep(0.1)
    vm.clients.append(c2)
    c2.negotiate()
    check(c2.cmd("query-status")["status"] == "running", "query-status through the new qmpd")
    new = vm.qmpd_pid()
    check(new != old, "qmpd pid did not change")
    # the new qmpd drives the same core: stop/cont work and the core is the same process
    c2.cmd("stop")
    check_event_shape(c2.event("STOP"), "STOP", {})
    c2.cmd("cont")
    check_event_shape(c2.event("RESUME"), "RESUME", {})
    check(vm.core_pid() == core, "the core was restarted: the VM did not survive")
    # twice more: restart is not a one-off
    for _ in range(2):
        old = vm.qmpd_pid()
        os.kill(old, signal.SIGKILL)
        dl = Deadline(30)
        while True:
            try:
                c3 = vm.connect()
                break
            except (OSError, TestFailure):
                if dl.expired():
                    raise TestFailure("qmpd not restarted after another SIGKILL\n" + vm.logs())
                time.sleep(0.2)
        check(c3.cmd("query-status")["status"] == "running", "after another restart")
    c3.cmd("quit")
    check(vm.wait_exit() == 0, "exit status after quit")


if __name__ == "__main__":
    sys.exit(run_tests([test_quit, test_system_reset, test_qmpd_killed]))
