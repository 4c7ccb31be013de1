/* SPDX-License-Identifier: MIT */
/*
 * test_migrate_maildir.c - the `maildir` and `winpop3` import sources and
 * migrate_import (migrate.h): Maildirs written here as Dovecot and Courier
 * leave them (dovecot-uidlist versions 1 and 3, P fields, files not in the
 * list yet, pop3_uidl_format variants, courierpop3dsizelist), new/ and cur/
 * with tmp/ ignored, bare LF made CRLF, arrival times; damaged lists and
 * missing folders fail with the file's name; a Windows POP3 mailbox folder;
 * an import run twice adds nothing the second time.
 */
#include "migrate/dovecot_uidlist.h"
#include "migrate/migrate.h"
#include "store/store.h"
#include "test_common.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void put(const char *dir, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	test_assert(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
	free(path);
}

static char *maildir(void)
{
	char *d = test_tmpdir();
	char *p;
	const char *subs[] = {"cur", "new", "tmp"};
	for (size_t i = 0; i < 3; i++) {
		p = xasprintf("%s/%s", d, subs[i]);
		test_assert(mkdir(p, 0700) == 0);
		free(p);
	}
	return d;
}

struct got {
	size_t n;
	char uidl[32][71];
	char body[32][256];
	int64_t received[32];
};

/* Every message of the source; returns open's or next's result (0 ok). */
static int read_all(const char *name, const char *dir, const char *fmt, struct got *g, char *err,
		    size_t err_len)
{
	const struct migrate_source_ops *ops = migrate_source_find(name);
	struct migrate_options o = {.uidl_format = fmt};
	struct migrate_source *s = NULL;
	struct migrate_msg m = {0};
	int r;

	memset(g, 0, sizeof(*g));
	test_assert(ops != NULL);
	if (ops->open(dir, &o, &s, err, err_len) < 0)
		return -1;
	while ((r = ops->next(s, &m, err, err_len)) > 0 && g->n < 32) {
		snprintf(g->uidl[g->n], sizeof(g->uidl[0]), "%s", m.uidl);
		snprintf(g->body[g->n], sizeof(g->body[0]), "%.*s", (int)m.body.len, m.body.data);
		g->received[g->n] = m.received;
		g->n++;
	}
	test_assert(ops->count(s) >= (long long)g->n);
	ops->close(&s);
	test_assert(s == NULL);
	migrate_msg_clear(&m);
	return r < 0 ? -1 : 0;
}

static void test_v3(void)
{
	char *d = maildir();
	char err[512];
	struct got g;

	test_begin("maildir: dovecot-uidlist v3, P fields, unlisted files, new/ and cur/");
	put(d, "cur/1700000001.M1P1.host,S=20:2,S", "Subject: a\n\nbody a\n");
	put(d, "new/1700000002.M2P2.host", "Subject: b\r\n\r\nbody b\r\n");
	put(d, "cur/1600000000.M0P0.host:2,", "Subject: c\n\nc");
	put(d, "new/1700000005.M5P5.host", "Subject: d\n\nd\n");
	put(d, "new/1700000004.M4P4.host", "Subject: e\n\ne\n");
	put(d, "tmp/1700000009.M9P9.host", "Subject: half written\n");
	put(d, "dovecot-uidlist",
	    "3 V1700000000 N12 G0123456789abcdef0123456789abcdef\n"
	    "3 W20 S19 :1700000001.M1P1.host,S=20\n"
	    "7 P+OLD-uidl.1 :1700000002.M2P2.host\n"
	    "9 :1600000000.M0P0.host:2,\n"
	    "10 :1700000099.gone.host\n");
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) == 0);
	test_assert(g.n == 5);
	test_assert_str(g.uidl[0], "000000036553f100");
	test_assert_str(g.uidl[1], "+OLD-uidl.1");
	test_assert_str(g.uidl[2], "000000096553f100");
	/* not in the list: Dovecot's next sync numbers them 12, 13 by name */
	test_assert_str(g.uidl[3], "0000000c6553f100");
	test_assert_str(g.uidl[4], "0000000d6553f100");
	test_assert_str(g.body[0], "Subject: a\r\n\r\nbody a\r\n");
	test_assert_str(g.body[1], "Subject: b\r\n\r\nbody b\r\n");
	test_assert_str(g.body[2], "Subject: c\r\n\r\nc\r\n");
	test_assert(g.received[0] == 1700000001 && g.received[2] == 1600000000);
	test_assert(g.received[3] == 1700000004);
	test_rmtree(d);
	test_end();
}

static void test_v1_and_formats(void)
{
	char *d = maildir();
	char err[512];
	struct got g;

	test_begin("maildir: dovecot-uidlist v1 and custom pop3_uidl_format");
	put(d, "cur/1700000001.A.host:2,S", "A\n");
	put(d, "cur/1700000002.B.host:2,S", "B\n");
	put(d, "dovecot-uidlist",
	    "1 1234 5\n"
	    "2 1700000001.A.host:2,S\n"
	    "4 1700000002.B.host\n");
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) == 0 && g.n == 2);
	test_assert_str(g.uidl[0], "00000002000004d2");
	test_assert_str(g.uidl[1], "00000004000004d2");
	test_assert(read_all("maildir", d, "%u-%v", &g, err, sizeof(err)) == 0);
	test_assert_str(g.uidl[0], "2-1234");
	test_assert(read_all("maildir", d, "%f", &g, err, sizeof(err)) == 0);
	test_assert_str(g.uidl[1], "1700000002.B.host");
	test_assert(read_all("maildir", d, "%{uidvalidity}.%04{uid}%%", &g, err, sizeof(err)) == 0);
	test_assert_str(g.uidl[0], "1234.0002%");
	test_assert(read_all("maildir", d, "%08XUu%Ug", &g, err, sizeof(err)) == 0);
	test_assert_str(g.uidl[1], "000000041700000002.B.HOST");
	test_assert(read_all("maildir", d, "%4f", &g, err, sizeof(err)) == 0);
	test_assert_str(g.uidl[0], "1700");
	/* refused: a variable not supported, and a result that is no UIDL */
	test_assert(read_all("maildir", d, "%m", &g, err, sizeof(err)) < 0);
	test_assert(strstr(err, "%m") != NULL);
	test_assert(read_all("maildir", d, "%08xu", &g, err, sizeof(err)) < 0);
	test_assert(read_all("maildir", d, "%u %v", &g, err, sizeof(err)) < 0);
	test_assert(read_all("maildir", d, "", &g, err, sizeof(err)) < 0);
	test_rmtree(d);
	test_end();
}

static void test_courier(void)
{
	char *d = maildir();
	char err[512];
	struct got g;

	test_begin("maildir: courierpop3dsizelist wins for the files it lists");
	put(d, "cur/1700000001.A.host:2,S", "A\n");
	put(d, "cur/1700000002.B+x.host:2,S", "B\n");
	put(d, "cur/1700000003.C.host:2,S", "C\n");
	put(d, "courierpop3dsizelist",
	    "/2 4 1699999999\n"
	    "1700000001.A.host:2,S 3 1:1699999999\n"
	    "1700000002.B+x.host:2,S 3 0:0\n"
	    "garbage line\n");
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) == 0 && g.n == 3);
	test_assert_str(g.uidl[0], "UID1-1699999999");
	test_assert_str(g.uidl[1], "1700000002.B+2Bx.host");
	test_assert_str(g.uidl[2], ""); /* no list knows it: a fresh UIDL */
	/* with a dovecot-uidlist too: Courier's still win where it has one */
	put(d, "dovecot-uidlist",
	    "3 V10 N4\n1 :1700000001.A.host\n2 :1700000002.B+x.host\n"
	    "3 :1700000003.C.host\n");
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) == 0 && g.n == 3);
	test_assert_str(g.uidl[0], "UID1-1699999999");
	test_assert_str(g.uidl[2], "000000030000000a");
	put(d, "courierpop3dsizelist", "not a header\n");
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) < 0);
	test_assert(strstr(err, "courierpop3dsizelist") != NULL);
	test_rmtree(d);
	test_end();
}

static void test_plain_and_errors(void)
{
	char *d = maildir();
	char err[512];
	struct got g;

	test_begin("maildir: no lists; damaged lists and missing folders name the file");
	put(d, "new/msg-without-time", "X\n");
	char *p = xasprintf("%s/new/msg-without-time", d);
	struct timeval tv[2] = {{1500000000, 0}, {1500000000, 0}};
	test_assert(utimes(p, tv) == 0);
	free(p);
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) == 0 && g.n == 1);
	test_assert_str(g.uidl[0], "");
	test_assert(g.received[0] == 1500000000);
	const char *bad[] = {"",
			     "4 V1 N2\n",
			     "3 N2\n",
			     "3 V1 N2\nx :a\n",
			     "3 V1\n2 :a\n1 :b\n",
			     "3 V1\n2 P1\n",
			     "1 1 1\n2\n",
			     "3 V1\n2 :a/b\n"};
	for (size_t i = 0; i < N_ELEMENTS(bad); i++) {
		put(d, "dovecot-uidlist", bad[i]);
		test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) < 0);
		test_assert(strstr(err, "dovecot-uidlist: line ") != NULL);
	}
	put(d, "dovecot-uidlist",
	    "3 V1 N2\n1 P" /* 71 characters */
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    " :msg-without-time\n");
	test_assert(read_all("maildir", d, NULL, &g, err, sizeof(err)) < 0);
	test_assert(strstr(err, "longer than 70") != NULL);
	char *gone = xasprintf("%s/nothing-here", d);
	test_assert(read_all("maildir", gone, NULL, &g, err, sizeof(err)) < 0);
	test_assert(strstr(err, "nothing-here/cur") != NULL);
	free(gone);
	test_assert(migrate_source_find("nonesuch") == NULL);
	test_rmtree(d);
	test_end();
}

static void test_parser(void)
{
	struct dc_uidlist l;
	char err[256];
	const char *t = "3 V5 N9 Gabc Xfuture\r\n1 S9 W10 Gfeed Pp1 :a:2,S\n\n8 :b\n";

	test_begin("dovecot-uidlist parser: fields, CRLF, blank lines");
	test_assert(dc_uidlist_parse(t, strlen(t), &l, err, sizeof(err)) == 0);
	test_assert(l.version == 3 && l.uidvalidity == 5 && l.next_uid == 9 && l.n == 2);
	test_assert_str(l.guid, "abc");
	test_assert_str(l.recs[0].name, "a");
	test_assert_str(l.recs[0].pop3_uidl, "p1");
	test_assert_str(l.recs[0].guid, "feed");
	test_assert(l.recs[1].uid == 8 && l.recs[1].pop3_uidl == NULL);
	dc_uidlist_free(&l);
	test_end();
}

static void test_import_twice(void)
{
	char *d = maildir();
	char *sd;
	struct store *st = test_store_new(&sd);
	char err[512];
	struct migrate_stats stats;
	const struct migrate_source_ops *ops = migrate_source_find("maildir");
	struct migrate_source *s = NULL;

	test_begin("maildir: migrate_import, run twice: the second adds nothing");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", 0) == STORE_OK);
	int64_t mb = test_mailbox_id(st, "a@example.test");
	for (int i = 0; i < 1200; i++) {
		char name[64];
		snprintf(name, sizeof(name), "cur/%d.M%dP1.host:2,S", 1700000000 + i, i);
		put(d, name, "Subject: x\n\nbody\n");
	}
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) == 0);
	test_assert(migrate_import(st, mb, ops, s, NULL, NULL, &stats, err, sizeof(err)) == 0);
	ops->close(&s);
	test_assert(stats.seen == 1200 && stats.added == 1200 && stats.skipped == 0);
	test_assert(stats.octets == 1200 * strlen("Subject: x\r\n\r\nbody\r\n"));
	/* no list: fresh UIDLs, so a second run would duplicate; with one it
	   does not */
	put(d, "dovecot-uidlist", "3 V1700000000 N1\n");
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) == 0);
	test_assert(migrate_import(st, mb, ops, s, NULL, NULL, &stats, err, sizeof(err)) == 0);
	ops->close(&s);
	test_assert(stats.added == 1200);
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) == 0);
	test_assert(migrate_import(st, mb, ops, s, NULL, NULL, &stats, err, sizeof(err)) == 0);
	ops->close(&s);
	test_assert(stats.seen == 1200 && stats.added == 0 && stats.skipped == 1200);
	test_assert(test_census(st)->messages == 2400);
	/* a message unreadable when its turn comes (a folder: EISDIR, even
	   for root): named, what came before it kept */
	put(d, "cur/1700009999.ok.host", "fine\n");
	char *p = xasprintf("%s/cur/1800000000.last.host", d);
	test_assert(mkdir(p, 0700) == 0);
	free(p);
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) == 0);
	int r = migrate_import(st, mb, ops, s, NULL, NULL, &stats, err, sizeof(err));
	ops->close(&s);
	test_assert(r < 0 && strstr(err, "1800000000.last.host") != NULL);
	test_assert(stats.skipped == 1200 && stats.added == 1);
	store_close(&st);
	test_rmtree(sd);
	test_rmtree(d);
	test_end();
}

static void test_winpop3(void)
{
	char *root = test_tmpdir();
	char *mbx = xasprintf("%s/P3_someone.mbx", root);
	char err[512];
	struct got g;

	test_begin("winpop3: a mailbox folder, UIDL the file name without .eml");
	test_assert(mkdir(mbx, 0700) == 0);
	put(mbx, "P3_0001a.eml", "Subject: one\r\n\r\n1\r\n");
	put(mbx, "P3_0002b.EML", "Subject: two\n\n2\n");
	put(mbx, "lock.lck", "");
	struct timeval t1[2] = {{1100000000, 0}, {1100000000, 0}};
	struct timeval t2[2] = {{1000000000, 0}, {1000000000, 0}};
	char *p1 = xasprintf("%s/P3_0001a.eml", mbx), *p2 = xasprintf("%s/P3_0002b.EML", mbx);
	test_assert(utimes(p1, t1) == 0 && utimes(p2, t2) == 0);
	free(p1);
	free(p2);
	test_assert(read_all("winpop3", mbx, NULL, &g, err, sizeof(err)) == 0 && g.n == 2);
	test_assert_str(g.uidl[0], "P3_0002b"); /* the older first */
	test_assert_str(g.uidl[1], "P3_0001a");
	test_assert_str(g.body[0], "Subject: two\r\n\r\n2\r\n");
	test_assert(g.received[0] == 1000000000);
	test_assert(read_all("winpop3", mbx, "%f.eml", &g, err, sizeof(err)) == 0);
	test_assert_str(g.uidl[1], "P3_0001a.eml");
	/* the domain folder: refused with a hint */
	test_assert(read_all("winpop3", root, NULL, &g, err, sizeof(err)) < 0);
	test_assert(strstr(err, "mailbox folder") != NULL);
	char *none = xasprintf("%s/none.mbx", root);
	test_assert(read_all("winpop3", none, NULL, &g, err, sizeof(err)) < 0);
	free(none);
	free(mbx);
	test_rmtree(root);
	test_end();
}

/* A Dovecot Maildir++: each folder numbers its own UIDs, all folders
   have the same UIDVALIDITY (so the same default UIDLs): INBOX keeps its
   UIDs, the others come after, nothing is taken for a message of another
   folder, and a second run adds nothing. */
static void test_dovecot_folders(void)
{
	char *d = maildir();
	char *sd, *sent = NULL;
	struct store *st = test_store_new(&sd);
	char err[512];
	struct migrate_stats stats;
	const struct migrate_source_ops *ops = migrate_source_find("maildir");
	struct migrate_source *s = NULL;
	struct store_folder f = {0};
	struct store_imsg *m = NULL;
	size_t n = 0;

	test_begin("maildir: Dovecot's folders, each with UIDs of its own");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", 0) == STORE_OK);
	int64_t mb = test_mailbox_id(st, "a@example.test");
	put(d, "cur/1700000001.M1P1.host:2,S", "Subject: i1\n\nx\n");
	put(d, "cur/1700000002.M2P1.host:2,RSa", "Subject: i2\n\nx\n");
	/* P fields: Dovecot's default UIDL of uid 2 would look like the one
	   mailroom makes for uid 0x6553f100 of mailbox 2, and the counter
	   would move past that (store_import.c) */
	put(d, "dovecot-uidlist",
	    "3 V1700000000 N3\n1 Pi1 :1700000001.M1P1.host\n"
	    "2 Pi2 :1700000002.M2P1.host\n");
	put(d, "dovecot-keywords", "0 Work\n");
	put(d, "subscriptions", "Lists.Debian\n");
	const char *dirs[] = {".Sent",	       ".Sent/cur",	    ".Sent/new",	".Sent/tmp",
			      ".Lists.Debian", ".Lists.Debian/cur", ".Lists.Debian/new"};
	for (size_t i = 0; i < N_ELEMENTS(dirs); i++) {
		char *p = xasprintf("%s/%s", d, dirs[i]);
		test_assert(mkdir(p, 0700) == 0);
		free(p);
	}
	sent = xasprintf("%s/.Sent", d);
	put(sent, "cur/1700000003.M3P1.host:2,DFb", "Subject: s1\n\nx\n");
	put(sent, "cur/1700000004.M4P1.host:2,T", "Subject: s2\n\nx\n");
	put(sent, "dovecot-uidlist",
	    "3 V1700000000 N3\n1 :1700000003.M3P1.host\n"
	    "2 :1700000004.M4P1.host\n");
	put(sent, "dovecot-keywords", "1 Done\n");
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) == 0);
	test_assert(migrate_import(st, mb, ops, s, NULL, NULL, &stats, err, sizeof(err)) == 0);
	ops->close(&s);
	test_assert(stats.added == 4 && stats.folders == 1); /* Sent was there */
	test_assert(store_folder_get(st, mb, "INBOX", &f) == STORE_OK);
	test_assert(store_folder_load(st, f.id, &m, &n) == STORE_OK && n == 2);
	test_assert(m[0].uid == 1 && m[1].uid == 2 && m[0].flags == STORE_FLAG_SEEN);
	test_assert(m[1].flags == (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED));
	test_assert(m[1].keywords != NULL && strcmp(m[1].keywords, "Work") == 0);
	store_imsgs_free(m, n);
	store_folder_clear(&f);
	test_assert(store_folder_get(st, mb, "Sent", &f) == STORE_OK);
	test_assert(store_folder_load(st, f.id, &m, &n) == STORE_OK && n == 2);
	test_assert(m[0].uid == 3 && m[1].uid == 4);
	test_assert(m[0].flags == (STORE_FLAG_DRAFT | STORE_FLAG_FLAGGED));
	test_assert(m[1].flags == STORE_FLAG_DELETED);
	test_assert(m[0].keywords != NULL && strcmp(m[0].keywords, "Done") == 0);
	store_imsgs_free(m, n);
	store_folder_clear(&f);
	/* the subscriptions file: the one it lists, not the others made */
	test_assert(store_folder_get(st, mb, "Lists/Debian", &f) == STORE_OK && f.subscribed);
	store_folder_clear(&f);
	test_assert(store_folder_get(st, mb, "Lists", &f) == STORE_NOTFOUND);
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) == 0);
	test_assert(migrate_import(st, mb, ops, s, NULL, NULL, &stats, err, sizeof(err)) == 0);
	ops->close(&s);
	test_assert(stats.added == 0 && stats.skipped == 4 && stats.folders == 0);
	/* a damaged dovecot-keywords names its file */
	put(sent, "dovecot-keywords", "1 Done\n1 Again\n");
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) < 0);
	test_assert(strstr(err, ".Sent/dovecot-keywords: line 2") != NULL);
	put(sent, "dovecot-keywords", "1 Done\n");
	/* a second INBOX is refused, not left out */
	char *second = xasprintf("%s/.INBOX", d), *scur = xasprintf("%s/.INBOX/cur", d);
	test_assert(mkdir(second, 0700) == 0 && mkdir(scur, 0700) == 0);
	test_assert(ops->open(d, NULL, &s, err, sizeof(err)) < 0);
	test_assert(strstr(err, "a second INBOX") != NULL);
	free(second);
	free(scur);
	free(sent);
	store_close(&st);
	test_rmtree(sd);
	test_rmtree(d);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_v3, test_v1_and_formats, test_courier,
					   test_plain_and_errors, test_parser, test_import_twice,
					   test_winpop3, test_dovecot_folders, NULL});
}
