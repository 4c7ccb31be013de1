/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mime.c - libFuzzer target for the MIME reader and the 8-bit to
 * 7-bit downgrade (mime/mime.h). Checks: a converted message is 7-bit
 * throughout, so converting it again has nothing to do; a refused or
 * already 7-bit one leaves the output buffer as it was; header lookups
 * of the same input never fail to terminate.
 */
#include "fuzz.h"
#include "mime/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct buf out = {0}, again = {0}, v = {0};

	buf_append_str(&out, "#");
	enum mime_downgrade r = mime_downgrade(p, size, &out);
	if (r == MIME_CONVERTED) {
		for (size_t i = 1; i < out.len; i++)
			CHECK((unsigned char)out.data[i] < 0x80);
		CHECK(mime_downgrade(out.data + 1, out.len - 1, &again) == MIME_7BIT);
		CHECK(again.len == 0);
	} else {
		CHECK(out.len == 1 && out.data[0] == '#');
		if (r == MIME_7BIT)
			for (size_t i = 0; i < size; i++)
				CHECK(data[i] < 0x80);
	}
	mime_header_get(p, size, "Content-Type", &v);
	buf_free(&out);
	buf_free(&again);
	buf_free(&v);
	return 0;
}
