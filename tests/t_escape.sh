#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# t_escape - every name spoke prints is escaped: a tree whose file name
# holds an escape sequence and a newline reaches stderr, --stats and the
# JSON message as \x1b and \x0a, never as raw bytes that could rewrite the
# terminal or forge a line of output.
. "$(dirname "$0")/lib.sh"
[ -x "$SPOKE" ] || fail "no binary at $SPOKE (run make)"

bad=$'bad\x1b[31mname\nx'
raw() { # raw FILE: 0 if FILE holds an ESC byte or a line that is not ours
	grep -q $'\x1b' "$1" || grep -q '^x' "$1"
}
escaped() { # escaped FILE WHAT
	grep -qF 'bad\x1b[31mname\x0ax' "$1" || fail "$2: no escaped name in: $(cat -A "$1")"
	raw "$1" && fail "$2: raw control bytes printed: $(cat -A "$1")"
	return 0
}

# A failure naming the file: its destination is a non-empty directory.
mkdir -p "$TMP/src" "$TMP/dst/$bad/sub"
echo hi >"$TMP/src/$bad"
echo z >"$TMP/dst/$bad/sub/f"
"$SPOKE" copy-tree "$TMP/src" "$TMP/dst" 2>"$TMP/err" && fail "copy over a directory succeeded"
escaped "$TMP/err" "error message"
"$SPOKE" copy-tree --json "$TMP/src" "$TMP/dst" >"$TMP/out.json" 2>/dev/null && fail "copy over a directory succeeded (json)"
msg=$(json_py "$TMP/out.json" 'j["error"]["message"]')
case $msg in *'bad\x1b[31mname\x0ax'*) ;; *) fail "JSON message not escaped: $msg" ;; esac

# A fallback on that file: the log line and --stats name it escaped.
rm -rf "$TMP/dst"
SPOKE_FAULT=clone:1:EOPNOTSUPP "$SPOKE" copy-tree -v --stats "$TMP/src" "$TMP/dst" 2>"$TMP/err" ||
	fail "fallback run failed: $(cat -A "$TMP/err")"
escaped "$TMP/err" "fallback notice and --stats"
expect_eq "$(grep -c 'bad\\x1b' "$TMP/err")" 2 "lines naming the file (notice, --stats)"
exit 0
