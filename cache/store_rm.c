/* SPDX-License-Identifier: MIT */
/*
 * store_rm - the destructive half of the store: removing trees, entries,
 * leftovers (prune) and everything (clean). Removal is built to finish
 * against a tree that fights back: directories without read or write
 * permission are chmod'ed, names that vanish meanwhile (a concurrent prune
 * or clean) count as removed, and a directory that readdir did not empty in
 * one pass is scanned again before it is called undeletable.
 */
#include "cache/store_int.h"
#include "cache/manifest.h"
#include "cache/store_pyc.h"
#include "io/linkops.h"
#include "base/rmtree.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One fd per level (the DIR's own): a tree as deep as a wheel may make
 * stays far below the fd limit. Fault injection stays on: the cache's
 * removals are part of the forward path the sweeps test. */
int store_remove_tree(int dfd, const char *name)
{
	struct rmtree o = { 0 };

	o.depth_max = 2 * ZIP_DEPTH_MAX;
	return rmtree_at(&o, dfd, name);
}

static int remove_index_for(struct store *s, const char *key)
{
	char cur[STORE_KEY_LEN + 1];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (s->indexfd < 0)
		return 0;
	d = store_opendir(s->indexfd);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (store_read_index(s, de->d_name, cur) == 0 &&
		    !strcmp(cur, key)) {
			int r = io_unlink_at(s->indexfd, de->d_name, 0);

			if (r && r != -ENOENT && !ret)
				ret = r;
		}
	}
	closedir(d);
	return ret;
}

int store_remove(struct store *s, const char *key, char *err, size_t errlen)
{
	char tmp[STORE_KEY_LEN + 64], eb[128];
	int ret;

	if (!store_key_ok(key))
		return errmsg_fail(-EINVAL, err, errlen, "%s: not a cache key",
				  key);
	if (s->archfd < 0 || s->tmpfd < 0)
		return errmsg_fail(-ENOENT, err, errlen, "%s: no such entry",
				  key);
	store_temp_name(tmp, sizeof(tmp), key);
	ret = store_rename_noreplace(s->archfd, key, s->tmpfd, tmp);
	if (!ret)
		ret = store_remove_tree(s->tmpfd, tmp);
	if (!ret)
		ret = remove_index_for(s, key);
	if (!ret)
		ret = store_pyc_remove(s, key);
	if (!ret)
		ret = manifest_remove(s->rootfd, key);
	if (ret)
		errmsg_fail(ret, err, errlen, "%s/" STORE_ARCHIVE "/%s: remove: %s",
			   s->root, key, errmsg_str(ret, eb, sizeof(eb)));
	return ret;
}

int store_clean(struct store *s, char *err, size_t errlen)
{
	const char *const dirs[4] = { store_subdirs[0], store_subdirs[1],
				      store_subdirs[2], MANIFEST_DIR };
	char trash[4][64], eb[128];
	struct dirent *de;
	int ret = 0, r;
	DIR *d;

	if (s->rootfd < 0)
		return 0;
	for (int i = 0; i < 4; i++) {
		char stem[32];

		snprintf(stem, sizeof(stem), ".trash-%s", dirs[i]);
		store_temp_name(trash[i], sizeof(trash[i]), stem);
		r = store_rename_noreplace(s->rootfd, dirs[i], s->rootfd,
					   trash[i]);
		if (r && r != -ENOENT && !ret)
			errmsg_fail(ret = r, err, errlen, "%s/%s: rename: %s",
				   s->root, dirs[i],
				   errmsg_str(r, eb, sizeof(eb)));
	}
	r = store_pyc_trash(s);
	if (r && !ret)
		errmsg_fail(ret = r, err, errlen, "%s/%s: rename: %s", s->root,
			   STORE_BYTECODE, errmsg_str(r, eb, sizeof(eb)));
	/* Ours and those of interrupted cleans alike. */
	d = store_opendir(s->rootfd);
	if (!d) {
		r = -errno;
		if (!ret)
			errmsg_fail(ret = r, err, errlen, "%s: %s", s->root,
				   errmsg_str(r, eb, sizeof(eb)));
	}
	while (d && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, ".trash-", 7) != 0)
			continue;
		r = store_remove_tree(s->rootfd, de->d_name);
		if (r && !ret)
			errmsg_fail(ret = r, err, errlen, "%s/%s: remove: %s",
				   s->root, de->d_name,
				   errmsg_str(r, eb, sizeof(eb)));
	}
	if (d)
		closedir(d);
	r = store_open_subdirs(s, ret ? NULL : err, errlen);
	return ret ? ret : r;
}

/* ---- prune ---------------------------------------------------------------- */

/* "<stem>.<pid>.<rand>" (store_temp_name) or ".spoke-<pid>-<n>-<name>"
 * (io_temp_name): the pid, or 0 if name is neither. */
static pid_t temp_pid(const char *name)
{
	const char *p, *dot;
	char *end;
	long v;

	if (io_is_temp_name(name)) {
		p = name + 7;
	} else {
		dot = strrchr(name, '.');
		if (!dot || dot == name)
			return 0;
		for (p = dot - 1; p > name && *p != '.'; p--)
			;
		if (*p != '.')
			return 0;
		p++;
	}
	v = strtol(p, &end, 10);
	if (end == p || v <= 0 || v > INT_MAX || (*end != '.' && *end != '-'))
		return 0;
	return (pid_t)v;
}

static int stale(int dfd, const char *name, time_t now, time_t max_age)
{
	struct stat st;
	pid_t pid = temp_pid(name);

	if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	return now - st.st_mtime > max_age;
}

static int prune_dir(int dfd, int (*want)(const char *), time_t max_age,
		     int *count)
{
	time_t now = time(NULL);
	struct dirent *de;
	int ret = 0;
	DIR *d;

	if (dfd < 0)
		return 0;
	d = store_opendir(dfd);
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		int r;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    !want(de->d_name) || !stale(dfd, de->d_name, now, max_age))
			continue;
		r = store_remove_tree(dfd, de->d_name);
		if (!r)
			(*count)++;
		else if (!ret)
			ret = r;
	}
	closedir(d);
	return ret;
}

static int any_name(const char *name)
{
	(void)name;
	return 1;
}

static int trash_name(const char *name)
{
	return strncmp(name, ".trash-", 7) == 0;
}

int store_prune(struct store *s, time_t max_age, char *err, size_t errlen)
{
	int count = 0, ret;
	char eb[128];

	if (max_age <= 0)
		max_age = STORE_PRUNE_AGE;
	ret = prune_dir(s->tmpfd, any_name, max_age, &count);
	if (!ret)
		ret = prune_dir(s->indexfd, io_is_temp_name, max_age, &count);
	if (!ret)
		ret = prune_dir(s->rootfd, trash_name, max_age, &count);
	if (!ret)
		ret = store_pyc_prune(s, &count);
	if (!ret && s->rootfd >= 0) {
		/* Manifest temporaries of killed runs, by the index's rule. */
		int mfd = openat(s->rootfd, MANIFEST_DIR, O_RDONLY |
				 O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (mfd >= 0) {
			ret = prune_dir(mfd, io_is_temp_name, max_age, &count);
			close(mfd);
		}
	}
	if (ret)
		return errmsg_fail(ret, err, errlen, "%s: prune: %s", s->root,
				  errmsg_str(ret, eb, sizeof(eb)));
	return count;
}
