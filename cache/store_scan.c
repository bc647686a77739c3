/* SPDX-License-Identifier: MIT */
/*
 * store_scan - checking and listing cache entries. Verification walks the
 * entry's tree rather than iterating RECORD, because corruption includes
 * files that should not be there (a stray file in a hardlinked cache shows
 * up in every environment linked from it) as well as files that changed or
 * went missing. Each file is read once, through the RECORD digest.
 */
#include "cache/record.h"
#include "cache/store_int.h"
#include "cache/manifest.h"
#include "cache/store_pyc.h"
#include "base/alloc.h"
#include "base/fault.h"
#include "base/name.h"
#include "io/linkops.h"
#include "spoke.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RECORD_MAX (64u << 20)
#define READ_CHUNK (256u << 10)

struct verifier {
	const char *key;	/* the entry's name in the archive */
	mode_t dir_mode, file_mode, exec_mode;	/* what unpack made */
	char *dist_info;
	struct record rec;
	struct record_index ix;
	unsigned char *used;
	unsigned char *buf;
	char path[PATH_MAX];
	char *err;
	size_t errlen;
	/* The entry's kept manifest, when current: the modes it recorded at
	 * publish tell a chmod (which the rule below may allow: 0644 made
	 * 0755) from what unpack made. */
	struct manifest mf;
	int have_mf;
};

static int open_file(int dfd, const char *name)
{
	int fd, ret = io_fault_hit(IO_OP_OPEN);

	if (ret)
		return ret;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* The path comes from a directory listing or RECORD of a cache someone
 * else may have written: shown escaped. */
static int corrupt(struct verifier *v, const char *why)
{
	char shown[1024];

	name_escape(shown, sizeof(shown), v->path);
	return errmsg_fail(SPOKE_E_HASH, v->err, v->errlen,
			  "cache entry %s: %s: %s", v->key, shown, why);
}

/* Unpack makes directories 0777 and files 0666 or 0777, less the umask of
 * the adding process, which the entry's own directory shows. A chmod of a
 * hardlinked copy in an environment changes the cache's inode too. */
static int check_mode(struct verifier *v, const struct stat *st)
{
	mode_t m = st->st_mode & 07777;
	char why[96];

	if (v->have_mf && S_ISREG(st->st_mode)) {
		long i = manifest_find(&v->mf, v->path, strlen(v->path));

		if (i >= 0 && v->mf.ents[i].type == MF_FILE &&
		    (v->mf.ents[i].mode & 07777) != m) {
			snprintf(why, sizeof(why), "mode %04o changed (it was "
				 "%04o when the entry was published)",
				 (unsigned)m,
				 (unsigned)(v->mf.ents[i].mode & 07777));
			return corrupt(v, why);
		}
	}
	if (S_ISDIR(st->st_mode) ? m == v->dir_mode :
	    m == v->file_mode || m == v->exec_mode)
		return 0;
	if (S_ISDIR(st->st_mode))
		snprintf(why, sizeof(why), "mode %04o changed (unpack made "
			 "%04o)", (unsigned)m, (unsigned)v->dir_mode);
	else
		snprintf(why, sizeof(why), "mode %04o changed (unpack made "
			 "%04o or %04o)", (unsigned)m, (unsigned)v->file_mode,
			 (unsigned)v->exec_mode);
	return corrupt(v, why);
}

static int find_dist_info(struct verifier *v, int efd)
{
	struct dirent *de;
	struct stat st;
	int ret = 0;
	DIR *d = store_opendir(efd);

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n <= 10 || strcmp(de->d_name + n - 10, ".dist-info") ||
		    fstatat(efd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		if (v->dist_info) {
			ret = errmsg_fail(SPOKE_E_CORRUPT, v->err, v->errlen,
					 "cache entry %s: more than one "
					 ".dist-info directory", v->key);
			goto out;
		}
		v->dist_info = xstrdup(de->d_name);
		if (!v->dist_info) {
			ret = -ENOMEM;
			goto out;
		}
	}
	if (!v->dist_info)
		ret = errmsg_fail(SPOKE_E_CORRUPT, v->err, v->errlen,
				 "cache entry %s: no .dist-info directory",
				 v->key);
out:
	closedir(d);
	return ret;
}

static int load_record(struct verifier *v, int efd)
{
	char name[NAME_MAX + 16], msg[512], eb[128];
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	int fd, ret = 0;

	snprintf(name, sizeof(name), "%s/RECORD", v->dist_info);
	fd = open_file(efd, name);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = fd < 0 ? fd : -errno;
		errmsg_fail(SPOKE_E_CORRUPT, v->err, v->errlen,
			   "cache entry %s: %s: %s", v->key, name,
			   errmsg_str(ret, eb, sizeof(eb)));
		ret = SPOKE_E_CORRUPT;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > RECORD_MAX) {
		ret = errmsg_fail(SPOKE_E_CORRUPT, v->err, v->errlen,
				 "cache entry %s: %s: not a plausible RECORD",
				 v->key, name);
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	ret = record_parse(buf, got, &v->rec, msg, sizeof(msg));
	if (!ret)
		ret = record_index_build(&v->ix, &v->rec, msg, sizeof(msg));
	if (ret == SPOKE_E_BADWHEEL)
		ret = errmsg_fail(SPOKE_E_CORRUPT, v->err, v->errlen,
				 "cache entry %s: %s: %s", v->key, name, msg);
	if (!ret) {
		v->used = xcalloc(v->rec.n, 1);
		if (!v->used)
			ret = -ENOMEM;
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

static int check_file(struct verifier *v, int dfd, const char *name,
		      const struct stat *st)
{
	unsigned char got[RECORD_DIGEST_MAX];
	const struct record_row *row;
	struct digest dg;
	long r = record_index_find(&v->ix, v->path, strlen(v->path));
	int fd, ret;

	if (unpack_unlisted_ok(v->dist_info, v->path)) {
		if (r >= 0)
			v->used[r] = 1;
		return 0;
	}
	if (r < 0)
		return corrupt(v, "file not in RECORD");
	v->used[r] = 1;
	row = &v->rec.rows[r];
	if (!digest_size(row->algo))
		return corrupt(v, "RECORD has no usable hash for the file");
	if (row->size >= 0 && st->st_size != row->size)
		return corrupt(v, "size differs from RECORD");
	fd = open_file(dfd, name);
	if (fd < 0)
		return fd;
	ret = digest_init(&dg, row->algo);
	if (ret) {
		close(fd);
		return ret;
	}
	for (;;) {
		ssize_t n = read(fd, v->buf, READ_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -errno;
		if (n <= 0)
			break;
		ret = digest_update(&dg, v->buf, (size_t)n);
		if (ret)
			break;
	}
	close(fd);
	if (ret) {
		digest_free(&dg);
		return ret;
	}
	ret = digest_final(&dg, got);
	if (ret)
		return ret;
	if (memcmp(got, row->digest, row->digest_len))
		return corrupt(v, "content differs from RECORD's digest");
	return 0;
}

/* Walk the directory open at fd (owned: closed here), whose path relative
 * to the entry is v->path[0..plen). One fd per level. */
static int walk(struct verifier *v, int fd, size_t plen, int depth)
{
	struct dirent *de;
	int dfd, ret = 0;
	DIR *d;

	if (depth > 2 * ZIP_DEPTH_MAX) {
		close(fd);
		return corrupt(v, "tree too deep");
	}
	d = fdopendir(fd);
	if (!d) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* fd may be a dup sharing an offset an earlier listing moved. */
	rewinddir(d);
	dfd = dirfd(d);
	while (!ret && (de = readdir(d)) != NULL) {
		size_t nlen = strlen(de->d_name), at = plen ? plen + 1 : 0;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (at + nlen >= sizeof(v->path)) {
			ret = corrupt(v, "path too long");
			break;
		}
		if (plen)
			v->path[plen] = '/';
		memcpy(v->path + at, de->d_name, nlen + 1);
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
		} else if (S_ISDIR(st.st_mode)) {
			int cfd = io_open_dir_at(dfd, de->d_name);

			ret = check_mode(v, &st);
			if (!ret)
				ret = cfd < 0 ? cfd : walk(v, cfd, at + nlen,
							   depth + 1);
			else if (cfd >= 0)
				close(cfd);
		} else if (S_ISREG(st.st_mode)) {
			ret = check_file(v, dfd, de->d_name, &st);
			if (!ret)
				ret = check_mode(v, &st);
		} else {
			ret = corrupt(v, "not a regular file");
		}
		if (!ret)
			v->path[plen] = '\0';
	}
	closedir(d);
	return ret;
}

/* Only a kept manifest that is still current knows the modes unpack made;
 * one rebuilt now would record the present modes and prove nothing, and
 * without one the rule in check_mode is all there is. */
static void load_manifest(const struct store *s, const char *name,
			  struct verifier *v)
{
	char dir[PATH_MAX], e[256];
	int rebuilt = 1;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/" STORE_ARCHIVE "/%s",
			     s->root, name) >= sizeof(dir) ||
	    manifest_for_entry(dir, &v->mf, &rebuilt, e, sizeof(e)))
		return;
	if (rebuilt)
		manifest_free(&v->mf);
	else
		v->have_mf = 1;
}

int store_verify_entry(const struct store *s, const char *key, char *err,
		       size_t errlen)
{
	int verified = 1;

	if (store_lookup_any(s, key, &verified) == -ENOENT)
		verified = 1;	/* so the message names the usual entry */
	return store_verify_state(s, key, verified, err, errlen);
}

int store_verify_state(const struct store *s, const char *key, int verified,
		       char *err, size_t errlen)
{
	char name[STORE_ENTRY_NAME_MAX], eb[128], eb2[1024];
	struct verifier v = { .key = name, .err = err, .errlen = errlen };
	struct stat st;
	int efd, ret;

	if (!store_key_ok(key))
		return errmsg_fail(-EINVAL, err, errlen, "%s: not a cache key",
				  key);
	store_entry_name(name, key, verified);
	efd = store_entry_open(s, key, verified);
	if (efd < 0)
		return errmsg_fail(efd, err, errlen, "cache entry %s: %s", name,
				  errmsg_str(efd, eb, sizeof(eb)));
	if (fstat(efd, &st) < 0) {
		ret = -errno;
		close(efd);
		return errmsg_fail(ret, err, errlen, "cache entry %s: %s",
				  name, errmsg_str(ret, eb, sizeof(eb)));
	}
	v.dir_mode = st.st_mode & 07777;
	v.file_mode = v.dir_mode & 0666;
	v.exec_mode = v.dir_mode & 0777;
	v.buf = xmalloc(READ_CHUNK);
	load_manifest(s, name, &v);
	ret = v.buf ? find_dist_info(&v, efd) : -ENOMEM;
	if (!ret)
		ret = load_record(&v, efd);
	if (!ret) {
		int fd = dup(efd);

		ret = fd < 0 ? -errno : walk(&v, fd, 0, 0);
	}
	for (size_t i = 0; !ret && i < v.rec.n; i++) {
		if (v.used[i])
			continue;
		snprintf(v.path, sizeof(v.path), "%s", v.rec.rows[i].path);
		ret = corrupt(&v, "missing");
	}
	if (!ret)
		ret = store_pyc_verify(s, name, err, errlen);
	/* Failures that are not findings (I/O, memory) still need a text. */
	if (ret && ret != SPOKE_E_HASH && ret != SPOKE_E_CORRUPT)
		errmsg_fail(ret, err, errlen, "cache entry %s: %s%s%s", name,
			   name_escape(eb2, sizeof(eb2), v.path),
			   v.path[0] ? ": " : "",
			   errmsg_str(ret, eb, sizeof(eb)));
	close(efd);
	record_index_free(&v.ix);
	record_free(&v.rec);
	free(v.used);
	free(v.buf);
	free(v.dist_info);
	if (v.have_mf)
		manifest_free(&v.mf);
	return ret;
}

/* ---- list ----------------------------------------------------------------- */

struct named {
	char *name;
	char key[STORE_KEY_LEN + 1];
};

struct keyinfo {
	char key[STORE_KEY_LEN + 1];
	int verified, status, seen;
	char *msg;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct named *)a)->name,
		      ((const struct named *)b)->name);
}

/* By key, the verified entry of a key first. */
static int by_key(const void *a, const void *b)
{
	const struct keyinfo *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : y->verified - x->verified;
}

/* arr grown to hold n + 1 elements of size sz: the (maybe moved) array,
 * or NULL with arr untouched. */
static void *more(void *arr, size_t n, size_t *cap, size_t sz)
{
	void *p;

	if (n < *cap)
		return arr;
	p = xrealloc(arr, (*cap ? *cap * 2 : 64) * sz);
	if (p)
		*cap = *cap ? *cap * 2 : 64;
	return p;
}

static int read_dir(int dfd, int (*add)(void *u, const char *name), void *u)
{
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (dfd < 0)
		return 0;
	d = store_opendir(dfd);
	if (!d)
		return -errno;
	while (!ret && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			ret = add(u, de->d_name);
	closedir(d);
	return ret;
}

struct lists {
	const struct store *s;
	struct named *idx;
	size_t nidx, capidx;
	struct keyinfo *keys;
	size_t nkeys, capkeys;
};

static int add_index(void *u, const char *name)
{
	struct lists *l = u;
	char key[STORE_KEY_LEN + 1];
	void *p;

	/* Damaged or half-written index files just do not name anything. */
	if (store_read_index(l->s, name, key))
		return 0;
	p = more(l->idx, l->nidx, &l->capidx, sizeof(*l->idx));
	if (!p)
		return -ENOMEM;
	l->idx = p;
	l->idx[l->nidx].name = xstrdup(name);
	if (!l->idx[l->nidx].name)
		return -ENOMEM;
	memcpy(l->idx[l->nidx++].key, key, sizeof(key));
	return 0;
}

static int add_key(void *u, const char *name)
{
	struct lists *l = u;
	char key[STORE_KEY_LEN + 1];
	int verified = 1;
	void *p;

	if (strlen(name) == STORE_KEY_LEN + strlen(STORE_UNVERIFIED) &&
	    !strcmp(name + STORE_KEY_LEN, STORE_UNVERIFIED))
		verified = 0;
	memcpy(key, name, STORE_KEY_LEN);
	key[STORE_KEY_LEN] = '\0';
	if (strlen(name) < STORE_KEY_LEN || !store_key_ok(key) ||
	    (verified && name[STORE_KEY_LEN]))
		return 0;
	p = more(l->keys, l->nkeys, &l->capkeys, sizeof(*l->keys));
	if (!p)
		return -ENOMEM;
	l->keys = p;
	memset(&l->keys[l->nkeys], 0, sizeof(l->keys[0]));
	memcpy(l->keys[l->nkeys].key, key, sizeof(key));
	l->keys[l->nkeys++].verified = verified;
	return 0;
}

int store_list(const struct store *s, int verify, store_list_fn fn,
	       void *user, char *err, size_t errlen)
{
	struct lists l = { .s = s };
	char msg[1024], eb[128];
	int ret;

	ret = read_dir(s->archfd, add_key, &l);
	if (!ret)
		ret = read_dir(s->indexfd, add_index, &l);
	if (ret) {
		errmsg_fail(ret, err, errlen, "%s: list: %s", s->root,
			   errmsg_str(ret, eb, sizeof(eb)));
		goto out;
	}
	if (l.nkeys)
		qsort(l.keys, l.nkeys, sizeof(*l.keys), by_key);
	if (l.nidx)
		qsort(l.idx, l.nidx, sizeof(*l.idx), by_name);
	for (size_t i = 0; verify && i < l.nkeys; i++) {
		msg[0] = '\0';
		l.keys[i].status = store_verify_state(s, l.keys[i].key,
						      l.keys[i].verified, msg,
						      sizeof(msg));
		if (l.keys[i].status && !(l.keys[i].msg = xstrdup(msg))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < l.nkeys; i++) {
		if (!l.keys[i].verified && !l.keys[i].msg &&
		    !(l.keys[i].msg = xstrdup("unverified"))) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < l.nidx; i++) {
		struct keyinfo probe = { .verified = 1 }, *k = NULL;

		memcpy(probe.key, l.idx[i].key, sizeof(probe.key));
		for (int pass = 0; pass < 2 && !k && l.nkeys; pass++) {
			probe.verified = !pass;
			k = bsearch(&probe, l.keys, l.nkeys, sizeof(*l.keys),
				    by_key);
		}
		if (!k)
			continue;
		k->seen = 1;
		fn(user, k->key, l.idx[i].name, k->status,
		   k->msg ? k->msg : "");
	}
	for (size_t i = 0; i < l.nkeys; i++)
		if (!l.keys[i].seen)
			fn(user, l.keys[i].key, NULL, l.keys[i].status,
			   l.keys[i].msg ? l.keys[i].msg : "");
	ret = (int)l.nkeys;
out:
	for (size_t i = 0; i < l.nidx; i++)
		free(l.idx[i].name);
	for (size_t i = 0; i < l.nkeys; i++)
		free(l.keys[i].msg);
	free(l.idx);
	free(l.keys);
	return ret;
}
