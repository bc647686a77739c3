/* SPDX-License-Identifier: MIT */
/*
 * unpack_batch - the unpack's writes through io_uring (issue 13 item 5).
 * With the sync choice every file is a task of its own that creates, writes
 * and closes it with plain syscalls (unpack.c). With io_uring (auto too,
 * see io_backend_unpack_choice), the small
 * files of a wheel are grouped into batches (at most BATCH_FILES files and
 * BATCH_BYTES bytes, in archive order): a batch task inflates each file
 * into one buffer, hashing it and checking it against RECORD as it goes,
 * then hands the whole batch to the worker thread's io backend as IOK_WRITE
 * ops (create, write, close), which io_uring submits together. Large files
 * stay tasks of their own, streamed with plain writes: they are few, and
 * holding them whole for an async write would cost their size in memory.
 *
 * Every check is the one-file path's: the size budget is charged per piece,
 * the digest is checked before the file is written (a mismatch writes
 * nothing), create and write failures name the file and the step, and
 * faults (SPOKE_FAULT open:N, write:N) hit the backend's calls in the same
 * order as the sync path's. Each worker thread keeps one backend for its
 * life (a ring set up once, not per wheel), released when the thread ends.
 */
#include "base/errmsg.h"
#include "cache/unpack_int.h"
#include "base/alloc.h"
#include "spoke.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_FILES 64u
#define BATCH_BYTES (1u << 20)
/* Files this large or larger are not batched. */
#define BATCH_FILE_MAX (128u << 10)

struct btask {
	struct pool_task t;
	struct unpack_job *j;
	struct ftask **f;	/* into the job's ftask pointers */
	size_t n;
	uint64_t bytes;		/* declared sizes, at most BATCH_BYTES */
};

/* ---- one backend per thread -------------------------------------------- */

struct tl_backend {
	struct io_backend *b;
	enum io_choice choice;
	unsigned gen;		/* fork_gen when b was made */
};

static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static int tl_err;
/* A ring belongs to the process that set it up: a child of fork (a test,
 * an embedding program) inherits the pointer but must make its own. */
static atomic_uint fork_gen;

static void forked(void)
{
	atomic_fetch_add(&fork_gen, 1);
}

static void tl_free(void *p)
{
	struct tl_backend *t = p;

	io_backend_destroy(t->b);
	free(t);
}

static void tl_init(void)
{
	tl_err = -pthread_key_create(&tl_key, tl_free);
	if (!tl_err)
		tl_err = -pthread_atfork(NULL, NULL, forked);
}

/* This thread's backend for choice: 0 and *out, or -errno (io_uring
 * refused, out of memory). */
static int thread_backend(enum io_choice choice, struct io_backend **out)
{
	struct tl_backend *t;
	int ret;

	pthread_once(&tl_once, tl_init);
	if (tl_err)
		return tl_err;
	t = pthread_getspecific(tl_key);
	if (t && t->choice == choice && t->gen == atomic_load(&fork_gen)) {
		*out = t->b;
		return 0;
	}
	if (!t) {
		t = xcalloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		ret = -pthread_setspecific(tl_key, t);
		if (ret) {
			free(t);
			return ret;
		}
	}
	io_backend_destroy(t->b);
	t->b = NULL;
	/* auto means io_uring here (io_backend_unpack_choice), but never
	 * fails for lack of it: the batch is written by plain syscalls. */
	ret = io_backend_open(choice == IO_CHOICE_AUTO ? IO_CHOICE_URING :
			      choice, &t->b);
	if (ret && choice == IO_CHOICE_AUTO)
		ret = io_backend_sync_create(&t->b);
	if (ret)
		return ret;
	t->choice = choice;
	t->gen = atomic_load(&fork_gen);
	*out = t->b;
	return 0;
}

/* ---- a batch ------------------------------------------------------------ */

/* Inflates one file into its slice of the batch buffer, hashing and
 * charging it like fs_write in unpack.c. */
struct msink {
	struct zip_sink s;
	struct unpack_job *j;
	unsigned char *p;
	size_t len, cap;
	int hashing;
	struct digest d;
};

static int ms_write(struct zip_sink *s, const void *buf, size_t len)
{
	struct msink *m = (struct msink *)s;

	if (unpack_charge(m->j, len) || len > m->cap - m->len)
		return -EFBIG;
	if (m->hashing && digest_update(&m->d, buf, len))
		return -EIO;
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

/* Inflate and check file t into p (its declared size): 0, or an error
 * with its message. Nothing is written to disk here. */
static int fill(struct unpack_job *j, const struct ftask *t,
		unsigned char *p, char *msg, size_t len)
{
	const struct zip_entry *e = t->e;
	struct msink m = {
		.s = { ms_write, j->stream_min },
		.j = j,
		.p = p,
		.cap = (size_t)e->size,
		.hashing = j->verify && t->row,
	};
	unsigned char got[RECORD_DIGEST_MAX];
	char eb[128];
	int ret;

	if (m.hashing && (ret = digest_init(&m.d, t->row->algo)) != 0)
		return errmsg_fail(ret, msg, len, "%s: %s: hash: %s",
				   j->z->label, e->name,
				   errmsg_str(ret, eb, sizeof(eb)));
	ret = zip_extract(j->z, e, &m.s, msg, len);
	if (ret == -EFBIG && atomic_load(&j->written) > j->max_total)
		ret = errmsg_fail(SPOKE_E_BADWHEEL, msg, len, "%s: %s: the "
				  "wheel unpacks to more than the size budget "
				  "of %llu bytes (set SPOKE_UNPACK_MAX to "
				  "change)", j->z->label, e->name,
				  (unsigned long long)j->max_total);
	if (!m.hashing)
		return ret;
	if (ret) {
		digest_free(&m.d);
		return ret;
	}
	ret = digest_final(&m.d, got);
	if (ret)
		return errmsg_fail(ret, msg, len, "%s: %s: hash failed",
				   j->z->label, e->name);
	return unpack_check_row(j, e, t->row, got, msg, len);
}

static const char *step_name(uint8_t step)
{
	return step == IO_STEP_WRITE ? "write" : step == IO_STEP_CLOSE ?
	       "close" : "create";
}

static int run_batch(struct btask *b, char *msg, size_t len)
{
	struct unpack_job *j = b->j;
	unsigned char *buf = xmalloc(b->bytes ? (size_t)b->bytes : 1);
	struct io_op *ops = xcalloc(b->n, sizeof(*ops));
	struct io_backend *be;
	size_t off = 0;
	char eb[128];
	int ret = 0;

	if (!buf || !ops) {
		ret = errmsg_fail(-ENOMEM, msg, len, "%s: out of memory",
				  j->z->label);
		goto out;
	}
	for (size_t i = 0; i < b->n && !ret; i++) {
		const struct zip_entry *e = b->f[i]->e;

		if (atomic_load_explicit(&j->failed, memory_order_relaxed))
			goto out;
		ret = fill(j, b->f[i], buf + off, msg, len);
		ops[i] = (struct io_op){
			.kind = IOK_WRITE,
			.mode = e->exec ? 0777 : 0666,
			.dfd = j->dirfd,
			.dname = e->name,
			.size = e->size,
			.data = buf + off,
			.user = (uint32_t)i,
		};
		off += (size_t)e->size;
	}
	if (ret)
		goto out;
	ret = thread_backend(j->io, &be);
	if (!ret)
		ret = io_backend_submit(be, ops, (unsigned)b->n);
	if (ret) {
		errmsg_fail(ret, msg, len, "%s: %s backend: %s", j->z->label,
			    j->io == IO_CHOICE_SYNC ? "io" : "io_uring",
			    errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (!ops[i].res)
			continue;
		ret = errmsg_fail(ops[i].res, msg, len, "%s: %s: %s: %s",
				  j->z->label, ops[i].dname,
				  step_name(ops[i].step),
				  errmsg_str(ops[i].res, eb, sizeof(eb)));
		goto out;
	}
	for (size_t i = 0; i < b->n; i++)
		unpack_file_done(j, b->f[i]->e->size);
out:
	free(ops);
	free(buf);
	return ret;
}

static void batch_task(struct pool_worker *w, struct pool_task *pt)
{
	struct btask *b = container_of(pt, struct btask, t);
	struct unpack_job *j = b->j;
	char msg[MSG_MAX];
	int ret;

	(void)w;
	if (unpack_task_skip(j))
		return;
	ret = run_batch(b, msg, sizeof(msg));
	if (ret)
		unpack_job_fail(j, ret, msg);
	unpack_task_finished(j, 1);
}

/* ---- planning ----------------------------------------------------------- */

static int batched(const struct unpack_job *j, const struct ftask *t)
{
	return j->io != IO_CHOICE_SYNC && t->e->size < BATCH_FILE_MAX;
}

int unpack_plan_tasks(struct unpack_job *j)
{
	struct ftask **small;
	size_t nsmall = 0;

	/* At most one run slot per file: batches only make fewer. */
	j->run = xcalloc(j->ntasks ? j->ntasks : 1, sizeof(*j->run) +
			 sizeof(*small));
	if (!j->run)
		return -ENOMEM;
	small = (struct ftask **)(j->run + (j->ntasks ? j->ntasks : 1));
	for (size_t i = 0; i < j->ntasks; i++) {
		if (batched(j, &j->tasks[i]))
			small[nsmall++] = &j->tasks[i];
		else
			j->run[j->nrun++] = &j->tasks[i].t;
	}
	if (!nsmall)
		return 0;
	j->batches = xcalloc(nsmall, sizeof(*j->batches));
	if (!j->batches)
		return -ENOMEM;
	for (size_t i = 0; i < nsmall; i++) {
		struct btask *b = j->nbatches ? &j->batches[j->nbatches - 1] :
				  NULL;
		uint64_t size = small[i]->e->size;

		if (!b || b->n == BATCH_FILES || size > BATCH_BYTES - b->bytes) {
			b = &j->batches[j->nbatches++];
			b->t.fn = batch_task;
			/* After the large files: they start first. */
			b->t.prio = 0;
			b->j = j;
			b->f = &small[i];
			j->run[j->nrun++] = &b->t;
		}
		b->n++;
		b->bytes += size;
	}
	return 0;
}

void unpack_free_tasks(struct unpack_job *j)
{
	free(j->batches);
	free(j->run);
}
