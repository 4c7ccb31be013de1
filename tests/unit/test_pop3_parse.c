/* SPDX-License-Identifier: MIT */
/*
 * test_pop3_parse.c - the POP3 line finder and command parser
 * (pop3/pop3_parse.h) against {input, expected} tables: CRLF and bare LF,
 * partial input, the length limits, NUL and control characters, odd
 * spacing, case-insensitive keywords. Also the mailbox lock set of the
 * service (pop3_private.h), since it is a small pure structure.
 */
#include "pop3/pop3_parse.h"
#include "pop3/pop3_private.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line_case {
	const char *in;
	size_t len; /* 0 = strlen(in) */
	size_t max;
	int ret;
	const char *line; /* expected line when ret == 1 */
	size_t used;
};

static void test_line(void)
{
	static const struct line_case cases[] = {
	    {"STAT\r\n", 0, 255, 1, "STAT", 6},
	    {"STAT\n", 0, 255, 1, "STAT", 5}, /* bare LF accepted */
	    {"STAT\r\nLIST\r\n", 0, 255, 1, "STAT", 6},
	    {"STAT", 0, 255, 0, NULL, 0},
	    {"STAT\r", 0, 255, 0, NULL, 0},
	    {"", 0, 255, 0, NULL, 0},
	    {"\r\n", 0, 255, 1, "", 2},
	    {"\n", 0, 255, 1, "", 1},
	    {"A\rB\r\n", 0, 255, 1, "A\rB", 5}, /* inner CR stays: the checker refuses it */
	    {"\r\r\n", 0, 255, 1, "\r", 3},
	    {"12345678\r\n", 0, 10, 1, "12345678", 10}, /* exactly max */
	    {"123456789\r\n", 0, 10, -1, NULL, 0},	/* one over */
	    {"1234567890", 0, 10, -1, NULL, 0},		/* max octets, no LF */
	    {"123456789", 0, 10, 0, NULL, 0},		/* may still end in time */
	    {"123456789\n", 0, 10, 1, "123456789", 10},
	};
	test_begin("pop3_parse_line table");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct line_case *c = &cases[i];
		struct slice line = {NULL, 0};
		size_t used = 0, len = c->len ? c->len : strlen(c->in);
		int r = pop3_parse_line(c->in, len, c->max, &line, &used);
		test_assert(r == c->ret);
		if (r != c->ret)
			printf("  case %zu: got %d\n", i, r);
		if (r == 1 && c->ret == 1) {
			test_assert(line.len == strlen(c->line) &&
				    memcmp(line.p, c->line, line.len) == 0);
			test_assert(used == c->used);
		}
	}
	struct slice line;
	size_t used;
	test_assert(pop3_parse_line(NULL, 0, 255, &line, &used) == 0);
	test_end();
}

struct cmd_case {
	const char *in;
	size_t len; /* 0 = strlen */
	enum pop3_parse_status st;
	const char *verb;
	const char *rest;
	size_t argc;
	const char *args[3];
};

static bool slice_is(struct slice s, const char *lit)
{
	return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void test_command(void)
{
	static const struct cmd_case cases[] = {
	    {"STAT", 0, POP3_PARSE_OK, "STAT", "", 0, {NULL}},
	    {"stat", 0, POP3_PARSE_OK, "stat", "", 0, {NULL}},
	    {"LIST 1", 0, POP3_PARSE_OK, "LIST", "1", 1, {"1"}},
	    {"TOP 1 10", 0, POP3_PARSE_OK, "TOP", "1 10", 2, {"1", "10"}},
	    {"TOP  1   10 ", 0, POP3_PARSE_OK, "TOP", " 1   10 ", 2, {"1", "10"}},
	    {"LIST ", 0, POP3_PARSE_OK, "LIST", "", 0, {NULL}},
	    {"PASS my secret pw",
	     0,
	     POP3_PARSE_OK,
	     "PASS",
	     "my secret pw",
	     3,
	     {"my", "secret", "pw"}},
	    {"PASS  lead", 0, POP3_PARSE_OK, "PASS", " lead", 1, {"lead"}},
	    {" STAT", 0, POP3_PARSE_OK, "", "STAT", 1, {"STAT"}},
	    {"", 0, POP3_PARSE_EMPTY, NULL, NULL, 0, {NULL}},
	    {"ST\0AT", 5, POP3_PARSE_NUL, NULL, NULL, 0, {NULL}},
	    {"\0", 1, POP3_PARSE_NUL, NULL, NULL, 0, {NULL}},
	    {"USER a\tb", 0, POP3_PARSE_CTL, NULL, NULL, 0, {NULL}},
	    {"USER a\rb", 0, POP3_PARSE_CTL, NULL, NULL, 0, {NULL}},
	    {"USER a\x7f", 0, POP3_PARSE_CTL, NULL, NULL, 0, {NULL}},
	    {"USER \x01\0", 7, POP3_PARSE_NUL, NULL, NULL, 0, {NULL}}, /* NUL wins */
	    {"USER j\xc3\xb6rg", 0, POP3_PARSE_OK, "USER", "j\xc3\xb6rg", 1, {"j\xc3\xb6rg"}},
	    {"A B C D E F", 0, POP3_PARSE_OK, "A", "B C D E F", 5, {"B", "C", "D"}},
	};
	test_begin("pop3_parse_command table");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct cmd_case *c = &cases[i];
		struct pop3_command cmd;
		struct slice line = {c->in, c->len ? c->len : strlen(c->in)};
		enum pop3_parse_status st = pop3_parse_command(line, &cmd);
		test_assert(st == c->st);
		if (st != c->st) {
			printf("  case %zu: status %d\n", i, (int)st);
			continue;
		}
		if (st != POP3_PARSE_OK)
			continue;
		test_assert(slice_is(cmd.verb, c->verb));
		test_assert(slice_is(cmd.rest, c->rest));
		test_assert(cmd.argc == c->argc);
		for (size_t k = 0; k < c->argc && k < 3; k++)
			test_assert(slice_is(cmd.args[k], c->args[k]));
	}
	test_end();
}

static void test_many_args(void)
{
	test_begin("pop3_parse_command: many arguments are counted, not stored");
	char line[POP3_LONG_LINE_MAX];
	size_t n = 0;
	n += (size_t)snprintf(line, sizeof(line), "AUTH");
	while (n + 2 < sizeof(line)) {
		line[n++] = ' ';
		line[n++] = 'x';
	}
	struct pop3_command cmd;
	test_assert(pop3_parse_command((struct slice){line, n}, &cmd) == POP3_PARSE_OK);
	test_assert(cmd.argc > POP3_ARGS_MAX);
	test_assert(slice_is(cmd.args[POP3_ARGS_MAX - 1], "x"));
	test_end();
}

static void test_check(void)
{
	test_begin("pop3_parse_check");
	test_assert(pop3_parse_check(SLICE_LIT("dGVzdA==")) == POP3_PARSE_OK);
	test_assert(pop3_parse_check(SLICE_LIT("*")) == POP3_PARSE_OK);
	test_assert(pop3_parse_check(SLICE_LIT("")) == POP3_PARSE_OK);
	test_assert(pop3_parse_check((struct slice){"a\0b", 3}) == POP3_PARSE_NUL);
	test_assert(pop3_parse_check(SLICE_LIT("a\x1b")) == POP3_PARSE_CTL);
	test_assert(pop3_parse_check(SLICE_LIT("\xff\xfe")) == POP3_PARSE_OK);
	test_end();
}

static void test_lockset(void)
{
	struct pop3_service svc;
	memset(&svc, 0, sizeof(svc));

	test_begin("pop3 mailbox lock set");
	/* grow past several resizes, then remove in an order that exercises
	   backward-shift deletion */
	for (int64_t id = 1; id <= 1000; id++)
		test_assert(pop3_lock_mailbox(&svc, id * 7919));
	test_assert(svc.locks.count == 1000);
	test_assert(!pop3_lock_mailbox(&svc, 7919));
	test_assert(!pop3_lock_mailbox(&svc, 1000 * 7919));
	for (int64_t id = 1; id <= 1000; id += 2)
		pop3_unlock_mailbox(&svc, id * 7919);
	test_assert(svc.locks.count == 500);
	bool ok = true;
	for (int64_t id = 1; id <= 1000; id++) {
		bool locked = !pop3_lock_mailbox(&svc, id * 7919);
		ok &= locked == (id % 2 == 0);
		/* the odd ones were free and are taken now */
	}
	test_assert(ok);
	test_assert(svc.locks.count == 1000);
	for (int64_t id = 1000; id >= 1; id--)
		pop3_unlock_mailbox(&svc, id * 7919);
	test_assert(svc.locks.count == 0);
	for (size_t i = 0; i < svc.locks.cap; i++)
		ok &= svc.locks.slots[i] == 0;
	test_assert(ok);
	free(svc.locks.slots);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_line, test_command, test_many_args, test_check,
					   test_lockset, NULL});
}
