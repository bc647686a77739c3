#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_dtunknown - directories whose getdents type is DT_UNKNOWN (issue 12):
# ext2 made without the filetype feature reports every entry so, as XFS
# with ftype=0, some FUSE and NFS do. A source tree there must be walked
# (stat, then recurse), not refused as "not a regular file, directory or
# symlink". Part 1 (copy-tree) is the walk alone; part 2 installs a wheel
# tree and a cached wheel from that filesystem, which also needs the plan's
# validation walk and the cache's scan to stat DT_UNKNOWN entries.
. "$(dirname "$0")/lib.sh"
need_root "an ext2 image without filetype"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
command -v mkfs.ext2 >/dev/null || skip "mkfs.ext2 missing (e2fsprogs)"
PY=${PYTHON:-python3}

img=$TMP/noft.img
M=$TMP/mnt-noft
mkdir -p "$M"
truncate -s 200M "$img" || fail "cannot create $img"
mkfs.ext2 -q -F -O ^filetype "$img" >/dev/null 2>&1 || skip "mkfs.ext2 -O ^filetype failed"
mount -o loop "$img" "$M" 2>/dev/null || skip "cannot loop-mount ext2"
MOUNTS+=("$M")
if command -v dumpe2fs >/dev/null; then
	dumpe2fs -h "$img" 2>/dev/null | grep -i '^Filesystem features' | grep -qw filetype &&
		fail "the image has the filetype feature: the test would test nothing"
fi

# -- part 1: copy-tree from it, within it and onto it -------------------------
small_tree "$M/src" 200
mkdir -p "$M/src/a/b/c/d" && echo deep >"$M/src/a/b/c/d/leaf.txt"
for mode in copy hardlink auto; do
	"$SPOKE" copy-tree -q --link-mode "$mode" "$M/src" "$M/ct-$mode" 2>"$TMP/ct.err" ||
		fail "copy-tree --link-mode $mode within ext2 (no filetype): $(cat "$TMP/ct.err")"
	same_tree "$M/src" "$M/ct-$mode"
done
"$SPOKE" copy-tree -q "$M/src" "$TMP/out" 2>"$TMP/ct.err" || fail "copy-tree from ext2 (no filetype): $(cat "$TMP/ct.err")"
same_tree "$M/src" "$TMP/out"
"$SPOKE" copy-tree -q "$M/ct-copy" "$M/back" 2>"$TMP/ct.err" || fail "copy-tree of a copy: $(cat "$TMP/ct.err")"
same_tree "$M/src" "$M/back"
note "part 1: copy-tree on DT_UNKNOWN directories: ok"

# -- part 2: install a wheel tree and a cached wheel from it -----------------
$PY - "$ROOT/tests/wheels" "$M" <<'PY' || fail "cannot generate a wheel"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("spoke_dt", "1.0")
w.add("spoke_dt/__init__.py", "X = 1\n")
for i in range(60):
    w.add("spoke_dt/sub%d/deeper/m%02d.py" % (i % 4, i), "X = %d\n" % i)
w.write_tree(os.path.join(sys.argv[2], "trees", "spoke_dt-1.0"))
os.makedirs(os.path.join(sys.argv[2], "whl"))
w.write_whl(os.path.join(sys.argv[2], "whl", w.filename()))
PY
V=$TMP/venv
$PY -m venv --without-pip "$V" || fail "cannot create a venv"
site=$(echo "$V"/lib/python3*/site-packages)
"$SPOKE" install -q --venv "$V" "$M/trees/spoke_dt-1.0" 2>"$TMP/in.err" ||
	fail "part 2: install of a wheel tree on ext2 without filetype: $(cat "$TMP/in.err")"
same_tree "$M/trees/spoke_dt-1.0/spoke_dt" "$site/spoke_dt"
V2=$TMP/venv2
$PY -m venv --without-pip "$V2" || fail "cannot create a venv"
site2=$(echo "$V2"/lib/python3*/site-packages)
"$SPOKE" install -q --cache-dir "$M/cache" --venv "$V2" "$M"/whl/*.whl 2>"$TMP/in2.err" ||
	fail "part 2: install of a wheel through a cache on ext2 without filetype: $(cat "$TMP/in2.err")"
same_tree "$M/trees/spoke_dt-1.0/spoke_dt" "$site2/spoke_dt"
"$SPOKE" cache list --cache-dir "$M/cache" >"$TMP/list" 2>&1 || fail "part 2: cache list: $(cat "$TMP/list")"
grep -q spoke_dt "$TMP/list" || fail "part 2: cache list lacks the wheel: $(cat "$TMP/list")"
note "part 2: install from a wheel tree and from a cache on DT_UNKNOWN: ok"
echo "t_dtunknown: all checks passed"
