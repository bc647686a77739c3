/* SPDX-License-Identifier: MIT */
/*
 * layout_src - the manifests plan_layout() walks (plan.h): a cache entry's
 * kept manifest (cache/manifest.h: checked against the entry, rebuilt by a
 * walk when missing, damaged or stale), or for an unpacked tree given on
 * the command line one built by a walk. Each wheel's is read inside its
 * layout task (layout_run.c), so a large wheel's check (one fstatat per
 * directory of the entry) runs beside the small ones'.
 */
#include "engine/layout.h"
#include "base/alloc.h"
#include "base/errmsg.h"

#include <stdlib.h>

int plan_wheel_source(struct wplan *wp, char *err, size_t errlen)
{
	struct manifest *m;
	int ret;

	if (wp->src)
		return 0;
	if (!(m = xcalloc(1, sizeof(*m))))
		return errmsg_fail(SPOKE_E_NOMEM, err, errlen, "out of memory");
	ret = wp->cached ? manifest_for_entry(wp->w.dir, m, NULL, err, errlen) :
			   manifest_build_at(wp->w.dir, m, err, errlen);
	if (ret) {
		free(m);
		return ret;
	}
	wp->src = m;
	return 0;
}
