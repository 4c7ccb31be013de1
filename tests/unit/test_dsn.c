/* SPDX-License-Identifier: MIT */
/*
 * test_dsn.c - delivery reports (queue/dsn.h): which NOTIFY values ask for
 * which report (RFC 3461 §4.1), and the per-recipient fields of RFC 3464
 * §2.3: Status from the next hop's enhanced code or from mailroom's own
 * reason, the class forced to 5 once a message fails, Diagnostic-Code
 * typed smtp only for a next hop's reply, and RET=HDRS honoured.
 */
#include "queue/dsn.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>

static void test_wanted(void)
{
	test_begin("NOTIFY decides which reports go out");
	test_assert(dsn_wanted(NULL, DSN_FAILED) && dsn_wanted(NULL, DSN_DELAYED));
	test_assert(!dsn_wanted(NULL, DSN_RELAYED));
	test_assert(!dsn_wanted("NEVER", DSN_FAILED));
	test_assert(dsn_wanted("SUCCESS,FAILURE", DSN_RELAYED));
	test_assert(dsn_wanted("success,failure", DSN_FAILED));
	test_assert(!dsn_wanted("FAILURE", DSN_DELAYED));
	test_end();
}

static const char *field_after(const char *report, const char *rcpt, const char *field, char *out,
			       size_t cap)
{
	char key[200];
	snprintf(key, sizeof(key), "Final-Recipient: rfc822; %s\r\n", rcpt);
	const char *p = strstr(report, key);
	if (p == NULL)
		return NULL;
	const char *end = strstr(p, "\r\n\r\n");
	const char *f = strstr(p, field);
	if (f == NULL || (end != NULL && f > end))
		return NULL;
	f += strlen(field);
	const char *e = strstr(f, "\r\n");
	snprintf(out, cap, "%.*s", (int)(e - f), f);
	return out;
}

static void test_fields(void)
{
	test_begin("per-recipient Status and Diagnostic-Code");
	struct store_queue_rcpt rcpts[] = {
	    {.address = "a@far.test", .remote_reply = "550 5.1.1 <a@far.test>: no such user"},
	    {.address = "b@far.test",
	     .remote_reply = "5.6.3 far.test does not accept 8-bit content"},
	    {.address = "c@far.test", .remote_reply = "451 try again later"},
	    {.address = "d@far.test", .remote_reply = "452 4.2.2 mailbox full"},
	    {.address = "e@far.test", .remote_reply = "5..1 odd"},
	    {.address = "f@far.test", .remote_reply = NULL},
	};
	struct store_queue_msg m = {.qid = "Q1",
				    .sender = "alice@example.test",
				    .created = 1700000000,
				    .rcpts = rcpts,
				    .n_rcpts = 6};
	buf_append_str(&m.body, "Subject: hello\r\nX-Mark: 1\r\n\r\nthe body\r\n");
	size_t all[] = {0, 1, 2, 3, 4, 5};
	struct buf out = {0};
	char v[300];

	dsn_build(&out, "mail.example.test", &m, all, 6, DSN_FAILED, "R1");
	const char *r = out.data;
	test_assert_str(field_after(r, "a@far.test", "Status: ", v, sizeof(v)), "5.1.1");
	test_assert_str(field_after(r, "a@far.test", "Diagnostic-Code: ", v, sizeof(v)),
			"smtp; 550 5.1.1 <a@far.test>: no such user");
	test_assert_str(field_after(r, "b@far.test", "Status: ", v, sizeof(v)), "5.6.3");
	test_assert_str(field_after(r, "b@far.test", "Diagnostic-Code: ", v, sizeof(v)),
			"X-mailroom; 5.6.3 far.test does not accept 8-bit content");
	test_assert_str(field_after(r, "c@far.test", "Status: ", v, sizeof(v)), "5.0.0");
	test_assert_str(field_after(r, "d@far.test", "Status: ", v, sizeof(v)), "5.2.2");
	test_assert_str(field_after(r, "e@far.test", "Status: ", v, sizeof(v)), "5.0.0");
	test_assert_str(field_after(r, "f@far.test", "Status: ", v, sizeof(v)), "5.0.0");
	test_assert(field_after(r, "f@far.test", "Diagnostic-Code: ", v, sizeof(v)) == NULL);
	test_assert(strstr(r, "the body\r\n") != NULL); /* RET=FULL by default */

	buf_clear(&out);
	m.dsn_ret = "HDRS";
	dsn_build(&out, "mail.example.test", &m, all + 3, 1, DSN_DELAYED, "R2");
	r = out.data;
	test_assert_str(field_after(r, "d@far.test", "Status: ", v, sizeof(v)), "4.2.2");
	test_assert_str(field_after(r, "d@far.test", "Action: ", v, sizeof(v)), "delayed");
	test_assert(strstr(r, "a@far.test") == NULL);
	test_assert(strstr(r, "X-Mark: 1\r\n") != NULL && strstr(r, "the body") == NULL);

	/* RFC 3464 §2.3.4: the class follows the action; foreign text never
	   breaks a line of the report */
	struct store_queue_rcpt odd[] = {
	    {.address = "g@far.test", .remote_reply = "550 5.7.1 refused\r\nX-Injected: 1"},
	    {.address = "h@far.test", .remote_reply = "2.0.0 passed on"},
	};
	m.rcpts = odd;
	m.n_rcpts = 2;
	buf_clear(&out);
	dsn_build(&out, "mail.example.test", &m, all, 2, DSN_DELAYED, "R3");
	r = out.data;
	test_assert_str(field_after(r, "g@far.test", "Status: ", v, sizeof(v)), "4.7.1");
	test_assert_str(field_after(r, "h@far.test", "Status: ", v, sizeof(v)), "4.0.0");
	test_assert(strstr(r, "\r\nX-Injected") == NULL);
	test_assert_str(field_after(r, "g@far.test", "Diagnostic-Code: ", v, sizeof(v)),
			"smtp; 550 5.7.1 refused  X-Injected: 1");
	buf_clear(&out);
	dsn_build(&out, "mail.example.test", &m, all + 1, 1, DSN_RELAYED, "R4");
	test_assert_str(field_after(out.data, "h@far.test", "Status: ", v, sizeof(v)), "2.0.0");
	buf_free(&out);
	buf_free(&m.body);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_wanted, test_fields, NULL});
}
