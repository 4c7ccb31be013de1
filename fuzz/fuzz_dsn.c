/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dsn.c - libFuzzer target for the delivery reports (queue/dsn.h):
 * how NOTIFY is read (dsn_wanted) and how a recipient's reason becomes
 * Status and Diagnostic-Code (dsn_build reads the next hop's reply or
 * mailroom's own reason for its enhanced status code, RFC 3463). The input
 * is split at LF into NOTIFY, the reason, ENVID, ORCPT, RET and the
 * message. The report must keep its shape whatever those hold: every line
 * ends in CRLF, one Final-Recipient and one well-formed Status per
 * recipient, of the class the action says. Invariants abort.
 */
#include "fuzz.h"
#include "queue/dsn.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The next LF-terminated field of the input, as a new string. */
static char *field(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	const char *e = nl != NULL ? nl : end;
	char *s = strndup(*p, (size_t)(e - *p));
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

static size_t count(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, k = strlen(needle);
	for (size_t i = 0; i + k <= len; i++)
		n += memcmp(hay + i, needle, k) == 0;
	return n;
}

static void check_report(const struct buf *b, size_t report_end, enum dsn_action a, size_t n)
{
	/* the report's own parts: up to the original message */
	for (size_t i = 0; i < report_end; i++) {
		if (b->data[i] == '\n')
			CHECK(i > 0 && b->data[i - 1] == '\r');
		if (b->data[i] == '\r')
			CHECK(i + 1 < report_end && b->data[i + 1] == '\n');
	}
	CHECK(count(b->data, report_end, "\r\nFinal-Recipient: rfc822; ") == n);
	CHECK(count(b->data, report_end, "\r\nStatus: ") == n);
	const char *s = b->data;
	for (size_t k = 0; k < n; k++) {
		s = strstr(s, "\r\nStatus: ");
		CHECK(s != NULL);
		s += 10;
		CHECK(*s == (a == DSN_FAILED ? '5' : a == DSN_DELAYED ? '4' : '2'));
		size_t dots = 0, i = 1;
		for (; s[i] != '\r'; i++) {
			CHECK(isdigit((unsigned char)s[i]) || s[i] == '.');
			dots += s[i] == '.';
		}
		CHECK(dots == 2 && s[1] == '.' && s[i - 1] != '.' && i <= 9);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *notify = field(&p, end), *reply = field(&p, end), *envid = field(&p, end);
	char *orcpt = field(&p, end), *ret = field(&p, end);
	static const enum dsn_action actions[] = {DSN_FAILED, DSN_DELAYED, DSN_RELAYED};

	for (size_t i = 0; i < 3; i++)
		(void)dsn_wanted(notify[0] != '\0' ? notify : NULL, actions[i]);
	struct store_queue_rcpt rcpts[2] = {
	    {.address = "a@example.test",
	     .dsn_notify = notify,
	     .dsn_orcpt = orcpt,
	     .remote_reply = reply},
	    {.address = reply, .remote_reply = reply[0] != '\0' ? reply + 1 : NULL},
	};
	struct store_queue_msg m = {
	    .qid = "Q1",
	    .sender = envid,
	    .dsn_envid = envid[0] != '\0' ? envid : NULL,
	    .dsn_ret = ret[0] != '\0' ? ret : NULL,
	    .rcpts = rcpts,
	    .n_rcpts = 2,
	};
	buf_append(&m.body, p, (size_t)(end - p));
	const size_t which[2] = {0, 1};
	for (size_t i = 0; i < 3; i++) {
		struct buf out = {0};
		dsn_build(&out, "mx.example.test", &m, which, 2, actions[i], "RFUZZ");
		CHECK(out.len > 0);
		/* the first part boundary that opens the original (the original
		   itself may hold the same text further on) */
		const char *full = strstr(out.data, "\r\n--RFUZZ/mx.example.test\r\nContent-Type: "
						    "message/rfc822");
		const char *hdrs = strstr(out.data, "\r\n--RFUZZ/mx.example.test\r\nContent-Type: "
						    "text/rfc822-headers");
		const char *orig = full == NULL || (hdrs != NULL && hdrs < full) ? hdrs : full;
		CHECK(orig != NULL);
		check_report(&out, (size_t)(orig - out.data) + 2, actions[i], 2);
		buf_free(&out);
	}
	buf_free(&m.body);
	free(notify);
	free(reply);
	free(envid);
	free(orcpt);
	free(ret);
	return 0;
}
