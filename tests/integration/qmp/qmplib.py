"""QMP end-to-end test library: start a real bulkhead VM (a guest probe that stays alive or
uses hot-plugged disks), talk QMP to it over its real unix socket, and clean up every
process, socket and file afterwards. Standard library only.

Every wait has a deadline; a test that cannot make progress fails with the VM's serial
output and stderr attached instead of hanging."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DEFAULT_TIMEOUT = 20.0


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


# ---------------------------------------------------------------- processes


def proc_children(pid):
    """Direct children of pid, from /proc/*/stat (field 4 is the parent)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: split after the last ')'
        rest = st[st.rfind(")") + 2:].split()
        if len(rest) > 1 and int(rest[1]) == pid:
            out.append(int(d))
    return out


def proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def proc_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rfind(")") + 2:].split()[0] != "Z"


def proc_tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(proc_children(p))
    return out


def proc_pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def proc_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# ---------------------------------------------------------------- QMP client


class QMPClosed(TestFailure):
    pass


class QMP:
    """One QMP connection. Messages are parsed as a stream of JSON values (QEMU style), so
    the test does not depend on the server's line breaks; events that arrive while waiting
    for a reply are kept in self.events in arrival order."""

    def __init__(self, path, timeout=DEFAULT_TIMEOUT, greet=True):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        # a unix socket's connect fails with EAGAIN while the listen backlog is full: the
        # server is busy accepting others, so retry until the deadline
        dl = Deadline(timeout)
        while True:
            try:
                self.sock.connect(path)
                break
            except BlockingIOError:
                if dl.expired():
                    self.sock.close()
                    raise
                time.sleep(0.005)
        self.buf = b""
        self.events = []
        self.timeout = timeout
        self.greeting = self.recv() if greet else None
        self.next_id = 1

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def send(self, obj):
        self.send_raw(json.dumps(obj) + "\r\n")

    def getfd(self, name, fd):
        """QMP getfd: fd goes with the command (SCM_RIGHTS) and gets the name."""
        rid = "f%d" % self.next_id
        self.next_id += 1
        msg = json.dumps({"execute": "getfd", "arguments": {"fdname": name}, "id": rid})
        socket.send_fds(self.sock, [(msg + "\r\n").encode()], [fd])
        r = self.reply()
        check(r == {"return": {}, "id": rid}, "getfd %s: %r" % (name, r))

    def _parse_one(self):
        """One complete JSON value from the front of the buffer, or None."""
        text = self.buf.lstrip()
        if not text:
            self.buf = b""
            return None
        try:
            s = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise TestFailure("server sent invalid UTF-8: %r" % text[:200]) from e
        try:
            obj, end = json.JSONDecoder().raw_decode(s)
        except json.JSONDecodeError:
            return None
        self.buf = s[end:].encode()
        return obj

    def recv(self, timeout=None):
        """The next message (reply or event). Raises QMPClosed on EOF."""
        dl = Deadline(self.timeout if timeout is None else timeout)
        while True:
            obj = self._parse_one()
            if obj is not None:
                if not isinstance(obj, dict):
                    raise TestFailure("server sent a JSON value that is not an object: %r" % obj)
                return obj
            if dl.expired():
                raise TestFailure("no message from the server within the timeout; have %r"
                                  % self.buf[:300])
            self.sock.settimeout(max(0.01, dl.left()))
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                raise QMPClosed("connection closed by the server (pending %r)" % self.buf[:200])
            self.buf += data

    def reply(self, timeout=None):
        """The next reply; events before it go to self.events."""
        while True:
            m = self.recv(timeout)
            if "event" in m:
                self.events.append(m)
                continue
            return m

    def cmd_raw(self, execute, arguments=None, id=None, timeout=None):
        msg = {"execute": execute}
        if arguments is not None:
            msg["arguments"] = arguments
        if id is not None:
            msg["id"] = id
        self.send(msg)
        return self.reply(timeout)

    def cmd(self, execute, arguments=None, timeout=None):
        """Run a command that must succeed; returns its "return" value."""
        rid = "t%d" % self.next_id
        self.next_id += 1
        r = self.cmd_raw(execute, arguments, rid, timeout)
        check(r.get("id") == rid, "%s: reply id %r, sent %r: %r" % (execute, r.get("id"), rid, r))
        check("return" in r, "%s %s failed: %r" % (execute, json.dumps(arguments), r))
        return r["return"]

    def err(self, execute, arguments=None, cls=None, desc_re=None, timeout=None):
        """Run a command that must fail with error class cls; returns the desc."""
        rid = "e%d" % self.next_id
        self.next_id += 1
        r = self.cmd_raw(execute, arguments, rid, timeout)
        return expect_error(r, cls, desc_re, "%s %s" % (execute, json.dumps(arguments)), rid)

    def negotiate(self):
        r = self.cmd_raw("qmp_capabilities")
        check(r == {"return": {}}, "qmp_capabilities: %r" % (r,))
        return self

    def event(self, name, timeout=None):
        """Wait for event `name` (one already received counts); returns it."""
        dl = Deadline(self.timeout if timeout is None else timeout)
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name:
                    return self.events.pop(i)
            if dl.expired():
                raise TestFailure("no %s event within the timeout (events: %r)"
                                  % (name, self.events))
            m = self.recv(dl.left())
            check("event" in m, "unexpected reply while waiting for %s: %r" % (name, m))
            self.events.append(m)

    def expect_eof(self, timeout=None):
        """The server must close the connection; messages before that are returned."""
        got = []
        try:
            while True:
                got.append(self.recv(timeout))
        except QMPClosed:
            return got


def expect_error(r, cls, desc_re, what, rid=None):
    check("error" in r, "%s: expected an error, got %r" % (what, r))
    e = r["error"]
    check(isinstance(e, dict) and isinstance(e.get("class"), str) and isinstance(e.get("desc"), str),
          "%s: malformed error object %r" % (what, r))
    check(e["desc"].strip() != "", "%s: empty error desc" % what)
    if cls is not None:
        check(e["class"] == cls, "%s: error class %r, want %r (%r)" % (what, e["class"], cls, r))
    if desc_re is not None:
        check(re.search(desc_re, e["desc"], re.I),
              "%s: desc %r does not match /%s/" % (what, e["desc"], desc_re))
    if rid is not None:
        check(r.get("id") == rid, "%s: error reply id %r, sent %r" % (what, r.get("id"), rid))
    return e["desc"]


def check_event_shape(e, name, data=None):
    check(e.get("event") == name, "event %r, want %s" % (e, name))
    check(set(e) == {"event", "data", "timestamp"} or set(e) == {"event", "timestamp"},
          "%s event has keys %r" % (name, sorted(e)))
    ts = e["timestamp"]
    check(isinstance(ts, dict) and set(ts) == {"seconds", "microseconds"},
          "%s timestamp %r" % (name, ts))
    check(isinstance(ts["seconds"], int) and isinstance(ts["microseconds"], int)
          and 0 <= ts["microseconds"] < 1000000, "%s timestamp values %r" % (name, ts))
    # wall clock of the host (not a timing assertion: it catches a zero or a monotonic clock)
    check(abs(ts["seconds"] - time.time()) < 3600, "%s timestamp %r is not the wall clock"
          % (name, ts))
    if data is not None:
        check(e.get("data", {}) == data, "%s data %r, want %r" % (name, e.get("data"), data))


# ---------------------------------------------------------------- the VM


class VM:
    """A bulkhead process tree with a QMP socket in a private temporary directory."""

    def __init__(self, tmp, name="vm", smp=1, mem=256, append="probe=wait wait.secs=600",
                 extra=(), qmp_opt="-qmp", sock=None):
        self.tmp = tmp
        self.name = name
        self.sock = sock or os.path.join(tmp, name + ".sock")
        self.out = os.path.join(tmp, name + ".out")
        self.errf = os.path.join(tmp, name + ".err")
        bulkhead = os.environ["BULKHEAD"]
        probe = os.environ.get("PROBE", "")
        self.token = "qmp%d" % os.getpid()
        spec = "unix:%s,server,nowait" % self.sock if qmp_opt == "-qmp" else "unix:" + self.sock
        self.argv = [bulkhead, "-kernel", probe, "-serial", "stdio", "-smp", str(smp),
                     "-m", str(mem)] + list(extra) + [qmp_opt, spec,
                     "-append", "%s probe.token=%s" % (append, self.token)]
        if os.environ.get("QMP_TEST_SERVER") == "qemu":
            # dry runs of the test logic against QEMU's QMP (no guest output, no hotplug)
            self.argv = ["qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-S",
                         "-nodefaults", "-nographic", "-smp", str(smp), "-m", str(mem),
                         "-qmp", "unix:%s,server,nowait" % self.sock]
        self.proc = None
        self.clients = []

    def start(self, wait_socket=True, timeout=DEFAULT_TIMEOUT):
        with open(self.out, "wb") as o, open(self.errf, "wb") as e:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                         start_new_session=True)
        if wait_socket:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        """Until a connection gets the greeting (the supervisor creates the socket, qmpd
        answers it)."""
        dl = Deadline(timeout)
        last = None
        while not dl.expired():
            if self.proc.poll() is not None:
                raise TestFailure("bulkhead exited with %d before its QMP socket answered\n%s"
                                  % (self.proc.returncode, self.logs()))
            try:
                c = QMP(self.sock, timeout=max(0.5, dl.left()))
                c.close()
                return
            except (OSError, TestFailure) as ex:
                last = ex
            time.sleep(0.02)
        raise TestFailure("no QMP greeting on %s within %ss (%s)\n%s"
                          % (self.sock, timeout, last, self.logs()))

    def connect(self, negotiate=True, timeout=DEFAULT_TIMEOUT):
        c = QMP(self.sock, timeout=timeout)
        self.clients.append(c)
        return c.negotiate() if negotiate else c

    def serial(self):
        with open(self.out, "rb") as f:
            return f.read().decode("latin-1")

    def stderr(self):
        with open(self.errf, "rb") as f:
            return f.read().decode("latin-1")

    def logs(self):
        return ("---- %s command: %s\n---- serial:\n%s\n---- stderr:\n%s"
                % (self.name, " ".join(self.argv), self.serial()[-4000:], self.stderr()[-4000:]))

    def wait_serial(self, regex, timeout=DEFAULT_TIMEOUT, start=0):
        dl = Deadline(timeout)
        pat = re.compile(regex, re.M)
        while True:
            # only whole lines: "KEY=2227" must not match while "KEY=222752\n" is arriving
            ended = self.proc.poll() is not None
            text = self.serial()
            if not ended:
                text = text[:text.rfind("\n") + 1]
            m = pat.search(text, start)
            if m:
                return m
            if ended:
                raise TestFailure("VM ended (status %d) before serial line /%s/\n%s"
                                  % (self.proc.returncode, regex, self.logs()))
            if dl.expired():
                raise TestFailure("no serial line /%s/ within %ss\n%s" % (regex, timeout, self.logs()))
            time.sleep(0.05)

    def ticks(self):
        return len(re.findall(r"^PROBE TICK ", self.serial(), re.M))

    def wait_exit(self, timeout=DEFAULT_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("bulkhead still running %ss later\n%s" % (timeout, self.logs()))

    def children(self, comm):
        return [p for p in proc_children(self.proc.pid) if proc_comm(p) == comm]

    def core_pid(self):
        c = self.children("bulkhead-core")
        check(len(c) == 1, "expected one bulkhead-core child, found %r" % c)
        return c[0]

    def qmpd_pid(self, timeout=DEFAULT_TIMEOUT):
        dl = Deadline(timeout)
        while True:
            c = [p for p in self.children("bulkhead-qmpd") if proc_alive(p)]
            if len(c) == 1:
                return c[0]
            if dl.expired():
                raise TestFailure("expected one bulkhead-qmpd child of the supervisor, found %r" % c)
            time.sleep(0.05)

    def blk_workers(self):
        return sorted(p for p in self.children("bulkhead-blk") if proc_alive(p))

    def tree(self):
        return proc_tree(self.proc.pid) if self.proc and self.proc.poll() is None else []

    def kill(self):
        """Tear down whatever is left: the VM's own process group, then any stragglers."""
        for c in self.clients:
            c.close()
        if self.proc is None:
            return
        pids = self.tree()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------- running tests


class Env:
    """Per-test scratch directory and the VMs started in it; everything goes at the end."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="bh-qmp.")
        self.vms = []
        self.procs = []

    def vm(self, **kw):
        v = VM(self.tmp, name="vm%d" % len(self.vms), **kw)
        self.vms.append(v)
        return v

    def path(self, name):
        return os.path.join(self.tmp, name)

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for v in self.vms:
            v.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def passed_before():
    """The cases an earlier attempt of this command passed before its KVM test host died
    (scripts/kvm-host.sh's BULKHEAD_KVM_HOST_PROGRESS), and the file to add ours to."""
    path = os.environ.get("BULKHEAD_KVM_HOST_PROGRESS")
    if not path:
        return set(), None
    try:
        with open(path) as f:
            return set(f.read().split()), path
    except FileNotFoundError:
        return set(), path


def run_tests(tests, env_class=Env):
    """tests: list of functions taking an Env (or env_class). Prints one line per test;
    exit status. A case an earlier attempt passed before its test host died is not run
    again."""
    import sys
    import traceback
    only = sys.argv[1:]
    failed = 0
    done, progress = passed_before()
    for t in tests:
        name = t.__name__
        if only and name not in only:
            continue
        if name in done:
            print("ok   %s (passed in an earlier attempt)" % name, flush=True)
            continue
        env = env_class()
        t0 = time.monotonic()
        try:
            t(env)
            print("ok   %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
            if progress:
                with open(progress, "a") as f:
                    f.write(name + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        except Exception as ex:
            failed += 1
            print("FAIL %s: %s" % (name, ex), flush=True)
            if not isinstance(ex, TestFailure):
                traceback.print_exc()
            for v in env.vms:
                if v.proc is not None:
                    print(v.logs(), flush=True)
        finally:
            env.cleanup()
    print("%d failed" % failed)
    return 1 if failed else 0
