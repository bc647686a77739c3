/* SPDX-License-Identifier: MIT */
/* main - the spoke command: dispatch to a subcommand, global --help and
 * --version. */
#include "cli.h"

#include <string.h>

static const char usage[] =
	"usage: spoke COMMAND [OPTIONS] ...\n"
	"\n"
	"spoke materialises Python wheels into environments, in parallel, with\n"
	"reflinks, hardlinks or copies, and never leaves an environment\n"
	"half-installed.\n"
	"\n"
	"Commands:\n"
	"  copy-tree SRC DST        materialise a tree (a parallel cp -a)\n"
	"  cache add|list|dir|verify|prune|clean\n"
	"                           manage the cache of unpacked wheels\n"
	"  install WHEEL...         install .whl files or unpacked wheels into a\n"
	"                           venv or --target directory\n"
	"  uninstall NAME...        remove installed distributions\n"
	"  recover                  roll back what a killed install left behind\n"
	"\n"
	"Run 'spoke COMMAND --help' for a command's options; 'man spoke' for\n"
	"the whole manual.\n"
	"\n"
	"Exit codes:\n"
	"  0    success\n"
	"  1    the operation failed (the message names the path and the cause)\n"
	"  2    bad command line\n"
	"  3    link mode unsupported and --no-fallback given\n"
	"  4    malformed or unsafe wheel, or content not matching RECORD\n"
	"  5    environment locked by another spoke (--no-wait)\n"
	"  130  interrupted; the environment was restored\n"
	"\n"
	"Options:\n"
	"  -h, --help                     this help\n"
	"  -V, --version                  print the version\n"
	"\n"
	"Environment:\n"
	"  VIRTUAL_ENV                    the venv to use when none is given\n"
	"  SPOKE_LINK_MODE=MODE           default for --link-mode\n"
	"  SPOKE_CACHE_DIR=DIR            default for --cache-dir (else\n"
	"                                 $XDG_CACHE_HOME/spoke, ~/.cache/spoke)\n"
	"  SPOKE_FAULT=OP:N:ERRNO[,...]   make the Nth call of io op OP fail with\n"
	"                                 ERRNO (testing; see spoke(1))\n";

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "copy-tree", cmd_copy_tree },
	{ "cache", cmd_cache },
	{ "install", cmd_install },
	{ "uninstall", cmd_uninstall },
	{ "recover", cmd_recover },
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("spoke %s\n", spoke_version());
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "spoke: '%s' is not a command. See 'spoke --help'.\n",
		argv[1]);
	return EXIT_USAGE;
}
