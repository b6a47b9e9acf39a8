#!/usr/bin/env bash
# THE test command: install dependencies, prepare the Linux guest assets, build, run every
# test suite, and print one summary line "N passed, M failed[, K skipped]".
#
# usage: bash scripts/test.sh [meson test args, e.g. --suite unit]   (from any directory)
# env:   BUILDDIR (default <repo>/build); FUZZ_BUILDDIR, the clang fuzz build (default
#        <repo>/build-fuzz); FUZZ_SMOKE=0/1 skips/forces its libFuzzer smoke run (default:
#        run it when no meson test arguments are given)
# exit:  0 when nothing failed, 1 otherwise.
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
BUILD=${BUILDDIR:-$REPO/build}
cd "$REPO"

step() { echo "=== test.sh: $* ==="; }

step "dependencies"
bash scripts/deps.sh
step "guest assets"
bash scripts/guest-assets.sh

step "build in $BUILD"
build_ok=1
if [[ -f $BUILD/build.ninja ]]; then
	meson setup --reconfigure "$BUILD" >/dev/null || build_ok=0
else
	meson setup "$BUILD" || build_ok=0
fi
((build_ok)) && { ninja -C "$BUILD" || build_ok=0; }
if ((!build_ok)); then
	echo "test.sh: the build failed; no tests run"
	echo "0 passed, 1 failed"
	exit 1
fi

# The clang libFuzzer build (own folder) and a few seconds of every fuzz target over its seed
# corpus and regression inputs, so neither the clang build nor a harness can rot between
# campaigns (scripts/fuzz.sh SECONDS runs the long ones). Full runs only: with meson test
# arguments (a suite, a test) it is skipped unless FUZZ_SMOKE=1; FUZZ_SMOKE=0 skips it.
fuzz_result=
if [[ ${FUZZ_SMOKE:-$(($# == 0))} == 1 ]]; then
	step "libFuzzer smoke run (clang, every target 5 s)"
	if FUZZ_WORKDIR=${FUZZ_BUILDDIR:-$REPO/build-fuzz}/smoke bash scripts/fuzz.sh 5; then
		fuzz_result=OK
	else
		fuzz_result=FAIL
	fi
fi

step "meson test"
LOG=$BUILD/meson-logs/testlog.json
rm -f "$LOG"
test_rc=0
meson test -C "$BUILD" --print-errorlogs "$@" || test_rc=$?

step "summary"
# testlog.json has one JSON object per test; "result" is OK, SKIP, FAIL, TIMEOUT, ERROR,
# EXPECTEDFAIL or UNEXPECTEDPASS. Anything that is not a pass or a skip counts as failed.
summary=$(python3 - "$LOG" "$fuzz_result" <<'EOF'
import json, sys
passed = failed = skipped = 0
names = []
# the libFuzzer smoke run counts as one test (absent when it was skipped)
if sys.argv[2] == "OK":
    passed += 1
elif sys.argv[2]:
    failed += 1
    names.append("libfuzzer-smoke (FAIL)")
try:
    lines = open(sys.argv[1]).read().splitlines()
except OSError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    try:
        t = json.loads(line)
    except ValueError:
        # A line that is not JSON means the log is damaged: nothing in it may count as a pass.
        t = {"name": "unreadable testlog line", "result": "ERROR"}
    r = t.get("result", "ERROR")
    if r in ("OK", "EXPECTEDFAIL"):
        passed += 1
    elif r == "SKIP":
        skipped += 1
    else:
        failed += 1
        names.append("%s (%s)" % (t.get("name", "?"), r))
if names:
    print("failed: " + ", ".join(names), file=sys.stderr)
s = "%d passed, %d failed" % (passed, failed)
print(s + (", %d skipped" % skipped if skipped else ""))
EOF
)
echo "$summary"
failed=$(echo "$summary" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed.*/\1/p')
if [[ ${failed:-1} != 0 || ! -s $LOG ]]; then
	exit 1
fi
# meson's own status catches what the log cannot show (e.g. a test it could not start).
((test_rc == 0)) || exit 1
exit 0
