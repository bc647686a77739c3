/* SPDX-License-Identifier: MIT */
/*
 * pycompile - a pool of persistent Python worker interpreters that compile
 * .py files to .pyc. Each worker is one `python -I -S -B -c <script>` started
 * once per pool, connected by a socketpair (so a write to a dead worker is
 * EPIPE, never SIGPIPE) and driven by a thread of the pool: requests are
 * queued by any thread, each driver takes the next one, sends it as one line
 * and reads one line back. The worker compiles with the interpreter's own
 * compile() and marshal, so the .pyc holds what py_compile would write for
 * the same source, mtime, optimization level and invalidation mode, and it
 * writes the file atomically (temporary name in the same directory, then
 * rename). A worker that dies is replaced and its file retried once; a file
 * whose source does not compile (Python 2 syntax) is a warning result, never
 * a failure of the pool. Every submitted request gets exactly one callback.
 * The design and the cache layout that will use it: docs/BYTECODE.md.
 */
#ifndef SPOKE_ENGINE_PYCOMPILE_H
#define SPOKE_ENGINE_PYCOMPILE_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

struct pyc_pool;

/* PEP 552 invalidation modes, the values of py_compile.PycInvalidationMode
 * minus one. */
enum pyc_mode {
	PYC_TIMESTAMP = 0,	/* source mtime and size in the header */
	PYC_CHECKED_HASH,	/* source hash, checked at every import */
	PYC_UNCHECKED_HASH,	/* source hash, never checked */
};

enum pyc_status {
	PYC_OK = 0,
	PYC_NOCOMPILE,	/* the source does not compile: a warning, skip it */
	PYC_ERROR,	/* I/O error, or the worker died twice on this file */
	PYC_CANCELED,	/* not attempted: the pool was canceled or freed */
};

struct pyc_request {
	const char *src;	/* source .py to read */
	const char *out;	/* .pyc to write (its directory is created) */
	const char *dfile;	/* co_filename to record; NULL: src */
	int optimize;		/* 0, 1 (-O) or 2 (-OO) */
	enum pyc_mode mode;
	void *user;		/* handed back in the result */
};

struct pyc_result {
	enum pyc_status status;
	int err;		/* PYC_ERROR: -errno or SPOKE_E_*; else 0 */
	const char *msg;	/* PYC_NOCOMPILE / PYC_ERROR: why; else "" */
	int attempts;		/* workers the file was sent to (0..2) */
	/* PYC_OK: the source's mtime (whole seconds) and size as the worker
	 * read them (a timestamp header holds them mod 2^32), and the size
	 * of the .pyc written. */
	long long mtime, size, pyc_size;
};

/* Called once per request, from a driver thread, concurrently with other
 * drivers: it must be thread-safe. req's strings and res live only for the
 * call. It must not call pyc_pool_wait or pyc_pool_free. */
typedef void (*pyc_done_fn)(void *user, const struct pyc_request *req,
			    const struct pyc_result *res);

struct pyc_pool_opts {
	const char *python;	/* interpreter path (exec'd as given) */
	unsigned workers;	/* worker interpreters, >= 1 */
	pyc_done_fn done;	/* required */
	void *done_user;
	/* Optional external cancel flag (spoke_ctx's): seen within 50 ms. */
	const atomic_int *cancel;
	/* Tests only: a directory of kill tickets. When <dir>/<basename of
	 * src> holds a positive number n, the worker rewrites it as n-1 and
	 * kills itself with SIGKILL instead of compiling. */
	const char *test_die_dir;
};

/*
 * Start the workers and wait for each to say hello (its cache tag). 0, or
 * -errno / SPOKE_E_USAGE with a message in err: the interpreter cannot be
 * run or is not Python 3.7+. Nothing is left running on failure.
 */
int pyc_pool_create(struct pyc_pool **out, const struct pyc_pool_opts *opts,
		    char *err, size_t errlen);

/*
 * Queue one request (strings are copied). Thread-safe, never blocks on the
 * workers. 0; -ENOMEM; SPOKE_E_USAGE for a bad optimize/mode/path (no
 * callback); SPOKE_E_CANCELED after cancel (no callback).
 */
int pyc_pool_submit(struct pyc_pool *p, const struct pyc_request *req);

/* Block until every request submitted so far has had its callback. */
void pyc_pool_wait(struct pyc_pool *p);
/* The same for at most ms milliseconds: the requests still pending. */
unsigned long pyc_pool_wait_ms(struct pyc_pool *p, unsigned ms);

/* Stop: queued requests get PYC_CANCELED; a file being compiled either
 * finishes within 50 ms or is abandoned (PYC_CANCELED, its worker killed,
 * its temporary file removed). Thread-safe, also from a callback; not
 * async-signal-safe (a signal handler sets the external flag instead). */
void pyc_pool_cancel(struct pyc_pool *p);

/* Cancel as above, join the drivers, stop the workers (end of input, then
 * SIGKILL after 2 s) and reap them. Accepts NULL. */
void pyc_pool_free(struct pyc_pool *p);

/* sys.implementation.cache_tag of the workers ("cpython-311"), the
 * __pycache__ name part and the cache key part. Valid until free. */
const char *pyc_pool_cache_tag(struct pyc_pool *p);
/* importlib.util.MAGIC_NUMBER of the workers: the first 4 bytes of every
 * .pyc they write. */
void pyc_pool_magic(struct pyc_pool *p, unsigned char magic[4]);

struct pyc_pool_stats {
	unsigned long compiled, nocompile, errors, canceled;
	unsigned long restarts;	/* workers replaced after dying */
	unsigned long retries;	/* files sent again after a death */
};
void pyc_pool_stats(struct pyc_pool *p, struct pyc_pool_stats *st);

/* Tests: the pid of worker i (0..workers-1), or -1 when none is running. */
pid_t pyc_pool_worker_pid(struct pyc_pool *p, unsigned i);

/* The __pycache__ file name for a module file name: "mod.py", tag, opt ->
 * "mod.cpython-311.pyc" / "mod.cpython-311.opt-1.pyc" (PEP 3147, PEP 488).
 * Returns the length written or needed (snprintf-like), -EINVAL when name
 * does not end in ".py". */
int pyc_cache_name(char *buf, size_t len, const char *name, const char *tag,
		   int optimize);

#endif
