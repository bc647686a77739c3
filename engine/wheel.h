/* SPDX-License-Identifier: MIT */
/*
 * wheel - the metadata side of a wheel (binary distribution format, PEP 427
 * and its living spec) and of an installed distribution: the one *.dist-info
 * directory, WHEEL (Wheel-Version, Root-Is-Purelib), METADATA (Name,
 * Version), RECORD and entry_points.txt of an unpacked wheel tree; and, for
 * an environment, finding the installed *.dist-info of a distribution by its
 * PEP 503 normalised name and reading its RECORD. Nothing here writes.
 */
#ifndef SPOKE_ENGINE_WHEEL_H
#define SPOKE_ENGINE_WHEEL_H

#include "cache/record.h"
#include "engine/ctx.h"

#include <stddef.h>

/* One console_scripts or gui_scripts entry point: name = module:attr. */
struct wheel_ep {
	char *name, *module, *attr;
	int gui;
};

struct wheel {
	char *dir;      /* the unpacked tree, absolute */
	char *label;    /* the path the caller gave, for messages */
	char *distinfo; /* "pip-23.0.1.dist-info" */
	char *data;     /* "pip-23.0.1.data", or NULL */
	char *name, *version, *norm; /* METADATA Name, Version; PEP 503 */
	int root_purelib;            /* Root-Is-Purelib: true */
	struct record rec;
	struct record_index idx;
	struct wheel_ep *eps;        /* console first, then gui, file order */
	size_t neps;
	/* RECORD's rows and the sum of their sizes, kept for the report
	 * when rec and idx are freed after the layout (plan_layout). */
	size_t rec_rows;
	uint64_t rec_bytes;
};

/* Read and check the metadata of the unpacked wheel at dir (absolute);
 * label names it in messages. SPOKE_E_BADWHEEL (recorded) for a missing or
 * malformed dist-info, WHEEL, METADATA, RECORD or entry_points.txt,
 * SPOKE_E_UNSAFE_PATH for RECORD paths that are absolute or hold "..". */
int wheel_open(spoke_ctx *ctx, const char *dir, const char *label,
	       struct wheel *w);
void wheel_close(struct wheel *w);

/* The two steps of wheel_open() that read a buffer, on their own for the
 * fuzz target (tests/fuzz/fuzz_metadata.c). w->label (and, for METADATA,
 * w->distinfo) must be set. WHEEL: Wheel-Version 1.x and Root-Is-Purelib
 * into w->root_purelib. METADATA: Name and Version into w->name,
 * w->version, w->norm, and the dist-info name must start with the name.
 * SPOKE_E_BADWHEEL (recorded) or SPOKE_E_NOMEM. */
int wheel_parse_wheel_file(spoke_ctx *ctx, struct wheel *w, const char *buf,
			   size_t len);
int wheel_parse_metadata(spoke_ctx *ctx, struct wheel *w, const char *buf,
			 size_t len);

/* An installed distribution: site/distinfo/. */
struct installed {
	char *site, *distinfo, *name, *version;
	struct record rec; /* after installed_load_record() */
};

/* Every *.dist-info in site whose distribution normalises to norm (a
 * missing site is empty). *out is an array of *n (free with
 * installed_free_all). */
int installed_find(spoke_ctx *ctx, const char *site, const char *norm,
		   struct installed **out, size_t *n);
/* Parse its RECORD: SPOKE_E_BADWHEEL when missing (it cannot be
 * uninstalled safely) or malformed. */
int installed_load_record(spoke_ctx *ctx, struct installed *d);
void installed_free_all(struct installed *d, size_t n);

/* PEP 503: lowercase, runs of "-", "_", "." become one "-". Heap. */
char *name_normalize(const char *name);
/* The whole file rel below dirfd (not following a final symlink), at most
 * max bytes, NUL-terminated. 0 or -errno (-EFBIG when larger). */
int read_small_file(int dirfd, const char *rel, size_t max, char **buf,
		    size_t *len);

#endif
