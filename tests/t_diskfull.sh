#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_diskfull - a real full disk, no injected faults: a venv on a small
# loop-mounted ext4 and an install (an upgrade plus a wheel bigger than the
# free space) that runs out of space midway. The run must fail with exit 1
# and a message naming a path and ENOSPC, and leave the venv byte-identical
# with nothing of spoke's behind and the free space it found. The disk is
# filled to several levels first, so the space runs out in different
# phases (the journal, the links, the generated files); then the same with
# inodes instead of blocks. Afterwards, with room made, the install works.
. "$(dirname "$0")/lib.sh"
need_spoke_venv
need_root "ext4 loop mount"

G=$TMP/gen
$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" || fail "mkwheels.py good failed"
$PY - "$ROOT/tests/wheels" "$G/trees" <<'PY' || fail "cannot make the big wheels"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("spoke_huge", "1.0")
for i in range(24):  # 24 x 1 MB: more than the 16 MB disk has
    w.add("spoke_huge/blob%02d.bin" % i, os.urandom(1 << 20))
for i in range(60):
    w.add("spoke_huge/mod%02d.py" % i, "X = %d\n" % i)
w.write_tree(os.path.join(sys.argv[2], "spoke_huge-1.0"))
w = Wheel("spoke_many", "1.0")  # many small files: for the inode test
for i in range(800):
    w.add("spoke_many/m%03d.py" % i, "X = %d\n" % i)
w.write_tree(os.path.join(sys.argv[2], "spoke_many-1.0"))
PY
E1=$G/trees/spoke_edge-1.0 E2=$G/trees/spoke_edge-2.0

free_kb() { df --output=avail -k "$1" | tail -1 | tr -d ' '; }
full_run() { # full_run VENV WHAT WHEEL...: must fail cleanly on ENOSPC
	local v=$1 what=$2 before_free
	shift 2
	manifest "$v" >"$TMP/before"
	before_free=$(free_kb "$v")
	"$SPOKE" install --venv "$v" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[ $rc = 1 ] || { cat "$TMP/err" >&2; fail "$what: exit $rc, expected 1"; }
	grep -q "No space left on device" "$TMP/err" || fail "$what: the message lacks ENOSPC: $(cat "$TMP/err")"
	grep -q "'$v" "$TMP/err" || fail "$what: the message names no path in the venv: $(cat "$TMP/err")"
	manifest "$v" >"$TMP/after"
	diff "$TMP/before" "$TMP/after" >"$TMP/diff" || { head >&2 "$TMP/diff"; fail "$what: the venv changed"; }
	no_temporaries "$v"
	# ext4 may keep a few blocks for a directory that grew; all the
	# data blocks must be free again.
	[ $(($(free_kb "$v") + 64)) -ge "$before_free" ] ||
		fail "$what: $before_free KB free before, $(free_kb "$v") KB after"
	note "$what: $(grep -m1 "error:" "$TMP/err" | cut -c1-160)"
}

mkfs_mount ext4 16
D=$MNT
# No blocks reserved for root, so "0 KB left" means 0 for spoke too.
tune2fs -m 0 "$(findmnt -n -o SOURCE "$D")" >/dev/null 2>&1 || note "tune2fs -m 0 failed; root keeps its reserve"
V=$D/venv
$PY -m venv --without-pip "$V" || fail "cannot create a venv on the small disk"
"$SPOKE" install -q --venv "$V" "$E1" || fail "cannot install spoke_edge 1.0"
# Fill levels: leave ~all, 600 KB, 40 KB, 4 KB, 0 free before the run.
for leave in all 600 40 4 0; do
	rm -f "$D/filler"
	if [ $leave != all ]; then
		avail=$(free_kb "$D")
		fallocate -l $(((avail - leave) * 1024)) "$D/filler" 2>/dev/null ||
			head -c $(((avail - leave) * 1024)) /dev/zero >"$D/filler" 2>/dev/null
	fi
	full_run "$V" "disk full, $leave KB left" "$E2" "$G/trees/spoke_huge-1.0"
done
rm -f "$D/filler"
# The free space is there again: the upgrade alone succeeds.
"$SPOKE" install -q --venv "$V" "$E2" || fail "the upgrade fails with room on the disk"
no_temporaries "$V"

# Out of inodes instead of blocks.
img=$TMP/inodes.img
truncate -s 32M "$img"
mkfs.ext4 -q -F -N 600 "$img" >/dev/null 2>&1 || skip "mkfs.ext4 -N failed"
mkdir -p "$TMP/mnt-inodes"
mount -o loop "$img" "$TMP/mnt-inodes" 2>/dev/null || skip "cannot loop-mount ext4"
MOUNTS+=("$TMP/mnt-inodes")
VI=$TMP/mnt-inodes/venv
$PY -m venv --without-pip "$VI" || fail "cannot create a venv on the inode-poor disk"
"$SPOKE" install -q --venv "$VI" "$E1" || fail "cannot install spoke_edge 1.0 (inodes)"
full_run "$VI" "out of inodes" "$E2" "$G/trees/spoke_many-1.0"
echo "t_diskfull: ok"
