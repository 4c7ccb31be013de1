/* SPDX-License-Identifier: MIT */
/*
 * test_mime_tree.c - the MIME structure (mime/mime_tree.h): tree shapes
 * and exact offsets for plain, multipart, nested and message/rfc822
 * messages; RFC 2046 delimiter rules (the CRLF before a delimiter, a
 * missing close delimiter, preamble and epilogue, a header cut short by
 * a delimiter); sizes and line counts with bare LFs; IMAP sections
 * (RFC 9051 §6.4.5); the serialised form (round trip, every truncation
 * and every flipped byte refused, a re-checksummed inconsistent blob
 * refused); the depth and part limits; parameters and addresses.
 */
#include "mime/mime_address.h"
#include "mime/mime_tree.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct mime_tree *parse(const char *s)
{
	return mime_tree_parse(s, strlen(s));
}

/* The text of [off, off + len) of msg, for test_assert_str(). */
static const char *text(const char *msg, size_t off, size_t len)
{
	static char out[4][512];
	static int k;
	char *o = out[k++ % 4];
	snprintf(o, sizeof(out[0]), "%.*s", (int)len, msg + off);
	return o;
}

static const char *body(const char *msg, const struct mime_part *p)
{
	return text(msg, p->body_off, p->body_len);
}

static const char *header(const char *msg, const struct mime_part *p)
{
	return text(msg, p->hdr_off, p->hdr_len);
}

static void test_plain(void)
{
	test_begin("plain message: header with its empty line, body, text/plain");
	const char *m = "Subject: hi\r\nTo: a@b.example\r\n\r\nline 1\r\nline 2\r\n";
	struct mime_tree *t = parse(m);
	const struct mime_part *r = mime_tree_root(t);
	test_assert(mime_tree_count(t) == 1);
	test_assert_str(header(m, r), "Subject: hi\r\nTo: a@b.example\r\n\r\n");
	test_assert_str(body(m, r), "line 1\r\nline 2\r\n");
	test_assert(r->body_lines == 2 && r->body_size == 16 && r->hdr_lines == 3);
	test_assert(r->type == NULL && (r->flags & MIME_PART_TEXT) && r->children == NULL);
	test_assert(r->envelope != NULL && r->envelope->to.n == 1);
	test_assert_str(r->envelope->subject, "hi");
	test_assert_str(r->envelope->to.v[0], "a@b.example");
	test_assert(r->envelope->date == NULL && r->envelope->from.n == 0);
	mime_tree_free(&t);
	test_assert(t == NULL);
	mime_tree_free(&t);
	test_end();
}

static const char MULTI[] = "MIME-Version: 1.0\r\n"
			    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
			    "\r\n"
			    "preamble\r\n"
			    "--b\r\n"
			    "Content-Type: text/plain; charset=utf-8\r\n"
			    "\r\n"
			    "one\r\n"
			    "\r\n"
			    "--b \r\n"
			    "Content-Type: message/rfc822\r\n"
			    "\r\n"
			    "Subject: inner\r\n"
			    "Content-Type: multipart/alternative; boundary=c\r\n"
			    "\r\n"
			    "--c\r\n"
			    "\r\n"
			    "plain\r\n"
			    "--c--\r\n"
			    "--b--\r\n"
			    "epilogue\r\n";

static void test_multipart(void)
{
	test_begin("multipart: children, the CRLF before a delimiter, rfc822");
	struct mime_tree *t = parse(MULTI);
	const struct mime_part *r = mime_tree_root(t);
	test_assert(mime_tree_count(t) == 5);
	test_assert((r->flags & MIME_PART_MULTIPART) && r->n_children == 2);
	test_assert_str(r->subtype, "mixed");
	test_assert(r->n_params == 1);
	test_assert_str(r->params[0].name, "boundary");
	test_assert_str(r->params[0].value, "b");

	const struct mime_part *one = r->children, *msg = one->next;
	test_assert_str(header(MULTI, one), "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	test_assert_str(body(MULTI, one), "one\r\n"); /* the last CRLF is the delimiter's */
	test_assert(one->body_lines == 1 && one->depth == 1 && one->parent == r);
	test_assert((msg->flags & MIME_PART_MESSAGE) && msg->n_children == 1 && msg->next == NULL);

	const struct mime_part *in = msg->children;
	test_assert(in->hdr_off == msg->body_off && in->envelope != NULL);
	test_assert_str(in->envelope->subject, "inner");
	test_assert((in->flags & MIME_PART_MULTIPART) && in->n_children == 1);
	test_assert_str(body(MULTI, in->children), "plain");
	test_assert(in->children->type == NULL && (in->children->flags & MIME_PART_TEXT));
	test_assert(in->children->depth == 3);
	/* the root's body runs to the end, epilogue included */
	test_assert(r->body_off + r->body_len == strlen(MULTI));
	test_assert(one->envelope == NULL);
	mime_tree_free(&t);
	test_end();
}

static void test_delimiters(void)
{
	test_begin("delimiters: no close, no boundary, cut header, prefixes");
	/* no close delimiter: the last part runs to the end */
	const char *m1 =
	    "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\r\n--x\r\n\r\nb\r\n";
	struct mime_tree *t = parse(m1);
	const struct mime_part *r = mime_tree_root(t);
	test_assert(r->n_children == 2);
	test_assert_str(body(m1, r->children->next), "b\r\n");
	mime_tree_free(&t);

	/* no boundary parameter: a multipart without children */
	t = parse("Content-Type: multipart/mixed\r\n\r\n--x\r\n\r\na\r\n");
	r = mime_tree_root(t);
	test_assert((r->flags & MIME_PART_MULTIPART) && r->n_children == 0);
	mime_tree_free(&t);

	/* a header cut short by a delimiter, and an empty last part */
	const char *m2 = "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
			 "--x\r\nContent-Type: text/html\r\n--x\r\n";
	t = parse(m2);
	r = mime_tree_root(t);
	test_assert(r->n_children == 2);
	test_assert_str(header(m2, r->children), "Content-Type: text/html");
	test_assert(r->children->body_len == 0);
	test_assert(r->children->next->hdr_len == 0 && r->children->next->body_len == 0);
	mime_tree_free(&t);

	/* a message/rfc822 part cut short keeps the line end (Dovecot) */
	const char *m3 = "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
			 "--x\r\nContent-Type: message/rfc822\r\n\r\nSubject: s\r\n--x--\r\n";
	t = parse(m3);
	const struct mime_part *msg = mime_tree_root(t)->children;
	test_assert_str(body(m3, msg), "Subject: s\r\n");
	test_assert_str(header(m3, msg->children), "Subject: s");
	test_assert(msg->body_lines == 1 && msg->children->hdr_lines == 0);
	mime_tree_free(&t);

	/* only the start of the line must match; the longest open one wins */
	const char *m4 = "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
			 "--a\r\nContent-Type: multipart/mixed; boundary=ab\r\n\r\n"
			 "--ab\r\n\r\nx\r\n--abc\r\n\r\ny\r\n--a-tail\r\n\r\nz\r\n--a--\r\n";
	t = parse(m4);
	r = mime_tree_root(t);
	test_assert(r->n_children == 2 && r->children->n_children == 2);
	test_assert_str(body(m4, r->children->next), "z");
	mime_tree_free(&t);
	test_end();
}

static void test_sizes(void)
{
	test_begin("sizes count bare LFs as CRLF; odd headers");
	const char *m =
	    "Content-Type: multipart/mixed; boundary=x\n\n--x\n\na\nb\n--x\r\n\r\nc\r\n\n--x--\n";
	struct mime_tree *t = parse(m);
	const struct mime_part *r = mime_tree_root(t), *a = r->children, *c = a->next;
	test_assert_str(body(m, a), "a\nb");
	test_assert(a->body_len == 3 && a->body_size == 4 && a->body_lines == 1);
	test_assert_str(body(m, c), "c\r\n");
	test_assert(c->body_size == 3 && c->body_lines == 1);
	test_assert(r->hdr_size == r->hdr_len + 2 && r->hdr_lines == 2);
	test_assert(r->body_size == r->body_len + 6);
	mime_tree_free(&t);

	/* no empty line: all header; no header at all: lines without colon */
	t = parse("Subject: x\r\nFrom: y");
	test_assert(mime_tree_root(t)->hdr_len == 19 && mime_tree_root(t)->body_len == 0);
	mime_tree_free(&t);
	const char *m2 = "just text\r\nmore\r\n\r\nbody";
	t = parse(m2);
	test_assert_str(body(m2, mime_tree_root(t)), "body");
	mime_tree_free(&t);
	t = mime_tree_parse("", 0);
	test_assert(mime_tree_count(t) == 1 && mime_tree_root(t)->hdr_len == 0);
	mime_tree_free(&t);
	test_end();
}

static void test_fields(void)
{
	test_begin("Content-* fields, MIME-Version, digest defaults");
	const char *m = "MIME-Version: 1.0\r\nContent-Type: TEXT/Plain; Charset=\"a\\\"b\" (c)\r\n"
			"Content-Transfer-Encoding: Base64 (x)\r\nContent-ID: <id>\r\n"
			"Content-Description: d\r\n e\r\nContent-MD5: m\r\n"
			"Content-Disposition: attachment; filename*0=a; filename*1=b\r\n"
			"Content-Language: en, de-AT\r\nContent-Location: here\r\n\r\n";
	struct mime_tree *t = parse(m);
	const struct mime_part *r = mime_tree_root(t);
	test_assert_str(r->type, "TEXT");
	test_assert_str(r->subtype, "Plain");
	test_assert(r->n_params == 1 && (r->flags & MIME_PART_TEXT));
	test_assert_str(r->params[0].value, "a\"b");
	test_assert_str(r->encoding, "Base64");
	test_assert_str(r->id, "<id>");
	test_assert_str(r->description, "d\n e");
	test_assert_str(r->md5, "m");
	test_assert_str(r->disposition, "attachment");
	test_assert(r->n_disp_params == 1);
	test_assert_str(r->disp_params[0].name, "filename");
	test_assert_str(r->disp_params[0].value, "ab");
	test_assert(r->language.n == 2);
	test_assert_str(r->language.v[1], "de-AT");
	test_assert_str(r->location, "here");
	mime_tree_free(&t);

	/* without MIME-Version or Content-Type every Content-* is forgotten */
	t = parse("Content-Transfer-Encoding: base64\r\nContent-ID: <x>\r\n\r\n");
	test_assert(mime_tree_root(t)->encoding == NULL && mime_tree_root(t)->id == NULL);
	mime_tree_free(&t);

	/* a digest's parts are message/rfc822 unless they say otherwise */
	t = parse(
	    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nb\r\n"
	    "--d\r\nContent-Type: text/plain\r\n\r\nt\r\n--d--\r\n");
	r = mime_tree_root(t);
	test_assert((r->flags & MIME_PART_DIGEST) && r->n_children == 2);
	test_assert((r->children->flags & MIME_PART_MESSAGE) && r->children->type == NULL);
	test_assert_str(r->children->children->envelope->subject, "s");
	test_assert(r->children->next->flags & MIME_PART_TEXT);
	mime_tree_free(&t);

	/* a NUL ends a token; in a quoted string it is U+FFFD; raw fields
	   keep U+FFFD, address fields their NUL */
	static const char nul[] = "Content-Type: text/plain; charset=us\0x; name=\"a\0b\"\r\n"
				  "Content-ID: <a\0b>\r\nFrom: x\0y <u@v.example>\r\n\r\n";
	t = mime_tree_parse(nul, sizeof(nul) - 1);
	r = mime_tree_root(t);
	test_assert(r->n_params == 2);
	test_assert_str(r->params[0].value, "us");
	test_assert_str(r->params[1].value, "a\xef\xbf\xbd"
					    "b");
	test_assert_str(r->id, "<a\xef\xbf\xbd"
			       "b>");
	test_assert(r->envelope->from.n == 1 && r->envelope->from.len[0] == 17);
	test_assert(memcmp(r->envelope->from.v[0], "x\0y <u@v.example>", 17) == 0);
	mime_tree_free(&t);

	/* a type without a subtype, and one broken after it */
	t = parse("Content-Type: text\r\n\r\n");
	test_assert_str(mime_tree_root(t)->type, "text");
	test_assert_str(mime_tree_root(t)->subtype, "");
	mime_tree_free(&t);
	t = parse("Content-Type: text/plain junk; charset=x\r\n\r\n");
	test_assert_str(mime_tree_root(t)->type, "");
	test_assert(mime_tree_root(t)->n_params == 0 &&
		    !(mime_tree_root(t)->flags & MIME_PART_TEXT));
	mime_tree_free(&t);
	test_end();
}

static void test_params(void)
{
	test_begin("RFC 2231 parameters: merged, kept encoded, decoded on request");
	const char *m = "Content-Type: application/x; a=1; n*1*=%20b; n*0*=utf-8'en'%E2%82%AC;"
			" t*0=x%; t*1*=y; gap*0=p; gap*2=q\r\n\r\n";
	struct mime_tree *t = parse(m);
	const struct mime_part *r = mime_tree_root(t);
	test_assert(r->n_params == 5);
	test_assert_str(r->params[0].name, "a");
	test_assert_str(r->params[1].name, "gap*0");
	test_assert_str(r->params[2].name, "gap*2");
	test_assert_str(r->params[3].name, "n*");
	test_assert_str(r->params[3].value, "utf-8'en'%E2%82%AC%20b");
	test_assert_str(r->params[4].name, "t*");
	test_assert_str(r->params[4].value, "''x%25y");

	struct buf out = {0};
	struct slice cs;
	test_assert(mime_param_decode(r->params[3].value, &out, &cs));
	test_assert_str(out.data, "\xe2\x82\xac b");
	test_assert(cs.len == 5 && memcmp(cs.p, "utf-8", 5) == 0);
	test_assert(mime_param_decode("''%zz%4", &out, &cs) && cs.len == 0);
	test_assert_str(out.data, "%zz%4");
	test_assert(!mime_param_decode("plain", &out, &cs));
	buf_free(&out);
	mime_tree_free(&t);
	test_end();
}

struct addrs {
	char text[1024];
};

static void addr_cb(void *ctx, const struct mime_address *a)
{
	struct addrs *x = ctx;
	size_t n = strlen(x->text);
	snprintf(x->text + n, sizeof(x->text) - n, "[%d %s|%s|%s|%s%s]", (int)a->kind,
		 a->name ? a->name : "-", a->route ? a->route : "-", a->mailbox ? a->mailbox : "-",
		 a->domain ? a->domain : "-", a->invalid ? " !" : "");
}

static void test_addresses(void)
{
	test_begin("address lists: groups, routes, comments, placeholders");
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"a@b.example", "[0 -|-|a|b.example]"},
	    {"\"J. \\\"Q\\\" P\" <j@x.example>", "[0 J. \"Q\" P|-|j|x.example]"},
	    {"u@v.example (Real Name)", "[0 Real Name|-|u|v.example]"},
	    {"<@r1.example,@r2.example:u@v.example>", "[0 -|@r1.example,@r2.example|u|v.example]"},
	    {"G: a@b.example, c@d.example;",
	     "[1 -|-|G|-][0 -|-|a|b.example][0 -|-|c|d.example][2 -|-|-|-]"},
	    {"undisclosed-recipients:;", "[1 -|-|undisclosed-recipients|-][2 -|-|-|-]"},
	    {"word", "[0 -|-|word|MISSING_DOMAIN !]"},
	    {"two words", "[0 two words|-|MISSING_MAILBOX|MISSING_DOMAIN !]"},
	    {"N <broken", "[0 N|-|broken|SYNTAX_ERROR !]"},
	    {"\"q l\"@x.example", "[0 -|-|q l|x.example]"},
	    {"", ""},
	    {"a@b.example garbage, c@d.example", "[0 -|-|a|b.example]"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct addrs x = {""};
		mime_address_parse(cases[i].in, strlen(cases[i].in), addr_cb, &x);
		test_assert_str(x.text, cases[i].out);
	}
	test_end();
}

static const char INNER_HEADER[] = "Subject: inner\r\n"
				   "Content-Type: multipart/alternative; boundary=c\r\n\r\n";

static void test_sections(void)
{
	test_begin("IMAP sections (RFC 9051 §6.4.5)");
	static const struct {
		const char *part;
		enum mime_section what;
		const char *want; /* NULL: no such section */
	} cases[] = {
	    {"", MIME_SECTION_TEXT, NULL}, /* checked below against the root */
	    {"1", MIME_SECTION_PART, "one\r\n"},
	    {"1", MIME_SECTION_MIME, "Content-Type: text/plain; charset=utf-8\r\n\r\n"},
	    {"1", MIME_SECTION_HEADER, NULL}, /* not a message/rfc822 part */
	    {"2", MIME_SECTION_MIME, "Content-Type: message/rfc822\r\n\r\n"},
	    {"2", MIME_SECTION_HEADER, INNER_HEADER},
	    {"2.1", MIME_SECTION_PART, "plain"},
	    {"2.1", MIME_SECTION_MIME, "\r\n"},
	    {"2.2", MIME_SECTION_PART, NULL},
	    {"3", MIME_SECTION_PART, NULL},
	    {"0", MIME_SECTION_PART, NULL},
	    {"01", MIME_SECTION_PART, NULL},
	    {"1.", MIME_SECTION_PART, NULL},
	    {"1..1", MIME_SECTION_PART, NULL},
	    {"1.1", MIME_SECTION_PART, "one\r\n"}, /* 1 of a leaf is itself */
	    {"1.2", MIME_SECTION_PART, NULL},
	    {"99999999999999999999", MIME_SECTION_PART, NULL},
	};
	struct mime_tree *t = parse(MULTI);
	size_t off, len;
	for (size_t i = 1; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = mime_tree_section(t, cases[i].part, strlen(cases[i].part), cases[i].what,
					    &off, &len);
		test_assert(ok == (cases[i].want != NULL));
		if (ok && cases[i].want != NULL)
			test_assert_str(text(MULTI, off, len), cases[i].want);
	}
	test_assert(mime_tree_section(t, "", 0, MIME_SECTION_PART, &off, &len));
	test_assert(off == 0 && len == strlen(MULTI));
	test_assert(mime_tree_section(t, "", 0, MIME_SECTION_TEXT, &off, &len));
	test_assert(off == mime_tree_root(t)->body_off);
	test_assert(!mime_tree_section(t, "", 0, MIME_SECTION_MIME, &off, &len));
	/* the whole encapsulated message */
	test_assert(mime_tree_section(t, "2", 1, MIME_SECTION_PART, &off, &len));
	test_assert(strncmp(MULTI + off, "Subject: inner", 14) == 0);
	test_assert(mime_tree_find(t, "2.1", 3) ==
		    mime_tree_root(t)->children->next->children->children);
	mime_tree_free(&t);

	/* "1" of a message that is not multipart is its body */
	const char *m = "Subject: x\r\n\r\nbody\r\n";
	t = parse(m);
	test_assert(mime_tree_section(t, "1", 1, MIME_SECTION_PART, &off, &len));
	test_assert_str(text(m, off, len), "body\r\n");
	test_assert(!mime_tree_section(t, "2", 1, MIME_SECTION_PART, &off, &len));
	test_assert(!mime_tree_section(t, "1.1", 3, MIME_SECTION_PART, &off, &len));
	mime_tree_free(&t);
	test_end();
}

/* CRC-32 of the format (docs/imap.md), to sign altered blobs. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return c ^ 0xffffffffu;
}

static void resign(struct buf *b)
{
	uint32_t c = crc32((const unsigned char *)b->data, b->len - 4);
	for (int i = 0; i < 4; i++)
		b->data[b->len - 4 + i] = (char)(c >> (8 * i));
}

static void test_blob(void)
{
	test_begin("serialised form: round trip, and damage refused");
	struct mime_tree *t = parse(MULTI), *back = NULL;
	struct buf blob = {0}, again = {0}, bad = {0};
	const char *err = NULL;

	mime_tree_serialize(t, &blob);
	test_assert(memcmp(blob.data, "MRMT\x01\0\0\0", 8) == 0);
	test_assert(mime_tree_deserialize(blob.data, blob.len, &back, &err) == 0);
	test_assert(back != NULL && mime_tree_equal(t, back));
	test_assert(mime_tree_msg_size(back) == strlen(MULTI));
	mime_tree_serialize(back, &again);
	test_assert(again.len == blob.len && memcmp(again.data, blob.data, blob.len) == 0);
	mime_tree_free(&back);

	/* every truncation and every flipped byte */
	bool all = true;
	for (size_t n = 0; n < blob.len; n++)
		all = all && mime_tree_deserialize(blob.data, n, &back, &err) < 0 && back == NULL;
	for (size_t i = 0; i < blob.len; i++) {
		buf_clear(&bad);
		buf_append(&bad, blob.data, blob.len);
		bad.data[i] ^= 0x20;
		all = all && mime_tree_deserialize(bad.data, bad.len, &back, &err) < 0;
	}
	test_assert(all);

	/* well signed but inconsistent: each refused by the structure check */
	static const struct {
		size_t off; /* into the first part record (36) or the header */
		unsigned char value;
	} damage[] = {
	    {36 + 8, 0xff},	    /* root header longer than the message */
	    {36 + 124 + 60, 7},	    /* a part's parent after itself */
	    {36 + 124 + 56, 0x80},  /* unknown flag */
	    {36 + 124 + 67, 0x7f},  /* a string outside the pool */
	    {36 + 124 + 100, 0x7f}, /* parameters outside the list */
	    {36 + 124 + 16, 0x7f},  /* a part longer than its parent */
	};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		buf_clear(&bad);
		buf_append(&bad, blob.data, blob.len);
		bad.data[damage[i].off] = (char)damage[i].value;
		resign(&bad);
		test_assert(mime_tree_deserialize(bad.data, bad.len, &back, &err) < 0);
		test_assert(err != NULL && back == NULL);
	}
	/* an unknown version */
	buf_clear(&bad);
	buf_append(&bad, blob.data, blob.len);
	bad.data[4] = 2;
	resign(&bad);
	test_assert(mime_tree_deserialize(bad.data, bad.len, &back, &err) < 0);
	test_assert_str(err, "unknown MIME structure version");
	buf_free(&blob);
	buf_free(&again);
	buf_free(&bad);
	mime_tree_free(&t);
	test_end();
}

static void test_limits(void)
{
	test_begin("limits: depth, part count, message nesting");
	struct buf m = {0};
	for (int i = 0; i < MIME_MAX_DEPTH + 8; i++)
		buf_printf(&m, "Content-Type: multipart/mixed; boundary=n%03d\r\n\r\n--n%03d\r\n",
			   i, i);
	buf_append_str(&m, "\r\ndeep\r\n");
	struct mime_tree *t = mime_tree_parse(m.data, m.len);
	unsigned deepest = 0;
	const struct mime_part *leaf = NULL;
	for (size_t i = 0; i < mime_tree_count(t); i++) {
		const struct mime_part *p = mime_tree_part(t, i);
		if (p->depth > deepest)
			deepest = p->depth, leaf = p;
	}
	test_assert(deepest == MIME_MAX_DEPTH && mime_tree_count(t) == MIME_MAX_DEPTH + 1);
	test_assert(leaf != NULL && (leaf->flags & MIME_PART_TRUNCATED) && leaf->children == NULL);
	mime_tree_free(&t);

	/* message/rfc822 in message/rfc822 ... */
	buf_clear(&m);
	for (int i = 0; i < MIME_MAX_DEPTH + 8; i++)
		buf_append_str(&m, "Content-Type: message/rfc822\r\n\r\n");
	t = mime_tree_parse(m.data, m.len);
	test_assert(mime_tree_count(t) == MIME_MAX_DEPTH + 1);
	test_assert(mime_tree_part(t, MIME_MAX_DEPTH)->flags & MIME_PART_TRUNCATED);
	mime_tree_free(&t);

	/* more parts than allowed: the rest is text of the last one */
	buf_clear(&m);
	buf_append_str(&m, "Content-Type: multipart/mixed; boundary=p\r\n\r\n");
	for (int i = 0; i < MIME_TREE_MAX_PARTS + 50; i++)
		buf_append_str(&m, "--p\r\n\r\nx\r\n");
	buf_append_str(&m, "--p--\r\n");
	t = mime_tree_parse(m.data, m.len);
	test_assert(mime_tree_count(t) == MIME_TREE_MAX_PARTS);
	const struct mime_part *last = mime_tree_part(t, MIME_TREE_MAX_PARTS - 1);
	test_assert(last->body_off + last->body_len == m.len);
	struct buf blob = {0};
	struct mime_tree *back = NULL;
	const char *err;
	mime_tree_serialize(t, &blob);
	test_assert(mime_tree_deserialize(blob.data, blob.len, &back, &err) == 0);
	test_assert(back != NULL && mime_tree_equal(t, back));
	buf_free(&blob);
	mime_tree_free(&back);
	mime_tree_free(&t);
	buf_free(&m);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_plain, test_multipart, test_delimiters, test_sizes,
					   test_fields, test_params, test_addresses, test_sections,
					   test_blob, test_limits, NULL});
}
