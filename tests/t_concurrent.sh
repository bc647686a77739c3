#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_concurrent - spoke against itself. Two installs into one venv at once
# must end exactly as if they had run one after the other (in either
# order): the environment lock serialises them, and the second validates
# against the first one's result. Eight `spoke cache add` of the same
# wheels at once, with an install from the same cache running meanwhile,
# must all succeed, publish each wheel once, leave a cache that `spoke
# cache verify` finds clean and nothing in its tmp/, and a working venv.
. "$(dirname "$0")/lib.sh"
need_spoke_venv

G=$TMP/gen
$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" || fail "mkwheels.py good failed"
$PY - "$ROOT/tests/wheels" "$G/trees" <<'PY' || fail "cannot generate spoke_bulk"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("spoke_bulk", "1.0")
w.add("spoke_bulk/__init__.py", "X = 1\n")
for i in range(600):
    w.add("spoke_bulk/sub%d/m%03d.py" % (i % 8, i), "X = %d\n" % i)
w.write_tree(os.path.join(sys.argv[2], "spoke_bulk-1.0"))
PY
T=$G/trees

V0=$TMP/v0 V=$TMP/v
$PY -m venv --without-pip "$V0" || fail "cannot create a venv"
fresh() { rm -rf "$V"; cp -a "$V0" "$V"; }
A=("$T/spoke_edge-1.0" "$T/spoke_plat-0.1")
B=("$T/spoke_edge-2.0" "$T/spoke_bulk-1.0")

# The two serial outcomes, in the same place (scripts name the venv).
fresh
"$SPOKE" install -q --venv "$V" "${A[@]}" && "$SPOKE" install -q --venv "$V" "${B[@]}" || fail "A then B"
manifest "$V" >"$TMP/ab"
fresh
"$SPOKE" install -q --venv "$V" "${B[@]}" && "$SPOKE" install -q --venv "$V" "${A[@]}" || fail "B then A"
manifest "$V" >"$TMP/ba"
cmp -s "$TMP/ab" "$TMP/ba" && fail "both orders give the same result: the test would prove nothing"

ab=0 ba=0 waited=0
for i in $(seq 1 10); do
	fresh
	"$SPOKE" install --venv "$V" "${A[@]}" >"$TMP/a.out" 2>"$TMP/a.err" &
	pa=$!
	"$SPOKE" install --venv "$V" "${B[@]}" >"$TMP/b.out" 2>"$TMP/b.err" &
	pb=$!
	wait $pa || { cat "$TMP/a.err" >&2; fail "round $i: install A failed"; }
	wait $pb || { cat "$TMP/b.err" >&2; fail "round $i: install B failed"; }
	manifest "$V" >"$TMP/m"
	if cmp -s "$TMP/m" "$TMP/ab"; then ab=$((ab + 1))
	elif cmp -s "$TMP/m" "$TMP/ba"; then ba=$((ba + 1))
	else diff "$TMP/ab" "$TMP/m" | head >&2; fail "round $i: neither A-then-B nor B-then-A"
	fi
	no_temporaries "$V"
	grep -qh "waiting for the lock" "$TMP/a.err" "$TMP/b.err" && waited=$((waited + 1))
done
note "two installs at once, 10 rounds: $ab ended as A-then-B, $ba as B-then-A ($waited printed that they waited)"

# -- eight cache adds of the same wheels, and an install meanwhile --------
WHL=()
for w in /usr/share/python-wheels/*.whl "$G"/whl/*.whl; do
	[ -f "$w" ] && WHL+=("$w")
done
[ ${#WHL[@]} -ge 3 ] || skip "no wheels to add"
REAL=(/usr/share/python-wheels/pip-*.whl /usr/share/python-wheels/setuptools-*.whl)
[ -f "${REAL[0]}" ] && [ -f "${REAL[1]}" ] || REAL=("$G/whl/spoke_plat-0.1-py3-none-any.whl")
for round in 1 2; do
	C=$TMP/cache$round
	fresh
	pids=()
	for j in $(seq 1 8); do
		"$SPOKE" cache add -q --cache-dir "$C" "${WHL[@]}" >"$TMP/add$j.out" 2>&1 &
		pids+=($!)
	done
	"$SPOKE" install -q --cache-dir "$C" --venv "$V" "${REAL[@]}" >"$TMP/inst.out" 2>&1 &
	pi=$!
	for j in $(seq 1 8); do
		wait "${pids[$((j - 1))]}" || { cat "$TMP/add$j.out" >&2; fail "round $round: cache add $j failed"; }
	done
	wait $pi || { cat "$TMP/inst.out" >&2; fail "round $round: the install during the adds failed"; }
	"$SPOKE" cache verify --cache-dir "$C" >"$TMP/verify" 2>&1 || { cat "$TMP/verify" >&2; fail "round $round: cache verify"; }
	n=$("$SPOKE" cache list --cache-dir "$C" | wc -l)
	[ "$n" = ${#WHL[@]} ] || { "$SPOKE" cache list --cache-dir "$C" >&2; fail "round $round: $n entries for ${#WHL[@]} wheels"; }
	[ -z "$(ls -A "$C/tmp" 2>/dev/null)" ] || fail "round $round: leftovers in the cache's tmp/: $(ls "$C/tmp")"
	no_temporaries "$V"
	if [ "${REAL[0]#*pip-}" != "${REAL[0]}" ]; then
		"$V/bin/python" -m pip --version >/dev/null 2>&1 || fail "round $round: pip does not run from the venv"
		"$V/bin/python" -c 'import setuptools' || fail "round $round: setuptools does not import"
	fi
done
note "8 concurrent cache adds of ${#WHL[@]} wheels with an install meanwhile, twice: all ok, cache verified"
echo "t_concurrent: ok"
