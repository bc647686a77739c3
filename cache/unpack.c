/* SPDX-License-Identifier: MIT */
/*
 * unpack - see unpack.h. Everything that can fail without touching the disk
 * (dist-info, RECORD syntax, RECORD versus the zip listing) is checked in
 * unpack_begin, before a single file is written, so a malformed wheel costs
 * no I/O. Each file task then writes, hashes and checks one entry; the first
 * failure is kept (later tasks see the flag and return at once) because it is
 * the one that explains the run, not the cancellations that follow it.
 */
#include "base/errmsg.h"
#include "cache/unpack.h"
#include "cache/unpack_int.h"
#include "base/fdio.h"
#include "cache/record.h"
#include "base/pool.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "base/name.h"
#include "io/linkops.h"
#include "spoke.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RECORD is held whole; anything bigger is not a real RECORD. */
#define RECORD_MAX (64u << 20)

int unpack_unlisted_ok(const char *dist_info, const char *path)
{
	size_t n = strlen(dist_info);

	if (strncmp(path, dist_info, n) != 0 || path[n] != '/')
		return 0;
	path += n + 1;
	return !strcmp(path, "RECORD") || !strcmp(path, "RECORD.jws") ||
	       !strcmp(path, "RECORD.p7s");
}

int unpack_dist_info(const struct zip *z, char **out, char *err,
		     size_t errlen)
{
	const char *found = NULL;
	size_t flen = 0;

	*out = NULL;
	for (size_t i = 0; i < z->n; i++) {
		const char *name = z->ent[i].name, *slash = strchr(name, '/');
		size_t len = slash ? (size_t)(slash - name) : 0;

		if (len < 10 || memcmp(name + len - 10, ".dist-info", 10))
			continue;
		if (!found) {
			found = name;
			flen = len;
		} else if (len != flen || memcmp(name, found, len)) {
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				    "%s: more than one .dist-info directory: "
				    "%.*s and %.*s", z->label, (int)flen, found,
				    (int)len, name);
		}
	}
	if (!found)
		return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
			    "%s: no .dist-info directory", z->label);
	*out = xstrndup(found, flen);
	return *out ? 0 : errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory",
			       z->label);
}

/* ---- preparation -------------------------------------------------------- */

static int load_record(struct unpack_job *j, const struct zip_entry *re,
		       char *err, size_t errlen)
{
	const struct zip *z = j->z;
	char *buf = NULL, msg[512];
	unsigned char *used = NULL;
	size_t len;
	int ret;

	ret = zip_extract_alloc(z, re, RECORD_MAX, &buf, &len, err, errlen);
	if (ret)
		return ret;
	ret = record_parse(buf, len, &j->rec, msg, sizeof(msg));
	if (!ret)
		ret = record_index_build(&j->ix, &j->rec, msg, sizeof(msg));
	if (ret) {
		errmsg_fail(ret, err, errlen, "%s: %s: %s", z->label, re->name,
		     ret == -ENOMEM ? "out of memory" : msg);
		goto out;
	}
	used = xcalloc(j->rec.n, 1);
	if (!used) {
		ret = errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory",
			   z->label);
		goto out;
	}
	for (size_t i = 0; i < j->ntasks; i++) {
		struct ftask *t = &j->tasks[i];
		const struct record_row *row;
		long r = record_index_find(&j->ix, t->e->name,
					   t->e->name_len);

		if (unpack_unlisted_ok(j->dist_info, t->e->name)) {
			if (r >= 0)
				used[r] = 1;
			continue;
		}
		if (r < 0) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: file is not listed in RECORD",
				   z->label, t->e->name);
			goto out;
		}
		used[r] = 1;
		row = &j->rec.rows[r];
		if (!row->algo[0]) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: RECORD has no hash for the file",
				   z->label, t->e->name);
			goto out;
		}
		if (!digest_size(row->algo)) {
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: unsupported hash algorithm '%s' in "
				   "RECORD", z->label, t->e->name, row->algo);
			goto out;
		}
		t->row = row;
	}
	for (size_t i = 0; i < j->rec.n; i++) {
		if (!used[i]) {
			char shown[1024];

			name_escape(shown, sizeof(shown), j->rec.rows[i].path);
			ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				   "%s: %s: listed in RECORD but not in the "
				   "wheel", z->label, shown);
			goto out;
		}
	}
out:
	free(used);
	free(buf);
	return ret;
}

struct dname {
	const char *p;
	size_t len;
};

static int dname_cmp(const void *a, const void *b)
{
	const struct dname *x = a, *y = b;
	int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Every parent of every entry, deduplicated; sorted order puts each
 * directory before anything below it. */
static int make_dirs(struct unpack_job *j, char *err, size_t errlen)
{
	const struct zip *z = j->z;
	struct dname *d = NULL;
	size_t n = 0, cap = 0;
	char path[ZIP_NAME_MAX + 1], eb[128];
	int ret = 0;

	for (size_t i = 0; i < z->n; i++) {
		const struct zip_entry *e = &z->ent[i];

		for (size_t k = 0; k < e->name_len; k++) {
			if (e->name[k] != '/')
				continue;
			if (n == cap) {
				struct dname *nd;

				cap = cap ? cap * 2 : 256;
				nd = xrealloc(d, cap * sizeof(*d));
				if (!nd) {
					ret = errmsg_fail(-ENOMEM, err, errlen,
						   "%s: out of memory",
						   z->label);
					goto out;
				}
				d = nd;
			}
			d[n++] = (struct dname){ e->name, k };
		}
	}
	if (n)
		qsort(d, n, sizeof(*d), dname_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !dname_cmp(&d[i], &d[i - 1]))
			continue;
		memcpy(path, d[i].p, d[i].len);
		path[d[i].len] = '\0';
		ret = io_mkdir_at(j->dirfd, path, 0777);
		if (ret) {
			errmsg_fail(ret, err, errlen, "%s: %s/: mkdir: %s", z->label,
			     path, errmsg_str(ret, eb, sizeof(eb)));
			goto out;
		}
		j->dirs++;
	}
out:
	free(d);
	return ret;
}

/* ---- file tasks --------------------------------------------------------- */

struct fsink {
	struct zip_sink s;
	struct unpack_job *j;
	int fd;
	int hashing;
	struct digest d;
};

/* The second line of the budget: whatever the sizes said, no more than
 * max_total bytes reach the disk. */
int unpack_charge(struct unpack_job *j, uint64_t n)
{
	uint64_t before = atomic_fetch_add_explicit(&j->written, n,
						    memory_order_relaxed);

	return n > j->max_total || before > j->max_total - n ? -EFBIG : 0;
}

static int fs_write(struct zip_sink *s, const void *buf, size_t len)
{
	struct fsink *f = (struct fsink *)s;

	if (unpack_charge(f->j, len))
		return -EFBIG;

	if (f->hashing && digest_update(&f->d, buf, len))
		return -EIO;
	return fd_write_all(f->fd, buf, len);
}

int unpack_check_row(const struct unpack_job *j, const struct zip_entry *e,
		     const struct record_row *row, const unsigned char *got,
		     char *msg, size_t len)
{
	char want_s[128], got_s[128];

	if (row->size >= 0 && (uint64_t)row->size != e->size)
		return errmsg_fail(SPOKE_E_HASH, msg, len, "%s: %s: size %llu differs "
			    "from RECORD's %lld", j->z->label, e->name,
			    (unsigned long long)e->size,
			    (long long)row->size);
	if (!memcmp(got, row->digest, row->digest_len))
		return 0;
	b64url_encode(row->digest, row->digest_len, want_s, sizeof(want_s));
	b64url_encode(got, row->digest_len, got_s, sizeof(got_s));
	return errmsg_fail(SPOKE_E_HASH, msg, len, "%s: %s: %s mismatch: RECORD has "
		    "%s, file has %s", j->z->label, e->name, row->algo, want_s,
		    got_s);
}

static int write_file(struct unpack_job *j, const struct ftask *t, char *msg,
		      size_t len)
{
	const struct zip_entry *e = t->e;
	struct fsink f = {
		.s = { fs_write, j->stream_min },
		.j = j,
		.fd = -1,
		.hashing = j->verify && t->row,
	};
	unsigned char got[RECORD_DIGEST_MAX];
	char eb[128];
	int ret;

	ret = io_fault_hit(IO_OP_OPEN);
	if (!ret) {
		f.fd = openat(j->dirfd, e->name, O_WRONLY | O_CREAT | O_EXCL |
			      O_NOFOLLOW | O_CLOEXEC, e->exec ? 0777 : 0666);
		if (f.fd < 0)
			ret = -errno;
	}
	if (ret)
		return errmsg_fail(ret, msg, len, "%s: %s: create: %s", j->z->label,
			    e->name, errmsg_str(ret, eb, sizeof(eb)));
	if (f.hashing && (ret = digest_init(&f.d, t->row->algo)) != 0) {
		errmsg_fail(ret, msg, len, "%s: %s: hash: %s", j->z->label, e->name,
		     errmsg_str(ret, eb, sizeof(eb)));
		f.hashing = 0;
		goto out;
	}
	ret = zip_extract(j->z, e, &f.s, msg, len);
	if (ret == -EFBIG && atomic_load(&j->written) > j->max_total)
		ret = errmsg_fail(SPOKE_E_BADWHEEL, msg, len, "%s: %s: the "
				  "wheel unpacks to more than the size budget "
				  "of %llu bytes (set SPOKE_UNPACK_MAX to "
				  "change)", j->z->label, e->name,
				  (unsigned long long)j->max_total);
out:
	if (close(f.fd) < 0 && !ret) {
		ret = -errno;
		errmsg_fail(ret, msg, len, "%s: %s: close: %s", j->z->label, e->name,
		     errmsg_str(ret, eb, sizeof(eb)));
	}
	if (f.hashing && ret) {
		digest_free(&f.d);
	} else if (f.hashing) {
		ret = digest_final(&f.d, got);
		if (ret)
			errmsg_fail(ret, msg, len, "%s: %s: hash failed", j->z->label,
			     e->name);
		else
			ret = unpack_check_row(j, e, t->row, got, msg, len);
	}
	return ret;
}

void unpack_job_fail(struct unpack_job *j, int code, const char *msg)
{
	pthread_mutex_lock(&j->mu);
	if (!j->err) {
		j->err = code;
		snprintf(j->msg, sizeof(j->msg), "%s", msg);
	}
	pthread_mutex_unlock(&j->mu);
	atomic_store_explicit(&j->failed, 1, memory_order_relaxed);
}

/* The last task of the job hands it to done; nothing touches j after. */
void unpack_task_finished(struct unpack_job *j, size_t n)
{
	if (atomic_fetch_sub_explicit(&j->left, n, memory_order_acq_rel) == n &&
	    j->done)
		j->done(j->user);
}

int unpack_stopped(const struct unpack_job *j)
{
	return (j->cancel && atomic_load_explicit(j->cancel,
						  memory_order_relaxed)) ||
	       (j->stop && atomic_load_explicit(j->stop, memory_order_relaxed));
}

int unpack_task_skip(struct unpack_job *j)
{
	char msg[MSG_MAX];

	if (atomic_load_explicit(&j->failed, memory_order_relaxed)) {
		unpack_task_finished(j, 1);
		return 1;
	}
	if (unpack_stopped(j)) {
		snprintf(msg, sizeof(msg), "%s: canceled", j->z->label);
		unpack_job_fail(j, SPOKE_E_CANCELED, msg);
		unpack_task_finished(j, 1);
		return 1;
	}
	return 0;
}

static void file_task(struct pool_worker *w, struct pool_task *pt)
{
	struct ftask *t = container_of(pt, struct ftask, t);
	struct unpack_job *j = t->j;
	char msg[MSG_MAX];
	int ret;

	(void)w;
	if (unpack_task_skip(j))
		return;
	ret = write_file(j, t, msg, sizeof(msg));
	if (ret)
		unpack_job_fail(j, ret, msg);
	else
		unpack_file_done(j, t->e->size);
	unpack_task_finished(j, 1);
}

void unpack_file_done(struct unpack_job *j, uint64_t size)
{
	atomic_fetch_add_explicit(&j->files, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&j->bytes, size, memory_order_relaxed);
	if (j->tick)
		j->tick(j->user, size);
}

/* ---- job ---------------------------------------------------------------- */

static void job_free(struct unpack_job *j)
{
	if (!j)
		return;
	record_index_free(&j->ix);
	record_free(&j->rec);
	unpack_free_tasks(j);
	free(j->tasks);
	free(j->dist_info);
	pthread_mutex_destroy(&j->mu);
	free(j);
}

int unpack_begin(struct unpack_job **out, const struct zip *z, int dirfd,
		 const struct unpack_opts *o, char *err, size_t errlen)
{
	struct unpack_job *j;
	char *rname = NULL;
	long ri;
	int ret;

	*out = NULL;
	j = xcalloc(1, sizeof(*j));
	if (!j)
		return errmsg_fail(-ENOMEM, err, errlen, "%s: out of memory",
			    z->label);
	pthread_mutex_init(&j->mu, NULL);
	j->z = z;
	j->dirfd = dirfd;
	j->verify = o->verify;
	j->cancel = o->cancel;
	j->stop = o->stop;
	j->tick = o->tick;
	j->done = o->done;
	j->user = o->user;
	j->stream_min = o->stream_min;
	j->io = io_backend_unpack_choice((enum io_choice)o->io);
	j->max_total = o->max_total ? o->max_total :
		       unpack_default_budget(z->map_len);
	j->max_ratio = o->max_ratio ? o->max_ratio : UNPACK_RATIO_DEFAULT;
	ret = unpack_check_budget(z, j->max_total, j->max_ratio, err, errlen);
	if (!ret)
		ret = unpack_dist_info(z, &j->dist_info, err, errlen);
	if (ret)
		goto out;
	ret = -ENOMEM;
	rname = xmalloc(strlen(j->dist_info) + sizeof("/RECORD"));
	j->tasks = xcalloc(z->n, sizeof(*j->tasks));
	if (!rname || !j->tasks) {
		errmsg_fail(ret, err, errlen, "%s: out of memory", z->label);
		goto out;
	}
	sprintf(rname, "%s/RECORD", j->dist_info);
	ri = zip_find(z, rname);
	if (ri < 0) {
		ret = errmsg_fail(SPOKE_E_BADWHEEL, err, errlen, "%s: %s: missing",
			   z->label, rname);
		goto out;
	}
	for (size_t i = 0; i < z->n; i++) {
		const struct zip_entry *e = &z->ent[i];
		struct ftask *t;
		unsigned bits = 0;

		if (e->is_dir)
			continue;
		t = &j->tasks[j->ntasks++];
		t->j = j;
		t->e = e;
		t->t.fn = file_task;
		/* Big files first, so no worker is left with one at the end. */
		for (uint64_t s = e->size; s; s >>= 1)
			bits++;
		t->t.prio = (int)bits;
	}
	ret = unpack_plan_tasks(j);
	if (ret) {
		errmsg_fail(ret, err, errlen, "%s: out of memory", z->label);
		goto out;
	}
	atomic_init(&j->left, j->nrun);
	ret = j->verify ? load_record(j, &z->ent[ri], err, errlen) : 0;
	if (!ret)
		ret = make_dirs(j, err, errlen);
out:
	free(rname);
	if (ret)
		job_free(j);
	else
		*out = j;
	return ret;
}

int unpack_spawn(struct unpack_job *j, struct pool *p, struct pool_worker *w)
{
	char msg[256];

	for (size_t i = 0; i < j->nrun; i++) {
		int ret = pool_spawn(p, w, j->run[i]);

		if (ret) {
			/* Those spawned still run, see the flag, and stop. */
			snprintf(msg, sizeof(msg), "%s: out of memory queueing "
				 "tasks", j->z->label);
			unpack_job_fail(j, ret, msg);
			unpack_task_finished(j, j->nrun - i);
			return ret;
		}
	}
	return 0;
}

size_t unpack_ntasks(const struct unpack_job *j)
{
	return j->nrun;
}

void unpack_run_here(struct unpack_job *j)
{
	for (size_t i = 0; i < j->nrun; i++)
		j->run[i]->fn(NULL, j->run[i]);
}

int unpack_end(struct unpack_job *j, struct unpack_stats *st, char *err,
	       size_t errlen)
{
	int ret = j->err;

	if (ret)
		errmsg_fail(ret, err, errlen, "%s", j->msg);
	if (st) {
		st->files = atomic_load(&j->files);
		st->bytes = atomic_load(&j->bytes);
		st->dirs = j->dirs;
	}
	job_free(j);
	return ret;
}

int unpack_wheel(const struct zip *z, int dirfd, const struct unpack_opts *o,
		 struct unpack_stats *st, char *err, size_t errlen)
{
	struct unpack_job *j;
	int ret;

	if (st)
		*st = (struct unpack_stats){ 0 };
	ret = unpack_begin(&j, z, dirfd, o, err, errlen);
	if (ret)
		return ret;
	if (o->pool && j->nrun > 1) {
		/* A failed spawn is recorded in the job; run what was
		 * queued so no task is left pointing into the job. */
		unpack_spawn(j, o->pool, NULL);
		pool_run(o->pool);
	} else {
		unpack_run_here(j);
	}
	return unpack_end(j, st, err, errlen);
}
