/* SPDX-License-Identifier: MIT */
/*
 * pycompile - see pycompile.h. One driver thread per worker interpreter:
 * a driver blocks on its own worker only, so a slow file never holds up the
 * others, and the queue is the only shared state (one mutex, taken twice per
 * file, next to a compile that costs milliseconds). The protocol is a line
 * each way: "OPT MODE SRC OUT DFILE" with the paths as hex of their bytes (a
 * hostile wheel's names may hold spaces, newlines or any byte), answered by
 * "ok MTIME SIZE PYCSIZE", "nocompile MSG" or "error ERRNO MSG". Workers
 * run in their own process group, so a terminal's ^C reaches spoke, which
 * cancels, and not the workers; they exit at end of input, which they also
 * see when spoke dies, so none outlives it. (Some 700 lines, over the
 * usual 600: spawn, line I/O, retry and queue all work on the driver's
 * state, and a split would export it between two files; the worker program
 * itself lives in pycompile_worker.c.)
 */
#include "engine/pycompile.h"
#include "base/alloc.h"
#include "base/errmsg.h"
#include "spoke.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

extern const char pyc_worker_py[]; /* pycompile_worker.c */

#define LINE_MAX_BYTES 16384
#define HELLO_TIMEOUT_MS 30000
#define POLL_MS 50
#define STOP_GRACE_MS 2000

struct req {
	struct req *next;
	struct pyc_request r;
	char buf[];	/* src, out, dfile, each NUL-terminated */
};

struct driver {
	struct pyc_pool *pool;
	pthread_t thread;
	int started;
	int fd;			/* our end of the socketpair, -1: no worker */
	atomic_int pid;		/* 0: none */
	size_t rlen;
	size_t linelen;		/* bytes of the last line, newline included */
	char rbuf[LINE_MAX_BYTES];
};

struct pyc_pool {
	pthread_mutex_t lock;
	pthread_cond_t work;	/* queue non-empty, cancel or close */
	pthread_cond_t idle;	/* pending reached 0 */
	struct req *head, **tail;
	unsigned long pending;	/* submitted, callback not yet returned */
	int canceled, closing;
	const atomic_int *ext_cancel;
	pyc_done_fn done;
	void *done_user;
	char *python, *die_dir;
	char tag[64];
	unsigned char magic[4];
	struct pyc_pool_stats st;
	unsigned n;
	struct driver d[];
};

static int ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int)((t.tv_sec - t0->tv_sec) * 1000 +
		     (t.tv_nsec - t0->tv_nsec) / 1000000);
}

static int ext_canceled(const struct pyc_pool *p)
{
	return p->ext_cancel &&
	       atomic_load_explicit(p->ext_cancel, memory_order_relaxed);
}

static int is_canceled(struct pyc_pool *p)
{
	int c;

	pthread_mutex_lock(&p->lock);
	c = p->canceled || ext_canceled(p);
	pthread_mutex_unlock(&p->lock);
	return c;
}

/* Start one worker on a fresh socketpair. The child gets the socket as
 * stdin and stdout and /dev/null as stderr (the library never prints); the
 * signal mask and SIGPIPE/SIGINT/SIGTERM dispositions are reset, and it
 * leads its own process group. Every other descriptor of ours is O_CLOEXEC,
 * so concurrent spawns from other threads cannot leak this socket. */
static int worker_spawn(struct pyc_pool *p, struct driver *d, char *err,
			size_t errlen)
{
	/* -S: no site, so no .pth file of the environment being installed
	 * into runs in a worker, and a start costs a third of the time. */
	char *argv[] = { p->python, "-I", "-S", "-B", "-c",
			 (char *)pyc_worker_py, p->die_dir, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int sv[2], e;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return errmsg_fail(-errno, err, errlen, "cannot start a compile"
				   " worker: socketpair: %s", strerror(errno));
	/* dup2 onto itself would keep O_CLOEXEC: move a low fd up first. */
	if (sv[1] <= STDERR_FILENO) {
		int hi = fcntl(sv[1], F_DUPFD_CLOEXEC, 3);

		if (hi < 0) {
			e = -errno;
			close(sv[0]);
			close(sv[1]);
			return errmsg_fail(e, err, errlen, "cannot start a "
					   "compile worker: %s", strerror(-e));
		}
		close(sv[1]);
		sv[1] = hi;
	}
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	e = posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	if (!e)
		e = posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
	if (!e)
		e = posix_spawn_file_actions_addopen(&fa, STDERR_FILENO,
						     "/dev/null", O_WRONLY, 0);
	if (!e)
		e = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					     POSIX_SPAWN_SETSIGDEF |
					     POSIX_SPAWN_SETPGROUP);
	if (!e)
		e = posix_spawnattr_setsigmask(&at, &none);
	if (!e)
		e = posix_spawnattr_setsigdefault(&at, &def);
	if (!e)
		e = posix_spawnattr_setpgroup(&at, 0);
	if (!e)
		e = posix_spawn(&pid, p->python, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(sv[1]);
	if (e) {
		close(sv[0]);
		return errmsg_fail(-e, err, errlen, "cannot run the interpreter"
				   " '%s': %s", p->python, strerror(e));
	}
	d->fd = sv[0];
	atomic_store(&d->pid, pid);
	return 0;
}

/* End a worker: end of input first (it exits at once between files),
 * SIGKILL after the grace time, and always reap it. why (optional) gets
 * how it ended. */
static void worker_stop(struct driver *d, int grace_ms, char *why,
			size_t whylen)
{
	pid_t pid = atomic_load(&d->pid);
	struct timespec t0;
	int status = 0, killed = 0;
	pid_t r;

	if (d->fd >= 0) {
		shutdown(d->fd, SHUT_WR);
		close(d->fd);
		d->fd = -1;
	}
	d->rlen = d->linelen = 0;
	if (pid <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (r == 0 && !killed && ms_since(&t0) >= grace_ms) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		if (r == 0)
			nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
	atomic_store(&d->pid, 0);
	if (!why)
		return;
	if (r != pid)
		snprintf(why, whylen, "worker %d vanished (%s)", (int)pid,
			 strerror(errno));
	else if (WIFSIGNALED(status))
		snprintf(why, whylen, "worker %d killed by signal %d", (int)pid,
			 WTERMSIG(status));
	else
		snprintf(why, whylen, "worker %d exited with status %d",
			 (int)pid, WEXITSTATUS(status));
}

/* Read one line into d->rbuf (NUL replaces the newline). 0 and *line, or
 * -EPIPE (worker gone), -EPROTO (line too long), -ECANCELED, -ETIMEDOUT
 * (timeout_ms >= 0 ran out). Polling in short steps lets a cancel stop a
 * worker in the middle of a huge file. */
static int read_line(struct driver *d, int timeout_ms, char **line)
{
	struct timespec t0;
	char *nl;
	ssize_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		nl = memchr(d->rbuf, '\n', d->rlen);
		if (nl) {
			*nl = '\0';
			d->linelen = (size_t)(nl - d->rbuf) + 1;
			*line = d->rbuf;
			return 0;
		}
		if (d->rlen == sizeof(d->rbuf))
			return -EPROTO;
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, POLL_MS);

		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr <= 0) {
			if (d->pool && is_canceled(d->pool))
				return -ECANCELED;
			if (timeout_ms >= 0 && ms_since(&t0) >= timeout_ms)
				return -ETIMEDOUT;
			continue;
		}
		n = read(d->fd, d->rbuf + d->rlen, sizeof(d->rbuf) - d->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != ECONNRESET)
			return -errno;
		if (n <= 0)
			return -EPIPE;
		d->rlen += (size_t)n;
	}
}

/* Drop the line read_line returned (the protocol has one in flight, so
 * normally nothing follows it). */
static void consume_line(struct driver *d)
{
	memmove(d->rbuf, d->rbuf + d->linelen, d->rlen - d->linelen);
	d->rlen -= d->linelen;
	d->linelen = 0;
}

static int send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -EPIPE : -errno;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static char *put_hex(char *o, const char *s)
{
	static const char hx[] = "0123456789abcdef";

	for (; *s; s++) {
		*o++ = hx[(unsigned char)*s >> 4];
		*o++ = hx[(unsigned char)*s & 15];
	}
	return o;
}

static char *request_line(const struct pyc_request *r, size_t *len)
{
	size_t n = 16 + 2 * (strlen(r->src) + strlen(r->out) +
			     strlen(r->dfile)) + 4;
	char *line = xmalloc(n), *o;

	if (!line)
		return NULL;
	o = line + snprintf(line, n, "%d %d ", r->optimize, (int)r->mode);
	o = put_hex(o, r->src);
	*o++ = ' ';
	o = put_hex(o, r->out);
	*o++ = ' ';
	o = put_hex(o, r->dfile);
	*o++ = '\n';
	*len = (size_t)(o - line);
	return line;
}

/* Map a reply line onto res (msg points into the line). */
static void parse_reply(char *line, struct pyc_result *res)
{
	char *end;
	long e;

	if (strncmp(line, "ok ", 3) == 0 &&
	    sscanf(line + 3, "%lld %lld %lld", &res->mtime, &res->size,
		   &res->pyc_size) == 3) {
		res->status = PYC_OK;
	} else if (strncmp(line, "nocompile ", 10) == 0) {
		res->status = PYC_NOCOMPILE;
		res->msg = line + 10;
	} else if (strncmp(line, "error ", 6) == 0) {
		e = strtol(line + 6, &end, 10);
		res->status = PYC_ERROR;
		res->err = e > 0 && e < 4096 ? (int)-e : -EIO;
		res->msg = *end == ' ' ? end + 1 : end;
	} else {
		res->status = PYC_ERROR;
		res->err = -EPROTO;
		res->msg = "the compile worker gave an unexpected answer";
	}
}

/* Remove the temporary file a worker killed mid-write left behind: the
 * worker names it "<out>.<pid>.tmp". */
static void unlink_worker_tmp(const char *out, pid_t pid)
{
	size_t n = strlen(out) + 32;
	char *tmp = xmalloc(n);

	if (!tmp)
		return;
	snprintf(tmp, n, "%s.%d.tmp", out, (int)pid);
	unlink(tmp);
	free(tmp);
}

static int read_hello(struct pyc_pool *p, struct driver *d, char *err,
		      size_t errlen);

/* Compile one request on d's worker, replacing a dead worker and trying
 * the file once more. msgbuf backs res->msg for errors made here. */
static void run_request(struct driver *d, struct req *q, struct pyc_result *res,
			char *msgbuf, size_t msglen)
{
	struct pyc_pool *p = d->pool;
	char why[128] = "", *line, *reply;
	size_t len;
	int e;

	if (!(line = request_line(&q->r, &len))) {
		res->status = PYC_ERROR;
		res->err = -ENOMEM;
		res->msg = "out of memory";
		return;
	}
	for (int attempt = 1; attempt <= 2; attempt++) {
		if (d->fd < 0) {
			e = worker_spawn(p, d, msgbuf, msglen);
			if (!e)
				e = read_hello(p, d, msgbuf, msglen);
			if (e < 0) {
				worker_stop(d, 0, NULL, 0);
				res->status = PYC_ERROR;
				res->err = e;
				res->msg = msgbuf;
				break;
			}
			pthread_mutex_lock(&p->lock);
			p->st.restarts++;
			if (attempt == 2)
				p->st.retries++;
			pthread_mutex_unlock(&p->lock);
		}
		res->attempts = attempt;
		pid_t pid = atomic_load(&d->pid);

		e = send_all(d->fd, line, len);
		if (!e)
			e = read_line(d, -1, &reply);
		if (!e) {
			parse_reply(reply, res);
			snprintf(msgbuf, msglen, "%s", res->msg);
			res->msg = msgbuf;
			consume_line(d);
			/* Out of step with the worker: start a fresh one. */
			if (res->err == -EPROTO)
				worker_stop(d, 0, NULL, 0);
			break;
		}
		worker_stop(d, 0, why, sizeof(why));
		unlink_worker_tmp(q->r.out, pid);
		if (e == -ECANCELED) {
			res->status = PYC_CANCELED;
			break;
		}
		res->status = PYC_ERROR;
		res->err = e == -EPIPE ? -EIO : e;
		snprintf(msgbuf, msglen, "%s: the compile worker failed twice "
			 "(last: %s)", q->r.src, e == -EPIPE ? why :
			 strerror(-e));
		res->msg = msgbuf;
	}
	free(line);
}

/* The next request, NULL when the pool closes and the queue is empty.
 * *canceled says whether to skip it. */
static struct req *next_request(struct pyc_pool *p, int *canceled)
{
	struct req *q = NULL;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		if (ext_canceled(p))
			p->canceled = 1;
		if (p->head) {
			q = p->head;
			p->head = q->next;
			if (!p->head)
				p->tail = &p->head;
			break;
		}
		if (p->closing)
			break;
		if (p->ext_cancel) {
			struct timespec t;

			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_nsec += POLL_MS * 1000000L;
			if (t.tv_nsec >= 1000000000L) {
				t.tv_sec++;
				t.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&p->work, &p->lock, &t);
		} else {
			pthread_cond_wait(&p->work, &p->lock);
		}
	}
	*canceled = p->canceled;
	pthread_mutex_unlock(&p->lock);
	return q;
}

static void *driver_main(void *arg)
{
	struct driver *d = arg;
	struct pyc_pool *p = d->pool;
	char msg[LINE_MAX_BYTES];
	struct req *q;
	int canceled;

	while ((q = next_request(p, &canceled))) {
		struct pyc_result res = { .status = PYC_CANCELED, .msg = "" };

		if (!canceled)
			run_request(d, q, &res, msg, sizeof(msg));
		p->done(p->done_user, &q->r, &res);
		pthread_mutex_lock(&p->lock);
		switch (res.status) {
		case PYC_OK: p->st.compiled++; break;
		case PYC_NOCOMPILE: p->st.nocompile++; break;
		case PYC_ERROR: p->st.errors++; break;
		case PYC_CANCELED: p->st.canceled++; break;
		}
		if (--p->pending == 0)
			pthread_cond_broadcast(&p->idle);
		pthread_mutex_unlock(&p->lock);
		free(q);
	}
	worker_stop(d, STOP_GRACE_MS, NULL, 0);
	return NULL;
}

/* Read a fresh worker's "hello TAG MAGIC" into p->tag (the same for all). */
static int read_hello(struct pyc_pool *p, struct driver *d, char *err,
		      size_t errlen)
{
	char *line, *tag, *sp, why[128] = "";
	int e = read_line(d, HELLO_TIMEOUT_MS, &line), other = 0;
	unsigned magic[4];

	if (e == -EPIPE) {
		worker_stop(d, 0, why, sizeof(why));
		return errmsg_fail(SPOKE_E_USAGE, err, errlen, "the interpreter"
				   " '%s' cannot run the compile worker (%s); "
				   "is it Python 3.7 or later?", p->python,
				   why);
	}
	if (e < 0)
		return errmsg_fail(e, err, errlen, "the interpreter '%s' did "
				   "not start a compile worker: %s", p->python,
				   strerror(-e));
	if (strncmp(line, "hello ", 6) != 0 || !(sp = strchr(line + 6, ' ')))
		return errmsg_fail(-EPROTO, err, errlen, "the interpreter '%s'"
				   " answered something else than hello",
				   p->python);
	tag = line + 6;
	*sp = '\0';
	if (strcmp(tag, "-") == 0 || (size_t)(sp - tag) >= sizeof(p->tag))
		return errmsg_fail(SPOKE_E_USAGE, err, errlen, "the interpreter"
				   " '%s' has no usable cache tag", p->python);
	if (sscanf(sp + 1, "%2x%2x%2x%2x", &magic[0], &magic[1], &magic[2],
		   &magic[3]) != 4)
		return errmsg_fail(-EPROTO, err, errlen, "the interpreter '%s'"
				   " gave no magic number", p->python);
	/* Drivers restart their workers on their own threads: the first
	 * hello sets the tag, later ones only compare, under the lock, so a
	 * reader of pyc_pool_cache_tag() never sees it change. */
	pthread_mutex_lock(&p->lock);
	if (!p->tag[0]) {
		memcpy(p->tag, tag, (size_t)(sp - tag) + 1);
		for (int i = 0; i < 4; i++)
			p->magic[i] = (unsigned char)magic[i];
	} else if (strcmp(p->tag, tag) != 0) {
		other = 1;
	}
	pthread_mutex_unlock(&p->lock);
	if (other)
		return errmsg_fail(-EPROTO, err, errlen, "compile workers of "
				   "'%s' disagree on the cache tag", p->python);
	consume_line(d);
	return 0;
}

int pyc_pool_create(struct pyc_pool **out, const struct pyc_pool_opts *o,
		    char *err, size_t errlen)
{
	struct pyc_pool *p;
	unsigned i;
	int e = 0;

	*out = NULL;
	if (!o || !o->python || !o->done || o->workers < 1 ||
	    o->workers > 1024)
		return errmsg_fail(SPOKE_E_USAGE, err, errlen, "pyc pool: "
				   "need an interpreter, a callback and 1..1024"
				   " workers");
	p = xcalloc(1, sizeof(*p) + o->workers * sizeof(p->d[0]));
	if (!p)
		return errmsg_fail(-ENOMEM, err, errlen, "out of memory");
	p->python = xstrdup(o->python);
	p->die_dir = o->test_die_dir ? xstrdup(o->test_die_dir) : NULL;
	if (!p->python || (o->test_die_dir && !p->die_dir)) {
		free(p->python);
		free(p->die_dir);
		free(p);
		return errmsg_fail(-ENOMEM, err, errlen, "out of memory");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->idle, NULL);
	p->tail = &p->head;
	p->ext_cancel = o->cancel;
	p->done = o->done;
	p->done_user = o->done_user;
	p->n = o->workers;
	for (i = 0; i < p->n; i++) {
		p->d[i].pool = p;
		p->d[i].fd = -1;
	}
	/* Spawn all, then wait for all: the interpreters start in parallel. */
	for (i = 0; i < p->n && !e; i++)
		e = worker_spawn(p, &p->d[i], err, errlen);
	for (i = 0; i < p->n && !e; i++)
		e = read_hello(p, &p->d[i], err, errlen);
	for (i = 0; i < p->n && !e; i++) {
		e = -pthread_create(&p->d[i].thread, NULL, driver_main,
				    &p->d[i]);
		if (e)
			errmsg_fail(e, err, errlen, "cannot start a thread: "
				    "%s", strerror(-e));
		else
			p->d[i].started = 1;
	}
	if (e) {
		pyc_pool_free(p);
		return e;
	}
	*out = p;
	return 0;
}

int pyc_pool_submit(struct pyc_pool *p, const struct pyc_request *r)
{
	const char *dfile;
	size_t ls, lo, ld;
	struct req *q;

	if (!r || !r->src || !r->out || !*r->src || !*r->out ||
	    r->optimize < 0 || r->optimize > 2 || (int)r->mode < 0 ||
	    r->mode > PYC_UNCHECKED_HASH)
		return SPOKE_E_USAGE;
	dfile = r->dfile ? r->dfile : r->src;
	ls = strlen(r->src) + 1;
	lo = strlen(r->out) + 1;
	ld = strlen(dfile) + 1;
	if (!(q = xmalloc(sizeof(*q) + ls + lo + ld)))
		return -ENOMEM;
	q->next = NULL;
	q->r = *r;
	q->r.src = memcpy(q->buf, r->src, ls);
	q->r.out = memcpy(q->buf + ls, r->out, lo);
	q->r.dfile = memcpy(q->buf + ls + lo, dfile, ld);
	pthread_mutex_lock(&p->lock);
	if (p->canceled || p->closing || ext_canceled(p)) {
		pthread_mutex_unlock(&p->lock);
		free(q);
		return SPOKE_E_CANCELED;
	}
	*p->tail = q;
	p->tail = &q->next;
	p->pending++;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void pyc_pool_wait(struct pyc_pool *p)
{
	pthread_mutex_lock(&p->lock);
	while (p->pending)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

unsigned long pyc_pool_wait_ms(struct pyc_pool *p, unsigned ms)
{
	struct timespec until;
	unsigned long left;

	/* The condition variable runs on CLOCK_REALTIME (the default); a
	 * clock step only makes one wait shorter or longer. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&p->lock);
	while (p->pending &&
	       pthread_cond_timedwait(&p->idle, &p->lock, &until) == 0)
		;
	left = p->pending;
	pthread_mutex_unlock(&p->lock);
	return left;
}

void pyc_pool_cancel(struct pyc_pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->canceled = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
}

void pyc_pool_free(struct pyc_pool *p)
{
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->canceled = 1;
	p->closing = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->n; i++) {
		if (p->d[i].started)
			pthread_join(p->d[i].thread, NULL);
		else
			worker_stop(&p->d[i], 0, NULL, 0);
	}
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->lock);
	free(p->python);
	free(p->die_dir);
	free(p);
}

const char *pyc_pool_cache_tag(struct pyc_pool *p)
{
	const char *tag;

	/* The lock orders this read after the first hello's write. */
	pthread_mutex_lock(&p->lock);
	tag = p->tag;
	pthread_mutex_unlock(&p->lock);
	return tag;
}

void pyc_pool_magic(struct pyc_pool *p, unsigned char magic[4])
{
	pthread_mutex_lock(&p->lock);
	memcpy(magic, p->magic, 4);
	pthread_mutex_unlock(&p->lock);
}

void pyc_pool_stats(struct pyc_pool *p, struct pyc_pool_stats *st)
{
	pthread_mutex_lock(&p->lock);
	*st = p->st;
	pthread_mutex_unlock(&p->lock);
}

pid_t pyc_pool_worker_pid(struct pyc_pool *p, unsigned i)
{
	pid_t pid = i < p->n ? atomic_load(&p->d[i].pid) : 0;

	return pid > 0 ? pid : -1;
}

int pyc_cache_name(char *buf, size_t len, const char *name, const char *tag,
		   int optimize)
{
	size_t n = strlen(name);

	if (n < 3 || strcmp(name + n - 3, ".py") != 0 || optimize < 0 ||
	    optimize > 2)
		return -EINVAL;
	if (optimize)
		return snprintf(buf, len, "%.*s.%s.opt-%d.pyc", (int)(n - 3),
				name, tag, optimize);
	return snprintf(buf, len, "%.*s.%s.pyc", (int)(n - 3), name, tag);
}
