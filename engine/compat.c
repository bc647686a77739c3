/* SPDX-License-Identifier: MIT */
/*
 * compat - see compat.h. The interpreter's supported tags are computed by
 * the interpreter itself: TAG_SCRIPT yields what packaging.tags.sys_tags()
 * yields (checked against packaging for CPython 3.11 on glibc: the same
 * list in the same order), without needing packaging installed. Its output
 * is cached as it is in <cache>/tags-v1/<sha256 of real path, mtime, size
 * and script version>; a cache file that is not of that form is computed
 * again. The cache is best effort: a failure to write it is not an error.
 */
#include "engine/compat.h"
#include "engine/interp_record.h"
#include "base/spawn.h"
#include "cache/record.h"
#include "cache/store.h"
#include "engine/wheelname.h"
#include "base/alloc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


#define TAGS_HEADER "spoke-tags 1\n"
#define TAGS_MAX (1u << 20)

/* Prints TAGS_HEADER, X.Y.Z (what pip compares Requires-Python with), then
 * one tag per line, most specific first. */
static const char TAG_SCRIPT[] =
	"import os, sys, sysconfig\n"
	"v = sys.version_info\n"
	"xy = '%d%d' % v[:2]\n"
	"def plats():\n"
	"    p = sysconfig.get_platform().replace('-', '_').replace('.', '_')\n"
	"    if not p.startswith('linux_'):\n"
	"        return [p]\n"
	"    arch = p[6:]\n"
	"    if sys.maxsize <= 2 ** 32:\n"
	"        arch = {'x86_64': 'i686', 'aarch64': 'armv8l'}.get(arch, arch)\n"
	"    p = 'linux_' + arch\n"
	"    out = []\n"
	"    try:\n"
	"        g = os.confstr('CS_GNU_LIBC_VERSION').split()[1].split('.')\n"
	"        g = (int(g[0]), int(g[1]))\n"
	"    except Exception:\n"
	"        g = None\n"
	"    if g:\n"
	"        old = {17: 'manylinux2014', 12: 'manylinux2010', 5: 'manylinux1'}\n"
	"        for m in range(g[1], (5 if arch in ('x86_64', 'i686') else 17) - 1, -1):\n"
	"            out.append('manylinux_%d_%d_%s' % (g[0], m, arch))\n"
	"            if g[0] == 2 and m in old and (m == 17 or arch in ('x86_64', 'i686')):\n"
	"                out.append('%s_%s' % (old[m], arch))\n"
	"    else:\n"
	"        import glob, re, subprocess\n"
	"        for ld in glob.glob('/lib/ld-musl-*.so.1')[:1]:\n"
	"            e = subprocess.run([ld], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).stderr\n"
	"            m = re.search(rb'Version (\\d+)\\.(\\d+)', e)\n"
	"            for n in range(int(m.group(2)), -1, -1) if m else ():\n"
	"                out.append('musllinux_%s_%d_%s' % (m.group(1).decode(), n, arch))\n"
	"    return out + [p]\n"
	"P = plats()\n"
	"T = []\n"
	"cfg = sysconfig.get_config_var\n"
	"if sys.implementation.name == 'cpython':\n"
	"    ft = 't' if cfg('Py_GIL_DISABLED') else ''\n"
	"    dbg = 'd' if cfg('Py_DEBUG') or hasattr(sys, 'gettotalrefcount') else ''\n"
	"    interp = 'cp' + xy\n"
	"    abis = ['cp' + xy + ft + dbg + ('m' if v < (3, 8) and cfg('WITH_PYMALLOC') else '')]\n"
	"    if dbg and v >= (3, 8):\n"
	"        abis.append('cp' + xy + ft)\n"
	"    abi3 = not ft\n"
	"    T += [(interp, a, p) for a in abis for p in P]\n"
	"    T += [(interp, 'abi3', p) for p in P if abi3]\n"
	"    T += [(interp, 'none', p) for p in P]\n"
	"    T += [('cp3%d' % m, 'abi3', p) for m in range(v[1] - 1, 1, -1) for p in P if abi3]\n"
	"else:\n"
	"    name = sys.implementation.name\n"
	"    interp = {'pypy': 'pp', 'ironpython': 'ip', 'jython': 'jy'}.get(name, name) + xy\n"
	"    s = (cfg('SOABI') or '').split('-')\n"
	"    abis = ['_'.join(s[:2]).replace('.', '_')] if s[0] else []\n"
	"    T += [(interp, a, p) for a in abis + ['none'] for p in P]\n"
	"pys = ['py' + xy, 'py%d' % v[0]] + ['py%d%d' % (v[0], m) for m in range(v[1] - 1, -1, -1)]\n"
	"T += [(x, 'none', p) for x in pys for p in P]\n"
	"T += [(interp, 'none', 'any')] + [(x, 'none', 'any') for x in pys]\n"
	"print('spoke-tags 1')\n"
	"print('%d.%d.%d' % v[:3])\n"
	"print('\\n'.join('-'.join(t) for t in T))\n";

struct interp {
	char version[32];
	struct strmap tags;
};

static int nomem(spoke_ctx *ctx)
{
	return ctx_fail(ctx, SPOKE_E_NOMEM, ENOMEM, NULL, "out of memory");
}

/* Run python TAG_SCRIPT; its stdout (heap, NUL-terminated) in *out. */
static int run_script(spoke_ctx *ctx, const char *python, char **out)
{
	char *const argv[] = { (char *)python, "-I", "-c",
			       (char *)TAG_SCRIPT, NULL };
	int status = 0, too_big, err;

	err = spawn_capture(argv, 1, TAGS_MAX - 1, out, &too_big, &status);
	if (err == -ENOMEM)
		return nomem(ctx);
	if (err)
		return ctx_fail(ctx, SPOKE_E_USAGE, -err, python, "cannot run "
				"the interpreter '%s' to learn the wheel tags "
				"it supports: %s", python, strerror(-err));
	if (too_big || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    strncmp(*out, TAGS_HEADER, strlen(TAGS_HEADER)) != 0) {
		free(*out);
		*out = NULL;
		return ctx_fail(ctx, SPOKE_E_USAGE, 0, python, "cannot learn "
				"the wheel tags '%s' supports: it failed or "
				"printed no tags", python);
	}
	return 0;
}

/* Fill in from TAGS_HEADER text; -EINVAL when it is not of that form. */
static int parse_tags(struct interp *in, char *text)
{
	char *line, *save = NULL;
	int n = 0;

	if (strncmp(text, TAGS_HEADER, strlen(TAGS_HEADER)) != 0)
		return -EINVAL;
	text += strlen(TAGS_HEADER);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), n++) {
		struct strmap_ent *e;

		if (n == 0) {
			if (strlen(line) >= sizeof(in->version) ||
			    strspn(line, "0123456789.") != strlen(line))
				return -EINVAL;
			strcpy(in->version, line);
		} else if (strmap_put(&in->tags, line, &e) < 0) {
			return -ENOMEM;
		}
	}
	return n >= 2 ? 0 : -EINVAL;
}

/* <cache>/tags-v1/<key> for the interpreter (interp_record.h). */
static char *cache_file(spoke_ctx *ctx, const char *python)
{
	return interp_record_path(ctx, python, "tags-v1", TAGS_HEADER);
}

static char *read_cached(const char *file)
{
	char *buf;
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	buf = xmalloc(TAGS_MAX + 1);
	n = buf ? read(fd, buf, TAGS_MAX) : -1;
	close(fd);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int interp_load(spoke_ctx *ctx, const char *python, struct interp *in)
{
	char *file = cache_file(ctx, python), *text = NULL, *copy;
	int err;

	memset(in, 0, sizeof(*in));
	if (file && (text = read_cached(file))) {
		if (parse_tags(in, text) == 0) {
			free(text);
			free(file);
			return 0;
		}
		strmap_free(&in->tags);
		memset(in, 0, sizeof(*in));
		free(text);
	}
	err = run_script(ctx, python, &text);
	if (!err && !(copy = xstrdup(text)))
		err = nomem(ctx);
	if (!err) {
		err = parse_tags(in, copy);
		free(copy);
		if (err == -ENOMEM)
			err = nomem(ctx);
		else if (err)
			err = ctx_fail(ctx, SPOKE_E_USAGE, 0, python, "'%s' "
				       "printed tags spoke cannot read",
				       python);
	}
	if (!err && file)
		interp_record_save(ctx, file, text);
	free(text);
	free(file);
	return err;
}

/* One of python x abi x platform (each '.'-separated, PEP 425's
 * compressed tag sets) is supported. -ENOMEM, 0 or 1. */
static int any_supported(const struct interp *in, const char *py,
			 const char *abi, const char *plat)
{
	char *a = xstrdup(py), *b = xstrdup(abi), *c = xstrdup(plat);
	int found = a && b && c ? 0 : -ENOMEM;

	for (char *s = a; found == 0 && s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (char *s = b; found == 0 && s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (char *s = c; found == 0 && s && *s; s++)
		*s = (char)tolower((unsigned char)*s);
	for (char *x = a, *xe; found == 0 && x; x = xe ? xe + 1 : NULL) {
		if ((xe = strchr(x, '.')))
			*xe = '\0';
		for (char *y = b, *ye; found == 0 && y; y = ye ? ye + 1 : NULL) {
			if ((ye = strchr(y, '.')))
				*ye = '\0';
			for (char *z = c, *ze; !found && z; z = ze ? ze + 1 : NULL) {
				char tag[512];

				if ((ze = strchr(z, '.')))
					*ze = '\0';
				snprintf(tag, sizeof(tag), "%s-%s-%s", x, y, z);
				found = strmap_get(&in->tags, tag) != NULL;
				if (ze)
					*ze = '.';
			}
			if (ye)
				*ye = '.';
		}
		if (xe)
			*xe = '.';
	}
	free(a);
	free(b);
	free(c);
	return found;
}

/* A header of the dist-info's file (WHEEL or METADATA): calls fn for each
 * value of key, until fn returns non-zero. A missing file is no values. */
static int each_header(const struct wheel *w, const char *file,
		       const char *key, int (*fn)(void *, char *), void *arg)
{
	char path[PATH_MAX * 2];
	char *buf, *line, *next;
	size_t len, klen = strlen(key);
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", w->dir, w->distinfo, file);
	ret = read_small_file(AT_FDCWD, path, 16u << 20, &buf, &len);
	if (ret)
		return ret == -ENOMEM ? ret : 0; /* wheel_open read it already */
	for (line = buf; line && *line && !ret; line = next) {
		char *v, *e;

		if ((next = strchr(line, '\n')))
			*next++ = '\0';
		if (*line == '\0' || *line == '\r')
			break; /* the blank line ending the headers */
		if (strncasecmp(line, key, klen) != 0 || line[klen] != ':')
			continue;
		for (v = line + klen + 1; *v == ' ' || *v == '\t'; v++)
			;
		for (e = v + strlen(v); e > v && (e[-1] == '\r' ||
		     e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		ret = fn(arg, v);
	}
	free(buf);
	return ret;
}

struct tagscan {
	const struct interp *in;
	int found, seen;
};

static int wheel_tag(void *arg, char *tag)
{
	struct tagscan *ts = arg;
	char *abi = strchr(tag, '-'), *plat = abi ? strchr(abi + 1, '-') : NULL;

	if (!plat)
		return 0;
	*abi++ = '\0';
	*plat++ = '\0';
	ts->seen = 1;
	ts->found = any_supported(ts->in, tag, abi, plat);
	return ts->found; /* stop at the first match, or -ENOMEM */
}

static int first_value(void *arg, char *v)
{
	char **out = arg;

	*out = xstrdup(v);
	return *out ? 1 : -ENOMEM;
}

static int check_one(spoke_ctx *ctx, const struct plan_wheel *pw,
		     const struct wheel *w, const struct interp *in,
		     const char *python)
{
	const char *base = path_basename(pw->path);
	size_t blen = strlen(base);
	struct tagscan ts = { in, 0, 0 };
	char *req = NULL;
	int ret;

	if (blen > 4 && strcmp(base + blen - 4, ".whl") == 0) {
		struct wheelname wn;

		if (wheelname_parse(base, &wn) == 0) {
			ts.seen = 1;
			ts.found = any_supported(in, wn.python, wn.abi,
						 wn.platform);
			wheelname_free(&wn);
		}
	} else {
		ret = each_header(w, "WHEEL", "Tag", wheel_tag, &ts);
		if (ret < 0)
			ts.found = ret;
	}
	if (ts.found < 0)
		return nomem(ctx);
	if (ts.seen && !ts.found)
		return ctx_fail(ctx, SPOKE_E_BADWHEEL, 0, pw->path, "%s is not "
				"a supported wheel on this platform (none of "
				"its tags is one the interpreter '%s' supports)",
				base, python);
	ret = each_header(w, "METADATA", "Requires-Python", first_value, &req);
	if (ret < 0)
		return nomem(ctx);
	ret = req ? compat_spec_match(req, in->version) : 1;
	if (ret == -EINVAL) {
		ctx_log(ctx, SPOKE_LOG_WARN, "package '%s' has an invalid "
			"Requires-Python '%s'; installing it anyway", w->name,
			req);
		ret = 1;
	} else if (ret == 0)
		ret = ctx_fail(ctx, SPOKE_E_BADWHEEL, 0, pw->path, "package "
			       "'%s' requires a different Python: %s not in "
			       "'%s'", w->name, in->version, req);
	free(req);
	return ret < 0 ? ret : 0;
}

int compat_check(spoke_ctx *ctx, const struct spoke_plan *p,
		 const struct wplan *wp, size_t n, const char *python)
{
	struct interp in;
	int err;

	if (!python) {
		ctx_log(ctx, SPOKE_LOG_WARN, "no interpreter is known for this "
			"environment: the wheels' tags and Requires-Python "
			"are not checked");
		return 0;
	}
	err = interp_load(ctx, python, &in);
	for (size_t i = 0; i < n && !err; i++)
		err = check_one(ctx, &p->wheels[i], &wp[i].w, &in, python);
	strmap_free(&in.tags);
	return err;
}
