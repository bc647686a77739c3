/* SPDX-License-Identifier: MIT */
/*
 * report - what a run did: counters, link-mode switches, distributions. The
 * engine fills it (counters are summed from per-worker copies at the end, so
 * workers never share a counter cache line); the public getters and the JSON
 * form (engine/api_report.c) read it.
 */
#ifndef SPOKE_ENGINE_REPORT_H
#define SPOKE_ENGINE_REPORT_H

#include "spoke.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct report_fallback {
	const char *from, *to; /* static mode names */
	int err;               /* positive errno */
	char *path;
};

struct report_dist {
	char *name, *version;
	const char *action; /* static string */
	uint64_t files, bytes; /* the distribution's files, from its RECORD */
	/* The per-wheel result (spoke_report_wheel). */
	int index;            /* plan wheel index, -1 for a removal */
	char *wheel, *dist_info, *previous;
	enum spoke_action act, planned;
	int error;
};

struct spoke_report {
	uint64_t count[SPOKE_COUNT__MAX];
	pthread_mutex_t lock; /* fallbacks are added from workers */
	struct report_fallback *fallbacks;
	size_t nfallbacks;
	struct report_dist *dists;
	size_t ndists;
	int status;           /* the run's return value */
	char *error;          /* its message, or NULL */
	char *error_path;
	int error_errno;
	int error_wheel;      /* spoke_ctx_error_wheel() at the end */
	int has_phases;       /* an install's phase split (JSON "phases") */
	double phase_s[4];    /* enum report_phase, seconds */
};

/* Where an install's time went (CLOCK_MONOTONIC): lookup = finding (and
 * unpacking) the cache entries, plan = validation and layout, link = the
 * linker's runs, finalize = removals, generated files, RECORDs, commit. */
enum report_phase { REPORT_LOOKUP, REPORT_PLAN, REPORT_LINK, REPORT_FINALIZE };
/* Keep the split (ns per phase) and log it at info level (-v). */
void report_set_phases(struct spoke_report *r, spoke_ctx *ctx,
		       const long long ns[4]);

struct spoke_report *report_create(void);
int report_add_fallback(struct spoke_report *r, const char *from,
			const char *to, int err, const char *path);
int report_add_dist(struct spoke_report *r, const char *name,
		    const char *version, const char *action);
/* The per-wheel detail of the distribution added last (strings may be
 * NULL for ""). */
int report_dist_detail(struct spoke_report *r, int index, const char *wheel,
		       const char *dist_info, const char *previous,
		       enum spoke_action act, enum spoke_action planned,
		       int error);
/* Counters of the distribution added last. */
void report_dist_counts(struct spoke_report *r, uint64_t files, uint64_t bytes);
/* Copy the context's error into the report (for JSON). */
void report_set_status(struct spoke_report *r, int status, const spoke_ctx *ctx);

#endif
