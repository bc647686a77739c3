/* SPDX-License-Identifier: MIT */
/*
 * store_int - helpers shared by the parts of the store (store.c: layout,
 * lookup, add; store_scan.c: verify, list; store_rm.c: removal, prune,
 * clean). Not for use outside cache/.
 */
#ifndef SPOKE_CACHE_STORE_INT_H
#define SPOKE_CACHE_STORE_INT_H

#include "cache/store.h"
#include "base/errmsg.h"

#include <dirent.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

/* The three top directories, in the order of store's fds. */
extern const char *const store_subdirs[3];
/* (Re)open archive-v2, index-v1 and tmp below rootfd, creating them when
 * the store was opened with create. */
int store_open_subdirs(struct store *s, char *err, size_t errlen);
/* A listing of the directory open at fd (fd stays open, the listing
 * starts at the beginning): NULL with errno set on failure. */
DIR *store_opendir(int fd);
/* 64 lowercase hex digits and nothing else. */
int store_key_ok(const char *key);
/* A plain "*.whl" file name usable as an index file name. */
int store_wheel_name_ok(const char *name);
/* index-v1/<name> -> key: 0, -ENOENT, -EINVAL (damaged), -errno. */
int store_read_index(const struct store *s, const char *name,
		     char key[STORE_KEY_LEN + 1]);
/* "<stem>.<pid>.<16 hex random>" into buf. */
void store_temp_name(char *buf, size_t len, const char *stem);
int store_rename_noreplace(int ofd, const char *oname, int nfd,
			   const char *nname);
/* store_hash.c: the key the wheel file with stat st hashed to, if a record
 * of exactly that device, inode, size, mtime and ctime exists (0), else
 * -ENOENT/-errno; and remember one (best effort) for a file hashed from
 * hashed_at on, unless its ctime is too recent to be trusted. */
int store_hash_lookup(const struct store *s, const struct stat *st,
		      char key[STORE_KEY_LEN + 1]);
void store_hash_remember(struct store *s, const struct stat *st,
			 const char *key, const struct timespec *hashed_at);
/* SHA-256 of a whole zip_map() mapping, its pages given back as they are
 * hashed: 0 or -ENOMEM/-EIO. */
int store_hash_map(const void *map, size_t len, unsigned char dig[32]);

#endif
