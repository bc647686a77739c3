/* SPDX-License-Identifier: MIT */
/*
 * gentree - deterministic generator of site-packages-like trees for the spoke
 * benchmark. The same SHAPE always yields byte-identical output (fixed-seed
 * xorshift64*, no time or pid involved), so results of different runs and
 * machines compare. Shapes:
 *
 *   many        ~300 wheels, each <name>/ (a package subtree) plus
 *               <name>-1.0.dist-info/ (METADATA, RECORD, WHEEL); ~40,000
 *               files, ~3,000 dirs, ~640 MB: mostly 1-20 KiB .py files
 *               (log-normal sizes), a few medium .so and ten large .so files
 *               of 5-60 MB
 *   huge        one wheel of ~20,000 files in nested dirs (up to 8 deep) and
 *               two large .so files, like torch
 *   flat        one directory holding 20,000 small files
 *   scale-N     N files (1000 <= N <= 1000000) shaped like `many` but small
 *               files only, so disk use stays reasonable
 *
 * File content is pseudo-random bytes (no zeros, so no sparse-file tricks)
 * sliced out of a 32 MiB pool generated once, which keeps generation cheap.
 * Usage: gentree SHAPE OUTDIR. OUTDIR must not exist (its parent must).
 * On success prints one JSON line: {"shape":..,"files":..,"dirs":..,"bytes":..}
 * where dirs excludes OUTDIR itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POOL_SIZE (32u << 20)
#define MAX_DEPTH 8

static uint64_t rng_state;
static unsigned char *pool;
static uint64_t n_files, n_dirs, n_bytes;

_Noreturn static void die(const char *f, ...)
{
	va_list ap;

	fputs("gentree: ", stderr);
	va_start(ap, f);
	vfprintf(stderr, f, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* snprintf that treats truncation as fatal */
static void fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		die("path or text too long (format \"%s\")", f);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static double rnd_unit(void) /* (0, 1) */
{
	return ((double)(rnd() >> 11) + 0.5) / 9007199254740992.0;
}

static double rnd_normal(void)
{
	return sqrt(-2.0 * log(rnd_unit())) * cos(6.283185307179586 * rnd_unit());
}

static uint64_t rnd_range(uint64_t lo, uint64_t hi) /* inclusive */
{
	return lo + rnd() % (hi - lo + 1);
}

/* Small-file size: log-normal around 5 KiB, ~95% within 1-20 KiB. */
static uint64_t small_size(void)
{
	double s = exp(log(5000.0) + 0.75 * rnd_normal());

	if (s < 64)
		s = 64;
	if (s > 256 * 1024)
		s = 256 * 1024;
	return (uint64_t)s;
}

static void write_all(int fd, const char *path, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write %s: %s", path, strerror(errno));
		}
		p += w;
		len -= (size_t)w;
	}
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0)
		die("mkdir %s: %s", path, strerror(errno));
	n_dirs++;
}

static int open_new(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	return fd;
}

static void close_checked(int fd, const char *path)
{
	if (close(fd) < 0)
		die("close %s: %s", path, strerror(errno));
}

/* A file of `size` pseudo-random bytes. */
static void make_file(const char *path, uint64_t size, mode_t mode)
{
	int fd = open_new(path, mode);
	uint64_t left = size;

	while (left > 0) {
		size_t chunk = left > (4u << 20) ? (4u << 20) : (size_t)left;
		size_t off = (size_t)(rnd() % (POOL_SIZE - chunk + 1));

		write_all(fd, path, pool + off, chunk);
		left -= chunk;
	}
	close_checked(fd, path);
	n_files++;
	n_bytes += size;
}

static void make_text_file(const char *path, const char *text, size_t len)
{
	int fd = open_new(path, 0644);

	write_all(fd, path, text, len);
	close_checked(fd, path);
	n_files++;
	n_bytes += len;
}

static const char *const syl[] = {
	"ka", "ro", "zu", "mi", "te", "lo", "py", "an", "dex", "or", "ni",
	"qua", "sta", "ber", "vi", "tor", "lex", "mo", "da", "xi", "gen",
	"cor", "ul", "ph", "em", "ser", "io", "net", "fu", "ra",
};
#define NSYL (sizeof(syl) / sizeof(syl[0]))

/* A python-ish identifier of 2-4 syllables followed by a number. */
static void ident(char *buf, size_t len, unsigned n)
{
	int k = (int)rnd_range(2, 4);
	size_t pos = 0;

	buf[0] = '\0';
	for (int i = 0; i < k; i++) {
		int w = snprintf(buf + pos, len - pos, "%s", syl[rnd() % NSYL]);

		if (w < 0 || (size_t)w >= len - pos)
			die("identifier too long");
		pos += (size_t)w;
	}
	if (snprintf(buf + pos, len - pos, "%u", n) >= (int)(len - pos))
		die("identifier too long");
}

/* growable text buffer for RECORD */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_printf(struct sbuf *b, const char *f, ...)
{
	for (;;) {
		va_list ap;
		int n;

		va_start(ap, f);
		n = vsnprintf(b->p + b->len, b->cap - b->len, f, ap);
		va_end(ap);
		if (n < 0)
			die("vsnprintf failed");
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
}

static void record_line(struct sbuf *rec, const char *rel, uint64_t size)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char h[44];

	for (int i = 0; i < 43; i++)
		h[i] = b64[rnd() & 63];
	h[43] = '\0';
	sb_printf(rec, "%s,sha256=%s,%llu\n", rel, h, (unsigned long long)size);
}

struct wheel_spec {
	unsigned files;       /* package files, dist-info excluded */
	unsigned dirs;        /* package dirs, the package root included */
	unsigned n_big;       /* large .so files */
	uint64_t big_min, big_max;
	int medium_so;        /* sprinkle medium .so files */
	int with_dist_info;
};

struct dnode {
	char *rel;            /* relative to the site root */
	int depth;
	unsigned nfiles;      /* files placed so far (for name numbering) */
};

/* One wheel: <name>/ with spec->dirs dirs and spec->files files, plus its
 * dist-info directory. */
static void make_wheel(const char *root, const char *name,
		       const struct wheel_spec *spec)
{
	struct dnode *d = xmalloc(sizeof(*d) * spec->dirs);
	struct sbuf rec = { xmalloc(4096), 0, 4096 };
	char path[4096], rel[4096], id[64];
	unsigned placed = 0;

	/* directories: parent chosen among existing ones, biased to recent
	 * ones so the tree gets some depth */
	d[0].rel = strdup(name);
	if (!d[0].rel)
		die("out of memory");
	d[0].depth = 1;
	d[0].nfiles = 0;
	fmt(path, sizeof(path), "%s/%s", root, name);
	make_dir(path);
	for (unsigned j = 1; j < spec->dirs; j++) {
		unsigned par;
		int tries = 0;

		do {
			if (rnd() % 3)
				par = (unsigned)(rnd() % j);
			else
				par = j - 1 - (unsigned)(rnd() % (j < 3 ? j : 3));
		} while (d[par].depth >= MAX_DEPTH && ++tries < 16);
		if (d[par].depth >= MAX_DEPTH)
			par = 0;
		ident(id, sizeof(id), j);
		fmt(rel, sizeof(rel), "%s/%s", d[par].rel, id);
		d[j].rel = strdup(rel);
		if (!d[j].rel)
			die("out of memory");
		d[j].depth = d[par].depth + 1;
		d[j].nfiles = 0;
		fmt(path, sizeof(path), "%s/%s", root, rel);
		make_dir(path);
	}

	/* every package dir has an __init__.py while files last */
	for (unsigned j = 0; j < spec->dirs && placed < spec->files; j++) {
		uint64_t sz = small_size() / 4 + 1;

		fmt(rel, sizeof(rel), "%s/__init__.py", d[j].rel);
		fmt(path, sizeof(path), "%s/%s", root, rel);
		make_file(path, sz, 0644);
		record_line(&rec, rel, sz);
		d[j].nfiles++;
		placed++;
	}
	/* large .so files at the package root's first levels */
	for (unsigned k = 0; k < spec->n_big && placed < spec->files; k++) {
		unsigned j = (unsigned)(rnd() % (spec->dirs < 4 ? spec->dirs : 4));
		uint64_t sz = rnd_range(spec->big_min, spec->big_max);

		ident(id, sizeof(id), d[j].nfiles++);
		fmt(rel, sizeof(rel), "%s/_lib%s.cpython-311-x86_64-linux-gnu.so",
			 d[j].rel, id);
		fmt(path, sizeof(path), "%s/%s", root, rel);
		make_file(path, sz, 0755);
		record_line(&rec, rel, sz);
		placed++;
	}
	/* the rest: mostly .py, some .pyi, data files and medium .so */
	while (placed < spec->files) {
		unsigned j = (unsigned)(rnd() % spec->dirs);
		unsigned r = (unsigned)(rnd() % 1000);
		const char *ext = ".py";
		uint64_t sz = small_size();
		mode_t mode = 0644;

		if (r < 50) {
			ext = ".pyi";
			sz = sz / 2 + 1;
		} else if (r < 80) {
			ext = r < 65 ? ".json" : ".txt";
		} else if (r < 85 && spec->medium_so) {
			ext = ".so";
			sz = (uint64_t)exp(log(50e3) + rnd_unit() * log(20.0));
			mode = 0755;
		}
		ident(id, sizeof(id), d[j].nfiles++);
		fmt(rel, sizeof(rel), "%s/%s%s", d[j].rel, id, ext);
		fmt(path, sizeof(path), "%s/%s", root, rel);
		make_file(path, sz, mode);
		record_line(&rec, rel, sz);
		placed++;
	}

	if (spec->with_dist_info) {
		char di[512], meta[2048];
		int mlen;

		fmt(di, sizeof(di), "%s-1.0.dist-info", name);
		fmt(path, sizeof(path), "%s/%s", root, di);
		make_dir(path);

		mlen = snprintf(meta, sizeof(meta),
				"Metadata-Version: 2.1\nName: %s\nVersion: 1.0\n"
				"Summary: generated package %s for the spoke benchmark\n"
				"License: MIT\nRequires-Python: >=3.8\n\n"
				"%s is a synthetic wheel. Its files are random bytes.\n",
				name, name, name);
		fmt(path, sizeof(path), "%s/%s/METADATA", root, di);
		make_text_file(path, meta, (size_t)mlen);
		record_line(&rec, "METADATA", (uint64_t)mlen);

		mlen = snprintf(meta, sizeof(meta),
				"Wheel-Version: 1.0\nGenerator: spoke-gentree 1\n"
				"Root-Is-Purelib: %s\nTag: cp311-cp311-linux_x86_64\n",
				spec->n_big ? "false" : "true");
		fmt(path, sizeof(path), "%s/%s/WHEEL", root, di);
		make_text_file(path, meta, (size_t)mlen);
		record_line(&rec, "WHEEL", (uint64_t)mlen);

		sb_printf(&rec, "%s/RECORD,,\n", di);
		fmt(path, sizeof(path), "%s/%s/RECORD", root, di);
		make_text_file(path, rec.p, rec.len);
	}

	for (unsigned j = 0; j < spec->dirs; j++)
		free(d[j].rel);
	free(d);
	free(rec.p);
}

static uint64_t seed_of(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h ? h : 1;
}

/* ~ntotal files (dist-info included) over nwheels wheels with log-normal
 * weights; nbig large .so files go to randomly chosen wheels. */
static void make_site(const char *root, unsigned nwheels, unsigned ntotal,
		      unsigned nbig, uint64_t big_min, uint64_t big_max,
		      int medium_so)
{
	double *w = xmalloc(sizeof(double) * nwheels), sum = 0;
	unsigned *cnt = xmalloc(sizeof(unsigned) * nwheels);
	unsigned *big = calloc(nwheels, sizeof(unsigned));
	unsigned pkg_total = ntotal - 3 * nwheels - nbig, given = 0;
	char name[64];

	if (!big)
		die("out of memory");
	for (unsigned i = 0; i < nwheels; i++) {
		w[i] = exp(1.3 * rnd_normal());
		sum += w[i];
	}
	for (unsigned i = 0; i < nwheels; i++) {
		cnt[i] = (unsigned)(w[i] / sum * pkg_total);
		if (cnt[i] < 2)
			cnt[i] = 2;
		given += cnt[i];
	}
	/* settle the remainder on the largest wheel (never below 2 files) */
	{
		unsigned imax = 0;

		for (unsigned i = 1; i < nwheels; i++)
			if (cnt[i] > cnt[imax])
				imax = i;
		if (given < pkg_total)
			cnt[imax] += pkg_total - given;
		else if (given - pkg_total < cnt[imax] - 2)
			cnt[imax] -= given - pkg_total;
	}
	for (unsigned k = 0; k < nbig; k++)
		big[rnd() % nwheels]++;

	for (unsigned i = 0; i < nwheels; i++) {
		struct wheel_spec spec = {
			.files = cnt[i] + big[i],
			.dirs = cnt[i] / 13 ? cnt[i] / 13 : 1,
			.n_big = big[i],
			.big_min = big_min,
			.big_max = big_max,
			.medium_so = medium_so,
			.with_dist_info = 1,
		};

		ident(name, sizeof(name), i);
		make_wheel(root, name, &spec);
	}
	free(w);
	free(cnt);
	free(big);
}

int main(int argc, char **argv)
{
	const char *shape, *out;

	if (argc != 3) {
		fprintf(stderr,
			"usage: gentree SHAPE OUTDIR\n"
			"  SHAPE: many | huge | flat | scale-N (1000 <= N <= 1000000)\n");
		return 2;
	}
	shape = argv[1];
	out = argv[2];
	rng_state = seed_of(shape);

	pool = xmalloc(POOL_SIZE);
	for (size_t i = 0; i < POOL_SIZE; i += 8) {
		uint64_t v = rnd() | 0x0101010101010101ULL; /* no zero bytes */

		memcpy(pool + i, &v, 8);
	}

	if (strcmp(shape, "many") == 0 || strcmp(shape, "huge") == 0 ||
	    strcmp(shape, "flat") == 0 || strncmp(shape, "scale-", 6) == 0) {
		if (mkdir(out, 0755) < 0)
			die("mkdir %s: %s", out, strerror(errno));
	}

	if (strcmp(shape, "many") == 0) {
		make_site(out, 300, 40000, 10, 5u << 20, 60u << 20, 1);
	} else if (strcmp(shape, "huge") == 0) {
		struct wheel_spec spec = {
			.files = 20000, .dirs = 1500, .n_big = 2,
			.big_min = 60u << 20, .big_max = 150u << 20,
			.medium_so = 1, .with_dist_info = 1,
		};

		make_wheel(out, "torchish", &spec);
	} else if (strcmp(shape, "flat") == 0) {
		char path[4096], id[64];

		fmt(path, sizeof(path), "%s/flatpkg", out);
		make_dir(path);
		for (unsigned i = 0; i < 20000; i++) {
			ident(id, sizeof(id), i);
			fmt(path, sizeof(path), "%s/flatpkg/%s.py", out, id);
			make_file(path, small_size(), 0644);
		}
	} else if (strncmp(shape, "scale-", 6) == 0) {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(shape + 6, &end, 10);
		if (errno || *end || n < 1000 || n > 1000000)
			die("bad shape %s: N must be 1000..1000000", shape);
		make_site(out, (unsigned)(n / 133 ? n / 133 : 1),
			  (unsigned)n, 0, 0, 0, 0);
	} else {
		die("unknown shape %s (many, huge, flat, scale-N)", shape);
	}

	printf("{\"shape\":\"%s\",\"files\":%llu,\"dirs\":%llu,\"bytes\":%llu}\n",
	       shape, (unsigned long long)n_files, (unsigned long long)n_dirs,
	       (unsigned long long)n_bytes);
	free(pool);
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write stdout: %s", strerror(errno));
	return 0;
}
