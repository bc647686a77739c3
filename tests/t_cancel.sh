#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cancel - Ctrl-C while the link-method probe is in flight (issue 12):
# the worker holding the probe is slowed by SPOKE_FAULT=link:1:DELAY=MS
# while other workers wait for its answer, and SIGINT arrives meanwhile.
# The run must exit promptly with 130, leave no temporaries, and (install)
# leave the environment as it was. Before the probe was a token, a probe
# whose op met an existing file (EEXIST, retried as a replace) was never
# released when the run stopped, and every waiter spun forever.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
PY=${PYTHON:-python3}
DELAY=1500

# many directories, so several workers reach the first file of the pair
# while the probe sleeps
for d in 1 2 3 4 5 6 7 8; do small_tree "$TMP/src/w$d" 40; done

# interrupt OUT CMD...: run CMD, SIGINT after 0.4 s; sets RC and SECS.
interrupt() {
	local out=$1 pid t0 t1; shift
	t0=$(date +%s%N)
	"$@" >"$out" 2>&1 &
	pid=$!
	sleep 0.4
	kill -INT "$pid"
	# A hang is a failure, not a test timeout: give it 20 s.
	for _ in $(seq 1 200); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid"
		wait "$pid" 2>/dev/null
		fail "still running 20 s after SIGINT (hang): $*"
	fi
	wait "$pid"; RC=$?
	t1=$(date +%s%N)
	SECS=$(( (t1 - t0) / 1000000000 ))
}

# -- copy-tree over an existing tree: the probe meets EEXIST ---------------
"$SPOKE" copy-tree -q --link-mode hardlink "$TMP/src" "$TMP/dst" || fail "first copy-tree"
before=$(manifest "$TMP/dst")
SPOKE_FAULT=link:1:DELAY=$DELAY interrupt "$TMP/ct.out" \
	"$SPOKE" copy-tree --jobs 4 --link-mode hardlink "$TMP/src" "$TMP/dst"
expect_eq "$RC" 130 "copy-tree: exit code after SIGINT"
[ "$SECS" -le 6 ] || fail "copy-tree: took ${SECS}s to exit after SIGINT (delay ${DELAY} ms)"
no_temporaries "$TMP/dst"
[ "$(manifest "$TMP/dst")" = "$before" ] || fail "copy-tree: destination changed"
note "copy-tree: exit 130 in ${SECS}s, no temporaries"

# -- the same on a fresh destination, every worker waiting on the probe ------
SPOKE_FAULT=link:1:DELAY=$DELAY interrupt "$TMP/ct2.out" \
	"$SPOKE" copy-tree --jobs 4 --link-mode hardlink "$TMP/src" "$TMP/dst2"
expect_eq "$RC" 130 "fresh copy-tree: exit code after SIGINT"
[ "$SECS" -le 6 ] || fail "fresh copy-tree: took ${SECS}s"
no_temporaries "$TMP/dst2"

# -- install: rolled back -----------------------------------------------------
$PY - "$ROOT/tests/wheels" "$TMP/trees" <<'PY' || fail "cannot generate a wheel"
import os, sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("spoke_cancel", "1.0")
w.add("spoke_cancel/__init__.py", "X = 1\n")
for i in range(400):
    w.add("spoke_cancel/sub%d/m%03d.py" % (i % 16, i), "X = %d\n" % i)
w.write_tree(os.path.join(sys.argv[2], "spoke_cancel-1.0"))
PY
V=$TMP/venv
$PY -m venv --without-pip "$V" || fail "cannot create a venv"
before=$(manifest "$V")
SPOKE_FAULT=link:1:DELAY=$DELAY interrupt "$TMP/in.out" \
	"$SPOKE" install --jobs 4 --link-mode hardlink --venv "$V" "$TMP/trees/spoke_cancel-1.0"
expect_eq "$RC" 130 "install: exit code after SIGINT ($(cat "$TMP/in.out"))"
[ "$SECS" -le 6 ] || fail "install: took ${SECS}s to exit after SIGINT"
diff <(echo "$before") <(manifest "$V") >"$TMP/diff" || { head "$TMP/diff" >&2; fail "install: venv not restored"; }
no_temporaries "$V"
note "install: exit 130 in ${SECS}s, venv restored"
echo "t_cancel: all checks passed"
