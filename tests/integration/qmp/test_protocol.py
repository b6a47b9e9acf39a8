#!/usr/bin/env python3
"""QMP protocol over a real socket with a real VM (a guest probe that prints a tick every
second of run time): the greeting, capabilities negotiation, id echo, query-version,
query-commands, query-status/stop/cont with their events and the guest really pausing,
query-cpus/-fast/hotpluggable-cpus for -smp 2, balloon and netdev errors,
system_powerdown, the socket's mode and the refusal of paths that are not stale sockets."""

import json
import os
import re
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmplib import TestFailure, check, check_event_shape, run_tests  # noqa: E402

MANUAL_COMMANDS = [
    "qmp_capabilities", "query-version", "query-commands", "query-status", "stop", "cont",
    "quit", "system_reset", "system_powerdown", "query-cpus", "query-cpus-fast",
    "query-hotpluggable-cpus", "blockdev-add", "blockdev-del", "device_add", "device_del",
    "netdev_add", "netdev_del", "balloon", "query-balloon",
]


def check_version_obj(v, what):
    check(isinstance(v, dict) and set(v) == {"qemu", "package"}, "%s: %r" % (what, v))
    q = v["qemu"]
    check(isinstance(q, dict) and set(q) == {"micro", "minor", "major"}
          and all(isinstance(q[k], int) and q[k] >= 0 for k in q), "%s qemu: %r" % (what, q))
    want = "bulkhead " + os.environ.get("BULKHEAD_VERSION", "")
    check(v["package"] == want.strip() or v["package"].startswith(want),
          "%s package %r, want %r" % (what, v["package"], want))


def test_greeting(env):
    vm = env.vm().start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(vm.sock)
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(4096)
        check(chunk, "connection closed before a complete greeting line: %r" % data)
        data += chunk
    s.close()
    # one line: line-oriented clients (ncat, socat) show it as the manual does
    check(data.count(b"\n") == 1, "greeting is not one line: %r" % data)
    g = json.loads(data)
    check(set(g) == {"QMP"} and set(g["QMP"]) == {"version", "capabilities"},
          "greeting keys: %r" % g)
    check(g["QMP"]["capabilities"] == [], "capabilities %r" % g["QMP"]["capabilities"])
    check_version_obj(g["QMP"]["version"], "greeting version")


def test_negotiation(env):
    vm = env.vm().start()
    c = vm.connect(negotiate=False)
    for cmd in ("query-status", "stop", "quit", "query-commands", "nonexistent"):
        c.err(cmd, cls="CommandNotFound")
    # the refused stop/quit did nothing
    n = vm.connect()
    check(n.cmd("query-status")["status"] == "running", "VM not running after refused stop")
    # events go only to negotiated clients: stop from n, then c's next reply has no event before it
    n.cmd("stop")
    n.event("STOP")
    c.err("query-status", cls="CommandNotFound")
    check(c.events == [], "un-negotiated client received events %r" % c.events)
    n.cmd("cont")
    n.event("RESUME")
    r = c.cmd_raw("qmp_capabilities", id=1)
    check(r == {"return": {}, "id": 1}, "qmp_capabilities: %r" % r)
    check(c.cmd("query-status")["status"] == "running", "query-status after negotiation")
    check(c.events == [], "events from before negotiation delivered late: %r" % c.events)


def test_id_echo(env):
    vm = env.vm().start()
    c = vm.connect()
    for rid in (7, -3, 2.5, "abc", "", {"a": [1, {"b": None}], "c": "x"}, [1, "two"], True):
        r = c.cmd_raw("query-status", id=rid)
        check("return" in r and r.get("id") == rid, "id %r: reply %r" % (rid, r))
        r = c.cmd_raw("no-such-command", id=rid)
        check("error" in r and r.get("id") == rid, "id %r on an error: reply %r" % (rid, r))
        r = c.cmd_raw("device_del", {"wrong": 1}, id=rid)
        check("error" in r and r.get("id") == rid, "id %r on bad arguments: %r" % (rid, r))
    r = c.cmd_raw("query-status")
    check("id" not in r, "reply to a request without id carries one: %r" % r)
    # the id goes verbatim, whatever its size (within the message cap)
    big = {"k%d" % i: "v" * 50 for i in range(200)}
    r = c.cmd_raw("query-version", id=big)
    check(r.get("id") == big, "large object id not echoed")


def test_query_version_commands(env):
    vm = env.vm().start()
    c = vm.connect()
    check_version_obj(c.cmd("query-version"), "query-version")
    check(c.cmd("query-version") == c.greeting["QMP"]["version"],
          "query-version differs from the greeting")
    cmds = c.cmd("query-commands")
    check(isinstance(cmds, list) and all(isinstance(x, dict) and set(x) == {"name"} for x in cmds),
          "query-commands shape: %r" % cmds)
    names = [x["name"] for x in cmds]
    check(len(names) == len(set(names)), "duplicate names in query-commands: %r" % names)
    missing = set(MANUAL_COMMANDS) - set(names)
    check(not missing, "query-commands lacks %r" % sorted(missing))
    # every listed command exists: a bogus argument gives GenericError, never CommandNotFound
    # (and, being invalid, runs nothing -- not even quit)
    for name in names:
        if name == "qmp_capabilities":
            continue
        desc = c.err(name, {"zz-bogus": 1}, cls="GenericError")
        # a command with required arguments may name the first missing one instead
        check("zz-bogus" in desc or "missing" in desc,
              "%s with an unexpected argument: desc %r names neither it nor a missing one"
              % (name, desc))
    check(c.cmd("query-status")["status"] == "running", "VM changed state")


def status(c):
    s = c.cmd("query-status")
    check(isinstance(s, dict) and set(s) == {"running", "singlestep", "status"},
          "query-status keys %r" % s)
    check(isinstance(s["running"], bool) and s["singlestep"] is False, "query-status %r" % s)
    return s


def test_stop_cont(env):
    vm = env.vm().start()
    c = vm.connect()
    watcher = vm.connect()
    s = status(c)
    check(s == {"running": True, "singlestep": False, "status": "running"},
          "query-status of a running VM: %r (manual: running true, status running)" % s)
    # the guest prints one tick per second of run time: see it tick first
    vm.wait_serial(r"^PROBE TICK 2$", timeout=60)
    check(c.cmd("stop") == {}, "stop return")
    for cl in (c, watcher):
        check_event_shape(cl.event("STOP"), "STOP", {})
    s = status(c)
    check(s["status"] == "paused", "query-status after stop: %r" % s)
    # while paused nothing runs in the guest: not one more byte on its serial port
    size = len(vm.serial())
    time.sleep(3)
    check(len(vm.serial()) == size, "the guest printed while paused: %r"
          % vm.serial()[size:])
    check(status(watcher)["status"] == "paused", "paused as seen by another client")
    check(c.cmd("cont") == {}, "cont return")
    for cl in (c, watcher):
        check_event_shape(cl.event("RESUME"), "RESUME", {})
    check(status(c) == {"running": True, "singlestep": False, "status": "running"},
          "query-status after cont")
    n = vm.ticks()
    vm.wait_serial(r"^PROBE TICK %d$" % (n + 1), timeout=30)
    check(c.events == [] and watcher.events == [], "unexpected events %r %r"
          % (c.events, watcher.events))


def test_cpus(env):
    vm = env.vm(smp=2).start()
    c = vm.connect()
    core = vm.core_pid()
    # asked as early as a client can: a VM whose socket answers must report real vCPU
    # threads (the task list is read after the answer, when the threads must exist)
    cpus = c.cmd("query-cpus")
    tids = set(int(t) for t in os.listdir("/proc/%d/task" % core))
    check(isinstance(cpus, list) and len(cpus) == 2, "query-cpus for -smp 2: %r" % cpus)
    keys = {"CPU", "arch", "current", "halted", "props", "qom_path", "thread_id"}
    seen = set()
    for i, x in enumerate(cpus):
        check(set(x) == keys, "query-cpus[%d] keys %r, manual has %r" % (i, sorted(x), sorted(keys)))
        check(x["CPU"] == i and x["arch"] == "x86", "query-cpus[%d]: %r" % (i, x))
        check(isinstance(x["current"], bool) and isinstance(x["halted"], bool),
              "query-cpus[%d] current/halted: %r" % (i, x))
        check(x["qom_path"] == "/machine/unattached/device[%d]" % i, "qom_path %r" % x["qom_path"])
        p = x["props"]
        check(set(p) == {"core-id", "socket-id", "thread-id"}
              and all(isinstance(v, int) and v >= 0 for v in p.values()), "props %r" % p)
        check(x["thread_id"] in tids, "query-cpus[%d] thread_id %r is not a thread of "
              "bulkhead-core %d (%r)" % (i, x["thread_id"], core, sorted(tids)))
        seen.add(x["thread_id"])
    check(len(seen) == 2, "vCPUs share a thread_id: %r" % cpus)
    check(cpus[0]["props"] != cpus[1]["props"], "both vCPUs have the same topology props")
    fast = c.cmd("query-cpus-fast")
    check(isinstance(fast, list) and len(fast) == 2, "query-cpus-fast: %r" % fast)
    for i, x in enumerate(fast):
        check(x.get("cpu-index") == i and x.get("target") == "x86_64",
              "query-cpus-fast[%d]: %r" % (i, x))
        check(x.get("qom-path") == "/machine/unattached/device[%d]" % i, "qom-path: %r" % x)
        check(x.get("thread-id") == cpus[i]["thread_id"], "thread-id differs from query-cpus")
        check(x.get("props") == cpus[i]["props"], "props differ from query-cpus")
    hp = c.cmd("query-hotpluggable-cpus")
    check(isinstance(hp, list) and len(hp) == 2, "query-hotpluggable-cpus: %r" % hp)
    for i, x in enumerate(hp):
        check(set(x) == {"props", "qom-path", "type", "vcpus-count"},
              "query-hotpluggable-cpus[%d] keys %r" % (i, sorted(x)))
        check(x["type"] == "host-x86-cpu" and x["vcpus-count"] == 1, "entry %r" % x)
        check(x["qom-path"] == "/machine/unattached/device[%d]" % i, "qom-path %r" % x)
        check(x["props"] == cpus[i]["props"], "props differ from query-cpus: %r" % x)


def test_balloon_netdev(env):
    vm = env.vm().start()
    c = vm.connect()
    # the manual's lines; no balloon device exists, so a clear error instead of a silent {}
    c.err("balloon", {"value": 2147483648}, cls="DeviceNotActive", desc_re="balloon")
    c.err("query-balloon", cls="DeviceNotActive", desc_re="balloon")
    # the manual's NIC hotplug lines with no tap0 on this host: one clear error each, nothing
    # is half added (tests/linux/test_net.py plugs a NIC into a real guest)
    c.err("netdev_add", {"id": "net-0", "ifname": "tap0"}, cls="GenericError",
          desc_re="tap 'tap0' does not exist")
    c.err("device_add", {"id": "net-0", "driver": "virtio-net-mmio", "addr": "0x0"},
          desc_re="Unknown netdev 'net-0'")
    c.err("netdev_del", {"id": "net-0"}, desc_re="Failed to find node with id='net-0'")
    c.err("netdev_add", {"id": "net-0"}, cls="GenericError", desc_re="ifname")
    check(status(c)["status"] == "running", "VM state changed")


def test_powerdown(env):
    vm = env.vm(append="probe=wait wait.secs=600 wait.kbd=poweroff").start()
    c = vm.connect()
    vm.wait_serial(r"^PROBE READY wait", timeout=30)
    check(c.cmd("system_powerdown") == {}, "system_powerdown return")
    check_event_shape(c.event("POWERDOWN"), "POWERDOWN")
    # a power-button press is not a power-off: the guest decides. This probe powers off once
    # it receives keyboard bytes (the i8042 Ctrl-Alt-Del way); with an ACPI power button it
    # sees nothing and keeps running.
    try:
        vm.wait_serial(r"^PROBE KBD ", timeout=15)
    except TestFailure:
        check(status(c)["status"] == "running", "VM not running after system_powerdown")
        print("     (no keyboard bytes reached the probe: power button not via the i8042)")
        return
    e = c.event("SHUTDOWN", timeout=30)
    check_event_shape(e, "SHUTDOWN", {"guest": True, "reason": "guest-shutdown"})
    check(vm.wait_exit(30) == 0, "bulkhead exit status %r after the guest powered off"
          % vm.proc.returncode)
    print("     (the probe got %s)" % " ".join(
        line.split()[-1] for line in vm.serial().splitlines() if line.startswith("PROBE KBD")))


def test_socket_file(env):
    vm = env.vm().start()
    st = os.lstat(vm.sock)
    check(stat.S_ISSOCK(st.st_mode), "%s is not a socket" % vm.sock)
    check(stat.S_IMODE(st.st_mode) == 0o600, "socket mode %o, want 600" % stat.S_IMODE(st.st_mode))
    check(st.st_uid == os.getuid(), "socket owner %d" % st.st_uid)
    bulkhead, probe = os.environ["BULKHEAD"], os.environ["PROBE"]

    def second(path, opt="-qmp"):
        spec = "unix:%s,server,nowait" % path if opt == "-qmp" else "unix:" + path
        return subprocess.run([bulkhead, "-kernel", probe, "-serial", "stdio", "-m", "256",
                               opt, spec, "-append", "probe=wait wait.secs=5"],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60)

    # a regular file is never replaced
    f = env.path("not-a-socket")
    with open(f, "w") as fh:
        fh.write("precious\n")
    r = second(f)
    check(r.returncode == 1, "bulkhead on a regular file: status %d, stderr %r"
          % (r.returncode, r.stderr[-500:]))
    check(f.encode() in r.stderr, "the error does not name the path: %r" % r.stderr[-500:])
    check(open(f).read() == "precious\n" and stat.S_ISREG(os.lstat(f).st_mode),
          "the regular file was touched")
    # a live socket (the first VM's) is not stale either; the first VM keeps answering
    r = second(vm.sock, "-api-channel")
    check(r.returncode == 1, "bulkhead on a live socket: status %d, stderr %r"
          % (r.returncode, r.stderr[-500:]))
    with vm.connect() as c:
        check(status(c)["status"] == "running", "first VM after the refused second one")
    # a directory is refused too
    d = env.path("adir")
    os.mkdir(d)
    r = second(d)
    check(r.returncode == 1 and os.path.isdir(d), "bulkhead on a directory: %d" % r.returncode)
    # a stale socket (bound, nobody listening) is replaced; -api-channel works like -qmp
    stale = env.path("stale.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(stale)
    s.close()
    vm2 = env.vm(sock=stale, qmp_opt="-api-channel").start()
    with vm2.connect() as c:
        check(status(c)["status"] == "running", "VM on a replaced stale socket")
        c.cmd("quit")
    check(vm2.wait_exit() == 0, "exit status after quit")
    check(not os.path.exists(stale), "the socket file is left behind after the VM ended")


def ram_vmflags(pid):
    """The VmFlags of each mapping of the core's guest RAM memfd, from /proc/PID/smaps."""
    flags, ram = [], False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                ram = "memfd:bulkhead-ram" in line
            elif line.startswith("VmFlags:") and ram:
                flags.append(line.split()[1:])
    return flags


def test_identity_dump(env):
    """-name and -uuid come back from query-name and query-uuid (QEMU's shapes: {} and the
    nil UUID when not given); -omit_vm_memory (StratoVirt) and dump-guest-core=off keep guest
    RAM out of core dumps (MADV_DONTDUMP: "dd" in the core's VmFlags), the default keeps it."""
    name = 'vm "one"\\ \u00e9t\u00e9'
    cases = [(["-name", name, "-uuid", "4F1E2D3C-ABCD-4ef0-9A8B-0123456789AB",
               "-omit_vm_memory"], {"name": name},
              "4f1e2d3c-abcd-4ef0-9a8b-0123456789ab", True),
             (["-machine", "microvm,dump-guest-core=off"], {},
              "00000000-0000-0000-0000-000000000000", True),
             ([], {}, "00000000-0000-0000-0000-000000000000", False)]
    for k, (extra, want_name, want_uuid, dontdump) in enumerate(cases):
        vm = env.vm(extra=extra).start()
        c = vm.connect()
        check(c.cmd("query-name") == want_name, "query-name with %r: %r" % (extra, c.cmd("query-name")))
        check(c.cmd("query-uuid") == {"UUID": want_uuid},
              "query-uuid with %r: %r" % (extra, c.cmd("query-uuid")))
        # query-name and query-uuid are qmpd's alone: only a running guest says the core has
        # its RAM mapped
        vm.wait_serial(r"^PROBE READY")
        flags = ram_vmflags(vm.core_pid())
        check(flags and all(("dd" in f) == dontdump for f in flags),
              "guest RAM VmFlags with %r: %r, want dd %s" % (extra, flags,
                                                             "set" if dontdump else "clear"))
        c.cmd("quit")
        check(vm.wait_exit() == 0, "exit status after quit")


if __name__ == "__main__":
    sys.exit(run_tests([test_greeting, test_negotiation, test_id_echo, test_query_version_commands,
                        test_stop_cont, test_cpus, test_balloon_netdev, test_powerdown,
                        test_socket_file, test_identity_dump]))
