#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_plan - the layouts of an install run on a pool (engine/layout_run.c),
# but it fails as a serial run would: with one large wheel (laid out last
# by any thread count) colliding with a later one, and another pair
# colliding further on, every -j names the first pair in plan order, with
# the message -j 1 gives; a wheel's own error (a file its RECORD does not
# list) before that collision in plan order is reported instead, and after
# it is not; nothing is written. A run that succeeds installs the same
# files and RECORDs whatever -j.
. "$(dirname "$0")/lib.sh"
need_spoke_venv

# tree DIR NAME NFILES [PATH...]: an unpacked wheel NAME-1.0 with NFILES
# files below NAME/ and the given PATHs; PATH "!x" is a file x the RECORD
# does not list.
tree() {
	"$PY" - "$@" <<'PY' || fail "tree $2"
import base64, hashlib, os, sys
top, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
dv = "%s-1.0" % name
files = {"%s/d%02d/m%05d.py" % (name, i % 37, i): "# %d\n" % i for i in range(n)}
unlisted = []
for p in sys.argv[4:]:
    if p.startswith("!"):
        unlisted.append(p[1:])
        p = p[1:]
    files[p] = "# %s in %s\n" % (p, name)
files["%s.dist-info/WHEEL" % dv] = "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
files["%s.dist-info/METADATA" % dv] = "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name
rec = []
for p, d in files.items():
    if p in unlisted:
        continue
    h = base64.urlsafe_b64encode(hashlib.sha256(d.encode()).digest()).rstrip(b"=").decode()
    rec.append("%s,sha256=%s,%d" % (p, h, len(d)))
rec.append("%s.dist-info/RECORD,," % dv)
files["%s.dist-info/RECORD" % dv] = "\n".join(rec) + "\n"
for p, d in files.items():
    path = os.path.join(top, p)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(d)
PY
}

T=$TMP/trees
tree "$T/p0" spoke_plan_p0 20
tree "$T/big" spoke_plan_big 6000 shared/one.py
tree "$T/p2" spoke_plan_p2 30 shared2/two.py
tree "$T/p3" spoke_plan_p3 10 shared/one.py
tree "$T/p4" spoke_plan_p4 10 shared2/two.py
tree "$T/bad" spoke_plan_bad 10 '!spoke_plan_bad/stray.py'
tree "$T/p6" spoke_plan_p6 40

"$PY" -m venv --without-pip "$TMP/v" || fail "venv"
SP=$("$TMP/v/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
before=$(find "$TMP/v" | sort | sha256sum)

# each_j WHAT WORD... -- TREES: the same exit and message for every -j,
# naming every WORD, and the venv untouched
each_j() {
	local what=$1 words=() ref="" ref_rc="" rc j k
	shift
	while [ "$1" != -- ]; do words+=("$1"); shift; done
	shift
	for j in 1 2 4 2 4 2; do
		"$SPOKE" install -q -j $j --venv "$TMP/v" "$@" 2>"$TMP/err"
		rc=$?
		[ $rc != 0 ] || fail "$what: -j $j installed"
		[ -z "$ref_rc" ] || [ $rc = "$ref_rc" ] ||
			fail "$what: -j $j exit $rc, -j 1 exit $ref_rc"
		if [ -z "$ref" ]; then
			ref_rc=$rc
			ref=$(cat "$TMP/err")
			for k in "${words[@]}"; do
				grep -qF -- "$k" "$TMP/err" ||
					{ cat "$TMP/err" >&2; fail "$what: the message does not name '$k'"; }
			done
		elif [ "$(cat "$TMP/err")" != "$ref" ]; then
			printf '%s\n---\n' "$ref" >&2; cat "$TMP/err" >&2
			fail "$what: -j $j reports another failure than -j 1"
		fi
		[ "$(find "$TMP/v" | sort | sha256sum)" = "$before" ] ||
			fail "$what: -j $j changed the environment"
	done
}

each_j "the first collision in plan order" trees/big trees/p3 shared/one.py -- \
	"$T/p0" "$T/big" "$T/p2" "$T/p3" "$T/p4" "$T/p6"
each_j "a wheel's own error before a collision" trees/bad stray.py "not listed" -- \
	"$T/p0" "$T/big" "$T/p2" "$T/bad" "$T/p3" "$T/p4"
each_j "a collision before a wheel's own error" trees/big trees/p3 shared/one.py -- \
	"$T/p0" "$T/big" "$T/p3" "$T/bad" "$T/p6"
each_j "a later pair only" trees/p2 trees/p4 shared2/two.py -- \
	"$T/p0" "$T/big" "$T/p2" "$T/p6" "$T/p4"
note "failures named as a serial run names them, for -j 1, 2 and 4"

# The same install, -j 1 and -j 4: the same files, the same RECORDs.
cp -a "$TMP/v" "$TMP/v4"
"$SPOKE" install -q -j 1 --venv "$TMP/v" "$T/p0" "$T/big" "$T/p2" "$T/p6" ||
	fail "install -j 1"
"$SPOKE" install -q -j 4 --venv "$TMP/v4" "$T/p0" "$T/big" "$T/p2" "$T/p6" ||
	fail "install -j 4"
SP4=${SP/$TMP\/v\//$TMP/v4/}
(cd "$SP" && find . -type f | sort) >"$TMP/l1"
(cd "$SP4" && find . -type f | sort) >"$TMP/l4"
cmp -s "$TMP/l1" "$TMP/l4" || fail "-j 1 and -j 4 installed other files"
[ "$(wc -l <"$TMP/l1")" -gt 6000 ] || fail "the install is missing files"
for r in "$SP"/*.dist-info/RECORD; do
	cmp -s "$r" "$SP4/${r#"$SP"/}" || fail "-j 4 wrote another $(basename "$(dirname "$r")")/RECORD"
done
note "-j 1 and -j 4 install the same files and RECORDs"
exit 0
