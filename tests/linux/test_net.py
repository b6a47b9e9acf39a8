#!/usr/bin/env python3
"""virtio-net through bulkhead-net under the stock Linux virtio_net driver, on a host tap the
test creates (and removes) in the KVM test host. The guest script prints KEY=value lines; the
host side answers TCP transfers and checks what arrived.

  nic_data_path     -netdev tap + -device virtio-net-device,mac=: the guest sees that MAC, the
                    second NIC slot is there with its link down, it pings the tap's address,
                    sends and receives 24 MiB over TCP with the content checked on both ends;
                    then it changes its own MAC: its frames are dropped (ping fails), the
                    worker's log says so, and query-net-stats counts them (tx-spoofed) next
                    to the bytes both ways
  nic_hotplug       both NIC slots empty at boot (links down); netdev_add + device_add into
                    addr 0x0: eth0's link comes up with the slot's MAC (a device_add asking for
                    another MAC is refused, naming the slot's), the guest pings the tap;
                    device_del (DEVICE_DELETED) takes the link down, netdev_del frees the tap;
                    then the same with the tap's queue passed as an fd (getfd, netdev_add
                    "fd"), after an fd that is no tap and a name never given were refused
  two_nics          two NICs on two taps in two subnets: eth0 and eth1 with their MACs, each
                    pings its own tap's address
  nic_restart       bulkhead-net SIGKILLed in the middle of a guest -> host TCP transfer: the
                    supervisor restarts it on the same tap and the transfer completes intact;
                    query-net-stats shows two worker starts and counters that went on
  nic_rss           2 vCPUs, a multi_queue tap and mq=on: the guest's virtio_net runs 2 queue
                    pairs with RSS (VIRTIO_NET_F_RSS, the steering program on the tap); 16
                    host -> guest flows arrive intact and land on both receive queues (the
                    guest's ethtool -S and query-net-stats agree); after `ethtool -X eth0
                    weight 0 1` every new flow lands on queue 1: the guest's table reached the
                    tap's steering maps; once the VM is over no BPF program is left loaded (the
                    persistent tap steers by itself again)
  nic_vhost_user    -netdev vhost-user,chardev= to an external backend (a bulkhead-net the test
                    starts by hand on its own tap): the guest gets the backend's MAC and pings
                    the tap; bulkhead spawns no worker for it; when the backend dies the VM
                    goes on (nobody restarts what bulkhead did not start)
  nic_errors        a tap that does not exist, one another process holds, an inherited fd that
                    is no tap, an fd that is not open, a third NIC, a vhost-user backend
                    nobody listens for: one clear line each, exit status 2
                    (command line) or 1 (host refuses)
"""

import ctypes
import fcntl
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linuxlib import MiB, Deadline, check, run_tests  # noqa: E402

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, IFF_MULTI_QUEUE = 0x0002, 0x1000, 0x4000, 0x0100
HOST_IP, GUEST_IP = "10.77.0.1", "10.77.0.2"
MAC = "52:54:00:a1:b2:c3"
# Large enough that the restart lands mid-transfer and every ring wraps many times; small
# enough that the emulated test host (which now and then faults under long heavy traffic, see
# linuxlib.emulation_fault) is not kept busy for minutes.
XFER = 24 * MiB

PRELUDE = r"""
dmesg -n 5
ip link set lo up
ip addr add %s/24 dev eth0
ip link set eth0 up
# the link comes up when the worker's status says so
for i in $(seq 50); do [ "$(cat /sys/class/net/eth0/carrier 2>/dev/null)" = 1 ] && break; sleep 0.2; done
""" % GUEST_IP


def sh(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Tap:
    """A persistent tap with the host's address, removed again by close()."""

    def __init__(self, name, host_ip=HOST_IP, multi_queue=False):
        self.name = name
        # one left by a run that was killed would make `ip addr add` fail
        subprocess.run(["ip", "link", "del", name], stderr=subprocess.DEVNULL)
        fd = os.open("/dev/net/tun", os.O_RDWR)
        try:
            flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | (IFF_MULTI_QUEUE if multi_queue else 0)
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), flags))
            fcntl.ioctl(fd, TUNSETPERSIST, 1)
        finally:
            os.close(fd)
        sh("ip", "addr", "add", host_ip + "/24", "dev", name)
        sh("ip", "link", "set", name, "up")

    def close(self):
        subprocess.run(["ip", "link", "del", self.name], stderr=subprocess.DEVNULL)


def pattern(n):
    line = b"bulkhead-net\n"
    return (line * (n // len(line) + 1))[:n]


class Server(threading.Thread):
    """One connection accepted on HOST_IP:port; the listening socket goes at the test's end."""

    def __init__(self, env, port):
        super().__init__(daemon=True)
        self.srv = socket.create_server((HOST_IP, port))
        self.srv.settimeout(300)
        env.at_end.append(self.close)

    def close(self):
        # shutdown wakes a thread still in accept(): a closed-only listener would live on
        # in it and take the connections of the retry's listener
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()


class Sink(Server):
    """Hashes what the connection brings, up to want bytes; then it closes (busybox nc does
    not end the connection at its stdin's EOF, it waits for ours)."""

    def __init__(self, env, port, want):
        super().__init__(env, port)
        self.want, self.md5, self.n = want, None, 0

    def run(self):
        c, _ = self.srv.accept()
        c.settimeout(300)
        h = hashlib.md5()
        while self.n < self.want:
            b = c.recv(min(1 << 18, self.want - self.n))
            if not b:
                break
            h.update(b)
            self.n += len(b)
        c.close()
        self.md5 = h.hexdigest()


class Source(Server):
    """Sends data over the connection."""

    def __init__(self, env, port, data):
        super().__init__(env, port)
        self.data = data

    def run(self):
        c, _ = self.srv.accept()
        c.sendall(self.data)
        c.close()


def net_args(tap, mac=MAC):
    return ["-netdev", "tap,id=net0,ifname=" + tap,
            "-device", "virtio-net-device,netdev=net0,id=nic0,mac=" + mac]


def nic_data_path(env):
    tap = Tap("bhtap0")
    env.at_end.append(tap.close)
    sink, source = Sink(env, 5001, XFER), Source(env, 5002, pattern(XFER))
    sink.start()
    source.start()
    script = PRELUDE + r"""
echo MAC=$(cat /sys/class/net/eth0/address)
echo ETH1_CARRIER=$(ip link set eth1 up; sleep 1; cat /sys/class/net/eth1/carrier)
ping -c 3 -W 5 %(host)s >/dev/null && echo PING=ok || echo PING=fail
yes bulkhead-net | head -c %(n)d | nc %(host)s 5001 && echo SENT=ok
echo RECV_MD5=$(nc %(host)s 5002 </dev/null | md5sum | cut -d' ' -f1)
ip link set eth0 down; ip link set eth0 address 52:54:00:00:00:66; ip link set eth0 up
sleep 1
ping -c 2 -W 2 %(host)s >/dev/null && echo SPOOF_PING=ok || echo SPOOF_PING=fail
read -r line
exit 0
""" % {"host": HOST_IP, "n": XFER}
    vm = env.linux(script, extra=net_args(tap.name)).start(stdin=True)
    vm.value("SPOOF_PING", timeout=600)
    nic = one_nic(vm.connect())
    vm.type_line("done")
    vm.test_exit()
    want = hashlib.md5(pattern(XFER)).hexdigest()
    check(vm.value("MAC") == MAC, "guest MAC %s, want %s\n%s" % (vm.value("MAC"), MAC, vm.logs()))
    check(vm.value("ETH1_CARRIER") == "0", "empty NIC slot: carrier %s, want 0 (link down)"
          % vm.value("ETH1_CARRIER"))
    check(vm.value("PING") == "ok", "guest cannot ping the tap\n" + vm.logs())
    sink.join(60)
    check(sink.md5 == want, "guest -> host: %d bytes, md5 %s, want %d bytes %s"
          % (sink.n, sink.md5, XFER, want))
    check(vm.value("RECV_MD5") == want, "host -> guest: md5 %s, want %s"
          % (vm.value("RECV_MD5"), want))
    check(vm.value("SPOOF_PING") == "fail", "a guest with another source MAC got through")
    check("source MAC is not the NIC's" in vm.stderr(),
          "bulkhead-net did not report the spoofed frames\n" + vm.logs())
    want = {"addr": "0x0", "id": "nic0", "netdev": "net0", "mac": MAC, "counted": True,
            "worker-starts": 1}
    check({k: nic.get(k) for k in want} == want, "query-net-stats: %r" % nic)
    check(nic["tx-spoofed"] >= 2, "%d spoofed frames counted, want the 2 pings" % nic["tx-spoofed"])
    check(nic["tx-bytes"] > XFER and nic["rx-bytes"] > XFER,
          "counted %d bytes out, %d in; want more than %d each way"
          % (nic["tx-bytes"], nic["rx-bytes"], XFER))
    check(len(nic["queues"]) == 1 and nic["queues"][0]["tx-spoofed"] == nic["tx-spoofed"],
          "one queue pair, its counters the sum: %r" % nic)


def one_nic(qmp):
    """query-net-stats of a VM with one NIC."""
    nics = qmp.cmd("query-net-stats")
    check(len(nics) == 1, "query-net-stats: %r, want one NIC" % nics)
    return nics[0]


def nic_hotplug(env):
    tap = Tap("bhtap2")
    env.at_end.append(tap.close)
    script = r"""
dmesg -n 5
ip addr add %(guest)s/24 dev eth0
ip link set eth0 up
echo CARRIER_BEFORE=$(cat /sys/class/net/eth0/carrier)
for k in 1 2; do
  for i in $(seq 600); do [ "$(cat /sys/class/net/eth0/carrier)" = 1 ] && break; sleep 0.2; done
  echo PLUGGED_MAC$k=$(cat /sys/class/net/eth0/address)
  ping -c 3 -W 5 %(host)s >/dev/null && echo PING$k=ok || echo PING$k=fail
  for i in $(seq 600); do [ "$(cat /sys/class/net/eth0/carrier)" = 0 ] && break; sleep 0.2; done
  echo CARRIER_AFTER$k=$(cat /sys/class/net/eth0/carrier)
done
exit 0
""" % {"host": HOST_IP, "guest": GUEST_IP}
    vm = env.linux(script).start()
    c = vm.connect()
    check(vm.value("CARRIER_BEFORE") == "0", "an empty NIC slot shows its link up")
    check(c.cmd("netdev_add", {"id": "net-0", "ifname": tap.name}) == {}, "netdev_add")
    desc = c.err("device_add", {"id": "net-0", "driver": "virtio-net-mmio", "addr": "0x0",
                                "mac": "52:54:00:00:00:01"}, cls="GenericError",
                 desc_re=r"took ([0-9a-f:]{17}) at boot")
    slot_mac = re.search(r"took ([0-9a-f:]{17}) at boot", desc).group(1)
    plug_and_unplug(vm, c, "net-0", slot_mac, 1)
    # the tap's queue as an fd (QMP getfd), after an fd that is no tap and an unknown name
    with open("/dev/null") as f:
        c.getfd("notap", f.fileno())
    c.err("netdev_add", {"id": "net-1", "fd": "notap"}, desc_re=r"fd \d+ is not a tap queue")
    c.err("netdev_add", {"id": "net-1", "fd": "notap"},
          desc_re="File descriptor named 'notap' not found")
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.name.encode(),
                                               IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
        c.getfd("tapq", fd)
    finally:
        os.close(fd)
    check(c.cmd("netdev_add", {"id": "net-1", "fd": "tapq"}) == {}, "netdev_add fd")
    plug_and_unplug(vm, c, "net-1", slot_mac, 2)
    vm.test_exit()


def plug_and_unplug(vm, c, netdev, mac, k):
    """device_add of netdev into NIC slot 0x0, the guest's round k of pings, device_del."""
    check(c.cmd("device_add", {"id": netdev, "driver": "virtio-net-mmio", "addr": "0x0",
                               "mac": mac}) == {}, "device_add")
    got = vm.value("PLUGGED_MAC%d" % k)
    check(got == mac, "hot-plugged NIC %d: MAC %s, want %s" % (k, got, mac))
    check(vm.value("PING%d" % k) == "ok", "the guest cannot ping over hot-plugged NIC %d\n%s"
          % (k, vm.logs()))
    c.err("netdev_del", {"id": netdev}, desc_re="busy")
    check(c.cmd("device_del", {"id": netdev}) == {}, "device_del")
    c.event("DEVICE_DELETED")
    check(vm.value("CARRIER_AFTER%d" % k) == "0", "the link stayed up after device_del")
    check(c.cmd("netdev_del", {"id": netdev}) == {}, "netdev_del")


def two_nics(env):
    taps = [Tap("bhtap3", "10.78.0.1"), Tap("bhtap4", "10.79.0.1")]
    for t in taps:
        env.at_end.append(t.close)
    macs = ["52:54:00:a1:b2:01", "52:54:00:a1:b2:02"]
    script = r"""
dmesg -n 5
for i in 0 1; do
  ip addr add 10.7$((8 + i)).0.2/24 dev eth$i
  ip link set eth$i up
  echo MAC$i=$(cat /sys/class/net/eth$i/address)
  ping -c 2 -W 5 10.7$((8 + i)).0.1 >/dev/null && echo PING$i=ok || echo PING$i=fail
done
exit 0
"""
    extra = []
    for i, t in enumerate(taps):
        extra += ["-netdev", "tap,id=n%d,ifname=%s" % (i, t.name),
                  "-device", "virtio-net-device,netdev=n%d,id=nic%d,mac=%s" % (i, i, macs[i])]
    vm = env.linux(script, extra=extra).start()
    vm.value("MAC0")
    check(len(vm.children("bulkhead-net")) == 2, "want one bulkhead-net per NIC")
    vm.test_exit()
    for i in range(2):
        check(vm.value("MAC%d" % i) == macs[i], "eth%d: MAC %s, want %s"
              % (i, vm.value("MAC%d" % i), macs[i]))
        check(vm.value("PING%d" % i) == "ok", "eth%d cannot ping its tap\n%s" % (i, vm.logs()))


def nic_restart(env):
    tap = Tap("bhtap1")
    env.at_end.append(tap.close)
    env.restarts_expected = True
    n = XFER
    sink = Sink(env, 5003, n)
    sink.start()
    script = PRELUDE + r"""
echo XFER-START
yes bulkhead-net | head -c %(n)d | nc %(host)s 5003 && echo SENT=ok || echo SENT=fail
read -r line
exit 0
""" % {"host": HOST_IP, "n": n}
    vm = env.linux(script, extra=net_args(tap.name)).start(stdin=True)
    vm.wait_serial(r"^XFER-START")
    dl = Deadline(60)
    while sink.n < n // 8 and not dl.expired():
        time.sleep(0.2)
    workers = vm.children("bulkhead-net")
    check(len(workers) == 1, "want one bulkhead-net, found %r" % workers)
    os.kill(workers[0], signal.SIGKILL)
    vm.value("SENT", timeout=600)
    nic = one_nic(vm.connect())
    vm.type_line("done")
    vm.test_exit()
    sink.join(120)
    check(nic["worker-starts"] == 2 and nic["tx-bytes"] > n,
          "after one restart: %d worker starts, %d bytes counted out (want 2, more than %d)"
          % (nic["worker-starts"], nic["tx-bytes"], n))
    check(vm.value("SENT") == "ok", "the guest's transfer failed\n" + vm.logs())
    check(sink.md5 == hashlib.md5(pattern(n)).hexdigest(),
          "after the restart: %d bytes arrived, want %d intact" % (sink.n, n))
    check(re.search(r"bulkhead-net .*restarting it", vm.stderr()),
          "no restart logged\n" + vm.logs())


RSS_FLOW = 64 * 1024
SYS_BPF, BPF_PROG_GET_NEXT_ID = 321, 11


def bpf_prog_ids():
    """The ids of every BPF program loaded in the (test host's) kernel."""
    libc = ctypes.CDLL(None, use_errno=True)
    ids = []
    while True:
        attr = ctypes.create_string_buffer(struct.pack("II", ids[-1] if ids else 0, 0), 128)
        if libc.syscall(SYS_BPF, BPF_PROG_GET_NEXT_ID, attr, 128) < 0:
            check(ctypes.get_errno() == 2, "BPF_PROG_GET_NEXT_ID: errno %d" % ctypes.get_errno())
            return ids
        ids.append(struct.unpack_from("II", attr.raw)[1])


def nic_rss(env):
    tap = Tap("bhtap5", multi_queue=True)
    env.at_end.append(tap.close)
    first, second = range(5100, 5116), range(5120, 5128)
    for port in list(first) + list(second):
        Source(env, port, pattern(RSS_FLOW)).start()
    script = PRELUDE + r"""
rxq() { ethtool -S eth0 | awk -v k="rx_queue_$1_packets:" '$1 == k { print $2 }'; }
flows() {
  ok=0
  for p in $(seq $1 $2); do
    [ "$(nc %(host)s $p </dev/null | md5sum | cut -d' ' -f1)" = %(md5)s ] && ok=$((ok + 1))
  done
  echo $ok
}
echo PAIRS=$(ls -d /sys/class/net/eth0/queues/rx-* | wc -l)
echo FLOWS1=$(flows %(a0)d %(a1)d)
echo RXQ1_0=$(rxq 0); echo RXQ1_1=$(rxq 1)
ethtool -x eth0 | head -4
ethtool -X eth0 weight 0 1 2>/tmp/err && echo TABLE=set || echo "TABLE=refused: $(cat /tmp/err)"
echo FLOWS2=$(flows %(b0)d %(b1)d)
echo RXQ2_0=$(rxq 0); echo RXQ2_1=$(rxq 1)
read -r line
exit 0
""" % {"host": HOST_IP, "md5": hashlib.md5(pattern(RSS_FLOW)).hexdigest(),
       "a0": first[0], "a1": first[-1], "b0": second[0], "b1": second[-1]}
    extra = ["-netdev", "tap,id=net0,ifname=%s,queues=2" % tap.name,
             "-device", "virtio-net-device,netdev=net0,id=nic0,mac=%s,mq=on" % MAC]
    progs = bpf_prog_ids()
    vm = env.linux(script, smp=2, extra=extra).start(stdin=True)
    vm.value("RXQ2_0", timeout=600)
    nic = one_nic(vm.connect())
    vm.type_line("done")
    vm.test_exit()
    vm.expect_end(0, None)
    check(bpf_prog_ids() == progs, "BPF programs %r after the VM, %r before: the steering "
          "program stayed on the tap" % (bpf_prog_ids(), progs))
    check("no receive-side scaling" not in vm.stderr(), "RSS was not set up\n" + vm.logs())
    check(vm.value("PAIRS") == "2", "the guest runs %s queue pairs, want 2" % vm.value("PAIRS"))
    for k, n in (("FLOWS1", len(first)), ("FLOWS2", len(second))):
        check(vm.value(k) == str(n), "%s: %s of %d flows arrived intact" % (k, vm.value(k), n))
    q = {k: int(vm.value(k)) for k in ("RXQ1_0", "RXQ1_1", "RXQ2_0", "RXQ2_1")}
    # a flow is at least 3 packets (SYN-ACK, data, FIN), more without receive offloads
    check(q["RXQ1_0"] >= 3 and q["RXQ1_1"] >= 3,
          "16 flows on the default table: rx queue 0 got %(RXQ1_0)d packets, queue 1 "
          "%(RXQ1_1)d; want both used" % q)
    check(vm.value("TABLE") == "set", "ethtool -X eth0 weight 0 1: " + vm.value("TABLE"))
    moved0, moved1 = q["RXQ2_0"] - q["RXQ1_0"], q["RXQ2_1"] - q["RXQ1_1"]
    # flowless frames (ARP) may still take queue 0, the unclassified queue
    check(moved1 >= 3 * len(second) and moved0 <= 4,
          "after weight 0 1: queue 0 got %d more packets, queue 1 %d; want (nearly) all on 1"
          % (moved0, moved1))
    print("nic_rss: guest rx packets per queue: %(RXQ1_0)d/%(RXQ1_1)d after the first flows, "
          "%(RXQ2_0)d/%(RXQ2_1)d after weight 0 1" % q, flush=True)
    rx = [p["rx-packets"] for p in nic["queues"]]
    check(len(rx) == 2 and rx[0] >= q["RXQ2_0"] and rx[1] >= q["RXQ2_1"],
          "query-net-stats rx-packets per queue %r, the guest counted %d and %d"
          % (rx, q["RXQ2_0"], q["RXQ2_1"]))


def nic_vhost_user(env):
    tap = Tap("bhtap6")
    env.at_end.append(tap.close)
    mac = "52:54:00:e0:e1:e2"
    sock = os.path.join(env.tmp, "ext-net.sock")
    prog = os.path.join(os.path.dirname(os.path.dirname(os.environ["BULKHEAD"])), "dev-net",
                        "bulkhead-net")
    with open(os.path.join(env.tmp, "ext-net.log"), "w") as log:
        backend = subprocess.Popen([prog, "--socket-path=" + sock, "--tap=" + tap.name,
                                    "--mac=" + mac, "--name=ext"], stderr=log)
    env.at_end.append(lambda: (backend.kill(), backend.wait()))
    dl = Deadline(30)
    while not os.path.exists(sock):
        check(backend.poll() is None and not dl.expired(), "bulkhead-net did not listen on %s"
              % sock)
        time.sleep(0.05)
    script = PRELUDE + r"""
echo MAC=$(cat /sys/class/net/eth0/address)
ping -c 3 -W 5 %(host)s >/dev/null && echo PING=ok || echo PING=fail
read -r line
exit 0
""" % {"host": HOST_IP}
    extra = ["-chardev", "socket,id=c0,path=" + sock, "-netdev", "vhost-user,id=n0,chardev=c0",
             "-device", "virtio-net-device,netdev=n0,id=nic0"]
    vm = env.linux(script, extra=extra).start(stdin=True)
    check(vm.value("MAC") == mac, "guest MAC %s, want the backend's %s" % (vm.value("MAC"), mac))
    check(vm.value("PING") == "ok", "the guest cannot ping through the external backend\n"
          + vm.logs())
    check(vm.children("bulkhead-net") == [], "bulkhead spawned a worker for an external backend")
    backend.kill()
    backend.wait()
    vm.type_line("done")
    vm.test_exit()
    check(re.search(r"backend c0 detached", vm.stderr()) and "restarting" not in vm.stderr(),
          "the external backend's end: want it detached and not restarted\n" + vm.logs())


def nic_errors(env):
    def run(extra):
        v = env.linux("exit 0", extra=extra, qmp=False)
        p = subprocess.run(v.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stderr.strip()

    rc, err = run(net_args("bhnosuchtap"))
    check(rc == 1 and "tap 'bhnosuchtap' does not exist" in err, "missing tap: %d %r" % (rc, err))
    # a single-queue tap someone else holds
    tap = Tap("bhtap7")
    env.at_end.append(tap.close)
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", tap.name.encode(),
                                               IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
        rc, err = run(net_args(tap.name))
    finally:
        os.close(fd)
    check(rc == 1 and err.endswith("tap 'bhtap7': busy: another process holds it"),
          "busy tap: %d %r" % (rc, err))
    # fds= naming an fd that is not open
    rc, err = run(["-netdev", "tap,id=net0,fds=1000", "-device", "virtio-net-device,netdev=net0"])
    check(rc == 1 and "fd 1000 is not a tap queue: Bad file descriptor" in err,
          "fd that is not open: %d %r" % (rc, err))
    with open("/dev/null") as f:
        fd = f.fileno()
        v = env.linux("exit 0", qmp=False, extra=[
            "-netdev", "tap,id=net0,fds=%d" % fd, "-device", "virtio-net-device,netdev=net0"])
        p = subprocess.run(v.argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60, pass_fds=(fd,))
    check(p.returncode == 1 and re.search(r"fd %d is not a tap queue" % fd, p.stderr),
          "fd that is no tap: %d %r" % (p.returncode, p.stderr))
    three = []
    for i in range(3):
        three += ["-netdev", "tap,id=n%d,ifname=t%d" % (i, i),
                  "-device", "virtio-net-device,netdev=n%d" % i]
    rc, err = run(three)
    check(rc == 2 and "at most 2 NICs" in err and len(err.splitlines()) == 1,
          "three NICs: %d %r" % (rc, err))
    nobody = os.path.join(env.tmp, "nobody.sock")
    rc, err = run(["-chardev", "socket,id=c0,path=" + nobody, "-netdev",
                   "vhost-user,id=n0,chardev=c0", "-device", "virtio-net-device,netdev=n0"])
    check(rc == 1 and err == "bulkhead: -chardev c0: cannot connect to '%s': No such file or "
          "directory" % nobody, "vhost-user backend that is not there: %d %r" % (rc, err))


if __name__ == "__main__":
    sys.exit(run_tests([nic_data_path, nic_hotplug, two_nics, nic_restart, nic_rss,
                        nic_vhost_user, nic_errors]))
