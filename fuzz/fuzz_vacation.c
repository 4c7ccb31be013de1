/* SPDX-License-Identifier: MIT */
/*
 * fuzz_vacation.c - libFuzzer target for auto-replies (delivery/vacation.h).
 * The input's first line is the envelope sender, the rest the message. The
 * check must end and name a matched address only when it says "send"; the
 * reply, built from the message with and without a subject of its own
 * (the first line), must keep its shape whatever the message holds: CRLF
 * line ends, no line over 998 octets, only its own header fields, each
 * once, and never be a message that gets an auto-reply itself (no loops).
 */
#include "delivery/vacation.h"
#include "fuzz.h"
#include "mime/mime.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const own[] = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "In-Reply-To",
    "References",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
};
#define N_OWN (sizeof(own) / sizeof(own[0]))

static void check_reply(const struct buf *r, const char *to)
{
	size_t run = 0, seen[N_OWN] = {0};

	for (size_t i = 0; i < r->len; i++) {
		if (r->data[i] == '\n') {
			CHECK(i > 0 && r->data[i - 1] == '\r');
			run = 0;
		} else if (r->data[i] == '\r') {
			CHECK(i + 1 < r->len && r->data[i + 1] == '\n');
		} else {
			CHECK(++run <= 998);
		}
	}
	CHECK(r->len > 0 && r->data[r->len - 1] == '\n');
	CHECK(strstr(r->data, "\r\n\r\n") != NULL);

	struct mime_fields it;
	struct slice name;
	struct buf v = {0};
	mime_fields_begin(&it, r->data, r->len);
	while (mime_fields_next(&it, &name, &v)) {
		size_t k = 0;
		while (k < N_OWN && !slice_eq_ci(name, own[k]))
			k++;
		CHECK(k < N_OWN && seen[k]++ == 0);
	}
	CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[5] == 1);
	buf_free(&v);

	/* what answers must never be answered, whoever it reaches */
	const char *const addrs[] = {to};
	size_t idx;
	CHECK(vacation_check(r->data, r->len, "alice@example.test", addrs, 1, &idx) !=
	      VACATION_SEND);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl = memchr(p, '\n', size);
	size_t first = nl != NULL ? (size_t)(nl - p) : size;
	char *sender = strndup(p, first);
	const char *msg = nl != NULL ? nl + 1 : p + size;
	size_t len = (size_t)(p + size - msg);
	const char *const addrs[] = {"alice@example.test", "al@example.test", sender};
	size_t idx = 99;

	enum vacation_skip s = vacation_check(msg, len, sender, addrs, 2, &idx);
	CHECK(vacation_skip_name(s) != NULL);
	CHECK(s == VACATION_SEND ? idx < 2 : idx == 99);
	/* the sender among the mailbox's own: never an answer */
	CHECK(vacation_check(msg, len, sender, addrs, 3, &idx) != VACATION_SEND);

	char *text = strndup(msg, len);
	struct buf r = {0};
	vacation_reply_build(&r, "mail.example.test", "al@example.test", "bob@remote.test", NULL,
			     text, msg, len);
	check_reply(&r, "bob@remote.test");
	buf_clear(&r);
	vacation_reply_build(&r, "mail.example.test", "al@example.test", "bob@remote.test", sender,
			     text, msg, len);
	check_reply(&r, "bob@remote.test");
	buf_free(&r);
	free(text);
	free(sender);
	return 0;
}
