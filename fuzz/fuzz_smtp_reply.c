/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_reply.c - libFuzzer target for the delivery client's reply and
 * EHLO readers (queue/smtp_reply.h). The first octet picks a chunk size;
 * the rest is a stream of replies, read one after the other as the client
 * reads pipelined replies. The same stream fed whole and in chunks must
 * give the same replies (the machine does not depend on the cut), and
 * what it returns stays within its limits. Invariants abort.
 */
#include "fuzz.h"
#include "queue/smtp_reply.h"

#include <stdint.h>
#include <string.h>

struct trace {
	int codes[64];
	unsigned lines[64];
	size_t n, used;
	enum smtp_reply_error error;
};

static void read_all(const char *p, size_t len, size_t chunk, struct trace *t)
{
	static struct smtp_reply r;
	struct smtp_ehlo e;
	size_t off = 0;

	memset(t, 0, sizeof(*t));
	memset(&e, 0, sizeof(e));
	smtp_reply_init(&r);
	while (off < len && t->n < 64) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		enum smtp_reply_status st = smtp_reply_feed(&r, p + off, n, &used);
		CHECK(used <= n);
		CHECK(st != SMTP_REPLY_MORE || used == n);
		off += used;
		if (st == SMTP_REPLY_BAD) {
			CHECK(r.error != SMTP_REPLY_OK);
			CHECK(smtp_reply_error_text(r.error)[0] != '\0');
			t->error = r.error;
			break;
		}
		if (st == SMTP_REPLY_LINE || st == SMTP_REPLY_DONE) {
			CHECK(used > 0);
			CHECK(r.code >= 200 && r.code <= 559);
			CHECK(r.text_len <= SMTP_REPLY_LINE_MAX - 4 && r.text[r.text_len] == '\0');
			CHECK(strlen(r.text) == r.text_len);
			CHECK(memchr(r.text, '\r', r.text_len) == NULL);
			CHECK(memchr(r.text, '\n', r.text_len) == NULL);
			CHECK(r.lines >= 1 && r.lines <= SMTP_REPLY_LINES_MAX);
			smtp_ehlo_line(&e, r.text, r.text_len);
			CHECK(!e.size_max || e.size);
		}
		if (st == SMTP_REPLY_DONE) {
			t->codes[t->n] = r.code;
			t->lines[t->n++] = r.lines;
			smtp_reply_init(&r);
		}
	}
	t->used = off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	const char *p = (const char *)data + 1;
	struct trace whole, cut;

	read_all(p, size - 1, size, &whole);
	read_all(p, size - 1, chunk, &cut);
	CHECK(whole.n == cut.n && whole.used == cut.used && whole.error == cut.error);
	CHECK(memcmp(whole.codes, cut.codes, sizeof(whole.codes)) == 0);
	CHECK(memcmp(whole.lines, cut.lines, sizeof(whole.lines)) == 0);
	return 0;
}
