#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_cli_imports - the build's boundary check (cli/check-imports.sh) can
# fail: an object calling an engine internal is refused with the symbol
# named, one calling only spoke_* and libc passes, and so do the CLI
# objects of this build. Also that the CLI compiles with include/ alone.
. "$(dirname "$0")/lib.sh"
need_tool cc nm
CHECK=$ROOT/cli/check-imports.sh

cat >"$TMP/good.c" <<'C'
#include "spoke.h"
#include <stdio.h>
int good(void) { printf("%s\n", spoke_version()); return spoke_version_number(); }
C
cat >"$TMP/bad.c" <<'C'
#include "spoke.h"
void *xmalloc(unsigned long n); /* base/alloc.h, hidden in the library */
int bad(void) { return xmalloc(16) != NULL && spoke_version_number() > 0; }
C
cc -std=c11 -I"$ROOT/include" -c "$TMP/good.c" -o "$TMP/good.o" || fail "cannot compile good.c"
cc -std=c11 -I"$ROOT/include" -c "$TMP/bad.c" -o "$TMP/bad.o" || fail "cannot compile bad.c"

"$CHECK" cc "$TMP/good.o" 2>"$TMP/good.err" || fail "an object using spoke_* and printf is refused: $(cat "$TMP/good.err")"
if "$CHECK" cc "$TMP/good.o" "$TMP/bad.o" 2>"$TMP/bad.err"; then
	fail "an object calling xmalloc passed the check"
fi
grep -q "bad.o calls 'xmalloc'" "$TMP/bad.err" || fail "the refusal does not name the symbol: $(cat "$TMP/bad.err")"
grep -q "good.o" "$TMP/bad.err" && fail "the good object was blamed too: $(cat "$TMP/bad.err")"

# The real CLI objects pass (sanitizer builds call their runtime).
objs=("$BUILD"/obj/cli/*.o)
[ -e "${objs[0]}" ] || skip "no CLI objects in $BUILD/obj/cli (run make)"
"$CHECK" cc "${objs[@]}" || fail "this build's CLI objects call past spoke.h"

# The CLI sources compile with include/ on the include path and nothing else.
for c in "$ROOT"/cli/*.c; do
	cc -std=c11 -D_GNU_SOURCE -Wall -Werror -I"$ROOT/include" -fsyntax-only "$c" ||
		fail "$(basename "$c") needs more than include/ to compile"
done
exit 0
