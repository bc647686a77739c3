#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_zstd - wheels whose entries are zstd-compressed (zip method 93) install
# exactly like the deflate originals: same cache entry contents, same venv.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"
need_tool zstd python3 py:venv
PY=/usr/bin/python3
$PY "$ROOT/tests/wheels/mkwheels.py" good "$TMP/gen" >/dev/null || fail "mkwheels"
mkdir -p "$TMP/deflate" "$TMP/zstd"
cp /usr/share/python-wheels/pip-*.whl "$TMP/gen"/whl/spoke_edge-2.0-*.whl "$TMP/deflate/" 2>/dev/null ||
	cp "$TMP"/gen/whl/spoke_edge-2.0-*.whl "$TMP/deflate/"
for w in "$TMP"/deflate/*.whl; do
	$PY "$ROOT/tests/wheels/rezip.py" "$w" "$TMP/zstd/$(basename "$w")" || fail "rezip $w"
done
# Really zstd: every file entry of the rewritten wheels uses method 93.
$PY - "$TMP"/zstd/*.whl <<'PY' || fail "rewritten wheels are not zstd"
import sys, zipfile
for w in sys.argv[1:]:
    for i in zipfile.ZipFile(w).infolist():
        assert i.is_dir() or i.compress_type == 93, (w, i.filename, i.compress_type)
PY
for kind in deflate zstd; do
	$PY -m venv --without-pip "$TMP/v-$kind" || fail "venv"
	SPOKE_CACHE_DIR=$TMP/cache-$kind "$SPOKE" install -q --venv "$TMP/v-$kind" "$TMP/$kind"/*.whl ||
		fail "install of the $kind wheels failed"
	SPOKE_CACHE_DIR=$TMP/cache-$kind "$SPOKE" cache verify >/dev/null || fail "$kind cache does not verify"
done
# The cache entries hold the same files (keys differ: they hash the .whl).
for idx in "$TMP"/cache-deflate/index-v1/*.whl; do
	name=$(basename "$idx")
	same_tree "$TMP/cache-deflate/archive-v2/$(cat "$idx")" \
		"$TMP/cache-zstd/archive-v2/$(cat "$TMP/cache-zstd/index-v1/$name")"
done
# The venvs: site-packages identical; scripts name their own venv's python,
# so they are compared with that path taken out.
# RECORD rows of scripts carry hashes of those venv-specific scripts.
diff <(manifest "$TMP/v-deflate/lib" | grep -v '/RECORD f') <(manifest "$TMP/v-zstd/lib" | grep -v '/RECORD f') >"$TMP/d" ||
	{ head "$TMP/d" >&2; fail "site-packages differ"; }
for r in "$TMP"/v-deflate/lib/python3*/site-packages/*.dist-info/RECORD; do
	z=$TMP/v-zstd/${r#"$TMP"/v-deflate/}
	diff <(grep -v '/bin/' "$r" | sort) <(grep -v '/bin/' "$z" | sort) >/dev/null || fail "RECORD ${r##*/site-packages/} differs"
done
for f in "$TMP"/v-deflate/bin/edge-*; do
	cmp <(sed "s|$TMP/v-deflate|VENV|g" "$f") <(sed "s|$TMP/v-zstd|VENV|g" "$TMP/v-zstd/bin/${f##*/}") ||
		fail "script ${f##*/} differs"
	expect_eq "$(stat -c %a "$f")" "$(stat -c %a "$TMP/v-zstd/bin/${f##*/}")" "mode of ${f##*/}"
done
"$TMP/v-zstd/bin/python" -c 'import spoke_edge' || fail "import from the zstd install"
echo "t_zstd: $(ls "$TMP"/zstd | wc -l) zstd wheels install identically to deflate"
