#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_bytecode_cache - the cache's housekeeping knows bytecode-v1/ (issue 14):
# `cache verify` passes on sound bytecode, and reports and removes a stale
# (source touched) or damaged (truncated .pyc, edited or forged stamp)
# bytecode directory, which the next install compiles again; an install
# trusts a sound stamp (and Python still refuses a .pyc that does not match
# its source), rechecks and rebinds one whose directories changed; `cache prune` removes
# bytecode whose entry is gone and names spoke does not make, and keeps the
# rest; `cache clean` removes it all.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
PY=/usr/bin/python3
need_tool python3
"$PY" -c 'import venv' 2>/dev/null || skip "python3 venv module missing"
W=$(ls /usr/share/python-wheels/wheel-*.whl 2>/dev/null | head -1)
[ -n "$W" ] || skip "no wheel-*.whl in /usr/share/python-wheels"
TAG=$("$PY" -c 'import sys; print(sys.implementation.cache_tag)')
C=$TMP/cache
export SPOKE_CACHE_DIR=$C

install() { # compile into a fresh venv; prints the report's pyc_compiled
	local v; v=$(mktemp -d "$TMP/v.XXXXXX")
	"$PY" -m venv --without-pip "$v" || fail "venv"
	"$SPOKE" install --venv "$v" --compile-bytecode --json "$W" \
		>"$v.json" 2>"$v.err" || { cat "$v.err" >&2; fail "install"; }
	json_get "$v.json" pyc_compiled
}
bcdir() { ls -d "$C"/bytecode-v1/*."$TAG".opt-0 2>/dev/null; }
verify() { "$SPOKE" cache verify >"$TMP/verify" 2>&1; }

NC=$(install)
[ "$NC" -gt 10 ] || fail "cold install compiled $NC files"
B=$(bcdir)
[ -d "$B" ] || fail "no bytecode directory in the cache"
verify || { cat "$TMP/verify" >&2; fail "verify fails on sound bytecode"; }

# 1. stale: a source of the entry touched (its content, hence the entry's
# hashes, unchanged): verify reports it, removes it; verify then passes
SRC=$(ls "$C"/archive-v2/*/wheel/__init__.py)
touch -d '2001-01-01' "$SRC"
verify && fail "verify passed with a stale .pyc"
grep -q "bytecode.*stale" "$TMP/verify" ||
	{ cat "$TMP/verify" >&2; fail "no stale message"; }
[ -e "$B" ] && fail "stale bytecode kept"
verify || { cat "$TMP/verify" >&2; fail "verify after the removal"; }
expect_eq "$(install)" "$NC" "recompiled after stale"

# 2. damaged: a truncated .pyc, then a manifest naming a path outside
PYC=$(bcdir)/wheel/__pycache__/__init__.$TAG.pyc
[ -f "$PYC" ] || fail "no $PYC"
truncate -s 10 "$PYC"
verify && fail "verify passed with a truncated .pyc"
grep -q "truncated" "$TMP/verify" || { cat "$TMP/verify" >&2; fail "msg"; }
[ -e "$(dirname "$PYC")" ] && fail "damaged bytecode kept"
expect_eq "$(install)" "$NC" "recompiled after damage"
# an edited stamp fails its checksum; a forged one (checksum recomputed)
# naming a path outside the entry is refused all the same
echo "ok 1 2 3 x.py" >>"$(bcdir)/BYTECODE"
verify && fail "verify passed with an edited stamp"
grep -q "not a whole stamp" "$TMP/verify" || { cat "$TMP/verify" >&2; fail "msg"; }
[ -z "$(bcdir)" ] || fail "edited stamp kept"
expect_eq "$(install)" "$NC" "recompiled after the edited stamp"
forge() { # FILE PYTHON-EXPR-ON-LINES: rewrite the stamp, checksum and all
	"$PY" - "$1" "$2" <<'EOF' || fail "forge"
import hashlib, sys
p, expr = sys.argv[1], sys.argv[2]
lines = open(p, "rb").read().decode().split("\n")[:-2]
lines = eval(expr)
body = ("\n".join(lines) + "\n").encode()
open(p, "wb").write(body + b"sha256 " + hashlib.sha256(body).hexdigest().encode() + b"\n")
EOF
}
forge "$(bcdir)/BYTECODE" 'lines + ["ok 1 2 30 ../../etc/x.py"]'
verify && fail "verify passed with a hostile stamp"
grep -q "not a whole stamp" "$TMP/verify" || { cat "$TMP/verify" >&2; fail "msg"; }
[ -z "$(bcdir)" ] || fail "hostile stamp kept"
expect_eq "$(install)" "$NC" "recompiled after the hostile stamp"

# 2b. a warm install trusts a sound stamp and checks nothing per file;
# what that trust cannot break: a cached .pyc whose header no longer
# matches its source (written into in place, so no directory changed) is
# linked, and Python ignores it and compiles the source itself; the venv
# imports the right code, the cache's file is not written through
PYC=$(bcdir)/wheel/__pycache__/__init__.$TAG.pyc
printf '\001' | dd of="$PYC" bs=1 seek=8 conv=notrunc 2>/dev/null
v=$(mktemp -d "$TMP/v.XXXXXX")
"$PY" -m venv --without-pip "$v" || fail "venv"
"$SPOKE" install --venv "$v" --compile-bytecode --json "$W" >"$v.json" \
	2>"$v.err" || { cat "$v.err" >&2; fail "install over a bad header"; }
expect_eq "$(json_get "$v.json" pyc_cached)" "$NC" "trusted: all from the cache"
VP=$(echo "$v"/lib/python3*/site-packages)/wheel/__pycache__/__init__.$TAG.pyc
[ "$(stat -c %i "$VP")" = "$(stat -c %i "$PYC")" ] || fail "not linked"
env -u PYTHONDONTWRITEBYTECODE "$v/bin/python" -c 'import wheel; assert wheel.__version__' ||
	fail "import over a bad header"
[ "$(stat -c %i "$VP")" = "$(stat -c %i "$PYC")" ] &&
	fail "Python used a .pyc whose header does not match its source"
"$PY" -c 'import sys; d = open(sys.argv[1], "rb").read(16); sys.exit(d[8] != 1)' \
	"$PYC" || fail "the cache's .pyc was written through"
verify && fail "verify passed with a bad header"
grep -q "stale" "$TMP/verify" || { cat "$TMP/verify" >&2; fail "msg"; }
expect_eq "$(install)" "$NC" "recompiled after the bad header"

# 2c. a stamp whose bindings no longer hold (the cache copied: every
# directory is new) but whose files are sound: an install checks each
# header once, uses them, and binds the stamp to the copy
cp -a "$C" "$TMP/copy"
grep -q "^root $(stat -c %i "$(bcdir)")\$" "$(bcdir)/BYTECODE" ||
	fail "stamp does not record its directory"
expect_eq "$(SPOKE_CACHE_DIR=$TMP/copy install)" 0 "copied cache: compiled"
CB=$(ls -d "$TMP/copy"/bytecode-v1/*."$TAG".opt-0)
grep -q "^root $(stat -c %i "$CB")\$" "$CB/BYTECODE" ||
	fail "the copy's stamp was not bound to it"
# and a damaged stamp makes an install compile again
echo x >>"$CB/BYTECODE"
expect_eq "$(SPOKE_CACHE_DIR=$TMP/copy install)" "$NC" "damaged stamp: compiled"

# 3. prune: orphans (entry gone) and foreign names go, the sound one stays
FAKE=$(printf '%064d' 0)
mkdir -p "$C/bytecode-v1/$FAKE.$TAG.opt-0/x" "$C/bytecode-v1/not-ours"
"$SPOKE" cache prune >/dev/null 2>&1 || fail "prune"
[ -e "$C/bytecode-v1/$FAKE.$TAG.opt-0" ] && fail "prune kept an orphan"
[ -e "$C/bytecode-v1/not-ours" ] && fail "prune kept a foreign name"
[ -d "$(bcdir)" ] || fail "prune removed sound bytecode"
verify || { cat "$TMP/verify" >&2; fail "verify after prune"; }
expect_eq "$(install)" 0 "warm after prune"

# 4. clean removes bytecode-v1 with everything else
"$SPOKE" cache clean >/dev/null 2>&1 || fail "clean"
[ -e "$C/bytecode-v1" ] && fail "clean kept bytecode-v1"
ls -a "$C" | grep -q '^\.trash' && fail "clean left trash"
expect_eq "$(install)" "$NC" "cold after clean"
exit 0
