# SPDX-License-Identifier: MIT
# gen100k.py OUTDIR [--files N] [--stats] - write a deterministic set of real
# .whl files shaped like a large ML environment, for bench/install.sh: one
# torch-like wheel of 30% of the files (deep tree: headers under include/,
# one 48 MB shared library), four of 5% each, and many small ones (log-normal
# file counts, median 150), 100,000 files in all. File sizes are log-normal
# per kind (.py median 4.5 KB, p90 ~20 KB, like pip's and setuptools' own
# wheels; headers smaller; a few shared libraries of 0.1-8 MB), directories
# hold ~7 files on average (pip's wheel: 8.5), most files 3-4 directories
# below site-packages, at most 6. Contents come from two fixed pools
# (Python-like text, which deflates 2.5x, and half-random "binary", 2x), so
# inflating costs what it costs for real wheels. Everything follows from the
# seed: the same bytes on every run and machine with the same Python and
# zlib (the zip entries carry a fixed date), hence the same cache keys. With --stats
# it prints the shape (files, dirs, bytes, size percentiles, depth and
# files-per-directory histograms) so the distribution can be checked.
# Needs only the standard library; runs with Debian's /usr/bin/python3.
import base64
import collections
import hashlib
import os
import random
import sys
import zipfile

SEED = 20261201
R = random.Random(SEED)

SYL = ["ba", "co", "di", "fu", "ga", "he", "ki", "lo", "mu", "ne", "po", "ra",
       "si", "tu", "ve", "xo", "za", "ten", "sor", "nn", "op", "ut", "il", "ax"]


def word():
    return "".join(R.choice(SYL) for _ in range(R.randint(2, 4)))


def make_text_pool(n):
    lines = []
    size = 0
    while size < n:
        kind = R.random()
        if kind < 0.15:
            s = "def %s(%s, %s=None):\n" % (word(), word(), word())
        elif kind < 0.25:
            s = "class %s(%s):\n    \"\"\"%s %s %s.\"\"\"\n" % (
                word().title(), word().title(), word(), word(), word())
        elif kind < 0.35:
            s = "# %s %s %s %s %s\n" % (word(), word(), word(), word(), word())
        else:
            s = "    %s = %s.%s(%s, %d)\n" % (word(), word(), word(), word(),
                                              R.randint(0, 9999))
        lines.append(s)
        size += len(s)
    return "".join(lines).encode()


def make_bin_pool(n):
    out = bytearray()
    while len(out) < n:
        out += R.randbytes(512)
        out += bytes([R.randint(0, 255)]) * 256 + b"\0" * 256
    return bytes(out[:n])


POOL_N = 1 << 22
TEXT = make_text_pool(POOL_N)
BIN = make_bin_pool(POOL_N)


def body(pool, n):
    parts = []
    while n > 0:
        off = R.randrange(0, POOL_N - 1)
        take = min(n, POOL_N - off)
        parts.append(pool[off:off + take])
        n -= take
    return b"".join(parts)


def lognorm(median, sigma, lo, hi):
    return max(lo, min(hi, int(R.lognormvariate(0, sigma) * median)))


def tree(top, ndirs, maxdepth):
    """ndirs directories under top; a new directory's parent is an existing
    one, weighted towards shallow ones, so depth grows slowly as in real
    packages (most modules 2-4 deep, a few deep chains)."""
    dirs = [(top, 0)]
    while len(dirs) < ndirs:
        cand = [d for d in R.sample(dirs, min(len(dirs), 8)) if d[1] < maxdepth]
        if not cand:
            continue
        parent = min(cand, key=lambda d: d[1] + R.random() * 2.5)
        dirs.append(("%s/%s" % (parent[0], word()), parent[1] + 1))
    return [d[0] for d in dirs]


def kind_and_size(headers):
    k = R.random()
    if headers and k < 0.35:
        return ".h", lognorm(3000, 1.1, 60, 400000), TEXT
    if k < 0.80:
        return ".py", lognorm(4500, 1.2, 0, 800000), TEXT
    if k < 0.86:
        return ".pyi", lognorm(2500, 1.0, 20, 200000), TEXT
    if k < 0.93:
        return R.choice([".json", ".txt", ".cfg", ".md"]), lognorm(1200, 1.3, 2, 300000), TEXT
    if k < 0.997:
        return R.choice([".typed", ".csv", ".pem", ".dat"]), lognorm(800, 1.5, 0, 100000), BIN
    return ".so", lognorm(200000, 1.0, 20000, 8 << 20), BIN


def wheel(out, name, nfiles, headers=False, big_so=0, scripts=0):
    files = {}
    ndirs = max(1, nfiles // 7)
    dirs = tree(name, ndirs, 7 if nfiles > 10000 else 5)
    # a few directories hold many files (ATen/ops-like), most a handful
    weights = [R.paretovariate(1.3) for _ in dirs]
    files["%s/__init__.py" % name] = body(TEXT, 600)
    if big_so:
        files["%s/lib/lib%s.so" % (name, name)] = body(BIN, big_so)
    seen = set()
    i = 0
    extra = 4 + (1 if scripts else 0)  # the dist-info files below
    while len(files) < nfiles - extra:
        d = R.choices(dirs, weights)[0]
        ext, n, pool = kind_and_size(headers)
        if ext == ".py" and d not in seen:
            seen.add(d)
            fn = "__init__.py"
        else:
            fn = "%s_%d%s" % (word(), i, ext)
        files["%s/%s" % (d, fn)] = body(pool, n)
        i += 1
    di = "%s-1.0.dist-info" % name
    meta = "Metadata-Version: 2.1\nName: %s\nVersion: 1.0\nSummary: generated (spoke bench)\n" % name
    files[di + "/METADATA"] = meta.encode()
    files[di + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: spoke-gen100k\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[di + "/top_level.txt"] = (name + "\n").encode()
    if scripts:
        files[di + "/entry_points.txt"] = ("[console_scripts]\n" + "".join(
            "%s-%d = %s:main\n" % (name, s, name) for s in range(scripts))).encode()
    rec = []
    for p, d in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
        rec.append("%s,sha256=%s,%d\n" % (p, h, len(d)))
    files[di + "/RECORD"] = ("".join(rec) + di + "/RECORD,,\n").encode()
    path = os.path.join(out, "%s-1.0-py3-none-any.whl" % name)
    with zipfile.ZipFile(path + ".tmp", "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in files.items():
            zi = zipfile.ZipInfo(p, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = (0o100755 if p.endswith(".so") else 0o100644) << 16
            z.writestr(zi, d)
    os.rename(path + ".tmp", path)
    return files


def stats(allfiles):
    sizes = sorted(len(d) for d in allfiles.values())
    dirs = collections.Counter()
    depth = collections.Counter()
    for p in allfiles:
        parts = p.split("/")
        depth[len(parts) - 1] += 1
        dirs["/".join(parts[:-1])] += 1
    # directories with only subdirectories count too
    alld = set()
    for d in dirs:
        parts = d.split("/")
        for k in range(1, len(parts) + 1):
            alld.add("/".join(parts[:k]))
    per = sorted(dirs.values())
    pct = lambda a, q: a[min(len(a) - 1, int(len(a) * q))]
    print("files %d, dirs %d, bytes %d (%.0f MB), mean %d B" % (
        len(sizes), len(alld), sum(sizes), sum(sizes) / 1e6, sum(sizes) // len(sizes)))
    print("size p10/p50/p90/p99/max: %d %d %d %d %d" % tuple(
        pct(sizes, q) for q in (0.1, 0.5, 0.9, 0.99, 1.0)))
    print("depth (slashes in path): files per depth", dict(sorted(depth.items())))
    print("files per dir (dirs with files) p50/p90/p99/max: %d %d %d %d; mean over all dirs %.1f" % (
        pct(per, 0.5), pct(per, 0.9), pct(per, 0.99), per[-1], len(sizes) / len(alld)))


def main():
    args = sys.argv[1:]
    want_stats = "--stats" in args
    args = [a for a in args if a != "--stats"]
    total = 100000
    if "--files" in args:
        k = args.index("--files")
        total = int(args[k + 1])
        del args[k:k + 2]
    if len(args) != 1:
        sys.exit("usage: gen100k.py OUTDIR [--files N] [--stats]")
    out = args[0]
    os.makedirs(out, exist_ok=True)
    allf = {}
    allf.update(wheel(out, "torchish", total * 30 // 100, headers=True, big_so=48 << 20, scripts=3))
    for k in range(4):
        allf.update(wheel(out, "midpkg%d" % k, total * 5 // 100, big_so=(4 + 2 * k) << 20, scripts=1))
    # the small wheels' sizes, the last trimmed so the total is exact (a
    # wheel needs its dist-info and a module: at least 8 files)
    left = total - len(allf)
    counts = []
    while left > 0:
        n = min(left, lognorm(150, 1.2, 8, 3000))
        if left - n < 8:
            n = left
        counts.append(n)
        left -= n
    for k, n in enumerate(counts):
        allf.update(wheel(out, "smallpkg%03d" % k, n, scripts=1 if k % 5 == 0 else 0))
    k = len(counts)
    if want_stats:
        stats(allf)
    print("wheels %d" % (5 + k))


if __name__ == "__main__":
    main()
