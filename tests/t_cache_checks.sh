#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cache_checks - what a wheel or a damaged cache cannot make spoke do,
# through the CLI: serve an unverified entry to a verifying install (even
# after it was tampered with), publish a wheel whose file name, WHEEL or
# METADATA is wrong, unpack past the size budget, or miss a mode changed
# through an installed hardlink.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
PY=/usr/bin/python3

# mkwhl OUT DIST-VERSION [WHEEL text] [METADATA text]: a small wheel (an
# empty WHEEL text means the default one).
mkwhl() {
	$PY - "$@" <<'PY' || fail "mkwhl $1"
import base64, hashlib, sys, zipfile
out, dv = sys.argv[1], sys.argv[2]
name, ver = dv.split("-")
wheel = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else \
    "Wheel-Version: 1.0\nGenerator: t\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
meta = sys.argv[4] if len(sys.argv) > 4 else \
    "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, ver)
files = {
    "%s/__init__.py" % name: b"VALUE = 'original'\n" + b"#" * 200 + b"\n",
    "%s/data.txt" % name: b"some data\n" * 50,
    "%s.dist-info/WHEEL" % dv: wheel.encode(),
    "%s.dist-info/METADATA" % dv: meta.encode(),
}
rec = []
for p, d in files.items():
    h = base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=")
    rec.append("%s,sha256=%s,%d" % (p, h.decode(), len(d)))
rec.append("%s.dist-info/RECORD,," % dv)
files["%s.dist-info/RECORD" % dv] = ("\n".join(rec) + "\n").encode()
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for p, d in files.items():
        i = zipfile.ZipInfo(p)
        i.external_attr = 0o100644 << 16
        i.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(i, d)
PY
}

C=$TMP/cache
export SPOKE_CACHE_DIR=$C
mkdir -p "$TMP/w"
W=$TMP/w/tamper-1.0-py3-none-any.whl
mkwhl "$W" tamper-1.0

# 1. --no-verify publishes an unverified entry; tampered (same size), a
#    verifying install does not install its bytes: it unpacks again.
"$SPOKE" cache add -q --no-verify "$W" || fail "cache add --no-verify"
key=$(cat "$C/index-v1/${W##*/}")
[ -d "$C/archive-v2/$key.unverified" ] || fail "no unverified entry"
[ ! -e "$C/archive-v2/$key" ] || fail "--no-verify published a verified entry"
"$SPOKE" cache list | grep -q "$key  ${W##*/}  unverified" ||
	fail "cache list does not say unverified: $("$SPOKE" cache list)"
f=$C/archive-v2/$key.unverified/tamper/__init__.py
sed -i 's/original/TAMPERD/' "$f"
"$SPOKE" cache verify >"$TMP/out" 2>&1 && fail "cache verify passed a tampered entry"
grep -q "CORRUPT.*tamper/__init__.py" "$TMP/out" || fail "verify output: $(cat "$TMP/out")"
"$SPOKE" install -q --target "$TMP/t1" "$W" || fail "verifying install failed"
grep -q original "$TMP/t1/tamper/__init__.py" ||
	fail "a verifying install installed the tampered bytes"
[ -d "$C/archive-v2/$key" ] || fail "no verified entry after the verifying install"
"$SPOKE" install -q --target "$TMP/t2" --reinstall "$W" || fail "second install"
grep -q original "$TMP/t2/tamper/__init__.py" || fail "second install: tampered bytes"

# 2. A chmod of an installed hardlink is a chmod of the cache's inode.
rm -rf "$C"
"$SPOKE" install -q --link-mode hardlink --target "$TMP/t3" "$W" || fail "hardlink install"
"$SPOKE" cache verify >/dev/null || fail "fresh cache does not verify"
chmod 600 "$TMP/t3/tamper/data.txt"
"$SPOKE" cache verify >"$TMP/out" 2>&1 && fail "cache verify missed a mode change"
grep -q "tamper/data.txt: mode 0600" "$TMP/out" || fail "verify output: $(cat "$TMP/out")"
chmod 644 "$TMP/t3/tamper/data.txt"
"$SPOKE" cache verify >/dev/null || fail "mode restored, still corrupt"
# chmod +x gives a mode unpack could have made (0755 for an executable
# zip entry); only the manifest kept at publish knows this file was 0644.
chmod 755 "$TMP/t3/tamper/data.txt"
"$SPOKE" cache verify >"$TMP/out" 2>&1 && fail "cache verify missed chmod +x of a 0644 file"
grep -q "tamper/data.txt: mode 0755 changed (it was 0644" "$TMP/out" || fail "verify output after chmod +x: $(cat "$TMP/out")"
chmod 644 "$TMP/t3/tamper/data.txt"
"$SPOKE" cache verify >/dev/null || fail "mode restored after chmod +x, still corrupt"
# A name planted in the cache is shown escaped.
: >"$C/archive-v2/$key/tamper/$(printf 'e\033]0;x\007')"
"$SPOKE" cache verify >"$TMP/out" 2>&1 && fail "cache verify missed a planted file"
grep -q 'not in RECORD' "$TMP/out" || fail "verify output: $(cat "$TMP/out")"
grep -q $'\033' "$TMP/out" && fail "raw ESC in the output of cache verify"

# 3. File names: not a wheel name; a name that is not the dist-info's.
empty_cache() {
	[ -z "$(ls -A "$C/archive-v2" 2>/dev/null)$(ls -A "$C/index-v1" 2>/dev/null)$(ls -A "$C/tmp" 2>/dev/null)" ] ||
		fail "$1 left something in the cache: $(ls -R "$C")"
}
rm -rf "$C"
cp "$W" "$TMP/w/tamper.whl"
"$SPOKE" cache add "$TMP/w/tamper.whl" 2>"$TMP/err" && fail "accepted tamper.whl"
grep -q "not a wheel file name" "$TMP/err" || fail "message: $(cat "$TMP/err")"
for bad in other-1.0-py3-none-any.whl tamper-2.0-py3-none-any.whl \
	tamper-1.0-x-py3-none-any.whl; do
	cp "$W" "$TMP/w/$bad"
	"$SPOKE" cache add "$TMP/w/$bad" 2>"$TMP/err" && fail "accepted $bad"
	grep -q "not a wheel file name\|the file name says" "$TMP/err" ||
		fail "$bad: message: $(cat "$TMP/err")"
	empty_cache "$bad"
	"$SPOKE" install -q --target "$TMP/t4" "$TMP/w/$bad" 2>/dev/null &&
		fail "installed $bad"
done
# The same bytes under a good name and then a wrong one: the existing
# entry does not let the wrong name in.
"$SPOKE" cache add -q "$W" || fail "add"
"$SPOKE" cache add "$TMP/w/other-1.0-py3-none-any.whl" 2>/dev/null &&
	fail "a wrong name got in through an existing entry"
[ ! -e "$C/index-v1/other-1.0-py3-none-any.whl" ] || fail "index for a wrong name"
# Escaped names and normalised matching (Foo.Bar_baz == foo-bar-baz).
mkwhl "$TMP/w/Foo.Bar_baz-1.0-py3-none-any.whl" foo_bar_baz-1.0
"$SPOKE" cache add -q "$TMP/w/Foo.Bar_baz-1.0-py3-none-any.whl" ||
	fail "normalised name refused"
cp "$W" "$TMP/w/$(printf 'x\033[2J')-1.0-py3-none-any.whl"
"$SPOKE" cache add "$TMP/w/$(printf 'x\033[2J')-1.0-py3-none-any.whl" 2>"$TMP/err" &&
	fail "accepted a name with ESC"
grep -q $'\033' "$TMP/err" && fail "raw ESC in the message"

# 4. Bad WHEEL or METADATA: refused, nothing left in the cache.
rm -rf "$C"
mkwhl "$TMP/w/nover-1.0-py3-none-any.whl" nover-1.0 "" \
	"Metadata-Version: 2.1
Name: nover
"
mkwhl "$TMP/w/nowheel-1.0-py3-none-any.whl" nowheel-1.0 "Generator: t
"
mkwhl "$TMP/w/alien-1.0-py3-none-any.whl" alien-1.0 "" \
	"Metadata-Version: 2.1
Name: somebody-else
Version: 1.0
"
for w in nover nowheel alien; do
	whl=$TMP/w/$w-1.0-py3-none-any.whl
	"$SPOKE" cache add "$whl" 2>"$TMP/err" && fail "accepted $w"
	grep -q "$w" "$TMP/err" || fail "$w: message: $(cat "$TMP/err")"
	empty_cache "$w"
done

# 5. Size budget: SPOKE_UNPACK_MAX lowers it (the message names it), a
#    malformed value is a usage error.
rm -rf "$C"
SPOKE_UNPACK_MAX=1K "$SPOKE" cache add "$W" 2>"$TMP/err" && fail "budget not applied"
grep -q "budget of 1024 bytes" "$TMP/err" || fail "message: $(cat "$TMP/err")"
empty_cache "an over-budget wheel"
SPOKE_UNPACK_MAX=lots "$SPOKE" cache add "$W" 2>"$TMP/err" && fail "SPOKE_UNPACK_MAX=lots accepted"
grep -q "SPOKE_UNPACK_MAX" "$TMP/err" || fail "message: $(cat "$TMP/err")"
SPOKE_UNPACK_MAX=1M "$SPOKE" cache add -q "$W" || fail "within budget"
# 6. An expected sha256: the right one passes, another is refused naming
#    both digests.
sum=$(sha256sum "$W" | cut -d' ' -f1)
"$SPOKE" cache add -q --sha256 "$sum" "$W" || fail "--sha256 with the right digest"
bad=0000000000000000000000000000000000000000000000000000000000000000
"$SPOKE" cache add --sha256 $bad "$W" 2>"$TMP/err" && fail "--sha256 mismatch accepted"
grep -q "$sum.*$bad" "$TMP/err" || fail "message: $(cat "$TMP/err")"
echo "t_cache_checks: unverified entries, names, WHEEL/METADATA, modes and budgets checked"
