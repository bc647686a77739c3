#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_walk - the parallel walk on awkward shapes: nesting 200 deep, one
# directory of 100,000 entries, symlinks to directories (recreated, never
# followed), and fewer file descriptors than directories (ulimit -n 64).
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"

src=$TMP/src
# Deep: 200 levels, a file at each.
p=$src/deep
for i in $(seq 1 200); do p=$p/d; done
mkdir -p "$p"
p=$src/deep
for i in $(seq 1 200); do p=$p/d; echo "$i" >"$p/f"; done
# Wide: 400 directories of 3 files each (more dirs than fds allowed below).
for i in $(seq 1 400); do
	mkdir -p "$src/wide/w$i"
	echo "$i" >"$src/wide/w$i/a"; echo b >"$src/wide/w$i/b"; : >"$src/wide/w$i/c"
done
# Symlinks to directories, inside and outside the tree.
ln -s ../wide/w1 "$src/deep/inside-link"
ln -s / "$src/deep/root-link"

for jobs in 1 2 8; do
	rm -rf "$TMP/dst"
	"$SPOKE" copy-tree --json --jobs $jobs --link-mode copy "$src" "$TMP/dst" >"$TMP/o.json" || fail "jobs=$jobs failed"
	same_tree "$src" "$TMP/dst"
	[ -L "$TMP/dst/deep/root-link" ] || fail "symlink to / was followed"
	expect_eq "$(readlink "$TMP/dst/deep/root-link")" / "symlink target"
	expect_eq "$(json_get "$TMP/o.json" symlinked)" 2 "symlinks recreated"
done
note "deep + wide + dir symlinks: ok with 1, 2 and 8 jobs"

# Fewer fds than directories: the walk must reopen from the root by path.
rm -rf "$TMP/dst"
(ulimit -n 64 && "$SPOKE" copy-tree --jobs 2 --link-mode hardlink "$src" "$TMP/dst") 2>"$TMP/fd.err" ||
	fail "ulimit -n 64: $(cat "$TMP/fd.err")"
same_tree "$src" "$TMP/dst"
note "ulimit -n 64 with $(find "$src" -type d | wc -l) directories: ok"

# One flat directory of 100,000 entries, spread over workers in chunks.
flat=$TMP/flat
mkdir -p "$flat"
python3 - "$flat" <<'PY'
import os, sys
d = sys.argv[1]
for i in range(100000):
    with open(os.path.join(d, "f%06d.py" % i), "w") as f:
        f.write("x = %d\n" % i)
PY
"$SPOKE" copy-tree --json --jobs 2 --link-mode hardlink "$flat" "$TMP/flatdst" >"$TMP/flat.json" || fail "flat dir"
expect_eq "$(json_get "$TMP/flat.json" files)" 100000 "flat: files"
expect_eq "$(find "$TMP/flatdst" -type f | wc -l)" 100000 "flat: files on disk"
cmp "$flat/f054321.py" "$TMP/flatdst/f054321.py" || fail "flat: content"
echo "t_walk: all checks passed"
