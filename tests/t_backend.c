/* SPDX-License-Identifier: MIT */
/*
 * t_backend - the io_uring backend must be indistinguishable from the sync
 * one. Every batch here runs twice, on the sync backend into one directory
 * and on the uring backend into another, and the two must agree op by op
 * (same res) and file by file (names, types, sizes, bytes, mode bits, and
 * for hardlinks the inode): creating 300 files of 0 B to 3 MiB by hardlink,
 * copy (both uring copy modes), clone (EOPNOTSUPP on ext4 is fine, as long
 * as both say it) and symlink; replacing existing targets without leaving
 * ".spoke-" temporaries; -EISDIR/-EEXIST/-ENOENT; injected faults landing on
 * the same op (link:37:EXDEV and a mixed batch under several specs); and an
 * injected uring:1:EPERM making set-up fail; and IOK_WRITE, the unpack's
 * create-write-close, under the same comparisons and faults. The uring side mostly runs
 * with a ring of 8 so batches cross many chunk boundaries (and once with
 * 256, where copies are cut by the fd bound instead). Exit 0 pass, 1 fail
 * (one line saying why), 77 skip when the kernel refuses io_uring.
 */
#include "io/backend.h"
#include "base/fault.h"
#include "io/linkops.h"
#include "tests/testlib.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define NFILES 300
#define NAMELEN 40

struct file {
	char name[NAMELEN];
	char target[NAMELEN];
	size_t size;
	mode_t mode;
	ino_t ino;
};

static struct file files[NFILES];
static int basefd = -1, srcfd = -1;
static struct io_backend *sync_b, *uring_b, *uring_rw, *uring_big;

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "t_backend: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	return T_FAIL;
}

/* testlib's CHECK cannot say which op or file differs; this can. */
#define REQUIRE(cond, ...)						\
	do {								\
		if (!(cond))						\
			return fail(__VA_ARGS__);			\
	} while (0)

static const char *kind_name(int kind)
{
	static const char *const names[] = { "clone", "hardlink", "copy",
					     "symlink" };

	return kind >= 0 && kind < IOK__MAX ? names[kind] : "?";
}

/* Deterministic bytes per file, so a misplaced block cannot compare equal. */
static void fill(unsigned char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t w = write(fd, c, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

static int make_file(int dfd, const char *name, size_t size, mode_t mode,
		     uint32_t seed)
{
	unsigned char *buf = malloc(size ? size : 1);
	int fd, err;

	if (!buf)
		return -ENOMEM;
	fill(buf, size, seed);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	err = write_all(fd, buf, size);
	free(buf);
	if (!err && fchmod(fd, mode) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	return err;
}

static int make_dir(const char *name)
{
	if (mkdirat(basefd, name, 0755) < 0)
		return -errno;
	return openat(basefd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Sizes cover empty, one byte, a page, the 1-20 KiB range the rw copy mode
 * is for, 100 KiB (over its limit) and a few 3 MiB files. */
static int make_source(void)
{
	static const mode_t modes[] = { 0644, 0755, 0644, 0600, 0755, 0700 };
	struct stat st;

	srcfd = make_dir("src");
	if (srcfd < 0)
		return fail("mkdir src: %s", strerror(-srcfd));
	for (int i = 0; i < NFILES; i++) {
		struct file *f = &files[i];
		int err;

		snprintf(f->name, sizeof(f->name), "f%03d.py", i);
		snprintf(f->target, sizeof(f->target), "../target/%d", i);
		switch (i % 6) {
		case 0: f->size = 0; break;
		case 1: f->size = 1; break;
		case 2: f->size = 4096; break;
		case 3: f->size = 100 * 1024; break;
		case 4: f->size = 1000 + (size_t)i * 67 % 20000; break;
		default:
			f->size = i % 90 == 5 ? 3u << 20 : 4096 + (size_t)i;
			break;
		}
		f->mode = modes[i % 6 == 4 ? 5 : i % 5];
		err = make_file(srcfd, f->name, f->size, f->mode, (uint32_t)i);
		if (err)
			return fail("create %s: %s", f->name, strerror(-err));
		if (fstatat(srcfd, f->name, &st, 0) < 0)
			return fail("stat %s: %s", f->name, strerror(errno));
		f->ino = st.st_ino;
	}
	return 0;
}

static void set_ops(struct io_op *ops, unsigned n, int kind, int dfd,
		    int replace)
{
	for (unsigned i = 0; i < n; i++) {
		struct file *f = &files[i % NFILES];

		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].kind = (uint8_t)kind;
		ops[i].replace = (uint8_t)replace;
		ops[i].mode = f->mode;
		ops[i].sfd = srcfd;
		ops[i].dfd = dfd;
		ops[i].sname = f->name;
		ops[i].dname = f->name;
		ops[i].target = f->target;
		ops[i].size = f->size;
		ops[i].user = i;
		ops[i].res = 1; /* a backend that skips an op is caught */
	}
}

static void retarget(struct io_op *ops, unsigned n, int dfd)
{
	for (unsigned i = 0; i < n; i++) {
		ops[i].dfd = dfd;
		ops[i].res = 1;
	}
}

static int run(struct io_backend *b, struct io_op *ops, unsigned n,
	       const char *what)
{
	int err = io_backend_submit(b, ops, n);

	REQUIRE(err == 0, "%s: %s submit: %s", what, b->ops->name,
		strerror(-err));
	return 0;
}

static int same_res(const struct io_op *a, const struct io_op *b, unsigned n,
		    const char *what)
{
	for (unsigned i = 0; i < n; i++)
		REQUIRE(a[i].res == b[i].res,
			"%s: op %u (%s %s): sync res %d (%s), "
			"uring res %d (%s)", what, i, kind_name(a[i].kind),
			a[i].dname, a[i].res, strerror(-a[i].res), b[i].res,
			strerror(-b[i].res));
	return 0;
}

static int all_res(const struct io_op *ops, unsigned n, int want,
		   const char *what)
{
	for (unsigned i = 0; i < n; i++)
		REQUIRE(ops[i].res == want,
			"%s: op %u (%s): res %d (%s), want %d", what, i,
			ops[i].dname, ops[i].res, strerror(-ops[i].res), want);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a directory (without . and ..), or NULL. */
static char **list_dir(int dfd, size_t *count)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap * 2 + 64) *
					    sizeof(*names));

			if (!nn)
				goto bad;
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (!names[n])
			goto bad;
		n++;
	}
	closedir(d);
	/* qsort's pointer is declared nonnull even for n == 0. */
	if (!names)
		return calloc(1, sizeof(*names));
	qsort(names, n, sizeof(*names), cmp_name);
	*count = n;
	return names;
bad:
	closedir(d);
	while (n)
		free(names[--n]);
	free(names);
	return NULL;
}

static void free_list(char **names, size_t n)
{
	while (n)
		free(names[--n]);
	free(names);
}

static unsigned char *slurp(int dfd, const char *name, size_t size)
{
	unsigned char *buf = malloc(size ? size : 1);
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	size_t done = 0;

	if (!buf || fd < 0)
		goto bad;
	while (done < size) {
		ssize_t r = read(fd, buf + done, size - done);

		if (r <= 0)
			goto bad;
		done += (size_t)r;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto bad;
	}
	return buf;
bad:
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

static int same_entry(int afd, int bfd, const char *name, const char *what)
{
	struct stat sa, sb;

	REQUIRE(fstatat(afd, name, &sa, AT_SYMLINK_NOFOLLOW) == 0 &&
		fstatat(bfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0,
		"%s: stat %s: %s", what, name, strerror(errno));
	REQUIRE((sa.st_mode & S_IFMT) == (sb.st_mode & S_IFMT),
		"%s: %s: file types differ", what, name);
	REQUIRE(sa.st_size == sb.st_size, "%s: %s: sizes %lld and %lld", what,
		name, (long long)sa.st_size, (long long)sb.st_size);
	REQUIRE((sa.st_mode & 07777) == (sb.st_mode & 07777),
		"%s: %s: modes %o and %o", what, name,
		(unsigned)(sa.st_mode & 07777), (unsigned)(sb.st_mode & 07777));
	/* Same shape of link: both share the source inode or neither. */
	REQUIRE((sa.st_nlink > 1) == (sb.st_nlink > 1),
		"%s: %s: link counts %lu and %lu", what, name,
		(unsigned long)sa.st_nlink, (unsigned long)sb.st_nlink);
	if (S_ISLNK(sa.st_mode)) {
		char la[PATH_MAX], lb[PATH_MAX];
		ssize_t na = readlinkat(afd, name, la, sizeof(la));
		ssize_t nb = readlinkat(bfd, name, lb, sizeof(lb));

		REQUIRE(na >= 0 && na == nb && !memcmp(la, lb, (size_t)na),
			"%s: %s: symlink targets differ", what, name);
	} else if (S_ISREG(sa.st_mode)) {
		size_t size = (size_t)sa.st_size;
		unsigned char *a = slurp(afd, name, size);
		unsigned char *b = slurp(bfd, name, size);
		int same = a && b && !memcmp(a, b, size);

		free(a);
		free(b);
		REQUIRE(same, "%s: %s: contents differ", what, name);
	}
	return 0;
}

/* Both trees hold the same entries, alike in every way we promise, and no
 * temporary anywhere. */
static int same_tree(int afd, int bfd, const char *what)
{
	size_t na = 0, nb = 0;
	char **a = list_dir(afd, &na), **b = list_dir(bfd, &nb);
	int bad = 0;

	if (!a || !b) {
		bad = fail("%s: cannot list directories: %s", what,
			   strerror(errno));
		goto out;
	}
	if (na != nb) {
		bad = fail("%s: %zu entries in sync tree, %zu in uring tree",
			   what, na, nb);
		goto out;
	}
	for (size_t i = 0; i < na && !bad; i++) {
		if (strcmp(a[i], b[i])) {
			bad = fail("%s: entry %s vs %s", what, a[i], b[i]);
			break;
		}
		if (io_is_temp_name(a[i])) {
			bad = fail("%s: temporary %s left behind", what, a[i]);
			break;
		}
		bad = same_entry(afd, bfd, a[i], what);
	}
out:
	if (a)
		free_list(a, na);
	if (b)
		free_list(b, nb);
	return bad;
}

/* Each successful op made what it was asked for, from the right source. */
static int check_made(int dfd, const struct io_op *ops, unsigned n,
		      const char *what)
{
	for (unsigned i = 0; i < n; i++) {
		const struct io_op *op = &ops[i];
		const struct file *f = &files[i % NFILES];
		struct stat st;

		if (op->res)
			continue;
		REQUIRE(fstatat(dfd, op->dname, &st, AT_SYMLINK_NOFOLLOW) == 0,
			"%s: %s missing after res 0", what, op->dname);
		if (op->kind == IOK_SYMLINK) {
			char t[PATH_MAX];
			ssize_t len = readlinkat(dfd, op->dname, t, sizeof(t));

			REQUIRE(S_ISLNK(st.st_mode) && len >= 0 &&
				(size_t)len == strlen(f->target) &&
				!memcmp(t, f->target, (size_t)len),
				"%s: %s: wrong symlink", what, op->dname);
			continue;
		}
		REQUIRE(S_ISREG(st.st_mode) && (size_t)st.st_size == f->size,
			"%s: %s: size %lld, want %zu", what, op->dname,
			(long long)st.st_size, f->size);
		REQUIRE((st.st_mode & 07777) == f->mode,
			"%s: %s: mode %o, want %o", what, op->dname,
			(unsigned)(st.st_mode & 07777), (unsigned)f->mode);
		REQUIRE((st.st_ino == f->ino) == (op->kind == IOK_HARDLINK),
			"%s: %s: %s the source inode", what, op->dname,
			op->kind == IOK_HARDLINK ? "not" : "shares");
		if (op->kind != IOK_HARDLINK) {
			unsigned char *want = malloc(f->size ? f->size : 1);
			unsigned char *got = slurp(dfd, op->dname, f->size);
			int same = want && got;

			if (same) {
				fill(want, f->size, i % NFILES);
				same = !memcmp(want, got, f->size);
			}
			free(want);
			free(got);
			REQUIRE(same, "%s: %s: wrong content", what, op->dname);
		}
	}
	return 0;
}

struct pair {
	int a, b;
};

static int new_pair(struct pair *p, const char *name)
{
	char n[64];

	snprintf(n, sizeof(n), "%s-sync", name);
	p->a = make_dir(n);
	snprintf(n, sizeof(n), "%s-uring", name);
	p->b = make_dir(n);
	REQUIRE(p->a >= 0 && p->b >= 0, "mkdir %s: %s", name,
		strerror(-(p->a < 0 ? p->a : p->b)));
	return 0;
}

/* The core comparison: one batch on each backend, then res, trees and
 * (where it worked) the files themselves. */
static int compare(struct io_backend *ub, struct pair *p, int kind,
		   int replace, unsigned n, const char *what)
{
	static struct io_op a[NFILES], b[NFILES];

	set_ops(a, n, kind, p->a, replace);
	set_ops(b, n, kind, p->b, replace);
	if (run(sync_b, a, n, what) || run(ub, b, n, what) ||
	    same_res(a, b, n, what) || same_tree(p->a, p->b, what) ||
	    check_made(p->a, a, n, what) || check_made(p->b, b, n, what))
		return 1;
	/* A clone may be refused (ext4, tmpfs); nothing else may fail. */
	if (kind == IOK_CLONE) {
		for (unsigned i = 0; i < n; i++)
			REQUIRE(a[i].res == 0 || a[i].res == -EOPNOTSUPP ||
				a[i].res == -EXDEV || a[i].res == -EINVAL,
				"%s: op %u: unexpected %s", what, i,
				strerror(-a[i].res));
		return 0;
	}
	return all_res(a, n, 0, what);
}

static int test_kinds(void)
{
	static const struct {
		const char *name;
		int kind, backend, then;
	} cases[] = {
		{ "hardlink", IOK_HARDLINK, 0, IOK_COPY },
		{ "copy-cfr", IOK_COPY, 0, IOK_HARDLINK },
		{ "copy-rw", IOK_COPY, 1, IOK_SYMLINK },
		{ "clone", IOK_CLONE, 0, IOK_HARDLINK },
		{ "symlink", IOK_SYMLINK, 0, IOK_COPY },
		/* A ring of 256: copies are cut at 64 per chunk, so 128
		 * fds, and run under a 256-fd limit to show it; links are
		 * not cut. Relinking hardlinks from the same source is the
		 * rename that "does nothing" (POSIX, same inode): its
		 * temporary must still go. */
		{ "copy-ring256", IOK_COPY, 2, IOK_HARDLINK },
		{ "hardlink-ring256", IOK_HARDLINK, 2, IOK_HARDLINK },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct io_backend *const ubs[] = { uring_b, uring_rw,
						   uring_big };
		struct io_backend *ub = ubs[cases[c].backend];
		char what[96];
		struct pair p;

		struct rlimit old, low;
		int bad;

		if (new_pair(&p, cases[c].name))
			return 1;
		REQUIRE(getrlimit(RLIMIT_NOFILE, &old) == 0, "getrlimit: %s",
			strerror(errno));
		low = old;
		if (cases[c].backend == 2 && low.rlim_cur > 256)
			low.rlim_cur = 256;
		REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit: %s",
			strerror(errno));
		snprintf(what, sizeof(what), "%s create", cases[c].name);
		bad = compare(ub, &p, cases[c].kind, 0, NFILES, what);
		REQUIRE(setrlimit(RLIMIT_NOFILE, &old) == 0, "setrlimit: %s",
			strerror(errno));
		if (bad)
			return 1;
		/* Replacing by clone over existing files: whatever the
		 * filesystem says, the old files stay and no temporary is
		 * left behind. */
		snprintf(what, sizeof(what), "%s replace by clone",
			 cases[c].name);
		if (compare(ub, &p, IOK_CLONE, 1, NFILES, what))
			return 1;
		snprintf(what, sizeof(what), "%s replace by %s", cases[c].name,
			 kind_name(cases[c].then));
		if (compare(ub, &p, cases[c].then, 1, NFILES, what))
			return 1;
		close(p.a);
		close(p.b);
	}
	return 0;
}

/* Errors that come from the filesystem, not from faults. */
static int test_errors(void)
{
	static struct io_op a[12], b[12];
	struct pair p;
	unsigned n = 0;

	if (new_pair(&p, "errors"))
		return 1;
	REQUIRE(mkdirat(p.a, "sub", 0755) == 0 &&
		mkdirat(p.b, "sub", 0755) == 0, "mkdir sub: %s",
		strerror(errno));
	REQUIRE(make_file(p.a, files[0].name, 3, 0644, 9) == 0 &&
		make_file(p.b, files[0].name, 3, 0644, 9) == 0,
		"create existing file");
	for (int kind = 0; kind < IOK__MAX; kind++) {
		/* Replace over a directory, create over a file, and a
		 * missing source. */
		set_ops(&a[n], 1, kind, p.a, 1);
		a[n].dname = "sub";
		set_ops(&a[n + 1], 1, kind, p.a, 0);
		set_ops(&a[n + 2], 1, kind, p.a, 0);
		a[n + 2].sname = "no-such-file";
		a[n + 2].dname = "from-missing";
		n += 3;
	}
	memcpy(b, a, sizeof(a));
	retarget(b, n, p.b);
	if (run(sync_b, a, n, "errors") || run(uring_b, b, n, "errors") ||
	    same_res(a, b, n, "errors") || same_tree(p.a, p.b, "errors"))
		return 1;
	for (unsigned i = 0; i < n; i += 3) {
		int kind = a[i].kind, missing = kind == IOK_SYMLINK ? 0 :
			   -ENOENT;

		REQUIRE(a[i].res == -EISDIR, "%s replace over a directory: %s",
			kind_name(kind), strerror(-a[i].res));
		REQUIRE(a[i + 1].res == -EEXIST, "%s over a file: %s",
			kind_name(kind), strerror(-a[i + 1].res));
		/* A symlink does not need its target to exist. */
		REQUIRE(a[i + 2].res == missing, "%s from a missing source: %s",
			kind_name(kind), strerror(-a[i + 2].res));
	}
	close(p.a);
	close(p.b);
	return 0;
}

static int arm(const char *spec)
{
	char err[128] = "";
	int r = io_fault_arm(spec, err, sizeof(err));

	REQUIRE(r == 0, "io_fault_arm(%s): %s", spec ? spec : "NULL", err);
	return 0;
}

/* SPOKE_FAULT=link:37:EXDEV names one linkat whichever backend runs it. */
static int test_fault_link(void)
{
	static struct io_op a[100], b[100];
	struct io_backend *backends[2] = { uring_b, NULL };
	int err = io_backend_uring_create(&backends[1], 0);

	REQUIRE(err == 0, "uring create: %s", strerror(-err));
	for (int k = 0; k < 2; k++) {
		char name[32];
		struct pair p;

		snprintf(name, sizeof(name), "fault-link-%d", k);
		if (new_pair(&p, name))
			goto bad;
		set_ops(a, 100, IOK_HARDLINK, p.a, 0);
		set_ops(b, 100, IOK_HARDLINK, p.b, 0);
		if (arm("link:37:EXDEV") || run(sync_b, a, 100, "link fault") ||
		    arm("link:37:EXDEV") ||
		    run(backends[k], b, 100, "link fault") || arm(NULL))
			goto bad;
		for (unsigned i = 0; i < 100; i++) {
			int want = i == 36 ? -EXDEV : 0;

			if (a[i].res != want || b[i].res != want) {
				fail("link:37:EXDEV: op %u: sync %d, uring %d, "
				     "want %d", i, a[i].res, b[i].res, want);
				goto bad;
			}
		}
		if (same_tree(p.a, p.b, "link fault"))
			goto bad;
		close(p.a);
		close(p.b);
	}
	io_backend_destroy(backends[1]);
	return 0;
bad:
	io_backend_destroy(backends[1]);
	return 1;
}

/* A mixed batch (every kind, with and without replace, some sources
 * missing) under faults on each primitive: the same op must fail the same
 * way, and the trees must match. The open:N specs fall before op 10, the
 * first copy whose source is really missing: from there on the uring
 * backend has also counted that op's (cancelled) create, a documented
 * difference of backend_uring.c. */
static int test_fault_mixed(void)
{
	static const char *const specs[] = {
		"open:7:EACCES", "open:8:EMFILE", "copy:3:ENOSPC",
		"clone:2:EXDEV", "rename:2:EIO", "rename:5:EROFS",
		"symlink:4:EROFS", "link:5:EMLINK", "write:1:EIO",
		"open:1:ENOENT,rename:1:EIO,link:2:EPERM",
	};
	enum { N = 48 };
	static struct io_op a[N], b[N];

	for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
		char name[32];
		struct pair p;

		snprintf(name, sizeof(name), "fault-mixed-%zu", s);
		if (new_pair(&p, name))
			return 1;
		for (unsigned i = 0; i < N; i++) {
			set_ops(&a[i], 1, (int)(i % IOK__MAX), p.a, i % 3 == 1);
			/* set_ops numbers from file 0; take file i. */
			a[i].sname = a[i].dname = files[i].name;
			a[i].mode = files[i].mode;
			a[i].size = files[i].size;
			a[i].target = files[i].target;
			if (i % 7 == 3)
				a[i].sname = "missing";
			if (a[i].replace && i % 2) {
				const char *nm = files[i].name;
				int e = make_file(p.a, nm, 5, 0600, 1);

				if (!e)
					e = make_file(p.b, nm, 5, 0600, 1);
				REQUIRE(e == 0, "create old: %s", strerror(-e));
			}
		}
		memcpy(b, a, sizeof(a));
		retarget(b, N, p.b);
		if (arm(specs[s]) || run(sync_b, a, N, specs[s]) ||
		    arm(specs[s]) || run(uring_b, b, N, specs[s]) ||
		    arm(NULL) ||
		    same_res(a, b, N, specs[s]) ||
		    same_tree(p.a, p.b, specs[s]))
			return 1;
		close(p.a);
		close(p.b);
	}
	return 0;
}

/* IOK_WRITE (the unpack's create + write + close) on both backends: the
 * same files, bytes and modes (the umask applies, no fchmod), the same
 * results and failing step for EEXIST, a missing directory and a refused
 * replace, and injected open/write faults on the same op, each failed op
 * leaving nothing behind. */
static void set_writes(struct io_op *ops, unsigned n, int dfd,
		       const unsigned char *data)
{
	for (unsigned i = 0; i < n; i++) {
		memset(&ops[i], 0, sizeof(ops[i]));
		ops[i].kind = IOK_WRITE;
		ops[i].mode = files[i].mode;
		ops[i].dfd = dfd;
		ops[i].dname = files[i].name;
		ops[i].size = files[i].size;
		ops[i].data = data;
		ops[i].user = i;
		ops[i].res = 1;
	}
}

static int test_write(void)
{
	static const char *const specs[] = {
		NULL, "open:5:EACCES", "write:3:ENOSPC",
		"open:2:EMFILE,write:7:EIO",
	};
	static struct io_op a[NFILES], b[NFILES];
	size_t max = 0;
	unsigned char *data;
	struct stat st;

	for (unsigned i = 0; i < NFILES; i++)
		max = files[i].size > max ? files[i].size : max;
	data = malloc(max + 1);
	REQUIRE(data, "out of memory");
	fill(data, max, 77);
	for (size_t s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
		unsigned n = specs[s] ? 40 : NFILES;
		char name[32];
		struct pair p;

		snprintf(name, sizeof(name), "write-%zu", s);
		if (new_pair(&p, name))
			return 1;
		set_writes(a, n, p.a, data);
		set_writes(b, n, p.b, data);
		if (arm(specs[s]) || run(sync_b, a, n, "write") ||
		    arm(specs[s]) || run(uring_b, b, n, "write") ||
		    arm(NULL) || same_res(a, b, n, "write") ||
		    same_tree(p.a, p.b, "write"))
			return 1;
		for (unsigned i = 0; i < n; i++) {
			int there = fstatat(p.a, a[i].dname, &st,
					    AT_SYMLINK_NOFOLLOW) == 0;

			REQUIRE(a[i].step == b[i].step, "write op %u: step "
				"%u against %u", i, a[i].step, b[i].step);
			REQUIRE(there == !a[i].res, "write op %u (%s): res "
				"%d, file %s", i, specs[s] ? specs[s] : "-",
				a[i].res, there ? "left" : "missing");
			REQUIRE(!there || (st.st_mode & 07777) ==
				(files[i].mode & 07777 & ~(mode_t)027),
				"write op %u: mode %o", i, st.st_mode & 07777);
		}
		{
			unsigned failed = 0;

			for (unsigned i = 0; i < n; i++)
				failed += a[i].res != 0;
			REQUIRE(failed == (specs[s] ? strchr(specs[s], ',') ?
					   2u : 1u : 0u), "%s: %u ops failed",
				specs[s] ? specs[s] : "no fault", failed);
		}
		close(p.a);
		close(p.b);
	}
	/* Over an existing file, into a missing directory, replace. */
	{
		struct pair p;

		if (new_pair(&p, "write-errors"))
			return 1;
		set_writes(a, 3, p.a, data);
		REQUIRE(make_file(p.a, files[0].name, 3, 0644, 9) == 0 &&
			make_file(p.b, files[0].name, 3, 0644, 9) == 0,
			"create existing file");
		a[1].dname = "no-dir/x";
		a[2].replace = 1;
		memcpy(b, a, 3 * sizeof(a[0]));
		retarget(b, 3, p.b);
		if (run(sync_b, a, 3, "write errors") ||
		    run(uring_b, b, 3, "write errors") ||
		    same_res(a, b, 3, "write errors") ||
		    same_tree(p.a, p.b, "write errors"))
			return 1;
		REQUIRE(a[0].res == -EEXIST && a[1].res == -ENOENT &&
			a[2].res == -EINVAL && a[0].step == IO_STEP_CREATE &&
			b[0].step == IO_STEP_CREATE, "write errors: %d %d %d",
			a[0].res, a[1].res, a[2].res);
		close(p.a);
		close(p.b);
	}
	free(data);
	return 0;
}

static int test_setup_fault(void)
{
	struct io_backend *b = NULL;
	int err;

	if (arm("uring:1:EPERM"))
		return 1;
	err = io_backend_uring_create(&b, 0);
	if (arm(NULL))
		return 1;
	if (err == 0)
		io_backend_destroy(b);
	REQUIRE(err == -EPERM, "uring:1:EPERM: create gave %d (%s)", err,
		strerror(-err));
	return 0;
}

static int run_all(void)
{
	int err = io_backend_uring_create(&uring_b, 8);
	const char *base;

	if (err) {
		printf("t_backend: SKIP: io_uring unavailable: %s\n",
		       strerror(-err));
		return T_SKIP;
	}
	REQUIRE(strcmp(uring_b->ops->name, "uring") == 0, "backend name %s",
		uring_b->ops->name);
	err = io_backend_sync_create(&sync_b);
	REQUIRE(err == 0, "sync create: %s", strerror(-err));
	REQUIRE(setenv("SPOKE_URING_COPY", "rw", 1) == 0, "setenv: %s",
		strerror(errno));
	err = io_backend_uring_create(&uring_rw, 16);
	REQUIRE(unsetenv("SPOKE_URING_COPY") == 0, "unsetenv: %s",
		strerror(errno));
	REQUIRE(err == 0, "uring create (rw): %s", strerror(-err));
	err = io_backend_uring_create(&uring_big, 256);
	REQUIRE(err == 0, "uring create (256): %s", strerror(-err));
	base = t_mktemp();
	basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	REQUIRE(basefd >= 0, "open %s: %s", base, strerror(errno));
	if (make_source() || test_kinds() || test_errors() ||
	    test_fault_link() || test_fault_mixed() || test_write() ||
	    test_setup_fault())
		return T_FAIL;
	return T_PASS;
}

int main(void)
{
	int rc;

	/* 027 strips bits from 0644/0755 but not 0600/0700: both sides of
	 * the restore-by-fchmod rule get exercised. */
	umask(027);
	io_init();
	rc = run_all();
	if (arm(NULL))
		rc = T_FAIL;
	io_backend_destroy(uring_b);
	io_backend_destroy(uring_rw);
	io_backend_destroy(uring_big);
	io_backend_destroy(sync_b);
	if (basefd >= 0)
		close(basefd);
	if (srcfd >= 0)
		close(srcfd);
	if (rc == T_PASS)
		printf("t_backend: PASS\n");
	return rc;
}
