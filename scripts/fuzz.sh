#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted input (tests/fuzz/): builds the clang
# libFuzzer configuration if needed (ASan + UBSan, every object instrumented), runs each target
# for SECONDS, two at a time, over a copy of its seed corpus and regression inputs, and prints
# one table: target, executions, edges covered (libFuzzer's cov:), corpus files, crashes.
#
# usage: scripts/fuzz.sh [SECONDS]        (default 600; from any directory)
# env:   FUZZ_BUILDDIR  the clang build (default <repo>/build-fuzz)
#        FUZZ_WORKDIR   corpora, logs and crash inputs (default a new /tmp/bulkhead-fuzz.XXXXXX)
#        FUZZ_JOBS      targets at a time (default 2)
#        FUZZ_TARGETS   a subset, e.g. "qmp net" (default every tests/fuzz/fuzz_*.c)
# exit:  0 when no target crashed, 1 otherwise (each crash input is saved and its
#        reproducing command printed).
#
# The corpora grow in the work folder only: the repository's seeds stay small and chosen by
# hand. A crash, once fixed, goes to tests/fuzz/regressions/<target>/ so every gcc test run
# (suite fuzz) and every later campaign replays it.
set -euo pipefail

REPO=$(dirname "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")")
SECS=${1:-600}
BUILD=${FUZZ_BUILDDIR:-$REPO/build-fuzz}
JOBS=${FUZZ_JOBS:-2}
[[ $SECS =~ ^[0-9]+$ && $SECS -gt 0 ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }

if [[ -n ${FUZZ_TARGETS:-} ]]; then
	read -r -a TARGETS <<<"$FUZZ_TARGETS"
else
	TARGETS=()
	for f in "$REPO"/tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		TARGETS+=("${t%.c}")
	done
fi

log() { echo "fuzz.sh: $*"; }

# ---- build ----------------------------------------------------------------------------------
# quiet unless it fails: then the end of what it said, and no campaign
quiet() {
	local out

	if ! out=$("$@" 2>&1); then
		echo "$out" | tail -40
		log "failed: $*"
		exit 1
	fi
}
if [[ ! -f $BUILD/build.ninja ]]; then
	log "configuring $BUILD (clang, libFuzzer, ASan + UBSan)"
	CC=clang quiet meson setup "$BUILD" "$REPO" -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false
fi
log "building $BUILD"
quiet ninja -C "$BUILD" -j"$JOBS"

WORK=${FUZZ_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/bulkhead-fuzz.XXXXXX")}
mkdir -p "$WORK"
log "work folder $WORK"

# ---- one target -------------------------------------------------------------------------------
run_one() {
	local t=$1 exe=$BUILD/tests/fuzz/fuzz-$1 dir=$WORK/$1 args=()

	[[ -x $exe ]] || { echo "fuzz.sh: $exe is missing" >"$WORK/$t.log"; echo 127 >"$WORK/$t.rc"; return; }
	rm -rf "$dir"
	mkdir -p "$dir/corpus" "$dir/crashes"
	for d in corpus regressions; do
		if compgen -G "$REPO/tests/fuzz/$d/$t/*" >/dev/null; then
			cp "$REPO/tests/fuzz/$d/$t"/* "$dir/corpus/"
		fi
	done
	[[ -f $REPO/tests/fuzz/$t.dict ]] && args+=("-dict=$REPO/tests/fuzz/$t.dict")
	# IPC messages go up to IPC_MAX_PAYLOAD (8 KiB) plus the header: longer ones must be tried
	[[ $t == ipc ]] && args+=(-max_len=8300)
	# -timeout: an input that runs for 25 s is a hang, saved like a crash
	local rc=0
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$exe" "${args[@]}" -max_total_time="$SECS" -timeout=25 -print_final_stats=1 \
		-artifact_prefix="$dir/crashes/" "$dir/corpus" >"$WORK/$t.log" 2>&1 || rc=$?
	echo "$rc" >"$WORK/$t.rc"
}

log "running ${#TARGETS[@]} targets for ${SECS}s each, $JOBS at a time"
running=0
for t in "${TARGETS[@]}"; do
	if ((running >= JOBS)); then
		wait -n || true
		running=$((running - 1))
	fi
	run_one "$t" &
	running=$((running + 1))
done
wait || true

# ---- the table ---------------------------------------------------------------------------------
failed=0
crash_lines=()
printf '\n%-12s %12s %8s %8s %8s\n' target execs edges corpus crashes
for t in "${TARGETS[@]}"; do
	lg=$WORK/$t.log
	rc=$(cat "$WORK/$t.rc" 2>/dev/null || echo 127)
	# executions: the final stats, or (stopped by a crash) the last status line's #N
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$lg" | tail -1)
	[[ -n $execs ]] || execs=$(grep -o '^#[0-9]*' "$lg" | tail -1 | tr -d '#')
	edges=$(grep -o 'cov: [0-9]*' "$lg" | tail -1 | cut -d' ' -f2)
	corpus=$(find "$WORK/$t/corpus" -type f 2>/dev/null | wc -l)
	crashes=0
	for c in "$WORK/$t/crashes"/*; do
		[[ -f $c ]] || continue
		crashes=$((crashes + 1))
		crash_lines+=("$t: $c" "    reproduce: $BUILD/tests/fuzz/fuzz-$t $c")
	done
	# a target that failed without leaving an input (build, startup) counts as a crash too
	if ((rc != 0 && crashes == 0)); then
		crashes=1
		crash_lines+=("$t: exited $rc without a crash input; see $lg")
	fi
	((crashes == 0)) || failed=1
	printf '%-12s %12s %8s %8s %8s\n' "$t" "${execs:-?}" "${edges:-?}" "$corpus" "$crashes"
done
echo
if ((${#crash_lines[@]})); then
	echo "crashes (logs in $WORK/<target>.log):"
	printf '  %s\n' "${crash_lines[@]}"
	echo "fix the code, then keep each input in tests/fuzz/regressions/<target>/"
else
	echo "no crashes; logs and grown corpora in $WORK"
fi
exit "$failed"
