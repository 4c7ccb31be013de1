/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mime.c - libFuzzer target for the MIME reader and the 8-bit to
 * 7-bit downgrade (mime/mime.h). Checks: a converted message is 7-bit
 * throughout, so converting it again has nothing to do; a refused or
 * already 7-bit one leaves the output buffer as it was; header lookups
 * of the same input never fail to terminate. The relay form (with and
 * without 8BITMIME) leaves no line over MIME_LINE_MAX, has nothing left to
 * do on a second pass, and mime_relay_possible() agrees with it.
 */
#include "fuzz.h"
#include "mime/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t longest_line(const char *p, size_t n)
{
	size_t max = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = p[i] == '\n' ? 0 : run + 1;
		run -= run > 0 && p[i] == '\r' && i + 1 < n && p[i + 1] == '\n';
		max = run > max ? run : max;
	}
	return max;
}

static void check_relay(const char *p, size_t size, bool seven_bit)
{
	struct buf out = {0}, again = {0};
	enum mime_relay r = mime_relay_form(p, size, seven_bit, &out);

	if (r == MIME_RELAY_CONVERTED) {
		CHECK(longest_line(out.data, out.len) <= MIME_LINE_MAX);
		CHECK(mime_relay_form(out.data, out.len, seven_bit, &again) == MIME_RELAY_ASIS);
		CHECK(again.len == 0);
	} else {
		CHECK(out.len == 0);
		if (r == MIME_RELAY_ASIS)
			CHECK(longest_line(p, size) <= MIME_LINE_MAX);
	}
	/* input without bare CR or LF is its own wire form */
	bool wire = true;
	for (size_t i = 0; i < size && wire; i++)
		wire = p[i] == '\r' ? i + 1 < size && p[i + 1] == '\n'
				    : p[i] != '\n' || (i > 0 && p[i - 1] == '\r');
	if (wire && !seven_bit)
		CHECK(mime_relay_possible(p, size) == (r != MIME_RELAY_LONG_LINE));
	buf_free(&out);
	buf_free(&again);
}

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
	check_relay(p, size, false);
	check_relay(p, size, true);
	buf_free(&out);
	buf_free(&again);
	buf_free(&v);
	return 0;
}
