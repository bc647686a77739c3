/* SPDX-License-Identifier: MIT */
/*
 * scheme - where an installation's files go: the five install-scheme
 * directories (purelib, platlib, scripts, headers, data) of a virtual
 * environment, of a --target directory or given one by one by an embedder,
 * plus the interpreter that generated scripts name and its X.Y version.
 * Every path here (base/path.h has the helpers) is absolute and normalised ("/a/b", no ".", "..", "//" or trailing "/"),
 * so "is this inside the environment" and "what is this relative to
 * site-packages" are string operations that never follow a link.
 */
#ifndef SPOKE_ENGINE_SCHEME_H
#define SPOKE_ENGINE_SCHEME_H

#include "engine/ctx.h"
#include "base/path.h"

#include <stddef.h>

enum scheme_kind { SCHEME_VENV = 0, SCHEME_TARGET, SCHEME_EXPLICIT };

struct scheme_opts {
	const char *venv, *target, *python;   /* NULL: not given */
	const char *prefix, *root;            /* pip's --prefix, --root */
	const char *path[SPOKE_SCHEME__MAX];  /* explicit overrides */
	const char *shebang;                  /* scripts' interpreter */
};

struct scheme {
	enum scheme_kind kind;
	char *env;    /* the venv or target directory; NULL for explicit */
	/* NULL: not configured. headers is the base, without the dist name. */
	char *path[SPOKE_SCHEME__MAX];
	char *python; /* the interpreter (absolute), or NULL */
	char *shebang; /* what scripts name instead of python, or NULL */
	char pyver[16]; /* "3.11", or "" until scheme_pyver() finds it */
};

/* Fill s from o. A venv comes from o->venv, else (nothing else given)
 * $VIRTUAL_ENV. X.Y comes from pyvenv.cfg or from running the interpreter,
 * never from a guess. Errors are recorded in ctx: SPOKE_E_USAGE for a bad
 * combination or a directory that is not a venv, -errno otherwise. */
int scheme_resolve(spoke_ctx *ctx, const struct scheme_opts *o,
		   struct scheme *s);
void scheme_free(struct scheme *s);
/* The prefix and root half of scheme_resolve (engine/scheme_prefix.c):
 * pip's posix_prefix layout of o->prefix, learned from the interpreter,
 * or the venv's or target's layout, each path under o->root if given. */
int scheme_resolve_prefix(spoke_ctx *ctx, const struct scheme_opts *o,
			  struct scheme *s);
/* A python with a '/' made absolute, else looked up in $PATH; heap, or
 * NULL when not found (or out of memory). */
char *scheme_find_python(const char *python);

/* The directory for key, or SPOKE_E_USAGE (recorded, naming `why`) when
 * the scheme has none. */
int scheme_dir(spoke_ctx *ctx, const struct scheme *s,
	       enum spoke_scheme_key key, const char *why, const char **out);
/* The interpreter for shebangs (shebang, else python), or SPOKE_E_USAGE
 * naming `why`. */
int scheme_python(spoke_ctx *ctx, const struct scheme *s, const char *why,
		  const char **out);
/* "X.Y" of the interpreter: from the scheme, else by running it. */
int scheme_pyver(spoke_ctx *ctx, struct scheme *s, const char *why,
		 const char **out);
const char *scheme_key_name(enum spoke_scheme_key key);

/* The longest configured root (a scheme directory or the env) that holds
 * abs, or NULL: "inside the environment" for uninstall checks. */
const char *scheme_root_of(const struct scheme *s, const char *abs);
/* abs is a scheme root or an ancestor of one inside the environment:
 * directories an uninstall must never remove even when empty. */
int scheme_is_boundary(const struct scheme *s, const char *abs);
/* Replacing or removing abs would break the environment: the interpreter
 * links and activation scripts in the scripts directory, pyvenv.cfg. */
int scheme_protected(const struct scheme *s, const char *abs);
/* abs lies in the environment (under the env or a scheme root) and a
 * component below that root begins with ".spoke": the names spoke keeps
 * for itself (lock, journal, backups, temporary names). No wheel may write
 * such a path and no RECORD may make spoke remove one. */
int scheme_reserved(const struct scheme *s, const char *abs);

#endif
