#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_bytecode_cache - the cache's housekeeping knows bytecode-v1/ (issue 14):
# `cache verify` passes on sound bytecode, and reports and removes a stale
# (source touched) or damaged (truncated .pyc, edited manifest) bytecode
# directory, which the next install compiles again; `cache prune` removes
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
echo "ok ../../etc/x.py" >>"$(bcdir)/BYTECODE"
verify && fail "verify passed with a hostile manifest"
grep -q "outside the entry" "$TMP/verify" || { cat "$TMP/verify" >&2; fail "msg"; }
[ -z "$(bcdir)" ] || fail "hostile manifest kept"
expect_eq "$(install)" "$NC" "recompiled after the manifest"

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
