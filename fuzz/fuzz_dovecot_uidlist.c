/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dovecot_uidlist.c - libFuzzer target for the parsers of other
 * servers' Maildir lists (migrate/dovecot_uidlist.h): Dovecot's
 * dovecot-uidlist, Courier's courierpop3dsizelist and pop3_uidl_format;
 * and of a Maildir++'s folder side (migrate/maildirpp.h): dovecot-keywords,
 * subscriptions, folder names and info flags.
 * Any input parses or fails with a line number, never crashes or leaks; a
 * parsed list has ascending non-zero uids and names without ':' or '/';
 * every UIDL made is 1-70 printable characters; a folder name that decodes
 * encodes back to a directory that decodes to it again.
 */
#include "fuzz.h"
#include "migrate/dovecot_uidlist.h"
#include "migrate/maildirpp.h"
#include "store/store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_uidl(const char *u)
{
	size_t n = strlen(u);
	CHECK(n >= 1 && n <= 70);
	for (size_t i = 0; i < n; i++)
		CHECK((unsigned char)u[i] >= 0x21 && (unsigned char)u[i] <= 0x7e);
}

static void on_name(const char *name, void *ctx)
{
	(void)ctx;
	CHECK(name[0] != '\0');
}

/* The Maildir++ side: the input as dovecot-keywords, as subscriptions,
   its first line as a directory name and as a file name's info. */
static void maildirpp(const uint8_t *data, size_t size, size_t first_line)
{
	struct maildirpp_keywords k;
	char err[256];

	if (maildirpp_keywords_parse((const char *)data, size, &k, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < MAILDIRPP_KEYWORDS; i++)
			CHECK(k.name[i] == NULL || k.name[i][0] != '\0');
		maildirpp_keywords_free(&k);
	} else {
		CHECK(strncmp(err, "line ", 5) == 0);
	}
	maildirpp_subscriptions_parse((const char *)data, size, on_name, NULL);
	struct buf name = {0}, dir = {0}, again = {0};
	if (maildirpp_name_decode((const char *)data, first_line, &name, err, sizeof(err)) == 0 &&
	    memchr(name.data, '\0', name.len) == NULL && strstr(name.data, "//") == NULL &&
	    name.data[0] != '/' && name.data[name.len - 1] != '/' &&
	    strcmp(name.data, "INBOX") != 0) {
		CHECK(maildirpp_name_encode(name.data, &dir) == 0);
		CHECK(maildirpp_name_decode(dir.data, dir.len, &again, err, sizeof(err)) == 0);
		CHECK(again.len == name.len && memcmp(again.data, name.data, name.len) == 0);
	}
	buf_free(&name);
	buf_free(&dir);
	buf_free(&again);
	if (first_line < 200) {
		char fn[201];
		unsigned flags, letters;
		memcpy(fn, data, first_line);
		fn[first_line] = '\0';
		maildirpp_info_parse(fn, &flags, &letters);
		CHECK((flags & ~(unsigned)STORE_FLAGS_ALL) == 0 && letters < (1u << 26));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dc_uidlist l;
	struct courier_list c;
	char err[256], out[80];

	if (size > 65536)
		return 0;
	if (dc_uidlist_parse((const char *)data, size, &l, err, sizeof(err)) < 0) {
		CHECK(strncmp(err, "line ", 5) == 0 && l.n == 0 && l.recs == NULL);
	} else {
		CHECK(l.uidvalidity != 0 && l.version >= 1 && l.version <= 3);
		for (size_t i = 0; i < l.n; i++) {
			CHECK(l.recs[i].uid != 0 && (i == 0 || l.recs[i].uid > l.recs[i - 1].uid));
			CHECK(l.recs[i].name[0] != '\0' && strchr(l.recs[i].name, ':') == NULL &&
			      strchr(l.recs[i].name, '/') == NULL);
			if (dc_uidl_format("%08Xu%08Xv", l.recs[i].uid, l.uidvalidity,
					   l.recs[i].name, l.recs[i].name, out, sizeof(out), err,
					   sizeof(err)) == 0)
				check_uidl(out);
		}
		dc_uidlist_free(&l);
	}
	if (courier_list_parse((const char *)data, size, &c, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < c.n; i++)
			check_uidl(c.recs[i].uidl);
		courier_list_free(&c);
	}
	/* the input's first line as a pop3_uidl_format */
	const uint8_t *nl = memchr(data, '\n', size);
	size_t fl = nl != NULL ? (size_t)(nl - data) : size;
	if (fl < 200) {
		char fmt[201];
		memcpy(fmt, data, fl);
		fmt[fl] = '\0';
		if (dc_uidl_format(fmt, 42, 1700000000, "1700000000.M1P2.host", "guid", out,
				   sizeof(out), err, sizeof(err)) == 0)
			check_uidl(out);
	}
	maildirpp(data, size, fl);
	return 0;
}
