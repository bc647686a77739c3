/* SPDX-License-Identifier: MIT */
/*
 * t_nomem - out of memory has one public code: every public run under an
 * injected allocation failure (alloc:N:ENOMEM, each N in turn) returns 0,
 * SPOKE_E_NOMEM or another SPOKE_E_* / -errno cause, never -ENOMEM, and the
 * context and the JSON report agree with the return value. Covers
 * spoke_copy_tree, spoke_install (an unpacked tree into a venv),
 * spoke_uninstall and spoke_plan_load_json.
 */
#include "spoke.h"
#include "base/fault.h"
#include "testlib.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

static const char *tmp;
static int nomem_seen;

/* Past the last allocation of a run every run succeeds: a loop stops after
 * this many successes in a row. */
#define ENOUGH 8

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");

	CHECKF(f && fputs(data, f) >= 0 && fclose(f) == 0, "write %s: %s",
	       path, strerror(errno));
}

static void mkdirs(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	CHECKF(system(cmd) == 0, "%s", cmd);
}

static void rmtree(const char *path)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	CHECKF(system(cmd) == 0, "%s", cmd);
}

/* An unpacked wheel "nm-1.0": three modules; RECORD rows without hashes
 * (trees are checked by size). */
static void make_wheel(const char *dir)
{
	static const char metadata[] =
		"Metadata-Version: 2.1\nName: nm\nVersion: 1.0\n\n";
	char p[PATH_MAX], rec[2048];
	size_t n = 0;

	snprintf(p, sizeof(p), "%s/nm", dir);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/nm-1.0.dist-info", dir);
	mkdirs(p);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/nm/m%d.py", dir, i);
		write_file(p, "x = 1\n");
		n += (size_t)snprintf(rec + n, sizeof(rec) - n,
				      "nm/m%d.py,,6\n", i);
	}
	snprintf(p, sizeof(p), "%s/nm-1.0.dist-info/METADATA", dir);
	write_file(p, metadata);
	n += (size_t)snprintf(rec + n, sizeof(rec) - n,
			      "nm-1.0.dist-info/METADATA,,%zu\n",
			      strlen(metadata));
	snprintf(p, sizeof(p), "%s/nm-1.0.dist-info/WHEEL", dir);
	write_file(p, "Wheel-Version: 1.0\nGenerator: t_nomem\n"
		      "Root-Is-Purelib: true\nTag: py3-none-any\n");
	snprintf(rec + n, sizeof(rec) - n, "nm-1.0.dist-info/WHEEL,,\n"
		 "nm-1.0.dist-info/RECORD,,\n");
	snprintf(p, sizeof(p), "%s/nm-1.0.dist-info/RECORD", dir);
	write_file(p, rec);
}

static void make_venv(const char *dir)
{
	char p[PATH_MAX];

	rmtree(dir);
	snprintf(p, sizeof(p), "%s/bin", dir);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/lib/python3.11/site-packages", dir);
	mkdirs(p);
	snprintf(p, sizeof(p), "%s/pyvenv.cfg", dir);
	write_file(p, "home = /usr/bin\nversion = 3.11.2\n");
}

/* The one rule, for a return value and whatever else the run left. */
static void check(const char *what, long n, int ret, spoke_ctx *ctx,
		  spoke_report *rep)
{
	CHECKF(ret != -ENOMEM, "%s, alloc %ld: returned -ENOMEM", what, n);
	CHECKF(n < 5000, "%s: still failing at alloc %ld: %s", what, n,
	       spoke_ctx_error_message(ctx));
	CHECKF(spoke_ctx_error_code(ctx) != -ENOMEM,
	       "%s, alloc %ld: error code -ENOMEM", what, n);
	if (ret == SPOKE_E_NOMEM)
		nomem_seen++;
	if (ret < 0)
		CHECKF(spoke_ctx_error_code(ctx) == ret, "%s, alloc %ld: "
		       "returned %d, context says %d", what, n, ret,
		       spoke_ctx_error_code(ctx));
	if (rep) {
		char *json;

		io_fault_arm(NULL, NULL, 0);
		json = spoke_report_json(rep);
		CHECKF(json, "%s, alloc %ld: no JSON", what, n);
		CHECKF(!strstr(json, "\"code\":-12"), "%s, alloc %ld: JSON "
		       "report says -ENOMEM: %s", what, n, json);
		free(json);
	}
}

static void arm(long n)
{
	char spec[64], err[128];

	snprintf(spec, sizeof(spec), "alloc:%ld:ENOMEM", n);
	CHECKF(io_fault_arm(spec, err, sizeof(err)) == 0, "%s", err);
}

int main(void)
{
	char src[512], dst[512], whl[512], venv[512];
	char json[1200];
	spoke_ctx *ctx;
	int ret;

	tmp = t_mktemp();
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(dst, sizeof(dst), "%s/dst", tmp);
	snprintf(whl, sizeof(whl), "%s/nm-1.0", tmp);
	snprintf(venv, sizeof(venv), "%s/venv", tmp);
	make_wheel(whl);
	make_wheel(src);
	CHECK(ctx = spoke_ctx_create());
	/* The first run of the process arms $SPOKE_FAULT (unset here). */
	CHECK_EQ(spoke_copy_tree(ctx, src, dst, NULL), 0);

	for (long n = 1, ok = 0; ok < ENOUGH; n++) {
		spoke_report *rep = NULL;

		rmtree(dst);
		arm(n);
		ret = spoke_copy_tree(ctx, src, dst, &rep);
		io_fault_arm(NULL, NULL, 0);
		check("copy-tree", n, ret, ctx, rep);
		ok = ret ? 0 : ok + 1;
		spoke_report_free(rep);
	}
	for (long n = 0, ok = 0; ok < ENOUGH; n++) {
		spoke_report *rep = NULL;
		spoke_plan *plan;

		make_venv(venv);
		CHECK(plan = spoke_plan_create());
		CHECK(spoke_plan_add_wheel(plan, whl) >= 0);
		CHECK_EQ(spoke_plan_set_venv(plan, venv), 0);
		if (n)
			arm(n);
		ret = spoke_install(ctx, plan, &rep);
		io_fault_arm(NULL, NULL, 0);
		/* n = 0: no fault, so the fixture is known to install. */
		CHECKF(n || ret == 0, "install without a fault: %s",
		       spoke_ctx_error_message(ctx));
		check("install", n, ret, ctx, rep);
		ok = ret ? 0 : ok + 1;
		spoke_report_free(rep);
		rep = NULL;
		if (ret == 0) {
			/* Uninstall it again under the same fault count. */
			spoke_plan_free(plan);
			CHECK(plan = spoke_plan_create());
			CHECK(spoke_plan_add_name(plan, "nm") >= 0);
			CHECK_EQ(spoke_plan_set_venv(plan, venv), 0);
			if (n)
				arm(n);
			ret = spoke_uninstall(ctx, plan, &rep);
			io_fault_arm(NULL, NULL, 0);
			check("uninstall", n, ret, ctx, rep);
			spoke_report_free(rep);
		}
		spoke_plan_free(plan);
	}
	snprintf(json, sizeof(json), "{\"wheels\": [{\"path\": \"%s\"}], "
		 "\"environment\": {\"venv\": \"%s\"}}", whl, venv);
	for (long n = 0, ok = 0; ok < ENOUGH; n++) {
		spoke_plan *plan = spoke_plan_create();

		CHECK(plan);
		if (n)
			arm(n);
		ret = spoke_plan_load_json(ctx, plan, json, strlen(json));
		io_fault_arm(NULL, NULL, 0);
		CHECKF(n || ret == 0, "plan without a fault: %s",
		       spoke_ctx_error_message(ctx));
		check("plan_load_json", n, ret, ctx, NULL);
		ok = ret ? 0 : ok + 1;
		spoke_plan_free(plan);
	}
	CHECKF(nomem_seen > 0, "no run returned SPOKE_E_NOMEM: the faults "
	       "never landed");
	printf("%d runs failed with SPOKE_E_NOMEM, none with -ENOMEM\n",
	       nomem_seen);
	spoke_ctx_free(ctx);
	return T_PASS;
}
