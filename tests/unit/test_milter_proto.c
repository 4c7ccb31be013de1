/* SPDX-License-Identifier: MIT */
/*
 * test_milter_proto.c - the milter protocol as bytes (filter/milter_proto.h).
 *
 * Every encoder against the packet written out by hand from the protocol
 * (a 4-octet big-endian length of command and data, the command octet,
 * strings with their NUL, 32-bit big-endian numbers, CONNECT's 16-bit
 * port). The reader on every reply a filter may send, fed whole, cut in two
 * at every point and one octet at a time (the result must not change), two
 * packets in one read, and every malformed form it must refuse. Octal
 * escapes (\000) keep the byte strings unambiguous.
 */
#include "filter/milter_proto.h"
#include "test_common.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BYTES(s) s, sizeof(s) - 1

static bool same(const struct buf *b, const char *p, size_t len)
{
	if (b->len != len || memcmp(b->data, p, len) != 0) {
		fprintf(stderr, "  got %zu octets:", b->len);
		for (size_t i = 0; i < b->len; i++)
			fprintf(stderr, " %02x", (unsigned char)b->data[i]);
		fprintf(stderr, "\n");
		return false;
	}
	return true;
}

static void test_encode_negotiation(void)
{
	struct buf b = {0};

	test_begin("milter encode: OPTNEG, MACRO");
	test_assert(milter_put_optneg(&b, 6, 0x1ff, 0x1fffff));
	test_assert(same(&b, BYTES("\000\000\000\015O\000\000\000\006\000\000\001\377"
				   "\000\037\377\377")));
	buf_clear(&b);
	const char *names[] = {"j", "{daemon_name}"};
	const char *values[] = {"mx.example", "smtp"};
	test_assert(milter_put_macro(&b, SMFIC_CONNECT, names, values, 2));
	test_assert(
	    same(&b, BYTES("\000\000\000\042DCj\000mx.example\000{daemon_name}\000smtp\000")));
	buf_clear(&b);
	test_assert(milter_put_macro(&b, SMFIC_BODYEOB, names, values, 0));
	test_assert(same(&b, BYTES("\000\000\000\002DE")));
	buf_free(&b);
	test_end();
}

static void test_encode_connect(void)
{
	struct buf b = {0};

	test_begin("milter encode: CONNECT for each family, HELO");
	test_assert(milter_put_connect(&b, "[192.0.2.1]", SMFIA_INET, 2525, "192.0.2.1"));
	test_assert(same(&b, BYTES("\000\000\000\032C[192.0.2.1]\0004\011\335192.0.2.1\000")));
	buf_clear(&b);
	test_assert(milter_put_connect(&b, "h", SMFIA_INET6, 25, "::1"));
	test_assert(same(&b, BYTES("\000\000\000\012Ch\0006\000\031::1\000")));
	buf_clear(&b);
	test_assert(milter_put_connect(&b, "localhost", SMFIA_UNIX, 0, "/run/x"));
	test_assert(same(&b, BYTES("\000\000\000\025Clocalhost\000L\000\000/run/x\000")));
	buf_clear(&b);
	test_assert(milter_put_connect(&b, "localhost", SMFIA_UNKNOWN, 0, NULL));
	test_assert(same(&b, BYTES("\000\000\000\014Clocalhost\000U")));
	buf_clear(&b);
	test_assert(milter_put_helo(&b, "client.example"));
	test_assert(same(&b, BYTES("\000\000\000\020Hclient.example\000")));
	buf_free(&b);
	test_end();
}

static void test_encode_envelope(void)
{
	struct buf b = {0};
	const char *margs[] = {"SIZE=100", "BODY=8BITMIME"};
	const char *rargs[] = {"NOTIFY=NEVER"};

	test_begin("milter encode: MAIL and RCPT with ESMTP arguments");
	test_assert(milter_put_mail(&b, "<a@b.example>", margs, 2));
	test_assert(
	    same(&b, BYTES("\000\000\000\046M<a@b.example>\000SIZE=100\000BODY=8BITMIME\000")));
	buf_clear(&b);
	test_assert(milter_put_mail(&b, "<>", margs, 0));
	test_assert(same(&b, BYTES("\000\000\000\004M<>\000")));
	buf_clear(&b);
	test_assert(milter_put_rcpt(&b, "<c@d.example>", rargs, 1));
	test_assert(same(&b, BYTES("\000\000\000\034R<c@d.example>\000NOTIFY=NEVER\000")));
	buf_clear(&b);
	test_assert(milter_put_rcpt(&b, "<c@d.example>", rargs, 0));
	test_assert(same(&b, BYTES("\000\000\000\017R<c@d.example>\000")));
	buf_free(&b);
	test_end();
}

static void test_encode_message(void)
{
	struct buf b = {0};
	char *big = malloc(MILTER_CHUNK_SIZE + 1);

	test_begin("milter encode: HEADER, BODY, UNKNOWN and the commands without data");
	test_assert(milter_put_header(&b, "Subject", "hi\n\tthere"));
	test_assert(same(&b, BYTES("\000\000\000\023LSubject\000hi\n\tthere\000")));
	buf_clear(&b);
	test_assert(milter_put_header(&b, "X-Empty", ""));
	test_assert(same(&b, BYTES("\000\000\000\012LX-Empty\000\000")));
	buf_clear(&b);
	test_assert(milter_put_body(&b, "abc\r\n", 5));
	test_assert(same(&b, BYTES("\000\000\000\006Babc\r\n")));
	buf_clear(&b);
	test_assert(milter_put_body(&b, "a\000b", 3)); /* octets as they are */
	test_assert(same(&b, BYTES("\000\000\000\004Ba\000b")));
	buf_clear(&b);
	memset(big, 'x', MILTER_CHUNK_SIZE + 1);
	test_assert(milter_put_body(&b, big, MILTER_CHUNK_SIZE));
	test_assert(b.len == 5 + MILTER_CHUNK_SIZE && memcmp(b.data, "\000\001\000\000B", 5) == 0);
	buf_clear(&b);
	test_assert(!milter_put_body(&b, big, MILTER_CHUNK_SIZE + 1));
	test_assert(b.len == 0);
	big[MILTER_CHUNK_SIZE] = '\0';
	test_assert(!milter_put_header(&b, "X-Big", big)); /* data over 64 KiB - 1 */
	test_assert(!milter_put_helo(&b, big));
	test_assert(b.len == 0);
	test_assert(milter_put_unknown(&b, "XFOO bar"));
	test_assert(same(&b, BYTES("\000\000\000\012UXFOO bar\000")));
	static const char simple[] = {SMFIC_DATA,  SMFIC_EOH,  SMFIC_BODYEOB,
				      SMFIC_ABORT, SMFIC_QUIT, SMFIC_QUIT_NC};
	static const char *const bytes[] = {"\000\000\000\001T", "\000\000\000\001N",
					    "\000\000\000\001E", "\000\000\000\001A",
					    "\000\000\000\001Q", "\000\000\000\001K"};
	for (size_t i = 0; i < N_ELEMENTS(simple); i++) {
		buf_clear(&b);
		test_assert(milter_put_simple(&b, simple[i]));
		test_assert(same(&b, bytes[i], 5));
	}
	buf_clear(&b);
	test_assert(!milter_put_simple(&b, SMFIC_HEADER));
	test_assert(!milter_put_simple(&b, 'Z'));
	test_assert(b.len == 0);
	free(big);
	buf_free(&b);
	test_end();
}

/* --- the reader --------------------------------------------------------------------------- */

static void slice_out(struct buf *o, const char *tag, struct slice s)
{
	buf_printf(o, " %s[", tag);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf_append_c(o, (char)c);
		else
			buf_printf(o, "\\%03o", c);
	}
	buf_append_c(o, ']');
}

/* Everything a reply holds, as text to compare. */
static void describe(const struct milter_reply *r, struct buf *o)
{
	buf_printf(o, "%s", milter_cmd_name(r->cmd, true));
	switch (r->cmd) {
	case SMFIC_OPTNEG:
		buf_printf(o, " %u 0x%x 0x%x", (unsigned)r->version, (unsigned)r->actions,
			   (unsigned)r->protocol);
		/* fall through */
	case SMFIR_SETSYMLIST:
		for (size_t i = 0; i < r->n_symlists; i++) {
			buf_printf(o, " %u:", (unsigned)r->symlists[i].stage);
			slice_out(o, "", r->symlists[i].names);
		}
		break;
	case SMFIR_REPLYCODE:
		buf_printf(o, " %d", r->code);
		slice_out(o, "", r->text);
		break;
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		buf_printf(o, " %u", (unsigned)r->index);
		/* fall through */
	case SMFIR_ADDHEADER:
		slice_out(o, "", r->name);
		slice_out(o, "", r->value);
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_ADDRCPT_PAR:
	case SMFIR_CHGFROM:
		slice_out(o, "", r->addr);
		slice_out(o, "", r->args);
		break;
	case SMFIR_REPLBODY:
	case SMFIR_QUARANTINE:
		slice_out(o, "", r->data);
		break;
	default:
		break;
	}
}

struct good {
	const char *in;
	size_t len;
	const char *want;
};

#define GOOD(bytes, want)                                                                          \
	{                                                                                          \
		bytes, sizeof(bytes) - 1, want                                                     \
	}

/* a negotiation reply with two macro lists (SETSYMLIST) */
static const char OPTNEG_LISTS[] = "\000\000\000\061O\000\000\000\006\000\000\001\000"
				   "\000\000\000\000\000\000\000\001{tls_version}\000"
				   "\000\000\000\002{auth_authen}\000";

static const struct good goods[] = {
    GOOD("\000\000\000\001a", "ACCEPT"),
    GOOD("\000\000\000\001c", "CONTINUE"),
    GOOD("\000\000\000\001d", "DISCARD"),
    GOOD("\000\000\000\001r", "REJECT"),
    GOOD("\000\000\000\001t", "TEMPFAIL"),
    GOOD("\000\000\000\001s", "SKIP"),
    GOOD("\000\000\000\001p", "PROGRESS"),
    GOOD("\000\000\000\0014", "SHUTDOWN"),
    GOOD("\000\000\000\001f", "CONN_FAIL"),
    GOOD("\000\000\000\023y550 5.7.1 Go away\000", "REPLYCODE 550 [550 5.7.1 Go away]"),
    GOOD("\000\000\000\013y421 4.3.2\000", "REPLYCODE 421 [421 4.3.2]"),
    GOOD("\000\000\000\036y451-4.7.1 one\r\n451 4.7.1 two\000",
	 "REPLYCODE 451 [451-4.7.1 one\\015\\012451 4.7.1 two]"),
    GOOD("\000\000\000\024y554 5.123.456 \ttab\000", "REPLYCODE 554 [554 5.123.456 \\011tab]"),
    GOOD("\000\000\000\016qspam score 9\000", "QUARANTINE [spam score 9]"),
    GOOD("\000\000\000\011hX-A\000yes\000", "ADDHEADER [X-A] [yes]"),
    GOOD("\000\000\000\012hX-F\000a\n\tb\000", "ADDHEADER [X-F] [a\\012\\011b]"),
    GOOD("\000\000\000\013hX-F\000a\r\n b\000", "ADDHEADER [X-F] [a\\015\\012 b]"),
    GOOD("\000\000\000\006hX-E\000\000", "ADDHEADER [X-E] []"),
    GOOD("\000\000\000\013i\000\000\000\000X-B\000v\000", "INSHEADER 0 [X-B] [v]"),
    GOOD("\000\000\000\016m\000\000\000\002Subject\000\000", "CHGHEADER 2 [Subject] []"),
    GOOD("\000\000\000\017m\000\000\001\000Subject\000x\000", "CHGHEADER 256 [Subject] [x]"),
    GOOD("\000\000\000\007-<x@y>\000", "DELRCPT [<x@y>] []"),
    GOOD("\000\000\000\007+<n@y>\000", "ADDRCPT [<n@y>] []"),
    GOOD("\000\000\000\0242<n@y>\000NOTIFY=NEVER\000", "ADDRCPT_PAR [<n@y>] [NOTIFY=NEVER]"),
    GOOD("\000\000\000\0072<n@y>\000", "ADDRCPT_PAR [<n@y>] []"),
    GOOD("\000\000\000\004e<>\000", "CHGFROM [<>] []"),
    GOOD("\000\000\000\016e<s@y>\000SIZE=1\000", "CHGFROM [<s@y>] [SIZE=1]"),
    GOOD("\000\000\000\014bnew\r\nbody\r\n", "REPLBODY [new\\015\\012body\\015\\012]"),
    GOOD("\000\000\000\004ba\000b", "REPLBODY [a\\000b]"),
    GOOD("\000\000\000\001b", "REPLBODY []"),
    GOOD("\000\000\000\023l\000\000\000\002{mail_addr} i\000", "SETSYMLIST 2: [{mail_addr} i]"),
    GOOD("\000\000\000\015O\000\000\000\006\000\000\000\003\000\000\000\020", "OPTNEG 6 0x3 0x10"),
    GOOD(OPTNEG_LISTS, "OPTNEG 6 0x100 0x0 1: [{tls_version}] 2: [{auth_authen}]"),
};

/* Feeds in at the cuts (each a length; the rest after the last), one
   packet; the reply described in o, or "BAD error". Returns the octets
   used. */
static size_t read_cut(struct milter_reader *r, const char *in, size_t len, const size_t *cuts,
		       size_t n_cuts, struct buf *o)
{
	size_t off = 0;
	enum milter_read_status st = MILTER_READ_MORE;

	milter_reader_init(r);
	for (size_t i = 0; i <= n_cuts && st == MILTER_READ_MORE; i++) {
		size_t end = i < n_cuts ? cuts[i] : len, used;
		st = milter_reader_feed(r, in + off, end - off, &used);
		test_assert(used <= end - off);
		test_assert(st != MILTER_READ_MORE || used == end - off);
		off += used;
	}
	buf_clear(o);
	if (st == MILTER_READ_PACKET)
		describe(&r->reply, o);
	else if (st == MILTER_READ_BAD)
		buf_printf(o, "BAD %s", milter_read_error_text(r->error));
	else
		buf_printf(o, "MORE");
	return off;
}

static void test_read_every_reply(void)
{
	struct milter_reader *r = malloc(sizeof(*r));
	struct buf o = {0};

	test_begin("milter read: every reply, whole, cut in two anywhere, octet by octet");
	for (size_t i = 0; i < N_ELEMENTS(goods); i++) {
		const struct good *g = &goods[i];
		size_t used = read_cut(r, g->in, g->len, NULL, 0, &o);
		if (strcmp(o.data, g->want) != 0)
			fprintf(stderr, "  case %zu: %s\n", i, o.data);
		test_assert_str(o.data, g->want);
		test_assert(used == g->len);
		for (size_t k = 0; k <= g->len; k++) {
			used = read_cut(r, g->in, g->len, &k, 1, &o);
			test_assert_str(o.data, g->want);
			test_assert(used == g->len);
		}
		size_t *each = malloc(g->len * sizeof(size_t));
		for (size_t k = 0; k < g->len; k++)
			each[k] = k + 1;
		used = read_cut(r, g->in, g->len, each, g->len, &o);
		test_assert_str(o.data, g->want);
		test_assert(used == g->len);
		free(each);
		/* nothing but the packet is taken from what follows it */
		char *two = malloc(g->len + 5);
		memcpy(two, g->in, g->len);
		memcpy(two + g->len, "\000\000\000\001c", 5);
		used = read_cut(r, two, g->len + 5, NULL, 0, &o);
		test_assert(used == g->len);
		test_assert_str(o.data, g->want);
		size_t more;
		test_assert(milter_reader_feed(r, two + used, 5, &more) == MILTER_READ_PACKET);
		test_assert(more == 5 && r->reply.cmd == SMFIR_CONTINUE);
		free(two);
	}
	buf_free(&o);
	free(r);
	test_end();
}

struct bad_case {
	const char *in;
	size_t len;
	enum milter_read_error error;
	size_t used;
};

#define BAD(bytes, err)                                                                            \
	{                                                                                          \
		bytes, sizeof(bytes) - 1, err, sizeof(bytes) - 1                                   \
	}

static const struct bad_case bads[] = {
    {"\000\000\000\000c", 5, MILTER_ERR_EMPTY, 4},
    {"\000\001\005\000", 4, MILTER_ERR_TOO_LONG, 4}, /* 66816 > MILTER_PACKET_MAX */
    {"\377\377\377\377a", 5, MILTER_ERR_TOO_LONG, 4},
    BAD("\000\000\000\001Z", MILTER_ERR_UNKNOWN),
    BAD("\000\000\000\001H", MILTER_ERR_UNKNOWN), /* an MTA command */
    BAD("\000\000\000\002ax", MILTER_ERR_DATA),
    BAD("\000\000\000\002p\000", MILTER_ERR_DATA),
    BAD("\000\000\000\004y550", MILTER_ERR_SHORT),
    BAD("\000\000\000\016y250 2.0.0 ok\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\015y550 4.7.1 x\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\017y550 5.7.1 x\r\n\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\032y550-5.7.1 a\r\n551 5.7.1 b\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\032y550 5.7.1 a\r\n550 5.7.1 b\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\015y550-5.7.1 a\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\012y550 Nope\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\015y560 5.7.1 x\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\017y550 5.7.1 a\nb\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\020y550 5.1234.1 x\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\015y550 5.7.1 \351\000", MILTER_ERR_REPLY),
    BAD("\000\000\000\014y550 5.7.1\000\000", MILTER_ERR_DATA),
    BAD("\000\000\000\007hX:A\000v\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\006h\000val\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\007hX A\000v\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\017hX-A\000v\r\nBcc: e\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\011hX-A\000a\rb\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\010hX-A\000a\n\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\011hX-A\000a\r\n\000", MILTER_ERR_HEADER),
    BAD("\000\000\000\006hX-A\000v", MILTER_ERR_SHORT),
    BAD("\000\000\000\005hX-A\000", MILTER_ERR_SHORT),
    BAD("\000\000\000\010hX-A\000v\000z", MILTER_ERR_DATA),
    BAD("\000\000\000\003i\000\000", MILTER_ERR_SHORT),
    BAD("\000\000\000\005m\000\000\000\001", MILTER_ERR_SHORT),
    BAD("\000\000\000\002-\000", MILTER_ERR_ADDRESS),
    BAD("\000\000\000\006+<a\r>\000", MILTER_ERR_ADDRESS),
    BAD("\000\000\000\011e<a>\000S\nZ\000", MILTER_ERR_ADDRESS),
    BAD("\000\000\000\004+<a>", MILTER_ERR_SHORT),
    BAD("\000\000\000\007+<a>\000b\000", MILTER_ERR_DATA),
    BAD("\000\000\000\002q\000", MILTER_ERR_TEXT),
    BAD("\000\000\000\004qa\tb", MILTER_ERR_SHORT),
    BAD("\000\000\000\005qa\tb\000", MILTER_ERR_TEXT),
    BAD("\000\000\000\011O\000\000\000\006\000\000\000\000", MILTER_ERR_NEGOTIATE),
    BAD("\000\000\000\022O\000\000\000\006\000\000\000\000\000\000\000\000\000\000\000\001i",
	MILTER_ERR_SHORT),
    BAD("\000\000\000\024O\000\000\000\006\000\000\000\000\000\000\000\000\000\000\000\001i\n\000",
	MILTER_ERR_SYMLIST),
    BAD("\000\000\000\005l\000\000\000\001", MILTER_ERR_SHORT),
};

static void test_read_refused(void)
{
	struct milter_reader *r = malloc(sizeof(*r));
	struct buf o = {0}, want = {0};

	test_begin("milter read: malformed replies stop the reader, however cut");
	for (size_t i = 0; i < N_ELEMENTS(bads); i++) {
		const struct bad_case *b = &bads[i];
		buf_clear(&want);
		buf_printf(&want, "BAD %s", milter_read_error_text(b->error));
		size_t used = read_cut(r, b->in, b->len, NULL, 0, &o);
		if (strcmp(o.data, want.data) != 0)
			fprintf(stderr, "  case %zu: %s\n", i, o.data);
		test_assert_str(o.data, want.data);
		test_assert(used == b->used);
		size_t *each = malloc(b->len * sizeof(size_t));
		for (size_t k = 0; k < b->len; k++)
			each[k] = k + 1;
		used = read_cut(r, b->in, b->len, each, b->len, &o);
		test_assert_str(o.data, want.data);
		test_assert(used == b->used);
		free(each);
		/* stuck: no more is read */
		size_t more = 9;
		test_assert(milter_reader_feed(r, "\000\000\000\001a", 5, &more) ==
			    MILTER_READ_BAD);
		test_assert(more == 0);
	}
	/* MILTER_SYMLISTS_MAX lists at most */
	struct buf opt = {0};
	buf_append(&opt, "O\000\000\000\006\000\000\001\000\000\000\000\000", 13);
	for (int i = 0; i <= MILTER_SYMLISTS_MAX; i++)
		buf_append(&opt, "\000\000\000\001i\000", 6);
	struct buf pkt = {0};
	char head[4] = {0, 0, (char)(opt.len >> 8), (char)opt.len};
	buf_append(&pkt, head, 4);
	buf_append(&pkt, opt.data, opt.len);
	read_cut(r, pkt.data, pkt.len, NULL, 0, &o);
	test_assert_str(o.data, "BAD malformed macro list");
	buf_free(&opt);
	buf_free(&pkt);
	buf_free(&o);
	buf_free(&want);
	free(r);
	test_end();
}

static void test_read_limits(void)
{
	struct milter_reader *r = malloc(sizeof(*r));
	size_t n = MILTER_PACKET_MAX; /* the largest packet read: a REPLBODY */
	char *pkt = malloc(n + 4);
	size_t used;

	test_begin("milter read: the largest packet, and one octet more");
	pkt[0] = (char)(n >> 24);
	pkt[1] = (char)(n >> 16);
	pkt[2] = (char)(n >> 8);
	pkt[3] = (char)n;
	pkt[4] = SMFIR_REPLBODY;
	memset(pkt + 5, 'b', n - 1);
	milter_reader_init(r);
	test_assert(milter_reader_feed(r, pkt, n + 4, &used) == MILTER_READ_PACKET);
	test_assert(used == n + 4 && r->reply.data.len == n - 1);
	n++;
	pkt[2] = (char)(n >> 8);
	pkt[3] = (char)n;
	milter_reader_init(r);
	test_assert(milter_reader_feed(r, pkt, 4, &used) == MILTER_READ_BAD);
	test_assert(r->error == MILTER_ERR_TOO_LONG);
	free(pkt);
	free(r);
	test_end();
}

static void test_reply_text(void)
{
	int code = 0;
	test_begin("milter: SMTP replies a filter may give");
	test_assert(milter_reply_text_valid(BYTES("550 5.7.1 No"), &code) && code == 550);
	test_assert(
	    milter_reply_text_valid(BYTES("421-4.7.0 a\r\n421-4.7.0 b\r\n421 4.7.0 c"), &code) &&
	    code == 421);
	test_assert(!milter_reply_text_valid(BYTES(""), &code));
	test_assert(!milter_reply_text_valid(BYTES("550"), &code));
	test_assert(!milter_reply_text_valid(BYTES("550 5.7."), &code));
	test_assert(!milter_reply_text_valid(BYTES("550 5.7.1x"), &code));
	test_assert(!milter_reply_text_valid(BYTES("550 5.7.1 a\r\n"), &code));
	test_assert(!milter_reply_text_valid(BYTES("350 3.0.0 go on"), &code));
	struct buf many = {0};
	for (int i = 0; i < MILTER_REPLY_LINES_MAX; i++)
		buf_printf(&many, "550-5.7.1 line\r\n");
	buf_printf(&many, "550 5.7.1 last");
	test_assert(!milter_reply_text_valid(many.data, many.len, &code));
	buf_free(&many);
	test_end();
}

static void test_names(void)
{
	test_begin("milter: command and reply names");
	test_assert_str(milter_cmd_name(SMFIR_ADDHEADER, true), "ADDHEADER");
	test_assert_str(milter_cmd_name(SMFIC_BODYEOB, false), "EOB");
	test_assert_str(milter_cmd_name('Z', true), "?");
	for (int e = MILTER_ERR_OK; e <= MILTER_ERR_NEGOTIATE; e++)
		test_assert(milter_read_error_text((enum milter_read_error)e)[0] != '\0');
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_encode_negotiation, test_encode_connect,
					   test_encode_envelope, test_encode_message,
					   test_read_every_reply, test_read_refused,
					   test_read_limits, test_reply_text, test_names, NULL});
}
