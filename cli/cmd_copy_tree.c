/* SPDX-License-Identifier: MIT */
/* cmd_copy_tree - `spoke copy-tree`: a parallel, reflink-aware `cp -a`. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: spoke copy-tree [OPTIONS] SRC DST\n"
	"\n"
	"Materialise the tree SRC into DST (created if missing, merged into if\n"
	"present; existing files are replaced atomically). Directories are\n"
	"walked in parallel; symlinks inside SRC are recreated, never followed.\n"
	"\n"
	"Options:\n" CLI_RUN_HELP
	"  -h, --help         this help\n";

int cmd_copy_tree(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_RUN_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_run_opts o = { 0 };
	spoke_report *rep = NULL;
	spoke_ctx *ctx = cli_ctx_create(&o);
	int opt, ret;

	if (!ctx)
		return EXIT_FAIL;
	while ((opt = getopt_long(argc, argv, "j:qvh", longopts, NULL)) != -1) {
		int r = cli_run_option(ctx, &o, opt, optarg);

		if (r == 1)
			continue;
		if (opt == 'h') {
			fputs(usage, stdout);
			spoke_ctx_free(ctx);
			return EXIT_OK;
		}
		if (r == 0)
			fprintf(stderr, "Try 'spoke copy-tree --help'.\n");
		spoke_ctx_free(ctx);
		return EXIT_USAGE;
	}
	if (argc - optind != 2) {
		cli_usage_error("copy-tree", "expected SRC and DST, got %d "
				"argument%s", argc - optind,
				argc - optind == 1 ? "" : "s");
		spoke_ctx_free(ctx);
		return EXIT_USAGE;
	}
	cli_ctx_finish(ctx, &o);
	cli_cancel_on_signals(ctx);
	ret = spoke_copy_tree(ctx, argv[optind], argv[optind + 1], &rep);
	ret = cli_finish_run(ctx, &o, "copy-tree", ret, rep);
	spoke_report_free(rep);
	spoke_ctx_free(ctx);
	return ret;
}
