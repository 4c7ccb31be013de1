/* SPDX-License-Identifier: MIT */
/*
 * test_slice_base64.c - util/buf.h and util/base64.h beyond the basics of
 * test_util.c: slices that are not NUL-terminated, token splitting at its
 * edges, slice_to_uint at the 64-bit boundary and with small maxima, buffer
 * growth and the NUL-termination promise, the RFC 4648 §10 test vectors,
 * round trips of every length 0..64 over several byte patterns, and the
 * strict decoder: alphabet, padding, non-canonical trailing bits and
 * whitespace refused, with the output buffer left exactly as it was.
 */
#include "test_common.h"
#include "util/base64.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is(struct slice s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* --- slices --------------------------------------------------------------------- */

static void test_slice_token(void)
{
	struct slice tok, rest;
	static const char line[] = "USER alice PASS"; /* slices borrow from here */

	test_begin("util: slice_token edges, slices without a NUL");
	test_assert(slice_token(slice_from("RETR  1"), &tok, &rest));
	test_assert(is(tok, "RETR") && is(rest, " 1")); /* one separator only */
	test_assert(slice_token(slice_from("QUIT "), &tok, &rest));
	test_assert(is(tok, "QUIT") && rest.len == 0);
	test_assert(slice_token(slice_from("NOOP"), &tok, &rest));
	test_assert(is(tok, "NOOP") && rest.len == 0);
	test_assert(slice_token(slice_from(" X"), &tok, &rest));
	test_assert(tok.len == 0 && is(rest, "X"));
	test_assert(slice_token(slice_from(" "), &tok, &rest));
	test_assert(tok.len == 0 && rest.len == 0);
	test_assert(!slice_token((struct slice){line, 0}, &tok, &rest));

	/* a slice of the first 10 octets: "USER alice"; nothing past it is seen */
	struct slice s = {line, 10};
	test_assert(slice_token(s, &tok, &rest));
	test_assert(is(tok, "USER") && is(rest, "alice"));
	test_assert(slice_token(rest, &tok, &rest));
	test_assert(is(tok, "alice") && rest.len == 0);
	test_assert(rest.p == line + 10);
	/* a slice that ends right at a space */
	s = (struct slice){line, 5};
	test_assert(slice_token(s, &tok, &rest) && is(tok, "USER") && rest.len == 0);
	/* tabs are not separators */
	test_assert(slice_token(slice_from("a\tb c"), &tok, &rest) && is(tok, "a\tb"));
	test_assert(is(SLICE_LIT("abc"), "abc") && SLICE_LIT("").len == 0);
	test_end();
}

static void test_slice_eq(void)
{
	static const char buf[] = "CAPAxyz";
	struct slice capa = {buf, 4};

	test_begin("util: slice_eq and slice_eq_ci");
	test_assert(slice_eq(capa, "CAPA") && !slice_eq(capa, "capa"));
	test_assert(slice_eq_ci(capa, "capa") && slice_eq_ci(capa, "CaPa"));
	test_assert(!slice_eq_ci(capa, "CAP") && !slice_eq_ci(capa, "CAPAx"));
	test_assert(!slice_eq_ci(capa, "CAPAXYZ")); /* the length is the slice's */
	test_assert(slice_eq((struct slice){buf, 0}, "") &&
		    slice_eq_ci((struct slice){buf, 0}, ""));
	test_assert(!slice_eq_ci((struct slice){buf, 0}, "C"));
	test_assert(slice_eq_ci(slice_from("TOP1"), "top1"));
	/* only letters fold: '[' and '{' differ by 0x20 but are not a case pair */
	test_assert(!slice_eq_ci(slice_from("["), "{"));
	test_assert(!slice_eq_ci(slice_from("@"), "`"));
	/* an embedded NUL in the slice is an octet like any other */
	struct slice nul = {"AB\0D", 4};
	test_assert(!slice_eq_ci(nul, "ABCD") && !slice_eq(nul, "ABCD"));
	test_end();
}

static void test_slice_to_uint(void)
{
	uint64_t v = 77;

	test_begin("util: slice_to_uint bounds and junk");
	test_assert(slice_to_uint(slice_from("0"), 0, &v) && v == 0);
	test_assert(!slice_to_uint(slice_from("1"), 0, &v));
	test_assert(slice_to_uint(slice_from("9"), 9, &v) && v == 9);
	test_assert(!slice_to_uint(slice_from("10"), 9, &v));
	test_assert(!slice_to_uint(slice_from("19"), 5, &v));
	test_assert(!slice_to_uint(slice_from("99999999999999999999"), 5, &v));
	test_assert(!slice_to_uint(slice_from("66666666666666666666"), 5, &v));
	test_assert(slice_to_uint(slice_from("007"), 7, &v) && v == 7);
	test_assert(slice_to_uint(slice_from("65535"), 65535, &v) && v == 65535);
	test_assert(!slice_to_uint(slice_from("65536"), 65535, &v));
	test_assert(slice_to_uint(slice_from("18446744073709551615"), UINT64_MAX, &v) &&
		    v == UINT64_MAX);
	test_assert(!slice_to_uint(slice_from("18446744073709551616"), UINT64_MAX, &v));
	test_assert(!slice_to_uint(slice_from("18446744073709551620"), UINT64_MAX, &v));
	test_assert(!slice_to_uint(slice_from("36893488147419103232"), UINT64_MAX, &v));
	test_assert(slice_to_uint(slice_from("18446744073709551614"), UINT64_MAX - 1, &v) &&
		    v == UINT64_MAX - 1);
	test_assert(!slice_to_uint(slice_from("18446744073709551615"), UINT64_MAX - 1, &v));
	/* a slice without a NUL stops at its length */
	test_assert(slice_to_uint((struct slice){"123abc", 3}, 1000, &v) && v == 123);
	test_assert(!slice_to_uint((struct slice){"123abc", 4}, 1000, &v));
	v = 77;
	static const char *const junk[] = {"",	  " ",	"1 ", "\t1", "1\r",   "1.0", "1e3",
					   "0x1", "+0", "-0", "١",   "1,000", "\xff"};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		test_assert(!slice_to_uint(slice_from(junk[i]), UINT64_MAX, &v));
	test_assert(v == 77); /* untouched on failure */
	test_end();
}

/* --- buffers ------------------------------------------------------------------------ */

static bool terminated(const struct buf *b)
{
	return b->data != NULL && b->data[b->len] == '\0' && b->cap > b->len;
}

static void test_buf_growth(void)
{
	struct buf b = {0};
	char big[5000];

	test_begin("util: buffer growth, printf, consume, NUL termination");
	buf_printf(&b, "%s", "");
	test_assert(b.len == 0 && terminated(&b));
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_printf(&b, "[%s]", big); /* one call far past the first allocation */
	test_assert(b.len == sizeof(big) + 1 && terminated(&b));
	test_assert(b.data[0] == '[' && b.data[b.len - 1] == ']');
	buf_printf(&b, "%d-%s-%c", -42, "z", 'q');
	test_assert(b.len == sizeof(big) + 1 + 7 && terminated(&b));
	test_assert(memcmp(b.data + b.len - 7, "-42-z-q", 7) == 0);

	/* appends of every size across many reallocations keep the bytes */
	buf_clear(&b);
	test_assert(b.len == 0 && terminated(&b));
	size_t total = 0;
	for (size_t n = 0; n < 300; n++) {
		char chunk[300];
		for (size_t i = 0; i < n; i++)
			chunk[i] = (char)(n + i);
		buf_append(&b, chunk, n);
		total += n;
		test_assert(b.len == total && terminated(&b));
	}
	size_t off = 0;
	bool same = true;
	for (size_t n = 0; n < 300; n++)
		for (size_t i = 0; i < n; i++)
			same = same && b.data[off++] == (char)(n + i);
	test_assert(same);

	/* reserve grows capacity, not length */
	size_t len = b.len;
	buf_reserve(&b, 100000);
	test_assert(b.len == len && b.cap >= len + 100000 + 1 && terminated(&b));

	/* consume: part, all, more than all */
	buf_clear(&b);
	buf_append_str(&b, "0123456789");
	buf_consume(&b, 0);
	test_assert(b.len == 10 && memcmp(b.data, "0123456789", 10) == 0);
	buf_consume(&b, 3);
	test_assert(b.len == 7 && strcmp(b.data, "3456789") == 0);
	buf_consume(&b, 7);
	test_assert(b.len == 0 && terminated(&b));
	buf_append_str(&b, "ab");
	buf_consume(&b, 99);
	test_assert(b.len == 0 && terminated(&b));

	/* NUL octets are data */
	buf_append(&b, "\0\0x", 3);
	buf_append_c(&b, '\0');
	test_assert(b.len == 4 && b.data[2] == 'x' && b.data[3] == '\0' && terminated(&b));
	buf_free_secret(&b);
	test_assert(b.data == NULL && b.len == 0 && b.cap == 0);
	buf_free(&b); /* freeing twice is harmless */
	test_end();
}

/* --- base64 -------------------------------------------------------------------------- */

static void test_base64_vectors(void)
{
	static const char *const vec[][2] = {{"", ""},
					     {"f", "Zg=="},
					     {"fo", "Zm8="},
					     {"foo", "Zm9v"},
					     {"foob", "Zm9vYg=="},
					     {"fooba", "Zm9vYmE="},
					     {"foobar", "Zm9vYmFy"}};
	struct buf b = {0};

	test_begin("util: base64 RFC 4648 §10 test vectors, both ways");
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		buf_clear(&b);
		base64_encode(&b, vec[i][0], strlen(vec[i][0]));
		test_assert(b.len == strlen(vec[i][1]) &&
			    (b.len == 0 || memcmp(b.data, vec[i][1], b.len) == 0));
		buf_clear(&b);
		test_assert(base64_decode(&b, vec[i][1], strlen(vec[i][1])) == 0);
		test_assert(b.len == strlen(vec[i][0]) &&
			    (b.len == 0 || memcmp(b.data, vec[i][0], b.len) == 0));
	}
	/* all 64 alphabet characters, and high octets */
	buf_clear(&b);
	static const unsigned char all[] = {
	    0x00, 0x10, 0x83, 0x10, 0x51, 0x87, 0x20, 0x92, 0x8b, 0x30, 0xd3, 0x8f,
	    0x41, 0x14, 0x93, 0x51, 0x55, 0x97, 0x61, 0x96, 0x9b, 0x71, 0xd7, 0x9f,
	    0x82, 0x18, 0xa3, 0x92, 0x59, 0xa7, 0xa2, 0x9a, 0xab, 0xb2, 0xdb, 0xaf,
	    0xc3, 0x1c, 0xb3, 0xd3, 0x5d, 0xb7, 0xe3, 0x9e, 0xbb, 0xf3, 0xdf, 0xbf};
	base64_encode(&b, all, sizeof(all));
	test_assert_str(b.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	buf_free(&b);
	test_end();
}

static void test_base64_round_trip(void)
{
	unsigned char in[64];
	struct buf enc = {0}, dec = {0};
	unsigned seed = 99;

	test_begin("util: base64 round trip for every length 0..64, several patterns");
	for (int pattern = 0; pattern < 4; pattern++) {
		for (size_t i = 0; i < sizeof(in); i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = pattern == 0   ? 0x00
				: pattern == 1 ? 0xff
				: pattern == 2 ? (unsigned char)i
					       : (unsigned char)(seed >> 16);
		}
		for (size_t n = 0; n <= sizeof(in); n++) {
			buf_clear(&enc);
			buf_clear(&dec);
			base64_encode(&enc, in, n);
			test_assert(enc.len == (n + 2) / 3 * 4);
			/* canonical: padding only at the end, exactly as needed */
			size_t pad = n % 3 == 0 ? 0 : 3 - n % 3;
			for (size_t k = 0; k < enc.len; k++)
				test_assert((enc.data[k] == '=') == (k >= enc.len - pad));
			/* decoding appends after what the buffer holds */
			buf_append(&dec, "pre", 3);
			test_assert(
			    base64_decode(&dec, enc.data != NULL ? enc.data : "", enc.len) == 0);
			test_assert(dec.len == 3 + n && memcmp(dec.data, "pre", 3) == 0 &&
				    (n == 0 || memcmp(dec.data + 3, in, n) == 0));
		}
	}
	buf_free(&enc);
	buf_free(&dec);
	test_end();
}

static void test_base64_strict(void)
{
	struct buf out = {0};

	test_begin("util: strict base64 decoding refuses and leaves out as it was");
	static const struct {
		const char *in;
		size_t len;
	} bad[] = {
#define B(s) {s, sizeof(s) - 1}
	    B("Z"),	   B("Zg"),	      B("Zg="),	   B("Zg==="),
	    B("Zm9vY"),	   B("=Zg="),	      B("Z==="),   B("===="),
	    B("Zg==Zg=="), B("Zm8=Zm9v"),     B("Zg=a"),   B("Z=g="),
	    B("Zm9v===="), B("Zh=="),	      B("Zm9="),   B("Zm+/Zm-_"),
	    B("Zm9v\n"),   B("Zm 9v"),	      B(" Zm9v"),  B("Zm9v "),
	    B("Zm9\tv"),   B("Zm9v\r\n"),     B("Zm.v"),   B("Zm9\x80"),
	    B("Zm\0v"),	   B("Zm9v\0\0\0\0"), B("Zg==\0"),
#undef B
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_clear(&out);
		buf_append_str(&out, "keep");
		int r = base64_decode(&out, bad[i].in, bad[i].len);
		test_assert(r < 0);
		test_assert(out.len == 4 && strcmp(out.data, "keep") == 0);
		if (r >= 0 || out.len != 4)
			printf("  case %zu\n", i);
	}
	/* empty input is valid and adds nothing */
	buf_clear(&out);
	test_assert(base64_decode(&out, "", 0) == 0 && out.len == 0);
	/* a failure on an empty, never-allocated buffer is fine too */
	struct buf none = {0};
	test_assert(base64_decode(&none, "!!!!", 4) < 0 && none.len == 0);
	buf_free(&none);
	buf_free(&out);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_slice_token, test_slice_eq, test_slice_to_uint,
					   test_buf_growth, test_base64_vectors,
					   test_base64_round_trip, test_base64_strict, NULL});
}
