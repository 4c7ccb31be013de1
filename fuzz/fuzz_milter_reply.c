/* SPDX-License-Identifier: MIT */
/*
 * fuzz_milter_reply.c - libFuzzer target for the reader of a filter's
 * replies (filter/milter_proto.h). The first octet picks a chunk size; the
 * rest is a stream of reply packets, read one after the other as the
 * session reads them. The same stream fed whole and in chunks must give
 * the same packets, decoded the same way, the same error and the same
 * octets consumed (the reader does not depend on the cut), and what it
 * returns keeps its promises: slices inside the packet and NUL-terminated,
 * SMTP replies valid, header names and values that cannot break a message.
 */
#include "filter/milter_proto.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

#define PACKETS_MAX 256

struct trace {
	uint64_t hash[PACKETS_MAX];
	size_t n, used;
	enum milter_read_error error;
	bool bad;
};

static uint64_t mix(uint64_t h, const void *p, size_t len)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < len; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

static void check_slice(const struct milter_reader *r, struct slice s)
{
	if (s.len == 0)
		return;
	CHECK(s.p >= r->data && s.p + s.len <= r->data + sizeof(r->data) - 1);
	CHECK(s.p[s.len] == '\0');
}

static uint64_t slice_hash(uint64_t h, struct slice s)
{
	h = mix(h, &s.len, sizeof(s.len));
	return mix(h, s.p, s.len);
}

static uint64_t checked(const struct milter_reader *r)
{
	const struct milter_reply *p = &r->reply;
	uint64_t h = mix(14695981039346656037ULL, &p->cmd, 1);
	struct slice all[] = {p->text, p->name, p->value, p->addr, p->args, p->data};

	for (size_t i = 0; i < N_ELEMENTS(all); i++) {
		check_slice(r, all[i]);
		h = slice_hash(h, all[i]);
	}
	CHECK(p->n_symlists <= MILTER_SYMLISTS_MAX);
	for (size_t i = 0; i < p->n_symlists; i++) {
		check_slice(r, p->symlists[i].names);
		h = slice_hash(h, p->symlists[i].names);
		h = mix(h, &p->symlists[i].stage, sizeof(uint32_t));
	}
	uint32_t nums[] = {p->version, p->actions, p->protocol, p->index, (uint32_t)p->code};
	h = mix(h, nums, sizeof(nums));
	CHECK(strcmp(milter_cmd_name(p->cmd, true), "?") != 0);
	if (p->cmd == SMFIR_REPLYCODE) {
		int code = 0;
		CHECK(p->code >= 400 && p->code <= 559);
		CHECK(milter_reply_text_valid(p->text.p, p->text.len, &code) && code == p->code);
		CHECK(p->text.len >= 9 && p->text.p[0] == p->text.p[4]);
	}
	if (p->cmd == SMFIR_ADDHEADER || p->cmd == SMFIR_INSHEADER || p->cmd == SMFIR_CHGHEADER) {
		CHECK(p->name.len > 0 && memchr(p->name.p, ':', p->name.len) == NULL);
		CHECK(memchr(p->name.p, '\n', p->name.len) == NULL);
		for (size_t i = 0; i < p->value.len; i++)
			if (p->value.p[i] == '\n')
				CHECK(i + 1 < p->value.len &&
				      (p->value.p[i + 1] == ' ' || p->value.p[i + 1] == '\t'));
	}
	if (p->addr.len > 0) {
		CHECK(memchr(p->addr.p, '\r', p->addr.len) == NULL);
		CHECK(memchr(p->addr.p, '\n', p->addr.len) == NULL);
	}
	return h;
}

static void read_all(const uint8_t *p, size_t len, size_t chunk, struct trace *t)
{
	static struct milter_reader r;
	size_t off = 0;

	memset(t, 0, sizeof(*t));
	milter_reader_init(&r);
	while (off < len && t->n < PACKETS_MAX) {
		size_t n = len - off < chunk ? len - off : chunk, used;
		enum milter_read_status st = milter_reader_feed(&r, p + off, n, &used);
		CHECK(used <= n);
		CHECK(st != MILTER_READ_MORE || used == n);
		off += used;
		if (st == MILTER_READ_BAD) {
			CHECK(r.error != MILTER_ERR_OK);
			CHECK(milter_read_error_text(r.error)[0] != '\0');
			t->error = r.error;
			t->bad = true;
			size_t again;
			CHECK(milter_reader_feed(&r, p, len, &again) == MILTER_READ_BAD &&
			      again == 0);
			break;
		}
		if (st == MILTER_READ_PACKET) {
			CHECK(used > 0 || n == 0);
			t->hash[t->n++] = checked(&r);
		}
	}
	t->used = off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace whole, cut;
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 23 + 1;

	read_all(data + 1, size - 1, size, &whole);
	read_all(data + 1, size - 1, chunk, &cut);
	CHECK(whole.n == cut.n && whole.used == cut.used);
	CHECK(whole.bad == cut.bad && whole.error == cut.error);
	CHECK(memcmp(whole.hash, cut.hash, whole.n * sizeof(uint64_t)) == 0);
	return 0;
}
