/* SPDX-License-Identifier: MIT */
/*
 * fuzz_clamd_reply.c - libFuzzer target for clamd's reply reader and parser
 * (filter/clamd.h). The first octet picks a chunk size; the rest is a
 * stream of NUL-terminated replies, read one after the other. Fed whole and
 * in chunks, the same replies must come out, parsed the same way, with the
 * same octets consumed; a parsed reply keeps its promises (a signature
 * without spaces, reasons and names NUL-terminated within their limits).
 */
#include "filter/clamd.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#define REPLIES_MAX 64

struct trace {
	uint64_t hash[REPLIES_MAX];
	size_t n, used;
	bool bad;
};

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

static uint64_t parsed(const struct clamd_reader *rd)
{
	struct clamd_reply r;
	uint64_t h = mix(14695981039346656037ULL, rd->text, rd->len);

	CHECK(rd->len <= CLAMD_REPLY_MAX && rd->text[rd->len] == '\0');
	if (!clamd_reply_parse(rd->text, rd->len, &r))
		return mix(h, "bad", 3);
	CHECK(r.verdict == CLAMD_CLEAN || r.verdict == CLAMD_INFECTED || r.verdict == CLAMD_ERROR);
	CHECK(memchr(r.signature, '\0', sizeof(r.signature)) != NULL);
	CHECK(memchr(r.reason, '\0', sizeof(r.reason)) != NULL);
	if (r.verdict == CLAMD_INFECTED) {
		CHECK(r.signature[0] != '\0' && strchr(r.signature, ' ') == NULL);
		CHECK(strstr(rd->text, r.signature) != NULL);
	}
	if (r.verdict == CLAMD_ERROR)
		CHECK(r.reason[0] != '\0' && strstr(rd->text, r.reason) != NULL);
	CHECK(!r.size_limit || r.verdict == CLAMD_ERROR);
	CHECK(clamd_verdict_name(r.verdict)[0] != '?');
	h = mix(h, &r.verdict, sizeof(r.verdict));
	h = mix(h, r.signature, strlen(r.signature));
	h = mix(h, r.reason, strlen(r.reason));
	return mix(h, &r.size_limit, sizeof(r.size_limit));
}

static void read_all(const uint8_t *p, size_t len, size_t chunk, struct trace *t)
{
	struct clamd_reader rd;
	size_t off = 0;

	memset(t, 0, sizeof(*t));
	clamd_reader_init(&rd);
	while (off < len && t->n < REPLIES_MAX) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		enum clamd_read_status st = clamd_reader_feed(&rd, p + off, n, &used);
		CHECK(used <= n);
		CHECK(st != CLAMD_READ_MORE || used == n);
		off += used;
		if (st == CLAMD_READ_BAD) {
			CHECK(rd.len == CLAMD_REPLY_MAX);
			t->bad = true;
			break;
		}
		if (st == CLAMD_READ_DONE) {
			t->hash[t->n++] = parsed(&rd);
			clamd_reader_init(&rd);
		}
	}
	t->used = off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace whole, cut;
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;

	read_all(data + 1, size - 1, size, &whole);
	read_all(data + 1, size - 1, chunk, &cut);
	CHECK(whole.n == cut.n && whole.used == cut.used && whole.bad == cut.bad);
	CHECK(memcmp(whole.hash, cut.hash, whole.n * sizeof(uint64_t)) == 0);
	return 0;
}
