/* SPDX-License-Identifier: MIT */
/*
 * recover - replaying the journal a killed spoke left (txn_recover): read
 * it, parse it (engine/journal.c), check that every record names a path
 * of this environment, then undo or finish it (engine/undo.c).
 */
#include "engine/txn_int.h"
#include "engine/journal.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A journal that fails a check is never acted on and never deleted. */
static int corrupt(struct txn *t, const char *why)
{
	return ctx_fail(t->ctx, SPOKE_E_CORRUPT, 0, t->jpath, "the journal "
			"'%s' %s; it was left untouched, and so were the "
			"backups ('%s/" TXN_BACKUP_DIR "'). Nothing was changed. "
			"If a spoke run was interrupted here, put back by hand "
			"what it moved aside (the backups; see "
			"docs/RELIABILITY.md, \"A journal spoke refuses\"), then "
			"delete the journal and the backup directory; if not, "
			"delete the journal. Installs here refuse until then",
			t->jpath, why, t->home);
}

static int parse_u64(const char *s, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return *end || errno ? -1 : 0;
}

/* The header: this format, this environment (path and the inode of its
 * directory now), this user. */
static int check_header(struct txn *t, const struct jrec *r)
{
	unsigned long long dev, ino, uid, pid, start;
	struct stat st;

	if (r->type != 'H')
		return corrupt(t, "has no header");
	if (strcmp(r->f[0], TXN_FORMAT) && strcmp(r->f[0], TXN_FORMAT_OLD))
		return corrupt(t, "has an unknown format (written by another "
			       "spoke version?)");
	if (parse_u64(r->f[2], &dev) || parse_u64(r->f[3], &ino) ||
	    parse_u64(r->f[4], &uid) || parse_u64(r->f[5], &pid) ||
	    parse_u64(r->f[7], &start) || strlen(r->f[6]) != 16 ||
	    pid > INT32_MAX || start > INT64_MAX)
		return corrupt(t, "has a malformed header");
	if (strcmp(r->f[1], t->home))
		return corrupt(t, "was written for another directory (was the "
			       "environment moved?)");
	if (stat(t->home, &st) < 0)
		return ctx_fail(t->ctx, -errno, errno, t->home, "cannot stat "
				"'%s': %s", t->home, strerror(errno));
	if (st.st_dev != (dev_t)dev || st.st_ino != (ino_t)ino)
		return corrupt(t, "was written for another directory at this "
			       "path (was the environment replaced or "
			       "copied?)");
	if (uid != (unsigned long long)geteuid())
		return corrupt(t, "was written by another user (run spoke "
			       "recover as that user)");
	t->identity = !strcmp(r->f[0], TXN_FORMAT);
	t->pid = (long)pid;
	memcpy(t->runid, r->f[6], 17);
	t->start_ns = (int64_t)start;
	return 0;
}

/* Is dir (a backup directory named in the journal) one this scheme would
 * use: <home or a root>/.spoke-txn? */
static int valid_bdir(struct txn *t, const char *dir)
{
	const char *slash = strrchr(dir, '/');
	char parent[PATH_MAX];
	const char *root;

	if (!slash || strcmp(slash + 1, TXN_BACKUP_DIR) ||
	    (size_t)(slash - dir) >= sizeof(parent))
		return 0;
	memcpy(parent, dir, (size_t)(slash - dir));
	parent[slash - dir] = '\0';
	root = scheme_root_of(t->s, parent);
	return !strcmp(parent, t->home) || (root && !strcmp(root, parent));
}

static int valid_path(struct txn *t, const char *p)
{
	char *norm;
	int ok;

	if (*p != '/' || !txn_outer_root(t->s, p))
		return 0;
	if (!(norm = xstrdup(p)))
		return 0;
	path_normalize(norm);
	ok = !strcmp(norm, p);
	free(norm);
	return ok;
}

/* An I record: "ino:btime" tokens separated by single spaces. */
static int take_ids(struct txn *t, const char *dev, const char *list)
{
	unsigned long long d, ino;
	char *end;

	if (parse_u64(dev, &d))
		return corrupt(t, "has a malformed identity record");
	for (const char *p = list; *p;) {
		long long bt;
		struct objid *v;

		if (*p < '0' || *p > '9')
			return corrupt(t, "has a malformed identity record");
		errno = 0;
		ino = strtoull(p, &end, 10);
		if (errno || *end != ':' || end[1] < '0' || end[1] > '9')
			return corrupt(t, "has a malformed identity record");
		bt = strtoll(end + 1, &end, 10);
		if (errno || (*end && *end != ' ') || (*end && !end[1]))
			return corrupt(t, "has a malformed identity record");
		p = *end ? end + 1 : end;
		if (t->nids == t->capids) {
			size_t cap = t->capids ? t->capids * 2 : 1024;

			if (!(v = xrealloc(t->ids, cap * sizeof(*v))))
				return txn_nomem(t);
			t->ids = v;
			t->capids = cap;
		}
		t->ids[t->nids].dev = d;
		t->ids[t->nids].ino = ino;
		t->ids[t->nids++].btime = bt;
	}
	return 0;
}

/* One record of the journal being replayed (journal_parse's callback). */
static int take(void *arg, const struct jrec *r, size_t batch)
{
	struct txn *t = arg;
	const char *a = r->f[0], *b = r->f[1];
	long bi = -1;

	if (batch == 0 && !t->nparsed++)
		return check_header(t, r);
	switch (r->type) {
	case 'C':
		t->committed = 1;
		return 0;
	case 'I':
	case 'B':
	case 'E':
		if (!t->identity)
			return corrupt(t, "has an identity record in a format "
				       "without them");
		t->open_phase = r->type == 'B' ? 1 : r->type == 'E' ? 0 :
				t->open_phase;
		return r->type == 'I' ? take_ids(t, a, b) : 0;
	case 'X':
		if (!valid_bdir(t, a))
			return corrupt(t, "names a backup directory outside "
				       "the environment");
		break;
	case 'F':
	case 'D':
		if (!valid_path(t, a))
			return corrupt(t, "names a path outside the "
				       "environment");
		break;
	case 'M':
		if (!valid_path(t, a))
			return corrupt(t, "names a path outside the "
				       "environment");
		for (size_t i = 0; i < t->nbd && bi < 0; i++) {
			size_t n = strlen(t->bd[i].path);

			if (!strncmp(b, t->bd[i].path, n) && b[n] == '/' &&
			    b[n + 1] && !strchr(b + n + 1, '/'))
				bi = (long)i;
		}
		if (bi < 0)
			return corrupt(t, "names a backup outside its backup "
				       "directories");
		break;
	default:
		return corrupt(t, "has an unknown record");
	}
	if (txn_add(t, r->type, a, b, (int)bi) < 0)
		return txn_nomem(t);
	if (r->type == 'X') {
		struct bdir *bd = xrealloc(t->bd, (t->nbd + 1) * sizeof(*bd));

		if (!bd)
			return txn_nomem(t);
		t->bd = bd;
		bd[t->nbd].fd = -1;
		bd[t->nbd].made = 0;
		bd[t->nbd].dev = 0;
		if (!(bd[t->nbd].path = xstrdup(a)))
			return txn_nomem(t);
		t->nbd++;
	}
	return 0;
}

/* Every complete batch of the journal in buf. The first batch is on disk
 * before the journal has its name (txn.c), so a journal without one is
 * not a crash's; after the last batch only what a crash mid-append
 * leaves is accepted (journal_parse). */
static int parse(struct txn *t, const unsigned char *buf, size_t len)
{
	struct journal_scan sc;
	int err = journal_parse(buf, len, take, t, &sc);

	if (err == -EBADMSG)
		return corrupt(t, sc.why);
	if (err)
		return err;
	if (!sc.batches)
		return corrupt(t, len ? "does not begin with a complete batch" :
			       "is empty");
	if (sc.tail == JOURNAL_TAIL_BAD)
		return corrupt(t, sc.why);
	if (t->nids)
		qsort(t->ids, t->nids, sizeof(*t->ids), txn_objid_cmp);
	return 0;
}

/* 1 if name is the backup of an M record in backup directory b. */
static int named_backup(const struct txn *t, size_t b, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].type == 'M' && t->e[i].bdir == (int)b &&
		    !strcmp(strrchr(t->e[i].backup, '/') + 1, name))
			return 1;
	return 0;
}

/* Check one place a backup directory of this environment can be
 * (<home or a scheme root>/.spoke-txn): absent, or spoke's (a directory of
 * this user) holding nothing the journal does not name. Backups the journal does not know mean records are missing (a
 * journal cut at a batch boundary): undoing the rest would strand them. */
static int check_bdir_at(struct txn *t, const char *parent)
{
	char path[PATH_MAX];
	struct dirent *d;
	struct stat st;
	size_t b;
	DIR *dir;
	int fd, bad = 0;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", parent,
			     TXN_BACKUP_DIR) >= sizeof(path))
		return 0;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : ctx_fail(t->ctx, -errno, errno,
			path, "cannot check '%s': %s", path, strerror(errno));
	for (b = 0; b < t->nbd && strcmp(t->bd[b].path, path); b++)
		;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return corrupt(t, "has a backup directory beside it that is "
			       "not a directory spoke made");
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return ctx_fail(t->ctx, -err, err, path, "cannot read '%s': %s",
				path, strerror(err));
	}
	/* An empty one the journal does not name strands nothing. */
	while (!bad && (d = readdir(dir)))
		bad = strcmp(d->d_name, ".") && strcmp(d->d_name, "..") &&
		      (b == t->nbd || !named_backup(t, b, d->d_name));
	closedir(dir);
	return bad ? corrupt(t, "does not name every backup in the backup "
			     "directory beside it (records are missing?)") : 0;
}

static int check_bdirs(struct txn *t)
{
	int err = check_bdir_at(t, t->home);

	for (int k = 0; k < SPOKE_SCHEME__MAX && !err; k++)
		if (t->s->path[k] && strcmp(t->s->path[k], t->home))
			err = check_bdir_at(t, t->s->path[k]);
	return err;
}

/* The journal's own trust: what spoke makes is a regular file with one
 * link, owned by the running user, reached without following a link.
 * Anything else at that name (a wheel's data file, a link to a file
 * elsewhere, another user's file) is not read at all. */
static int open_journal(struct txn *t, int *fd, struct stat *st)
{
	const char *why = NULL;

	*fd = open(t->jpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0 && errno == ENOENT)
		return 0;
	if (*fd < 0 && errno == ELOOP)
		return corrupt(t, "is a symbolic link, not a journal spoke "
			       "wrote");
	if (*fd < 0)
		return ctx_fail(t->ctx, -errno, errno, t->jpath, "cannot open "
				"the journal '%s': %s", t->jpath,
				strerror(errno));
	if (fstat(*fd, st) < 0)
		why = "cannot be checked";
	else if (!S_ISREG(st->st_mode))
		why = "is not a regular file";
	else if (st->st_nlink != 1)
		why = "has more than one link (a hardlink)";
	else if (st->st_uid != geteuid())
		why = "belongs to another user";
	else if (st->st_size > TXN_JOURNAL_MAX)
		why = "is larger than any journal spoke writes";
	if (!why)
		return 1;
	close(*fd);
	*fd = -1;
	return corrupt(t, why);
}

/* Temporaries of a journal being created (txn.c) by a run that died
 * before it had a name: that run changed nothing. Called with the lock. */
static void drop_journal_temps(struct txn *t)
{
	size_t n = strlen(TXN_JOURNAL);
	struct dirent *d;
	DIR *dir;
	int fd = open(t->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((d = readdir(dir))) {
		size_t l = strlen(d->d_name);
		struct stat st;

		if (strncmp(d->d_name, TXN_JOURNAL ".", n + 1) || l < n + 5 ||
		    strcmp(d->d_name + l - 4, ".new") ||
		    fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		(void)unlinkat(fd, d->d_name, 0);
	}
	closedir(dir);
}

static int read_all(int fd, unsigned char **out, size_t *len)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!(*out = xmalloc((size_t)st.st_size + 1)))
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, *out + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(*out);
			return err;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

int txn_recover(spoke_ctx *ctx, const struct scheme *s, uint64_t *restored,
		uint64_t *removed)
{
	struct txn *t = txn_new(ctx, s);
	unsigned char *buf = NULL;
	struct stat st;
	size_t len = 0;
	int fd, ret;

	*restored = *removed = 0;
	if (!t)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	drop_journal_temps(t);
	ret = open_journal(t, &fd, &st);
	if (ret <= 0) {
		txn_free(t);
		return ret;
	}
	ret = read_all(fd, &buf, &len);
	close(fd);
	if (ret) {
		ret = ctx_fail(ctx, ret, -ret, t->jpath, "cannot read the "
			       "journal '%s': %s", t->jpath, strerror(-ret));
		txn_free(t);
		return ret;
	}
	ret = parse(t, buf, len);
	free(buf);
	if (!ret)
		ret = check_bdirs(t);
	if (ret < 0) {
		txn_free(t);
		return ret;
	}
	t->own = 1; /* replaying it: it goes when the replay is complete */
	/* The run's lifetime: from its start to its last heartbeat (txn.c). */
	t->win_lo = t->start_ns - TXN_GRACE_NS;
	t->win_hi = (int64_t)st.st_mtim.tv_sec * 1000000000 +
		    st.st_mtim.tv_nsec + TXN_GRACE_NS;
	/* No slack backwards: a change made just before this recovery began
	 * (another installer right after the kill) must not pass for one of
	 * its own; a change of its own that the filesystem's coarse clock
	 * dates a tick earlier is then left in place, the safe side. */
	t->now_ns = txn_now_ns();
	if (t->committed)
		ret = txn_finish(t) ? -EIO : 2;
	else
		ret = txn_undo(t, 1) ? -EIO : 1;
	*restored = t->restored;
	*removed = t->removed;
	if (t->kept)
		ctx_log(ctx, SPOKE_LOG_WARN, "recovery left %llu path%s that "
			"the interrupted run did not make or that changed "
			"since (another installer?), e.g. '%s'",
			(unsigned long long)t->kept, t->kept == 1 ? "" : "s",
			t->kept_first);
	if (ret == -EIO)
		ret = ctx_fail(ctx, -EIO, EIO, t->jpath, "could not finish the "
			       "interrupted change recorded in '%s' (see the "
			       "warnings above); the journal and the backups "
			       "are kept", t->jpath);
	txn_free(t);
	return ret;
}
