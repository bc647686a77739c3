# SPDX-License-Identifier: MIT
"""treecheck - what the shell tests compare trees with: a manifest of every
entry (path, type, mode, size, content hash or link target), the .spoke-*
temporaries left in a tree, and a short diff of two manifests. lib.sh's
manifest() runs this file; t_sweep and t_crash import it, since they take
thousands of manifests and cannot afford a process each.

  python3 treecheck.py DIR      print DIR's manifest
"""
import hashlib
import os
import stat
import sys


def manifest(root):
    """Sorted lines; two trees are identical when their manifests are."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel, mode = os.path.relpath(p, root), "%o" % stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out.append("%s l %s %s" % (rel, mode, os.readlink(p)))
            elif stat.S_ISDIR(st.st_mode):
                out.append("%s d %s" % (rel, mode))
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()[:16]
                out.append("%s f %s %d %s" % (rel, mode, st.st_size, h))
    return sorted(out)


def leftovers(root):
    """spoke's temporaries (".spoke-*") anywhere under root."""
    return [os.path.join(d, n) for d, ds, fs in os.walk(root) for n in ds + fs
            if n.startswith(".spoke-")]


def differ(a, b):
    """Up to five lines only in a, then up to five only in b."""
    sa, sb = set(a), set(b)
    return ["- " + x for x in sorted(sa - sb)][:5] + ["+ " + x for x in sorted(sb - sa)][:5]


if __name__ == "__main__":
    print("\n".join(manifest(sys.argv[1])))
