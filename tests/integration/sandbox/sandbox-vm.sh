#!/bin/bash
# A running VM inspected from outside, then its disk worker killed under load (issue 5).
# The guest probe (probe=blk, a long blk.loop of checked reads) runs against one -drive with
# a QMP socket, so bulkhead has three sandboxed children: core, bulkhead-blk, bulkhead-qmpd.
#  1. every child, and every thread of the core: /proc/PID/status shows Seccomp: 2 and
#     NoNewPrivs: 1; its root is an empty directory; each fd above 2 matches a line of
#     `bulkhead --print-sandbox-profile KIND` (the profile's fd list);
#  2. SIGKILL bulkhead-blk while the guest reads: the supervisor logs it and restarts it, the
#     new worker is sandboxed too, the VM keeps running, and the probe passes (every read's
#     data checked) with bulkhead exiting 0;
#  3. SIGKILL qmpd: it comes back (sandboxed) and the VM goes on.
# Run as root, bulkhead gets -runas nobody: every child and thread shows nobody's uid and gid
# (all four of each) and no supplementary groups, bulkhead-blk and qmpd are pid 1 of their own
# pid namespace (NSpid: HOSTPID 1) and the core is in ours, and QMP still answers (from root;
# qmpd allows root and the -runas uid).
#
# usage: sandbox-vm.sh BULKHEAD PROBE_ELF
set -u
bulkhead=$1 probe=$2
loop=${SANDBOX_VM_LOOP:-300000}
dir=$(mktemp -d /tmp/sandbox-vm.XXXXXX)
vm=
runas=() ruid=$(id -u) rgid=$(id -g)
if [ "$ruid" = 0 ]; then
	runas=(-runas nobody) ruid=$(id -u nobody) rgid=$(id -g nobody)
fi
cleanup() {
	if [ -n "$vm" ]; then
		kill -9 "$vm" 2>/dev/null
		wait "$vm" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
out=$dir/out err=$dir/err img=$dir/disk.img
fail() {
	echo "sandbox-vm: FAIL: $*"
	echo "---- guest serial output:"; cat "$out"
	echo "---- bulkhead stderr:"; cat "$err"
	exit 1
}
ok() { echo "ok   $*"; }

# 4 KiB block k holds byte k (blk.fill=1 checks every read), sector 0 is 0xa5 (blk.expect)
python3 "$(dirname "$0")/.."/probe-image.py "$img"

"$bulkhead" -kernel "$probe" -serial stdio -smp 2 -m 256 -drive "id=d0,file=$img,serial=sbx" \
	-qmp "unix:$dir/qmp.sock,server,nowait" "${runas[@]}" \
	-append "probe=blk probe.token=sbx blk.expect=a5 blk.sectors=2048 blk.fill=1 blk.loop=$loop blk.write=3c blk.serial=sbx" \
	</dev/null >"$out" 2>"$err" &
vm=$!

# the child of bulkhead running program $1 (comm), or nothing
child() {
	local p
	for p in $(pgrep -P "$vm"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$1" ] && { echo "$p"; return; }
	done
}

wait_for() {   # wait_for WHAT COMMAND...: up to 30 s
	local what=$1; shift
	for _ in $(seq 300); do
		"$@" && return 0
		kill -0 "$vm" 2>/dev/null || fail "bulkhead ended while waiting for $what"
		sleep 0.1
	done
	fail "timed out waiting for $what"
}
reading() { grep -aq '^PROBE OK blk-read-past-end' "$out"; }
wait_for "the guest's read loop" reading

# every fd above 2 of pid must match a glob of the kind's profile
check_fds() {
	local pid=$1 kind=$2 globs=() line fd t g hit bad=0
	while IFS= read -r line; do
		line=${line#fd }
		line=${line%% # *}
		line=${line%"${line##*[! ]}"}
		[ "$line" = @image ] && line=$(readlink -f "$img")
		globs+=("$line")
	done < <("$bulkhead" --print-sandbox-profile "$kind" | grep '^fd ')
	[ ${#globs[@]} -gt 0 ] || fail "no fd lines in the $kind profile"
	for fd in /proc/"$pid"/fd/*; do
		[ "${fd##*/}" -gt 2 ] || continue
		t=$(readlink "$fd") || continue
		hit=0
		for g in "${globs[@]}"; do
			# shellcheck disable=SC2053  # the profile's glob is meant as a pattern
			if [ "$t" = "$g" ] || [[ $t == $g ]]; then hit=1; break; fi
		done
		[ $hit = 1 ] || { echo "     fd ${fd##*/} -> $t is not in the $kind profile"; bad=1; }
	done
	[ $bad = 0 ] || fail "$kind (pid $pid) holds fds its profile does not list"
	ok "$kind: every fd above 2 is one its profile lists ($(ls /proc/"$pid"/fd | wc -l) fds)"
}

inspect() {   # inspect PID KIND
	local pid=$1 kind=$2 task
	[ -n "$pid" ] || fail "no $kind process"
	for task in /proc/"$pid"/task/*; do
		grep -q '^Seccomp:[[:space:]]*2$' "$task/status" ||
			fail "$kind task ${task##*/}: $(grep ^Seccomp "$task/status")"
		grep -q '^NoNewPrivs:[[:space:]]*1$' "$task/status" ||
			fail "$kind task ${task##*/}: $(grep ^NoNewPrivs "$task/status")"
	done
	ok "$kind (pid $pid): Seccomp: 2 and NoNewPrivs: 1 in all $(ls /proc/"$pid"/task | wc -l) thread(s)"
	for task in /proc/"$pid"/task/*; do
		grep -q "^Uid:[[:space:]]*$ruid[[:space:]]*$ruid[[:space:]]*$ruid[[:space:]]*$ruid\$" "$task/status" &&
			grep -q "^Gid:[[:space:]]*$rgid[[:space:]]*$rgid[[:space:]]*$rgid[[:space:]]*$rgid\$" "$task/status" ||
			fail "$kind task ${task##*/}, want uid $ruid gid $rgid: $(grep -E '^(Uid|Gid)' "$task/status" | tr '\n\t' '  ')"
		[ ${#runas[@]} = 0 ] || grep -q '^Groups:[[:space:]]*$' "$task/status" ||
			fail "$kind task ${task##*/} keeps supplementary groups: $(grep ^Groups "$task/status")"
	done
	ok "$kind: uid $ruid and gid $rgid${runas[*]:+ (${runas[*]}), no supplementary groups,} in every thread"
	nspid=$(grep '^NSpid:' /proc/"$pid"/status | cut -f2-)
	if [ "$kind" = core-control ]; then
		[ "$nspid" = "$pid" ] || fail "$kind: NSpid '$nspid', want only $pid (the host's pid namespace)"
		ok "$kind: in the host's pid namespace (NSpid: $nspid)"
	else
		[ "$nspid" = "$pid	1" ] || fail "$kind: NSpid '$nspid', want '$pid<TAB>1' (pid 1 of its own)"
		ok "$kind: pid 1 of its own pid namespace (NSpid: $pid 1)"
	fi
	[ -z "$(ls -A /proc/"$pid"/root/)" ] || fail "$kind: its root is not empty: $(ls -A /proc/"$pid"/root/)"
	ok "$kind: /proc/$pid/root is an empty directory"
	check_fds "$pid" "$kind"
}

core=$(child bulkhead-core) blk=$(child bulkhead-blk) qmpd=$(child bulkhead-qmpd)
inspect "$core" core-control
# -smp 2: both vCPU threads stacked core-vcpu on the inherited core-control filter
stacked=$(grep -l '^Seccomp_filters:[[:space:]]*2$' /proc/"$core"/task/*/status | wc -l)
[ "$stacked" -ge 2 ] || fail "only $stacked core thread(s) run two filters (want the 2 vCPUs)"
ok "core: $stacked threads run core-vcpu stacked on core-control"
inspect "$blk" dev-blk
inspect "$qmpd" qmpd
grep -aq 'pid namespace skipped' "$err" && fail "a child says it has no pid namespace of its own"

# QMP through qmpd in its namespaces, as root: a client it allows
qmp_status() {
	printf '%s\n' '{"execute":"qmp_capabilities"}' '{"execute":"query-status"}' |
		timeout 10 socat -t 5 - UNIX-CONNECT:"$dir/qmp.sock" 2>&1
}
st=$(qmp_status)
grep -q '"status":"running"' <<<"$st" || fail "QMP query-status: $st"
ok "QMP answers (query-status: running)"

# ---- kill tests: the worker and qmpd come back, sandboxed, and the guest goes on ----
kill -9 "$blk"
newblk() { b=$(child bulkhead-blk); [ -n "$b" ] && [ "$b" != "$blk" ] && grep -q '^Seccomp:[[:space:]]*2$' /proc/"$b"/status 2>/dev/null; }
wait_for "a new bulkhead-blk" newblk
grep -aq 'bulkhead-blk was killed by signal Killed; restarting it' "$err" ||
	fail "the supervisor did not report the worker's death"
ok "bulkhead-blk SIGKILLed during guest I/O: reported and restarted (pid $blk -> $b)"
inspect "$b" dev-blk
kill -9 "$qmpd"
newqmpd() { q=$(child bulkhead-qmpd); [ -n "$q" ] && [ "$q" != "$qmpd" ] && grep -q '^Seccomp:[[:space:]]*2$' /proc/"$q"/status 2>/dev/null; }
wait_for "a new bulkhead-qmpd" newqmpd
ok "qmpd SIGKILLed: restarted (pid $qmpd -> $q)"
inspect "$q" qmpd
st=$(qmp_status)
grep -q '"status":"running"' <<<"$st" || fail "QMP query-status after the restart: $st"
ok "QMP answers after qmpd's restart"
grep -aq '^PROBE OK blk-loop' "$out" && fail "the read loop ended before the kills; raise SANDBOX_VM_LOOP"

wait "$vm"
rc=$?
vm=
[ $rc = 0 ] || fail "bulkhead exited with status $rc, expected 0"
grep -aq 'PROBE FAIL' "$out" && fail "the probe reported failed checks"
grep -aq "^PROBE OK blk-loop reads=$loop data-checked=1" "$out" || fail "the read loop did not finish"
grep -aq '^PROBE DONE .* 0 failed' "$out" || fail "no 'PROBE DONE ... 0 failed'"
ok "the guest's $loop checked reads all completed across the restart; bulkhead exited 0"
echo "sandbox-vm: all checks passed"
