/* SPDX-License-Identifier: MIT */
/*
 * zip_names - the name half of the zip reader (see zip.h): whether one name
 * is a safe relative path that can be shown (zip_name_problem), and whether
 * the names of an archive can all exist side by side in one directory tree
 * (zip_check_names): no two equal exactly, after ASCII case folding, or
 * after Unicode NFC normalisation, and no name below a file. Names are
 * checked once, at open, so nothing later has to.
 */
#include "base/errmsg.h"
#include "cache/zip.h"
#include "cache/zip_int.h"
#include "base/alloc.h"
#include "base/name.h"
#include "spoke.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *zip_name_problem(const char *name, size_t len)
{
	size_t i, start = 0, depth = 0;

	if (len == 0)
		return "empty name";
	if (len > ZIP_NAME_MAX)
		return "name too long";
	if (memchr(name, '\0', len))
		return "NUL byte in name";
	if (memchr(name, '\\', len))
		return "backslash in name";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* C0, DEL, and C1 as UTF-8 (U+0080..U+009F = C2 80..C2 9F):
		 * a name that can move a cursor cannot be shown safely. */
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < len &&
		    (unsigned char)name[i + 1] >= 0x80 &&
		    (unsigned char)name[i + 1] <= 0x9f))
			return "control character in name";
	}
	if (name[0] == '/')
		return "absolute path";
	if (len >= 2 && name[1] == ':' &&
	    ((name[0] | 0x20) >= 'a' && (name[0] | 0x20) <= 'z'))
		return "absolute path (drive letter)";
	/* A trailing '/' marks a directory entry; every component before it
	 * must be a real name, so that equal paths are equal strings. */
	if (name[len - 1] == '/')
		len--;
	for (i = 0; i <= len; i++) {
		size_t clen;

		if (i < len && name[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0)
			return "empty path component";
		if (clen == 1 && name[start] == '.')
			return "'.' path component";
		if (clen == 2 && name[start] == '.' && name[start + 1] == '.')
			return "'..' path component";
		if (clen > ZIP_COMPONENT_MAX)
			return "path component too long";
		if (++depth > ZIP_DEPTH_MAX)
			return "path too deep";
		start = i + 1;
	}
	return NULL;
}

/* A rejected name as text: control and non-UTF-8 bytes escaped (base/name),
 * long names cut. */
void zip_show_name(const char *name, size_t len, char *out, size_t outlen)
{
	char cut[200];
	size_t n = len < sizeof(cut) - 1 ? len : sizeof(cut) - 1;

	memcpy(cut, name, n);
	cut[n] = '\0';
	name_escape(out, outlen, cut);
	if (n < len && strlen(out) + 4 <= outlen)
		strcat(out, "...");
}

/* ---- name collisions ---------------------------------------------------- */

static uint64_t fold_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		h = (h ^ c) * 1099511628211ull;
	}
	return h;
}

static int fold_eq(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x |= 0x20;
		if (y >= 'A' && y <= 'Z')
			y |= 0x20;
		if (x != y)
			return 0;
	}
	return 1;
}

/* The form names are compared in: NFC (so that "é" as one code point and
 * as "e" + U+0301 are one file, as on a normalising filesystem), without a
 * directory's trailing '/' (so a file "a" and a directory "a/" meet in the
 * same slot). */
struct cmpname {
	const char *s;		/* the entry's name, or nfc */
	size_t len;
	char *nfc;		/* heap, only for names NFC changes */
};

static long table_find(const struct cmpname *cn, const uint32_t *tab,
		       size_t mask, const char *s, size_t len)
{
	for (size_t h = fold_hash(s, len) & mask;; h = (h + 1) & mask) {
		const struct cmpname *o;

		if (!tab[h])
			return -1;
		o = &cn[tab[h] - 1];
		if (o->len == len && fold_eq(o->s, s, len))
			return (long)tab[h] - 1;
	}
}

static int collide(const struct zip *z, const struct cmpname *cn,
		   const struct zip_entry *a, const struct zip_entry *b,
		   char *err, size_t errlen)
{
	const struct cmpname *ca = &cn[a - z->ent], *cb = &cn[b - z->ent];
	size_t la = a->name_len - a->is_dir, lb = b->name_len - b->is_dir;

	if (la != lb || memcmp(a->name, b->name, la) != 0) {
		if (ca->len == cb->len && !memcmp(ca->s, cb->s, ca->len))
			return errmsg_fail(SPOKE_E_CONFLICT, err, errlen,
				    "%s: %s: name collides with %s after "
				    "Unicode normalisation (NFC)", z->label,
				    a->name, b->name);
		return errmsg_fail(SPOKE_E_CONFLICT, err, errlen,
			    "%s: %s: name collides with %s when case is "
			    "folded", z->label, a->name, b->name);
	}
	if (a->is_dir != b->is_dir)
		return errmsg_fail(SPOKE_E_CONFLICT, err, errlen,
			    "%s: %s: both a file and a directory", z->label,
			    a->is_dir ? b->name : a->name);
	return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen, "%s: %s: duplicate entry",
		    z->label, a->name);
}

static int is_ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return 0;
	return 1;
}

/* cn[i] for every entry; names that are not UTF-8 are refused here (they
 * cannot be normalised, compared or shown faithfully). */
static int cmpnames(const struct zip *z, struct cmpname *cn, char *err,
		    size_t errlen)
{
	for (size_t i = 0; i < z->n; i++) {
		const struct zip_entry *e = &z->ent[i];
		int invalid = 0;

		cn[i].s = e->name;
		cn[i].len = e->name_len - e->is_dir;
		if (is_ascii(e->name, e->name_len))
			continue;
		cn[i].nfc = name_nfc(e->name, &invalid);
		if (!cn[i].nfc && invalid) {
			char shown[256];

			zip_show_name(e->name, e->name_len, shown, sizeof(shown));
			return errmsg_fail(SPOKE_E_UNSAFE_PATH, err, errlen,
				    "%s: %s: name is not valid UTF-8",
				    z->label, shown);
		}
		if (!cn[i].nfc)
			return errmsg_fail(-ENOMEM, err, errlen,
				    "%s: out of memory", z->label);
		cn[i].s = cn[i].nfc;
		cn[i].len = strlen(cn[i].nfc) - e->is_dir;
	}
	return 0;
}

int zip_check_names(const struct zip *z, char *err, size_t errlen)
{
	size_t cap = 16, mask, i;
	struct cmpname *cn;
	uint32_t *tab;
	int ret = 0;

	while (cap < z->n * 2)
		cap <<= 1;
	mask = cap - 1;
	tab = xcalloc(cap, sizeof(*tab));
	cn = xcalloc(z->n ? z->n : 1, sizeof(*cn));
	if (!tab || !cn) {
		ret = errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory",
			    z->label);
		goto out;
	}
	ret = cmpnames(z, cn, err, errlen);
	if (ret)
		goto out;
	for (i = 0; i < z->n; i++) {
		long o = table_find(cn, tab, mask, cn[i].s, cn[i].len);
		size_t h;

		if (o >= 0) {
			ret = collide(z, cn, &z->ent[i], &z->ent[o], err,
				      errlen);
			goto out;
		}
		for (h = fold_hash(cn[i].s, cn[i].len) & mask; tab[h];
		     h = (h + 1) & mask)
			;
		tab[h] = (uint32_t)i + 1;
	}
	/* Every parent of every entry must not be a file. NFC never joins
	 * anything across a '/', so a prefix of the normalised name is the
	 * normalised parent. */
	for (i = 0; i < z->n; i++) {
		for (size_t k = 0; k < cn[i].len; k++) {
			long o;

			if (cn[i].s[k] != '/')
				continue;
			o = table_find(cn, tab, mask, cn[i].s, k);
			if (o >= 0 && !z->ent[o].is_dir) {
				ret = errmsg_fail(SPOKE_E_CONFLICT, err, errlen,
					   "%s: %s: parent %s is a file",
					   z->label, z->ent[i].name,
					   z->ent[o].name);
				goto out;
			}
		}
	}
out:
	for (i = 0; cn && i < z->n; i++)
		free(cn[i].nfc);
	free(cn);
	free(tab);
	return ret;
}
