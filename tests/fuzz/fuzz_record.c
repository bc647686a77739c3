/* SPDX-License-Identifier: MIT */
/*
 * fuzz_record - libFuzzer target for RECORD parsing: any bytes either parse
 * or fail cleanly, and whatever parses must format to text that parses
 * back to the same rows and formats to the same bytes again; the path
 * index must find every row it was built from; each digest must survive a
 * base64url round-trip. Build like fuzz_zip.c (see there) and run:
 *   ./fuzz_record -max_total_time=60 tests/fuzz/corpus_record
 */
#include "cache/record.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int same_row(const struct record_row *a, const struct record_row *b)
{
	return !strcmp(a->path, b->path) && !strcmp(a->algo, b->algo) &&
	       a->digest_len == b->digest_len && a->size == b->size &&
	       !memcmp(a->digest, b->digest, a->digest_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record a, b;
	struct record_index ix;
	char err[512], *t1, *t2, b64[128];
	unsigned char dig[RECORD_DIGEST_MAX];
	size_t l1, l2;

	if (record_parse((const char *)data, size, &a, err, sizeof(err)))
		return 0;
	if (record_format(&a, &t1, &l1))
		abort();
	if (record_parse(t1, l1, &b, err, sizeof(err)) || a.n != b.n)
		abort();
	for (size_t i = 0; i < a.n; i++) {
		const struct record_row *r = &a.rows[i];
		int n;

		if (!same_row(r, &b.rows[i]))
			abort();
		if (!r->digest_len)
			continue;
		n = b64url_encode(r->digest, r->digest_len, b64, sizeof(b64));
		if (n < 0 || b64url_decode(b64, (size_t)n, dig, sizeof(dig)) !=
		    (int)r->digest_len || memcmp(dig, r->digest, r->digest_len))
			abort();
	}
	if (record_format(&b, &t2, &l2) || l1 != l2 || memcmp(t1, t2, l1))
		abort();
	if (record_index_build(&ix, &a, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < a.n; i++)
			if (record_index_find(&ix, a.rows[i].path,
					      strlen(a.rows[i].path)) !=
			    (long)i)
				abort();
		record_index_free(&ix);
	}
	free(t1);
	free(t2);
	record_free(&a);
	record_free(&b);
	return 0;
}
