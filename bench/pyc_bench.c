/* SPDX-License-Identifier: MIT */
/*
 * pyc_bench - the compile pool's throughput driver for bench/pyc_bench.sh:
 * reads source paths (one a line) from stdin, compiles each into its
 * __pycache__ with JOBS workers and prints one line:
 *   jobs files ok nocompile errors start_s compile_s files_per_s cpu_s self_s
 * start_s is pool creation (interpreters up), compile_s submit..wait, cpu_s
 * the workers' user+sys time (reaped children), self_s this process's
 * (submission and the driver threads: the pool's own overhead). Built by pyc_bench.sh
 * against build/libspoke.a.
 */
#include "engine/pycompile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void done(void *user, const struct pyc_request *req,
		 const struct pyc_result *res)
{
	(void)user;
	(void)req;
	(void)res;
}

int main(int argc, char **argv)
{
	struct pyc_pool_opts o = { .done = done };
	struct pyc_pool_stats st;
	struct pyc_pool *p;
	struct rusage ru, me;
	char line[4096], out[4400], err[512], name[600];
	double t0, t1, t2;
	unsigned long n = 0;
	int mode;

	if (argc != 4) {
		fprintf(stderr, "usage: pyc_bench PYTHON JOBS MODE(0-2) "
			"< sources\n");
		return 2;
	}
	o.python = argv[1];
	o.workers = (unsigned)atoi(argv[2]);
	mode = atoi(argv[3]);
	t0 = now();
	if (pyc_pool_create(&p, &o, err, sizeof(err))) {
		fprintf(stderr, "pyc_bench: %s\n", err);
		return 1;
	}
	t1 = now();
	while (fgets(line, sizeof(line), stdin)) {
		char *slash;

		line[strcspn(line, "\n")] = '\0';
		if (!(slash = strrchr(line, '/')) ||
		    pyc_cache_name(name, sizeof(name), slash + 1,
				   pyc_pool_cache_tag(p), 0) < 0)
			continue;
		snprintf(out, sizeof(out), "%.*s/__pycache__/%s",
			 (int)(slash - line), line, name);
		struct pyc_request r = { line, out, NULL, 0,
					 (enum pyc_mode)mode, NULL };
		if (pyc_pool_submit(p, &r)) {
			fprintf(stderr, "pyc_bench: submit failed\n");
			return 1;
		}
		n++;
	}
	pyc_pool_wait(p);
	t2 = now();
	pyc_pool_stats(p, &st);
	pyc_pool_free(p);
	getrusage(RUSAGE_CHILDREN, &ru);
	getrusage(RUSAGE_SELF, &me);
	printf("%u %lu %lu %lu %lu %.3f %.3f %.1f %.3f %.3f\n", o.workers, n,
	       st.compiled, st.nocompile, st.errors, t1 - t0, t2 - t1,
	       (double)n / (t2 - t1),
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	       (double)(me.ru_utime.tv_sec + me.ru_stime.tv_sec) +
	       (double)(me.ru_utime.tv_usec + me.ru_stime.tv_usec) / 1e6);
	return st.errors ? 1 : 0;
}
