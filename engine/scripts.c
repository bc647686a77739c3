/* SPDX-License-Identifier: MIT */
/*
 * scripts - see scripts.h. The launcher text and shebang rule were read
 * from pip 23.0.1's wheel installer and its vendored distlib 0.3.6
 * (ScriptMaker._build_shebang, SCRIPT_TEMPLATE) and are reproduced from
 * their observable output, so a spoke install and a pip install of the same
 * wheel into same-length paths give identical bytes.
 */
#include "engine/scripts.h"
#include "base/alloc.h"
#include "base/name.h"
#include "io/linkops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHEBANG_MAX 127 /* Linux's historical BINPRM_BUF_SIZE, as distlib */

void scripts_free_eps(struct wheel_ep *eps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(eps[i].name);
		free(eps[i].module);
		free(eps[i].attr);
	}
	free(eps);
}

static int is_word(unsigned char c)
{
	/* \w of Python's re on str: ASCII alnum, '_' and (approximately)
	 * every non-ASCII letter. */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

/* word(.word)* over [s, s+n) */
static int dotted(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t start = i;

		while (i < n && is_word((unsigned char)s[i]))
			i++;
		if (i == start)
			return 0;
		if (i < n && s[i] != '.')
			return 0;
		if (i < n && ++i == n)
			return 0; /* trailing '.' */
	}
	return n > 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*n)--;
	}
	while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
		      (*s)[*n - 1] == '\r'))
		(*n)--;
}

static int add_ep(struct wheel_ep **eps, size_t *n, const char *name,
		  size_t nl, const char *mod, size_t ml, const char *attr,
		  size_t al, int gui)
{
	struct wheel_ep *e = NULL, *grown;
	char *nm = xstrndup(name, nl), *m = xstrndup(mod, ml);
	char *a = xstrndup(attr, al);

	if (!nm || !m || !a)
		goto nomem;
	for (size_t i = 0; i < *n; i++)
		if ((*eps)[i].gui == gui && strcmp((*eps)[i].name, nm) == 0)
			e = &(*eps)[i];
	if (e) {
		free(nm);
		free(e->module);
		free(e->attr);
		e->module = m;
		e->attr = a;
		return 0;
	}
	grown = xrealloc(*eps, (*n + 1) * sizeof(**eps));
	if (!grown)
		goto nomem;
	*eps = grown;
	grown[*n] = (struct wheel_ep){ nm, m, a, gui };
	(*n)++;
	return 0;
nomem:
	free(nm);
	free(m);
	free(a);
	return -ENOMEM;
}

/* "module:attr [extras]" -> module, attr (spaces allowed around ':', as
 * the entry points spec's pattern allows). */
static int parse_value(const char *v, size_t n, const char **mod, size_t *ml,
		       const char **attr, size_t *al)
{
	const char *colon, *br = memchr(v, '[', n);

	if (br) {
		if (v[n - 1] != ']')
			return -1;
		n = (size_t)(br - v);
		trim(&v, &n);
	}
	colon = memchr(v, ':', n);
	if (!colon)
		return -2;
	*mod = v;
	*ml = (size_t)(colon - v);
	*attr = colon + 1;
	*al = n - *ml - 1;
	trim(mod, ml);
	trim(attr, al);
	return dotted(*mod, *ml) && dotted(*attr, *al) ? 0 : -1;
}

/* At most 80 bytes of a line, escaped (base/name.h) for a message. */
static const char *shown(const char *line, size_t ll, char *out, size_t n)
{
	char cut[81];

	if (ll > 80)
		ll = 80;
	memcpy(cut, line, ll);
	cut[ll] = '\0';
	return name_escape(out, n, cut);
}

int scripts_parse_entry_points(const char *buf, size_t len,
			       struct wheel_ep **eps, size_t *n, char *err,
			       size_t errlen)
{
	const char *p = buf, *end = buf + len;
	int section = -1; /* 0 console, 1 gui, -1 other */
	unsigned lineno = 0;
	char esc[81 * 4];

	*eps = NULL;
	*n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line = p, *eq, *name, *val, *mod, *attr;
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t nml, vl, ml, al;
		int r;

		p = nl ? nl + 1 : end;
		lineno++;
		trim(&line, &ll);
		if (!ll || line[0] == '#' || line[0] == ';')
			continue;
		if (line[0] == '[' && line[ll - 1] == ']') {
			section = ll == 17 && !memcmp(line, "[console_scripts]",
						      17) ? 0 :
				  ll == 13 && !memcmp(line, "[gui_scripts]", 13) ?
				  1 : -1;
			continue;
		}
		if (section < 0)
			continue;
		eq = memchr(line, '=', ll);
		if (!eq) {
			snprintf(err, errlen, "entry_points.txt line %u: "
				 "'%s' is not 'name = module:function'",
				 lineno, shown(line, ll, esc, sizeof(esc)));
			goto bad;
		}
		name = line;
		nml = (size_t)(eq - line);
		val = eq + 1;
		vl = ll - nml - 1;
		trim(&name, &nml);
		trim(&val, &vl);
		r = vl ? parse_value(val, vl, &mod, &ml, &attr, &al) : -1;
		if (r || !nml) {
			snprintf(err, errlen, "entry_points.txt line %u: "
				 "invalid script entry point '%s'%s", lineno,
				 shown(line, ll, esc, sizeof(esc)), r == -2 ?
				 " (a ':function' suffix is required)" : "");
			goto bad;
		}
		if (add_ep(eps, n, name, nml, mod, ml, attr, al, section)) {
			scripts_free_eps(*eps, *n);
			*eps = NULL;
			*n = 0;
			return -ENOMEM;
		}
	}
	return 0;
bad:
	scripts_free_eps(*eps, *n);
	*eps = NULL;
	*n = 0;
	return SPOKE_E_BADWHEEL;
}

static int match_versioned(const char *name, const char *base, int dash)
{
	size_t bl = strlen(base);
	const char *s = name + bl;

	if (strncmp(name, base, bl) != 0)
		return 0;
	if (!*s)
		return 1;
	/* pip: r"pip(\d+(\.\d+)?)?$", r"easy_install(-\d+\.\d+)?$" */
	if (dash && *s++ != '-')
		return 0;
	if (!(*s >= '0' && *s <= '9'))
		return 0;
	while (*s >= '0' && *s <= '9')
		s++;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	} else if (dash) {
		return 0;
	}
	return *s == '\0';
}

int scripts_needs_pyver(const struct wheel_ep *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!in[i].gui && (strcmp(in[i].name, "pip") == 0 ||
				   strcmp(in[i].name, "easy_install") == 0))
			return 1;
	return 0;
}

static const struct wheel_ep *find_console(const struct wheel_ep *in,
					   size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!in[i].gui && strcmp(in[i].name, name) == 0)
			return &in[i];
	return NULL;
}

static int push(struct wheel_ep **out, size_t *nout, const char *name,
		const struct wheel_ep *src, int gui)
{
	/* A name already present is replaced in place: on POSIX a gui
	 * launcher is the same file as a console one, written later. */
	for (size_t i = 0; i < *nout; i++)
		if (strcmp((*out)[i].name, name) == 0) {
			char *m = xstrdup(src->module), *a = xstrdup(src->attr);

			if (!m || !a) {
				free(m);
				free(a);
				return -ENOMEM;
			}
			free((*out)[i].module);
			free((*out)[i].attr);
			(*out)[i].module = m;
			(*out)[i].attr = a;
			(*out)[i].gui = gui;
			return 0;
		}
	return add_ep(out, nout, name, strlen(name), src->module,
		      strlen(src->module), src->attr, strlen(src->attr), gui);
}

int scripts_expand(const struct wheel_ep *in, size_t n, const char *pyver,
		   struct wheel_ep **out, size_t *nout)
{
	const struct wheel_ep *pip = find_console(in, n, "pip");
	const struct wheel_ep *ei = find_console(in, n, "easy_install");
	char name[64], major[16];
	int err = 0;

	*out = NULL;
	*nout = 0;
	if ((pip || ei) && !pyver)
		return -EINVAL;
	if (pyver) {
		snprintf(major, sizeof(major), "%s", pyver);
		major[strcspn(major, ".")] = '\0';
	}
	if (pip) {
		snprintf(name, sizeof(name), "pip%s", major);
		err = push(out, nout, "pip", pip, 0);
		if (!err)
			err = push(out, nout, name, pip, 0);
		snprintf(name, sizeof(name), "pip%s", pyver);
		if (!err)
			err = push(out, nout, name, pip, 0);
	}
	if (ei && !err) {
		snprintf(name, sizeof(name), "easy_install-%s", pyver);
		err = push(out, nout, "easy_install", ei, 0);
		if (!err)
			err = push(out, nout, name, ei, 0);
	}
	for (size_t i = 0; i < n && !err; i++) {
		if (in[i].gui)
			continue;
		if (pip && match_versioned(in[i].name, "pip", 0))
			continue;
		if (ei && match_versioned(in[i].name, "easy_install", 1))
			continue;
		err = push(out, nout, in[i].name, &in[i], 0);
	}
	for (size_t i = 0; i < n && !err; i++)
		if (in[i].gui)
			err = push(out, nout, in[i].name, &in[i], 1);
	if (err) {
		scripts_free_eps(*out, *nout);
		*out = NULL;
		*nout = 0;
	}
	return err;
}

static int ends_with_ci(const char *s, size_t n, const char *suffix)
{
	size_t sl = strlen(suffix);

	return n >= sl && strncasecmp(s + n - sl, suffix, sl) == 0;
}

int scripts_is_ep_wrapper(const char *base, const struct wheel_ep *eps,
			  size_t n)
{
	size_t bl = strlen(base), ml = bl;

	if (ends_with_ci(base, bl, ".exe") || ends_with_ci(base, bl, ".pya"))
		ml = bl - 4;
	else if (ends_with_ci(base, bl, "-script.py"))
		ml = bl - 10;
	for (size_t i = 0; i < n; i++)
		if (strlen(eps[i].name) == ml &&
		    memcmp(eps[i].name, base, ml) == 0)
			return 1;
	return 0;
}

int scripts_valid_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strlen(name) <= 255 &&
	       !name_has_control(name);
}

int scripts_shebang(const char *python, char **out, size_t *len)
{
	int space = strchr(python, ' ') != NULL;
	size_t pl = strlen(python) + (space ? 2 : 0);
	char *s;
	int n;

	/* distlib quotes a path with spaces, then measures the quoted
	 * path: "#!" + path + "\n" must fit in 127 bytes. */
	s = xmalloc(pl + 64);
	if (!s)
		return -ENOMEM;
	if (!space && pl + 3 <= SHEBANG_MAX)
		n = sprintf(s, "#!%s\n", python);
	else
		n = sprintf(s, "#!/bin/sh\n'''exec' %s%s%s \"$0\" \"$@\"\n"
			    "' '''\n", space ? "\"" : "", python,
			    space ? "\"" : "");
	*out = s;
	*len = (size_t)n;
	return 0;
}

static const char launcher_fmt[] =
	"# -*- coding: utf-8 -*-\n"
	"import re\n"
	"import sys\n"
	"from %s import %.*s\n"
	"if __name__ == '__main__':\n"
	"    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', "
	"sys.argv[0])\n"
	"    sys.exit(%s())\n";

int scripts_launcher(const char *python, const struct wheel_ep *ep,
		     char **out, size_t *len)
{
	size_t sl, cap;
	char *sb, *s;
	int err = scripts_shebang(python, &sb, &sl), n;

	if (err)
		return err;
	cap = sl + sizeof(launcher_fmt) + strlen(ep->module) +
	      2 * strlen(ep->attr) + 1;
	s = xmalloc(cap);
	if (!s) {
		free(sb);
		return -ENOMEM;
	}
	memcpy(s, sb, sl);
	free(sb);
	/* "from mod import a" then "a.b()": distlib imports the first
	 * component of a dotted attribute and calls the whole of it. */
	n = snprintf(s + sl, cap - sl, launcher_fmt, ep->module,
		     (int)strcspn(ep->attr, "."), ep->attr, ep->attr);
	*out = s;
	*len = sl + (size_t)n;
	return 0;
}

int scripts_is_python_shebang(const char *head, size_t n)
{
	return n >= 8 && memcmp(head, "#!python", 8) == 0;
}

int scripts_fix(const char *python, const char *src, size_t len, char **out,
		size_t *outlen)
{
	const char *nl = memchr(src, '\n', len);
	size_t rest = nl ? len - (size_t)(nl + 1 - src) : 0, sl;
	char *sb, *s;
	int err = scripts_shebang(python, &sb, &sl);

	if (err)
		return err;
	s = xmalloc(sl + rest + 1);
	if (!s) {
		free(sb);
		return -ENOMEM;
	}
	memcpy(s, sb, sl);
	if (rest)
		memcpy(s + sl, nl + 1, rest);
	free(sb);
	*out = s;
	*outlen = sl + rest;
	return 0;
}

mode_t scripts_launcher_mode(void)
{
	return (0666 & ~io_umask()) | 0555;
}

mode_t scripts_fixed_mode(mode_t src_mode)
{
	if (src_mode & 0111)
		return (0777 & ~io_umask()) | 0111;
	return 0666 & ~io_umask();
}

mode_t scripts_generated_mode(void)
{
	return 0666 & ~io_umask();
}
