#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh - the test runner: every C test program (build/tests/t_*) and every
# shell test (tests/t_*.sh), each under a timeout, liburing-style exit codes
# (0 pass, 1 fail, 77 skip). Prints one line per test and closes with
# "N passed, N failed, N skipped". --tsan runs only the threaded tests (the
# TSan build); SPOKE_TESTS="t_pool t_walk" picks tests by name.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
TIMEOUT=${SPOKE_TEST_TIMEOUT:-300}
only_tsan=0
[ "${1:-}" = --tsan ] && only_tsan=1

# Tests that exercise threads; the TSan run takes these.
TSAN_TESTS="t_pool t_attempt t_batch t_walk t_linker t_zip t_store t_progress t_pycompile t_plan"

tests=()
for t in "$BUILD"/tests/t_*; do
	[ -x "$t" ] && tests+=("$t")
done
for t in tests/t_*.sh; do
	[ -f "$t" ] && tests+=("$t")
done

pass=0 failn=0 skipn=0 failed=()
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	if [ -n "${SPOKE_TESTS:-}" ] && ! [[ " $SPOKE_TESTS " == *" $name "* ]]; then
		continue
	fi
	if [ $only_tsan = 1 ] && ! [[ " $TSAN_TESTS " == *" $name "* ]]; then
		continue
	fi
	log=$(mktemp)
	start=$EPOCHREALTIME
	case $t in
	*.sh) timeout -k 10 "$TIMEOUT" bash "$t" >"$log" 2>&1 ;;
	*) timeout -k 10 "$TIMEOUT" "$t" >"$log" 2>&1 ;;
	esac
	rc=$?
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	case $rc in
	0) pass=$((pass + 1)); echo "PASS  $name (${secs}s)" ;;
	77) skipn=$((skipn + 1)); echo "SKIP  $name: $(grep -m1 -i 'skip' "$log" | sed 's/^skip: //I' | cut -c1-160)" ;;
	*) failn=$((failn + 1)); failed+=("$name")
	   [ $rc = 124 ] && echo "FAIL  $name (timeout after ${TIMEOUT}s)" || echo "FAIL  $name (exit $rc)"
	   sed 's/^/      /' "$log" | tail -40 ;;
	esac
	rm -f "$log"
done
echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $failn failed, $skipn skipped"
[ $failn = 0 ]
