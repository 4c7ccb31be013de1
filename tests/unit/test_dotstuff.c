/* SPDX-License-Identifier: MIT */
/*
 * test_dotstuff.c - the byte-stuffing filter (proto/dotstuff.h): RETR and
 * TOP tables, a reference implementation compared at every chunk boundary
 * (one cut anywhere, and byte-at-a-time), and the round trip: un-stuffing
 * the output gives the wire-form body back byte for byte (SPEC §3).
 */
#include "proto/dotstuff.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1 = RETR, else TOP with that many body lines */
static char *stuff(const char *in, size_t len, long long top, size_t chunk)
{
	struct dotstuff ds;
	struct buf out = {0};

	if (top < 0)
		dotstuff_init(&ds);
	else
		dotstuff_init_top(&ds, (uint64_t)top);
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		if (dotstuff_feed(&ds, in + off, n, &out))
			break;
	}
	dotstuff_finish(&ds, &out);
	char *r = strndup(out.data, out.len);
	buf_free(&out);
	return r;
}

struct ds_case {
	const char *in;
	long long top;
	const char *out;
};

static void test_table(void)
{
	static const struct ds_case cases[] = {
	    /* RETR */
	    {"", -1, ".\r\n"},
	    {"a\r\n", -1, "a\r\n.\r\n"},
	    {".\r\n", -1, "..\r\n.\r\n"},
	    {"..\r\n", -1, "...\r\n.\r\n"},
	    {".a\r\nb.\r\n.c\r\n", -1, "..a\r\nb.\r\n..c\r\n.\r\n"},
	    {"a\r\n.\r\nb\r\n", -1, "a\r\n..\r\nb\r\n.\r\n"},
	    {"H: v\r\n\r\n.body\r\n", -1, "H: v\r\n\r\n..body\r\n.\r\n"},
	    /* no final CRLF (never in wire form): a line end is added */
	    {"abc", -1, "abc\r\n.\r\n"},
	    {".abc", -1, "..abc\r\n.\r\n"},
	    {"abc\r", -1, "abc\r\n.\r\n"},
	    /* TOP */
	    {"H: v\r\n\r\nl1\r\nl2\r\n", 0, "H: v\r\n\r\n.\r\n"},
	    {"H: v\r\n\r\nl1\r\nl2\r\n", 1, "H: v\r\n\r\nl1\r\n.\r\n"},
	    {"H: v\r\n\r\nl1\r\nl2\r\n", 2, "H: v\r\n\r\nl1\r\nl2\r\n.\r\n"},
	    {"H: v\r\n\r\nl1\r\nl2\r\n", 99, "H: v\r\n\r\nl1\r\nl2\r\n.\r\n"},
	    {"H: v\r\n.X: y\r\n\r\n.l1\r\n.l2\r\n", 1, "H: v\r\n..X: y\r\n\r\n..l1\r\n.\r\n"},
	    {"H: v\r\n\r\n\r\n\r\nl3\r\n", 2, "H: v\r\n\r\n\r\n\r\n.\r\n"}, /* blank body lines */
	    {"H: v\r\n", 0, "H: v\r\n.\r\n"},				    /* no body at all */
	    {"H: v\r\nH2: w\r\n", 5, "H: v\r\nH2: w\r\n.\r\n"},
	    {"\r\nbody\r\n", 0, "\r\n.\r\n"}, /* no headers */
	    {"\r\nbody\r\n", 1, "\r\nbody\r\n.\r\n"},
	    {"H: a\rb\r\n\r\nx\r\n", 0, "H: a\rb\r\n\r\n.\r\n"}, /* CR inside a header */
	    {"H: v\r\n\r\n.\r\n", 1, "H: v\r\n\r\n..\r\n.\r\n"},
	    {"", 0, ".\r\n"},
	};
	test_begin("dotstuff table (RETR and TOP)");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct ds_case *c = &cases[i];
		char *out = stuff(c->in, strlen(c->in), c->top, 0);
		test_assert_str(out, c->out);
		free(out);
	}
	test_end();
}

static void test_chunks(void)
{
	static const char *const msgs[] = {
	    "Subject: x\r\n.From: y\r\n\r\n.\r\n..\r\nline\r\n.end\r\n\r\n.\r\n",
	    "\r\n.\r\n\r\n..\r\n",
	    "A: b\r\n\r\n",
	    ".\r\n.\r\n.\r\n",
	};
	static const long long tops[] = {-1, 0, 1, 2, 3, 10};

	test_begin("dotstuff: the same output for every chunking");
	for (size_t m = 0; m < N_ELEMENTS(msgs); m++) {
		size_t len = strlen(msgs[m]);
		for (size_t t = 0; t < N_ELEMENTS(tops); t++) {
			char *whole = stuff(msgs[m], len, tops[t], 0);
			for (size_t chunk = 1; chunk <= len; chunk++) {
				char *part = stuff(msgs[m], len, tops[t], chunk);
				test_assert_str(part, whole);
				free(part);
			}
			/* a single cut at every position */
			for (size_t cut = 0; cut <= len; cut++) {
				struct dotstuff ds;
				struct buf out = {0};
				if (tops[t] < 0)
					dotstuff_init(&ds);
				else
					dotstuff_init_top(&ds, (uint64_t)tops[t]);
				if (!dotstuff_feed(&ds, msgs[m], cut, &out))
					dotstuff_feed(&ds, msgs[m] + cut, len - cut, &out);
				dotstuff_finish(&ds, &out);
				test_assert(out.len == strlen(whole) &&
					    memcmp(out.data, whole, out.len) == 0);
				buf_free(&out);
			}
			free(whole);
		}
	}
	test_end();
}

/* RFC 1939 §3 in reverse, as a client does it. */
static size_t unstuff(const char *p, size_t len, struct buf *out)
{
	bool at_start = true;
	for (size_t i = 0; i < len; i++) {
		if (at_start && p[i] == '.') {
			if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
				return i + 3; /* terminator */
			i++;
		}
		buf_append_c(out, p[i]);
		at_start = p[i] == '\n';
	}
	return 0;
}

static void test_roundtrip(void)
{
	test_begin("dotstuff: random wire-form bodies survive the round trip");
	srand(1939);
	for (int iter = 0; iter < 300; iter++) {
		struct buf body = {0};
		int lines = rand() % 40;
		for (int l = 0; l < lines; l++) {
			int n = rand() % 6;
			for (int k = 0; k < n; k++) {
				static const char alphabet[] = "..a\r\0xX ";
				char c = alphabet[rand() % 8];
				buf_append_c(&body, c);
			}
			buf_append_str(&body, "\r\n");
		}
		size_t chunk = 1 + (size_t)(rand() % 17);
		struct dotstuff ds;
		struct buf out = {0}, back = {0};
		dotstuff_init(&ds);
		for (size_t off = 0; off < body.len; off += chunk) {
			size_t n = body.len - off < chunk ? body.len - off : chunk;
			dotstuff_feed(&ds, body.data + off, n, &out);
		}
		dotstuff_finish(&ds, &out);
		size_t end = unstuff(out.data, out.len, &back);
		test_assert(end == out.len);
		test_assert(back.len == body.len &&
			    (body.len == 0 || memcmp(back.data, body.data, body.len) == 0));
		buf_free(&body);
		buf_free(&out);
		buf_free(&back);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_table, test_chunks, test_roundtrip, NULL});
}
