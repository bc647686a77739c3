/* SPDX-License-Identifier: MIT */
/* strmap - see strmap.h. */
#include "base/strmap.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int strmap_grow(struct strmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 256;
	struct strmap_ent *slots = xcalloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->slots[i].key)
			continue;
		j = hash_str(m->slots[i].key) & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int strmap_put(struct strmap *m, const char *key, struct strmap_ent **ent)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && strmap_grow(m))
		return -ENOMEM;
	j = hash_str(key) & (m->cap - 1);
	while (m->slots[j].key) {
		if (strcmp(m->slots[j].key, key) == 0) {
			*ent = &m->slots[j];
			return 0;
		}
		j = (j + 1) & (m->cap - 1);
	}
	if (!(m->slots[j].key = xstrdup(key)))
		return -ENOMEM;
	m->n++;
	*ent = &m->slots[j];
	return 1;
}

struct strmap_ent *strmap_get(const struct strmap *m, const char *key)
{
	size_t j;

	if (!m || !m->cap)
		return NULL;
	j = hash_str(key) & (m->cap - 1);
	while (m->slots[j].key) {
		if (strcmp(m->slots[j].key, key) == 0)
			return &m->slots[j];
		j = (j + 1) & (m->cap - 1);
	}
	return NULL;
}

void strmap_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

