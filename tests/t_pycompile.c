/* SPDX-License-Identifier: MIT */
/*
 * t_pycompile - the compile pool on real sources: pip's wheel unpacked (or a
 * copy of a few stdlib packages), compiled by 2 workers in all three
 * invalidation modes and at -O/-OO, with a Python-2-only file (a warning,
 * the others compile), a worker that kills itself once on a file (replaced,
 * file retried, compiled), one that dies twice on a file (an error for that
 * file only), a worker killed from outside mid-run, and a cancel. Then
 * tests/t_pycompile.py checks each .pyc against py_compile's for the same
 * source, dfile, mode and level, that tracebacks name the real source and
 * not the recorded dfile, and that importing every module rewrites and adds
 * no .pyc. No descriptor and no child process may outlive the pool, not
 * even when one of its allocations fails.
 */
#include "engine/pycompile.h"
#include "base/fault.h"
#include "spoke.h"
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES 8192

struct item {
	char src[512], out[600], dfile[600];
	int optimize;
	enum pyc_mode mode;
	enum pyc_status status;
	int attempts, calls, refused;
	char msg[200];
};

static struct item items[MAX_FILES];
static int nitems;
static char srcroot[300];
static struct pyc_pool *cur_pool;
static atomic_int ndone;
static int kill_at = -1;
static int cancel_at = -1;
static atomic_int ext_cancel;

static void on_done(void *user, const struct pyc_request *req,
		    const struct pyc_result *res)
{
	struct item *it = req->user;
	int n;

	(void)user;
	it->status = res->status;
	it->attempts = res->attempts;
	it->calls++;
	snprintf(it->msg, sizeof(it->msg), "%s", res->msg);
	n = atomic_fetch_add(&ndone, 1) + 1;
	if (n == cancel_at)
		atomic_store(&ext_cancel, 1);
	/* Kill worker 1 from outside, once, while the run is busy. */
	if (n == kill_at) {
		pid_t pid = pyc_pool_worker_pid(cur_pool, 1);

		if (pid > 0)
			kill(pid, SIGKILL);
	}
}

static void add(const char *src, int optimize, enum pyc_mode mode)
{
	const char *base = strrchr(src, '/') + 1;
	struct item *it;
	char name[300];

	CHECK(nitems < MAX_FILES);
	it = &items[nitems++];
	snprintf(it->src, sizeof(it->src), "%s", src);
	CHECK(pyc_cache_name(name, sizeof(name), base, "cpython-TAG",
			     optimize) > 0);
	snprintf(it->out, sizeof(it->out), "%.*s__pycache__/%s",
		 (int)(base - src), src, name);
	/* As if compiled in the cache: the recorded name is not the path the
	 * module is imported from. */
	snprintf(it->dfile, sizeof(it->dfile), "/nonexistent-cache/entry%s",
		 src + strlen(srcroot));
	it->optimize = optimize;
	it->mode = mode;
}

static int collect(const char *path, const struct stat *st, int flag,
		   struct FTW *ftw)
{
	size_t n = strlen(path);

	(void)st;
	(void)ftw;
	if (flag == FTW_F && n > 3 && strcmp(path + n - 3, ".py") == 0) {
		add(path, 0, (enum pyc_mode)(nitems % 3));
		if (nitems % 5 == 0)
			add(path, 1 + nitems % 2, PYC_TIMESTAMP);
	}
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CHECK(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f);
	fputs(text, f);
	CHECK(fclose(f) == 0);
}

static struct item *find(const char *base)
{
	for (int i = 0; i < nitems; i++) {
		const char *b = strrchr(items[i].src, '/') + 1;

		if (strcmp(b, base) == 0)
			return &items[i];
	}
	DIE(__LINE__, "no item %s", base);
}

/* Put the real tag in place of the placeholder add() used. */
static void fix_tags(const char *tag)
{
	for (int i = 0; i < nitems; i++) {
		char *p = strstr(items[i].out, "cpython-TAG"), rest[300];

		snprintf(rest, sizeof(rest), "%s", p + strlen("cpython-TAG"));
		snprintf(p, sizeof(items[i].out) - (size_t)(p - items[i].out),
			 "%s%s", tag, rest);
	}
}

static struct pyc_pool *make_pool(const char *python, const char *die)
{
	struct pyc_pool_opts o = { .python = python, .workers = 2,
				   .done = on_done, .test_die_dir = die,
				   .cancel = &ext_cancel };
	struct pyc_pool *p;
	char err[512];
	int e = pyc_pool_create(&p, &o, err, sizeof(err));

	CHECKF(e == 0, "pyc_pool_create: %s", err);
	return p;
}

/* Submit every item; the number accepted. Only the external cancel of
 * the cancel round may refuse a submit: its trigger (the 5th callback) can
 * come before the last submit when the submitting thread is slow next to
 * the workers (under TSan the workers run uninstrumented), and a refused
 * request is never called back (refused marks it). */
static int submit_all(struct pyc_pool *p)
{
	int accepted = 0;

	for (int i = 0; i < nitems; i++) {
		struct pyc_request r = { items[i].src, items[i].out,
			items[i].dfile, items[i].optimize, items[i].mode,
			&items[i] };
		int e;

		items[i].calls = 0;
		items[i].refused = 0;
		e = pyc_pool_submit(p, &r);
		if (e == SPOKE_E_CANCELED && atomic_load(&ext_cancel)) {
			items[i].refused = 1;
			continue;
		}
		CHECK_EQ(e, 0);
		accepted++;
	}
	return accepted;
}

int main(void)
{
	const char *tmp, *python = "/usr/bin/python3";
	char cmd[1024], die[320], path[400], manifest[320];
	struct pyc_pool_stats st;
	struct pyc_pool *p;
	pid_t pids[2];
	int fds0, i, bad;
	FILE *f;

	if (access(python, X_OK) != 0) {
		printf("skip: no %s\n", python);
		return T_SKIP;
	}
	tmp = t_mktemp();
	snprintf(srcroot, sizeof(srcroot), "%s/src", tmp);
	snprintf(cmd, sizeof(cmd), "%s tests/t_pycompile.py prepare '%s'",
		 python, srcroot);
	CHECKF(system(cmd) == 0, "%s", cmd);
	snprintf(die, sizeof(die), "%s/die", tmp);
	CHECK(mkdir(die, 0755) == 0);

	snprintf(path, sizeof(path), "%s/py2_only.py", srcroot);
	write_file(path, "print \"python 2 only\"\n");
	snprintf(path, sizeof(path), "%s/die_once.py", srcroot);
	write_file(path, "X = 1\n");
	snprintf(path, sizeof(path), "%s/die_twice.py", srcroot);
	write_file(path, "Y = 2\n");
	snprintf(path, sizeof(path), "%s/die/die_once.py", tmp);
	write_file(path, "1");
	snprintf(path, sizeof(path), "%s/die/die_twice.py", tmp);
	write_file(path, "2");
	CHECK(nftw(srcroot, collect, 32, FTW_PHYS) == 0);
	CHECKF(nitems > 50, "only %d sources", nitems);

	/* The full run: 2 workers, every file, one outside kill. */
	fds0 = count_fds();
	p = make_pool(python, die);
	fix_tags(pyc_pool_cache_tag(p));
	CHECK(strncmp(pyc_pool_cache_tag(p), "cpython-", 8) == 0);
	cur_pool = p;
	kill_at = nitems / 3;
	submit_all(p);
	pyc_pool_wait(p);
	pyc_pool_stats(p, &st);
	pids[0] = pyc_pool_worker_pid(p, 0);
	pids[1] = pyc_pool_worker_pid(p, 1);
	pyc_pool_free(p);
	cur_pool = NULL;
	CHECK_EQ(count_fds(), fds0);
	for (i = 0; i < 2; i++)
		CHECKF(pids[i] <= 0 || (kill(pids[i], 0) < 0 && errno == ESRCH),
		       "worker %d still exists after free", (int)pids[i]);

	bad = 0;
	for (i = 0; i < nitems; i++) {
		struct item *it = &items[i];
		const char *b = strrchr(it->src, '/') + 1;

		CHECKF(it->calls == 1, "%s: %d callbacks", it->src, it->calls);
		if (!strcmp(b, "py2_only.py") || !strcmp(b, "die_twice.py"))
			continue;
		if (it->status != PYC_OK) {
			fprintf(stderr, "%s: status %d: %s\n", it->src,
				it->status, it->msg);
			bad++;
		}
	}
	CHECKF(bad == 0, "%d files did not compile", bad);
	struct item *py2 = find("py2_only.py");
	CHECKF(py2->status == PYC_NOCOMPILE && strstr(py2->msg, "SyntaxError"),
	       "py2 file: status %d msg %s", py2->status, py2->msg);
	CHECK(access(py2->out, F_OK) < 0);
	CHECK_EQ(find("die_once.py")->attempts, 2);
	struct item *twice = find("die_twice.py");
	CHECKF(twice->status == PYC_ERROR && twice->attempts == 2 &&
	       strstr(twice->msg, "signal 9"), "die_twice: status %d msg %s",
	       twice->status, twice->msg);
	CHECK(access(twice->out, F_OK) < 0);
	/* die_once 1, die_twice 2, the outside kill 1 */
	CHECKF(st.restarts >= 4 && st.retries >= 2, "restarts %lu retries %lu",
	       st.restarts, st.retries);
	CHECK_EQ(st.compiled, (unsigned long)nitems - 2);
	CHECK_EQ(st.nocompile, 1);
	CHECK_EQ(st.errors, 1);
	printf("compiled %lu, 1 py2 warning, 1 double death; %lu workers "
	       "replaced, %lu files retried\n", st.compiled, st.restarts,
	       st.retries);

	/* Equivalence with py_compile, tracebacks, no rewrite on import (of
	 * the modules that have a .pyc). */
	CHECK(unlink(twice->src) == 0 && unlink(py2->src) == 0);
	snprintf(manifest, sizeof(manifest), "%s/manifest", tmp);
	CHECK((f = fopen(manifest, "w")));
	for (i = 0; i < nitems; i++)
		if (items[i].status == PYC_OK)
			fprintf(f, "%d\t%d\t%s\t%s\t%s\n", items[i].optimize,
				(int)items[i].mode, items[i].src,
				items[i].out, items[i].dfile);
	CHECK(fclose(f) == 0);
	snprintf(cmd, sizeof(cmd), "%s tests/t_pycompile.py check '%s' '%s'",
		 python, manifest, srcroot);
	CHECKF(system(cmd) == 0, "%s", cmd);

	/* Cancel, by the external flag (spoke_ctx's) mid-run and by
	 * pyc_pool_cancel before anything ran: queued requests come back
	 * canceled, each request exactly once, later submits are refused. */
	for (int round = 0; round < 2; round++) {
		for (i = 0; i < nitems; i++)
			snprintf(strstr(items[i].out, "__pycache"), 12,
				 "__pycache%d", 2 + round);
		atomic_store(&ndone, 0);
		atomic_store(&ext_cancel, 0);
		kill_at = -1;
		cancel_at = round == 0 ? 5 : -1;
		p = make_pool(python, NULL);
		int accepted = submit_all(p);
		if (round == 1)
			pyc_pool_cancel(p);
		pyc_pool_wait(p);
		struct pyc_request late = { items[0].src, items[0].out, NULL,
					    0, PYC_TIMESTAMP, &items[0] };
		CHECK_EQ(pyc_pool_submit(p, &late), SPOKE_E_CANCELED);
		pyc_pool_stats(p, &st);
		pyc_pool_free(p);
		for (i = 0; i < nitems; i++)
			CHECK_EQ(items[i].calls, items[i].refused ? 0 : 1);
		CHECKF(st.canceled + (unsigned long)(nitems - accepted) >
		       (unsigned long)nitems / 2, "round %d: only %lu of %d "
		       "canceled (%d refused)", round, st.canceled, nitems,
		       nitems - accepted);
		CHECK_EQ(st.compiled + st.nocompile + st.errors + st.canceled,
			 (unsigned long)accepted);
		CHECK_EQ(count_fds(), fds0);
	}
	cancel_at = -1;

	/* Each allocation of a small run failing in turn: create fails
	 * cleanly, or every accepted request is called back once. */
	for (int n = 1; n <= 12; n++) {
		struct pyc_pool_opts fo = { .python = python, .workers = 2,
					    .done = on_done };
		char spec[32], ferr[256];
		int accepted = 0, e;

		atomic_store(&ndone, 0);
		snprintf(spec, sizeof(spec), "alloc:%d:ENOMEM", n);
		CHECK(io_fault_arm(spec, ferr, sizeof(ferr)) == 0);
		e = pyc_pool_create(&p, &fo, ferr, sizeof(ferr));
		if (e == 0) {
			for (i = 0; i < 4; i++) {
				struct pyc_request r = { items[i].src,
					items[i].out, NULL, 0, PYC_TIMESTAMP,
					&items[i] };

				e = pyc_pool_submit(p, &r);
				CHECK(e == 0 || e == -ENOMEM);
				accepted += e == 0;
			}
			pyc_pool_wait(p);
			pyc_pool_free(p);
		} else {
			CHECKF(e == -ENOMEM, "alloc %d: create: %s", n, ferr);
		}
		io_fault_arm(NULL, ferr, sizeof(ferr));
		CHECK_EQ(atomic_load(&ndone), accepted);
		CHECK_EQ(count_fds(), fds0);
	}

	/* Not an interpreter: a clear error and nothing left running. */
	struct pyc_pool_opts o = { .python = "/bin/false", .workers = 2,
				   .done = on_done };
	char err[512];
	CHECK(pyc_pool_create(&p, &o, err, sizeof(err)) == SPOKE_E_USAGE);
	CHECKF(strstr(err, "/bin/false"), "%s", err);
	CHECK_EQ(count_fds(), fds0);
	printf("pass\n");
	return T_PASS;
}
