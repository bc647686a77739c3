/* SPDX-License-Identifier: MIT */
/*
 * pep440 - ordering of two version strings as PEP 440 orders them, so a
 * report can tell an upgrade from a downgrade. Only the comparison: epoch,
 * release (trailing zeros do not count), pre-, post- and dev-releases, and
 * the local label as a last tie-break. A version it cannot parse (a legacy
 * one, or damage in an installed METADATA) compares as a plain string.
 */
#ifndef SPOKE_ENGINE_PEP440_H
#define SPOKE_ENGINE_PEP440_H

/* <0, 0 or >0 as a sorts before, with or after b. */
int pep440_cmp(const char *a, const char *b);

#endif
