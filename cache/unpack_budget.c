/* SPDX-License-Identifier: MIT */
/*
 * unpack_budget - the size budget of an unpack (see unpack.h): the declared
 * sizes of every entry, whatever its compression method, against a total
 * and a ratio, before a byte is written. Deflate alone is bounded by its
 * format (about 1032:1, checked at open); zstd is not, and ZIP64 sizes
 * reach 2^64, so without this a small wheel could fill the disk.
 */
#include "base/errmsg.h"
#include "cache/unpack.h"
#include "spoke.h"

#include <stdint.h>

uint64_t unpack_default_budget(uint64_t wheel_len)
{
	uint64_t scaled = wheel_len > UINT64_MAX / UNPACK_BUDGET_FACTOR ?
			  UINT64_MAX : wheel_len * UNPACK_BUDGET_FACTOR;

	return scaled > UNPACK_BUDGET_FLOOR ? scaled : UNPACK_BUDGET_FLOOR;
}

/* Sums are compared by subtraction: ZIP64 sizes near 2^64 must not wrap. */
int unpack_check_budget(const struct zip *z, uint64_t max_total,
			uint64_t max_ratio, char *err, size_t errlen)
{
	uint64_t total = 0;

	if (!max_total)
		max_total = unpack_default_budget(z->map_len);
	if (!max_ratio)
		max_ratio = UNPACK_RATIO_DEFAULT;
	for (size_t i = 0; i < z->n; i++) {
		const struct zip_entry *e = &z->ent[i];

		if (e->is_dir)
			continue;
		if (e->size > UNPACK_RATIO_FREE &&
		    e->size / max_ratio > e->comp_size)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				"%s: %s: %llu bytes from %llu compressed is "
				"more than the %llu:1 ratio allowed (set "
				"SPOKE_UNPACK_RATIO to change)", z->label,
				e->name, (unsigned long long)e->size,
				(unsigned long long)e->comp_size,
				(unsigned long long)max_ratio);
		if (e->size > max_total - total)
			return errmsg_fail(SPOKE_E_BADWHEEL, err, errlen,
				"%s: %s: unpacking %llu more bytes would exceed "
				"the size budget of %llu bytes for this wheel "
				"(set SPOKE_UNPACK_MAX to change)", z->label,
				e->name, (unsigned long long)e->size,
				(unsigned long long)max_total);
		total += e->size;
	}
	return 0;
}
