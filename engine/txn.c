/* SPDX-License-Identifier: MIT */
/*
 * txn - see txn.h; this file is the forward half: recording entries,
 * writing them as journal batches (engine/journal.c frames them), the
 * backup directories, commit. Undo and finish are engine/undo.c, recovery
 * of a journal on disk engine/recover.c.
 *
 * Backups are named by entry index in a flat backup directory per
 * filesystem: <home>/.spoke-txn for every scheme root on home's device,
 * <root>/.spoke-txn for a root on another one (explicit scheme paths), so
 * moving aside is always one rename within a filesystem.
 */
#include "engine/txn_int.h"
#include "engine/journal.h"
#include "base/fdio.h"
#include "base/alloc.h"
#include "base/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

const char *txn_home(const struct scheme *s)
{
	static const int order[] = { SPOKE_SCHEME_PURELIB, SPOKE_SCHEME_PLATLIB,
				     SPOKE_SCHEME_DATA, SPOKE_SCHEME_SCRIPTS,
				     SPOKE_SCHEME_HEADERS };

	if (s->env)
		return s->env;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (s->path[order[i]])
			return s->path[order[i]];
	return NULL;
}

char *txn_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = xmalloc(n);

	if (p)
		snprintf(p, n, "%s/%s", a, b);
	return p;
}

int txn_pending(const char *home)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", home, TXN_JOURNAL);
	return lstat(path, &st) == 0;
}

int txn_nomem(struct txn *t)
{
	return ctx_fail(t->ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

int64_t txn_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* 16 hex digits that tell this run from every other one. */
static void new_runid(char *out)
{
	unsigned char b[8];

	if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
		uint64_t v = (uint64_t)txn_now_ns() ^ ((uint64_t)getpid() << 40);

		memcpy(b, &v, sizeof(b));
	}
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- the heartbeat ------------------------------------------------------
 * While a journal exists, a thread sets its mtime every TXN_BEAT_MS. After
 * a kill, that mtime says when the run was last alive, within one beat:
 * recovery removes only paths whose change time lies inside the run's
 * lifetime (docs/RELIABILITY.md, "What recovery removes"). No data is
 * written and nothing waits on it; a heartbeat that cannot start only
 * makes recovery keep more. */
static void *beat_main(void *arg)
{
	struct txn *t = arg;
	struct timespec until;

	pthread_mutex_lock(&t->beat_mu);
	while (!t->beat_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += TXN_BEAT_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&t->beat_cv, &t->beat_mu,
					   &until) == ETIMEDOUT &&
		    !t->beat_stop)
			(void)futimens(t->jfd, NULL);
	}
	pthread_mutex_unlock(&t->beat_mu);
	return NULL;
}

void txn_beat_start(struct txn *t)
{
	if (t->beat_on || t->jfd < 0)
		return;
	pthread_mutex_init(&t->beat_mu, NULL);
	pthread_cond_init(&t->beat_cv, NULL);
	t->beat_stop = 0;
	if (pthread_create(&t->beat, NULL, beat_main, t) == 0) {
		t->beat_on = 1;
		return;
	}
	pthread_cond_destroy(&t->beat_cv);
	pthread_mutex_destroy(&t->beat_mu);
}

void txn_beat_stop(struct txn *t)
{
	if (!t->beat_on)
		return;
	pthread_mutex_lock(&t->beat_mu);
	t->beat_stop = 1;
	pthread_cond_signal(&t->beat_cv);
	pthread_mutex_unlock(&t->beat_mu);
	pthread_join(t->beat, NULL);
	pthread_cond_destroy(&t->beat_cv);
	pthread_mutex_destroy(&t->beat_mu);
	t->beat_on = 0;
}

struct txn *txn_new(spoke_ctx *ctx, const struct scheme *s)
{
	struct txn *t = xcalloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->ctx = ctx;
	t->s = s;
	t->home = txn_home(s);
	t->jfd = -1;
	dirfd_init(&t->dc);
	t->pid = (long)getpid();
	t->start_ns = txn_now_ns();
	new_runid(t->runid);
	if (!t->home || !(t->jpath = txn_join(t->home, TXN_JOURNAL))) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->foreign_mu, NULL);
	pthread_mutex_init(&t->imu, NULL);
	return t;
}

void txn_disown(struct txn *t, const char *path)
{
	struct stat st;
	void *p;

	if (!t || lstat(path, &st) < 0)
		return;
	pthread_mutex_lock(&t->foreign_mu);
	/* plain realloc: an EEXIST is rare, and the fault sweeps' counts of
	 * allocations should not depend on another writer's timing */
	p = realloc(t->foreign, (t->nforeign + 1) * sizeof(*t->foreign));
	if (p) {
		t->foreign = p;
		t->foreign[t->nforeign].dev = st.st_dev;
		t->foreign[t->nforeign].ino = st.st_ino;
		t->nforeign++;
	}
	pthread_mutex_unlock(&t->foreign_mu);
}

void txn_free(struct txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->e[i].path);
		free(t->e[i].backup);
	}
	free(t->e);
	for (size_t i = 0; i < t->nbd; i++) {
		if (t->bd[i].fd >= 0)
			close(t->bd[i].fd);
		free(t->bd[i].path);
	}
	free(t->bd);
	free(t->rd);
	txn_beat_stop(t);
	if (t->jfd >= 0)
		close(t->jfd);
	dirfd_forget(&t->dc);
	free(t->foreign);
	pthread_mutex_destroy(&t->foreign_mu);
	free(t->ids);
	pthread_mutex_destroy(&t->imu);
	free(t->jpath);
	free(t);
}

int txn_create(struct txn **out, spoke_ctx *ctx, const struct scheme *s)
{
	*out = txn_new(ctx, s);
	if (!*out)
		return ctx_fail(ctx, txn_home(s) ? SPOKE_E_NOMEM : SPOKE_E_USAGE,
				txn_home(s) ? ENOMEM : 0, NULL, txn_home(s) ?
				"out of memory" : "no environment directory "
				"for the journal");
	return 0;
}

/* Append an entry (strings copied). Index, or -ENOMEM (not recorded). */
long txn_add(struct txn *t, char type, const char *path,
		const char *backup, int bdir)
{
	struct ent *e;

	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		e = xrealloc(t->e, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		t->e = e;
		t->cap = cap;
	}
	e = &t->e[t->n];
	memset(e, 0, sizeof(*e));
	e->type = type;
	e->bdir = bdir;
	e->idx = t->n;
	e->path = xstrdup(path);
	e->backup = backup ? xstrdup(backup) : NULL;
	if (!e->path || (backup && !e->backup)) {
		free(e->path);
		free(e->backup);
		return -ENOMEM;
	}
	return (long)t->n++;
}

int txn_created(struct txn *t, const char *path, int is_dir)
{
	return txn_add(t, is_dir ? 'D' : 'F', path, NULL, -1) < 0 ? txn_nomem(t) : 0;
}

/* The backup directory for files below root: home's, or root's own when
 * root lies on another filesystem (a rename cannot cross). */
static int bdir_for(struct txn *t, const char *root)
{
	struct rootdev *rd;
	struct stat st;
	const char *base = t->home;
	int b = -1;

	for (size_t i = 0; i < t->nrd; i++)
		if (t->rd[i].root == root)
			return t->rd[i].bdir;
	if (stat(root, &st) < 0)
		return ctx_fail(t->ctx, -errno, errno, root, "cannot stat "
				"'%s': %s", root, strerror(errno));
	for (size_t i = 0; i < t->nbd && b < 0; i++)
		if (t->bd[i].dev == st.st_dev)
			b = (int)i;
	if (b < 0) {
		struct stat hs;
		struct bdir *bd;
		char *path;

		if (stat(t->home, &hs) < 0)
			return ctx_fail(t->ctx, -errno, errno, t->home, "cannot "
					"stat '%s': %s", t->home,
					strerror(errno));
		if (hs.st_dev != st.st_dev)
			base = root;
		path = txn_join(base, TXN_BACKUP_DIR);
		bd = xrealloc(t->bd, (t->nbd + 1) * sizeof(*bd));
		if (!path || !bd) {
			free(path);
			if (bd)
				t->bd = bd;
			return txn_nomem(t);
		}
		t->bd = bd;
		if (txn_add(t, 'X', path, NULL, -1) < 0) {
			free(path);
			return txn_nomem(t);
		}
		bd[t->nbd].path = path;
		bd[t->nbd].dev = st.st_dev;
		bd[t->nbd].fd = -1;
		bd[t->nbd].made = 0;
		b = (int)t->nbd++;
	}
	rd = xrealloc(t->rd, (t->nrd + 1) * sizeof(*rd));
	if (!rd)
		return txn_nomem(t);
	t->rd = rd;
	rd[t->nrd].root = root;
	rd[t->nrd++].bdir = b;
	return b;
}

int txn_move(struct txn *t, const char *path, const char *root)
{
	char backup[PATH_MAX];
	int b = bdir_for(t, root);
	long i;

	if (b < 0)
		return b;
	snprintf(backup, sizeof(backup), "%s/%zu", t->bd[b].path, t->n);
	i = txn_add(t, 'M', path, backup, b);
	return i < 0 ? txn_nomem(t) : (int)i;
}

/* ---- writing the journal --------------------------------------------- */

static int jsync(int fd)
{
	int err = io_fault_hit(IO_OP_WRITE);

	if (err)
		return err;
	return fdatasync(fd) < 0 ? -errno : 0;
}

/* The journal's name only ever holds a complete first batch: it is written
 * and synced under a temporary name and then renamed into place without
 * replacing anything (a journal there is another run's). So a journal
 * that lacks one was not left by a crash, and recovery refuses it. */
static int create_journal(struct txn *t, const unsigned char *buf,
			  size_t len)
{
	char tmp[PATH_MAX];
	int err = io_fault_hit(IO_OP_OPEN), fd = -1, dfd;

	snprintf(tmp, sizeof(tmp), "%s.%ld.new", t->jpath, t->pid);
	/* A leftover of a killed run with this pid: nothing ever used it. */
	(void)unlink(tmp);
	if (!err) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_APPEND |
			  O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			err = -errno;
	}
	if (!err)
		err = fd_write_all(fd, buf, len);
	if (!err)
		err = jsync(fd);
	/* The rename is not a fault point: the sweeps and crash tests count
	 * renames as moves aside. */
	if (!err && renameat2(AT_FDCWD, tmp, AT_FDCWD, t->jpath,
			      RENAME_NOREPLACE) < 0) {
		err = -errno;
		/* A filesystem without RENAME_NOREPLACE: link() cannot
		 * replace either. */
		if (err == -EINVAL || err == -ENOSYS)
			err = link(tmp, t->jpath) < 0 ? -errno : 0;
		if (!err)
			(void)unlink(tmp);
	}
	if (err) {
		if (fd >= 0)
			close(fd);
		(void)unlink(tmp);
		return ctx_fail(t->ctx, err, -err, t->jpath, "cannot create the "
				"journal '%s': %s", t->jpath, strerror(-err));
	}
	t->jfd = fd;
	t->own = 1;
	/* The journal's directory entry must be durable before anything it
	 * protects changes. */
	err = io_fault_hit(IO_OP_OPEN);
	dfd = err ? -1 : open(t->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!err && dfd < 0)
		err = -errno;
	if (!err) {
		err = jsync(dfd);
		close(dfd);
	}
	if (err)
		return ctx_fail(t->ctx, err, -err, t->home, "cannot sync '%s': "
				"%s", t->home, strerror(-err));
	txn_beat_start(t);
	return 0;
}

/* One batch: the records of e[from..n), preceded by the header record
 * when this is the journal's first batch, or the commit mark alone. */
static int write_batch(struct txn *t, int commit)
{
	size_t nr = 0, len;
	unsigned char *buf;
	struct jrec *r;
	char pid[24], dev[24], ino[24], uid[24], start[24];
	int first = t->jfd < 0, err;

	if (t->broken)
		return ctx_fail(t->ctx, -EIO, EIO, t->jpath, "the journal '%s' "
				"could not be written before", t->jpath);
	if (!(r = xcalloc(t->n - t->synced + 2, sizeof(*r))))
		return txn_nomem(t);
	snprintf(pid, sizeof(pid), "%ld", t->pid);
	if (first) {
		struct stat st;

		if (stat(t->home, &st) < 0) {
			free(r);
			return ctx_fail(t->ctx, -errno, errno, t->home, "cannot "
					"stat '%s': %s", t->home,
					strerror(errno));
		}
		snprintf(dev, sizeof(dev), "%llu", (unsigned long long)st.st_dev);
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st.st_ino);
		snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
		snprintf(start, sizeof(start), "%lld", (long long)t->start_ns);
		r[nr].type = 'H';
		r[nr].f[0] = TXN_FORMAT;
		r[nr].f[1] = t->home;
		r[nr].f[2] = dev;
		r[nr].f[3] = ino;
		r[nr].f[4] = uid;
		r[nr].f[5] = pid;
		r[nr].f[6] = t->runid;
		r[nr++].f[7] = start;
	}
	for (size_t i = t->synced; i < t->n && !commit; i++) {
		r[nr].type = t->e[i].type;
		r[nr].f[0] = t->e[i].path;
		r[nr++].f[1] = t->e[i].backup;
	}
	if (commit)
		r[nr++].type = 'C';
	err = journal_batch(r, nr, &buf, &len);
	free(r);
	if (err == -ENOMEM)
		return txn_nomem(t);
	if (err)
		return ctx_fail(t->ctx, err, -err, t->jpath, "the journal "
				"batch for '%s' is too large", t->home);
	if (first) {
		err = create_journal(t, buf, len);
		t->broken = err != 0;
	} else {
		pthread_mutex_lock(&t->imu);
		err = fd_write_all(t->jfd, buf, len);
		pthread_mutex_unlock(&t->imu);
		if (!err)
			err = jsync(t->jfd);
		if (err) {
			t->broken = 1;
			err = ctx_fail(t->ctx, err, -err, t->jpath, "cannot "
				       "write the journal '%s': %s", t->jpath,
				       strerror(-err));
		}
	}
	free(buf);
	if (!err && !commit)
		t->synced = t->n;
	return err;
}

int txn_sync(struct txn *t)
{
	/* Nothing recorded, nothing to protect: no journal at all. */
	return t->synced == t->n ? 0 : write_batch(t, 0);
}

int txn_backup_at(struct txn *t, int idx, int *dfd, const char **name)
{
	struct ent *e = &t->e[idx];
	struct bdir *b = &t->bd[e->bdir];
	int err = 0;

	*name = strrchr(e->backup, '/') + 1;
	if (b->fd >= 0) {
		*dfd = b->fd;
		return 0;
	}
	err = io_fault_hit(IO_OP_MKDIR);
	if (!err && mkdir(b->path, 0700) < 0) {
		err = -errno;
		/* An empty one is harmless (nothing can name its contents);
		 * anything in it is not ours to reuse or delete. */
		if (err == -EEXIST && rmdir(b->path) == 0)
			err = mkdir(b->path, 0700) < 0 ? -errno : 0;
	}
	b->made = !err;
	if (err)
		return ctx_fail(t->ctx, err, -err, b->path, "cannot create the "
				"backup directory '%s': %s%s", b->path,
				strerror(-err), err == -EEXIST ? " (a leftover "
				"not made by this spoke run; move it away)" : "");
	err = io_fault_hit(IO_OP_OPEN);
	if (!err) {
		b->fd = open(b->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		if (b->fd < 0)
			err = -errno;
	}
	if (err)
		return ctx_fail(t->ctx, err, -err, b->path, "cannot open '%s': "
				"%s", b->path, strerror(-err));
	*dfd = b->fd;
	return 0;
}

int txn_commit(struct txn *t)
{
	off_t end;
	int err = txn_sync(t);

	if (err) {
		txn_rollback(t);
		return err;
	}
	if (t->jfd < 0) { /* nothing was ever recorded */
		txn_free(t);
		return 0;
	}
	end = lseek(t->jfd, 0, SEEK_END);
	err = write_batch(t, 1);
	if (err) {
		/* A mark that reached the page cache but failed to sync must
		 * not survive: a crash during the rollback would then be
		 * "finished" as committed. */
		if (end >= 0 && ftruncate(t->jfd, end) < 0)
			ctx_log(t->ctx, SPOKE_LOG_WARN, "cannot truncate the "
				"journal '%s': %s", t->jpath, strerror(errno));
		txn_rollback(t);
		return err;
	}
	t->committed = 1;
	if (txn_finish(t))
		ctx_log(t->ctx, SPOKE_LOG_WARN, "the change to '%s' is complete "
			"but its backups could not all be deleted; the next "
			"spoke run there (or 'spoke recover') will", t->home);
	txn_free(t);
	return 0;
}
