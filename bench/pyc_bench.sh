#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/pyc_bench.sh - the measurements behind docs/BYTECODE.md.
#
#   (a) import cost of the three PEP 552 invalidation modes: the wheels in
#       /usr/share/python-wheels (pip, setuptools, wheel) unpacked, compiled
#       by spoke's compile pool as timestamp, checked-hash and unchecked-hash
#       .pyc, then in fresh interpreters (-I -B) the time to (1) load every
#       module's code object through its loader (validation + unmarshal, no
#       execution; best of 5 passes in the process) and (2) import every
#       importable module; plus no .pyc at all for scale (one run). Min
#       and median of RUNS processes each, in CPU time.
#   (b) what copying does: the timestamp tree and the checked-hash tree
#       copied with cp -r (new mtimes, as a clone or copy without utimensat
#       gets) and with cp -r --preserve=timestamps, then one import of every
#       module without -B: how many .pyc Python rewrites.
#   (c) compile throughput of the pool with 1 and 2 workers, ROUNDS rounds
#       taking turns, __pycache__ removed before each: wall time, files/s
#       and the workers' CPU seconds (on a loaded machine wall time mostly
#       measures the share of CPU the scheduler gives, CPU time the work;
#       "engine CPU" is the pool's own cost per file: submission, driver
#       threads, protocol).
#   (d) installs side by side on the same wheels: the real ones
#       (/usr/share/python-wheels) and a generated pure-Python set
#       (bench/pyc_bench_gen.py: PYC_BENCH_GEN_WHEELS wheels of
#       PYC_BENCH_GEN_MODULES modules, default 8 x 1000), each into a fresh
#       venv (--without-pip): pip's default install (compiles), pip
#       --no-compile then `python -m compileall -j N` of site-packages,
#       spoke --compile-bytecode cold (empty cache), warm (bytecode cached,
#       new venv), spoke warm without bytecode; wall seconds, best of
#       PYC_BENCH_INSTALL_RUNS (default 1), with the ratios issue 14's
#       targets name. Then the first import of the largest packages in
#       pip's venv and in spoke's warm venv, min and median of RUNS fresh
#       interpreters (wall ms of the import statement).
#
# Usage: bench/pyc_bench.sh [RUNS [ROUNDS]]   (defaults 5 and 5)
# PYC_BENCH_PARTS="a b c d" picks parts (default all).
# Env: PYTHON (default python3), BUILD (default build; needs libspoke.a and
# spoke), PIP_PYTHON (the interpreter that runs pip, default /usr/bin/python3),
# PYC_BENCH_TMP (where the trees, caches and venvs go, default /tmp; a
# loop-mounted filesystem of its own keeps other load's journal out of it).
set -eu
cd "$(dirname "$0")/.."
RUNS=${1:-5}
ROUNDS=${2:-5}
BUILD=${BUILD:-build}
# The interpreter itself, not a wrapper (a pyenv shim is a shell script
# that would be timed as worker start-up).
PYTHON=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)') ||
	{ echo "pyc_bench: no python3" >&2; exit 1; }
[ -f "$BUILD/libspoke.a" ] || { echo "pyc_bench: build $BUILD/libspoke.a first (make)" >&2; exit 1; }
mkdir -p "$BUILD/bench"
DRIVER=$BUILD/bench/pyc_bench
${CC:-cc} -I. -Iinclude -D_GNU_SOURCE -O2 -std=c11 -Wall -Wextra -Werror -pthread \
	-o "$DRIVER" bench/pyc_bench.c "$BUILD/libspoke.a" \
	-luring -lzstd -ldeflate -lcrypto -lcjson -lutf8proc -pthread

W=$(mktemp -d "${PYC_BENCH_TMP:-/tmp}/spoke-pycbench.XXXXXX")
trap 'rm -rf "$W"' EXIT
mkdir "$W/src"
for whl in /usr/share/python-wheels/pip-*.whl /usr/share/python-wheels/setuptools-*.whl \
	   /usr/share/python-wheels/wheel-*.whl; do
	[ -f "$whl" ] && "$PYTHON" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$W/src"
done
NFILES=$(find "$W/src" -name '*.py' | wc -l)
NBYTES=$(find "$W/src" -name '*.py' -printf '%s\n' | awk '{ s += $1 } END { printf "%.1f MB", s / 1e6 }')
[ "$NFILES" -gt 0 ] || { echo "pyc_bench: no wheels in /usr/share/python-wheels" >&2; exit 1; }

compile_tree() { # dir mode jobs
	find "$1" -name __pycache__ -prune -exec rm -rf {} +
	find "$1" -name '*.py' | "$DRIVER" "$PYTHON" "$3" "$2"
}

# The timed part runs in the measured interpreter; only the loop is timed,
# so interpreter start-up is out of the numbers, and in CPU time of the
# process (time.process_time), so that other load on the machine, which
# stretches wall time, does not stretch the numbers.
cat > "$W/load.py" <<'PY'
import importlib, importlib.util, os, sys, time
root, what = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)
mods = []
for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if x.isidentifier())
    rel = os.path.relpath(d, root)
    pkg = [] if rel == '.' else rel.split(os.sep)
    if pkg and not os.path.exists(os.path.join(d, '__init__.py')):
        continue
    for f in sorted(files):
        if f.endswith('.py') and f != '__main__.py':
            m = '.'.join(pkg + ([] if f == '__init__.py' else [f[:-3]]))
            if m and all(p.isidentifier() for p in m.split('.')):
                mods.append((m, os.path.join(d, f)))
ok = 0
if what == 'load':
    # five passes, the fastest counts: the validation and unmarshal cost
    # with the least disturbance from the rest of the machine
    from importlib.machinery import SourceFileLoader
    best = None
    for _ in range(5):
        t0 = time.process_time()
        for m, path in mods:
            SourceFileLoader(m, path).get_code(m)
        t = time.process_time() - t0
        best = t if best is None or t < best else best
    ok = len(mods)
else:
    t0 = time.process_time()
    for m, path in mods:
        try:
            importlib.import_module(m)
            ok += 1
        except BaseException:
            pass
    best = time.process_time() - t0
print('%.6f %d' % (best, ok))
PY

min_median() { # what dir runs: min and median ms over that many processes, and count
	for _ in $(seq "$3"); do "$PYTHON" -I -B "$W/load.py" "$2" "$1" 2> /dev/null; done |
		sort -n | awk '{ t[NR] = $1; n = $2 }
			END { printf "%.1f %.1f %d\n", 1000 * t[1], 1000 * t[int((NR + 1) / 2)], n }'
}

count_written() { # dir: .pyc created or replaced by one import of everything
	find "$1" -name '*.pyc' -printf '%i %T@ %p\n' | sort > "$W/before"
	"$PYTHON" -I "$W/load.py" "$1" import > /dev/null 2>&1
	find "$1" -name '*.pyc' -printf '%i %T@ %p\n' | sort > "$W/after"
	comm -13 "$W/before" "$W/after" | wc -l
}

echo "pyc_bench: $NFILES sources, $NBYTES (pip, setuptools, wheel), $("$PYTHON" -V 2>&1), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
PARTS=" ${PYC_BENCH_PARTS:-a b c d} "
[[ $PARTS == *" a "* || $PARTS == *" b "* ]] &&
for m in timestamp:0 checked-hash:1 unchecked-hash:2; do
	cp -r "$W/src" "$W/${m%%:*}"
	compile_tree "$W/${m%%:*}" "${m##*:}" 2 > /dev/null
done
cp -r "$W/src" "$W/none"
if [[ $PARTS == *" a "* ]]; then
echo "(a) CPU ms to load (get_code) and to import every module, min and median of $RUNS processes"
printf '%-16s %16s %16s %8s\n' "" "load ms" "import ms" ""
printf '%-16s %7s %8s %7s %8s %8s\n' mode min median min median modules
for m in none timestamp checked-hash unchecked-hash; do
	r=$RUNS
	[ $m = none ] && r=1 # compiles everything each time: for scale only
	read -r lmin lmed _ < <(min_median load "$W/$m" $r)
	read -r imin imed in < <(min_median import "$W/$m" $r)
	printf '%-16s %7s %8s %7s %8s %8s\n' "$m" "$lmin" "$lmed" "$imin" "$imed" "$in"
done
echo
fi
if [[ $PARTS == *" b "* ]]; then
echo "(b) .pyc rewritten by the first import after copying the tree"
printf '%-16s %12s %24s\n' mode "cp -r" "cp -r --preserve=timestamps"
for m in timestamp checked-hash; do
	cp -r "$W/$m" "$W/$m.cp"
	cp -r --preserve=timestamps "$W/$m" "$W/$m.cpp"
	printf '%-16s %12s %24s\n' "$m" "$(count_written "$W/$m.cp")" "$(count_written "$W/$m.cpp")"
done
echo
fi
if [[ $PARTS == *" c "* ]]; then
echo "(c) compile throughput, timestamp mode, $ROUNDS rounds taking turns (min and median)"
printf '%-8s %8s %14s %14s %12s %12s\n' workers "start s" "compile s" "files/s" "worker CPU" "engine CPU"
printf '%-8s %8s %6s %7s %6s %7s %12s %12s\n' "" "" min median max median "ms/file" "us/file"
for _ in $(seq "$ROUNDS"); do
	for j in 1 2; do compile_tree "$W/src" 0 "$j"; done
done | sort -n -k1,1 -k7,7 | awk -v R="$ROUNDS" '
	{ k = $1; n[k]++; files = $2
	  if (n[k] == 1) { cmin[k] = $7; fmax[k] = $8 }
	  if (n[k] == int((R + 1) / 2)) { s[k] = $6; c[k] = $7; f[k] = $8 }
	  cpu[k] += $9; eng[k] += $10 }
	END {
		for (k = 1; k <= 2; k++)
			printf "%-8s %8s %6s %7s %6s %7s %12.2f %12.0f\n", k, s[k], cmin[k], c[k],
			       fmax[k], f[k], 1000 * cpu[k] / n[k] / files, 1e6 * eng[k] / n[k] / files
		printf "speed-up 2 vs 1 workers: %.2fx (min), %.2fx (median)\n",
		       cmin[1] / cmin[2], c[1] / c[2]
	}'
fi
if [[ $PARTS == *" d "* ]]; then
SPOKE=$BUILD/spoke
PIP_PYTHON=${PIP_PYTHON:-/usr/bin/python3}
IRUNS=${PYC_BENCH_INSTALL_RUNS:-1}
JOBS=$(nproc)
[ -x "$SPOKE" ] || { echo "pyc_bench: no $SPOKE (make)" >&2; exit 1; }
"$PIP_PYTHON" -m pip --version > /dev/null 2>&1 ||
	{ echo "pyc_bench: no pip for $PIP_PYTHON (part d)" >&2; exit 1; }
mkdir -p "$W/gen"
"$PYTHON" bench/pyc_bench_gen.py "$W/gen" "${PYC_BENCH_GEN_WHEELS:-8}" \
	"${PYC_BENCH_GEN_MODULES:-1000}"

now() { date +%s.%N; }
newvenv() { rm -rf "$1"; "$PYTHON" -m venv --without-pip "$1"; }
sitep() { echo "$1"/lib/python3*/site-packages; }
# One timed install of the wheels $1 by method $2 into the fresh venv $3;
# prints wall seconds. cold empties the cache the warm methods then use.
one() {
	local t0 c=$W/cache
	newvenv "$3"
	[ "$2" = cold ] && rm -rf "$c"
	sync
	t0=$(now)
	case $2 in
	pip) "$PIP_PYTHON" -m pip --python "$3/bin/python" install -q --no-deps \
		--no-index --disable-pip-version-check --no-cache-dir $1 > /dev/null ;;
	pip-nc) "$PIP_PYTHON" -m pip --python "$3/bin/python" install -q --no-deps \
		--no-index --disable-pip-version-check --no-cache-dir --no-compile $1 > /dev/null
		"$3/bin/python" -m compileall -q -j "$JOBS" "$(sitep "$3")" > /dev/null ;;
	cold|warm) SPOKE_CACHE_DIR=$c "$SPOKE" install -q --venv "$3" --compile-bytecode $1 ;;
	warm-nc) SPOKE_CACHE_DIR=$c "$SPOKE" install -q --venv "$3" $1 ;;
	esac
	echo "$(now) - $t0" | bc
}
# First import of module $2 in venv $1: "min median" ms over RUNS processes.
first_import() {
	for _ in $(seq "$RUNS"); do
		"$1/bin/python" -c 'import time, sys, importlib
t = time.perf_counter(); importlib.import_module(sys.argv[1])
print("%.1f" % (1000 * (time.perf_counter() - t)))' "$2"
	done | sort -n | awk '{ t[NR] = $1 } END { printf "%s %s\n", t[1], t[int((NR + 1) / 2)] }'
}
echo "(d) installs on the same wheels, wall s (best of $IRUNS), $JOBS jobs/workers; first import ms (min / median of $RUNS)"
for set in real gen; do
	if [ $set = real ]; then
		WH=$(ls /usr/share/python-wheels/*.whl | tr '\n' ' '); MODS="setuptools pip"
	else
		WH=$(ls "$W"/gen/*.whl | tr '\n' ' '); MODS="gen0"
	fi
	declare -A T=()
	for m in pip pip-nc cold warm warm-nc; do
		T[$m]=$(for _ in $(seq "$IRUNS"); do
			one "$WH" $m "$W/v-$set-$m"
		done | sort -n | head -1)
	done
	echo
	echo "  $set: $(echo $WH | wc -w) wheels, $(find "$(sitep "$W/v-$set-pip")" -name '*.py' | wc -l) .py files"
	printf '  %-38s %8s %9s\n' "" "wall s" "pip / it"
	for m in pip pip-nc cold warm warm-nc; do
		case $m in
		pip) l="pip install (compiles)" ;;
		pip-nc) l="pip --no-compile + compileall -j$JOBS" ;;
		cold) l="spoke --compile-bytecode, cold" ;;
		warm) l="spoke --compile-bytecode, warm" ;;
		warm-nc) l="spoke, warm, without bytecode" ;;
		esac
		printf '  %-38s %8.2f %8.1fx\n' "$l" "${T[$m]}" "$(echo "${T[pip]} / ${T[$m]}" | bc -l)"
	done
	printf '  warm with / without bytecode: %.2fx\n' "$(echo "${T[warm]} / ${T[warm-nc]}" | bc -l)"
	for mod in $MODS; do
		read -r pmin pmed < <(first_import "$W/v-$set-pip" "$mod")
		read -r smin smed < <(first_import "$W/v-$set-warm" "$mod")
		printf '  first import %-11s pip venv %7s / %7s   spoke venv %7s / %7s   (+%.0f%% min)\n' \
			"$mod" "$pmin" "$pmed" "$smin" "$smed" "$(echo "100 * ($smin - $pmin) / $pmin" | bc -l)"
	done
	unset T
done
fi
