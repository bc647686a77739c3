#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""pip_report_plan - turn pip's installation report into a spoke plan.

pip resolves; spoke installs. pip (22.2+) writes what it would install with

    pip install --dry-run --ignore-installed --report report.json REQS...

and this script turns that report into the JSON plan `spoke install --plan`
and spoke_plan_load_json() read (docs/EMBEDDING.md, "Plan files"):

    pip_report_plan.py report.json --venv .venv > plan.json
    spoke install --plan plan.json

Each wheel keeps pip's sha256 (spoke refuses a file that does not match),
REQUESTED goes only to what the user asked for, and a direct URL
requirement keeps its PEP 610 direct_url.json. Only local wheels
(file: URLs, as --find-links or a download directory gives) can be
installed; anything else is an error naming it.
"""
import argparse
import json
import sys
import urllib.parse
import urllib.request


def wheel_entry(item):
    info = item.get("download_info") or {}
    url = info.get("url", "")
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "file" or not parsed.path.endswith(".whl"):
        name = item.get("metadata", {}).get("name", "?")
        raise SystemExit("pip_report_plan: %s is not a local wheel: %s "
                         "(download it first, e.g. pip download)" % (name, url))
    entry = {"path": urllib.request.url2pathname(parsed.path),
             "requested": bool(item.get("requested"))}
    archive = info.get("archive_info") or {}
    hashes = dict(archive.get("hashes") or {})
    # pip before 23.1 writes only "hash": "sha256=<hex>"
    algo, _, digest = (archive.get("hash") or "").partition("=")
    if digest:
        hashes.setdefault(algo, digest)
    if "sha256" in hashes:
        entry["sha256"] = hashes["sha256"]
    if item.get("is_direct"):
        entry["direct_url"] = info
    return entry


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report", help="pip's --report JSON ('-' for stdin)")
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--venv", help="the virtual environment to install into")
    where.add_argument("--target", help="a --target directory instead")
    ap.add_argument("--installer", default="pip+spoke",
                    help="the text of INSTALLER (default: %(default)s)")
    a = ap.parse_args(argv)
    src = sys.stdin if a.report == "-" else open(a.report, encoding="utf-8")
    with src:
        report = json.load(src)
    plan = {
        "version": 1,
        "wheels": [wheel_entry(i) for i in report.get("install", [])],
        "environment": {"venv": a.venv} if a.venv else {"target": a.target},
        "options": {"installer": a.installer},
    }
    json.dump(plan, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
