/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_reply.c - the next hop's reply reader (queue/smtp_reply.h):
 * {input, expected} tables for well-formed and malformed replies, each one
 * fed whole, byte at a time and cut at every offset (the outcome must not
 * depend on the cut), pipelined replies back to back, and the EHLO
 * keyword reader.
 */
#include "queue/smtp_reply.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>

/* The outcome of feeding in[0..len) in chunks of `chunk` octets (0: one
   cut at `cut`): the code, the error, the lines, each line's text joined
   with '|', and how many octets the reply took. */
struct outcome {
	int code;
	enum smtp_reply_error error;
	unsigned lines;
	char texts[8192];
	size_t used;
	bool whole;
};

static void run(const char *in, size_t len, size_t chunk, size_t cut, struct outcome *o)
{
	struct smtp_reply r;
	size_t off = 0;

	memset(o, 0, sizeof(*o));
	smtp_reply_init(&r);
	while (off < len) {
		size_t end = chunk > 0 ? off + chunk : off < cut ? cut : len;
		if (end > len)
			end = len;
		size_t used;
		enum smtp_reply_status st = smtp_reply_feed(&r, in + off, end - off, &used);
		test_assert(used <= end - off);
		off += used;
		if (st == SMTP_REPLY_LINE || st == SMTP_REPLY_DONE) {
			size_t n = strlen(o->texts);
			snprintf(o->texts + n, sizeof(o->texts) - n, "%s%s", r.lines > 1 ? "|" : "",
				 r.text);
			test_assert(strlen(r.text) == r.text_len);
		}
		if (st == SMTP_REPLY_DONE)
			o->whole = true;
		if (st == SMTP_REPLY_DONE || st == SMTP_REPLY_BAD)
			break;
	}
	o->code = r.code;
	o->error = r.error;
	o->lines = r.lines;
	o->used = off;
}

struct reply_case {
	const char *in;
	bool whole;		     /* a complete reply was read */
	int code;		     /* its code (for errors: what the first line said) */
	enum smtp_reply_error error; /* SMTP_REPLY_OK when well-formed */
	const char *texts;	     /* the lines' texts, '|' between */
};

static const struct reply_case cases[] = {
    {"250 OK\r\n", true, 250, SMTP_REPLY_OK, "OK"},
    {"250\r\n", true, 250, SMTP_REPLY_OK, ""},
    {"220 mx.example ESMTP\n", true, 220, SMTP_REPLY_OK, "mx.example ESMTP"},
    {"250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n", true, 250, SMTP_REPLY_OK,
     "mx.example|PIPELINING|8BITMIME"},
    {"250-\r\n250 last\r\n", true, 250, SMTP_REPLY_OK, "|last"},
    {"550 5.1.1 <a@b>: no\tsuch user\r\n", true, 550, SMTP_REPLY_OK, "5.1.1 <a@b>: no\tsuch user"},
    {"250 gr\xc3\xbc\xc3\x9f\r\n", true, 250, SMTP_REPLY_OK, "gr\xc3\xbc\xc3\x9f"},
    {"250 OK\r\n250 again\r\n", true, 250, SMTP_REPLY_OK, "OK"}, /* one reply at a time */
    /* incomplete: no verdict yet */
    {"250-first\r\n250 la", false, 250, SMTP_REPLY_OK, "first"},
    {"25", false, 0, SMTP_REPLY_OK, ""},
    /* malformed */
    {"25\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"abc OK\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"650 OK\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"160 OK\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"260 OK\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"25x OK\r\n", false, 0, SMTP_REPLY_ERR_CODE, ""},
    {"2500 OK\r\n", false, 250, SMTP_REPLY_ERR_SEPARATOR, ""},
    {"250_OK\r\n", false, 250, SMTP_REPLY_ERR_SEPARATOR, ""},
    {"250-one\r\n251 two\r\n", false, 250, SMTP_REPLY_ERR_MIXED, "one"},
    {"250-one\r\n550-two\r\n250 three\r\n", false, 250, SMTP_REPLY_ERR_MIXED, "one"},
    {"250-one\r\n 250 two\r\n", false, 250, SMTP_REPLY_ERR_CODE, "one"},
    {"250-one\r\n\r\n", false, 250, SMTP_REPLY_ERR_CODE, "one"},
    {"250 O\rK\r\n", false, 250, SMTP_REPLY_ERR_CONTROL, ""},
    {"250 O\0K\r\n", false, 250, SMTP_REPLY_ERR_CONTROL, ""},
    {"250 O\x1bK\r\n", false, 250, SMTP_REPLY_ERR_CONTROL, ""},
    {"250 O\x7fK\r\n", false, 250, SMTP_REPLY_ERR_CONTROL, ""},
    {"250\r\r\n", false, 250, SMTP_REPLY_ERR_CONTROL, ""},
};

static size_t case_len(const struct reply_case *c)
{
	/* the NUL case has its length after the NUL */
	return strcmp(c->in, "250 O") == 0 ? 9 : strlen(c->in);
}

static void check(const struct reply_case *c, const struct outcome *o, const char *how)
{
	bool ok = o->whole == c->whole && o->error == c->error && o->code == c->code &&
		  strcmp(o->texts, c->texts) == 0;
	if (!ok)
		fprintf(stderr, "  case %.20s (%s): whole %d code %d error %d texts \"%s\"\n",
			c->in, how, o->whole, o->code, (int)o->error, o->texts);
	test_assert(ok);
}

static void test_reply_table(void)
{
	test_begin("smtp_reply: table, whole and byte at a time");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o;
		size_t len = case_len(&cases[i]);
		run(cases[i].in, len, len, 0, &o);
		check(&cases[i], &o, "whole");
		run(cases[i].in, len, 1, 0, &o);
		check(&cases[i], &o, "bytes");
	}
	test_end();
}

static void test_reply_every_cut(void)
{
	test_begin("smtp_reply: the same outcome at every cut");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = case_len(&cases[i]);
		struct outcome whole, cut;
		run(cases[i].in, len, len, 0, &whole);
		for (size_t k = 1; k < len; k++) {
			run(cases[i].in, len, 0, k, &cut);
			test_assert(cut.code == whole.code && cut.error == whole.error &&
				    cut.lines == whole.lines && cut.used == whole.used &&
				    strcmp(cut.texts, whole.texts) == 0);
		}
	}
	test_end();
}

static void test_reply_pipelined(void)
{
	test_begin("smtp_reply: replies back to back are read one by one");
	const char *in = "250 2.1.0 Ok\r\n250-2.1.5 Ok\r\n250 more\r\n354 go ahead\r\n";
	size_t len = strlen(in), off = 0;
	int codes[4] = {0};
	unsigned n = 0;
	struct smtp_reply r;
	smtp_reply_init(&r);
	while (off < len && n < 4) {
		size_t used;
		enum smtp_reply_status st = smtp_reply_feed(&r, in + off, len - off, &used);
		off += used;
		if (st == SMTP_REPLY_DONE) {
			codes[n++] = r.code;
			smtp_reply_init(&r);
		}
		test_assert(st != SMTP_REPLY_BAD);
	}
	test_assert(n == 3 && codes[0] == 250 && codes[1] == 250 && codes[2] == 354);
	test_assert(off == len);
	/* after DONE the machine takes nothing until it is started again */
	size_t used = 7;
	smtp_reply_init(&r);
	test_assert(smtp_reply_feed(&r, "250 x\r\n", 7, &used) == SMTP_REPLY_DONE && used == 7);
	test_assert(smtp_reply_feed(&r, "250 y\r\n", 7, &used) == SMTP_REPLY_DONE && used == 0);
	test_end();
}

static void test_reply_limits(void)
{
	test_begin("smtp_reply: line length and line count are bounded");
	static char buf[SMTP_REPLY_LINE_MAX + 16];
	struct outcome o;

	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "250 ", 4);
	memcpy(buf + SMTP_REPLY_LINE_MAX, "\r\n", 2); /* exactly the limit */
	run(buf, SMTP_REPLY_LINE_MAX + 2, 0, 0, &o);
	test_assert(o.whole && o.error == SMTP_REPLY_OK &&
		    strlen(o.texts) == SMTP_REPLY_LINE_MAX - 4);
	buf[SMTP_REPLY_LINE_MAX] = 'x'; /* one more octet */
	memcpy(buf + SMTP_REPLY_LINE_MAX + 1, "\r\n", 2);
	run(buf, SMTP_REPLY_LINE_MAX + 3, 1, 0, &o);
	test_assert(!o.whole && o.error == SMTP_REPLY_ERR_LONG_LINE);
	test_assert(o.used == SMTP_REPLY_LINE_MAX + 1); /* stopped at once, not at the line end */
	/* a line that never ends stops at the limit, too */
	memset(buf, '5', 3);
	run(buf, sizeof(buf), 100, 0, &o);
	test_assert(o.error == SMTP_REPLY_ERR_LONG_LINE);

	static char many[(SMTP_REPLY_LINES_MAX + 1) * 6 + 8];
	size_t n = 0;
	for (unsigned i = 0; i + 1 < SMTP_REPLY_LINES_MAX; i++)
		n += (size_t)sprintf(many + n, "250-x\n");
	n += (size_t)sprintf(many + n, "250 x\n");
	run(many, n, 0, 0, &o); /* exactly the limit */
	test_assert(o.whole && o.lines == SMTP_REPLY_LINES_MAX);
	n -= 6;
	n += (size_t)sprintf(many + n, "250-x\n250 x\n");
	run(many, n, 0, 0, &o);
	test_assert(!o.whole && o.error == SMTP_REPLY_ERR_TOO_MANY_LINES);
	test_assert(strcmp(smtp_reply_error_text(SMTP_REPLY_ERR_MIXED),
			   "different reply codes in one reply") == 0);
	test_end();
}

struct ehlo_case {
	const char *lines; /* '\n' between lines */
	struct smtp_ehlo want;
};

static const struct ehlo_case ehlo_cases[] = {
    {"PIPELINING\nSIZE 10240000\n8BITMIME\nSTARTTLS\nDSN\nSMTPUTF8\nAUTH LOGIN PLAIN",
     {.pipelining = true,
      .starttls = true,
      .size = true,
      .eightbit = true,
      .smtputf8 = true,
      .dsn = true,
      .auth_plain = true,
      .size_max = 10240000}},
    {"pipelining\nsize\nauth=PLAIN", {.pipelining = true, .size = true, .auth_plain = true}},
    {"AUTH=LOGIN PLAIN", {.auth_plain = true}},
    {"AUTH LOGIN CRAM-MD5 PLAINX", {0}},
    {"SIZEX 100\nSTARTTLSX\n8BITMIMEX\nXDSN\nPIPELINING2", {0}},
    {"SIZE 12x\nSIZE 99999999999999999999", {.size = true}},
    {"  STARTTLS  \n\n ", {.starttls = true}},
    {"AUTH", {0}},
};

static void test_ehlo_keywords(void)
{
	test_begin("smtp_ehlo_line: keywords whole, parameters");
	for (size_t i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		struct smtp_ehlo e = {0};
		const char *p = ehlo_cases[i].lines;
		for (;;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
			smtp_ehlo_line(&e, p, n);
			if (nl == NULL)
				break;
			p = nl + 1;
		}
		const struct smtp_ehlo *w = &ehlo_cases[i].want;
		bool ok = e.pipelining == w->pipelining && e.starttls == w->starttls &&
			  e.size == w->size && e.eightbit == w->eightbit &&
			  e.smtputf8 == w->smtputf8 && e.dsn == w->dsn &&
			  e.auth_plain == w->auth_plain && e.size_max == w->size_max;
		if (!ok)
			fprintf(stderr, "  ehlo case %zu\n", i);
		test_assert(ok);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_reply_table, test_reply_every_cut,
					   test_reply_pipelined, test_reply_limits,
					   test_ehlo_keywords, NULL});
}
