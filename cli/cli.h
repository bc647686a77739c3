/* SPDX-License-Identifier: MIT */
/*
 * cli - what the subcommands of the spoke binary share: option parsing of
 * the run options every command takes, printing of errors, warnings and
 * reports, and the exit codes. The CLI is a client of spoke.h and nothing
 * else: if it needs something, the public API needs it too.
 */
#ifndef SPOKE_CLI_H
#define SPOKE_CLI_H

#include "spoke.h"

#include <stdio.h>

/* Exit codes (documented in spoke --help and spoke(1)). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,        /* the operation failed; nothing half-done */
	EXIT_USAGE = 2,       /* bad command line */
	EXIT_UNSUPPORTED = 3, /* --no-fallback and the link mode is unsupported */
	EXIT_BADINPUT = 4,    /* malformed or unsafe wheel, hash mismatch */
	EXIT_LOCKED = 5,      /* environment locked (--no-wait) */
	EXIT_CANCELED = 130   /* interrupted */
};

/* Options common to commands that run the engine. */
struct cli_run_opts {
	int json, stats, quiet, verbose;
	int link_mode_set; /* a mode other than auto was named */
};

/* Returns 1 if opt (a getopt_long value from CLI_RUN_LONGOPTS) was a run
 * option and applied to ctx, 0 if not ours, -1 on a bad value (printed). */
int cli_run_option(spoke_ctx *ctx, struct cli_run_opts *o, int opt,
		   const char *arg);

#define CLI_OPT_LINK_MODE 1000
#define CLI_OPT_JOBS 'j'
#define CLI_OPT_IO 1001
#define CLI_OPT_NO_FALLBACK 1002
#define CLI_OPT_JSON 1003
#define CLI_OPT_STATS 1004
#define CLI_OPT_CACHE_DIR 1005
#define CLI_OPT_NO_VERIFY 1006

#define CLI_RUN_LONGOPTS                                                     \
	{ "link-mode", required_argument, NULL, CLI_OPT_LINK_MODE },         \
	{ "jobs", required_argument, NULL, CLI_OPT_JOBS },                    \
	{ "io", required_argument, NULL, CLI_OPT_IO },                        \
	{ "no-fallback", no_argument, NULL, CLI_OPT_NO_FALLBACK },            \
	{ "json", no_argument, NULL, CLI_OPT_JSON },                          \
	{ "stats", no_argument, NULL, CLI_OPT_STATS },                        \
	{ "cache-dir", required_argument, NULL, CLI_OPT_CACHE_DIR },          \
	{ "no-verify", no_argument, NULL, CLI_OPT_NO_VERIFY },                \
	{ "quiet", no_argument, NULL, 'q' },                                  \
	{ "verbose", no_argument, NULL, 'v' }

/* Help for the run options, in two parts: how files are materialised
 * (commands that link) and what is printed (every run). */
#define CLI_LINK_HELP                                                             \
	"  --link-mode MODE   auto (clone, then hardlink, then copy), clone,\n"     \
	"                     hardlink, copy or symlink (default: auto, or\n"      \
	"                     $SPOKE_LINK_MODE)\n"                                  \
	"  --no-fallback      fail (exit 3) instead of falling back when MODE is\n" \
	"                     not supported between the two filesystems\n"          \
	"  -j, --jobs N       worker threads (default: CPUs this process may use)\n"\
	"  --io BACKEND       auto, uring or sync (default auto)\n"

#define CLI_CACHE_HELP                                                            \
	"  --cache-dir DIR    the wheel cache (default: $SPOKE_CACHE_DIR, else\n"  \
	"                     $XDG_CACHE_HOME/spoke, else ~/.cache/spoke)\n"        \
	"  --no-verify        trust .whl files: skip the RECORD digest checks\n"

#define CLI_OUT_HELP                                                              \
	"  --json             print the report as one JSON object on stdout\n"      \
	"  --stats            print a human summary on stderr\n"                    \
	"  -q, --quiet        no progress, no warnings, no summary\n"               \
	"  -v, --verbose      more detail on stderr (per wheel: cache hit or\n"    \
	"                     unpack, files, bytes, time)\n"

#define CLI_RUN_HELP CLI_LINK_HELP CLI_OUT_HELP

/* Where install and uninstall work (cli/env.c): the options as given
 * (NULL when not). */
struct cli_env {
	const char *venv, *target, *prefix, *root;
	const char *python;  /* the environment's interpreter (uv, pip) */
	const char *shebang; /* the interpreter generated scripts name */
	int have_plan;       /* a --plan may name the environment itself */
};

/* Set plan's environment from e: EXIT_OK, or the exit code after saying
 * why. */
int cli_env_apply(spoke_plan *plan, const struct cli_env *e, const char *cmd);

spoke_ctx *cli_ctx_create(const struct cli_run_opts *o);
/* cli_ctx_create() also applies $SPOKE_LINK_MODE (exit 2 with a message
 * when it is not a mode). Attach logging and the progress bar once options are parsed. */
void cli_ctx_finish(spoke_ctx *ctx, const struct cli_run_opts *o);
/* Print the outcome of a run: the error (if any), --stats, --json; return
 * the exit code. */
int cli_finish_run(spoke_ctx *ctx, const struct cli_run_opts *o,
		   const char *cmd, int ret, spoke_report *rep);
int cli_exit_code(int ret);
int cli_stderr_is_tty(void);
/* Seconds since cli_ctx_finish(). */
double cli_elapsed(void);
/* The per-distribution lines and the summary line of a run that
 * succeeded (cli/summary.c): EXIT_OK, or EXIT_FAIL when stdout fails. */
int cli_print_dists(const spoke_report *rep, const struct cli_run_opts *o,
		    const char *cmd, double secs);
/* s as a terminal may show it: control bytes (C0, DEL, C1) as \xHH and a
 * backslash doubled, as the library escapes its messages. Names from
 * wheels, trees and the command line pass through this before printing.
 * The result lives until the fourth call after this one. */
const char *cli_esc(const char *s);
void cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Install SIGINT/SIGTERM handlers that cancel ctx (the run rolls back). */
void cli_cancel_on_signals(spoke_ctx *ctx);

int cmd_copy_tree(int argc, char **argv);
int cmd_install(int argc, char **argv);
int cmd_uninstall(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_cache(int argc, char **argv);

#endif
