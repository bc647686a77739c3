/* SPDX-License-Identifier: MIT */
/*
 * txn_int - the transaction's state, shared by its three halves: recording
 * (engine/txn.c), undo and finish (engine/undo.c) and recovery
 * (engine/recover.c). Nothing else includes this.
 */
#ifndef SPOKE_ENGINE_TXN_INT_H
#define SPOKE_ENGINE_TXN_INT_H

#include "engine/txn.h"
#include "base/dirfd.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define TXN_FORMAT "3"
#define TXN_FORMAT_OLD "2" /* no identities: recovery uses the time window */
#define TXN_BEAT_MS 200
#define TXN_JOURNAL_MAX (1LL << 30)
/* Slack around the run's lifetime for timestamp granularity and one beat. */
#define TXN_GRACE_NS 2000000000LL

struct ent {
	char type;
	int bdir;    /* M: index into bd */
	size_t idx;  /* recording order: a stable tie-break when sorting */
	char *path;
	char *backup; /* M */
};

struct bdir {
	char *path;
	dev_t dev;
	int fd; /* -1 until made (forward) or opened (undo) */
	int made; /* forward: this run created it (a rollback touches no other) */
};

struct rootdev {
	const char *root; /* a scheme root string (owned by the scheme) */
	int bdir;
};

struct txn {
	spoke_ctx *ctx;
	const struct scheme *s;
	const char *home;
	char *jpath;
	int jfd;
	int broken;       /* a journal write failed: write nothing more */
	int own;          /* the journal is this txn's (made or replayed) */
	long pid;         /* of the writer (for its temporaries) */
	struct ent *e;
	size_t n, cap, synced;
	struct bdir *bd;
	size_t nbd;
	struct rootdev *rd;
	size_t nrd;
	int committed;
	size_t nparsed;   /* recovery: records of the first batch read */
	uint64_t restored, removed;
	struct dirfd_cache dc; /* undo's last parent directory */
	char runid[17];
	int64_t start_ns;  /* when the run began (header) */
	/* heartbeat (txn.c) */
	pthread_t beat;
	pthread_mutex_t beat_mu;
	pthread_cond_t beat_cv;
	int beat_on, beat_stop;
	/* recovery: only paths whose change time lies in [win_lo, win_hi],
	 * or that this recovery itself touched (> now_ns), are the killed
	 * run's to remove (0: in-process rollback, no check) */
	int64_t win_lo, win_hi, now_ns;
	/* objects the run found in its way (another writer's, made between
	 * classifying a path and creating it): never the run's to remove */
	pthread_mutex_t foreign_mu;
	struct { dev_t dev; ino_t ino; } *foreign;
	size_t nforeign;
	/* identities (txn_made): writes to jfd after its creation hold imu;
	 * ibroken: one failed, so the phase is never closed (no E) */
	pthread_mutex_t imu;
	int ibroken;
	/* recovery: the identities the journal records (sorted by dev, ino),
	 * whether it has any (format 3), and whether it ends in a creating
	 * phase (B without E): then an unrecorded object may be the run's */
	struct objid *ids;
	size_t nids, capids;
	int identity, open_phase;
	uint64_t kept;     /* paths left because they were not the run's */
	char kept_first[PATH_MAX];
};

/* txn.c */
struct txn *txn_new(spoke_ctx *ctx, const struct scheme *s);
void txn_free(struct txn *t);
long txn_add(struct txn *t, char type, const char *path, const char *backup,
	     int bdir);
int txn_nomem(struct txn *t);
char *txn_join(const char *a, const char *b);

int64_t txn_now_ns(void);
void txn_beat_start(struct txn *t);
void txn_beat_stop(struct txn *t);

/* Order of objids by device, then inode (recovery's lookup). */
int txn_objid_cmp(const void *a, const void *b);

/* undo.c: 0 when all is done (journal removed), else 1 (journal kept). */
int txn_undo(struct txn *t, int temps);
int txn_finish(struct txn *t);
/* Close and (when it is this txn's) delete the journal: 0, or 1. */
int txn_drop_journal(struct txn *t);
/* The scheme root that holds path's parent, or NULL. */
const char *txn_outer_root(const struct scheme *s, const char *path);

#endif
