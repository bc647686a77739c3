/* SPDX-License-Identifier: MIT */
/*
 * fuzz_journal - libFuzzer target for the journal parser (engine/journal.c),
 * the reader of a file anyone with write access to an environment can
 * forge: any bytes either parse or fail cleanly; every record the parser
 * hands out has the field count of its type, with each field inside the
 * input; and every complete batch, encoded again from its records, gives
 * back its own bytes exactly. Build with `make fuzz-build` and run:
 *   build-fuzz/fuzz_journal -max_total_time=60 tests/fuzz/corpus_journal
 * The seed corpus holds journals of real killed runs and damaged ones.
 */
#include "engine/journal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	const uint8_t *data;
	size_t size;
	struct jrec *r;
	size_t n, cap;
	size_t *batch; /* batch index of each record */
};

static int take(void *arg, const struct jrec *r, size_t batch)
{
	struct seen *s = arg;
	int nf = journal_nfields(r->type);

	if (nf < 0)
		abort();
	for (int k = 0; k < nf; k++) {
		const uint8_t *f = (const uint8_t *)r->f[k];

		if (f < s->data || f >= s->data + s->size ||
		    f + strlen(r->f[k]) >= s->data + s->size + 1)
			abort();
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct jrec *nr = realloc(s->r, cap * sizeof(*nr));
		size_t *nb = realloc(s->batch, cap * sizeof(*nb));

		if (nr)
			s->r = nr;
		if (nb)
			s->batch = nb;
		if (!nr || !nb)
			return -ENOMEM;
		s->cap = cap;
	}
	s->r[s->n] = *r;
	s->batch[s->n++] = batch;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { data, size, NULL, 0, 0, NULL };
	struct journal_scan sc;
	size_t off = 0, i = 0;
	int err = journal_parse(data, size, take, &s, &sc);

	if (err == -EBADMSG && !sc.why)
		abort();
	if (!err) {
		if (sc.used > size || (sc.tail == JOURNAL_TAIL_NONE) !=
		    (sc.used == size) || (sc.tail == JOURNAL_TAIL_BAD &&
					  !sc.why))
			abort();
		/* Re-encode each batch from its records: the same bytes. */
		for (size_t b = 0; b < sc.batches; b++) {
			size_t from = i, len;
			unsigned char *buf;

			while (i < s.n && s.batch[i] == b)
				i++;
			if (journal_batch(s.r + from, i - from, &buf, &len))
				abort();
			if (len > size - off || memcmp(buf, data + off, len))
				abort();
			off += len;
			free(buf);
		}
		if (off != sc.used || i != s.n)
			abort();
	}
	free(s.r);
	free(s.batch);
	return 0;
}
