/* SPDX-License-Identifier: MIT */
/*
 * install_wheels - what a resolver's backend call looks like in C: take
 * wheel files, install them into a venv (made first with python3 -m venv
 * when VENV does not exist yet), print the run's report as JSON on stdout.
 * It uses nothing of libspoke but spoke.h, and builds against an installed
 * copy with pkg-config:
 *
 *   cc install_wheels.c $(pkg-config --cflags --libs libspoke) -o install_wheels
 *   ./install_wheels /tmp/venv pip-23.0.1-py3-none-any.whl wheel-0.38.4-py3-none-any.whl
 *
 * Exit status: 0 installed, 1 the install failed (the report's "error" and
 * stderr say why; the venv is as it was), 2 usage or no venv.
 */
#define _POSIX_C_SOURCE 200809L

#include <spoke.h>

#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* python3 -m venv --without-pip DIR ($PYTHON overrides python3). The
 * resolver owns the environment; spoke only fills it. */
static int make_venv(const char *dir)
{
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "python3";
	char *argv[] = { (char *)py, "-m", "venv", "--without-pip",
			 (char *)dir, NULL };
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, py, NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "install_wheels: cannot create the venv '%s' "
			"with %s -m venv\n", dir, py);
		return -1;
	}
	return 0;
}

/* Called on libspoke's threads, one call at a time. A terminal gets a
 * counter; a pipe gets nothing, so the JSON on stdout stays clean. */
static void progress(void *user, const struct spoke_progress *p)
{
	(void)user;
	fprintf(stderr, "\r%" PRIu64 "/%" PRIu64 " files, %.1f MB%s",
		p->files_done, p->files_total, (double)p->bytes_done / 1e6,
		p->files_done == p->files_total ? "\n" : "");
}

int main(int argc, char **argv)
{
	spoke_report *report = NULL;
	spoke_ctx *ctx;
	spoke_plan *plan;
	char cfg[4096];
	char *json;
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: %s VENV WHEEL...\n", argv[0]);
		return 2;
	}
	snprintf(cfg, sizeof(cfg), "%s/pyvenv.cfg", argv[1]);
	if (access(cfg, F_OK) != 0 && make_venv(argv[1]) != 0)
		return 2;

	ctx = spoke_ctx_create();
	plan = spoke_plan_create();
	if (!ctx || !plan) {
		fprintf(stderr, "install_wheels: out of memory\n");
		return 1;
	}
	if (isatty(STDERR_FILENO))
		spoke_ctx_set_progress(ctx, progress, NULL);
	spoke_plan_set_venv(plan, argv[1]);
	for (int i = 2; i < argc; i++)
		spoke_plan_add_wheel(plan, argv[i]);

	ret = spoke_install(ctx, plan, &report);

	/* The report exists even when the run failed: it carries the error
	 * (code, message, path, errno) and each distribution as "failed". */
	json = report ? spoke_report_json(report) : NULL;
	if (json)
		printf("%s\n", json);
	spoke_free(json);
	if (ret != 0)
		fprintf(stderr, "install_wheels: %s (%s; errno %d; path '%s')\n",
			spoke_ctx_error_message(ctx), spoke_strerror(ret),
			spoke_ctx_error_errno(ctx), spoke_ctx_error_path(ctx));
	spoke_report_free(report);
	spoke_plan_free(plan);
	spoke_ctx_free(ctx);
	return ret == 0 ? 0 : 1;
}
