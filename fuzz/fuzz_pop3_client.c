/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pop3_client.c - libFuzzer target for the pop3 import source's
 * reader of server answers (migrate/mig_pop3.h): a stream of status lines
 * each followed, after +OK, by a multi-line answer (RETR, UIDL, LIST), as
 * the import reads them. The first octet picks a read size; the stream
 * read whole and in those pieces must give the same answers (the reader
 * does not depend on the cut), every answer stays within its bounds and,
 * stuffed again (proto/dotstuff.h), a body of CRLF lines gives back the
 * octets of the wire (less the dot of any line the server left unstuffed). Every line is also tried
 * as a UIDL and a LIST line. Invariants abort.
 */
#include "fuzz.h"
#include "migrate/mig_pop3.h"
#include "proto/dotstuff.h"

#include <stdint.h>
#include <string.h>

#define LINE_MAX_FUZZ 64
#define BODY_MAX_FUZZ 4096

struct feed {
	const uint8_t *p;
	size_t len, off, chunk;
};

static ssize_t feed_read(void *ctx, void *dst, size_t len)
{
	struct feed *f = ctx;
	size_t n = f->len - f->off;
	if (n > f->chunk)
		n = f->chunk;
	if (n > len)
		n = len;
	memcpy(dst, f->p + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

struct trace {
	int st[32];
	size_t lens[32], n;
	uint64_t sum;
};

static bool crlf_only(const struct buf *b)
{
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			return false;
		if (b->data[i] == '\r' && (i + 1 == b->len || b->data[i + 1] != '\n'))
			return false;
	}
	return true;
}

static void lines(const struct buf *b)
{
	char uidl[MIG_POP3_UIDL_MAX + 1];
	uint64_t n, size;

	for (size_t i = 0; i < b->len;) {
		const char *e = memchr(b->data + i, '\n', b->len - i);
		size_t len = e != NULL ? (size_t)(e - (b->data + i)) : b->len - i;
		if (mig_pop3_uidl_line(b->data + i, len, &n, uidl)) {
			size_t ul = strlen(uidl);
			CHECK(n > 0 && ul >= 1 && ul <= MIG_POP3_UIDL_MAX);
			for (size_t k = 0; k < ul; k++)
				CHECK(uidl[k] >= 0x21 && uidl[k] <= 0x7e);
		}
		if (mig_pop3_list_line(b->data + i, len, &n, &size))
			CHECK(n > 0);
		i += len + 1;
	}
}

static void read_all(const uint8_t *p, size_t len, size_t chunk, struct trace *t)
{
	static struct mig_pop3_in in;
	struct feed f = {p, len, 0, chunk};
	char text[128];

	memset(t, 0, sizeof(*t));
	mig_pop3_in_init(&in, feed_read, &f);
	while (t->n < 32) {
		int st = mig_pop3_status(&in, text, sizeof(text));
		CHECK(strlen(text) < sizeof(text) || st < 0);
		if (st < 0) {
			t->st[t->n++] = st;
			break;
		}
		for (size_t k = 0; st >= 0 && text[k] != '\0'; k++)
			CHECK((unsigned char)text[k] >= 0x20 && text[k] != 0x7f);
		if (st != MIG_POP3_OK) {
			t->st[t->n++] = st;
			continue;
		}
		struct buf body = {0};
		size_t before = f.off - (in.len - in.off);
		int m = mig_pop3_multiline(&in, &body, LINE_MAX_FUZZ, BODY_MAX_FUZZ);
		CHECK(body.len <= BODY_MAX_FUZZ);
		t->st[t->n] = m;
		if (m != MIG_POP3_OK) {
			/* how much was kept before a bound struck depends on the cut */
			t->n++;
			buf_free(&body);
			break;
		}
		t->lens[t->n++] = body.len;
		for (size_t k = 0; k < body.len; k++)
			t->sum = t->sum * 31 + (uint8_t)body.data[k];
		lines(&body);
		/* stuffed again, a body of CRLF lines is the wire it came from,
		   less the dots of lines the server failed to stuff */
		size_t after = f.off - (in.len - in.off);
		size_t term = p[after - 2] == '.' ? 2 : 3; /* ".\n" or ".\r\n" */
		if (crlf_only(&body)) {
			struct dotstuff ds;
			struct buf again = {0};
			dotstuff_init(&ds);
			dotstuff_feed(&ds, body.data, body.len, &again);
			CHECK(again.len <= after - term - before);
			if (again.len == after - term - before)
				CHECK(again.len == 0 ||
				      memcmp(again.data, p + before, again.len) == 0);
			buf_free(&again);
		}
		buf_free(&body);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	struct trace whole, cut;

	read_all(data + 1, size - 1, size, &whole);
	read_all(data + 1, size - 1, chunk, &cut);
	CHECK(whole.n == cut.n && whole.sum == cut.sum);
	CHECK(memcmp(whole.st, cut.st, sizeof(whole.st)) == 0);
	CHECK(memcmp(whole.lens, cut.lens, sizeof(whole.lens)) == 0);
	return 0;
}
