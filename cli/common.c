/* SPDX-License-Identifier: MIT */
/*
 * common - option parsing, messages, progress bar and exit codes shared by
 * the subcommands. Messages follow git's habit: lower-case, problem first,
 * the path quoted.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct progress_state {
	int verbose, quiet, tty;
	struct timespec start;
	int drawn;
};

static struct progress_state progress;
static spoke_ctx *signal_ctx;

/* Four buffers in turn, so one printf may escape up to four strings. The
 * CLI prints from its main thread only (progress prints no names). */
const char *cli_esc(const char *s)
{
	static char bufs[4][PATH_MAX * 4 + 1];
	static unsigned turn;
	char *out = bufs[turn++ % 4];
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t o = 0, n = sizeof(bufs[0]);

	for (; *p && o + 9 < n; p++) {
		/* C0, DEL, a backslash, and C1 controls as UTF-8 (C2 80..9F). */
		int c1 = *p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;

		if (*p < 0x20 || *p == 0x7f || c1) {
			o += (size_t)snprintf(out + o, n - o, "\\x%02x", *p);
			if (c1)
				o += (size_t)snprintf(out + o, n - o, "\\x%02x",
						      *++p);
		} else if (*p == '\\') {
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			out[o++] = (char)*p;
		}
	}
	out[o] = '\0';
	return out;
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "spoke %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'spoke %s --help'.\n", cmd);
}

static int parse_link_mode(const char *s, enum spoke_link_mode *m)
{
	static const char *const names[] = { "auto", "clone", "hardlink",
					     "copy", "symlink" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*m = (enum spoke_link_mode)i;
			return 0;
		}
	return -1;
}

int cli_run_option(spoke_ctx *ctx, struct cli_run_opts *o, int opt,
		   const char *arg)
{
	enum spoke_link_mode mode;
	char *end;
	unsigned long n;

	switch (opt) {
	case CLI_OPT_LINK_MODE:
		if (parse_link_mode(arg, &mode)) {
			fprintf(stderr, "spoke: invalid --link-mode '%s' (auto, "
				"clone, hardlink, copy or symlink)\n", arg);
			return -1;
		}
		spoke_ctx_set_link_mode(ctx, mode);
		o->link_mode_set = mode != SPOKE_LINK_AUTO;
		return 1;
	case CLI_OPT_JOBS:
		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || *end || end == arg || n > 1024) {
			fprintf(stderr, "spoke: invalid --jobs '%s' (0 to 1024; "
				"0 means one per CPU)\n", arg);
			return -1;
		}
		spoke_ctx_set_jobs(ctx, (unsigned)n);
		return 1;
	case CLI_OPT_IO:
		if (strcmp(arg, "auto") == 0)
			spoke_ctx_set_io(ctx, SPOKE_IO_AUTO);
		else if (strcmp(arg, "uring") == 0)
			spoke_ctx_set_io(ctx, SPOKE_IO_URING);
		else if (strcmp(arg, "sync") == 0)
			spoke_ctx_set_io(ctx, SPOKE_IO_SYNC);
		else {
			fprintf(stderr, "spoke: invalid --io '%s' (auto, uring "
				"or sync)\n", arg);
			return -1;
		}
		return 1;
	case CLI_OPT_NO_FALLBACK:
		spoke_ctx_set_no_fallback(ctx, 1);
		return 1;
	case CLI_OPT_JSON:
		o->json = 1;
		return 1;
	case CLI_OPT_STATS:
		o->stats = 1;
		return 1;
	case CLI_OPT_CACHE_DIR:
		spoke_ctx_set_cache_dir(ctx, arg);
		return 1;
	case CLI_OPT_NO_VERIFY:
		spoke_ctx_set_verify(ctx, 0);
		return 1;
	case 'q':
		o->quiet = 1;
		return 1;
	case 'v':
		o->verbose++;
		return 1;
	}
	return 0;
}

static void log_to_stderr(void *user, int level, const char *msg)
{
	const struct cli_run_opts *o = user;

	if (o->quiet || (level > SPOKE_LOG_WARN && !o->verbose) ||
	    (level > SPOKE_LOG_INFO && o->verbose < 2))
		return;
	if (progress.drawn) {
		fputs("\r\033[K", stderr);
		progress.drawn = 0;
	}
	fprintf(stderr, "spoke: %s%s\n", level == SPOKE_LOG_WARN ?
		"warning: " : "", msg);
}

static double elapsed(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - progress.start.tv_sec) +
	       (double)(now.tv_nsec - progress.start.tv_nsec) / 1e9;
}

int cli_stderr_is_tty(void)
{
	return progress.tty;
}

double cli_elapsed(void)
{
	return elapsed();
}

/* Samples of the last second or so, for a rate that follows the run
 * instead of averaging since its start. */
#define RATE_SAMPLES 16

static struct {
	int phase;
	unsigned n, head;
	double t[RATE_SAMPLES];
	uint64_t bytes[RATE_SAMPLES];
} rate;

/* Bytes per second over the last second (or as much as the phase has). */
static double rate_update(int phase, double t, uint64_t bytes)
{
	unsigned oldest;

	if (phase != rate.phase || !rate.n) {
		rate.phase = phase;
		rate.n = 0;
		rate.head = 0;
	}
	rate.t[rate.head] = t;
	rate.bytes[rate.head] = bytes;
	rate.head = (rate.head + 1) % RATE_SAMPLES;
	if (rate.n < RATE_SAMPLES)
		rate.n++;
	/* The oldest sample not older than a second, else the oldest. */
	oldest = (rate.head + RATE_SAMPLES - rate.n) % RATE_SAMPLES;
	while (rate.n > 2 && t - rate.t[oldest] > 1.0 &&
	       t - rate.t[(oldest + 1) % RATE_SAMPLES] >= 1.0) {
		oldest = (oldest + 1) % RATE_SAMPLES;
		rate.n--;
	}
	if (t - rate.t[oldest] <= 0.0)
		return 0.0;
	return (double)(bytes - rate.bytes[oldest]) / (t - rate.t[oldest]);
}

/* The last component of a wheel's name, control bytes shown as '?', cut
 * to fit a line. */
static const char *short_name(char *buf, size_t len, const char *s)
{
	const char *slash = s ? strrchr(s, '/') : NULL;
	size_t o = 0;

	s = slash ? slash + 1 : s ? s : "";
	for (; *s && o + 1 < len; s++)
		buf[o++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	buf[o] = '\0';
	return buf;
}

/* One line, redrawn in place: wheels looked up and laid out while
 * preparing; then files, MB and %, wheels for the unpack, the
 * rate over the last second, ETA, the phase and the wheel worked on.
 * Only on a TTY, so logs and pipes never get carriage returns. */
static void draw_progress(void *user, const struct spoke_progress *p)
{
	double t = elapsed(), mb = (double)p->bytes_done / 1e6;
	double r = rate_update(p->phase, t, p->bytes_done);
	char name[41], wheels[48] = "", eta[32] = "";
	const char *what = p->phase == SPOKE_PHASE_UNPACK ? "unpacking" :
			   p->phase == SPOKE_PHASE_COMPILE ? "compiling" :
			   "linking";

	(void)user;
	if (p->phase == SPOKE_PHASE_PREPARE) {
		fprintf(stderr, "\r\033[K%" PRIu64 "/%" PRIu64 " wheels  "
			"%.1fs  preparing %s", p->wheels_done, p->wheels_total,
			t, short_name(name, sizeof(name), p->current));
		progress.drawn = 1;
		return;
	}
	if (p->wheels_total)
		snprintf(wheels, sizeof(wheels), "  %" PRIu64 "/%" PRIu64
			 " wheels", p->wheels_done, p->wheels_total);
	if (p->bytes_total > p->bytes_done && r > 0)
		snprintf(eta, sizeof(eta), "  ETA %.0fs",
			 (double)(p->bytes_total - p->bytes_done) / r + 0.5);
	if (p->files_total)
		fprintf(stderr, "\r\033[K%" PRIu64 "/%" PRIu64 " files  "
			"%.1f/%.1f MB (%.0f%%)%s  %.1f MB/s%s  %s %s",
			p->files_done, p->files_total, mb,
			(double)p->bytes_total / 1e6, p->bytes_total ?
			100.0 * (double)p->bytes_done /
			(double)p->bytes_total : 100.0, wheels, r / 1e6, eta,
			what, short_name(name, sizeof(name), p->current));
	else
		fprintf(stderr, "\r\033[K%" PRIu64 " files  %.1f MB  "
			"%.1f MB/s  %.1fs  %s %s", p->files_done, mb, r / 1e6, t,
			what, short_name(name, sizeof(name), p->current));
	progress.drawn = 1;
}

spoke_ctx *cli_ctx_create(const struct cli_run_opts *o)
{
	spoke_ctx *ctx = spoke_ctx_create();
	const char *mode = getenv("SPOKE_LINK_MODE");
	enum spoke_link_mode m;

	(void)o;
	if (!ctx) {
		fprintf(stderr, "spoke: out of memory\n");
		return NULL;
	}
	/* The environment's default; --link-mode still overrides it. */
	if (mode && *mode) {
		if (parse_link_mode(mode, &m)) {
			fprintf(stderr, "spoke: invalid SPOKE_LINK_MODE '%s' "
				"(auto, clone, hardlink, copy or symlink)\n",
				cli_esc(mode));
			spoke_ctx_free(ctx);
			exit(EXIT_USAGE);
		}
		spoke_ctx_set_link_mode(ctx, m);
	}
	return ctx;
}

void cli_ctx_finish(spoke_ctx *ctx, const struct cli_run_opts *o)
{
	spoke_ctx_set_log(ctx, log_to_stderr, (void *)o);
	progress.tty = isatty(STDERR_FILENO);
	progress.quiet = o->quiet;
	clock_gettime(CLOCK_MONOTONIC, &progress.start);
	if (progress.tty && !o->quiet && !o->json)
		spoke_ctx_set_progress(ctx, draw_progress, NULL);
}

int cli_exit_code(int ret)
{
	switch (ret) {
	case 0:
		return EXIT_OK;
	case SPOKE_E_USAGE:
		return EXIT_USAGE;
	case SPOKE_E_UNSUPPORTED:
		return EXIT_UNSUPPORTED;
	case SPOKE_E_BADWHEEL:
	case SPOKE_E_UNSAFE_PATH:
	case SPOKE_E_CONFLICT:
	case SPOKE_E_HASH:
	case SPOKE_E_PROTECTED:
		return EXIT_BADINPUT;
	case SPOKE_E_LOCKED:
		return EXIT_LOCKED;
	case SPOKE_E_CANCELED:
		return EXIT_CANCELED;
	default:
		return EXIT_FAIL;
	}
}

static void print_stats(const spoke_report *r, double secs)
{
	uint64_t files = spoke_report_counter(r, SPOKE_COUNT_FILES);

	fprintf(stderr,
		"%" PRIu64 " files, %" PRIu64 " dirs, %.1f MB in %.3fs "
		"(%.0f files/s)\n  cloned %" PRIu64 ", hardlinked %" PRIu64
		", copied %" PRIu64 ", symlinked %" PRIu64 ", replaced %" PRIu64
		"\n  failed attempts %" PRIu64 "\n",
		files, spoke_report_counter(r, SPOKE_COUNT_DIRS),
		(double)spoke_report_counter(r, SPOKE_COUNT_BYTES) / 1e6, secs,
		secs > 0 ? (double)files / secs : 0.0,
		spoke_report_counter(r, SPOKE_COUNT_CLONED),
		spoke_report_counter(r, SPOKE_COUNT_HARDLINKED),
		spoke_report_counter(r, SPOKE_COUNT_COPIED),
		spoke_report_counter(r, SPOKE_COUNT_SYMLINKED),
		spoke_report_counter(r, SPOKE_COUNT_REPLACED),
		spoke_report_counter(r, SPOKE_COUNT_FAILED_ATTEMPTS));
	for (size_t i = 0; i < spoke_report_fallback_count(r); i++) {
		const char *from, *to, *path;
		int err;

		spoke_report_fallback(r, i, &from, &to, &err, &path);
		fprintf(stderr, "  fallback %s -> %s (%s) at '%s'\n", from, to,
			strerror(err), cli_esc(path));
	}
}

/* The library's messages name no command-line flags (an embedder's users
 * never typed one); the CLI adds the flag that answers a message. */
static void print_hint(const char *cmd, const char *msg)
{
	static const struct {
		const char *says, *hint;
	} hints[] = {
		{ "no environment to install into",
		  "give --venv DIR or --target DIR" },
		{ "needs the interpreter", "give it with --python PATH (or only "
		  "the one scripts name, with --shebang-python PATH)" },
		{ "(allow_overwrite lets", "--allow-overwrite lets the later "
		  "wheel win" },
		{ "none is set (use a venv", "give --venv DIR or --target DIR" },
	};

	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (strstr(msg, hints[i].says)) {
			fprintf(stderr, "spoke %s: hint: %s\n", cmd,
				hints[i].hint);
			return;
		}
}

/* A link mode the user named fell back: say which mode to name instead
 * (with auto, falling back is the point and the notice is only -v). */
static void print_fallback_hint(const struct cli_run_opts *o,
				const spoke_report *r)
{
	if (!o->link_mode_set || o->quiet || !spoke_report_fallback_count(r))
		return;
	for (size_t i = 0; i < spoke_report_fallback_count(r); i++) {
		const char *to;

		spoke_report_fallback(r, i, NULL, &to, NULL, NULL);
		fprintf(stderr, "spoke: hint: --link-mode %s skips the attempt "
			"that fails here\n", to);
		break;
	}
}

int cli_finish_run(spoke_ctx *ctx, const struct cli_run_opts *o,
		   const char *cmd, int ret, spoke_report *rep)
{
	double secs = elapsed();

	if (progress.drawn) {
		fputs("\r\033[K", stderr);
		progress.drawn = 0;
	}
	if (ret) {
		fprintf(stderr, "spoke %s: error: %s\n", cmd,
			*spoke_ctx_error_message(ctx) ?
			spoke_ctx_error_message(ctx) : spoke_strerror(ret));
		print_hint(cmd, spoke_ctx_error_message(ctx));
	}
	if (rep)
		print_fallback_hint(o, rep);
	if (rep && o->stats)
		print_stats(rep, secs);
	if (rep && o->json) {
		char *json = spoke_report_json(rep);

		if (!json) {
			fprintf(stderr, "spoke %s: out of memory\n", cmd);
			return EXIT_FAIL;
		}
		printf("%s\n", json);
		spoke_free(json);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "spoke %s: cannot write output: %s\n", cmd,
			strerror(errno));
		return EXIT_FAIL;
	}
	return cli_exit_code(ret);
}

static void on_signal(int sig)
{
	(void)sig;
	if (signal_ctx)
		spoke_ctx_cancel(signal_ctx);
}

void cli_cancel_on_signals(spoke_ctx *ctx)
{
	struct sigaction sa;

	signal_ctx = ctx;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}
