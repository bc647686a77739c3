/* SPDX-License-Identifier: MIT */
/*
 * strmap - see strmap.h. Keys are packed into 64 KiB chunks, each after the
 * 32-bit hash it was placed by: no malloc header per key, growing never
 * hashes a key again, and a probe compares hashes before strings (the
 * paths a run keeps share long prefixes, which strcmp would scan on every
 * collision). That lets the table fill to 3/4 before doubling. Keys may
 * also be made ahead, on other threads (strmap_keys_add), and entered
 * without a copy: an install's layouts find its 100,000 destinations on a
 * pool, and the map of them adopts the memory they were listed in.
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

static int strmap_resize(struct strmap *m, size_t cap)
{
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

static int strmap_grow(struct strmap *m)
{
	return strmap_resize(m, m->cap ? m->cap * 2 : 256);
}

int strmap_reserve(struct strmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 256;

	while (n * 4 > cap * 3)
		cap *= 2;
	return cap > m->cap ? strmap_resize(m, cap) : 0;
}

static int put(struct strmap *m, const char *key, uint32_t h, int copy,
	       struct strmap_ent **ent)
{
	size_t j;

	if ((m->n + 1) * 4 > m->cap * 3 && strmap_grow(m))
		return -ENOMEM;
	if ((*ent = find(m, key, h, &j)))
		return 0;
	if (!copy)
		m->slots[j].key = (char *)key;
	else if (!(m->slots[j].key = key_copy(m, key, h)))
		return -ENOMEM;
	m->n++;
	*ent = &m->slots[j];
	return 1;
}

int strmap_put(struct strmap *m, const char *key, struct strmap_ent **ent)
{
	return put(m, key, hash_str(key), 1, ent);
}

int strmap_put_made(struct strmap *m, const char *key,
		    struct strmap_ent **ent)
{
	return put(m, key, key_hash(key), 0, ent);
}

/* A chunk with room for need bytes. */
static struct strmap_chunk *chunk_new(size_t need)
{
	size_t size = need > CHUNK_SIZE ? need : CHUNK_SIZE;
	struct strmap_chunk *c = xmalloc(sizeof(*c) + size);

	if (c) {
		c->next = NULL;
		c->used = 0;
		c->size = size;
	}
	return c;
}

char *strmap_keys_add(struct strmap_keys *ks, const char *key, size_t extra)
{
	uint32_t h = hash_str(key);
	size_t len = strlen(key), need = sizeof(h) + len + 1 + extra;
	struct strmap_chunk *c = ks->tail;
	char *p;

	if (!c || c->size - c->used < need) {
		if (!(c = chunk_new(need)))
			return NULL;
		if (ks->tail)
			ks->tail->next = c;
		else
			ks->head = c;
		ks->tail = c;
	}
	p = c->data + c->used;
	c->used += need;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), key, len + 1);
	return p + sizeof(h);
}

const char *strmap_keys_next(const struct strmap_keys *ks,
			     struct strmap_keys_it *it, size_t extra)
{
	const char *key;

	if (!it->c) {
		it->c = ks->head;
		it->off = 0;
	}
	while (it->c && it->off >= it->c->used) {
		it->c = it->c->next;
		it->off = 0;
	}
	if (!it->c)
		return NULL;
	key = it->c->data + it->off + sizeof(uint32_t);
	it->off += sizeof(uint32_t) + strlen(key) + 1 + extra;
	return key;
}

void strmap_adopt(struct strmap *m, struct strmap_keys *ks)
{
	if (!ks->head)
		return;
	/* After the map's current chunk, which key_copy goes on filling. */
	if (m->chunks) {
		ks->tail->next = m->chunks->next;
		m->chunks->next = ks->head;
	} else {
		m->chunks = ks->head;
	}
	ks->head = ks->tail = NULL;
}

void strmap_keys_free(struct strmap_keys *ks)
{
	while (ks->head) {
		struct strmap_chunk *c = ks->head;

		ks->head = c->next;
		free(c);
	}
	ks->tail = NULL;
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
