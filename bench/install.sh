#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# install.sh [--runs N] - wheel installs side by side on the same wheels, one
# run: spoke with a cold cache (unpack + verify + link) and a warm cache (link
# only) against pip install --no-deps --no-index --no-compile, and the unpack
# step alone against unzip and python3 -m zipfile. Wheels: the real pip,
# setuptools and wheel wheels Debian ships, plus generated wheels shaped like
# a large pure-Python package (tests/demo.sh's 2,000-module spokedemo, and a
# 10,000-file one). Every timed command runs under bench/rss (whole-process
# wall clock and peak RSS); destinations are made and removed outside the
# timed region; median and min of N runs (default 5). Prints a Markdown
# table; results/install-latest.md keeps it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=5
[ "${1:-}" = --runs ] && RUNS=$2
SPOKE=$ROOT/build/spoke
PY=/usr/bin/python3
BB=$ROOT/build/bench
mkdir -p "$BB" "$ROOT/bench/results"
cc -O2 -Wall -Wextra -Werror -o "$BB/rss" "$ROOT/bench/rss.c"
# As root the work happens on a fresh loop-mounted ext4 with a journal, for
# the reason docs/BENCHMARKS.md gives (this host's root ext4 has no journal
# and makes file creation after deletes erratically slow); otherwise in
# /var/tmp, said in the output.
BASE=$(mktemp -d /var/tmp/spoke-ibench.XXXXXX)
FS="host $(findmnt -n -o FSTYPE --target /var/tmp) (/var/tmp)"
trap 'umount "$BASE/mnt" 2>/dev/null; rm -rf "$BASE"' EXIT
if [ "$(id -u)" = 0 ] && truncate -s 8G "$BASE/img" && mkfs.ext4 -q -F "$BASE/img" &&
	mkdir "$BASE/mnt" && mount -o loop,discard "$BASE/img" "$BASE/mnt"; then
	W=$BASE/mnt
	FS="loop-mounted ext4 (journal, discard)"
else
	W=$BASE
fi
mkdir -p "$W/wheels"
cp /usr/share/python-wheels/{pip,setuptools,wheel}-*.whl "$W/wheels/"
# Generated wheels: many small modules, like a big pure-Python package.
$PY - "$W/wheels" <<'PY'
import base64, hashlib, os, random, sys, zipfile
random.seed(7)
def wheel(name, nsub, nmod):
    files = {"%s/__init__.py" % name: b"VALUE = 1\n"}
    for s in range(nsub):
        files["%s/sub%d/__init__.py" % (name, s)] = b""
        for m in range(nmod):
            n = int(random.lognormvariate(8.3, 0.9)) % 60000 + 200
            files["%s/sub%d/m%d.py" % (name, s, m)] = (("x%d = %d\n" % (m, s)) * (n // 10)).encode()
    di = "%s-1.0.dist-info" % name
    files[di + "/METADATA"] = ("Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n" % name).encode()
    files[di + "/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rec = ["%s,sha256=%s,%d" % (p, base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode(), len(d)) for p, d in files.items()]
    files[di + "/RECORD"] = ("\n".join(rec + [di + "/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile(os.path.join(sys.argv[1], "%s-1.0-py3-none-any.whl" % name), "w", zipfile.ZIP_DEFLATED) as z:
        for p, d in files.items():
            z.writestr(p, d)
wheel("spokedemo", 40, 50)
wheel("bigpure", 100, 100)
PY
nfiles=$($PY -c 'import sys,zipfile; print(sum(len(zipfile.ZipFile(w).namelist()) for w in sys.argv[1:]))' "$W"/wheels/*.whl)
ubytes=$($PY -c 'import sys,zipfile; print(sum(i.file_size for w in sys.argv[1:] for i in zipfile.ZipFile(w).infolist()))' "$W"/wheels/*.whl)
zbytes=$(cat "$W"/wheels/*.whl | wc -c)
"$PY" -m venv "$W/pipvenv-template"   # with pip (Debian's python3-pip-whl)

timeit() { # timeit LABEL PREP_CMD -- CMD...: N runs, prep untimed
	local label=$1 prep=$2 i walls=() rss=0 j
	shift 3
	for i in $(seq 1 "$RUNS"); do
		eval "$prep"
		sync
		"$BB/rss" -o "$W/rss.json" -- "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; echo "FAILED: $label" >&2; exit 1; }
		walls+=("$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["wall"])' "$W/rss.json")")
		j=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["maxrss_kb"])' "$W/rss.json")
		[ "$j" -gt "$rss" ] && rss=$j
	done
	$PY - "$label" "$rss" "${walls[@]}" <<'PY' >>"$W/rows"
import statistics, sys
label, rss, walls = sys.argv[1], int(sys.argv[2]), [float(x) for x in sys.argv[3:]]
print("%s\t%.4f\t%.4f\t%.1f" % (label, min(walls), statistics.median(walls), rss / 1024))
PY
}

: >"$W/rows"
V=$W/v
timeit "pip install --no-deps --no-index --no-compile" \
	'rm -rf $V; cp -a $W/pipvenv-template $V' -- "$V/bin/python" -m pip install -q --no-deps --no-index --no-compile "$W"/wheels/*.whl
timeit "spoke install, cold cache" \
	'rm -rf $V $W/cache; $PY -m venv --without-pip $V' -- "$SPOKE" install -q --cache-dir "$W/cache" --venv "$V" "$W"/wheels/*.whl
timeit "spoke install, warm cache" \
	'rm -rf $V; $PY -m venv --without-pip $V' -- "$SPOKE" install -q --cache-dir "$W/cache" --venv "$V" "$W"/wheels/*.whl
timeit "spoke cache add (unpack + verify only)" \
	'rm -rf $W/cache' -- "$SPOKE" cache add -q --cache-dir "$W/cache" "$W"/wheels/*.whl
timeit "spoke cache add --jobs 1" \
	'rm -rf $W/cache' -- "$SPOKE" cache add -q --jobs 1 --cache-dir "$W/cache" "$W"/wheels/*.whl
timeit "unzip (unpack only, no verify)" \
	'rm -rf $W/u; mkdir $W/u' -- sh -c 'for w in "$0"/wheels/*.whl; do unzip -q -o -d "$0/u" "$w"; done' "$W"
timeit "python3 -m zipfile -e (unpack only)" \
	'rm -rf $W/u; mkdir $W/u' -- sh -c 'for w in "$0"/wheels/*.whl; do /usr/bin/python3 -m zipfile -e "$w" "$0/u"; done' "$W"

out=$ROOT/bench/results/install-latest.md
$PY - "$W/rows" "$nfiles" "$ubytes" "$zbytes" "$RUNS" "$FS" <<'PY' | tee "$out"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
nfiles, ubytes, zbytes, runs = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
med = {r[0]: float(r[2]) for r in rows}
pip = med["pip install --no-deps --no-index --no-compile"]
print("Wheels: %d files, %.1f MB uncompressed, %.1f MB of .whl; %s runs each, warm page cache; on %s.\n" % (nfiles, ubytes / 1e6, zbytes / 1e6, runs, sys.argv[6]))
print("| command | min s | median s | peak RSS MiB | vs pip (median) | MB/s out |")
print("|---|---:|---:|---:|---:|---:|")
for label, mn, md, rss in rows:
    md = float(md)
    print("| %s | %.3f | %.3f | %s | %.1fx | %.0f |" % (label, float(mn), md, rss, pip / md, ubytes / 1e6 / md))
PY
