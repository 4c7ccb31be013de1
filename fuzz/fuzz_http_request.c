/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http_request.c - libFuzzer target for the admin endpoint's request
 * head parser (admin/http_parse.h). Every answer must be one of the three,
 * an error one of the statuses the header names; a parsed head's slices
 * must lie inside it, its path start with '/', and the same bytes cut at
 * the end of the head (or fed one octet short of it) must give the same
 * answer: what follows the head, or how it arrived, changes nothing.
 */
#include "admin/http_parse.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

static bool inside(struct slice s, const char *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct http_request req, again;
	int status = 0, status2 = 0;
	int r = http_request_parse(p, size, &req, &status);

	CHECK(r == -1 || r == 0 || r == 1);
	if (r == -1) {
		CHECK(status == 400 || status == 431 || status == 505);
		CHECK(status != 431 || size >= HTTP_HEAD_MAX);
		return 0;
	}
	if (r == 0) {
		CHECK(size < HTTP_HEAD_MAX);
		return 0;
	}
	CHECK(req.head_len >= 2 && req.head_len <= size && req.head_len <= HTTP_HEAD_MAX);
	CHECK(p[req.head_len - 1] == '\n');
	CHECK(req.method.len > 0 && inside(req.method, p, req.head_len));
	CHECK(req.target.len > 0 && inside(req.target, p, req.head_len));
	CHECK(req.path.len > 0 && req.path.p[0] == '/');
	/* the path is in the head, or the literal "/" of an absolute-form target without one */
	CHECK(inside(req.path, p, req.head_len) || slice_eq(req.path, "/"));
	CHECK(memchr(req.path.p, '?', req.path.len) == NULL);
	CHECK(req.minor >= 0 && req.minor <= 9);

	CHECK(http_request_parse(p, req.head_len, &again, &status2) == 1);
	CHECK(again.head_len == req.head_len && again.minor == req.minor);
	CHECK(again.path.len == req.path.len &&
	      memcmp(again.path.p, req.path.p, req.path.len) == 0);
	CHECK(http_request_parse(p, req.head_len - 1, &again, &status2) == 0);
	return 0;
}
