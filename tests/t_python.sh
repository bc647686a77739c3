#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_python - the Python binding's pytest suite (python/tests) against this
# build's shared library: installs into fresh venvs, progress, errors with
# code/errno/path, uninstall, cache keys, plans, cancellation, two threads
# at once. Skips when pytest or the shared library is missing (sanitizer
# builds make none); a run that collects no tests fails. Then the binding as
# `make install` installs it must find the installed library by itself.
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

# The binding as `make install` puts it next to the library: it must find
# that library with no SPOKE_LIBRARY and nothing on the linker path.
P=$TMP/prefix
make -s -C "$ROOT" install PREFIX="$P" BUILD="$BUILD" >"$TMP/make.log" 2>&1 ||
	{ tail -20 "$TMP/make.log" >&2; fail "make install PREFIX=$P failed"; }
$PY -m venv --without-pip "$TMP/iv" || fail "python3 -m venv failed"
mkdir -p "$TMP/t/w-1.0/w-1.0.dist-info"
echo 'x = 1' >"$TMP/t/w-1.0/w.py"
printf 'Metadata-Version: 2.1\nName: w\nVersion: 1.0\n\n' \
	>"$TMP/t/w-1.0/w-1.0.dist-info/METADATA"
printf 'Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
	>"$TMP/t/w-1.0/w-1.0.dist-info/WHEEL"
printf 'w.py,,6\nw-1.0.dist-info/METADATA,,\nw-1.0.dist-info/WHEEL,,\nw-1.0.dist-info/RECORD,,\n' \
	>"$TMP/t/w-1.0/w-1.0.dist-info/RECORD"
out=$(cd / && env -u SPOKE_LIBRARY PYTHONPATH="$P/lib/python3/dist-packages" \
	PYTHONDONTWRITEBYTECODE=1 $PY -c '
import sys, spoke
lib = spoke.load_library()
r = spoke.install([sys.argv[1]], sys.argv[2], cache_dir=sys.argv[3])
print(lib._name, spoke.__file__, r.wheels[0].action)' \
	"$TMP/t/w-1.0" "$TMP/iv" "$TMP/cache" 2>&1) || fail "installed binding: $out"
expect_eq "$out" "$P/lib/libspoke.so.0 $P/lib/python3/dist-packages/spoke/__init__.py installed" \
	"the installed binding's library, package and install"
exit 0
