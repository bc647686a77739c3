/* SPDX-License-Identifier: MIT */
/*
 * store - see store.h and docs/CACHE.md. The store never locks: the only
 * shared mutable things are names, and every change to a name is a single
 * rename (entries, index files) or a removal of something no one else can
 * still be writing (a temporary whose process is dead). This file is the
 * layout, lookup and add; store_scan.c verifies and lists, store_rm.c
 * removes. About 660 lines: the add is in two halves around its unpack
 * (store_add_begin/store_add_end) for installs that unpack many wheels on
 * one pool, and splitting those halves apart would put the publish far
 * from the temporary it publishes.
 */
#include "cache/store.h"
#include "cache/record.h"
#include "cache/store_int.h"
#include "cache/manifest.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "base/name.h"
#include "base/path.h"
#include "base/pool.h"
#include "io/linkops.h"
#include "spoke.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const store_subdirs[3] = { STORE_ARCHIVE, "index-v1", "tmp" };

DIR *store_opendir(int fd)
{
	int dup_fd = dup(fd);
	DIR *d;

	if (dup_fd < 0)
		return NULL;
	d = fdopendir(dup_fd);
	if (!d) {
		int e = errno;

		close(dup_fd);
		errno = e;
		return NULL;
	}
	/* The dup shares its offset with fd, which an earlier listing left
	 * at the end. */
	rewinddir(d);
	return d;
}

int store_key_ok(const char *key)
{
	size_t i;

	for (i = 0; i < STORE_KEY_LEN; i++)
		if (!((key[i] >= '0' && key[i] <= '9') ||
		      (key[i] >= 'a' && key[i] <= 'f')))
			return 0;
	return key[i] == '\0';
}

/* ---- location and opening ----------------------------------------------- */

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = xmalloc(la + lb + 2);

	if (s) {
		memcpy(s, a, la);
		s[la] = '/';
		memcpy(s + la + 1, b, lb + 1);
	}
	return s;
}

int store_resolve_dir(const char *dir, char **out)
{
	const char *v;

	*out = NULL;
	if (dir && *dir)
		*out = xstrdup(dir);
	else if ((v = getenv("SPOKE_CACHE_DIR")) && *v)
		*out = xstrdup(v);
	else if ((v = getenv("XDG_CACHE_HOME")) && *v == '/')
		*out = join(v, "spoke");
	else if ((v = getenv("HOME")) && *v)
		*out = join(v, ".cache/spoke");
	else
		return -ENOENT;
	/* Entry paths go to the linker and into manifests' callers, which
	 * join onto absolute paths only: a relative SPOKE_CACHE_DIR is taken
	 * from the working directory, once. */
	if (*out && (*out)[0] != '/') {
		char *abs = path_absolute(*out);

		free(*out);
		*out = abs;
	}
	return *out ? 0 : -ENOMEM;
}

static int mkdir_parents(const char *path)
{
	char *p = xstrdup(path);
	int ret = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s && !ret; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		ret = io_mkdir_at(AT_FDCWD, p, 0777);
		*s = '/';
	}
	if (!ret)
		ret = io_mkdir_at(AT_FDCWD, p, 0777);
	free(p);
	return ret;
}

int store_open_subdirs(struct store *s, char *err, size_t errlen)
{
	int *fds[3] = { &s->archfd, &s->indexfd, &s->tmpfd };
	char eb[128];
	int ret;

	for (int i = 0; i < 3; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
		if (s->rootfd < 0)
			continue;
		if (s->create) {
			ret = io_mkdir_at(s->rootfd, store_subdirs[i], 0777);
			if (ret)
				return errmsg_fail(ret, err, errlen,
						  "%s/%s: mkdir: %s", s->root,
						  store_subdirs[i], errmsg_str(ret,
						  eb, sizeof(eb)));
		}
		ret = io_open_dir_at(s->rootfd, store_subdirs[i]);
		if (ret == -ENOENT && !s->create)
			continue;
		if (ret < 0)
			return errmsg_fail(ret, err, errlen, "%s/%s: open: %s",
					  s->root, store_subdirs[i],
					  errmsg_str(ret, eb, sizeof(eb)));
		*fds[i] = ret;
	}
	return 0;
}

int store_open(struct store **out, const char *dir, int create, char *err,
	       size_t errlen)
{
	struct store *s;
	char eb[128];
	int ret;

	*out = NULL;
	s = xcalloc(1, sizeof(*s));
	if (!s)
		return errmsg_fail(-ENOMEM, err, errlen, "out of memory");
	s->rootfd = s->archfd = s->indexfd = s->tmpfd = -1;
	s->create = create;
	ret = store_resolve_dir(dir, &s->root);
	if (ret) {
		errmsg_fail(ret, err, errlen, ret == -ENOENT ? "no cache "
			   "directory: set SPOKE_CACHE_DIR or HOME" :
			   "out of memory");
		goto out;
	}
	if (create && (ret = mkdir_parents(s->root)) != 0) {
		errmsg_fail(ret, err, errlen, "%s: mkdir: %s", s->root,
			   errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	}
	ret = io_open_dir_at(AT_FDCWD, s->root);
	if (ret == -ENOENT && !create) {
		ret = 0;
		goto out;
	}
	if (ret < 0) {
		errmsg_fail(ret, err, errlen, "%s: open: %s", s->root,
			   errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	}
	s->rootfd = ret;
	ret = store_open_subdirs(s, err, errlen);
out:
	if (ret)
		store_close(s);
	else
		*out = s;
	return ret;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	int fds[4] = { s->rootfd, s->archfd, s->indexfd, s->tmpfd };

	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(s->root);
	free(s);
}

/* ---- lookup --------------------------------------------------------------- */

void store_entry_name(char buf[STORE_ENTRY_NAME_MAX], const char *key,
		      int verified)
{
	snprintf(buf, STORE_ENTRY_NAME_MAX, "%s%s", key,
		 verified ? "" : STORE_UNVERIFIED);
}

/* 0 if archive/<key>[.unverified] is a directory, else -errno/-ENOENT. */
static int entry_exists(const struct store *s, const char *key, int verified)
{
	char name[STORE_ENTRY_NAME_MAX];
	struct stat st;

	if (s->archfd < 0)
		return -ENOENT;
	store_entry_name(name, key, verified);
	if (fstatat(s->archfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOENT;
}

int store_lookup_key(const struct store *s, const char *key)
{
	if (!store_key_ok(key))
		return -EINVAL;
	return entry_exists(s, key, 1);
}

int store_lookup_any(const struct store *s, const char *key, int *verified)
{
	int ret;

	if (!store_key_ok(key))
		return -EINVAL;
	ret = entry_exists(s, key, 1);
	*verified = !ret;
	if (ret == -ENOENT)
		ret = entry_exists(s, key, 0);
	return ret;
}

int store_read_index(const struct store *s, const char *name,
		     char key[STORE_KEY_LEN + 1])
{
	char buf[STORE_KEY_LEN + 2];
	ssize_t n;
	int fd, ret;

	if (s->indexfd < 0)
		return -ENOENT;
	ret = io_fault_hit(IO_OP_OPEN);
	if (ret)
		return ret;
	fd = openat(s->indexfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	ret = n < 0 ? -errno : 0;
	close(fd);
	if (ret)
		return ret;
	if (n == STORE_KEY_LEN + 1 && buf[STORE_KEY_LEN] == '\n')
		n--;
	if (n != STORE_KEY_LEN)
		return -EINVAL;
	memcpy(key, buf, STORE_KEY_LEN);
	key[STORE_KEY_LEN] = '\0';
	return store_key_ok(key) ? 0 : -EINVAL;
}

int store_lookup_name(const struct store *s, const char *wheel_name,
		      char key[STORE_KEY_LEN + 1])
{
	int ret;

	if (!store_wheel_name_ok(wheel_name))
		return -EINVAL;
	int verified;

	ret = store_read_index(s, wheel_name, key);
	if (!ret)
		ret = store_lookup_any(s, key, &verified);
	return ret;
}

int store_entry_path_state(const struct store *s, const char *key,
			   int verified, char **out)
{
	char name[STORE_ENTRY_NAME_MAX];
	size_t n = strlen(s->root) + sizeof(STORE_ARCHIVE) + sizeof(name) + 1;

	*out = NULL;
	if (!store_key_ok(key))
		return -EINVAL;
	*out = xmalloc(n);
	if (!*out)
		return -ENOMEM;
	store_entry_name(name, key, verified);
	snprintf(*out, n, "%s/%s/%s", s->root, STORE_ARCHIVE, name);
	return 0;
}

int store_entry_path(const struct store *s, const char *key, char **out)
{
	return store_entry_path_state(s, key, 1, out);
}

int store_entry_open(const struct store *s, const char *key, int verified)
{
	char name[STORE_ENTRY_NAME_MAX];

	if (!store_key_ok(key))
		return -EINVAL;
	if (s->archfd < 0)
		return -ENOENT;
	store_entry_name(name, key, verified);
	return io_open_dir_at(s->archfd, name);
}

/* ---- add ------------------------------------------------------------------ */

int store_wheel_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && len <= NAME_MAX && name[0] != '.' &&
	       !strchr(name, '/') && !strcmp(name + len - 4, ".whl");
}

void store_temp_name(char *buf, size_t len, const char *stem)
{
	unsigned long long r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (unsigned long long)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^
		    (unsigned long long)ts.tv_sec;
	}
	snprintf(buf, len, "%s.%d.%016llx", stem, (int)getpid(), r);
}

/* mkdir that fails on an existing name: a temporary must be ours alone. */
static int mkdir_excl(int dfd, const char *name)
{
	int ret = io_fault_hit(IO_OP_MKDIR);

	if (ret)
		return ret;
	return mkdirat(dfd, name, 0777) < 0 ? -errno : 0;
}

/* Rename that never replaces: a plain rename() would replace an empty
 * directory, and EEXIST/ENOTEMPTY are exactly "someone else published". */
int store_rename_noreplace(int ofd, const char *oname, int nfd,
			   const char *nname)
{
	int ret = io_fault_hit(IO_OP_RENAME);

	if (ret)
		return ret;
	if (renameat2(ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* Filesystems without RENAME_NOREPLACE: entries are never empty, so
	 * renameat() fails with ENOTEMPTY/EEXIST on a published entry. */
	return renameat(ofd, oname, nfd, nname) < 0 ? -errno : 0;
}

static int write_index(struct store *s, const char *name, const char *key,
		       char *err, size_t errlen)
{
	char cur[STORE_KEY_LEN + 1], line[STORE_KEY_LEN + 2], eb[128];
	int ret;

	/* Re-adding is the common case; leave an up-to-date file alone. */
	if (store_read_index(s, name, cur) == 0 && !strcmp(cur, key))
		return 0;
	snprintf(line, sizeof(line), "%s\n", key);
	ret = io_write_file_at(s->indexfd, name, line, STORE_KEY_LEN + 1, 0644);
	if (ret)
		errmsg_fail(ret, err, errlen, "%s/index-v1/%s: write: %s",
			   s->root, name, errmsg_str(ret, eb, sizeof(eb)));
	return ret;
}

/* The file open at fd still has the identity, size and times of *st: it
 * was not changed while it was hashed. */
static int same_file_state(int fd, const struct stat *st)
{
	struct stat now;

	return fstat(fd, &now) == 0 && now.st_dev == st->st_dev &&
	       now.st_ino == st->st_ino && now.st_size == st->st_size &&
	       now.st_mtim.tv_sec == st->st_mtim.tv_sec &&
	       now.st_mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       now.st_ctim.tv_sec == st->st_ctim.tv_sec &&
	       now.st_ctim.tv_nsec == st->st_ctim.tv_nsec;
}

/* Run the caller's check on the tree at archive/<name> or tmp/<name>. */
static int run_check(const struct store *s, const struct unpack_opts *o,
		     const char *sub, const char *name, char *err,
		     size_t errlen)
{
	size_t n = strlen(s->root) + strlen(sub) + strlen(name) + 3;
	char *dir;
	int ret;

	if (!o->check)
		return 0;
	dir = xmalloc(n);
	if (!dir)
		return errmsg_fail(-ENOMEM, err, errlen, "out of memory");
	snprintf(dir, n, "%s/%s/%s", s->root, sub, name);
	ret = o->check(o->check_user, dir, err, errlen);
	free(dir);
	return ret;
}

/* An add between store_add_begin and store_add_end: everything the
 * unpack needs and everything the publish must undo on failure. */
struct store_pending {
	struct store *s;
	const struct unpack_opts *o;
	struct store_add_result *res;
	const char *name;
	const void *map;
	size_t len;
	struct zip *z;
	struct unpack_job *job;
	struct stat st;
	struct timespec hashed_at;
	int dfd, wfd, have_tmp, remember;
	char tmp[STORE_KEY_LEN + 64], ename[STORE_ENTRY_NAME_MAX];
	char shown[4 * NAME_MAX + 1];
};

int store_probe(const struct store *s, const char *path, int verify)
{
	char key[STORE_KEY_LEN + 1];
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return store_hash_lookup(s, &st, key) == 0 &&
	       (entry_exists(s, key, 1) == 0 ||
		(!verify && entry_exists(s, key, 0) == 0));
}

/* Release what pd holds; a temporary left means the add failed. */
static void pending_free(struct store_pending *pd)
{
	if (pd->dfd >= 0)
		close(pd->dfd);
	if (pd->have_tmp)
		store_remove_tree(pd->s->tmpfd, pd->tmp);
	zip_close(pd->z);
	zip_unmap(pd->map, pd->len);
	if (pd->wfd >= 0)
		close(pd->wfd);
	free(pd);
}

struct unpack_job *store_pending_job(struct store_pending *pd)
{
	return pd->job;
}

int store_add_begin(struct store *s, const char *path,
		    const struct unpack_opts *o, struct store_add_result *res,
		    struct store_pending **out, char *err, size_t errlen)
{
	struct store_pending *pd;
	const char *name = strrchr(path, '/');
	unsigned char dig[32];
	char eb[128];
	int ret;

	*out = NULL;
	memset(res, 0, sizeof(*res));
	name = name ? name + 1 : path;
	pd = xcalloc(1, sizeof(*pd));
	if (!pd)
		return errmsg_fail(-ENOMEM, err, errlen, "out of memory");
	pd->s = s;
	pd->o = o;
	pd->res = res;
	pd->name = name;
	pd->dfd = pd->wfd = -1;
	name_escape(pd->shown, sizeof(pd->shown), name);
	if (!store_wheel_name_ok(name)) {
		ret = errmsg_fail(SPOKE_E_USAGE, err, errlen, "%s: not a wheel "
				  "file name (*.whl)", pd->shown);
		goto out;
	}
	if (s->archfd < 0 || s->indexfd < 0 || s->tmpfd < 0) {
		ret = errmsg_fail(SPOKE_E_USAGE, err, errlen, "%s: cache not "
				  "opened for writing", s->root);
		goto out;
	}
	if (o->expect_key && !store_key_ok(o->expect_key)) {
		ret = errmsg_fail(SPOKE_E_USAGE, err, errlen, "%s: expected "
				  "sha256 '%.70s' is not 64 lowercase hex "
				  "digits", pd->shown, o->expect_key);
		goto out;
	}
	pd->wfd = ret = zip_open_file(path, err, errlen);
	if (ret < 0)
		goto out;
	if (fstat(pd->wfd, &pd->st) < 0) {
		ret = -errno;
		errmsg_fail(ret, err, errlen, "%s: stat: %s", pd->shown,
			    errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	}
	/* The stat record spares hashing a file hashed before, but only
	 * when the entry is there too: an unpack reads the file anyway. */
	if (store_hash_lookup(s, &pd->st, res->key) == 0 &&
	    (entry_exists(s, res->key, 1) == 0 ||
	     (!o->verify && entry_exists(s, res->key, 0) == 0))) {
		res->hash_cached = 1;
	} else {
		struct timespec t0;

		clock_gettime(CLOCK_REALTIME, &t0);
		ret = zip_map_fd(pd->wfd, path, &pd->map, &pd->len, err,
				 errlen);
		if (ret)
			goto out;
		ret = store_hash_map(pd->map, pd->len, dig);
		if (ret) {
			errmsg_fail(ret, err, errlen, "%s: sha256 failed",
				    pd->shown);
			goto out;
		}
		hex_encode(dig, sizeof(dig), res->key);
		pd->remember = same_file_state(pd->wfd, &pd->st);
		pd->hashed_at = t0;
	}
	if (o->expect_key && strcmp(o->expect_key, res->key)) {
		ret = errmsg_fail(SPOKE_E_HASH, err, errlen, "%s: sha256 is %s, "
				  "but %s was expected", pd->shown, res->key,
				  o->expect_key);
		goto out;
	}
	/* A verified entry serves everyone; an unverified one only callers
	 * that do not verify. A verifying caller never trusts it: it unpacks
	 * the wheel again with every check and publishes the verified name
	 * beside it (renaming the unverified entry instead would pull it
	 * from under installs linking from it right now). */
	if (entry_exists(s, res->key, 1) == 0)
		res->existed = res->verified = 1;
	else if (!o->verify && entry_exists(s, res->key, 0) == 0)
		res->existed = 1;
	if (res->existed) {
		store_entry_name(pd->ename, res->key, res->verified);
		ret = run_check(s, o, STORE_ARCHIVE, pd->ename, err, errlen);
		if (!ret)
			ret = write_index(s, name, res->key, err, errlen);
		if (!ret && pd->remember)
			store_hash_remember(s, &pd->st, res->key,
					    &pd->hashed_at);
		goto out;
	}
	res->verified = !!o->verify;
	store_entry_name(pd->ename, res->key, res->verified);
	if (!pd->map && (ret = zip_map_fd(pd->wfd, path, &pd->map, &pd->len,
					  err, errlen)))
		goto out;
	ret = zip_open_mapped(&pd->z, pd->map, pd->len, name, err, errlen);
	if (ret)
		goto out;
	store_temp_name(pd->tmp, sizeof(pd->tmp), res->key);
	ret = mkdir_excl(s->tmpfd, pd->tmp);
	if (!ret) {
		pd->have_tmp = 1;
		ret = pd->dfd = io_open_dir_at(s->tmpfd, pd->tmp);
	}
	if (ret < 0) {
		errmsg_fail(ret, err, errlen, "%s/tmp/%s: %s", s->root, pd->tmp,
			   errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	}
	ret = unpack_begin(&pd->job, pd->z, pd->dfd, o, err, errlen);
	if (!ret) {
		*out = pd;
		return 0;
	}
out:
	pending_free(pd);
	return ret;
}

int store_add_end(struct store_pending *pd, char *err, size_t errlen)
{
	struct store *s = pd->s;
	struct store_add_result *res = pd->res;
	char eb[128];
	int ret;

	ret = unpack_end(pd->job, &res->st, err, errlen);
	if (!ret)
		ret = run_check(s, pd->o, "tmp", pd->tmp, err, errlen);
	if (ret)
		goto out;
	ret = store_rename_noreplace(s->tmpfd, pd->tmp, s->archfd, pd->ename);
	if (ret == -EEXIST || ret == -ENOTEMPTY) {
		/* Another process published the same bytes first. */
		res->existed = 1;
		ret = 0;
	} else if (ret) {
		errmsg_fail(ret, err, errlen, "%s: publish %s: %s", pd->shown,
			   pd->ename, errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	} else {
		pd->have_tmp = 0;
		/* Planning reads this instead of walking the entry. */
		manifest_publish(pd->s->rootfd, pd->s->archfd, pd->ename);
	}
	ret = write_index(s, pd->name, res->key, err, errlen);
	/* Only for wheels that made it in: a refused one leaves nothing. */
	if (!ret && pd->remember)
		store_hash_remember(s, &pd->st, res->key, &pd->hashed_at);
out:
	pending_free(pd);
	return ret;
}

int store_add(struct store *s, const char *path, const struct unpack_opts *o,
	      struct store_add_result *res, char *err, size_t errlen)
{
	struct store_add_result local;
	struct store_pending *pd;
	struct unpack_job *j;
	int ret;

	if (!res)
		res = &local;
	ret = store_add_begin(s, path, o, res, &pd, err, errlen);
	if (ret || !pd)
		return ret;
	j = store_pending_job(pd);
	if (o->pool && unpack_ntasks(j) > 1) {
		/* A failed spawn is recorded in the job; run what was
		 * queued so no task is left pointing into the job. */
		unpack_spawn(j, o->pool, NULL);
		pool_run(o->pool);
	} else {
		unpack_run_here(j);
	}
	return store_add_end(pd, err, errlen);
}
