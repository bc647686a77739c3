#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_txn - transactional installs, one behaviour at a time: a failure in
# the middle of an upgrade or an uninstall puts everything back; SIGINT and
# SIGTERM cancel and roll back (exit 130); a killed run leaves a journal
# that `spoke recover` replays, and that the next install or uninstall
# replays on its own; the environment lock (waiting with a message,
# --no-wait failing with exit 5, a signal ending the wait); a journal that
# names paths outside the environment is refused untouched, and so is one
# that lacks its first complete batch (tests/t_hostile_env.sh has the rest). Every check compares the whole environment (path, type, mode,
# size, content) with its state before, and looks for leftovers.
. "$(dirname "$0")/lib.sh"
need_spoke_venv
command -v flock >/dev/null || skip "no flock(1) (util-linux)"

G=$TMP/gen
$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" || fail "mkwheels.py good failed"
E1=$G/trees/spoke_edge-1.0 E2=$G/trees/spoke_edge-2.0 PL=$G/trees/spoke_plat-0.1

run() { # run ARGS...: spoke with stdout in $TMP/out, stderr in $TMP/err
	# (the outer 2>/dev/null silences bash's "Killed" for KILL faults)
	{ "$SPOKE" "$@" >"$TMP/out" 2>"$TMP/err"; } 2>/dev/null
}
ok() { run "$@" || { cat "$TMP/err" >&2; fail "spoke $* failed"; }; }
same_env() { # same_env BEFORE DIR WHAT: DIR's manifest equals BEFORE, no leftovers
	manifest "$2" >"$TMP/now"
	diff "$1" "$TMP/now" >"$TMP/diff" || { head -10 "$TMP/diff" >&2; fail "$3: the environment changed"; }
	no_temporaries "$2"
}
# expect_fail RC WORD WHAT: the last run exited RC and its message has WORD
expect_fail() {
	local rc=$?
	[ "$rc" = "$1" ] || { cat "$TMP/err" >&2; fail "$3: exit $rc, expected $1"; }
	grep -q -- "$2" "$TMP/err" || fail "$3: the message lacks '$2': $(cat "$TMP/err")"
}

V=$TMP/venv
$PY -m venv --without-pip "$V" || fail "cannot create a venv"
ok install --venv "$V" "$E1" "$PL"
manifest "$V" >"$TMP/m1"
no_temporaries "$V"
[ -e "$V/.spoke-lock" ] && fail "the lock file stays after a run"

# -- failures in the middle roll everything back ----------------------------
# Upgrade 1.0 -> 2.0: the old files are moved aside, the new linked, the
# generated written; fail each phase once. One worker: fault counts are
# process-wide, so with two the Nth open could be a source directory's in
# one run and the venv's in the next.
for spec in rename:1:EIO rename:9:ENOSPC link:3:EIO mkdir:2:ENOSPC write:1:ENOSPC write:6:EIO open:20:EIO; do
	SPOKE_FAULT=$spec run install --jobs 1 --venv "$V" "$E2"
	expect_fail 1 "'$V" "upgrade with $spec (path in the message)"
	case $spec in *ENOSPC) w='No space left' ;; *) w='Input/output error' ;; esac
	grep -q "$w" "$TMP/err" || fail "upgrade with $spec: the message lacks '$w': $(cat "$TMP/err")"
	same_env "$TMP/m1" "$V" "upgrade with $spec"
done
note "an upgrade failing at a move aside, a link, a mkdir, a journal write, a generated file, an open: rolled back"
for spec in rename:1:EIO rename:5:ENOSPC write:2:EIO; do
	SPOKE_FAULT=$spec run uninstall --venv "$V" spoke-edge spoke-plat
	expect_fail 1 "'$V" "uninstall with $spec"
	same_env "$TMP/m1" "$V" "uninstall with $spec"
done
note "an uninstall failing midway: rolled back"
# The last write of a run is the commit mark's sync. Count the writes by
# killing at each (recovering after each), then fail the last one: that
# undoes a run that had done everything else.
n=0
while :; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "cannot count the writes of an upgrade"
	SPOKE_FAULT=write:$n:KILL run install --venv "$V" "$E2"
	[ $? = 137 ] || break
	ok recover --venv "$V"
	if grep -q "^finished" "$TMP/out"; then # killed after the commit mark
		ok uninstall --venv "$V" spoke-edge
		ok install --venv "$V" "$E1"
	fi
	same_env "$TMP/m1" "$V" "recover after write:$n:KILL"
done
ok uninstall --venv "$V" spoke-edge
ok install --venv "$V" "$E1"
same_env "$TMP/m1" "$V" "back to 1.0"
last=$((n - 1))
SPOKE_FAULT=write:$last:EIO run install --venv "$V" "$E2"
expect_fail 1 "Input/output error" "failing commit mark (write $last)"
same_env "$TMP/m1" "$V" "failing commit mark"
note "a failing commit mark (write $last of $last) rolls the finished work back"

# -- a directory becoming a file and a file a directory; bytecode -----------
$PY - "$ROOT/tests/wheels" "$G/trees" <<'PY' || fail "cannot make spoke_shape"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
for ver in ("1.0", "2.0"):
    w = Wheel("spoke_shape", ver)
    w.add("spoke_shape/__init__.py", "V = %r\n" % ver)
    if ver == "1.0":
        w.add("spoke_shape/thing/a.py", "A = 1\n")
        w.add("spoke_shape/x", "a file in 1.0\n")
    else:
        w.add("spoke_shape/thing", "a file in 2.0\n")
        w.add("spoke_shape/x/y.py", "Y = 2\n")
    w.write_tree(os.path.join(sys.argv[2], "spoke_shape-" + ver))
PY
S1=$G/trees/spoke_shape-1.0 S2=$G/trees/spoke_shape-2.0
ok install --venv "$V" "$S1"
# CPython's bytecode of the old modules: an upgrade removes it, a rollback
# must bring it back.
env -u PYTHONDONTWRITEBYTECODE "$V/bin/python" -c 'import spoke_edge, spoke_shape.thing.a' || fail "cannot import"
ls "$V"/lib/python*/site-packages/spoke_shape/thing/__pycache__/a.*.pyc >/dev/null || fail "no bytecode made (test premise)"
manifest "$V" >"$TMP/ms"
for spec in rename:2:EIO rename:12:ENOSPC link:2:EIO write:5:EIO; do
	SPOKE_FAULT=$spec run install --venv "$V" "$E2" "$S2"
	expect_fail 1 "'$V" "shape change with $spec"
	same_env "$TMP/ms" "$V" "shape change with $spec"
done
SPOKE_FAULT=link:3:KILL run install --venv "$V" "$E2" "$S2"
[ $? = 137 ] || fail "link:3:KILL did not kill the shape change"
ok recover --venv "$V"
same_env "$TMP/ms" "$V" "shape change killed, recovered"
ok install --venv "$V" "$E2" "$S2"
[ -f "$V"/lib/python*/site-packages/spoke_shape/thing ] && [ -f "$V"/lib/python*/site-packages/spoke_shape/x/y.py ] ||
	fail "the shape change did not happen"
ok uninstall --venv "$V" spoke-shape spoke-edge
ok install --venv "$V" "$E1"
manifest "$V" >"$TMP/m1"
note "a directory becoming a file and the reverse, with bytecode to remove: rolled back and recovered"

# -- SIGINT and SIGTERM cancel and roll back --------------------------------
# A wheel big enough that linking by copy takes a while; the signal comes
# once the journal exists, i.e. while the environment is being changed.
$PY - "$ROOT/tests/wheels" "$G/big" <<'PY' || fail "cannot make the big wheel"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("spoke_big", "1.0")
for i in range(20000):
    w.add("spoke_big/p%02d/m%05d.py" % (i % 40, i), "X = %d\n" % i * 3)
w.write_tree(sys.argv[2])
PY
for sig in INT TERM; do
	manifest "$V" >"$TMP/mc"
	"$SPOKE" install --venv "$V" --link-mode copy -j 1 "$E2" "$G/big" >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 1 500); do
		[ -e "$V/.spoke-journal" ] && break
		sleep 0.01
	done
	[ -e "$V/.spoke-journal" ] || { kill -9 $pid; fail "SIG$sig: the install never started changing"; }
	kill -$sig $pid
	wait $pid
	expect_fail 130 "canceled" "SIG$sig during linking"
	same_env "$TMP/mc" "$V" "SIG$sig during linking"
done
note "SIGINT and SIGTERM during linking: exit 130, rolled back"

# -- a killed run: spoke recover, and the next run recovering by itself ----
SPOKE_FAULT=link:5:KILL run install --venv "$V" "$E2"
[ $? = 137 ] || fail "link:5:KILL did not kill"
[ -e "$V/.spoke-journal" ] || fail "a killed install left no journal"
[ -d "$V/.spoke-txn" ] || fail "a killed upgrade left no backups (test premise)"
run install --dry-run --venv "$V" "$E2"
expect_fail 0 "interrupted spoke run" "a dry run over a journal warns"
ok recover --venv "$V"
grep -q "^rolled back" "$TMP/out" || fail "recover did not say it rolled back: $(cat "$TMP/out")"
same_env "$TMP/m1" "$V" "spoke recover after a kill"
ok recover --venv "$V"
grep -q "^nothing to recover" "$TMP/out" || fail "a second recover: $(cat "$TMP/out")"
note "a killed upgrade: spoke recover rolls it back; a second recover has nothing to do"

ok uninstall --venv "$V" spoke-edge spoke-plat
manifest "$V" >"$TMP/m0"
ok install --venv "$V" "$E2" "$PL"
manifest "$V" >"$TMP/m2"
ok uninstall --venv "$V" spoke-edge spoke-plat
ok install --venv "$V" "$E1" "$PL"
same_env "$TMP/m1" "$V" "reinstall 1.0"
SPOKE_FAULT=link:7:KILL run install --venv "$V" "$E2"
[ $? = 137 ] || fail "link:7:KILL did not kill"
ok install --venv "$V" "$E2"
grep -q "rolled back an interrupted spoke run in '$V'" "$TMP/err" ||
	fail "the next install did not say it recovered: $(cat "$TMP/err")"
same_env "$TMP/m2" "$V" "install after a kill (recovers, then installs)"
SPOKE_FAULT=rename:3:KILL run uninstall --venv "$V" spoke-edge spoke-plat
[ $? = 137 ] || fail "rename:3:KILL did not kill the uninstall"
ok uninstall --venv "$V" spoke-edge spoke-plat
grep -q "rolled back an interrupted spoke run" "$TMP/err" ||
	fail "the next uninstall did not say it recovered: $(cat "$TMP/err")"
same_env "$TMP/m0" "$V" "uninstall after a killed uninstall"
note "the next install or uninstall after a kill recovers first, then runs"

# -- --target: the same transaction, journal and lock in the target --------
T=$TMP/target
ok install --target "$T" --python /usr/bin/python3 "$E1"
manifest "$T" >"$TMP/mt"
SPOKE_FAULT=link:4:EIO run install --target "$T" --python /usr/bin/python3 "$E2"
expect_fail 1 "'$T" "--target upgrade with link:4:EIO"
same_env "$TMP/mt" "$T" "--target upgrade with link:4:EIO"
SPOKE_FAULT=link:4:KILL run install --target "$T" --python /usr/bin/python3 "$E2"
[ -e "$T/.spoke-journal" ] || fail "no journal in the target"
ok recover --target "$T"
same_env "$TMP/mt" "$T" "--target: recover after a kill"
note "--target: rollback and recovery"

# -- scheme directories on other filesystems (root: tmpfs mounts) ----------
# A site-packages that is a mount of its own gets its own backup directory
# (a rename cannot cross filesystems); explicit scheme paths (a JSON plan)
# spread over two filesystems, with the journal in purelib, likewise.
if [ "$(id -u)" = 0 ] && "$SPOKE" install --help | grep -q -- --plan; then
	M=$TMP/mnt-venv
	$PY -m venv --without-pip "$M" || fail "venv"
	MSP=$(echo "$M"/lib/python*/site-packages)
	mount -t tmpfs -o size=64m tmpfs "$MSP" || fail "cannot mount a tmpfs"
	MOUNTS+=("$MSP")
	ok install --venv "$M" "$E1" "$PL"
	manifest "$M" >"$TMP/mm"
	for spec in rename:3:EIO link:4:ENOSPC write:6:EIO; do
		SPOKE_FAULT=$spec run install --venv "$M" "$E2"
		expect_fail 1 "'$M" "mounted site-packages, $spec"
		same_env "$TMP/mm" "$M" "mounted site-packages, $spec"
	done
	SPOKE_FAULT=link:4:KILL run install --venv "$M" "$E2"
	[ -d "$MSP/.spoke-txn" ] || fail "no backup directory on the mounted site-packages"
	ok recover --venv "$M"
	same_env "$TMP/mm" "$M" "mounted site-packages, killed and recovered"
	X=$TMP/explicit
	mkdir -p "$X/sp" "$X/bin"
	mount -t tmpfs -o size=16m tmpfs "$X/bin" || fail "cannot mount a tmpfs"
	MOUNTS+=("$X/bin")
	plan() { # plan FILE TREE
		printf '{"wheels": ["%s"], "environment": {"python": "/usr/bin/python3", "scheme": {"purelib": "%s", "platlib": "%s", "scripts": "%s", "headers": "%s", "data": "%s"}}}\n' \
			"$2" "$X/sp" "$X/sp" "$X/bin" "$X/inc" "$X/data" >"$1"
	}
	plan "$TMP/p1.json" "$E1"
	plan "$TMP/p2.json" "$E2"
	ok install --plan "$TMP/p1.json"
	manifest "$X" >"$TMP/mx"
	SPOKE_FAULT=link:4:EIO run install --plan "$TMP/p2.json"
	expect_fail 1 "Input/output error" "explicit scheme, link:4:EIO"
	same_env "$TMP/mx" "$X" "explicit scheme, link:4:EIO"
	SPOKE_FAULT=write:8:KILL run install --plan "$TMP/p2.json"
	[ -e "$X/sp/.spoke-journal" ] || fail "no journal in the explicit purelib"
	[ -d "$X/bin/.spoke-txn" ] || fail "no backup directory on the scripts filesystem"
	ok install --plan "$TMP/p1.json"
	grep -q "rolled back an interrupted spoke run" "$TMP/err" || fail "explicit scheme: no recovery: $(cat "$TMP/err")"
	same_env "$TMP/mx" "$X" "explicit scheme, killed, recovered by the next install"
	note "scheme directories on other filesystems: backups beside them, rollback and recovery"
else
	note "skipped scheme directories on other filesystems (needs root and --plan)"
fi

# -- the lock -------------------------------------------------------------
ok install --venv "$V" "$E1" "$PL"
manifest "$V" >"$TMP/m1"
# The holder keeps the lock until told (a fixed sleep ran out under load
# before the waiter below started).
flock "$V/.spoke-lock" sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done' sh "$TMP/release" &
holder=$!
for _ in $(seq 1 100); do [ -e "$V/.spoke-lock" ] && break; sleep 0.01; done
sleep 0.2
run install --no-wait --venv "$V" "$E2"
expect_fail 5 "is locked by another spoke" "install --no-wait on a locked venv"
run uninstall --no-wait --venv "$V" spoke-edge
expect_fail 5 "locked" "uninstall --no-wait on a locked venv"
run recover --no-wait --venv "$V"
expect_fail 5 "locked" "recover --no-wait on a locked venv"
manifest "$V" | grep -v '^\.spoke-lock ' >"$TMP/now"
diff "$TMP/m1" "$TMP/now" >/dev/null || fail "a refused --no-wait run changed the venv"
# A waiter says so, and ends the wait on SIGINT.
"$SPOKE" install --venv "$V" "$E2" >"$TMP/out" 2>"$TMP/err" &
waiter=$!
sleep 0.5
kill -INT $waiter
wait $waiter
expect_fail 130 "waiting for the lock on '$V'" "SIGINT while waiting"
# A waiter gets the lock when the holder lets go, and then installs.
(sleep 1.5; touch "$TMP/release") &
start=$(date +%s.%N)
run install --venv "$V" "$E2"
rc=$?
end=$(date +%s.%N)
[ $rc = 0 ] || { cat "$TMP/err" >&2; fail "the waiting install failed"; }
grep -q "waiting for the lock on '$V' held by another spoke" "$TMP/err" || fail "no waiting message: $(cat "$TMP/err")"
wait $holder
awk -v a="$start" -v b="$end" 'BEGIN { exit !(b - a > 1.0) }' || fail "the install did not wait for the lock"
grep -q "VERSION = '2.0'" "$V"/lib/python*/site-packages/spoke_edge/__init__.py || fail "2.0 not installed"
no_temporaries "$V"
note "lock: --no-wait exits 5, a waiter says so, SIGINT ends the wait, the lock passes on"

# -- journals spoke must not trust ----------------------------------------
manifest "$V" >"$TMP/m2"
SP=$(echo "$V"/lib/python*/site-packages)
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
HDR="H2|$V|$(stat -c %d "$V")|$(stat -c %i "$V")|$(id -u)|1|0123456789abcdef|0"
touch "$TMP/victim"
journal "$V/.spoke-journal" "$HDR" "F$TMP/victim"
run recover --venv "$V"
expect_fail 1 "outside the environment" "a journal naming a path outside"
[ -e "$TMP/victim" ] || fail "recover removed a file outside the environment"
run install --venv "$V" "$E1"
expect_fail 1 "outside the environment" "an install over an untrusted journal"
[ -e "$V/.spoke-journal" ] || fail "the untrusted journal was removed"
journal "$V/.spoke-journal" "$HDR" "X$V/.spoke-txn" "M$SP/spoke_edge/__init__.py|$TMP/1"
run recover --venv "$V"
expect_fail 1 "backup outside" "a journal naming a backup outside"
journal "$V/.spoke-journal" "H2|/elsewhere|1|1|$(id -u)|1|0123456789abcdef|0" "F$SP/spoke_edge/__init__.py"
run recover --venv "$V"
expect_fail 1 "another directory" "a journal of another environment"
[ -f "$SP/spoke_edge/__init__.py" ] || fail "recover acted on a journal of another directory"
printf 'SPKJ\x10\x00\x00\x00garbage' >"$V/.spoke-journal"
run recover --venv "$V"
expect_fail 1 "complete batch" "a journal without a complete first batch"
[ -e "$V/.spoke-journal" ] || fail "a journal without its first batch was removed"
rm "$V/.spoke-journal"
same_env "$TMP/m2" "$V" "a journal without its first batch changes nothing"
note "journals naming paths outside, written elsewhere or lacking their first batch are refused untouched"
echo "t_txn: ok"
