/* SPDX-License-Identifier: MIT */
/*
 * t_zip - the zip reader and the unpacker against archives built in-process
 * by a small zip writer that can also lie: every header field the reader
 * checks can be set wrong on purpose, so each rejection is reached with an
 * archive that is otherwise valid. Valid archives cover stored, deflate,
 * zstd (method 93), ZIP64 records and extras, data descriptors, comments and
 * exec bits; unpack tests cover RECORD checking, modes, the streamed
 * inflate path, the pool and an injected write failure.
 *
 * "t_zip --corpus DIR" writes the crafted archives to DIR instead (the seed
 * corpus of tests/fuzz/fuzz_zip.c). Exit 0 pass, 1 fail (reason on stderr).
 */
#include "cache/record.h"
#include "cache/store.h"
#include "cache/unpack.h"
#include "cache/zip.h"
#include "base/pool.h"
#include "base/fault.h"
#include "io/backend.h"
#include "spoke.h"
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "zipw.h"

/* ---- helpers --------------------------------------------------------------- */

static char err[2048];

/* Build an archive of n entries and open it; returns the open result. */
static int build(struct zw *w, const struct zent *e, size_t n, int zip64,
		 const char *comment, struct zip **z)
{
	*w = (struct zw){ 0 };
	for (size_t i = 0; i < n; i++)
		zw_add(w, &e[i]);
	zw_finish(w, zip64, comment);
	err[0] = '\0';
	return zip_open_mem(z, w->out.p, w->out.len, "test.whl", err,
			    sizeof(err));
}

static int extract_cmp(struct zip *z, size_t i, const void *data, size_t len)
{
	char *b;
	size_t n;
	int ret = zip_extract_alloc(z, &z->ent[i], 1 << 30, &b, &n, err,
				    sizeof(err));

	if (ret)
		return ret;
	CHECKF(n == len && !memcmp(b, data, len), "%s: content differs",
	      z->ent[i].name);
	free(b);
	return 0;
}

/* An archive that must open but fail extraction of entry 0 with code. */
static void expect_extract_fail(const struct zent *e, size_t n, int code,
				const char *what, int line)
{
	struct zw w;
	struct zip *z;
	char *b;
	size_t len;
	int ret = build(&w, e, n, 0, NULL, &z);

	if (ret)
		DIE(line, "%s: open failed: %s", what, err);
	ret = zip_extract_alloc(z, &z->ent[0], 1 << 30, &b, &len, err,
				sizeof(err));
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "t_zip:%d: %s\n", line, err);
	if (ret != code)
		DIE(line, "%s: extract returned %d, want %d (%s)", what, ret,
		    code, err);
	if (!strstr(err, e[0].name) || !strstr(err, "test.whl"))
		DIE(line, "%s: message '%s' does not name the entry", what,
		    err);
	zip_close(z);
	free(w.out.p);
}

static void expect_open_fail(const struct zent *e, size_t n, int zip64,
			     int code, const char *name, const char *needle,
			     int line)
{
	struct zw w;
	struct zip *z = NULL;
	int ret = build(&w, e, n, zip64, NULL, &z);

	if (getenv("T_VERBOSE"))
		fprintf(stderr, "t_zip:%d: %s\n", line, err);
	if (ret != code)
		DIE(line, "open returned %d, want %d (%s)", ret, code, err);
	if (name && !strstr(err, name))
		DIE(line, "message '%s' does not name '%s'", err, name);
	if (needle && !strstr(err, needle))
		DIE(line, "message '%s' lacks '%s'", err, needle);
	CHECKF(z == NULL, "failed open left a zip");
	free(w.out.p);
}

static char *pattern(size_t n, unsigned seed)
{
	char *p = malloc(n + 1);

	/* Compressible but not trivially: words with a counter. */
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)((i % 64 < 40) ? "abcdefgh"[(i / 7) % 8] :
			      (char)(32 + ((seed >> 16) % 90)));
	}
	p[n] = '\0';
	return p;
}

/* ---- zip-level tests --------------------------------------------------- */

/* bigsz: 3 MiB exercises chunking and zstd streaming; a small one keeps
 * the archive small enough for the fuzz corpus. */
static void test_valid(size_t bigsz)
{
	char *big = pattern(bigsz, 1), *small = pattern(1000, 2);
	struct zent e[] = {
		{ .name = "pkg/", .mode = 040755 },
		{ .name = "pkg/stored.txt", .data = small, .len = 1000,
		  .method = 0, .mode = 0100644 },
		{ .name = "pkg/deflate.txt", .data = big, .len = bigsz,
		  .method = 8, .mode = 0100755 },
		{ .name = "pkg/zstd.bin", .data = big, .len = bigsz,
		  .method = 93, .mode = 0100644 },
		{ .name = "pkg/empty", .data = "", .len = 0, .method = 8 },
		{ .name = "pkg/empty.zst", .data = "", .len = 0, .method = 93 },
		{ .name = "pkg/desc.txt", .data = small, .len = 1000,
		  .method = 8, .descriptor = 1, .mode = 0100644 },
		{ .name = "pkg/dos_exec", .data = small, .len = 10,
		  .host = -1, .mode = 0100755 },
		{ .name = "pkg/noreg_exec", .data = small, .len = 10,
		  .mode = 0755 },
		{ .name = "pkg/ntfs_plain", .data = small, .len = 10,
		  .host = 10 },
	};
	struct zw w;
	struct zip *z;
	int ret;

	for (int zip64 = 0; zip64 < 2; zip64++) {
		struct zent e64[10];

		memcpy(e64, e, sizeof(e));
		for (int i = 0; i < 10; i++)
			e64[i].zip64 = zip64;
		ret = build(&w, e64, 10, zip64, zip64 ? NULL : "a comment", &z);
		CHECKF(!ret, "valid archive (zip64=%d): %s", zip64, err);
		CHECKF(z->n == 10, "entry count %zu", z->n);
		CHECKF(z->ent[0].is_dir && !z->ent[1].is_dir, "dir flags");
		CHECKF(!z->ent[1].exec && z->ent[2].exec, "exec bits");
		/* pip reads the bits whatever the "made by" host. */
		CHECKF(z->ent[7].exec, "exec bit from a DOS host ignored");
		CHECKF(!z->ent[9].exec, "exec bit from zero attributes");
		CHECKF(!z->ent[8].exec, "exec bit without S_IFREG");
		CHECKF(z->ent[2].size == bigsz, "zip64 size");
		CHECKF(!extract_cmp(z, 1, small, 1000), "stored: %s", err);
		CHECKF(!extract_cmp(z, 2, big, bigsz), "deflate: %s", err);
		CHECKF(!extract_cmp(z, 3, big, bigsz), "zstd: %s", err);
		CHECKF(!extract_cmp(z, 4, "", 0), "empty deflate: %s", err);
		CHECKF(!extract_cmp(z, 5, "", 0), "empty zstd: %s", err);
		CHECKF(!extract_cmp(z, 6, small, 1000), "descriptor: %s", err);
		CHECKF(zip_find(z, "pkg/zstd.bin") == 3, "zip_find");
		CHECKF(zip_find(z, "pkg/nope") == -1, "zip_find missing");
		zip_close(z);
		free(w.out.p);
	}
	free(big);
	free(small);
}

static void test_rejects(void)
{
	const char *d = "hello, world\n";
	struct zent ok = { .name = "a.txt", .data = d, .len = 13 };
	struct zent e[3];
	struct zw w;
	struct zip *z;

	/* encrypted */
	e[0] = ok;
	e[0].flags = 1;
	expect_open_fail(e, 1, 0, SPOKE_E_BADWHEEL, "a.txt", "encrypted",
			 __LINE__);
	/* unknown method (bzip2) */
	e[0] = ok;
	e[0].hdr_method = 12;
	expect_open_fail(e, 1, 0, SPOKE_E_BADWHEEL, "a.txt", "method 12",
			 __LINE__);
	/* local offset out of range */
	e[0] = ok;
	e[0].off = 1 << 20;
	expect_open_fail(e, 1, 0, SPOKE_E_BADWHEEL, "a.txt", "out of range",
			 __LINE__);
	/* a stored entry that claims more data than it has reaches into
	 * the next entry's header */
	e[0] = ok;
	e[0].size_adj = 20;
	e[1] = ok;
	e[1].name = "b.txt";
	expect_open_fail(e, 2, 0, SPOKE_E_BADWHEEL, "b.txt", "overlaps",
			 __LINE__);
	/* two central entries sharing one local header: the second one's
	 * local name is the first's */
	e[0] = ok;
	e[1] = ok;
	e[1].name = "b.txt";
	e[1].same_off = 1;
	expect_open_fail(e, 2, 0, SPOKE_E_BADWHEEL, "b.txt", "local header",
			 __LINE__);
	/* local name differs */
	e[0] = ok;
	e[0].local_name = "evil.txt";
	expect_open_fail(e, 1, 0, SPOKE_E_BADWHEEL, "a.txt", "local header",
			 __LINE__);
	/* names */
	static const struct {
		const char *name;
		size_t len;
		const char *why;
	} bad[] = {
		{ "../evil", 0, "'..'" },
		{ "a/../../evil", 0, "'..'" },
		{ "/etc/passwd", 0, "absolute" },
		{ "C:/x", 0, "drive" },
		{ "a\\b", 0, "backslash" },
		{ "a\0b", 3, "NUL" },
		{ "a//b", 0, "empty path component" },
		{ "./a", 0, "'.'" },
		{ "pkg/a\x1b[2Jb.py", 0, "control character" },
		{ "pkg/a\rb.py", 0, "control character" },
		{ "pkg/a\x7f" "b.py", 0, "control character" },
		{ "pkg/a\xc2\x9b" "b.py", 0, "control character" },
		{ "pkg/\xff\xfe.py", 0, "not valid UTF-8" },
		{ "pkg/\xc3(.py", 0, "not valid UTF-8" },
	};
	{
		static char deep[1200], longc[300], huge[5000];

		for (int i = 0; i < 257; i++)
			memcpy(deep + 2 * i, "d/", 2);
		deep[2 * 257 - 1] = '\0';
		memset(longc, 'c', 256);
		memset(huge, 'h', 4096);
		e[0] = ok;
		e[0].name = deep;
		expect_open_fail(e, 1, 0, SPOKE_E_UNSAFE_PATH, NULL, "too deep",
				 __LINE__);
		e[0].name = longc;
		expect_open_fail(e, 1, 0, SPOKE_E_UNSAFE_PATH, NULL,
				 "component too long", __LINE__);
		e[0].name = huge;
		expect_open_fail(e, 1, 0, SPOKE_E_UNSAFE_PATH, NULL,
				 "name too long", __LINE__);
		deep[2 * 256 - 1] = '\0';
		e[0].name = deep;
		CHECKF(!build(&w, e, 1, 0, NULL, &z), "256 levels: %s", err);
		zip_close(z);
		free(w.out.p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e[0] = ok;
		e[0].name = bad[i].name;
		e[0].name_len = bad[i].len;
		expect_open_fail(e, 1, 0, SPOKE_E_UNSAFE_PATH, NULL,
				 bad[i].why, __LINE__);
	}
	/* duplicates, case folding, file versus directory */
	e[0] = ok;
	e[1] = ok;
	expect_open_fail(e, 2, 0, SPOKE_E_BADWHEEL, "a.txt", "duplicate",
			 __LINE__);
	e[0] = ok;
	e[0].name = "pkg/Foo.py";
	e[1] = ok;
	e[1].name = "pkg/foo.py";
	expect_open_fail(e, 2, 0, SPOKE_E_CONFLICT, "pkg/Foo.py",
			 "pkg/foo.py", __LINE__);
	e[0] = ok;
	e[0].name = "pkg";
	e[1] = ok;
	e[1].name = "pkg/x.py";
	expect_open_fail(e, 2, 0, SPOKE_E_CONFLICT, "pkg/x.py", "is a file",
			 __LINE__);
	e[0] = ok;
	e[0].name = "pkg";
	e[1] = (struct zent){ .name = "pkg/" };
	expect_open_fail(e, 2, 0, SPOKE_E_CONFLICT, "pkg", "both",
			 __LINE__);
	/* equal after NFC: U+00E9 versus "e" + U+0301, also as a parent */
	e[0] = ok;
	e[0].name = "pkg/caf\xc3\xa9.py";
	e[1] = ok;
	e[1].name = "pkg/cafe\xcc\x81.py";
	expect_open_fail(e, 2, 0, SPOKE_E_CONFLICT, "pkg/caf",
			 "Unicode normalisation", __LINE__);
	e[0] = ok;
	e[0].name = "caf\xc3\xa9";
	e[1] = ok;
	e[1].name = "cafe\xcc\x81/x.py";
	expect_open_fail(e, 2, 0, SPOKE_E_CONFLICT, "x.py", "is a file",
			 __LINE__);
	/* a rejected name is shown escaped: no raw control byte in err */
	e[0] = ok;
	e[0].name = "pkg/\x1b]0;owned\x07.py";
	expect_open_fail(e, 1, 0, SPOKE_E_UNSAFE_PATH, "\\x1b]0;owned",
			 "control character", __LINE__);
	for (const char *c = err; *c; c++)
		CHECKF((unsigned char)*c >= 0x20 && *c != 0x7f,
		       "raw control byte in '%s'", err);
	/* ZIP64 sizes saturated without the extra field they announce */
	e[0] = ok;
	e[0].zip64 = 1;
	{
		struct zw w2 = { 0 };

		zw_add(&w2, &e[0]);
		zw_finish(&w2, 0, NULL);
		/* the EOCD is fine, the central entry has its extra: valid */
		CHECKF(!zip_open_mem(&z, w2.out.p, w2.out.len, "test.whl", err,
				    sizeof(err)), "zip64 extra without zip64 "
		      "eocd: %s", err);
		zip_close(z);
		/* cut the extra's payload length to 8: too short */
		for (size_t i = w2.out.len - 22 - 28; i < w2.out.len - 22; i++)
			if (w2.out.p[i] == 1 && w2.out.p[i + 1] == 0 &&
			    w2.out.p[i + 2] == 24) {
				w2.out.p[i + 2] = 8;
				break;
			}
		CHECKF(zip_open_mem(&z, w2.out.p, w2.out.len, "test.whl", err,
				   sizeof(err)) == SPOKE_E_BADWHEEL &&
		      strstr(err, "a.txt") && strstr(err, "ZIP64"),
		      "short zip64 extra: %s", err);
		free(w2.out.p);
	}
	/* no end of central directory at all */
	CHECKF(zip_open_mem(&z, "PK\3\4 not really a zip file at all", 34,
			   "junk.whl", err, sizeof(err)) == SPOKE_E_BADWHEEL,
	      "junk accepted");
	/* truncated archives: head or tail cut off */
	build(&w, &ok, 1, 0, NULL, &z);
	zip_close(z);
	CHECKF(zip_open_mem(&z, w.out.p + 10, w.out.len - 10, "cut.whl", err,
			   sizeof(err)) == SPOKE_E_BADWHEEL, "head cut");
	CHECKF(zip_open_mem(&z, w.out.p, w.out.len - 5, "cut.whl", err,
			   sizeof(err)) == SPOKE_E_BADWHEEL, "tail cut");
	free(w.out.p);
	/* ZIP64 EOCD fields saturated but the locator is damaged */
	e[0] = ok;
	build(&w, e, 1, 1, NULL, &z);
	zip_close(z);
	w.out.p[w.out.len - 22 - 20] = 'X';
	CHECKF(zip_open_mem(&z, w.out.p, w.out.len, "test.whl", err,
			   sizeof(err)) == SPOKE_E_BADWHEEL &&
	      strstr(err, "locator"), "damaged zip64 locator: %s", err);
	free(w.out.p);
	/* a deflate entry claiming more than deflate can expand to */
	e[0] = ok;
	e[0].method = 8;
	e[0].usize_adj = 1 << 24;
	expect_open_fail(e, 1, 0, SPOKE_E_BADWHEEL, "a.txt", "impossible",
			 __LINE__);
	/* extraction-time failures */
	e[0] = ok;
	e[0].bad_crc = 1;
	expect_extract_fail(e, 1, SPOKE_E_BADWHEEL, "crc", __LINE__);
	CHECKF(strstr(err, "CRC"), "crc message: %s", err);
	e[0] = ok;
	e[0].method = 8;
	e[0].data = pattern(5000, 3);
	e[0].len = 5000;
	e[0].truncate = 10;
	expect_extract_fail(e, 1, SPOKE_E_BADWHEEL, "truncated deflate",
			    __LINE__);
	e[0].method = 93;
	expect_extract_fail(e, 1, SPOKE_E_BADWHEEL, "truncated zstd",
			    __LINE__);
	e[0].truncate = 0;
	e[0].size_adj = 0;
	e[0].bad_crc = 0;
	free((void *)e[0].data);
}

/* ---- unpack ---------------------------------------------------------------- */

static char tmpdir[] = "/tmp/t_zip.XXXXXX";

/* Unpack into a fresh tmpdir; fault (may be NULL) is armed only around
 * the unpack itself. */
static int unpack_into(struct zw *w, const struct unpack_opts *o, int *dfd,
		       const char *fault)
{
	struct zip *z;
	char ferr[256];
	int ret;

	store_remove_tree(AT_FDCWD, tmpdir);
	CHECKF(mkdir(tmpdir, 0755) == 0, "mkdir %s: %s", tmpdir,
	      strerror(errno));
	*dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
	CHECKF(*dfd >= 0, "open %s", tmpdir);
	err[0] = '\0';
	ret = zip_open_mem(&z, w->out.p, w->out.len, "pkg-1.0-py3-none-any.whl",
			   err, sizeof(err));
	CHECKF(!io_fault_arm(fault, ferr, sizeof(ferr)), "arm: %s", ferr);
	if (!ret)
		ret = unpack_wheel(z, *dfd, o, NULL, err, sizeof(err));
	io_fault_arm(NULL, ferr, sizeof(ferr));
	zip_close(z);
	return ret;
}

/* io_uring usable here (not refused by sysctl or seccomp)? */
static int have_uring(void)
{
	static int known = -1;
	struct io_backend *b;

	if (known < 0) {
		known = io_backend_uring_create(&b, 0) == 0;
		if (known)
			io_backend_destroy(b);
	}
	return known;
}

static void check_file(int dfd, const char *name, const char *data,
		       size_t len, mode_t mode)
{
	struct stat st;
	char *b = malloc(len + 1);
	int fd = openat(dfd, name, O_RDONLY);

	CHECKF(fd >= 0, "%s missing after unpack", name);
	CHECKF(fstat(fd, &st) == 0 && (size_t)st.st_size == len, "%s size",
	      name);
	CHECKF((st.st_mode & 07777) == mode, "%s mode %o, want %o", name,
	      st.st_mode & 07777, mode);
	CHECKF(read(fd, b, len + 1) == (ssize_t)len && !memcmp(b, data, len),
	      "%s content", name);
	close(fd);
	free(b);
}

static void test_unpack(void)
{
	char *big = pattern(2 << 20, 7);
	struct wfile f[] = {
		{ "pkg/__init__.py", "print('hi')\n", 12, 8, 0 },
		{ "pkg/big.dat", big, 2 << 20, 8, 0 },
		{ "pkg/tool", "#!/bin/sh\n", 10, 0, 0100755 },
		{ "pkg/z.bin", big, 100000, 93, 0 },
		{ "pkg/sub/deep/x.txt", "x", 1, 8, 0 },
		{ "pkg-1.0.dist-info/METADATA", "Name: pkg\n", 10, 8, 0 },
	};
	size_t nf = sizeof(f) / sizeof(f[0]);
	struct unpack_opts o = { .verify = 1 };
	struct pool *pool = NULL;
	struct zw w;
	int dfd, ret;
	static const struct {
		enum tamper t;
		int code;
		const char *needle;
	} bad[] = {
		{ T_HASH, SPOKE_E_HASH, "pkg/__init__.py: sha256 mismatch" },
		{ T_SIZE, SPOKE_E_HASH, "pkg/__init__.py: size 12 differs" },
		{ T_MISSING_ROW, SPOKE_E_BADWHEEL,
		  "pkg/__init__.py: file is not listed in RECORD" },
		{ T_EXTRA_ROW, SPOKE_E_BADWHEEL,
		  "pkg/ghost.py: listed in RECORD but not in the wheel" },
		{ T_NOHASH, SPOKE_E_BADWHEEL, "pkg/__init__.py: RECORD has no "
		  "hash" },
		{ T_TWO_DISTINFO, SPOKE_E_BADWHEEL, "more than one .dist-info" },
		{ T_NO_RECORD, SPOKE_E_BADWHEEL, "RECORD: missing" },
		{ T_BAD_RECORD, SPOKE_E_BADWHEEL, "RECORD line 1" },
	};

	CHECKF(mkdtemp(tmpdir), "mkdtemp");
	CHECKF(pool_create(&pool, 2) == 0, "pool_create");
	for (int mode = 0; mode < 6; mode++) {
		/* inline; pool; every deflate entry streamed; verify off;
		 * io_uring batches inline and on the pool */
		if (mode >= 4 && !have_uring())
			break;
		o.pool = mode == 1 || mode == 2 || mode == 5 ? pool : NULL;
		o.stream_min = mode == 2 ? 1 : 0;
		o.verify = mode != 3;
		o.io = mode >= 4 ? IO_CHOICE_URING : IO_CHOICE_AUTO;
		build_wheel(&w, f, nf, T_NONE);
		ret = unpack_into(&w, &o, &dfd, NULL);
		CHECKF(!ret, "unpack mode %d: %s", mode, err);
		for (size_t i = 0; i < nf; i++)
			check_file(dfd, f[i].name, f[i].data, f[i].len,
				   f[i].mode == 0100755 ? 0755 : 0644);
		close(dfd);
		free(w.out.p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = (struct unpack_opts){ .verify = 1, .pool = pool };
		build_wheel(&w, f, nf, bad[i].t);
		ret = unpack_into(&w, &o, &dfd, NULL);
		if (getenv("T_VERBOSE"))
			fprintf(stderr, "t_zip: tamper %d: %s\n", bad[i].t,
				err);
		CHECKF(ret == bad[i].code, "tamper %d: got %d (%s), want %d",
		      bad[i].t, ret, err, bad[i].code);
		CHECKF(strstr(err, bad[i].needle) &&
		      strstr(err, "pkg-1.0-py3-none-any.whl"),
		      "tamper %d: message '%s' lacks '%s'", bad[i].t, err,
		      bad[i].needle);
		close(dfd);
		free(w.out.p);
	}
	/* Without verify, a hash mismatch goes unnoticed: trust the source. */
	o = (struct unpack_opts){ .verify = 0 };
	build_wheel(&w, f, nf, T_HASH);
	CHECKF(!unpack_into(&w, &o, &dfd, NULL), "no-verify: %s", err);
	close(dfd);
	free(w.out.p);
	/* An injected write failure names the entry and the errno. */
	o = (struct unpack_opts){ .verify = 1 };
	build_wheel(&w, f, nf, T_NONE);
	ret = unpack_into(&w, &o, &dfd, "write:2:ENOSPC");
	CHECKF(ret == -ENOSPC && strstr(err, "pkg/big.dat") &&
	      strstr(err, "No space"), "injected ENOSPC: %d %s", ret, err);
	close(dfd);
	free(w.out.p);
	/* An already existing file is not overwritten. */
	build_wheel(&w, f, nf, T_NONE);
	ret = unpack_into(&w, &o, &dfd, "open:1:EEXIST");
	CHECKF(ret == -EEXIST && strstr(err, "create"), "EEXIST: %s", err);
	close(dfd);
	free(w.out.p);
	/* The same through io_uring batches: the failing step and file are
	 * named. Inline, pkg/big.dat runs first (not batched: 2 MiB, eight
	 * writes, one open), then the batch in archive order. */
	o = (struct unpack_opts){ .verify = 1, .io = IO_CHOICE_URING };
	for (int k = 0; k < 3 && have_uring(); k++) {
		static const char *const spec[] = { "write:9:ENOSPC",
			"open:2:EEXIST", "open:4:EACCES" };
		static const char *const want[] = {
			"pkg/__init__.py: write: No space",
			"pkg/__init__.py: create: File exists",
			"pkg/z.bin: create: Permission denied" };

		build_wheel(&w, f, nf, T_NONE);
		ret = unpack_into(&w, &o, &dfd, spec[k]);
		CHECKF(ret < 0 && strstr(err, want[k]), "uring %s: %d %s",
		       spec[k], ret, err);
		close(dfd);
		free(w.out.p);
	}
	/* A RECORD mismatch in a batch is found before anything of the
	 * batch is written. */
	build_wheel(&w, f, nf, T_HASH);
	ret = unpack_into(&w, &o, &dfd, NULL);
	CHECKF(!have_uring() || (ret == SPOKE_E_HASH &&
	       faccessat(dfd, "pkg/__init__.py", F_OK, 0) < 0),
	       "uring hash mismatch: %d %s", ret, err);
	close(dfd);
	free(w.out.p);
	pool_free(pool);
	store_remove_tree(AT_FDCWD, tmpdir);
	free(big);
}

/* Entries (not counting . and ..) directly in tmpdir. */
static int tmp_entries(void)
{
	struct dirent *de;
	DIR *d = opendir(tmpdir);
	int n = 0;

	CHECKF(d, "opendir %s", tmpdir);
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* Entries plus an empty pkg-1.0.dist-info/RECORD (enough with verify off),
 * unpacked by unpack_into. */
static int unpack_entries(struct zent *e, size_t n, int zip64,
			  const struct unpack_opts *o)
{
	struct zent rec = { .name = "pkg-1.0.dist-info/RECORD", .data = "",
			    .zip64 = zip64 };
	struct zw w = { 0 };
	int dfd, ret;

	for (size_t i = 0; i < n; i++)
		zw_add(&w, &e[i]);
	zw_add(&w, &rec);
	zw_finish(&w, zip64, NULL);
	ret = unpack_into(&w, o, &dfd, NULL);
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "t_zip: budget: %d %s\n", ret, err);
	close(dfd);
	free(w.out.p);
	return ret;
}

/* Size budget and ratio guard, for every method, before any byte is
 * written; the bombs are made small and the limits lowered to match. */
static void test_budget(void)
{
	size_t zn = 8 << 20, rn = 1100 << 10;
	char *zeros = calloc(1, zn), *rnd = malloc(rn);
	struct unpack_opts o = { 0 };
	unsigned seed = 5;
	struct zent e[2];
	int ret;

	for (size_t i = 0; i < rn; i++) {
		seed = seed * 1103515245u + 12345u;
		rnd[i] = (char)(seed >> 16);
	}
	/* zstd: 8 MiB of zeros in a few hundred bytes; the ratio guard
	 * refuses it by default, with nothing written */
	e[0] = (struct zent){ .name = "pkg/bomb.bin", .data = zeros,
			      .len = zn, .method = 93 };
	ret = unpack_entries(e, 1, 0, &o);
	CHECKF(ret == SPOKE_E_BADWHEEL && strstr(err, "pkg/bomb.bin") &&
	      strstr(err, "1032:1 ratio"), "zstd ratio: %d %s", ret, err);
	CHECKF(tmp_entries() == 0, "zstd bomb wrote something");
	/* ratio allowed, total budget 4 MiB: refused, limit in the message */
	o.max_ratio = UINT64_MAX;
	o.max_total = 4 << 20;
	ret = unpack_entries(e, 1, 0, &o);
	CHECKF(ret == SPOKE_E_BADWHEEL && strstr(err, "budget of 4194304") &&
	      strstr(err, "SPOKE_UNPACK_MAX"), "zstd budget: %d %s", ret, err);
	CHECKF(tmp_entries() == 0, "over-budget wheel wrote something");
	/* ... and within a 16 MiB budget the same wheel unpacks */
	o.max_total = 16 << 20;
	ret = unpack_entries(e, 1, 0, &o);
	CHECKF(!ret, "within budget: %s", err);
	/* deflate within its ratio (1.1 MB of data claiming 1 GiB) from a
	 * 1 MB wheel: the default budget refuses it before writing */
	o = (struct unpack_opts){ 0 };
	e[0] = (struct zent){ .name = "pkg/huge.bin", .data = rnd, .len = rn,
			      .method = 8, .usize_adj = (1 << 30) - (int64_t)rn };
	ret = unpack_entries(e, 1, 0, &o);
	CHECKF(ret == SPOKE_E_BADWHEEL && strstr(err, "pkg/huge.bin") &&
	      strstr(err, "budget of 268435456"), "deflate 1 GiB: %d %s", ret,
	      err);
	CHECKF(tmp_entries() == 0, "1 GiB entry wrote something");
	/* ZIP64: two zstd entries of 2^63 bytes each; the sum must not wrap
	 * even with the largest budget and no ratio guard */
	o = (struct unpack_opts){ .max_total = UINT64_MAX,
				  .max_ratio = UINT64_MAX };
	e[0] = (struct zent){ .name = "pkg/a.bin", .data = zeros, .len = 100,
			      .method = 93, .zip64 = 1,
			      .usize_adj = INT64_MIN };
	e[1] = e[0];
	e[1].name = "pkg/b.bin";
	ret = unpack_entries(e, 2, 1, &o);
	CHECKF(ret == SPOKE_E_BADWHEEL && strstr(err, "pkg/b.bin") &&
	      strstr(err, "budget"), "zip64 sizes: %d %s", ret, err);
	CHECKF(tmp_entries() == 0, "zip64 bomb wrote something");
	/* the archive's own name is shown escaped in every message */
	{
		struct zip *z;
		char *label = "evil\x1b[2J.whl";

		ret = zip_open_mem(&z, "PK\5\6", 4, label, err, sizeof(err));
		CHECKF(ret == SPOKE_E_BADWHEEL && strstr(err, "evil\\x1b[2J"),
		      "label not escaped: %s", err);
	}
	free(zeros);
	free(rnd);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--corpus"))
		corpus_dir = argv[2];
	umask(022);
	test_valid(3 << 20);
	test_valid(3000);
	test_rejects();
	if (!corpus_dir) {
		test_unpack();
		CHECKF(mkdir(tmpdir, 0755) == 0 || errno == EEXIST, "mkdir");
		test_budget();
		store_remove_tree(AT_FDCWD, tmpdir);
	}
	return 0;
}
