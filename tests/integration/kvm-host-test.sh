#!/bin/bash
# scripts/kvm-host.sh, nested on any machine (BULKHEAD_KVM_HOST=nested):
#   status     the command's exit status comes back, and a command that finished is never
#              run twice (an attempt counter on a read-write share)
#   panic      the test host's kernel panics before the command finishes (sysrq c on the
#              first attempt): the command runs once more in a fresh host and its status
#              comes back; stderr names the panic
#   hang       the test host stops feeding its watchdog (the feeder is SIGSTOPped on the first
#              attempt, standing in for a hung host): the watchdog powers it off, and the
#              command runs again
#   progress   $BULKHEAD_KVM_HOST_PROGRESS is the same file in every attempt: what the first
#              wrote before its host died, the second reads
#   always     a host that dies on every attempt: exit 125 after four attempts, not a loop
#
# usage: kvm-host-test.sh
set -u

HERE=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
KVM_HOST=$(dirname "$(dirname "$HERE")")/scripts/kvm-host.sh
D=$(mktemp -d /tmp/kvm-host-test.XXXXXX)
trap 'rm -rf "$D"' EXIT
export BULKHEAD_KVM_HOST=nested
failed=0

fail() { echo "kvm-host-test: FAIL: $*" >&2; failed=1; }

# run CASE SCRIPT: runs SCRIPT (sh) in the test host with $D shared as /share-dir; sets rc,
# out (stdout) and err (stderr), and attempts (how often SCRIPT started).
run() {
	local name=$1 script=$2
	rm -f "$D/attempts"
	echo "kvm-host-test: $name" >&2
	"$KVM_HOST" --share "$D" --timeout 400 -- sh -c "echo x >>$D/attempts; $script" \
		>"$D/out" 2>"$D/err"
	rc=$?
	out=$(cat "$D/out") err=$(cat "$D/err")
	attempts=$(wc -l <"$D/attempts" 2>/dev/null || echo 0)
}

# expect CASE RC ATTEMPTS [STDERR-PATTERN]
expect() {
	local name=$1 want_rc=$2 want_attempts=$3 pattern=${4:-}
	((rc == want_rc)) || fail "$name: exit status $rc, expected $want_rc"
	((attempts == want_attempts)) || fail "$name: the command started $attempts times, expected $want_attempts"
	if [[ -n $pattern ]] && ! grep -qE "$pattern" <<<"$err"; then
		fail "$name: stderr does not match /$pattern/"
	fi
	if ((failed)); then
		echo "--- stdout:"; echo "$out"; echo "--- stderr:"; echo "$err"
	fi >&2
}

run status 'echo done; exit 7'
expect status 7 1
[[ $out == *done* ]] || fail "status: the command's output did not come back"
grep -q 'running the command again' <<<"$err" && fail "status: a finished command was retried"

first='if [ ! -e '"$D"'/first ]; then : >'"$D"'/first;'
run panic "$first echo c >/proc/sysrq-trigger; sleep 60; fi; echo second; exit 0"
expect panic 0 2 "died before the command finished: its kernel failed \(.*(Kernel panic|sysrq).*\)"
[[ $out == *second* ]] || fail "panic: no output from the second attempt"

rm -f "$D/first"
BULKHEAD_KVM_HOST_WATCHDOG=10 run hang \
	"$first pkill -STOP -f '^/bin/busybox watchdog'; sleep 120; fi; echo second; exit 0"
expect hang 0 2 "died before the command finished: it stopped without a panic: hung"

rm -f "$D/first"
run progress "$first echo one >>\$BULKHEAD_KVM_HOST_PROGRESS; echo c >/proc/sysrq-trigger; sleep 60; fi; cat \$BULKHEAD_KVM_HOST_PROGRESS; exit 0"
expect progress 0 2
[[ $out == *one* ]] || fail "progress: the second attempt did not find what the first recorded"

run always 'echo c >/proc/sysrq-trigger; sleep 60'
expect always 125 4 "ended \(qemu status [0-9]+\) before the command finished"
grep -q 'attempt 4 of 4' <<<"$err" || fail "always: stderr does not count the attempts"

((failed)) && exit 1
echo "kvm-host-test: ok"
