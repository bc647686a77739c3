/* SPDX-License-Identifier: MIT */
/*
 * strmap - a string-keyed open-addressing hash map (FNV-1a, linear probing,
 * power-of-two capacity). Keys are copied (and live until strmap_free);
 * each entry carries an owner index and a kind that its user defines.
 */
#ifndef SPOKE_BASE_STRMAP_H
#define SPOKE_BASE_STRMAP_H

#include <stddef.h>

struct strmap_ent {
	char *key;
	int owner; /* the user's: a wheel index, say */
	int kind;  /* the user's: what the key names */
};

struct strmap_chunk;

/* All zero is an empty map. */
struct strmap {
	struct strmap_ent *slots;
	size_t cap, n;
	struct strmap_chunk *chunks; /* where the keys are */
};

/* Insert key (copied) unless present; *ent is the (new or old) entry and
 * the return is 1 when it was new, 0 when present, -ENOMEM. */
int strmap_put(struct strmap *m, const char *key, struct strmap_ent **ent);
struct strmap_ent *strmap_get(const struct strmap *m, const char *key);
void strmap_free(struct strmap *m);

#endif
