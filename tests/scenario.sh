# SPDX-License-Identifier: MIT
# scenario.sh - the install scenario t_sweep and t_crash share: three wheels
# of about 200 files, two of them upgrades (spoke_edge 1.0 -> 2.0, and
# spoke_bulk 1.0 -> 2.0, which rewrites every third module, adds 30 and
# drops a directory), over a venv V0 holding the old versions with their
# bytecode compiled. Source after lib.sh; sets G (generated wheels) and V0.

make_scenario() {
	G=$TMP/gen
	$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" || fail "mkwheels.py good failed"
	# spoke_bulk 1.0 -> 2.0: 2.0 rewrites every third module, adds 30, and
	# drops a whole directory of 1.0's.
	$PY - "$ROOT/tests/wheels" "$G/trees" <<'PY' || fail "cannot generate spoke_bulk"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
for ver, n in (("1.0", 120), ("2.0", 150)):
    w = Wheel("spoke_bulk", ver)
    w.add("spoke_bulk/__init__.py", "VERSION = %r\ndef main():\n    return 0\n" % ver)
    for i in range(n):
        body = "X = %d\n" % i if (ver == "1.0" or i % 3) else "X = %d  # v2\n" % i
        w.add("spoke_bulk/sub%d/m%03d.py" % (i % 6, i), body)
    if ver == "1.0":
        w.add("spoke_bulk/gone/only_v1.py", "GONE = 1\n")
    w.add(w.distinfo + "/entry_points.txt", "[console_scripts]\nbulk = spoke_bulk:main\n")
    w.write_tree(os.path.join(sys.argv[2], "spoke_bulk-" + ver))
PY

	V0=$TMP/v0
	$PY -m venv --without-pip "$V0" || fail "cannot create a venv"
	"$SPOKE" install -q --venv "$V0" "$G/trees/spoke_edge-1.0" "$G/trees/spoke_bulk-1.0" ||
		fail "cannot install the starting state"
	# Bytecode of the old versions, as imports leave it: upgrades remove it.
	"$V0/bin/python" -m compileall -q "$V0/lib" >/dev/null || fail "compileall failed"
}
