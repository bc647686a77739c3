/* SPDX-License-Identifier: MIT */
/*
 * store_hash - what each wheel file hashed to, keyed by its stat, so that
 * installing a cached wheel does not read the whole .whl again (git's index
 * does the same for the work tree). One small file per wheel inode:
 *
 *   index-v1/by-inode/<dev hex>-<ino hex>
 *     "v1 <size> <mtime s> <mtime ns> <ctime s> <ctime ns> <key>\n"
 *
 * A record is used only when device, inode, size, mtime and ctime (in ns)
 * all match the file's fstat. ctime cannot be set from user space, so a
 * file rewritten in place, even to the same size with its mtime restored
 * (touch -r), or replaced by another file that got the same inode, no
 * longer matches and is hashed again. A record is written only for a file
 * whose ctime is older than the hashing by more than a clock tick's worth
 * (STAT_SETTLE_NS): a write in the same tick as the hash would leave the
 * times unchanged (git's "racy clean" problem), so such a file is simply
 * hashed again next time. Records live below index-v1 so that clean
 * removes them with the index; the directory's name has no ".whl", so no
 * index reader takes it for a wheel. Anyone who can write the cache can
 * forge a record, as they could edit an entry: records are no weaker.
 */
#include "cache/store_int.h"
#include "cache/record.h"
#include "cache/zip.h"
#include "base/fault.h"
#include "io/linkops.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BY_INODE "by-inode"
#define STAT_SETTLE_NS 2000000000ll	/* 2 s: coarse clocks and NFS */

/* "<dev>-<ino>", below BY_INODE when dir is set. */
static void record_name(char *buf, size_t len, const struct stat *st,
			int dir)
{
	snprintf(buf, len, "%s%" PRIx64 "-%" PRIx64, dir ? BY_INODE "/" : "",
		 (uint64_t)st->st_dev, (uint64_t)st->st_ino);
}

static int format(char *buf, size_t len, const struct stat *st,
		  const char *key)
{
	return snprintf(buf, len, "v1 %" PRIu64 " %lld %ld %lld %ld %s\n",
			(uint64_t)st->st_size, (long long)st->st_mtim.tv_sec,
			st->st_mtim.tv_nsec, (long long)st->st_ctim.tv_sec,
			st->st_ctim.tv_nsec, key);
}

int store_hash_lookup(const struct store *s, const struct stat *st,
		      char key[STORE_KEY_LEN + 1])
{
	char name[64], want[160], got[160];
	ssize_t n;
	int fd, wl;

	if (s->indexfd < 0)
		return -ENOENT;
	record_name(name, sizeof(name), st, 1);
	fd = openat(s->indexfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, got, sizeof(got) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -EIO;
	got[n] = '\0';
	/* The record must be exactly what this stat and its key would
	 * write: compare whole lines, no parsing to get wrong. */
	wl = format(want, sizeof(want), st, "");
	if (wl <= 1 || (size_t)n != (size_t)wl - 1 + STORE_KEY_LEN + 1 ||
	    memcmp(got, want, (size_t)wl - 1) || got[n - 1] != '\n')
		return -ENOENT;
	memcpy(key, got + wl - 1, STORE_KEY_LEN);
	key[STORE_KEY_LEN] = '\0';
	return store_key_ok(key) ? 0 : -ENOENT;
}

void store_hash_remember(struct store *s, const struct stat *st,
			 const char *key, const struct timespec *hashed_at)
{
	long long age = (long long)(hashed_at->tv_sec - st->st_ctim.tv_sec) *
			1000000000ll + (hashed_at->tv_nsec -
					st->st_ctim.tv_nsec);
	char name[64], line[160];
	int dfd, len;

	if (s->indexfd < 0 || age < STAT_SETTLE_NS || !store_key_ok(key))
		return;
	/* Best effort: without a record the next add hashes again. */
	if (io_mkdir_at(s->indexfd, BY_INODE, 0777))
		return;
	dfd = io_open_dir_at(s->indexfd, BY_INODE);
	if (dfd < 0)
		return;
	record_name(name, sizeof(name), st, 0);
	len = format(line, sizeof(line), st, key);
	if (len > 0 && (size_t)len < sizeof(line))
		io_write_file_at(dfd, name, line, (size_t)len, 0644);
	close(dfd);
}

/* SHA-256 of a zip_map() mapping in windows, each given back once hashed:
 * a 140 MB wheel then costs one window of resident pages, not 140 MB (peak
 * RSS counts every touched page of a mapping). Reading the file into a
 * buffer instead would cost a copy; the unpack maps the file anyway. */
#define HASH_WINDOW (4u << 20)

int store_hash_map(const void *map, size_t len, unsigned char dig[32])
{
	const unsigned char *p = map;
	struct digest d;
	int ret = digest_init(&d, "sha256");

	while (!ret && len) {
		size_t n = len < HASH_WINDOW ? len : HASH_WINDOW;

		ret = digest_update(&d, p, n);
		zip_map_release(p, n);
		p += n;
		len -= n;
	}
	if (ret) {
		digest_free(&d);
		return ret;
	}
	return digest_final(&d, dig);
}
