#!/bin/sh
# SPDX-License-Identifier: MIT
# check-imports.sh CC OBJECT... - fail when a CLI object calls anything but
# spoke_* and the C library. The CLI is the first client of spoke.h: what it
# needs, an embedder needs too, so it may not reach past the header into
# the engine (it links the static library, where hidden symbols are still
# reachable by name). The allowed C library is the one CC links, read with
# nm, not a list kept by hand. Sanitizer runtimes (__asan_*, __ubsan_*,
# __tsan_*) are allowed: instrumented objects call them.
set -eu
export LC_ALL=C
cc=$1
shift
[ $# -gt 0 ] || { echo "check-imports: no objects given" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Every symbol the C library exports: libc, libm, libpthread (empty stub in
# glibc 2.34 and later) and libc_nonshared.a, which libc.so pulls in too.
for lib in libc.so.6 libm.so.6 libpthread.so.0 libc_nonshared.a; do
	path=$("$cc" -print-file-name="$lib")
	[ -e "$path" ] || continue
	case $lib in
	*.a) nm --defined-only "$path" 2>/dev/null ;;
	*) nm -D --defined-only "$path" ;;
	esac
done | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/libc"
[ -s "$tmp/libc" ] || { echo "check-imports: cannot read the C library's symbols ($cc -print-file-name=libc.so.6)" >&2; exit 2; }

# What the CLI objects define among themselves is theirs to call.
nm --defined-only "$@" | awk 'NF >= 3 { print $3 }' | sort -u >"$tmp/own"

bad=0
for obj in "$@"; do
	nm -u "$obj" | awk '{ print $NF }' | sort -u |
		grep -v -e '^spoke_' -e '^__asan_' -e '^__ubsan_' -e '^__tsan_' \
			-e '^__sanitizer_' -e '^_GLOBAL_OFFSET_TABLE_$' |
		comm -23 - "$tmp/libc" | comm -23 - "$tmp/own" >"$tmp/out" || true
	while read -r sym; do
		echo "check-imports: $obj calls '$sym', which is neither spoke_* (spoke.h) nor the C library; the CLI may use only the public API" >&2
		bad=1
	done <"$tmp/out"
done
exit $bad
