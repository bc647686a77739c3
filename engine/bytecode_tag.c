/* SPDX-License-Identifier: MIT */
/*
 * bytecode_tag - the two questions about the environment that bytecode.c
 * asks before it compiles anything: the interpreter's cache tag (asked once
 * per interpreter and kept in <cache>/pytag-v1/, so a warm install starts
 * no Python) and whether an installed distribution already has its
 * bytecode (bytecode_missing). See bytecode.h.
 */
#include "engine/bytecode.h"
#include "engine/wheel.h"
#include "engine/interp_record.h"
#include "base/alloc.h"
#include "base/spawn.h"
#include "cache/record.h"
#include "cache/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* <cache>/pytag-v1/<key> (interp_record.h), where the cache tag is kept:
 * asking the interpreter costs a start of Python on every install (15 ms
 * idle, 0.2 s on a loaded machine), more than a warm install of a few
 * wheels. */
static char *tag_file(spoke_ctx *ctx, const char *python)
{
	return interp_record_path(ctx, python, "pytag-v1", "pytag-v1");
}

static int tag_ok(const char *tag)
{
	return *tag && strspn(tag, "abcdefghijklmnopqrstuvwxyz0123456789_-") ==
		       strlen(tag);
}

int bytecode_tag(spoke_ctx *ctx, const char *python, char tag[64])
{
	char *argv[] = { (char *)python, "-I", "-S", "-c",
			 "import sys;print(sys.implementation.cache_tag or '')",
			 NULL };
	char *out = NULL, *file = tag_file(ctx, python);
	int status = 0, more, err, fd;
	ssize_t n;

	fd = file ? open(file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;
	n = fd >= 0 ? read(fd, tag, 64 - 1) : -1;
	if (fd >= 0)
		close(fd);
	tag[n > 0 ? n : 0] = '\0';
	if (tag_ok(tag)) {
		free(file);
		return 0;
	}
	err = spawn_capture(argv, 1, 64 - 1, &out, &more,
			    &status);
	if (err == -ENOMEM) {
		free(file);
		return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
	}
	tag[0] = '\0';
	if (!err) {
		memcpy(tag, out, strlen(out) + 1);
		free(out);
	}
	tag[strcspn(tag, "\n")] = '\0';
	if (err || !WIFEXITED(status) || WEXITSTATUS(status) ||
	    !tag_ok(tag)) {
		free(file);
		return ctx_fail(ctx, SPOKE_E_USAGE, -err, python, "cannot "
				"compile bytecode: '%s' %s", python, err ?
				strerror(-err) : "has no bytecode cache tag "
				"(not Python 3?)");
	}
	if (file)
		interp_record_save(ctx, file, tag);
	free(file);
	return 0;
}

void bytecode_tag_forget(spoke_ctx *ctx, const char *python)
{
	char *file = tag_file(ctx, python);

	if (file)
		unlink(file);
	free(file);
}

int bytecode_missing(const struct spoke_plan *p, const struct installed *d)
{
	char rel[PATH_MAX], opt[16] = "", *buf = NULL, *line, *save = NULL;
	int sfd, py = 0, pyc = 0;
	size_t len;

	if (!p->compile_bytecode)
		return 0;
	if (p->compile_optimize)
		snprintf(opt, sizeof(opt), ".opt-%d", p->compile_optimize);
	snprintf(rel, sizeof(rel), "%s/RECORD", d->distinfo);
	sfd = open(d->site, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0)
		return 0;
	if (read_small_file(sfd, rel, 64u << 20, &buf, &len)) {
		close(sfd);
		return 0;
	}
	close(sfd);
	for (line = strtok_r(buf, "\n", &save); line && !pyc;
	     line = strtok_r(NULL, "\n", &save)) {
		char *comma = strchr(line, ',');
		size_t n = comma ? (size_t)(comma - line) : strlen(line);

		if (n > 3 && !strncmp(line + n - 3, ".py", 3) &&
		    strncmp(line, "../", 3))
			py = 1;
		else if (n > 4 + strlen(opt) && !strncmp(line + n - 4, ".pyc", 4)
			 && strstr(line, "__pycache__/") &&
			 (*opt ? !strncmp(line + n - 4 - strlen(opt), opt,
					  strlen(opt)) :
			  !memmem(line, n, ".opt-", 5)))
			pyc = 1;
	}
	free(buf);
	return py && !pyc;
}
