/* SPDX-License-Identifier: MIT */
/*
 * strmap - see strmap.h. Keys are packed into 64 KiB chunks, each after the
 * 32-bit hash it was placed by: no malloc header per key, growing never
 * hashes a key again, and a probe compares hashes before strings (the
 * paths a run keeps share long prefixes, which strcmp would scan on every
 * collision). That lets the table fill to 3/4 before doubling: a 100,000
 * file install keeps two such maps of every destination.
 */
#include "base/strmap.h"
#include "base/alloc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_SIZE 65536

struct strmap_chunk {
	struct strmap_chunk *next;
	size_t used, size;
	char data[];
};

static uint32_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32));
}

static uint32_t key_hash(const char *key)
{
	uint32_t h;

	memcpy(&h, key - sizeof(h), sizeof(h));
	return h;
}

static char *key_copy(struct strmap *m, const char *key, uint32_t h)
{
	size_t need = sizeof(h) + strlen(key) + 1;
	struct strmap_chunk *c = m->chunks;
	char *p;

	if (!c || c->size - c->used < need) {
		size_t size = need > CHUNK_SIZE ? need : CHUNK_SIZE;

		if (!(c = xmalloc(sizeof(*c) + size)))
			return NULL;
		c->next = m->chunks;
		c->used = 0;
		c->size = size;
		m->chunks = c;
	}
	p = c->data + c->used;
	c->used += need;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), key, need - sizeof(h));
	return p + sizeof(h);
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
		j = key_hash(m->slots[i].key) & (cap - 1);
		while (slots[j].key)
			j = (j + 1) & (cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

static struct strmap_ent *find(const struct strmap *m, const char *key,
			       uint32_t h, size_t *slot)
{
	size_t j = h & (m->cap - 1);

	while (m->slots[j].key) {
		if (key_hash(m->slots[j].key) == h &&
		    strcmp(m->slots[j].key, key) == 0)
			return &m->slots[j];
		j = (j + 1) & (m->cap - 1);
	}
	*slot = j;
	return NULL;
}

int strmap_put(struct strmap *m, const char *key, struct strmap_ent **ent)
{
	uint32_t h = hash_str(key);
	size_t j;

	if ((m->n + 1) * 4 > m->cap * 3 && strmap_grow(m))
		return -ENOMEM;
	if ((*ent = find(m, key, h, &j)))
		return 0;
	if (!(m->slots[j].key = key_copy(m, key, h)))
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
	return find(m, key, hash_str(key), &j);
}

void strmap_free(struct strmap *m)
{
	while (m->chunks) {
		struct strmap_chunk *c = m->chunks;

		m->chunks = c->next;
		free(c);
	}
	free(m->slots);
	memset(m, 0, sizeof(*m));
}
