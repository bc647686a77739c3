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
#include "base/alloc.h"
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

#define MANIFEST "BYTECODE"
#define MANIFEST_HEAD "spoke-bytecode-v1\n"
#define MANIFEST_MAX (64 << 20)

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
	char *err;
	size_t errlen;
	int bad;
};

static uint32_t le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A source path of the manifest: relative, no "." or ".." component. */
static int rel_ok(const char *rel)
{
	size_t n = strlen(rel);

	if (!n || n >= PATH_MAX - 64 || rel[0] == '/' || n < 4 ||
	    strcmp(rel + n - 3, ".py"))
		return 0;
	for (const char *p = rel; *p;) {
		size_t c = strcspn(p, "/");

		if (!c || (c == 1 && p[0] == '.') ||
		    (c == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		p += c + (p[c] == '/');
	}
	return 1;
}

/* The .pyc of source rel is sound: NULL, else what is wrong with it. */
static const char *check_pyc(struct check *c, int dfd,
			     const struct pyc_name *pn, const char *rel,
			     unsigned char magic[4], char *pyc, size_t len)
{
	const char *slash = strrchr(rel, '/'), *base = slash ? slash + 1 : rel;
	int dirlen = slash ? (int)(slash - rel) : 0, fd, n;
	unsigned char h[16];
	struct stat src, st;
	char opt[8] = "";

	if (pn->opt)
		snprintf(opt, sizeof(opt), ".opt-%d", pn->opt);
	n = snprintf(pyc, len, "%.*s%s__pycache__/%.*s.%s%s.pyc", dirlen, rel,
		     dirlen ? "/" : "", (int)strlen(base) - 3, base, pn->tag,
		     opt);
	if (n < 0 || (size_t)n >= len)
		return "name too long";
	if (fstatat(c->efd, rel, &src, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(src.st_mode))
		return "its source is not in the entry";
	fd = openat(dfd, pyc, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return "missing";
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 16 &&
	    pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h);
	close(fd);
	if (!n)
		return "truncated";
	if (h[2] != '\r' || h[3] != '\n' || le32(h + 4) != 0)
		return "not a timestamp .pyc";
	if (magic[0] == 0 && magic[1] == 0)
		memcpy(magic, h, 4);
	else if (memcmp(magic, h, 4))
		return "magic number differs from the others";
	if (le32(h + 8) != (uint32_t)src.st_mtime ||
	    le32(h + 12) != (uint32_t)src.st_size)
		return "stale (its source's mtime or size changed)";
	return NULL;
}

/* NULL when the directory name is sound, else why not (pyc: the file). */
static const char *check_dir(struct check *c, int bfd, const char *name,
			     const struct pyc_name *pn, char *pyc, size_t len)
{
	const char *why = NULL;
	unsigned char magic[4] = { 0 };
	char *buf = NULL, *line, *save = NULL;
	struct stat st;
	int dfd, fd;

	pyc[0] = '\0';
	dfd = openat(bfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		     O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? NULL : "cannot be opened";
	snprintf(pyc, len, MANIFEST);
	fd = openat(dfd, MANIFEST, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > MANIFEST_MAX)
		why = "missing or not a file";
	else if (!(buf = xmalloc((size_t)st.st_size + 1)))
		why = "out of memory";
	else if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size)
		why = "unreadable";
	if (fd >= 0)
		close(fd);
	if (!why) {
		buf[st.st_size] = '\0';
		if (strncmp(buf, MANIFEST_HEAD, strlen(MANIFEST_HEAD)) ||
		    strlen(buf) != (size_t)st.st_size)
			why = "not a bytecode manifest";
	}
	for (line = why ? NULL : strtok_r(buf + strlen(MANIFEST_HEAD), "\n",
					  &save);
	     line && !why; line = strtok_r(NULL, "\n", &save)) {
		int ok = !strncmp(line, "ok ", 3);
		const char *rel = line + (ok ? 3 : 10);

		if (!ok && strncmp(line, "nocompile ", 10))
			why = "not a bytecode manifest";
		else if (!rel_ok(rel))
			why = "names a source outside the entry";
		else if (ok)
			why = check_pyc(c, dfd, pn, rel, magic, pyc, len);
	}
	free(buf);
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
	ret = each_dir(s, verify_dir, &c);
	close(c.efd);
	if (ret && ret != -ENOENT)
		return errmsg_fail(ret, err, errlen, "cache entry %s: "
				   STORE_BYTECODE ": %s", entry,
				   errmsg_str(ret, (char[128]){ 0 }, 128));
	return c.bad ? SPOKE_E_CORRUPT : 0;
}
