/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_data.c - libFuzzer target for the DATA reader (smtp/smtp_data.h).
 * The same input fed whole and in random-sized pieces must give the same
 * end, the same octets and the same counts; the end found must be a real
 * CR LF "." CR LF; the output never holds more than the limit. BDAT
 * (RFC 3030): the same input as chunks of any size gives the very octets
 * sent (up to the limit), with no unstuffing and no terminator.
 */
#include "fuzz.h"
#include "smtp/smtp_data.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_bdat(const char *p, size_t len, uint64_t max)
{
	struct buf a = {0}, b = {0};
	struct smtp_data da, db;
	size_t off = 0, step = 1;

	smtp_data_init(&da, &a, max);
	smtp_data_feed_raw(&da, p, len);
	smtp_data_raw_end(&da);
	smtp_data_init(&db, &b, max);
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		smtp_data_feed_raw(&db, p + off, n);
		off += n;
		step = step * 7 % 23 + 1;
	}
	smtp_data_raw_end(&db);
	CHECK(da.size == len && db.size == len);
	CHECK(da.too_big == db.too_big && da.received == db.received);
	CHECK(da.too_big == (max != 0 && len > max));
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	if (!da.too_big)
		CHECK(a.len == len && (len == 0 || memcmp(a.data, p, len) == 0));
	buf_free(&a);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint64_t max = data[0] * 7u; /* 0 = unlimited */
	const char *p = (const char *)data + 1;
	size_t len = size - 1;
	struct buf a = {0}, b = {0};
	struct smtp_data da, db;
	size_t used_a = 0, used_b = 0, off = 0, step = 1;
	bool end_a, end_b = false;

	smtp_data_init(&da, &a, max);
	end_a = smtp_data_feed(&da, p, len, &used_a);
	smtp_data_init(&db, &b, max);
	while (off < len && !end_b) {
		size_t n = len - off < step ? len - off : step, u;
		end_b = smtp_data_feed(&db, p + off, n, &u);
		off += u;
		step = step * 3 % 17 + 1;
	}
	used_b = off;
	CHECK(end_a == end_b);
	CHECK(!end_a || used_a == used_b);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
	CHECK(da.size == db.size && da.received == db.received && da.too_big == db.too_big);
	if (end_a) {
		CHECK(used_a >= 3 && memcmp(p + used_a - 3, ".\r\n", 3) == 0);
		CHECK(used_a == 3 || (used_a >= 5 && memcmp(p + used_a - 5, "\r\n", 2) == 0));
	}
	if (max != 0)
		CHECK(a.len <= max);
	CHECK(a.len <= len);
	buf_free(&a);
	buf_free(&b);
	check_bdat(p, len, max);
	return 0;
}
