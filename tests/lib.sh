# SPDX-License-Identifier: MIT
# lib.sh - helpers for the shell tests: results (exit 0 pass, 1 fail, 77
# skip), temporary directories, loop-mounted filesystems and tree manifests.
# Source it from a test; it sets SPOKE (the binary under test) and TMP.

set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SPOKE=$BUILD/spoke
# t_sweep and t_crash import tests/treecheck.py from their embedded Python.
export SPOKE_TESTS_DIR=$ROOT/tests
TMP=$(mktemp -d /tmp/spoke-test.XXXXXX)
MOUNTS=()

cleanup() {
	local m
	for m in "${MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }
note() { echo "  $*" >&2; }

# need_tool TOOL...: skip (exit 77) unless every TOOL is installed: a
# command on PATH, python3 (the system one the tests run, $PY or
# /usr/bin/python3, not a pyenv shim: a shim costs a second a call, enough
# to break t_txn's lock timing), or py:MODULE for a module it can import. `make deps-test` installs them all; a developer without one still
# runs the rest.
need_tool() {
	local t py=${PY:-/usr/bin/python3}
	for t; do
		case $t in
		python3) command -v "$py" >/dev/null || skip "python3 not installed ($py; make deps-test)" ;;
		py:*) command -v "$py" >/dev/null && "$py" -c "import ${t#py:}" 2>/dev/null ||
			skip "python3 module ${t#py:} not installed (make deps-test)" ;;
		*) command -v "$t" >/dev/null || skip "$t not installed (make deps-test)" ;;
		esac
	done
}

# need_spoke_venv: the binary under test must exist (fail), and the
# system python3 with venv (skip without); sets PY to it.
need_spoke_venv() {
	PY=/usr/bin/python3
	[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
	[ -x "$PY" ] || skip "no $PY (make deps-test)"
	"$PY" -c 'import venv' 2>/dev/null || skip "python3-venv is not installed (make deps-test)"
}

# run ARGS...: spoke with stdout in $TMP/out, stderr in $TMP/err (the
# outer 2>/dev/null silences bash's "Killed" when a KILL fault fires);
# ok ARGS...: the same, and it must succeed.
run() { { "$SPOKE" "$@" >"$TMP/out" 2>"$TMP/err"; } 2>/dev/null; }
ok() { run "$@" || { cat "$TMP/err" >&2; fail "spoke $* failed"; }; }

# expect_fail WORD WHAT: the last run failed and its message has WORD.
expect_fail() {
	local rc=$?
	[ "$rc" != 0 ] || fail "$2: exit 0, expected a failure"
	grep -q -- "$1" "$TMP/err" || fail "$2: the message lacks '$1': $(cat "$TMP/err")"
}

# envm DIR: DIR's manifest without the lock file, which a killed run
# leaves for the next run to take over.
envm() { manifest "$1" | grep -v '^\.spoke-lock '; }

need_root() {
	[ "$(id -u)" = 0 ] || skip "needs root for loop mounts ($1)"
}

# mkfs_mount TYPE SIZE_MB -> sets MNT to the mount point. TYPE: xfs
# (reflink=1), btrfs, ext4. The image is sparse, so it costs little. Not in
# a $(...) subshell: the mount must be registered for cleanup here.
mkfs_mount() {
	local type=$1 size=$2 img=$TMP/$1-$RANDOM.img mnt
	need_tool "mkfs.$type"
	mnt=$TMP/mnt-$1-$RANDOM
	mkdir -p "$mnt"
	truncate -s "${size}M" "$img" || fail "cannot create $img"
	case $type in
	xfs) mkfs.xfs -q -m reflink=1 "$img" >/dev/null 2>&1 ;;
	btrfs) mkfs.btrfs -q "$img" >/dev/null 2>&1 ;;
	ext4) mkfs.ext4 -q -F "$img" >/dev/null 2>&1 ;;
	esac || skip "mkfs.$type failed (is it installed? make deps)"
	mount -o loop "$img" "$mnt" 2>/dev/null || skip "cannot loop-mount $type (no loop devices in this container?)"
	MOUNTS+=("$mnt")
	MNT=$mnt
}

# manifest DIR: one line per path: relative path, type, mode, size, content
# hash or link target. Two trees are identical when their manifests are.
manifest() {
	need_tool python3
	"${PY:-/usr/bin/python3}" "$ROOT/tests/treecheck.py" "$1"
}

same_tree() {
	diff <(manifest "$1") <(manifest "$2") >"$TMP/diff" ||
		{ head -20 "$TMP/diff" >&2; fail "trees differ: $1 vs $2"; }
}

no_temporaries() {
	local left
	left=$(find "$1" -name '.spoke-*' | head -5)
	[ -z "$left" ] || fail "temporaries left behind: $left"
}

# json_get FILE KEY -> value of a top-level key (numbers, strings), or a
# python expression on the object j with json_py.
json_get() { "${PY:-/usr/bin/python3}" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
json_py() { "${PY:-/usr/bin/python3}" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }

# small_tree DIR N: a wheel-like tree: N files over a few packages, an exec
# file, an empty file, a symlink inside the tree and one to a directory
# outside it (which must be recreated, not followed).
small_tree() {
	local d=$1 n=$2 i
	mkdir -p "$d/pkg/sub/deep" "$d/pkg-1.0.dist-info" "$d/empty-dir"
	for i in $(seq 1 "$n"); do
		case $((i % 4)) in
		0) printf 'x = %d\n' "$i" >"$d/pkg/m$i.py" ;;
		1) head -c $((i * 97 % 20000 + 1)) /dev/urandom >"$d/pkg/sub/d$i.bin" ;;
		2) printf 'deep %d\n' "$i" >"$d/pkg/sub/deep/f$i.txt" ;;
		3) head -c $((i * 13 % 5000)) /dev/urandom >"$d/pkg/r$i.dat" ;;
		esac
	done
	head -c 300000 /dev/urandom >"$d/pkg/_native.so"
	chmod 755 "$d/pkg/_native.so"
	: >"$d/pkg/__init__.py"
	echo "Name: pkg" >"$d/pkg-1.0.dist-info/METADATA"
	ln -s m4.py "$d/pkg/alias.py"
	ln -s /usr/share "$d/pkg/outside"
}
