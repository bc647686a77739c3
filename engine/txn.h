/* SPDX-License-Identifier: MIT */
/*
 * txn - the journal that makes a change to an environment all-or-nothing,
 * and the code that undoes or finishes one, in this process or, after a
 * crash, in the next (txn_recover). envmod.c drives it; nothing else should.
 *
 * The journal <home>/.spoke-journal lists, before the change it describes:
 *   F path          a file (or symlink) this run creates where nothing was
 *   D path          a directory this run creates where nothing was: the
 *                   whole subtree below it is this run's
 *   M path backup   an existing file, symlink or empty directory moved
 *                   aside (one rename) to backup, in a backup directory
 *   X dir           a backup directory (<root>/.spoke-txn) this run makes
 *   B / E           a phase creating objects begins / every object made
 *                   so far has its I record
 *   I dev ids       identities (inode, birth time) of objects this run
 *                   made, written after they were made, without a sync
 *   C               committed: the change is complete
 * Entries are appended in batches, each framed with its length and a hash
 * and fdatasync'd once; a torn last batch (a crash mid-write) is ignored,
 * which is safe because nothing a batch describes is done before the batch
 * is on disk. Undo is idempotent and keyed on what exists: remove F and D
 * paths, rename every backup that still exists back, remove the backup
 * directories, delete the journal. Finishing a committed journal deletes
 * the backups that still exist, the backup directories and the journal.
 * A crash during either just means the next recovery does the rest.
 *
 * The forward path (journal writes, backup directory creation) goes
 * through io_fault_hit(), so fault sweeps hit it; undo, finish and
 * recovery use plain syscalls and allocate nothing in process (recovery
 * of a journal on disk allocates, and a failure there keeps the journal),
 * so an injected fault never breaks the rollback that follows it.
 *
 * Files: txn.c records and writes (the byte format is engine/journal.c),
 * undo.c undoes and finishes, recover.c replays a journal from disk. The
 * journal starts with an H record (format, home and its device and inode,
 * uid, pid, run id, start time), appears under its name only with that
 * first batch complete, and its mtime is a heartbeat while the run lives;
 * recovery trusts it only under the rules of docs/RELIABILITY.md ("The
 * journal") and removes only objects whose identity the journal records
 * (what a kill left unrecorded: what changed within the run's lifetime).
 */
#ifndef SPOKE_ENGINE_TXN_H
#define SPOKE_ENGINE_TXN_H

#include "engine/ctx.h"
#include "engine/objid.h"
#include "engine/scheme.h"

#include <stddef.h>

#include <stdint.h>

#define TXN_JOURNAL ".spoke-journal"
#define TXN_BACKUP_DIR ".spoke-txn"

struct txn;

/* The directory that holds the journal and the lock: the venv or target
 * directory, else (explicit scheme paths) the first configured of purelib,
 * platlib, data, scripts, headers. Owned by s; NULL when s has none. */
const char *txn_home(const struct scheme *s);

/* Start a transaction on the environment s describes (kept by pointer).
 * Nothing is written until the first txn_sync(). */
int txn_create(struct txn **out, spoke_ctx *ctx, const struct scheme *s);
/* Record that path (absolute, inside a scheme root) is about to be
 * created: F or D. Takes effect on disk at the next txn_sync(). */
int txn_created(struct txn *t, const char *path, int is_dir);
/* Record that path (below the scheme root `root`) is about to be moved
 * aside. Returns the entry's index for txn_backup_at(), or an error. */
int txn_move(struct txn *t, const char *path, const char *root);

/* The run could not create path because something else is there now (an
 * EEXIST from the linker): that object is someone else's, and a rollback
 * leaves it in place whatever covers it (an F entry, a D subtree).
 * Thread-safe; best effort (out of memory forgets it, and the object's
 * identity is taken with an lstat that follows no link). */
void txn_disown(struct txn *t, const char *path);
/* Identities of what the run creates (engine/objid.h), for recovery to
 * tell the run's objects from later ones at the same names: before a
 * phase that creates objects (a linker run, a generated file), call
 * txn_creating(); report each object made with txn_made() (any thread);
 * after the phase, txn_creating_done() says every object made so far has been
 * reported. These records are written at once (one write() each, no
 * fdatasync: they only have to outlive the process, which the page cache
 * does) and only once the journal exists; a write that fails leaves the
 * phase open, so recovery falls back to the time window for it. */
void txn_creating(struct txn *t);
void txn_made(struct txn *t, const struct objid *ids, size_t n);
void txn_creating_done(struct txn *t);
/* Write and fdatasync every entry recorded since the last sync (the first
 * call creates the journal). After it returns 0 the recorded changes may
 * be made. */
int txn_sync(struct txn *t);
/* Where entry idx (from txn_move) goes: the backup directory's fd (made
 * on first use) and the name inside it. Only after txn_sync(). */
int txn_backup_at(struct txn *t, int idx, int *dfd, const char **name);
/* Sync, mark committed, delete the backups and the journal; releases t.
 * When the commit mark cannot be written the change is undone instead
 * and the error returned. Failures after the mark only leave cleanup for
 * the next run (logged). */
int txn_commit(struct txn *t);
/* Undo everything recorded; releases t. 0, or -EIO when something could
 * not be restored: the journal is kept for `spoke recover` (logged). */
int txn_rollback(struct txn *t);

/* Replay the journal left in home by a process that died (call with the
 * lock held): 0 when there is none, 1 when an interrupted change was
 * undone, 2 when a committed one was finished; *restored and *removed
 * count paths put back and paths removed. A journal that names paths
 * outside s or another home is refused (SPOKE_E_CORRUPT), untouched. */
int txn_recover(spoke_ctx *ctx, const struct scheme *s, uint64_t *restored,
		uint64_t *removed);
/* 1 if home holds a journal. */
int txn_pending(const char *home);

#endif
