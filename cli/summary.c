/* SPDX-License-Identifier: MIT */
/*
 * summary - what install and uninstall print when they succeed: a line per
 * distribution on stdout ("installed six 1.16.0"), with -v its files and
 * bytes, then on stderr the line a person looks for:
 *   installed 72 distributions (24,918 files, 579 MB) in 0.47 s
 * That line goes to a terminal (or with -v) only: a script reading a
 * pipe gets the per-distribution lines and a quiet stderr.
 */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* n with a comma every three digits, as a person reads counts. */
static const char *grouped(uint64_t n, char buf[32])
{
	char digits[24];
	int len = snprintf(digits, sizeof(digits), "%" PRIu64, n), o = 0;

	for (int i = 0; i < len; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

static void print_size(FILE *f, uint64_t bytes)
{
	double mb = (double)bytes / 1e6;

	if (mb >= 10)
		fprintf(f, "%.0f MB", mb);
	else if (mb >= 0.1 || bytes == 0)
		fprintf(f, "%.1f MB", mb);
	else
		fprintf(f, "%.0f kB", (double)bytes / 1e3);
}

static int changed(const char *action)
{
	return !strcmp(action, "installed") || !strcmp(action, "upgraded") ||
	       !strcmp(action, "downgraded") ||
	       !strcmp(action, "reinstalled") ||
	       !strcmp(action, "uninstalled");
}

/* The version an upgrade or downgrade of name replaced, from the per-wheel
 * results, or NULL. */
static const char *previous(const spoke_report *rep, const char *name,
			    const char *version)
{
	for (size_t i = 0; i < spoke_report_wheel_count(rep); i++) {
		struct spoke_wheel_result w = { .size = sizeof(w) };

		if (spoke_report_wheel(rep, i, &w) == 0 && w.name &&
		    !strcmp(w.name, name) && w.version &&
		    !strcmp(w.version, version) && w.previous_version &&
		    *w.previous_version)
			return w.previous_version;
	}
	return NULL;
}

int cli_print_dists(const spoke_report *rep, const struct cli_run_opts *o,
		    const char *cmd, double secs)
{
	uint64_t files = 0, bytes = 0;
	size_t n = 0;
	char b1[32];

	if (!rep || o->json || o->quiet)
		return EXIT_OK;
	for (size_t i = 0; i < spoke_report_dist_count(rep); i++) {
		const char *name, *version, *action, *prev;
		uint64_t f = 0, b = 0;

		spoke_report_dist(rep, i, &name, &version, &action);
		if (strcmp(action, "failed") == 0)
			continue;
		spoke_report_dist_counts(rep, i, &f, &b);
		prev = (!strcmp(action, "upgraded") ||
			!strcmp(action, "downgraded")) ?
			       previous(rep, name, version) : NULL;
		if (prev)
			printf("%s %s %s -> %s", action, cli_esc(name),
			       cli_esc(prev), cli_esc(version));
		else
			printf("%s %s %s", action, cli_esc(name),
			       cli_esc(version));
		if (o->verbose && strcmp(action, "unchanged") &&
		    strcmp(action, "uninstalled")) {
			printf(" (%s files, ", grouped(f, b1));
			print_size(stdout, b);
			putchar(')');
		}
		putchar('\n');
		if (changed(action)) {
			n++;
			files += f;
			bytes += b;
		}
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "spoke %s: cannot write output: %s\n", cmd,
			strerror(errno));
		return EXIT_FAIL;
	}
	if (!o->verbose && !cli_stderr_is_tty())
		return EXIT_OK;
	if (!strcmp(cmd, "install") && n) {
		fprintf(stderr, "installed %zu distribution%s (%s files, ", n,
			n == 1 ? "" : "s", grouped(files, b1));
		print_size(stderr, bytes);
		fprintf(stderr, ") in %.2f s\n", secs);
	} else if (n) {
		fprintf(stderr, "uninstalled %zu distribution%s in %.2f s\n", n,
			n == 1 ? "" : "s", secs);
	}
	return EXIT_OK;
}
