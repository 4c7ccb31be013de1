/* SPDX-License-Identifier: MIT */
/* test_smtp_parse.c - SMTP command lines, paths and parameters. */
#include "smtp/smtp_parse.h"
#include "test_common.h"

#include <string.h>

static enum smtp_path_error path(const char *arg, bool null_ok, bool utf8, struct smtp_path *p)
{
	return smtp_parse_path(slice_from(arg), null_ok, utf8, p);
}

static void test_commands(void)
{
	struct smtp_command c;
	struct slice line, after;
	size_t used;

	test_begin("smtp: command lines");
	test_assert(smtp_parse_line("EHLO x\r\nMAIL", 12, 512, &line, &used) == 1);
	test_assert(slice_eq(line, "EHLO x") && used == 8);
	test_assert(smtp_parse_line("EHLO x", 6, 512, &line, &used) == 0);
	test_assert(smtp_parse_line("xxxxxxxx", 8, 8, &line, &used) == -1);
	test_assert(smtp_parse_command(slice_from("mail FROM:<a@b.c> SIZE=10"), &c) ==
		    SMTP_PARSE_OK);
	test_assert(slice_eq(c.verb, "mail") && slice_eq(c.rest, "FROM:<a@b.c> SIZE=10"));
	test_assert(smtp_parse_prefix(c.rest, "from:", &after) &&
		    slice_eq(after, "<a@b.c> SIZE=10"));
	test_assert(!smtp_parse_prefix(c.rest, "to:", &after));
	test_assert(smtp_parse_command(slice_from("QUIT "), &c) == SMTP_PARSE_OK &&
		    slice_eq(c.verb, "QUIT"));
	test_assert(smtp_parse_command(slice_from(""), &c) == SMTP_PARSE_EMPTY);
	test_assert(smtp_parse_command((struct slice){"NO\0OP", 5}, &c) == SMTP_PARSE_CTL);
	test_assert(smtp_parse_command(slice_from("DATA\r"), &c) == SMTP_PARSE_CTL);
	test_end();
}

static void test_paths(void)
{
	struct smtp_path p;

	test_begin("smtp: paths");
	test_assert(path("<Alice@Example.TEST>", false, false, &p) == SMTP_PATH_OK);
	test_assert_str(p.address, "Alice@example.test");
	test_assert(p.local_len == 5 && p.flags == 0);
	test_assert(path(" <a@b.test>", false, false, &p) == SMTP_PATH_OK);
	test_assert(path("<>", true, false, &p) == SMTP_PATH_OK && (p.flags & SMTP_PATH_NULL));
	test_assert(path("<>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("a@b.test", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@b.test", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@b.test>x", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<Postmaster>", false, false, &p) == SMTP_PATH_OK &&
		    (p.flags & SMTP_PATH_POSTMASTER));
	test_assert(path("<postmaster>", false, false, &p) == SMTP_PATH_OK);
	test_assert(path("<alice>", false, false, &p) == SMTP_PATH_ESYNTAX);

	/* the relay tricks are parsed and flagged, so policy can refuse them */
	test_assert(path("<a%remote.test@b.test>", false, false, &p) == SMTP_PATH_OK &&
		    (p.flags & SMTP_PATH_ROUTING));
	test_assert(path("<remote.test!a@b.test>", false, false, &p) == SMTP_PATH_OK &&
		    (p.flags & SMTP_PATH_ROUTING));
	test_assert(path("<\"a@remote.test\"@b.test>", false, false, &p) == SMTP_PATH_OK);
	test_assert((p.flags & SMTP_PATH_QUOTED) && (p.flags & SMTP_PATH_ROUTING));
	test_assert_str(p.address, "a@remote.test@b.test");
	test_assert(p.local_len == 13);
	test_assert(path("<@relay.test,@x.test:a@remote.test>", false, false, &p) == SMTP_PATH_OK);
	test_assert((p.flags & SMTP_PATH_ROUTE) && strcmp(p.address, "a@remote.test") == 0);
	test_assert(path("<@:a@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@[192.0.2.1]>", false, false, &p) == SMTP_PATH_OK &&
		    (p.flags & SMTP_PATH_LITERAL));
	test_assert(path("<a@[IPv6:2001:db8::1]>", false, false, &p) == SMTP_PATH_OK);
	test_assert(path("<a@b.test.>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@.b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@b..test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@-b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@b-.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@b_c.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<.a@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a.@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a..b@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a b@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<a@>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<\"\"@b.test>", false, false, &p) == SMTP_PATH_ESYNTAX);
	test_assert(path("<\"a>b\"@b.test>", false, false, &p) == SMTP_PATH_OK);
	test_assert_str(p.address, "a>b@b.test");

	/* limits and 8-bit */
	char big[400];
	memset(big, 'a', sizeof(big));
	big[0] = '<';
	memcpy(big + 66, "@b.test>", 9);
	test_assert(path(big, false, false, &p) == SMTP_PATH_ETOOLONG); /* 65-octet local */
	test_assert(path("<j\xc3\xb6rg@b.test>", false, false, &p) == SMTP_PATH_E8BIT);
	test_assert(path("<j\xc3\xb6rg@b.test>", false, true, &p) == SMTP_PATH_OK &&
		    (p.flags & SMTP_PATH_UTF8));
	test_assert(path("<a@b\xc3\xa9.test>", false, false, &p) == SMTP_PATH_E8BIT);
	test_end();
}

static void test_params(void)
{
	struct smtp_path p;
	uint64_t v;

	test_begin("smtp: ESMTP parameters, numbers, xtext");
	test_assert(path("<a@b.test> SIZE=1000 BODY=8BITMIME SMTPUTF8", false, false, &p) ==
		    SMTP_PATH_OK);
	test_assert(p.n_params == 3);
	test_assert(slice_eq(p.params[0].key, "SIZE") && slice_eq(p.params[0].value, "1000"));
	test_assert(!p.params[2].has_value && slice_eq(p.params[2].key, "SMTPUTF8"));
	test_assert(path("<a@b.test> SIZE=", false, false, &p) == SMTP_PATH_EPARAM);
	test_assert(path("<a@b.test> =x", false, false, &p) == SMTP_PATH_EPARAM);
	test_assert(path("<a@b.test> A=1 B=2 C=3 D=4 E=5 F=6 G=7 H=8 I=9", false, false, &p) ==
		    SMTP_PATH_EPARAM);
	test_assert(smtp_parse_number(slice_from("0"), &v) && v == 0);
	test_assert(smtp_parse_number(slice_from("35882577"), &v) && v == 35882577);
	test_assert(!smtp_parse_number(slice_from("-1"), &v));
	test_assert(!smtp_parse_number(slice_from("1e9"), &v));
	test_assert(!smtp_parse_number(slice_from("99999999999999999999"), &v));
	test_assert(smtp_xtext_valid(slice_from("abc+2Bdef")));
	test_assert(!smtp_xtext_valid(slice_from("abc+2")));
	test_assert(!smtp_xtext_valid(slice_from("a=b")));
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_commands, test_paths, test_params, NULL});
}
