#!/bin/bash
# The supervisor's contract, checked on the real binary: --help/--version, one clear line and
# exit 2 for every bad command line, exit 1 with one line for a fatal error, -D, -mem-path,
# -daemonize/-pidfile and SIGTERM. Cleans up every process and file it creates.
#
# usage: supervisor-test.sh BULKHEAD PROBE_ELF
set -u
bulkhead=$1 probe=$2
tmp=$(mktemp -d)
pass=0 failed=0
trap 'rm -rf "$tmp"' EXIT

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }

# expect STATUS EXACT-STDERR-LINE -- ARGS...   (stderr must be exactly that one line)
expect() {
	local want_rc=$1 want_err=$2 rc errtext
	shift 3
	"$bulkhead" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	errtext=$(cat "$tmp/err")
	if [ "$rc" = "$want_rc" ] && [ "$errtext" = "$want_err" ] && [ "$(wc -l <"$tmp/err")" -le 1 ]; then
		ok "$* -> $rc: $want_err"
	else
		bad "$*: want $want_rc '$want_err', got $rc '$errtext'"
	fi
}

# A kernel that halts with interrupts off: a VM that runs until it is told to stop.
python3 - "$tmp/halt.elf" <<'PY'
import struct, sys
code = b"\xfa\xf4\xeb\xfd"                        # cli; hlt; jmp back to hlt
ehdr = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 2, 62, 1,
                   0x100000, 64, 0, 0, 64, 56, 1, 0, 0, 0)
phdr = struct.pack("<IIQQQQQQ", 1, 5, 0x1000, 0x100000, 0x100000, len(code), len(code), 0x1000)
img = bytearray(ehdr + phdr)
img += bytes(0x1000 - len(img)) + code
open(sys.argv[1], "wb").write(img)
PY
head -c 4096 /dev/urandom >"$tmp/garbage"
: >"$tmp/exists"

# --help / --version
"$bulkhead" --version >"$tmp/out" 2>&1 && grep -qx 'bulkhead [0-9.]*' "$tmp/out" &&
	ok "--version: $(cat "$tmp/out")" || bad "--version: $(cat "$tmp/out")"
"$bulkhead" --help >"$tmp/out" 2>&1 && grep -q -- '-kernel' "$tmp/out" && grep -q -- '-smp' "$tmp/out" &&
	ok "--help lists the options" || bad "--help"

# Bad command lines: exit 2, one line naming the option.
expect 2 "bulkhead: -smp: '0' is out of range (1-254)" -- -kernel "$probe" -smp 0
expect 2 "bulkhead: -smp: '255' is out of range (1-254)" -- -kernel "$probe" -smp 255
expect 2 "bulkhead: -m: '255' is out of range (256 MiB - 512 GiB)" -- -kernel "$probe" -m 255
expect 2 "bulkhead: -machine: unsupported machine type 'q35' (only 'microvm')" -- -kernel "$probe" -machine q35
expect 2 "bulkhead: -mem-path: 'rel' must be an absolute path" -- -kernel "$probe" -mem-path rel
expect 2 "bulkhead: -pidfile: only allowed together with -daemonize" -- -kernel "$probe" -pidfile "$tmp/p"
expect 2 "bulkhead: -pidfile: '$tmp/exists' already exists" -- -kernel "$probe" -daemonize -pidfile "$tmp/exists"
expect 2 "bulkhead: -kernel: a kernel image is required" -- -smp 1
expect 2 "bulkhead: unknown option '-bogus'" -- -kernel "$probe" -bogus
expect 2 "bulkhead: -name: too long (256 characters, max 255)" -- -kernel "$probe" -name "$(printf 'a%.0s' $(seq 256))"

# Fatal errors: exit 1, one line saying why.
expect 1 "bulkhead: -kernel: cannot open '$tmp/none': No such file or directory" -- -kernel "$tmp/none"
expect 1 "bulkhead: -initrd: cannot open '$tmp/none': No such file or directory" -- -kernel "$probe" -initrd "$tmp/none"
expect 1 "bulkhead: kernel: not a bzImage or ELF64 x86_64 image" -- -kernel "$tmp/garbage"

# -D: the same fatal line goes to the log file instead of stderr
"$bulkhead" -kernel "$tmp/garbage" -D "$tmp/log" >/dev/null 2>"$tmp/err" </dev/null
rc=$?
if [ $rc = 1 ] && [ ! -s "$tmp/err" ] && grep -q "not a bzImage or ELF64" "$tmp/log"; then
	ok "-D FILE receives the error line"
else
	bad "-D: rc=$rc stderr='$(cat "$tmp/err")' log='$(cat "$tmp/log" 2>/dev/null)'"
fi

# -mem-path: guest RAM from an unlinked file in that directory (not hugetlbfs here)
mkdir "$tmp/mem"
if "$bulkhead" -kernel "$probe" -mem-path "$tmp/mem" -m 256 -serial stdio \
	-append "probe=basic probe.token=memfile expect.cpus=1 expect.mem=268435456" >"$tmp/out" 2>"$tmp/err" </dev/null &&
	grep -q "PROBE DONE [0-9]* ok 0 failed" "$tmp/out" && [ -z "$(ls -A "$tmp/mem")" ]; then
	ok "-mem-path: probe passes, nothing left in the directory"
else
	bad "-mem-path: $(tail -3 "$tmp/out") $(cat "$tmp/err")"
fi

# -mem-path on a real hugetlbfs: mount one privately, reserve 2 MiB pages, restore both after
hp_before=$(cat /proc/sys/vm/nr_hugepages)
mkdir "$tmp/huge"
if mount -t hugetlbfs none "$tmp/huge" 2>"$tmp/err" && echo $((hp_before + 140)) >/proc/sys/vm/nr_hugepages &&
	[ "$(cat /proc/sys/vm/nr_hugepages)" -ge $((hp_before + 128)) ]; then
	if "$bulkhead" -kernel "$probe" -mem-path "$tmp/huge" -m 256 -serial stdio \
		-append "probe=basic probe.token=huge expect.cpus=1 expect.mem=268435456" >"$tmp/out" 2>"$tmp/err" </dev/null &&
		grep -q "PROBE DONE [0-9]* ok 0 failed" "$tmp/out" && ! grep -q "not on hugetlbfs" "$tmp/err"; then
		ok "-mem-path on hugetlbfs: probe passes"
	else
		bad "-mem-path hugetlbfs: $(tail -3 "$tmp/out") $(cat "$tmp/err")"
	fi
else
	echo "note: hugetlbfs case not run: cannot mount hugetlbfs or reserve 2 MiB pages here ($(cat "$tmp/err"))"
fi
umount "$tmp/huge" 2>/dev/null
echo "$hp_before" >/proc/sys/vm/nr_hugepages 2>/dev/null

# -daemonize -pidfile: returns at once, the daemon runs the VM, SIGTERM stops it, pidfile removed
if "$bulkhead" -kernel "$tmp/halt.elf" -daemonize -pidfile "$tmp/pid" -D "$tmp/dlog" </dev/null; then
	for _ in $(seq 50); do [ -s "$tmp/pid" ] && break; sleep 0.1; done
	pid=$(cat "$tmp/pid" 2>/dev/null)
	if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = bulkhead ]; then
		ok "-daemonize: pidfile names a running bulkhead ($pid)"
		kill -TERM "$pid"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			bad "SIGTERM did not stop the daemon"
			kill -KILL "$pid"
		elif [ -e "$tmp/pid" ]; then
			bad "pidfile left behind after the daemon exited"
		else
			ok "SIGTERM stops the daemon and removes the pidfile ($(tail -1 "$tmp/dlog"))"
		fi
	else
		bad "-daemonize: no running bulkhead in pidfile '$pid'"
	fi
else
	bad "-daemonize: parent did not return 0"
fi
pkill -KILL -f "$tmp/halt.elf" 2>/dev/null

echo "supervisor-test: $pass passed, $failed failed"
[ "$failed" = 0 ]
