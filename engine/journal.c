/* SPDX-License-Identifier: MIT */
/* journal - see journal.h. */
#include "engine/journal.h"
#include "base/alloc.h"

#include <errno.h>
#include <string.h>

int journal_nfields(char type)
{
	switch (type) {
	case 'H': /* format, home, dev, ino, uid, pid, run id, start */
		return 8;
	case 'X': /* backup directory */
	case 'F': /* created file */
	case 'D': /* created directory */
		return 1;
	case 'M':
		return 2; /* path, backup */
	case 'I':
		return 2; /* device, "ino:btime ino:btime ..." */
	case 'B': /* creating: identities may lag behind */
	case 'E': /* every object created so far has its I record */
	case 'C':
		return 0;
	default:
		return -1;
	}
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	while (n--)
		h = (h ^ *p++) * 1099511628211ull;
	return h;
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static size_t payload_len(const struct jrec *r, size_t n)
{
	size_t payload = 0;

	for (size_t i = 0; i < n; i++) {
		int nf = journal_nfields(r[i].type);

		if (nf < 0)
			return SIZE_MAX;
		payload++;
		for (int k = 0; k < nf; k++)
			payload += strlen(r[i].f[k]) + 1;
	}
	return payload;
}

static void frame(const struct jrec *r, size_t n, unsigned char *buf,
		  size_t payload)
{
	unsigned char *p = buf + JOURNAL_HDR;

	for (size_t i = 0; i < n; i++) {
		int nf = journal_nfields(r[i].type);

		*p++ = (unsigned char)r[i].type;
		for (int k = 0; k < nf; k++) {
			size_t l = strlen(r[i].f[k]) + 1;

			memcpy(p, r[i].f[k], l);
			p += l;
		}
	}
	memcpy(buf, JOURNAL_MAGIC, 4);
	put_le(buf + 4, payload, 4);
	put_le(buf + 8, fnv1a(buf + JOURNAL_HDR, payload), 8);
}

int journal_batch(const struct jrec *r, size_t n, unsigned char **out,
		  size_t *len)
{
	size_t payload = payload_len(r, n);
	unsigned char *buf;

	*out = NULL;
	if (payload == SIZE_MAX)
		return -EINVAL;
	if (payload > UINT32_MAX)
		return -EFBIG;
	if (!(buf = xmalloc(JOURNAL_HDR + payload)))
		return -ENOMEM;
	frame(r, n, buf, payload);
	*out = buf;
	*len = JOURNAL_HDR + payload;
	return 0;
}

int journal_batch_into(const struct jrec *r, size_t n, unsigned char *buf,
		       size_t cap, size_t *len)
{
	size_t payload = payload_len(r, n);

	if (payload == SIZE_MAX)
		return -EINVAL;
	if (cap < JOURNAL_HDR || payload > cap - JOURNAL_HDR)
		return -ENOSPC;
	frame(r, n, buf, payload);
	*len = JOURNAL_HDR + payload;
	return 0;
}

static int parse_payload(const unsigned char *p, const unsigned char *end,
			 int (*each)(void *, const struct jrec *, size_t),
			 void *arg, size_t batch, const char **why)
{
	while (p < end) {
		struct jrec r;
		int nf, err;

		memset(&r, 0, sizeof(r));
		r.type = (char)*p++;
		nf = journal_nfields(r.type);
		if (nf < 0) {
			*why = "has an unknown record";
			return -EBADMSG;
		}
		for (int k = 0; k < nf; k++) {
			const unsigned char *nul = memchr(p, '\0',
							  (size_t)(end - p));

			if (!nul) {
				*why = "has a truncated record";
				return -EBADMSG;
			}
			r.f[k] = (const char *)p;
			p = nul + 1;
		}
		if ((err = each(arg, &r, batch)))
			return err;
	}
	return 0;
}

/* What the bytes after the last complete batch are. A batch is appended
 * with one write and then synced, and nothing it describes is done before
 * that sync returns, so a crash can leave: nothing; a prefix of the batch
 * (its declared length reaches past the end); or, on a filesystem that
 * extended the file before the data landed, zeros. All three mean the
 * batch never took effect. Anything else, a complete batch that fails its
 * hash or bytes that are not a batch at all, was not written by a crash:
 * the journal is damaged and nothing in it can be trusted. */
static enum journal_tail classify_tail(const unsigned char *p, size_t n,
				       const char **why)
{
	size_t zeros = 0;

	if (!n)
		return JOURNAL_TAIL_NONE;
	while (zeros < n && !p[zeros])
		zeros++;
	if (zeros == n)
		return JOURNAL_TAIL_TORN;
	if (memcmp(p, JOURNAL_MAGIC, n < 4 ? n : 4)) {
		*why = "has bytes that are not a journal batch";
		return JOURNAL_TAIL_BAD;
	}
	if (n < JOURNAL_HDR || get_le(p + 4, 4) > n - JOURNAL_HDR)
		return JOURNAL_TAIL_TORN;
	*why = "has a batch that fails its checksum";
	return JOURNAL_TAIL_BAD;
}

int journal_parse(const unsigned char *buf, size_t len,
		  int (*each)(void *arg, const struct jrec *r, size_t batch),
		  void *arg, struct journal_scan *out)
{
	size_t off = 0;
	int err;

	memset(out, 0, sizeof(*out));
	while (len - off >= JOURNAL_HDR &&
	       !memcmp(buf + off, JOURNAL_MAGIC, 4)) {
		uint64_t n = get_le(buf + off + 4, 4);

		if (n > len - off - JOURNAL_HDR ||
		    get_le(buf + off + 8, 8) != fnv1a(buf + off + JOURNAL_HDR,
						      n))
			break;
		err = parse_payload(buf + off + JOURNAL_HDR,
				    buf + off + JOURNAL_HDR + n, each, arg,
				    out->batches, &out->why);
		if (err)
			return err;
		out->batches++;
		off += JOURNAL_HDR + n;
	}
	out->used = off;
	out->tail = classify_tail(buf + off, len - off, &out->why);
	return 0;
}
