/* SPDX-License-Identifier: MIT */
/*
 * test_imap_search.c - SEARCH programs (imap/imap_search.h): every key
 * against messages made to sit on either side of it, NOT / OR / nesting
 * and the S6 laws over a grid of keys and messages, RETURN and CHARSET,
 * the errors and limits, dates at day edges, header unfolding and encoded
 * words, decoded bodies through the MIME structure, and both result forms.
 * Commands go through the real parser, which is freed before the program
 * is used, so a program that kept a pointer into it would fail under ASan
 * (the copies of the Memory paragraph, S1).
 */
#include "imap/imap_search.h"
#include "mime/mime_tree.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
#define JAN1_2024 1704067200 /* 1-Jan-2024 00:00:00 UTC */

static const struct imap_search_env env1 = {10, 100, false, false, NULL, 0};

/* "a SEARCH <args>\r\n" through the parser, then compiled. -9 when the
   parser refused it. */
static int compile_env(const char *args, const struct imap_search_env *env,
		       struct imap_search **prog_r, const char **err_r)
{
	struct buf line = {0};
	struct imap_parser ps;
	struct imap_command cmd;
	enum imap_parse_result r;
	int ret = -9;

	struct imap_parse_limits lim;
	imap_parse_limits_default(&lim);
	lim.line_max = 1 << 20; /* room for the range limit */
	buf_printf(&line, "a SEARCH %s\r\n", args);
	imap_parser_init(&ps, &lim);
	while ((r = imap_parser_feed(&ps, line.data, line.len, &cmd)) == IMAP_PARSE_LITERAL)
		;
	*prog_r = NULL;
	*err_r = "parse error";
	if (r == IMAP_PARSE_DONE)
		ret = imap_search_compile(cmd.args, env, prog_r, err_r);
	imap_parser_deinit(&ps);
	memset(line.data, 'X', line.len); /* nothing may still point here */
	buf_free(&line);
	return ret;
}

/* 1 or 0 for a match, -1 when the program did not compile. */
static int match_env(const char *args, const struct imap_search_env *env,
		     const struct imap_search_msg *m)
{
	struct imap_search *prog;
	const char *err;

	if (compile_env(args, env, &prog, &err) != 0) {
		printf("  compile \"%s\": %s\n", args, err);
		return -1;
	}
	int r = imap_search_match(prog, m);
	imap_search_free(&prog);
	return r;
}

static int match(const char *args, const struct imap_search_msg *m)
{
	return match_env(args, &env1, m);
}

/* The error text of a program that must not compile. */
static const char *error_of(const char *args, const struct imap_search_env *env, int *code_r)
{
	struct imap_search *prog;
	const char *err = NULL;

	*code_r = compile_env(args, env, &prog, &err);
	if (*code_r == 0) {
		imap_search_free(&prog);
		return "(compiled)";
	}
	test_assert(prog == NULL && err != NULL);
	return err;
}

static struct imap_search_msg text_msg(const char *text)
{
	struct imap_search_msg m = {3,	  30,		0,   NULL, 1000, JAN1_2024 + 3600, 7,
				    text, strlen(text), NULL};
	return m;
}

static const char plain[] = "From: Alice Example <alice@example.org>\r\n"
			    "To: bob@example.net,\r\n"
			    "  carol@example.net\r\n"
			    "Cc: dave@example.com\r\n"
			    "Bcc: eve@example.com\r\n"
			    "Subject: Re: Hi there\r\n"
			    "Date: Mon, 1 Jan 2024 23:30:00 -0800\r\n"
			    "X-Tag: one\r\n"
			    "X-Tag: two\r\n"
			    "\r\n"
			    "Hello Bob,\r\n"
			    "the meeting is at NOON.\r\n";

static void test_flags(void)
{
	struct imap_search_msg m = text_msg(plain);

	test_begin("imap_search: flag keys");
	static const struct {
		const char *set, *unset;
		unsigned flag;
	} f[] = {
	    {"SEEN", "UNSEEN", IMAP_SEARCH_SEEN},
	    {"ANSWERED", "UNANSWERED", IMAP_SEARCH_ANSWERED},
	    {"FLAGGED", "UNFLAGGED", IMAP_SEARCH_FLAGGED},
	    {"DELETED", "UNDELETED", IMAP_SEARCH_DELETED},
	    {"DRAFT", "UNDRAFT", IMAP_SEARCH_DRAFT},
	};
	for (size_t i = 0; i < N_ELEMENTS(f); i++) {
		m.flags = 0;
		test_assert(match(f[i].set, &m) == 0 && match(f[i].unset, &m) == 1);
		m.flags = f[i].flag;
		test_assert(match(f[i].set, &m) == 1 && match(f[i].unset, &m) == 0);
		m.flags = IMAP_SEARCH_SEEN | IMAP_SEARCH_ANSWERED | IMAP_SEARCH_FLAGGED |
			  IMAP_SEARCH_DELETED | IMAP_SEARCH_DRAFT;
		test_assert(match(f[i].set, &m) == 1 && match(f[i].unset, &m) == 0);
		m.flags &= ~f[i].flag;
		test_assert(match(f[i].set, &m) == 0 && match(f[i].unset, &m) == 1);
	}
	m.flags = IMAP_SEARCH_SEEN;
	test_assert(match("ALL", &m) == 1);
	test_assert(match("seen", &m) == 1 && match("UnSeen", &m) == 0 && match("all", &m) == 1);
	test_assert(match("SEEN UNDELETED", &m) == 1 && match("SEEN DELETED", &m) == 0);
	test_end();
}

static void test_recent(void)
{
	struct imap_search_env rev2 = env1;
	struct imap_search_msg m = text_msg(plain);

	test_begin("imap_search: RECENT, NEW, OLD in IMAP4rev1 and IMAP4rev2");
	rev2.rev2 = true;
	static const struct {
		unsigned flags;
		int recent, new_, old;
	} t[] = {
	    {0, 0, 0, 1},
	    {IMAP_SEARCH_RECENT, 1, 1, 0},
	    {IMAP_SEARCH_RECENT | IMAP_SEARCH_SEEN, 1, 0, 0},
	    {IMAP_SEARCH_SEEN, 0, 0, 1},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		m.flags = t[i].flags;
		test_assert(match("RECENT", &m) == t[i].recent);
		test_assert(match("NEW", &m) == t[i].new_);
		test_assert(match("OLD", &m) == t[i].old);
		/* rev2: no \Recent; RECENT and NEW nothing, OLD everything */
		test_assert(match_env("RECENT", &rev2, &m) == 0);
		test_assert(match_env("NEW", &rev2, &m) == 0);
		test_assert(match_env("OLD", &rev2, &m) == 1);
		test_assert(match_env("NOT OLD", &rev2, &m) == 0);
	}
	test_end();
}

static void test_keywords(void)
{
	struct imap_search_msg m = text_msg(plain);
	int code;

	test_begin("imap_search: KEYWORD and UNKEYWORD");
	m.keywords = "$Forwarded  Work $label1";
	test_assert(match("KEYWORD work", &m) == 1 && match("KEYWORD WORK", &m) == 1);
	test_assert(match("KEYWORD $forwarded", &m) == 1 && match("KEYWORD $Label1", &m) == 1);
	test_assert(match("KEYWORD Wor", &m) == 0 && match("KEYWORD Works", &m) == 0);
	test_assert(match("UNKEYWORD work", &m) == 0 && match("UNKEYWORD junk", &m) == 1);
	test_assert(match("KEYWORD 123", &m) == 0); /* a NUMBER is an atom */
	m.keywords = NULL;
	test_assert(match("KEYWORD work", &m) == 0 && match("UNKEYWORD work", &m) == 1);
	m.keywords = "";
	test_assert(match("KEYWORD work", &m) == 0);
	/* system flags where a keyword goes */
	m.flags = IMAP_SEARCH_FLAGGED;
	test_assert(match("KEYWORD \\Flagged", &m) == 1 && match("KEYWORD \\seen", &m) == 0);
	test_assert(match("UNKEYWORD \\Flagged", &m) == 0 && match("UNKEYWORD \\Seen", &m) == 1);
	test_assert_str(error_of("KEYWORD \\Junk", &env1, &code), "Invalid keyword");
	test_assert_str(error_of("KEYWORD \"work\"", &env1, &code), "Invalid keyword");
	test_assert_str(error_of("KEYWORD", &env1, &code), "Missing argument to search key");
	test_assert(code == -1);
	test_end();
}

static void test_sizes(void)
{
	struct imap_search_msg m = text_msg(plain);
	int code;

	test_begin("imap_search: LARGER and SMALLER");
	m.size = 1000;
	test_assert(match("LARGER 999", &m) == 1 && match("LARGER 1000", &m) == 0);
	test_assert(match("SMALLER 1001", &m) == 1 && match("SMALLER 1000", &m) == 0);
	test_assert(match("LARGER 0", &m) == 1 && match("SMALLER 0", &m) == 0);
	m.size = UINT64_MAX;
	test_assert(match("LARGER 9223372036854775807", &m) == 1);
	test_assert_str(error_of("LARGER 9223372036854775808", &env1, &code), "Invalid number");
	test_assert_str(error_of("LARGER -1", &env1, &code), "Invalid number");
	test_assert_str(error_of("SMALLER \"10\"", &env1, &code), "Invalid number");
	test_assert_str(error_of("SMALLER", &env1, &code), "Missing argument to search key");
	test_end();
}

static void test_sets(void)
{
	struct imap_search_msg m = text_msg(plain);
	struct imap_search_env env = env1, small = env1, res = env1;
	static const uint32_t saved[] = {40, 7, 30, 31, 7};
	int code;

	test_begin("imap_search: sequence sets, UID sets, $");
	m.seq = 3;
	m.uid = 30;
	test_assert(match("3", &m) == 1 && match("2", &m) == 0 && match("1:5", &m) == 1);
	test_assert(match("1,3", &m) == 1 && match("5:1", &m) == 1 && match("4:*", &m) == 0);
	test_assert(match("*", &m) == 0 && match("1:*", &m) == 1 && match("3:3,9", &m) == 1);
	test_assert(match("UID 30", &m) == 1 && match("UID 29,31:*", &m) == 0);
	test_assert(match("UID 1:*", &m) == 1 && match("uid 30:20", &m) == 1);
	/* "*" with 3 messages: "5:*" is 3:5, "*" is 3 */
	small.messages = 3;
	small.uid_max = 30;
	test_assert(match_env("5:*", &small, &m) == 1 && match_env("*", &small, &m) == 1);
	test_assert(match_env("UID *", &small, &m) == 1 && match_env("UID 99:*", &small, &m) == 1);
	test_assert(match_env("UID 31:99", &small, &m) == 0);
	/* beyond the folder: nothing, no error */
	test_assert(match_env("4:9", &small, &m) == 0);
	env.messages = 0;
	env.uid_max = 0;
	test_assert(match_env("*", &env, &m) == 0 && match_env("UID *", &env, &m) == 0);
	/* ranges merged and searched */
	test_assert(match("1,2,4:6,8,1:2,5", &m) == 0 && match("1,2,4:6,8,2:3", &m) == 1);
	m.seq = UINT32_MAX;
	test_assert(match("4294967295", &m) == 1 && match("1:4294967294", &m) == 0);
	test_assert(match("1:4294967294,4294967295", &m) == 1);
	m.seq = 3;
	/* $ */
	test_assert_str(error_of("$", &env1, &code), "$ (SEARCHRES) is not enabled");
	test_assert_str(error_of("UID $", &env1, &code), "$ (SEARCHRES) is not enabled");
	res.searchres = true;
	test_assert(match_env("$", &res, &m) == 0);
	res.saved = saved;
	res.n_saved = N_ELEMENTS(saved);
	test_assert(match_env("$", &res, &m) == 1 && match_env("UID $", &res, &m) == 1);
	test_assert(match_env("NOT $ $ UID $", &res, &m) == 0);
	m.uid = 41;
	test_assert(match_env("$", &res, &m) == 0 && match_env("OR $ 3", &res, &m) == 1);
	m.uid = 7;
	test_assert(match_env("$", &res, &m) == 1);
	/* bad sets */
	test_assert_str(error_of("1:", &env1, &code), "Invalid sequence set");
	test_assert_str(error_of("0", &env1, &code), "Invalid sequence set");
	test_assert_str(error_of("1,$", &res, &code), "Invalid sequence set");
	test_assert_str(error_of("UID", &env1, &code), "Missing argument to search key");
	test_assert_str(error_of("UID (1)", &env1, &code), "Invalid sequence set");
	test_assert_str(error_of("UID abc", &env1, &code), "Invalid sequence set");
	test_end();
}

static void test_dates(void)
{
	struct imap_search_msg m = text_msg(plain);
	int code;

	test_begin("imap_search: BEFORE, ON, SINCE at day edges (UTC)");
	static const struct {
		int64_t t;
		int before, on, since; /* against 1-Jan-2024 */
	} t[] = {
	    {JAN1_2024, 0, 1, 1},
	    {JAN1_2024 - 1, 1, 0, 0},
	    {JAN1_2024 + DAY - 1, 0, 1, 1},
	    {JAN1_2024 + DAY, 0, 0, 1},
	    {0, 1, 0, 0},
	    {-1, 1, 0, 0},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		m.internaldate = t[i].t;
		test_assert(match("BEFORE 1-Jan-2024", &m) == t[i].before);
		test_assert(match("ON 1-Jan-2024", &m) == t[i].on);
		test_assert(match("SINCE 1-Jan-2024", &m) == t[i].since);
	}
	m.internaldate = -1;
	test_assert(match("ON 31-Dec-1969", &m) == 1 && match("SINCE 31-Dec-1969", &m) == 1);
	m.internaldate = -DAY;
	test_assert(match("ON 31-Dec-1969", &m) == 1);
	m.internaldate = -DAY - 1;
	test_assert(match("BEFORE 31-Dec-1969", &m) == 1 && match("ON 30-Dec-1969", &m) == 1);
	m.internaldate = JAN1_2024 + 12 * 3600;
	test_assert(match("ON \"01-jan-2024\"", &m) == 1 && match("since 2-Jan-2024", &m) == 0);
	test_assert(match("ON 29-Feb-2024", &m) == 0);
	test_assert_str(error_of("ON 29-Feb-2023", &env1, &code), "Invalid date");
	test_assert_str(error_of("SINCE 2024-01-01", &env1, &code), "Invalid date");
	test_assert_str(error_of("BEFORE", &env1, &code), "Missing argument to search key");
	test_assert_str(error_of("SENTON 1-Jan-24", &env1, &code), "Invalid date");
	test_end();
}

static void test_sent_dates(void)
{
	test_begin("imap_search: SENT* against the Date: field's own day");
	static const struct {
		const char *date;      /* NULL: no Date: field */
		int before, on, since; /* against 2-Jan-2024 */
	} t[] = {
	    {"Tue, 2 Jan 2024 10:00:00 +0000", 0, 1, 1},
	    {"Mon, 1 Jan 2024 23:30:00 -0800", 1, 0, 0}, /* Jan 2 in UTC: its own day */
	    {"Wed, 3 Jan 2024 00:30:00 +1400", 0, 0, 1},
	    {"2 Jan 2024 10:00 GMT", 0, 1, 1},
	    {"02 JAN 2024 10:00:59 EST", 0, 1, 1},
	    {"Tue , 2 Jan 2024 10:00:00 (no zone)", 0, 1, 1},
	    {"Tue, 2 (the second) Jan 2024 10:00:00 +0100 (CET)", 0, 1, 1},
	    {"Tue, 2 Jan 24 10:00:00 +0000", 0, 1, 1},	/* obsolete year */
	    {"Sat, 2 Jan 99 10:00:00 +0000", 1, 0, 0},	/* 1999 */
	    {"Sat, 2 Jan 124 10:00:00 +0000", 0, 1, 1}, /* 1900 + 124 */
	    {"Tue, 2 Jan 2024 10:00:00 Z", 0, 1, 1},
	    {"Tue, 2 Jan 2024 10:00:60 +0000", 0, 1, 1},
	    /* none of these parse, so no SENT* matches */
	    {NULL, 0, 0, 0},
	    {"", 0, 0, 0},
	    {"yesterday", 0, 0, 0},
	    {"Tue, 32 Jan 2024 10:00:00 +0000", 0, 0, 0},
	    {"Thu, 29 Feb 2023 10:00:00 +0000", 0, 0, 0},
	    {"Tue, 2 Jan 2024", 0, 0, 0},
	    {"Tue, 2 Jan 2024 24:00:00 +0000", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:60:00 +0000", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 +0060", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 +000", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 CEST", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 J", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 +0000 junk", 0, 0, 0},
	    {"Tue 2 Jan 2024 10:00:00 +0000", 0, 0, 0},
	    {"Tuesday, 2 Jan 2024 10:00:00 +0000", 0, 0, 0},
	    {"Tue, 2 January 2024 10:00:00 +0000", 0, 0, 0},
	    {"Tue, 2 Jan 20245 10:00:00 +0000", 0, 0, 0},
	    {"Tue, 2 Jan 2 10:00:00 +0000", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 +0000 (open", 0, 0, 0},
	    {"Tue, 2 Jan 2024 10:00:00 +0000 ((a) b\\) c)", 0, 1, 1},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		struct buf b = {0};
		if (t[i].date != NULL)
			buf_printf(&b, "Subject: x\r\nDate: %s\r\n\r\nbody\r\n", t[i].date);
		else
			buf_append_str(&b, "Subject: x\r\n\r\nbody\r\n");
		struct imap_search_msg m = text_msg(b.data);
		int before = match("SENTBEFORE 2-Jan-2024", &m),
		    on = match("SENTON 2-Jan-2024", &m), since = match("SENTSINCE 2-Jan-2024", &m);
		test_assert(before == t[i].before && on == t[i].on && since == t[i].since);
		if (before != t[i].before || on != t[i].on || since != t[i].since)
			printf("  Date: %s -> %d %d %d\n", t[i].date ? t[i].date : "(none)", before,
			       on, since);
		/* unparsable: the key fails, so NOT matches */
		if (t[i].before + t[i].on + t[i].since == 0)
			test_assert(match("NOT SENTON 2-Jan-2024", &m) == 1);
		buf_free(&b);
	}
	/* the first Date: field counts */
	struct imap_search_msg m = text_msg("Date: 5 Jan 2024 10:00 +0000\r\n"
					    "Date: 2 Jan 2024 10:00 +0000\r\n\r\n");
	test_assert(match("SENTON 5-Jan-2024", &m) == 1 && match("SENTON 2-Jan-2024", &m) == 0);
	/* folded */
	m = text_msg("Date: Tue,\r\n 2 Jan 2024\r\n\t10:00:00 +0000\r\n\r\n");
	test_assert(match("SENTON 2-Jan-2024", &m) == 1);
	test_end();
}

static void test_headers(void)
{
	struct imap_search_msg m = text_msg(plain);

	test_begin("imap_search: HEADER and its shortcuts, unfolded, case-folded");
	test_assert(match("FROM alice", &m) == 1 && match("FROM ALICE@EXAMPLE", &m) == 1);
	test_assert(match("FROM \"Alice Example <alice\"", &m) == 1);
	test_assert(match("FROM bob", &m) == 0);
	/* unfolded: the line end goes, the white space stays */
	test_assert(match("TO \"example.net,  carol\"", &m) == 1);
	test_assert(match("TO carol", &m) == 1 && match("TO {5}\r\nnet,\r", &m) == 0);
	test_assert(match("CC dave", &m) == 1 && match("BCC eve", &m) == 1);
	test_assert(match("CC eve", &m) == 0 && match("BCC dave", &m) == 0);
	test_assert(match("SUBJECT \"re: hi\"", &m) == 1 && match("SUBJECT there", &m) == 1);
	test_assert(match("SUBJECT \"re:  hi\"", &m) == 0);
	/* every occurrence of a field */
	test_assert(match("HEADER X-Tag one", &m) == 1 && match("HEADER x-tag TWO", &m) == 1);
	test_assert(match("HEADER X-Tag three", &m) == 0);
	/* "" matches when the field is there */
	test_assert(match("HEADER X-Tag \"\"", &m) == 1 && match("HEADER X-Other \"\"", &m) == 0);
	test_assert(match("SUBJECT \"\"", &m) == 1);
	/* value without leading white space; name is the whole name */
	test_assert(match("HEADER Subject \" Re\"", &m) == 0);
	test_assert(match("HEADER Subj Re", &m) == 0 &&
		    match("HEADER \"X-Tag\" {3}\r\none", &m) == 1);
	/* not in the body, nor in another field */
	test_assert(match("SUBJECT bob", &m) == 0 && match("HEADER To alice", &m) == 0);
	/* the header ends at the empty line */
	struct imap_search_msg m2 = text_msg("Subject: a\r\n\r\nX-Tag: body\r\n");
	test_assert(match("HEADER X-Tag body", &m2) == 0 &&
		    match("BODY \"x-tag: body\"", &m2) == 1);
	/* bare LF line ends are read too */
	m2 = text_msg("Subject: one\n two\nFrom: z\n\nbody\n");
	test_assert(match("SUBJECT \"one two\"", &m2) == 1 && match("FROM z", &m2) == 1);
	test_end();
}

static void test_encoded_words(void)
{
	test_begin("imap_search: RFC 2047 encoded words and non-ASCII");
	struct imap_search_msg m =
	    text_msg("Subject: =?UTF-8?B?SMOpbGxv?= =?utf-8?q?w=C3=B6rld_again?= plain\r\n"
		     "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\n"
		     "To: =?utf-8*en?Q?Z=C3=BC?=rich\r\n"
		     "Cc: =?bogus =?x-unknown?Q?caf=E9?=\r\n"
		     "X-Broken: =?UTF-8?X?abc?= =?UTF-8?B?\r\n"
		     "\r\nbody\r\n");
	/* B and Q; white space between two words goes */
	test_assert(match("CHARSET UTF-8 SUBJECT \"h\xc3\xa9llo\"", &m) == 1);
	test_assert(match("CHARSET UTF-8 SUBJECT \"H\xc3\xa9LLOw\xc3\xb6rld again plain\"", &m) ==
		    1);
	test_assert(match("SUBJECT =?UTF-8?B?", &m) == 0);
	/* latin1 becomes UTF-8 */
	test_assert(match("FROM \"andr\xc3\xa9 <\"", &m) == 1);
	/* language suffix; a word glued to text */
	test_assert(match("TO \"z\xc3\xbcrich\"", &m) == 1);
	/* unknown charset: octets as they are, ASCII still found */
	test_assert(match("CC caf", &m) == 1 && match("CC \"=?bogus\"", &m) == 1);
	/* non-ASCII compared byte for byte: no folding of "É" */
	test_assert(match("CHARSET UTF-8 SUBJECT \"H\xc3\x89llo\"", &m) == 0);
	/* broken words stay as written */
	test_assert(match("HEADER X-Broken \"=?utf-8?x?abc?=\"", &m) == 1);
	test_assert(match("HEADER X-Broken \"=?UTF-8?B?\"", &m) == 1);
	/* raw UTF-8 headers (RFC 6532) as they are */
	m = text_msg("Subject: Gr\303\274\303\237e\r\n\r\n");
	test_assert(match("SUBJECT \"gr\xc3\xbc\xc3\x9f\"", &m) == 1);
	test_end();
}

static const char multipart[] = "From: a@example.org\r\n"
				"Subject: parts\r\n"
				"MIME-Version: 1.0\r\n"
				"Content-Type: multipart/mixed; boundary=\"=-outer\"\r\n"
				"\r\n"
				"This is the preamble with SECRETPREAMBLE.\r\n"
				"--=-outer\r\n"
				"Content-Type: multipart/alternative; boundary=inner\r\n"
				"\r\n"
				"--inner\r\n"
				"Content-Type: text/plain; charset=utf-8\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n"
				"\r\n"
				"Caf=C3=A9 au lait, a soft=\r\n"
				"break, and =3D sign.\r\n"
				"--inner\r\n"
				"Content-Type: text/html; charset=\"ISO-8859-1\"\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"PGI+Q2Fm6TwvYj4gaW4g\r\n"
				"SFRNTA==\r\n"
				"--inner--\r\n"
				"inner epilogue SECRETINNER\r\n"
				"--=-outer\r\n"
				"Content-Type: image/png\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"aW1hZ2VieXRlcw==\r\n"
				"--=-outer\r\n"
				"Content-Type: application/x-notes\r\n"
				"\r\n"
				"plain notes attached\r\n"
				"--=-outer\r\n"
				"Content-Type: message/rfc822\r\n"
				"\r\n"
				"Subject: inner message\r\n"
				"Content-Type: text/plain\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"ZW5jbG9zZWQgdGV4dA==\r\n"
				"--=-outer--\r\n"
				"Epilogue SECRETEPILOGUE\r\n";

static void test_body(void)
{
	struct imap_search_msg m = text_msg(plain);

	test_begin("imap_search: BODY and TEXT, decoded through the MIME structure");
	test_assert(match("BODY noon", &m) == 1 &&
		    match("BODY {15}\r\nhello bob,\r\nthe", &m) == 1);
	test_assert(match("BODY alice", &m) == 0 && match("TEXT alice", &m) == 1);
	test_assert(match("TEXT noon", &m) == 1 && match("TEXT \"subject: re: hi\"", &m) == 1);
	test_assert(match("TEXT nowhere", &m) == 0 && match("BODY \"\"", &m) == 1);

	m = text_msg(multipart);
	/* quoted-printable: hex, soft breaks */
	test_assert(match("BODY \"caf\xc3\xa9 au lait\"", &m) == 1);
	test_assert(match("BODY \"softbreak, and = sign\"", &m) == 1);
	test_assert(match("BODY \"=3D\"", &m) == 0 && match("BODY =C3", &m) == 0);
	/* base64 text/html in latin1 */
	test_assert(match("BODY \"<b>caf\xc3\xa9</b> in html\"", &m) == 1);
	/* an encoded image is not searched, a plain attachment is */
	test_assert(match("BODY imagebytes", &m) == 0 && match("BODY aW1hZ2", &m) == 0);
	test_assert(match("BODY \"plain notes\"", &m) == 1);
	/* message/rfc822: its header as it is, its body decoded */
	test_assert(match("BODY \"subject: inner message\"", &m) == 1);
	test_assert(match("BODY \"enclosed text\"", &m) == 1);
	test_assert(match("SUBJECT inner", &m) == 0);
	/* preamble, epilogues and boundaries are not text */
	test_assert(match("BODY secretpreamble", &m) == 0 && match("BODY secretinner", &m) == 0);
	test_assert(match("BODY secretepilogue", &m) == 0 && match("BODY =-outer", &m) == 0);
	/* no needle spans two parts */
	test_assert(match("BODY \"sign.plain\"", &m) == 0);
	/* TEXT: the header too */
	test_assert(match("TEXT \"boundary=\"", &m) == 1 && match("TEXT enclosed", &m) == 1);

	/* a top-level QP body; latin1 charset */
	m = text_msg("Content-Type: text/plain; charset=iso-8859-1\r\n"
		     "Content-Transfer-Encoding: Quoted-Printable\r\n\r\n"
		     "na=EFve =\r\nfa=E7ade=\r\n");
	test_assert(match("BODY \"na\xc3\xafve fa\xc3\xa7\"", &m) == 1);
	/* 8bit latin1, not encoded */
	m = text_msg("Content-Type: text/plain; charset=latin1\r\n\r\nna\xefve\r\n");
	test_assert(match("BODY \"na\xc3\xafve\"", &m) == 1);
	/* base64 with junk and several groups */
	m = text_msg("Content-Transfer-Encoding: base64\r\n\r\naGVs\r\n bG8=IHdv\ncmxk\r\n");
	test_assert(match("BODY \"hello world\"", &m) == 1);
	/* no Content-Type: text/plain; a multipart without its delimiters */
	m = text_msg("Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts here\r\n");
	test_assert(match("BODY \"no parts\"", &m) == 1);
	/* no closing delimiter: the last part runs to the end */
	m = text_msg("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nlast part\r\n");
	test_assert(match("BODY \"last part\"", &m) == 1);
	/* delimiters match on their prefix, as in the MIME tree (and Dovecot):
	   "--zzz" is one of "zz"; the text after it is the next part */
	m = text_msg("Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\nA\r\n--zzz\r\n"
		     "\r\nB\r\n--zz--  \r\nC\r\n");
	test_assert(match("BODY a", &m) == 1 && match("BODY b", &m) == 1);
	test_assert(match("BODY --zzz", &m) == 0 && match("BODY c", &m) == 0);
	/* RFC 2231 pieces of a boundary are joined */
	m = text_msg("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary*0=\"od\";\r\n"
		     " boundary*1=\"d-one\"\r\n\r\n--odd-one\r\nContent-Disposition: attachment\r\n"
		     "\r\npart text\r\n--odd-one--\r\n");
	test_assert(match("BODY \"part text\"", &m) == 1 && match("BODY attachment", &m) == 0);
	test_assert(match("BODY odd-one", &m) == 0 && match("TEXT attachment", &m) == 0);
	/* no MIME-Version, no Content-Type: the transfer encoding is undone all
	   the same */
	m = text_msg(
	    "Subject: z\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nqp=3Dyes\r\n");
	test_assert(match("BODY qp=yes", &m) == 1 && match("BODY qp=3d", &m) == 0);
	/* multipart/digest: parts are message/rfc822 by default */
	m = text_msg("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\n"
		     "Subject: digested\r\nContent-Transfer-Encoding: base64\r\n\r\nZGVlcA==\r\n"
		     "--d--\r\n");
	test_assert(match("BODY deep", &m) == 1 && match("BODY digested", &m) == 1);
	/* no empty line: all of it is header (the tree's reading, Dovecot's),
	   and there is no body; an empty message */
	m = text_msg("just a body line\r\n");
	test_assert(match("BODY \"just a\"", &m) == 0 && match("TEXT just", &m) == 1);
	m = text_msg("\r\njust a body line\r\n");
	test_assert(match("BODY \"just a\"", &m) == 1);
	m = text_msg("");
	test_assert(match("BODY x", &m) == 0 && match("BODY \"\"", &m) == 1);
	test_assert(match("HEADER subject \"\"", &m) == 0);
	test_end();
}

/* The caller's tree (the store's cached one) is what BODY walks; one made
   from other bytes is not used, and the text is parsed instead. */
static void test_given_tree(void)
{
	static const char a[] = "Content-Type: multipart/mixed; boundary=q\r\n\r\n"
				"--q\r\nX-Part: hidden\r\n\r\nshown\r\n--q--\r\n";
	static const char b[] = "Subject: other\r\n\r\nX-Part: hidden\r\n";

	test_begin("imap_search: BODY walks the tree it is given");
	struct mime_tree *t = mime_tree_parse(a, strlen(a));
	struct buf blob = {0};
	mime_tree_serialize(t, &blob);
	struct mime_tree *t2 = NULL;
	const char *err;
	test_assert(mime_tree_deserialize(blob.data, blob.len, &t2, &err) == 0);
	struct imap_search_msg m = text_msg(a);
	m.tree = t2;
	test_assert(match("BODY shown", &m) == 1 && match("BODY hidden", &m) == 0);
	test_assert(match("TEXT hidden", &m) == 0 && match("TEXT boundary", &m) == 1);
	/* a tree of other bytes (its size differs) is ignored */
	m = text_msg(b);
	m.tree = t;
	test_assert(match("BODY hidden", &m) == 1 && match("BODY shown", &m) == 0);
	mime_tree_free(&t);
	mime_tree_free(&t2);
	buf_free(&blob);
	test_end();
}

/* The header is read as the MIME tree reads it: to the first empty line,
   over lines that are no field. */
static void test_header_reading(void)
{
	test_begin("imap_search: the header to its empty line");
	struct imap_search_msg m = text_msg("\xff\xfe: \x01\r\n\t(((\r\nno colon here\r\n"
					    "Subject: after\r\n folded\r\n\r\nbody\r\n");
	test_assert(match("SUBJECT \"after folded\"", &m) == 1);
	test_assert(match("TEXT \"no colon\"", &m) == 1 && match("BODY colon", &m) == 0);
	test_assert(match("BODY body", &m) == 1 && match("BODY after", &m) == 0);
	test_end();
}

/* Multiparts nested deeper than IMAP_SEARCH_MIME_DEPTH: the rest is
   searched as it is, and nothing breaks. */
static void test_deep_mime(void)
{
	struct buf b = {0};

	test_begin("imap_search: MIME deeper than the walk");
	for (int i = 0; i < IMAP_SEARCH_MIME_DEPTH + 4; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i,
			   i);
	buf_append_str(&b, "Content-Transfer-Encoding: base64\r\n\r\naGlkZGVu\r\n");
	struct imap_search_msg m = text_msg(b.data);
	test_assert(match("BODY aGlkZGVu", &m) == 1 && match("BODY hidden", &m) == 0);
	test_assert(match("BODY \"--b19\"", &m) == 1);
	buf_free(&b);
	test_end();
}

static void test_logic(void)
{
	static const char *const keys[] = {
	    "SEEN",   "FLAGGED", "FROM alice",	 "BODY noon",	      "LARGER 500",
	    "UID 30", "2:4",	 "SUBJECT nope", "SENTON 1-Jan-2024", "KEYWORD work"};
	struct imap_search_msg msgs[4];
	char q[256];

	test_begin("imap_search: NOT, OR, lists (S6)");
	msgs[0] = text_msg(plain);
	msgs[1] = text_msg(multipart);
	msgs[1].flags = IMAP_SEARCH_SEEN;
	msgs[1].seq = 1;
	msgs[2] = text_msg("Subject: nope\r\n\r\nnoon\r\n");
	msgs[2].flags = IMAP_SEARCH_FLAGGED;
	msgs[2].size = 10;
	msgs[2].keywords = "work";
	msgs[3] = text_msg(plain);
	msgs[3].uid = 31;
	msgs[3].seq = 9;
	for (size_t mi = 0; mi < N_ELEMENTS(msgs); mi++) {
		const struct imap_search_msg *m = &msgs[mi];
		for (size_t a = 0; a < N_ELEMENTS(keys); a++) {
			int va = match(keys[a], m);
			test_assert(va == 0 || va == 1);
			snprintf(q, sizeof(q), "NOT %s", keys[a]);
			test_assert(match(q, m) == !va);
			snprintf(q, sizeof(q), "NOT NOT (%s)", keys[a]);
			test_assert(match(q, m) == va);
			for (size_t b = 0; b < N_ELEMENTS(keys); b++) {
				int vb = match(keys[b], m);
				snprintf(q, sizeof(q), "OR %s %s", keys[a], keys[b]);
				test_assert(match(q, m) == (va || vb));
				snprintf(q, sizeof(q), "%s %s", keys[a], keys[b]);
				test_assert(match(q, m) == (va && vb));
				snprintf(q, sizeof(q), "(%s (%s))", keys[a], keys[b]);
				test_assert(match(q, m) == (va && vb));
				snprintf(q, sizeof(q), "NOT OR %s %s", keys[a], keys[b]);
				test_assert(match(q, m) == !(va || vb));
			}
		}
	}
	/* client-style searches */
	test_assert(match("OR FROM alice SUBJECT \"re: hi\" NOT SEEN", &msgs[0]) == 1);
	test_assert(match("OR OR OR SUBJECT x FROM x TO x CC x", &msgs[0]) == 1);
	test_assert(match("OR (FROM alice SEEN) (BODY noon)", &msgs[0]) == 1);
	test_assert(match("OR (FROM alice SEEN) (BODY nothing)", &msgs[0]) == 0);
	test_assert(match("NOT (UNSEEN SUBJECT hi)", &msgs[0]) == 0);
	test_end();
}

static void test_prefix(void)
{
	struct imap_search *prog;
	struct imap_search_env res = env1;
	const char *err;
	int code;

	test_begin("imap_search: RETURN and CHARSET");
	res.searchres = true;
	test_assert(compile_env("ALL", &env1, &prog, &err) == 0);
	test_assert(imap_search_return(prog) == 0);
	imap_search_free(&prog);
	test_assert(prog == NULL);
	imap_search_free(&prog); /* NULL is fine */
	test_assert(compile_env("RETURN (MIN max Count) ALL", &env1, &prog, &err) == 0);
	test_assert(imap_search_return(prog) == (IMAP_SEARCH_RET_GIVEN | IMAP_SEARCH_RET_MIN |
						 IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_COUNT));
	imap_search_free(&prog);
	test_assert(compile_env("RETURN () 1:*", &env1, &prog, &err) == 0);
	test_assert(imap_search_return(prog) == (IMAP_SEARCH_RET_GIVEN | IMAP_SEARCH_RET_ALL));
	imap_search_free(&prog);
	test_assert(compile_env("return (ALL SAVE) CHARSET utf-8 SEEN", &res, &prog, &err) == 0);
	test_assert(imap_search_return(prog) ==
		    (IMAP_SEARCH_RET_GIVEN | IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_SAVE));
	imap_search_free(&prog);
	test_assert(compile_env("CHARSET \"us-ascii\" SEEN", &env1, &prog, &err) == 0);
	imap_search_free(&prog);
	test_assert(compile_env("CHARSET UTF-8 TEXT {6+}\r\nh\xc3\xa9llo", &env1, &prog, &err) ==
		    0);
	struct imap_search_msg m = text_msg("Subject: H\xc3\xa9llo!\r\n\r\n");
	test_assert(imap_search_match(prog, &m));
	imap_search_free(&prog);

	test_assert_str(error_of("CHARSET ISO-8859-1 SEEN", &env1, &code), "Unsupported charset");
	test_assert(code == IMAP_SEARCH_BADCHARSET);
	test_assert_str(error_of("CHARSET UTF8 SEEN", &env1, &code), "Unsupported charset");
	test_assert(code == IMAP_SEARCH_BADCHARSET);
	test_assert_str(error_of("CHARSET", &env1, &code), "Missing charset");
	test_assert(code == -1);
	test_assert_str(error_of("CHARSET (UTF-8) SEEN", &env1, &code), "Missing charset");
	test_assert_str(error_of("CHARSET UTF-8", &env1, &code), "Missing search key");
	test_assert_str(error_of("RETURN ALL SEEN", &env1, &code),
			"RETURN wants a list of options");
	test_assert_str(error_of("RETURN", &env1, &code), "RETURN wants a list of options");
	test_assert_str(error_of("RETURN (ALL)", &env1, &code), "Missing search key");
	test_assert_str(error_of("RETURN (PARTIAL 1:10) SEEN", &env1, &code),
			"Unknown RETURN option");
	test_assert_str(error_of("RETURN ((ALL)) SEEN", &env1, &code), "Unknown RETURN option");
	test_assert_str(error_of("RETURN (SAVE) SEEN", &env1, &code),
			"RETURN (SAVE) is not enabled");
	/* the order is RETURN, then CHARSET */
	test_assert_str(error_of("CHARSET UTF-8 RETURN (ALL) SEEN", &env1, &code),
			"Unknown search key");
	test_end();
}

static void test_errors(void)
{
	struct buf b = {0};
	int code;

	test_begin("imap_search: errors and limits");
	static const struct {
		const char *args, *err;
	} t[] = {
	    {"", "Missing search key"},
	    {"FOO", "Unknown search key"},
	    {"SEEN BOGUS", "Unknown search key"},
	    {"\"SEEN\"", "Search key expected"},
	    {"NIL", "Unknown search key"},
	    {"()", "Empty list of search keys"},
	    {"(SEEN ())", "Empty list of search keys"},
	    {"NOT", "Missing search key"},
	    {"OR SEEN", "OR needs two search keys"},
	    {"OR", "Missing search key"},
	    {"FROM", "Missing argument to search key"},
	    {"FROM (x)", "Search key wants a string"},
	    {"HEADER Subject", "Missing argument to search key"},
	    {"HEADER \"\" x", "Empty header field name"},
	    {"NOT (FROM)", "Missing argument to search key"},
	    {"SEEN FROM", "Missing argument to search key"},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		const char *err = error_of(t[i].args, &env1, &code);
		test_assert_str(err, t[i].err);
		test_assert(code == -1);
	}
	/* nesting: NOT and OR count, lists too */
	for (int i = 0; i < IMAP_SEARCH_DEPTH_MAX; i++)
		buf_append_str(&b, "NOT ");
	buf_append_str(&b, "SEEN");
	test_assert_str(error_of(b.data, &env1, &code), "(compiled)");
	buf_clear(&b);
	for (int i = 0; i <= IMAP_SEARCH_DEPTH_MAX; i++)
		buf_append_str(&b, "NOT ");
	buf_append_str(&b, "SEEN");
	test_assert_str(error_of(b.data, &env1, &code), "Search keys nested too deeply");
	buf_clear(&b);
	for (int i = 0; i <= IMAP_SEARCH_DEPTH_MAX; i++)
		buf_append_str(&b, "OR SEEN ");
	buf_append_str(&b, "SEEN");
	test_assert_str(error_of(b.data, &env1, &code), "Search keys nested too deeply");
	/* too many keys: the root counts one */
	buf_clear(&b);
	for (int i = 0; i < IMAP_SEARCH_KEYS_MAX - 1; i++)
		buf_append_str(&b, "SEEN ");
	test_assert_str(error_of(b.data, &env1, &code), "(compiled)");
	buf_append_str(&b, "SEEN");
	test_assert_str(error_of(b.data, &env1, &code), "Too many search keys");
	/* strings: all of them together */
	buf_clear(&b);
	buf_printf(&b, "BODY {%u}\r\n", IMAP_SEARCH_STRINGS_MAX);
	for (unsigned i = 0; i < IMAP_SEARCH_STRINGS_MAX; i++)
		buf_append_c(&b, 'x');
	test_assert_str(error_of(b.data, &env1, &code), "(compiled)");
	buf_append_str(&b, " BODY y");
	test_assert_str(error_of(b.data, &env1, &code), "Search strings too long");
	/* ranges */
	struct buf set = {0};
	buf_append_str(&set, "1");
	for (int i = 1; i < IMAP_SEARCH_RANGES_MAX / 2; i++)
		buf_printf(&set, ",%d", 2 * i + 1);
	buf_clear(&b);
	buf_printf(&b, "%s UID %s", set.data, set.data);
	test_assert_str(error_of(b.data, &env1, &code), "(compiled)");
	buf_append_str(&b, " 1,2");
	test_assert_str(error_of(b.data, &env1, &code), "Too many sequence ranges");
	buf_free(&set);
	buf_free(&b);
	test_end();
}

static void test_needs_text(void)
{
	struct imap_search *prog;
	const char *err;

	test_begin("imap_search_needs_text (S5), imap_search_needs_body");
	static const struct {
		const char *args;
		bool text;
	} t[] = {
	    {"ALL", false},
	    {"SEEN UNDELETED 1:* UID 5 LARGER 1 SMALLER 9 KEYWORD x ON 1-Jan-2024", false},
	    {"NOT OR BEFORE 1-Jan-2024 SINCE 1-Jan-2024", false},
	    {"SENTON 1-Jan-2024", true},
	    {"SEEN NOT (UNSEEN OR FLAGGED FROM x)", true},
	    {"BODY x", true},
	    {"TEXT x", true},
	    {"HEADER a b", true},
	    {"TO x", true},
	    {"CC x", true},
	    {"BCC x", true},
	    {"SUBJECT x", true},
	    {"OR SEEN NOT TEXT x", true},
	    {"SUBJECT x BODY y", true},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		test_assert(compile_env(t[i].args, &env1, &prog, &err) == 0);
		test_assert(imap_search_needs_text(prog) == t[i].text);
		/* the MIME tree only for BODY and TEXT */
		test_assert(imap_search_needs_body(prog) == (strstr(t[i].args, "BODY") != NULL ||
							     strstr(t[i].args, "TEXT") != NULL));
		/* no text needed: a NULL message is never read */
		struct imap_search_msg m = {3, 30, 0, NULL, 1000, JAN1_2024, 7, NULL, 12345, NULL};
		if (!t[i].text)
			(void)imap_search_match(prog, &m);
		imap_search_free(&prog);
	}
	/* text needed but none given: an empty message */
	struct imap_search_msg m = {3, 30, 0, NULL, 1000, JAN1_2024, 7, NULL, 0, NULL};
	test_assert(match("BODY \"\"", &m) == 1 && match("BODY x", &m) == 0);
	test_assert(match("NOT SUBJECT \"\"", &m) == 1);
	test_end();
}

static void result(const char *args, const struct imap_search_env *env, const uint32_t *ids,
		   size_t n, bool uid, const char *tag, bool esearch, const char *want)
{
	struct imap_search *prog;
	struct buf out = {0};
	const char *err;

	test_assert(compile_env(args, env, &prog, &err) == 0);
	if (prog == NULL)
		return;
	imap_search_result(prog, ids, n, uid, tag, esearch, &out);
	test_assert_str(out.len > 0 ? out.data : "", want);
	imap_search_free(&prog);
	buf_free(&out);
}

static void test_result(void)
{
	static const uint32_t ids[] = {2, 3, 4, 7, 9, 10};
	static const uint32_t three[] = {2, 5, 7};
	static const uint32_t odd[] = {9, 4, 5, 4294967295u, 1};
	struct imap_search_env rev2 = env1, res = env1;

	test_begin("imap_search_result: SEARCH and ESEARCH forms");
	rev2.rev2 = true;
	res.searchres = true;
	/* IMAP4rev1, no RETURN: SEARCH */
	result("ALL", &env1, three, 3, false, "a1", false, "* SEARCH 2 5 7\r\n");
	result("ALL", &env1, three, 3, true, "a1", false, "* SEARCH 2 5 7\r\n");
	result("ALL", &env1, NULL, 0, false, "a1", false, "* SEARCH\r\n");
	/* forced */
	result("ALL", &env1, three, 3, false, "a1", true, "* ESEARCH (TAG \"a1\") ALL 2,5,7\r\n");
	/* RETURN */
	result("RETURN (MIN MAX COUNT ALL) ALL", &env1, three, 3, true, "a1", false,
	       "* ESEARCH (TAG \"a1\") UID MIN 2 MAX 7 COUNT 3 ALL 2,5,7\r\n");
	result("RETURN (ALL COUNT MAX MIN) ALL", &env1, ids, 6, false, "t", false,
	       "* ESEARCH (TAG \"t\") MIN 2 MAX 10 COUNT 6 ALL 2:4,7,9:10\r\n");
	result("RETURN () ALL", &env1, ids, 6, false, "t", false,
	       "* ESEARCH (TAG \"t\") ALL 2:4,7,9:10\r\n");
	result("RETURN (COUNT) ALL", &env1, ids, 6, true, "t", false,
	       "* ESEARCH (TAG \"t\") UID COUNT 6\r\n");
	/* nothing matched: MIN, MAX, ALL left out, COUNT 0 */
	result("RETURN (MIN MAX ALL COUNT) ALL", &env1, NULL, 0, true, "t", false,
	       "* ESEARCH (TAG \"t\") UID COUNT 0\r\n");
	result("RETURN (MIN) ALL", &env1, NULL, 0, false, "t", false, "* ESEARCH (TAG \"t\")\r\n");
	/* IMAP4rev2 without RETURN: ESEARCH ALL; empty ALL left out */
	result("ALL", &rev2, ids, 6, true, "A282", false,
	       "* ESEARCH (TAG \"A282\") UID ALL 2:4,7,9:10\r\n");
	result("ALL", &rev2, NULL, 0, false, "A282", false, "* ESEARCH (TAG \"A282\")\r\n");
	result("RETURN (MIN) ALL", &rev2, ids, 6, false, "x", false,
	       "* ESEARCH (TAG \"x\") MIN 2\r\n");
	/* SAVE alone: nothing; with others as usual */
	result("RETURN (SAVE) ALL", &res, ids, 6, false, "x", false, "");
	result("RETURN (SAVE) ALL", &res, ids, 6, false, "x", true, "");
	result("RETURN (SAVE MIN) ALL", &res, ids, 6, false, "x", false,
	       "* ESEARCH (TAG \"x\") MIN 2\r\n");
	/* no tag; a tag with quotes is escaped */
	result("ALL", &rev2, three, 3, false, NULL, false, "* ESEARCH ALL 2,5,7\r\n");
	result("ALL", &rev2, three, 1, false, "q\"\\", false,
	       "* ESEARCH (TAG \"q\\\"\\\\\") ALL 2\r\n");
	/* out of order: still right, ranges only where they run up */
	result("RETURN (MIN MAX ALL) ALL", &env1, odd, 5, false, "o", false,
	       "* ESEARCH (TAG \"o\") MIN 1 MAX 4294967295 ALL 9,4:5,4294967295,1\r\n");
	test_end();
}

/* S7: ALL parses back to exactly the ids. */
static void test_result_round_trip(void)
{
	struct imap_search *prog;
	const char *err;
	uint32_t ids[200];
	size_t n = 0;

	test_begin("imap_search_result: ALL round trip (S7)");
	for (uint32_t v = 1; n < N_ELEMENTS(ids); v++)
		if ((v * 2654435761u) % 7 < 4)
			ids[n++] = v;
	test_assert(compile_env("RETURN (ALL COUNT) ALL", &env1, &prog, &err) == 0);
	struct buf out = {0};
	imap_search_result(prog, ids, n, false, "z", false, &out);
	const char *all = strstr(out.data, " ALL ");
	test_assert(all != NULL);
	struct slice s = {all + 5, (size_t)(out.data + out.len - 2 - (all + 5))};
	struct imap_seq_range r[200];
	struct imap_seqset set = {r, N_ELEMENTS(r), 0, false};
	test_assert(imap_parse_seqset(s, false, &set, &err) == 0);
	size_t k = 0, covered = 0;
	for (size_t i = 0; i < set.n; i++)
		for (uint64_t v = r[i].lo; v <= r[i].hi; v++, covered++)
			test_assert(k < n && ids[k++] == v);
	test_assert(covered == n && set.n < n);
	test_assert(strstr(out.data, " COUNT 200 ") != NULL);
	buf_free(&out);
	imap_search_free(&prog);
	test_end();
}

static void test_save_filter(void)
{
	struct imap_search *prog;
	struct imap_search_env res = env1;
	const char *err;
	uint32_t u[4];

	test_begin("imap_search_save_filter (RFC 5182 §2.1)");
	res.searchres = true;
	static const struct {
		const char *args;
		size_t n;
		uint32_t first, second;
	} t[] = {
	    {"RETURN (SAVE) ALL", 4, 10, 20},		{"RETURN (SAVE MIN) ALL", 1, 10, 0},
	    {"RETURN (SAVE MAX) ALL", 1, 40, 0},	{"RETURN (SAVE MIN MAX) ALL", 2, 10, 40},
	    {"RETURN (SAVE MIN COUNT) ALL", 4, 10, 20}, {"RETURN (SAVE MAX ALL) ALL", 4, 10, 20},
	};
	for (size_t i = 0; i < N_ELEMENTS(t); i++) {
		u[0] = 10, u[1] = 20, u[2] = 30, u[3] = 40;
		test_assert(compile_env(t[i].args, &res, &prog, &err) == 0);
		size_t n = imap_search_save_filter(prog, u, 4);
		test_assert(n == t[i].n && u[0] == t[i].first);
		if (n > 1)
			test_assert(u[1] == t[i].second);
		u[0] = 5;
		test_assert(imap_search_save_filter(prog, u, 1) == 1 && u[0] == 5);
		test_assert(imap_search_save_filter(prog, u, 0) == 0);
		imap_search_free(&prog);
	}
	test_end();
}

/* Searches that clients send, as they send them. */
static void test_clients(void)
{
	struct imap_search_msg m = text_msg(plain);
	struct imap_search_env rev2 = env1;

	test_begin("imap_search: searches of real clients");
	rev2.rev2 = true;
	rev2.searchres = true;
	m.internaldate = JAN1_2024 + 10 * DAY;
	test_assert(match("UNDELETED SINCE 1-Jan-2024", &m) == 1);	/* Thunderbird */
	test_assert(match_env("RETURN (ALL) UID 1:*", &rev2, &m) == 1); /* iOS */
	test_assert(match("NOT DELETED OR SUBJECT hi FROM hi", &m) == 1);
	test_assert(match("UID 1:* NOT DELETED SINCE 1-Jan-2024", &m) == 1);
	test_assert(match("CHARSET UTF-8 OR OR SUBJECT noon FROM noon BODY noon", &m) == 1);
	test_assert(match("HEADER Message-ID \"<abc@example>\"", &m) == 0);
	test_assert(match_env("RETURN (MIN MAX COUNT) UNSEEN", &rev2, &m) == 1);
	test_assert(match("SEEN UID 25:35 LARGER 100 SMALLER 100000 TEXT bob", &m) == 0);
	m.flags = IMAP_SEARCH_SEEN;
	test_assert(match("SEEN UID 25:35 LARGER 100 SMALLER 100000 TEXT bob", &m) == 1);
	test_end();
}

/* S4: messages shaped to make a careless decoder quadratic (encoded-word
   starts, long words, many fields, deep and wide multiparts, soft breaks,
   comments) go through every view; a regression shows as a slow test. */
static void test_bounded(void)
{
	struct buf b = {0};
	const size_t size = 1 << 20;

	test_begin("imap_search: work stays linear on hostile messages (S4)");
	for (int shape = 0; shape < 7; shape++) {
		buf_clear(&b);
		switch (shape) {
		case 0:
			buf_append_str(&b, "Subject: ");
			while (b.len < size)
				buf_append_str(&b, "=?a?q?");
			buf_append_str(&b, "\r\n\r\n");
			break;
		case 1:
			buf_append_str(&b, "Subject: ");
			while (b.len < size) {
				buf_append_str(&b, "=?utf-8?q?");
				for (int i = 0; i < 180; i++)
					buf_append_c(&b, 'a');
				buf_append_c(&b, ' ');
			}
			buf_append_str(&b, "\r\n\r\n");
			break;
		case 2:
			while (b.len < size)
				buf_append_str(&b, "X: y\r\nDate: 1 Jan 2024 10:00 +0000\r\n");
			buf_append_str(&b, "\r\n");
			break;
		case 3:
			for (int i = 0; b.len < size; i++)
				buf_printf(
				    &b,
				    "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n",
				    i % 20, i % 20);
			break;
		case 4:
			buf_append_str(&b, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
			while (b.len < size)
				buf_append_str(&b, "--b\r\nContent-Type: multipart/mixed; "
						   "boundary=c\r\n\r\n--c\r\n\r\nx\r\n");
			break;
		case 5:
			buf_append_str(&b, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
			while (b.len < size)
				buf_append_str(&b, "==3D=\r\n=  \r\n");
			break;
		case 6:
			buf_append_str(&b, "Date: ");
			while (b.len < size)
				buf_append_str(&b, "((((\\)");
			buf_append_str(&b, "\r\n\r\n");
			break;
		}
		struct imap_search_msg m = {1, 1, 0, NULL, b.len, 0, 1, b.data, b.len, NULL};
		test_assert(match("OR OR TEXT zzz HEADER x zzz SENTON 1-Jan-2024", &m) ==
			    (shape == 2));
	}
	buf_free(&b);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_flags,
					   test_recent,
					   test_keywords,
					   test_sizes,
					   test_sets,
					   test_dates,
					   test_sent_dates,
					   test_headers,
					   test_encoded_words,
					   test_body,
					   test_deep_mime,
					   test_given_tree,
					   test_header_reading,
					   test_logic,
					   test_prefix,
					   test_errors,
					   test_needs_text,
					   test_result,
					   test_result_round_trip,
					   test_save_filter,
					   test_clients,
					   test_bounded,
					   NULL});
}
