/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mbox.c - libFuzzer target for the mbox splitter (migrate/mig_mbox.h).
 * Byte 0 picks mboxrd or mboxo; the rest is the file. Checks: the splitter
 * ends, always moves on, hands out only non-empty wire-form bodies (CRLF
 * line ends alone, store.h S4) and valid UIDLs; and for mboxrd, the
 * messages written out again as mboxrd (as the exporter does) split into
 * the same messages, except where a Content-Length header may decide
 * differently.
 */
#include "fuzz.h"
#include "migrate/mig_mbox.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAXMSGS 64

static void wire_form(const struct buf *b)
{
	CHECK(b->len >= 2 && memcmp(b->data + b->len - 2, "\r\n", 2) == 0);
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\r')
			CHECK(i + 1 < b->len && b->data[i + 1] == '\n');
		if (b->data[i] == '\n')
			CHECK(i > 0 && b->data[i - 1] == '\r');
	}
}

/* mboxrd with LF line ends, as migrate_export_mbox writes it */
static void write_rd(struct buf *out, const struct buf *b)
{
	size_t pos = 0;
	buf_append_str(out, "From x Thu Nov 24 18:22:48 1986\n");
	while (pos < b->len) {
		const char *nl = memchr(b->data + pos, '\n', b->len - pos);
		size_t end = (size_t)(nl - b->data) + 1, q = pos;
		while (q < end && b->data[q] == '>')
			q++;
		if (end - q >= 5 && memcmp(b->data + q, "From ", 5) == 0)
			buf_append_c(out, '>');
		buf_append(out, b->data + pos, end - pos - 2);
		buf_append_c(out, '\n');
		pos = end;
	}
	buf_append_c(out, '\n');
}

static bool has_content_length(const struct buf *b)
{
	for (size_t i = 0; i + 15 <= b->len; i++)
		if (strncasecmp(b->data + i, "content-length:", 15) == 0)
			return true;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum mbox_flavour fl = data[0] & 1 ? MBOX_O : MBOX_RD;
	const char *p = (const char *)data + 1;
	size_t len = size - 1, n = 0, prev = 0;
	struct mbox_split sp;
	struct migrate_msg m = {0};
	struct buf bodies[MAXMSGS] = {0}, again = {0};
	bool cl = false;
	char err[128];
	int r;

	mbox_split_init(&sp, p, len, fl);
	while ((r = mbox_split_next(&sp, &m, err, sizeof(err))) == 1) {
		CHECK(sp.off > prev || (sp.off == len && prev < len));
		CHECK(sp.off <= len);
		prev = sp.off;
		wire_form(&m.body);
		size_t ul = strlen(m.uidl);
		CHECK(ul <= 70);
		for (size_t i = 0; i < ul; i++)
			CHECK(m.uidl[i] >= 0x21 && m.uidl[i] <= 0x7e);
		CHECK(m.received >= 0);
		if (n < MAXMSGS) {
			buf_append(&bodies[n], m.body.data, m.body.len);
			cl = cl || has_content_length(&m.body);
		}
		n++;
	}
	CHECK(r == 0 || (r == -1 && n == 0));
	if (r == 0 && fl == MBOX_RD && n <= MAXMSGS && !cl) {
		for (size_t i = 0; i < n; i++)
			write_rd(&again, &bodies[i]);
		size_t k = 0;
		mbox_split_init(&sp, again.data, again.len, MBOX_RD);
		while (mbox_split_next(&sp, &m, err, sizeof(err)) == 1) {
			CHECK(k < n && m.body.len == bodies[k].len &&
			      memcmp(m.body.data, bodies[k].data, m.body.len) == 0);
			k++;
		}
		CHECK(k == n);
	}
	for (size_t i = 0; i < MAXMSGS; i++)
		buf_free(&bodies[i]);
	buf_free(&again);
	migrate_msg_clear(&m);
	return 0;
}
