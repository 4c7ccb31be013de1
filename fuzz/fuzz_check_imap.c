/* SPDX-License-Identifier: MIT */
/*
 * fuzz_check_imap.c - libFuzzer target for the IMAP response reader of
 * `mailroom check` (check/check_private.h): the rest of the input after
 * its first octet is a server's stream, cut into responses once whole and
 * once in pieces of the first octet's size. Both cuts must give the same
 * responses and the same end (the reader does not depend on how the
 * octets arrive); the reader never takes more than it is given, every
 * response stays within the bound, ends with LF, and each one goes
 * through the head, CAPABILITY, SEARCH and FETCH readers, whose slices
 * must lie inside it. Invariants abort.
 */
#include "check/check_private.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#define MAX_FUZZ 2048
#define RESPONSES_MAX 64

struct cut {
	size_t n;
	size_t len[RESPONSES_MAX];
	uint64_t sum[RESPONSES_MAX];
	enum check_imap_feed last;
	enum check_imap_error error;
};

static bool inside(struct slice s, const char *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + len);
}

static void readers(const struct buf *t)
{
	struct check_imap_head h;
	if (check_imap_head(t->data, t->len, &h)) {
		CHECK(inside(h.tag, t->data, t->len) && inside(h.word, t->data, t->len));
		CHECK(inside(h.rest, t->data, t->len) && inside(h.code, t->data, t->len));
		CHECK(inside(h.text, t->data, t->len));
		CHECK(h.kind != CHECK_IMAP_TAGGED || h.tag.len > 0);
		struct check_imap_capa c = {0};
		check_imap_parse_capa(h.rest, &c);
		check_imap_parse_capa(h.code, &c);
		uint64_t uids[4];
		size_t n = check_imap_parse_search(&h, uids, 4);
		for (size_t i = 0; i < n && i < 4; i++)
			CHECK(uids[i] <= UINT32_MAX);
	}
	struct buf body = {0};
	uint64_t uid;
	if (check_imap_parse_fetch(t->data, t->len, &uid, &body))
		CHECK(body.len <= t->len && uid <= UINT32_MAX);
	buf_free(&body);
	char text[64];
	check_imap_text((struct slice){t->data, t->len}, text, sizeof(text));
	CHECK(strlen(text) < sizeof(text));
}

static void run(const uint8_t *p, size_t len, size_t chunk, struct cut *c)
{
	struct check_imap_resp r;
	size_t off = 0;

	memset(c, 0, sizeof(*c));
	check_imap_resp_init(&r, MAX_FUZZ);
	c->last = CHECK_IMAP_MORE;
	while (off < len && c->n < RESPONSES_MAX) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		enum check_imap_feed st = check_imap_resp_feed(&r, (const char *)p + off, n, &used);
		CHECK(used <= n);
		off += used;
		c->last = st;
		if (st == CHECK_IMAP_BAD) {
			c->error = r.error;
			CHECK(r.error != CHECK_IMAP_E_NONE);
			break;
		}
		if (st == CHECK_IMAP_MORE) {
			CHECK(used == n);
			CHECK(r.text.len <= MAX_FUZZ);
			continue;
		}
		CHECK(r.text.len > 0 && r.text.len <= MAX_FUZZ &&
		      r.text.data[r.text.len - 1] == '\n');
		uint64_t sum = 0;
		for (size_t i = 0; i < r.text.len; i++)
			sum = sum * 31 + (unsigned char)r.text.data[i];
		c->len[c->n] = r.text.len;
		c->sum[c->n] = sum;
		c->n++;
		readers(&r.text);
		/* fed again without a reset, it refuses */
		size_t u2;
		if (off < len) {
			CHECK(check_imap_resp_feed(&r, (const char *)p + off, 1, &u2) ==
			      CHECK_IMAP_BAD);
			CHECK(u2 == 0 && r.error == CHECK_IMAP_E_DONE);
		}
		check_imap_resp_reset(&r);
		c->last = CHECK_IMAP_MORE;
	}
	check_imap_resp_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] % 17) + 1;
	struct cut whole, pieces;
	run(data + 1, size - 1, size, &whole);
	run(data + 1, size - 1, chunk, &pieces);
	CHECK(whole.n == pieces.n && whole.last == pieces.last && whole.error == pieces.error);
	for (size_t i = 0; i < whole.n; i++)
		CHECK(whole.len[i] == pieces.len[i] && whole.sum[i] == pieces.sum[i]);
	return 0;
}
