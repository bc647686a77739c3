# SPDX-License-Identifier: MIT
# pyc_bench_gen.py OUT NWHEELS NMODULES - the generated pure-Python set of
# bench/pyc_bench.sh part (d): wheels genK with NMODULES modules each,
# genK/sN/mJ.py (a few functions and a class, about 1.3 KB, like ordinary
# library code), every package's __init__ importing its modules, so that
# `import genK` loads all of them.
import base64, hashlib, sys, zipfile

BODY = '''"""Module %(j)d of %(pkg)s."""
import os, re
CONST_%(j)d = {"a": 1, "b": [1, 2, 3], "c": (4, 5)}

def parse_%(j)d(text, sep=","):
    """Split text and strip each field."""
    out = []
    for i, field in enumerate(text.split(sep)):
        field = field.strip()
        if not field:
            continue
        out.append((i, field.lower(), len(field)))
    return out

def render_%(j)d(rows, width=%(w)d):
    lines = ["%%-*s %%s" %% (width, k, v) for k, v in rows]
    return "\\n".join(lines) if lines else os.linesep

class Thing%(j)d:
    kind = "thing-%(j)d"
    def __init__(self, name, *values, **opts):
        self.name = name
        self.values = list(values)
        self.opts = dict(opts)
    def __repr__(self):
        return "Thing%(j)d(%%r, %%r)" %% (self.name, self.values)
    def total(self):
        return sum(v for v in self.values if isinstance(v, int))
    def match(self, pattern):
        return re.search(pattern, self.name) is not None
    @property
    def size(self):
        return len(self.values) + len(self.opts)
'''


def wheel(out, pkg, nm):
    files, subs = {}, {}
    for j in range(nm):
        sub = "s%d" % (j // 100)
        subs.setdefault(sub, []).append("m%d" % j)
        files["%s/%s/m%d.py" % (pkg, sub, j)] = BODY % {"j": j, "pkg": pkg, "w": j % 40 + 10}
    for sub, mods in subs.items():
        files["%s/%s/__init__.py" % (pkg, sub)] = "".join("from . import %s\n" % m for m in mods)
    files[pkg + "/__init__.py"] = "".join("from . import %s\n" % s for s in subs)
    di = "%s-1.0.dist-info" % pkg
    files[di + "/METADATA"] = "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % pkg
    files[di + "/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: pyc_bench\n"
                            "Root-Is-Purelib: true\nTag: py3-none-any\n")
    rows = []
    for p, t in files.items():
        d = base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b"=").decode()
        rows.append("%s,sha256=%s,%d" % (p, d, len(t.encode())))
    files[di + "/RECORD"] = "\n".join(rows + [di + "/RECORD,,"]) + "\n"
    with zipfile.ZipFile("%s/%s-1.0-py3-none-any.whl" % (out, pkg), "w", zipfile.ZIP_DEFLATED) as z:
        for p, t in files.items():
            z.writestr(p, t)


if __name__ == "__main__":
    out, nw, nm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    for k in range(nw):
        wheel(out, "gen%d" % k, nm)
