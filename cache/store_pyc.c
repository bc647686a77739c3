/* SPDX-License-Identifier: MIT */
/*
 * store_pyc - see store_pyc.h. A bytecode directory is only ever removed by
 * renaming it into tmp/ first (one rename, as entries are removed), so an
 * install that already checked it either links it whole or finds it gone;
 * never half of it. The name is parsed from its end ("opt-N", then the
 * cache tag), so an entry name with a dot (<key>.unverified) stays whole.
 */
#include "cache/store_pyc.h"
#include "cache/store_int.h"
#include "cache/store_pyc_stamp.h"
#include "base/alloc.h"
#include "base/strmap.h"
#include "spoke.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct pyc_name {
	char entry[STORE_ENTRY_NAME_MAX];
	char tag[64];
	int opt;
};

/* "<entry>.<tag>.opt-<N>": 0, or -EINVAL for a name spoke does not make. */
static int parse_name(const char *name, struct pyc_name *pn)
{
	const char *opt = strrchr(name, '.'), *tag;
	size_t el, tl;

	if (!opt || strlen(opt) != 6 || strncmp(opt, ".opt-", 5) ||
	    opt[5] < '0' || opt[5] > '2')
		return -EINVAL;
	for (tag = opt - 1; tag > name && *tag != '.'; tag--)
		;
	el = (size_t)(tag - name);
	tl = (size_t)(opt - tag) - 1;
	if (*tag != '.' || !tl || tl >= sizeof(pn->tag) ||
	    el >= sizeof(pn->entry))
		return -EINVAL;
	memcpy(pn->entry, name, el);
	pn->entry[el] = '\0';
	memcpy(pn->tag, tag + 1, tl);
	pn->tag[tl] = '\0';
	pn->opt = opt[5] - '0';
	if (strspn(pn->tag, "abcdefghijklmnopqrstuvwxyz0123456789_-") != tl ||
	    (el != STORE_KEY_LEN && (el != STORE_KEY_LEN +
				      strlen(STORE_UNVERIFIED) ||
				      strcmp(pn->entry + STORE_KEY_LEN,
					     STORE_UNVERIFIED))))
		return -EINVAL;
	pn->entry[STORE_KEY_LEN] = '\0';
	if (!store_key_ok(pn->entry))
		return -EINVAL;
	if (el != STORE_KEY_LEN)
		pn->entry[STORE_KEY_LEN] = '.';
	return 0;
}

static int open_bytecode(const struct store *s)
{
	int fd;

	if (s->rootfd < 0)
		return -ENOENT;
	fd = openat(s->rootfd, STORE_BYTECODE, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* One rename into tmp/, then the removal: 0 or -errno (gone is 0). */
static int remove_dir(const struct store *s, int bfd, const char *name)
{
	char tmp[NAME_MAX + 1];
	int ret;

	if (s->tmpfd < 0)
		return -ENOENT;
	store_temp_name(tmp, sizeof(tmp), "pyc");
	ret = store_rename_noreplace(bfd, name, s->tmpfd, tmp);
	if (ret == -ENOENT)
		return 0;
	return ret ? ret : store_remove_tree(s->tmpfd, tmp);
}

/* Call fn on each directory name below bytecode-v1 (fn may remove it:
 * the names are read first). */
static int each_dir(const struct store *s,
		    int (*fn)(const struct store *s, int bfd, const char *name,
			      void *u), void *u)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int bfd = open_bytecode(s), ret = 0;
	DIR *d;

	if (bfd < 0)
		return bfd == -ENOENT ? 0 : bfd;
	if (!(d = store_opendir(bfd))) {
		ret = -errno;
		close(bfd);
		return ret;
	}
	while (!ret && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			char **p = xrealloc(names, (cap = cap ? 2 * cap : 16) *
					    sizeof(*p));

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			names = p;
		}
		if (!(names[n] = xstrdup(de->d_name)))
			ret = -ENOMEM;
		else
			n++;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		if (!ret)
			ret = fn(s, bfd, names[i], u);
		free(names[i]);
	}
	free(names);
	close(bfd);
	return ret;
}

static int remove_if_entry(const struct store *s, int bfd, const char *name,
			   void *u)
{
	struct pyc_name pn;

	if (parse_name(name, &pn) || strcmp(pn.entry, u))
		return 0;
	return remove_dir(s, bfd, name);
}

int store_pyc_remove(struct store *s, const char *entry)
{
	return each_dir(s, remove_if_entry, (void *)entry);
}

static int remove_orphan(const struct store *s, int bfd, const char *name,
			 void *u)
{
	struct pyc_name pn;
	struct stat st;
	int ret;

	if (!parse_name(name, &pn) && s->archfd >= 0 &&
	    fstatat(s->archfd, pn.entry, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(st.st_mode))
		return 0;
	ret = remove_dir(s, bfd, name);
	if (!ret)
		(*(int *)u)++;
	return ret;
}

int store_pyc_prune(struct store *s, int *count)
{
	return each_dir(s, remove_orphan, count);
}

int store_pyc_trash(struct store *s)
{
	char trash[64];
	int ret;

	if (s->rootfd < 0)
		return 0;
	store_temp_name(trash, sizeof(trash), ".trash-" STORE_BYTECODE);
	ret = store_rename_noreplace(s->rootfd, STORE_BYTECODE, s->rootfd,
				     trash);
	return ret == -ENOENT ? 0 : ret;
}

/* ---- verify ---------------------------------------------------------------- */

struct check {
	const struct store *s;
	const char *entry;
	int efd;
	unsigned char mf_id[32]; /* of the entry's manifest; have_mf */
	int have_mf;
	char *err;
	size_t errlen;
	int bad;
};

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The .pyc of the compiled source v is sound and what the stamp says:
 * NULL, else what is wrong with it (pyc: its path). */
static const char *check_pyc(struct check *c, int dfd,
			     const struct pyc_stamp *st,
			     const struct pyc_stamp_src *v, char *pyc,
			     size_t len)
{
	unsigned char h[16];
	struct stat src, ps;
	int fd, n;

	n = pyc_stamp_pyc_path(pyc, len, v->rel, st->tag, st->opt);
	if (n < 0 || (size_t)n >= len)
		return "name too long";
	if (fstatat(c->efd, v->rel, &src, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(src.st_mode))
		return "its source is not in the entry";
	fd = openat(dfd, pyc, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return "missing";
	n = fstat(fd, &ps) == 0 && S_ISREG(ps.st_mode) && ps.st_size > 16 &&
	    pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h);
	close(fd);
	if (!n || ps.st_size != v->pyc_size)
		return "truncated or of another size than its stamp says";
	if (h[2] != '\r' || h[3] != '\n' || le32(h + 4) != 0)
		return "not a timestamp .pyc";
	if (memcmp(h, st->magic, 4))
		return "magic number differs from its stamp's";
	if (le32(h + 8) != (uint32_t)src.st_mtime ||
	    le32(h + 12) != (uint32_t)src.st_size ||
	    v->mtime != (int64_t)src.st_mtime || v->size != src.st_size)
		return "stale (its source's mtime or size changed)";
	return NULL;
}

/* Every file below the directory at dfd is the stamp or an expected
 * .pyc: an install links whatever lies there. NULL, or what is wrong. */
static const char *check_names(int dfd, const struct strmap *want,
			       char *rel, size_t len, int depth)
{
	size_t rl = strlen(rel);
	const char *why = NULL;
	struct dirent *de;
	DIR *d = depth < 300 ? store_opendir(dfd) : NULL;

	if (!d)
		return "cannot be read";
	while (!why && (de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rl + strlen(de->d_name) + 2 > len) {
			why = "name too long";
			break;
		}
		snprintf(rel + rl, len - rl, "%s%s", rl ? "/" : "",
			 de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			why = "cannot be read";
		else if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name, O_RDONLY |
					 O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			why = sub < 0 ? "cannot be read" :
			      check_names(sub, want, rel, len, depth + 1);
			if (sub >= 0)
				close(sub);
		} else if (!S_ISREG(st.st_mode) ||
			   (!strmap_get(want, rel) &&
			    (rl || strcmp(de->d_name, PYC_STAMP_FILE)))) {
			why = "holds a file that is not one of its .pyc";
		}
		if (!why)
			rel[rl] = '\0';
	}
	closedir(d);
	return why;
}

/* NULL when the directory name is sound, else why not (pyc: the file). */
static const char *check_dir(struct check *c, int bfd, const char *name,
			     const struct pyc_name *pn, char *pyc, size_t len)
{
	struct strmap want = { 0 };
	struct strmap_ent *e;
	struct pyc_stamp st;
	const char *why = NULL;
	int dfd, ret;

	pyc[0] = '\0';
	dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		     O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? NULL : "cannot be opened";
	snprintf(pyc, len, PYC_STAMP_FILE);
	ret = pyc_stamp_read(dfd, &st);
	if (ret == -ENOENT)
		why = "missing";
	else if (ret == -ENOMEM)
		why = "out of memory";
	else if (ret)
		why = "not a whole stamp of this version (damaged, edited or "
		      "older)";
	else if (strcmp(st.entry, c->entry) || strcmp(st.tag, pn->tag) ||
		 st.opt != pn->opt)
		why = "names another entry, cache tag or optimization level";
	for (size_t i = 0; !why && i < st.nsrc; i++) {
		if (!st.src[i].ok)
			continue;
		why = check_pyc(c, dfd, &st, &st.src[i], pyc, len);
		if (!why && strmap_put(&want, pyc, &e) < 0)
			why = "out of memory";
	}
	if (!why) {
		pyc[0] = '\0';
		why = check_names(dfd, &want, pyc, len, 0);
	}
	/* Sound: bind the stamp to the entry and the directories as they
	 * are, so installs trust it without checking each file again. */
	if (!why && c->have_mf &&
	    (memcmp(st.manifest, c->mf_id, sizeof(st.manifest)) ||
	     !pyc_stamp_dirs_hold(dfd, &st))) {
		memcpy(st.manifest, c->mf_id, sizeof(st.manifest));
		if (pyc_stamp_take_dirs(dfd, &st) == 0)
			(void)pyc_stamp_write(dfd, &st);
	}
	strmap_free(&want);
	if (ret == 0)
		pyc_stamp_free(&st);
	close(dfd);
	return why;
}

static int verify_dir(const struct store *s, int bfd, const char *name,
		      void *u)
{
	struct check *c = u;
	struct pyc_name pn;
	char pyc[PATH_MAX], eb[128];
	const char *why;
	int ret;

	if (parse_name(name, &pn) || strcmp(pn.entry, c->entry))
		return 0;
	why = check_dir(c, bfd, name, &pn, pyc, sizeof(pyc));
	if (!why)
		return 0;
	ret = remove_dir(s, bfd, name);
	if (!c->bad++)
		errmsg_fail(SPOKE_E_CORRUPT, c->err, c->errlen, "cache entry "
			    "%s: bytecode " STORE_BYTECODE "/%s/%s: %s (%s)",
			    c->entry, name, pyc, why, ret ? errmsg_str(ret, eb,
			    sizeof(eb)) : "removed; the next install compiles "
			    "it again");
	return 0;
}

/* The identity stamps bind to: SHA-256 of the entry's manifest (the kept
 * one when current, else rebuilt and kept, as an install would). */
static int entry_manifest_id(const struct store *s, const char *entry,
			     unsigned char id[32])
{
	struct manifest m;
	char *dir = NULL, msg[256];
	int ret;

	if (!s->root || asprintf(&dir, "%s/" STORE_ARCHIVE "/%s", s->root,
				 entry) < 0)
		return -ENOMEM;
	ret = manifest_for_entry(dir, &m, NULL, msg, sizeof(msg));
	free(dir);
	if (ret)
		return ret;
	ret = pyc_stamp_manifest_id(&m, id);
	manifest_free(&m);
	return ret;
}

int store_pyc_verify(const struct store *s, const char *entry, char *err,
		     size_t errlen)
{
	struct check c = { .s = s, .entry = entry, .err = err,
			   .errlen = errlen };
	int ret;

	if (s->archfd < 0)
		return 0;
	c.efd = openat(s->archfd, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		       O_CLOEXEC);
	if (c.efd < 0)
		return 0; /* the entry's own check says so */
	c.have_mf = entry_manifest_id(s, entry, c.mf_id) == 0;
	ret = each_dir(s, verify_dir, &c);
	close(c.efd);
	if (ret && ret != -ENOENT)
		return errmsg_fail(ret, err, errlen, "cache entry %s: "
				   STORE_BYTECODE ": %s", entry,
				   errmsg_str(ret, (char[128]){ 0 }, 128));
	return c.bad ? SPOKE_E_CORRUPT : 0;
}
