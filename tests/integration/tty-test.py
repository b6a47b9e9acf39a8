#!/usr/bin/env python3
"""-serial stdio on a terminal: while the VM runs the terminal is in raw mode (no echo, no
line discipline, so every key reaches the guest's UART), and it is restored exactly when
bulkhead ends - by a guest power-off and by SIGTERM. Also: a guest that never reads input
must not make bulkhead block on a full FIFO (keys typed are accepted, bulkhead stays alive).

usage: tty-test.py BULKHEAD PROBE_ELF
"""
import os, pty, signal, struct, subprocess, sys, tempfile, termios, time

bulkhead, probe = sys.argv[1], sys.argv[2]
failed = 0


def check(ok, what):
    global failed
    print(("ok   " if ok else "FAIL ") + what)
    failed += 0 if ok else 1


def halt_elf(path):
    """A kernel that halts with interrupts off: a VM that runs until it is stopped."""
    code = b"\xfa\xf4\xeb\xfd"
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1,
                       0x100000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
    phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, 0x100000, 0x100000, len(code), len(code), 0x1000)
    img = bytearray(ehdr + phdr)
    img += bytes(0x1000 - len(img)) + code
    with open(path, "wb") as f:
        f.write(img)


def run_on_pty(args):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    return master, slave, before, p


def drain(master):
    out = b""
    os.set_blocking(master, False)
    try:
        while True:
            chunk = os.read(master, 65536)
            if not chunk:
                break
            out += chunk
    except (BlockingIOError, OSError):
        pass
    return out


with tempfile.TemporaryDirectory() as tmp:
    halt = os.path.join(tmp, "halt.elf")
    halt_elf(halt)

    # 1. a running VM: raw while it runs, restored after SIGTERM
    master, slave, before, p = run_on_pty([bulkhead, "-kernel", halt, "-serial", "stdio"])
    raw = None
    for _ in range(50):
        time.sleep(0.1)
        cur = termios.tcgetattr(slave)
        if not cur[3] & termios.ICANON:
            raw = cur
            break
    check(raw is not None, "terminal switched to raw mode while the VM runs")
    if raw is not None:
        check(not raw[3] & termios.ECHO, "no local echo while the VM runs")
        check(not raw[3] & termios.ISIG, "Ctrl-C goes to the guest, not to bulkhead")
    os.write(master, b"typed keys for a guest that never reads them\n" * 4)
    time.sleep(0.3)
    check(p.poll() is None, "bulkhead stays alive with more input than the UART FIFO holds")
    os.kill(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        check(False, "SIGTERM stopped bulkhead")
    check(termios.tcgetattr(slave) == before, "terminal restored after SIGTERM")
    drain(master)
    os.close(master)
    os.close(slave)

    # 2. a guest power-off: restored too, guest output reached the terminal
    master, slave, before, p = run_on_pty([bulkhead, "-kernel", probe, "-serial", "stdio", "-append",
                                           "probe=basic probe.token=tty expect.cpus=1 expect.mem=268435456"])
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    out = drain(master)
    check(rc == 0, "probe powered off, exit 0 (got %d)" % rc)
    check(b"PROBE DONE" in out, "guest output reached the terminal")
    check(termios.tcgetattr(slave) == before, "terminal restored after the guest powered off")
    os.close(master)
    os.close(slave)

print("tty-test: %s" % ("ok" if not failed else "%d failed" % failed))
sys.exit(1 if failed else 0)
