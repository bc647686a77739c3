/* SPDX-License-Identifier: MIT */
/*
 * bytecode_cache - the cache half of engine/bytecode.c: use a published
 * bytecode directory, check it, publish a compiled one, each through its
 * stamp (cache/store_pyc_stamp.h, docs/BYTECODE.md section 4).
 *
 * A warm install trusts a stamp that is whole, names this entry, cache tag
 * and optimization level, was made against the entry's current manifest,
 * and whose directories still have the recorded identities: one read and
 * one fstatat per directory, nothing per file. Otherwise, when the stamp
 * is whole but its bindings no longer hold (the cache was copied or
 * restored, the entry's manifest rebuilt on another device), every .pyc
 * header is checked against its source as before and, when all hold, the
 * stamp is written again; anything else is stale: removed and compiled
 * again. Trusting the stamp cannot make Python run a wrong .pyc: Python
 * itself checks every timestamp .pyc against the source beside it (mtime
 * and size) and ignores and rewrites one that differs, so the header
 * check here only spares linking files Python would not use.
 */
#include "engine/bytecode_int.h"
#include "cache/store_pyc_stamp.h"
#include "base/path.h"
#include "base/rmtree.h"
#include "base/strmap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bc_nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

void bc_drop_dir(const char *path)
{
	struct rmtree o = { 0 };

	rmtree_at(&o, AT_FDCWD, path);
}

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The .pyc of v (in the bytecode directory dfd) has the stamp's magic, a
 * timestamp header matching its entry source's lstat (mtime and size mod
 * 2^32, as Python keeps them); v's recorded values are refreshed. */
static int header_ok(const struct bytecode *b, const struct bc_wheel *bw,
		     int dfd, const struct pyc_stamp *st,
		     struct pyc_stamp_src *v)
{
	char src[PATH_MAX], pyc[PATH_MAX];
	unsigned char h[16];
	struct stat ss, ps;
	int fd, ok, n;

	n = pyc_stamp_pyc_path(pyc, sizeof(pyc), v->rel, b->tag,
			       b->p->compile_optimize);
	if (n < 0 || (size_t)n >= sizeof(pyc) ||
	    (size_t)snprintf(src, sizeof(src), "%s/%s", bw->wp->w.dir,
			     v->rel) >= sizeof(src) ||
	    lstat(src, &ss) < 0 || !S_ISREG(ss.st_mode))
		return 0;
	fd = openat(dfd, pyc, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = fstat(fd, &ps) == 0 && S_ISREG(ps.st_mode) &&
	     pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	     !memcmp(h, st->magic, 4) && le32(h + 4) == 0 &&
	     le32(h + 8) == (uint32_t)ss.st_mtime &&
	     le32(h + 12) == (uint32_t)ss.st_size;
	close(fd);
	if (ok) {
		v->mtime = ss.st_mtime;
		v->size = ss.st_size;
		v->pyc_size = ps.st_size;
	}
	return ok;
}

/* Give each of bw's sources its status and .pyc size from the stamp: 1,
 * or 0 when one is missing from it, or (trusted) when the size it was
 * compiled at is not the entry manifest's. */
static int match(struct bc_wheel *bw, const struct pyc_stamp *st,
		 const struct strmap *idx, int trusted)
{
	for (size_t i = 0; i < bw->n; i++) {
		struct bc_src *v = &bw->src[i];
		const struct strmap_ent *e = strmap_get(idx, v->rel);
		const struct pyc_stamp_src *s;

		if (!e)
			return 0;
		s = &st->src[e->owner];
		if (trusted && s->ok && s->size != v->mf_size)
			return 0;
		v->status = s->ok ? PYC_OK : PYC_NOCOMPILE;
		v->mtime = s->mtime;
		v->size = s->size;
		v->pyc_size = s->pyc_size;
	}
	return 1;
}

/* Check every compiled source of the stamp the old way (its header) and,
 * when all hold, bind the stamp to the entry's manifest and the
 * directories as they are now and write it (best effort: a cache this
 * user cannot write is checked again next time). 1 sound, 0 stale. */
static int check_all(const struct bytecode *b, const struct bc_wheel *bw,
		     int dfd, struct pyc_stamp *st)
{
	for (size_t i = 0; i < st->nsrc; i++)
		if (st->src[i].ok && !header_ok(b, bw, dfd, st, &st->src[i]))
			return 0;
	memcpy(st->manifest, bw->mf_id, sizeof(st->manifest));
	if (pyc_stamp_take_dirs(dfd, st) == 0)
		(void)pyc_stamp_write(dfd, st);
	return 1;
}

int bc_load_warm(struct bytecode *b, struct bc_wheel *bw)
{
	struct strmap idx = { 0 };
	struct pyc_stamp st;
	int dfd, r, ok, trusted = 0;

	dfd = open(bw->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	r = pyc_stamp_read(dfd, &st);
	ok = r == 0 && !strcmp(st.entry, path_basename(bw->wp->w.dir)) &&
	     !strcmp(st.tag, b->tag) && st.opt == b->p->compile_optimize;
	for (size_t i = 0; ok && i < st.nsrc; i++) {
		struct strmap_ent *e;

		r = strmap_put(&idx, st.src[i].rel, &e);
		if (r < 0)
			break;
		e->owner = (int)i;
		ok = r == 1 && i < INT32_MAX; /* a name twice: not ours */
		r = 0;
	}
	if (r == -ENOMEM) {
		strmap_free(&idx);
		pyc_stamp_free(&st);
		close(dfd);
		return bc_nomem(b->ctx);
	}
	if (ok) {
		trusted = !memcmp(st.manifest, bw->mf_id, sizeof(st.manifest)) &&
			  pyc_stamp_dirs_hold(dfd, &st) &&
			  match(bw, &st, &idx, 1);
		ok = trusted || (check_all(b, bw, dfd, &st) &&
				 match(bw, &st, &idx, 0));
	}
	strmap_free(&idx);
	pyc_stamp_free(&st);
	close(dfd);
	if (!ok) {
		ctx_log(b->ctx, SPOKE_LOG_WARN, "bytecode in the cache for "
			"'%s' is stale or damaged; compiling it again",
			bw->wp->w.label);
		bc_drop_dir(bw->dir);
	}
	return ok;
}

/* The stamp of bw's compile, written into its staging directory dfd. */
static int stamp_stage(struct bytecode *b, struct bc_wheel *bw, int dfd)
{
	struct pyc_stamp st = { 0 };
	int ret = 0;

	snprintf(st.entry, sizeof(st.entry), "%s",
		 path_basename(bw->wp->w.dir));
	snprintf(st.tag, sizeof(st.tag), "%s", b->tag);
	st.opt = b->p->compile_optimize;
	memcpy(st.magic, b->magic, sizeof(st.magic));
	memcpy(st.manifest, bw->mf_id, sizeof(st.manifest));
	for (size_t i = 0; i < bw->n && !ret; i++) {
		const struct bc_src *v = &bw->src[i];

		ret = pyc_stamp_add(&st, v->rel, v->status == PYC_OK,
				    v->mtime, v->size, v->pyc_size);
	}
	if (!ret)
		ret = pyc_stamp_take_dirs(dfd, &st);
	if (!ret)
		ret = pyc_stamp_write(dfd, &st);
	pyc_stamp_free(&st);
	return ret;
}

static void no_bytecode(struct bytecode *b, struct bc_wheel *bw,
			const char *why)
{
	ctx_log(b->ctx, SPOKE_LOG_WARN, "no bytecode for '%s': %s",
		bw->wp->w.label, why);
	bc_drop_dir(bw->stage);
	bw->published = 1;
}

int bc_seal(struct bytecode *b, struct bc_wheel *bw, int *syncfd)
{
	int dfd, ret;

	for (size_t i = 0; i < bw->n; i++)
		if (bw->src[i].status == PYC_ERROR) {
			no_bytecode(b, bw, "a file could not be compiled");
			return 0;
		}
	dfd = open(bw->stage, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ret = dfd < 0 ? -errno : stamp_stage(b, bw, dfd);
	if (ret) {
		if (dfd >= 0)
			close(dfd);
		no_bytecode(b, bw, strerror(-ret));
		return ret == -ENOMEM ? bc_nomem(b->ctx) : 0;
	}
	bw->sealed = 1;
	if (*syncfd < 0)
		*syncfd = dfd; /* one syncfs covers every stage: same fs */
	else
		close(dfd);
	return 0;
}

int bc_publish(struct bytecode *b, struct bc_wheel *bw, int synced)
{
	char path[PATH_MAX];
	int err, lost = 0, why = 0;

	if (!bw->sealed || bw->published)
		return 0;
	bw->published = 1;
	snprintf(path, sizeof(path), "%s", bw->dir);
	path_dirname(path);
	if (synced < 0)
		why = -synced;
	else if (mkdir(path, 0755) < 0 && errno != EEXIST)
		why = errno;
	else if (renameat2(AT_FDCWD, bw->stage, AT_FDCWD, bw->dir,
			   RENAME_NOREPLACE) < 0) {
		lost = errno == EEXIST || errno == ENOTEMPTY;
		why = lost ? 0 : errno;
	}
	if (why) {
		no_bytecode(b, bw, strerror(why));
		return 0;
	}
	if (!lost) {
		bw->usable = 1;
		return 0;
	}
	bc_drop_dir(bw->stage); /* another process published first */
	err = bc_load_warm(b, bw);
	bw->usable = err == 1;
	return err < 0 ? err : 0;
}
