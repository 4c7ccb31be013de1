/* SPDX-License-Identifier: MIT */
/*
 * test_imap_write.c - IMAP strings in responses (imap/imap_write.h):
 * {input, expected} tables for string, nstring, astring, literals, text
 * for people and unfolded header values: when a string is quoted and
 * when it must be a literal, escapes, NIL versus "NIL", NUL never written.
 */
#include "imap/imap_write.h"
#include "test_common.h"

#include <string.h>

struct wcase {
	const char *in; /* NULL: NIL */
	size_t len;	/* 0: strlen(in) */
	const char *out;
};

typedef void writer(struct buf *out, const char *s, size_t n);

static void run(writer *w, const struct wcase *c, size_t n)
{
	struct buf out = {0};
	for (size_t i = 0; i < n; i++) {
		buf_clear(&out);
		size_t len = c[i].in == NULL ? 0 : c[i].len ? c[i].len : strlen(c[i].in);
		w(&out, c[i].in, len);
		test_assert_str(out.data != NULL ? out.data : "", c[i].out);
	}
	buf_free(&out);
}

static void test_string(void)
{
	test_begin("string: quoted unless CR, LF, NUL, 8-bit or many escapes");
	static const struct wcase c[] = {
	    {"", 0, "\"\""},
	    {"plain text", 0, "\"plain text\""},
	    {"a\"b\\c", 0, "\"a\\\"b\\\\c\""},
	    {"\"\"\"\"", 0, "\"\\\"\\\"\\\"\\\"\""}, /* four escapes: still quoted */
	    {"\"\"\"\"\"", 0, "{5}\r\n\"\"\"\"\""},  /* five: a literal is shorter */
	    {"line\r\nbreak", 0, "{11}\r\nline\r\nbreak"},
	    {"lf\n", 0, "{3}\r\nlf\n"},
	    {"caf\xc3\xa9", 0, "{5}\r\ncaf\xc3\xa9"},
	    {"a\0b", 3, "{5}\r\na\xef\xbf\xbd\x62"}, /* NUL as U+FFFD */
	    {"NIL", 0, "\"NIL\""},
	};
	run(imap_write_string, c, sizeof(c) / sizeof(c[0]));

	/* long: a literal past IMAP_QUOTED_MAX */
	struct buf in = {0}, out = {0};
	for (int i = 0; i < IMAP_QUOTED_MAX; i++)
		buf_append_c(&in, 'x');
	imap_write_string(&out, in.data, in.len);
	test_assert(out.len == in.len + 2 && out.data[0] == '"');
	buf_append_c(&in, 'x');
	buf_clear(&out);
	imap_write_string(&out, in.data, in.len);
	test_assert(strncmp(out.data, "{8193}\r\n", 8) == 0 && out.len == 8 + in.len);
	buf_free(&in);
	buf_free(&out);
	test_end();
}

static void test_nstring(void)
{
	test_begin("nstring and astring: NIL, atoms, never a bare NIL atom");
	static const struct wcase n[] = {
	    {NULL, 0, "NIL"},
	    {"", 0, "\"\""},
	    {"x", 0, "\"x\""},
	};
	run(imap_write_nstring, n, sizeof(n) / sizeof(n[0]));
	static const struct wcase a[] = {
	    {"INBOX", 0, "INBOX"},
	    {"a]b", 0, "a]b"},
	    {"nil", 0, "\"nil\""},
	    {"NIL", 0, "\"NIL\""},
	    {"NILS", 0, "NILS"},
	    {"", 0, "\"\""},
	    {"two words", 0, "\"two words\""},
	    {"a(b", 0, "\"a(b\""},
	    {"a{b", 0, "\"a{b\""},
	    {"50%", 0, "\"50%\""},
	    {"*", 0, "\"*\""},
	    {"a\"b", 0, "\"a\\\"b\""},
	    {"\x7f", 0, "\"\x7f\""},
	    {"\xc3\xa9", 0, "{2}\r\n\xc3\xa9"},
	    {NULL, 0, "\"\""},
	};
	run(imap_write_astring, a, sizeof(a) / sizeof(a[0]));
	struct buf out = {0};
	imap_write_nstr(&out, NULL);
	imap_write_nstr(&out, "s");
	test_assert_str(out.data, "NIL\"s\"");
	buf_clear(&out);
	imap_write_literal(&out, "", 0);
	test_assert_str(out.data, "{0}\r\n");
	buf_free(&out);
	test_assert(imap_is_atom_char('a') && !imap_is_atom_char(' ') && !imap_is_atom_char(']'));
	test_end();
}

static void test_text(void)
{
	test_begin("text for people: white space runs become one space");
	static const struct wcase c[] = {
	    {"Hello world", 0, "\"Hello world\""},
	    {"", 0, "\"\""},
	    {"   ", 0, "\"\""},
	    {"a  b", 0, "{3}\r\na b"},
	    {" lead", 0, "{4}\r\nlead"},
	    {"trail ", 0, "{5}\r\ntrail"},
	    {"fold\n  ed", 0, "{7}\r\nfold ed"},
	    {"tab\there", 0, "{8}\r\ntab here"},
	    {"say \"hi\"", 0, "{8}\r\nsay \"hi\""},
	    {"=?utf-8?q?x?=", 0, "\"=?utf-8?q?x?=\""},
	    {"\xc3\xa9t\xc3\xa9", 0, "{5}\r\n\xc3\xa9t\xc3\xa9"},
	    {"n\0l", 3, "{3}\r\nn\x80l"},
	};
	run(imap_write_text, c, sizeof(c) / sizeof(c[0]));
	test_end();
}

static void test_nolf(void)
{
	test_begin("unfolded header values: line ends removed");
	static const struct {
		const char *in, *out;
	} c[] = {
	    {NULL, "NIL"},
	    {"Mon, 2 Oct 2023", "\"Mon, 2 Oct 2023\""},
	    {"Mon,\n 2 Oct", "\"Mon, 2 Oct\""},
	    {"<a@b>\n<c@d>", "\"<a@b> <c@d>\""},
	    {"x\r\n\ty", "\"x\ty\""},
	    {"end\n", "\"end\""},
	};
	struct buf out = {0};
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		buf_clear(&out);
		imap_write_nstr_nolf(&out, c[i].in);
		test_assert_str(out.data, c[i].out);
	}
	buf_free(&out);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_string, test_nstring, test_text, test_nolf, NULL});
}
