/* SPDX-License-Identifier: MIT */
/*
 * fuzz_zip - libFuzzer target for the zip reader: open any bytes as an
 * archive, and when that succeeds, check the promises zip.h makes (every
 * name safe, every data range inside the mapping) and extract every entry
 * into a sink that only counts and hashes, twice: whole-buffer (libdeflate)
 * and streamed (zlib), which must agree on the bytes; then find the dist-info and parse RECORD
 * the way unpack does; the size budget must judge every archive without
 * tripping on its sizes. Build (SRCS: every .c of cache/, io/ and base/):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude \
 *     tests/fuzz/fuzz_zip.c $SRCS -ldeflate -lz -lzstd -lcrypto -luring \
 *     -lutf8proc -pthread -o fuzz_zip
 *   ./fuzz_zip -max_total_time=60 tests/fuzz/corpus_zip
 */
#include "cache/record.h"
#include "cache/unpack.h"
#include "cache/zip.h"
#include "base/name.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct count_sink {
	struct zip_sink s;
	uint64_t n;
	uint32_t sum;	/* cheap order-sensitive checksum of the bytes */
};

static int count_write(struct zip_sink *s, const void *buf, size_t len)
{
	struct count_sink *c = (struct count_sink *)s;
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++)
		c->sum = c->sum * 31u + p[i];
	c->n += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zip *z;
	char err[1024], *di = NULL, *text, rname[512];
	size_t len;
	long ri;

	if (zip_open_mem(&z, data, size, "fuzz.whl", err, sizeof(err)))
		return 0;
	unpack_check_budget(z, 0, 0, err, sizeof(err));
	for (size_t i = 0; i < z->n; i++) {
		const struct zip_entry *e = &z->ent[i];
		struct count_sink c = { .s = { .write = count_write,
					       .stream_min = UINT64_MAX } };
		struct count_sink st = { .s = { .write = count_write,
						.stream_min = 1 } };
		char err2[1024];
		int r1, r2;

		if (zip_name_problem(e->name, e->name_len) ||
		    name_has_control(e->name) ||
		    strlen(e->name) != e->name_len ||
		    e->data_off > size || e->comp_size > size - e->data_off)
			abort();
		/* Claimed sizes are only bounded by the method's ratio;
		 * skip the huge ones to keep runs fast. */
		if (e->size > (16u << 20))
			continue;
		r1 = zip_extract(z, e, &c.s, err, sizeof(err));
		if (r1 == 0 && c.n != (e->is_dir ? 0 : e->size))
			abort();
		/* Streamed: whatever zlib accepts, libdeflate accepts too,
		 * with the same bytes. The converse is not asserted: how a
		 * stream cut at its very end is judged is each library's
		 * own (libdeflate reads zero bytes past the input). */
		r2 = zip_extract(z, e, &st.s, err2, sizeof(err2));
		if (r2 == 0 && (r1 != 0 || c.n != st.n || c.sum != st.sum))
			abort();
	}
	if (unpack_dist_info(z, &di, err, sizeof(err)) == 0) {
		snprintf(rname, sizeof(rname), "%s/RECORD", di);
		ri = zip_find(z, rname);
		if (ri >= 0 && zip_extract_alloc(z, &z->ent[ri], 1 << 20, &text,
						 &len, err, sizeof(err)) == 0) {
			struct record r;

			if (record_parse(text, len, &r, err, sizeof(err)) == 0)
				record_free(&r);
			free(text);
		}
		free(di);
	}
	zip_close(z);
	return 0;
}
