#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# demo.sh BUILD - the main job on a generated demo set: build a few wheels
# (a generated 2,000-module package, the edge-case wheels of the tests, and
# the real pip/setuptools/wheel wheels Debian ships), install them with a
# cold cache into a fresh venv, again warm into a second venv, then import
# every package and run a launcher from it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SPOKE=$BUILD/spoke
PY=/usr/bin/python3
DEMO=${SPOKE_DEMO_DIR:-$(mktemp -d /tmp/spoke-demo.XXXXXX)}
export SPOKE_CACHE_DIR=$DEMO/cache
rm -rf "$DEMO/venv1" "$DEMO/venv2" "$SPOKE_CACHE_DIR"
mkdir -p "$DEMO/wheels"

echo "== generating demo wheels in $DEMO/wheels"
"$PY" "$ROOT/tests/wheels/mkwheels.py" good "$DEMO/gen" >/dev/null
cp "$DEMO"/gen/whl/*.whl "$DEMO/wheels/"
rm -f "$DEMO"/wheels/spoke_edge-1.0-*.whl  # the tests upgrade 1.0 to 2.0; the demo takes 2.0
cp /usr/share/python-wheels/pip-*.whl /usr/share/python-wheels/setuptools-*.whl \
	/usr/share/python-wheels/wheel-*.whl "$DEMO/wheels/" 2>/dev/null || true
"$PY" - "$DEMO/wheels" <<'PY'
# A wheel shaped like a big scientific package: 2,000 modules in 40
# subpackages, written with the standard library's zipfile and a RECORD.
import base64, hashlib, os, sys, zipfile
out = sys.argv[1]
name, ver = "spokedemo", "1.0"
files = {}
files["spokedemo/__init__.py"] = b"from spokedemo.sub0 import m0\nVALUE = 42\n"
for s in range(40):
    files["spokedemo/sub%d/__init__.py" % s] = b""
    for m in range(50):
        body = ("X = %d\n" % (s * 50 + m)) + "# padding\n" * (40 + (s * m) % 400)
        files["spokedemo/sub%d/m%d.py" % (s, m)] = body.encode()
di = "%s-%s.dist-info" % (name, ver)
files[di + "/METADATA"] = b"Metadata-Version: 2.1\nName: spokedemo\nVersion: 1.0\n"
files[di + "/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: spoke-demo\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
files[di + "/entry_points.txt"] = b"[console_scripts]\nspokedemo = spokedemo:main\n"
files["spokedemo/__init__.py"] += b"def main():\n    print('spokedemo', VALUE)\n    return 0\n"
rec = []
for p, data in files.items():
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rec.append("%s,sha256=%s,%d" % (p, h, len(data)))
rec.append(di + "/RECORD,,")
files[di + "/RECORD"] = ("\n".join(rec) + "\n").encode()
with zipfile.ZipFile(os.path.join(out, "%s-%s-py3-none-any.whl" % (name, ver)), "w",
                     zipfile.ZIP_DEFLATED) as z:
    for p, data in files.items():
        z.writestr(p, data)
PY
ls "$DEMO/wheels"

echo "== cold cache: spoke install into a fresh venv"
"$PY" -m venv --without-pip "$DEMO/venv1"
"$SPOKE" install --stats --venv "$DEMO/venv1" "$DEMO"/wheels/*.whl

echo "== warm cache: spoke install into a second fresh venv"
"$PY" -m venv --without-pip "$DEMO/venv2"
"$SPOKE" install --stats --venv "$DEMO/venv2" "$DEMO"/wheels/*.whl

echo "== using what was installed"
for v in venv1 venv2; do
	"$DEMO/$v/bin/python" -c 'import setuptools, spokedemo, spokedemo.sub39.m49, pip, wheel; print("imports ok:", spokedemo.VALUE, pip.__version__)'
	"$DEMO/$v/bin/spokedemo"
	"$DEMO/$v/bin/python" -m pip list 2>/dev/null | grep -i spokedemo
done
"$SPOKE" cache list
[ -n "${SPOKE_DEMO_DIR:-}" ] || rm -rf "$DEMO"
echo "== demo done"
