#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_redteam - issue 12 attacked with cases its own tests do not list: each
# case builds an attack on a real filesystem and asserts the safe outcome
# (nothing outside the environment touched, the environment unchanged on a
# refusal, a non-zero exit with a message naming the path and the cause).
# SPOKE_REDTEAM="case ..." runs only the named cases.
. "$(dirname "$0")/lib.sh"
need_spoke_venv

G=$TMP/gen
$PY "$ROOT/tests/wheels/mkwheels.py" good "$G" >/dev/null || fail "mkwheels.py good failed"
E1=$G/trees/spoke_edge-1.0 E2=$G/trees/spoke_edge-2.0

want() { [ -z "${SPOKE_REDTEAM:-}" ] || [[ " $SPOKE_REDTEAM " == *" $1 "* ]]; }
mkwheel() { # mkwheel DIR NAME PATH=CONTENT...: an unpacked wheel tree
	$PY - "$ROOT/tests/wheels" "$@" <<'PY' || fail "cannot make wheel $2"
import sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel(sys.argv[3], "1.0")
for spec in sys.argv[4:]:
    p, _, c = spec.partition("=")
    w.add(p, c.encode())
w.write_tree(sys.argv[2])
PY
}

V0=$TMP/v0
$PY -m venv --without-pip "$V0" || fail "cannot create a venv"
ok install --venv "$V0" "$E1"
V=$TMP/v
fresh() { rm -rf "$V"; cp -a "$V0" "$V"; SP=$(echo "$V"/lib/python*/site-packages); }
fresh
PYV=${SP#"$V"/}

# -- reserved names through variants ------------------------------------------
if want names; then
n=0
for path in "hostile-1.0.data/data/.SPOKE-journal" "hostile-1.0.data/data/.Spoke-txn/0" \
	"hostile-1.0.data/purelib/.SPOKE-lock" "hostile-1.0.data/data/.ſpoke-journal" \
	"hostile-1.0.data/data/.​spoke-lock" "hostile-1.0.data/data/$PYV/site-packages/.spoke-txn/9"; do
	n=$((n + 1))
	rm -rf "$TMP/w$n"
	mkwheel "$TMP/w$n" hostile "hostile/__init__.py=" "$path=x"
	fresh
	manifest "$V" >"$TMP/m0"
	run install --venv "$V" "$TMP/w$n"
	expect_fail ".spoke" "a wheel writing '$path'"
	diff "$TMP/m0" <(manifest "$V") >/dev/null || fail "'$path': the environment changed"
done
note "reserved names in any case, below any scheme directory"
fi

# -- a RECORD of an installed distribution reaching outside ------------------
if want record; then
fresh
mkdir -p "$TMP/outside/d"
echo keep >"$TMP/outside/x"; echo keep >"$TMP/outside/d/y.py"
R=$SP/spoke_edge-1.0.dist-info/RECORD
{ echo "$TMP/outside/x,,"; echo "../../../../../../../../$TMP/outside/x,,"
  echo "linkdir/y.py,,"; echo "spoke_edge/../../../../../$(basename "$TMP")/outside/x,,"; } >>"$R"
ln -s "$TMP/outside/d" "$SP/linkdir"
run uninstall --venv "$V" spoke-edge
[ "$(cat "$TMP/outside/x")" = keep ] || fail "uninstall removed a file outside the env its RECORD listed"
[ "$(cat "$TMP/outside/d/y.py")" = keep ] || fail "uninstall removed a file through a symlinked directory"
note "uninstall: RECORD paths outside the env or through a symlinked directory"
fi

# -- a symlinked package directory in the env when installing ----------------
if want pkglink; then
fresh
rm -rf "$TMP/outside"; mkdir -p "$TMP/outside"
ln -s "$TMP/outside" "$SP/hostile"
rm -rf "$TMP/wl"; mkwheel "$TMP/wl" hostile "hostile/__init__.py=mine" "hostile/sub/m.py=m"
run install --venv "$V" "$TMP/wl"
rc=$?
[ -z "$(ls -A "$TMP/outside")" ] || fail "install wrote through a symlinked package directory into $TMP/outside (rc $rc): $(ls -A "$TMP/outside")"
note "install does not write through a symlinked directory of the env"
fi

# -- control files pre-created as something else --------------------------------
if want control; then
for what in dir fifo nobody dirlink; do
	for f in .spoke-lock .spoke-journal .spoke-txn; do
		fresh
		rm -rf "$TMP/elsewhere"; mkdir -p "$TMP/elsewhere"; echo keep >"$TMP/elsewhere/k"
		case $what in
		dir) [ $f = .spoke-txn ] && continue; mkdir "$V/$f"; echo x >"$V/$f/inner" ;;
		fifo) mkfifo "$V/$f" ;;
		nobody) if [ $f = .spoke-txn ]; then mkdir "$V/$f"; echo x >"$V/$f/0"; else echo x >"$V/$f"; fi
			chown -R nobody "$V/$f" 2>/dev/null || continue ;;
		dirlink) ln -s "$TMP/elsewhere" "$V/$f" ;;
		esac
		mf() { if [ $what = fifo ]; then manifest "$V" 2>/dev/null | grep -v "^$f "; else manifest "$V"; fi; }
		[ $what = fifo ] || mf >"$TMP/m0"
		{ timeout 20 "$SPOKE" install --venv "$V" "$E2" >"$TMP/out" 2>"$TMP/err"; } 2>/dev/null
		rc=$?
		[ "$rc" != 124 ] || fail "$f as $what: spoke hung"
		[ "$(ls -A "$TMP/elsewhere")" = k ] && [ "$(cat "$TMP/elsewhere/k")" = keep ] ||
			fail "$f as $what: spoke wrote into the link's target: $(ls -A "$TMP/elsewhere")"
		if [ "$rc" = 0 ]; then
			# allowed only if the foreign object was left alone and the env installed
			[ -e "$V/$f" ] || [ -L "$V/$f" ] || fail "$f as $what: the foreign object was removed"
		else
			grep -q "$f" "$TMP/err" || fail "$f as $what: the message does not name it: $(cat "$TMP/err")"
			[ $what = fifo ] || diff "$TMP/m0" <(mf) >/dev/null || fail "$f as $what: refused but the environment changed"
		fi
	done
done
note "control files as a directory, a FIFO, another user's, a symlink to a directory"
fi

# -- another writer creates a file the run planned, between plan and link -------
# (cause 7: the linker replaced it on EEXIST, and a rollback would delete it)
if want racer; then
fresh
rm -rf "$TMP/wr"
mkwheel "$TMP/wr" newpkg "newpkg/m0.py=x" "newpkg/m1.py=x" "zz_newmod.py=mine"
rm -f "$TMP/wrote"
( sleep 0.6; set -C; echo theirs >"$SP/zz_newmod.py" && : >"$TMP/wrote" ) 2>/dev/null &
SPOKE_FAULT=link:1:DELAY=2000 run install --venv "$V" "$TMP/wr"
rc=$?
wait
if [ "$(cat "$SP/zz_newmod.py" 2>/dev/null)" = theirs ]; then
	[ "$rc" != 0 ] || fail "racer: the run succeeded over another writer's file"
	grep -q "zz_newmod.py" "$TMP/err" || fail "racer: the message does not name the path: $(cat "$TMP/err")"
	[ ! -e "$SP/newpkg" ] || fail "racer: the failed run left its package"
elif [ ! -e "$TMP/wrote" ] && [ "$rc" = 0 ] && [ "$(cat "$SP/zz_newmod.py")" = mine ]; then
	note "racer: the other writer came too late (slow machine?); nothing checked"
else
	fail "racer: another writer's file was replaced or removed (rc $rc): $(cat "$TMP/err")"
fi
note "a file another writer makes during the run is neither replaced nor removed"
fi

# -- a wheel writing into another distribution's .dist-info ---------------------
if want distinfo; then
for path in "hostile-1.0.data/purelib/spoke_edge-1.0.dist-info/RECORD" "spoke_edge-1.0.dist-info/INSTALLER" \
	"hostile-1.0.data/platlib/Spoke_Edge-1.0.DIST-INFO/RECORD"; do
	fresh
	rm -rf "$TMP/wd"; mkwheel "$TMP/wd" hostile "hostile/__init__.py=" "$path=x,,"
	manifest "$V" >"$TMP/m0"
	run install --venv "$V" "$TMP/wd"
	expect_fail "dist-info" "a wheel writing '$path'"
	diff "$TMP/m0" <(manifest "$V") >/dev/null || fail "'$path': the environment changed"
done
note "a wheel cannot write into another distribution's .dist-info"
fi

# -- cause 7 by identity: a killed hardlink install whose cache inodes
# another environment links afterwards. Linking a cache file anywhere
# moves the change time of every hardlink of it, so a rule by time alone
# took the killed run's own files for someone else's and left a
# half-installed package (exit 0). The journal records each object's
# identity (device, inode, birth time), a hardlink's before it is made.
if want hardlink-ctime; then
export SPOKE_CACHE_DIR=$TMP/cache
WHL=$TMP/ok-1.0-py3-none-any.whl
$PY - "$WHL" <<'PY'
import zipfile, base64, hashlib, sys
def rec(n, d):
    h = base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (n, h, len(d))
fs = {"ok/__init__.py": b"x=1\n", "ok/data.txt": b"hello\n",
      "ok-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: ok\nVersion: 1.0\n",
      "ok-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: x\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, d in fs.items():
        z.writestr(n, d)
    z.writestr("ok-1.0.dist-info/RECORD", "\n".join([rec(n, d) for n, d in fs.items()] + ["ok-1.0.dist-info/RECORD,,"]) + "\n")
PY
rm -rf "$TMP/va" "$TMP/vb"
cp -a "$V0" "$TMP/va"; cp -a "$V0" "$TMP/vb"
ok cache add "$WHL"
manifest "$TMP/va" >"$TMP/m0"
SPOKE_FAULT=link:2:KILL run install --link-mode hardlink --venv "$TMP/va" "$WHL"
[ $? = 137 ] || fail "hardlink-ctime: the kill point was not reached: $(cat "$TMP/err")"
sleep 3
ok install --link-mode hardlink --venv "$TMP/vb" "$WHL"
ok recover --venv "$TMP/va"
diff "$TMP/m0" <(manifest "$TMP/va") >/dev/null ||
	fail "hardlink-ctime: recovery left the killed run's files: $(diff "$TMP/m0" <(manifest "$TMP/va") | head -5)"
note "a killed hardlink install is rolled back though another env linked the same cache files since"
unset SPOKE_CACHE_DIR
fi

# -- cause 7 in every link mode: after a kill, another writer replaces some
# of the run's files (a new inode by rename, as pip does; rm and rewrite,
# which on ext4 reuses the inode number), adds a file to a directory of the
# run, and changes the times of others (chmod, a second hardlink). Recovery
# must leave exactly the other writer's files and remove every object the
# run made, touched or not.
idwheel() { # idwheel DIR: 3 x 70 modules, so the linker runs several batches
	local specs=("idw/__init__.py=")
	for d in a b c; do for i in $(seq 0 69); do specs+=("idw/$d/m$i.py=$d$i"); done; done
	mkwheel "$1" idw "${specs[@]}"
}
# identity_case LABEL MODE FAULT WAIT: kill an install of idw at FAULT, wait
# WAIT seconds, write as another installer would, recover, check.
identity_case() {
	local label=$1 mode=$2 fault=$3 wait=$4 va=$IDFS/va sp d p
	rm -rf "$va"; cp -a "$V0" "$va"
	sp=$(echo "$va"/lib/python*/site-packages)
	manifest "$va" >"$TMP/m0"
	SPOKE_FAULT=$fault run install --link-mode "$mode" --venv "$va" "$IDW"
	[ $? = 137 ] || fail "$label: the kill point $fault was not reached: $(cat "$TMP/err")"
	[ -e "$va/.spoke-journal" ] || fail "$label: no journal after the kill"
	d=$sp/idw
	# five of the run's files, in one directory (the one it made most in)
	p=$(cd "$d" && find . -mindepth 2 ! -type d | cut -d/ -f2 | sort | uniq -c | sort -rn | awk '{print $2; exit}')
	mapfile -t P < <(cd "$d" && find "$p" ! -type d | sort | head -5)
	[ ${#P[@]} = 5 ] || fail "$label: the run made fewer than 5 files in one directory before the kill (test premise): ${P[*]}"
	sleep "$wait"
	$PY -c 'import os,sys; p=sys.argv[1]; open(p+".tmp","w").write("pip 1\n"); os.replace(p+".tmp",p)' "$d/${P[0]}"
	rm "$d/${P[1]}"; echo "pip 2" >"$d/${P[1]}"
	echo "pip new" >"$d/$p/pip_new.py"
	if [ "$wait" = 0 ]; then # the run's own objects with moved times
		chmod 600 "$d/${P[2]}"
		ln "$d/${P[3]}" "$IDFS/elsewhere" 2>/dev/null || true
	fi
	run recover --venv "$va"
	[ $? = 0 ] || fail "$label: recover failed: $(cat "$TMP/err")"
	[ "$(cat "$d/${P[0]}")" = "pip 1" ] || fail "$label: recover removed a file another writer renamed into place"
	[ "$(cat "$d/${P[1]}")" = "pip 2" ] || fail "$label: recover removed a file another writer rewrote (inode number reused?)"
	[ "$(cat "$d/$p/pip_new.py")" = "pip new" ] || fail "$label: recover removed a file another writer added"
	grep -q "did not make" "$TMP/err" || fail "$label: recover did not report what it left: $(cat "$TMP/err")"
	[ "$(cd "$d" && find . -mindepth 1 ! -type d | sort)" = "$(printf './%s\n' "${P[0]}" "${P[1]}" "$p/pip_new.py" | sort)" ] ||
		fail "$label: recover left objects of the killed run: $(cd "$d" && find . -mindepth 1 ! -type d | sort | head -6)"
	diff "$TMP/m0" <(manifest "$va" | grep -v "/site-packages/idw[ /]") >/dev/null ||
		fail "$label: the rest of the environment is not as before: $(diff "$TMP/m0" <(manifest "$va") | head -5)"
	rm -f "$IDFS/elsewhere"
}
if want identity; then
export SPOKE_CACHE_DIR=$TMP/cache
IDW=$TMP/idw; rm -rf "$IDW"; idwheel "$IDW"
IDFS=$TMP/idfs; mkdir -p "$IDFS"
# after linking (a generated file's write): every object has its record,
# so the other writer's files stay even right after the kill
for mode in hardlink copy symlink; do
	identity_case "after-link/$mode" $mode write:4:KILL 0
done
# in the middle of linking (the 150th file): what the last batches made
# may lack its record, and is judged by time
identity_case "mid-link/hardlink" hardlink link:150:KILL 3
identity_case "mid-link/copy" copy copy:150:KILL 3
identity_case "mid-link/symlink" symlink symlink:150:KILL 3
note "cause 7 by identity (hardlink, copy, symlink): another writer's files kept, the run's removed"
unset SPOKE_CACHE_DIR
fi

# -- a cache entry replaced by a symlink: refused, and the message names the
# entry and why (it said "cannot open ''")
if want cachelink; then
export SPOKE_CACHE_DIR=$TMP/cache-link
rm -rf "$SPOKE_CACHE_DIR" "$TMP/entry-copy"
$PY - "$ROOT/tests/wheels" "$TMP/lk-1.0-py3-none-any.whl" <<'PY' || fail "cannot make the wheel"
import sys
sys.path.insert(0, sys.argv[1])
from mkwheels import Wheel
w = Wheel("lk", "1.0")
w.add("lk/__init__.py", b"x = 1\n")
w.write_whl(sys.argv[2])
PY
ok cache add "$TMP/lk-1.0-py3-none-any.whl"
entry=$(echo "$SPOKE_CACHE_DIR"/archive-v2/*)
[ -d "$entry" ] || fail "cachelink: no cache entry (test premise): $entry"
cp -a "$entry" "$TMP/entry-copy"; rm -rf "$entry"; ln -s "$TMP/entry-copy" "$entry"
fresh
run install --venv "$V" "$TMP/lk-1.0-py3-none-any.whl"
expect_fail "cannot open" "an install from a symlinked cache entry"
grep -qF "$entry" "$TMP/err" || fail "cachelink: the message does not name the entry: $(cat "$TMP/err")"
! grep -qF "''" "$TMP/err" || fail "cachelink: the message names an empty path: $(cat "$TMP/err")"
[ ! -e "$SP/lk" ] || fail "cachelink: installed from a symlinked cache entry"
note "a symlinked cache entry is refused, naming the entry and the reason"
unset SPOKE_CACHE_DIR
fi
