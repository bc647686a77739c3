#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_python - the Python binding's pytest suite (python/tests) against this
# build's shared library: installs into fresh venvs, progress, errors with
# code/errno/path, uninstall, cache keys, plans, cancellation, two threads
# at once. Skips when pytest or the shared library is missing (sanitizer
# builds make none); a run that collects no tests fails.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
LIB=$BUILD/libspoke.so.0
need_tool python3 py:pytest py:venv
[ -e "$LIB" ] || skip "no shared library at $LIB (sanitizer builds make none; run make)"

# -p no:cacheprovider: no .pytest_cache written into the source tree.
SPOKE_LIBRARY=$LIB PYTHONDONTWRITEBYTECODE=1 \
	$PY -m pytest -q -p no:cacheprovider --basetemp="$TMP/pytest" \
	"$ROOT/python/tests" 2>&1
rc=$?
case $rc in
0) ;;
5) fail "pytest collected no tests from python/tests" ;;
*) fail "pytest failed (exit $rc)" ;;
esac
