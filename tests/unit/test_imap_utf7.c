/* SPDX-License-Identifier: MIT */
/*
 * test_imap_utf7.c - modified UTF-7 mailbox names (imap/imap_utf7.h): the
 * examples of RFC 3501 §5.1.3, round trips through every plane, and the
 * forms that must be refused so one name has one rev1 spelling.
 */
#include "imap/imap_utf7.h"
#include "test_common.h"

#include <string.h>

static void roundtrip(const char *utf8, const char *utf7)
{
	struct buf a = {0}, b = {0};
	test_assert(imap_utf7_encode(slice_from(utf8), &a) == 0);
	test_assert_str(a.data != NULL ? a.data : "", utf7);
	test_assert(imap_utf7_decode(slice_from(utf7), &b) == 0);
	test_assert_str(b.data != NULL ? b.data : "", utf8);
	buf_free(&a);
	buf_free(&b);
}

static void test_examples(void)
{
	test_begin("utf7: RFC 3501 5.1.3 examples and round trips");
	roundtrip("INBOX", "INBOX");
	roundtrip("A & B", "A &- B");
	roundtrip("Entw\xc3\xbcrfe", "Entw&APw-rfe");
	/* RFC 3501's example: "~peter/mail/日本語/台北" */
	roundtrip("~peter/mail/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe5\x8f\xb0\xe5\x8c\x97",
		  "~peter/mail/&ZeVnLIqe-/&U,BTFw-");
	/* a character outside the BMP: a surrogate pair */
	roundtrip("x\xf0\x9f\x93\xa7y", "x&2D3c5w-y");
	test_end();
}

static void test_refused(void)
{
	static const char *const bad7[] = {
	    "&",	       /* unterminated */
	    "&-&",	       /* unterminated after an escape */
	    "&AGE-",	       /* "a" encoded: printable ASCII must not be */
	    "&2D0-",	       /* a lone high surrogate */
	    "&3DI-",	       /* a lone low surrogate */
	    "&APw",	       /* no '-' */
	    "&AP!-",	       /* not base64 */
	    "Entw\xc3\xbcrfe", /* 8-bit octets are no modified UTF-7 */
	    "&APx-",	       /* bits left over that are not zero */
	};
	static const char *const bad8[] = {"\xc3", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80",
					   "a\x01b"};
	test_begin("utf7: malformed names are refused both ways");
	for (size_t i = 0; i < sizeof(bad7) / sizeof(bad7[0]); i++) {
		struct buf b = {0};
		test_assert(imap_utf7_decode(slice_from(bad7[i]), &b) < 0);
		buf_free(&b);
	}
	for (size_t i = 0; i < sizeof(bad8) / sizeof(bad8[0]); i++) {
		struct buf b = {0};
		test_assert(imap_utf7_encode(slice_from(bad8[i]), &b) < 0);
		buf_free(&b);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_examples, test_refused, NULL});
}
