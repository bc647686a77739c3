# SPDX-License-Identifier: MIT
# install_report.py META.json ROWS.tsv - the Markdown report of
# bench/install.sh: per data set, the rows side by side per filesystem (min
# and median wall time, peak RSS, speed-up over pip), issue 13's target
# ratios computed from the same run with a met/missed column, and the phase
# split of the warm install from spoke's JSON report (its "phases" object,
# printed with the key names and units spoke gives; n/a when this spoke
# does not report phases). Ratios use medians (the min-based ratio follows
# in parentheses), so one lucky run does not decide a target.
import json
import statistics
import sys

META = json.load(open(sys.argv[1]))
RUNS = {}      # (fs, set, row) -> list of dicts
for line in open(sys.argv[2]):
    fs, s, row, rnd, rc, files, rss, rep = line.rstrip("\n").split("\t")
    try:
        rep = json.loads(rep)
    except ValueError:
        rep = {}
    RUNS.setdefault((fs, s, row), []).append({
        "rc": int(rc), "files": files, "rss": json.loads(rss), "rep": rep})

FSES = [f for f in ("ext4", "xfs") if any(k[0] == f for k in RUNS)]
SETS = [s for s in ("small", "100k") if any(k[1] == s for k in RUNS)]
ORDER = ["pip", "cold", "warm", "warm-j1", "cp-al", "cp-reflink", "copy-tree"]
WHAT = {
    "pip": "pip install --no-deps --no-index --no-compile, fresh venv",
    "cold": "spoke install, empty cache",
    "warm": "spoke install, warm cache",
    "warm-j1": "spoke install, warm cache, -j 1",
    "cp-al": "cp -al of the cache entries (one process)",
    "cp-reflink": "cp -a --reflink=always of the cache entries (one process)",
    "copy-tree": "spoke copy-tree of the entries merged into one tree",
}
CMDS = {
    "pip": "P/bin/python -m pip --python V/bin/python install -q --disable-pip-version-check --no-deps --no-index --no-compile W/*.whl",
    "cold": "spoke install -q --json --cache-dir EMPTY --venv V W/*.whl",
    "warm": "spoke install -q --json --cache-dir C --venv V W/*.whl",
    "warm-j1": "spoke install -q --json -j 1 --cache-dir C --venv V W/*.whl",
    "cp-al": "cp -al -t D C/archive-v2/KEY1/. C/archive-v2/KEY2/. ...",
    "cp-reflink": "cp -a --reflink=always -t D C/archive-v2/KEY1/. ...",
    "copy-tree": "spoke copy-tree -q --json M D (M: the entries merged by cp -al, untimed)",
}


def stat(fs, s, row):
    runs = RUNS.get((fs, s, row), [])
    ok = [r for r in runs if r["rc"] == 0]
    if not runs:
        return None
    if len(ok) < len(runs):
        return {"failed": len(runs) - len(ok), "n": len(runs)}
    walls = [r["rss"]["wall"] for r in ok]
    files = [r["files"] for r in ok if r["files"] != "-"]
    return {"min": min(walls), "med": statistics.median(walls), "n": len(walls),
            "rss": max(r["rss"]["maxrss_kb"] for r in ok) / 1024.0,
            "files": files[0] if files else "-", "reps": [r["rep"] for r in ok]}


def linkmode(st):
    if not st or "reps" not in st:
        return ""
    rep = st["reps"][0]
    got = [k for k in ("cloned", "hardlinked", "copied", "symlinked") if rep.get(k)]
    return "+".join(got)


def fmt(x, spec="%.3f"):
    return "n/a" if x is None else spec % x


def ratio(a, b):
    """a / b on medians and on mins, or None when a row is missing."""
    if not a or not b or "med" not in a or "med" not in b:
        return None
    return a["med"] / b["med"], a["min"] / b["min"]


def set_header(s):
    m = META["sets"][s]
    src = ("the real wheels from /usr/share/python-wheels (pip, setuptools, wheel)"
           if s == "small" else "bench/gen100k.py (generated, deterministic)")
    return ("### Set %s: %d wheels, %s files, %s dirs, %.1f MB unpacked, %.1f MB of .whl\n\n"
            "Source: %s.\n" % (s, m["wheels"], "{:,}".format(m["files"]),
                               "{:,}".format(m["dirs"]), m["ubytes"] / 1e6,
                               m["zbytes"] / 1e6, src))


def rows_table(s):
    out = []
    head = "| row | what |"
    line = "|---|---|"
    for fs in FSES:
        head += " %s min s | %s median s | %s peak RSS MiB | %s vs pip | %s files out |" % ((fs,) * 5)
        line += "---:|---:|---:|---:|---:|"
    out += [head, line]
    for row in ORDER:
        if not any((fs, s, row) in RUNS for fs in FSES):
            continue
        cells = "| %s | %s |" % (row, WHAT[row])
        for fs in FSES:
            st = stat(fs, s, row)
            pip = stat(fs, s, "pip")
            if st is None:
                cells += " - | - | - | - | - |"
            elif "failed" in st:
                cells += " FAILED %d/%d | | | | |" % (st["failed"], st["n"])
            else:
                r = ratio(pip, st)
                cells += " %.3f | %.3f | %.1f | %s | %s |" % (
                    st["min"], st["med"], st["rss"],
                    "%.1fx" % r[0] if r else "n/a", st["files"])
        out.append(cells)
    return "\n".join(out) + "\n"


def targets(s):
    out = ["| target (issue 13) | threshold | " + " | ".join(
        "%s: measured, median (min) | %s" % (fs, fs) for fs in FSES) + " |",
        "|---|---|" + "---:|---|" * len(FSES)]

    def add(name, thr, fn, applies=True):
        cells = "| %s | %s |" % (name, thr)
        for fs in FSES:
            val, ok = fn(fs)
            verdict = "n/a" if ok is None else ("met" if ok else "missed")
            if not applies and ok is not None:
                verdict += " (target is for the 100k set)"
            cells += " %s | %s |" % (val, verdict)
        out.append(cells)

    def speedup(num, den, thr):
        def f(fs):
            r = ratio(stat(fs, s, num), stat(fs, s, den))
            if not r:
                return "n/a", None
            return "%.2fx (%.2fx)" % r, r[0] >= thr
        return f

    def peer(fs):  # the cp that makes the same kind of link spoke made
        warm = stat(fs, s, "warm")
        if fs == "xfs" and warm and "cloned" in linkmode(warm) and stat(fs, s, "cp-reflink"):
            return "cp-reflink"
        return "cp-al"

    def vs_cp(fs):
        p = peer(fs)
        r = ratio(stat(fs, s, p), stat(fs, s, "warm"))
        if not r:
            return "n/a", None
        return "%.2fx (%.2fx) vs %s" % (r[0], r[1], p), r[0] >= 1.5

    def vs_ct(fs):
        r = ratio(stat(fs, s, "warm"), stat(fs, s, "copy-tree"))
        if not r:
            return "n/a", None
        return "%.2fx (%.2fx) of copy-tree" % r, r[0] <= 1.3

    def rss(row):
        def f(fs):
            st = stat(fs, s, row)
            if not st or "rss" not in st:
                return "n/a", None
            return "%.1f MiB" % st["rss"], st["rss"] < 64
        return f

    big = s == "100k"
    add("warm vs pip", ">= 30x", speedup("pip", "warm", 30))
    add("warm vs cp of the same entries, same link kind", ">= 1.5x", vs_cp)
    add("warm vs one copy-tree", "<= 1.3x its time", vs_ct)
    add("cold vs pip", ">= 6x", speedup("pip", "cold", 6))
    add("warm -j 1 / warm (2 threads)", ">= 1.4x", speedup("warm-j1", "warm", 1.4), big)
    add("peak RSS, warm install", "< 64 MiB", rss("warm"), big)
    add("peak RSS, cold install", "< 64 MiB", rss("cold"), big)
    return "\n".join(out) + "\n"


def as_dict(p):
    """The phases as {name: value}: an object as it is, or a list of
    objects with a "name" (the value: their first number)."""
    if isinstance(p, dict):
        return p
    if isinstance(p, list):
        out = {}
        for e in p:
            if isinstance(e, dict) and "name" in e:
                nums = [v for k, v in e.items() if k != "name" and isinstance(v, (int, float))]
                out[str(e["name"])] = nums[0] if nums else json.dumps(e)
        return out
    return {}


def phases(s):
    out = []
    for fs in FSES:
        st = stat(fs, s, "warm")
        if not st or "reps" not in st:
            continue
        ph = [as_dict(r.get("phases")) for r in st["reps"]]
        ph = [p for p in ph if p]
        if not ph:
            out.append("- %s: n/a (this spoke's `install --json` has no \"phases\" object)" % fs)
            continue
        keys = list(ph[0].keys())
        want = ["lookup", "plan", "link", "finalize"]
        keys.sort(key=lambda k: next((i for i, w in enumerate(want) if k.startswith(w)), 9))
        parts, med = [], {}
        for k in keys:
            vals = [p.get(k) for p in ph]
            if all(isinstance(v, (int, float)) for v in vals):
                med[k] = statistics.median(vals)
        total = sum(v for k, v in med.items() if not k.startswith(("total", "wall")))
        for k in keys:
            if k in med:
                share = " (%.0f%%)" % (100.0 * med[k] / total) if total > 0 else ""
                parts.append("%s %g%s" % (k, med[k], share))
            else:
                parts.append("%s %s" % (k, json.dumps(ph[0].get(k))))
        out.append("- %s (median of %d warm runs, keys and units as spoke reports them; share of their sum): %s"
                   % (fs, len(ph), ", ".join(parts)))
    return "\n".join(out) + "\n"


def main():
    m = META
    print("## spoke install benchmark (bench/install.sh)\n")
    print("%s, tree %s (%s). Machine: %s, %d cores, %d GB RAM, Linux %s; load average "
          "at the end %s. %s; %s (in the venv). Whole run: %d s.\n" % (
              m["date"], m["commit"], m["spoke"], m["cpu"], m["nproc"], m["mem_gb"],
              m["kernel"], m["load"], m["python"], m["pip"], m["elapsed"]))
    print("Filesystems: %s, each a sparse 12 GB image loop-mounted for this run "
          "(ext4: mkfs.ext4 defaults, with journal; XFS: mkfs.xfs -m reflink=1); "
          "wheels, cache, venvs and destinations all on it. Wall time is the whole "
          "process (bench/rss: fork to wait4), peak RSS its ru_maxrss (max over runs). "
          "Rows take turns round-robin, order rotating each round; `sync` before every "
          "timed run; page cache warm. spoke uses its default link mode (auto); the "
          "link kind it used is listed below each table. Ratios are of medians, the "
          "ratio of mins in parentheses.\n" % " and ".join(FSES))
    for s in SETS:
        print(set_header(s))
        ns = sorted({stat(fs, s, r)["n"] for fs in FSES for r in ORDER
                     if stat(fs, s, r) and "n" in stat(fs, s, r)})
        print("Runs per row: %s.\n" % "/".join(str(n) for n in ns))
        print(rows_table(s))
        lk = []
        for fs in FSES:
            for row in ("warm", "cold", "copy-tree"):
                mode = linkmode(stat(fs, s, row))
                if mode:
                    lk.append("%s %s: %s" % (fs, row, mode))
        if lk:
            print("Link kind spoke used: %s.\n" % "; ".join(lk))
        print(targets(s))
        print("Phase split of the warm install:\n")
        print(phases(s))
    print("Commands (P: a venv with pip, made once; V: a fresh copy of a venv made by `python3 -m venv --without-pip`, the same for pip and spoke; W: the wheels, C: the warm cache, D: a fresh "
          "directory; all on the filesystem under test):\n")
    for row in ORDER:
        print("- %s: `%s`" % (row, CMDS[row]))


main()
