#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_compat - the compatibility check of `spoke install` (engine/compat.c):
# wheels whose file-name tags the venv's interpreter does not support
# (platform, Python tag, ABI) and wheels whose Requires-Python excludes it
# are refused before anything changes, with pip's kind of message; abi3,
# py2.py3, manylinux of this glibc and trees tagged in WHEEL pass;
# --no-compat-check lets them through; a JSON plan may turn it off; the
# tags are cached by interpreter; the library's default is off (a plan
# without the CLI's setting installs a foreign wheel).
. "$(dirname "$0")/lib.sh"
need_spoke_venv
export SPOKE_CACHE_DIR=$TMP/cache

V=$TMP/venv
$PY -m venv --without-pip "$V" || fail "cannot create a venv"
read -r XY CP FULL GLIBC <<<"$("$V/bin/python" -c 'import os, sys
v = sys.version_info
print("%d.%d cp%d%d %d.%d.%d %s" % (v[0], v[1], v[0], v[1], v[0], v[1], v[2],
      os.confstr("CS_GNU_LIBC_VERSION").split()[1].replace(".", "_")))')"
W=$TMP/whl
# mk NAME FILE-TAG [Requires-Python] [WHEEL-Tag]: a one-module wheel under
# the file name NAME-1.0-FILE-TAG.whl
mk() {
	$PY - "$ROOT/tests/wheels" "$W" "$@" <<'PYEOF' || fail "cannot make wheel $1"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
out, name, tag = sys.argv[2], sys.argv[3], sys.argv[4]
req = sys.argv[5] if len(sys.argv) > 5 else ""
w = Wheel(name, "1.0")
w.add(name + "/__init__.py", "X = 1\n")
meta = "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name
if req:
    meta += "Requires-Python: %s\n" % req
w.add(w.distinfo + "/METADATA", meta + "\nRequires-Python: <0 in the body\n")
w.add(w.distinfo + "/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: %s\n" % tag)
os.makedirs(out, exist_ok=True)
w.write_whl(os.path.join(out, "%s-1.0-%s.whl" % (name, tag)))
if len(sys.argv) > 6:
    w.write_tree(os.path.join(out, "tree-" + name))
PYEOF
}
refused() { # refused WHAT EXPECTED-MESSAGE ARGS...
	local what=$1 msg=$2
	shift 2
	manifest "$V" >"$TMP/before"
	run install --venv "$V" "$@"
	expect_eq $? 4 "$what"
	grep -qF -- "$msg" "$TMP/err" || { cat "$TMP/err" >&2; fail "$what: no '$msg'"; }
	manifest "$V" >"$TMP/after"
	cmp -s "$TMP/before" "$TMP/after" || fail "$what: the venv changed"
}
installed() { [ -d "$V/lib/python$XY/site-packages/$1-1.0.dist-info" ]; }

mk plat_foreign "$CP-$CP-win_amd64"
mk py_foreign "cp27-cp27mu-manylinux1_x86_64"
mk abi_foreign "$CP-${CP}d-manylinux_2_17_x86_64"
mk glibc_future "$CP-$CP-manylinux_2_99_x86_64"
mk abi3_ok "cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64"
mk py2py3_ok "py2.py3-none-any"
mk native_ok "$CP-$CP-manylinux_$GLIBC""_x86_64"
mk req_excl "py3-none-any" ">=3.99"
mk req_ok "py3-none-any" ">=3.6, !=3.0.*, <4"
mk req_wild "py3-none-any" "!=$XY.*"
mk req_tilde "py3-none-any" "~=$XY.0"
mk req_bad "py3-none-any" ">=three"
mk tree_foreign "cp27-cp27mu-manylinux1_x86_64" "" tree

[ "$(uname -m)" = x86_64 ] || skip "the foreign tags here assume x86_64"

refused "foreign platform" "plat_foreign-1.0-$CP-$CP-win_amd64.whl is not a supported wheel on this platform" \
	"$W/plat_foreign-1.0-$CP-$CP-win_amd64.whl"
refused "foreign python tag" "is not a supported wheel on this platform" \
	"$W/py_foreign-1.0-cp27-cp27mu-manylinux1_x86_64.whl"
refused "foreign abi" "is not a supported wheel" "$W/abi_foreign-1.0-$CP-${CP}d-manylinux_2_17_x86_64.whl"
refused "newer glibc" "is not a supported wheel" "$W/glibc_future-1.0-$CP-$CP-manylinux_2_99_x86_64.whl"
refused "Requires-Python" "package 'req_excl' requires a different Python: $FULL not in '>=3.99'" \
	"$W/req_excl-1.0-py3-none-any.whl"
refused "Requires-Python != X.Y.*" "requires a different Python: $FULL not in '!=$XY.*'" \
	"$W/req_wild-1.0-py3-none-any.whl"
refused "a tree tagged foreign in WHEEL" "is not a supported wheel" "$W/tree-tree_foreign"
# one bad wheel among good ones: nothing of the run is installed
refused "a run with one foreign wheel" "is not a supported wheel" \
	"$W/py2py3_ok-1.0-py2.py3-none-any.whl" "$W/plat_foreign-1.0-$CP-$CP-win_amd64.whl"
ls "$SPOKE_CACHE_DIR"/tags-v1/* >/dev/null 2>&1 || fail "the interpreter's tags were not cached"

ok install --venv "$V" "$W/abi3_ok-1.0-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl" \
	"$W/py2py3_ok-1.0-py2.py3-none-any.whl" "$W/native_ok-1.0-$CP-$CP-manylinux_$GLIBC""_x86_64.whl" \
	"$W/req_ok-1.0-py3-none-any.whl" "$W/req_tilde-1.0-py3-none-any.whl"
for d in abi3_ok py2py3_ok native_ok req_ok req_tilde; do installed $d || fail "$d not installed"; done
ok install --venv "$V" "$W/req_bad-1.0-py3-none-any.whl"
grep -q "invalid Requires-Python" "$TMP/err" || fail "no warning for an invalid Requires-Python"
installed req_bad || fail "a wheel with an invalid Requires-Python is installed, as pip does"

# a damaged tags cache is computed again, not trusted
for f in "$SPOKE_CACHE_DIR"/tags-v1/*; do echo garbage >"$f"; done
ok install --venv "$V" --dry-run "$W/py2py3_ok-1.0-py2.py3-none-any.whl" --reinstall
refused "foreign platform, damaged tags cache" "is not a supported wheel" \
	"$W/plat_foreign-1.0-$CP-$CP-win_amd64.whl"
grep -q "^spoke-tags 1" "$SPOKE_CACHE_DIR"/tags-v1/* || fail "the tags cache was not rewritten"

# --no-compat-check and a plan's compat_check: false let them through
ok install --venv "$V" --no-compat-check "$W/plat_foreign-1.0-$CP-$CP-win_amd64.whl" \
	"$W/req_excl-1.0-py3-none-any.whl"
installed plat_foreign && installed req_excl || fail "--no-compat-check did not install"
printf '{"environment": {"venv": "%s"}, "wheels": [{"path": "%s"}], "options": {"compat_check": false}}' \
	"$V" "$W/py_foreign-1.0-cp27-cp27mu-manylinux1_x86_64.whl" >"$TMP/plan.json"
ok install --plan "$TMP/plan.json"
installed py_foreign || fail "a plan with compat_check false did not install"
printf '{"environment": {"venv": "%s"}, "wheels": [{"path": "%s"}], "options": {"compat_check": true}}' \
	"$V" "$W/abi_foreign-1.0-$CP-${CP}d-manylinux_2_17_x86_64.whl" >"$TMP/plan.json"
run install --plan "$TMP/plan.json" --no-compat-check
expect_eq $? 0 "--no-compat-check after --plan"

# the library's default is off: an embedder's plan without the setting
# (through the shared library, which sanitizer builds do not make)
if [ ! -e "$BUILD/libspoke.so" ]; then
	note "no $BUILD/libspoke.so (a sanitizer build): the library's default not checked"
	exit 0
fi
$PY - "$BUILD/libspoke.so" "$V" "$W/glibc_future-1.0-$CP-$CP-manylinux_2_99_x86_64.whl" <<'PYEOF' || fail "library default"
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.spoke_ctx_create.restype = ctypes.c_void_p
lib.spoke_plan_create.restype = ctypes.c_void_p
ctx, plan = lib.spoke_ctx_create(), lib.spoke_plan_create()
lib.spoke_plan_set_venv(ctypes.c_void_p(plan), sys.argv[2].encode())
lib.spoke_plan_add_wheel(ctypes.c_void_p(plan), sys.argv[3].encode())
r = lib.spoke_install(ctypes.c_void_p(ctx), ctypes.c_void_p(plan), None)
sys.exit(0 if r == 0 else 1)
PYEOF
installed glibc_future || fail "the library checked compatibility by default"
exit 0
