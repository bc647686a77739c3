/* SPDX-License-Identifier: MIT */
/*
 * fuzz_metadata - libFuzzer target for the text files of a wheel's
 * dist-info: WHEEL, METADATA and entry_points.txt. The first byte picks
 * the parser (modulo 3: WHEEL, METADATA, entry_points.txt), the rest is the
 * file. Any bytes either parse or fail with a recorded SPOKE_E_BADWHEEL;
 * what parses must hold up: a parsed METADATA has a non-empty Name and
 * Version whose normalised form is lowercase, entry points expand to
 * launchers that can be generated for every valid name, and those
 * launchers start with the shebang. Build and run:
 *   make build-fuzz/fuzz_metadata
 *   build-fuzz/fuzz_metadata -max_total_time=60 tests/fuzz/corpus_metadata
 */
#include "engine/ctx.h"
#include "engine/scripts.h"
#include "engine/wheel.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static spoke_ctx *ctx;

static void check_wheel_file(const char *buf, size_t len)
{
	struct wheel w;
	int err;

	memset(&w, 0, sizeof(w));
	w.label = "fuzz";
	err = wheel_parse_wheel_file(ctx, &w, buf, len);
	if (err && err != SPOKE_E_BADWHEEL && err != SPOKE_E_NOMEM)
		abort();
	if (err && !ctx_failed(ctx))
		abort(); /* a failure always carries its message */
}

static void check_metadata(const char *buf, size_t len)
{
	struct wheel w;
	int err;

	memset(&w, 0, sizeof(w));
	w.label = "fuzz";
	w.distinfo = "fuzz_pkg-1.0.dist-info";
	err = wheel_parse_metadata(ctx, &w, buf, len);
	if (err && err != SPOKE_E_BADWHEEL && err != SPOKE_E_NOMEM)
		abort();
	if (!err) {
		if (!w.name || !*w.name || !w.version || !*w.version ||
		    !w.norm)
			abort();
		for (const char *c = w.norm; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
	}
	free(w.name);
	free(w.version);
	free(w.norm);
}

static void check_entry_points(const char *buf, size_t len)
{
	struct wheel_ep *eps = NULL, *out = NULL;
	size_t n = 0, nout = 0;
	char err[256];
	int r = scripts_parse_entry_points(buf, len, &eps, &n, err,
					   sizeof(err));

	if (r && r != SPOKE_E_BADWHEEL && r != -ENOMEM)
		abort();
	if (r)
		return;
	for (size_t i = 0; i < n; i++)
		if (!eps[i].name || !eps[i].module || !eps[i].attr)
			abort();
	if (scripts_expand(eps, n, "3.11", &out, &nout) == 0) {
		for (size_t i = 0; i < nout; i++) {
			char *text;
			size_t tlen;

			if (!scripts_valid_name(out[i].name))
				continue;
			if (scripts_launcher("/usr/bin/python3", &out[i],
					     &text, &tlen))
				continue;
			if (tlen < 2 || memcmp(text, "#!", 2) != 0)
				abort();
			free(text);
		}
		scripts_free_eps(out, nout);
	}
	scripts_free_eps(eps, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data + 1;

	if (size < 1)
		return 0;
	if (!ctx && !(ctx = spoke_ctx_create()))
		abort();
	ctx_begin(ctx);
	switch (data[0] % 3) {
	case 0:
		check_wheel_file(buf, size - 1);
		break;
	case 1:
		check_metadata(buf, size - 1);
		break;
	default:
		check_entry_points(buf, size - 1);
		break;
	}
	return 0;
}
