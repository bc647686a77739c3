/* SPDX-License-Identifier: MIT */
/*
 * t_sync - what a resolver or lock tool (pdm, uv, ...) needs from one
 * spoke_install(): INSTALLER named by the caller, REQUESTED per wheel,
 * removals in the same transaction as the installs (an upgrade-and-prune
 * sync), and per-wheel results: plan index, wheel, dist-info, previous
 * version, action (installed, upgraded, downgraded, reinstalled,
 * unchanged, removed), and a failure carried by the entry of the wheel it
 * belongs to, also for a wheel that never opened. The same through a JSON
 * plan, and the PEP 440 order behind "downgraded".
 *
 * Environments are minimal venvs (pyvenv.cfg, bin, site-packages); wheels
 * are small generated trees. No interpreter is run.
 */
#include "spoke.h"
#include "engine/pep440.h"
#include "tests/testlib.h"

#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *tmp;
static char venv[512], site[1024];

static void write_file(const char *path, const char *data)
{
	FILE *f = fopen(path, "wb");

	CHECKF(f && fputs(data, f) >= 0 && fclose(f) == 0, "write %s: %s",
	       path, strerror(errno));
}

static void mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	CHECKF(mkdir(buf, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", buf,
	       strerror(errno));
}

static int exists(const char *fmt, const char *a, const char *b)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), fmt, a, b);
	return access(p, F_OK) == 0;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* NAME-VERSION as an unpacked wheel tree with one module; RECORD rows
 * without hashes (trees are checked by size). Returns its path. */
static const char *tree(const char *name, const char *version)
{
	static char out[8][PATH_MAX];
	static int next;
	char *o = out[next++ % 8], p[PATH_MAX], mod[256], meta[256], rec[2048];

	snprintf(o, PATH_MAX, "%s/trees/%s-%s", tmp, name, version);
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info", o, name, version);
	mkdir_p(p);
	snprintf(mod, sizeof(mod), "V = '%s'\n", version);
	snprintf(p, sizeof(p), "%s/%s.py", o, name);
	write_file(p, mod);
	snprintf(meta, sizeof(meta), "Metadata-Version: 2.1\nName: %s\n"
		 "Version: %s\n\n", name, version);
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info/METADATA", o, name, version);
	write_file(p, meta);
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info/WHEEL", o, name, version);
	write_file(p, "Wheel-Version: 1.0\nGenerator: t_sync\n"
		   "Root-Is-Purelib: true\nTag: py3-none-any\n");
	snprintf(rec, sizeof(rec), "%s.py,,%zu\n%s-%s.dist-info/METADATA,,%zu\n"
		 "%s-%s.dist-info/WHEEL,,\n%s-%s.dist-info/RECORD,,\n", name,
		 strlen(mod), name, version, strlen(meta), name, version, name,
		 version);
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info/RECORD", o, name, version);
	write_file(p, rec);
	return o;
}

static spoke_plan *new_plan(void)
{
	spoke_plan *p = spoke_plan_create();

	CHECK(p && spoke_plan_set_venv(p, venv) == 0);
	return p;
}

static void result(spoke_report *r, size_t i, struct spoke_wheel_result *w)
{
	memset(w, 0, sizeof(*w));
	w->size = sizeof(*w);
	CHECK_EQ(spoke_report_wheel(r, i, w), 0);
	CHECK(w->wheel && w->dist_info && w->name && w->version &&
	      w->previous_version);
}

static void expect(spoke_report *r, size_t i, int index, const char *name,
		   const char *prev, enum spoke_action act)
{
	struct spoke_wheel_result w;

	result(r, i, &w);
	CHECKF(w.index == index && !strcmp(w.name, name) &&
	       !strcmp(w.previous_version, prev) && w.action == act &&
	       w.planned == act && w.error == 0, "entry %zu: index %d name "
	       "%s previous '%s' action %s planned %s error %d; want %d %s "
	       "'%s' %s", i, w.index, w.name, w.previous_version,
	       spoke_action_name(w.action), spoke_action_name(w.planned),
	       w.error, index, name, prev, spoke_action_name(act));
	CHECKF(act == SPOKE_ACTION_REMOVED ? access(w.dist_info, F_OK) != 0 :
	       access(w.dist_info, F_OK) == 0, "entry %zu: dist-info '%s'", i,
	       w.dist_info);
}

static void test_pep440(void)
{
	static const char *const lt[][2] = {
		{ "1.0", "1.1" }, { "1.9", "1.10" }, { "1.0.dev1", "1.0a1" },
		{ "1.0a1", "1.0b1" }, { "1.0b2", "1.0rc1" }, { "1.0rc1", "1.0" },
		{ "1.0", "1.0.post1" }, { "1.0.post1.dev1", "1.0.post1" },
		{ "1.0", "1!0.1" }, { "1.0", "1.0+local" }, { "2.0", "10.0" },
		{ "1.0c1", "1.0" }, { "1.0-1", "1.0.post2" },
	};

	for (size_t i = 0; i < sizeof(lt) / sizeof(*lt); i++)
		CHECKF(pep440_cmp(lt[i][0], lt[i][1]) < 0 &&
		       pep440_cmp(lt[i][1], lt[i][0]) > 0, "%s < %s",
		       lt[i][0], lt[i][1]);
	CHECK(pep440_cmp("1.0", "1.0.0") == 0);
	CHECK(pep440_cmp("1.0RC1", "1.0rc1") == 0);
	CHECK(pep440_cmp("v1.0", "1.0") == 0);
}

int main(void)
{
	struct spoke_wheel_result w;
	spoke_ctx *ctx = spoke_ctx_create();
	spoke_report *r = NULL;
	spoke_plan *p;
	char cache[PATH_MAX], doc[3 * PATH_MAX], *json, *s;
	int ia, isix, ret;

	tmp = t_mktemp();
	test_pep440();
	CHECK(ctx);
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	CHECK(spoke_ctx_set_cache_dir(ctx, cache) == 0);
	snprintf(venv, sizeof(venv), "%s/venv/bin", tmp);
	mkdir_p(venv);
	snprintf(venv, sizeof(venv), "%s/venv", tmp);
	snprintf(site, sizeof(site), "%s/lib/python3.11/site-packages", venv);
	mkdir_p(site);
	write_file(strcat(strcpy(cache, venv), "/pyvenv.cfg"),
		   "home = /usr/bin\nversion = 3.11.2\n");

	/* Setters refuse what they cannot store. */
	p = new_plan();
	CHECK_EQ(spoke_plan_set_installer(p, "two words"), SPOKE_E_USAGE);
	CHECK_EQ(spoke_plan_set_installer(p, ""), SPOKE_E_USAGE);
	CHECK_EQ(spoke_plan_set_installer(p, "pdm\n"), SPOKE_E_USAGE);
	CHECK_EQ(spoke_plan_set_wheel_requested(p, 0, 1), SPOKE_E_USAGE);
	CHECK_EQ(spoke_plan_add_cache_key(p, "abc"), SPOKE_E_USAGE);
	CHECK_EQ(spoke_plan_add_wheel_sha256(p, "x.whl", "12"), SPOKE_E_USAGE);
	CHECK_EQ(spoke_plan_add_remove(p, ""), SPOKE_E_USAGE);
	spoke_plan_free(p);

	/* 1. a fresh sync: INSTALLER from the caller, REQUESTED on a only. */
	p = new_plan();
	CHECK(spoke_plan_set_installer(p, "pdm") == 0);
	ia = spoke_plan_add_wheel(p, tree("a", "1.0"));
	isix = spoke_plan_add_wheel(p, tree("six", "2.0"));
	CHECK(spoke_plan_add_wheel(p, tree("c", "1.0")) == 2);
	CHECK(ia == 0 && isix == 1);
	CHECK(spoke_plan_set_wheel_requested(p, ia, 1) == 0);
	ret = spoke_install(ctx, p, &r);
	CHECKF(ret == 0, "install: %s", spoke_ctx_error_message(ctx));
	CHECK_EQ(spoke_report_wheel_count(r), 3);
	expect(r, 0, 0, "a", "", SPOKE_ACTION_INSTALLED);
	expect(r, 1, 1, "six", "", SPOKE_ACTION_INSTALLED);
	expect(r, 2, 2, "c", "", SPOKE_ACTION_INSTALLED);
	result(r, 1, &w);
	CHECK(!strcmp(w.wheel, tree("six", "2.0")));
	CHECK(strstr(w.dist_info, "/site-packages/six-2.0.dist-info"));
	CHECK((s = slurp(strcat(strcpy(cache, w.dist_info), "/INSTALLER"))) &&
	      !strcmp(s, "pdm\n"));
	CHECK(exists("%s/%s-1.0.dist-info/REQUESTED", site, "a"));
	CHECK(!exists("%s/%s-2.0.dist-info/REQUESTED", site, "six"));
	CHECK(!exists("%s/%s-1.0.dist-info/REQUESTED", site, "c"));
	spoke_report_free(r);
	spoke_plan_free(p);

	/* 2. downgrade six, keep a, add b, prune c: one transaction. */
	p = new_plan();
	spoke_plan_add_wheel(p, tree("six", "1.0"));
	spoke_plan_add_wheel(p, tree("a", "1.0"));
	spoke_plan_add_wheel(p, tree("b", "1.0"));
	CHECK(spoke_plan_add_remove(p, "C") == 0);
	ret = spoke_install(ctx, p, &r);
	CHECKF(ret == 0, "sync: %s", spoke_ctx_error_message(ctx));
	CHECK_EQ(spoke_report_wheel_count(r), 4);
	expect(r, 0, 0, "six", "2.0", SPOKE_ACTION_DOWNGRADED);
	expect(r, 1, 1, "a", "1.0", SPOKE_ACTION_UNCHANGED);
	expect(r, 2, 2, "b", "", SPOKE_ACTION_INSTALLED);
	expect(r, 3, -1, "c", "1.0", SPOKE_ACTION_REMOVED);
	CHECK(!exists("%s/%s.py", site, "c"));
	CHECK(exists("%s/%s.py", site, "b"));
	CHECK(!exists("%s/%s-2.0.dist-info", site, "six"));
	CHECK(exists("%s/%s-1.0.dist-info/INSTALLER", site, "six"));
	CHECK((json = spoke_report_json(r)));
	CHECK(strstr(json, "\"result\":\"downgraded\""));
	CHECK(strstr(json, "\"result\":\"removed\""));
	CHECK(strstr(json, "\"previous_version\":\"2.0\""));
	spoke_free(json);
	/* A host built against a shorter struct; one that is too short. */
	memset(&w, 0xff, sizeof(w));
	w.size = offsetof(struct spoke_wheel_result, error) + sizeof(int);
	CHECK_EQ(spoke_report_wheel(r, 0, &w), 0);
	CHECK(w.action == SPOKE_ACTION_DOWNGRADED && w.index == 0);
	w.size = offsetof(struct spoke_wheel_result, planned);
	CHECK_EQ(spoke_report_wheel(r, 0, &w), SPOKE_E_USAGE);
	w.size = sizeof(w);
	CHECK_EQ(spoke_report_wheel(r, 4, &w), SPOKE_E_USAGE);
	spoke_report_free(r);
	spoke_plan_free(p);

	/* 3. a wheel that does not open fails the run; its entry carries the
	 * code, every entry says nothing was done, nothing changed. */
	p = new_plan();
	spoke_plan_add_wheel(p, tree("six", "2.0"));
	spoke_plan_add_wheel(p, "/nonexistent/d-1.0");
	spoke_plan_add_remove(p, "b");
	ret = spoke_install(ctx, p, &r);
	CHECKF(ret < 0 && spoke_ctx_error_wheel(ctx) == 1, "ret %d wheel %d: "
	       "%s", ret, spoke_ctx_error_wheel(ctx),
	       spoke_ctx_error_message(ctx));
	CHECK_EQ(spoke_report_wheel_count(r), 3);
	result(r, 1, &w);
	CHECK(w.index == 1 && w.error == ret && !strcmp(w.name, "") &&
	      !strcmp(w.wheel, "/nonexistent/d-1.0") &&
	      w.action == SPOKE_ACTION_NONE);
	result(r, 0, &w);
	/* opened, but the run stopped before deciding what to do with it */
	CHECK(w.error == 0 && w.action == SPOKE_ACTION_NONE &&
	      w.planned == SPOKE_ACTION_NONE && !strcmp(w.name, "six"));
	result(r, 2, &w);
	CHECK(w.index == -1 && !strcmp(w.name, "b") &&
	      w.planned == SPOKE_ACTION_REMOVED);
	CHECK((json = spoke_report_json(r)) && strstr(json, "\"wheel\":1"));
	spoke_free(json);
	CHECK(exists("%s/%s-1.0.dist-info", site, "six"));
	CHECK(exists("%s/%s.py", site, "b"));
	spoke_report_free(r);
	spoke_plan_free(p);

	/* 4. a layout failure (a wheel's file colliding with another's)
	 * names the later wheel. */
	p = new_plan();
	spoke_plan_add_wheel(p, tree("d", "1.0"));
	spoke_plan_add_wheel(p, tree("e", "1.0"));
	snprintf(cache, sizeof(cache), "%s/trees/e-1.0/d.py", tmp);
	write_file(cache, "clash\n");
	snprintf(cache, sizeof(cache), "%s/trees/e-1.0/e-1.0.dist-info/RECORD",
		 tmp);
	CHECK((s = slurp(cache)));
	{
		char rec[4096];

		snprintf(rec, sizeof(rec), "%sd.py,,6\n", s);
		write_file(cache, rec);
	}
	ret = spoke_install(ctx, p, &r);
	CHECK_EQ(ret, SPOKE_E_CONFLICT);
	CHECK_EQ(spoke_ctx_error_wheel(ctx), 1);
	result(r, 1, &w);
	CHECK_EQ(w.error, SPOKE_E_CONFLICT);
	spoke_report_free(r);
	spoke_plan_free(p);

	/* 5. removing what is not installed, or what the plan installs. */
	p = new_plan();
	spoke_plan_add_wheel(p, tree("a", "1.0"));
	spoke_plan_add_remove(p, "nothere");
	CHECK_EQ(spoke_install(ctx, p, NULL), SPOKE_E_NOT_INSTALLED);
	CHECK_EQ(spoke_ctx_error_wheel(ctx), -1);
	spoke_plan_free(p);
	p = new_plan();
	spoke_plan_add_wheel(p, tree("b", "1.0"));
	spoke_plan_add_remove(p, "B");
	CHECK_EQ(spoke_install(ctx, p, NULL), SPOKE_E_USAGE);
	spoke_plan_free(p);
	CHECK(exists("%s/%s.py", site, "b"));

	/* 6. removals alone, dry run first: planned, not done. */
	p = new_plan();
	spoke_plan_add_remove(p, "b");
	spoke_plan_set_dry_run(p, 1);
	CHECK_EQ(spoke_install(ctx, p, &r), 0);
	result(r, 0, &w);
	CHECK(w.index == -1 && w.action == SPOKE_ACTION_NONE &&
	      w.planned == SPOKE_ACTION_REMOVED);
	CHECK(exists("%s/%s.py", site, "b"));
	spoke_report_free(r);
	spoke_plan_set_dry_run(p, 0);
	CHECK_EQ(spoke_install(ctx, p, &r), 0);
	expect(r, 0, -1, "b", "1.0", SPOKE_ACTION_REMOVED);
	CHECK(!exists("%s/%s.py", site, "b"));
	spoke_report_free(r);
	spoke_plan_free(p);

	/* 7. the JSON plan: remove, options.installer, wheels[].requested;
	 * bad values fail the load and change nothing. */
	p = spoke_plan_create();
	snprintf(doc, sizeof(doc), "{\"environment\":{\"venv\":\"%s\"},"
		 "\"options\":{\"installer\":\"uv\"},\"remove\":[\"six\"],"
		 "\"wheels\":[{\"path\":\"%s\",\"requested\":true},\"%s\"]}",
		 venv, tree("b", "2.0"), tree("a", "1.0"));
	CHECKF(spoke_plan_load_json(ctx, p, doc, strlen(doc)) == 0,
	       "load: %s", spoke_ctx_error_message(ctx));
	ret = spoke_install(ctx, p, &r);
	CHECKF(ret == 0, "json sync: %s", spoke_ctx_error_message(ctx));
	expect(r, 0, 0, "b", "", SPOKE_ACTION_INSTALLED);
	expect(r, 2, -1, "six", "1.0", SPOKE_ACTION_REMOVED);
	CHECK(exists("%s/%s-2.0.dist-info/REQUESTED", site, "b"));
	snprintf(cache, sizeof(cache), "%s/b-2.0.dist-info/INSTALLER", site);
	CHECK((s = slurp(cache)) && !strcmp(s, "uv\n"));
	spoke_report_free(r);
	spoke_plan_free(p);
	p = spoke_plan_create();
	s = "{\"options\":{\"installer\":\"a b\"}}";
	CHECK_EQ(spoke_plan_load_json(ctx, p, s, strlen(s)), SPOKE_E_USAGE);
	CHECK(strstr(spoke_ctx_error_message(ctx), "options.installer"));
	s = "{\"wheels\":[{\"path\":\"x.whl\",\"sha256\":\"zz\"}]}";
	CHECK_EQ(spoke_plan_load_json(ctx, p, s, strlen(s)), SPOKE_E_USAGE);
	CHECK(strstr(spoke_ctx_error_message(ctx), "wheels[0].sha256"));
	s = "{\"remove\":[1]}";
	CHECK_EQ(spoke_plan_load_json(ctx, p, s, strlen(s)), SPOKE_E_USAGE);
	spoke_plan_free(p);

	/* 8. an expected sha256 is for a .whl, not a tree. */
	p = new_plan();
	CHECK(spoke_plan_add_wheel_sha256(p, tree("a", "1.0"),
		"00000000000000000000000000000000000000000000000000000000"
		"00000000") == 0);
	CHECK_EQ(spoke_install(ctx, p, NULL), SPOKE_E_USAGE);
	CHECK_EQ(spoke_ctx_error_wheel(ctx), 0);
	spoke_plan_free(p);

	spoke_ctx_free(ctx);
	printf("ok\n");
	return T_PASS;
}
