#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/install.sh - the install benchmark of issue 13: `spoke install`
# against pip and against the floor set by plain linking, on a loop-mounted
# ext4 (mkfs defaults, journal) and a loop-mounted XFS (mkfs.xfs -m
# reflink=1) side by side in one run, on two data sets:
#   small  the real wheels `make deps` brings (/usr/share/python-wheels:
#          pip, setuptools, wheel; Debian's, not pyenv's or any bundle)
#   100k   bench/gen100k.py: 100,000 files in ~200 real .whl files shaped
#          like an ML environment (one torch-like wheel of 30,000 files,
#          four of 5,000, many small ones)
# Rows (docs/BENCHMARKS.md, "Wheel installs", says what each measures):
#   pip        pip install --no-deps --no-index --no-compile into a fresh
#              venv like spoke's, run from another venv that has pip
#              (Debian's bundled pip, `pip --python V/bin/python`): a venv
#              with pip in it would already hold the pip and setuptools of
#              the small set, and pip would skip them
#   cold       spoke install, empty cache (unpack, verify, publish, link)
#   warm       spoke install, every wheel already cached
#   warm -j 1  the same with one worker
#   cp -al     one `cp -al -t DST E1/. E2/. ...` of the cache entries the
#              warm install links from (one process, entries one after
#              another, merged into one tree as an install merges them)
#   cp reflink (XFS only) the same with `cp -a --reflink=always`: on XFS
#              spoke's default link mode clones, so this is the fair peer
#   copy-tree  one `spoke copy-tree` of those entries merged beforehand
#              (untimed, by hardlinks) into one tree
# spoke runs with its default link mode (auto: clone where the filesystem
# can, else hardlink); the JSON report of each install says which it used.
# Method: every install goes into a fresh copy of a venv made with
# `python3 -m venv --without-pip`; every
# destination is made and removed outside the timed region, then `sync`;
# the command runs under bench/rss (wall time fork..wait4, peak RSS). The
# rows take turns round-robin, the order rotating each round, and the two
# filesystems take turns within a round. Page cache warm (no drop_caches).
# The phase split of a warm install is read from `spoke install --json`
# ("phases", when this spoke reports it; else n/a).
#
# Usage: bench/install.sh [--quick] [--sets LIST] [--fs LIST]
#                         [--runs N] [--runs-100k N] [--pip-runs-100k N]
#   --quick          the small set only, 3 runs (5 min at load 12)
#   --sets L         small,100k (default both)
#   --fs L           ext4,xfs (default both)
#   --runs N         runs per row, small set (default 5)
#   --runs-100k N    runs per row, 100k set (default 3)
#   --pip-runs-100k N  pip's runs on the 100k set (default 2: one pip run
#                    there takes ~40-60 s on 2 cores, and the total should
#                    stay under 15 min; see the draft doc)
# Output: a Markdown table on stdout and in bench/results/install-latest.md
# (quick: install-quick-latest.md); raw rows in build/bench/install-*.tsv.
# Environment: SPOKE_BIN (default build/spoke), BUILD (default build),
# SPOKE_IBENCH_DIR (work dir, default /var/tmp/spoke-ibench; the generated
# data is kept there between runs, keyed by a hash of the generator code,
# comment lines excluded), CC.
# Needs root (loop mounts); xfsprogs, e2fsprogs, python3-venv,
# python3-pip-whl (make deps-bench).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
BB=$BUILD/bench
SPOKE_SRC=${SPOKE_BIN:-$BUILD/spoke}
WORK=${SPOKE_IBENCH_DIR:-/var/tmp/spoke-ibench}
PY=/usr/bin/python3     # Debian's: CI has no pyenv
TIMEOUT=900

SETS="small 100k"
FSLIST="ext4 xfs"
RUNS_SMALL=5
RUNS_BIG=3
PIP_RUNS_BIG=2
OUTNAME=install-latest.md
die() { echo "install.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) SETS=small; RUNS_SMALL=3; OUTNAME=install-quick-latest.md ;;
	--sets) SETS=${2//,/ }; shift ;;
	--fs) FSLIST=${2//,/ }; shift ;;
	--runs) RUNS_SMALL=$2; shift ;;
	--runs-100k) RUNS_BIG=$2; shift ;;
	--pip-runs-100k) PIP_RUNS_BIG=$2; shift ;;
	-h|--help) sed -n '/^# Usage:/,/^# python3-pip-whl/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
for n in "$RUNS_SMALL" "$RUNS_BIG" "$PIP_RUNS_BIG"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number of runs: $n"
done
for s in $SETS; do [[ $s =~ ^(small|100k)$ ]] || die "unknown set $s (small, 100k)"; done
for f in $FSLIST; do [[ $f =~ ^(ext4|xfs)$ ]] || die "unknown filesystem $f (ext4, xfs)"; done
[ "$(id -u)" = 0 ] || die "needs root: the runs are on loop-mounted ext4 and XFS"
[ -x "$SPOKE_SRC" ] || die "$SPOKE_SRC not found (run make)"
for t in mkfs.ext4 mkfs.xfs losetup; do
	command -v $t >/dev/null || die "$t missing (make deps-bench)"
done
$PY -c 'import venv, ensurepip' 2>/dev/null || die "$PY lacks venv/ensurepip (make deps-bench)"

T0=$(date +%s)
mkdir -p "$BB" "$WORK" "$ROOT/bench/results"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$BB/rss" "$ROOT/bench/rss.c"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUN=$WORK/run-$STAMP
mkdir -p "$RUN"
SPOKE=$RUN/spoke        # a snapshot: a rebuild during the run changes nothing
cp "$SPOKE_SRC" "$SPOKE"

MOUNTS=()
cleanup() {
	set +e
	for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m"; done
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'echo "install.sh: interrupted" >&2; exit 130' INT TERM

# ---- data (generated once, kept in WORK) --------------------------------------
GENID=$(grep -v '^#' "$ROOT/bench/gen100k.py" | sha256sum | cut -c1-12)
declare -A SRC
SRC[small]=$RUN/small-src
mkdir -p "${SRC[small]}"
cp /usr/share/python-wheels/{pip,setuptools,wheel}-*.whl "${SRC[small]}/" ||
	die "the real wheels are missing from /usr/share/python-wheels (make deps-bench)"
if [[ " $SETS " == *" 100k "* ]]; then
	SRC[100k]=$WORK/gen100k-$GENID
	if [ ! -e "${SRC[100k]}/.done" ]; then
		rm -rf "$WORK"/gen100k-*
		echo "install.sh: generating the 100k set (once; ~1-2 min)" >&2
		$PY "$ROOT/bench/gen100k.py" "${SRC[100k]}" --stats >"$RUN/genstats.txt"
		cp "$RUN/genstats.txt" "${SRC[100k]}/.stats"
		touch "${SRC[100k]}/.done"
	fi
fi

# ---- filesystems ----------------------------------------------------------------
declare -A MNT
for fs in $FSLIST; do
	img=$RUN/$fs.img
	m=$RUN/$fs
	mkdir -p "$m"
	truncate -s 12G "$img"
	case $fs in
	ext4) mkfs.ext4 -q -F "$img" ;;
	xfs) mkfs.xfs -q -f -m reflink=1 "$img" ;;
	esac
	mount -o loop "$img" "$m"
	MOUNTS+=("$m")
	MNT[$fs]=$m
	$PY -m venv --without-pip "$m/tpl-spoke"
	$PY -m venv "$m/tpl-pip"
done
T1=${MNT[${FSLIST%% *}]}/tpl-spoke
SITE_REL=$("$T1/bin/python" -c 'import sys, sysconfig; print(sysconfig.get_path("purelib")[len(sys.prefix) + 1:])')
[ -d "$T1/$SITE_REL" ] || die "cannot find the venv's site-packages ($T1/$SITE_REL)"

# Per fs and set: the wheels, a warm cache, and the merged tree for
# copy-tree, all made untimed.
for fs in $FSLIST; do
	for s in $SETS; do
		d=${MNT[$fs]}/$s
		mkdir -p "$d/wheels"
		cp "${SRC[$s]}"/*.whl "$d/wheels/"
		"$SPOKE" cache add -q --cache-dir "$d/warm" "$d"/wheels/*.whl
		# Prime the warm cache's per-wheel hash records as a real warm
		# install finds them (one install, discarded).
		rm -rf "$d/v" && cp -a "${MNT[$fs]}/tpl-spoke" "$d/v"
		"$SPOKE" install -q --cache-dir "$d/warm" --venv "$d/v" "$d"/wheels/*.whl
		rm -rf "$d/v"
		mapfile -t ents < <(find "$d/warm/archive-v2" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{64}' | sort)
		printf '%s\n' "${ents[@]}" >"$d/entries"
		mkdir "$d/merged"
		cp -al -t "$d/merged" "${ents[@]/%//.}"
	done
done

# ---- the rows ------------------------------------------------------------------
# row_prep FS SET ROW: untimed; row_cmd FS SET ROW: sets CMD (array)
row_prep() {
	local d=${MNT[$1]}/$2
	rm -rf "$d/v" "$d/dst" "$d/cold"
	case $3 in
	pip|cold|warm|warm-j1) cp -a "${MNT[$1]}/tpl-spoke" "$d/v" ;;
	cp-al|cp-reflink) mkdir "$d/dst" ;;
	copy-tree) ;;
	esac
	sync
}
row_cmd() {
	local d=${MNT[$1]}/$2
	local -a ents
	mapfile -t ents <"$d/entries"
	case $3 in
	pip) CMD=("${MNT[$1]}/tpl-pip/bin/python" -m pip --python "$d/v/bin/python"
		install -q --disable-pip-version-check
		--no-deps --no-index --no-compile "$d"/wheels/*.whl) ;;
	cold) CMD=("$SPOKE" install -q --json --cache-dir "$d/cold" --venv "$d/v" "$d"/wheels/*.whl) ;;
	warm) CMD=("$SPOKE" install -q --json --cache-dir "$d/warm" --venv "$d/v" "$d"/wheels/*.whl) ;;
	warm-j1) CMD=("$SPOKE" install -q --json -j 1 --cache-dir "$d/warm" --venv "$d/v" "$d"/wheels/*.whl) ;;
	cp-al) CMD=(cp -al -t "$d/dst" "${ents[@]/%//.}") ;;
	cp-reflink) CMD=(cp -a --reflink=always -t "$d/dst" "${ents[@]/%//.}") ;;
	copy-tree) CMD=("$SPOKE" copy-tree -q --json "$d/merged" "$d/dst") ;;
	esac
}
row_out() { # where the row's files land (for the count check)
	local d=${MNT[$1]}/$2
	case $3 in
	pip|cold|warm|warm-j1) echo "$d/v/$SITE_REL" ;;
	*) echo "$d/dst" ;;
	esac
}
rows_for() {
	case $1 in
	ext4) echo "pip cold warm warm-j1 cp-al copy-tree" ;;
	xfs) echo "pip cold warm warm-j1 cp-al cp-reflink copy-tree" ;;
	esac
}

TSV=$BB/install-$STAMP.tsv
: >"$TSV"
run_one() { # FS SET ROW ROUND
	local fs=$1 s=$2 row=$3 r=$4 d=${MNT[$1]}/$2 files=- rc=0 out
	row_prep "$fs" "$s" "$row"
	row_cmd "$fs" "$s" "$row"
	out=$RUN/out.json
	"$BB/rss" -o "$RUN/rss.json" -t "$TIMEOUT" -- "${CMD[@]}" >"$out" 2>"$RUN/err" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "install.sh: FAILED: $fs $s $row (round $r):" >&2
		head -c 2000 "$RUN/err" >&2
	elif [ "$r" = 1 ]; then
		files=$(find "$(row_out "$fs" "$s" "$row")" -type f | wc -l) || files='?'
	fi
	# one line: fs set row round rc files rss-json report-json
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$fs" "$s" "$row" "$r" "$rc" "$files" \
		"$(tr -d '\n' <"$RUN/rss.json")" \
		"$( (head -c 1 "$out" | grep -q '{') && tr -d '\n' <"$out" || echo '{}')" >>"$TSV"
}

for s in $SETS; do
	if [ "$s" = small ]; then n=$RUNS_SMALL; pipn=$RUNS_SMALL; else n=$RUNS_BIG; pipn=$PIP_RUNS_BIG; fi
	echo "install.sh: set $s, $n rounds (pip $pipn) on $FSLIST" >&2
	for r in $(seq 1 "$n"); do
		for fs in $FSLIST; do
			read -r -a rows <<<"$(rows_for "$fs")"
			k=$(( (r - 1) % ${#rows[@]} ))   # rotate the order each round
			for i in $(seq 0 $(( ${#rows[@]} - 1 ))); do
				row=${rows[$(( (i + k) % ${#rows[@]} ))]}
				[ "$row" = pip ] && [ "$r" -gt "$pipn" ] && continue
				run_one "$fs" "$s" "$row" "$r"
			done
		done
		echo "install.sh:   round $r done ($(( $(date +%s) - T0 )) s)" >&2
	done
	for fs in $FSLIST; do rm -rf "${MNT[$fs]}/$s/v" "${MNT[$fs]}/$s/dst" "${MNT[$fs]}/$s/cold"; done
done

# ---- the report -----------------------------------------------------------------
META=$RUN/meta.json
{
	echo "{"
	echo "\"cpu\": \"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)\","
	echo "\"nproc\": $(nproc),"
	echo "\"kernel\": \"$(uname -r)\","
	echo "\"mem_gb\": $(awk '/MemTotal/ {printf "%.0f", $2/1048576}' /proc/meminfo),"
	echo "\"load\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
	echo "\"spoke\": \"$("$SPOKE" --version 2>&1 | head -1)\","
	echo "\"commit\": \"$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo +dirty)\","
	echo "\"python\": \"$($PY --version 2>&1)\","
	echo "\"pip\": \"$("${MNT[${FSLIST%% *}]}/tpl-pip/bin/python" -m pip --version | cut -d' ' -f1-2)\","
	echo "\"site\": \"$SITE_REL\","
	echo "\"elapsed\": $(( $(date +%s) - T0 )),"
	echo "\"date\": \"$(date -u '+%Y-%m-%d %H:%M UTC')\","
	echo "\"sets\": {"
	sep=
	for s in $SETS; do
		w=${SRC[$s]}
		echo "$sep\"$s\": $($PY - "$w" <<'PY'
import json, os, sys, zipfile
ws = sorted(f for f in os.listdir(sys.argv[1]) if f.endswith(".whl"))
files = dirs = ubytes = zbytes = 0
for f in ws:
    p = os.path.join(sys.argv[1], f)
    zbytes += os.path.getsize(p)
    z = zipfile.ZipFile(p)
    ds = set()
    for i in z.infolist():
        if i.is_dir():
            continue
        files += 1
        ubytes += i.file_size
        parts = i.filename.split("/")
        for k in range(1, len(parts)):
            ds.add("/".join(parts[:k]))
    dirs += len(ds)
print(json.dumps({"wheels": len(ws), "files": files, "dirs": dirs,
                  "ubytes": ubytes, "zbytes": zbytes}))
PY
)"
		sep=,
	done
	echo "}}"
} >"$META"
OUT=$ROOT/bench/results/$OUTNAME
$PY "$ROOT/bench/install_report.py" "$META" "$TSV" | tee "$OUT"
if [ -n "${SRC[100k]:-}" ]; then { echo; echo "Shape of the 100k set (gen100k.py --stats):"; echo; sed "s/^/    /" "${SRC[100k]}/.stats"; } | tee -a "$OUT"; fi
echo "install.sh: total $(( $(date +%s) - T0 )) s; table in $OUT" >&2
