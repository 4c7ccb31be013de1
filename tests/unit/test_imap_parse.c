/* SPDX-License-Identifier: MIT */
/*
 * test_imap_parse.c - the IMAP command parser (imap/imap_parse.h) against
 * {input, transcript} tables. A small fake session feeds the input into a
 * growing struct buf (so the parser's buffer moves between calls), accepts
 * literals or refuses those above a size, drops each command when it is
 * done and skips bad ones; the transcript it writes lists every result that
 * is not MORE. Every table input is then fed whole, byte by byte, in other
 * chunk sizes and cut at every point, and must give the same transcript
 * (P1). Then the value readers, the canonical dump (P8), sections,
 * sequence sets and dates.
 */
#include "imap/imap_parse.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IN(s) s, sizeof(s) - 1

enum lim_kind { L_DEF, L_TIGHT };

static void limits_for(enum lim_kind k, struct imap_parse_limits *lim)
{
	imap_parse_limits_default(lim);
	if (k == L_TIGHT) {
		lim->line_max = 40;
		lim->depth_max = 3;
		lim->nodes_max = 6;
		lim->literal_max = 10;
		lim->literals_max = 15;
		lim->nonsync_max = 8;
	}
}

static void show_bytes(struct buf *t, struct slice s)
{
	buf_append_c(t, '"');
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '"' || c == '\\')
			buf_printf(t, "\\%c", c);
		else if (c == '\r')
			buf_append_str(t, "\\r");
		else if (c == '\n')
			buf_append_str(t, "\\n");
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(t, "\\x%02x", c);
		else
			buf_append_c(t, (char)c);
	}
	buf_append_c(t, '"');
}

/* The typed form of a node: #n for a NUMBER, {n}"..." for a literal,
   NAME[spec](fields)<o.n> for a section; atoms and NIL as they are. */
static void show_node(struct buf *t, const struct imap_node *n)
{
	switch (n->type) {
	case IMAP_NODE_ATOM:
	case IMAP_NODE_NIL:
		buf_append(t, n->str.p, n->str.len);
		break;
	case IMAP_NODE_NUMBER:
		buf_printf(t, "#%llu", (unsigned long long)n->num);
		break;
	case IMAP_NODE_QUOTED:
		show_bytes(t, n->str);
		break;
	case IMAP_NODE_LITERAL:
		buf_printf(t, "%s{%zu%s}", (n->flags & IMAP_NODE_BINARY) ? "~" : "", n->str.len,
			   (n->flags & IMAP_NODE_NONSYNC) ? "+" : "");
		show_bytes(t, n->str);
		break;
	case IMAP_NODE_LIST:
	case IMAP_NODE_SECTION:
		if (n->type == IMAP_NODE_SECTION) {
			buf_append(t, n->str.p, n->str.len);
			buf_printf(t, "[%.*s]", (int)n->spec.len, n->spec.p);
			if (!(n->flags & IMAP_NODE_FIELDS))
				goto partial;
		}
		buf_append_c(t, '(');
		for (const struct imap_node *c = n->child; c != NULL; c = c->next) {
			if (c != n->child)
				buf_append_c(t, ' ');
			show_node(t, c);
		}
		buf_append_c(t, ')');
	partial:
		if (n->flags & IMAP_NODE_PARTIAL)
			buf_printf(t, "<%llu.%llu>", (unsigned long long)n->num,
				   (unsigned long long)n->num2);
		break;
	}
}

static void show_command(struct buf *t, const struct imap_command *cmd)
{
	buf_append(t, cmd->tag.p, cmd->tag.len);
	buf_printf(t, "%s%s", cmd->uid ? " UID " : " ", cmd->name);
	for (const struct imap_node *n = cmd->args; n != NULL; n = n->next) {
		buf_append_c(t, ' ');
		show_node(t, n);
	}
}

static const char *err_name(enum imap_parse_error e)
{
	static const char *const names[] = {"none",    "syntax",  "empty",  "nul",    "toolong",
					    "toodeep", "toomany", "toobig", "refused"};
	return e < N_ELEMENTS(names) ? names[e] : "?";
}

static void sep(struct buf *t)
{
	if (t->len > 0)
		buf_append_str(t, " | ");
}

static bool round_trip_ok(const struct imap_command *cmd, const struct imap_parse_limits *lim);

/* P5: no NUL but in a literal8, no CR or LF in a quoted string. */
static bool strings_ok(const struct imap_node *n)
{
	for (; n != NULL; n = n->next) {
		struct slice s = n->str;
		if (!(n->flags & IMAP_NODE_BINARY) && s.len > 0 && memchr(s.p, '\0', s.len) != NULL)
			return false;
		if (n->type == IMAP_NODE_QUOTED && s.len > 0 &&
		    (memchr(s.p, '\r', s.len) != NULL || memchr(s.p, '\n', s.len) != NULL))
			return false;
		if (!strings_ok(n->child))
			return false;
	}
	return true;
}

/* The fake session. sizes[] are the chunk sizes, used in turn. Writes the
   transcript to t; a command left incomplete at the end shows as "...N". */
static void run(struct buf *t, const char *in, size_t len, enum lim_kind lk, long refuse,
		const size_t *sizes, size_t n_sizes)
{
	struct imap_parse_limits lim;
	struct imap_parser ps;
	struct buf b = {0};
	size_t fed = 0, base = 0, turn = 0;
	bool skipping = false;
	unsigned rounds = 0;

	limits_for(lk, &lim);
	imap_parser_init(&ps, &lim);
	buf_clear(t);
	for (;;) {
		struct imap_command cmd;
		enum imap_parse_result r;
		size_t used;
		/* an exact copy, so that ASan sees any read past len (P2) */
		char *exact = len <= 4096 && b.len > 0 ? xmalloc(b.len) : NULL;
		const char *p = exact != NULL ? memcpy(exact, b.data, b.len) : b.data;

		test_assert(++rounds < 10 * len + 100); /* never loops */
		if (rounds >= 10 * len + 100)
			break;
		if (skipping) {
			r = imap_parser_skip(&ps, p, b.len, &used);
			test_assert(used <= b.len);
			buf_consume(&b, used);
			base += used;
			if (r == IMAP_PARSE_DONE) {
				sep(t);
				buf_printf(t, "SKIP@%zu", base);
				imap_parser_reset(&ps);
				skipping = false;
			}
		} else {
			r = imap_parser_feed(&ps, p, b.len, &cmd);
			if (r == IMAP_PARSE_LITERAL) {
				sep(t);
				buf_printf(t, "+%s%llu%s", cmd.lit.binary ? "~" : "",
					   (unsigned long long)cmd.lit.size,
					   cmd.lit.sync ? "" : "+");
				if (refuse >= 0 && cmd.lit.size > (uint64_t)refuse) {
					imap_parser_refuse(&ps);
					buf_append_str(t, " REFUSED");
					skipping = true;
				}
			} else if (r == IMAP_PARSE_DONE) {
				sep(t);
				show_command(t, &cmd);
				test_assert(cmd.len <= b.len && p[cmd.len - 1] == '\n');
				test_assert(round_trip_ok(&cmd, &lim));
				test_assert(strings_ok(cmd.args));
				buf_consume(&b, cmd.len);
				base += cmd.len;
				imap_parser_reset(&ps);
			} else if (r == IMAP_PARSE_ERROR) {
				sep(t);
				buf_printf(t, "!%s %s@%zu", err_name(cmd.err), cmd.err_text,
					   base + cmd.err_off);
				skipping = true;
			}
		}
		free(exact);
		if (r != IMAP_PARSE_MORE)
			continue;
		if (fed == len)
			break;
		size_t n = sizes[turn++ % n_sizes];
		if (n > len - fed)
			n = len - fed;
		buf_append(&b, in + fed, n);
		fed += n;
	}
	if (b.len > 0 || skipping) {
		sep(t);
		buf_printf(t, "...%zu", b.len);
	}
	imap_parser_deinit(&ps);
	buf_free(&b);
}

static void run_whole(struct buf *t, const char *in, size_t len, enum lim_kind lk, long refuse)
{
	size_t all = len > 0 ? len : 1;
	run(t, in, len, lk, refuse, &all, 1);
}

/* P8: the canonical dump parses back to the same dump. */
static bool round_trip_ok(const struct imap_command *cmd, const struct imap_parse_limits *lim)
{
	struct imap_parse_limits big = *lim;
	struct buf d1 = {0}, d2 = {0};
	struct imap_parser ps;
	struct imap_command again;
	enum imap_parse_result r;

	big.line_max = 1 << 20; /* CRLF for a bare LF makes the dump longer */
	imap_command_dump(cmd, &d1);
	imap_parser_init(&ps, &big);
	while ((r = imap_parser_feed(&ps, d1.data, d1.len, &again)) == IMAP_PARSE_LITERAL)
		;
	if (r == IMAP_PARSE_DONE)
		imap_command_dump(&again, &d2);
	bool ok = r == IMAP_PARSE_DONE && again.len == d1.len && d1.len == d2.len &&
		  memcmp(d1.data, d2.data, d1.len) == 0;
	imap_parser_deinit(&ps);
	buf_free(&d1);
	buf_free(&d2);
	return ok;
}

struct parse_case {
	const char *in;
	size_t len;
	const char *want;
	enum lim_kind lim;
	long refuse; /* refuse literals above this size; -1: none */
};

static const struct parse_case cases[] = {
    /* every node type */
    {IN("a1 NOOP\r\n"), "a1 NOOP", L_DEF, -1},
    {IN("a2 login alice \"pass word\"\r\n"), "a2 LOGIN alice \"pass word\"", L_DEF, -1},
    {IN("a3 LIST \"\" *\r\na4 LIST \"\" %\r\n"), "a3 LIST \"\" * | a4 LIST \"\" %", L_DEF, -1},
    {IN("a5 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\* $Forwarded)\r\n"),
     "a5 STORE 1:3,5 +FLAGS.SILENT (\\Seen \\* $Forwarded)", L_DEF, -1},
    {IN("a6 X 0 4294967295 4294967296 007\r\n"), "a6 X #0 #4294967295 #4294967296 #7", L_DEF, -1},
    {IN("a7 X 9223372036854775807 9223372036854775808\r\n"),
     "a7 X #9223372036854775807 9223372036854775808", L_DEF, -1},
    {IN("a8 ID nil \"NIL\" NILS\r\n"), "a8 ID nil \"NIL\" NILS", L_DEF, -1},
    {IN("a9 LOGIN \"a\\\"b\" \"c\\\\d\" \"\"\r\n"), "a9 LOGIN \"a\\\"b\" \"c\\\\d\" \"\"", L_DEF,
     -1},
    {IN("b1 SELECT \"Entw\xc3\xbc\x72\x66\x65 \xe2\x82\xac \xf0\x9f\x93\xa7\"\r\n"),
     "b1 SELECT \"Entw\\xc3\\xbcrfe \\xe2\\x82\\xac \\xf0\\x9f\\x93\\xa7\"", L_DEF, -1},
    {IN("b2 X (a (b (c)) ()) \"tab\there\"\r\n"), "b2 X (a (b (c)) ()) \"tab\\x09here\"", L_DEF,
     -1},
    {IN("b3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
     "b3 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", L_DEF, -1},
    {IN("b4 SELECT [Gmail]/Sent\r\nb5 SELECT BODY[x]\r\n"),
     "b4 SELECT [Gmail]/Sent | b5 SELECT BODY[x]", L_DEF, -1},
    {IN("b6 SEARCH UID $ SINCE 1-Feb-1994 ~x\r\n"), "b6 SEARCH UID $ SINCE 1-Feb-1994 ~x", L_DEF,
     -1},
    /* UID commands */
    {IN("u1 uid fetch 1:* (FLAGS) (CHANGEDSINCE 5)\r\n"),
     "u1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE #5)", L_DEF, -1},
    {IN("u2 UID MOVE 42 Archive\r\n"), "u2 UID MOVE #42 Archive", L_DEF, -1},
    {IN("u3 UID\r\n"), "!syntax Missing command after UID@6 | SKIP@8", L_DEF, -1},
    /* FETCH sections */
    {IN("f1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (From To)]<0.100>)\r\n"),
     "f1 FETCH #1 (BODY.PEEK[HEADER.FIELDS](From To)<0.100>)", L_DEF, -1},
    {IN("f2 FETCH 1 body[]\r\n"), "f2 FETCH #1 body[]", L_DEF, -1},
    {IN("f3 FETCH 1:* (BINARY.PEEK[1.2]<0.4096> BINARY.SIZE[1] BODY[1.2.MIME] BODY[TEXT])\r\n"),
     "f3 FETCH 1:* (BINARY.PEEK[1.2]<0.4096> BINARY.SIZE[1] BODY[1.2.MIME] BODY[TEXT])", L_DEF, -1},
    {IN("f4 FETCH 2 BODY[3.HEADER.FIELDS.NOT (Received \"X-Spam\")]\r\n"),
     "f4 FETCH #2 BODY[3.HEADER.FIELDS.NOT](Received \"X-Spam\")", L_DEF, -1},
    {IN("f5 UID FETCH 5 BODY[HEADER.FIELDS ({4}\r\nFrom)]<9.9>\r\n"),
     "+4 | f5 UID FETCH #5 BODY[HEADER.FIELDS]({4}\"From\")<9.9>", L_DEF, -1},
    {IN("f6 FETCH 1 BODY[1.]\r\n"), "!syntax Invalid section@15 | SKIP@21", L_DEF, -1},
    {IN("f7 FETCH 1 BINARY[TEXT]\r\n"), "!syntax Invalid section@17 | SKIP@25", L_DEF, -1},
    {IN("f8 FETCH 1 BODY[HEADER.FIELDS]\r\n"), "!syntax Invalid section@15 | SKIP@32", L_DEF, -1},
    {IN("f9 FETCH 1 BODY[TEXT (a)]\r\n"), "!syntax Invalid section@15 | SKIP@27", L_DEF, -1},
    {IN("g1 FETCH 1 BODY[HEADER.FIELDS ()]\r\n"), "!syntax Invalid section@31 | SKIP@35", L_DEF,
     -1},
    {IN("g2 FETCH 1 BODY[HEADER.FIELDS ((a))]\r\n"), "!syntax Invalid section@31 | SKIP@38", L_DEF,
     -1},
    {IN("g3 FETCH 1 BINARY.SIZE[1]<0.1>\r\n"), "!syntax Invalid partial@25 | SKIP@32", L_DEF, -1},
    {IN("g4 FETCH 1 BODY[]<1.0>\r\n"), "!syntax Invalid partial@17 | SKIP@24", L_DEF, -1},
    {IN("g5 FETCH 1 BODY[\r\n"), "!syntax Invalid section@15 | SKIP@18", L_DEF, -1},
    {IN("g6 FETCH 1 BODY[]x\r\n"), "!syntax Missing space between arguments@17 | SKIP@20", L_DEF,
     -1},
    {IN("g7 FETCH 1 BODY[0]\r\n"), "!syntax Invalid section@15 | SKIP@20", L_DEF, -1},
    {IN("g8 FETCH 1 BODY[HEADER.FIELDS (a)] x\r\n"), "g8 FETCH #1 BODY[HEADER.FIELDS](a) x", L_DEF,
     -1},
    /* literals */
    {IN("l1 LOGIN {5}\r\nalice {0}\r\n\r\n"), "+5 | +0 | l1 LOGIN {5}\"alice\" {0}\"\"", L_DEF, -1},
    {IN("l2 LOGIN {5+}\r\nalice pw\r\n"), "+5+ | l2 LOGIN {5+}\"alice\" pw", L_DEF, -1},
    {IN("l3 APPEND INBOX (\\Seen) {12}\r\n(a)\r\n{3}\r\n)(\r\n"),
     "+12 | l3 APPEND INBOX (\\Seen) {12}\"(a)\\r\\n{3}\\r\\n)(\"", L_DEF, -1},
    {IN("l4 APPEND INBOX ~{3+}\r\na\0b\r\n"), "+~3+ | l4 APPEND INBOX ~{3+}\"a\\x00b\"", L_DEF, -1},
    {IN("l5 SEARCH ~{3}\r\nl6 NOOP\r\n"), "!syntax literal8 only in APPEND@10 | SKIP@16 | l6 NOOP",
     L_DEF, -1},
    {IN("l7 LOGIN {3}\r\na\0b x\r\nl8 NOOP\r\n"),
     "+3 | !nul NUL octet in literal@15 | SKIP@21 | l8 NOOP", L_DEF, -1},
    {IN("l9 X {}\r\n"), "!syntax Invalid literal@5 | SKIP@9", L_DEF, -1},
    {IN("m1 X {5}x\r\n"), "!syntax Literal must end the line@5 | SKIP@11", L_DEF, -1},
    {IN("m2 X {5\r\n"), "!syntax Invalid literal@5 | SKIP@9", L_DEF, -1},
    {IN("m3 X {+}\r\n"), "!syntax Invalid literal@5 | SKIP@10", L_DEF, -1},
    {IN("m4 X {-1}\r\n"), "!syntax Invalid literal@5 | SKIP@11", L_DEF, -1},
    {IN("m5 X ({2}\r\n()) a\r\n"), "+2 | m5 X ({2}\"()\") a", L_DEF, -1},
    {IN("m6 X \"a\"{2}\r\n"), "!syntax Missing space between arguments@8 | SKIP@13", L_DEF, -1},
    /* line ends, spaces, empty lines, tags */
    {IN("n1 NOOP\nn2 LOGIN {1}\nx y\n"), "n1 NOOP | +1 | n2 LOGIN {1}\"x\" y", L_DEF, -1},
    {IN("n3 NO\rOP\r\n"), "!syntax Invalid command name@3 | SKIP@10", L_DEF, -1},
    {IN("n4 X a\rb\r\n"), "!syntax Invalid characters in atom@6 | SKIP@10", L_DEF, -1},
    {IN("n5 X \"a\rb\"\r\n"), "!syntax CR in quoted string@7 | SKIP@12", L_DEF, -1},
    {IN("\r\nn6 NOOP\r\n\n"),
     "!empty Empty command@0 | SKIP@2 | n6 NOOP | !empty Empty command@11 | SKIP@12", L_DEF, -1},
    {IN("n7  LOGIN  x   y  \r\nn8 X ( a  b )\r\n"), "n7 LOGIN x y | n8 X (a b)", L_DEF, -1},
    {IN("* NOOP\r\n"), "!syntax Invalid tag@0 | SKIP@8", L_DEF, -1},
    {IN("+ X\r\n"), "!syntax Invalid tag@0 | SKIP@5", L_DEF, -1},
    {IN("a+b NOOP\r\n"), "!syntax Invalid tag@1 | SKIP@10", L_DEF, -1},
    {IN("(x NOOP\r\n"), "!syntax Invalid tag@0 | SKIP@9", L_DEF, -1},
    {IN("o1\r\no2 \r\n"), "!syntax Missing command@2 | SKIP@4 | !syntax Missing command@7 | SKIP@9",
     L_DEF, -1},
    {IN("o3 N\tX\r\n"), "!syntax Invalid command name@3 | SKIP@8", L_DEF, -1},
    {IN("o4 NOOP\r\n\0"), "o4 NOOP | !nul NUL octet in command@9 | ...0", L_DEF, -1},
    {IN("o5 NOOP \x01\r\n"), "!syntax Invalid characters in atom@8 | SKIP@11", L_DEF, -1},
    {IN("o6 X (a)\x01\r\n"), "!syntax Invalid character@8 | SKIP@11", L_DEF, -1},
    /* errors */
    {IN("p1 X (a\r\n"), "!syntax Missing ')'@7 | SKIP@9", L_DEF, -1},
    {IN("p2 X a)\r\n"), "!syntax Unexpected ')'@6 | SKIP@9", L_DEF, -1},
    {IN("p3 X ((a)\r\n"), "!syntax Missing ')'@9 | SKIP@11", L_DEF, -1},
    {IN("p4 X (a)(b)\r\n"), "!syntax Missing space between arguments@8 | SKIP@13", L_DEF, -1},
    {IN("q1 LOGIN \"a\\x\" b\r\n"), "!syntax Invalid escape in quoted string@11 | SKIP@18", L_DEF,
     -1},
    {IN("q2 LOGIN \"abc\r\n"), "!syntax Unterminated quoted string@13 | SKIP@15", L_DEF, -1},
    {IN("q3 LOGIN \"\xff\"\r\n"), "!syntax Invalid UTF-8 in quoted string@10 | SKIP@14", L_DEF, -1},
    {IN("q4 X \"\xc0\x80\"\r\n"), "!syntax Invalid UTF-8 in quoted string@6 | SKIP@11", L_DEF, -1},
    {IN("q5 X \"\xed\xa0\x80\"\r\n"), "!syntax Invalid UTF-8 in quoted string@6 | SKIP@12", L_DEF,
     -1},
    {IN("q6 X \"\xf4\x90\x80\x80\"\r\n"), "!syntax Invalid UTF-8 in quoted string@6 | SKIP@13",
     L_DEF, -1},
    {IN("q7 X \"\xe2\x82\"\r\n"), "!syntax Invalid UTF-8 in quoted string@6 | SKIP@11", L_DEF, -1},
    {IN("q8 SELECT caf\xc3\xa9\r\n"), "!syntax Invalid characters in atom@13 | SKIP@17", L_DEF, -1},
    {IN("q9 X a\"b\"\r\n"), "!syntax Invalid characters in atom@6 | SKIP@11", L_DEF, -1},
    {IN("r1 X \\ a\\b\r\n"), "!syntax Invalid characters in atom@6 | SKIP@12", L_DEF, -1},
    {IN("r2 NOOP\0\r\nr3 NOOP\r\n"), "!nul NUL octet in command@7 | SKIP@10 | r3 NOOP", L_DEF, -1},
    {IN("d1 X (((a)))\r\nd2 X ((((a))))\r\n"),
     "d1 X (((a))) | !toodeep Too deeply nested@22 | SKIP@30", L_TIGHT, -1},
    {IN("t1 X 12345678901234567890123456789012345678\r\nt2 NOOP\r\n"),
     "!toolong Command line too long@40 | SKIP@45 | t2 NOOP", L_TIGHT, -1},
    {IN("t3 X 123456789012345678901234567890123\r\n"), "t3 X 123456789012345678901234567890123",
     L_TIGHT, -1},
    {IN("t4 X {1}\r\nx 123456789012345678901234567890\r\nt5 NOOP\r\n"),
     "+1 | !toolong Command line too long@41 | SKIP@44 | t5 NOOP", L_TIGHT, -1},
    {IN("t6 X 12345678901234567890123456789012345 {3+}\r\nabc\r\nt7 NOOP\r\n"),
     "!toolong Command line too long@40 | SKIP@52 | t7 NOOP", L_TIGHT, -1},
    {IN("m7 X a b c d e f\r\nm8 X a b c d e f g\r\n"),
     "m7 X a b c d e f | !toomany Too many arguments@35 | SKIP@38", L_TIGHT, -1},
    {IN("m9 X (a b c d e f)\r\n"), "!toomany Too many arguments@16 | SKIP@20", L_TIGHT, -1},
    /* literal limits and refusals */
    {IN("k1 X {11}\r\nk2 NOOP\r\n"), "!toobig Literal too big@5 | SKIP@11 | k2 NOOP", L_TIGHT, -1},
    {IN("k3 X {9+}\r\n012345678 y\r\nk4 NOOP\r\n"),
     "!toobig Non-synchronizing literal too big@5 | SKIP@24 | k4 NOOP", L_TIGHT, -1},
    {IN("k5 X {8+}\r\n01234567 {9}\r\n"), "+8+ | !toobig Literal too big@20 | SKIP@25", L_TIGHT,
     -1},
    {IN("k6 X {10}\r\n0123456789 {6}\r\n"), "+10 | !toobig Literal too big@22 | SKIP@27", L_TIGHT,
     -1},
    {IN("k7 APPEND INBOX {4097+}\r\n"), "!toobig Non-synchronizing literal too big@16 | ...0",
     L_DEF, -1},
    {IN("k8 APPEND INBOX {4096+}\r\n"), "+4096+ | ...25", L_DEF, -1},
    {IN("k9 LOGIN {99999999999999999999}\r\n"), "!toobig Literal too big@9 | SKIP@33", L_DEF, -1},
    {IN("s1 LOGIN {5}\r\ns2 NOOP\r\n"), "+5 REFUSED | SKIP@14 | s2 NOOP", L_DEF, 3},
    {IN("s3 LOGIN {5+}\r\nhello x {2+}\r\nab\r\ns4 NOOP\r\n"), "+5+ REFUSED | SKIP@33 | s4 NOOP",
     L_DEF, 3},
    {IN("s5 LOGIN {2}\r\nab {4}\r\ns6 NOOP\r\n"), "+2 | +4 REFUSED | SKIP@22 | s6 NOOP", L_DEF, 3},
    /* resynchronisation after a bad line that announces a literal */
    {IN("e1 X ) {3+}\r\nabc\r\ne2 NOOP\r\n"), "!syntax Unexpected ')'@5 | SKIP@18 | e2 NOOP", L_DEF,
     -1},
    {IN("e3 X ) {3}\r\ne4 NOOP\r\n"), "!syntax Unexpected ')'@5 | SKIP@12 | e4 NOOP", L_DEF, -1},
    {IN("e5 X ) {3+}\r\na\nb {0+}\r\n\r\ne6 NOOP\r\n"),
     "!syntax Unexpected ')'@5 | SKIP@25 | e6 NOOP", L_DEF, -1},
    {IN("e7 NOOP\0 {2+}\r\n\r\n\r\ne8 NOOP\r\n"), "!nul NUL octet in command@7 | SKIP@19 | e8 NOOP",
     L_DEF, -1},
    {IN("e9 X a {3}"), "...10", L_DEF, -1},
};

static void test_table(void)
{
	struct buf t = {0};

	test_begin("imap_parser_feed table (all node types, errors, resync)");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct parse_case *c = &cases[i];
		run_whole(&t, c->in, c->len, c->lim, c->refuse);
		test_assert_str(t.data, c->want);
	}
	buf_free(&t);
	test_end();
}

/* P1: the same transcript whatever the cut. */
static void test_cut_independence(void)
{
	static const size_t patterns[][4] = {{1, 1, 1, 1}, {2, 2, 2, 2}, {3, 1, 4, 1},
					     {7, 7, 7, 7}, {5, 9, 2, 6}, {64, 1, 64, 1}};
	struct buf whole = {0}, t = {0};
	unsigned runs = 0;
	bool ok = true;

	test_begin("P1: whole, byte by byte, in chunks and cut at every point: one transcript");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		const struct parse_case *c = &cases[i];
		run_whole(&whole, c->in, c->len, c->lim, c->refuse);
		for (size_t k = 0; k < N_ELEMENTS(patterns); k++) {
			run(&t, c->in, c->len, c->lim, c->refuse, patterns[k], 4);
			runs++;
			if (strcmp(t.data, whole.data) != 0) {
				printf("  case %zu pattern %zu: %s\n", i, k, t.data);
				ok = false;
			}
		}
		for (size_t cut = 1; cut < c->len; cut++) {
			size_t two[2] = {cut, c->len};
			run(&t, c->in, c->len, c->lim, c->refuse, two, 2);
			runs++;
			if (strcmp(t.data, whole.data) != 0) {
				printf("  case %zu cut %zu: %s\n", i, cut, t.data);
				ok = false;
			}
		}
	}
	test_assert(ok);
	test_assert(runs > 1000);
	buf_free(&whole);
	buf_free(&t);
	test_end();
}

/* Feeds a whole command; the literals are all accepted. */
static enum imap_parse_result parse_all(struct imap_parser *ps, const char *p, size_t len,
					struct imap_command *cmd)
{
	enum imap_parse_result r;

	while ((r = imap_parser_feed(ps, p, len, cmd)) == IMAP_PARSE_LITERAL)
		;
	return r;
}

static void test_nodes(void)
{
	struct imap_parser ps;
	struct imap_command cmd;
	struct slice s;
	uint64_t v;
	struct buf b = {0};

	buf_append_str(&b, "x1 APPEND Drafts (\\Draft) \"17-Jul-1996 02:44:25 -0700\" ~{4+}\r\n");
	buf_append(&b, "ab\0c", 4);
	buf_append_str(&b, " \"\xc3\xa4\\\"\" 4294967296 5\r\nNEXT");
	const char *in = b.data;
	size_t in_len = b.len;

	test_begin("nodes: types, flags, links, counts, value readers");
	imap_parser_init(&ps, NULL);
	test_assert(parse_all(&ps, in, in_len, &cmd) == IMAP_PARSE_DONE);
	test_assert(cmd.len == in_len - 4); /* "NEXT" is the next command's */
	test_assert(strcmp(cmd.name, "APPEND") == 0 && !cmd.uid && cmd.argc == 7);
	const struct imap_node *n = cmd.args;
	test_assert(n->type == IMAP_NODE_ATOM && imap_node_is(n, "drafts"));
	test_assert(imap_node_astring(n, &s) && s.len == 6 && !imap_node_string(n, &s));
	n = n->next;
	test_assert(n->type == IMAP_NODE_LIST && n->count == 1 && n->child->next == NULL);
	test_assert(imap_node_is(n->child, "\\draft") && !imap_node_astring(n, &s));
	n = n->next;
	test_assert(n->type == IMAP_NODE_QUOTED && imap_node_string(n, &s) && s.len == 26);
	time_t t;
	int zone;
	test_assert(imap_parse_date_time(s, &t, &zone) == 0 && t == 837596665 && zone == -420);
	n = n->next;
	test_assert(n->type == IMAP_NODE_LITERAL && n->str.len == 4 &&
		    memcmp(n->str.p, "ab\0c", 4) == 0);
	test_assert((n->flags & (IMAP_NODE_BINARY | IMAP_NODE_NONSYNC)) ==
		    (IMAP_NODE_BINARY | IMAP_NODE_NONSYNC));
	test_assert(!imap_node_string(n, &s) && !imap_node_astring(n, &s)); /* literal8 */
	test_assert(!(n->flags & IMAP_NODE_8BIT));
	n = n->next;
	test_assert(n->type == IMAP_NODE_QUOTED && n->str.len == 3 &&
		    memcmp(n->str.p, "\xc3\xa4\"", 3) == 0);
	test_assert((n->flags & (IMAP_NODE_8BIT | IMAP_NODE_ESCAPED)) ==
		    (IMAP_NODE_8BIT | IMAP_NODE_ESCAPED));
	test_assert(n->str.p < in || n->str.p >= in + in_len); /* the parser's copy */
	n = n->next;
	test_assert(n->type == IMAP_NODE_NUMBER && !(n->flags & IMAP_NODE_NUM32));
	test_assert(imap_node_number(n, UINT64_MAX, &v) && v == 4294967296u);
	test_assert(!imap_node_number(n, UINT32_MAX, &v));
	n = n->next;
	test_assert(n->type == IMAP_NODE_NUMBER && (n->flags & IMAP_NODE_NUM32) && n->num == 5);
	test_assert(imap_node_astring(n, &s) && s.len == 1 && s.p[0] == '5');
	test_assert(n->next == NULL);
	/* DONE is stable: asking again gives the same command */
	struct imap_command again;
	test_assert(imap_parser_feed(&ps, in, in_len, &again) == IMAP_PARSE_DONE);
	test_assert(again.args == cmd.args && again.len == cmd.len);
	imap_parser_reset(&ps);
	test_assert(parse_all(&ps, "y1 NOOP\r\n", 9, &cmd) == IMAP_PARSE_DONE);
	test_assert(cmd.args == NULL && cmd.argc == 0 && cmd.len == 9);
	test_assert(!imap_node_is(NULL, "x") && !imap_node_astring(NULL, &s));
	imap_parser_deinit(&ps);
	buf_free(&b);
	test_end();
}

static void test_literal_event(void)
{
	static const char in[] = "z1 LOGIN {5}\r\nalice {3+}\r\np\xc3\xa4\r\n";
	struct imap_parser ps;
	struct imap_command cmd;

	test_begin("P4: every literal announced once, before its octets are needed");
	imap_parser_init(&ps, NULL);
	/* only the first line has come: the event names tag, command, size */
	test_assert(imap_parser_feed(&ps, in, 14, &cmd) == IMAP_PARSE_LITERAL);
	test_assert(cmd.tag.len == 2 && memcmp(cmd.tag.p, "z1", 2) == 0);
	test_assert(strcmp(cmd.name, "LOGIN") == 0);
	test_assert(cmd.lit.size == 5 && cmd.lit.sync && !cmd.lit.binary);
	/* the "+ go ahead" went out; the octets come in pieces */
	test_assert(imap_parser_feed(&ps, in, 14, &cmd) == IMAP_PARSE_MORE);
	test_assert(imap_parser_feed(&ps, in, 17, &cmd) == IMAP_PARSE_MORE);
	/* all of it at once: the second literal is still announced */
	test_assert(imap_parser_feed(&ps, in, sizeof(in) - 1, &cmd) == IMAP_PARSE_LITERAL);
	test_assert(cmd.lit.size == 3 && !cmd.lit.sync);
	test_assert(imap_parser_feed(&ps, in, sizeof(in) - 1, &cmd) == IMAP_PARSE_DONE);
	test_assert(cmd.argc == 2 && cmd.len == sizeof(in) - 1);
	test_assert(!(cmd.args->flags & IMAP_NODE_8BIT) &&
		    (cmd.args->next->flags & IMAP_NODE_8BIT));
	/* refuse() only right after an announcement */
	imap_parser_refuse(&ps);
	test_assert(imap_parser_feed(&ps, in, sizeof(in) - 1, &cmd) == IMAP_PARSE_DONE);
	imap_parser_deinit(&ps);
	test_end();
}

/* P3: the scan resumes where it stopped, so a long line read a byte at a
   time costs each byte once, not the whole line again on every read. */
static void test_linear(void)
{
	struct imap_parser ps;
	struct imap_command cmd;
	struct buf b = {0};
	bool resumed = true;

	test_begin("P3: a 60,000-octet line fed byte by byte, each octet scanned once");
	buf_append_str(&b, "v1 SEARCH UID ");
	for (int i = 1; b.len < 60000; i++)
		buf_printf(&b, "%d,", i);
	buf_append_str(&b, "1\r\n");
	imap_parser_init(&ps, NULL);
	for (size_t len = 1; len < b.len; len++) {
		test_assert(imap_parser_feed(&ps, b.data, len, &cmd) == IMAP_PARSE_MORE);
		resumed &= ps.scan == len;
	}
	test_assert(resumed);
	test_assert(imap_parser_feed(&ps, b.data, b.len, &cmd) == IMAP_PARSE_DONE);
	test_assert(cmd.argc == 2 && cmd.args->next->str.len == b.len - 16);
	struct imap_seq_range r[16384];
	struct imap_seqset set = {r, N_ELEMENTS(r), 0, false};
	const char *err;
	test_assert(imap_parse_seqset(cmd.args->next->str, false, &set, &err) == 0);
	test_assert(set.n > 10000 && r[set.n - 1].lo == 1 && r[set.n - 2].hi == set.n - 1);
	imap_parser_deinit(&ps);
	buf_free(&b);
	test_end();
}

static void test_skip_pending(void)
{
	static const char head[] = "w1 APPEND INBOX {100000+}\r\n";
	struct imap_parser ps;
	struct imap_command cmd;
	char chunk[4096];
	size_t used, total = 0;

	test_begin("P7: skipping a refused big literal, memory bounded by the chunk");
	memset(chunk, 'x', sizeof(chunk));
	imap_parser_init(&ps, NULL); /* LITERAL-: 4096 at most */
	test_assert(imap_parser_feed(&ps, head, sizeof(head) - 1, &cmd) == IMAP_PARSE_ERROR);
	test_assert(cmd.err == IMAP_PERR_TOOBIG && cmd.lit.size == 100000 && !cmd.lit.sync);
	test_assert(imap_parser_skip(&ps, head, sizeof(head) - 1, &used) == IMAP_PARSE_MORE);
	test_assert(used == sizeof(head) - 1);
	test_assert(imap_parser_skip_pending(&ps) == 100000);
	while (imap_parser_skip_pending(&ps) > 0) {
		test_assert(imap_parser_skip(&ps, chunk, sizeof(chunk), &used) == IMAP_PARSE_MORE);
		total += used;
		if (used == 0)
			break;
	}
	test_assert(total == 100000 + (4096 - 100000 % 4096) % 4096); /* the last chunk's tail */
	imap_parser_deinit(&ps);

	/* the same with the line that follows the literal and the next command */
	imap_parser_init(&ps, NULL);
	static const char all[] = "w2 X {5+}\r\n{3}\r\n x\r\nw3 NOOP\r\n";
	struct imap_parse_limits lim;
	imap_parse_limits_default(&lim);
	lim.nonsync_max = 4;
	ps.lim = lim;
	imap_parser_reset(&ps);
	test_assert(imap_parser_feed(&ps, all, sizeof(all) - 1, &cmd) == IMAP_PARSE_ERROR);
	test_assert(imap_parser_skip(&ps, all, sizeof(all) - 1, &used) == IMAP_PARSE_DONE);
	test_assert(used == 20 && memcmp(all + used, "w3", 2) == 0);
	imap_parser_reset(&ps);
	test_assert(parse_all(&ps, all + used, sizeof(all) - 1 - used, &cmd) == IMAP_PARSE_DONE);
	test_assert(strcmp(cmd.name, "NOOP") == 0);
	imap_parser_deinit(&ps);
	test_end();
}

static void test_limits_default(void)
{
	struct imap_parser ps;
	struct imap_command cmd;
	struct buf b = {0};

	test_begin("P6: default limits: 64 KiB of text, 10,000 nodes, 16 levels; reset shrinks");
	imap_parser_init(&ps, NULL);
	/* exactly IMAP_LINE_MAX octets, CRLF included */
	buf_append_str(&b, "h1 X ");
	while (b.len < IMAP_LINE_MAX - 2)
		buf_append_c(&b, 'a');
	buf_append_str(&b, "\r\n");
	test_assert(parse_all(&ps, b.data, b.len, &cmd) == IMAP_PARSE_DONE);
	test_assert(cmd.args->str.len == IMAP_LINE_MAX - 7);
	imap_parser_reset(&ps);
	buf_clear(&b);
	buf_append_str(&b, "h2 X ");
	while (b.len < IMAP_LINE_MAX - 1)
		buf_append_c(&b, 'a');
	buf_append_str(&b, "\r\n");
	test_assert(parse_all(&ps, b.data, b.len, &cmd) == IMAP_PARSE_ERROR);
	test_assert(cmd.err == IMAP_PERR_TOOLONG && cmd.err_off == IMAP_LINE_MAX);
	imap_parser_reset(&ps);
	/* IMAP_NODES_MAX values pass, one more does not */
	for (int extra = 0; extra < 2; extra++) {
		buf_clear(&b);
		buf_append_str(&b, "h3 SEARCH");
		for (int i = 0; i < IMAP_NODES_MAX + extra; i++)
			buf_append_str(&b, " x");
		buf_append_str(&b, "\r\n");
		enum imap_parse_result r = parse_all(&ps, b.data, b.len, &cmd);
		test_assert(r == (extra ? IMAP_PARSE_ERROR : IMAP_PARSE_DONE));
		test_assert(extra ? cmd.err == IMAP_PERR_TOOMANY : cmd.argc == IMAP_NODES_MAX);
		test_assert(ps.n_nodes <= IMAP_NODES_MAX);
		imap_parser_reset(&ps);
		test_assert(ps.cap_nodes == 0 && ps.nodes == NULL); /* big arrays are let go */
	}
	/* 16 levels pass, 17 do not */
	for (int depth = IMAP_DEPTH_MAX; depth <= IMAP_DEPTH_MAX + 1; depth++) {
		buf_clear(&b);
		buf_append_str(&b, "h4 X ");
		for (int i = 0; i < depth; i++)
			buf_append_c(&b, '(');
		for (int i = 0; i < depth; i++)
			buf_append_c(&b, ')');
		buf_append_str(&b, "\r\n");
		enum imap_parse_result r = parse_all(&ps, b.data, b.len, &cmd);
		test_assert(r == (depth > IMAP_DEPTH_MAX ? IMAP_PARSE_ERROR : IMAP_PARSE_DONE));
		test_assert(depth <= IMAP_DEPTH_MAX || cmd.err == IMAP_PERR_TOODEEP);
		imap_parser_reset(&ps);
	}
	/* limits beyond what the parser can hold are clamped */
	ps.lim.depth_max = 1000;
	imap_parser_reset(&ps);
	test_assert(ps.lim.depth_max == IMAP_DEPTH_MAX);
	imap_parser_deinit(&ps);
	imap_parser_deinit(&ps); /* twice is harmless */
	buf_free(&b);
	test_end();
}

static void test_line(void)
{
	struct slice line;
	size_t used;
	bool nul;

	test_begin("imap_parse_line: DONE and AUTHENTICATE responses");
	test_assert(imap_parse_line("DONE\r\nx", 7, 100, &line, &used, &nul) == 1);
	test_assert(line.len == 4 && used == 6 && !nul);
	test_assert(imap_parse_line("=\n", 2, 100, &line, &used, &nul) == 1 && line.len == 1);
	test_assert(imap_parse_line("a\0b\r\n", 5, 100, &line, &used, &nul) == 1 && nul);
	test_assert(imap_parse_line("DON", 3, 100, &line, &used, &nul) == 0);
	test_assert(imap_parse_line("DONE", 4, 4, &line, &used, &nul) == -1);
	test_assert(imap_parse_line(NULL, 0, 4, &line, &used, &nul) == 0);
	test_end();
}

static void test_section(void)
{
	struct imap_section s;

	test_begin("imap_parse_section");
	test_assert(imap_parse_section(SLICE_LIT(""), false, &s) == 0 && s.n_parts == 0 &&
		    s.text == IMAP_SECTION_ALL);
	test_assert(imap_parse_section(SLICE_LIT("1.2.3"), false, &s) == 0 && s.n_parts == 3 &&
		    s.part[2] == 3 && s.text == IMAP_SECTION_ALL);
	test_assert(imap_parse_section(SLICE_LIT("4.header.fields.not"), false, &s) == 0 &&
		    s.n_parts == 1 && s.part[0] == 4 && s.text == IMAP_SECTION_HEADER_FIELDS_NOT);
	test_assert(imap_parse_section(SLICE_LIT("HEADER"), false, &s) == 0 &&
		    s.text == IMAP_SECTION_HEADER);
	test_assert(imap_parse_section(SLICE_LIT("TEXT"), false, &s) == 0 &&
		    s.text == IMAP_SECTION_TEXT);
	test_assert(imap_parse_section(SLICE_LIT("2.MIME"), false, &s) == 0 &&
		    s.text == IMAP_SECTION_MIME);
	test_assert(imap_parse_section(SLICE_LIT("4294967295"), true, &s) == 0 &&
		    s.part[0] == UINT32_MAX);
	static const char *const bad[] = {"MIME",  "1.",    "1..2",	  ".1",
					  "01",	   "0",	    "1HEADER",	  "HEADERS",
					  "1.2.X", "TEXT.", "4294967296", "HEADER.FIELDS.N",
					  "1 2"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		test_assert(imap_parse_section(slice_from(bad[i]), false, &s) == -1);
	test_assert(imap_parse_section(SLICE_LIT("1.TEXT"), true, &s) == -1);
	test_assert(imap_parse_section(SLICE_LIT("1.2"), true, NULL) == 0);
	struct buf deep = {0};
	for (int i = 0; i <= IMAP_SECTION_PARTS_MAX; i++)
		buf_append_str(&deep, i ? ".1" : "1");
	test_assert(imap_parse_section((struct slice){deep.data, deep.len}, false, &s) == -1);
	buf_free(&deep);
	test_end();
}

static void test_seqset(void)
{
	struct imap_seq_range r[4];
	struct imap_seqset set = {r, 4, 0, false};
	const char *err = NULL;

	test_begin("imap_parse_seqset and ranges");
	test_assert(imap_parse_seqset(SLICE_LIT("1:*"), false, &set, &err) == 0 && set.n == 1);
	test_assert(r[0].lo == 1 && r[0].hi == IMAP_SEQ_STAR);
	test_assert(imap_parse_seqset(SLICE_LIT("1,3:5,7"), false, &set, &err) == 0 && set.n == 3);
	test_assert(r[1].lo == 3 && r[1].hi == 5 && r[2].lo == 7 && r[2].hi == 7);
	test_assert(imap_parse_seqset(SLICE_LIT("9:2,*:4,*"), false, &set, &err) == 0);
	test_assert(set.n == 3 && r[0].lo == 2 && r[0].hi == 9 && r[1].lo == 4 &&
		    r[1].hi == IMAP_SEQ_STAR && r[2].lo == IMAP_SEQ_STAR);
	test_assert(imap_parse_seqset(SLICE_LIT("4294967295"), false, &set, &err) == 0 &&
		    r[0].lo == UINT32_MAX);
	test_assert(imap_parse_seqset(SLICE_LIT("$"), true, &set, &err) == 0 && set.last &&
		    set.n == 0);
	static const char *const bad[] = {"",	 "0",  "0:5",	     "1,,2", ",1",    "1,",
					  "1:",	 ":1", "4294967296", "01",   "1:2:3", "a",
					  "1 2", "$",  "1,$",	     "**",   "1:*x"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		err = NULL;
		test_assert(imap_parse_seqset(slice_from(bad[i]), i == 13 ? false : i == 14, &set,
					      &err) == -1 &&
			    err != NULL);
	}
	test_assert(imap_parse_seqset(SLICE_LIT("1,2,3,4"), false, &set, &err) == 0);
	test_assert(imap_parse_seqset(SLICE_LIT("1,2,3,4,5"), false, &set, &err) == -1);
	test_assert(strstr(err, "Too many") != NULL);
	struct imap_seq_range x =
	    imap_seq_range_resolve((struct imap_seq_range){5, IMAP_SEQ_STAR}, 3);
	test_assert(x.lo == 3 && x.hi == 5);
	x = imap_seq_range_resolve((struct imap_seq_range){IMAP_SEQ_STAR, IMAP_SEQ_STAR}, 9);
	test_assert(x.lo == 9 && x.hi == 9);
	x = imap_seq_range_resolve((struct imap_seq_range){2, 4}, 3);
	test_assert(x.lo == 2 && x.hi == 4);
	test_end();
}

static void test_dates(void)
{
	time_t t;
	int zone;

	test_begin("imap_parse_date and imap_parse_date_time");
	test_assert(imap_parse_date(SLICE_LIT("1-Feb-1994"), &t) == 0 && t == 760060800);
	test_assert(imap_parse_date(SLICE_LIT("01-feb-1994"), &t) == 0 && t == 760060800);
	test_assert(imap_parse_date(SLICE_LIT("1-Jan-1970"), &t) == 0 && t == 0);
	test_assert(imap_parse_date(SLICE_LIT("29-Feb-2000"), &t) == 0 && t == 951782400);
	test_assert(imap_parse_date(SLICE_LIT("31-Dec-1969"), &t) == 0 && t == -86400);
	static const char *const bad_dates[] = {"",
						"1-Feb-94",
						"001-Feb-1994",
						"1-Feb-19940",
						"32-Jan-2000",
						"0-Jan-2000",
						"29-Feb-1900",
						"29-Feb-2001",
						"31-Apr-2001",
						"1-Fev-1994",
						"1 Feb 1994",
						"1-Feb-1994 ",
						" 1-Feb-1994",
						"1-Febr-1994",
						"1--1994",
						"\"1-Feb-1994\""};
	for (size_t i = 0; i < N_ELEMENTS(bad_dates); i++)
		test_assert(imap_parse_date(slice_from(bad_dates[i]), &t) == -1);

	test_assert(imap_parse_date_time(SLICE_LIT("17-Jul-1996 02:44:25 -0700"), &t, &zone) == 0);
	test_assert(t == 837596665 && zone == -420);
	test_assert(imap_parse_date_time(SLICE_LIT(" 7-Jul-1996 02:44:25 +0000"), &t, &zone) == 0);
	test_assert(t == 836707465 && zone == 0);
	test_assert(imap_parse_date_time(SLICE_LIT("07-Jul-1996 02:44:25 +0000"), &t, &zone) == 0 &&
		    t == 836707465);
	test_assert(imap_parse_date_time(SLICE_LIT("7-Jul-1996 02:44:25 +0000"), &t, &zone) == 0 &&
		    t == 836707465);
	test_assert(imap_parse_date_time(SLICE_LIT("01-Jan-2000 00:30:00 +0545"), &t, &zone) == 0);
	test_assert(t == 946684800 + 1800 - 345 * 60 && zone == 345);
	test_assert(imap_parse_date_time(SLICE_LIT("31-Dec-2016 23:59:60 +0000"), &t, &zone) == 0 &&
		    t == 1483228800);
	static const char *const bad_times[] = {
	    "17-Jul-1996 02:44:25",	   "17-Jul-1996 02:44:25 0700",
	    "17-Jul-1996 02:44:25 -070",   "17-Jul-1996 02:44:25 -07000",
	    "17-Jul-1996 24:00:00 +0000",  "17-Jul-1996 02:60:00 +0000",
	    "17-Jul-1996 02:44:61 +0000",  "17-Jul-1996 2:44:25 +0000",
	    "17-Jul-1996 02:44 +0000",	   "17-Jul-1996 02:44:25 +0060",
	    "17-Jul-1996 02:44:25 +2400",  "  7-Jul-1996 02:44:25 +0000",
	    " 17-Jul-1996 02:44:25 +0000", "17-Jul-1996  02:44:25 +0000",
	    "30-Feb-1996 02:44:25 +0000",  "17-Jul-1996 02:44:25 -0700 "};
	for (size_t i = 0; i < N_ELEMENTS(bad_times); i++)
		test_assert(imap_parse_date_time(slice_from(bad_times[i]), &t, &zone) == -1);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_table, test_cut_independence, test_nodes,
					   test_literal_event, test_linear, test_skip_pending,
					   test_limits_default, test_line, test_section,
					   test_seqset, test_dates, NULL});
}
