/* SPDX-License-Identifier: MIT */
/*
 * txn_ident - the identity records of a transaction (txn.h: txn_creating,
 * txn_made, txn_creating_done): B, I and E batches appended to the journal
 * as objects are made, from any linker worker. Recovery reads them
 * (recover.c) and removes only the objects they name (undo.c); the rules
 * are docs/RELIABILITY.md, "What recovery removes".
 */
#include "engine/txn_int.h"
#include "engine/journal.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

/* Written with one write() each and no fdatasync, from any thread, with
 * nothing allocated (a stack buffer): recovery needs them only after the
 * process died, and the page cache outlives it. After a failed write no
 * record follows (no E), so the phase stays open and recovery judges the
 * unrecorded objects by the time window; records a power cut loses make
 * recovery keep more objects, never fewer. */
#define IDS_PER_RECORD 96 /* "ino:btime " is at most 41 bytes */

/* Append one batch of records; called with imu held. Plain write()s, not
 * fault points: a fault sweep counts the run's own writes, and a failure
 * here fails nothing (see above). */
static void ident_put(struct txn *t, const struct jrec *r, size_t n)
{
	unsigned char buf[JOURNAL_HDR + 3 * 32 + IDS_PER_RECORD * 42];
	size_t len, off = 0;

	if (t->jfd < 0 || t->ibroken || t->broken)
		return;
	if (journal_batch_into(r, n, buf, sizeof(buf), &len)) {
		t->ibroken = 1;
		return;
	}
	while (off < len) {
		ssize_t w = write(t->jfd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			t->ibroken = 1;
			return;
		}
		off += (size_t)w;
	}
}

static void ident_mark(struct txn *t, char type)
{
	struct jrec r = { .type = type };

	pthread_mutex_lock(&t->imu);
	ident_put(t, &r, 1);
	pthread_mutex_unlock(&t->imu);
}

void txn_creating(struct txn *t)
{
	ident_mark(t, 'B');
}

void txn_creating_done(struct txn *t)
{
	ident_mark(t, 'E');
}

void txn_made(struct txn *t, const struct objid *ids, size_t n)
{
	char list[IDS_PER_RECORD * 42], dev[24];
	struct jrec r = { .type = 'I', .f = { dev, list } };

	pthread_mutex_lock(&t->imu);
	for (size_t i = 0; i < n;) {
		uint64_t d = ids[i].dev;
		size_t len = 0;

		/* one record per run of objects on the same device */
		snprintf(dev, sizeof(dev), "%llu", (unsigned long long)d);
		list[0] = '\0';
		for (size_t k = 0; i < n && k < IDS_PER_RECORD &&
		     ids[i].dev == d; i++, k++)
			len += (size_t)snprintf(list + len, sizeof(list) - len,
						"%s%llu:%lld", k ? " " : "",
						(unsigned long long)ids[i].ino,
						(long long)ids[i].btime);
		ident_put(t, &r, 1);
	}
	pthread_mutex_unlock(&t->imu);
}
