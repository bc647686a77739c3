/* SPDX-License-Identifier: MIT */
/*
 * compat - whether the target interpreter can use a wheel, as pip decides
 * it before installing: one of the wheel's tags (file name, or WHEEL's Tag
 * lines for an unpacked tree) must be among the interpreter's supported
 * tags, and METADATA's Requires-Python must admit the interpreter's
 * version. The tags come from the interpreter itself (a small script in
 * compat.c computes them as packaging.tags.sys_tags() does) and are cached
 * in the wheel cache under tags-v1/, keyed by the interpreter's real path
 * and mtime. Off by default in the library (spoke_plan_set_compat_check);
 * the CLI turns it on. compat_spec.c has the Requires-Python matcher.
 */
#ifndef SPOKE_ENGINE_COMPAT_H
#define SPOKE_ENGINE_COMPAT_H

#include "engine/plan.h"

/* Check wheels wp[0..n) of plan p against the interpreter python (NULL: no
 * interpreter known, which is logged and passes). SPOKE_E_BADWHEEL
 * (recorded, with pip's kind of message) for the first wheel that does not
 * fit; SPOKE_E_USAGE when the interpreter cannot be run. */
int compat_check(spoke_ctx *ctx, const struct spoke_plan *p,
		 const struct wplan *wp, size_t n, const char *python);

/* Whether version (e.g. "3.11.2") satisfies the PEP 440 specifier set spec
 * (">=3.8, !=3.9.*"): 1 yes, 0 no, -EINVAL for a specifier it cannot
 * parse (pip then warns and installs). */
int compat_spec_match(const char *spec, const char *version);

#endif
