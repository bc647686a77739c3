/* SPDX-License-Identifier: MIT */
/*
 * t_record - RECORD parsing and formatting: the CSV dialect (quotes, doubled
 * quotes, commas and newlines inside quotes, CRLF, lone CR, blank lines, no
 * final newline), every rejected row with its line number, byte-exact
 * round-trips (including the RECORDs of the real wheels in
 * /usr/share/python-wheels, when present), the path index, base64url and
 * the digest helpers. Exit 0 pass, 1 fail with the reason on stderr.
 */
#include "cache/record.h"
#include "cache/zip.h"
#include "spoke.h"
#include "testlib.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[1024];

/* sha256("") in RECORD spelling. */
#define EMPTY_B64 "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
#define EMPTY512_B64 "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg_SpIdNs6c5H0NE8XYXysP-" \
	"DGNKHfuwvY7kxvUdBeoGlODJ6-SfaPg"

static void parse_ok(const char *text, struct record *r, int line)
{
	int ret = record_parse(text, strlen(text), r, err, sizeof(err));

	if (ret)
		DIE(line, "parse failed (%d): %s", ret, err);
}

static void test_dialect(void)
{
	struct record r;
	const char *t =
		"pkg/__init__.py,sha256=" EMPTY_B64 ",0\r\n"
		"\"pkg/a,b.py\",sha256=" EMPTY_B64 ",0\n"
		"\n"
		"\"pkg/say \"\"hi\"\".py\",,\r"
		"\"pkg/multi\nline\",,12\n"
		"pkg-1.0.dist-info/RECORD,,";

	parse_ok(t, &r, __LINE__);
	CHECKF(r.n == 5, "rows %zu", r.n);
	CHECKF(!strcmp(r.rows[0].path, "pkg/__init__.py") &&
	      !strcmp(r.rows[0].algo, "sha256") && r.rows[0].digest_len == 32 &&
	      r.rows[0].size == 0, "row 0");
	CHECKF(!strcmp(r.rows[1].path, "pkg/a,b.py"), "quoted comma: '%s'",
	      r.rows[1].path);
	CHECKF(!strcmp(r.rows[2].path, "pkg/say \"hi\".py") &&
	      !r.rows[2].algo[0] && r.rows[2].size == -1, "doubled quotes");
	CHECKF(!strcmp(r.rows[3].path, "pkg/multi\nline") &&
	      r.rows[3].size == 12, "newline in quotes");
	CHECKF(!strcmp(r.rows[4].path, "pkg-1.0.dist-info/RECORD") &&
	      r.rows[4].size == -1 && !r.rows[4].algo[0], "own row");
	record_free(&r);
	CHECKF(r.n == 0 && r.rows == NULL, "record_free leaves it empty");
	record_free(NULL);
	/* Empty input is an empty record. */
	parse_ok("", &r, __LINE__);
	CHECKF(r.n == 0, "empty");
	record_free(&r);
	/* Padding is tolerated, other algorithms kept. */
	parse_ok("a,sha256=" EMPTY_B64 "=,1\nb,sha512=" EMPTY512_B64
		 ",2\nc,blake2b=AAAA,3\n", &r, __LINE__);
	CHECKF(r.n == 3 && r.rows[1].digest_len == 64 &&
	      r.rows[2].digest_len == 3, "algorithms");
	record_free(&r);
}

static void test_bad(void)
{
	static const struct {
		const char *text;
		const char *needle;
	} bad[] = {
		{ "a,sha256=" EMPTY_B64 "\n", "line 1: 2 fields" },
		{ "ok,,\na,b,c,d\n", "line 2: 4 fields" },
		{ "ok,,\n\"x\ny\",,\nz\n", "line 4: 1 field" },
		{ "a,sha256" EMPTY_B64 ",1\n", "has no '='" },
		{ "a,=" EMPTY_B64 ",1\n", "bad hash algorithm" },
		{ "a,sh a=" EMPTY_B64 ",1\n", "bad hash algorithm" },
		{ "a,sha256=" EMPTY_B64 "!,1\n", "bad base64" },
		{ "a,sha256=AAAAA,1\n", "bad base64" },
		{ "a,sha256=AB,1\n", "bad base64" },	/* non-zero tail bits */
		{ "a,sha256=,1\n", "empty digest" },
		{ "a,sha256=AAAA,1\n", "sha256 digest of 3 bytes" },
		{ "a,x=" EMPTY512_B64 "AAAA,1\n", "longer than 64" },
		{ "a,,-1\n", "bad size" },
		{ "a,,12a\n", "bad size" },
		{ "a,,99999999999999999999\n", "bad size" },
		{ "a,,+1\n", "bad size" },
		{ "\"a,,1\n", "line 1: unterminated quote" },
		{ "ok,,\n\"a\"b,,1\n", "line 2: text after a closing quote" },
		{ ",,1\n", "empty path" },
		{ "\"\",,1\n", "empty path" },
	};
	struct record r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = record_parse(bad[i].text, strlen(bad[i].text), &r,
				       err, sizeof(err));

		CHECKF(ret == SPOKE_E_BADWHEEL, "case %zu accepted", i);
		CHECKF(strstr(err, bad[i].needle), "case %zu: '%s' lacks '%s'",
		      i, err, bad[i].needle);
		CHECKF(r.n == 0 && !r.rows, "case %zu: rows left", i);
	}
	CHECKF(record_parse("a\0b,,1\n", 7, &r, err, sizeof(err)) ==
	      SPOKE_E_BADWHEEL && strstr(err, "NUL"), "NUL: %s", err);
}

/* parse -> format -> parse must give the same rows, and formatting a
 * formatted text must give the same bytes. */
static void roundtrip(const char *text, size_t len, int exact, int line)
{
	struct record a, b;
	char *out, *out2;
	size_t olen, olen2;

	if (record_parse(text, len, &a, err, sizeof(err)))
		DIE(line, "parse: %s", err);
	CHECKF(!record_format(&a, &out, &olen), "format");
	if (exact && (olen != len || memcmp(out, text, len)))
		DIE(line, "not byte-exact:\n%s---\n%s", text, out);
	if (record_parse(out, olen, &b, err, sizeof(err)))
		DIE(line, "reparse: %s\n%s", err, out);
	CHECKF(a.n == b.n, "row count changed");
	for (size_t i = 0; i < a.n; i++) {
		const struct record_row *x = &a.rows[i], *y = &b.rows[i];

		if (strcmp(x->path, y->path) || strcmp(x->algo, y->algo) ||
		    x->digest_len != y->digest_len || x->size != y->size ||
		    memcmp(x->digest, y->digest, x->digest_len))
			DIE(line, "row %zu changed ('%s')", i, x->path);
	}
	CHECKF(!record_format(&b, &out2, &olen2), "format");
	CHECKF(olen == olen2 && !memcmp(out, out2, olen), "format unstable");
	free(out);
	free(out2);
	record_free(&a);
	record_free(&b);
}

static void test_format(void)
{
	struct record r = { 0 };
	unsigned char d[32];
	char *out;
	size_t len;
	const char *t;

	CHECKF(!sha256_buf("", 0, d), "sha256");
	CHECKF(!record_add(&r, "plain.py", "sha256", d, 32, 0), "add");
	CHECKF(!record_add(&r, "a,b.py", "sha256", d, 32, 0), "add");
	CHECKF(!record_add(&r, "q\"uote", NULL, NULL, 0, -1), "add");
	CHECKF(!record_add(&r, "nl\nname", NULL, NULL, 0, 7), "add");
	CHECKF(record_add(&r, "", NULL, NULL, 0, 1) == -EINVAL, "empty path");
	CHECKF(record_add(&r, "x", "sha256", d, 31, 1) == -EINVAL, "short");
	CHECKF(record_add(&r, "x", "bad algo", d, 32, 1) == -EINVAL, "algo");
	CHECKF(record_add(&r, "x", NULL, d, 32, 1) == -EINVAL, "no algo");
	CHECKF(record_add(&r, "x", NULL, NULL, 0, -2) == -EINVAL, "size");
	CHECKF(!record_format(&r, &out, &len), "format");
	t = "plain.py,sha256=" EMPTY_B64 ",0\n"
	    "\"a,b.py\",sha256=" EMPTY_B64 ",0\n"
	    "\"q\"\"uote\",,\n"
	    "\"nl\nname\",,7\n";
	CHECKF(len == strlen(t) && !strcmp(out, t), "format:\n%s", out);
	roundtrip(out, len, 1, __LINE__);
	free(out);
	record_free(&r);
	/* CRLF and padding normalise; rows survive. */
	t = "a,sha256=" EMPTY_B64 "=,1\r\n\"b\"\"\",,\r\n\r\n";
	roundtrip(t, strlen(t), 0, __LINE__);
	/* Empty record formats to nothing. */
	CHECKF(!record_format(&r, &out, &len) && len == 0 && out[0] == '\0',
	      "empty format");
	free(out);
}

static void test_index(void)
{
	struct record r;
	struct record_index ix;

	parse_ok("a,,\nb/c,,\nd,,\n", &r, __LINE__);
	CHECKF(!record_index_build(&ix, &r, err, sizeof(err)), "index: %s",
	      err);
	CHECKF(record_index_find(&ix, "b/c", 3) == 1, "find b/c");
	CHECKF(record_index_find(&ix, "b/cd", 3) == 1, "find by length");
	CHECKF(record_index_find(&ix, "b", 1) == -1, "prefix is not a row");
	CHECKF(record_index_find(&ix, "zz", 2) == -1, "missing");
	record_index_free(&ix);
	record_free(&r);
	parse_ok("a,,\nb,,\na,,1\n", &r, __LINE__);
	CHECKF(record_index_build(&ix, &r, err, sizeof(err)) ==
	      SPOKE_E_BADWHEEL && strstr(err, "a twice"), "dup: %s", err);
	record_free(&r);
}

static void test_codecs(void)
{
	static const char *vec[][2] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" }, { "\xfb\xff", "-_8" },
	};
	unsigned char d[64], buf[16];
	char s[128];
	struct digest dg;

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		size_t n = strlen(vec[i][0]);
		int k = b64url_encode(vec[i][0], n, s, sizeof(s));

		CHECKF(k == (int)strlen(vec[i][1]) && !strcmp(s, vec[i][1]),
		      "encode '%s' -> '%s'", vec[i][0], s);
		CHECKF(b64url_len(n) == (size_t)k, "b64url_len");
		k = b64url_decode(vec[i][1], strlen(vec[i][1]), buf,
				  sizeof(buf));
		CHECKF(k == (int)n && !memcmp(buf, vec[i][0], n), "decode %s",
		      vec[i][1]);
	}
	CHECKF(b64url_decode("Zm8=", 4, buf, sizeof(buf)) == 2, "padded");
	CHECKF(b64url_decode("Zm9=", 4, buf, sizeof(buf)) == -EINVAL,
	      "non-canonical");
	CHECKF(b64url_decode("Zm+v", 4, buf, sizeof(buf)) == -EINVAL,
	      "standard alphabet");
	CHECKF(b64url_decode("Zm9vYmFy", 8, buf, 5) == -ENOSPC, "outcap");
	CHECKF(b64url_encode("foo", 3, s, 4) == -ENOSPC, "encode cap");
	CHECKF(!sha256_buf("abc", 3, d), "sha256");
	hex_encode(d, 32, s);
	CHECKF(!strcmp(s, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb4"
		      "10ff61f20015ad"), "sha256(abc) = %s", s);
	CHECKF(!digest_init(&dg, "sha256") && dg.len == 32, "digest_init");
	CHECKF(!digest_update(&dg, "a", 1) && !digest_update(&dg, "bc", 2),
	      "update");
	CHECKF(!digest_final(&dg, d), "final");
	hex_encode(d, 32, s);
	CHECKF(!strncmp(s, "ba7816bf", 8), "incremental sha256");
	CHECKF(digest_init(&dg, "md5") == -EINVAL, "md5 refused");
	CHECKF(digest_size("sha384") == 48 && digest_size("sha1") == 0,
	      "digest_size");
}

/* The RECORDs of real wheels format back to exactly their bytes. */
static int test_real(void)
{
	const char *dir = "/usr/share/python-wheels";
	struct dirent *de;
	int seen = 0;
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char path[4096], *text, *rname = NULL;
		struct zip *z;
		size_t len;
		long i;

		if (!strstr(de->d_name, ".whl"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		CHECKF(!zip_open(&z, path, err, sizeof(err)), "%s", err);
		for (i = 0; i < (long)z->n; i++) {
			const char *n = z->ent[i].name;
			size_t l = strlen(n);

			if (l > 17 && !strcmp(n + l - 17, ".dist-info/RECORD"))
				rname = (char *)n;
		}
		CHECKF(rname, "%s: no RECORD", path);
		i = zip_find(z, rname);
		CHECKF(!zip_extract_alloc(z, &z->ent[i], 1 << 26, &text, &len,
					 err, sizeof(err)), "%s", err);
		roundtrip(text, len, 1, __LINE__);
		free(text);
		zip_close(z);
		seen++;
	}
	closedir(d);
	return seen;
}

int main(void)
{
	int real;

	test_dialect();
	test_bad();
	test_format();
	test_index();
	test_codecs();
	real = test_real();
	if (!real)
		fprintf(stderr, "t_record: note: no wheels in "
			"/usr/share/python-wheels, real RECORDs not tested\n");
	return 0;
}
