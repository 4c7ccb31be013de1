/* SPDX-License-Identifier: MIT */
/*
 * test_http_parse.c - admin/http_parse.h: a table of request heads with
 * the answer each gets (parsed, more needed, or the error status), the
 * slices of a parsed one, the same heads fed one octet at a time (the
 * result must not depend on the cut), and the 8 KiB limit.
 */
#include "admin/http_parse.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct http_case {
	const char *in;
	int r;		  /* 1, 0 or -1 */
	int status;	  /* for -1 */
	const char *path; /* for 1 */
};

static const struct http_case cases[] = {
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, "/metrics"},
    {"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n", 1, 0, "/metrics"},
    {"HEAD /health HTTP/1.0\r\n\r\n", 1, 0, "/health"},
    {"GET /health HTTP/1.1\nHost: x\n\n", 1, 0, "/health"},   /* bare LF */
    {"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, "/"}, /* leading empty lines */
    {"GET http://mail.example.test:9325/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, "/metrics"},
    {"GET http://mail.example.test HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0, "/"},
    {"GET / HTTP/1.1\r\nHost:x\r\nX-Empty:\r\nX-Tab: a\tb\r\n\r\n", 1, 0, "/"},
    {"GET / HTTP/1.1\r\nHost: x\r\nX: caf\xc3\xa9\r\n\r\n", 1, 0, "/"}, /* obs-text */
    {"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 1, 0, "/metrics"},
    /* more needed */
    {"", 0, 0, NULL},
    {"GET /metrics HTTP/1.1", 0, 0, NULL},
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n", 0, 0, NULL},
    {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r", 0, 0, NULL},
    /* bad */
    {"GET /metrics HTTP/1.1\r\n\r\n", -1, 400, NULL}, /* 1.1 without Host */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -1, 400, NULL},
    {"GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET /metrics  HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET /metrics\r\n\r\n", -1, 400, NULL}, /* HTTP/0.9 */
    {"GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET /\xff HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"G(T / HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {" GET / HTTP/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET / HTTP/1.1 \r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET / http/1.1\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET / HTTP/1.x\r\nHost: x\r\n\r\n", -1, 400, NULL},
    {"GET / HTTP/2.0\r\nHost: x\r\n\r\n", -1, 505, NULL},
    {"GET / HTTP/0.9\r\nHost: x\r\n\r\n", -1, 505, NULL},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", -1, 400, NULL},	     /* space before the colon */
    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", -1, 400, NULL}, /* obs-fold */
    {"GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", -1, 400, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", -1, 400, NULL},
    {"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", -1, 400, NULL},
    {"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", -1, 400, NULL}, /* lone CR */
    {"\x16\x03\x01\x02\x01\x01\xfc\x03\x03", -1, 400, NULL},	/* a TLS hello, at once */
    {"GET\x01", -1, 400, NULL},
};

static void test_table(void)
{
	test_begin("request heads: parsed, incomplete, refused");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct http_case *c = &cases[i];
		struct http_request req;
		int status = 0;
		int r = http_request_parse(c->in, strlen(c->in), &req, &status);
		bool ok = r == c->r && (r != -1 || status == c->status) &&
			  (r != 1 || slice_eq(req.path, c->path));
		if (!ok)
			fprintf(stderr, "case %zu: r=%d status=%d\n", i, r, status);
		test_assert(ok);
	}
	test_end();
}

static void test_fields(void)
{
	const char *in = "GET /metrics?a=b HTTP/1.1\r\nHost: x\r\n\r\nrest";
	struct http_request req;
	int status;

	test_begin("request slices: method, target, path, version, head length");
	test_assert(http_request_parse(in, strlen(in), &req, &status) == 1);
	test_assert(slice_eq(req.method, "GET"));
	test_assert(slice_eq(req.target, "/metrics?a=b"));
	test_assert(slice_eq(req.path, "/metrics"));
	test_assert(req.minor == 1);
	test_assert(req.head_len == strlen(in) - 4);
	test_end();
}

/* Every prefix of a head gives 0 (or the same error early), the whole
   head the table's answer: the cut never changes the result. */
static void test_bytewise(void)
{
	test_begin("request heads fed one octet at a time");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct http_case *c = &cases[i];
		size_t n = strlen(c->in);
		struct http_request req;
		int status, r = 0;
		size_t k;
		for (k = 0; k <= n; k++) {
			r = http_request_parse(c->in, k, &req, &status);
			if (r != 0)
				break;
		}
		bool ok = r == c->r && (r != -1 || status == c->status);
		if (r == 1)
			ok = ok && req.head_len == k && slice_eq(req.path, c->path);
		if (!ok)
			fprintf(stderr, "case %zu bytewise: r=%d at %zu\n", i, r, k);
		test_assert(ok);
	}
	test_end();
}

static void test_limit(void)
{
	char *big = malloc(2 * HTTP_HEAD_MAX);
	struct http_request req;
	int status;

	test_begin("head limit: 8 KiB, 431 past it");
	int n = snprintf(big, 2 * HTTP_HEAD_MAX, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(big + n, 'a', 2 * HTTP_HEAD_MAX - (size_t)n);
	/* one octet short of the limit: still waiting */
	test_assert(http_request_parse(big, HTTP_HEAD_MAX - 1, &req, &status) == 0);
	test_assert(http_request_parse(big, HTTP_HEAD_MAX, &req, &status) == -1 && status == 431);
	test_assert(http_request_parse(big, 2 * HTTP_HEAD_MAX, &req, &status) == -1 &&
		    status == 431);
	/* a head that ends exactly at the limit still parses */
	size_t pad = HTTP_HEAD_MAX - (size_t)n - 4;
	memcpy(big + n + pad, "\r\n\r\n", 4);
	test_assert(http_request_parse(big, HTTP_HEAD_MAX, &req, &status) == 1);
	test_assert(req.head_len == HTTP_HEAD_MAX);
	free(big);
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_table, test_fields, test_bytewise, test_limit, NULL});
}
