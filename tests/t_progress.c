/* SPDX-License-Identifier: MIT */
/*
 * t_progress - what a host embedding libspoke relies on, through spoke.h
 * alone: progress calls are never concurrent; a cold install (a .whl not
 * in the cache) reports an unpack phase, then the link phase; within each
 * phase the counters are monotonic with fixed totals and the phase's last
 * call is at its totals (the link phase's match the report); a cancel from
 * the progress callback half-way through a fresh install, through an
 * upgrade, and half-way through the unpack of a cold install, returns
 * SPOKE_E_CANCELED and leaves the venv byte-identical to before (as does
 * a cancel at an upgrade's first call, in the prepare phase) (and, for
 * the unpack, no temporary in the cache); two host threads with two contexts install into two venvs at
 * once (sharing one cache); the version macros match the runtime version.
 *
 * Environments are minimal venvs (pyvenv.cfg, bin, site-packages): no
 * interpreter is run. Wheels are generated trees with many files in one
 * directory, so the linker goes through many batches and progress can be
 * seen in the middle, plus Debian's pip/setuptools/wheel .whl files when
 * /usr/share/python-wheels has them.
 */
#include "spoke.h"
#include "tests/testlib.h"

#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *tmp;

/* ---- fixtures ----------------------------------------------------------- */

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "FAIL: cannot write %s: %s\n", path,
			strerror(errno));
		exit(T_FAIL);
	}
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
	if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "FAIL: mkdir %s: %s\n", buf, strerror(errno));
		exit(T_FAIL);
	}
}

/* A venv as spoke sees one: pyvenv.cfg with the version, bin/, the
 * site-packages directory. */
static void make_venv(char *out, size_t len, const char *name)
{
	char p[PATH_MAX];
	static const char cfg[] = "home = /usr/bin\n"
		"include-system-site-packages = false\nversion = 3.11.2\n";

	snprintf(out, len, "%s/%s", tmp, name);
	snprintf(p, sizeof(p), "%s/bin", out);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/lib/python3.11/site-packages", out);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/pyvenv.cfg", out);
	write_file(p, cfg, sizeof(cfg) - 1);
}

/* An unpacked wheel NAME-VERSION with n modules in one directory. The
 * content depends on the version, so an upgrade replaces every file.
 * RECORD rows without hashes: trees are checked by size. */
static void make_tree(char *out, size_t len, const char *name,
		      const char *version, int n)
{
	char p[PATH_MAX], data[512], row[PATH_MAX];
	size_t rlen = 0, rcap = 1 << 16;
	char *record = malloc(rcap);
	int k;

	CHECK(record);
	snprintf(out, len, "%s/trees/%s-%s", tmp, name, version);
	snprintf(p, sizeof(p), "%s/%s", out, name);
	mkdir_p(p);
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info", out, name, version);
	mkdir_p(p);
	for (int i = 0; i <= n; i++) {
		const char *rel = NULL;
		char relbuf[256];
		size_t dlen = 0;

		if (i < n) {
			snprintf(relbuf, sizeof(relbuf), "%s/m%05d.py", name, i);
			for (int r = 0; r < 8; r++)
				dlen += (size_t)snprintf(data + dlen,
							 sizeof(data) - dlen,
							 "v_%d = '%s'\n", i,
							 version);
			rel = relbuf;
		} else {
			snprintf(relbuf, sizeof(relbuf), "%s-%s.dist-info/"
				 "METADATA", name, version);
			dlen = (size_t)snprintf(data, sizeof(data),
						"Metadata-Version: 2.1\nName: "
						"%s\nVersion: %s\n\n", name,
						version);
			rel = relbuf;
		}
		snprintf(p, sizeof(p), "%s/%s", out, rel);
		write_file(p, data, dlen);
		k = snprintf(row, sizeof(row), "%s,,%zu\n", rel, dlen);
		while (rlen + (size_t)k + 512 > rcap)
			CHECK(record = realloc(record, rcap *= 2));
		memcpy(record + rlen, row, (size_t)k);
		rlen += (size_t)k;
	}
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info/WHEEL", out, name, version);
	snprintf(data, sizeof(data), "Wheel-Version: 1.0\nGenerator: "
		 "t_progress\nRoot-Is-Purelib: true\nTag: py3-none-any\n");
	write_file(p, data, strlen(data));
	rlen += (size_t)snprintf(record + rlen, rcap - rlen,
				 "%s-%s.dist-info/WHEEL,,\n%s-%s.dist-info/"
				 "RECORD,,\n", name, version, name, version);
	snprintf(p, sizeof(p), "%s/%s-%s.dist-info/RECORD", out, name,
		 version);
	write_file(p, record, rlen);
	free(record);
}

/* ---- manifests: byte-identity of trees ---------------------------------- */

static struct {
	char **lines;
	size_t n, cap, rootlen;
	int skip_record;
} mf;

static uint64_t fnv_file(const char *path)
{
	uint64_t h = 1469598103934665603ull;
	unsigned char buf[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	CHECK(f);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	fclose(f);
	return h;
}

static int mf_visit(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	char line[2 * PATH_MAX + 64], target[PATH_MAX];
	const char *rel = path + mf.rootlen;
	ssize_t n;

	(void)type;
	if (ftw->level == 0)
		return 0;
	if (mf.skip_record && !strcmp(path + ftw->base, "RECORD"))
		return 0;
	if (S_ISLNK(st->st_mode)) {
		n = readlink(path, target, sizeof(target) - 1);
		CHECK(n >= 0);
		target[n] = '\0';
		snprintf(line, sizeof(line), "%s l %s", rel, target);
	} else if (S_ISDIR(st->st_mode)) {
		snprintf(line, sizeof(line), "%s d %o", rel,
			 (unsigned)(st->st_mode & 07777));
	} else {
		snprintf(line, sizeof(line), "%s f %o %lld %016llx", rel,
			 (unsigned)(st->st_mode & 07777),
			 (long long)st->st_size,
			 (unsigned long long)fnv_file(path));
	}
	if (mf.n == mf.cap) {
		mf.cap = mf.cap ? 2 * mf.cap : 1024;
		CHECK(mf.lines = realloc(mf.lines, mf.cap * sizeof(char *)));
	}
	CHECK(mf.lines[mf.n++] = strdup(line));
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every path below root with type, mode, size and a content hash, one a
 * line, sorted: two trees are byte-identical when these are equal. */
static char *manifest(const char *root, int skip_record)
{
	size_t len = 0;
	char *out;

	memset(&mf, 0, sizeof(mf));
	mf.rootlen = strlen(root);
	mf.skip_record = skip_record;
	CHECK(nftw(root, mf_visit, 32, FTW_PHYS) == 0);
	qsort(mf.lines, mf.n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < mf.n; i++)
		len += strlen(mf.lines[i]) + 1;
	CHECK(out = malloc(len + 1));
	out[0] = '\0';
	for (size_t i = 0, off = 0; i < mf.n; i++) {
		off += (size_t)sprintf(out + off, "%s\n", mf.lines[i]);
		free(mf.lines[i]);
	}
	free(mf.lines);
	return out;
}

/* Fail naming the first line that differs. */
static void same_manifest(const char *want, const char *got, const char *what)
{
	size_t i = 0, line = 1, s;

	if (!strcmp(want, got))
		return;
	for (; want[i] && want[i] == got[i]; i++)
		if (want[i] == '\n')
			line++;
	for (s = i; s > 0 && want[s - 1] != '\n'; s--)
		;
	fprintf(stderr, "FAIL: %s: the tree differs at line %zu:\n  before: "
		"%.*s\n  after:  %.*s\n", what, line,
		(int)strcspn(want + s, "\n"), want + s,
		(int)strcspn(got + s, "\n"), got + s);
	exit(T_FAIL);
}

/* ---- progress recording --------------------------------------------------- */

#define MAXCALLS 100000

struct rec {
	spoke_ctx *ctx;
	atomic_int inside;   /* calls running now: must never exceed 1 */
	int overlap;
	int cancel_at_half;  /* cancel once files_done >= files_total / 2
			      * (unpack: once files_done > 0) */
	int cancel_phase;    /* ... of this phase */
	int canceled;
	size_t n;
	struct spoke_progress calls[MAXCALLS];
	int had_current;
};

static void on_progress(void *user, const struct spoke_progress *p)
{
	struct rec *r = user;

	if (atomic_fetch_add(&r->inside, 1) != 0)
		r->overlap = 1;
	if (r->n < MAXCALLS)
		r->calls[r->n++] = *p;
	r->had_current |= p->current != NULL;
	if (r->cancel_at_half && !r->canceled && p->phase == r->cancel_phase) {
		/* The unpack reports per file: at the first file done (the
		 * start's report sleeps, so one comes before the end). */
		int unpack = p->phase == SPOKE_PHASE_UNPACK;

		/* Prepare: at its first call, before the lock is taken. */
		if (p->phase == SPOKE_PHASE_PREPARE ||
		    (p->files_total && (unpack ? p->files_done > 0 :
				       p->files_done * 2 >= p->files_total))) {
			spoke_ctx_cancel(r->ctx);
			r->canceled = 1;
		} else {
			/* One worker, at most ten calls a second: sleeping
			 * past that interval makes the next batch report
			 * again, so the cancel lands near the middle. */
			struct timespec ts = { 0, 110 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	atomic_fetch_sub(&r->inside, 1);
}

/* Phases come in order: prepare first (before any unpack or link
 * call), then for a cold install unpack and prepare again, then link;
 * the phase sequence, collapsed, is P L or P U P L. Each phase is checked
 * on its own across all its calls (fixed totals, monotonic counters); an
 * unpack or link stretch ends at its totals, prepare's last call too.
 * Returns whether an unpack phase was seen. */
static int check_monotonic(const struct rec *r, const spoke_report *rep,
			   const char *what)
{
	static const int cold[] = { SPOKE_PHASE_PREPARE, SPOKE_PHASE_UNPACK,
				    SPOKE_PHASE_PREPARE, SPOKE_PHASE_LINK };
	const struct spoke_progress *last, *prev[4] = { 0 };
	int seq[8], nseq = 0, saw_unpack = 0;

	if (r->n < 3) {
		fprintf(stderr, "FAIL: %s: %zu progress calls\n", what, r->n);
		exit(T_FAIL);
	}
	CHECK(!r->overlap);
	CHECK(r->had_current);
	for (size_t i = 0; i < r->n; i++) {
		const struct spoke_progress *p = &r->calls[i];
		const struct spoke_progress *f;
		int ph = p->phase;

		CHECK(ph >= 0 && ph <= SPOKE_PHASE_PREPARE &&
		      ph != SPOKE_PHASE_COMPILE);
		if (i == 0 || ph != p[-1].phase) {
			CHECK(nseq < 4);
			seq[nseq++] = ph;
		}
		f = prev[ph];
		saw_unpack |= ph == SPOKE_PHASE_UNPACK;
		if (f) {
			CHECK_EQ(p->files_total, f->files_total);
			CHECK_EQ(p->bytes_total, f->bytes_total);
			CHECK_EQ(p->wheels_total, f->wheels_total);
			CHECK(p->files_done >= f->files_done);
			CHECK(p->bytes_done >= f->bytes_done);
			CHECK(p->wheels_done >= f->wheels_done);
		}
		prev[ph] = p;
		CHECK(p->files_done <= p->files_total);
		CHECK(p->bytes_done <= p->bytes_total);
		CHECK(p->wheels_done <= p->wheels_total);
		/* The end of an unpack or link stretch is at its totals. */
		if (ph != SPOKE_PHASE_PREPARE &&
		    (i + 1 == r->n || p[1].phase != ph)) {
			CHECK_EQ(p->files_done, p->files_total);
			CHECK_EQ(p->bytes_done, p->bytes_total);
			CHECK_EQ(p->wheels_done, p->wheels_total);
		}
		if (ph == SPOKE_PHASE_UNPACK) {
			CHECK(p->files_total > 0);
			CHECK(p->wheels_total > 0);
		}
		if (ph == SPOKE_PHASE_PREPARE) {
			CHECK_EQ(p->files_total, 0);
			CHECK_EQ(p->bytes_total, 0);
			CHECK(p->wheels_total > 0);
		}
	}
	/* Prepare's last call is at its totals; the sequence is P L or
	 * P U P L: the first call precedes any unpack or link. */
	CHECK(prev[SPOKE_PHASE_PREPARE]);
	CHECK_EQ(prev[SPOKE_PHASE_PREPARE]->wheels_done,
		 prev[SPOKE_PHASE_PREPARE]->wheels_total);
	if (saw_unpack) {
		CHECK_EQ(nseq, 4);
		for (int k = 0; k < 4; k++)
			CHECK_EQ(seq[k], cold[k]);
	} else {
		CHECK_EQ(nseq, 2);
		CHECK_EQ(seq[0], SPOKE_PHASE_PREPARE);
		CHECK_EQ(seq[1], SPOKE_PHASE_LINK);
	}
	last = &r->calls[r->n - 1];
	CHECK_EQ(last->phase, SPOKE_PHASE_LINK);
	CHECK_EQ(last->files_total, spoke_report_counter(rep, SPOKE_COUNT_FILES));
	CHECK_EQ(last->bytes_total, spoke_report_counter(rep, SPOKE_COUNT_BYTES));
	return saw_unpack;
}

/* A real .whl of n modules with a hashed RECORD, written by python3's
 * zipfile; 0 when there is no python3 (the unpack checks are skipped). */
static int make_whl(char *out, size_t len, const char *name, int n)
{
	char cmd[PATH_MAX * 2 + 1024];

	snprintf(out, len, "%s/%s-1.0-py3-none-any.whl", tmp, name);
	snprintf(cmd, sizeof(cmd), "python3 -c '\n"
		 "import base64, hashlib, sys, zipfile\n"
		 "out, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])\n"
		 "di = name + \"-1.0.dist-info\"\n"
		 "f = {\"%%s/m%%05d.py\" %% (name, i): (\"v = %%d\\n\" %% i * 40).encode() for i in range(n)}\n"
		 "f[di + \"/METADATA\"] = (\"Metadata-Version: 2.1\\nName: %%s\\nVersion: 1.0\\n\" %% name).encode()\n"
		 "f[di + \"/WHEEL\"] = b\"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n\"\n"
		 "h = lambda d: base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b\"=\").decode()\n"
		 "rec = [\"%%s,sha256=%%s,%%d\" %% (p, h(d), len(d)) for p, d in f.items()]\n"
		 "f[di + \"/RECORD\"] = (\"\\n\".join(rec + [di + \"/RECORD,,\"]) + \"\\n\").encode()\n"
		 "z = zipfile.ZipFile(out, \"w\", zipfile.ZIP_DEFLATED)\n"
		 "[z.writestr(p, d) for p, d in f.items()]\n"
		 "z.close()' '%s' '%s' %d 2>/dev/null", out, name, n);
	return system(cmd) == 0;
}

/* Nothing left in the cache's tmp/ (an unpack's temporaries). */
static void check_no_temps(void)
{
	char dir[PATH_MAX];
	glob_t g;

	snprintf(dir, sizeof(dir), "%s/cache/tmp/*", tmp);
	if (glob(dir, 0, NULL, &g) == 0) {
		fprintf(stderr, "FAIL: left in the cache: %s\n", g.gl_pathv[0]);
		exit(T_FAIL);
	}
	globfree(&g);
}

/* ---- runs ------------------------------------------------------------------ */

static glob_t debian;

static spoke_ctx *new_ctx(struct rec *r, unsigned jobs)
{
	spoke_ctx *ctx = spoke_ctx_create();
	char cache[PATH_MAX];

	CHECK(ctx);
	snprintf(cache, sizeof(cache), "%s/cache", tmp);
	CHECK(spoke_ctx_set_cache_dir(ctx, cache) == 0);
	CHECK(spoke_ctx_set_link_mode(ctx, SPOKE_LINK_HARDLINK) == 0);
	CHECK(spoke_ctx_set_jobs(ctx, jobs) == 0);
	if (r) {
		r->ctx = ctx;
		CHECK(spoke_ctx_set_progress(ctx, on_progress, r) == 0);
	}
	return ctx;
}

static spoke_plan *new_plan(const char *venv, const char *const *trees,
			    int with_debian)
{
	spoke_plan *plan = spoke_plan_create();

	CHECK(plan);
	CHECK(spoke_plan_set_venv(plan, venv) == 0);
	for (; *trees; trees++)
		CHECK(spoke_plan_add_wheel(plan, *trees) >= 0);
	for (size_t i = 0; with_debian && i < debian.gl_pathc; i++)
		CHECK(spoke_plan_add_wheel(plan, debian.gl_pathv[i]) >= 0);
	return plan;
}

static int install(spoke_ctx *ctx, spoke_plan *plan, spoke_report **rep)
{
	int ret = spoke_install(ctx, plan, rep);

	if (ret && ret != SPOKE_E_CANCELED)
		fprintf(stderr, "spoke_install: %s (%s)\n",
			spoke_ctx_error_message(ctx), spoke_strerror(ret));
	return ret;
}

static void test_version(void)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", SPOKE_VERSION_MAJOR,
		 SPOKE_VERSION_MINOR, SPOKE_VERSION_PATCH);
	CHECK(!strcmp(spoke_version(), want));
	CHECK_EQ(spoke_version_number(), SPOKE_VERSION_NUMBER);
}

static struct rec rec_a, rec_b; /* big: static */

static void test_progress(const char *many, const char *whl)
{
	const char *trees[] = { many, whl, NULL };
	char venv[PATH_MAX];
	spoke_report *rep = NULL;
	spoke_ctx *ctx = new_ctx(&rec_a, 2);
	spoke_plan *plan;

	make_venv(venv, sizeof(venv), "v-progress");
	plan = new_plan(venv, trees, 1);
	CHECK_EQ(install(ctx, plan, &rep), 0);
	/* The .whl is new to the cache: it is unpacked first, reported. */
	CHECK_EQ(check_monotonic(&rec_a, rep, "install"), whl != NULL);
	CHECK(rec_a.calls[rec_a.n - 1].files_total > 3000);
	spoke_report_free(rep);
	spoke_plan_free(plan);
	spoke_ctx_free(ctx);
}

/* Cancel at half of the files; the venv must be as before, byte for
 * byte. before_tree (may be NULL) is installed first, so the canceled run
 * is an upgrade that replaced and removed files. */
static void test_cancel(const char *name, const char *before_tree,
			const char *tree, int phase)
{
	const char *trees[] = { tree, NULL }, *first[] = { before_tree, NULL };
	char venv[PATH_MAX], *before, *after;
	spoke_report *rep = NULL;
	const struct spoke_progress *last;
	const char *dname, *dver, *action;
	spoke_ctx *ctx;
	spoke_plan *plan;

	make_venv(venv, sizeof(venv), name);
	if (before_tree) {
		ctx = new_ctx(NULL, 0);
		plan = new_plan(venv, first, 0);
		CHECK_EQ(install(ctx, plan, NULL), 0);
		spoke_plan_free(plan);
		spoke_ctx_free(ctx);
	}
	before = manifest(venv, 0);
	memset(&rec_b, 0, sizeof(rec_b));
	rec_b.cancel_at_half = 1;
	rec_b.cancel_phase = phase;
	ctx = new_ctx(&rec_b, 1);
	plan = new_plan(venv, trees, 0);
	CHECK_EQ(install(ctx, plan, &rep), SPOKE_E_CANCELED);
	CHECK_EQ(spoke_ctx_error_code(ctx), SPOKE_E_CANCELED);
	CHECK(rec_b.canceled);
	CHECK(!rec_b.overlap);
	last = &rec_b.calls[rec_b.n - 1];
	fprintf(stderr, "  %s: canceled at %llu of %llu files\n", name,
		(unsigned long long)last->files_done,
		(unsigned long long)last->files_total);
	if (phase == SPOKE_PHASE_PREPARE)
		CHECK(last->wheels_done < last->wheels_total);
	else
		CHECK(last->files_done > 0 &&
		      last->files_done < last->files_total);
	CHECK_EQ(last->phase, phase);
	CHECK(rep);
	CHECK_EQ(spoke_report_dist_count(rep), 1);
	CHECK_EQ(spoke_report_dist(rep, 0, &dname, &dver, &action), 0);
	CHECK(!strcmp(action, "failed"));
	after = manifest(venv, 0);
	same_manifest(before, after, name);
	check_no_temps();
	free(before);
	free(after);
	spoke_report_free(rep);
	spoke_plan_free(plan);
	spoke_ctx_free(ctx);
}

struct job {
	const char *tree;
	char venv[PATH_MAX];
	struct rec *rec;
	pthread_barrier_t *start;
	int ret;
	uint64_t files;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	const char *trees[] = { j->tree, NULL };
	spoke_report *rep = NULL;
	spoke_ctx *ctx = new_ctx(j->rec, 2);
	spoke_plan *plan = new_plan(j->venv, trees, 1);

	pthread_barrier_wait(j->start);
	j->ret = install(ctx, plan, &rep);
	if (!j->ret)
		check_monotonic(j->rec, rep, j->venv);
	j->files = spoke_report_counter(rep, SPOKE_COUNT_FILES);
	spoke_report_free(rep);
	spoke_plan_free(plan);
	spoke_ctx_free(ctx);
	return NULL;
}

/* Two host threads, two contexts, two venvs, one cache, at once. */
static void test_threads(const char *many)
{
	struct job jobs[2];
	pthread_barrier_t start;
	pthread_t th[2];
	char sp[2][PATH_MAX], *m0, *m1;

	CHECK(pthread_barrier_init(&start, NULL, 2) == 0);
	memset(&rec_a, 0, sizeof(rec_a));
	memset(&rec_b, 0, sizeof(rec_b));
	for (int i = 0; i < 2; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].tree = many;
		jobs[i].rec = i ? &rec_b : &rec_a;
		jobs[i].start = &start;
		make_venv(jobs[i].venv, sizeof(jobs[i].venv),
			  i ? "v-thread1" : "v-thread0");
		CHECK(pthread_create(&th[i], NULL, run_job, &jobs[i]) == 0);
	}
	for (int i = 0; i < 2; i++) {
		CHECK(pthread_join(th[i], NULL) == 0);
		CHECK_EQ(jobs[i].ret, 0);
		snprintf(sp[i], sizeof(sp[i]), "%s/lib/python3.11/site-packages",
			 jobs[i].venv);
	}
	CHECK_EQ(jobs[0].files, jobs[1].files);
	/* The same files; RECORDs differ (launchers name their venv). */
	m0 = manifest(sp[0], 1);
	m1 = manifest(sp[1], 1);
	same_manifest(m0, m1, "the two venvs");
	free(m0);
	free(m1);
	pthread_barrier_destroy(&start);
}

int main(void)
{
	char many[PATH_MAX], half1[PATH_MAX], half2[PATH_MAX];
	char whl[PATH_MAX], cold[PATH_MAX];
	int have_whl;
	int which = 0;
	const char *only = getenv("T_PROGRESS_ONLY"); /* for debugging */

	tmp = t_mktemp();
	if (glob("/usr/share/python-wheels/*.whl", 0, NULL, &debian) != 0)
		debian.gl_pathc = 0;
	fprintf(stderr, "  %zu Debian wheels\n", (size_t)debian.gl_pathc);
	make_tree(many, sizeof(many), "spoke_many", "1.0", 3000);
	make_tree(half1, sizeof(half1), "spoke_half", "1.0", 1024);
	make_tree(half2, sizeof(half2), "spoke_half", "2.0", 1024);
	have_whl = make_whl(whl, sizeof(whl), "spoke_whl", 2000) &&
		   make_whl(cold, sizeof(cold), "spoke_cold", 3000);
	if (!have_whl)
		fprintf(stderr, "  no python3: unpack phase not tested\n");

	test_version();
	if (!only || !strcmp(only, "progress"))
		test_progress(many, have_whl ? whl : NULL), which++;
	if (!only || !strcmp(only, "threads"))
		test_threads(many), which++;
	if (!only || !strcmp(only, "cancel"))
		test_cancel("v-cancel-fresh", NULL, half1, SPOKE_PHASE_LINK),
		which++;
	if (!only || !strcmp(only, "cancel-upgrade"))
		test_cancel("v-cancel-upgrade", half1, half2,
			    SPOKE_PHASE_LINK), which++;
	if (!only || !strcmp(only, "cancel-prepare"))
		test_cancel("v-cancel-prepare", half1, half2,
			    SPOKE_PHASE_PREPARE), which++;
	if (have_whl && (!only || !strcmp(only, "cancel-unpack")))
		test_cancel("v-cancel-unpack", NULL, cold,
			    SPOKE_PHASE_UNPACK), which++;
	CHECK(which > 0);
	globfree(&debian);
	return T_PASS;
}
