/* SPDX-License-Identifier: MIT */
/*
 * test_imap_fetch_struct.c - ENVELOPE, BODY and BODYSTRUCTURE
 * (imap/imap_fetch_struct.h) for small messages, exactly; the same
 * outputs a private Dovecot gives (tests/proto/test_imap_struct.py checks
 * a larger corpus against it), and message/global in IMAP4rev2.
 */
#include "imap/imap_fetch_struct.h"
#include "test_common.h"

#include <string.h>

static void render(const char *msg, unsigned flags, struct buf *env, struct buf *body,
		   struct buf *bs)
{
	struct mime_tree *t = mime_tree_parse(msg, strlen(msg));
	buf_clear(env);
	buf_clear(body);
	buf_clear(bs);
	imap_envelope_write(mime_tree_root(t), env);
	imap_body_write(t, flags, body);
	imap_bodystructure_write(t, flags, bs);
	mime_tree_free(&t);
}

static void test_envelope(void)
{
	test_begin("ENVELOPE: defaults, groups, encoded words left alone");
	struct buf e = {0}, b = {0}, s = {0};
	render("Date: Mon, 2 Oct 2023 10:11:12 +0200\r\n"
	       "Subject: =?utf-8?q?caf=C3=A9?=\r\n"
	       "From: \"Alice A.\" <alice@example.org>\r\n"
	       "To: Team: bob@example.net, <carol@example.net>;, dave@example.com (Dave)\r\n"
	       "Message-ID: <1@example.org>\r\n\r\nhi\r\n",
	       0, &e, &b, &s);
	test_assert_str(e.data, "(\"Mon, 2 Oct 2023 10:11:12 +0200\" \"=?utf-8?q?caf=C3=A9?=\" "
				"((\"Alice A.\" NIL \"alice\" \"example.org\")) "
				"((\"Alice A.\" NIL \"alice\" \"example.org\")) "
				"((\"Alice A.\" NIL \"alice\" \"example.org\")) "
				"((NIL NIL \"Team\" NIL)(NIL NIL \"bob\" \"example.net\")"
				"(NIL NIL \"carol\" \"example.net\")(NIL NIL NIL NIL)"
				"(\"Dave\" NIL \"dave\" \"example.com\")) NIL NIL NIL "
				"\"<1@example.org>\")");
	test_assert_str(b.data,
			"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1)");
	test_assert_str(s.data,
			"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 4 1 "
			"NIL NIL NIL NIL)");

	/* a NUL in an address ends the word there, as in Dovecot */
	static const char nul[] = "From: nul\0name <n@x.example>\r\n\r\n";
	struct mime_tree *t = mime_tree_parse(nul, sizeof(nul) - 1);
	buf_clear(&e);
	imap_envelope_write(mime_tree_root(t), &e);
	test_assert_str(e.data,
			"(NIL NIL ((NIL NIL \"nul\" \"MISSING_DOMAIN\")) ((NIL NIL \"nul\" "
			"\"MISSING_DOMAIN\")) ((NIL NIL \"nul\" \"MISSING_DOMAIN\")) NIL NIL NIL "
			"NIL NIL)");
	mime_tree_free(&t);

	render("", 0, &e, &b, &s);
	test_assert_str(e.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	test_assert_str(s.data,
			"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
			"NIL NIL NIL NIL)");
	imap_envelope_write(NULL, &e);
	buf_free(&e);
	buf_free(&b);
	buf_free(&s);
	test_end();
}

static const char MSG[] = "MIME-Version: 1.0\r\n"
			  "Content-Type: multipart/mixed; boundary=b\r\n"
			  "Content-Language: en\r\n"
			  "\r\n"
			  "--b\r\n"
			  "Content-Type: text/html; charset=utf-8\r\n"
			  "Content-Transfer-Encoding: quoted-printable\r\n"
			  "Content-ID: <c1>\r\n"
			  "Content-MD5: bWQ1\r\n"
			  "Content-Disposition: inline; filename=a.html\r\n"
			  "Content-Location: here\r\n"
			  "\r\n"
			  "<p>x</p>\r\n"
			  "--b\r\n"
			  "Content-Type: message/global\r\n"
			  "\r\n"
			  "Subject: g\r\n"
			  "\r\n"
			  "body\r\n"
			  "--b\r\n"
			  "Content-Type: multipart/alternative\r\n"
			  "\r\n"
			  "no boundary\r\n"
			  "--b--\r\n";

static void test_bodystructure(void)
{
	test_begin("BODY and BODYSTRUCTURE: extension data, empty multipart, global");
	struct buf e = {0}, b = {0}, s = {0};
	render(MSG, 0, &e, &b, &s);
	test_assert_str(b.data,
			"((\"text\" \"html\" (\"charset\" \"utf-8\") \"<c1>\" NIL "
			"\"quoted-printable\" 8 0)"
			"(\"message\" \"global\" NIL NIL NIL \"7bit\" 18)"
			"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) "
			"\"alternative\") \"mixed\")");
	test_assert_str(s.data,
			"((\"text\" \"html\" (\"charset\" \"utf-8\") \"<c1>\" NIL "
			"\"quoted-printable\" 8 0 \"bWQ1\" (\"inline\" (\"filename\" "
			"\"a.html\")) NIL \"here\")"
			"(\"message\" \"global\" NIL NIL NIL \"7bit\" 18 NIL NIL NIL NIL)"
			"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 "
			"NIL NIL NIL NIL) \"alternative\" NIL NIL NIL NIL) \"mixed\" "
			"(\"boundary\" \"b\") NIL (\"en\") NIL)");

	/* IMAP4rev2: message/global carries its envelope and structure */
	render(MSG, IMAP_STRUCT_REV2, &e, &b, &s);
	test_assert(strstr(b.data, "(\"message\" \"global\" NIL NIL NIL \"7bit\" 18 (NIL \"g\" NIL "
				   "NIL NIL NIL NIL NIL NIL NIL) (\"text\" \"plain\" (\"charset\" "
				   "\"us-ascii\") NIL NIL \"7bit\" 4 0) 2)") != NULL);
	buf_free(&e);
	buf_free(&b);
	buf_free(&s);
	test_end();
}

static void test_balanced(void)
{
	test_begin("output is balanced for odd input");
	static const char *const odd[] = {
	    "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
	    "Content-Type: message/rfc822\r\n",
	    "From: ((((\r\nTo: \"\r\n\r\n",
	    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n--d--",
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		struct buf e = {0}, b = {0}, s = {0};
		render(odd[i], 0, &e, &b, &s);
		int depth = 0;
		for (size_t k = 0; k < s.len; k++)
			depth += s.data[k] == '(' ? 1 : s.data[k] == ')' ? -1 : 0;
		test_assert(depth == 0 && s.data[0] == '(' && s.data[s.len - 1] == ')');
		buf_free(&e);
		buf_free(&b);
		buf_free(&s);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_envelope, test_bodystructure, test_balanced, NULL});
}
