/* SPDX-License-Identifier: MIT */
/*
 * test_migrate_maildirpp.c - the folder side of a Maildir++
 * (migrate/maildirpp.h): folder names to directories and back (hierarchy,
 * modified UTF-7, the escapes), names that are no folder, info flags and
 * keyword letters both ways, dovecot-keywords (good and damaged) and
 * subscriptions in both of Dovecot's forms.
 */
#include "migrate/maildirpp.h"
#include "store/store.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_names(void)
{
	static const struct {
		const char *name, *dir;
	} cases[] = {
	    {"INBOX", ""},
	    {"Sent", ".Sent"},
	    {"Archive/2024", ".Archive.2024"},
	    {"Work.Notes", ".Work\\2eNotes"},
	    {"a\\b", ".a\\5cb"},
	    {"~home/x~", ".\\7ehome.x~"},
	    {"Entw\xc3\xbcrfe", ".Entw&APw-rfe"},
	    {"R&D", ".R&-D"},
	    {"INBOX/Lists", ".INBOX.Lists"},
	};
	struct buf b = {0};
	char err[128];

	test_begin("maildir++: folder names to directories and back");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		buf_clear(&b);
		test_assert(maildirpp_name_encode(cases[i].name, &b) == 0);
		test_assert_str(b.data, cases[i].dir);
		if (cases[i].dir[0] == '\0')
			continue;
		buf_clear(&b);
		test_assert(maildirpp_name_decode(cases[i].dir, strlen(cases[i].dir), &b, err,
						  sizeof(err)) == 0);
		test_assert_str(b.data, cases[i].name);
	}
	/* escapes in upper case are read too */
	buf_clear(&b);
	test_assert(maildirpp_name_decode(".a\\2Eb", 6, &b, err, sizeof(err)) == 0);
	test_assert_str(b.data, "a.b");
	static const char *const bad[] = {"Sent",  ".",	     "..",     ".a..b", ".a.",
					  ".a\\2", ".a\\zz", ".a\\00", ".&Jjo", ".&AGE-"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		buf_clear(&b);
		err[0] = '\0';
		test_assert(maildirpp_name_decode(bad[i], strlen(bad[i]), &b, err, sizeof(err)) <
			    0);
		test_assert(err[0] != '\0' && b.len == 0);
	}
	buf_clear(&b);
	test_assert(maildirpp_name_encode("bad\xff", &b) < 0);
	buf_free(&b);
	test_end();
}

static void test_info(void)
{
	unsigned flags = 0, letters = 0;
	struct buf b = {0};

	test_begin("maildir++: info flags and keyword letters");
	maildirpp_info_parse("1700000000.M1P1.host,S=3:2,DFRSTacz", &flags, &letters);
	test_assert(flags == STORE_FLAGS_ALL);
	test_assert(letters == (1u << 0 | 1u << 2 | 1u << 25));
	maildirpp_info_format(flags, letters, &b);
	test_assert_str(b.data, ":2,DFRSTacz");
	maildirpp_info_parse("1700000000.M1P1.host", &flags, &letters);
	test_assert(flags == 0 && letters == 0);
	maildirpp_info_parse("x:2,SxP", &flags, &letters); /* P (passed): no store flag */
	test_assert(flags == STORE_FLAG_SEEN && letters == 1u << ('x' - 'a'));
	maildirpp_info_parse("x:1,S", &flags, &letters); /* info version 1: none */
	test_assert(flags == 0);
	buf_clear(&b);
	maildirpp_info_format(0, 0, &b);
	test_assert_str(b.data, ":2,");
	buf_free(&b);
	test_end();
}

static void test_keywords(void)
{
	struct maildirpp_keywords k;
	char err[128];
	static const char good[] = "0 $Forwarded\n2 Work\r\n\n25 Last\n";

	test_begin("maildir++: dovecot-keywords");
	test_assert(maildirpp_keywords_parse(good, strlen(good), &k, err, sizeof(err)) == 0);
	test_assert_str(k.name[0], "$Forwarded");
	test_assert(k.name[1] == NULL);
	test_assert_str(k.name[2], "Work");
	test_assert_str(k.name[25], "Last");
	maildirpp_keywords_free(&k);
	static const struct {
		const char *text, *why;
	} bad[] = {
	    {"0 a\n0 b\n", "line 2: a number given twice"},
	    {"26 a\n", "line 1: a number past 25"},
	    {"a b\n", "line 1: not"},
	    {"1\n", "line 1: not"},
	    {"1 \n", "line 1: an empty keyword"},
	    {"1 a\tb\n", "line 1: a control character"},
	    {"1000 a\n", "line 1: not"},
	};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		test_assert(maildirpp_keywords_parse(bad[i].text, strlen(bad[i].text), &k, err,
						     sizeof(err)) < 0);
		test_assert(strncmp(err, bad[i].why, strlen(bad[i].why)) == 0);
		for (size_t j = 0; j < MAILDIRPP_KEYWORDS; j++)
			test_assert(k.name[j] == NULL);
	}
	test_end();
}

struct seen {
	char names[8][64];
	size_t n;
};

static void on_name(const char *name, void *ctx)
{
	struct seen *s = ctx;
	if (s->n < 8)
		snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
}

static void test_subscriptions(void)
{
	static const char v2[] = "V\t2\n\nINBOX\nArchive\t2024\nWork\\2eNotes\nEntw&APw-rfe\n"
				 "bad\\zz\n";
	static const char v1[] = "Sent\nArchive.2024\n\n";
	struct seen s = {0};

	test_begin("maildir++: subscriptions, both forms");
	maildirpp_subscriptions_parse(v2, strlen(v2), on_name, &s);
	test_assert(s.n == 4);
	test_assert_str(s.names[0], "INBOX");
	test_assert_str(s.names[1], "Archive/2024");
	test_assert_str(s.names[2], "Work.Notes");
	test_assert_str(s.names[3], "Entw\xc3\xbcrfe");
	memset(&s, 0, sizeof(s));
	maildirpp_subscriptions_parse(v1, strlen(v1), on_name, &s);
	test_assert(s.n == 2);
	test_assert_str(s.names[1], "Archive/2024");
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_names, test_info, test_keywords, test_subscriptions, NULL});
}
