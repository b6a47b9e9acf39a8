#!/usr/bin/env python3
"""Suite 'linux', vsock: the stock kernel's virtio-vsock driver (vmw_vsock_virtio_transport) and
socat in the guest against bulkhead-vsock in its two modes: unix-socket mode (-device
vsock,uds-path=), the host side being plain unix sockets (the Firecracker / Cloud Hypervisor
scheme), and kernel mode (-device vsock without uds-path: the test host's vhost_vsock carries
the data, the host side is AF_VSOCK).

  vsock_host_to_guest   CONNECT <port> on the VM's socket, "OK <n>", 100 MiB that the guest
                   hashes and answers after the host's half-close; a host CONNECT to a port
                   nobody listens on is closed; the VM's socket is gone once the VM is
  vsock_parallel   64 such connections at once, each hashed right
  vsock_guest_to_host   100 MiB to a listener at PATH_<port>, intact; a guest connect to a host
                   port with no listener is refused
  (three cases, each its own VM: a guest the nested test host's emulation faults under the
  interrupts of a long stream is rerun for that stream alone)
  vsock_restart    bulkhead-vsock SIGKILLed with a connection open and another streaming
                   host -> guest: the host ends see both fail, the guest's sockets are reset
                   (VIRTIO_VSOCK_EVENT_TRANSPORT_RESET: the idle socat fails; the streaming
                   one may read an RST of the new worker as its end first), the supervisor
                   restarts the worker and new connections work both ways
  vsock_kernel     kernel mode: the host connects to (CID, port) with AF_VSOCK, 100 MiB hashed
                   by the guest; the guest sends 100 MiB to a host AF_VSOCK listener; a second
                   VM asking for the same CID is refused with one line; after a SIGKILL of the
                   worker the host's open connection is reset, so is the guest's, and new
                   connections work both ways on a fresh /dev/vhost-vsock
  vsock_external   -device vhost-user-vsock-device,chardev= to a bulkhead-vsock the test starts by
                   hand: the guest reaches the host through it; bulkhead spawns no worker
  vsock_errors     a CID out of range, vhostfd= with uds-path=, a vhostfd that is no
                   /dev/vhost-vsock, a second vsock, uds-path in a directory that does not
                   exist: one clear line each, exit status 2 (command line) or 1 (host refuses)
"""

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, Deadline, check, run_tests  # noqa: E402

CID = 3
XFER = 32 * MiB
BIG = 100 * MiB     # the streams of the issue, once each way per mode
PAR, PAR_XFER = 64, 512 * 1024

# The guest's listeners: 1234 answers a connection's md5 once the host half-closes it (socat's
# default backlog of 5 would refuse most of PAR connections made at once); 1235
# holds one connection open and says how it ended; 1236 swallows one stream and says how it
# ended.
PRELUDE = r"""
dmesg -n 5
socat -t 60 VSOCK-LISTEN:1234,fork,backlog=128 EXEC:md5sum &
(socat -u VSOCK-LISTEN:1235 STDOUT >/dev/null 2>&1; echo IDLE_END=$?) &
(socat -u VSOCK-LISTEN:1236 STDOUT >/dev/null 2>&1; echo STREAM_END=$?) &
sleep 1
"""


def pattern(n):
    line = b"bulkhead-vsock\n"
    return (line * (n // len(line) + 1))[:n]


def md5(b):
    return hashlib.md5(b).hexdigest()


def connect(path, port, timeout=120):
    """A host connection to the guest's port: CONNECT <port>, then "OK <hostport>"."""
    dl = Deadline(30)
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            # a restarted worker binds the socket again
            s.close()
            check(not dl.expired(), "nobody listens on %s" % path)
            time.sleep(0.2)
    s.sendall(b"CONNECT %d\n" % port)
    line = b""
    while not line.endswith(b"\n") and len(line) < 32:
        b = s.recv(1)
        if not b:
            break
        line += b
    return s, line


def connect_kernel(cid, port, timeout=120):
    """A host AF_VSOCK connection to the guest's port (kernel mode)."""
    s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    s.settimeout(timeout)
    dl = Deadline(30)
    while True:
        try:
            s.connect((cid, port))
            return s
        except (ConnectionResetError, ConnectionRefusedError, TimeoutError):
            # a restarted worker's device is not running yet
            check(not dl.expired(), "cannot reach cid %d port %d" % (cid, port))
            s.close()
            s = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            s.settimeout(timeout)
            time.sleep(0.2)


def hash_roundtrip(path, data, cid=None):
    """Send data to the guest's md5 listener (through the VM's socket at path, or with
    AF_VSOCK to cid); its answer."""
    if cid is None:
        s, line = connect(path, 1234)
        check(re.fullmatch(rb"OK \d+\n", line), "CONNECT 1234: got %r" % line)
    else:
        s = connect_kernel(cid, 1234)
    with s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    return got.split(b" ")[0].decode(errors="replace").strip()


class Sink(threading.Thread):
    """A host listener at PATH_<port> (path None: AF_VSOCK on port): hashes what one guest
    connection brings."""

    def __init__(self, env, path, port):
        super().__init__(daemon=True)
        if path is None:
            self.srv = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            self.path = None
            self.srv.bind((socket.VMADDR_CID_ANY, port))
        else:
            self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.path = "%s_%d" % (path, port)
            self.srv.bind(self.path)
        self.srv.listen(4)
        self.srv.settimeout(600)
        self.md5, self.n = None, 0
        env.at_end.append(self.close)

    def close(self):
        try:
            self.srv.shutdown(socket.SHUT_RDWR)   # wakes a thread still in accept()
        except OSError:
            pass
        self.srv.close()
        if self.path and os.path.exists(self.path):
            os.unlink(self.path)

    def run(self):
        c, _ = self.srv.accept()
        c.settimeout(600)
        h = hashlib.md5()
        while True:
            b = c.recv(1 << 18)
            if not b:
                break
            h.update(b)
            self.n += len(b)
        c.close()
        self.md5 = h.hexdigest()


class Streamer(threading.Thread):
    """Sends the pattern on an open host connection until the connection fails; how much went
    and how it ended (the exception, or None while it still runs)."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.n, self.ended = sock, 0, None
        self.chunk = pattern(1 << 16)

    def run(self):
        try:
            while True:
                self.sock.sendall(self.chunk)
                self.n += len(self.chunk)
        except OSError as ex:
            self.ended = ex


def kill_worker(vm, idle):
    """SIGKILL of the VM's bulkhead-vsock with the host connection idle open: the host end sees
    it close, the guest's end (the 1235 listener) is reset."""
    workers = vm.children("bulkhead-vsock")
    check(len(workers) == 1, "want one bulkhead-vsock, found %r" % workers)
    os.kill(workers[0], signal.SIGKILL)
    try:
        end = idle.recv(64)
    except ConnectionResetError:
        end = b""
    check(end == b"", "the host end of an open connection got %r after its worker died" % end)
    check(vm.value("IDLE_END", timeout=300) != "0",
          "the guest's open connection was not reset\n" + vm.logs())


def after_restart(vm, sink, sent, path=None, cid=None):
    """Once the worker was killed: XFER each way on new connections (host -> guest through
    path, or AF_VSOCK to cid; guest -> host to sink once the guest is told "go" and says
    sent=ok), the guest's script ends well, bulkhead logged the restart and the reset."""
    data = pattern(XFER)
    got = hash_roundtrip(path, data, cid)
    check(got == md5(data), "host -> guest after the restart: %r, want %s\n%s"
          % (got, md5(data), vm.logs()))
    vm.type_line("go")
    check(vm.value_or_stop(sent, 600, lambda: "guest -> host after the restart (the host "
                           "listener took %d bytes)" % sink.n) == "ok",
          "guest -> host after the restart failed\n" + vm.logs())
    sink.join(120)
    check(sink.md5 == md5(data), "guest -> host after the restart: %d bytes, want %d intact"
          % (sink.n, XFER))
    vm.test_exit()
    err = vm.stderr()
    check(re.search(r"bulkhead-vsock .*restarting it", err), "no restart logged\n" + vm.logs())
    check("VIRTIO_VSOCK_EVENT_TRANSPORT_RESET" in err, "no transport reset logged\n" + vm.logs())


def vsock_args(path, cid=CID):
    return ["-device", "vsock,id=vsock0,guest-cid=%d,uds-path=%s" % (cid, path)]


def vsock_host_to_guest(env):
    """100 MiB host -> guest, and a CONNECT to a port nobody listens on."""
    path = os.path.join(env.tmp, "vm.sock")
    vm = env.linux(PRELUDE + "echo READY=1\nread -r line\nexit 0\n",
                   extra=vsock_args(path)).start(stdin=True)
    vm.value("READY")
    check(len(vm.children("bulkhead-vsock")) == 1, "want one bulkhead-vsock")
    data = pattern(BIG)
    got = hash_roundtrip(path, data)
    check(got == md5(data), "host -> guest: the guest hashed %r, want %s\n%s"
          % (got, md5(data), vm.logs()))
    s, line = connect(path, 4321)
    with s:
        check(line == b"", "CONNECT to a port nobody listens on: got %r, want the socket closed"
              % line)
    vm.type_line("done")
    vm.test_exit()
    vm.wait_exit()
    check(not os.path.exists(path), "the VM's socket %s outlived the VM" % path)


def vsock_parallel(env):
    """PAR host -> guest connections at once, each its own in the worker's table and the
    guest's."""
    path = os.path.join(env.tmp, "vm.sock")
    # 512 MiB: the guest runs a socat and an md5sum for each of the PAR connections
    vm = env.linux(PRELUDE + "echo READY=1\nread -r line\nexit 0\n", mem=512,
                   extra=vsock_args(path)).start(stdin=True)
    vm.value("READY")
    results = [None] * PAR

    def one(i):
        d = bytes([0x41 + i]) * PAR_XFER
        try:
            results[i] = hash_roundtrip(path, d) == md5(d)
        except Exception as ex:     # reported with the others below
            results[i] = repr(ex)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(PAR)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    check(all(r is True for r in results), "%d parallel connections: %r" % (PAR, results))
    vm.type_line("done")
    vm.test_exit()
    vm.wait_exit()


def vsock_guest_to_host(env):
    """100 MiB guest -> host to a listener at PATH_<port>, and a guest connect to a host port
    with no listener, refused."""
    path = os.path.join(env.tmp, "vm.sock")
    sink = Sink(env, path, 5000)
    sink.start()
    script = PRELUDE + r"""
echo READY=1
yes bulkhead-vsock | head -c %(n)d | socat -u STDIN VSOCK-CONNECT:2:5000 && echo SENT=ok || echo SENT=fail
socat -u STDIN VSOCK-CONNECT:2:5999 </dev/null 2>/dev/null && echo NOLISTEN=connected || echo NOLISTEN=refused
read -r line
exit 0
""" % {"n": BIG}
    vm = env.linux(script, extra=vsock_args(path)).start(stdin=True)
    vm.value("READY")
    check(vm.value_or_stop("SENT", 600, lambda: "guest -> host (the host listener took %d "
                           "bytes)" % sink.n) == "ok",
          "guest -> host transfer failed\n" + vm.logs())
    sink.join(120)
    check(sink.md5 == md5(pattern(BIG)), "guest -> host: %d bytes arrived, want %d intact"
          % (sink.n, BIG))
    check(vm.value("NOLISTEN") == "refused", "a guest connect to a host port with no listener "
          "was not refused")
    vm.type_line("done")
    vm.test_exit()
    vm.wait_exit()


def vsock_restart(env):
    env.restarts_expected = True
    path = os.path.join(env.tmp, "vm.sock")
    sink = Sink(env, path, 5001)
    sink.start()
    script = PRELUDE + r"""
echo READY=1
read -r line
yes bulkhead-vsock | head -c %(n)d | socat -u STDIN VSOCK-CONNECT:2:5001 && echo SENT=ok || echo SENT=fail
exit 0
""" % {"n": XFER}
    vm = env.linux(script, extra=vsock_args(path)).start(stdin=True)
    vm.value("READY")
    idle, line = connect(path, 1235)
    env.at_end.append(idle.close)
    check(re.fullmatch(rb"OK \d+\n", line), "CONNECT 1235: got %r" % line)
    idle.sendall(b"before the restart\n")
    # a stream in full flow when the worker dies
    busy, line = connect(path, 1236)
    env.at_end.append(busy.close)
    check(re.fullmatch(rb"OK \d+\n", line), "CONNECT 1236: got %r" % line)
    streamer = Streamer(busy)
    streamer.start()
    dl = Deadline(120)
    while streamer.n < 4 * MiB and streamer.ended is None and not dl.expired():
        time.sleep(0.05)
    check(streamer.n >= 4 * MiB and streamer.ended is None,
          "the stream to port 1236 did not get going: %d bytes, %r" % (streamer.n, streamer.ended))
    kill_worker(vm, idle)
    streamer.join(60)
    check(streamer.ended is not None, "the host's stream went on after its worker died (%d "
          "bytes)" % streamer.n)
    # Linux reads the reset either way: as an error (the TRANSPORT_RESET event) or as the end
    # of the stream (an RST from the new worker answering the guest's credit update first)
    vm.value("STREAM_END", timeout=300)     # fails the case when the guest's reader hangs
    after_restart(vm, sink, "SENT", path=path)


def vsock_kernel(env):
    env.restarts_expected = True
    cid = 5
    sink, sink2 = Sink(env, None, 5100), Sink(env, None, 5101)
    sink.start()
    sink2.start()
    script = PRELUDE + r"""
echo READY=1
yes bulkhead-vsock | head -c %(big)d | socat -u STDIN VSOCK-CONNECT:2:5100 && echo SENT=ok || echo SENT=fail
read -r line
yes bulkhead-vsock | head -c %(n)d | socat -u STDIN VSOCK-CONNECT:2:5101 && echo SENT2=ok || echo SENT2=fail
exit 0
""" % {"n": XFER, "big": BIG}
    vm = env.linux(script, extra=["-device", "vsock,id=vsock0,guest-cid=%d" % cid]).start(stdin=True)
    vm.value("READY")
    check(re.search(r"vsock vsock0: guest cid 5, kernel mode", vm.stderr()),
          "the log does not say kernel mode\n" + vm.logs())
    other = env.linux("exit 0", qmp=False, extra=["-device", "vsock,id=v,guest-cid=%d" % cid])
    p = subprocess.run(other.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=60)
    check(p.returncode == 1 and p.stderr.strip() == "bulkhead: -device vsock: guest-cid 5 is in "
          "use by another VM on this host", "a second VM with cid 5: %d %r"
          % (p.returncode, p.stderr))
    big = pattern(BIG)
    got = hash_roundtrip(None, big, cid)
    check(got == md5(big), "host -> guest: the guest hashed %r, want %s\n%s"
          % (got, md5(big), vm.logs()))
    check(vm.value_or_stop("SENT", 600, lambda: "guest -> host (the host listener took %d "
                           "bytes)" % sink.n) == "ok",
          "guest -> host failed\n" + vm.logs())
    sink.join(120)
    check(sink.md5 == md5(big), "guest -> host: %d bytes, want %d intact" % (sink.n, BIG))
    idle = connect_kernel(cid, 1235)
    env.at_end.append(idle.close)
    idle.sendall(b"before the restart\n")
    kill_worker(vm, idle)
    after_restart(vm, sink2, "SENT2", cid=cid)


def vsock_external(env):
    sock = os.path.join(env.tmp, "ext-vsock.sock")
    path = os.path.join(env.tmp, "ext-vm.sock")
    sink = Sink(env, path, 5002)
    sink.start()
    prog = os.path.join(os.path.dirname(os.path.dirname(os.environ["BULKHEAD"])), "dev-vsock",
                        "bulkhead-vsock")
    with open(os.path.join(env.tmp, "ext-vsock.log"), "w") as log:
        backend = subprocess.Popen([prog, "--socket-path=" + sock, "--uds-path=" + path,
                                    "--guest-cid=7", "--name=ext"], stderr=log)
    env.at_end.append(lambda: (backend.kill(), backend.wait()))
    dl = Deadline(30)
    while True:
        # bound before it listens: wait until a connection is taken
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(sock) == 0:
                break
        check(backend.poll() is None and not dl.expired(), "bulkhead-vsock did not listen on %s"
              % sock)
        time.sleep(0.05)
    n = 4 * MiB
    script = r"""
dmesg -n 5
yes bulkhead-vsock | head -c %(n)d | socat -u STDIN VSOCK-CONNECT:2:5002 && echo SENT=ok || echo SENT=fail
exit 0
""" % {"n": n}
    extra = ["-chardev", "socket,id=c0,path=" + sock,
             "-device", "vhost-user-vsock-device,chardev=c0,id=vs0"]
    vm = env.linux(script, extra=extra).start()
    check(vm.value("SENT", timeout=300) == "ok", "the guest could not send through the external "
          "backend\n" + vm.logs())
    check(vm.children("bulkhead-vsock") == [], "bulkhead spawned a worker for an external backend")
    vm.test_exit()
    sink.join(60)
    check(sink.md5 == md5(pattern(n)), "through the external backend: %d bytes, want %d intact"
          % (sink.n, n))


def vsock_errors(env):
    def run(extra):
        v = env.linux("exit 0", extra=extra, qmp=False)
        p = subprocess.run(v.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stderr.strip()

    cases = [
        (["-device", "vsock,id=v,guest-cid=1,uds-path=/tmp/x"], 2,
         "guest-cid '1' is out of range (3-4294967294)"),
        (["-device", "vhost-vsock-device,id=v,guest-cid=3,vhostfd=3,uds-path=/tmp/x"], 2,
         "vhostfd= (the kernel's vhost-vsock) and uds-path= (unix sockets) exclude each other"),
        (["-device", "vhost-vsock-device,id=v,guest-cid=3,vhostfd=1000"], 1,
         "bulkhead: -device vsock: vhostfd=1000: Bad file descriptor"),
        (vsock_args("/tmp/a") + ["-device", "vsock,id=w,guest-cid=4,uds-path=/tmp/b"], 2,
         "at most 1 vsock device"),
        (vsock_args("/nonexistent-dir/vm.sock"), 1,
         "bulkhead: -device vsock: uds-path: cannot open '/nonexistent-dir': No such file or "
         "directory"),
    ]
    for extra, want_rc, want in cases:
        rc, err = run(extra)
        check(rc == want_rc and want in err and len(err.splitlines()) == 1,
              "%s: %d %r, want %d and %r" % (" ".join(extra), rc, err, want_rc, want))
    # Kata's vhostfd= naming an open fd that is no /dev/vhost-vsock
    with open("/dev/null") as f:
        v = env.linux("exit 0", qmp=False, extra=[
            "-device", "vhost-vsock-device,id=v,guest-cid=3,vhostfd=%d" % f.fileno()])
        p = subprocess.run(v.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60, pass_fds=(f.fileno(),))
    check(p.returncode == 1 and p.stderr.strip() == "bulkhead: -device vsock: vhostfd: setting "
          "the guest's CID: Inappropriate ioctl for device (not a /dev/vhost-vsock)",
          "vhostfd of /dev/null: %d %r" % (p.returncode, p.stderr))


if __name__ == "__main__":
    sys.exit(run_tests([vsock_host_to_guest, vsock_parallel, vsock_guest_to_host,
                        vsock_restart, vsock_kernel, vsock_external, vsock_errors]))
