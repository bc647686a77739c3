/* SPDX-License-Identifier: MIT */
/*
 * name - checks and forms of file names that come from untrusted input (zip
 * entries, RECORD rows, unpacked trees), shared by the cache and the
 * engine so both refuse the same names:
 *   - a name with a control character (C0, DEL, or C1 as UTF-8 U+0080 to
 *     U+009F) is refused: it can rewrite a terminal line or hide a path;
 *   - names are compared after Unicode NFC normalisation, so "é" as one
 *     code point and as "e" + combining accent are the same file, as they
 *     are on a normalising filesystem (utf8proc does the normalisation:
 *     docs/LIBRARIES.md says why a library);
 *   - names are printed escaped, so no message carries raw control bytes.
 */
#ifndef SPOKE_BASE_NAME_H
#define SPOKE_BASE_NAME_H

#include <stddef.h>

/* 1 if s (NUL-terminated) holds a C0 control, DEL or a UTF-8 encoded C1
 * control, else 0. */
int name_has_control(const char *s);

/* 1 if the component s (up to its first '/' or NUL) begins with the ASCII
 * lowercase prefix once case-folded, compatibility-decomposed and stripped
 * of default-ignorable code points: what a case-insensitive filesystem
 * (ext4/f2fs casefold, vfat, a macOS share) may take for the same name, so
 * ".SPOKE-lock" and ".\u017fpoke-lock" (long s) both match ".spoke".
 * Invalid UTF-8 never matches past the bad byte. */
int name_folds_to_prefix(const char *s, const char *prefix);

/* The NFC form of s on the heap, or NULL (ENOMEM, or s is not valid
 * UTF-8: then *invalid is set to 1 when invalid is not NULL). */
char *name_nfc(const char *s, int *invalid);

/* s escaped for a message into out (size n, always NUL-terminated):
 * control bytes and bytes that are not part of valid UTF-8 become \xHH,
 * a backslash becomes "\\". Returns out. */
const char *name_escape(char *out, size_t n, const char *s);

/* The same, but a backslash stays as it is: for a whole message whose names
 * may already be escaped by name_escape() (escaping twice would double
 * their backslashes), where what matters is that no control byte gets
 * through. */
const char *name_escape_controls(char *out, size_t n, const char *s);

#endif
