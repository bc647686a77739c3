/* SPDX-License-Identifier: MIT */
/*
 * compat_spec - Requires-Python matching: a PEP 440 version specifier set
 * (==, !=, <=, >=, <, >, ~=, ===, wildcards after == and !=) against the
 * interpreter's version, with pre-releases admitted as pip admits them for
 * Requires-Python. Versions are epoch, release, pre, post and dev; a local
 * label is ignored (an interpreter has none). Enough for every
 * Requires-Python real wheels carry; anything else is -EINVAL, which the
 * caller turns into pip's warning.
 */
#include "engine/compat.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REL_MAX 16

struct ver {
	long epoch, rel[REL_MAX];
	int nrel;
	int pre_kind; /* 0 none, 1 a, 2 b, 3 rc */
	long pre, post, dev; /* post, dev: -1 when absent */
};

static int num(const char **s, long *out)
{
	char *end;

	if (!isdigit((unsigned char)**s))
		return -EINVAL;
	errno = 0;
	*out = strtol(*s, &end, 10);
	if (errno || *out > 1000000000L)
		return -EINVAL;
	*s = end;
	return 0;
}

/* Optional separator, then an optional number (0 when absent). */
static long sep_num(const char **s)
{
	long n = 0;

	if (**s == '.' || **s == '-' || **s == '_')
		if (isdigit((unsigned char)(*s)[1]))
			(*s)++;
	if (isdigit((unsigned char)**s))
		num(s, &n);
	return n;
}

static int word(const char **s, const char *w)
{
	size_t n = strlen(w);

	if (strncasecmp(*s, w, n) != 0)
		return 0;
	*s += n;
	return 1;
}

/* Parse v (whitespace trimmed by the caller, length len). *wild is set
 * when it ends in ".*" (only for == and !=). */
static int ver_parse(const char *v, size_t len, struct ver *out, int *wild)
{
	char buf[128];
	const char *s = buf;
	long n;

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, v, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	out->post = out->dev = -1;
	*wild = 0;
	if (*s == 'v' || *s == 'V')
		s++;
	if (num(&s, &n))
		return -EINVAL;
	if (*s == '!') {
		out->epoch = n;
		s++;
		if (num(&s, &n))
			return -EINVAL;
	}
	out->rel[out->nrel++] = n;
	while (*s == '.' && isdigit((unsigned char)s[1])) {
		s++;
		if (num(&s, &n) || out->nrel == REL_MAX)
			return -EINVAL;
		out->rel[out->nrel++] = n;
	}
	if (strcmp(s, ".*") == 0) {
		*wild = 1;
		return 0;
	}
	if (*s == '.' || *s == '-' || *s == '_')
		if (isalpha((unsigned char)s[1]))
			s++;
	if (word(&s, "alpha") || word(&s, "a"))
		out->pre_kind = 1;
	else if (word(&s, "beta") || word(&s, "b"))
		out->pre_kind = 2;
	else if (word(&s, "rc") || word(&s, "c") || word(&s, "preview") ||
		 word(&s, "pre"))
		out->pre_kind = 3;
	if (out->pre_kind)
		out->pre = sep_num(&s);
	if (*s == '-' && isdigit((unsigned char)s[1])) {
		s++;
		num(&s, &out->post);
	} else {
		const char *t = s;

		if (*t == '.' || *t == '-' || *t == '_')
			t++;
		if (word(&t, "post") || word(&t, "rev") || word(&t, "r")) {
			s = t;
			out->post = sep_num(&s);
		}
	}
	{
		const char *t = s;

		if (*t == '.' || *t == '-' || *t == '_')
			t++;
		if (word(&t, "dev")) {
			s = t;
			out->dev = sep_num(&s);
		}
	}
	if (*s == '+')
		return 0; /* a local label: ignored */
	return *s ? -EINVAL : 0;
}

static int cmp_long(long a, long b)
{
	return a < b ? -1 : a > b;
}

/* PEP 440 order: dev releases before pre-releases before the release
 * before post-releases; trailing zeros of the release do not count. */
static int ver_cmp(const struct ver *a, const struct ver *b)
{
	int n = a->nrel > b->nrel ? a->nrel : b->nrel, c;
	long pa, pb;

	if ((c = cmp_long(a->epoch, b->epoch)))
		return c;
	for (int i = 0; i < n; i++)
		if ((c = cmp_long(i < a->nrel ? a->rel[i] : 0,
				  i < b->nrel ? b->rel[i] : 0)))
			return c;
	/* pre: none (and no dev-only) sorts after every pre-release */
	pa = a->pre_kind ? a->pre_kind * 1000000000L + a->pre :
	     (a->post < 0 && a->dev >= 0) ? -1 : 4000000000L;
	pb = b->pre_kind ? b->pre_kind * 1000000000L + b->pre :
	     (b->post < 0 && b->dev >= 0) ? -1 : 4000000000L;
	if ((c = cmp_long(pa, pb)))
		return c;
	if ((c = cmp_long(a->post, b->post)))
		return c;
	return cmp_long(a->dev < 0 ? 4000000000L : a->dev,
			b->dev < 0 ? 4000000000L : b->dev);
}

static int same_release(const struct ver *a, const struct ver *b)
{
	struct ver x = *a, y = *b;

	x.pre_kind = y.pre_kind = 0;
	x.post = y.post = x.dev = y.dev = -1;
	return ver_cmp(&x, &y) == 0;
}

/* The first n release segments of v equal those of p (v padded). */
static int prefix_match(const struct ver *v, const struct ver *p, int n)
{
	if (v->epoch != p->epoch)
		return 0;
	for (int i = 0; i < n; i++)
		if ((i < v->nrel ? v->rel[i] : 0) != p->rel[i])
			return 0;
	return 1;
}

static int one_spec(const char *s, size_t len, const struct ver *v,
		    const char *version)
{
	static const char *const ops[] = { "===", "~=", "==", "!=", "<=",
					   ">=", "<", ">" };
	const char *op = NULL;
	struct ver sv;
	int wild, c;

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (len >= strlen(ops[i]) && !strncmp(s, ops[i], strlen(ops[i]))) {
			op = ops[i];
			break;
		}
	if (!op)
		return -EINVAL;
	s += strlen(op);
	len -= strlen(op);
	while (len && isspace((unsigned char)*s))
		s++, len--;
	if (!strcmp(op, "==="))
		return strlen(version) == len && !strncasecmp(s, version, len);
	if (ver_parse(s, len, &sv, &wild))
		return -EINVAL;
	if (wild && strcmp(op, "==") && strcmp(op, "!="))
		return -EINVAL;
	if (wild)
		return prefix_match(v, &sv, sv.nrel) == !strcmp(op, "==");
	c = ver_cmp(v, &sv);
	if (!strcmp(op, "=="))
		return c == 0;
	if (!strcmp(op, "!="))
		return c != 0;
	if (!strcmp(op, "<="))
		return c <= 0;
	if (!strcmp(op, ">="))
		return c >= 0;
	if (!strcmp(op, "<"))
		return c < 0 && !(!sv.pre_kind && v->pre_kind &&
				  same_release(v, &sv));
	if (!strcmp(op, ">"))
		return c > 0 && !(sv.post < 0 && v->post >= 0 &&
				  same_release(v, &sv));
	/* ~=X.Y: >= X.Y and == X.* */
	if (sv.nrel < 2)
		return -EINVAL;
	return c >= 0 && prefix_match(v, &sv, sv.nrel - 1);
}

int compat_spec_match(const char *spec, const char *version)
{
	struct ver v;
	int wild, all = 1;

	if (ver_parse(version, strlen(version), &v, &wild) || wild)
		return -EINVAL;
	while (*spec) {
		const char *end = strchr(spec, ',');
		size_t len = end ? (size_t)(end - spec) : strlen(spec);
		int r;

		while (len && isspace((unsigned char)*spec))
			spec++, len--;
		while (len && isspace((unsigned char)spec[len - 1]))
			len--;
		if (len) {
			r = one_spec(spec, len, &v, version);
			if (r < 0)
				return r;
			all &= r;
		} else if (end) {
			return -EINVAL; /* ">=3.8,,<4" */
		}
		if (!end)
			break;
		spec = end + 1;
	}
	return all;
}
