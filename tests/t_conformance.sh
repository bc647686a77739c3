#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_conformance - spoke install against pip 23 itself. For each wheel (the
# real pip, setuptools and wheel wheels of /usr/share/python-wheels, and the
# generated edge cases of tests/wheels/mkwheels.py): pip installs the .whl
# into venv A, spoke installs the unpacked tree into venv B (both made by
# the same `python3 -m venv --without-pip`, at paths of equal length), then:
#  - the distribution's files (RECORD, dist-info, scripts) are the same paths
#    with the same bytes and permission bits, except INSTALLER's content,
#    RECORD's row order and own row, and the interpreter path in launchers
#    and rewritten scripts; B's RECORD hashes match B's files;
#  - the two venvs hold the same set of paths (no stray directories);
#  - launchers run, the top-level modules import;
#  - pip (run from its wheel) lists and shows the distribution in B, and
#    `pip uninstall -y` removes every file spoke installed.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
PIPOPT=
WHEELS=/usr/share/python-wheels
PIPWHL=$(ls "$WHEELS"/pip-*.whl 2>/dev/null | head -1)
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
[ -x "$PY" ] || skip "no $PY"
[ -n "$PIPWHL" ] || skip "no pip wheel in $WHEELS (apt-get install python3-pip-whl)"
$PY -c 'import venv' 2>/dev/null || skip "python3-venv is not installed"

pip_in() { # pip_in VENV ARGS...: pip run from its wheel file, acting on VENV
	local v=$1; shift
	PYTHONPATH=$PIPWHL "$v/bin/python" -m pip --disable-pip-version-check \
		--no-python-version-warning "$@"
}

unpack() { # unpack WHL DIR: keep the zip's permission bits, as the cache does
	$PY - "$1" "$2" <<'PY'
import os, stat, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for i in z.infolist():
        p = os.path.join(sys.argv[2], i.filename)
        if i.is_dir():
            os.makedirs(p, exist_ok=True)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(z.read(i))
        mode = i.external_attr >> 16
        umask = os.umask(0); os.umask(umask)
        os.chmod(p, (0o777 & ~umask | 0o111) if stat.S_ISREG(mode) and mode & 0o111 else 0o666 & ~umask)
PY
}

compare() { # compare A B DIST...: the checks above, in Python
	$PY - "$@" <<'PY'
import base64, csv, hashlib, os, re, stat, sys
A, B = sys.argv[1:3]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
errors = []
def err(m):
    errors.append(m)

def site(v):
    lib = os.path.join(v, "lib")
    return os.path.join(lib, [d for d in os.listdir(lib) if d.startswith("python")][0], "site-packages")

def distinfo(v, dist):
    s = site(v)
    for d in os.listdir(s):
        if d.endswith(".dist-info") and norm(d[:-10]).startswith(norm(dist) + "-"):
            return s, d
    sys.exit("FAIL: %s: no dist-info for %s" % (v, dist))

def record(v, dist):
    s, d = distinfo(v, dist)
    with open(os.path.join(s, d, "RECORD"), newline="", encoding="utf-8") as f:
        rows = {}
        for r in csv.reader(f):
            if r:
                rows[os.path.normpath(os.path.join(s, r[0]))[len(v) + 1:]] = (r[1], r[2])
    return d, rows

def check(dist):
    da, ra = record(A, dist)
    db, rb = record(B, dist)
    if da != db:
        err("dist-info differs: %s vs %s" % (da, db))
    # pip keeps the RECORD rows of setuptools' script wrappers it drops
    stale = {r for r in ra if not os.path.lexists(os.path.join(A, r))}
    if not os.path.exists(os.path.join(site(B), db, "direct_url.json")):
        stale |= {r for r in ra if r.endswith("/direct_url.json")}
    ra = {r: v for r, v in ra.items() if r not in stale}
    if set(ra) != set(rb):
        err("%s: RECORD paths differ: only pip: %s; only spoke: %s" % (dist, sorted(set(ra) - set(rb))[:5], sorted(set(rb) - set(ra))[:5]))
    for rel in sorted(set(ra) & set(rb)):
        compare_file(rel, ra, rb)
    return stale

pathsub = lambda data: data.replace(A.encode(), B.encode())
def compare_file(rel, ra, rb):
    pa, pb = os.path.join(A, rel), os.path.join(B, rel)
    sa, sb = os.lstat(pa), os.lstat(pb)
    if stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode) or stat.S_IFMT(sa.st_mode) != stat.S_IFMT(sb.st_mode):
        err("%s: mode %o (pip) vs %o (spoke)" % (rel, sa.st_mode, sb.st_mode))
    with open(pb, "rb") as f:
        bb = f.read()
    with open(pa, "rb") as f:
        ab = f.read()
    if rel.endswith("/INSTALLER"):
        if ab != b"pip\n" or bb != b"spoke\n":
            err("INSTALLER: %r / %r" % (ab, bb))
    elif rel.endswith("/RECORD"):
        pass
    elif pathsub(ab) != bb:
        err("%s: content differs" % rel)
    h, n = rb[rel]
    if not rel.endswith("/RECORD"):
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(bb).digest()).rstrip(b"=").decode()
        if h != want or n != str(len(bb)):
            err("%s: spoke's RECORD row %s,%s does not match the file" % (rel, h, n))
        if rel.startswith("bin/") or rel.endswith("/INSTALLER"):
            pass  # interpreter path or installer name inside
        elif ra[rel] != rb[rel]:
            err("%s: RECORD rows differ: %s vs %s" % (rel, ra[rel], rb[rel]))
    elif rb[rel] != ("", ""):
        err("RECORD's own row is not empty: %s" % (rb[rel],))

def tree(v):
    out = set()
    for dp, dn, fn in os.walk(v):
        for n in dn + fn:
            p = os.path.join(dp, n)
            out.add(("d " if os.path.isdir(p) and not os.path.islink(p) else "f ") + os.path.relpath(p, v))
    return out
stale = set()
for dist in sys.argv[3:]:
    stale |= check(dist)
ta, tb = tree(A), tree(B)
ta -= {"f " + r for r in stale}
# spoke got no direct_url.json where one run installed several wheels
ta -= {t for t in ta - tb if t.endswith(".dist-info/direct_url.json")}
if ta != tb:
    err("venvs differ: only pip: %s; only spoke: %s" % (sorted(ta - tb)[:6], sorted(tb - ta)[:6]))
for e in errors[:20]:
    print("  " + e)
sys.exit(1 if errors else 0)
PY
}

# group PIPRUN WHL... : pip installs the .whl files into $A in one run,
# spoke the unpacked trees into $B in one run; with one wheel, spoke gets
# pip's direct_url.json. PIPRUN says how to run pip on B afterwards
# ("own": B's own pip, installed by spoke; else pip from its wheel).
# $PIPOPT: more pip install options.
group() {
	local piprun=$1 trees=() names=() w n url=""
	shift
	for w in "$@"; do
		n=$(basename "$w" | cut -d- -f1)
		names+=("$n")
		trees+=("$TMP/tree-$n-$(basename "$w" | cut -d- -f2)")
		[ -d "${trees[-1]}" ] || unpack "$w" "${trees[-1]}"
	done
	pip_in "$A" install -q --no-deps --no-index --no-compile $PIPOPT "$@" ||
		fail "${names[*]}: pip install failed"
	if [ $# = 1 ]; then
		url=$(cat "$A"/lib/python3*/site-packages/"${names[0]}"-*.dist-info/direct_url.json)
	fi
	"$SPOKE" install -q --venv "$B" --requested ${url:+--direct-url "$url"} \
		"${trees[@]}" >"$TMP/out" 2>&1 ||
		{ cat "$TMP/out" >&2; fail "${names[*]}: spoke install failed"; }
	compare "$A" "$B" "${names[@]}" || fail "${names[*]}: spoke's install differs from pip's"
	note "${names[*]}: spoke's install is pip's"
	PIPRUN=$piprun
}

pip_b() { # pip on venv B, the way group chose
	if [ "$PIPRUN" = own ]; then
		"$B/bin/python" -m pip --disable-pip-version-check "$@"
	else
		pip_in "$B" "$@"
	fi
}

imports() { # imports MODULE...: all import in B
	local m
	for m in "$@"; do
		"$B/bin/python" -c "import $m" || fail "cannot import $m in B"
	done
}

smoke() { # smoke CMD: a shell command with B's scripts first on PATH
	(PATH=$B/bin:$PATH; eval "$1") >"$TMP/smoke" 2>&1 ||
		{ cat "$TMP/smoke" >&2; fail "'$1' failed in B"; }
}

# pip_sees_and_removes NAME...: pip list and pip show -f see them in B,
# pip uninstall -y removes every file of their RECORDs and the dist-infos.
pip_sees_and_removes() {
	local files n
	pip_b list >"$TMP/list" 2>&1 || { cat "$TMP/list" >&2; fail "pip list failed in B"; }
	pip_b show -f "$@" >"$TMP/show" 2>&1 || { cat "$TMP/show" >&2; fail "pip show failed in B"; }
	for n in "$@"; do
		grep -qi "^${n//_/[-_]} " "$TMP/list" || fail "$n: pip list in B does not show it"
		grep -qi "^Name: ${n//_/[-_]}\$" "$TMP/show" || fail "$n: pip show does not show it"
	done
	[ "$(grep -c '^Files:' "$TMP/show")" = $# ] || fail "pip show -f lists no files"
	files=$($PY - "$B" "$@" <<'PY'
import csv, glob, os, re, sys
v = sys.argv[1]
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
s = glob.glob(os.path.join(v, "lib/python*/site-packages"))[0]
for name in sys.argv[2:]:
    for d in os.listdir(s):
        if d.endswith(".dist-info") and norm(d[:-10]).startswith(norm(name) + "-"):
            print(os.path.join(s, d))
            for r in csv.reader(open(os.path.join(s, d, "RECORD"), encoding="utf-8")):
                print(os.path.normpath(os.path.join(s, r[0])))
PY
)
	pip_b uninstall -q -y "$@" >"$TMP/un" 2>&1 || { cat "$TMP/un" >&2; fail "pip uninstall failed in B"; }
	while IFS= read -r f; do
		if [ -e "$f" ] || [ -L "$f" ]; then fail "pip uninstall left '$f'"; fi
	done <<<"$files"
	note "$*: pip lists, shows and uninstalls spoke's install"
}

fresh_venvs() {
	A=$TMP/vA; B=$TMP/vB
	rm -rf "$A" "$B"
	$PY -m venv --without-pip "$A" && $PY -m venv --without-pip "$B" ||
		fail "venv creation failed"
}

$PY "$ROOT/tests/wheels/mkwheels.py" good "$TMP/gen" || fail "mkwheels.py failed"
GEN=$TMP/gen/whl

# -- the real wheels, all three in one run ----------------------------------
# (-I: pip, run from its wheel, would otherwise see itself installed there)
fresh_venvs
PIPOPT=-I group own "$WHEELS"/pip-*.whl "$WHEELS"/setuptools-*.whl "$WHEELS"/wheel-*.whl
imports pip setuptools pkg_resources wheel
smoke "pip --version && pip3 --version && wheel version"
pip_sees_and_removes pip setuptools wheel

# -- edge cases, then an upgrade that drops files ---------------------------
fresh_venvs
group wheel "$GEN"/spoke_edge-1.0-*.whl "$GEN"/spoke_plat-0.1-*.whl
imports spoke_edge spoke_edge_pure spoke_edge_plat spoke_plat spoke_plat_pure
smoke 'edge-console x | grep -q "edge-console x" && edge-dotted && edge-gui &&
	edge-py | grep -q "edge-py 1.0" && edge-sh'
group wheel "$GEN"/spoke_edge-2.0-*.whl
imports spoke_edge
smoke 'edge-py | grep -q "edge-py 2.0" && ! command -v edge-old'
pip_sees_and_removes spoke_edge spoke_plat
echo "t_conformance: ok"
