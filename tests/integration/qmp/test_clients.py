#!/usr/bin/env python3
"""Clients we did not write: `socat - unix-connect:PATH` and `ncat -U PATH`, fed the lines of
the StratoVirt QMP manual (/work/shared/reference/003_*, 004_*) exactly as a person would
type them, one per line, and every line they print compared with the manual's answer.

One deliberate difference from the manual: StratoVirt accepts commands right after the
greeting, bulkhead (like QEMU) first wants {"execute":"qmp_capabilities"} (issue 4), so the
session starts with that line."""

import json
import os
import queue
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmplib import Deadline, TestFailure, check, check_event_shape, run_tests  # noqa: E402
from test_hotplug import make_image  # noqa: E402

# (line typed, list of expected answers: ("return", value) / ("event", name, data) /
#  ("error", class) / ("shape", fn)) -- events and the reply may come in either order, as
# the two manuals themselves show them differently.
QUERY_CPUS_KEYS = {"CPU", "arch", "current", "halted", "props", "qom_path", "thread_id"}
HOTPLUGGABLE_KEYS = {"props", "qom-path", "type", "vcpus-count"}


def cpus_like_manual(v):
    return (isinstance(v, list) and len(v) == 2 and all(set(x) == QUERY_CPUS_KEYS for x in v)
            and [x["CPU"] for x in v] == [0, 1] and all(x["arch"] == "x86" for x in v))


def hotpluggable_like_manual(v):
    return (isinstance(v, list) and len(v) == 2 and all(set(x) == HOTPLUGGABLE_KEYS for x in v)
            and all(x["type"] == "host-x86-cpu" and x["vcpus-count"] == 1 for x in v))


def session(image):
    blockdev = ('{"execute": "blockdev-add", "arguments": {"node-name": "drive-0", "file": '
                '{"driver": "file", "filename": "%s"}, "cache": {"direct": true}, '
                '"read-only": false}}' % image)
    return [
        ('{"execute":"qmp_capabilities"}', [("return", {})]),
        ('{ "execute": "query-status" }',
         [("return", {"running": True, "singlestep": False, "status": "running"})]),
        ('{ "execute": "query-cpus" }', [("shape", cpus_like_manual)]),
        ('{ "execute": "query-hotpluggable-cpus" }', [("shape", hotpluggable_like_manual)]),
        ('{"execute":"stop"}', [("event", "STOP", {}), ("return", {})]),
        ('{"execute":"query-status"}', [("shape", lambda v: isinstance(v, dict)
                                         and v.get("status") == "paused"
                                         and v.get("singlestep") is False)]),
        ('{"execute":"cont"}', [("event", "RESUME", {}), ("return", {})]),
        (blockdev, [("return", {})]),
        ('{"execute": "device_add", "arguments": {"id": "drive-0", "driver": "virtio-blk-mmio", '
         '"addr": "0x1"}}', [("return", {})]),
        ('{"execute": "device_del", "arguments": {"id": "drive-0"}}',
         [("event", "DEVICE_DELETED", None), ("return", {})]),
        # no tap0 on this host and no balloon device yet: clear errors instead of the manual's {}
        ('{"execute":"netdev_add", "arguments":{"id":"net-0", "ifname":"tap0"}}',
         [("error", "GenericError")]),
        ('{"execute": "balloon", "arguments": {"value": 2147483648}}',
         [("error", "DeviceNotActive")]),
        ('{"execute": "query-balloon"}', [("error", "DeviceNotActive")]),
        ('{"execute":"quit"}',
         [("event", "SHUTDOWN", {"guest": False, "reason": "host-qmp-quit"}), ("return", {})]),
    ]


class LineTool:
    """An interactive tool on pipes; every line it prints must be one whole JSON object."""

    def __init__(self, env, argv):
        self.argv = argv
        self.p = env.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line)
        self.q.put(None)

    def type(self, line):
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def line(self, timeout=20):
        try:
            raw = self.q.get(timeout=timeout)
        except queue.Empty:
            raise TestFailure("%s printed nothing within %ss" % (self.argv[0], timeout))
        if raw is None:
            raise TestFailure("%s reached EOF" % self.argv[0])
        try:
            obj = json.loads(raw)
        except ValueError:
            raise TestFailure("%s printed a line that is not one JSON value: %r"
                              % (self.argv[0], raw))
        check(isinstance(obj, dict), "%s printed %r" % (self.argv[0], raw))
        return obj


def match(obj, want):
    kind = want[0]
    if kind == "event":
        if obj.get("event") != want[1]:
            return False
        check_event_shape(obj, want[1], want[2])
        return True
    if "event" in obj:
        return False
    if kind == "return":
        check(obj == {"return": want[1]}, "answer %r, the manual shows %r" % (obj, {"return": want[1]}))
    elif kind == "error":
        check(set(obj) == {"error"} and obj["error"].get("class") == want[1]
              and obj["error"].get("desc"), "answer %r, want a %s error" % (obj, want[1]))
    else:
        check(set(obj) == {"return"} and want[1](obj["return"]),
              "answer %r is not shaped like the manual's" % obj)
    return True


def drive(env, argv_of_sock, name):
    for tool in (argv_of_sock("x")[0],):
        if not shutil.which(tool):
            raise TestFailure("%s is not installed" % tool)
    img = env.path("hp.img")
    make_image(img, 0, size=1 << 16)
    vm = env.vm(smp=2).start()
    t = LineTool(env, argv_of_sock(vm.sock))
    g = t.line()
    check(set(g) == {"QMP"} and (g["QMP"]["capabilities"] == [] or os.environ.get("QMP_TEST_SERVER")), "%s greeting %r" % (name, g))
    for typed, answers in session(img):
        t.type(typed)
        pending = list(answers)
        while pending:
            obj = t.line()
            for w in pending:
                if match(obj, w):
                    pending.remove(w)
                    break
            else:
                raise TestFailure("%s: after %s got unexpected %r (still waiting for %r)"
                                  % (name, typed, obj, pending))
    # quit: the server hangs up; the person types ^D; the tool ends
    t.p.stdin.close()
    dl = Deadline(20)
    try:
        while t.q.get(timeout=max(0.1, dl.left())) is not None:
            pass
    except queue.Empty:
        raise TestFailure("%s kept its output open after quit" % name)
    try:
        rc = t.p.wait(20)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s did not exit after quit" % name)
    check(rc == 0, "%s exit status %d: %r" % (name, rc, t.p.stderr.read()))
    check(vm.wait_exit() == 0, "bulkhead exit status %r" % vm.proc.returncode)


def test_socat(env):
    drive(env, lambda s: ["socat", "-", "unix-connect:" + s], "socat")


def test_ncat(env):
    drive(env, lambda s: ["ncat", "-U", s], "ncat")


if __name__ == "__main__":
    sys.exit(run_tests([test_socat, test_ncat]))
