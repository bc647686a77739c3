/* SPDX-License-Identifier: MIT */
/*
 * recover - replaying the journal a killed spoke left (txn_recover): read
 * it, parse it (engine/journal.c), check that every record names a path
 * of this environment, then undo or finish it (engine/undo.c).
 */
#include "engine/txn_int.h"
#include "engine/journal.h"
#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int corrupt(struct txn *t, const char *why)
{
	return ctx_fail(t->ctx, SPOKE_E_CORRUPT, 0, t->jpath, "the journal "
			"'%s' %s; it was left untouched", t->jpath, why);
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

/* One record of the journal being replayed (journal_parse's callback). */
static int take(void *arg, const struct jrec *r, size_t batch)
{
	struct txn *t = arg;
	const char *a = r->f[0], *b = r->f[1];
	long bi = -1;

	if (batch == 0 && !t->nparsed++) {
		if (r->type != 'H')
			return corrupt(t, "has no header");
		if (strcmp(r->f[2], TXN_FORMAT))
			return corrupt(t, "has an unknown format (written by "
				       "another spoke version?)");
		if (strcmp(a, t->home))
			return corrupt(t, "was written for another directory "
				       "(was the environment moved?)");
		t->pid = strtol(r->f[1], NULL, 10);
		return 0;
	}
	switch (r->type) {
	case 'C':
		t->committed = 1;
		return 0;
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
		bd[t->nbd].dev = 0;
		if (!(bd[t->nbd].path = xstrdup(a)))
			return txn_nomem(t);
		t->nbd++;
	}
	return 0;
}

/* Every complete batch of the journal in buf; a torn tail ends it. 1 when
 * there was at least one batch, 0 when none (nothing was changed). */
static int parse(struct txn *t, const unsigned char *buf, size_t len)
{
	struct journal_scan sc;
	int err = journal_parse(buf, len, take, t, &sc);

	if (err == -EBADMSG)
		return corrupt(t, sc.why);
	if (err)
		return err;
	return sc.batches > 0;
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
	size_t len = 0;
	int fd, ret;

	*restored = *removed = 0;
	if (!t)
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL,
				"out of memory");
	fd = open(t->jpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = errno == ENOENT ? 0 : ctx_fail(ctx, -errno, errno,
			t->jpath, "cannot open the journal '%s': %s", t->jpath,
			strerror(errno));
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
	t->own = 1; /* replaying it: it goes when the replay is complete */
	ret = parse(t, buf, len);
	free(buf);
	if (ret < 0) {
		txn_free(t);
		return ret;
	}
	if (ret == 0) {
		/* Killed before its first batch was complete: nothing of
		 * the change had begun. */
		ret = txn_drop_journal(t) ? -EIO : 1;
	} else if (t->committed) {
		ret = txn_finish(t) ? -EIO : 2;
	} else {
		ret = txn_undo(t, 1) ? -EIO : 1;
	}
	*restored = t->restored;
	*removed = t->removed;
	if (ret == -EIO)
		ret = ctx_fail(ctx, -EIO, EIO, t->jpath, "could not finish the "
			       "interrupted change recorded in '%s' (see the "
			       "warnings above); the journal is kept",
			       t->jpath);
	txn_free(t);
	return ret;
}
