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
/* Room for n keys without growing: 0 or -ENOMEM. */
int strmap_reserve(struct strmap *m, size_t n);

/* Keys made ahead of their map: copied and hashed where they are found
 * (on any thread, one list per thread), then entered without a copy by
 * whoever owns the map, which adopts their memory. Each key may carry
 * `extra` bytes of the caller's after its NUL. */
struct strmap_keys {
	struct strmap_chunk *head, *tail;
};
struct strmap_keys_it {
	const struct strmap_chunk *c;
	size_t off;
};
/* Append key: its copy (followed by extra bytes), or NULL (no memory). */
char *strmap_keys_add(struct strmap_keys *ks, const char *key, size_t extra);
/* The keys of ks in the order added: it zeroed first; NULL at the end.
 * extra as given to strmap_keys_add. */
const char *strmap_keys_next(const struct strmap_keys *ks,
			     struct strmap_keys_it *it, size_t extra);
/* strmap_put of a key from strmap_keys_add, not copied: it must be in a
 * list the map adopts (strmap_adopt) or that outlives the map. */
int strmap_put_made(struct strmap *m, const char *key,
		    struct strmap_ent **ent);
/* The map takes ks's memory (freed by strmap_free); ks is left empty. */
void strmap_adopt(struct strmap *m, struct strmap_keys *ks);
void strmap_keys_free(struct strmap_keys *ks);

#endif
