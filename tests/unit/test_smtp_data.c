/* SPDX-License-Identifier: MIT */
/* test_smtp_data.c - DATA termination, dot-unstuffing, smuggling, limits. */
#include "smtp/smtp_data.h"
#include "test_common.h"

#include <string.h>

/* Feeds `in` in pieces of `step` octets; returns the octets consumed when
   the end was found, or -1. */
static long feed(const char *in, size_t len, size_t step, struct buf *out, uint64_t max,
		 struct smtp_data *d)
{
	size_t off = 0, used;

	smtp_data_init(d, out, max);
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		if (smtp_data_feed(d, in + off, n, &used))
			return (long)(off + used);
		off += n;
	}
	return -1;
}

static void check(const char *in, long want_used, const char *want_out)
{
	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		struct buf out = {0};
		struct smtp_data d;
		long used = feed(in, strlen(in), step, &out, 0, &d);
		test_assert(used == want_used);
		if (want_out != NULL)
			test_assert(out.len == strlen(want_out) &&
				    memcmp(out.data ? out.data : "", want_out, out.len) == 0);
		buf_free(&out);
		if (used != want_used)
			break;
	}
}

static void test_termination(void)
{
	test_begin("smtp data: ends only at CRLF.CRLF");
	check(".\r\n", 3, "");
	check("a\r\n.\r\nQUIT\r\n", 6, "a\r\n");
	check("Subject: x\r\n\r\nbody\r\n.\r\n", 23, "Subject: x\r\n\r\nbody\r\n");
	/* smuggling attempts are content */
	check("a\n.\nMAIL FROM:<x@y>\r\n.\r\n", 24, "a\n.\nMAIL FROM:<x@y>\r\n");
	check("a\r\n.\nb\r\n.\r\n", 11, "a\r\n\nb\r\n");
	check("a\n.\r\nb\r\n.\r\n", 11, "a\n.\r\nb\r\n");
	check("a\r.\rb\r\n.\r\n", 10, "a\r.\rb\r\n");
	check("a\r\n.\rb\r\n.\r\n", 11, "a\r\n\rb\r\n");
	check("no end\r\n", -1, NULL);
	check("no end\r\n.", -1, NULL);
	check("no end\r\n.\r", -1, NULL);
	test_end();
}

static void test_unstuffing(void)
{
	test_begin("smtp data: dot-unstuffing");
	check("..\r\n.\r\n", 7, ".\r\n");
	check("..x\r\n...\r\n.\r\n", 13, ".x\r\n..\r\n");
	check("a.b\r\n .x\r\n.\r\n", 13, "a.b\r\n .x\r\n");
	check(".x\r\n.\r\n", 7, "x\r\n");
	test_end();
}

static void test_limits_and_headers(void)
{
	struct buf out = {0};
	struct smtp_data d;
	const char *msg = "Received: a\r\nreceived: b\r\nX-Received: c\r\nRECEIVED:d\r\n"
			  " Received: folded\r\n\r\nReceived: in body\r\n.\r\n";

	test_begin("smtp data: size limit, Received count, bare CR/LF flag");
	test_assert(feed(msg, strlen(msg), 7, &out, 0, &d) == (long)strlen(msg));
	test_assert(d.received == 3 && !d.too_big && !d.bare_lf_cr);
	buf_free(&out);
	const char *big = "0123456789\r\n0123456789\r\n.\r\nNEXT";
	test_assert(feed(big, strlen(big), 5, &out, 15, &d) == (long)strlen(big) - 4);
	test_assert(d.too_big && d.size == 24 && out.len <= 15);
	buf_free(&out);
	test_assert(feed("a\nb\r\n.\r\n", 8, 3, &out, 0, &d) == 8 && d.bare_lf_cr);
	buf_free(&out);
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_termination, test_unstuffing, test_limits_and_headers, NULL});
}
