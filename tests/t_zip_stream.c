/* SPDX-License-Identifier: MIT */
/*
 * t_zip_stream - entries large enough to be streamed (deflate through zlib,
 * zstd through ZSTD_decompressStream, stored straight from the mapping),
 * read from a real file mapping whose pages the reader gives back as it
 * goes: the bytes written must be the bytes packed, and every way a large
 * entry can be bad must fail the wheel with the message the whole-buffer
 * path gives and publish nothing (a stream corrupt in its middle, a
 * truncated stream, an uncompressed size that lies either way, a RECORD
 * digest that does not match). Exit 0 pass, 1 fail.
 */
#include "cache/store.h"
#include "cache/unpack.h"
#include "cache/zip.h"
#include "base/pool.h"
#include "io/linkops.h"
#include "spoke.h"
#include "zipw.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Over ZIP_STREAM_MIN_DEFAULT, and large enough that even compressed it
 * spans more than one 4 MiB give-back step of the reader. */
#define BIG (9u << 20)

static char err[2048];
static const char *top;
static struct pool *pool;

/* Half text-like, half random: deflate and zstd both have work to do,
 * and a flipped byte lands in real codes, not in a run of zeros. */
static char *pattern(size_t n, unsigned seed)
{
	char *p = malloc(n);
	uint32_t x = seed * 2654435761u + 1;

	CHECKF(p, "out of memory");
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (i / 4096) % 2 ? (char)(x >> 24) :
		       "def f(x):\n    return x\n"[i % 24];
	}
	return p;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	CHECKF(f && fwrite(p, 1, n, f) == n && fclose(f) == 0, "write %s",
	       path);
}

static size_t count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* store_add of the archive in w as pkg-1.0-py3-none-any.whl into a fresh
 * cache; with want == 0 the unpacked files must equal f. */
static int add(struct zw *w, const struct wfile *f, size_t n, int want,
	       const char *needle, int line)
{
	char dir[512], whl[600], path[1200];
	struct unpack_opts o = { .verify = 1, .pool = pool };
	struct store_add_result res;
	struct store *s;
	static int runs;
	int ret;

	snprintf(dir, sizeof(dir), "%s/c%d", top, runs++);
	CHECKF(mkdir(dir, 0755) == 0, "mkdir %s", dir);
	snprintf(whl, sizeof(whl), "%s/pkg-1.0-py3-none-any.whl", dir);
	write_file(whl, w->out.p, w->out.len);
	snprintf(path, sizeof(path), "%s/cache", dir);
	CHECKF(!store_open(&s, path, 1, err, sizeof(err)), "open: %s", err);
	err[0] = '\0';
	ret = store_add(s, whl, &o, &res, err, sizeof(err));
	if (getenv("T_VERBOSE"))
		fprintf(stderr, "line %d: %d %s\n", line, ret, err);
	if (ret != want)
		DIE(line, "got %d (%s), want %d", ret, err, want);
	if (needle && (!strstr(err, needle) ||
		       !strstr(err, "pkg-1.0-py3-none-any.whl")))
		DIE(line, "message '%s' lacks '%s' or the wheel", err, needle);
	/* A refused wheel leaves nothing: no entry, no temporary. */
	snprintf(path, sizeof(path), "%s/cache/%s", dir, STORE_ARCHIVE);
	if (count_dir(path) != (want ? 0u : 1u))
		DIE(line, "%zu entries in %s", count_dir(path), path);
	snprintf(path, sizeof(path), "%s/cache/tmp", dir);
	if (count_dir(path))
		DIE(line, "temporaries left in %s", path);
	for (size_t i = 0; !want && i < n; i++) {
		char *got = malloc(f[i].len + 1);
		int fd;

		snprintf(path, sizeof(path), "%s/cache/%s/%s/%s", dir,
			 STORE_ARCHIVE, res.key, f[i].name);
		fd = open(path, O_RDONLY);
		CHECKF(fd >= 0 && got, "%s missing", path);
		CHECKF(read(fd, got, f[i].len + 1) == (ssize_t)f[i].len &&
		       !memcmp(got, f[i].data, f[i].len), "%s differs", path);
		close(fd);
		free(got);
	}
	store_close(s);
	free(w->out.p);
	return ret;
}

/* The data offset and compressed size of entry name of the archive in w. */
static void locate(struct zw *w, const char *name, uint64_t *off,
		   uint64_t *len)
{
	struct zip *z;
	long i;

	CHECKF(!zip_open_mem(&z, w->out.p, w->out.len, "x.whl", err,
			     sizeof(err)), "open: %s", err);
	i = zip_find(z, name);
	CHECKF(i >= 0, "%s not in the archive", name);
	*off = z->ent[i].data_off;
	*len = z->ent[i].comp_size;
	zip_close(z);
}

static void test_good(char *big)
{
	struct wfile f[] = {
		{ "pkg/big.so", big, BIG, 8, 0 },
		{ "pkg/big.zst", big + 1, BIG - 1, 93, 0 },
		{ "pkg/big.raw", big + 2, BIG - 2, 0, 0 },
		{ "pkg/small.py", big, 5000, 8, 0 },
		{ "pkg-1.0.dist-info/METADATA", "Name: pkg\n", 10, 8, 0 },
	};
	struct zw w;

	build_wheel(&w, f, 5, T_NONE);
	add(&w, f, 5, 0, NULL, __LINE__);
}

/* Bytes overwritten in the middle of a large entry's compressed data: the
 * wheel fails naming the entry, after part of it was written. */
static void test_corrupt_middle(char *big)
{
	for (int m = 0; m < 2; m++) {
		struct wfile f[] = {
			{ "pkg/big.so", big, BIG, m ? 93 : 8, 0 },
			{ "pkg-1.0.dist-info/METADATA", "Name: pkg\n", 10, 8,
			  0 },
		};
		uint64_t off, len;
		struct zw w;

		build_wheel(&w, f, 2, T_NONE);
		locate(&w, "pkg/big.so", &off, &len);
		memset(w.out.p + off + len / 2, 0xff, 64);
		add(&w, f, 2, SPOKE_E_BADWHEEL, "pkg/big.so", __LINE__);
		/* Which check trips depends on the codes hit: any of the
		 * codec's own or the CRC. */
		CHECKF(strstr(err, m ? "zstd data" : "deflate data") ||
		       strstr(err, "CRC-32"),
		       "corrupt middle (%s): %s", m ? "zstd" : "deflate", err);
	}
}

static int discard(struct zip_sink *s, const void *p, size_t n)
{
	(void)s;
	(void)p;
	(void)n;
	return 0;
}

/* A size that lies, and a truncated stream: the same message whether the
 * entry is streamed or inflated whole (stream_min decides). */
static void test_lies(char *big)
{
	static const struct {
		int method;
		int64_t adj;
		size_t truncate;
		const char *msg;
	} c[] = {
		{ 8, 1, 0, "deflate data is shorter than its size" },
		{ 8, -1, 0, "deflate data does not end within its size" },
		{ 8, 0, 100, "deflate data is corrupt" },
		{ 93, 1, 0, "zstd data is shorter than its size" },
		{ 93, -1, 0, "zstd data is longer than its size" },
		{ 93, 0, 100, "zstd data is truncated" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct zent e = { .name = "pkg/big.so", .data = big,
				  .len = BIG, .method = c[i].method,
				  .usize_adj = c[i].adj,
				  .truncate = c[i].truncate };
		char first[2048] = "";

		for (int whole = 0; whole < 2; whole++) {
			struct zip_sink sink = {
				.write = discard,
				.stream_min = whole ? UINT64_MAX : 0,
			};
			struct zip *z;
			struct zw w = { 0 };
			int ret;

			zw_add(&w, &e);
			zw_finish(&w, 0, NULL);
			CHECKF(!zip_open_mem(&z, w.out.p, w.out.len,
					     "pkg-1.0-py3-none-any.whl", err,
					     sizeof(err)), "open: %s", err);
			ret = zip_extract(z, &z->ent[0], &sink, err,
					  sizeof(err));
			CHECKF(ret == SPOKE_E_BADWHEEL && strstr(err, c[i].msg),
			       "case %zu (%s): %d %s", i, whole ? "whole" :
			       "streamed", ret, err);
			if (whole)
				CHECKF(!strcmp(first, err), "case %zu: '%s' vs "
				       "'%s'", i, first, err);
			snprintf(first, sizeof(first), "%s", err);
			zip_close(z);
			free(w.out.p);
		}
	}
}

/* A RECORD digest that does not match a streamed entry. */
static void test_record_mismatch(char *big)
{
	for (int m = 0; m < 2; m++) {
		struct wfile f[] = {
			{ "pkg/big.so", big, BIG, m ? 93 : 8, 0 },
			{ "pkg-1.0.dist-info/METADATA", "Name: pkg\n", 10, 8,
			  0 },
		};
		struct zw w;

		build_wheel(&w, f, 2, T_HASH);
		add(&w, f, 2, SPOKE_E_HASH, "pkg/big.so: sha256 mismatch",
		    __LINE__);
	}
}

int main(void)
{
	char *big = pattern(BIG, 1);

	io_init();
	top = t_mktemp();
	CHECKF(pool_create(&pool, 2) == 0, "pool_create");
	test_good(big);
	test_corrupt_middle(big);
	test_lies(big);
	test_record_mismatch(big);
	pool_free(pool);
	free(big);
	return T_PASS;
}
