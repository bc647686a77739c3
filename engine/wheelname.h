/* SPDX-License-Identifier: MIT */
/*
 * wheelname - the wheel file name (binary distribution format, PEP 427):
 * {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl, and whether
 * it names the distribution whose *.dist-info directory the wheel holds.
 * pip refuses a file name that is not of this form and one whose name does
 * not start the dist-info's; spoke also holds the version to it, so that a
 * wheel cannot be installed under another release's name.
 */
#ifndef SPOKE_ENGINE_WHEELNAME_H
#define SPOKE_ENGINE_WHEELNAME_H

struct wheelname {
	char *buf;	/* one allocation holding every part */
	const char *name, *version, *build;	/* build: NULL if absent */
	const char *python, *abi, *platform;
};

/* Parse the last path component of file. 0; -EINVAL when it is not a
 * wheel file name (wrong number of parts, an empty part, white space or a
 * control character, a build tag not starting with a digit, no ".whl");
 * -ENOMEM. */
int wheelname_parse(const char *file, struct wheelname *out);
void wheelname_free(struct wheelname *wn);

/* 1 if the dist-info directory name ("foo_bar-1.0.dist-info") is of the
 * same distribution (PEP 503 normalised name) and version (compared
 * case-insensitively with '-' and '_' alike, as escaping makes them) as
 * wn; 0 if not; -ENOMEM. */
int wheelname_matches(const struct wheelname *wn, const char *distinfo);

#endif
