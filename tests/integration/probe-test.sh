#!/bin/bash
# Boot one guest probe (tests/probes) under bulkhead and check its serial output:
# exit status 0, PROBE START, every expected "PROBE OK <check>" line, no PROBE FAIL, and
# "PROBE DONE <n> ok 0 failed" -- or, with --expect-trap V, a "PROBE TRAP vector=V" line
# (and with --expect-end, how the VM ended after the trap: fault.kind=triple must reset).
#
# usage: probe-test.sh --bulkhead BIN --probe ELF [--smp N] [--mem MiB|<n>M|<n>G] [--acpi-off]
#                      [--end poweroff|reset|acpi-reset]
#                      [--fault ud|pf|gp|triple --expect-trap V [--expect-end poweroff|reset]]
#                      [--no-aps] [--timeout S] [--append "extra words"]
set -u

bulkhead= probe= smp=1 mem=256 acpi=1 end= fault= trap= trap_end= aps=1 tmo=60 extra=
while [ $# -gt 0 ]; do
	case "$1" in
	--bulkhead) bulkhead=$2; shift ;;
	--probe) probe=$2; shift ;;
	--smp) smp=$2; shift ;;
	--mem) mem=$2; shift ;;
	--acpi-off) acpi=0 ;;
	--end) end=$2; shift ;;
	--fault) fault=$2; shift ;;
	--expect-trap) trap=$2; shift ;;
	--expect-end) trap_end=$2; shift ;;
	--no-aps) aps=0 ;;
	--timeout) tmo=$2; shift ;;
	--append) extra=$2; shift ;;
	*) echo "probe-test: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

fail() {
	echo "probe-test: FAIL: $*"
	echo "---- command: ${cmd[*]}"
	echo "---- guest serial output (stdout):"
	cat "$out"
	echo "---- bulkhead stderr:"
	cat "$err"
	exit 1
}

[ -x "$bulkhead" ] || { echo "probe-test: FAIL: $bulkhead is not built"; exit 1; }
[ -f "$probe" ] || { echo "probe-test: FAIL: probe image $probe is missing"; exit 1; }

case "$mem" in
*[gG]) bytes=$(( ${mem%?} << 30 )) ;;
*[mM]) bytes=$(( ${mem%?} << 20 )) ;;
*) bytes=$(( mem << 20 )) ;;          # no unit means MiB, as in StratoVirt
esac

token="bh$RANDOM$RANDOM$$"
if [ -n "$fault" ]; then
	append="probe=fault fault.kind=$fault probe.token=$token"
else
	append="probe=basic expect.cpus=$smp expect.mem=$bytes expect.acpi=$acpi probe.aps=$aps probe.token=$token"
fi
[ -n "$end" ] && append+=" probe.end=$end"
[ -n "$extra" ] && append+=" $extra"

cmd=("$bulkhead" -kernel "$probe" -serial stdio -smp "$smp" -m "$mem")
[ "$acpi" = 0 ] && cmd+=(-machine acpi=off)
cmd+=(-append "$append")

out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
timeout -k 5 "$tmo" "${cmd[@]}" </dev/null >"$out" 2>"$err"
rc=$?

[ $rc = 124 ] || [ $rc = 137 ] && fail "bulkhead did not exit within ${tmo}s (killed by timeout)"
[ $rc = 0 ] || fail "bulkhead exited with status $rc, expected 0"
grep -aq '^PROBE START' "$out" || fail "no 'PROBE START' line: the guest never ran or the serial port is broken"
grep -aq 'PROBE FAIL' "$out" && fail "the probe reported failed checks"
grep -aqF "PROBE OK cmdline token=$token" "$out" || fail "the probe did not see token $token in its command line"

if [ -n "$trap" ]; then
	grep -aqE "^PROBE TRAP vector=$trap " "$out" || fail "no 'PROBE TRAP vector=$trap' line"
	grep -aq '^PROBE DONE' "$out" && fail "the probe finished although it should have trapped"
	case "$trap_end" in
	reset)
		grep -aqx "bulkhead: the guest reset" "$err" || fail "stderr does not say 'the guest reset'"
		[ "$fault" != triple ] || grep -aq "triple fault" "$err" ||
			fail "stderr does not name the triple fault" ;;
	poweroff)
		grep -aqx "bulkhead: the guest powered off" "$err" ||
			fail "stderr does not say 'the guest powered off'" ;;
	esac
	cat "$out"
	echo "probe-test: ok (trap $trap)"
	exit 0
fi

need=(e820-low e820-from-1m e820-hole e820-total)
[ "$bytes" -gt $((3 << 30)) ] && need+=(e820-above-4g)
if [ "$acpi" = 1 ]; then
	need+=(acpi-rsdp acpi-xsdt acpi-fadt acpi-dsdt "acpi-madt cpus=$smp")
else
	need+=(acpi-absent mptable "mptable-cpus cpus=$smp")
fi
if [ "$aps" = 1 ]; then
	if [ "$smp" -gt 1 ]; then need+=("smp aps=$((smp - 1)) "); else need+=("smp no APs"); fi
fi
for c in "${need[@]}"; do
	grep -aqF "PROBE OK $c" "$out" || fail "missing 'PROBE OK $c'"
done
grep -aqE '^PROBE DONE [0-9]+ ok 0 failed' "$out" || fail "no 'PROBE DONE <n> ok 0 failed' line"
# the supervisor says how the VM ended: reset and power-off both exit 0 but must not be confused
case "$end" in
reset|acpi-reset) ended="the guest reset" ;;
*) ended="the guest powered off" ;;
esac
grep -aqx "bulkhead: $ended" "$err" || fail "stderr does not say '$ended'"
cat "$out"
echo "probe-test: ok ($(grep -a '^PROBE DONE' "$out"))"
