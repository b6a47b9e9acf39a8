#!/usr/bin/env bash
# bulkhead(1) is generated from `bulkhead --help` at build time: every option the help lists
# (each with its limits) must be in the page, and the page must have its own sections.
# usage: manpage-test.sh BULKHEAD MANPAGE
set -euo pipefail
bin=$1 page=$2
fail() { echo "manpage-test: FAIL: $*" >&2; exit 1; }

[[ -s $page ]] || fail "$page is missing or empty"
mapfile -t opts < <("$bin" --help | sed -n 's/^  \(-[A-Za-z_-]*\).*/\1/p')
(( ${#opts[@]} >= 25 )) || fail "bulkhead --help lists ${#opts[@]} options"
for o in "${opts[@]}"; do
	# troff writes "-" as "\-" in option names
	grep -qF -- "\\fB${o//-/\\-}\\fR" "$page" || fail "option $o is not in $page"
done
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	grep -q "^\.SH \"\?$s\"\?$" "$page" || fail "no $s section in $page"
done
grep -qF 'bulkhead 0' "$page" || fail "no version in $page"
echo "manpage-test: ok: ${#opts[@]} options in $(basename "$page")"
