#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cli_habits - the command line's pip and uv habits (cli/env.c,
# cli/summary.c): environment discovery (--venv, the venv of --python,
# $VIRTUAL_ENV, .venv in a parent directory), --shebang-python, --prefix
# and --root laid out as pip lays them out (compared with pip itself),
# -V, SPOKE_LINK_MODE, help that lists only a command's own options,
# uninstall -y, -v detail and the summary line.
. "$(dirname "$0")/lib.sh"
need_spoke_venv
export SPOKE_CACHE_DIR=$TMP/cache
unset VIRTUAL_ENV

has() { [ -d "$1/lib/python$XY/site-packages/hab-$2.dist-info" ]; }

V=$TMP/v V2=$TMP/v2 P=$TMP/proj
for d in "$V" "$V2" "$P/.venv"; do
	$PY -m venv --without-pip "$d" || fail "cannot create a venv"
done
XY=$("$V/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
W=$TMP/whl
# hab 1.0 and 2.0 (every scheme key, an entry point, 1,200 modules) and
# the wheel's file names
$PY - "$ROOT/tests/wheels" "$W" <<'PYEOF' || fail "cannot make wheels"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
os.makedirs(sys.argv[2])
for ver in ("1.0", "2.0"):
    w = Wheel("hab", ver)
    w.add("hab/__init__.py", "def main():\n    print('hab')\n")
    for i in range(1200):
        w.add("hab/m%04d.py" % i, "X = %d\n" % i)
    w.add(w.data + "/scripts/hab-script", "#!python\nprint('x')\n", 0o755)
    w.add(w.data + "/headers/hab.h", "int hab;\n")
    w.add(w.data + "/data/share/hab/readme", "hab\n")
    w.add(w.data + "/platlib/hab_plat.py", "X = 1\n")
    w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\nhab = hab:main\n")
    w.write_whl(os.path.join(sys.argv[2], w.filename()))
PYEOF
H1=$W/hab-1.0-py3-none-any.whl H2=$W/hab-2.0-py3-none-any.whl

# -- a relative SPOKE_CACHE_DIR is taken from the working directory ----------
mkdir "$TMP/rel"
(cd "$TMP/rel" && SPOKE_CACHE_DIR=relcache "$SPOKE" install -q --venv "$V2" "$H1") 2>"$TMP/err" ||
	fail "install with a relative SPOKE_CACHE_DIR: $(cat "$TMP/err")"
[ -d "$TMP/rel/relcache/archive-v2" ] || fail "a relative SPOKE_CACHE_DIR was not made below the working directory"
has "$V2" 1.0 || fail "install with a relative SPOKE_CACHE_DIR installed nothing"
rm -rf "$V2" && $PY -m venv --without-pip "$V2" || fail "cannot re-create a venv"

# -- version and help ------------------------------------------------------
ok -V
grep -qx "spoke [0-9]*\.[0-9]*\.[0-9]*" "$TMP/out" || fail "-V: '$(cat "$TMP/out")'"
ok --version
ok --help
for w in SPOKE_LINK_MODE SPOKE_CACHE_DIR VIRTUAL_ENV -V; do
	grep -q -- "$w" "$TMP/out" || fail "spoke --help does not mention $w"
done
ok install --help
for w in --link-mode --cache-dir --prefix --root --python --shebang-python \
	--no-compat-check SPOKE_LINK_MODE SPOKE_CACHE_DIR; do
	grep -q -- "$w" "$TMP/out" || fail "install --help does not list $w"
done
ok uninstall --help
for w in --link-mode --no-fallback --io --cache-dir --no-verify --prefix \
	--root --reinstall --requested --shebang-python --no-compat-check; do
	grep -q -- "$w\b" "$TMP/out" && fail "uninstall --help lists $w, which means nothing to it"
done
grep -q -- "-y" "$TMP/out" || fail "uninstall --help does not mention -y"

# -- discovery -------------------------------------------------------------
# .venv in a parent of the working directory
mkdir -p "$P/src/pkg"
(cd "$P/src/pkg" && "$SPOKE" install "$H1" >"$TMP/out" 2>"$TMP/err") ||
	{ cat "$TMP/err" >&2; fail "install with .venv in a parent"; }
has "$P/.venv" 1.0 || fail "not installed into the parent's .venv"
(cd "$P/src/pkg" && "$SPOKE" recover >"$TMP/out" 2>"$TMP/err") ||
	{ cat "$TMP/err" >&2; fail "recover with .venv in a parent"; }
grep -qx "nothing to recover" "$TMP/out" || fail "recover: $(cat "$TMP/out")"
# $VIRTUAL_ENV before .venv
(cd "$P/src" && VIRTUAL_ENV=$V "$SPOKE" install "$H1" >"$TMP/out" 2>"$TMP/err") ||
	{ cat "$TMP/err" >&2; fail "install with VIRTUAL_ENV"; }
has "$V" 1.0 || fail "VIRTUAL_ENV was not preferred to .venv"
# --python selects its venv, before $VIRTUAL_ENV
VIRTUAL_ENV=$V ok install --python "$V2/bin/python" "$H1"
has "$V2" 1.0 || fail "--python did not select its venv"
head -1 "$V2/bin/hab" | grep -qx "#!$V2/bin/python" || fail "launcher of --python's venv: $(head -1 "$V2/bin/hab")"
# --venv before everything
(cd "$P" && VIRTUAL_ENV=$V2 "$SPOKE" install --venv "$V" --reinstall "$H1" >"$TMP/out" 2>"$TMP/err") ||
	fail "--venv"
grep -q "reinstalled hab 1.0" "$TMP/out" || fail "--venv did not win"
# nothing to find
(cd "$TMP" && "$SPOKE" install "$H1" >"$TMP/out" 2>"$TMP/err")
expect_eq $? 2 "no environment anywhere"
# --python of an interpreter outside any venv: the meaning changed, say so
run install --python "$PY" "$H1"
expect_eq $? 2 "--python of a system interpreter"
grep -q -- "--shebang-python" "$TMP/err" || fail "no hint at --shebang-python: $(cat "$TMP/err")"

# --target with --shebang-python (the old --python) and with --python
ok install --target "$TMP/t1" --shebang-python /opt/py/bin/python3 "$H1"
head -1 "$TMP/t1/bin/hab" | grep -qx "#!/opt/py/bin/python3" || fail "--shebang-python: $(head -1 "$TMP/t1/bin/hab")"
ok install --target "$TMP/t2" --python "$PY" "$H1"
head -1 "$TMP/t2/bin/hab" | grep -qx "#!$PY" || fail "--target --python shebang"

# -- summary, -v, downgrade -----------------------------------------------
ok install --venv "$V" "$H2"
grep -Eq "^upgraded hab [0-9.]+ -> 2.0$" "$TMP/out" || fail "no upgrade line: $(cat "$TMP/out")"
[ -s "$TMP/err" ] && fail "stderr is a pipe and not -v, yet it got: $(cat "$TMP/err")"
ok uninstall --venv "$V" hab
ok install --venv "$V" -v "$H2"
grep -Eqx "installed 1 distribution \(1,2[0-9]{2} files, [0-9.]+ (MB|kB)\) in [0-9]+\.[0-9]{2} s" "$TMP/err" ||
	fail "summary line: '$(cat "$TMP/err")'"
ok install --venv "$V" -v --reinstall "$H2"
grep -q "hab-2.0-py3-none-any.whl: cache hit in [0-9.]* s" "$TMP/err" || fail "-v: no cache line: $(cat "$TMP/err")"
grep -Eq "^reinstalled hab 2.0 \(1,2[0-9]{2} files, [0-9.]+ (MB|kB)\)$" "$TMP/out" || fail "-v: no per-wheel size: $(cat "$TMP/out")"
rm -rf "$SPOKE_CACHE_DIR/archive-v2" "$SPOKE_CACHE_DIR/index-v1"
ok install --venv "$V" -v --reinstall "$H2"
grep -q "unpacked into the cache: 1,*2[0-9]* files" "$TMP/err" || fail "-v: no unpack line: $(cat "$TMP/err")"
ok install --venv "$V" -q "$H1"
[ -s "$TMP/err" ] && fail "-q printed: $(cat "$TMP/err")"
[ -s "$TMP/out" ] && fail "-q printed: $(cat "$TMP/out")"
ok install --venv "$V" "$H2"
grep -q "^upgraded hab 1.0 -> 2.0$" "$TMP/out" || fail "no upgrade line: $(cat "$TMP/out")"
ok install --venv "$V" "$H1"
grep -q "^downgraded hab 2.0 -> 1.0$" "$TMP/out" || fail "no downgrade line: $(cat "$TMP/out")"

# -- uninstall -y, install -y ----------------------------------------------
run install --venv "$V" -y "$H1"
expect_eq $? 2 "install -y"
ok uninstall --venv "$V" -y -v hab
grep -qx "uninstalled 1 distribution in [0-9.]* s" "$TMP/err" || fail "uninstall summary: $(cat "$TMP/err")"
ok install --venv "$V" "$H1"
ok uninstall --venv "$V" --yes hab

# -- SPOKE_LINK_MODE ---------------------------------------------------------
SPOKE_LINK_MODE=bogus run install --venv "$V" "$H1"
expect_eq $? 2 "SPOKE_LINK_MODE=bogus"
SPOKE_LINK_MODE=copy ok install --venv "$V" "$H1"
expect_eq "$(stat -c %h "$V/lib/python$XY/site-packages/hab/m0001.py")" 1 "SPOKE_LINK_MODE=copy made links"
SPOKE_LINK_MODE=copy ok install --venv "$V" --reinstall --link-mode hardlink "$H1"
expect_eq "$(stat -c %h "$V/lib/python$XY/site-packages/hab/m0001.py")" 2 "--link-mode did not override SPOKE_LINK_MODE"

# -- --prefix and --root, against pip -------------------------------------------
PV=$TMP/pv
if ! $PY -m venv "$PV" >/dev/null 2>&1 || ! "$PV/bin/python" -m pip --version >/dev/null 2>&1; then
	note "skipping the pip comparison: no pip (python3-pip-whl)"
	exit 0
fi
# the installed paths, without what spoke and pip differ on by design
layout() {
	(cd "$1" && find . -path ./.spoke\* -prune -o \( -type f -o -type l \) -print) |
		grep -v -e __pycache__ -e /direct_url.json -e /REQUESTED | sort
}
pipi() { "$PV/bin/python" -m pip install -q --no-index --no-deps --no-compile "$@" >/dev/null 2>&1 ||
	fail "pip install $*"; }
pipi --prefix "$TMP/pip-prefix" "$H1"
ok install --python "$PV/bin/python" --prefix "$TMP/spoke-prefix" "$H1"
layout "$TMP/pip-prefix" >"$TMP/l-pip"
layout "$TMP/spoke-prefix" >"$TMP/l-spoke"
diff "$TMP/l-pip" "$TMP/l-spoke" >&2 || fail "--prefix differs from pip's"
cmp -s "$TMP/pip-prefix/bin/hab" "$TMP/spoke-prefix/bin/hab" || fail "--prefix launcher differs from pip's"
pipi --root "$TMP/pip-root" "$H1"
ok install --python "$PV/bin/python" --root "$TMP/spoke-root" "$H1"
layout "$TMP/pip-root" >"$TMP/l-pip"
layout "$TMP/spoke-root" >"$TMP/l-spoke"
diff "$TMP/l-pip" "$TMP/l-spoke" >&2 || fail "--root differs from pip's"
[ -f "$TMP/spoke-root$PV/lib/python$XY/site-packages/hab/__init__.py" ] || fail "--root: not below the root"
cmp -s "$TMP/pip-root$PV/bin/hab" "$TMP/spoke-root$PV/bin/hab" || fail "--root launcher differs from pip's"
# The same layouts from a JSON plan: prefix and root are the library's, not
# the CLI's, so an embedder gets pip's layout too.
printf '{"wheels": ["%s"], "environment": {"prefix": "%s", "python": "%s"}}\n' \
	"$H1" "$TMP/plan-prefix" "$PV/bin/python" >"$TMP/plan-prefix.json"
ok install --plan "$TMP/plan-prefix.json"
layout "$TMP/plan-prefix" >"$TMP/l-plan"
layout "$TMP/pip-prefix" >"$TMP/l-pip"
diff "$TMP/l-pip" "$TMP/l-plan" >&2 || fail "a plan's prefix differs from pip's --prefix"
printf '{"wheels": ["%s"], "environment": {"venv": "%s", "root": "%s"}}\n' \
	"$H1" "$PV" "$TMP/plan-root" >"$TMP/plan-root.json"
ok install --plan "$TMP/plan-root.json"
layout "$TMP/plan-root" >"$TMP/l-plan"
layout "$TMP/pip-root" >"$TMP/l-pip"
diff "$TMP/l-pip" "$TMP/l-plan" >&2 || fail "a plan's root differs from pip's --root"
printf '{"wheels": ["%s"], "environment": {"venv": "%s", "prefix": "%s"}}\n' \
	"$H1" "$PV" "$TMP/plan-both" >"$TMP/plan-both.json"
"$SPOKE" install --plan "$TMP/plan-both.json" >/dev/null 2>"$TMP/err" && fail "venv and prefix together accepted"
grep -q "exclude each other" "$TMP/err" || fail "venv and prefix together: unclear error: $(cat "$TMP/err")"
exit 0
