"""Linux end-to-end library: boot the stock Debian cloud kernel and the busybox initramfs of
scripts/guest-assets.sh under a real bulkhead, with a per-test guest script (/test.sh,
appended to the initramfs as a second cpio archive), and check what the guest prints, how
bulkhead ends and what reached the disk images. Builds on tests/integration/qmp/qmplib.py
(processes, QMP client, cleanup). Standard library only.

Every VM's stderr is checked when its test ends: a worker killed by seccomp, or a worker
restart the test did not cause, fails the test even when the guest did not notice."""

import gzip
import os
import re
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "qmp"))
import qmplib  # noqa: E402
from qmplib import Deadline, TestFailure, check  # noqa: E402,F401

ASSETS = os.environ.get("ASSETS_DIR") or os.path.join(HERE, "..", "..", "assets")
# Nested (TCG) guests boot in 10-30 s; a wait that needs more than this is a hang.
BOOT_TIMEOUT = float(os.environ.get("LINUX_BOOT_TIMEOUT", "240"))
MiB = 1 << 20

# The guest prints these (scripts/guest-assets.sh /init and the test scripts).
INIT_OK = r"^BULKHEAD-GUEST-INIT-OK"
MODULES_OK = r"^BULKHEAD-MODULES-OK"


def cpio_newc(files):
    """A newc cpio archive: files maps guest path -> (mode, bytes); directories are made
    for every parent."""
    out = bytearray()
    ino = [1000]

    def entry(name, mode, data):
        ino[0] += 1
        hdr = "070701" + "".join("%08X" % v for v in (
            ino[0], mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0))
        out.extend(hdr.encode() + name.encode() + b"\0")
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))

    dirs = set()
    for path in files:
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    for d in sorted(dirs):
        entry(d, 0o040755, b"")
    for path, (mode, data) in sorted(files.items()):
        entry(path.strip("/"), 0o100000 | mode, data)
    entry("TRAILER!!!", 0, b"")
    return bytes(out)


def guest_initrd(path, script, files=None):
    """The default initramfs plus /test.sh (a busybox sh script) and extra files."""
    extra = {"test.sh": (0o755, ("#!/bin/sh\n" + script).encode())}
    for name, data in (files or {}).items():
        extra[name] = (0o644, data if isinstance(data, bytes) else data.encode())
    with open(os.path.join(ASSETS, "initrd.gz"), "rb") as f:
        base = f.read()
    with open(path, "wb") as f:
        f.write(base)
        f.write(gzip.compress(cpio_newc(extra), 6, mtime=0))
    return path


class LinuxVM(qmplib.VM):
    """bulkhead booting the cloud kernel with a test script; QMP socket unless qmp=False."""

    def __init__(self, tmp, name, script, smp=1, mem=256, kernel="vmlinuz", append="",
                 extra=(), qmp=True, modules=True, files=None):
        super().__init__(tmp, name=name)
        initrd = guest_initrd(os.path.join(tmp, name + ".initrd"), script, files)
        cmdline = "console=ttyS0 panic=-1"
        if modules:
            cmdline += " bulkhead.modules=1"
        if append:
            cmdline += " " + append
        self.argv = [os.environ["BULKHEAD"], "-name", name, "-kernel",
                     os.path.join(ASSETS, kernel), "-initrd", initrd, "-serial", "stdio",
                     "-smp", str(smp), "-m", str(mem)] + list(extra)
        if qmp:
            self.argv += ["-qmp", "unix:%s,server,nowait" % self.sock]
        self.argv += ["-append", cmdline]
        self.qmp = qmp
        self.stdin = None

    def start(self, stdin=False, timeout=BOOT_TIMEOUT):
        """stdin=True: the guest console's input is a pipe (self.type_line writes to it)."""
        with open(self.out, "wb") as o, open(self.errf, "wb") as e:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=o, stderr=e, start_new_session=True)
        self.stdin = self.proc.stdin
        if self.qmp:
            self.wait_ready(timeout)
        return self

    def type_line(self, line):
        self.stdin.write((line + "\n").encode())
        self.stdin.flush()

    def wait_serial(self, regex, timeout=BOOT_TIMEOUT, start=0):
        return super().wait_serial(regex, timeout, start)

    def wait_exit(self, timeout=BOOT_TIMEOUT):
        return super().wait_exit(timeout)

    def serial(self):
        # the guest's console is a terminal: CR LF line ends
        return super().serial().replace("\r\n", "\n")

    def test_exit(self, timeout=BOOT_TIMEOUT):
        """Wait for the guest script's end; its status must be 0."""
        m = self.wait_serial(r"^BULKHEAD-TEST-EXIT (\d+)", timeout)
        check(m.group(1) == "0", "guest test script failed (status %s)\n%s"
              % (m.group(1), self.logs()))

    def value(self, key, timeout=BOOT_TIMEOUT):
        """The guest's "KEY=value" line (printed by its script)."""
        return self.wait_serial(r"^%s=(.*)$" % re.escape(key), timeout).group(1).strip()

    def value_or_stop(self, key, timeout, what):
        """value(), and when it does not come: bulkhead is stopped (SIGTERM) before the
        failure is reported, so that its log holds what the core and the workers say as they
        end (counters, connections still open): a hang's report then shows where it stood.
        what names the wait in the report (a callable: called when it failed)."""
        try:
            return self.value(key, timeout)
        except TestFailure:
            pass
        if callable(what):
            what = what()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                pass
        raise TestFailure("%s: no %s= line within %ss; bulkhead was stopped for its log\n%s"
                          % (what, key, timeout, self.logs()))

    def expect_end(self, status, stderr_re, timeout=BOOT_TIMEOUT):
        rc = self.wait_exit(timeout)
        check(rc == status, "bulkhead exited with %d, want %d\n%s" % (rc, status, self.logs()))
        if stderr_re:
            check(re.search(stderr_re, self.stderr()),
                  "bulkhead's stderr does not say /%s/\n%s" % (stderr_re, self.logs()))

    def check_clean(self, restarts_expected=False):
        """No process was killed by seccomp; no worker restarted unless the test killed it."""
        err = self.stderr()
        bad = re.findall(r"^.*killed by seccomp.*$", err, re.M)
        check(not bad, "%s: sandbox kills: %s\n%s" % (self.name, bad, self.logs()))
        if not restarts_expected:
            r = re.findall(r"^.*restarting it.*$", err, re.M)
            check(not r, "%s: unexpected worker restarts: %s\n%s" % (self.name, r, self.logs()))


class Env(qmplib.Env):
    def __init__(self):
        super().__init__()
        self.restarts_expected = False
        self.at_end = []    # run once the VMs are gone: removing what a test made (taps)

    def release(self):
        """Stop the VMs and undo what the test made; the logs stay until cleanup."""
        for v in self.vms:
            v.kill()
        while self.at_end:
            self.at_end.pop()()

    def cleanup(self):
        self.release()
        super().cleanup()

    def linux(self, script, **kw):
        v = LinuxVM(self.tmp, "vm%d" % len(self.vms), script, **kw)
        self.vms.append(v)
        return v

    def image(self, name, size, pattern=True):
        """A raw image of size bytes; with pattern, 4 KiB block k is filled with a line
        naming k (so the guest and the host can both tell which block is where)."""
        p = self.path(name)
        with open(p, "wb") as f:
            if pattern:
                for k in range(size // 4096):
                    f.write(block_pattern(k))
            else:
                f.truncate(size)
        return p


def block_pattern(k):
    line = ("block %08d\n" % k).encode()
    return (line * (4096 // len(line) + 1))[:4096]


GUEST_COMPLAINED = r"Kernel panic|BUG:|Oops|double fault"


def emulation_fault(env):
    """Why a guest of env failed, if the nested test host's emulation is the likely cause, or
    None. There the vCPU is AMD-V emulated by QEMU TCG, which now and then corrupts a guest's
    CPU state under many interrupts (a trivial probe guest has triple-faulted that way while
    idle) or stops a vCPU for good (CI saw a 4-vCPU guest fall silent in ACPI set-up, its VM
    alive, its test host too). Two shapes count, both without a word from the guest's kernel,
    which says so when it meets a fault or a lockup itself: a triple fault, and a guest that
    went silent before its init ran while its VM kept running."""
    if os.environ.get("BULKHEAD_KVM_HOST_INSIDE") != "1":
        return None
    for v in env.vms:
        if not isinstance(v, LinuxVM) or v.proc is None or \
                re.search(GUEST_COMPLAINED, v.serial()):
            continue
        if "triple fault (KVM_EXIT_SHUTDOWN)" in v.stderr():
            return "the guest triple-faulted with no kernel message"
        if v.proc.poll() is None and not re.search(INIT_OK, v.serial(), re.M):
            return "the guest fell silent before its init ran, with no kernel message"
    return None


EMULATION_RERUNS = 2


def run_tests(tests):
    """qmplib.run_tests with the stderr checks of LinuxVM.check_clean after each test. A case
    whose guest met an emulation fault of the nested test host (emulation_fault) runs again in
    a fresh Env, saying so, up to EMULATION_RERUNS times (CI saw two such faults in a row in
    the most interrupt-heavy case); any other failure, or one more, is the case's."""
    def checked(t, env):
        t(env)
        for v in env.vms:
            if isinstance(v, LinuxVM) and v.proc is not None:
                v.check_clean(getattr(env, "restarts_expected", False))

    def wrap(t):
        def run(env):
            for rerun in range(EMULATION_RERUNS + 1):
                try:
                    checked(t, env)
                    return
                except Exception as ex:
                    why = emulation_fault(env)
                    if rerun == EMULATION_RERUNS or not why:
                        raise
                    print("RETRY %s (%d of %d): %s; %s, an emulation fault of the nested "
                          "test host: running it once more\n%s"
                          % (t.__name__, rerun + 1, EMULATION_RERUNS, ex, why,
                             "\n".join(v.logs() for v in env.vms if v.proc is not None)),
                          flush=True)
                finally:
                    if rerun:
                        env.cleanup()
                if not rerun:
                    env.release()
                env = Env()
        run.__name__ = t.__name__
        return run
    return qmplib.run_tests([wrap(t) for t in tests], Env)
