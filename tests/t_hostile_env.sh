#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_hostile_env - spoke's control files and its rollback against an
# environment someone else has been at (issue 12, causes 1, 2, 3, 7 and the
# lock file; docs/RELIABILITY.md "Threat model"). Each case builds the
# attack and asserts the outcome on the real filesystem:
#   - a lock file that is a symlink, a hardlink or a FIFO is refused, its
#     target untouched; so is a journal that is a symlink or a hardlink;
#   - a wheel shipping .spoke-* names through .data/data/ is refused
#     (validation: the plan helper's scheme_reserved() check);
#   - a RECORD listing a .spoke-* path never makes uninstall remove it;
#   - a forged journal with site-packages or bin replaced by a symlink
#     deletes nothing outside the environment (recover, and install's
#     automatic recovery);
#   - a truncated, emptied, garbled or extended journal of a real killed
#     upgrade is refused: exit 1, journal and backups kept byte for byte,
#     nothing changed; a tail a crash can leave is accepted;
#   - files another installer wrote after a killed run are left in place
#     and reported by recover.
. "$(dirname "$0")/lib.sh"
need_spoke_venv

G=$TMP/gen
$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" >/dev/null || fail "mkwheels.py good failed"
E1=$G/trees/spoke_edge-1.0 E2=$G/trees/spoke_edge-2.0

journal() { # journal FILE RECORD...: a well-formed journal of one batch
	$PY - "$@" <<'PY'
import struct, sys
out, recs = sys.argv[1], sys.argv[2:]
payload = b"".join(r.encode().replace(b"|", b"\0") + b"\0" for r in recs)
h = 1469598103934665603
for c in payload:
    h = ((h ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
open(out, "wb").write(b"SPKJ" + struct.pack("<IQ", len(payload), h) + payload)
PY
}
header() { echo "H2|$1|$(stat -c %d "$1")|$(stat -c %i "$1")|$(id -u)|1|0123456789abcdef|$(date +%s%N)"; }

V0=$TMP/v0
$PY -m venv --without-pip "$V0" || fail "cannot create a venv"
ok install --venv "$V0" "$E1"
V=$TMP/v
fresh() { rm -rf "$V"; cp -a "$V0" "$V"; }
# SPOKE_HOSTILE="lock damaged ..." runs only those cases (by the names
# after "want" below), e.g. to watch one fail against an older build.
want() { [ -z "${SPOKE_HOSTILE:-}" ] || [[ " $SPOKE_HOSTILE " == *" $1 "* ]]; }

# -- the lock file ------------------------------------------------------------
if want lock; then
fresh
manifest "$V" >"$TMP/m0"
echo precious >"$TMP/target"
ln -s "$TMP/target" "$V/.spoke-lock"
run install --venv "$V" "$E2"
expect_fail "symbolic link" "a symlinked lock file"
[ "$(cat "$TMP/target")" = precious ] || fail "the lock's symlink target was written"
[ -L "$V/.spoke-lock" ] || fail "the foreign lock symlink was removed"
rm "$V/.spoke-lock"
ln "$TMP/target" "$V/.spoke-lock"
run install --venv "$V" "$E2"
expect_fail "more than one link" "a hardlinked lock file"
[ "$(cat "$TMP/target")" = precious ] || fail "the lock's hardlink target was written"
rm "$V/.spoke-lock"
mkfifo "$V/.spoke-lock"
{ timeout 20 "$SPOKE" install --venv "$V" "$E2" >"$TMP/out" 2>"$TMP/err"; } 2>/dev/null
expect_fail "not a regular file" "a FIFO as the lock file"
rm "$V/.spoke-lock"
diff "$TMP/m0" <(manifest "$V") >/dev/null || fail "a refused lock file changed the environment"
note "lock file: symlink, hardlink and FIFO refused, targets untouched"
fi

# -- a journal that is not a file spoke made --------------------------------
if want journal-file; then
fresh
journal "$TMP/j" "$(header "$V")" "F$V/victim-name"
ln -s "$TMP/j" "$V/.spoke-journal"
run recover --venv "$V"
expect_fail "symbolic link" "a symlinked journal"
rm "$V/.spoke-journal"
ln "$TMP/j" "$V/.spoke-journal"
run recover --venv "$V"
expect_fail "more than one link" "a hardlinked journal"
rm "$V/.spoke-journal"
note "journal: symlink and hardlink refused"
fi

# -- a wheel that ships spoke's control files --------------------------------
if want wheel; then
for name in .spoke-lock .spoke-journal .spoke-txn/0; do
	W=$TMP/hostile
	rm -rf "$W"
	$PY - "$ROOT/tests/wheels" "$W" "$name" <<'PY' || fail "cannot make the hostile wheel"
import sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("hostile", "1.0")
w.add("hostile/__init__.py", b"")
w.add("hostile-1.0.data/data/" + sys.argv[3], b"SPKJ not yours\n")
w.write_tree(sys.argv[2])
PY
	fresh
	manifest "$V" >"$TMP/m0"
	run install --venv "$V" "$W"
	[ $? != 0 ] || fail "a wheel shipping $name through .data/data was installed"
	grep -q "\.spoke" "$TMP/err" || fail "hostile wheel ($name): the message does not name it: $(cat "$TMP/err")"
	diff "$TMP/m0" <(manifest "$V") >/dev/null || fail "hostile wheel ($name): the environment changed"
done
note "wheels shipping .spoke-lock, .spoke-journal, .spoke-txn/ through .data/data"
fi

# -- a RECORD listing a reserved path ------------------------------------------
if want record; then
fresh
SP=$(echo "$V"/lib/python*/site-packages)
echo keep >"$V/.spoke-keepme"
echo "../../../.spoke-keepme,," >>"$SP/spoke_edge-1.0.dist-info/RECORD"
ok uninstall --venv "$V" spoke-edge
[ "$(cat "$V/.spoke-keepme")" = keep ] || fail "uninstall removed a .spoke path its RECORD listed"
grep -q "spoke's own" "$TMP/err" || fail "the skipped .spoke path was not reported: $(cat "$TMP/err")"
note "uninstall never removes a .spoke path a RECORD lists"
fi

# -- forged journal + scheme directories replaced by symlinks --------------------
if want symlink; then
# A killed upgrade's real journal names paths in site-packages and bin;
# then the scheme directory is replaced by a symlink to a copy elsewhere.
for scheme in site-packages bin; do
	for how in recover auto; do
		fresh
		SPOKE_FAULT=link:5:KILL run install --venv "$V" "$E2"
		[ -e "$V/.spoke-journal" ] || fail "a killed upgrade left no journal: $(cat "$TMP/err")"
		SP=$(echo "$V"/lib/python*/site-packages)
		case $scheme in
		site-packages) D=$SP ;;
		bin) D=$V/bin ;;
		esac
		O=$TMP/outside
		rm -rf "$O"
		cp -a "$D" "$O"
		manifest "$O" >"$TMP/mo"
		rm -rf "$D"
		ln -s "$O" "$D"
		# recover, or the automatic recovery at the start of a run (an
		# uninstall of a name that is not there changes nothing itself)
		case $how in
		recover) run recover --venv "$V" ;;
		auto) run uninstall --venv "$V" no-such-dist ;;
		esac
		diff "$TMP/mo" <(manifest "$O") >"$TMP/diff" || { head "$TMP/diff" >&2; fail "$how: recovery changed files outside the environment through a symlinked $scheme"; }
	done
done
note "a killed upgrade's journal + symlinked site-packages / bin: nothing outside touched (recover, automatic)"
fi

# -- damaged journals of a real killed upgrade -------------------------------------
if want damaged; then
fresh
envm "$V" >"$TMP/before"
SPOKE_FAULT=link:5:KILL run install --venv "$V" "$E2"
[ -e "$V/.spoke-journal" ] || fail "a killed upgrade left no journal: $(cat "$TMP/err")"
[ -d "$V/.spoke-txn" ] || fail "a killed upgrade left no backups (test premise)"
# Damaged in place: the journal carries the environment directory's inode,
# so a copy of the environment is another environment.
cp "$V/.spoke-journal" "$TMP/good"
envmj() { envm "$1" | grep -v '^\.spoke-journal '; } # the journal is compared with cmp
envmj "$V" >"$TMP/mk"
size=$(stat -c %s "$TMP/good")
damage() { # damage NAME: $V/.spoke-journal = the good journal damaged by NAME
	local j=$V/.spoke-journal
	cp "$TMP/good" "$j"
	case $1 in
	empty) : >"$j" ;;
	cut-in-header) truncate -s 10 "$j" ;;
	cut-in-first-batch) truncate -s $((size / 2)) "$j" ;;
	flipped-byte) printf 'Z' | dd of="$j" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null ;;
	garbage-after) printf 'garbage, not a batch' >>"$j" ;;
	other-magic) printf 'XXXX' | dd of="$j" bs=1 seek=0 conv=notrunc 2>/dev/null ;;
	esac
}
for d in empty cut-in-header cut-in-first-batch flipped-byte garbage-after other-magic; do
	damage $d
	cp "$V/.spoke-journal" "$TMP/damaged"
	run recover --venv "$V"
	expect_fail "journal" "recover of a journal damaged by $d"
	grep -q "left untouched" "$TMP/err" || fail "$d: the message does not say the journal is kept: $(cat "$TMP/err")"
	cmp -s "$TMP/damaged" "$V/.spoke-journal" || fail "$d: the damaged journal was changed or removed"
	diff "$TMP/mk" <(envmj "$V") >"$TMP/diff" || { head "$TMP/diff" >&2; fail "$d: recover changed the environment (backups or files)"; }
	[ $d = empty ] || continue
	run install --venv "$V" "$E2"
	expect_fail "journal" "an install over a journal damaged by $d"
	diff "$TMP/mk" <(envmj "$V") >/dev/null || fail "$d: install changed the environment"
done
# Cut at a batch boundary: every batch intact, but records are missing;
# the backups they named betray it.
journal "$V/.spoke-journal" "$(header "$V")" "X$V/.spoke-txn"
cp "$V/.spoke-journal" "$TMP/damaged"
run recover --venv "$V"
expect_fail "does not name every backup" "a journal missing the records of its backups"
cmp -s "$TMP/damaged" "$V/.spoke-journal" || fail "a journal missing records was changed or removed"
diff "$TMP/mk" <(envmj "$V") >/dev/null || fail "a journal missing records: the environment changed"
# A tail a crash leaves (the start of a batch it was writing) is legitimate.
cp "$TMP/good" "$V/.spoke-journal"
printf 'SPKJ\xe8\x03\x00\x00\x01\x02' >>"$V/.spoke-journal"
ok recover --venv "$V"
diff "$TMP/before" <(envm "$V") >"$TMP/diff" || { head "$TMP/diff" >&2; fail "a torn last batch: not rolled back"; }
note "damaged journals (empty, cut, flipped, garbage after, bad magic, records missing) refused and kept; a torn tail accepted"
fi

# -- another installer after a killed run ------------------------------------------
if want foreign; then
fresh
envm "$V" >"$TMP/before"
SPOKE_FAULT=write:5:KILL run install --venv "$V" "$E2"
[ -e "$V/.spoke-journal" ] || fail "write:5:KILL left no journal"
envm "$V" >"$TMP/mk"
# Paths the killed run created: there now, not before (its own files only).
created=$(comm -13 <(cut -d' ' -f1 "$TMP/before" | sort) <(cut -d' ' -f1 "$TMP/mk" | sort) | grep -v '\(^\|/\)\.spoke' || true)
file=$(for p in $created; do [ -f "$V/$p" ] && [ ! -L "$V/$p" ] && echo "$p"; done | head -1)
dir=$(for p in $created; do [ -d "$V/$p" ] && echo "$p"; done | tail -1)
[ -n "$file" ] && [ -n "$dir" ] || fail "the killed run created no file or directory (test premise): $created"
sleep 3 # past the killed run's last heartbeat and the grace
rm "$V/$file"
echo "pip wrote this" >"$V/$file"
echo "pip wrote this too" >"$V/$dir/pip_module.py"
run recover --venv "$V"
[ "$(cat "$V/$file")" = "pip wrote this" ] || fail "recover removed a file another installer wrote ($file)"
[ "$(cat "$V/$dir/pip_module.py")" = "pip wrote this too" ] || fail "recover removed a file another installer put into a directory of the killed run"
grep -q "did not make" "$TMP/err" || fail "recover did not report what it left: $(cat "$TMP/err")"
note "files another installer wrote after a killed run are left and reported"
fi

echo "t_hostile_env: ok"
