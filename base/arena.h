/* SPDX-License-Identifier: MIT */
/*
 * arena - a bump allocator owned by one worker. Directory nodes, chunk name
 * lists and symlink targets come from here, so the walk makes one malloc per
 * 64 KiB of them instead of one per file, and frees them all at once.
 */
#ifndef SPOKE_ENGINE_ARENA_H
#define SPOKE_ENGINE_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head;
	size_t used;
};

void arena_init(struct arena *a);
void *arena_alloc(struct arena *a, size_t n); /* 16-aligned; NULL on ENOMEM */
char *arena_strdup(struct arena *a, const char *s);
/* Forget everything but keep the first block for reuse. */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
