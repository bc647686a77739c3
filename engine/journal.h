/* SPDX-License-Identifier: MIT */
/*
 * journal - the on-disk format of <home>/.spoke-journal, both directions,
 * and nothing else: no files, no environment, so a fuzz target can feed the
 * parser any bytes (tests/fuzz/fuzz_journal.c). engine/txn.c writes with
 * journal_batch(); recovery (engine/recover.c) reads with journal_parse()
 * and decides what the records mean.
 *
 * A journal is a sequence of batches, each "SPKJ", the payload length (u32
 * LE), the FNV-1a 64 hash of the payload (u64 LE), the payload. A payload
 * is records: a type byte and its NUL-terminated strings, as many as the
 * type has (journal_nfields). Paths never hold NUL, so nothing is quoted.
 * The records and the rule for what may follow the last complete batch
 * are in docs/RELIABILITY.md ("The journal").
 */
#ifndef SPOKE_ENGINE_JOURNAL_H
#define SPOKE_ENGINE_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_MAGIC "SPKJ"
#define JOURNAL_HDR 16 /* magic, length, hash */
#define JOURNAL_FIELDS_MAX 8

/* One record; the strings point into the caller's (encode) or the parsed
 * buffer (parse). */
struct jrec {
	char type;
	const char *f[JOURNAL_FIELDS_MAX];
};

/* How many strings a record of this type carries; -1 for an unknown type. */
int journal_nfields(char type);

/* Frame records r[0..n) as one batch in a new buffer (free()): 0, -ENOMEM
 * or -EFBIG (a payload over 4 GiB), -EINVAL for an unknown type. */
int journal_batch(const struct jrec *r, size_t n, unsigned char **out,
		  size_t *len);
/* The same into buf[0..cap), allocating nothing (the identity records a
 * linker worker writes must not depend on the allocator): 0, -ENOSPC
 * when it does not fit, -EINVAL for an unknown type. */
int journal_batch_into(const struct jrec *r, size_t n, unsigned char *buf,
		       size_t cap, size_t *len);

/* What follows the last complete batch. */
enum journal_tail {
	JOURNAL_TAIL_NONE, /* nothing: the journal ends after a batch */
	JOURNAL_TAIL_TORN, /* the start of a batch a crash cut short */
	JOURNAL_TAIL_BAD,  /* anything else: the journal is damaged */
};

struct journal_scan {
	size_t batches;        /* complete batches read */
	size_t used;           /* bytes in them */
	enum journal_tail tail;
	const char *why;       /* for a damaged journal: what is wrong */
};

/* Parse buf: each() is called for every record of every complete batch,
 * in order, with the batch's index; a nonzero return stops the parse and
 * is returned. A record that does not parse inside a batch whose hash
 * holds is damage: -EBADMSG with out->why. Otherwise 0, with out telling
 * how the journal ends; deciding whether that is acceptable is the
 * caller's. */
int journal_parse(const unsigned char *buf, size_t len,
		  int (*each)(void *arg, const struct jrec *r, size_t batch),
		  void *arg, struct journal_scan *out);

#endif
