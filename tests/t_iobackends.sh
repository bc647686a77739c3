#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_iobackends - the engine on both io backends: byte-identical trees in
# every mode, failures injected inside a batch (the probe that fails moves
# every thread to the fallback; a later failure moves only its own file),
# and what happens when io_uring is refused (sysctl, seccomp: simulated by
# failing the ring set-up).
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"

small_tree "$TMP/src" 300
files=$(find "$TMP/src" -type f | wc -l)
if ! SPOKE_FAULT= "$SPOKE" copy-tree -q --io uring "$TMP/src" "$TMP/probe" 2>"$TMP/probe.err"; then
	skip "io_uring unavailable here: $(cat "$TMP/probe.err")"
fi

for mode in hardlink copy symlink; do
	for io in sync uring; do
		"$SPOKE" copy-tree --json --io $io --link-mode $mode "$TMP/src" "$TMP/$mode-$io" >"$TMP/$mode-$io.json" ||
			fail "$mode on $io failed"
	done
	if [ $mode = symlink ]; then
		diff <(cd "$TMP/$mode-sync" && find . -printf '%P %y %l\n' | sort) \
			<(cd "$TMP/$mode-uring" && find . -printf '%P %y %l\n' | sort) >/dev/null ||
			fail "symlink trees differ between backends"
	else
		same_tree "$TMP/$mode-sync" "$TMP/$mode-uring"
		same_tree "$TMP/src" "$TMP/$mode-uring"
	fi
	expect_eq "$(json_get "$TMP/$mode-uring.json" files)" "$files" "$mode: files on uring"
done
note "hardlink, copy, symlink: sync and uring trees identical"

for io in sync uring; do
	# The first linkat is the probe: EXDEV there switches the run to copy,
	# and the other ops of that batch choose again instead of failing.
	SPOKE_FAULT=link:1:EXDEV "$SPOKE" copy-tree --json --io $io --link-mode hardlink "$TMP/src" "$TMP/x1-$io" >"$TMP/x1.json" 2>/dev/null ||
		fail "$io: link:1:EXDEV failed"
	expect_eq "$(json_get "$TMP/x1.json" failed_attempts)" 1 "$io: link:1 failed attempts"
	expect_eq "$(json_py "$TMP/x1.json" 'len(j["fallbacks"])')" 1 "$io: link:1 transitions"
	expect_eq "$(json_get "$TMP/x1.json" copied)" "$files" "$io: link:1 copied"
	same_tree "$TMP/src" "$TMP/x1-$io"
	# The 37th linkat, deep inside a batch after the probe succeeded: the
	# pair switches to copy there (one failed attempt, one transition);
	# the ops submitted with it stay hardlinks; nothing is lost and
	# nothing is done twice.
	SPOKE_FAULT=link:37:EXDEV "$SPOKE" copy-tree --json --io $io --link-mode hardlink "$TMP/src" "$TMP/x37-$io" >"$TMP/x37.json" 2>/dev/null ||
		fail "$io: link:37:EXDEV failed"
	copied=$(json_get "$TMP/x37.json" copied)
	linked=$(json_get "$TMP/x37.json" hardlinked)
	[ "$copied" -ge 1 ] && [ "$linked" -ge 36 ] || fail "$io: link:37: $linked hardlinked, $copied copied"
	expect_eq $((copied + linked)) "$files" "$io: link:37 hardlinked + copied"
	expect_eq "$(json_get "$TMP/x37.json" failed_attempts)" 1 "$io: link:37 failed attempts"
	expect_eq "$(json_py "$TMP/x37.json" 'len(j["fallbacks"])')" 1 "$io: link:37 transitions"
	expect_eq "$(json_get "$TMP/x37.json" files)" "$files" "$io: link:37 files"
	same_tree "$TMP/src" "$TMP/x37-$io"
	no_temporaries "$TMP/x37-$io"
done
note "faults inside a batch: one transition each, for the probe and after it"

# io_uring refused: --io uring is a clear error, auto carries on with sync.
SPOKE_FAULT=uring:1:EPERM "$SPOKE" copy-tree --io uring "$TMP/src" "$TMP/u1" 2>"$TMP/u1.err" &&
	fail "--io uring succeeded with io_uring refused"
grep -q "io backend" "$TMP/u1.err" && grep -q "Operation not permitted" "$TMP/u1.err" ||
	fail "--io uring refusal message: $(cat "$TMP/u1.err")"
SPOKE_FAULT=uring:1:ENOSYS "$SPOKE" copy-tree --io auto "$TMP/src" "$TMP/u2" 2>"$TMP/u2.err" ||
	fail "--io auto failed with io_uring refused: $(cat "$TMP/u2.err")"
same_tree "$TMP/src" "$TMP/u2"
[ -s "$TMP/u2.err" ] && grep -qi uring "$TMP/u2.err" && fail "auto was not silent: $(cat "$TMP/u2.err")"
# The unpack's writes (cold install, empty cache) on each backend: the same
# cache entries, verified; with uring the small files go in batches, so a
# fault lands on a batch and must still fail the wheel with nothing left.
need_tool python3 py:venv
PY=/usr/bin/python3
$PY "$ROOT/tests/wheels/mkwheels.py" good "$TMP/gen" >/dev/null || fail "mkwheels"
# One version of each name; pip's own wheel for a real shape if Debian has it.
mkdir -p "$TMP/whl"
cp "$TMP"/gen/whl/spoke_edge-2.0-*.whl /usr/share/python-wheels/pip-*.whl "$TMP/whl/" 2>/dev/null ||
	cp "$TMP"/gen/whl/spoke_edge-2.0-*.whl "$TMP/whl/"
for io in sync uring; do
	$PY -m venv --without-pip "$TMP/v-$io" || fail "venv"
	"$SPOKE" install -q --io $io --cache-dir "$TMP/cache-$io" --venv "$TMP/v-$io" "$TMP"/whl/*.whl ||
		fail "cold install on $io failed"
	"$SPOKE" cache verify --cache-dir "$TMP/cache-$io" >/dev/null || fail "$io cache does not verify"
done
for idx in "$TMP"/cache-sync/index-v1/*.whl; do
	key=$(cat "$idx")
	same_tree "$TMP/cache-sync/archive-v2/$key" "$TMP/cache-uring/archive-v2/$key"
done
$PY -m venv --without-pip "$TMP/v-f" || fail "venv"
SPOKE_FAULT=write:3:ENOSPC "$SPOKE" install -q --io uring --cache-dir "$TMP/cache-f" --venv "$TMP/v-f" \
	"$TMP"/whl/*.whl 2>"$TMP/f.err" && fail "install with write:3:ENOSPC succeeded"
grep -q "write: No space left on device" "$TMP/f.err" || fail "write fault message: $(cat "$TMP/f.err")"
[ -z "$(ls -A "$TMP/cache-f/tmp" 2>/dev/null)" ] || fail "temporaries left after the fault"
# auto writes through io_uring, but carries on with plain syscalls when
# io_uring is refused (every ring set-up of the run fails here).
$PY -m venv --without-pip "$TMP/v-a" || fail "venv"
SPOKE_FAULT=uring:1:ENOSYS,uring:2:ENOSYS,uring:3:ENOSYS,uring:4:ENOSYS "$SPOKE" install -q --io auto \
	--cache-dir "$TMP/cache-a" --venv "$TMP/v-a" "$TMP"/whl/*.whl 2>"$TMP/a.err" ||
	fail "auto cold install with io_uring refused: $(cat "$TMP/a.err")"
for idx in "$TMP"/cache-sync/index-v1/*.whl; do
	key=$(cat "$idx")
	same_tree "$TMP/cache-sync/archive-v2/$key" "$TMP/cache-a/archive-v2/$key"
done
note "cold install (unpack writes) on sync, uring and auto without io_uring: same entries; a fault in a batch fails cleanly"
echo "t_iobackends: all checks passed"
