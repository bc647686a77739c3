#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_bytecode - install --compile-bytecode end to end (issue 14): the real
# pip/setuptools/wheel wheels plus a generated one (a Python-2-only module,
# a .data/purelib module, a script that must not be compiled). Checks
# RECORD rows, that Python uses every .pyc (no rewrite, none written, with
# the loader's set_data watched), byte equality with py_compile, the warm
# install compiling nothing and linking the cached .pyc, copy mode, worker
# death (retried; twice: no bytecode, install still fine), SIGKILL and
# SIGINT while compiling (rolled back), upgrade and uninstall (an upgrade
# whose compile fails leaves no empty __pycache__), --allow-overwrite (the
# later wheel's .pyc wins, cold or warm), and an unchanged distribution
# installed without bytecode getting it.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
PY=/usr/bin/python3
need_tool python3
"$PY" -c 'import venv' 2>/dev/null || skip "python3 venv module missing"
WHEELS=$(ls /usr/share/python-wheels/*.whl 2>/dev/null)
[ -n "$WHEELS" ] || skip "no wheels in /usr/share/python-wheels"
TAG=$("$PY" -c 'import sys; print(sys.implementation.cache_tag)')
C=$TMP/cache

# demo-V wheel: demo/{__init__,mod,py2only}.py, demo-V.data/purelib/
# demo_data.py, a script demo-run.py (scripts are not compiled).
mkwheel() {
	"$PY" - "$TMP/w" "$1" <<'EOF'
import base64, hashlib, sys, zipfile, os
out, ver = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
files = {
    "demo/__init__.py": "VERSION = %r\n" % ver,
    "demo/mod.py": "def f():\n    return %r\n" % ver,
    "demo/py2only.py": "print 'hello'\n",
    "demo-%s.data/purelib/demo_data.py" % ver: "X = 1\n",
    "demo-%s.data/scripts/demo-run.py" % ver: "#!/bin/sh\necho hi\n",
}
if ver == "1.0":
    files["demo/gone.py"] = "G = 1\n"
di = "demo-%s.dist-info" % ver
files[di + "/METADATA"] = "Metadata-Version: 2.1\nName: demo\nVersion: %s\n" % ver
files[di + "/WHEEL"] = "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
rows = []
for p, t in files.items():
    d = base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b"=").decode()
    rows.append("%s,sha256=%s,%d" % (p, d, len(t.encode())))
rows.append(di + "/RECORD,,")
files[di + "/RECORD"] = "\n".join(rows) + "\n"
with zipfile.ZipFile("%s/demo-%s-py3-none-any.whl" % (out, ver), "w") as z:
    for p, t in files.items():
        z.writestr(p, t)
EOF
}
mkwheel 1.0 && mkwheel 2.0 || fail "cannot make the demo wheels"
D1=$TMP/w/demo-1.0-py3-none-any.whl
D2=$TMP/w/demo-2.0-py3-none-any.whl

mkvenv() { "$PY" -m venv --without-pip "$1" || fail "venv $1"; }
site() { echo "$1"/lib/python3*/site-packages; }

# uses_pyc VENV: every .py below site-packages loads its code from a valid
# .pyc: the loader never calls set_data (it would write a .pyc), and the
# __pycache__ files are the same (inode, mtime, size) afterwards.
uses_pyc() {
	local s; s=$(site "$1")
	find "$s" -name '*.pyc' -printf '%i %T@ %s %p\n' | sort >"$TMP/pyc.before"
	env -u PYTHONDONTWRITEBYTECODE "$1/bin/python" - "$s" <<'EOF' ||
import importlib.machinery as m, os, sys
sys.dont_write_bytecode = False
site = sys.argv[1]
writes = []
m.SourceFileLoader.set_data = lambda self, path, data, **k: writes.append(path)
n = 0
for d, _, fs in os.walk(site):
    for f in fs:
        if not f.endswith(".py") or f == "py2only.py" or "dist-info" in d:
            continue
        p = os.path.join(d, f)
        try:
            m.SourceFileLoader("x", p).get_code("x")
        except SyntaxError:
            continue
        n += 1
if writes or n == 0:
    print("checked %d sources; would write %d .pyc, e.g. %s" % (n, len(writes), writes[:3]))
    sys.exit(1)
EOF
		fail "$1: Python did not use the installed .pyc"
	env -u PYTHONDONTWRITEBYTECODE "$1/bin/python" -c \
		'import demo.mod, demo_data, wheel' ||
		fail "$1: import failed"
	find "$s" -name '*.pyc' -printf '%i %T@ %s %p\n' | sort >"$TMP/pyc.after"
	diff "$TMP/pyc.before" "$TMP/pyc.after" >&2 ||
		fail "$1: importing wrote or rewrote .pyc files"
}

# 1. cold install: compile, RECORD, warnings, counters
mkvenv "$TMP/v1"
"$SPOKE" install --cache-dir "$C" --venv "$TMP/v1" --compile-bytecode \
	--json $WHEELS "$D1" >"$TMP/r1.json" 2>"$TMP/e1" ||
	{ cat "$TMP/e1" >&2; fail "cold install with bytecode"; }
S1=$(site "$TMP/v1")
NSRC=$(find "$S1" -name '*.py' -not -name py2only.py | wc -l)
expect_eq "$(json_get "$TMP/r1.json" pyc_compiled)" "$NSRC" "cold: compiled"
expect_eq "$(json_get "$TMP/r1.json" pyc_failed)" 1 "cold: failed (py2only)"
expect_eq "$(json_get "$TMP/r1.json" pyc_cached)" 0 "cold: cached"
grep -q "py2only.py" "$TMP/e1" || fail "no warning for the Python 2 file"
REC=$S1/demo-1.0.dist-info/RECORD
for p in demo/__pycache__/mod.$TAG.pyc demo/__pycache__/__init__.$TAG.pyc \
	 __pycache__/demo_data.$TAG.pyc; do
	grep -qxF "$p,," "$REC" || fail "RECORD lacks '$p,,'"
	[ -f "$S1/$p" ] || fail "$p not installed"
done
grep -q "py2only.$TAG" "$REC" && fail "RECORD lists a .pyc for py2only"
grep -q "demo-run.*pyc" "$REC" && fail "the script was compiled"
[ "$(find "$TMP/v1/bin" -name '*.pyc' | wc -l)" = 0 ] || fail "pyc in bin/"
[ "$(grep -c '\.pyc,,$' "$S1/pip-"*.dist-info/RECORD)" -gt 400 ] ||
	fail "pip's RECORD lacks its .pyc rows"
uses_pyc "$TMP/v1"

# 2. byte equality with py_compile (same source, mtime, mode; dfile = the
# path below site-packages, as spoke records it)
"$PY" - "$S1" "$TMP/eq" <<'EOF' || fail "bytes differ from py_compile"
import os, py_compile, sys, importlib.util as u
site, tmp = sys.argv[1], sys.argv[2]
srcs = sorted(os.path.join(d, f) for d, _, fs in os.walk(site) for f in fs
              if f.endswith(".py") and f != "py2only.py" and "dist-info" not in d)
sample = srcs[::7] + [s for s in srcs if "/demo" in s]
for i, s in enumerate(sample):
    rel = os.path.relpath(s, site)
    out = "%s/%d.pyc" % (tmp, i)
    py_compile.compile(s, cfile=out, dfile=rel, doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    a = open(out, "rb").read(); b = open(u.cache_from_source(s), "rb").read()
    if a != b:
        print("differs:", rel); sys.exit(1)
print("  %d .pyc byte-identical to py_compile" % len(sample), file=sys.stderr)
EOF

# 3. warm: a second venv compiles nothing and links the cached .pyc
mkvenv "$TMP/v2"
"$SPOKE" install --cache-dir "$C" --venv "$TMP/v2" --compile-bytecode \
	--json $WHEELS "$D1" >"$TMP/r2.json" 2>"$TMP/e2" ||
	{ cat "$TMP/e2" >&2; fail "warm install"; }
expect_eq "$(json_get "$TMP/r2.json" pyc_compiled)" 0 "warm: compiled"
expect_eq "$(json_get "$TMP/r2.json" pyc_cached)" "$NSRC" "warm: cached"
P2=$(site "$TMP/v2")/demo/__pycache__/mod.$TAG.pyc
[ "$(stat -c %h "$P2")" -ge 3 ] || fail "warm .pyc is not linked from the cache"
uses_pyc "$TMP/v2"

# 4. copy mode, both io backends: the copied .py carries the cache file's
# mtime
for io in sync uring; do
	mkvenv "$TMP/v3$io"
	"$SPOKE" install --cache-dir "$C" --venv "$TMP/v3$io" --io $io \
		--compile-bytecode --link-mode copy $WHEELS "$D1" >/dev/null \
		2>"$TMP/e3" || { cat "$TMP/e3" >&2; fail "copy install ($io)"; }
	[ "$(stat -c %h "$(site "$TMP/v3$io")/demo/mod.py")" = 1 ] ||
		fail "not copied ($io)"
	uses_pyc "$TMP/v3$io"
done

# 4b. the Python binding's keyword (warm: links from the cache)
if [ -e "$BUILD/libspoke.so.0" ]; then
	mkvenv "$TMP/vpy"
	SPOKE_LIBRARY=$BUILD/libspoke.so.0 PYTHONPATH=$ROOT/python "$PY" - \
		"$TMP/vpy" "$C" "$D1" <<'EOF' || fail "binding compile_bytecode"
import sys, spoke
r = spoke.install([sys.argv[3]], sys.argv[1], cache_dir=sys.argv[2],
                  compile_bytecode=True, log=lambda lvl, msg: None)
assert r.counters["pyc_cached"] == 4, r.counters
EOF
	[ -f "$(site "$TMP/vpy")/demo/__pycache__/mod.$TAG.pyc" ] ||
		fail "binding: no demo/mod .pyc"
fi

# 5. upgrade replaces the .pyc (new source, new header), removes gone.py's;
# uninstall removes them all
"$SPOKE" install --cache-dir "$C" --venv "$TMP/v1" --compile-bytecode \
	"$D2" >/dev/null 2>"$TMP/e5" || { cat "$TMP/e5" >&2; fail "upgrade"; }
[ -e "$S1/demo/__pycache__/gone.$TAG.pyc" ] && fail "upgrade kept gone.pyc"
[ "$("$TMP/v1/bin/python" -c 'import demo.mod; print(demo.mod.f())')" = 2.0 ] ||
	fail "upgrade: old code runs"
uses_pyc "$TMP/v1"
"$SPOKE" uninstall --venv "$TMP/v1" demo >/dev/null 2>&1 || fail "uninstall"
[ -e "$S1/demo" ] && fail "uninstall left $(find "$S1/demo" | head -3)"
[ -e "$S1/__pycache__/demo_data.$TAG.pyc" ] && fail "uninstall left demo_data pyc"

# 6. worker death: once is retried; twice on a file leaves that wheel
# without bytecode (a warning) and the install succeeds
mkdir -p "$TMP/die"
echo 1 >"$TMP/die/mod.py"
mkvenv "$TMP/v4"
SPOKE_TEST_PYC_DIE_DIR=$TMP/die "$SPOKE" install --cache-dir "$TMP/c4" \
	--venv "$TMP/v4" --compile-bytecode --json "$D1" >"$TMP/r4.json" \
	2>"$TMP/e4" || { cat "$TMP/e4" >&2; fail "install with a worker death"; }
expect_eq "$(json_get "$TMP/r4.json" pyc_compiled)" 4 "one death: compiled"
[ -f "$(site "$TMP/v4")/demo/__pycache__/mod.$TAG.pyc" ] || fail "no retry"
echo 2 >"$TMP/die/mod.py"
mkvenv "$TMP/v5"
SPOKE_TEST_PYC_DIE_DIR=$TMP/die "$SPOKE" install --cache-dir "$TMP/c5" \
	--venv "$TMP/v5" --compile-bytecode "$D1" >/dev/null 2>"$TMP/e5" ||
	{ cat "$TMP/e5" >&2; fail "install with two worker deaths"; }
grep -q "no bytecode for" "$TMP/e5" || fail "no warning after two deaths"
[ -d "$(site "$TMP/v5")/demo/__pycache__" ] && fail "bytecode after two deaths"
ls "$TMP/c5/bytecode-v1" 2>/dev/null | grep -q . && fail "published a failed compile"

# 6a. an upgrade whose compile fails leaves no empty __pycache__ behind
# (the old .pyc are gone with the old version, no new ones come)
mkvenv "$TMP/v8"
"$SPOKE" install --cache-dir "$TMP/c8" --venv "$TMP/v8" --compile-bytecode \
	"$D1" >/dev/null 2>&1 || fail "install 1.0 (6a)"
S8=$(site "$TMP/v8")
[ -d "$S8/demo/__pycache__" ] || fail "6a: no __pycache__ to begin with"
for f in __init__.py mod.py demo_data.py; do echo 2 >"$TMP/die/$f"; done
SPOKE_TEST_PYC_DIE_DIR=$TMP/die "$SPOKE" install --cache-dir "$TMP/c8" \
	--venv "$TMP/v8" --compile-bytecode "$D2" >/dev/null 2>"$TMP/e8" ||
	{ cat "$TMP/e8" >&2; fail "upgrade with a failing compile"; }
[ -e "$S8/demo/__pycache__" ] && fail "6a: left $(ls -a "$S8/demo/__pycache__")"
[ -e "$S8/__pycache__" ] && fail "6a: left site-packages/__pycache__"
[ "$("$TMP/v8/bin/python" -c 'import demo.mod; print(demo.mod.f())')" = 2.0 ] ||
	fail "6a: upgrade did not take"
rm -f "$TMP/die/"*

# 6b. installed without bytecode, then --compile-bytecode: reinstalled with
# its .pyc in RECORD; once it has them, unchanged
mkvenv "$TMP/v7"
"$SPOKE" install --cache-dir "$C" --venv "$TMP/v7" $WHEELS "$D1" >/dev/null 2>&1 ||
	fail "install without bytecode"
S7=$(site "$TMP/v7")
"$SPOKE" install --cache-dir "$C" --venv "$TMP/v7" --compile-bytecode \
	--json $WHEELS "$D1" >"$TMP/r7.json" 2>"$TMP/e7" ||
	{ cat "$TMP/e7" >&2; fail "bytecode for an unchanged wheel"; }
grep -q '"action":"reinstalled"' "$TMP/r7.json" ||
	fail "not reinstalled: $(cat "$TMP/r7.json")"
expect_eq "$(json_get "$TMP/r7.json" pyc_cached)" "$NSRC" "unchanged: cached"
grep -qxF "demo/__pycache__/mod.$TAG.pyc,," "$S7/demo-1.0.dist-info/RECORD" ||
	fail "unchanged: RECORD lacks the .pyc"
uses_pyc "$TMP/v7"
"$SPOKE" install --cache-dir "$C" --venv "$TMP/v7" --compile-bytecode \
	--json $WHEELS "$D1" >"$TMP/r7.json" 2>/dev/null || fail "second install"
grep -q '"action":"reinstalled"' "$TMP/r7.json" && fail "not unchanged after"
grep -q '"action":"unchanged"' "$TMP/r7.json" || fail "no unchanged after"

# 6c. --allow-overwrite: two wheels install ovr/m.py (same size, same
# timestamp, different code, so Python would trust either .pyc); the
# later wheel's .pyc wins with its source, whichever of the two is cold
for n in a b; do
	"$PY" - "$TMP/w" "$n" <<'EOF' || fail "cannot make ov$n"
import base64, hashlib, sys, zipfile
out, n = sys.argv[1], sys.argv[2]
di = "ov%s-1.0.dist-info" % n
files = {"ovr/__init__.py": "", "ovr/m.py": "V = %r\n" % n.upper(),
         di + "/METADATA": "Metadata-Version: 2.1\nName: ov%s\nVersion: 1.0\n" % n,
         di + "/WHEEL": "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
rows = ["%s,sha256=%s,%d" % (p, base64.urlsafe_b64encode(hashlib.sha256(
    t.encode()).digest()).rstrip(b"=").decode(), len(t)) for p, t in files.items()]
files[di + "/RECORD"] = "\n".join(rows + [di + "/RECORD,,"]) + "\n"
with zipfile.ZipFile("%s/ov%s-1.0-py3-none-any.whl" % (out, n), "w") as z:
    for p, t in files.items():
        z.writestr(zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0)), t)
EOF
done
OA=$TMP/w/ova-1.0-py3-none-any.whl
OB=$TMP/w/ovb-1.0-py3-none-any.whl
ov_check() { # VENV WHAT: B's code, from a .pyc Python uses as it is
	local s p; s=$(site "$1"); p=$s/ovr/__pycache__/m.$TAG.pyc
	[ -f "$p" ] || fail "$2: no .pyc for ovr/m.py"
	local i; i=$(stat -c %i "$p")
	[ "$(env -u PYTHONDONTWRITEBYTECODE "$1/bin/python" -c \
		'import ovr.m; print(ovr.m.V)')" = B ] || fail "$2: not B's code"
	[ "$(stat -c %i "$p")" = "$i" ] || fail "$2: Python rewrote the .pyc"
	"$PY" - "$p" "$s/ovr/m.py" <<'EOF' || fail "$2: the .pyc is not B's"
import marshal, os, sys
d = open(sys.argv[1], "rb").read(); st = os.stat(sys.argv[2])
assert int.from_bytes(d[8:12], "little") == int(st.st_mtime) & 0xffffffff
assert int.from_bytes(d[12:16], "little") == st.st_size
assert "B" in marshal.loads(d[16:]).co_consts
EOF
}
ov_install() { # CACHE VENV WHEEL...
	local c=$1 v=$2; shift 2
	mkvenv "$v"
	"$SPOKE" install --cache-dir "$c" --venv "$v" --compile-bytecode \
		--allow-overwrite "$@" >/dev/null 2>"$v.err" ||
		{ cat "$v.err" >&2; fail "allow-overwrite install into $v"; }
}
ov_install "$TMP/c9" "$TMP/v9a" "$OA" "$OB" && ov_check "$TMP/v9a" "both cold"
ov_install "$TMP/c9" "$TMP/v9b" "$OA" "$OB" && ov_check "$TMP/v9b" "both warm"
ov_install "$TMP/c10" "$TMP/v10a" "$OB"
ov_install "$TMP/c10" "$TMP/v10b" "$OA" "$OB" && ov_check "$TMP/v10b" "A cold, B warm"
ov_install "$TMP/c11" "$TMP/v11a" "$OA"
ov_install "$TMP/c11" "$TMP/v11b" "$OA" "$OB" && ov_check "$TMP/v11b" "A warm, B cold"

# 7. SIGKILL and SIGINT while compiling (cold cache, pip's 500 modules):
# the environment is as it was
for sig in KILL INT; do
	mkvenv "$TMP/v6$sig"
	# the lock file stays (it is spoke's own, kept between runs)
	manifest "$TMP/v6$sig" | grep -v '^\.spoke-lock ' >"$TMP/m.before"
	"$SPOKE" install --cache-dir "$TMP/c6$sig" --venv "$TMP/v6$sig" \
		--compile-bytecode $WHEELS >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 1 300); do
		[ -n "$(find "$TMP/c6$sig/tmp" -name '*.pyc' 2>/dev/null |
			head -1)" ] && break
		sleep 0.05
	done
	kill -$sig $pid; wait $pid 2>/dev/null; rc=$?
	[ $rc = 0 ] && fail "SIG$sig came after the install finished"
	[ $rc = 0 ] || {
		[ -e "$TMP/v6$sig/.spoke-journal" ] && "$SPOKE" recover --venv "$TMP/v6$sig" >/dev/null 2>&1
		diff "$TMP/m.before" <(manifest "$TMP/v6$sig" |
			grep -v '^\.spoke-lock ') >&2 ||
			fail "SIG$sig during compile changed the environment"
	}
done
exit 0
