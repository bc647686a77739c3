/* SPDX-License-Identifier: MIT */
/* pep440 - see pep440.h. Each version is read into a fixed key; the
 * spellings PEP 440 normalises (alpha, c, preview, rev, "-1" for a post
 * release, separators, case) are accepted. */
#include "engine/pep440.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define RELEASE_MAX 16
#define NONE_LOW  (-1)        /* an absent post-release sorts first */
#define NONE_HIGH INT64_MAX   /* an absent pre- or dev-release sorts last */

struct vkey {
	int64_t epoch;
	int64_t rel[RELEASE_MAX];
	int nrel;
	int64_t pre_kind, pre_n; /* kind 0 a, 1 b, 2 rc */
	int64_t post, dev;
	const char *local;       /* after '+', or "" */
};

static int num(const char **s, int64_t *out)
{
	int64_t v = 0;

	if (!isdigit((unsigned char)**s))
		return 0;
	for (; isdigit((unsigned char)**s); (*s)++) {
		if (v > (INT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (**s - '0');
	}
	*out = v;
	return 1;
}

static void sep(const char **s)
{
	if (**s == '.' || **s == '-' || **s == '_')
		(*s)++;
}

/* Match one of the words at *s (case-insensitively) and step over it. */
static int word(const char **s, const char *const *words)
{
	for (int i = 0; words[i]; i++) {
		size_t n = strlen(words[i]);

		if (!strncasecmp(*s, words[i], n) &&
		    !isalpha((unsigned char)(*s)[n])) {
			*s += n;
			return 1;
		}
	}
	return 0;
}

/* An optional separator, a word, an optional separator and number. */
static int suffix(const char **s, const char *const *words, int64_t *n)
{
	const char *p = *s;

	sep(&p);
	if (!word(&p, words))
		return 0;
	*n = 0;
	{
		const char *q = p;

		sep(&q);
		if (num(&q, n) > 0)
			p = q;
	}
	*s = p;
	return 1;
}

static int parse(const char *s, struct vkey *k)
{
	static const char *const pre_a[] = { "alpha", "a", NULL };
	static const char *const pre_b[] = { "beta", "b", NULL };
	static const char *const pre_rc[] = { "rc", "c", "preview", "pre",
					      NULL };
	static const char *const post[] = { "post", "rev", "r", NULL };
	static const char *const dev[] = { "dev", NULL };
	const char *p;
	int64_t n;

	memset(k, 0, sizeof(*k));
	k->pre_kind = k->pre_n = k->dev = NONE_HIGH;
	k->post = NONE_LOW;
	k->local = "";
	while (isspace((unsigned char)*s))
		s++;
	if (*s == 'v' || *s == 'V')
		s++;
	p = s;
	if (num(&p, &n) > 0 && *p == '!') {
		k->epoch = n;
		s = p + 1;
	}
	do {
		if (k->nrel == RELEASE_MAX || num(&s, &k->rel[k->nrel]) <= 0)
			return -1;
		k->nrel++;
	} while (*s == '.' && isdigit((unsigned char)s[1]) && s++);
	while (k->nrel > 1 && k->rel[k->nrel - 1] == 0)
		k->nrel--;
	if (suffix(&s, pre_a, &k->pre_n))
		k->pre_kind = 0;
	else if (suffix(&s, pre_b, &k->pre_n))
		k->pre_kind = 1;
	else if (suffix(&s, pre_rc, &k->pre_n))
		k->pre_kind = 2;
	if (!suffix(&s, post, &k->post) && *s == '-' &&
	    isdigit((unsigned char)s[1])) {
		s++;
		num(&s, &k->post);
	}
	if (suffix(&s, dev, &k->dev) && k->pre_kind == NONE_HIGH &&
	    k->post == NONE_LOW)
		k->pre_kind = -1; /* 1.0.dev1 sorts before 1.0a1 */
	if (*s == '+')
		k->local = s + 1;
	else if (*s && !isspace((unsigned char)*s))
		return -1;
	return 0;
}

static int cmp64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int pep440_cmp(const char *a, const char *b)
{
	struct vkey x, y;
	int c;

	if (parse(a, &x) || parse(b, &y))
		return strcmp(a, b);
	if ((c = cmp64(x.epoch, y.epoch)))
		return c;
	for (int i = 0; i < x.nrel || i < y.nrel; i++)
		if ((c = cmp64(i < x.nrel ? x.rel[i] : 0,
			       i < y.nrel ? y.rel[i] : 0)))
			return c;
	if ((c = cmp64(x.pre_kind, y.pre_kind)) || (c = cmp64(x.pre_n, y.pre_n)) ||
	    (c = cmp64(x.post, y.post)) || (c = cmp64(x.dev, y.dev)))
		return c;
	return strcmp(x.local, y.local);
}
