/* SPDX-License-Identifier: MIT */
/*
 * layout_gen - the files an install writes itself instead of linking (see
 * layout.h): .data/scripts files whose "#!python" line is rewritten, the
 * entry point launchers, INSTALLER, REQUESTED, direct_url.json and the
 * RECORD. Each is claimed and checked like a linked file, and its content
 * hashed into the RECORD now, so the second half of the install only
 * writes bytes that were already decided.
 */
#include "engine/layout.h"
#include "engine/direct_url.h"
#include "engine/scripts.h"
#include "base/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCRIPT_MAX (256u << 20)

/* A generated file: claimed, checked, hashed into RECORD. Takes data. */
static int generate(struct walker *wk, const char *dest, char *data,
		    size_t len, mode_t mode)
{
	unsigned char dig[32];
	struct gen_file *g;
	int err;

	err = layout_claim(wk, dest, DEST_FILE);
	if (!err)
		err = layout_env_check(wk, AT_FDCWD, dest, dest, DEST_FILE,
				       NULL);
	if (!err && scheme_protected(wk->s, dest))
		err = ctx_fail(wk->ctx, SPOKE_E_PROTECTED, 0, dest,
			       "wheel '%s' would replace '%s', which belongs to "
			       "the environment", wk->wp->w.label,
			       layout_esc(wk, 1, dest));
	if (!err && sha256_buf(data, len, dig))
		err = layout_nomem(wk->ctx);
	if (!err)
		err = layout_record_row(wk, dest, "sha256", dig, 32,
					(int64_t)len);
	g = err ? NULL : xrealloc(wk->wp->gen, (wk->wp->ngen + 1) * sizeof(*g));
	if (!err && !g)
		err = layout_nomem(wk->ctx);
	if (err) {
		free(data);
		return err;
	}
	wk->wp->gen = g;
	g += wk->wp->ngen;
	g->path = xstrdup(dest);
	g->data = data;
	g->len = len;
	g->mode = mode;
	wk->wp->ngen++;
	return g->path ? 0 : layout_nomem(wk->ctx);
}

int layout_is_distinfo_file(const struct walker *wk, const char *name)
{
	const char *di = wk->wp->w.distinfo;
	size_t n = strlen(di);

	return wk->is_root && strncmp(wk->wrel, di, n) == 0 &&
	       wk->wrel[n] == '/' && strcmp(wk->wrel + n + 1, name) == 0;
}

/* Files spoke writes itself instead of linking the wheel's copy. */
int layout_generated_here(const struct walker *wk)
{
	return layout_is_distinfo_file(wk, "RECORD") ||
	       layout_is_distinfo_file(wk, "INSTALLER") ||
	       (plan_wheel_requested(wk->p, wk->index) &&
		layout_is_distinfo_file(wk, "REQUESTED")) ||
	       (wk->p->wheels[wk->index].direct_url &&
		layout_is_distinfo_file(wk, "direct_url.json"));
}

int layout_fix_script(struct walker *wk, int sfd, const char *name,
		      const char *dest, const struct stat *st)
{
	char head[8], *src, *out;
	const char *python;
	size_t len, outlen;
	ssize_t n;
	int fd = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err;

	if (fd < 0)
		return ctx_fail(wk->ctx, -errno, errno, wk->wrel, "wheel '%s': "
				"cannot read '%s': %s", wk->wp->w.label,
				layout_esc(wk, 0, wk->wrel), strerror(errno));
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n < 0 || !scripts_is_python_shebang(head, (size_t)n))
		return 0; /* linked as it is */
	err = scheme_python(wk->ctx, wk->s, "a '#!python' script", &python);
	if (err)
		return err;
	err = read_small_file(sfd, name, SCRIPT_MAX, &src, &len);
	if (err)
		return ctx_fail(wk->ctx, err, -err, wk->wrel, "wheel '%s': "
				"cannot read '%s': %s", wk->wp->w.label,
				layout_esc(wk, 0, wk->wrel), strerror(-err));
	err = scripts_fix(python, src, len, &out, &outlen);
	free(src);
	if (err)
		return layout_nomem(wk->ctx);
	err = generate(wk, dest, out, outlen, scripts_fixed_mode(st->st_mode));
	return err ? err : 1;
}

static int gen_distinfo(struct walker *wk, const char *name, const char *text)
{
	char *dir = path_join(wk->wp->lib, wk->wp->w.distinfo);
	char *dest = dir ? path_join(dir, name) : NULL, *data = xstrdup(text);
	int err;

	if (!dest || !data) {
		free(data);
		err = layout_nomem(wk->ctx);
	} else {
		err = generate(wk, dest, data, strlen(text),
			       scripts_generated_mode());
	}
	free(dir);
	free(dest);
	return err;
}

static int gen_launchers(struct walker *wk)
{
	const char *scripts, *python;
	int err = 0;

	if (!wk->nlaunchers)
		return 0;
	err = scheme_dir(wk->ctx, wk->s, SPOKE_SCHEME_SCRIPTS,
			 "an entry point", &scripts);
	if (!err)
		err = scheme_python(wk->ctx, wk->s, "an entry point", &python);
	if (!err)
		err = layout_claim_chain(wk, scripts);
	for (size_t i = 0; i < wk->nlaunchers && !err; i++) {
		const struct wheel_ep *ep = &wk->launchers[i];
		char *dest, *text;
		size_t len;

		if (!scripts_valid_name(ep->name))
			return ctx_fail(wk->ctx, SPOKE_E_UNSAFE_PATH, 0, ep->name,
					"wheel '%s': entry point name '%s' is "
					"not a file name in the scripts "
					"directory", wk->wp->w.label,
					layout_esc(wk, 0, ep->name));
		dest = path_join(scripts, ep->name);
		if (!dest)
			return layout_nomem(wk->ctx);
		err = scripts_launcher(python, ep, &text, &len);
		if (err)
			err = layout_nomem(wk->ctx);
		else
			err = generate(wk, dest, text, len,
				       scripts_launcher_mode());
		free(dest);
	}
	return err;
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct record_row *)a)->path,
		      ((const struct record_row *)b)->path);
}

static int gen_installer(struct walker *wk)
{
	const char *name = wk->p->installer ? wk->p->installer : "spoke";
	char text[80];

	snprintf(text, sizeof(text), "%s\n", name);
	return gen_distinfo(wk, "INSTALLER", text);
}

int layout_gen_files(struct walker *wk)
{
	struct wheel *w = &wk->wp->w;
	const char *url = wk->p->wheels[wk->index].direct_url, *why;
	int err;

	err = gen_launchers(wk);
	if (!err)
		err = gen_installer(wk);
	if (!err && plan_wheel_requested(wk->p, wk->index))
		err = gen_distinfo(wk, "REQUESTED", "");
	if (!err && url && (why = direct_url_text_problem(url)))
		err = ctx_fail(wk->ctx, SPOKE_E_USAGE, 0, w->label, "wheel "
			       "'%s': the direct_url given for it is not PEP "
			       "610 direct_url.json: %s (it needs a string "
			       "\"url\" and exactly one of the objects "
			       "\"archive_info\", \"dir_info\", \"vcs_info\")",
			       w->label, why);
	if (!err && url)
		err = gen_distinfo(wk, "direct_url.json", url);
	if (!err) {
		char *dir = path_join(wk->wp->lib, w->distinfo);

		wk->wp->record_path = dir ? path_join(dir, "RECORD") : NULL;
		free(dir);
		if (!wk->wp->record_path)
			return layout_nomem(wk->ctx);
		err = layout_claim(wk, wk->wp->record_path, DEST_FILE);
	}
	if (!err)
		err = layout_record_row(wk, wk->wp->record_path, NULL, NULL, 0,
					-1);
	if (!err)
		qsort(wk->wp->out.rows, wk->wp->out.n, sizeof(*wk->wp->out.rows),
		      cmp_row);
	/* Kept until the RECORD is written: without the room the doubling
	 * left (a quarter of the rows on average, 104 bytes each). */
	if (!err && wk->wp->out.n && wk->wp->out.n < wk->wp->out.cap) {
		struct record_row *r = xrealloc(wk->wp->out.rows, wk->wp->out.n *
						sizeof(*r));

		if (r) {
			wk->wp->out.rows = r;
			wk->wp->out.cap = wk->wp->out.n;
		}
	}
	return err;
}
