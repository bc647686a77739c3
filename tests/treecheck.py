# SPDX-License-Identifier: MIT
"""treecheck - what the shell tests compare trees with: a manifest of every
entry (path, type, mode, size, content hash or link target), the .spoke-*
temporaries left in a tree, a short diff of two manifests, and the
fault-injection runner t_sweep and t_crash share. lib.sh's manifest()
runs this file; t_sweep and t_crash import it, since they take thousands
of manifests and cannot afford a process each.

  python3 treecheck.py DIR      print DIR's manifest
"""
import hashlib
import os
import shutil
import stat
import subprocess
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


class FaultRun:
    """One scenario run again and again from a saved tree: restore() puts
    the saved copy of the environment back at live, run() runs spoke with
    an optional SPOKE_FAULT spec, calls() counts an op's calls."""

    def __init__(self, spoke, saved, live):
        self.spoke, self.saved, self.live = spoke, saved, live

    def restore(self):
        if os.path.lexists(self.live):
            shutil.rmtree(self.live)
        subprocess.run(["cp", "-a", self.saved, self.live], check=True)

    def run(self, args, fault=None):
        """(exit code, stdout, stderr); a signal's code is negative."""
        env = dict(os.environ)
        env.pop("SPOKE_FAULT", None)
        if fault:
            env["SPOKE_FAULT"] = fault
        p = subprocess.run([self.spoke] + args, env=env, capture_output=True,
                           text=True)
        return p.returncode, p.stdout, p.stderr

    def calls(self, args, op):
        """Calls of op in a run of args: call k exists iff
        SPOKE_FAULT=op:k:KILL kills the run (a binary search, each probe
        from the saved tree)."""
        def exists(k):
            self.restore()
            return self.run(args, "%s:%d:KILL" % (op, k))[0] == -9
        lo, hi = 0, 1
        while exists(hi):
            lo, hi = hi, hi * 2
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if exists(mid) else (lo, mid)
        return lo


if __name__ == "__main__":
    print("\n".join(manifest(sys.argv[1])))
