#!/usr/bin/env python3
"""The malformed-input matrix against the real qmpd of a running VM: invalid JSON, values
that are not objects, bad request objects, unknown commands, missing/extra/ill-typed
arguments, over-long strings, framing (several objects per write, one object byte by byte),
oversized messages (connection closed, server alive), deep nesting, a client that never reads
its replies (the others stay served, qmpd's memory stays bounded) and 64 clients at once.
After every bad input the same connection must still answer a good command."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmplib import (QMP, QMPClosed, TestFailure, check, check_event_shape,  # noqa: E402
                    expect_error, proc_rss_kib, run_tests)


def still_usable(c, what):
    """Drain error replies for the bad input, then a tagged query-status must answer."""
    c.send({"execute": "query-status", "id": "alive"})
    while True:
        try:
            m = c.reply(timeout=10)
        except QMPClosed:
            raise TestFailure("%s: the server closed the connection" % what)
        if m.get("id") == "alive":
            check(m.get("return", {}).get("status") == "running", "%s: then %r" % (what, m))
            return
        expect_error(m, "GenericError", None, what)


def bad_input(c, data, what, cls="GenericError", desc_re=None):
    """data must draw at least one error reply and leave the connection usable."""
    c.send_raw(data)
    m = c.reply(timeout=10)
    expect_error(m, cls, desc_re, what)
    still_usable(c, what)


def test_invalid_json(env):
    vm = env.vm().start()
    c = vm.connect()
    for data in (b'{"execute":}\n', b'{"execute": "query-status",}\n', b"]\n", b"}\n",
                 b'{"execute" "query-status"}\n', b"nonsense\n", b'{"a":tru}\n',
                 b'{"execute":"query-status", "id": 01}\n', b'{"execute":"\\q"}\n',
                 b"\x00\x01\x02{}\n"):
        bad_input(c, data, "invalid JSON %r" % data)
    # invalid UTF-8 in a string: refused either by the parser or as an unknown command, and
    # the reply itself must be valid UTF-8 (QMP.recv checks)
    bad_input(c, b'{"execute":"query-\xff\xfestatus"}\n', "invalid UTF-8", cls=None)
    # the same before negotiation
    u = vm.connect(negotiate=False)
    u.send_raw(b'{"execute":}\n')
    expect_error(u.reply(10), "GenericError", None, "invalid JSON before negotiation")
    u.negotiate()
    still_usable(u, "negotiation after invalid JSON")


def test_not_objects(env):
    vm = env.vm().start()
    c = vm.connect()
    for data in (b"[1, 2]\n", b"42\n", b'"query-status"\n', b"null\n", b"true\n", b"[]\n",
                 b'[{"execute":"query-status"}]\n'):
        bad_input(c, data, "non-object %r" % data)
    for obj, what in ((b"{}", "empty object"), (b'{"foo":1}', "no execute"),
                      (b'{"execute":42}', "execute not a string"),
                      (b'{"execute":null}', "execute null"),
                      (b'{"execute":["stop"]}', "execute an array"),
                      (b'{"execute":"query-status","arguments":[]}', "arguments an array"),
                      (b'{"execute":"query-status","arguments":"x"}', "arguments a string"),
                      (b'{"execute":"query-status","bogus-key":1}', "unknown top-level key")):
        bad_input(c, obj + b"\n", what)


def test_commands_and_arguments(env):
    vm = env.vm().start()
    c = vm.connect()
    c.err("no-such-command", cls="CommandNotFound", desc_re="no-such-command")
    c.err("QUERY-STATUS", cls="CommandNotFound")
    c.err("query-status ", cls="CommandNotFound")
    c.err("", cls=None)
    cases = [
        # (command, arguments, argument the error must name)
        ("blockdev-add", {}, "node-name"),
        ("blockdev-add", {"node-name": "d"}, "file"),
        ("blockdev-add", {"node-name": "d", "file": {"driver": "file"}}, "filename"),
        ("blockdev-add", {"node-name": 5, "file": {"driver": "file", "filename": "/x"}},
         "node-name"),
        ("blockdev-add", {"node-name": "d", "file": "/x"}, "file"),
        ("blockdev-add", {"node-name": "d", "file": {"driver": "file", "filename": "/x"},
                          "read-only": "yes"}, "read-only"),
        ("blockdev-add", {"node-name": "d", "file": {"driver": "file", "filename": "/x"},
                          "cache": {"direct": 1}}, "direct"),
        ("blockdev-add", {"node-name": "d", "file": {"driver": "file", "filename": "/x",
                                                     "zz-extra": 1}}, "zz-extra"),
        ("blockdev-del", {}, "node-name"),
        ("device_add", {"driver": "virtio-blk-mmio", "addr": "0x1"}, "id"),
        ("device_add", {"id": "d"}, "driver"),
        ("device_add", {"id": "d", "driver": "virtio-blk-mmio", "addr": 1}, "addr"),
        ("device_add", {"id": ["d"], "driver": "virtio-blk-mmio", "addr": "0x1"}, "id"),
        ("device_del", {}, "id"),
        ("device_del", {"id": 5}, "id"),
        ("device_del", {"id": None}, "id"),
        ("device_del", {"id": "d", "zz-extra": True}, "zz-extra"),
        ("netdev_add", {"ifname": "tap0"}, "id"),
        ("netdev_del", {"id": {}}, "id"),
        ("balloon", {}, "value"),
        ("balloon", {"value": "2G"}, "value"),
        ("balloon", {"value": 1.5}, "value"),
        ("query-status", {"zz-extra": 1}, "zz-extra"),
        ("stop", {"zz-extra": 1}, "zz-extra"),
        ("quit", {"zz-extra": 1}, "zz-extra"),
    ]
    for cmd, args, name in cases:
        c.err(cmd, args, cls="GenericError", desc_re=name)
    # strings longer than the internal fields are refused, not truncated
    c.err("device_del", {"id": "x" * 100}, cls="GenericError")
    c.err("blockdev-add", {"node-name": "n" * 100, "file": {"driver": "file", "filename": "/x"}},
          cls="GenericError")
    c.err("blockdev-add", {"node-name": "d", "file": {"driver": "file", "filename": "/" + "p" * 5000}},
          cls="GenericError")
    # \u0000 cannot become a C string: refused (QEMU's parser refuses it too, as a parse
    # error without the id)
    c.send({"execute": "device_del", "arguments": {"id": "a\u0000b"}, "id": "nul"})
    expect_error(c.reply(), "GenericError", None, "a NUL inside a string")
    still_usable(c, "after a NUL inside a string")
    # none of that changed anything
    check(c.cmd("query-status")["status"] == "running", "VM state changed")
    check(c.events == [], "events after refused commands: %r" % c.events)


def test_framing(env):
    vm = env.vm().start()
    c = vm.connect()
    # several objects in one write, no separators: replies in order with their ids
    c.send_raw(b'{"execute":"query-status","id":1}{"execute":"query-version","id":2}'
               b'{"execute":"no-such","id":3} {"execute":"query-status","id":4}\r\n')
    got = [c.reply(10) for _ in range(4)]
    check([m.get("id") for m in got] == [1, 2, 3, 4], "ids out of order: %r" % got)
    check("return" in got[0] and "return" in got[1] and "error" in got[2] and "return" in got[3],
          "replies %r" % got)
    # one object split across many writes, byte by byte
    msg = b'{ "execute" : "query-status", "id" : {"split": [1, 2, "}"]} }'
    for b in msg:
        c.send_raw(bytes([b]))
        time.sleep(0.002)
    r = c.reply(10)
    check(r.get("id") == {"split": [1, 2, "}"]} and "return" in r, "byte-by-byte: %r" % r)
    # a good request may follow a bad one inside the same write
    c.send_raw(b'{"execute":}\n{"execute":"query-status","id":"after"}\n')
    while True:
        m = c.reply(10)
        if m.get("id") == "after":
            check("return" in m, "request after a bad one in the same write: %r" % m)
            break
        expect_error(m, "GenericError", None, "bad object before a good one")
    # a big but reasonable request (16 KiB id) is fine
    big = "b" * 16384
    r = c.cmd_raw("query-status", id=big)
    check(r.get("id") == big, "16 KiB id not echoed")


def test_oversized(env):
    vm = env.vm().start()
    qmpd = vm.qmpd_pid()
    for payload in (b'{"execute":"query-status","id":"' + b"x" * (4 << 20) + b'"}\n',
                    b"{" + b" " * (4 << 20),
                    b'{"execute":"query-status","arguments":{' + b'"k":1,' * 1000000):
        c = vm.connect()
        try:
            c.sock.settimeout(20)
            c.send_raw(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass   # closed while we were still sending: fine
        got = c.expect_eof(timeout=20)
        check(all("error" in m for m in got), "oversized message answered %r" % got)
        c.close()
        # the server is alive and others are served
        with vm.connect() as d:
            check(d.cmd("query-status")["status"] == "running", "server after an oversized message")
    check(vm.qmpd_pid() == qmpd, "qmpd restarted: it died on an oversized message")
    check(proc_rss_kib(qmpd) < 64 * 1024, "qmpd RSS %d KiB after oversized input"
          % proc_rss_kib(qmpd))


def test_nesting(env):
    vm = env.vm().start()
    qmpd = vm.qmpd_pid()
    c = vm.connect()
    nest = [[[[[[[[[["deep"]]]]]]]]]]
    r = c.cmd_raw("query-status", id=nest)
    check(r.get("id") == nest, "depth-10 id not echoed: %r" % r)
    # QEMU caps nesting at 1024; this far below it either answer is fine, as long as it is right
    for depth in (100, 500):   # Python's json recursion limit is near 1000
        deep = 1
        for _ in range(depth):
            deep = [deep]
        r = c.cmd_raw("query-status", id=deep, timeout=10)
        if "error" in r:
            expect_error(r, "GenericError", None, "nesting depth %d" % depth)
            still_usable(c, "after nesting depth %d" % depth)
        else:
            check(r.get("id") == deep, "depth-%d id not echoed" % depth)
    # far deeper than any sane cap, still well under any size cap: an error, and the
    # connection stays usable (a recursive parser without a cap would overflow its stack)
    for opener, closer, depth in ((b"[", b"]", 10000), (b'{"a":', b"}", 3000)):
        data = b'{"execute":"query-status","id":' + opener * depth + b"1" + closer * depth + b"}\n"
        c.send_raw(data)
        expect_error(c.reply(10), "GenericError", None, "nesting depth %d of %r" % (depth, opener))
        still_usable(c, "after nesting depth %d of %r" % (depth, opener))
    check(vm.qmpd_pid() == qmpd, "qmpd restarted: it died on deep nesting")


def test_flood(env):
    """One client pushes commands and never reads; others must stay served, and qmpd may
    close the flooder but never buffer without bound."""
    vm = env.vm().start()
    qmpd = vm.qmpd_pid()
    rss0 = proc_rss_kib(qmpd)
    f = vm.connect()
    f.sock.setblocking(False)
    state = {"sent": 0, "closed": False, "stop": False}

    def flood():
        chunk = b'{"execute":"query-cpus","id":"flood-with-a-long-id-to-make-replies-big"}\n' * 256
        quiet_since = None
        while not state["stop"]:
            try:
                state["sent"] += f.sock.send(chunk)
                quiet_since = None
            except BlockingIOError:
                # the server stopped reading us: keep pushing now and then until told to stop
                quiet_since = quiet_since or time.monotonic()
                time.sleep(0.01)
            except OSError:
                state["closed"] = True
                return
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        time.sleep(1)
        other = vm.connect(timeout=10)
        for i in range(50):
            r = other.cmd_raw("query-status", id=i, timeout=10)
            check(r.get("id") == i and r["return"]["status"] == "running",
                  "other client during the flood: %r" % r)
        other.cmd("stop")
        check_event_shape(other.event("STOP"), "STOP", {})
        other.cmd("cont")
        other.event("RESUME")
        # let the flooder run into whatever bound the server has
        time.sleep(3)
        rss = proc_rss_kib(qmpd)
    finally:
        state["stop"] = True
        t.join(10)
    check(state["sent"] > 256 << 10, "the flooder only got %d bytes out" % state["sent"])
    check(rss < rss0 + 32 * 1024, "qmpd grew from %d to %d KiB under a flood of %d bytes"
          % (rss0, rss, state["sent"]))
    f.close()
    with vm.connect() as d:
        check(d.cmd("query-status")["status"] == "running", "server after the flood")
    check(vm.qmpd_pid() == qmpd, "qmpd restarted during the flood")
    print("     (flooder pushed %d KiB, %s; qmpd RSS %d -> %d KiB)"
          % (state["sent"] >> 10, "closed by the server" if state["closed"] else "still open",
             rss0, rss))


def test_64_clients(env):
    vm = env.vm().start()
    clients = []
    for i in range(64):
        clients.append(QMP(vm.sock, timeout=20, greet=False))
    vm.clients.extend(clients)
    for c in clients:
        c.greeting = c.recv()
        check("QMP" in c.greeting, "greeting %r" % c.greeting)
    for i, c in enumerate(clients):
        c.send({"execute": "qmp_capabilities", "id": "cap%d" % i})
    for i, c in enumerate(clients):
        check(c.reply() == {"return": {}, "id": "cap%d" % i}, "client %d negotiation" % i)
    for i, c in enumerate(clients):
        c.send({"execute": "query-status", "id": i})
    for i, c in enumerate(clients):
        r = c.reply()
        check(r.get("id") == i and r["return"]["status"] == "running", "client %d: %r" % (i, r))
    clients[17].cmd("stop")
    for i, c in enumerate(clients):
        check_event_shape(c.event("STOP"), "STOP", {})
    clients[42].cmd("cont")
    for c in clients:
        c.event("RESUME")
    for c in clients[:32]:
        c.close()
    for i, c in enumerate(clients[32:]):
        r = c.cmd_raw("query-status", id=i)
        check(r.get("id") == i, "client %d after half of them left: %r" % (i + 32, r))
    # and a fresh one still gets in
    with vm.connect() as d:
        check(d.cmd("query-status")["status"] == "running", "new client after 64")


def test_hangups(env):
    """Clients that vanish mid-request or mid-message do not disturb the server."""
    vm = env.vm().start()
    qmpd = vm.qmpd_pid()
    for data in (b'{"execute":"query-cpus"}', b'{"execute":"query-st', b"", b'{"execute":"stop"'):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(vm.sock)
        s.sendall(b'{"execute":"qmp_capabilities"}' + data)
        s.close()
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(vm.sock)
        s.close()
    with vm.connect() as d:
        check(d.cmd("query-status")["status"] == "running", "server after hang-ups")
    check(vm.qmpd_pid() == qmpd, "qmpd restarted")


if __name__ == "__main__":
    sys.exit(run_tests([test_invalid_json, test_not_objects, test_commands_and_arguments,
                        test_framing, test_oversized, test_nesting, test_flood, test_64_clients,
                        test_hangups]))
