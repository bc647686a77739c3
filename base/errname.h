/* SPDX-License-Identifier: MIT */
/*
 * errname - symbolic errno names ("EOPNOTSUPP") both ways, and the classifier
 * that decides whether a failed link/clone means "this filesystem pair cannot
 * do that" (switch the whole run to the fallback), "the target exists"
 * (replace it atomically) or a real failure (stop and report the path).
 */
#ifndef SPOKE_IO_ERRNAME_H
#define SPOKE_IO_ERRNAME_H

/* "EOPNOTSUPP" for 95; "E<number>" in buf for unknown values. err may be
 * negative (-errno). */
const char *errname(int err, char buf[16]);
/* 95 for "EOPNOTSUPP"; 0 when the name is not known. */
int errname_parse(const char *name);

enum err_class { ERR_OK = 0, ERR_UNSUPPORTED, ERR_EXISTS, ERR_FATAL };

/* op_is_link: hardlink also treats EPERM and EMLINK as unsupported (many
 * filesystems and protected_hardlinks refuse links without that meaning the
 * install must fail). err is -errno or 0. */
enum err_class err_classify(int err, int op_is_link);

#endif
