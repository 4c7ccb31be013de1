/* SPDX-License-Identifier: MIT */
/*
 * test_vacation.c - auto-replies (delivery/vacation.h): every rule of RFC
 * 3834 §2 and §5 one by one against an ordinary message that does get a
 * reply; the RFC 5322 §3.4 address lists of To and Cc with their corner
 * cases (display names, quoted strings, comments, groups, routes, folding,
 * several fields); and the reply itself: its fields, In-Reply-To and
 * References (RFC 5322 §3.6.4), RFC 2047 subjects and quoted-printable
 * text, decoded back. The header walk (mime_fields_next) and the
 * quoted-printable encoder it uses are checked here too.
 */
#include "delivery/vacation.h"
#include "mime/mime.h"
#include "store/store.h"
#include "util/base64.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const addrs[] = {"alice@example.test", "al@example.test",
				    "alice.smith@alias.test"};
#define N_ADDRS (sizeof(addrs) / sizeof(addrs[0]))
#define SENDER "bob@remote.test"

/* The check of a message made of `header` (LF line ends are made CRLF)
   and a short body; *idx gets the matched index, or 99. */
static enum vacation_skip check_idx(const char *header, const char *sender, size_t *idx)
{
	struct buf m = {0};
	for (const char *p = header; *p != '\0'; p++) {
		if (*p == '\n')
			buf_append_c(&m, '\r');
		buf_append_c(&m, *p);
	}
	buf_append_str(&m, "\r\nTo: alice@example.test\r\nhello\r\n");
	*idx = 99;
	enum vacation_skip r = vacation_check(m.data, m.len, sender, addrs, N_ADDRS, idx);
	buf_free(&m);
	return r;
}

static enum vacation_skip check(const char *header)
{
	size_t idx;
	return check_idx(header, SENDER, &idx);
}

#define ORDINARY "From: Bob <bob@remote.test>\nSubject: lunch\nMessage-ID: <m1@remote.test>\n"

static void test_ordinary(void)
{
	size_t idx;

	test_begin("vacation: an ordinary message gets a reply, from the address it named");
	test_assert(check_idx(ORDINARY "To: alice@example.test\n", SENDER, &idx) == VACATION_SEND);
	test_assert(idx == 0);
	test_assert(check_idx(ORDINARY "To: carol@example.test\nCc: al@example.test\n", SENDER,
			      &idx) == VACATION_SEND);
	test_assert(idx == 1);
	test_assert(check_idx(ORDINARY "To: Alice.Smith@ALIAS.test\n", SENDER, &idx) ==
		    VACATION_SEND);
	test_assert(idx == 2);
	/* the first one named wins */
	test_assert(check_idx(ORDINARY "To: al@example.test, alice@example.test\n", SENDER, &idx) ==
		    VACATION_SEND);
	test_assert(idx == 1);
	/* the body's "To:" (appended by check_idx) is no field */
	test_assert(check(ORDINARY "To: carol@example.test\n") == VACATION_NOT_ADDRESSED);
	test_assert_str(vacation_skip_name(VACATION_SEND), "send");
	test_assert_str(vacation_skip_name(VACATION_AUTO_SUBMITTED), "auto-submitted");
	test_assert_str(vacation_skip_name(VACATION_SELF), "self");
	test_end();
}

static void test_no_sender(void)
{
	size_t idx;
	const char *h = ORDINARY "To: alice@example.test\n";

	test_begin("vacation: never to the null sender or an unknown one (§2)");
	test_assert(check_idx(h, "", &idx) == VACATION_NO_SENDER);
	test_assert(check_idx(h, NULL, &idx) == VACATION_NO_SENDER);
	test_assert(check_idx(h, "bob", &idx) == VACATION_NO_SENDER);
	test_assert(check_idx(h, "bob@", &idx) == VACATION_NO_SENDER);
	test_assert(check_idx(h, "@remote.test", &idx) == VACATION_NO_SENDER);
	test_assert(idx == 99);
	test_end();
}

static void test_auto_submitted(void)
{
	test_begin("vacation: Auto-Submitted other than no (§2, §5)");
	const char *skip[] = {
	    "Auto-Submitted: auto-replied\n",
	    "Auto-Submitted: auto-generated\n",
	    "auto-submitted: AUTO-REPLIED\n",
	    "Auto-Submitted: (a comment) auto-notified; owner-email=\"x@y\"\n",
	    "Auto-Submitted: auto-generated (by a robot)\n",
	    "Auto-Submitted:\n\tauto-replied\n", /* folded */
	    "Auto-Submitted: x-private-value\n",
	    "Auto-Submitted:\n", /* empty: not "no" */
	    "Auto-Submitted: no\nAuto-Submitted: auto-replied\n",
	    "Auto-Submitted: nope\n",
	    "X-Auto-Response-Suppress: DR, OOF\n", /* Exchange's own way */
	    "X-Auto-Response-Suppress: All\n",
	};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		char h[512];
		snprintf(h, sizeof(h), ORDINARY "%sTo: alice@example.test\n", skip[i]);
		if (check(h) != VACATION_AUTO_SUBMITTED)
			printf("  not skipped: %s", skip[i]);
		test_assert(check(h) == VACATION_AUTO_SUBMITTED);
	}
	const char *send[] = {
	    "Auto-Submitted: no\n",
	    "Auto-Submitted: NO\n",
	    "Auto-Submitted: (human) no (really)\n",
	    "Auto-Submitted: no; reason=test\n",
	    "X-Auto-Response-Suppress: DR, RN\n",
	    "X-Auto-Submitted-Like: auto-replied\n",
	};
	for (size_t i = 0; i < sizeof(send) / sizeof(send[0]); i++) {
		char h[512];
		snprintf(h, sizeof(h), ORDINARY "%sTo: alice@example.test\n", send[i]);
		if (check(h) != VACATION_SEND)
			printf("  skipped: %s", send[i]);
		test_assert(check(h) == VACATION_SEND);
	}
	test_end();
}

static void test_precedence(void)
{
	test_begin("vacation: Precedence bulk, list, junk");
	test_assert(check(ORDINARY "Precedence: bulk\nTo: alice@example.test\n") ==
		    VACATION_PRECEDENCE);
	test_assert(check(ORDINARY "Precedence: List\nTo: alice@example.test\n") ==
		    VACATION_PRECEDENCE);
	test_assert(check(ORDINARY "precedence:JUNK (spam)\nTo: alice@example.test\n") ==
		    VACATION_PRECEDENCE);
	test_assert(check(ORDINARY "Precedence: auto_reply\nTo: alice@example.test\n") ==
		    VACATION_PRECEDENCE);
	test_assert(check(ORDINARY "Precedence: first-class\nTo: alice@example.test\n") ==
		    VACATION_SEND);
	test_assert(check(ORDINARY "Precedence: bulky\nTo: alice@example.test\n") == VACATION_SEND);
	test_end();
}

static void test_list(void)
{
	test_begin("vacation: List-Id and the other List-* fields (§2)");
	const char *skip[] = {
	    "List-Id: Staff <staff.example.test>\n",
	    "list-id: <staff.example.test>\n",
	    "List-Unsubscribe: <mailto:staff-leave@example.test>\n",
	    "List-Post: <mailto:staff@example.test>\n",
	    "List-Help: <mailto:staff-help@example.test>\n",
	    "List-Archive: <https://lists.example.test/staff>\n",
	    "Mailing-List: contact staff-help@example.test; run by ezmlm\n",
	    "X-Mailing-List: <staff@example.test>\n",
	};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		char h[512];
		snprintf(h, sizeof(h), ORDINARY "%sTo: alice@example.test\n", skip[i]);
		test_assert(check(h) == VACATION_LIST);
	}
	test_assert(check(ORDINARY "Listed: yes\nTo: alice@example.test\n") == VACATION_SEND);
	test_assert(check(ORDINARY "X-List: yes\nTo: alice@example.test\n") == VACATION_SEND);
	test_end();
}

static void test_not_addressed(void)
{
	test_begin("vacation: the mailbox not named in To or Cc (§2)");
	test_assert(check(ORDINARY "To: carol@example.test\n") == VACATION_NOT_ADDRESSED);
	test_assert(check(ORDINARY) == VACATION_NOT_ADDRESSED); /* no To at all */
	test_assert(check(ORDINARY "Reply-To: alice@example.test\nTo: c@example.test\n") ==
		    VACATION_NOT_ADDRESSED);
	test_assert(check("From: alice@example.test\nTo: c@example.test\n") ==
		    VACATION_NOT_ADDRESSED);
	test_assert(check(ORDINARY "To: xalice@example.test, alice@example.test.evil\n") ==
		    VACATION_NOT_ADDRESSED);
	test_assert(check(ORDINARY "To: alice@example\n") == VACATION_NOT_ADDRESSED);
	test_assert(check(ORDINARY "To: alice\n") == VACATION_NOT_ADDRESSED);
	/* the other recipient fields name it explicitly too */
	test_assert(check(ORDINARY "Resent-To: alice@example.test\n") == VACATION_SEND);
	test_assert(check(ORDINARY "Bcc: al@example.test\n") == VACATION_SEND);
	test_end();
}

static void test_special_senders(void)
{
	size_t idx;
	const char *h = ORDINARY "To: alice@example.test\n";

	test_begin("vacation: list software, bounce handlers and noreply senders (§2)");
	const char *skip[] = {
	    "MAILER-DAEMON@remote.test",     "mailer-daemon@remote.test",
	    "LISTSERV@lists.remote.test",    "Majordomo@remote.test",
	    "owner-staff@remote.test",	     "staff-owner@remote.test",
	    "staff-request@remote.test",     "STAFF-REQUEST@remote.test",
	    "staff-bounces@remote.test",     "staff-bounces+alice=example.test@remote.test",
	    "noreply@remote.test",	     "no-reply@remote.test",
	    "NoReply@remote.test",	     "noreply+tag@remote.test",
	    "noreply-alerts@remote.test",    "do-not-reply@remote.test",
	    "donotreply@remote.test",	     "calendar-noreply@remote.test",
	    "\"mailer-daemon\"@remote.test",
	};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++) {
		if (check_idx(h, skip[i], &idx) != VACATION_SPECIAL_SENDER)
			printf("  not skipped: %s\n", skip[i]);
		test_assert(check_idx(h, skip[i], &idx) == VACATION_SPECIAL_SENDER);
	}
	const char *send[] = {"owner@remote.test",	 "request@remote.test",
			      "requester@remote.test",	 "bounces@remote.test",
			      "bob+owner-x@remote.test", "daemon@remote.test",
			      "norepl@remote.test",	 "mailer-daemon.bob@remote.test"};
	for (size_t i = 0; i < sizeof(send) / sizeof(send[0]); i++) {
		if (check_idx(h, send[i], &idx) != VACATION_SEND)
			printf("  skipped: %s\n", send[i]);
		test_assert(check_idx(h, send[i], &idx) == VACATION_SEND);
	}
	test_end();
}

static void test_self(void)
{
	size_t idx;
	const char *h = ORDINARY "To: alice@example.test\n";

	test_begin("vacation: mail from the mailbox itself");
	test_assert(check_idx(h, "alice@example.test", &idx) == VACATION_SELF);
	test_assert(check_idx(h, "AL@Example.Test", &idx) == VACATION_SELF);
	test_assert(check_idx(h, "alice.smith@alias.test", &idx) == VACATION_SELF);
	test_assert(check_idx(h, "\"alice\"@example.test", &idx) == VACATION_SELF);
	test_assert(check_idx(h, "alice@other.test", &idx) == VACATION_SEND);
	test_end();
}

static void test_address_lists(void)
{
	test_begin("vacation: address lists (RFC 5322 §3.4, §4.4)");
	const char *found[] = {
	    "To: Alice <alice@example.test>\n",
	    "To: \"Smith, Alice\" <alice@example.test>\n",
	    "To: \"Bob <bob@x.test>, \\\"C\\\"\" <alice@example.test>\n",
	    "To: alice@example.test (Alice, away)\n",
	    "To: (first) alice (the local part) @ (at) example.test (done)\n",
	    "To: carol@example.test,\n  \"Alice\"\n  <alice@example.test>\n", /* folded */
	    "To: carol@example.test\nTo: alice@example.test\n", /* a second To field */
	    "To: carol@example.test\nCc: dave@example.test\nCc: al@example.test\n",
	    "To: team: carol@example.test, Alice <alice@example.test>;, dave@example.test\n",
	    "To: undisclosed-recipients:;, alice@example.test\n",
	    "To: friends:;\nCc: alice@example.test\n",
	    "To: \"alice\"@example.test\n", /* quoted local part: the same address */
	    "To: \"al\\ice\"@example.test\n",
	    "To: ALICE@EXAMPLE.TEST\n",
	    "To: <@relay.test,@hop.test:alice@example.test>\n", /* obsolete route */
	    "To: Alice <alice@example.test> (comment <carol@example.test>)\n",
	    "To: =?UTF-8?B?QWxpY2U=?= <alice@example.test>\n",
	    "To: Al\303\257ce <alice@example.test>\n", /* RFC 6532 display name */
	    "To: ,,carol@example.test,,alice@example.test,\n",
	    "To: carol@example.test;alice@example.test\n",
	    "To: alice.smith@alias.test\n",
	    "To: alice . smith @ alias.test\n",
	    "To:alice@example.test\n",
	    "To: <alice@example.test>\n",
	    "Cc: Carol <carol@example.test>, Re: Alice <alice@example.test>\n",
	};
	for (size_t i = 0; i < sizeof(found) / sizeof(found[0]); i++) {
		char h[512];
		snprintf(h, sizeof(h), ORDINARY "%s", found[i]);
		if (check(h) != VACATION_SEND)
			printf("  not found: %s", found[i]);
		test_assert(check(h) == VACATION_SEND);
	}
	const char *missed[] = {
	    "To: carol@example.test (alice@example.test)\n",	 /* only in a comment */
	    "To: \"alice@example.test\" <carol@example.test>\n", /* only in a display name */
	    "To: alice@example.test <carol@example.test>\n",	 /* a broken display name */
	    "To: <alice@example.test@evil.test>\n",
	    "To: \"alice@example.test\"@evil.test\n",
	    "To: alice@example.test.\n",
	    "To: alice@[example.test]\n",
	    "To: alice@@example.test\n",
	    "To: team: carol@example.test;\n",
	    "Subject: To: alice@example.test\nTo: carol@example.test\n",
	    "X-To: alice@example.test\n",
	    "To: carol@example.test\n (alice@example.test\n",
	    "To: \"unterminated alice@example.test\n",
	};
	for (size_t i = 0; i < sizeof(missed) / sizeof(missed[0]); i++) {
		char h[512];
		snprintf(h, sizeof(h), ORDINARY "%s", missed[i]);
		if (check(h) != VACATION_NOT_ADDRESSED)
			printf("  found: %s", missed[i]);
		test_assert(check(h) == VACATION_NOT_ADDRESSED);
	}
	test_end();
}

static void test_order_and_shapes(void)
{
	test_begin("vacation: LF line ends, a header alone, the first reason found");
	const char *lf = "From: bob@remote.test\nTo: alice@example.test\n\nbody\n";
	size_t idx = 99;
	test_assert(vacation_check(lf, strlen(lf), SENDER, addrs, N_ADDRS, &idx) == VACATION_SEND);
	test_assert(idx == 0);
	const char *only = "To: alice@example.test";
	test_assert(vacation_check(only, strlen(only), SENDER, addrs, N_ADDRS, &idx) ==
		    VACATION_SEND);
	test_assert(vacation_check("", 0, SENDER, addrs, N_ADDRS, &idx) == VACATION_NOT_ADDRESSED);
	test_assert(vacation_check(only, strlen(only), SENDER, addrs, 0, &idx) ==
		    VACATION_NOT_ADDRESSED);
	/* a NUL inside the header is only a byte */
	const char nul[] = "To: carol@example.test\0, alice@example.test\r\n\r\n";
	test_assert(vacation_check(nul, sizeof(nul) - 1, SENDER, addrs, N_ADDRS, &idx) ==
		    VACATION_SEND);
	/* several reasons: the sender first, then the fields */
	test_assert(check_idx("Auto-Submitted: auto-replied\nTo: carol@example.test\n", "", &idx) ==
		    VACATION_NO_SENDER);
	test_assert(check("Precedence: bulk\nAuto-Submitted: auto-generated\nList-Id: <l.x>\n") ==
		    VACATION_AUTO_SUBMITTED);
	test_assert(check("List-Id: <l.x>\nPrecedence: list\n") == VACATION_PRECEDENCE);
	test_assert(check("List-Id: <l.x>\nTo: carol@example.test\n") == VACATION_LIST);
	test_end();
}

static void test_fields_walk(void)
{
	test_begin("mime: every header field in turn, unfolded");
	const char *m = "A: 1\r\nB:\r\n  two\r\n\tlines\r\nA : 3 \r\n\r\nC: body\r\n";
	struct mime_fields it;
	struct slice name;
	struct buf v = {0};
	const char *want[][2] = {{"A", "1"}, {"B", "two\tlines"}, {"A", "3"}};
	size_t k = 0;
	mime_fields_begin(&it, m, strlen(m));
	while (mime_fields_next(&it, &name, &v) && k < 5) {
		test_assert(k < 3 && slice_eq(name, want[k][0]));
		test_assert(k < 3 && strcmp(v.data, want[k][1]) == 0);
		k++;
	}
	test_assert(k == 3);
	mime_fields_begin(&it, "", 0);
	test_assert(!mime_fields_next(&it, &name, &v));
	buf_free(&v);
	test_end();
}

/* --- the reply ------------------------------------------------------------------ */

/* The unfolded value of a reply's field into a static buffer ("" if none). */
static const char *field(const struct buf *reply, const char *name)
{
	static struct buf v;
	if (!mime_header_get(reply->data, reply->len, name, &v))
		buf_clear(&v);
	buf_append_c(&v, '\0');
	v.len--;
	return v.data;
}

static const char *body_of(const struct buf *reply)
{
	const char *b = strstr(reply->data, "\r\n\r\n");
	return b != NULL ? b + 4 : "";
}

/* Every line ends in CRLF and none is longer than max. */
static bool lines_ok(const struct buf *b, size_t max)
{
	size_t run = 0;
	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n') {
			if (i == 0 || b->data[i - 1] != '\r')
				return false;
			run = 0;
			continue;
		}
		if (b->data[i] == '\r' && (i + 1 == b->len || b->data[i + 1] != '\n'))
			return false;
		if (b->data[i] != '\r' && ++run > max)
			return false;
	}
	return b->len >= 2 && b->data[b->len - 1] == '\n';
}

/* RFC 2047 B-encoded words of a Subject value, decoded and joined. */
static void decode_words(const char *v, struct buf *out)
{
	buf_clear(out);
	for (const char *p = v; (p = strstr(p, "=?UTF-8?B?")) != NULL;) {
		p += 10;
		const char *e = strstr(p, "?=");
		if (e == NULL)
			break;
		base64_decode(out, p, (size_t)(e - p));
		p = e + 2;
	}
	buf_append_c(out, '\0');
	out->len--;
}

static void qp_decode(const char *s, struct buf *out)
{
	buf_clear(out);
	for (; *s != '\0'; s++) {
		if (*s == '=' && s[1] == '\r' && s[2] == '\n') {
			s += 2;
		} else if (*s == '=' && s[1] != '\0' && s[2] != '\0') {
			char hex[3] = {s[1], s[2], '\0'};
			buf_append_c(out, (char)strtol(hex, NULL, 16));
			s += 2;
		} else {
			buf_append_c(out, *s);
		}
	}
	buf_append_c(out, '\0');
	out->len--;
}

#define ORIG                                                                                       \
	"From: Bob <bob@remote.test>\r\nTo: alice@example.test\r\nSubject: lunch on Friday\r\n"    \
	"Message-ID: <m2@remote.test>\r\n"

static void build(struct buf *r, const char *subject, const char *text, const char *orig)
{
	buf_clear(r);
	vacation_reply_build(r, "mail.example.test", "al@example.test", "bob@remote.test", subject,
			     text, orig, strlen(orig));
}

static void test_reply_fields(void)
{
	struct buf r = {0}, r2 = {0};

	test_begin("vacation: the reply's fields (§3.1, §5)");
	build(&r, "Out of office", "Away until Monday.\nRegards,\nAlice", ORIG "\r\nhi\r\n");
	test_assert(strncmp(r.data, "From: <al@example.test>\r\n", 25) == 0);
	test_assert_str(field(&r, "To"), "<bob@remote.test>");
	test_assert_str(field(&r, "Subject"), "Out of office");
	test_assert_str(field(&r, "Auto-Submitted"), "auto-replied");
	test_assert_str(field(&r, "In-Reply-To"), "<m2@remote.test>");
	test_assert_str(field(&r, "References"), "<m2@remote.test>");
	test_assert_str(field(&r, "MIME-Version"), "1.0");
	test_assert_str(field(&r, "Content-Type"), "text/plain; charset=utf-8");
	test_assert_str(field(&r, "Content-Transfer-Encoding"), "7bit");
	test_assert(strlen(field(&r, "Date")) > 20 && strstr(field(&r, "Date"), "+0000"));
	test_assert_str(body_of(&r), "Away until Monday.\r\nRegards,\r\nAlice\r\n");
	test_assert(lines_ok(&r, 78));
	/* a Message-ID of its own at the hostname, another one each time */
	char id1[128];
	snprintf(id1, sizeof(id1), "%s", field(&r, "Message-ID"));
	test_assert(id1[0] == '<' && strstr(id1, "@mail.example.test>") != NULL);
	build(&r2, "Out of office", "x", ORIG "\r\n");
	test_assert(strcmp(id1, field(&r2, "Message-ID")) != 0);
	/* the reply is no candidate for a reply itself */
	const char *const me[] = {"bob@remote.test"};
	size_t idx;
	test_assert(vacation_check(r.data, r.len, "al@example.test", me, 1, &idx) ==
		    VACATION_AUTO_SUBMITTED);
	buf_free(&r);
	buf_free(&r2);
	test_end();
}

static void test_reply_subject(void)
{
	struct buf r = {0}, d = {0};

	test_begin("vacation: the reply's subject: Auto: the original's, RFC 2047");
	build(&r, NULL, "x", ORIG "\r\n");
	test_assert_str(field(&r, "Subject"), "Auto: lunch on Friday");
	build(&r, "", "x", ORIG "\r\n");
	test_assert_str(field(&r, "Subject"), "Auto: lunch on Friday");
	build(&r, NULL, "x", "From: bob@remote.test\r\n\r\n");
	test_assert_str(field(&r, "Subject"), "Auto:");
	/* an encoded original stays as it was */
	build(&r, NULL, "x", "Subject: =?ISO-8859-1?Q?caf=E9?=\r\n\r\n");
	test_assert_str(field(&r, "Subject"), "Auto: =?ISO-8859-1?Q?caf=E9?=");
	/* not ASCII: encoded-words of UTF-8 */
	build(&r, "Abwesenheitsnotiz: bin am Strand \xe2\x98\x80", "x", ORIG "\r\n");
	const char *s = field(&r, "Subject");
	test_assert(strncmp(s, "=?UTF-8?B?", 10) == 0);
	decode_words(s, &d);
	test_assert_str(d.data, "Abwesenheitsnotiz: bin am Strand \xe2\x98\x80");
	test_assert(lines_ok(&r, 76));
	/* a long one: several words, no UTF-8 sequence split between two */
	struct buf longs = {0};
	for (int i = 0; i < 60; i++)
		buf_append_str(&longs, "\xc3\xa9t\xc3\xa9 ");
	longs.data[--longs.len] = '\0'; /* white space at the end is dropped */
	build(&r, longs.data, "x", ORIG "\r\n");
	s = field(&r, "Subject");
	decode_words(s, &d);
	test_assert_str(d.data, longs.data);
	test_assert(lines_ok(&r, 76));
	for (const char *p = s; (p = strstr(p, "=?UTF-8?B?")) != NULL; p += 10) {
		struct buf one = {0};
		const char *e = strstr(p + 10, "?=");
		base64_decode(&one, p + 10, (size_t)(e - p - 10));
		test_assert(one.len > 0 && ((unsigned char)one.data[0] & 0xc0) != 0x80);
		buf_free(&one);
	}
	/* a long ASCII one is folded at spaces, unfolding gives it back */
	buf_clear(&longs);
	for (int i = 0; i < 40; i++)
		buf_append_str(&longs, "word ");
	buf_append_str(&longs, "end");
	build(&r, longs.data, "x", ORIG "\r\n");
	test_assert_str(field(&r, "Subject"), longs.data);
	test_assert(lines_ok(&r, 78));
	/* control characters can add no field */
	build(&r, "away\r\nBcc: victim@example.test", "x", ORIG "\r\n");
	test_assert_str(field(&r, "Subject"), "away  Bcc: victim@example.test");
	/* white space at the end could make a fold there an empty line */
	struct buf trail = {0};
	for (int i = 0; i < 20; i++)
		buf_append_str(&trail, "word ");
	buf_append_str(&trail, "\x01  \t");
	build(&r, trail.data, "x", ORIG "\r\n");
	trail.len -= 5;
	trail.data[trail.len] = '\0';
	test_assert_str(field(&r, "Subject"), trail.data);
	test_assert_str(field(&r, "Content-Type"), "text/plain; charset=utf-8");
	buf_free(&trail);
	test_assert_str(field(&r, "Bcc"), "");
	build(&r, NULL, "x", "Subject: a\r\n\tb\r\n\r\n");
	test_assert_str(field(&r, "Subject"), "Auto: a b");
	buf_free(&longs);
	buf_free(&r);
	buf_free(&d);
	test_end();
}

static void test_reply_threading(void)
{
	struct buf r = {0};

	test_begin("vacation: In-Reply-To and References (§3.1.4, RFC 5322 §3.6.4)");
	build(&r, "x", "x",
	      "Message-ID: <c@r.test>\r\nReferences: <a@r.test>\r\n <b@r.test>\r\n"
	      "In-Reply-To: <b@r.test>\r\n\r\n");
	test_assert_str(field(&r, "In-Reply-To"), "<c@r.test>");
	test_assert_str(field(&r, "References"), "<a@r.test> <b@r.test> <c@r.test>");
	/* no References: the parent's one In-Reply-To */
	build(&r, "x", "x", "Message-ID: <c@r.test>\r\nIn-Reply-To: <b@r.test> (Bob's)\r\n\r\n");
	test_assert_str(field(&r, "References"), "<b@r.test> <c@r.test>");
	/* an In-Reply-To of several ids says nothing of the thread */
	build(&r, "x", "x", "Message-ID: <c@r.test>\r\nIn-Reply-To: <a@r.test> <b@r.test>\r\n\r\n");
	test_assert_str(field(&r, "References"), "<c@r.test>");
	/* no Message-ID: no In-Reply-To; the References still carried on */
	build(&r, "x", "x", "References: <a@r.test>\r\n\r\n");
	test_assert_str(field(&r, "In-Reply-To"), "");
	test_assert_str(field(&r, "References"), "<a@r.test>");
	build(&r, "x", "x", "Subject: none\r\n\r\n");
	test_assert(strstr(r.data, "In-Reply-To:") == NULL &&
		    strstr(r.data, "References:") == NULL);
	/* junk instead of an id is left out; comments are no part of it */
	build(&r, "x", "x",
	      "Message-ID: no-brackets@r.test\r\nReferences: junk <a@r.test>\r\n\r\n");
	test_assert_str(field(&r, "In-Reply-To"), "");
	test_assert_str(field(&r, "References"), "<a@r.test>");
	build(&r, "x", "x", "Message-ID: (c) <c@r.test> (d)\r\n\r\n");
	test_assert_str(field(&r, "In-Reply-To"), "<c@r.test>");
	build(&r, "x", "x", "Message-ID: <c@r.test\r\nBcc: x@y.test>\r\n\r\n");
	test_assert_str(field(&r, "In-Reply-To"), "");
	/* a long thread: folded lines, the first and the newest ids kept */
	struct buf m = {0};
	buf_append_str(&m, "Message-ID: <last@r.test>\r\nReferences:");
	for (int i = 0; i < 100; i++)
		buf_printf(&m, " <id%d@r.test>", i);
	buf_append_str(&m, "\r\n\r\n");
	build(&r, "x", "x", m.data);
	const char *refs = field(&r, "References");
	test_assert(strncmp(refs, "<id0@r.test> <id61@r.test>", 26) == 0);
	test_assert(strstr(refs, "<id99@r.test> <last@r.test>") != NULL);
	test_assert(strstr(refs, "<id1@r.test>") == NULL);
	test_assert(lines_ok(&r, 78));
	buf_free(&m);
	buf_free(&r);
	test_end();
}

static void test_reply_body(void)
{
	struct buf r = {0}, d = {0};

	test_begin("vacation: the reply's text: CRLF, quoted-printable when not ASCII");
	build(&r, "x", "one\r\ntwo\rthree\nfour", ORIG "\r\n");
	test_assert_str(body_of(&r), "one\r\ntwo\r\nthree\r\nfour\r\n");
	build(&r, "x", "", ORIG "\r\n");
	test_assert_str(body_of(&r), "");
	build(&r, "x", "Je suis absente jusqu'\xc3\xa0 lundi.\nMerci = thanks \n", ORIG "\r\n");
	test_assert_str(field(&r, "Content-Transfer-Encoding"), "quoted-printable");
	test_assert(strstr(body_of(&r), "jusqu'=C3=A0 lundi.\r\n") != NULL);
	qp_decode(body_of(&r), &d);
	test_assert_str(d.data, "Je suis absente jusqu'\xc3\xa0 lundi.\r\nMerci = thanks \r\n");
	test_assert(lines_ok(&r, 76));
	/* a line longer than SMTP carries is encoded too, and comes back */
	struct buf longl = {0};
	for (int i = 0; i < 1100; i++)
		buf_append_c(&longl, (char)('a' + i % 26));
	build(&r, "x", longl.data, ORIG "\r\n");
	test_assert_str(field(&r, "Content-Transfer-Encoding"), "quoted-printable");
	test_assert(lines_ok(&r, 76));
	qp_decode(body_of(&r), &d);
	buf_append_str(&longl, "\r\n");
	test_assert_str(d.data, longl.data);
	/* a hostname, from or to with a line end adds no field */
	buf_clear(&r);
	vacation_reply_build(&r, "h\r\nX-Evil: 1", "a@b.test\r\nX-Evil: 2", "c@d.test\nX-Evil: 3",
			     "x", "x", "", 0);
	test_assert_str(field(&r, "X-Evil"), "");
	test_assert(lines_ok(&r, 998));
	buf_free(&longl);
	buf_free(&r);
	buf_free(&d);
	test_end();
}

/* --- the store: store_vacation_* -------------------------------------------------- */

/* The once-records of a key made of a literal format (prefix: of every key
   that starts with it), and one recorded as a side effect's once_key is. */
static char key_buf[512];
#define once_n(st, prefix, fmt, ...)                                                               \
	(snprintf(key_buf, sizeof(key_buf), fmt, __VA_ARGS__), test_once(st, key_buf, prefix))
#define once_add(st, fmt, ...)                                                                     \
	(snprintf(key_buf, sizeof(key_buf), fmt, __VA_ARGS__),                                     \
	 store_test_once_add(st, key_buf, 9000000000))

static void test_store_set_get(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_vacation v = {0}, g;

	test_begin("store: an auto-reply set, read back, replaced, by address or alias");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "alice@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "bob@example.test", 0) == STORE_OK);
	test_assert(store_alias_add(st, "al@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "both@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "both@example.test", "bob@example.test") == STORE_OK);
	int64_t id = test_mailbox_id(st, "alice@example.test");

	v.subject = "Away";
	v.body = "Back on Monday.\n";
	v.until = 1900000000;
	v.interval_days = 3;
	test_assert(store_vacation_set(st, "Alice@Example.Test", &v) == STORE_OK);
	test_assert(store_vacation_get(st, "alice@example.test", &g) == STORE_OK);
	test_assert_str(g.subject, "Away");
	test_assert_str(g.body, "Back on Monday.\n");
	test_assert(g.external_subject == NULL && g.external_body == NULL);
	test_assert(g.until == 1900000000 && g.interval_days == 3);
	test_assert(g.created > 1700000000);
	store_vacation_clear(&g);
	/* through the alias, and by id; a new one replaces the old */
	v.external_subject = "Absent";
	v.external_body = "Ask the office.";
	v.until = 0;
	test_assert(store_vacation_set(st, "al@example.test", &v) == STORE_OK);
	test_assert(store_vacation_get_id(st, id, &g) == STORE_OK);
	test_assert_str(g.external_subject, "Absent");
	test_assert_str(g.external_body, "Ask the office.");
	test_assert(g.until == 0);
	store_vacation_clear(&g);
	test_assert(test_census(st)->vacations == 1);

	/* no mailbox, or several: refused with a text that says which */
	test_assert(store_vacation_set(st, "nobody@example.test", &v) == STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "nobody@example.test") != NULL);
	test_assert(store_vacation_set(st, "both@example.test", &v) == STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "2 mailboxes") != NULL);
	test_assert(store_vacation_get(st, "nobody@example.test", &g) == STORE_NOTFOUND);
	test_assert(store_vacation_get(st, "bob@example.test", &g) == STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "no auto-reply") != NULL);
	test_assert(store_vacation_get_id(st, id + 100, &g) == STORE_NOTFOUND);
	/* bad values */
	v.interval_days = 0;
	test_assert(store_vacation_set(st, "bob@example.test", &v) == STORE_INVALID);
	v.interval_days = 366;
	test_assert(store_vacation_set(st, "bob@example.test", &v) == STORE_INVALID);
	v.interval_days = 1;
	v.subject = NULL;
	test_assert(store_vacation_set(st, "bob@example.test", &v) == STORE_INVALID);
	v.subject = "x";
	v.until = -1;
	test_assert(store_vacation_set(st, "bob@example.test", &v) == STORE_INVALID);
	test_assert(test_census(st)->vacations == 1);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

static void test_store_forget(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_vacation v = {.subject = "Away", .body = "x", .interval_days = 7};

	test_begin("store: set and remove forget whom the auto-reply answered");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "alice@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "bob@example.test", 0) == STORE_OK);
	long long a = test_mailbox_id(st, "alice@example.test");
	long long b = test_mailbox_id(st, "bob@example.test");
	for (int i = 0; i < 2; i++) {
		long long id = i == 0 ? a : b;
		test_assert(once_add(st, "vacation:%lld:carol@remote.test", id) == STORE_OK);
		test_assert(once_add(st, "vacation:%lld:dave@remote.test", id) == STORE_OK);
		test_assert(once_add(st, "quota-warn:%lld", id) == STORE_OK);
	}
	test_assert(once_add(st, "vacation:%lld0:x@y.test", a) == STORE_OK);
	test_assert(test_census(st)->once == 7);
	test_assert(store_vacation_set(st, "alice@example.test", &v) == STORE_OK);
	test_assert(once_n(st, true, "vacation:%lld:", a) == 0);
	/* another mailbox's keys, a longer id that starts alike, other kinds stay */
	test_assert(once_n(st, false, "quota-warn:%lld", a) == 1);
	test_assert(test_census(st)->once == 5);

	test_assert(once_add(st, "vacation:%lld:eve@remote.test", a) == STORE_OK);
	test_assert(store_vacation_remove(st, "alice@example.test") == STORE_OK);
	test_assert(once_n(st, true, "vacation:%lld:", a) == 0);
	test_assert(test_census(st)->vacations == 0);
	test_assert(store_vacation_remove(st, "alice@example.test") == STORE_NOTFOUND);
	test_assert(store_vacation_remove(st, "nobody@example.test") == STORE_NOTFOUND);

	/* a mailbox removed with its auto-reply set: both go, and its keys */
	test_assert(store_vacation_set(st, "bob@example.test", &v) == STORE_OK);
	test_assert(once_add(st, "vacation:%lld:eve@remote.test", b) == STORE_OK);
	test_assert(store_user_remove(st, "bob@example.test") == STORE_OK);
	test_assert(test_census(st)->vacations == 0);
	test_assert(once_n(st, true, "vacation:%lld:", b) == 0);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_ordinary, test_no_sender, test_auto_submitted, test_precedence, test_list,
	    test_not_addressed, test_special_senders, test_self, test_address_lists,
	    test_order_and_shapes, test_fields_walk, test_reply_fields, test_reply_subject,
	    test_reply_threading, test_reply_body, test_store_set_get, test_store_forget, NULL});
}
