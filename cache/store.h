/* SPDX-License-Identifier: MIT */
/*
 * store - the on-disk wheel cache (layout in docs/CACHE.md):
 *
 *   <root>/archive-v2/<key>/      the unpacked contents of one wheel, where
 *                                 key = lowercase hex sha256 of the .whl
 *                                 bytes, verified against RECORD;
 *                                 immutable once published
 *   <root>/archive-v2/<key>.unverified/  the same, added without
 *                                 verification (served only to callers
 *                                 that do not verify)
 *   <root>/index-v1/<wheel name>  "<key>\n": wheel file name -> entry
 *   <root>/tmp/<key>.<pid>.<rand> unpacks in progress (and removals)
 *   <root>/.trash-*.<pid>.<rand>  directories being removed by clean
 *
 * Publishing is one rename(2) of a fully unpacked and verified temporary
 * directory, so readers see an entry whole or not at all and concurrent
 * adders of the same wheel need no lock: the first rename wins and the
 * others discard their copy. Every call takes the store and reports through
 * (err, errlen) a message naming the wheel or entry, the path and the reason.
 */
#ifndef SPOKE_CACHE_STORE_H
#define SPOKE_CACHE_STORE_H

#include "cache/unpack.h"

#include <stddef.h>
#include <time.h>

#define STORE_KEY_LEN 64
/* The archive directory; -v2 since entries record whether they were
 * verified (a -v1 entry may have been added unverified and cannot say). */
#define STORE_ARCHIVE "archive-v2"
/* Suffix of an entry published without RECORD verification. */
#define STORE_UNVERIFIED ".unverified"
#define STORE_ENTRY_NAME_MAX (STORE_KEY_LEN + sizeof(STORE_UNVERIFIED))
#define STORE_PRUNE_AGE 3600	/* seconds before any leftover is stale */

struct store {
	char *root;
	int rootfd, archfd, indexfd, tmpfd;	/* -1: missing (not created) */
	int create;
};

/* The cache directory to use: dir if non-empty, else $SPOKE_CACHE_DIR,
 * else $XDG_CACHE_HOME/spoke (absolute values only, per the XDG spec), else
 * $HOME/.cache/spoke. Heap string in *out; -ENOENT when none applies. */
int store_resolve_dir(const char *dir, char **out);

/* Open (create != 0: and create, with parents) the store at
 * store_resolve_dir(dir). Without create a missing store is not an error:
 * it is empty (list/lookup/prune/clean find nothing; add fails). */
int store_open(struct store **out, const char *dir, int create, char *err,
	       size_t errlen);
void store_close(struct store *s);	/* accepts NULL */

struct store_add_result {
	char key[STORE_KEY_LEN + 1];
	int existed;	/* the entry was already there (fast path, st is
			 * zero), or another process published it first
			 * (st counts our discarded unpack) */
	int verified;	/* the entry used is <key> (else <key>.unverified) */
	int hash_cached;	/* the key came from the stat record: the
				 * .whl was not read */
	struct unpack_stats st;	/* what this call unpacked */
};

/* Add the wheel at path (its file name must end in ".whl"): hash it, unpack
 * and verify it (o: see unpack.h) unless a usable entry exists, run
 * o->check on the tree, publish, and point index-v1/<file name> at it.
 * With o->verify only a verified entry is usable: an unverified one is
 * ignored and the wheel unpacked again, verified, under the verified name.
 * Without, either is (the verified one first), and a new entry is
 * published as unverified. res may be NULL. Errors are those of unpack.h
 * and o->check, SPOKE_E_HASH when the .whl's sha256 is not
 * o->expect_key, SPOKE_E_USAGE for a bad file name or a store opened
 * without create, or -errno. A .whl whose device, inode, size, mtime and
 * ctime match the record of an earlier add is not hashed again when its
 * entry exists (store_hash.c). */
int store_add(struct store *s, const char *path, const struct unpack_opts *o,
	      struct store_add_result *res, char *err, size_t errlen);

/*
 * store_add in two halves, for a caller that unpacks many wheels on one
 * pool at once: begin does everything before the unpack (name checks,
 * hash, expected hash, lookup; an existing usable entry is checked and
 * indexed there and *pending stays NULL) and begins the unpack job in a
 * private temporary directory; the caller runs the job's tasks
 * (unpack_spawn/unpack_run_here, store_pending_job); end, after the last
 * task, reports the unpack, checks, publishes, indexes and frees the
 * pending add. A begun add must be ended, failed or not: end removes the
 * temporary. res must stay valid until end. Errors as store_add.
 */
struct store_pending;
int store_add_begin(struct store *s, const char *path,
		    const struct unpack_opts *o, struct store_add_result *res,
		    struct store_pending **pending, char *err, size_t errlen);
struct unpack_job *store_pending_job(struct store_pending *pd);
int store_add_end(struct store_pending *pd, char *err, size_t errlen);
/* 1 when the .whl at path is known (by its stat record) to have a usable
 * entry: store_add would neither hash nor unpack it. 0 otherwise. */
int store_probe(const struct store *s, const char *path, int verify);

/* 0 if the verified entry exists, -ENOENT if not, -EINVAL for a
 * malformed key. */
int store_lookup_key(const struct store *s, const char *key);
/* 0 if the verified or else the unverified entry exists (*verified says
 * which), -ENOENT if neither, -EINVAL for a malformed key. */
int store_lookup_any(const struct store *s, const char *key, int *verified);
/* "<key>" or "<key>.unverified": the entry's name in the archive. */
void store_entry_name(char buf[STORE_ENTRY_NAME_MAX], const char *key,
		      int verified);
/* The key that index-v1/<wheel_name> names, if an entry (verified or not)
 * exists: 0, or
 * -ENOENT (no index file, or a stale one), -EINVAL (damaged index file). */
int store_lookup_name(const struct store *s, const char *wheel_name,
		      char key[STORE_KEY_LEN + 1]);
/* "<root>/archive-v2/<key>" (heap) in *out: 0 or -ENOMEM/-EINVAL. */
int store_entry_path(const struct store *s, const char *key, char **out);
/* The same for the verified (1) or unverified (0) entry. */
int store_entry_path_state(const struct store *s, const char *key,
			   int verified, char **out);
/* An O_DIRECTORY fd of the verified (1) or unverified (0) entry, or
 * -errno. */
int store_entry_open(const struct store *s, const char *key, int verified);

/* Re-hash every file of one entry (the verified one if it exists, else the
 * unverified one) against its RECORD and check every mode is one unpack
 * sets (see docs/CACHE.md). 0, SPOKE_E_HASH (a file differs, is missing,
 * is extra, is not a regular file, or has another mode; the message names
 * it), SPOKE_E_CORRUPT (no usable dist-info/RECORD), -errno. */
int store_verify_entry(const struct store *s, const char *key, char *err,
		       size_t errlen);
/* The same for the verified (1) or unverified (0) entry. */
int store_verify_state(const struct store *s, const char *key, int verified,
		       char *err, size_t errlen);

/* Entries, in wheel name order, then entries no index names (wheel_name
 * NULL; an unverified entry shadowed by a verified one of the same key is
 * one of those). status: 0 without verify, else store_verify_state's
 * result; msg: its message, or "unverified" for a sound unverified entry.
 * Returns the number of entries, or -errno (message in err). */
typedef void (*store_list_fn)(void *user, const char *key,
			      const char *wheel_name, int status,
			      const char *msg);
int store_list(const struct store *s, int verify, store_list_fn fn,
	       void *user, char *err, size_t errlen);

/* Remove one entry (atomically gone: renamed into tmp/ first) and the
 * index files naming it. 0, -ENOENT, -errno. Callers must know that no one
 * is linking from it. */
int store_remove(struct store *s, const char *key, char *err, size_t errlen);

/* Remove leftovers of killed runs: tmp/ entries and index temporaries whose
 * process is gone (pid, on this host) or that are older than max_age
 * seconds (0: STORE_PRUNE_AGE), and abandoned .trash-* directories.
 * Returns how many were removed, or -errno. */
int store_prune(struct store *s, time_t max_age, char *err, size_t errlen);

/* Remove every entry, index file and temporary. Each top directory is
 * first renamed aside so the cache looks empty at once, then deleted;
 * unreadable or read-only directories are made writable on the way. With
 * create the empty layout is made again. 0 or the first -errno (the
 * removal goes on past errors). */
int store_clean(struct store *s, char *err, size_t errlen);

/* Remove a directory tree below dfd (or a single file) without following
 * symlinks; missing is success. Exposed for tests and the CLI. */
int store_remove_tree(int dfd, const char *name);

#endif
