/* SPDX-License-Identifier: MIT */
/* test_util.c - buffers, slices, base64. */
#include "test_common.h"
#include "util/base64.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

static void test_slices(void)
{
	struct slice tok, rest;
	uint64_t v;

	test_begin("util: slices");
	test_assert(slice_token(slice_from("RETR 1"), &tok, &rest));
	test_assert(slice_eq(tok, "RETR") && slice_eq(rest, "1"));
	test_assert(slice_eq_ci(slice_from("retr"), "RETR"));
	test_assert(!slice_eq_ci(slice_from("ret"), "RETR"));
	test_assert(!slice_token(slice_from(""), &tok, &rest));
	test_assert(slice_to_uint(slice_from("42"), 100, &v) && v == 42);
	test_assert(slice_to_uint(slice_from("100"), 100, &v) && v == 100);
	test_assert(!slice_to_uint(slice_from("101"), 100, &v));
	test_assert(!slice_to_uint(slice_from(""), 100, &v));
	test_assert(!slice_to_uint(slice_from("-1"), 100, &v));
	test_assert(!slice_to_uint(slice_from("+1"), 100, &v));
	test_assert(!slice_to_uint(slice_from("1x"), 100, &v));
	test_assert(!slice_to_uint(slice_from(" 1"), 100, &v));
	test_assert(!slice_to_uint(slice_from("99999999999999999999999"), UINT64_MAX, &v));
	test_end();
}

static void test_bufs(void)
{
	struct buf b = {0};

	test_begin("util: buffers");
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	test_assert(b.len == strlen(b.data));
	test_assert(strncmp(b.data, "0,1,2,", 6) == 0);
	buf_consume(&b, 2);
	test_assert(strncmp(b.data, "1,2,", 4) == 0);
	buf_clear(&b);
	test_assert(b.len == 0);
	buf_append(&b, "a\0b", 3);
	test_assert(b.len == 3 && b.data[2] == 'b');
	buf_free(&b);
	test_assert(b.data == NULL && b.len == 0);
	test_end();
}

static void test_base64(void)
{
	unsigned char in[64];
	struct buf enc = {0}, dec = {0};

	test_begin("util: base64 round trips and strict decoding");
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		buf_clear(&enc);
		buf_clear(&dec);
		base64_encode(&enc, in, n);
		test_assert(enc.len == (n + 2) / 3 * 4);
		test_assert(base64_decode(&dec, enc.data != NULL ? enc.data : "", enc.len) == 0);
		test_assert(dec.len == n && (n == 0 || memcmp(dec.data, in, n) == 0));
	}
	buf_clear(&dec);
	test_assert(base64_decode(&dec, "cGVuY2ls", 8) == 0 && dec.len == 6 &&
		    memcmp(dec.data, "pencil", 6) == 0);
	static const char *const bad[] = {"cGVuY2l",   "cGVu Y2ls", "cGVuY2l!",	 "c===",
					  "cGVuY2ls=", "====",	    "cGVuY2l=x", "Zm9v\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_clear(&dec);
		test_assert(base64_decode(&dec, bad[i], strlen(bad[i])) < 0);
	}
	buf_free(&enc);
	buf_free(&dec);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_slices, test_bufs, test_base64, NULL});
}
