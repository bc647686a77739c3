#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pdm_sync - `pdm sync` warm, with and without the spoke plugin
# (python/spoke_pdm): a project of N generated wheels (F files each) from a
# local find_links source, locked once; each timed run starts from an empty
# __pypackages__ with pdm's and spoke's caches warm (one untimed sync
# first). Prints the median wall time of R runs for each. Needs pdm
# (python3-pdm) and build/libspoke.so.0.
#   bench/pdm_sync.sh [N=40] [F=200] [R=5]
set -eu
N=${1:-40} F=${2:-200} R=${3:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d /tmp/spoke-pdm-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
export HOME=$T/home PDM_HOME=$T/home/pdm XDG_CONFIG_HOME=$T/home/cfg \
	XDG_CACHE_HOME=$T/home/cache SPOKE_LIBRARY=$ROOT/build/libspoke.so.0 \
	SPOKE_CACHE_DIR=$T/spoke-cache PYTHONDONTWRITEBYTECODE=1
mkdir -p "$HOME" "$T/wheels" "$T/plug/spoke_pdm-0.1.dist-info" "$T/p"
printf 'Metadata-Version: 2.1\nName: spoke-pdm\nVersion: 0.1\n' \
	>"$T/plug/spoke_pdm-0.1.dist-info/METADATA"
printf '[pdm]\nspoke = spoke_pdm:plugin\n' >"$T/plug/spoke_pdm-0.1.dist-info/entry_points.txt"
/usr/bin/python3 - "$T/wheels" "$N" "$F" <<'PY'
import base64, hashlib, sys, zipfile
out, n, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    name = "pkg%03d" % i
    di = name + "-1.0.dist-info"
    files = {"%s/m%04d.py" % (name, k): (b"x = %d\n" % k) * 100 for k in range(f)}
    files[di + "/METADATA"] = b"Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n\n" % name.encode()
    files[di + "/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    rows = ["%s,sha256=%s,%d" % (p, base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode(), len(d)) for p, d in files.items()]
    files[di + "/RECORD"] = ("\n".join(rows + [di + "/RECORD,,"]) + "\n").encode()
    with zipfile.ZipFile("%s/%s-1.0-py3-none-any.whl" % (out, name), "w") as z:
        for p, d in files.items():
            z.writestr(p, d)
PY
deps=$(for i in $(seq 0 $((N - 1))); do printf '"pkg%03d", ' "$i"; done)
cat >"$T/p/pyproject.toml" <<TOML
[project]
name = "bench"
version = "0.1"
requires-python = ">=3.8"
dependencies = [${deps%, }]

[[tool.pdm.source]]
name = "pypi"
url = "file://$T/wheels"
type = "find_links"
verify_ssl = false
TOML
cd "$T/p"
pdm config check_update false >/dev/null
pdm use -f /usr/bin/python3 >/dev/null 2>&1
pdm lock >/dev/null 2>&1
run() { # PYTHONPATH
	local times=()
	PYTHONPATH=$1 pdm sync --no-self >/dev/null 2>&1 # warm
	for _ in $(seq 1 "$R"); do
		rm -rf __pypackages__
		local t0 t1
		t0=$(date +%s%N)
		PYTHONPATH=$1 pdm sync --no-self >/dev/null 2>&1
		t1=$(date +%s%N)
		times+=($(( (t1 - t0) / 1000000 )))
	done
	printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (R + 1) / 2 ))p"
}
echo "pdm sync, $N wheels x $F files, median of $R (ms):"
echo "  pdm's installer: $(run "")"
echo "  spoke plugin:    $(run "$ROOT/python:$T/plug")"
