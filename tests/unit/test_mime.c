/* SPDX-License-Identifier: MIT */
/*
 * test_mime.c - the MIME reader and the 8-bit to 7-bit downgrade
 * (mime/mime.h): exact outputs for a plain message, a multipart with an
 * attachment that must stay byte for byte, a forwarded message/rfc822;
 * quoted-printable rules (76 columns, '=', white space before a line end)
 * checked by decoding random bodies back; and every case that must be
 * refused rather than mangled.
 */
#include "mime/mime.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum mime_downgrade down(const char *in, struct buf *out)
{
	buf_clear(out);
	return mime_downgrade(in, strlen(in), out);
}

static void test_seven_bit_untouched(void)
{
	test_begin("a 7-bit message needs nothing");
	struct buf out = {0};
	buf_append_str(&out, "kept");
	test_assert(mime_downgrade("Subject: hi\r\n\r\nplain\r\n", 22, &out) == MIME_7BIT);
	test_assert_str(out.data, "kept");
	buf_free(&out);
	test_end();
}

static void test_plain_text(void)
{
	test_begin("8bit text/plain becomes quoted-printable");
	struct buf out = {0};
	test_assert(down("From: a@b.test\r\nMIME-Version: 1.0\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Transfer-Encoding: 8bit\r\n"
			 "Subject: x\r\n\r\n"
			 "caf\xc3\xa9 = 1 \r\n.dot\ttab\t\r\nend",
			 &out) == MIME_CONVERTED);
	test_assert_str(out.data, "From: a@b.test\r\nMIME-Version: 1.0\r\n"
				  "Content-Type: text/plain; charset=utf-8\r\n"
				  "Subject: x\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
				  "caf=C3=A9 =3D 1=20\r\n.dot\ttab=09\r\nend");

	/* no MIME header fields at all: a MIME message now */
	test_assert(down("Subject: y\r\n\r\n\xe9t\xe9\r\n", &out) == MIME_CONVERTED);
	test_assert_str(out.data, "Subject: y\r\nMIME-Version: 1.0\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9t=E9\r\n");

	/* a folded Content-Transfer-Encoding field goes whole */
	test_assert(down("Content-Transfer-Encoding:\r\n 8bit\r\nX: 1\r\n\r\n\xff", &out) ==
		    MIME_CONVERTED);
	test_assert_str(out.data, "X: 1\r\nMIME-Version: 1.0\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n=FF");
	buf_free(&out);
	test_end();
}

static void test_long_lines(void)
{
	test_begin("quoted-printable lines stay within 76 columns");
	struct buf in = {0}, out = {0};
	buf_append_str(&in, "Subject: long\r\n\r\n");
	for (int i = 0; i < 100; i++)
		buf_append_str(&in, "\xc3\xa9x");
	buf_append_str(&in, "\r\n");
	test_assert(mime_downgrade(in.data, in.len, &out) == MIME_CONVERTED);
	const char *body = strstr(out.data, "\r\n\r\n") + 4;
	size_t lines = 0;
	for (const char *l = body; *l != '\0'; lines++) {
		const char *e = strstr(l, "\r\n");
		test_assert(e != NULL && e - l <= 76);
		l = e + 2;
	}
	test_assert(lines > 9);
	buf_free(&in);
	buf_free(&out);
	test_end();
}

static const char MULTI_IN[] = "Content-Type: multipart/mixed; boundary=\"=-b1\"\r\n"
			       "Content-Transfer-Encoding: 8bit\r\n"
			       "\r\n"
			       "This is a MIME message.\r\n"
			       "--=-b1\r\n"
			       "Content-Type: text/plain; charset=iso-8859-1\r\n"
			       "\r\n"
			       "gr\xfc\xdf\r\n"
			       "--=-b1\r\n"
			       "Content-Type: application/octet-stream\r\n"
			       "Content-Transfer-Encoding: base64\r\n"
			       "\r\n"
			       "AAEC\r\n"
			       "--=-b1\r\n"
			       "Content-Type: message/rfc822\r\n"
			       "\r\n"
			       "Subject: fwd\r\n"
			       "\r\n"
			       "\xe4\r\n"
			       "--=-b1--  \r\n"
			       "epilogue\r\n";

static const char MULTI_OUT[] = "Content-Type: multipart/mixed; boundary=\"=-b1\"\r\n"
				"Content-Transfer-Encoding: 7bit\r\n"
				"\r\n"
				"This is a MIME message.\r\n"
				"--=-b1\r\n"
				"Content-Type: text/plain; charset=iso-8859-1\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n"
				"\r\n"
				"gr=FC=DF\r\n"
				"--=-b1\r\n"
				"Content-Type: application/octet-stream\r\n"
				"Content-Transfer-Encoding: base64\r\n"
				"\r\n"
				"AAEC\r\n"
				"--=-b1\r\n"
				"Content-Type: message/rfc822\r\n"
				"\r\n"
				"Subject: fwd\r\n"
				"MIME-Version: 1.0\r\n"
				"Content-Transfer-Encoding: quoted-printable\r\n"
				"\r\n"
				"=E4\r\n"
				"--=-b1--  \r\n"
				"epilogue\r\n";

static void test_multipart(void)
{
	test_begin("multipart: 8-bit parts converted, others kept byte for byte");
	struct buf out = {0};
	test_assert(down(MULTI_IN, &out) == MIME_CONVERTED);
	test_assert_str(out.data, MULTI_OUT);

	/* digest parts default to message/rfc822; an unclosed multipart's
	   last part runs to the end */
	test_assert(down("Content-Type: multipart/digest; boundary=d\r\n\r\n"
			 "--d\r\n\r\nSubject: s\r\n\r\n\xe9\r\n",
			 &out) == MIME_CONVERTED);
	test_assert_str(out.data, "Content-Type: multipart/digest; boundary=d\r\n\r\n"
				  "--d\r\n\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
				  "Content-Transfer-Encoding: quoted-printable\r\n\r\n=E9\r\n");

	/* a boundary that only starts a longer line is content */
	test_assert(down("Content-Type: multipart/mixed; boundary=b (c)\r\n\r\n"
			 "--b\r\n\r\n--bb \xe9\r\n--b--\r\n",
			 &out) == MIME_CONVERTED);
	test_assert_str(out.data, "Content-Type: multipart/mixed; boundary=b (c)\r\n\r\n"
				  "--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
				  "--bb =E9\r\n--b--\r\n");
	buf_free(&out);
	test_end();
}

static void test_refused(void)
{
	test_begin("what cannot be carried in 7 bits is refused");
	static const char *const cases[] = {
	    "Subject: caf\xc3\xa9\r\n\r\nbody\r\n",
	    "Content-Transfer-Encoding: base64\r\n\r\n\xff\xfe\r\n",
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n\xff\r\n",
	    "Content-Transfer-Encoding: binary\r\n\r\n\xff\r\n",
	    "Content-Transfer-Encoding: x-custom\r\n\r\n\xff\r\n",
	    "Content-Type: message/global\r\n\r\nSubject: \xc3\xa9\r\n\r\nx\r\n",
	    "Content-Type: message/partial; id=1\r\n\r\n\xff\r\n",
	    "Content-Type: multipart/mixed\r\n\r\n\xff\r\n",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n\xff "
	    "pre\r\n--b\r\n\r\nx\r\n--b--\r\n",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n\xff\r\n",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\nno delimiter \xff\r\n",
	    ("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	     "Content-Type: text/plain\r\nContent-Transfer-Encoding: "
	     "base64\r\n\r\n\xff\r\n--b--\r\n"),
	};
	struct buf out = {0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_clear(&out);
		buf_append_str(&out, "x");
		if (mime_downgrade(cases[i], strlen(cases[i]), &out) != MIME_UNCONVERTIBLE) {
			fprintf(stderr, "case %zu converted\n", i);
			test_assert(false);
		}
		test_assert(out.len == 1 && strcmp(out.data, "x") == 0);
	}

	/* nesting: converted up to the limit, refused past it */
	for (int depth = MIME_MAX_DEPTH; depth <= MIME_MAX_DEPTH + 1; depth++) {
		struct buf in = {0};
		for (int i = 0; i < depth; i++)
			buf_append_str(&in, "Content-Type: message/rfc822\r\n\r\n");
		buf_append_str(&in, "\r\n\xff\r\n");
		buf_clear(&out);
		test_assert(mime_downgrade(in.data, in.len, &out) ==
			    (depth == MIME_MAX_DEPTH ? MIME_CONVERTED : MIME_UNCONVERTIBLE));
		buf_free(&in);
	}
	buf_free(&out);
	test_end();
}

static int unhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* RFC 2045 §6.7 decoding, strict: what an encoder of ours may emit */
static bool qp_decode(const char *p, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '=') {
			if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
				i += 2;
				continue;
			}
			if (i + 2 >= n || unhex(p[i + 1]) < 0 || unhex(p[i + 2]) < 0)
				return false;
			buf_append_c(out, (char)(unhex(p[i + 1]) * 16 + unhex(p[i + 2])));
			i += 2;
		} else if ((unsigned char)p[i] >= 0x80) {
			return false;
		} else {
			if ((p[i] == ' ' || p[i] == '\t') && (i + 1 == n || p[i + 1] == '\r'))
				return false; /* white space before a line end */
			buf_append_c(out, p[i]);
		}
	}
	return true;
}

static void test_roundtrip(void)
{
	test_begin("random 8-bit bodies decode back exactly");
	srand(7);
	for (int round = 0; round < 500; round++) {
		struct buf in = {0}, out = {0}, back = {0};
		buf_append_str(&in, "Subject: r\r\n\r\n");
		size_t hdr = in.len;
		int len = rand() % 400;
		static const char alphabet[] = "ab =.\t\xc3\xa9\xff\r\n";
		for (int i = 0; i < len; i++) {
			char c = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
			if (c == '\n' || c == '\r') /* wire form: CRLF only */
				buf_append_str(&in, "\r\n");
			else
				buf_append_c(&in, c);
		}
		buf_append_c(&in, '\xe9');
		test_assert(mime_downgrade(in.data, in.len, &out) == MIME_CONVERTED);
		const char *body = strstr(out.data, "\r\n\r\n") + 4;
		size_t blen = out.len - (size_t)(body - out.data);
		test_assert(qp_decode(body, blen, &back));
		test_assert(back.len == in.len - hdr &&
			    memcmp(back.data, in.data + hdr, back.len) == 0);
		for (const char *l = body; l < out.data + out.len;) {
			const char *e = strstr(l, "\r\n");
			if (e == NULL)
				e = out.data + out.len;
			test_assert(e - l <= 76);
			l = e + 2;
		}
		buf_free(&in);
		buf_free(&out);
		buf_free(&back);
	}
	test_end();
}

static void test_header_get(void)
{
	test_begin("header fields: unfolded, case-insensitive, header only");
	static const char msg[] =
	    "From: a\r\nsubject : one\r\n\ttwo  \r\nX: y\r\n\r\nSubject: body\r\n";
	struct buf v = {0};
	test_assert(mime_header_get(msg, sizeof(msg) - 1, "Subject", &v));
	test_assert_str(v.data, "one\ttwo");
	test_assert(mime_header_get(msg, sizeof(msg) - 1, "x", &v));
	test_assert_str(v.data, "y");
	test_assert(!mime_header_get(msg, sizeof(msg) - 1, "To", &v));
	/* a line that is no field ends the header */
	static const char bad[] = "A: 1\r\nnot a field\r\nB: 2\r\n";
	test_assert(!mime_header_get(bad, sizeof(bad) - 1, "B", &v));
	buf_free(&v);
	test_end();
}

/* --- lines over 998 octets (mime_relay_form) ----------------------------------------- */

static size_t longest_line(const char *p, size_t n)
{
	size_t max = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = p[i] == '\r' || p[i] == '\n' ? 0 : run + 1;
		max = run > max ? run : max;
	}
	return max;
}

static void test_relay_long_lines(void)
{
	test_begin("relay form: long lines encoded, the decoded body unchanged");
	struct buf in = {0}, out = {0}, back = {0};

	/* no long line, 8-bit allowed: nothing to do */
	test_assert(mime_relay_form("Subject: x\r\n\r\n\xe9\r\n", 17, false, &out) ==
		    MIME_RELAY_ASIS);
	test_assert(out.len == 0);

	/* a plain message with a 2,000-octet line: quoted-printable */
	buf_append_str(&in, "Subject: long\r\n\r\nfirst\r\n");
	size_t body_at = in.len - 7;
	for (int i = 0; i < 2000; i++)
		buf_append_c(&in, i % 97 == 0 ? '=' : 'a' + i % 26);
	buf_append_str(&in, "\r\nlast \r\n");
	test_assert(mime_relay_form(in.data, in.len, false, &out) == MIME_RELAY_CONVERTED);
	test_assert(longest_line(out.data, out.len) <= 76);
	test_assert(strstr(out.data, "MIME-Version: 1.0\r\nContent-Transfer-Encoding: "
				     "quoted-printable\r\n\r\n") != NULL);
	const char *body = strstr(out.data, "\r\n\r\n") + 4;
	test_assert(qp_decode(body, out.len - (size_t)(body - out.data), &back));
	test_assert(back.len == in.len - body_at &&
		    memcmp(back.data, in.data + body_at, back.len) == 0);

	/* a long header line with white space is folded; unfolding restores it */
	buf_clear(&in);
	buf_clear(&out);
	buf_append_str(&in, "X-Words:");
	for (int i = 0; i < 500; i++)
		buf_printf(&in, " w%d", i);
	size_t hdr_len = in.len;
	buf_append_str(&in, "\r\nSubject: s\r\n\r\nshort body\r\n");
	test_assert(mime_relay_form(in.data, in.len, false, &out) == MIME_RELAY_CONVERTED);
	test_assert(longest_line(out.data, out.len) <= 998);
	test_assert(strstr(out.data, "\r\n\r\nshort body\r\n") != NULL); /* body as it was */
	test_assert(strstr(out.data, "Content-Transfer-Encoding") == NULL);
	buf_clear(&back);
	for (size_t i = 0; i < out.len && back.len < hdr_len; i++)
		if (out.data[i] != '\r' && out.data[i] != '\n')
			buf_append_c(&back, out.data[i]);
	test_assert(back.len == hdr_len && memcmp(back.data, in.data, hdr_len) == 0);

	/* base64 and quoted-printable parts get breaks their decoding ignores;
	   the short part stays byte for byte */
	buf_clear(&in);
	buf_clear(&out);
	buf_append_str(&in, "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
			    "--b\r\nContent-Type: text/plain\r\n\r\nkept \xe9 as is\r\n"
			    "--b\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	for (int i = 0; i < 1500; i++)
		buf_append_c(&in, "QUJD"[i % 4]);
	buf_append_str(&in, "\r\n--b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	for (int i = 0; i < 700; i++)
		buf_append_str(&in, "a=3D");
	buf_append_str(&in, "\r\n--b--\r\n");
	test_assert(mime_relay_form(in.data, in.len, false, &out) == MIME_RELAY_CONVERTED);
	test_assert(longest_line(out.data, out.len) <= 76);
	test_assert(strstr(out.data, "\r\n\r\nkept \xe9 as is\r\n--b\r\n") != NULL);
	const char *qp = strstr(out.data, "quoted-printable\r\n\r\n") + 20;
	const char *qp_end = strstr(qp, "\r\n--b--");
	buf_clear(&back);
	test_assert(qp_decode(qp, (size_t)(qp_end - qp), &back));
	test_assert(back.len == 1400);
	for (size_t i = 0; i < back.len; i++)
		test_assert(back.data[i] == (i % 2 == 0 ? 'a' : '='));
	size_t b64 = 0;
	for (const char *c = strstr(out.data, "base64\r\n\r\n") + 10; *c != '-'; c++)
		b64 += *c != '\r' && *c != '\n';
	test_assert(b64 == 1500);

	/* and without 8BITMIME, the 8-bit part is converted as well */
	buf_clear(&out);
	test_assert(mime_relay_form(in.data, in.len, true, &out) == MIME_RELAY_CONVERTED);
	test_assert(strstr(out.data, "kept =E9 as is") != NULL);
	buf_free(&in);
	buf_free(&out);
	buf_free(&back);
	test_end();
}

static void test_relay_refused(void)
{
	test_begin("relay form: long lines that cannot be encoded");
	static const char *const heads[] = {
	    "Content-Transfer-Encoding: binary\r\n\r\n",
	    "Content-Type: message/partial; id=x\r\n\r\n",
	    "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
	};
	struct buf in = {0}, out = {0};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		buf_clear(&in);
		buf_append_str(&in, heads[i]);
		for (int k = 0; k < 1200; k++)
			buf_append_c(&in, 'x'); /* in the multipart: its preamble */
		buf_append_str(&in, "\r\n");
		if (i == 2)
			buf_append_str(&in, "--b\r\n\r\npart\r\n--b--\r\n");
		test_assert(mime_relay_form(in.data, in.len, false, &out) == MIME_RELAY_LONG_LINE);
		test_assert(out.len == 0);
		test_assert(!mime_relay_possible(in.data, in.len));
	}
	/* a header line without white space to fold at */
	buf_clear(&in);
	buf_append_str(&in, "X-Token: ");
	for (int k = 0; k < 1200; k++)
		buf_append_c(&in, 't');
	buf_append_str(&in, "\r\n\r\nbody\r\n");
	test_assert(mime_relay_form(in.data, in.len, false, &out) == MIME_RELAY_LONG_LINE);
	test_assert(!mime_relay_possible(in.data, in.len));
	/* the downgrade alone leaves line lengths to the relay form */
	buf_append_str(&in, "\xe9\r\n");
	test_assert(mime_downgrade(in.data, in.len, &out) == MIME_CONVERTED);
	test_assert(strstr(out.data, "X-Token: tttt") != NULL);
	/* with 8-bit in a header and no 8BITMIME, that is the reason given */
	buf_clear(&in);
	buf_clear(&out);
	buf_append_str(&in, "Subject: \xe9\r\n\r\nx\r\n");
	test_assert(mime_relay_form(in.data, in.len, true, &out) == MIME_RELAY_NO_8BIT);
	/* as DATA sees it: bare CR and LF end lines too; an encodable long
	   line is fine */
	buf_clear(&in);
	for (int k = 0; k < 1200; k++)
		buf_append_c(&in, k % 600 == 599 ? '\r' : 'y');
	test_assert(mime_relay_possible(in.data, in.len));
	for (int k = 0; k < 1200; k++)
		buf_append_c(&in, 'z');
	test_assert(mime_relay_possible(in.data, in.len)); /* a body line: encoded */
	test_assert(mime_relay_possible("a\r\n", 3));
	buf_free(&in);
	buf_free(&out);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_seven_bit_untouched, test_plain_text,
					   test_long_lines, test_multipart, test_refused,
					   test_roundtrip, test_header_get, test_relay_long_lines,
					   test_relay_refused, NULL});
}
