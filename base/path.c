/* SPDX-License-Identifier: MIT */
/* path - see path.h. */
#include "base/path.h"
#include "base/alloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

void path_normalize(char *p)
{
	char *out = p, *in = p;

	/* Each kept segment is written as "/seg"; out never passes in, so
	 * the input is read before it is overwritten. */
	while (*in) {
		char *seg;
		size_t n;

		while (*in == '/')
			in++;
		seg = in;
		while (*in && *in != '/')
			in++;
		n = (size_t)(in - seg);
		if (n == 0 || (n == 1 && seg[0] == '.'))
			continue;
		if (n == 2 && seg[0] == '.' && seg[1] == '.') {
			while (out > p && *--out != '/')
				;
			continue;
		}
		*out++ = '/';
		memmove(out, seg, n);
		out += n;
	}
	if (out == p)
		*out++ = '/';
	*out = '\0';
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p;

	if (b[0] == '/')
		la = 0;
	else if (a[0] != '/')
		return NULL; /* callers only join onto absolute paths */
	p = xmalloc(la + lb + 2);
	if (!p)
		return NULL;
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	path_normalize(p);
	return p;
}

char *path_absolute(const char *p)
{
	char cwd[PATH_MAX];

	if (p[0] == '/')
		return path_join("/", p);
	if (!getcwd(cwd, sizeof(cwd)))
		return NULL;
	return path_join(cwd, p);
}

int path_under(const char *root, const char *p)
{
	size_t n = strlen(root);

	if (n == 1) /* "/" */
		return p[0] == '/';
	return strncmp(root, p, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

char *path_relative(const char *from, const char *to)
{
	size_t common = 0, i, ups = 0, len;
	const char *rest;
	char *out, *o;

	/* The longest common prefix that ends at a component boundary. */
	for (i = 0;; i++) {
		int fe = from[i] == '\0' || from[i] == '/';
		int te = to[i] == '\0' || to[i] == '/';

		if (fe && te)
			common = i;
		if (from[i] == '\0' || to[i] == '\0' || from[i] != to[i])
			break;
	}
	for (i = common; from[i]; i++)
		if (from[i] == '/' && from[i + 1])
			ups++;
	if (from[common] == '/' && from[common + 1] == '\0')
		ups = 0;
	rest = to + common;
	while (*rest == '/')
		rest++;
	len = ups * 3 + strlen(rest) + 2;
	out = o = xmalloc(len);
	if (!out)
		return NULL;
	for (i = 0; i < ups; i++) {
		memcpy(o, "../", 3);
		o += 3;
	}
	strcpy(o, rest);
	if (o > out && !*rest)
		o[-1] = '\0'; /* "../.." for an ancestor */
	else if (o == out && !*rest)
		strcpy(out, ".");
	return out;
}

void path_dirname(char *p)
{
	char *slash = strrchr(p, '/');

	if (!slash || slash == p)
		strcpy(p, "/");
	else
		*slash = '\0';
}

const char *path_basename(const char *p)
{
	const char *slash = strrchr(p, '/');

	return slash ? slash + 1 : p;
}

/* The per-component walk: each name opened with O_NOFOLLOW, so neither a
 * symlink nor ".." (normalised paths hold none; refused anyway) leads out. */
static int walk_beneath(int dfd, const char *rel)
{
	char comp[NAME_MAX + 1];
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (*rel) {
		const char *end = strchr(rel, '/');
		size_t n = end ? (size_t)(end - rel) : strlen(rel);
		int next;

		if (n == 0 || n > NAME_MAX || (n == 2 && !memcmp(rel, "..", 2))) {
			close(fd);
			return n > NAME_MAX ? -ENAMETOOLONG : -EINVAL;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			      O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -errno;
		fd = next;
		rel += n + (end ? 1 : 0);
	}
	return fd;
}

int path_open_beneath(int dfd, const char *rel)
{
	static int no_openat2; /* the kernel said ENOSYS once */
	struct open_how how;
	long fd;

	if (!*rel || __atomic_load_n(&no_openat2, __ATOMIC_RELAXED))
		return walk_beneath(dfd, rel);
	memset(&how, 0, sizeof(how));
	how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
		      RESOLVE_NO_MAGICLINKS;
	fd = syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd >= 0)
		return (int)fd;
	/* EPERM/EACCES: a seccomp filter that does not know openat2;
	 * EAGAIN: a racing rename the kernel will not resolve through. */
	if (errno == ENOSYS || errno == EPERM || errno == EAGAIN) {
		if (errno == ENOSYS)
			__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
		return walk_beneath(dfd, rel);
	}
	/* RESOLVE_BENEATH reports an escape (a symlink or "..") as EXDEV;
	 * callers know a link in the way as ELOOP. */
	return errno == EXDEV ? -ELOOP : -errno;
}

int path_open_below(const char *root, const char *rel)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), sub;

	if (fd < 0)
		return -errno;
	sub = path_open_beneath(fd, rel);
	close(fd);
	return sub;
}
