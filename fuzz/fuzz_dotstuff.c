/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dotstuff.c - libFuzzer target for the byte-stuffing filter
 * (proto/dotstuff.h). Byte 0 picks RETR or TOP, byte 1 the TOP line count,
 * byte 2 the chunk size; the rest is the message. Checks: the chunked
 * output equals the one-call output, and for RETR un-stuffing the output
 * gives back the message (plus the line end added to a body that lacks
 * one, which wire-form bodies never do).
 */
#include "fuzz.h"
#include "proto/dotstuff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void run(const char *p, size_t len, bool top, uint64_t lines, size_t chunk, struct buf *out)
{
	struct dotstuff ds;
	if (top)
		dotstuff_init_top(&ds, lines);
	else
		dotstuff_init(&ds);
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (dotstuff_feed(&ds, p + off, n, out))
			break;
	}
	dotstuff_finish(&ds, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	bool top = data[0] & 1;
	uint64_t lines = data[1];
	size_t chunk = 1 + data[2];
	const char *p = (const char *)data + 3;
	size_t len = size - 3;
	struct buf whole = {0}, parts = {0}, back = {0};

	run(p, len, top, lines, len ? len : 1, &whole);
	run(p, len, top, lines, chunk, &parts);
	CHECK(whole.len == parts.len && memcmp(whole.data, parts.data, whole.len) == 0);
	CHECK(whole.len >= 3 && memcmp(whole.data + whole.len - 3, ".\r\n", 3) == 0);
	if (!top) {
		/* RFC 1939 §3 in reverse */
		bool at_start = true;
		size_t i = 0;
		for (; i < whole.len; i++) {
			if (at_start && whole.data[i] == '.') {
				if (i + 2 < whole.len && whole.data[i + 1] == '\r' &&
				    whole.data[i + 2] == '\n')
					break;
				i++;
			}
			buf_append_c(&back, whole.data[i]);
			at_start = whole.data[i] == '\n';
		}
		CHECK(i + 3 == whole.len);
		CHECK(back.len >= len && (len == 0 || memcmp(back.data, p, len) == 0));
		CHECK(back.len - len <= 2);
	}
	buf_free(&whole);
	buf_free(&parts);
	buf_free(&back);
	return 0;
}
