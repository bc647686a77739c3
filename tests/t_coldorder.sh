#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_coldorder - a cold install opens and lays out wheels while others are
# still being unpacked (engine/install.c: pre_open, layout_ahead), yet
# must end exactly as the same install from a warm cache, which does each
# step for every wheel in plan order: the same exit code, message, culprit
# and per-wheel report, and the environment untouched on failure. Real
# .whl files: a long one (thousands of files, unpacked first), small ones
# around it, two of which ship the same file (a conflict found by the
# layout) and one whose tag no interpreter supports (found by the
# compatibility check, which comes before any layout). Each case runs
# cold, then warm, and the two reports are compared.
. "$(dirname "$0")/lib.sh"
need_spoke_venv

W=$TMP/whl
mkdir -p "$W"
$PY - "$W" <<'PY' || fail "cannot write the wheels"
import base64, hashlib, sys, zipfile
out = sys.argv[1]

def wheel(name, files, tag="py3-none-any"):
    di = "%s-1.0.dist-info" % name
    f = dict(files)
    f[di + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n"
                           % name).encode()
    f[di + "/WHEEL"] = ("Wheel-Version: 1.0\nRoot-Is-Purelib: true\n"
                        "Tag: %s\n" % tag).encode()
    h = lambda d: base64.urlsafe_b64encode(
        hashlib.sha256(d).digest()).rstrip(b"=").decode()
    rec = ["%s,sha256=%s,%d" % (p, h(d), len(d)) for p, d in f.items()]
    f[di + "/RECORD"] = ("\n".join(rec + [di + "/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile("%s/%s-1.0-%s.whl" % (out, name, tag), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for p, d in f.items():
            z.writestr(p, d)

def mods(name, n):
    return {"%s/m%05d.py" % (name, i): ("v = %d\n" % i * 30).encode()
            for i in range(n)}

wheel("long", mods("long", 3000))
for s in ("s1", "s2", "s3", "s4"):
    wheel(s, mods(s, 20))
wheel("clash_a", dict(mods("clash_a", 5), **{"shared.py": b"a\n"}))
wheel("clash_b", dict(mods("clash_b", 5), **{"shared.py": b"b\n"}))
wheel("oldpy", mods("oldpy", 5), tag="cp27-cp27mu-manylinux1_x86_64")
PY
whl() { ls "$W/$1"-1.0-*.whl; }

# report FILE: what must match between cold and warm: ok, the error
# (code, message, path) and each wheel's entry, timings left out.
report() {
	$PY - "$1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
print("ok", j.get("ok"))
e = j.get("error") or {}
print("error", {k: v for k, v in e.items()})
for d in j.get("distributions", []):
    print(sorted((k, v) for k, v in d.items()))
PY
}

V=$TMP/venv T=$TMP/template
$PY -m venv --without-pip "$T" || fail "cannot create a venv"
manifest "$T" >"$TMP/pristine"
i=0
# case ARGS...: the same install cold then warm; both report the same.
case_() {
	local what=$1 want=$2 code=0
	shift 2
	i=$((i + 1))
	rm -rf "$TMP/cache$i"
	for temp in cold warm; do
		rm -rf "$V" && cp -a "$T" "$V" || fail "cannot copy the venv"
		SPOKE_CACHE_DIR=$TMP/cache$i "$SPOKE" install --venv "$V" --json -vv \
			"$@" >"$TMP/$temp.json" 2>"$TMP/$temp.err" || code=$?
		expect_eq "$code" "$want" "$what ($temp): exit code"
		report "$TMP/$temp.json" >"$TMP/$temp.rep" || fail "$what: bad JSON"
		if [ "$want" != 0 ]; then
			same_tree "$TMP/pristine" "$V" "$what ($temp)"
		fi
		manifest "$V" >"$TMP/$temp.tree"
		code=0
	done
	diff "$TMP/cold.rep" "$TMP/warm.rep" >"$TMP/diff" ||
		{ cat "$TMP/diff" >&2; fail "$what: cold and warm differ"; }
	cmp -s "$TMP/cold.tree" "$TMP/warm.tree" ||
		fail "$what: cold and warm installed different trees"
	note "$what: cold = warm ($(grep -o 'while unpacking: .*' "$TMP/cold.err" || echo 'no overlap'))"
}
same_tree() { # same_tree BEFORE DIR WHAT
	manifest "$2" >"$TMP/after"
	diff "$1" "$TMP/after" >/dev/null || fail "$3: the environment changed"
}

# A conflict at clash_b (a layout failure) and an unsupported wheel after
# it: the compatibility check comes first, so oldpy is the culprit.
case_ "conflict laid out ahead, compat failure later" 4 \
	"$(whl s1)" "$(whl clash_a)" "$(whl clash_b)" "$(whl long)" "$(whl oldpy)"
grep -q "oldpy" "$TMP/cold.err" || fail "the unsupported wheel is not named"
# Without the compatibility check, the conflict is the failure.
case_ "conflict laid out ahead" 4 --no-compat-check \
	"$(whl s1)" "$(whl clash_a)" "$(whl clash_b)" "$(whl long)" "$(whl s2)"
grep -q "clash_b\|shared.py" "$TMP/cold.err" || fail "the conflict is not named"
# A long wheel first: the small ones are opened out of turn meanwhile.
case_ "the long wheel first, success" 0 \
	"$(whl long)" "$(whl s1)" "$(whl s2)" "$(whl s3)" "$(whl s4)"
[ -f "$V/lib/python"*/site-packages/long/m02999.py ] || fail "long not installed"
# A duplicate name after the long wheel (open's own check, in order).
case_ "duplicate wheel after the long one" 4 \
	"$(whl s1)" "$(whl long)" "$(whl s2)" "$(whl s1)"
exit 0
