#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_manifest - the manifest a cache entry keeps (docs/CACHE.md "Manifests")
# is trusted only while it is sound and the entry unchanged: a truncated,
# garbled, misattributed or stale manifest is rebuilt (byte for byte the
# one the publish wrote), an edited entry is caught as it would be by a
# walk, a forged manifest (right checksum and identities) cannot name a
# path outside the tree, a cache from before manifests installs, and
# clean removes them. Also: a second distribution into an existing shared
# namespace directory still meets the environment's files.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
PY=/usr/bin/python3

# mkwhl OUT NAME VERSION PATH... : a wheel with a small file at each PATH.
mkwhl() {
	$PY - "$@" <<'PY' || fail "mkwhl $1"
import base64, hashlib, sys, zipfile
out, name, ver = sys.argv[1:4]
dv = "%s-%s" % (name, ver)
files = {p: ("# %s\n" % p).encode() for p in sys.argv[4:]}
files["%s.dist-info/WHEEL" % dv] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
files["%s.dist-info/METADATA" % dv] = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, ver)).encode()
rec = ["%s,sha256=%s,%d" % (p, base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode(), len(d)) for p, d in files.items()]
rec.append("%s.dist-info/RECORD,," % dv)
files["%s.dist-info/RECORD" % dv] = ("\n".join(rec) + "\n").encode()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for p, d in files.items():
        z.writestr(p, d)
PY
}

# forge FILE WHAT: rewrite a manifest with a valid checksum (the format of
# cache/manifest.c), keeping its identities. WHAT: dotdot (a name ".."),
# link (a symlink pkg/evil -> ../../../../../../etc).
forge() {
	$PY - "$@" <<'PY' || fail "forge $2"
import hashlib, struct, sys
path, what = sys.argv[1:3]
b = open(path, "rb").read()
body = b[56:]
o = 0
def getstr():
    global o
    n = struct.unpack_from("<H", body, o)[0]
    v = body[o + 2:o + 2 + n]
    o += n + 3
    return v
def putstr(v):
    return struct.pack("<H", len(v)) + v + b"\0"
ename = getstr()
ident = body[o:o + 28]; o += 28
count = struct.unpack_from("<I", body, o)[0]; o += 4
recs = []
for _ in range(count):
    t, depth = struct.unpack_from("<BH", body, o); o += 3
    name = getstr()
    start = o
    if t == 2: o += 12
    elif t == 1: o += 24
    elif t == 3: getstr()
    recs.append([t, depth, name, body[start:o]])
if what == "dotdot":
    recs[0][2] = b".."
elif what == "link":
    i = next(k for k, r in enumerate(recs) if r[0] == 1 and r[2] == b"pkg")
    recs.insert(i + 1, [3, 1, b"0evil", putstr(b"../../../../../../etc")])
out = putstr(ename) + ident + struct.pack("<I", len(recs))
for t, depth, name, rest in recs:
    out += struct.pack("<BH", t, depth) + putstr(name) + rest
hdr = b[:16] + struct.pack("<Q", len(out)) + hashlib.sha256(out).digest()
open(path, "wb").write(hdr + out)
PY
}

C=$TMP/cache
export SPOKE_CACHE_DIR=$C
mkdir -p "$TMP/w"
A=$TMP/w/pkg-1.0-py3-none-any.whl
B=$TMP/w/other-1.0-py3-none-any.whl
mkwhl "$A" pkg 1.0 pkg/__init__.py pkg/sub/mod.py pkg/sub/deep/x.py
mkwhl "$B" other 1.0 other/__init__.py

# 1. Publishing keeps the manifest.
"$SPOKE" cache add -q "$A" "$B" || fail "cache add"
ka=$(cat "$C/index-v1/${A##*/}")
kb=$(cat "$C/index-v1/${B##*/}")
MA=$C/manifest-v1/$ka
MB=$C/manifest-v1/$kb
[ -s "$MA" ] && [ -s "$MB" ] || fail "no manifest after publishing: $(ls "$C")"
cp "$MA" "$TMP/ma.orig"

n=0
install_ok() { # a fresh target, the wheel's files there
	n=$((n + 1))
	"$SPOKE" install -q --target "$TMP/t$n" "$A" || fail "install $n ($1)"
	[ -f "$TMP/t$n/pkg/sub/deep/x.py" ] && [ -f "$TMP/t$n/pkg/__init__.py" ] ||
		fail "install $n ($1): files missing"
	grep -q "pkg/sub/mod.py" "$TMP/t$n/pkg-1.0.dist-info/RECORD" ||
		fail "install $n ($1): RECORD incomplete"
}

# 2. A sound manifest is used as it is (not rewritten).
touch -d @1000000000 "$MA"
install_ok sound
[ "$(stat -c %Y "$MA")" = 1000000000 ] || fail "a sound manifest was rewritten"

# 3. Truncated, garbled, another entry's: rebuilt, the same bytes again.
truncate -s 100 "$MA"
install_ok truncated
cmp -s "$MA" "$TMP/ma.orig" || fail "a truncated manifest was not rebuilt"
$PY -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[-3]^=0x20; open(p,"wb").write(b)' "$MA"
install_ok garbled
cmp -s "$MA" "$TMP/ma.orig" || fail "a garbled manifest was not rebuilt"
cp "$MB" "$MA"
install_ok "another entry's"
cmp -s "$MA" "$TMP/ma.orig" || fail "another entry's manifest was not replaced"

# 4. Forged with a valid checksum: a name ".." is refused as damaged (and
#    rebuilt); a symlink pointing outside is refused, nothing installed.
forge "$MA" dotdot
install_ok dotdot
cmp -s "$MA" "$TMP/ma.orig" || fail "a manifest naming '..' was used"
forge "$MA" link
"$SPOKE" install -q --target "$TMP/evil" "$A" 2>"$TMP/err" &&
	fail "a forged manifest's outside symlink was installed"
[ ! -e "$TMP/evil/pkg" ] && [ ! -L "$TMP/evil/pkg/0evil" ] ||
	fail "the refused install left files"
grep -q "0evil" "$TMP/err" || fail "refusal does not name the link: $(cat "$TMP/err")"
cp "$TMP/ma.orig" "$MA"
install_ok restored

# 5. The entry edited (a name added deep inside): the manifest is stale (the
#    directory's ctime moved), the rebuild sees the name, and the install
#    refuses it as the walk did.
: >"$C/archive-v2/$ka/pkg/sub/deep/planted.py"
"$SPOKE" install -q --target "$TMP/planted" "$A" 2>"$TMP/err" &&
	fail "a file planted in the entry was installed"
grep -q "planted.py' is not listed in its RECORD" "$TMP/err" ||
	fail "planted: $(cat "$TMP/err")"
rm "$C/archive-v2/$ka/pkg/sub/deep/planted.py"
install_ok unplanted
# A file removed from the entry: RECORD names what is not there.
mv "$C/archive-v2/$ka/pkg/sub/mod.py" "$TMP/mod.py"
"$SPOKE" install -q --target "$TMP/removed" "$A" 2>"$TMP/err" &&
	fail "an entry missing a file was installed"
grep -q "RECORD lists 'pkg/sub/mod.py'" "$TMP/err" || fail "removed: $(cat "$TMP/err")"
mv "$TMP/mod.py" "$C/archive-v2/$ka/pkg/sub/mod.py"
install_ok "put back"

# 6. A cache from before manifests installs, and gets them.
rm -rf "$C/manifest-v1"
install_ok "no manifests"
[ -s "$MA" ] || fail "no manifest written on first use"

# 7. clean removes them with the entries.
"$SPOKE" cache clean -q || fail "cache clean"
[ ! -e "$C/manifest-v1" ] || fail "clean left manifests: $(ls "$C")"
install_ok "after clean"

# 8. A shared namespace directory the environment already has: a second
#    distribution's names below it still meet the environment's files.
N1=$TMP/w/nsa-1.0-py3-none-any.whl
N2=$TMP/w/nsb-1.0-py3-none-any.whl
N3=$TMP/w/nsc-1.0-py3-none-any.whl
mkwhl "$N1" nsa 1.0 google/a/x.py google/b/c/d.py
mkwhl "$N2" nsb 1.0 google/a/x.py/inner.py
mkwhl "$N3" nsc 1.0 google/b/c
"$SPOKE" install -q --target "$TMP/ns" "$N1" || fail "namespace install"
"$SPOKE" install -q --target "$TMP/ns" "$N2" 2>"$TMP/err" &&
	fail "a directory over an installed file was allowed"
grep -q "directory 'google/a/x.py'\|where the environment has a file" "$TMP/err" ||
	fail "nsb: $(cat "$TMP/err")"
"$SPOKE" install -q --target "$TMP/ns" "$N3" 2>"$TMP/err" &&
	fail "a file over an installed directory was allowed"
grep -q "where the environment has a directory" "$TMP/err" ||
	fail "nsc: $(cat "$TMP/err")"
[ -f "$TMP/ns/google/a/x.py" ] && [ -f "$TMP/ns/google/b/c/d.py" ] ||
	fail "the refused installs changed the namespace"
exit 0
