#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_pdm - the pdm plugin (python/spoke_pdm) with Debian's python3-pdm,
# offline, against local wheels (a find_links source): `pdm sync` with the
# plugin makes the same environment as pdm's own installer (apart from
# INSTALLER, which pdm does not write and spoke writes as "pdm"), through
# an upgrade-and-prune sync too; a pdm sync killed in the middle
# (SPOKE_FAULT=link:1:KILL) is recovered before pdm reads the environment;
# Ctrl-C during the transaction rolls it back. Skips without pdm or the
# shared library.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
LIB=$(readlink -f "$BUILD/libspoke.so.0" 2>/dev/null)
command -v pdm >/dev/null || skip "no pdm (apt-get install python3-pdm)"
[ -e "$LIB" ] || skip "no shared library in $BUILD (sanitizer builds make none)"

export HOME=$TMP/home PDM_HOME=$TMP/home/pdm XDG_CONFIG_HOME=$TMP/home/cfg \
	XDG_CACHE_HOME=$TMP/home/cache SPOKE_LIBRARY=$LIB \
	SPOKE_CACHE_DIR=$TMP/spoke-cache PYTHONDONTWRITEBYTECODE=1
mkdir -p "$HOME" "$TMP/wheels" "$TMP/plug/spoke_pdm-0.1.dist-info"
# The plugin "installed": a dist-info with the entry point, found on the
# PYTHONPATH of the runs that use it.
printf 'Metadata-Version: 2.1\nName: spoke-pdm\nVersion: 0.1\n' \
	>"$TMP/plug/spoke_pdm-0.1.dist-info/METADATA"
printf '[pdm]\nspoke = spoke_pdm:plugin\n' \
	>"$TMP/plug/spoke_pdm-0.1.dist-info/entry_points.txt"
WITH="$ROOT/python:$TMP/plug"

PYTHONPATH=$ROOT/python/tests $PY -c '
import sys
sys.path.insert(0, sys.argv[2])
from test_sync import make_whl
for n, v in [("alpha", "1.0"), ("six", "1.0"), ("six", "2.0"),
             ("gamma", "1.0")]:
    make_whl(sys.argv[1], n, v, body=("V = %r\n" % v).encode() * 50)
' "$TMP/wheels" "$ROOT/python" || fail "cannot make wheels"

pdm config check_update false >/dev/null || fail "pdm config failed"

project() { # DIR DEPS...
	mkdir -p "$1"
	{
		printf '[project]\nname = "proj"\nversion = "0.1"\n'
		printf 'requires-python = ">=3.8"\ndependencies = [%s]\n\n' "$2"
		printf '[[tool.pdm.source]]\nname = "pypi"\nurl = "file://%s"\n' "$TMP/wheels"
		printf 'type = "find_links"\nverify_ssl = false\n'
	} >"$1/pyproject.toml"
}
pkgs() { echo "$1/__pypackages__"; }
# Everything but INSTALLER; RECORD as its sorted rows minus INSTALLER's.
env_manifest() {
	$PY - "$(pkgs "$1")" <<'PYEOF'
import hashlib, os, sys
root = sys.argv[1]
for d, dirs, files in sorted(os.walk(root)):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        if f == "INSTALLER":
            continue
        data = open(p, "rb").read()
        if f == "RECORD":
            rows = sorted(r for r in data.decode().splitlines()
                          if r and "/INSTALLER," not in r)
            print(rel, "RECORD", rows)
        else:
            print(rel, oct(os.stat(p).st_mode), hashlib.sha256(data).hexdigest())
PYEOF
}
sync() { # DIR PLUGIN(0/1) ARGS...
	local dir=$1 plug=$2; shift 2
	( cd "$dir" && if [ "$plug" = 1 ]; then PYTHONPATH=$WITH pdm sync --no-self "$@"
	  else pdm sync --no-self "$@"; fi ) >"$TMP/sync.log" 2>&1 ||
		{ tail -20 "$TMP/sync.log" >&2; fail "pdm sync in $dir (plugin $plug) failed"; }
}

# -- a fresh sync ------------------------------------------------------------
project "$TMP/a" '"alpha", "six==2.0", "gamma"'
( cd "$TMP/a" && pdm use -f $PY >/dev/null 2>&1 && pdm lock >"$TMP/lock.log" 2>&1 ) ||
	{ tail -20 "$TMP/lock.log" >&2; fail "pdm lock failed"; }
cp -r "$TMP/a" "$TMP/b"
rm -rf "$TMP/b/__pypackages__"
sync "$TMP/a" 0
sync "$TMP/b" 1
grep -q "Installed six 2.0" "$TMP/sync.log" || { cat "$TMP/sync.log" >&2; fail "the plugin did not run"; }
[ "$(cat "$(pkgs "$TMP/b")"/3.11/lib/six-2.0.dist-info/INSTALLER)" = pdm ] ||
	fail "INSTALLER is not pdm"
[ "$(env_manifest "$TMP/a")" = "$(env_manifest "$TMP/b")" ] ||
	{ diff <(env_manifest "$TMP/a") <(env_manifest "$TMP/b") >&2; fail "fresh sync: environments differ"; }
first=$(env_manifest "$TMP/a")
mkdir -p "$TMP/lock1" "$TMP/lock2"
cp "$TMP/a/pyproject.toml" "$TMP/a/pdm.lock" "$TMP/lock1/"

# -- downgrade six, drop gamma (sync --clean): one transaction ---------------
project "$TMP/a" '"alpha", "six==1.0"'
( cd "$TMP/a" && pdm lock >"$TMP/lock.log" 2>&1 ) || fail "pdm lock (2) failed"
cp "$TMP/a/pyproject.toml" "$TMP/a/pdm.lock" "$TMP/b/"
cp "$TMP/a/pyproject.toml" "$TMP/a/pdm.lock" "$TMP/lock2/"
sync "$TMP/a" 0 --clean
sync "$TMP/b" 1 --clean
grep -q "Downgraded six 1.0" "$TMP/sync.log" && grep -q "Remove gamma 1.0" "$TMP/sync.log" ||
	{ cat "$TMP/sync.log" >&2; fail "the plugin's sync did not downgrade and remove"; }
[ "$(env_manifest "$TMP/a")" = "$(env_manifest "$TMP/b")" ] ||
	{ diff <(env_manifest "$TMP/a") <(env_manifest "$TMP/b") >&2; fail "upgrade-and-prune sync: environments differ"; }

# -- a pdm sync killed in the middle is recovered before pdm looks ----------
# Back to the first lock (upgrade six, add gamma), killed at its first link
# (after the removals): the next sync first rolls it back, then syncs.
cp "$TMP/lock1/"* "$TMP/b/"
( cd "$TMP/b" && SPOKE_FAULT=link:1:KILL PYTHONPATH=$WITH pdm sync --no-self --clean ) \
	>"$TMP/killed.log" 2>&1 && { cat "$TMP/killed.log" >&2; fail "the sync was not killed"; }
[ "$(env_manifest "$TMP/b")" != "$first" ] || fail "the killed sync had done nothing"
sync "$TMP/b" 1 --clean
grep -q "interrupted sync (rolled back)" "$TMP/sync.log" ||
	{ cat "$TMP/sync.log" >&2; fail "the plugin did not recover first"; }
[ "$(env_manifest "$TMP/b")" = "$first" ] ||
	{ diff <(echo "$first") <(env_manifest "$TMP/b") >&2; fail "sync after recovery differs from pdm's"; }

# -- Ctrl-C during the transaction rolls it back ------------------------------
# The first link sleeps 4 s; SIGINT comes once spoke holds the lock.
cp "$TMP/lock2/"* "$TMP/b/"
rm -f "$(pkgs "$TMP/b")"/3.11/lib/.spoke-lock
( cd "$TMP/b" && SPOKE_FAULT=link:1:DELAY=4000 PYTHONPATH=$WITH exec pdm sync --no-self --clean ) \
	>"$TMP/intr.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
	[ -e "$(pkgs "$TMP/b")/3.11/lib/.spoke-lock" ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
sleep 0.5
kill -INT $pid
wait $pid && { cat "$TMP/intr.log" >&2; fail "pdm sync went on after Ctrl-C"; }
grep -q KeyboardInterrupt "$TMP/intr.log" || grep -qi "abort\|interrupt" "$TMP/intr.log" ||
	{ cat "$TMP/intr.log" >&2; fail "no interrupt reported"; }
[ "$(env_manifest "$TMP/b")" = "$first" ] ||
	{ diff <(echo "$first") <(env_manifest "$TMP/b") >&2; fail "Ctrl-C left changes"; }
exit 0
