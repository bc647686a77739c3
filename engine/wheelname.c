/* SPDX-License-Identifier: MIT */
/*
 * wheelname - see wheelname.h. The parts are split at '-', which neither a
 * name nor a version may hold in a file name (both escape it as '_'), so
 * five parts mean no build tag and six mean one.
 */
#include "engine/wheelname.h"
#include "engine/wheel.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WHL_SUFFIX ".whl"

int wheelname_parse(const char *file, struct wheelname *out)
{
	const char *base = strrchr(file, '/');
	const char *part[6];
	size_t len, n = 0;
	char *p;

	memset(out, 0, sizeof(*out));
	base = base ? base + 1 : file;
	len = strlen(base);
	if (len <= strlen(WHL_SUFFIX) ||
	    strcmp(base + len - strlen(WHL_SUFFIX), WHL_SUFFIX))
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)base[i];

		/* pip's pattern excludes white space; controls never. */
		if (c <= 0x20 || c == 0x7f)
			return -EINVAL;
	}
	out->buf = xstrndup(base, len - strlen(WHL_SUFFIX));
	if (!out->buf)
		return -ENOMEM;
	for (p = out->buf;; p++) {
		if (n == 6)
			goto bad;
		part[n++] = p;
		p = strchr(p, '-');
		if (!p)
			break;
		*p = '\0';
	}
	if (n < 5)
		goto bad;
	for (size_t i = 0; i < n; i++)
		if (!*part[i])
			goto bad;
	out->name = part[0];
	out->version = part[1];
	if (n == 6) {
		out->build = part[2];
		if (*out->build < '0' || *out->build > '9')
			goto bad;
	}
	out->python = part[n - 3];
	out->abi = part[n - 2];
	out->platform = part[n - 1];
	return 0;
bad:
	wheelname_free(out);
	return -EINVAL;
}

void wheelname_free(struct wheelname *wn)
{
	free(wn->buf);
	memset(wn, 0, sizeof(*wn));
}

static int version_eq(const char *a, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; a[i] && i < blen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		x = x == '-' ? '_' : (x >= 'A' && x <= 'Z' ? x | 0x20 : x);
		y = y == '-' ? '_' : (y >= 'A' && y <= 'Z' ? y | 0x20 : y);
		if (x != y)
			return 0;
	}
	return !a[i] && i == blen;
}

int wheelname_matches(const struct wheelname *wn, const char *distinfo)
{
	const char *suffix = ".dist-info", *dash;
	size_t len = strlen(distinfo), slen = strlen(suffix);
	char *dname, *want, *got;
	int ret;

	if (len <= slen || strcmp(distinfo + len - slen, suffix))
		return 0;
	len -= slen;
	/* The version holds no '-': the last one ends the name. */
	for (dash = distinfo + len; dash > distinfo && dash[-1] != '-';)
		dash--;
	if (dash == distinfo)
		return 0;
	if (!version_eq(wn->version, dash, len - (size_t)(dash - distinfo)))
		return 0;
	dname = xstrndup(distinfo, (size_t)(dash - 1 - distinfo));
	if (!dname)
		return -ENOMEM;
	want = name_normalize(wn->name);
	got = name_normalize(dname);
	ret = want && got ? !strcmp(want, got) : -ENOMEM;
	free(want);
	free(got);
	free(dname);
	return ret;
}
