/* SPDX-License-Identifier: MIT */
/*
 * baselines - the peers spoke's copy-tree is measured against, written in C
 * with the same per-file semantics as spoke, so the comparison is about
 * scheduling and syscall count, not about language or features:
 *
 *   clone     open source, create destination O_EXCL with the source's mode,
 *             ioctl(FICLONE)
 *   hardlink  linkat
 *   copy      open, create O_EXCL, copy_file_range loop (read/write if the
 *             kernel refuses), close
 *   symlink   symlinkat to the absolute source path
 *   auto      clone, else hardlink, else copy; the first refusal switches the
 *             whole run over (remembered, like spoke and uv do)
 *
 * Directories are created with mkdir and the source directory's mode, the
 * destination root included (its parent must exist). Strategies:
 *
 *   sequential  one thread, a plain recursive walk building full paths, as a
 *               simple installer does (readdir d_type, lstat only when needed)
 *   per-wheel   JOBS threads, one task per top-level entry of SRC (a wheel's
 *               package dir or its dist-info), each task a sequential walk;
 *               tasks handed out in name order through an atomic counter, as
 *               uv schedules wheels
 *   floor       untimed: walk SRC, record every dir and file (mode, size) and
 *               open each source dir O_PATH. Timed: create all dirs on one
 *               thread (mkdirat + an O_PATH fd each), then JOBS threads issue
 *               only the mode's raw syscalls over the file list, taking files
 *               through an atomic counter. The practical limit of this
 *               machine. `auto` is resolved by a probe in the untimed phase.
 *
 * Usage: baselines STRATEGY MODE JOBS SRC DST
 * Prints one JSON line: {"strategy":..,"mode":..,"jobs":N,"seconds":S,
 * "files":N,"dirs":N,"fallbacks":N,...}; seconds is the timed region: the
 * whole run for sequential and per-wheel, only the timed phase for floor.
 * Any failure prints the path and strerror and exits 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { M_CLONE = 0, M_HARDLINK, M_COPY, M_SYMLINK, M_AUTO };
static const char *const mode_names[] = {
	"clone", "hardlink", "copy", "symlink", "auto",
};

static enum mode opt_mode;
static atomic_int auto_mode = M_CLONE; /* current rung of auto's ladder */
static atomic_ulong n_files, n_dirs, n_fallbacks;
static char src_abs[PATH_MAX];         /* for symlink targets */

_Noreturn static void die(const char *f, ...)
{
	va_list ap;

	fputs("baselines: ", stderr);
	va_start(ap, f);
	vfprintf(stderr, f, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory");
	return p;
}

static double now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void join_path(char *buf, size_t len, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s", a, b);

	if (n < 0 || (size_t)n >= len)
		die("path too long: %s/%s", a, b);
}

/* ---- per-file primitives: 0 or -errno; they never print --------------- */

static int create_dst(int dfd, const char *dname, mode_t mode)
{
	int fd = openat(dfd, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			O_CLOEXEC, mode & 07777);

	return fd < 0 ? -errno : fd;
}

static int copy_rw(int in, int out)
{
	static _Thread_local char buf[128 * 1024];

	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf)), w;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return 0;
		for (ssize_t done = 0; done < r; done += w) {
			w = write(out, buf + done, (size_t)(r - done));
			if (w < 0) {
				if (errno == EINTR) {
					w = 0;
					continue;
				}
				return -errno;
			}
		}
	}
}

/* copy_file_range until EOF; read/write when the kernel refuses it. */
static int copy_fd(int in, int out, uint64_t size)
{
	uint64_t done = 0;

	while (done < size) {
		ssize_t n = copy_file_range(in, NULL, out, NULL,
					    (size_t)(size - done), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EXDEV || errno == EINVAL ||
			    errno == ENOSYS || errno == EOPNOTSUPP)
				return copy_rw(in, out);
			return -errno;
		}
		if (n == 0)
			break; /* source shrank: the caller's check sees it */
		done += (uint64_t)n;
	}
	return 0;
}

/* mode/size < 0: unknown, fstat the source (walkers); floor passes them. */
static int op_clone_or_copy(int clone, int sfd, const char *sname, int dfd,
			    const char *dname, long mode, int64_t size)
{
	int in, out, err = 0;

	in = openat(sfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return -errno;
	if (mode < 0 || (!clone && size < 0)) {
		struct stat st;

		if (fstat(in, &st) < 0) {
			err = -errno;
			close(in);
			return err;
		}
		mode = (long)st.st_mode;
		size = (int64_t)st.st_size;
	}
	out = create_dst(dfd, dname, (mode_t)mode);
	if (out < 0) {
		close(in);
		return out;
	}
	if (clone) {
		if (ioctl(out, FICLONE, in) < 0)
			err = -errno;
	} else if (size > 0) {
		err = copy_fd(in, out, (uint64_t)size);
	}
	close(in);
	if (close(out) < 0 && !err)
		err = -errno;
	if (err)
		unlinkat(dfd, dname, 0); /* no empty file left for a fallback */
	return err;
}

static int op_raw(enum mode m, int sfd, const char *sname, const char *spath,
		  int dfd, const char *dname, long mode, int64_t size)
{
	switch (m) {
	case M_CLONE:
		return op_clone_or_copy(1, sfd, sname, dfd, dname, mode, size);
	case M_COPY:
		return op_clone_or_copy(0, sfd, sname, dfd, dname, mode, size);
	case M_HARDLINK:
		return linkat(sfd, sname, dfd, dname, 0) < 0 ? -errno : 0;
	case M_SYMLINK:
		return symlinkat(spath, dfd, dname) < 0 ? -errno : 0;
	case M_AUTO:
		break;
	}
	return -EINVAL;
}

static int refusal(enum mode m, int err)
{
	if (m == M_CLONE)
		return err == -EOPNOTSUPP || err == -ENOTTY || err == -EXDEV ||
		       err == -EINVAL || err == -ENOSYS || err == -EPERM;
	if (m == M_HARDLINK)
		return err == -EXDEV || err == -EMLINK || err == -EPERM ||
		       err == -EOPNOTSUPP;
	return 0;
}

/* One file in the run's mode, auto's fallbacks included. spath is the full
 * source path (absolute in symlink mode, see main). Dies on error. */
static void do_file(int sfd, const char *sname, const char *spath, int dfd,
		    const char *dname, const char *shown, long mode,
		    int64_t size)
{
	enum mode m = opt_mode;
	int err;

	if (m != M_AUTO) {
		err = op_raw(m, sfd, sname, spath, dfd, dname, mode, size);
		if (err)
			die("%s %s: %s", mode_names[m], shown, strerror(-err));
	} else {
		m = (enum mode)atomic_load_explicit(&auto_mode,
						    memory_order_relaxed);
		for (;;) {
			err = op_raw(m, sfd, sname, spath, dfd, dname, mode,
				     size);
			if (!err)
				break;
			if (!refusal(m, err))
				die("%s %s: %s", mode_names[m], shown,
				    strerror(-err));
			{
				int expect = (int)m;

				if (atomic_compare_exchange_strong(&auto_mode,
								   &expect,
								   (int)m + 1))
					atomic_fetch_add(&n_fallbacks, 1);
			}
			m = (enum mode)((int)m + 1);
		}
	}
	atomic_fetch_add_explicit(&n_files, 1, memory_order_relaxed);
}

static void make_dir(int dfd, const char *name, mode_t mode, const char *shown)
{
	if (mkdirat(dfd, name, mode & 07777) < 0)
		die("mkdir %s: %s", shown, strerror(errno));
	atomic_fetch_add_explicit(&n_dirs, 1, memory_order_relaxed);
}

static void copy_symlink(const char *spath, const char *dpath)
{
	char target[PATH_MAX];
	ssize_t n = readlink(spath, target, sizeof(target) - 1);

	if (n < 0)
		die("readlink %s: %s", spath, strerror(errno));
	target[n] = '\0';
	if (symlink(target, dpath) < 0)
		die("symlink %s: %s", dpath, strerror(errno));
}

/* ---- sequential walk with full paths (also per-wheel's task body) ------- */

static void walk(const char *spath, const char *dpath)
{
	DIR *d = opendir(spath);
	struct dirent *e;

	if (!d)
		die("opendir %s: %s", spath, strerror(errno));
	for (;;) {
		char s[PATH_MAX], t[PATH_MAX];
		unsigned char type;
		struct stat st;

		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				die("readdir %s: %s", spath, strerror(errno));
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		join_path(s, sizeof(s), spath, e->d_name);
		join_path(t, sizeof(t), dpath, e->d_name);
		type = e->d_type;
		if (type == DT_UNKNOWN || type == DT_DIR) {
			if (lstat(s, &st) < 0)
				die("stat %s: %s", s, strerror(errno));
			type = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISREG(st.st_mode) ? DT_REG :
			       S_ISLNK(st.st_mode) ? DT_LNK : DT_UNKNOWN;
		}
		if (type == DT_DIR) {
			make_dir(AT_FDCWD, t, st.st_mode, t);
			walk(s, t);
		} else if (type == DT_REG) {
			do_file(AT_FDCWD, s, s, AT_FDCWD, t, s, -1, -1);
		} else if (type == DT_LNK) {
			copy_symlink(s, t);
		} else {
			die("%s: not a file, directory or symlink", s);
		}
	}
	if (closedir(d) < 0)
		die("closedir %s: %s", spath, strerror(errno));
}

static void make_root(const char *src, const char *dst)
{
	struct stat st;

	if (stat(src, &st) < 0)
		die("stat %s: %s", src, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("%s: not a directory", src);
	make_dir(AT_FDCWD, dst, st.st_mode, dst);
}

/* ---- per-wheel ------------------------------------------------------------ */

struct pw {
	const char *src, *dst;
	char **names;
	size_t n;
	atomic_size_t next;
};

static void *pw_worker(void *arg)
{
	struct pw *pw = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&pw->next, 1);
		char s[PATH_MAX], t[PATH_MAX];
		struct stat st;

		if (i >= pw->n)
			return NULL;
		join_path(s, sizeof(s), pw->src, pw->names[i]);
		join_path(t, sizeof(t), pw->dst, pw->names[i]);
		if (lstat(s, &st) < 0)
			die("stat %s: %s", s, strerror(errno));
		if (S_ISDIR(st.st_mode)) {
			make_dir(AT_FDCWD, t, st.st_mode, t);
			walk(s, t);
		} else if (S_ISREG(st.st_mode)) {
			do_file(AT_FDCWD, s, s, AT_FDCWD, t, s, -1, -1);
		} else if (S_ISLNK(st.st_mode)) {
			copy_symlink(s, t);
		} else {
			die("%s: not a file, directory or symlink", s);
		}
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_threads(unsigned jobs, void *(*fn)(void *), void *arg)
{
	pthread_t *th = xmalloc(sizeof(*th) * jobs);
	int err;

	for (unsigned i = 1; i < jobs; i++) {
		err = pthread_create(&th[i], NULL, fn, arg);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	fn(arg); /* the main thread is worker 0 */
	for (unsigned i = 1; i < jobs; i++) {
		err = pthread_join(th[i], NULL);
		if (err)
			die("pthread_join: %s", strerror(err));
	}
	free(th);
}

static void per_wheel(unsigned jobs, const char *src, const char *dst)
{
	struct pw pw = { .src = src, .dst = dst };
	size_t cap = 64;
	struct dirent *e;
	DIR *d;

	make_root(src, dst);
	d = opendir(src);
	if (!d)
		die("opendir %s: %s", src, strerror(errno));
	pw.names = xmalloc(sizeof(char *) * cap);
	for (;;) {
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				die("readdir %s: %s", src, strerror(errno));
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (pw.n == cap) {
			cap *= 2;
			pw.names = realloc(pw.names, sizeof(char *) * cap);
			if (!pw.names)
				die("out of memory");
		}
		pw.names[pw.n++] = xstrdup(e->d_name);
	}
	if (closedir(d) < 0)
		die("closedir %s: %s", src, strerror(errno));
	qsort(pw.names, pw.n, sizeof(char *), cmp_str);
	atomic_init(&pw.next, 0);
	run_threads(jobs, pw_worker, &pw);
	for (size_t i = 0; i < pw.n; i++)
		free(pw.names[i]);
	free(pw.names);
}

/* ---- floor ---------------------------------------------------------------- */

struct fdir {
	size_t parent;        /* index into dirs; the root is 0 */
	char *name;           /* basename (the root: the full path) */
	char *spath, *dpath;  /* full paths, for messages and the path fallback */
	mode_t mode;
	int sfd, dfd;         /* O_PATH fds, or AT_FDCWD without fds */
};

struct ffile {
	size_t dir;
	char *name;
	char *spath, *dpath;  /* full paths */
	mode_t mode;
	int64_t size;
};

struct floor {
	struct fdir *dirs;
	size_t ndirs, capdirs;
	struct ffile *files;
	size_t nfiles, capfiles;
	int use_fds;
	enum mode mode;       /* resolved: never M_AUTO */
	atomic_size_t next;
};

static void floor_scan(struct floor *fl, size_t di)
{
	DIR *d = opendir(fl->dirs[di].spath);
	struct dirent *e;

	if (!d)
		die("opendir %s: %s", fl->dirs[di].spath, strerror(errno));
	for (;;) {
		char s[PATH_MAX], t[PATH_MAX];
		struct stat st;

		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				die("readdir %s: %s", fl->dirs[di].spath,
				    strerror(errno));
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("stat %s/%s: %s", fl->dirs[di].spath, e->d_name,
			    strerror(errno));
		join_path(s, sizeof(s), fl->dirs[di].spath, e->d_name);
		join_path(t, sizeof(t), fl->dirs[di].dpath, e->d_name);
		if (S_ISDIR(st.st_mode)) {
			if (fl->ndirs == fl->capdirs) {
				fl->capdirs *= 2;
				fl->dirs = realloc(fl->dirs, sizeof(*fl->dirs) *
						   fl->capdirs);
				if (!fl->dirs)
					die("out of memory");
			}
			fl->dirs[fl->ndirs++] = (struct fdir){
				.parent = di, .name = xstrdup(e->d_name),
				.spath = xstrdup(s), .dpath = xstrdup(t),
				.mode = st.st_mode, .sfd = AT_FDCWD,
				.dfd = AT_FDCWD,
			};
		} else if (S_ISREG(st.st_mode)) {
			if (fl->nfiles == fl->capfiles) {
				fl->capfiles *= 2;
				fl->files = realloc(fl->files,
						    sizeof(*fl->files) *
						    fl->capfiles);
				if (!fl->files)
					die("out of memory");
			}
			fl->files[fl->nfiles++] = (struct ffile){
				.dir = di, .name = xstrdup(e->d_name),
				.spath = xstrdup(s), .dpath = xstrdup(t),
				.mode = st.st_mode, .size = (int64_t)st.st_size,
			};
		} else {
			die("%s: floor handles regular files and dirs only", s);
		}
	}
	if (closedir(d) < 0)
		die("closedir %s: %s", fl->dirs[di].spath, strerror(errno));
}

/* Room for two O_PATH fds per directory; as root the hard limit can rise
 * up to fs.nr_open. Returns 0 when there is not enough: use full paths. */
static int floor_fd_budget(size_t ndirs)
{
	rlim_t need = (rlim_t)ndirs * 2 + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("getrlimit RLIMIT_NOFILE: %s", strerror(errno));
	if (rl.rlim_cur >= need)
		return 1;
	if (rl.rlim_max < need) {
		struct rlimit want = { need, need };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return 1;
		return 0;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		die("setrlimit RLIMIT_NOFILE: %s", strerror(errno));
	return 1;
}

/* auto: find the first rung that works on this pair of filesystems, with a
 * probe file beside DST, untimed. */
static enum mode floor_resolve_auto(struct floor *fl, const char *dst)
{
	char parent[PATH_MAX], probe[PATH_MAX];
	const char *slash = strrchr(dst, '/');
	enum mode m;

	if (fl->nfiles == 0)
		return M_COPY;
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == dst)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dst), dst);
	if (snprintf(probe, sizeof(probe), "%s/.baselines-probe-%ld", parent,
		     (long)getpid()) >= (int)sizeof(probe))
		die("path too long: %s", parent);
	for (m = M_CLONE; m < M_COPY; m++) {
		int err = op_raw(m, AT_FDCWD, fl->files[0].spath,
				 fl->files[0].spath, AT_FDCWD, probe,
				 fl->files[0].mode, fl->files[0].size);

		if (!err) {
			if (unlink(probe) < 0)
				die("unlink %s: %s", probe, strerror(errno));
			return m;
		}
		if (!refusal(m, err))
			die("probe %s %s: %s", mode_names[m], probe,
			    strerror(-err));
		atomic_fetch_add(&n_fallbacks, 1);
	}
	return M_COPY;
}

static void *floor_worker(void *arg)
{
	struct floor *fl = arg;
	size_t n = fl->nfiles;

	for (;;) {
		size_t i = atomic_fetch_add_explicit(&fl->next, 1,
						     memory_order_relaxed);
		const struct ffile *f;
		int err;

		if (i >= n)
			return NULL;
		f = &fl->files[i];
		if (fl->use_fds)
			err = op_raw(fl->mode, fl->dirs[f->dir].sfd, f->name,
				     f->spath, fl->dirs[f->dir].dfd, f->name,
				     f->mode, f->size);
		else
			err = op_raw(fl->mode, AT_FDCWD, f->spath, f->spath,
				     AT_FDCWD, f->dpath, f->mode, f->size);
		if (err)
			die("%s %s: %s", mode_names[fl->mode], f->spath,
			    strerror(-err));
	}
}

static double floor_run(unsigned jobs, const char *src, const char *dst)
{
	struct floor fl = { .capdirs = 256, .capfiles = 4096 };
	struct stat st;
	double t0, t1;

	/* untimed: the lists, the fds, the auto probe */
	if (stat(src, &st) < 0)
		die("stat %s: %s", src, strerror(errno));
	fl.dirs = xmalloc(sizeof(*fl.dirs) * fl.capdirs);
	fl.files = xmalloc(sizeof(*fl.files) * fl.capfiles);
	fl.dirs[0] = (struct fdir){
		.parent = 0, .name = xstrdup(dst), .spath = xstrdup(src),
		.dpath = xstrdup(dst), .mode = st.st_mode, .sfd = AT_FDCWD,
		.dfd = AT_FDCWD,
	};
	fl.ndirs = 1;
	for (size_t i = 0; i < fl.ndirs; i++) /* breadth first: parents first */
		floor_scan(&fl, i);
	fl.use_fds = floor_fd_budget(fl.ndirs);
	if (fl.use_fds) {
		for (size_t i = 0; i < fl.ndirs; i++) {
			fl.dirs[i].sfd = open(fl.dirs[i].spath, O_PATH |
					      O_DIRECTORY | O_CLOEXEC);
			if (fl.dirs[i].sfd < 0)
				die("open %s: %s", fl.dirs[i].spath,
				    strerror(errno));
		}
	}
	fl.mode = opt_mode == M_AUTO ? floor_resolve_auto(&fl, dst) : opt_mode;
	atomic_init(&fl.next, 0);

	t0 = now();
	for (size_t i = 0; i < fl.ndirs; i++) {
		struct fdir *d = &fl.dirs[i];

		if (!fl.use_fds) {
			make_dir(AT_FDCWD, d->dpath, d->mode, d->dpath);
			continue;
		}
		if (i == 0)
			make_dir(AT_FDCWD, d->dpath, d->mode, d->dpath);
		else
			make_dir(fl.dirs[d->parent].dfd, d->name, d->mode,
				 d->dpath);
		d->dfd = openat(i == 0 ? AT_FDCWD : fl.dirs[d->parent].dfd,
				i == 0 ? d->dpath : d->name,
				O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d->dfd < 0)
			die("open %s: %s", d->dpath, strerror(errno));
	}
	run_threads(jobs, floor_worker, &fl);
	t1 = now();

	atomic_store(&n_files, fl.nfiles);
	for (size_t i = 0; i < fl.ndirs; i++) {
		if (fl.use_fds) {
			close(fl.dirs[i].sfd);
			close(fl.dirs[i].dfd);
		}
		free(fl.dirs[i].name);
		free(fl.dirs[i].spath);
		free(fl.dirs[i].dpath);
	}
	for (size_t i = 0; i < fl.nfiles; i++) {
		free(fl.files[i].name);
		free(fl.files[i].spath);
		free(fl.files[i].dpath);
	}
	free(fl.dirs);
	free(fl.files);
	printf("{\"strategy\":\"floor\",\"mode\":\"%s\",\"resolved_mode\":\"%s\","
	       "\"dirfds\":%s,", mode_names[opt_mode], mode_names[fl.mode],
	       fl.use_fds ? "true" : "false");
	return t1 - t0;
}

int main(int argc, char **argv)
{
	const char *strategy, *src, *dst;
	unsigned long jobs;
	double t0, secs;
	char *end;
	int m;

	if (argc != 6) {
		fprintf(stderr,
			"usage: baselines STRATEGY MODE JOBS SRC DST\n"
			"  STRATEGY: sequential | per-wheel | floor\n"
			"  MODE: clone | hardlink | copy | symlink | auto\n");
		return 2;
	}
	strategy = argv[1];
	for (m = 0; m <= M_AUTO; m++)
		if (strcmp(argv[2], mode_names[m]) == 0)
			break;
	if (m > M_AUTO)
		die("unknown mode %s", argv[2]);
	opt_mode = (enum mode)m;
	errno = 0;
	jobs = strtoul(argv[3], &end, 10);
	if (errno || *end || jobs == 0 || jobs > 1024)
		die("bad JOBS %s (1..1024)", argv[3]);
	src = argv[4];
	dst = argv[5];
	if (!realpath(src, src_abs))
		die("realpath %s: %s", src, strerror(errno));
	if (opt_mode == M_SYMLINK)
		src = src_abs; /* walkers then build absolute targets */

	if (strcmp(strategy, "sequential") == 0) {
		t0 = now();
		make_root(src, dst);
		walk(src, dst);
		secs = now() - t0;
		printf("{\"strategy\":\"sequential\",\"mode\":\"%s\",",
		       mode_names[opt_mode]);
		jobs = 1;
	} else if (strcmp(strategy, "per-wheel") == 0) {
		t0 = now();
		per_wheel((unsigned)jobs, src, dst);
		secs = now() - t0;
		printf("{\"strategy\":\"per-wheel\",\"mode\":\"%s\",",
		       mode_names[opt_mode]);
	} else if (strcmp(strategy, "floor") == 0) {
		secs = floor_run((unsigned)jobs, src, dst);
	} else {
		die("unknown strategy %s (sequential, per-wheel, floor)",
		    strategy);
	}
	printf("\"jobs\":%lu,\"seconds\":%.6f,\"files\":%lu,\"dirs\":%lu,"
	       "\"fallbacks\":%lu}\n", jobs, secs, atomic_load(&n_files),
	       atomic_load(&n_dirs), atomic_load(&n_fallbacks));
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write stdout: %s", strerror(errno));
	return 0;
}
