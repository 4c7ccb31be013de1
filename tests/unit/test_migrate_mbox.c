/* SPDX-License-Identifier: MIT */
/*
 * test_migrate_mbox.c - the mbox source (migrate/mig_mbox.c): where
 * messages begin and end (From_ lines in bodies, mboxrd and mboxo
 * quoting, Content-Length consistent or not), X-UIDL, the From_ line's
 * date, CRLF files, a file without a final line end, an empty file, a huge
 * line, and the source over real files (missing, a folder, no mbox).
 */
#include "migrate/mig_mbox.h"
#include "store/store.h"
#include "test_common.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXM 8

struct got {
	size_t n;
	char *body[MAXM];
	char uidl[MAXM][71];
	int64_t received[MAXM];
	int rc; /* the last call's */
};

static void split(const char *p, size_t len, enum mbox_flavour fl, struct got *g)
{
	struct mbox_split sp;
	struct migrate_msg m = {0};
	char err[128];

	memset(g, 0, sizeof(*g));
	mbox_split_init(&sp, p, len, fl);
	while ((g->rc = mbox_split_next(&sp, &m, err, sizeof(err))) == 1 && g->n < MAXM) {
		g->body[g->n] = strndup(m.body.data, m.body.len);
		strcpy(g->uidl[g->n], m.uidl);
		g->received[g->n] = m.received;
		g->n++;
	}
	migrate_msg_clear(&m);
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->body[i]);
}

static void split_str(const char *s, enum mbox_flavour fl, struct got *g)
{
	split(s, strlen(s), fl, g);
}

static void test_two_messages(void)
{
	struct got g;
	test_begin("mbox: two messages, dates, separator line dropped");
	split_str("From alice@example.test Thu Nov 24 18:22:48 1986\n"
		  "Subject: one\n\nbody one\n\n"
		  "From bob@example.test Mon Jan  2 03:04:05 2006\n"
		  "Subject: two\n\nbody two\n\n",
		  MBOX_RD, &g);
	test_assert(g.rc == 0 && g.n == 2);
	test_assert_str(g.body[0], "Subject: one\r\n\r\nbody one\r\n");
	test_assert_str(g.body[1], "Subject: two\r\n\r\nbody two\r\n");
	test_assert(g.received[0] == 533240568);
	test_assert(g.received[1] == 1136171045);
	test_assert(g.uidl[0][0] == '\0');
	got_free(&g);
	test_end();
}

static void test_from_in_body(void)
{
	struct got g;
	test_begin("mbox: From lines in bodies, mboxrd and mboxo");
	const char *f = "From a@example.test Thu Nov 24 18:22:48 1986\n"
			"Subject: q\n\n"
			">From the start\n"
			">>From two\n"
			">>>From three\n"
			"> From not quoted\n"
			"\n"
			"From here on, no date: body\n"
			"\n"
			"From b@example.test Thu Nov 24 18:22:49 1986\n"
			"Subject: r\n\nx\n";
	split_str(f, MBOX_RD, &g);
	test_assert(g.rc == 0 && g.n == 2);
	test_assert_str(g.body[0], "Subject: q\r\n\r\nFrom the start\r\n>From two\r\n"
				   ">>From three\r\n> From not quoted\r\n\r\n"
				   "From here on, no date: body\r\n");
	test_assert_str(g.body[1], "Subject: r\r\n\r\nx\r\n");
	got_free(&g);
	split_str(f, MBOX_O, &g);
	test_assert(g.rc == 0 && g.n == 2);
	test_assert_str(g.body[0], "Subject: q\r\n\r\nFrom the start\r\n>>From two\r\n"
				   ">>>From three\r\n> From not quoted\r\n\r\n"
				   "From here on, no date: body\r\n");
	got_free(&g);
	/* a dated From line not after an empty line is body too */
	split_str("From a Thu Nov 24 18:22:48 1986\nS: x\n\nline\n"
		  "From b Thu Nov 24 18:22:48 1986\nmore\n",
		  MBOX_RD, &g);
	test_assert(g.n == 1);
	test_assert_str(g.body[0],
			"S: x\r\n\r\nline\r\nFrom b Thu Nov 24 18:22:48 1986\r\nmore\r\n");
	got_free(&g);
	test_end();
}

static void test_content_length(void)
{
	struct got g;
	test_begin("mbox: Content-Length decides when consistent");
	/* mboxcl2: an unquoted From_ line inside the counted body */
	split_str("From a Thu Nov 24 18:22:48 1986\nContent-Length: 52\n\n"
		  "x\n\nFrom b Thu Nov 24 18:22:48 1986\n>From kept as is\n\n"
		  "From c Thu Nov 24 18:22:48 1986\nS: 2\n\ny\n",
		  MBOX_RD, &g);
	test_assert(g.rc == 0 && g.n == 2);
	test_assert_str(g.body[0], "Content-Length: 52\r\n\r\nx\r\n\r\n"
				   "From b Thu Nov 24 18:22:48 1986\r\n>From kept as is\r\n");
	test_assert_str(g.body[1], "S: 2\r\n\r\ny\r\n");
	got_free(&g);
	/* a count that ends mid-line or past the end is ignored */
	split_str("From a Thu Nov 24 18:22:48 1986\nContent-Length: 3\n\nabcdef\n\n"
		  "From c Thu Nov 24 18:22:48 1986\nS: 2\n\ny\n",
		  MBOX_RD, &g);
	test_assert(g.n == 2);
	test_assert_str(g.body[0], "Content-Length: 3\r\n\r\nabcdef\r\n");
	got_free(&g);
	split_str("From a Thu Nov 24 18:22:48 1986\nContent-Length: 999\n\nabc\n", MBOX_RD, &g);
	test_assert(g.n == 1);
	test_assert_str(g.body[0], "Content-Length: 999\r\n\r\nabc\r\n");
	got_free(&g);
	split_str("From a Thu Nov 24 18:22:48 1986\nContent-Length: 4x\n\nabc\n", MBOX_RD, &g);
	test_assert(g.n == 1);
	got_free(&g);
	/* exact to the end of the file */
	split_str("From a Thu Nov 24 18:22:48 1986\nContent-Length: 4\n\nabc\n", MBOX_RD, &g);
	test_assert(g.n == 1);
	test_assert_str(g.body[0], "Content-Length: 4\r\n\r\nabc\r\n");
	got_free(&g);
	test_end();
}

static void test_uidl(void)
{
	struct got g;
	test_begin("mbox: X-UIDL kept, invalid ones ignored");
	split_str("From a Thu Nov 24 18:22:48 1986\nX-UIDL: 1a2b3c-old\nS: 1\n\nb\n\n"
		  "From a Thu Nov 24 18:22:48 1986\nx-uidl:   spaced  \n\nb\n\n"
		  "From a Thu Nov 24 18:22:48 1986\nX-UIDL: two words\n\nb\n\n"
		  "From a Thu Nov 24 18:22:48 1986\nX-UIDL: "
		  "12345678901234567890123456789012345678901234567890123456789012345678901\n\nb\n",
		  MBOX_RD, &g);
	test_assert(g.n == 4);
	test_assert_str(g.uidl[0], "1a2b3c-old");
	test_assert_str(g.body[0], "X-UIDL: 1a2b3c-old\r\nS: 1\r\n\r\nb\r\n");
	test_assert_str(g.uidl[1], "spaced");
	test_assert_str(g.uidl[2], "");
	test_assert_str(g.uidl[3], ""); /* 71 characters */
	got_free(&g);
	test_end();
}

static void test_edges(void)
{
	struct got g;
	test_begin("mbox: empty, no final line end, CRLF, leading empty lines");
	split("", 0, MBOX_RD, &g);
	test_assert(g.rc == 0 && g.n == 0);
	split_str("\n\n", MBOX_RD, &g);
	test_assert(g.rc == 0 && g.n == 0);
	split_str("From a Thu Nov 24 18:22:48 1986\nS: x\n\nno end", MBOX_RD, &g);
	test_assert(g.n == 1);
	test_assert_str(g.body[0], "S: x\r\n\r\nno end\r\n");
	got_free(&g);
	split_str("\r\nFrom a Thu Nov 24 18:22:48 1986\r\nS: x\r\n\r\n>From y\r\n\r\n"
		  "From b Thu Nov 24 18:22:48 1986\r\nS: z\r\n\r\nw\r\n\r\n",
		  MBOX_RD, &g);
	test_assert(g.n == 2);
	test_assert_str(g.body[0], "S: x\r\n\r\nFrom y\r\n");
	test_assert_str(g.body[1], "S: z\r\n\r\nw\r\n");
	got_free(&g);
	/* a From_ line with nothing after it is no message */
	split_str("From a Thu Nov 24 18:22:48 1986\n\nFrom b Thu Nov 24 18:22:48 1986\nS: 1\n",
		  MBOX_RD, &g);
	test_assert(g.n == 1);
	test_assert_str(g.body[0], "S: 1\r\n");
	got_free(&g);
	split_str("Subject: not an mbox\n\nFrom a Thu Nov 24 18:22:48 1986\n", MBOX_RD, &g);
	test_assert(g.rc == -1 && g.n == 0);
	test_end();
}

static void test_huge_line(void)
{
	struct got g;
	test_begin("mbox: a 16 MiB line");
	size_t big = 16u << 20;
	const char *head = "From a Thu Nov 24 18:22:48 1986\nS: x\n\n";
	char *p = malloc(strlen(head) + big + 2);
	strcpy(p, head);
	memset(p + strlen(head), 'a', big);
	strcpy(p + strlen(head) + big, "\n");
	split(p, strlen(p), MBOX_RD, &g);
	test_assert(g.n == 1 && strlen(g.body[0]) == 8 + big + 2);
	got_free(&g);
	free(p);
	test_end();
}

static void test_dates(void)
{
	test_begin("mbox: From_ line dates");
	const char *l = "From x Thu Nov 24 18:22:48 1986";
	test_assert(mbox_from_date(l, strlen(l)) == 533240568);
	l = "From x Thu Nov 24 18:22:48 +0100 1986";
	test_assert(mbox_from_date(l, strlen(l)) == 533240568 - 3600);
	l = "From x Thu Nov 24 18:22 1986";
	test_assert(mbox_from_date(l, strlen(l)) == 533240520);
	l = "From MAILER-DAEMON Fri Jul  8 12:08:34 2011";
	test_assert(mbox_from_date(l, strlen(l)) == 1310126914);
	l = "From here on we talk";
	test_assert(mbox_from_date(l, strlen(l)) == -1);
	l = "From x Thu Nov 24 25:22:48 1986";
	test_assert(mbox_from_date(l, strlen(l)) == -1);
	l = "From x Thu Nov 24";
	test_assert(mbox_from_date(l, strlen(l)) == -1);
	test_end();
}

static void test_source_files(void)
{
	const struct migrate_source_ops *ops = &migrate_mbox_ops;
	struct migrate_source *s = NULL;
	struct migrate_msg m = {0};
	char err[256], path[4096];
	char *dir = test_tmpdir();

	test_begin("mbox source: files, missing, a folder, not an mbox");
	test_assert_str(ops->name, "mbox");
	snprintf(path, sizeof(path), "%s/none", dir);
	test_assert(ops->open(path, NULL, &s, err, sizeof(err)) == -1 && strstr(err, "none"));
	test_assert(ops->open(dir, NULL, &s, err, sizeof(err)) == -1 && strstr(err, "folder"));
	snprintf(path, sizeof(path), "%s/bad", dir);
	FILE *f = fopen(path, "w");
	fputs("Subject: x\n\nbody\n", f);
	fclose(f);
	test_assert(ops->open(path, NULL, &s, err, sizeof(err)) == -1 && strstr(err, "From_"));
	snprintf(path, sizeof(path), "%s/empty", dir);
	fclose(fopen(path, "w"));
	test_assert(ops->open(path, NULL, &s, err, sizeof(err)) == 0);
	test_assert(ops->count(s) == -1);
	test_assert(ops->next(s, &m, err, sizeof(err)) == 0);
	ops->close(&s);
	test_assert(s == NULL);
	/* many messages: the source walks the whole file */
	snprintf(path, sizeof(path), "%s/many", dir);
	f = fopen(path, "w");
	for (int i = 0; i < 3000; i++)
		fprintf(f, "From a Thu Nov 24 18:22:48 1986\nX-UIDL: u%d\n\n%02000d\n\n", i, i);
	fclose(f);
	test_assert(ops->open(path, NULL, &s, err, sizeof(err)) == 0);
	int n = 0, r;
	bool ok = true;
	while ((r = ops->next(s, &m, err, sizeof(err))) == 1) {
		char want[16];
		snprintf(want, sizeof(want), "u%d", n);
		ok = ok && strcmp(m.uidl, want) == 0 &&
		     m.body.len == strlen("X-UIDL: \r\n\r\n\r\n") + strlen(want) + 2000;
		n++;
	}
	test_assert(r == 0 && n == 3000 && ok);
	ops->close(&s);
	migrate_msg_clear(&m);
	test_rmtree(dir);
	test_end();
}

/* Status, X-Status and X-Keywords: read, and no part of the message. */
static void test_flags(void)
{
	static const char text[] =
	    "From a@example.test Thu Nov 24 18:22:48 1986\n"
	    "Subject: one\nStatus: RO\nX-Status: AFTD\nX-Keywords: $Forwarded,Work\n"
	    "\tLater\nX-Keywords: More\n\nbody one\nStatus: stays\n\n"
	    "From b@example.test Thu Nov 24 18:22:49 1986\n"
	    "Status: O\nContent-Length: 9\nSubject: two\n\nbody two\n\n"
	    "From c@example.test Thu Nov 24 18:22:50 1986\n"
	    "Subject: three\n\nthree\n";
	struct mbox_split sp;
	struct migrate_msg m = {0};
	char err[128];

	test_begin("mbox: flags from Status, X-Status and X-Keywords, taken out");
	mbox_split_init(&sp, text, strlen(text), MBOX_RD);
	test_assert(mbox_split_next(&sp, &m, err, sizeof(err)) == 1);
	test_assert(m.flags == STORE_FLAGS_ALL);
	test_assert(m.keywords.len > 0 &&
		    strcmp(m.keywords.data, "$Forwarded Work Later More") == 0);
	test_assert(m.body.len > 0 &&
		    strcmp(m.body.data, "Subject: one\r\n\r\nbody one\r\nStatus: stays\r\n") == 0);
	test_assert(mbox_split_next(&sp, &m, err, sizeof(err)) == 1);
	test_assert(m.flags == 0 && m.keywords.len == 0);
	test_assert(m.body.len > 0 &&
		    strcmp(m.body.data, "Content-Length: 9\r\nSubject: two\r\n\r\nbody two\r\n") ==
			0);
	test_assert(mbox_split_next(&sp, &m, err, sizeof(err)) == 1);
	test_assert(m.flags == 0 && m.keywords.len == 0);
	test_assert(mbox_split_next(&sp, &m, err, sizeof(err)) == 0);
	migrate_msg_clear(&m);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_two_messages, test_from_in_body, test_content_length, test_uidl, test_edges,
	    test_huge_line, test_dates, test_source_files, test_flags, NULL});
}
