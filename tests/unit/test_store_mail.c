/* SPDX-License-Identifier: MIT */
/*
 * test_store_mail.c - store/store.h, the message half: store_deliver, the
 * POP3 view (store_mailbox_load, store_message_read, the body reader),
 * store_expunge and
 * store_to_wire, against the invariants S1-S7 of store.h. Complements
 * test_store.c with the edges: body reference counts, quota boundaries,
 * UIDs after expunging the newest message, UIDL format and uniqueness,
 * invalid imported UIDLs writing nothing, exact bytes (NUL, 8-bit, 1 MiB),
 * all-or-nothing expunge, injected commit failures, and two handles (and two
 * threads) on one database. Row counts come from the store's census
 * (store_backup.h).
 */
#include "store/store.h"
#include "test_common.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ---------------------------------------------------------------- */

static struct store *fresh(char **dir_r)
{
	struct store *st = NULL;
	*dir_r = test_tmpdir();
	test_assert(store_open(*dir_r, true, &st) == STORE_OK);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	return st;
}

static int64_t new_user(struct store *st, const char *address, uint64_t quota)
{
	struct store_user_new nu = {.address = address, .pw_hash = "$y$x", .quota = quota};
	struct store_user u;
	int64_t id = -1;

	test_assert(store_user_add(st, &nu) == STORE_OK);
	if (store_user_lookup(st, address, &u) == STORE_OK)
		id = u.id;
	store_user_clear(&u);
	return id;
}

static struct store_user user_of(struct store *st, const char *address)
{
	struct store_user u;
	memset(&u, 0, sizeof(u));
	test_assert(store_user_lookup(st, address, &u) == STORE_OK);
	return u;
}

static size_t load(struct store *st, int64_t mailbox, struct store_msg **msgs_r)
{
	size_t n = 0;
	*msgs_r = NULL;
	test_assert(store_mailbox_load(st, mailbox, msgs_r, &n) == STORE_OK);
	return n;
}

static size_t count(struct store *st, int64_t mailbox)
{
	struct store_msg *m;
	size_t n = load(st, mailbox, &m);
	free(m);
	return n;
}

static bool uidl_ok(const char *u)
{
	size_t n = strlen(u);
	if (n < 1 || n > 70)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return false;
	return true;
}

static bool uidls_distinct(const struct store_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(m[i].uidl, m[j].uidl) == 0)
				return false;
	return true;
}

static const char MSG[] = "From: a@example.test\r\nSubject: t\r\n\r\nbody\r\n";
#define MSG_LEN (sizeof(MSG) - 1)

/* --- single instance (S2) ---------------------------------------------------- */

static void test_single_instance(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[3];
	struct store_msg *m[3];

	test_begin("store: one body row for three mailboxes, refcount to zero (S2)");
	int64_t ids[3] = {new_user(st, "a@example.test", 0), new_user(st, "b@example.test", 0),
			  new_user(st, "c@example.test", 0)};
	test_assert(store_deliver(st, ids, 3, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(res[0] == STORE_OK && res[1] == STORE_OK && res[2] == STORE_OK);
	test_assert(test_census(st)->bodies == 1);
	test_assert(test_census(st)->body_refs == 3); /* the one body's */
	test_assert(test_census(st)->messages == 3);
	for (int i = 0; i < 3; i++)
		test_assert(load(st, ids[i], &m[i]) == 1);

	/* each mailbox reads the same bytes from the shared body */
	for (int i = 0; i < 3; i++) {
		struct buf out = {0};
		test_assert(store_message_read(st, ids[i], m[i][0].id, &out) == STORE_OK);
		test_assert(out.len == MSG_LEN && memcmp(out.data, MSG, MSG_LEN) == 0);
		buf_free(&out);
	}
	test_assert(store_expunge(st, ids[1], &m[1][0].id, 1) == STORE_OK);
	test_assert(test_census(st)->bodies == 1 && test_census(st)->body_refs == 2);
	test_assert(store_expunge(st, ids[0], &m[0][0].id, 1) == STORE_OK);
	test_assert(test_census(st)->bodies == 1 && test_census(st)->body_refs == 1);
	/* the last holder still reads it */
	struct buf out = {0};
	test_assert(store_message_read(st, ids[2], m[2][0].id, &out) == STORE_OK);
	test_assert(out.len == MSG_LEN);
	buf_free(&out);
	test_assert(store_expunge(st, ids[2], &m[2][0].id, 1) == STORE_OK);
	test_assert(test_census(st)->bodies == 0);
	test_assert(test_census(st)->messages == 0);
	/* a second delivery to the same mailboxes makes a second body */
	test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(test_census(st)->bodies == 2);
	test_assert(test_census(st)->body_refs == 4);
	for (int i = 0; i < 3; i++)
		free(m[i]);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- quota -------------------------------------------------------------------- */

static void test_quota(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[3];

	test_begin("store: quota per mailbox, boundary, all full, unknown mailboxes");
	/* room for exactly two messages */
	int64_t ids[3] = {new_user(st, "small@example.test", 2 * MSG_LEN),
			  new_user(st, "big@example.test", 0),
			  new_user(st, "mid@example.test", 10 * MSG_LEN)};
	test_assert(store_deliver(st, ids, 3, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, ids, 3, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(res[0] == STORE_OK); /* used == quota is allowed */
	struct store_user u = user_of(st, "small@example.test");
	test_assert(u.used == 2 * MSG_LEN && u.messages == 2 && u.quota == 2 * MSG_LEN);
	store_user_clear(&u);

	/* one over: that mailbox reports STORE_QUOTA, the others take it */
	test_assert(store_deliver(st, ids, 3, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(res[0] == STORE_QUOTA && res[1] == STORE_OK && res[2] == STORE_OK);
	test_assert(count(st, ids[0]) == 2 && count(st, ids[1]) == 3);
	test_assert(test_census(st)->body_newest_refs == 2);
	u = user_of(st, "small@example.test");
	test_assert(u.used == 2 * MSG_LEN && u.messages == 2);
	store_user_clear(&u);

	/* everyone full: STORE_QUOTA, and no body row is left behind */
	int64_t bodies = test_census(st)->bodies;
	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, NULL, res) == STORE_QUOTA);
	test_assert(res[0] == STORE_QUOTA);
	test_assert(store_user_set_limit(st, "mid@example.test", STORE_LIMIT_QUOTA, 3 * MSG_LEN) ==
		    STORE_OK);
	int64_t full[2] = {ids[0], ids[2]};
	test_assert(store_deliver(st, full, 2, MSG, MSG_LEN, NULL, res) == STORE_QUOTA);
	test_assert(res[0] == STORE_QUOTA && res[1] == STORE_QUOTA);
	test_assert(test_census(st)->bodies == bodies);

	/* a single byte over also counts; a smaller message still fits */
	test_assert(store_user_set_limit(st, "small@example.test", STORE_LIMIT_QUOTA,
					 2 * MSG_LEN + 2) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, "abc", 3, NULL, res) == STORE_QUOTA);
	test_assert(store_deliver(st, ids, 1, "\r\n", 2, NULL, res) == STORE_OK);
	/* raising the quota lets mail in again; 0 is unlimited */
	test_assert(store_user_set_limit(st, "small@example.test", STORE_LIMIT_QUOTA, 0) ==
		    STORE_OK);
	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
	/* expunging frees room under a quota */
	test_assert(store_user_set_limit(st, "mid@example.test", STORE_LIMIT_QUOTA, 3 * MSG_LEN) ==
		    STORE_OK);
	struct store_msg *m;
	size_t n = load(st, ids[2], &m);
	test_assert(n == 3);
	test_assert(store_expunge(st, ids[2], &m[0].id, 1) == STORE_OK);
	free(m);
	test_assert(store_deliver(st, &ids[2], 1, MSG, MSG_LEN, NULL, res) == STORE_OK);

	/* an unknown mailbox id is reported per recipient, the rest delivered */
	int64_t mixed[2] = {999999, ids[1]};
	test_assert(store_deliver(st, mixed, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(res[0] != STORE_OK && res[1] == STORE_OK);
	test_assert(store_deliver(st, mixed, 1, MSG, MSG_LEN, NULL, res) != STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- UIDs and UIDLs (S3) -------------------------------------------------------- */

static void test_uids(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[2];
	struct store_msg *m, *m2;
	char before[8][71];

	test_begin("store: UIDs grow, never reused; UIDLs valid, unique, stable (S3)");
	int64_t ids[2] = {new_user(st, "a@example.test", 0), new_user(st, "b@example.test", 0)};
	for (int i = 0; i < 4; i++)
		test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	size_t n = load(st, ids[0], &m);
	test_assert(n == 4);
	for (size_t i = 0; i < n; i++) {
		test_assert(uidl_ok(m[i].uidl));
		test_assert(i == 0 || m[i].uid > m[i - 1].uid);
		snprintf(before[i], sizeof(before[i]), "%s", m[i].uidl);
	}
	test_assert(uidls_distinct(m, n));
	/* mailboxes do not share UIDLs */
	size_t n2 = load(st, ids[1], &m2);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n2; j++)
			test_assert(strcmp(m[i].uidl, m2[j].uidl) != 0);
	free(m2);

	/* expunge the NEWEST message, reopen: its UID is not handed out again */
	uint64_t top = m[3].uid;
	test_assert(store_expunge(st, ids[0], &m[3].id, 1) == STORE_OK);
	free(m);
	store_close(&st);
	test_assert(store_open(dir, false, &st) == STORE_OK);
	n = load(st, ids[0], &m);
	test_assert(n == 3);
	for (size_t i = 0; i < n && i < 3; i++)
		test_assert_str(m[i].uidl, before[i]); /* stable across reopen */
	free(m);
	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
	n = load(st, ids[0], &m);
	test_assert(n == 4 && m[n - 1].uid > top);
	for (int i = 0; i < 4; i++) /* not even the expunged newest one's */
		test_assert(strcmp(m[n - 1].uidl, before[i]) != 0);

	/* expunge everything, reopen, deliver: still above every old UID */
	int64_t all[4];
	for (size_t i = 0; i < n; i++)
		all[i] = m[i].id;
	uint64_t top2 = m[n - 1].uid;
	test_assert(store_expunge(st, ids[0], all, n) == STORE_OK);
	free(m);
	store_close(&st);
	test_assert(store_open(dir, false, &st) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
	n = load(st, ids[0], &m);
	test_assert(n == 1 && m[0].uid > top2);
	for (int i = 0; i < 4; i++)
		test_assert(strcmp(m[0].uidl, before[i]) != 0);
	free(m);

	/* a mailbox removed and made again never repeats an old UIDL */
	test_assert(store_user_remove(st, "b@example.test") == STORE_OK);
	int64_t b2 = new_user(st, "b@example.test", 0);
	test_assert(store_deliver(st, &b2, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
	n = load(st, b2, &m);
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 4; j++)
			test_assert(strcmp(m[i].uidl, before[j]) != 0);
	free(m);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_imported_uidl(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[2];
	struct store_msg *m;
	char u70[71], u71[72];

	test_begin("store: imported UIDLs kept; invalid ones refused with nothing written");
	int64_t ids[2] = {new_user(st, "a@example.test", 0), new_user(st, "b@example.test", 0)};
	memset(u70, '~', 70);
	u70[70] = '\0';
	memset(u71, '!', 71);
	u71[71] = '\0';
	test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, "UID-1.old@server", res) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, u70, res) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);

	const char *const bad[] = {"",	       "has space", "tab\there", "del\x7f",
				   "\xc3\xa4", "new\nline", u71};
	int64_t bodies = test_census(st)->bodies;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		res[0] = res[1] = STORE_OK;
		test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, bad[i], res) == STORE_INVALID);
		test_assert(res[0] != STORE_OK && res[1] != STORE_OK);
	}
	test_assert(test_census(st)->bodies == bodies);
	test_assert(count(st, ids[0]) == 3 && count(st, ids[1]) == 1);

	store_close(&st);
	test_assert(store_open(dir, false, &st) == STORE_OK);
	size_t n = load(st, ids[0], &m);
	test_assert(n == 3);
	if (n == 3) {
		test_assert_str(m[0].uidl, "UID-1.old@server");
		test_assert_str(m[1].uidl, u70);
		test_assert(uidl_ok(m[2].uidl) && uidls_distinct(m, n));
	}
	free(m);
	n = load(st, ids[1], &m);
	test_assert(n == 1 && strcmp(m[0].uidl, "UID-1.old@server") == 0);
	free(m);

	test_assert(store_deliver(st, ids, 1, MSG, MSG_LEN, "dup", res) == STORE_OK);
	int r = store_deliver(st, ids, 1, MSG, MSG_LEN, "dup", res);
	test_assert(r == STORE_OK || r == STORE_EXISTS || r == STORE_INVALID);
	n = load(st, ids[0], &m);
	test_assert(uidls_distinct(m, n));
	free(m);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- exact bytes and sizes (S4) ----------------------------------------------- */

static void test_exact_bytes(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[1];
	static const char nul8[] = "Subject: \xff\xfe\r\n\r\na\0b\0\r\n\x80\x00\x7f\r\n";
	const size_t big_len = 1024 * 1024 + 17;
	char *big = malloc(big_len);

	test_begin("store: exact sizes and bytes (NUL, 8-bit, empty, 1 MiB)");
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 131 + (i >> 9));
	int64_t id = new_user(st, "a@example.test", 0);
	test_assert(store_deliver(st, &id, 1, nul8, sizeof(nul8) - 1, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, &id, 1, big, big_len, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, &id, 1, "", 0, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, &id, 1, "\r\n", 2, NULL, res) == STORE_OK);

	struct store_msg *m;
	size_t n = load(st, id, &m);
	test_assert(n == 4);
	if (n == 4) {
		test_assert(m[0].size == sizeof(nul8) - 1);
		test_assert(m[1].size == big_len);
		test_assert(m[2].size == 0);
		test_assert(m[3].size == 2);
		struct buf out = {0};
		test_assert(store_message_read(st, id, m[0].id, &out) == STORE_OK);
		test_assert(out.len == sizeof(nul8) - 1 && memcmp(out.data, nul8, out.len) == 0);
		buf_clear(&out);
		test_assert(store_message_read(st, id, m[1].id, &out) == STORE_OK);
		test_assert(out.len == big_len && memcmp(out.data, big, big_len) == 0);
		buf_clear(&out);
		test_assert(store_message_read(st, id, m[2].id, &out) == STORE_OK);
		test_assert(out.len == 0);
		/* a read appends to what the buffer holds */
		buf_append(&out, "+OK\r\n", 5);
		test_assert(store_message_read(st, id, m[3].id, &out) == STORE_OK);
		test_assert(out.len == 7 && memcmp(out.data, "+OK\r\n\r\n", 7) == 0);
		/* nothing is appended for a message that is not there */
		test_assert(store_message_read(st, id, 987654321, &out) == STORE_NOTFOUND);
		test_assert(out.len == 7);
		buf_free(&out);
	}
	struct store_user u = user_of(st, "a@example.test");
	test_assert(u.used == sizeof(nul8) - 1 + big_len + 0 + 2 && u.messages == 4);
	store_user_clear(&u);
	if (n == 4)
		test_assert(store_expunge(st, id, &m[1].id, 1) == STORE_OK);
	u = user_of(st, "a@example.test");
	test_assert(u.used == sizeof(nul8) - 1 + 2 && u.messages == 3);
	store_user_clear(&u);
	free(m);
	free(big);

	int r = store_deliver(st, &id, 1, NULL, 0, NULL, res);
	test_assert(r == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- body reader (POP3 RETR/TOP in pieces) ------------------------------------- */

/* Reads the whole body in pieces of `piece` octets; the status of the first
   failing read, else STORE_OK. */
static int read_pieces(struct store *st, struct store_body_reader *r, size_t piece, struct buf *out)
{
	char *tmp = malloc(piece);
	uint64_t off = 0;
	size_t n;
	int ret;

	while ((ret = store_body_read(st, r, off, tmp, piece, &n)) == STORE_OK && n > 0) {
		buf_append(out, tmp, n);
		off += n;
	}
	free(tmp);
	return ret;
}

static void test_body_reader(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	struct store *other = NULL;
	int res[2];
	const size_t big_len = 300 * 1024 + 5;
	char *big = malloc(big_len);
	struct store_body_reader r, gone;
	struct buf out = {0};
	char tmp[16];
	size_t n = 99;

	test_begin("store: a body read in pieces is byte-exact, checks its message (S2, S4)");
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)(i * 131 + (i >> 9));
	int64_t ids[2] = {new_user(st, "a@example.test", 0), new_user(st, "b@example.test", 0)};
	test_assert(store_deliver(st, ids, 2, big, big_len, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, "", 0, NULL, res) == STORE_OK);
	struct store_msg *m;
	size_t nm = load(st, ids[0], &m);
	test_assert(nm == 2);
	if (nm != 2)
		goto done;

	test_assert(store_body_open(st, ids[0], m[0].id, &r) == STORE_OK);
	test_assert(r.size == big_len && r.size == m[0].size);
	/* any piece size, and any handle: the reader holds nothing */
	test_assert(store_open(dir, false, &other) == STORE_OK);
	static const size_t pieces[] = {1000, 64 * 1024, 7, big_len, big_len + 1};
	for (size_t i = 0; i < N_ELEMENTS(pieces); i++) {
		buf_clear(&out);
		test_assert(read_pieces(i % 2 ? other : st, &r, pieces[i], &out) == STORE_OK);
		test_assert(out.len == big_len && memcmp(out.data, big, big_len) == 0);
	}
	/* at and past the end: nothing, not an error */
	test_assert(store_body_read(st, &r, big_len, tmp, sizeof(tmp), &n) == STORE_OK && n == 0);
	test_assert(store_body_read(st, &r, big_len + 9, tmp, sizeof(tmp), &n) == STORE_OK &&
		    n == 0);
	test_assert(store_body_read(st, &r, big_len - 3, tmp, sizeof(tmp), &n) == STORE_OK &&
		    n == 3 && memcmp(tmp, big + big_len - 3, 3) == 0);

	/* an empty body */
	test_assert(store_body_open(st, ids[0], m[1].id, &gone) == STORE_OK && gone.size == 0);
	test_assert(store_body_read(st, &gone, 0, tmp, sizeof(tmp), &n) == STORE_OK && n == 0);

	/* another mailbox's message, an unknown one */
	test_assert(store_body_open(st, ids[1], m[0].id, &gone) == STORE_NOTFOUND);
	test_assert(store_body_open(st, ids[0], 987654321, &gone) == STORE_NOTFOUND);

	/* a reader with only its message set is opened by its first read */
	struct store_body_reader lazy = {.mailbox_id = ids[0], .msg_id = m[0].id};
	test_assert(store_body_read(st, &lazy, 0, tmp, 10, &n) == STORE_OK && n == 10);
	test_assert(lazy.body_id == r.body_id && lazy.size == r.size);
	struct store_body_reader nowhere = {.mailbox_id = ids[1], .msg_id = m[0].id};
	test_assert(store_body_read(st, &nowhere, 0, tmp, 10, &n) == STORE_NOTFOUND && n == 0);
	/* expunged between two pieces: NOTFOUND, even though mailbox b still
	   holds the body (S2), and even though the body row is later reused */
	test_assert(store_expunge(other, ids[0], &m[0].id, 1) == STORE_OK);
	test_assert(store_body_read(st, &r, 0, tmp, sizeof(tmp), &n) == STORE_NOTFOUND && n == 0);
	struct store_body_reader forged = r;
	struct store_msg *mb;
	size_t nb = load(st, ids[1], &mb);
	test_assert(nb == 1);
	if (nb == 1) {
		/* b's message with the body id of a's empty one: the row check refuses */
		forged.mailbox_id = ids[1];
		forged.msg_id = mb[0].id;
		test_assert(store_body_read(st, &forged, 0, tmp, sizeof(tmp), &n) == STORE_OK &&
			    n == sizeof(tmp));
		forged.body_id = r.body_id + 1;
		test_assert(store_body_read(st, &forged, 0, tmp, sizeof(tmp), &n) ==
				STORE_NOTFOUND &&
			    n == 0);
	}
	free(mb);
	free(m);
done:
	buf_free(&out);
	free(big);
	store_close(&other);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- expunge (S5) ------------------------------------------------------------- */

static void test_expunge(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[2];
	struct store_msg *m, *mb;

	test_begin("store: expunge all or nothing, idempotent, only its own mailbox (S5)");
	int64_t ids[2] = {new_user(st, "a@example.test", 0), new_user(st, "b@example.test", 0)};
	for (int i = 0; i < 5; i++)
		test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	size_t n = load(st, ids[0], &m);
	size_t nb = load(st, ids[1], &mb);
	test_assert(n == 5 && nb == 5);

	test_assert(store_expunge(st, ids[0], NULL, 0) == STORE_OK);
	/* another mailbox's message ids are ignored, not removed */
	test_assert(store_expunge(st, ids[0], &mb[0].id, 1) == STORE_OK);
	test_assert(count(st, ids[1]) == 5);

	/* an injected commit failure leaves every message in place */
	int64_t three[3] = {m[0].id, m[2].id, m[4].id};
	store_test_fail_next_commit(st);
	int r = store_expunge(st, ids[0], three, 3);
	test_assert(r == STORE_TEMP || r == STORE_PERM);
	test_assert(count(st, ids[0]) == 5);
	struct store_user u = user_of(st, "a@example.test");
	test_assert(u.messages == 5 && u.used == 5 * MSG_LEN);
	store_user_clear(&u);
	test_assert(test_census(st)->body_refs == 10);

	/* the retry works, with a duplicate id and a gone id in the list */
	int64_t again[5] = {m[0].id, m[2].id, m[4].id, m[2].id, 123456789};
	test_assert(store_expunge(st, ids[0], again, 5) == STORE_OK);
	struct store_msg *left;
	size_t nl = load(st, ids[0], &left);
	test_assert(nl == 2 && left[0].id == m[1].id && left[1].id == m[3].id);
	free(left);
	u = user_of(st, "a@example.test");
	test_assert(u.messages == 2 && u.used == 2 * MSG_LEN);
	store_user_clear(&u);
	test_assert(test_census(st)->body_refs == 7);
	test_assert(test_census(st)->bodies == 5);
	/* idempotent */
	test_assert(store_expunge(st, ids[0], three, 3) == STORE_OK);
	test_assert(count(st, ids[0]) == 2);
	struct buf out = {0};
	test_assert(store_message_read(st, ids[0], m[0].id, &out) == STORE_NOTFOUND);
	test_assert(out.len == 0);
	buf_free(&out);
	free(m);
	free(mb);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- injected commit failure (S7) ------------------------------------------------ */

static void test_fail_commit(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[2];

	test_begin("store: a failed commit writes nothing, the next call succeeds (S7)");
	int64_t ids[2] = {new_user(st, "a@example.test", 0), new_user(st, "b@example.test", 0)};
	test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	struct store_msg *m;
	test_assert(load(st, ids[0], &m) == 1);
	uint64_t uid1 = m[0].uid;
	free(m);

	store_test_fail_next_commit(st);
	res[0] = res[1] = STORE_OK;
	int r = store_deliver(st, ids, 2, MSG, MSG_LEN, "imported", res);
	test_assert(r == STORE_TEMP || r == STORE_PERM);
	test_assert(res[0] == r && res[1] == r); /* nobody is told "done" */
	test_assert(strlen(store_error(st)) > 0);
	test_assert(test_census(st)->bodies == 1);
	test_assert(test_census(st)->messages == 2);
	struct store_user u = user_of(st, "a@example.test");
	test_assert(u.messages == 1 && u.used == MSG_LEN);
	store_user_clear(&u);

	/* the next delivery goes through and its UID follows the first */
	test_assert(store_deliver(st, ids, 2, MSG, MSG_LEN, NULL, res) == STORE_OK);
	test_assert(res[0] == STORE_OK && res[1] == STORE_OK);
	test_assert(load(st, ids[0], &m) == 2);
	test_assert(m[1].uid > uid1);
	free(m);

	/* the seam fails exactly one commit, also for the directory */
	store_test_fail_next_commit(st);
	struct store_user_new nu = {.address = "c@example.test", .pw_hash = "$y$x"};
	r = store_user_add(st, &nu);
	test_assert(r == STORE_TEMP || r == STORE_PERM);
	struct store_user cu;
	test_assert(store_user_lookup(st, "c@example.test", &cu) == STORE_NOTFOUND);
	store_user_clear(&cu);
	test_assert(store_user_add(st, &nu) == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- wire form ---------------------------------------------------------------------- */

static bool wire_is(const char *in, size_t in_len, const char *want, size_t want_len)
{
	struct buf out = {0};
	store_to_wire(&out, in, in_len);
	bool ok = out.len == want_len && (want_len == 0 || memcmp(out.data, want, want_len) == 0);
	if (!ok)
		printf("  store_to_wire(\"%.*s\") gave %zu octets\n", (int)in_len, in, out.len);
	buf_free(&out);
	return ok;
}

#define WIRE(in, want) test_assert(wire_is(in, sizeof(in) - 1, want, sizeof(want) - 1))

static void test_wire(void)
{
	test_begin("store: store_to_wire conversions");
	WIRE("", "");
	WIRE("a", "a\r\n");
	WIRE("\n", "\r\n");
	WIRE("\r", "\r\n");
	WIRE("\r\n", "\r\n");
	WIRE("a\nb\n", "a\r\nb\r\n");
	WIRE("a\rb\r", "a\r\nb\r\n");
	WIRE("a\r\nb\r\n", "a\r\nb\r\n");
	WIRE("a\n\rb", "a\r\n\r\nb\r\n");   /* LF then lone CR: two line ends */
	WIRE("a\r\r\nb", "a\r\n\r\nb\r\n"); /* lone CR then CRLF */
	WIRE("\n\n\n", "\r\n\r\n\r\n");
	WIRE("\r\r", "\r\n\r\n");
	WIRE("a\r\n\nb", "a\r\n\r\nb\r\n");
	WIRE(".\n..\n", ".\r\n..\r\n"); /* not dot-stuffed (S4) */
	WIRE("a\0b\n", "a\0b\r\n");	/* NUL kept */
	WIRE("\xff\xfe", "\xff\xfe\r\n");
	WIRE("Subject: x\n\nbody", "Subject: x\r\n\r\nbody\r\n");

	/* properties over pseudo-random inputs from {a, CR, LF, NUL}: the
	   output has only CRLF line ends, ends with CRLF when not empty, and
	   converting it again changes nothing */
	unsigned seed = 12345;
	for (int round = 0; round < 2000; round++) {
		char in[40];
		size_t len = (size_t)(round % 40);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = "a\r\n\0"[(seed >> 16) & 3];
		}
		struct buf w = {0}, w2 = {0};
		store_to_wire(&w, in, len);
		bool ok = (len == 0) == (w.len == 0);
		if (w.len > 0)
			ok = ok && w.len >= 2 && memcmp(w.data + w.len - 2, "\r\n", 2) == 0;
		for (size_t i = 0; i < w.len; i++) {
			if (w.data[i] == '\r')
				ok = ok && i + 1 < w.len && w.data[i + 1] == '\n';
			if (w.data[i] == '\n')
				ok = ok && i > 0 && w.data[i - 1] == '\r';
		}
		store_to_wire(&w2, w.data, w.len);
		ok = ok && w2.len == w.len && (w.len == 0 || memcmp(w.data, w2.data, w.len) == 0);
		test_assert(ok);
		buf_free(&w);
		buf_free(&w2);
		if (!ok)
			break;
	}
	test_end();
}

/* --- two handles (S1 visibility) ----------------------------------------------------- */

static void test_two_handles(void)
{
	char *dir;
	struct store *server = fresh(&dir), *cli = NULL;
	int res[1];
	struct store_msg *m;

	test_begin("store: two handles on one database see each other's writes");
	int64_t id = new_user(server, "a@example.test", 0);
	test_assert(store_open(dir, false, &cli) == STORE_OK);
	test_assert(count(server, id) == 0); /* the server has looked once */

	/* the CLI delivers; the server's next load sees it and reads it */
	test_assert(store_deliver(cli, &id, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
	size_t n = load(server, id, &m);
	test_assert(n == 1);
	struct buf out = {0};
	test_assert(n == 1 && store_message_read(server, id, m[0].id, &out) == STORE_OK);
	test_assert(out.len == MSG_LEN);
	buf_free(&out);

	/* the CLI changes the account; the server sees it at once */
	test_assert(store_user_set_enabled(cli, "a@example.test", false) == STORE_OK);
	struct store_user u = user_of(server, "a@example.test");
	test_assert(!u.enabled && u.messages == 1);
	store_user_clear(&u);
	/* the server expunges; the CLI sees the mailbox empty */
	test_assert(store_expunge(server, id, &m[0].id, 1) == STORE_OK);
	test_assert(count(cli, id) == 0);
	test_assert(store_message_read(cli, id, m[0].id, &out) == STORE_NOTFOUND);
	buf_free(&out);
	free(m);

	/* alternating writers keep UIDs unique */
	for (int i = 0; i < 10; i++)
		test_assert(store_deliver(i % 2 ? cli : server, &id, 1, MSG, MSG_LEN, NULL, res) ==
			    STORE_OK);
	n = load(cli, id, &m);
	test_assert(n == 10);
	for (size_t i = 1; i < n; i++)
		test_assert(m[i].uid > m[i - 1].uid);
	free(m);
	store_close(&cli);
	store_close(&server);
	test_rmtree(dir);
	test_end();
}

struct writer {
	const char *dir;
	int64_t mailbox;
	int ok;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct store *st = NULL;
	int res[1];

	if (store_open(w->dir, false, &st) == STORE_OK)
		for (int i = 0; i < 25; i++)
			if (store_deliver(st, &w->mailbox, 1, MSG, MSG_LEN, NULL, res) == STORE_OK)
				w->ok++;
	store_close(&st);
	return NULL;
}

static void test_concurrent_writers(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	pthread_t t[2];
	struct writer w[2];

	test_begin("store: two threads with their own handles deliver concurrently");
	int64_t id = new_user(st, "a@example.test", 0);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct writer){.dir = dir, .mailbox = id};
		test_assert(pthread_create(&t[i], NULL, writer_main, &w[i]) == 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	test_assert(w[0].ok == 25 && w[1].ok == 25);
	struct store_msg *m;
	size_t n = load(st, id, &m);
	test_assert(n == 50);
	for (size_t i = 1; i < n; i++)
		test_assert(m[i].uid > m[i - 1].uid);
	test_assert(uidls_distinct(m, n));
	free(m);
	struct store_user u = user_of(st, "a@example.test");
	test_assert(u.messages == 50 && u.used == 50 * MSG_LEN);
	store_user_clear(&u);
	test_assert(test_census(st)->bodies == 50);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_single_instance, test_quota, test_uids,
					   test_imported_uidl, test_exact_bytes, test_body_reader,
					   test_expunge, test_fail_commit, test_wire,
					   test_two_handles, test_concurrent_writers, NULL});
}
