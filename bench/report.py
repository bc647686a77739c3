#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# bench/report.py - turns the raw runs of bench/run.sh (one JSON line per
# timed run) into the benchmark's report: a table per filesystem / link mode /
# shape on stdout (strategy, min s, median s, files/s, MB/s, and spoke's
# speed-up factors over each peer), the same tables as markdown, a summary
# JSON (bench/results/latest.json) and a PNG chart of files/s per strategy
# per shape drawn by gnuplot. Speed-ups are ratios of medians: peer median /
# spoke median, so 1.35x means spoke took 1/1.35 of the peer's time. Any
# failed run marks its row FAILED and keeps it out of every ratio.

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

STRATEGY_ORDER = ["sequential", "per-wheel", "cp", "spoke-sync", "spoke-uring", "floor"]
LABEL = {
    "sequential": "sequential",
    "per-wheel": "per-wheel (uv-like)",
    "cp": "cp",
    "spoke-sync": "spoke --io sync",
    "spoke-uring": "spoke --io uring",
    "floor": "floor",
}
CP_LABEL = {"hardlink": "cp -al", "clone": "cp -a --reflink=always", "copy": "cp -a"}
SPOKES = ["spoke-uring", "spoke-sync"]
PEERS = ["sequential", "per-wheel", "cp", "floor"]
FS_ORDER = ["ext4", "xfs", "btrfs", "ext4-host"]
MODE_ORDER = ["hardlink", "copy", "auto", "clone", "symlink"]


def shape_key(s):
    if s.startswith("scale-"):
        return (1, int(s[6:]))
    return (0, ["many", "huge", "flat"].index(s) if s in ("many", "huge", "flat") else 9)


def label(strategy, mode):
    if strategy == "cp":
        return CP_LABEL.get(mode, "cp")
    return LABEL.get(strategy, strategy)


def fmt_int(x):
    return "{:,}".format(int(round(x)))


def load_runs(path):
    runs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError as e:
                sys.exit("report: %s:%d: bad JSON: %s" % (path, n, e))
    return runs


def summarise(runs, sources):
    cells = {}
    for r in runs:
        key = (r["series"], r["fs"], r["mode"], r["shape"])
        cells.setdefault(key, {}).setdefault(r["strategy"], []).append(r)
    out = []
    for key in sorted(cells, key=lambda k: (k[0] != "main", FS_ORDER.index(k[1]) if k[1] in FS_ORDER else 9,
                                            MODE_ORDER.index(k[2]) if k[2] in MODE_ORDER else 9,
                                            shape_key(k[3]))):
        series, fs, mode, shape = key
        src = sources.get(shape, {})
        files, nbytes = src.get("files", 0), src.get("bytes", 0)
        rows = {}
        for strat, rs in cells[key].items():
            failed = [r for r in rs if not r["ok"]]
            secs = [r["seconds"] for r in rs if r["ok"] and r["seconds"] is not None]
            row = {
                "strategy": strat,
                "label": label(strat, mode),
                "runs": len(rs),
                "samples": secs,
                "maxrss_kb": max((r["maxrss_kb"] or 0) for r in rs),
                "load1": [r.get("load1") for r in rs],
                "timing": "timed phase only" if strat == "floor" else "whole process",
            }
            if failed:
                row["status"] = "FAILED"
                row["error"] = failed[0]["error"]
            else:
                row["status"] = "ok"
                row["min_s"] = min(secs)
                row["median_s"] = statistics.median(secs)
                row["files_per_s"] = files / row["median_s"] if row["median_s"] > 0 else None
                row["mb_per_s"] = nbytes / 1e6 / row["median_s"] if row["median_s"] > 0 else None
            # what spoke reported about itself (first ok run)
            for r in rs:
                if r["ok"] and strat.startswith("spoke") and r.get("stdout", "").startswith("{"):
                    try:
                        rep = json.loads(r["stdout"])
                    except json.JSONDecodeError:
                        break
                    row["spoke_report"] = {k: rep.get(k) for k in (
                        "files", "dirs", "bytes", "cloned", "hardlinked", "copied",
                        "symlinked", "failed_attempts", "fallbacks")}
                    break
                if r["ok"] and strat == "floor" and r.get("stdout", "").startswith("{"):
                    try:
                        rep = json.loads(r["stdout"])
                        row["resolved_mode"] = rep.get("resolved_mode")
                    except json.JSONDecodeError:
                        pass
                    break
            rows[strat] = row
        speedups = {}
        for sp in SPOKES:
            s = rows.get(sp)
            if not s or s["status"] != "ok":
                continue
            speedups[sp] = {}
            for peer in PEERS:
                p = rows.get(peer)
                if p and p["status"] == "ok" and s["median_s"] > 0:
                    speedups[sp][peer] = p["median_s"] / s["median_s"]
        loads = [r["load1"] for rs in cells[key].values() for r in rs if r.get("load1") is not None]
        out.append({
            "series": series, "fs": fs, "mode": mode, "shape": shape,
            "load1": {"median": statistics.median(loads), "min": min(loads), "max": max(loads)} if loads else None,
            "files": files, "dirs": src.get("dirs", 0), "bytes": nbytes,
            "rows": [rows[s] for s in sorted(rows, key=lambda s: STRATEGY_ORDER.index(s)
                                             if s in STRATEGY_ORDER else 99)],
            "speedups": speedups,
        })
    return out


def cell_title(c):
    return "%s / %s / %s (%s files, %s dirs, %.1f MB)" % (
        c["fs"], c["mode"], c["shape"], fmt_int(c["files"]), fmt_int(c["dirs"]), c["bytes"] / 1e6)


def spoke_note(c):
    notes = []
    for r in c["rows"]:
        rep = r.get("spoke_report")
        if rep:
            parts = ["%s=%s" % (k, rep[k]) for k in ("cloned", "hardlinked", "copied", "symlinked",
                                                    "failed_attempts")
                     if rep.get(k) not in (None, 0, [])]
            fb = rep.get("fallbacks")
            if isinstance(fb, list) and fb:
                parts.append("fallbacks " + ", ".join(
                    "%s->%s (%s)" % (f.get("from", "?"), f.get("to", "?"), f.get("errno", "?"))
                    if isinstance(f, dict) else str(f) for f in fb))
            elif fb not in (None, 0, []):
                parts.append("fallbacks=%s" % fb)
            notes.append("%s: %s" % (r["label"], ", ".join(parts) or "-"))
        if r.get("resolved_mode") and r["resolved_mode"] != c["mode"]:
            notes.append("floor resolved auto to %s" % r["resolved_mode"])
    return notes


def text_tables(cells, meta):
    lines = []
    for c in cells:
        lines.append("")
        lines.append(("[scale] " if c["series"] == "scale" else "") + cell_title(c))
        lines.append("  %-24s %9s %9s %11s %9s %9s" % ("strategy", "min s", "median s", "files/s", "MB/s",
                                                     "RSS MiB"))
        for r in c["rows"]:
            if r["status"] != "ok":
                lines.append("  %-24s FAILED: %s" % (r["label"], r.get("error", "")[:100]))
                continue
            lines.append("  %-24s %9.4f %9.4f %11s %9s %9.1f%s" % (
                r["label"], r["min_s"], r["median_s"], fmt_int(r["files_per_s"]),
                fmt_int(r["mb_per_s"]), r["maxrss_kb"] / 1024.0,
                "  (timed phase)" if r["strategy"] == "floor" else ""))
        for sp, ratios in c["speedups"].items():
            if ratios:
                lines.append("  %s speed-up: %s" % (LABEL[sp], ", ".join(
                    "%.2fx vs %s" % (v, label(p, c["mode"])) for p, v in ratios.items())))
        for n in spoke_note(c):
            lines.append("  note: " + n)
        if c.get("load1"):
            lines.append("  load average (1 min) at run starts: median %.2f, %.2f-%.2f" % (
                c["load1"]["median"], c["load1"]["min"], c["load1"]["max"]))
    return "\n".join(lines)


def md_summary(main):
    """Two compact tables over all main cells: median files/s, speed-ups."""
    out = []
    strats = [s for s in STRATEGY_ORDER if any(r["strategy"] == s for c in main for r in c["rows"])]
    out.append("Median files/s (higher is better; cp is the mode's cp peer, "
               "none for auto):\n")
    out.append("| fs | mode | shape | " + " | ".join(
        LABEL[s] + (" ¹" if s == "floor" else "") for s in strats) + " |")
    out.append("|---|---|---|" + "---:|" * len(strats))
    for c in main:
        cellv = []
        for s in strats:
            r = next((r for r in c["rows"] if r["strategy"] == s), None)
            if r is None:
                cellv.append("–")
            elif r["status"] != "ok":
                cellv.append("FAILED")
            else:
                cellv.append(fmt_int(r["files_per_s"]))
        out.append("| %s | %s | %s | %s |" % (c["fs"], c["mode"], c["shape"], " | ".join(cellv)))
    out.append("")
    out.append("spoke's speed-up, peer median time / spoke median time (above 1.00x: spoke faster):\n")
    cols = [(sp, p) for sp in SPOKES for p in PEERS]
    out.append("| fs | mode | shape | " + " | ".join(
        "%s vs %s" % ("uring" if sp == "spoke-uring" else "sync", p) for sp, p in cols) + " |")
    out.append("|---|---|---|" + "---:|" * len(cols))
    for c in main:
        vals = []
        for sp, p in cols:
            v = c["speedups"].get(sp, {}).get(p)
            vals.append("%.2fx" % v if v is not None else "–")
        out.append("| %s | %s | %s | %s |" % (c["fs"], c["mode"], c["shape"], " | ".join(vals)))
    out.append("")
    return out


def md_tables(cells, meta):
    out = []
    main = [c for c in cells if c["series"] == "main"]
    scale = [c for c in cells if c["series"] == "scale"]
    if main:
        out.append("### Summary\n")
        out += md_summary(main)
        out.append("### Per cell\n")
    for c in main:
        out.append("#### %s\n" % cell_title(c))
        out.append("| strategy | min s | median s | files/s | MB/s | peak RSS MiB |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for r in c["rows"]:
            if r["status"] != "ok":
                out.append("| %s | FAILED | | | | %s |" % (r["label"], r.get("error", "")[:80].replace("|", "/")))
                continue
            out.append("| %s%s | %.4f | %.4f | %s | %s | %.1f |" % (
                r["label"], " ¹" if r["strategy"] == "floor" else "", r["min_s"], r["median_s"],
                fmt_int(r["files_per_s"]), fmt_int(r["mb_per_s"]), r["maxrss_kb"] / 1024.0))
        if c["speedups"]:
            peers = [p for p in PEERS if any(p in v for v in c["speedups"].values())]
            out.append("")
            out.append("| spoke speed-up (median) | " + " | ".join("vs " + label(p, c["mode"]) for p in peers) + " |")
            out.append("|---|" + "---:|" * len(peers))
            for sp, ratios in c["speedups"].items():
                out.append("| %s | %s |" % (LABEL[sp], " | ".join(
                    ("%.2fx" % ratios[p]) if p in ratios else "–" for p in peers)))
        notes = spoke_note(c)
        if notes:
            out.append("")
            out.append("Counters: " + "; ".join(notes) + ".")
        if c.get("load1"):
            out.append("")
            out.append("Load average at run starts: median %.2f (%.2f-%.2f)." % (
                c["load1"]["median"], c["load1"]["min"], c["load1"]["max"]))
        out.append("")
    if scale:
        out.append("#### Scale series: ext4, hardlink\n")
        out.append("| files | strategy | min s | median s | files/s | peak RSS MiB | load (median) |")
        out.append("|---:|---|---:|---:|---:|---:|---:|")
        for c in scale:
            for r in c["rows"]:
                if r["status"] != "ok":
                    out.append("| %s | %s | FAILED | | | | |" % (fmt_int(c["files"]), r["label"]))
                    continue
                out.append("| %s | %s%s | %.4f | %.4f | %s | %.1f | %s |" % (
                    fmt_int(c["files"]), r["label"], " ¹" if r["strategy"] == "floor" else "",
                    r["min_s"], r["median_s"], fmt_int(r["files_per_s"]), r["maxrss_kb"] / 1024.0,
                    "%.2f" % c["load1"]["median"] if c.get("load1") else "–"))
        out.append("")
    out.append("¹ floor reports its timed phase only (dirs + per-file syscalls over a precomputed "
               "list); every other row is whole-process wall time.")
    return "\n".join(out) + "\n"


def gnuplot_chart(cells, png):
    if not shutil.which("gnuplot"):
        print("report: gnuplot not installed, no chart", file=sys.stderr)
        return False
    main = [c for c in cells if c["series"] == "main"]
    scale = [c for c in cells if c["series"] == "scale"]
    panels = []
    for fs in FS_ORDER:
        for mode in MODE_ORDER:
            cs = sorted([c for c in main if c["fs"] == fs and c["mode"] == mode], key=lambda c: shape_key(c["shape"]))
            if cs:
                panels.append((fs, mode, cs))
    npanels = len(panels) + (1 if scale else 0)
    if npanels == 0:
        return False
    cols = 1 if npanels == 1 else 2 if npanels <= 4 else 3
    rows = (npanels + cols - 1) // cols
    tmp = tempfile.mkdtemp(prefix="spoke-report-")
    script = [
        'set terminal pngcairo size %d,%d font "DejaVu Sans,10"' % (620 * cols, 420 * rows),
        'set output "%s"' % png,
        'set datafile missing "?"',
        'set multiplot layout %d,%d title "spoke copy-tree benchmark: files/s (median run, higher is better)"'
        % (rows, cols),
        "set style data histogram",
        "set style histogram clustered gap 1",
        "set style fill solid 0.85 border -1",
        "set boxwidth 0.9",
        "set grid ytics",
        "set key below horizontal maxrows 2 font ',8'",
        "set yrange [0:*]",
        "set format y '%.0s%c'",
    ]
    colors = {"sequential": "#999999", "per-wheel": "#e69f00", "cp": "#56b4e9", "spoke-sync": "#009e73",
              "spoke-uring": "#0072b2", "floor": "#cc79a7"}
    for i, (fs, mode, cs) in enumerate(panels):
        strats = [s for s in STRATEGY_ORDER if any(r["strategy"] == s for c in cs for r in c["rows"])]
        data = os.path.join(tmp, "p%d.dat" % i)
        with open(data, "w") as f:
            for c in cs:
                vals = []
                for s in strats:
                    r = next((r for r in c["rows"] if r["strategy"] == s), None)
                    vals.append("%.1f" % r["files_per_s"] if r and r["status"] == "ok" else "?")
                f.write(c["shape"] + " " + " ".join(vals) + "\n")
        top = max([r["files_per_s"] for c in cs for r in c["rows"] if r["status"] == "ok"] or [1])
        script.append('set title "%s, %s"' % (fs, mode))
        script.append("set xrange [-0.6:%g]" % (len(cs) - 0.4))
        script.append("set yrange [0:%g]" % (top * 1.12))
        plots = []
        for j, s in enumerate(strats):
            plots.append('"%s" using %d:xtic(1) title "%s" lc rgb "%s"' % (
                data, j + 2, label(s, mode).replace('"', ""), colors.get(s, "#000000")))
        script.append("plot " + ", \\\n  ".join(plots))
    if scale:
        strats = [s for s in STRATEGY_ORDER if any(r["strategy"] == s for c in scale for r in c["rows"])]
        data = os.path.join(tmp, "scale.dat")
        with open(data, "w") as f:
            for c in sorted(scale, key=lambda c: c["files"]):
                vals = []
                for s in strats:
                    r = next((r for r in c["rows"] if r["strategy"] == s), None)
                    vals.append("%.1f" % r["files_per_s"] if r and r["status"] == "ok" else "?")
                f.write("%d %s\n" % (c["files"], " ".join(vals)))
        top = max([r["files_per_s"] for c in scale for r in c["rows"] if r["status"] == "ok"] or [1])
        fs_name = scale[0]["fs"]
        script += ["set style data linespoints", "set logscale x", 'set xlabel "files"',
                   "set xrange [600:330000]", "set yrange [0:%g]" % (top * 1.12),
                   'set title "scale series: %s, hardlink"' % fs_name]
        script.append("plot " + ", \\\n  ".join('"%s" using 1:%d title "%s" lc rgb "%s" lw 2 pt 7' % (
            data, j + 2, label(s, "hardlink"), colors.get(s, "#000000")) for j, s in enumerate(strats)))
    script.append("unset multiplot")
    sp = os.path.join(tmp, "chart.gp")
    with open(sp, "w") as f:
        f.write("\n".join(script) + "\n")
    res = subprocess.run(["gnuplot", sp], capture_output=True, text=True)
    if res.returncode != 0:
        print("report: gnuplot failed:\n" + res.stderr, file=sys.stderr)
        return False
    shutil.rmtree(tmp, ignore_errors=True)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--out", help="full result JSON (summary + every run)")
    ap.add_argument("--summary", help="summary JSON")
    ap.add_argument("--png")
    ap.add_argument("--markdown")
    a = ap.parse_args()

    with open(a.meta) as f:
        meta = json.load(f)
    runs = load_runs(a.runs)
    cells = summarise(runs, meta.get("sources", {}))
    summary = {"meta": meta, "cells": cells}
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(dict(summary, runs=runs), f, indent=1)
            f.write("\n")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(md_tables(cells, meta))
    print(text_tables(cells, meta))
    failed = sum(1 for c in cells for r in c["rows"] if r["status"] != "ok")
    if failed:
        print("\nreport: %d row(s) FAILED" % failed)
    if a.png:
        gnuplot_chart(cells, a.png)


if __name__ == "__main__":
    main()
