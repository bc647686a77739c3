/* SPDX-License-Identifier: MIT */
/*
 * t_store - the cache store end to end: location rules; add (then the fast
 * path on a second add); lookup by key and by wheel name; a broken wheel
 * leaving nothing behind; 8 forked processes adding one wheel at once (all
 * succeed, one entry, no temporaries left); a process killed mid-unpack and
 * fake temporaries of dead and old processes, which prune removes while
 * sparing live ones; verify catching files edited, added and removed after
 * publishing; remove; clean. Synthetic wheels are written by a small zip
 * writer here; the real wheels of /usr/share/python-wheels are added,
 * verified and listed too. Exit 0 pass, 1 fail (reason on stderr), 77 when
 * the real wheels are missing (after the synthetic part passed).
 */
#include "cache/record.h"
#include "cache/store.h"
#include "base/pool.h"
#include "base/fault.h"
#include "spoke.h"
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char err[2048];
static char root[] = "/tmp/t_store.XXXXXX";
static char cache[4096];

/* ---- a minimal wheel writer (stored and deflate) --------------------------- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		CHECKF(b->p, "out of memory");
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put16(struct buf *b, unsigned v)
{
	unsigned char x[2] = { v & 255, (v >> 8) & 255 };

	put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, v & 0xffff);
	put16(b, v >> 16);
}

struct wheel {
	struct buf out, cd;
	unsigned count;
	struct record rec;
};

static void wheel_add(struct wheel *w, const char *name, const void *data,
		      size_t len, int deflate, int exec)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(1);
	size_t cap = libdeflate_deflate_compress_bound(c, len), clen = len;
	unsigned char *comp = malloc(cap + 1), dig[32];
	uint32_t crc = libdeflate_crc32(0, data, len), off = w->out.len;
	unsigned nlen = (unsigned)strlen(name);

	if (deflate)
		clen = libdeflate_deflate_compress(c, data, len, comp, cap);
	else if (len)
		memcpy(comp, data, len);
	libdeflate_free_compressor(c);
	put32(&w->out, 0x04034b50);
	put16(&w->out, 20);
	put16(&w->out, 0);
	put16(&w->out, deflate ? 8 : 0);
	put32(&w->out, 0);
	put32(&w->out, crc);
	put32(&w->out, (uint32_t)clen);
	put32(&w->out, (uint32_t)len);
	put16(&w->out, nlen);
	put16(&w->out, 0);
	put(&w->out, name, nlen);
	put(&w->out, comp, clen);
	put32(&w->cd, 0x02014b50);
	put16(&w->cd, 3 << 8 | 20);
	put16(&w->cd, 20);
	put16(&w->cd, 0);
	put16(&w->cd, deflate ? 8 : 0);
	put32(&w->cd, 0);
	put32(&w->cd, crc);
	put32(&w->cd, (uint32_t)clen);
	put32(&w->cd, (uint32_t)len);
	put16(&w->cd, nlen);
	put32(&w->cd, 0);
	put32(&w->cd, 0);
	put32(&w->cd, (exec ? 0100755u : 0100644u) << 16);
	put32(&w->cd, off);
	put(&w->cd, name, nlen);
	w->count++;
	free(comp);
	if (strstr(name, ".dist-info/RECORD"))
		return;
	sha256_buf(data, len, dig);
	CHECKF(!record_add(&w->rec, name, "sha256", dig, 32, (int64_t)len),
	      "record_add");
}

/* Finish with RECORD and write the wheel to cache-dir-independent path. */
static void wheel_write(struct wheel *w, const char *dist, const char *path)
{
	char rname[256], *text;
	size_t tlen;
	uint32_t cd_off;
	FILE *f;

	snprintf(rname, sizeof(rname), "%s.dist-info/RECORD", dist);
	record_add(&w->rec, rname, NULL, NULL, 0, -1);
	CHECKF(!record_format(&w->rec, &text, &tlen), "record_format");
	wheel_add(w, rname, text, tlen, 1, 0);
	free(text);
	cd_off = (uint32_t)w->out.len;
	put(&w->out, w->cd.p, w->cd.len);
	put32(&w->out, 0x06054b50);
	put32(&w->out, 0);
	put16(&w->out, w->count);
	put16(&w->out, w->count);
	put32(&w->out, (uint32_t)w->cd.len);
	put32(&w->out, cd_off);
	put16(&w->out, 0);
	f = fopen(path, "wb");
	CHECKF(f && fwrite(w->out.p, 1, w->out.len, f) == w->out.len &&
	      fclose(f) == 0, "write %s", path);
	free(w->out.p);
	free(w->cd.p);
	record_free(&w->rec);
	memset(w, 0, sizeof(*w));
}

/* A wheel of nfiles files of size bytes each, content varying with seed. */
static void make_wheel(const char *path, const char *dist, int nfiles,
		       size_t size, unsigned seed)
{
	struct wheel w = { 0 };
	char *data = malloc(size + 1), name[256];

	for (int i = 0; i < nfiles; i++) {
		for (size_t k = 0; k < size; k++) {
			seed = seed * 1103515245u + 12345u;
			data[k] = (char)(k % 50 < 30 ? 'a' + (k / 50) % 26 :
					 (seed >> 16) & 0xff);
		}
		snprintf(name, sizeof(name), "%s/mod%d/file%d.py", dist, i % 7,
			 i);
		wheel_add(&w, name, data, size, i % 3 != 0, i == 1);
	}
	snprintf(name, sizeof(name), "%s.dist-info/METADATA", dist);
	wheel_add(&w, name, "Name: x\n", 8, 0, 0);
	wheel_write(&w, dist, path);
	free(data);
}

/* ---- helpers ---------------------------------------------------------------- */

static int count_dir(const char *sub)
{
	char path[4200];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", cache, sub);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

struct seen {
	int n, bad;
	char names[64][128];
	int status[64];
	char msg[64][512];
};

static void on_entry(void *user, const char *key, const char *wheel_name,
		     int status, const char *msg)
{
	struct seen *s = user;

	CHECKF(strlen(key) == 64, "key length");
	if (s->n < 64) {
		snprintf(s->names[s->n], 128, "%s", wheel_name ? wheel_name :
			 "-");
		s->status[s->n] = status;
		snprintf(s->msg[s->n], 512, "%s", msg);
	}
	s->n++;
	s->bad += status != 0;
}

static struct store *open_store(int create)
{
	struct store *s;

	CHECKF(!store_open(&s, cache, create, err, sizeof(err)), "open: %s",
	      err);
	return s;
}

/* ---- tests -------------------------------------------------------------------- */

static void test_location(void)
{
	char *d;

	setenv("SPOKE_CACHE_DIR", "/x/spoke", 1);
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	CHECKF(!store_resolve_dir("/explicit", &d) && !strcmp(d, "/explicit"),
	      "explicit");
	free(d);
	CHECKF(!store_resolve_dir(NULL, &d) && !strcmp(d, "/x/spoke"), "env");
	free(d);
	unsetenv("SPOKE_CACHE_DIR");
	CHECKF(!store_resolve_dir("", &d) && !strcmp(d, "/xdg/spoke"), "xdg");
	free(d);
	setenv("XDG_CACHE_HOME", "relative", 1);
	CHECKF(!store_resolve_dir(NULL, &d) &&
	      !strcmp(d, "/home/u/.cache/spoke"), "home: %s", d);
	free(d);
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	CHECKF(store_resolve_dir(NULL, &d) == -ENOENT, "nothing");
	setenv("SPOKE_CACHE_DIR", cache, 1);
}

static void test_add(struct pool *pool)
{
	struct unpack_opts o = { .verify = 1, .pool = pool };
	struct store_add_result r1, r2;
	char whl[4200], key[65], *path;
	struct store *s;
	struct stat st;

	/* A missing store is empty, not an error, until created. */
	s = open_store(0);
	CHECKF(s->archfd < 0 && store_lookup_key(s, "0") == -EINVAL, "empty");
	CHECKF(store_add(s, "/nonexistent/a-1-py3-none-any.whl", &o, NULL, err,
			sizeof(err)) == SPOKE_E_USAGE, "add without create");
	store_close(s);
	s = open_store(1);
	snprintf(whl, sizeof(whl), "%s/demo-1.0-py3-none-any.whl", root);
	make_wheel(whl, "demo-1.0", 40, 3000, 1);
	CHECKF(!store_add(s, whl, &o, &r1, err, sizeof(err)), "add: %s", err);
	CHECKF(!r1.existed && r1.st.files == 42 && r1.st.bytes > 40 * 3000,
	      "first add: existed %d files %llu", r1.existed,
	      (unsigned long long)r1.st.files);
	CHECKF(!store_add(s, whl, &o, &r2, err, sizeof(err)), "re-add: %s",
	      err);
	CHECKF(r2.existed && r2.st.files == 0 && !strcmp(r1.key, r2.key),
	      "second add is not the fast path");
	CHECKF(!store_lookup_key(s, r1.key), "lookup key");
	CHECKF(!store_lookup_name(s, "demo-1.0-py3-none-any.whl", key) &&
	      !strcmp(key, r1.key), "lookup name");
	CHECKF(store_lookup_name(s, "nope-1.0-py3-none-any.whl", key) ==
	      -ENOENT, "lookup missing name");
	CHECKF(!store_entry_path(s, r1.key, &path), "entry path");
	CHECKF(stat(path, &st) == 0 && S_ISDIR(st.st_mode), "%s", path);
	free(path);
	CHECKF(count_dir("tmp") == 0, "tmp not empty after add");
	/* Modes: file1 is executable. */
	snprintf(whl, sizeof(whl), "%s/archive-v2/%s/demo-1.0/mod1/file1.py",
		 cache, r1.key);
	CHECKF(stat(whl, &st) == 0 && (st.st_mode & 0777) == 0755, "exec %o",
	      st.st_mode & 0777);
	snprintf(whl, sizeof(whl), "%s/archive-v2/%s/demo-1.0/mod2/file2.py",
		 cache, r1.key);
	CHECKF(stat(whl, &st) == 0 && (st.st_mode & 0777) == 0644, "mode %o",
	      st.st_mode & 0777);
	/* A broken wheel leaves neither entry, nor index, nor temporary. */
	snprintf(whl, sizeof(whl), "%s/broken-1.0-py3-none-any.whl", root);
	{
		FILE *f = fopen(whl, "wb");

		fputs("PK\3\4 this is not a wheel", f);
		fclose(f);
	}
	CHECKF(store_add(s, whl, &o, NULL, err, sizeof(err)) ==
	      SPOKE_E_BADWHEEL && strstr(err, "broken-1.0"), "broken: %s",
	      err);
	CHECKF(count_dir("archive-v2") == 1 && count_dir("index-v1") == 1 &&
	      count_dir("tmp") == 0, "broken wheel left something");
	CHECKF(store_add(s, "/etc/passwd", &o, NULL, err, sizeof(err)) ==
	      SPOKE_E_USAGE, "not a .whl name");
	/* The deepest tree a wheel may hold: add, verify, remove. */
	{
		struct wheel w = { 0 };
		static char deep[700];

		strcpy(deep, "deep-1.0/");
		for (int i = 0; i < 250; i++)
			strcat(deep, "d/");
		strcat(deep, "f.py");
		wheel_add(&w, deep, "x", 1, 0, 0);
		wheel_add(&w, "deep-1.0.dist-info/METADATA", "m", 1, 0, 0);
		snprintf(whl, sizeof(whl), "%s/deep-1.0-py3-none-any.whl",
			 root);
		wheel_write(&w, "deep-1.0", whl);
		CHECKF(!store_add(s, whl, &o, &r1, err, sizeof(err)),
		      "deep: %s", err);
		CHECKF(!store_verify_entry(s, r1.key, err, sizeof(err)),
		      "deep verify: %s", err);
		CHECKF(!store_remove(s, r1.key, err, sizeof(err)),
		      "deep remove: %s", err);
		CHECKF(count_dir("archive-v2") == 1 && count_dir("tmp") == 0 &&
		      count_dir("index-v1") == 1, "deep remove left things");
	}
	store_close(s);
}

static void test_concurrent(void)
{
	char whl[4200];
	pid_t pids[8];
	int go[2], nok = 0;

	snprintf(whl, sizeof(whl), "%s/race-2.0-py3-none-any.whl", root);
	make_wheel(whl, "race-2.0", 300, 4000, 2);
	CHECKF(pipe(go) == 0, "pipe");
	for (int i = 0; i < 8; i++) {
		pids[i] = fork();
		CHECKF(pids[i] >= 0, "fork");
		if (pids[i] == 0) {
			struct unpack_opts o = { .verify = 1 };
			struct pool *p = NULL;
			struct store *s;
			char c;
			int ret;

			close(go[1]);
			/* All start together: read returns at close. */
			ret = (int)read(go[0], &c, 1);
			(void)ret;
			if (pool_create(&p, 2))
				_exit(3);
			o.pool = p;
			if (store_open(&s, cache, 1, err, sizeof(err)))
				_exit(2);
			ret = store_add(s, whl, &o, NULL, err, sizeof(err));
			if (ret)
				fprintf(stderr, "t_store: child: %s\n", err);
			store_close(s);
			pool_free(p);
			_exit(ret ? 1 : 0);
		}
	}
	close(go[0]);
	close(go[1]);
	for (int i = 0; i < 8; i++) {
		int st;

		CHECKF(waitpid(pids[i], &st, 0) == pids[i], "waitpid");
		nok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	CHECKF(nok == 8, "only %d of 8 concurrent adds succeeded", nok);
	CHECKF(count_dir("archive-v2") == 2, "entries: %d",
	      count_dir("archive-v2"));
	CHECKF(count_dir("tmp") == 0, "concurrent adds left %d temporaries",
	      count_dir("tmp"));
}

static void fake_tmp(struct store *s, const char *name, int age)
{
	struct timespec ts[2];
	int fd;

	CHECKF(mkdirat(s->tmpfd, name, 0755) == 0, "mkdir %s", name);
	fd = openat(s->tmpfd, name, O_RDONLY | O_DIRECTORY);
	CHECKF(fd >= 0 && mkdirat(fd, "sub", 0755) == 0, "sub");
	close(openat(fd, "sub/f", O_CREAT | O_WRONLY, 0644));
	close(fd);
	if (age) {
		clock_gettime(CLOCK_REALTIME, &ts[0]);
		ts[0].tv_sec -= age;
		ts[1] = ts[0];
		CHECKF(!utimensat(s->tmpfd, name, ts, 0), "utimensat");
	}
}

static void test_prune(void)
{
	char whl[4200], name[256];
	struct store *s = open_store(1);
	pid_t dead, child;
	int st, killed = 0, n;

	/* A child unpacking a large wheel, killed once its temporary shows. */
	snprintf(whl, sizeof(whl), "%s/big-3.0-py3-none-any.whl", root);
	make_wheel(whl, "big-3.0", 400, 200000, 3);
	child = fork();
	CHECKF(child >= 0, "fork");
	if (child == 0) {
		struct unpack_opts o = { .verify = 1 };

		_exit(store_add(s, whl, &o, NULL, err, sizeof(err)) ? 1 : 0);
	}
	for (int i = 0; i < 20000 && !killed; i++) {
		if (count_dir("tmp") > 0) {
			usleep(2000);
			kill(child, SIGKILL);
			killed = 1;
		} else {
			usleep(200);
		}
	}
	CHECKF(waitpid(child, &st, 0) == child, "waitpid");
	if (!(WIFSIGNALED(st) && count_dir("tmp") == 1)) {
		fprintf(stderr, "t_store: note: unpack finished before the "
			"kill; only fake temporaries tested\n");
		killed = 0;
	}
	/* Fake ones: a dead pid, our live pid (fresh and old), junk. */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, &st, 0);
	snprintf(name, sizeof(name), "%064d.%d.0123456789abcdef", 0, dead);
	fake_tmp(s, name, 0);
	snprintf(name, sizeof(name), "%064d.%d.00000000000000aa", 1, getpid());
	fake_tmp(s, name, 0);
	snprintf(name, sizeof(name), "%064d.%d.00000000000000bb", 2, getpid());
	fake_tmp(s, name, 2 * 3600);
	fake_tmp(s, "junk-without-pid", 0);
	snprintf(name, sizeof(name), ".spoke-%d-7-x.whl", dead);
	close(openat(s->indexfd, name, O_CREAT | O_WRONLY, 0644));
	n = store_prune(s, 0, err, sizeof(err));
	CHECKF(n == 3 + killed, "prune removed %d, want %d (%s)", n,
	      3 + killed, err);
	CHECKF(count_dir("tmp") == 2, "prune left %d in tmp", count_dir("tmp"));
	CHECKF(store_prune(s, 0, err, sizeof(err)) == 0, "second prune");
	store_close(s);
}

static void edit(const char *key, const char *rel, const char *how)
{
	char path[4400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/archive-v2/%s/%s", cache, key, rel);
	if (!strcmp(how, "rm")) {
		CHECKF(unlink(path) == 0, "unlink %s", path);
		return;
	}
	f = fopen(path, how);
	CHECKF(f, "%s: %s", path, strerror(errno));
	fputc('#', f);
	fclose(f);
}

static void test_verify(void)
{
	struct store *s = open_store(1);
	struct seen seen = { 0 };
	char key[65];
	int n;

	n = store_list(s, 1, on_entry, &seen, err, sizeof(err));
	CHECKF(n >= 2 && seen.n == n && seen.bad == 0, "list: n %d seen %d "
	      "bad %d %s", n, seen.n, seen.bad, seen.msg[0]);
	for (int i = 1; i < seen.n && i < 64; i++)
		CHECKF(strcmp(seen.names[i - 1], seen.names[i]) < 0 ||
		      !strcmp(seen.names[i], "-"), "list order: %s %s",
		      seen.names[i - 1], seen.names[i]);
	CHECKF(!store_lookup_name(s, "demo-1.0-py3-none-any.whl", key), "key");
	CHECKF(!store_verify_entry(s, key, err, sizeof(err)), "verify: %s",
	      err);
	/* Same size, other content: "r+" overwrites the first byte. */
	edit(key, "demo-1.0/mod3/file3.py", "r+");
	CHECKF(store_verify_entry(s, key, err, sizeof(err)) == SPOKE_E_HASH &&
	      strstr(err, "demo-1.0/mod3/file3.py") && strstr(err, key),
	      "edited file: %s", err);
	memset(&seen, 0, sizeof(seen));
	store_list(s, 1, on_entry, &seen, err, sizeof(err));
	CHECKF(seen.bad == 1, "list verify found %d bad entries", seen.bad);
	for (int i = 0; i < seen.n && i < 64; i++)
		if (!strcmp(seen.names[i], "demo-1.0-py3-none-any.whl"))
			CHECKF(seen.status[i] == SPOKE_E_HASH &&
			      strstr(seen.msg[i], "file3.py"), "list verify: "
			      "%d %s", seen.status[i], seen.msg[i]);
	store_remove(s, key, err, sizeof(err));
	CHECKF(store_lookup_key(s, key) == -ENOENT, "removed");
	CHECKF(store_lookup_name(s, "demo-1.0-py3-none-any.whl", key) ==
	      -ENOENT, "index of removed entry");
	CHECKF(!store_lookup_name(s, "race-2.0-py3-none-any.whl", key), "race");
	edit(key, "race-2.0/mod0/extra.py", "w");
	CHECKF(store_verify_entry(s, key, err, sizeof(err)) == SPOKE_E_HASH &&
	      strstr(err, "extra.py: file not in RECORD"), "extra: %s", err);
	edit(key, "race-2.0/mod0/extra.py", "rm");
	edit(key, "race-2.0/mod4/file4.py", "rm");
	CHECKF(store_verify_entry(s, key, err, sizeof(err)) == SPOKE_E_HASH &&
	      strstr(err, "file4.py: missing"), "missing: %s", err);
	edit(key, "race-2.0/mod5/file5.py", "a");
	store_close(s);
}

static int test_real(struct pool *pool)
{
	const char *dir = "/usr/share/python-wheels";
	struct unpack_opts o = { .verify = 1, .pool = pool };
	struct store *s = open_store(1);
	struct seen seen = { 0 };
	struct dirent *de;
	int added = 0;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)) != NULL) {
		struct store_add_result r;
		char path[4200];

		if (!strstr(de->d_name, ".whl"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		CHECKF(!store_add(s, path, &o, &r, err, sizeof(err)), "%s", err);
		CHECKF(!r.existed && r.st.files > 10, "%s: %llu files", path,
		      (unsigned long long)r.st.files);
		CHECKF(!store_verify_entry(s, r.key, err, sizeof(err)),
		      "verify %s: %s", de->d_name, err);
		added++;
	}
	if (d)
		closedir(d);
	store_list(s, 0, on_entry, &seen, err, sizeof(err));
	CHECKF(seen.n >= added, "list after real adds");
	store_close(s);
	return added;
}

static int refuse(void *user, const char *dir, char *e, size_t elen)
{
	struct stat st;

	/* Called on the complete unpacked tree, before publishing. */
	CHECKF(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	      strstr(dir, "/tmp/"), "check on %s", dir);
	++*(int *)user;
	snprintf(e, elen, "refused by the check");
	return SPOKE_E_BADWHEEL;
}

/* Cause 4: an entry added without verification is never served to a
 * verifying caller, however it was damaged; and verify sees modes. */
static void test_unverified(struct pool *pool)
{
	struct unpack_opts o = { .verify = 0, .pool = pool };
	struct store_add_result r;
	struct store *s = open_store(1);
	struct seen seen = { 0 };
	char whl[4200], path[4200], key[65];
	int fd, verified = -1, calls = 0, base = count_dir("tmp");
	unsigned char c;

	snprintf(whl, sizeof(whl), "%s/uv-1.0-py3-none-any.whl", root);
	make_wheel(whl, "uv-1.0", 5, 1000, 3);
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)), "%s", err);
	CHECKF(!r.verified && !r.existed, "no-verify add: verified %d",
	      r.verified);
	memcpy(key, r.key, sizeof(key));
	CHECKF(store_lookup_key(s, key) == -ENOENT &&
	      !store_lookup_any(s, key, &verified) && verified == 0,
	      "unverified entry looks verified");
	store_list(s, 0, on_entry, &seen, err, sizeof(err));
	CHECKF(seen.n >= 1, "list");
	for (int i = 0; i < seen.n && i < 64; i++)
		if (!strcmp(seen.names[i], "uv-1.0-py3-none-any.whl"))
			CHECKF(!strcmp(seen.msg[i], "unverified"),
			      "list says '%s'", seen.msg[i]);
	/* Same size, other bytes. */
	snprintf(path, sizeof(path), "%s/archive-v2/%s.unverified/uv-1.0/"
		 "mod1/file1.py", cache, key);
	fd = open(path, O_RDWR);
	CHECKF(fd >= 0 && pread(fd, &c, 1, 0) == 1, "open %s", path);
	c ^= 1;
	CHECKF(pwrite(fd, &c, 1, 0) == 1 && close(fd) == 0, "tamper");
	CHECKF(store_verify_state(s, key, 0, err, sizeof(err)) ==
	      SPOKE_E_HASH && strstr(err, "uv-1.0/mod1/file1.py") &&
	      strstr(err, ".unverified"), "verify of tampered: %s", err);
	/* A non-verifying add trusts it (that is what --no-verify means)... */
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)) && r.existed &&
	      !r.verified, "no-verify re-add");
	/* ... a verifying one unpacks the wheel again, verified. */
	o.verify = 1;
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)), "%s", err);
	CHECKF(r.verified && !r.existed && r.st.files > 0, "verifying add "
	      "used the unverified entry (verified %d existed %d)",
	      r.verified, r.existed);
	CHECKF(!store_lookup_key(s, key), "no verified entry");
	CHECKF(!store_verify_state(s, key, 1, err, sizeof(err)), "verified "
	      "entry does not verify: %s", err);
	/* From now on everyone gets the verified entry. */
	o.verify = 0;
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)) && r.existed &&
	      r.verified, "no-verify add after repair");
	/* A mode changed through a hardlink shows in verify. */
	snprintf(path, sizeof(path), "%s/archive-v2/%s/uv-1.0/mod2/file2.py",
		 cache, key);
	CHECKF(chmod(path, 0600) == 0, "chmod");
	CHECKF(store_verify_entry(s, key, err, sizeof(err)) == SPOKE_E_HASH &&
	      strstr(err, "mod2/file2.py") && strstr(err, "mode 0600"),
	      "mode change not seen: %s", err);
	CHECKF(chmod(path, 0666) == 0, "chmod");
	CHECKF(store_verify_entry(s, key, err, sizeof(err)) == SPOKE_E_HASH &&
	      strstr(err, "mode 0666"), "mode change not seen: %s", err);
	CHECKF(chmod(path, 0644) == 0, "chmod");
	CHECKF(!store_verify_entry(s, key, err, sizeof(err)), "%s", err);
	/* The check refuses: nothing published, no index, no temporary. */
	snprintf(whl, sizeof(whl), "%s/cb-1.0-py3-none-any.whl", root);
	make_wheel(whl, "cb-1.0", 3, 100, 4);
	o = (struct unpack_opts){ .verify = 1, .check = refuse,
				  .check_user = &calls };
	CHECKF(store_add(s, whl, &o, &r, err, sizeof(err)) ==
	      SPOKE_E_BADWHEEL && strstr(err, "refused") && calls == 1,
	      "check not applied: %s", err);
	CHECKF(store_lookup_any(s, r.key, &verified) == -ENOENT &&
	      store_lookup_name(s, "cb-1.0-py3-none-any.whl", key) ==
	      -ENOENT && count_dir("tmp") == base, "refused wheel left "
	      "traces (tmp %d, was %d)", count_dir("tmp"), base);
	store_close(s);
}

/* Issue 13 item 1: a wheel hashed before is not read again while its
 * device, inode, size, mtime and ctime are unchanged; any change, even one
 * that keeps the size and restores the mtime, means hashing again. */
static void test_hash_record(struct pool *pool)
{
	struct unpack_opts o = { .verify = 1, .pool = pool };
	struct store_add_result r1, r;
	struct store *s = open_store(1);
	struct timespec times[2];
	char whl[4200], tmp[4300], wrong[65];
	struct stat st, st2;
	unsigned char c;
	int fd;

	snprintf(whl, sizeof(whl), "%s/hr-1.0-py3-none-any.whl", root);
	make_wheel(whl, "hr-1.0", 4, 2000, 11);
	/* Records are only kept for files whose ctime has settled. */
	usleep(2200 * 1000);
	CHECKF(!store_add(s, whl, &o, &r1, err, sizeof(err)), "%s", err);
	CHECKF(!r1.hash_cached, "first add used a record");
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)), "%s", err);
	CHECKF(r.hash_cached && !strcmp(r.key, r1.key), "second add hashed "
	      "the wheel again (hash_cached %d)", r.hash_cached);
	/* The expected digest, right and wrong. */
	o.expect_key = r1.key;
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)) && r.hash_cached,
	      "expected key: %s", err);
	memcpy(wrong, r1.key, sizeof(wrong));
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	o.expect_key = wrong;
	CHECKF(store_add(s, whl, &o, &r, err, sizeof(err)) == SPOKE_E_HASH &&
	      strstr(err, r1.key) && strstr(err, wrong), "wrong expected "
	      "key: %s", err);
	o.expect_key = "XYZ";
	CHECKF(store_add(s, whl, &o, &r, err, sizeof(err)) == SPOKE_E_USAGE,
	      "malformed expected key: %s", err);
	/* Rewritten in place: same size, mtime restored. Only ctime tells. */
	CHECKF(stat(whl, &st) == 0, "stat");
	fd = open(whl, O_RDWR);
	CHECKF(fd >= 0 && pread(fd, &c, 1, st.st_size / 2) == 1, "open");
	c ^= 0x20;
	CHECKF(pwrite(fd, &c, 1, st.st_size / 2) == 1, "pwrite");
	times[0] = st.st_atim;
	times[1] = st.st_mtim;
	CHECKF(futimens(fd, times) == 0 && close(fd) == 0, "futimens");
	CHECKF(stat(whl, &st2) == 0 && st2.st_size == st.st_size &&
	      st2.st_mtim.tv_sec == st.st_mtim.tv_sec &&
	      st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec &&
	      st2.st_ino == st.st_ino, "touch -r did not restore");
	o.expect_key = r1.key;
	CHECKF(store_add(s, whl, &o, &r, err, sizeof(err)) == SPOKE_E_HASH &&
	      !r.hash_cached && strstr(err, r1.key), "a rewritten wheel "
	      "passed as the old one: %s", err);
	/* Put the old bytes back under a new inode (mtime restored too):
	 * hashed again, and the key is the old one. */
	c ^= 0x20;
	snprintf(tmp, sizeof(tmp), "%s.new", whl);
	{
		FILE *in = fopen(whl, "rb"), *out = fopen(tmp, "wb");
		char *buf = malloc((size_t)st.st_size);

		CHECKF(in && out && buf && fread(buf, 1, (size_t)st.st_size,
		      in) == (size_t)st.st_size, "copy");
		buf[st.st_size / 2] = (char)c;
		CHECKF(fwrite(buf, 1, (size_t)st.st_size, out) ==
		      (size_t)st.st_size && fclose(out) == 0, "copy");
		fclose(in);
		free(buf);
	}
	CHECKF(utimensat(AT_FDCWD, tmp, times, 0) == 0 &&
	      rename(tmp, whl) == 0, "replace");
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)) &&
	      !r.hash_cached && !strcmp(r.key, r1.key), "replaced wheel: %s",
	      err);
	store_close(s);
}

static void test_clean(struct pool *pool)
{
	struct unpack_opts o = { .verify = 1, .pool = pool };
	struct store *s = open_store(1);
	char whl[4200];
	int fd;

	/* Something unwritable, something deep, a stray temporary. */
	fd = openat(s->tmpfd, "x", O_CREAT | O_WRONLY, 0);
	close(fd);
	CHECKF(mkdirat(s->tmpfd, "ro", 0755) == 0, "mkdir ro");
	close(openat(s->tmpfd, "ro/f", O_CREAT | O_WRONLY, 0644));
	fchmodat(s->tmpfd, "ro", 0500, 0);
	CHECKF(!store_clean(s, err, sizeof(err)), "clean: %s", err);
	CHECKF(count_dir("archive-v2") == 0 && count_dir("index-v1") == 0 &&
	      count_dir("tmp") == 0, "clean left something");
	{
		struct dirent *de;
		DIR *d = opendir(cache);

		while ((de = readdir(d)) != NULL)
			CHECKF(strncmp(de->d_name, ".trash-", 7), "trash left");
		closedir(d);
	}
	snprintf(whl, sizeof(whl), "%s/demo-1.0-py3-none-any.whl", root);
	CHECKF(!store_add(s, whl, &o, NULL, err, sizeof(err)),
	      "add after clean: %s", err);
	store_close(s);
	s = open_store(0);
	CHECKF(!store_clean(s, err, sizeof(err)), "clean: %s", err);
	store_close(s);
}

/* Fail the Nth fault point (any io op or allocation) of an add, for every
 * N: each run must fail cleanly with a message or succeed, leave no
 * temporary behind, and a published entry must verify. */
static void test_fault_sweep(void)
{
	struct unpack_opts o = { .verify = 1 };
	struct store_add_result r;
	char whl[4200], spec[64], ferr[256];
	struct store *s = open_store(1);
	uint64_t calls;
	int failures = 0, base = count_dir("tmp");

	snprintf(whl, sizeof(whl), "%s/sweep-1.0-py3-none-any.whl", root);
	make_wheel(whl, "sweep-1.0", 6, 500, 9);
	io_fault_count_start();
	CHECKF(!store_add(s, whl, &o, &r, err, sizeof(err)), "%s", err);
	calls = io_fault_calls();
	io_fault_arm(NULL, ferr, sizeof(ferr));
	CHECKF(calls > 20, "only %llu fault points", (unsigned long long)calls);
	for (uint64_t n = 1; n <= calls + 1; n++) {
		int ret;

		CHECKF(!store_remove(s, r.key, err, sizeof(err)) ||
		      store_lookup_key(s, r.key) == -ENOENT, "reset: %s", err);
		snprintf(spec, sizeof(spec), "any:%llu:EIO",
			 (unsigned long long)n);
		CHECKF(!io_fault_arm(spec, ferr, sizeof(ferr)), "%s", ferr);
		err[0] = '\0';
		ret = store_add(s, whl, &o, NULL, err, sizeof(err));
		io_fault_arm(NULL, ferr, sizeof(ferr));
		CHECKF(!ret || (ret < 0 && err[0]), "fault %s: %d without a "
		      "message", spec, ret);
		CHECKF(count_dir("tmp") == base, "fault %s left a temporary "
		      "(%s)", spec, err);
		if (!store_lookup_key(s, r.key))
			CHECKF(!store_verify_entry(s, r.key, err, sizeof(err)),
			      "fault %s: published entry fails verify: %s",
			      spec, err);
		failures += ret != 0;
	}
	CHECKF(failures > 0, "no injected fault made add fail");
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "t_store: fault sweep: %llu points, %d "
			"failures\n", (unsigned long long)calls, failures);
	store_remove(s, r.key, err, sizeof(err));
	store_close(s);
}

int main(void)
{
	struct pool *pool;
	int real;

	umask(022);
	CHECKF(mkdtemp(root), "mkdtemp");
	snprintf(cache, sizeof(cache), "%s/cache/spoke", root);
	test_location();
	/* Forking tests first, while this process has one thread: a child
	 * of a threaded process must not start threads (TSan insists). */
	test_add(NULL);
	test_concurrent();
	test_prune();
	test_fault_sweep();
	CHECKF(!pool_create(&pool, 2), "pool");
	test_verify();
	real = test_real(pool);
	test_unverified(pool);
	test_hash_record(pool);
	test_clean(pool);
	pool_free(pool);
	store_remove_tree(AT_FDCWD, root);
	if (!real) {
		fprintf(stderr, "t_store: skip: no wheels in "
			"/usr/share/python-wheels (synthetic tests passed)\n");
		return 77;
	}
	return 0;
}
