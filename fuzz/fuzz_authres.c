/* SPDX-License-Identifier: MIT */
/*
 * fuzz_authres.c - libFuzzer target for filter/authres.h. The input is a
 * message header: authres_find_forged() for "mx.example.net" must give
 * spans inside the input, in order, not overlapping, each starting with
 * the field name; authres_is_ours() runs on the whole input; and the
 * input's first line, used as a reason and a property value, must never
 * put a bare CR or LF into a formatted field other than its folds.
 */
#include "filter/authres.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	struct authres_span sp[8];

	(void)authres_is_ours(msg, size, "mx.example.net");
	size_t n = authres_find_forged(msg, size, "mx.example.net", sp, 8);
	size_t prev = 0;
	for (size_t i = 0; i < n && i < 8; i++) {
		CHECK(sp[i].off >= prev && sp[i].len > 0 && sp[i].off + sp[i].len <= size);
		CHECK(strncasecmp(msg + sp[i].off, "Authentication-Results", 22) == 0);
		prev = sp[i].off + sp[i].len;
	}

	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct authres *ar = authres_new(text);
	authres_add(ar, "spf", text, text);
	authres_prop(ar, "smtp.mailfrom", text);
	authres_add(ar, "dmarc", "pass", NULL);
	authres_prop(ar, "header.from", text);
	char *f = authres_format(ar);
	size_t len = strlen(f);
	CHECK(len >= 2 && strcmp(f + len - 2, "\r\n") == 0);
	for (size_t i = 0; i + 2 < len; i++) {
		if (f[i] == '\r')
			CHECK(f[i + 1] == '\n' && f[i + 2] == '\t');
		if (f[i] == '\n')
			CHECK(i > 0 && f[i - 1] == '\r');
	}
	free(f);
	authres_free(&ar);
	free(text);
	return 0;
}
