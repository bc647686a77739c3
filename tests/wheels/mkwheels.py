#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mkwheels - generate unpacked wheel trees (and .whl files) for the install
tests: edge cases that real wheels rarely exercise (.data in all five keys,
"#!python"/"#!pythonw" scripts, console and gui entry points, a platlib
wheel, non-ASCII names, an empty directory, a deep tree, an upgrade that
drops files) and one tree per kind of bad input.

  mkwheels.py good OUT   OUT/trees/<dist>-<ver>/ and OUT/whl/<file>.whl
  mkwheels.py bad OUT    OUT/bad/<case>/ (+ OUT/bad/<case>.expect: exit code
                         and a word the error message must contain)
"""
import base64
import hashlib
import os
import stat
import sys
import zipfile

EDGE_INIT = '''\
import sys


def main():
    print("edge-console", " ".join(sys.argv[1:]))
    return 0


def gui():
    print("edge-gui")
    return 0


class Cli:
    @staticmethod
    def run():
        print("edge-dotted")
        return 0
'''


def b64(data):
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


class Wheel:
    """Files of one wheel: path -> (bytes, mode) or ("symlink", target)."""

    def __init__(self, name, version, purelib=True, wheel_version="1.0"):
        self.name, self.version = name, version
        self.files = {}
        self.dirs = []  # empty directories
        self.distinfo = "%s-%s.dist-info" % (name, version)
        self.data = "%s-%s.data" % (name, version)
        self.add(self.distinfo + "/METADATA",
                 "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: spoke test\n\nbody\n"
                 % (name.replace("_", "-"), version))
        self.add(self.distinfo + "/WHEEL",
                 "Wheel-Version: %s\nGenerator: mkwheels\nRoot-Is-Purelib: %s\nTag: py3-none-any\n"
                 % (wheel_version, "true" if purelib else "false"))
        self.record_extra = []   # rows for files that do not exist
        self.record_skip = set()  # files left out of RECORD
        self.record_override = {}  # path -> row text
        self.no_record = False

    def add(self, path, data, mode=0o644):
        if isinstance(data, str):
            data = data.encode()
        self.files[path] = (data, mode)

    def link(self, path, target):
        self.files[path] = ("symlink", target)

    def record(self):
        rows = []
        for path in sorted(self.files):
            if path in self.record_skip:
                continue
            if path in self.record_override:
                rows.append(self.record_override[path])
                continue
            data, _ = self.files[path]
            if data == "symlink":
                rows.append("%s,," % path)
            else:
                rows.append("%s,sha256=%s,%d" % (csv_quote(path), b64(data), len(data)))
        rows += self.record_extra
        rows.append("%s/RECORD,," % self.distinfo)
        return "\n".join(rows) + "\n"

    def write_tree(self, root):
        os.makedirs(root)
        for path, (data, mode) in self.files.items():
            p = os.path.join(root, path)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            if data == "symlink":
                os.symlink(mode, p)
                continue
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, mode)
        for d in self.dirs:
            os.makedirs(os.path.join(root, d), exist_ok=True)
        if not self.no_record:
            with open(os.path.join(root, self.distinfo, "RECORD"), "w") as f:
                f.write(self.record())

    def write_whl(self, path):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for p in sorted(self.files):
                data, mode = self.files[p]
                zi = zipfile.ZipInfo(p, (2020, 1, 1, 0, 0, 0))
                zi.external_attr = (stat.S_IFREG | mode) << 16
                zi.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(zi, data)
            for d in self.dirs:
                zi = zipfile.ZipInfo(d + "/", (2020, 1, 1, 0, 0, 0))
                zi.external_attr = (stat.S_IFDIR | 0o755) << 16
                z.writestr(zi, b"")
            zi = zipfile.ZipInfo(self.distinfo + "/RECORD", (2020, 1, 1, 0, 0, 0))
            zi.external_attr = (stat.S_IFREG | 0o644) << 16
            z.writestr(zi, self.record())

    def filename(self):
        return "%s-%s-py3-none-any.whl" % (self.name, self.version)


def csv_quote(s):
    return '"%s"' % s.replace('"', '""') if any(c in s for c in ',"\n\r') else s


def edge(version):
    """spoke_edge: every .data key, scripts, entry points, odd names."""
    w = Wheel("spoke_edge", version)
    d = w.data
    w.add("spoke_edge/__init__.py", EDGE_INIT + "VERSION = %r\n" % version)
    w.add("spoke_edge/native.so", b"\x7fELF not really\n" * 50, 0o755)
    w.add("spoke_edge/d\u00e4t\u00e4/\u00fcn\u00efc\u00f6d\u00e9 \u2603.txt", "snow\n")
    w.add("spoke_edge/comma,quote\".txt", "csv quoting\n")
    w.add("%s/purelib/spoke_edge_pure.py" % d, "X = 'pure'\n")
    w.add("%s/platlib/spoke_edge_plat.py" % d, "X = 'plat'\n")
    w.add("%s/headers/edge.h" % d, "#define EDGE 1\n")
    w.add("%s/data/share/spoke-edge/readme.txt" % d, "data file\n")
    w.add("%s/scripts/edge-py" % d, "#!python\nimport spoke_edge\nprint('edge-py', spoke_edge.VERSION)\n", 0o755)
    w.add("%s/scripts/edge-pyw" % d, "#!pythonw -u\r\nprint('edge-pyw')\n", 0o644)
    w.add("%s/scripts/edge-sh" % d, "#!/bin/sh\necho edge-sh\n", 0o755)
    # setuptools' wrapper for an entry point: pip drops it
    w.add("%s/scripts/edge-console" % d, "#!python\nraise SystemExit('wrapper')\n", 0o755)
    ep = "[console_scripts]\nedge-console = spoke_edge:main\nedge-dotted = spoke_edge:Cli.run\n" \
         "\n[gui_scripts]\nedge-gui = spoke_edge:gui [extra]\n"
    w.add(w.distinfo + "/entry_points.txt", ep)
    w.add(w.distinfo + "/top_level.txt", "spoke_edge\nspoke_edge_pure\nspoke_edge_plat\n")
    if version == "1.0":
        # only in v1: an upgrade must remove these
        w.add("%s/scripts/edge-old" % d, "#!/bin/sh\necho old\n", 0o755)
        w.add("spoke_edge/old_only.py", "OLD = 1\n")
        deep = "spoke_edge/deep/" + "/".join("d%02d" % i for i in range(40))
        w.add(deep + "/leaf.py", "LEAF = 1\n")
        w.dirs.append("spoke_edge/empty/nested")
    else:
        w.add("spoke_edge/new_only.py", "NEW = 2\n")
    return w


def plat():
    w = Wheel("spoke_plat", "0.1", purelib=False)
    w.add("spoke_plat/__init__.py", "PLAT = True\n")
    w.add("spoke_plat/_speedups.so", b"\0" * 4096, 0o755)
    w.add("%s/purelib/spoke_plat_pure.py" % w.data, "PURE = True\n")
    return w


def good(out):
    wheels = [edge("1.0"), edge("2.0"), plat()]
    os.makedirs(os.path.join(out, "whl"), exist_ok=True)
    for w in wheels:
        w.write_tree(os.path.join(out, "trees", "%s-%s" % (w.name, w.version)))
        w.write_whl(os.path.join(out, "whl", w.filename()))


def small(name="spoke_bad", version="1.0"):
    w = Wheel(name, version)
    w.add("%s/__init__.py" % name, "")
    return w


def bad(out):
    cases = {}

    def case(name, w, code, word):
        cases[name] = (w, code, word)

    w = small(); del w.files[w.distinfo + "/WHEEL"]
    case("no-wheel-file", w, 4, "WHEEL")
    case("wheel-version-2", small(), 4, "Wheel-Version")
    cases["wheel-version-2"][0].add(cases["wheel-version-2"][0].distinfo + "/WHEEL",
                                    "Wheel-Version: 2.0\nRoot-Is-Purelib: true\n")
    w = small(); w.add(w.distinfo + "/WHEEL", "Wheel-Version: one\n")
    case("wheel-version-bad", w, 4, "Wheel-Version")
    w = small(); w.no_record = True
    case("no-record", w, 4, "RECORD")
    w = small(); w.record_override["spoke_bad/__init__.py"] = "spoke_bad/__init__.py,sha256=x"
    case("record-malformed", w, 4, "RECORD")
    w = small(); del w.files[w.distinfo + "/METADATA"]
    case("no-metadata", w, 4, "METADATA")
    w = small(); w.add(w.distinfo + "/METADATA", "Name: spoke-bad\n\n")
    case("metadata-no-version", w, 4, "Version")
    w = small(); w.record_extra.append("../evil.py,,")
    case("record-dotdot", w, 4, "../evil.py")
    w = small(); w.record_extra.append("/etc/evil,,")
    case("record-absolute", w, 4, "/etc/evil")
    w = small(); w.link("spoke_bad/escape", "../../../etc")
    case("symlink-escape", w, 4, "spoke_bad/escape")
    w = small(); w.link("spoke_bad/abs", "/etc/passwd")
    case("symlink-absolute", w, 4, "spoke_bad/abs")
    w = small(); w.add("%s/data/x" % w.data, "x"); w.link("spoke_bad/into-data", "../%s/data/x" % w.data)
    case("symlink-into-data", w, 4, "into-data")
    w = small(); w.add("spoke_bad/unlisted.py", ""); w.record_skip.add("spoke_bad/unlisted.py")
    case("unlisted-file", w, 4, "unlisted.py")
    w = small(); w.record_extra.append("spoke_bad/ghost.py,,")
    case("missing-file", w, 4, "ghost.py")
    w = small(); w.record_override["spoke_bad/__init__.py"] = "spoke_bad/__init__.py,,99"
    case("size-mismatch", w, 4, "__init__.py")
    w = small(); w.add("other-1.0.dist-info/METADATA", "Name: other\nVersion: 1\n")
    case("two-dist-info", w, 4, ".dist-info")
    w = small(); w.add("%s/weird/x" % w.data, "x")
    case("data-bad-key", w, 4, "weird")
    w = small(); w.add("%s/purelib/coll" % w.data, "file"); w.add("coll/inner.py", "")
    case("file-dir-collision", w, 4, "coll")
    w = small(); w.add("%s/scripts/python" % w.data, "#!/bin/sh\n", 0o755)
    case("script-python", w, 4, "bin/python")
    w = small(); w.add("%s/scripts/activate.fish" % w.data, "x\n", 0o755)
    case("script-activate", w, 4, "activate.fish")
    w = small(); w.add("%s/data/pyvenv.cfg" % w.data, "home = /\n")
    case("data-pyvenv-cfg", w, 4, "pyvenv.cfg")
    w = small(); w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\npython3 = spoke_bad:main\n")
    case("ep-python3", w, 4, "python3")
    w = small(); w.add(w.distinfo + "/entry_points.txt", "[gui_scripts]\nActivate.ps1 = spoke_bad:main\n")
    case("ep-activate", w, 4, "Activate.ps1")
    w = small(); w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\n../evil = spoke_bad:main\n")
    case("ep-dotdot", w, 4, "../evil")
    w = small(); w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\nsub/evil = spoke_bad:main\n")
    case("ep-slash", w, 4, "sub/evil")
    w = small(); w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\nnocolon = spoke_bad\n")
    case("ep-no-callable", w, 4, "nocolon")
    # names spoke keeps for itself (its lock, journal, backups): refused
    # wherever a wheel would put them
    for key, path in (("lock", "data/.spoke-lock"), ("journal", "data/.spoke-journal"),
                      ("txn", "data/.spoke-txn/x"), ("purelib", "purelib/.spoke-x.py"),
                      ("scripts", "scripts/.spoke-run")):
        w = small(); w.add("%s/%s" % (w.data, path), "#!/bin/sh\n", 0o755)
        case("reserved-" + key, w, 4, path.split("/")[1])
    w = small(); w.add(".spoke-root", "x")
    case("reserved-root", w, 4, ".spoke-root")
    w = small(); w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\n.spoke-lock = spoke_bad:main\n")
    case("reserved-launcher", w, 4, "bin/.spoke-lock")
    # symlinks resolved through the tree's own links, not lexically
    w = small(); w.link("spoke_bad/up", ".."); w.link("spoke_bad/esc", "up/..")
    case("symlink-via-up", w, 4, "spoke_bad/esc")
    w = small(); w.link("spoke_bad/a", "b"); w.link("spoke_bad/b", "c"); w.link("spoke_bad/c", "../..")
    case("symlink-chain", w, 4, "spoke_bad/a")
    w = small(); w.link("spoke_bad/l1", "l2"); w.link("spoke_bad/l2", "l1")
    case("symlink-loop", w, 4, "loop")
    w = small(); w.link("spoke_bad/abs", "x/passwd"); w.link("spoke_bad/x", "/etc")
    case("symlink-via-absolute", w, 4, "absolute")
    w = small(); w.add("spoke_bad/d/f", "")
    w.link("spoke_bad/d/up2", "../../spoke_bad"); w.link("spoke_bad/d/esc", "up2/../../..")
    case("symlink-dotdot-via-link", w, 4, "spoke_bad/d/esc")
    w = small(); w.link("spoke_bad/gone", "missing/../../..")
    case("symlink-dotdot-after-missing", w, 4, "spoke_bad/gone")
    # names with control characters (C0, DEL, C1), in the tree and in RECORD
    w = small(); w.add("spoke_bad/a\x01b.py", ""); w.record_skip.add("spoke_bad/a\x01b.py")
    case("name-c0", w, 4, "a\\x01b.py")
    w = small(); w.add("spoke_bad/del\x7f.py", "")
    case("name-del", w, 4, "del\\x7f.py")
    w = small(); w.add("spoke_bad/c1\u0085.py", "")
    case("name-c1", w, 4, "c1\\xc2\\x85.py")
    # one name twice under Unicode NFC: precomposed and decomposed
    w = small(); w.add("spoke_bad/caf\u00e9.py", "a"); w.add("spoke_bad/cafe\u0301.py", "b")
    case("name-nfc-twice", w, 4, "NFC")
    # environment collisions: the test creates the colliding entries
    w = small(); w.add("envfile/inner.py", "")
    case("env-file-where-dir", w, 4, "envfile")
    w = small(); w.add("envdir", "now a file\n")
    case("env-dir-where-file", w, 4, "envdir")
    for name, (w, code, word) in cases.items():
        w.write_tree(os.path.join(out, "bad", name))
        with open(os.path.join(out, "bad", name + ".expect"), "w") as f:
            f.write("%d %s\n" % (code, word))
    # two wheels writing the same file
    for n in ("spoke_dup_a", "spoke_dup_b"):
        w = small(n)
        w.add("shared_file.py", "OWNER = %r\n" % n)
        w.write_tree(os.path.join(out, "dup", n))
    # two wheels writing one name in its two Unicode forms
    for n, f in (("spoke_nfc_a", "caf\u00e9.py"), ("spoke_nfc_b", "cafe\u0301.py")):
        w = small(n)
        w.add(f, "OWNER = %r\n" % n)
        w.write_tree(os.path.join(out, "nfc", n))
    # a top-level .spoke-lock, for a --target install
    w = small("spoke_res"); w.add(".spoke-lock", "x")
    w.write_tree(os.path.join(out, "reserved", "spoke_res"))
    # links through links that stay inside: installed
    w = small("spoke_links")
    w.add("spoke_links/d/f.txt", "f\n")
    w.link("spoke_links/d/up", "..")
    w.link("spoke_links/via", "d/up/d/f.txt")
    w.link("spoke_links/chain", "via")
    w.link("spoke_links/dangling", "missing/name")
    w.write_tree(os.path.join(out, "links", "spoke_links"))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("good", "bad"):
        sys.exit(__doc__)
    {"good": good, "bad": bad}[sys.argv[1]](sys.argv[2])


if __name__ == "__main__":
    main()
