/* SPDX-License-Identifier: MIT */
/*
 * treestat - summarise a tree for the spoke benchmark's output check: how
 * many regular files, directories (the root excluded) and other entries it
 * holds, and the total apparent size of its regular files. With --content it
 * also reads every file and folds (relative path, size, bytes) into one
 * order-independent 64-bit digest, so two trees with the same digest hold the
 * same files with the same content. Symlinks are counted, never followed.
 *
 * Usage: treestat [--content] DIR
 * Prints one JSON line: {"files":N,"dirs":N,"other":N,"bytes":N,"digest":"hex"}
 * (digest is "-" without --content).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t n_files, n_dirs, n_other, n_bytes, digest;
static int want_content;
static unsigned char buf[1 << 20];

_Noreturn static void die(const char *what, const char *path)
{
	fprintf(stderr, "treestat: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_bytes(uint64_t h, const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		h = (h ^ v) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static void file_digest(int dfd, const char *name, const char *rel,
			uint64_t size)
{
	uint64_t h = hash_bytes(0xcbf29ce484222325ULL,
				(const unsigned char *)rel, strlen(rel));
	uint64_t total = 0;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		die("open", rel);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("read", rel);
		}
		if (r == 0)
			break;
		h = hash_bytes(h, buf, (size_t)r);
		total += (uint64_t)r;
	}
	if (close(fd) < 0)
		die("close", rel);
	if (total != size) {
		fprintf(stderr, "treestat: %s: read %llu bytes, size %llu\n",
			rel, (unsigned long long)total,
			(unsigned long long)size);
		exit(1);
	}
	digest += mix(h ^ size);
}

/* Walk the directory open as dfd; rel is its path relative to the root. */
static void walk(int dfd, const char *rel)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d)
		die("fdopendir", rel);
	for (;;) {
		char sub[4096];
		struct stat st;

		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno)
				die("readdir", rel);
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", rel,
				     e->d_name) >= sizeof(sub)) {
			fprintf(stderr, "treestat: path too long: %s/%s\n", rel,
				e->d_name);
			exit(1);
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			die("stat", sub);
		if (S_ISDIR(st.st_mode)) {
			int cfd = openat(dirfd(d), e->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					 O_CLOEXEC);

			if (cfd < 0)
				die("open", sub);
			n_dirs++;
			walk(cfd, sub);
		} else if (S_ISREG(st.st_mode)) {
			n_files++;
			n_bytes += (uint64_t)st.st_size;
			if (want_content)
				file_digest(dirfd(d), e->d_name, sub,
					    (uint64_t)st.st_size);
		} else {
			n_other++;
		}
	}
	if (closedir(d) < 0)
		die("closedir", rel);
}

int main(int argc, char **argv)
{
	const char *root;
	int fd;

	if (argc == 3 && strcmp(argv[1], "--content") == 0) {
		want_content = 1;
		root = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		root = argv[1];
	} else {
		fprintf(stderr, "usage: treestat [--content] DIR\n");
		return 2;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die("open", root);
	walk(fd, ".");
	if (want_content)
		printf("{\"files\":%llu,\"dirs\":%llu,\"other\":%llu,"
		       "\"bytes\":%llu,\"digest\":\"%016llx\"}\n",
		       (unsigned long long)n_files, (unsigned long long)n_dirs,
		       (unsigned long long)n_other, (unsigned long long)n_bytes,
		       (unsigned long long)digest);
	else
		printf("{\"files\":%llu,\"dirs\":%llu,\"other\":%llu,"
		       "\"bytes\":%llu,\"digest\":\"-\"}\n",
		       (unsigned long long)n_files, (unsigned long long)n_dirs,
		       (unsigned long long)n_other, (unsigned long long)n_bytes);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "treestat: write stdout: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
