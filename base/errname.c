/* SPDX-License-Identifier: MIT */
/*
 * errname - see errname.h. The table lists the errno values a file installer
 * can meet; anything else prints as E<number>, which is still unambiguous.
 */
#include "base/errname.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define E(x) { x, #x }
static const struct {
	int value;
	const char *name;
} errnames[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG),
	E(ENOEXEC), E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES),
	E(EFAULT), E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR),
	E(EISDIR), E(EINVAL), E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY),
	E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK), E(EPIPE),
	E(ERANGE), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY), E(ELOOP),
	E(EOPNOTSUPP), E(EDQUOT), E(ESTALE), E(ECANCELED), E(EOVERFLOW),
	E(ETIMEDOUT), E(ENODATA), E(EILSEQ), E(EUCLEAN),
};
#undef E

const char *errname(int err, char buf[16])
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (errnames[i].value == err)
			return errnames[i].name;
	snprintf(buf, 16, "E%d", err);
	return buf;
}

int errname_parse(const char *name)
{
	/* ENOTSUP is EOPNOTSUPP on Linux; accept both spellings. */
	if (strcmp(name, "ENOTSUP") == 0)
		return ENOTSUP;
	if (strcmp(name, "EWOULDBLOCK") == 0)
		return EWOULDBLOCK;
	for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
		if (strcmp(errnames[i].name, name) == 0)
			return errnames[i].value;
	return 0;
}

enum err_class err_classify(int err, int op_is_link)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return ERR_OK;
	case EEXIST:
		return ERR_EXISTS;
	case EOPNOTSUPP:
#if ENOTSUP != EOPNOTSUPP
	case ENOTSUP:
#endif
	case EXDEV:
	case EINVAL:
	case ENOTTY:
	case ENOSYS:
		return ERR_UNSUPPORTED;
	case EPERM:
	case EMLINK:
		return op_is_link ? ERR_UNSUPPORTED : ERR_FATAL;
	default:
		return ERR_FATAL;
	}
}
