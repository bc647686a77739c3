/* SPDX-License-Identifier: MIT */
/* arena - see arena.h. */
#include "base/arena.h"
#include "base/alloc.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)

struct arena_block {
	struct arena_block *next;
	size_t size;
	_Alignas(16) unsigned char data[];
};

void arena_init(struct arena *a)
{
	a->head = NULL;
	a->used = 0;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b;

	n = (n + 15) & ~(size_t)15;
	if (!a->head || a->used + n > a->head->size) {
		size_t size = n > BLOCK_SIZE ? n : BLOCK_SIZE;

		b = xmalloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->next = a->head;
		b->size = size;
		a->head = b;
		a->used = 0;
	}
	a->used += n;
	return a->head->data + a->used - n;
}

char *arena_strdup(struct arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = arena_alloc(a, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void arena_reset(struct arena *a)
{
	struct arena_block *b, *next;

	if (!a->head)
		return;
	for (b = a->head->next; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head->next = NULL;
	a->used = 0;
}

void arena_free(struct arena *a)
{
	struct arena_block *b, *next;

	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
	a->used = 0;
}
