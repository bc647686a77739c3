#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_install - spoke install/uninstall on generated edge cases
# (tests/wheels/mkwheels.py): every .data key, "#!python" scripts, console
# and gui launchers, a platlib wheel, odd names, an empty directory, a deep
# tree, reinstall and an upgrade that drops files, uninstall, --target,
# --dry-run; then every kind of bad input, each of which must fail with its
# exit code and a message naming the culprit and leave the environment
# byte-for-byte unchanged; and hardlink installs, which must never write
# through a link into the source tree.
. "$(dirname "$0")/lib.sh"
need_spoke_venv

G=$TMP/gen
$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" || fail "mkwheels.py good failed"
$PY "$ROOT/tests/wheels/mkwheels.py" bad "$G" || fail "mkwheels.py bad failed"
E1=$G/trees/spoke_edge-1.0 E2=$G/trees/spoke_edge-2.0 PL=$G/trees/spoke_plat-0.1

V=$TMP/venv
$PY -m venv --without-pip "$V" || fail "cannot create a venv"
XY=$("$V/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
SP=$V/lib/python$XY/site-packages

run() { # run ARGS...: spoke with stdout in $TMP/out, stderr in $TMP/err
	"$SPOKE" "$@" >"$TMP/out" 2>"$TMP/err"
}
ok() { run "$@" || { cat "$TMP/err" >&2; fail "spoke $* failed"; }; }
action() { # action NAME: the report's action for NAME (needs --json)
	$PY -c 'import json,sys; j=json.load(open(sys.argv[1]))
print(" ".join(d["action"] for d in j["distributions"] if d["name"]==sys.argv[2]))' "$TMP/out" "$1"
}
mode() { stat -c %a "$1"; }
first_line() { head -1 "$1"; }
same_env() { # same_env BEFORE DIR WHAT: DIR's manifest equals BEFORE
	manifest "$2" >"$TMP/after"
	diff "$1" "$TMP/after" >"$TMP/diff" || { head -10 "$TMP/diff" >&2; fail "$3: the environment changed"; }
}

# -- a fresh install: two wheels, one run ----------------------------------
manifest "$V" >"$TMP/pristine"
ok install --venv "$V" --requested --json "$E1" "$PL"
expect_eq "$(action spoke-edge)" installed "edge action"
expect_eq "$(action spoke-plat)" installed "plat action"
expect_eq "$(first_line "$V/bin/edge-py")" "#!$V/bin/python" "#!python rewritten"
expect_eq "$(first_line "$V/bin/edge-pyw")" "#!$V/bin/python" "#!pythonw rewritten (args dropped, as pip)"
grep -q $'\r' "$V/bin/edge-pyw" && fail "edge-pyw keeps its CR line end"
expect_eq "$(mode "$V/bin/edge-py")" 755 "rewritten script with exec bit"
expect_eq "$(mode "$V/bin/edge-pyw")" 644 "rewritten script without exec bit (pip keeps the zip's mode)"
expect_eq "$(mode "$V/bin/edge-sh")" 755 "plain script"
expect_eq "$(first_line "$V/bin/edge-sh")" "#!/bin/sh" "plain script untouched"
for s in edge-console edge-dotted edge-gui; do
	expect_eq "$(mode "$V/bin/$s")" 755 "launcher $s"
	expect_eq "$(first_line "$V/bin/$s")" "#!$V/bin/python" "launcher $s shebang"
done
grep -q "from spoke_edge import Cli" "$V/bin/edge-dotted" || fail "dotted entry point imports the wrong name"
grep -q "sys.exit(Cli.run())" "$V/bin/edge-dotted" || fail "dotted entry point calls the wrong name"
grep -q wrapper "$V/bin/edge-console" && fail "setuptools' wrapper was installed over the launcher"
expect_eq "$("$V/bin/edge-console" a b)" "edge-console a b" "console launcher runs"
expect_eq "$("$V/bin/edge-gui")" "edge-gui" "gui launcher runs"
expect_eq "$("$V/bin/edge-dotted")" "edge-dotted" "dotted launcher runs"
expect_eq "$("$V/bin/edge-py")" "edge-py 1.0" "rewritten script runs"
[ -f "$V/include/site/python$XY/spoke-edge/edge.h" ] || fail "headers not in include/site/pythonX.Y/<name>"
[ -f "$V/share/spoke-edge/readme.txt" ] || fail "data not under the venv root"
[ -f "$SP/spoke_edge_pure.py" ] && [ -f "$SP/spoke_edge_plat.py" ] || fail ".data purelib/platlib missing"
[ -f "$SP/spoke_plat/_speedups.so" ] || fail "platlib wheel root missing"
expect_eq "$(mode "$SP/spoke_plat/_speedups.so")" 755 "exec bit of a linked file"
[ -f "$SP/spoke_edge/dätä/ünïcödé ☃.txt" ] || fail "non-ASCII file name missing"
[ -f "$SP/spoke_edge/comma,quote\".txt" ] || fail "file name with a comma and a quote missing"
[ -f "$SP/spoke_edge/deep/$(printf 'd%02d/' $(seq 0 39))leaf.py" ] || fail "deep file missing"
[ -e "$SP/spoke_edge/empty" ] && fail "an empty directory of the wheel was created (pip does not)"
[ -e "$SP/spoke_edge-1.0.data" ] && fail "the .data directory was installed"
[ -e "$V/bin/edge-old" ] || fail "edge-old missing"
expect_eq "$(cat "$SP/spoke_edge-1.0.dist-info/INSTALLER")" spoke "INSTALLER"
[ -f "$SP/spoke_edge-1.0.dist-info/REQUESTED" ] || fail "REQUESTED missing"
"$V/bin/python" -c 'import spoke_edge, spoke_edge_pure, spoke_edge_plat, spoke_plat, spoke_plat_pure' ||
	fail "cannot import the installed modules"
# RECORD: every installed file, relative to site-packages, hashes right.
$PY - "$V" "$SP" <<'PY' || fail "RECORD check"
import base64, csv, hashlib, os, sys
v, sp = sys.argv[1:]
for di in ("spoke_edge-1.0.dist-info", "spoke_plat-0.1.dist-info"):
    rows = list(csv.reader(open(os.path.join(sp, di, "RECORD"), encoding="utf-8")))
    paths = [r[0] for r in rows]
    assert paths == sorted(paths), "RECORD not sorted"
    for p, h, n in rows:
        f = os.path.normpath(os.path.join(sp, p))
        assert os.path.isfile(f), "RECORD lists missing %s" % p
        if p.endswith("/RECORD"):
            assert (h, n) == ("", ""), "RECORD's own row"
            continue
        data = open(f, "rb").read()
        want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (h, n) == (want, str(len(data))), "bad row for %s" % p
    assert "../../../bin/edge-console" in paths or di.startswith("spoke_plat"), "scripts not as ../../../bin/x"
    assert "spoke_edge-1.0.data/scripts/edge-console" not in paths
print("RECORD ok")
PY
note "fresh install: layout, scripts, launchers, RECORD"

# -- a private (0700) tree root must not make site-packages private --------
W7=$TMP/private
mkdir -p "$W7" && cp -a "$G/trees/spoke_plat-0.1" "$W7/" && chmod 700 "$W7/spoke_plat-0.1"
P=$TMP/pv
$PY -m venv --without-pip "$P" || fail "venv"
before=$(mode "$P/lib/python$XY/site-packages")
ok install --venv "$P" "$W7/spoke_plat-0.1"
expect_eq "$(mode "$P/lib/python$XY/site-packages")" "$before" "site-packages mode after a 0700 tree"
note "a 0700 tree root leaves site-packages' mode alone"

# -- same version again: unchanged; --reinstall; --dry-run -----------------
manifest "$V" >"$TMP/m1"
ok install --venv "$V" --json "$E1"
expect_eq "$(action spoke-edge)" unchanged "same version"
same_env "$TMP/m1" "$V" "an unchanged install"
ok install --venv "$V" --dry-run --json --reinstall "$E1"
expect_eq "$(action spoke-edge)" "would reinstall" "dry-run reinstall"
same_env "$TMP/m1" "$V" "--dry-run"
touch -d 2001-01-01 "$SP"
ok install --venv "$V" --requested --json --reinstall "$E1"
expect_eq "$(action spoke-edge)" reinstalled "--reinstall"
left=$(find "$V" -name '.spoke-*' | head -3)
[ -z "$left" ] || fail "--reinstall left temporaries (a link replacing a link to the same inode?): $left"
[ "$(stat -c %Y "$SP")" -gt 1000000000 ] && [ "$(stat -c %Y "$SP")" -gt "$(date -d 2001-01-02 +%s)" ] ||
	fail "site-packages mtime not bumped"
same_env "$TMP/m1" "$V" "a reinstall (contents)"
note "unchanged, --dry-run and --reinstall"

# -- upgrade v1 -> v2 drops files, their bytecode and empty directories ----
"$V/bin/python" -m compileall -q "$SP/spoke_edge" >/dev/null
"$V/bin/python" -O -m compileall -q "$SP/spoke_edge" >/dev/null
ls "$SP"/spoke_edge/__pycache__/old_only.*.pyc >/dev/null 2>&1 || fail "compileall made no bytecode"
ok install --venv "$V" --json "$E2"
expect_eq "$(action spoke-edge)" upgraded "v1 -> v2"
for gone in "$SP/spoke_edge/old_only.py" "$SP/spoke_edge/deep" "$V/bin/edge-old" \
	"$SP/spoke_edge-1.0.dist-info"; do
	[ -e "$gone" ] && fail "upgrade left '$gone'"
done
ls "$SP"/spoke_edge/__pycache__/old_only.* >/dev/null 2>&1 && fail "bytecode of a removed .py left"
[ -f "$SP/spoke_edge/new_only.py" ] || fail "v2 file missing"
expect_eq "$("$V/bin/edge-py")" "edge-py 2.0" "v2 script"
grep -q edge-old "$SP/spoke_edge-2.0.dist-info/RECORD" && fail "v2 RECORD lists a v1 file"
note "upgrade: dropped files, bytecode and directories gone"

# -- uninstall: back to the pristine venv ----------------------------------
ok uninstall --venv "$V" --json spoke-edge SPOKE.PLAT
expect_eq "$(action spoke-edge)" uninstalled "uninstall edge"
manifest "$V" | grep -v "^include/site " | grep -v "^include/site/python$XY " >"$TMP/after"
diff "$TMP/pristine" "$TMP/after" >"$TMP/diff" || { head >&2 "$TMP/diff"; fail "uninstall left files behind"; }
run uninstall --venv "$V" spoke-edge
expect_eq $? 1 "uninstall of a missing distribution"
grep -q "not installed" "$TMP/err" || fail "no 'not installed' message"
note "uninstall: the venv is as it was (but pip's include/site/pythonX.Y)"

# -- --target ---------------------------------------------------------------
T=$TMP/target
run install --target "$T" "$E1"
expect_eq $? 2 "--target with scripts but no --python"
grep -q -- --python "$TMP/err" || fail "no hint to use --python"
[ -e "$T" ] && fail "a failed --target install created the directory"
ok install --target "$T" --python "$PY" "$E1"
expect_eq "$(first_line "$T/bin/edge-console")" "#!$PY" "--target launcher shebang"
[ -f "$T/spoke_edge/__init__.py" ] && [ -f "$T/include/python/spoke-edge/edge.h" ] &&
	[ -f "$T/share/spoke-edge/readme.txt" ] || fail "--target layout"
grep -q '^bin/edge-console,' "$T/spoke_edge-1.0.dist-info/RECORD" || fail "--target RECORD paths"
expect_eq "$(PYTHONPATH=$T $PY -c 'import spoke_edge; print(spoke_edge.VERSION)')" 1.0 "--target import"
ok uninstall --target "$T" spoke-edge
[ -z "$(find "$T" -type f)" ] || fail "--target uninstall left files: $(find "$T" -type f | head -3)"
note "--target: pip's layout, RECORD relative to the target"

# -- bad input: the exit code, the culprit named, nothing changed ----------
mkdir -p "$SP/envdir" && echo keep >"$SP/envdir/keep.txt" && echo file >"$SP/envfile"
manifest "$V" >"$TMP/m2"
n=0
for exp in "$G"/bad/*.expect; do
	c=${exp%.expect}
	read -r code word <"$exp"
	run install --venv "$V" "$c"
	rc=$?
	[ $rc = "$code" ] || { cat "$TMP/err" >&2; fail "$(basename "$c"): exit $rc, expected $code"; }
	grep -qF -- "$word" "$TMP/err" || { cat "$TMP/err" >&2; fail "$(basename "$c"): message does not name '$word'"; }
	LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$TMP/err" && fail "$(basename "$c"): a raw control byte in the message"
	same_env "$TMP/m2" "$V" "$(basename "$c")"
	n=$((n + 1))
done
note "$n bad wheels refused, environment unchanged"
# two wheels writing one file: refused, or the later one wins
run install --venv "$V" "$G/dup/spoke_dup_a" "$G/dup/spoke_dup_b"
expect_eq $? 4 "two wheels, one file"
grep -q spoke_dup_a "$TMP/err" && grep -q spoke_dup_b "$TMP/err" && grep -q shared_file.py "$TMP/err" ||
	fail "the conflict message does not name both wheels and the file"
same_env "$TMP/m2" "$V" "a conflict between wheels"
ok install --venv "$V" --allow-overwrite "$G/dup/spoke_dup_a" "$G/dup/spoke_dup_b"
grep -q spoke_dup_b "$SP/shared_file.py" || fail "--allow-overwrite: the later wheel did not win"
ok uninstall --venv "$V" spoke-dup-a spoke-dup-b
same_env "$TMP/m2" "$V" "installing and uninstalling the dup wheels"
# one name in its two Unicode forms (NFC and decomposed), from two wheels
run install --venv "$V" --allow-overwrite "$G/nfc/spoke_nfc_a" "$G/nfc/spoke_nfc_b"
expect_eq $? 4 "two wheels, one name under NFC"
grep -q spoke_nfc_a "$TMP/err" && grep -q spoke_nfc_b "$TMP/err" && grep -q NFC "$TMP/err" ||
	{ cat "$TMP/err" >&2; fail "the NFC conflict message does not name both wheels"; }
same_env "$TMP/m2" "$V" "an NFC conflict between wheels"
# links through the tree's own links that stay inside are installed as
# they are, a dangling one too
ok install --venv "$V" "$G/links/spoke_links"
expect_eq "$(cat "$SP/spoke_links/chain")" f "a link through links"
expect_eq "$(readlink "$SP/spoke_links/dangling")" missing/name "a dangling link"
ok uninstall --venv "$V" spoke-links
same_env "$TMP/m2" "$V" "installing and uninstalling links through links"
# --target: a top-level .spoke-lock is spoke's, not the wheel's
T2=$TMP/target2
mkdir -p "$T2" && manifest "$T2" >"$TMP/mt"
run install --target "$T2" "$G/reserved/spoke_res"
expect_eq $? 4 "--target with a wheel shipping .spoke-lock"
grep -q "$T2/.spoke-lock" "$TMP/err" && grep -q spoke_res "$TMP/err" ||
	{ cat "$TMP/err" >&2; fail "the reserved-name message does not name the wheel and the path"; }
same_env "$TMP/mt" "$T2" "a refused --target install"
# direct_url.json must have PEP 610's shape, from --direct-url or a plan
for bad in '"x"' '{"url": "file:///w"}' '{"url": 1, "dir_info": {}}' \
	'{"url": "file:///w", "archive_info": {}, "dir_info": {}}' \
	'{"url": "file:///w", "vcs_info": {"vcs": "git"}}' '{"url": "u", "dir_info": []}' 'not json'; do
	run install --venv "$V" --direct-url "$bad" "$G/dup/spoke_dup_a"
	expect_eq $? 2 "--direct-url $bad"
	grep -q "PEP 610" "$TMP/err" || { cat "$TMP/err" >&2; fail "--direct-url $bad: no PEP 610 message"; }
	printf '{"wheels": [{"path": "%s", "direct_url": %s}], "environment": {"venv": "%s"}}' \
		"$G/dup/spoke_dup_a" "$(printf %s "$bad" | $PY -c 'import json,sys; print(json.dumps(sys.stdin.read()))')" "$V" >"$TMP/plan.json"
	run install --plan "$TMP/plan.json"
	expect_eq $? 2 "a plan with direct_url $bad"
	grep -q "PEP 610" "$TMP/err" || { cat "$TMP/err" >&2; fail "plan direct_url $bad: no PEP 610 message"; }
done
same_env "$TMP/m2" "$V" "refused direct_url values"
ok install --venv "$V" --direct-url '{"url": "file:///w", "dir_info": {"editable": false}}' "$G/dup/spoke_dup_a"
grep -q dir_info "$SP/spoke_dup_a-1.0.dist-info/direct_url.json" || fail "a valid direct_url.json was not written"
ok uninstall --venv "$V" spoke-dup-a
same_env "$TMP/m2" "$V" "installing and uninstalling with --direct-url"
# a .whl goes through the cache and installs like its tree; a file that is
# neither a .whl nor a tree, and a missing tree, are usage errors
SPOKE_CACHE_DIR=$TMP/cache ok install --venv "$V" --json "$G/whl/spoke_plat-0.1-py3-none-any.whl"
expect_eq "$(action spoke-plat)" installed "a .whl path"
[ -n "$(ls "$TMP"/cache/archive-v2/)" ] || fail "the .whl did not go through the cache"
ok uninstall --venv "$V" spoke-plat
same_env "$TMP/m2" "$V" "installing and uninstalling a .whl"
echo junk >"$TMP/not-a-wheel.txt"
run install --venv "$V" "$TMP/not-a-wheel.txt"
expect_eq $? 2 "a file that is not a .whl"
grep -q "neither a .whl" "$TMP/err" || fail "no hint for a non-wheel file"
run install --venv "$V" "$TMP/nonexistent"
expect_eq $? 2 "a missing tree"
VIRTUAL_ENV=$V run install --dry-run --json "$E1"
expect_eq $? 0 "\$VIRTUAL_ENV as the default venv"
expect_eq "$(action spoke-edge)" "would install" "\$VIRTUAL_ENV dry run"
(unset VIRTUAL_ENV; run install "$E1")
expect_eq $? 2 "no environment at all"
grep -q -- "--venv" "$TMP/err" || fail "no hint to use --venv"
run install --venv "$TMP" "$E1"
expect_eq $? 2 "a directory that is not a venv"
grep -q pyvenv.cfg "$TMP/err" || fail "not-a-venv message"
# an installed RECORD pointing outside the environment, or at the interpreter
echo victim >"$TMP/victim"
mkdir -p "$SP/evil" "$SP/evil-1.0.dist-info"
echo >"$SP/evil/__init__.py"
printf 'Name: evil\nVersion: 1.0\n' >"$SP/evil-1.0.dist-info/METADATA"
rel=$(realpath -m --relative-to="$SP" "$TMP/victim")
case $rel in ../*) ;; *) fail "test bug: '$rel' does not climb out of site-packages" ;; esac
printf 'evil/__init__.py,,\n%s,,\nevil-1.0.dist-info/RECORD,,\n' "$rel" >"$SP/evil-1.0.dist-info/RECORD"
manifest "$V" >"$TMP/m3"
run uninstall --venv "$V" evil
expect_eq $? 4 "uninstall with a RECORD path outside the venv"
grep -q victim "$TMP/err" || fail "the message does not name the escaping path"
[ -f "$TMP/victim" ] || fail "the file outside the venv was removed"
same_env "$TMP/m3" "$V" "a refused uninstall"
printf 'evil/__init__.py,,\n../../../bin/python,,\n' >"$SP/evil-1.0.dist-info/RECORD"
manifest "$V" >"$TMP/m3"
run uninstall --venv "$V" evil
expect_eq $? 4 "uninstall with a RECORD listing bin/python"
same_env "$TMP/m3" "$V" "a refused uninstall (interpreter)"
rm -rf "$SP/evil" "$SP/evil-1.0.dist-info"
note "conflicts, .whl via the cache, not-a-venv and unsafe uninstalls refused"

# -- a failure while writing generated files rolls the whole install back --
F=$TMP/fault
$PY -m venv --without-pip "$F" || fail "venv"
manifest "$F" >"$TMP/mf"
# With hardlinks, renames happen only where generated files are put in
# place: the 4th is the 4th generated file of spoke_edge.
SPOKE_FAULT=rename:4:ENOSPC run install --venv "$F" --link-mode hardlink "$E1"
expect_eq $? 1 "a failing write of a generated file"
grep -q "No space left" "$TMP/err" && grep -q "$F/" "$TMP/err" ||
	fail "the message does not name the path and the cause: $(cat "$TMP/err")"
for s in edge-py edge-pyw edge-console edge-dotted edge-gui; do
	[ -e "$F/bin/$s" ] && fail "generated '$s' left after the failure"
done
[ -e "$F/lib/python$XY/site-packages/spoke_edge-1.0.dist-info/RECORD" ] &&
	fail "RECORD written by a failed install"
no_temporaries "$F"
same_env "$TMP/mf" "$F" "a failing write of a generated file (the transaction rolls back)"
ok install --venv "$F" --link-mode hardlink "$E1"
[ -f "$F/lib/python$XY/site-packages/spoke_edge-1.0.dist-info/RECORD" ] && [ -x "$F/bin/edge-gui" ] ||
	fail "running the install again did not complete it"
note "a failed generated file: the whole install is rolled back; a rerun completes it"

# -- running out of memory anywhere is an error, never a crash -------------
$PY -m venv --without-pip "$TMP/oom0" || fail "venv"
ok install --venv "$TMP/oom0" --link-mode copy "$E1"
for n in $(seq 1 23 700); do
	rm -rf "$TMP/oom"; cp -a "$TMP/oom0" "$TMP/oom"
	SPOKE_FAULT=alloc:$n:ENOMEM run install --venv "$TMP/oom" --link-mode copy "$E2"
	rc=$?
	[ $rc = 0 ] || [ $rc = 1 ] || { cat "$TMP/err" >&2; fail "allocation $n failing: exit $rc"; }
	[ $rc = 1 ] && ! grep -qE "out of memory|Cannot allocate memory" "$TMP/err" &&
		fail "allocation $n: no 'out of memory': $(cat "$TMP/err")"
done
rm -rf "$TMP/oom" "$TMP/oom0"
note "allocation failures in an upgrade: clean errors"

# -- hardlinks: generated files are new inodes; the source never changes ----
H=$TMP/hl
$PY -m venv --without-pip "$H" || fail "venv"
HSP=$H/lib/python$XY/site-packages
src_sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum; find . -printf '%p %m\n' | sort); }
src_sums "$E1" >"$TMP/s1"; src_sums "$E2" >"$TMP/s2"
ok install --venv "$H" --link-mode hardlink --json "$E1"
[ "$(json_get "$TMP/out" hardlinked)" -gt 10 ] || fail "hardlink mode linked nothing"
inode() { stat -c %i "$1"; }
D=$E1/spoke_edge-1.0.dist-info
[ "$(inode "$HSP/spoke_edge-1.0.dist-info/METADATA")" = "$(inode "$D/METADATA")" ] ||
	fail "METADATA was not hardlinked (test premise)"
[ "$(inode "$HSP/spoke_edge-1.0.dist-info/RECORD")" = "$(inode "$D/RECORD")" ] &&
	fail "RECORD was written through a hardlink"
[ "$(inode "$H/bin/edge-py")" = "$(inode "$E1/spoke_edge-1.0.data/scripts/edge-py")" ] &&
	fail "a rewritten script shares the source's inode"
ok install --venv "$H" --link-mode hardlink --reinstall "$E1"
ok install --venv "$H" --link-mode hardlink "$E2"
ok uninstall --venv "$H" spoke-edge
src_sums "$E1" | diff "$TMP/s1" - >/dev/null || fail "the v1 source tree changed"
src_sums "$E2" | diff "$TMP/s2" - >/dev/null || fail "the v2 source tree changed"
no_temporaries "$H"
note "hardlinks: RECORD and scripts are new files; source trees unchanged"

# -- the report counts each distribution's files and bytes from its RECORD --
$PY -m venv --without-pip "$TMP/cnt" || fail "venv"
ok install --json --venv "$TMP/cnt" "$E1"
want=$($PY -c 'import csv,sys; rows=list(csv.reader(open(sys.argv[1]))); print(len(rows), sum(int(r[2]) for r in rows if r[2]))' \
	"$(ls -d "$E1"/*.dist-info)/RECORD")
got=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1]))["distributions"][0]; print(d["files"], d["bytes"])' "$TMP/out")
expect_eq "$got" "$want" "per-distribution files and bytes"
echo "t_install: ok"
