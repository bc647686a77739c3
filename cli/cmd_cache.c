/* SPDX-License-Identifier: MIT */
/* cmd_cache - `spoke cache add|list|dir|verify|prune|clean`. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: spoke cache add [OPTIONS] WHEEL.whl...\n"
	"       spoke cache list [--verify]\n"
	"       spoke cache dir | verify | prune | clean\n"
	"\n"
	"The cache of unpacked wheels. add unpacks, verifies every file against\n"
	"RECORD and publishes the entry atomically (identical wheels share one\n"
	"entry; with --no-verify it is marked unverified, and a verifying\n"
	"install unpacks the wheel again); list shows entries; verify re-hashes\n"
	"every entry and checks modes (exit 4 on corruption, e.g. after a\n"
	"hardlinked file was edited or chmod'ed in an environment);\n"
	"prune removes leftovers of killed runs; clean removes everything.\n"
	"\n"
	"Options:\n"
	"  --cache-dir DIR    the cache (default $SPOKE_CACHE_DIR, else\n"
	"                     $XDG_CACHE_HOME/spoke, else ~/.cache/spoke)\n"
	"  --no-verify        add: trust the wheel, skip RECORD checks\n"
	"  --sha256 HEX       add: the sha256 the one wheel must have\n"
	"  -j, --jobs N       worker threads for unpacking\n"
	"  -q, --quiet        print nothing on success\n"
	"  -h, --help         this help\n";

static void print_entry(void *user, const char *key, const char *name,
			int status, const char *msg)
{
	int verify = *(int *)user;

	/* msg is "unverified" for a sound entry added with --no-verify. */
	if (!verify)
		printf("%s  %s%s%s\n", key, name ? name : "(no index entry)",
		       *msg ? "  " : "", msg);
	else if (status)
		printf("CORRUPT  %s  %s: %s\n", key, name ? name : "?", msg);
	else
		printf("ok       %s  %s%s%s\n", key, name ? name : "?",
		       *msg ? "  " : "", msg);
}

static int fail(spoke_ctx *ctx, const char *sub, int ret)
{
	fprintf(stderr, "spoke cache %s: error: %s\n", sub,
		*spoke_ctx_error_message(ctx) ? spoke_ctx_error_message(ctx) :
		spoke_strerror(ret));
	return cli_exit_code(ret);
}

static int run(spoke_ctx *ctx, const struct cli_run_opts *o, const char *sub,
	       int argc, char **argv, int verify, const char *sha256)
{
	char key[65];
	int ret = 0;

	if (strcmp(sub, "add") == 0) {
		if (argc == 0) {
			cli_usage_error("cache", "add needs at least one wheel");
			return EXIT_USAGE;
		}
		if (sha256 && argc != 1) {
			cli_usage_error("cache", "--sha256 names the hash of "
					"one wheel");
			return EXIT_USAGE;
		}
		for (int i = 0; i < argc; i++) {
			ret = spoke_cache_add_sha256(ctx, argv[i], sha256, key);
			if (ret)
				return fail(ctx, sub, ret);
			if (!o->quiet)
				printf("%s  %s\n", key, argv[i]);
		}
		return EXIT_OK;
	}
	if (argc) {
		cli_usage_error("cache", "%s takes no arguments", sub);
		return EXIT_USAGE;
	}
	if (strcmp(sub, "dir") == 0) {
		const char *dir = spoke_cache_dir(ctx);

		if (!*dir) {
			fprintf(stderr, "spoke cache dir: no cache directory: "
				"set SPOKE_CACHE_DIR or HOME\n");
			return EXIT_FAIL;
		}
		printf("%s\n", dir);
		return EXIT_OK;
	}
	if (strcmp(sub, "list") == 0 || strcmp(sub, "verify") == 0) {
		verify |= strcmp(sub, "verify") == 0;
		ret = spoke_cache_list(ctx, verify, print_entry, &verify);
		return ret < 0 ? fail(ctx, sub, ret) : EXIT_OK;
	}
	if (strcmp(sub, "prune") == 0 || strcmp(sub, "clean") == 0) {
		ret = sub[0] == 'p' ? spoke_cache_prune(ctx) :
				      spoke_cache_clean(ctx);
		if (ret < 0)
			return fail(ctx, sub, ret);
		if (!o->quiet && sub[0] == 'p')
			printf("removed %d leftover%s\n", ret, ret == 1 ? "" : "s");
		return EXIT_OK;
	}
	cli_usage_error("cache", "unknown subcommand '%s'", sub);
	return EXIT_USAGE;
}

int cmd_cache(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_RUN_LONGOPTS,
		{ "verify", no_argument, NULL, 'V' },
		{ "sha256", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_run_opts o = { 0 };
	spoke_ctx *ctx = cli_ctx_create(&o);
	const char *sha256 = NULL;
	int opt, ret, verify = 0;

	if (!ctx)
		return EXIT_FAIL;
	while ((opt = getopt_long(argc, argv, "j:qvh", longopts, NULL)) != -1) {
		int r = cli_run_option(ctx, &o, opt, optarg);

		if (r == 1)
			continue;
		if (opt == 'V') {
			verify = 1;
			continue;
		}
		if (opt == 'S') {
			sha256 = optarg;
			continue;
		}
		spoke_ctx_free(ctx);
		if (opt == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		}
		if (r == 0)
			fprintf(stderr, "Try 'spoke cache --help'.\n");
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		cli_usage_error("cache", "missing subcommand (add, list, dir, "
				"verify, prune or clean)");
		spoke_ctx_free(ctx);
		return EXIT_USAGE;
	}
	cli_ctx_finish(ctx, &o);
	cli_cancel_on_signals(ctx);
	ret = run(ctx, &o, argv[optind], argc - optind - 1, argv + optind + 1,
		  verify, sha256);
	spoke_ctx_free(ctx);
	return ret;
}
