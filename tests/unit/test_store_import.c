/* SPDX-License-Identifier: MIT */
/*
 * test_store_import.c - store_import (store.h "imports"): UIDLs and arrival
 * times kept, UIDs from the mailbox's counter (S3), counters, the quota not
 * applied, UIDLs already there or twice in a batch skipped, malformed ones
 * refused alone, generated UIDLs never duplicated, one body per message
 * (S2), and all or nothing on a failed commit (S7).
 */
#include "store/store.h"
#include "test_common.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct store *setup(char **dir_r, int64_t *mb_r, uint64_t quota)
{
	struct store *st = test_store_new(dir_r);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", quota) == STORE_OK);
	*mb_r = test_mailbox_id(st, "a@example.test");
	return st;
}

static struct store_import_msg msg(const char *body, const char *uidl, int64_t received)
{
	return (struct store_import_msg){
	    .body = body, .len = strlen(body), .uidl = uidl, .received = received};
}

static void test_basic(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 10); /* a quota far below the import */
	struct store_import_msg m[3] = {msg("Subject: 1\r\n\r\none\r\n", "UID1-99", 1000000),
					msg("Subject: 2\r\n\r\ntwo\r\n", "000000026553F100", 0),
					msg("Subject: 3\r\n\r\nthree\r\n", NULL, 5)};
	int res[3];
	struct store_msg *l = NULL;
	size_t n = 0;
	int64_t now = (int64_t)time(NULL);

	test_begin("import keeps UIDLs, times and bytes; counters; no quota");
	test_assert(store_import(st, mb, m, 3, res) == STORE_OK);
	test_assert(res[0] == STORE_OK && res[1] == STORE_OK && res[2] == STORE_OK);
	test_assert(store_mailbox_load(st, mb, &l, &n) == STORE_OK && n == 3);
	test_assert_str(l[0].uidl, "UID1-99");
	test_assert_str(l[1].uidl, "000000026553F100");
	char gen[32];
	snprintf(gen, sizeof(gen), "%08" PRIx64 "%08" PRIx64, (uint64_t)mb, l[2].uid);
	test_assert_str(l[2].uidl, gen);
	test_assert(l[0].uid == 1 && l[1].uid == 2 && l[2].uid == 3);
	test_assert(l[0].received == 1000000 && l[2].received == 5);
	test_assert(l[1].received >= now && l[1].received <= now + 5);
	test_assert(l[0].size == m[0].len);
	struct buf b = {0};
	test_assert(store_message_read(st, mb, l[2].id, &b) == STORE_OK);
	test_assert(b.len == m[2].len && memcmp(b.data, m[2].body, b.len) == 0);
	buf_free(&b);
	struct store_user u;
	test_assert(store_user_lookup(st, "a@example.test", &u) == STORE_OK);
	test_assert(u.messages == 3 && u.used == m[0].len + m[1].len + m[2].len);
	store_user_clear(&u);
	test_assert(test_census(st)->bodies_single == 3);
	free(l);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_skip(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	struct store_import_msg a[2] = {msg("A\r\n", "u1", 0), msg("B\r\n", "u2", 0)};
	struct store_import_msg b[4] = {msg("A\r\n", "u1", 0), msg("C\r\n", "u3", 0),
					msg("C2\r\n", "u3", 0), msg("D\r\n", "u4", 0)};
	int res[4];

	test_begin("import skips UIDLs there already and twice in one batch");
	test_assert(store_import(st, mb, a, 2, res) == STORE_OK);
	test_assert(store_import(st, mb, b, 4, res) == STORE_OK);
	test_assert(res[0] == STORE_EXISTS && res[1] == STORE_OK && res[2] == STORE_EXISTS &&
		    res[3] == STORE_OK);
	test_assert(test_census(st)->messages == 4);
	test_assert(test_census(st)->bodies == 4);
	struct store_user u;
	test_assert(store_user_lookup(st, "a@example.test", &u) == STORE_OK && u.messages == 4);
	store_user_clear(&u);
	/* the same again: nothing added (an import run twice) */
	test_assert(store_import(st, mb, b, 4, res) == STORE_OK);
	test_assert(res[0] == STORE_EXISTS && res[1] == STORE_EXISTS && res[3] == STORE_EXISTS);
	test_assert(test_census(st)->messages == 4);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_invalid(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	char long71[72];
	memset(long71, 'x', 71);
	long71[71] = '\0';
	char long70[71];
	memset(long70, 'y', 70);
	long70[70] = '\0';
	struct store_import_msg m[6] = {msg("1\r\n", "", 0),	 msg("2\r\n", long71, 0),
					msg("3\r\n", "a b", 0),	 msg("4\r\n", "a\x7f", 0),
					msg("5\r\n", long70, 0), msg("6\r\n", "!~", 0)};
	int res[6];

	test_begin("import refuses malformed UIDLs alone");
	test_assert(store_import(st, mb, m, 6, res) == STORE_OK);
	for (int i = 0; i < 4; i++)
		test_assert(res[i] == STORE_INVALID);
	test_assert(res[4] == STORE_OK && res[5] == STORE_OK);
	test_assert(test_census(st)->messages == 2);
	test_assert(test_census(st)->bodies == 2);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_generated(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	int res[2], dres[1];
	char own[32], future[32];
	struct store_msg *l = NULL;
	size_t n = 0;

	test_begin("import never duplicates a generated UIDL");
	/* a delivered message (no UIDL of its own) and its generated UIDL */
	test_assert(store_deliver(st, &mb, 1, "X\r\n", 3, NULL, dres) == STORE_OK);
	snprintf(own, sizeof(own), "%08" PRIx64 "%08" PRIx64, (uint64_t)mb, (uint64_t)1);
	/* the form a later uid would generate: the counter moves past it */
	snprintf(future, sizeof(future), "%08" PRIx64 "%08" PRIx64, (uint64_t)mb, (uint64_t)9);
	struct store_import_msg m[2] = {msg("X\r\n", own, 0), msg("Y\r\n", future, 0)};
	test_assert(store_import(st, mb, m, 2, res) == STORE_OK);
	test_assert(res[0] == STORE_EXISTS && res[1] == STORE_OK);
	test_assert(store_deliver(st, &mb, 1, "Z\r\n", 3, NULL, dres) == STORE_OK);
	test_assert(store_mailbox_load(st, mb, &l, &n) == STORE_OK && n == 3);
	test_assert(l[2].uid == 10);
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			test_assert(strcmp(l[i].uidl, l[k].uidl) != 0);
	free(l);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_failures(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	struct store_import_msg m[2] = {msg("A\r\n", "u1", 0), msg("B\r\n", NULL, 0)};
	int res[2];

	test_begin("import: nothing written on a failed commit or a missing mailbox");
	store_test_fail_next_commit(st);
	test_assert(store_import(st, mb, m, 2, res) == STORE_TEMP);
	test_assert(res[0] == STORE_TEMP && res[1] == STORE_TEMP);
	test_assert(test_census(st)->messages == 0);
	test_assert(test_census(st)->bodies == 0);
	test_assert(test_next_uid(st, mb) == 1);
	test_assert(store_import(st, mb + 1000, m, 2, res) == STORE_NOTFOUND);
	test_assert(res[0] == STORE_NOTFOUND);
	test_assert(test_census(st)->bodies == 0);
	/* and then it works: the UIDL is free again */
	test_assert(store_import(st, mb, m, 2, res) == STORE_OK && res[0] == STORE_OK);
	test_assert(store_import(st, mb, m, 0, res) == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* The distinct UIDs of the mailbox's messages (its INBOX holds them all):
   the listing is in UID order, so a UID repeated is one not above the one
   before it. */
static size_t distinct_uids(struct store *st, int64_t mb)
{
	struct store_msg *l = NULL;
	size_t n = 0, d = 0;
	test_assert(store_mailbox_load(st, mb, &l, &n) == STORE_OK);
	for (size_t i = 0; i < n; i++)
		d += i == 0 || l[i].uid > l[i - 1].uid;
	free(l);
	return d;
}

static void test_many(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0);
	enum { N = 2000 };
	struct store_import_msg *m = xcalloc(N, sizeof(*m));
	char(*u)[16] = xcalloc(N, sizeof(*u));
	int *res = xcalloc(N, sizeof(*res));

	test_begin("import of batches into a mailbox that grows");
	for (int i = 0; i < N; i++) {
		snprintf(u[i], sizeof(u[i]), "m%d", i);
		m[i] = msg("Subject: x\r\n\r\nbody\r\n", u[i], 0);
	}
	for (int i = 0; i < N; i += 500)
		test_assert(store_import(st, mb, m + i, 500, res + i) == STORE_OK);
	test_assert(distinct_uids(st, mb) == N);
	/* overlapping batches: only the new half is added */
	test_assert(store_import(st, mb, m + N / 2, N / 2, res) == STORE_OK);
	test_assert(test_census(st)->messages == N);
	free(m);
	free(u);
	free(res);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* The UIDLs read by one handle are kept between its calls, and read again
   once another connection has committed (data_version). */
static void test_other_writer(void)
{
	char *dir;
	int64_t mb;
	struct store *st = setup(&dir, &mb, 0), *other = NULL;
	struct store_import_msg a = msg("Subject: a\r\n\r\na\r\n", "U-A", 0);
	struct store_import_msg b = msg("Subject: b\r\n\r\nb\r\n", "U-B", 0);
	int res[1];

	test_begin("import: a UIDL another process stored between two batches is skipped");
	test_assert(store_import(st, mb, &a, 1, res) == STORE_OK && res[0] == STORE_OK);
	test_assert(store_open(dir, false, &other) == STORE_OK);
	test_assert(store_import(other, mb, &b, 1, res) == STORE_OK && res[0] == STORE_OK);
	store_close(&other);
	test_assert(store_import(st, mb, &b, 1, res) == STORE_OK && res[0] == STORE_EXISTS);
	test_assert(store_import(st, mb, &a, 1, res) == STORE_OK && res[0] == STORE_EXISTS);
	test_assert(test_census(st)->messages == 2);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* Folders, flags, keywords and UIDs the source had (S3, S8, S9). */
static void test_folders(void)
{
	char *dir;
	int64_t mb, sent = 0, other = 0, inbox = 0;
	struct store *st = setup(&dir, &mb, 0);
	struct store_folder f = {0};
	struct store_imsg *l = NULL;
	size_t n = 0;
	int res[4];

	test_begin("import: folders, flags, keywords and UIDs kept where they fit");
	test_assert(store_folder_get(st, mb, "Sent", &f) == STORE_OK);
	sent = f.id;
	uint32_t sent_next = f.uidnext;
	store_folder_clear(&f);
	test_assert(store_inbox_id(st, mb, &inbox) == STORE_OK);
	struct store_import_msg m[4] = {msg("A\r\n", "i1", 0), msg("B\r\n", "i2", 0),
					msg("C\r\n", "s1", 0), msg("D\r\n", "s2", 0)};
	m[0].uid = 5;
	m[0].flags = STORE_FLAG_SEEN | STORE_FLAG_ANSWERED;
	m[0].keywords = "$Forwarded Work bad\\kw work";
	m[1].uid = 9;
	m[2].folder_id = sent;
	m[2].uid = 3; /* passed by the counter: the next one */
	m[2].flags = STORE_FLAG_DRAFT | STORE_FLAG_DELETED | 0x100;
	m[3].folder_id = sent;
	m[3].uid = 40;
	m[3].keywords = "Work";
	test_assert(store_import(st, mb, m, 4, res) == STORE_OK);
	test_assert(res[0] == STORE_OK && res[3] == STORE_OK);
	test_assert(store_folder_load(st, inbox, &l, &n) == STORE_OK && n == 2);
	test_assert(l[0].uid == 5 && l[1].uid == 9);
	test_assert(l[0].flags == (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED));
	test_assert_str(l[0].keywords, "$Forwarded Work");
	test_assert(l[1].keywords == NULL && l[1].flags == 0);
	store_imsgs_free(l, n);
	test_assert(store_folder_load(st, sent, &l, &n) == STORE_OK && n == 2);
	test_assert(l[0].uid == 10 && l[1].uid == 40);
	test_assert(l[0].flags == (STORE_FLAG_DRAFT | STORE_FLAG_DELETED));
	test_assert_str(l[1].keywords, "Work");
	store_imsgs_free(l, n);
	test_assert(store_folder_get(st, mb, "Sent", &f) == STORE_OK);
	test_assert(f.uidnext == 41 && f.uidnext > sent_next && f.highestmodseq > 0);
	test_assert_str(f.keywords, "Work");
	store_folder_clear(&f);
	test_assert(store_folder_get(st, mb, "INBOX", &f) == STORE_OK);
	test_assert(f.uidnext == 10);
	test_assert_str(f.keywords, "$Forwarded Work");
	store_folder_clear(&f);
	test_assert(test_next_uid(st, mb) == 41);
	/* run again: all there (the UIDLs), whatever the folder */
	test_assert(store_import(st, mb, m, 4, res) == STORE_OK);
	test_assert(res[0] == STORE_EXISTS && res[2] == STORE_EXISTS && res[3] == STORE_EXISTS);
	/* a folder of another mailbox is refused, nothing written */
	test_assert(test_add_user(st, "b@example.test", 0) == STORE_OK);
	test_assert(store_folder_get(st, test_mailbox_id(st, "b@example.test"), "Sent", &f) ==
		    STORE_OK);
	other = f.id;
	store_folder_clear(&f);
	struct store_import_msg x = msg("X\r\n", "x1", 0);
	x.folder_id = other;
	test_assert(store_import(st, mb, &x, 1, res) == STORE_INVALID);
	test_assert(test_census(st)->messages == 4);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_other_writer, test_basic, test_skip, test_invalid,
					   test_generated, test_failures, test_many, test_folders,
					   NULL});
}
