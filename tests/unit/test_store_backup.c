/* SPDX-License-Identifier: MIT */
/*
 * test_store_backup.c - store_backup, store_verify and store_restore
 * (store.h "backup, verify, restore"): a backup of a store with messages,
 * queue entries and aliases verifies clean and restores to the same UIDLs;
 * each kind of damage verify checks for is made by SQL (or by hand on the
 * files) in a fresh backup and must be named: a wrong reference count, a
 * missing body or mailbox, a UID counter too low, a wrong use or size, a
 * message outside its mailbox's folders, a folder's UIDNEXT, HIGHESTMODSEQ
 * or UIDVALIDITY out of line, no INBOX, a MANIFEST that does not match, a missing or extra file, a
 * damaged page. Restore refuses a data dir with a store and a bad backup.
 *
 * SQLite only: backup, verify and restore copy and check an SQLite store
 * (on PostgreSQL, store_backup refuses and points at pg_dump), and the
 * damage is done in its file. On another engine every test is skipped.
 */
#include "store/store.h"
#include "test_common.h"
#include "util/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char body1[] = "Subject: one\r\n\r\nfirst\r\n";
static const char body2[] = "Subject: two\r\n\r\nsecond, to two mailboxes\r\n";

/* A store with two mailboxes, an alias, a shared body, a queue entry and
   an SRS secret. */
static struct store *populated(char **dir_r)
{
	struct store *st = test_store_new(dir_r);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "b@example.test", 0) == STORE_OK);
	test_assert(store_alias_add(st, "info@example.test", "a@example.test") == STORE_OK);
	int64_t a = test_mailbox_id(st, "a@example.test");
	int64_t ab[2] = {a, test_mailbox_id(st, "b@example.test")};
	int res[2];
	test_assert(store_deliver(st, &a, 1, body1, sizeof(body1) - 1, NULL, res) == STORE_OK);
	test_assert(store_deliver(st, ab, 2, body2, sizeof(body2) - 1, NULL, res) == STORE_OK);
	struct store_remote_rcpt rr = {.address = "x@remote.test"};
	struct store_submission sub = {.qid = "QBACKUP1",
				       .sender = "a@example.test",
				       .body = body1,
				       .len = sizeof(body1) - 1,
				       .remote = &rr,
				       .n_remote = 1};
	test_assert(store_submit(st, &sub, 1) == STORE_OK);
	char *key = xasprintf("%s/srs.key", *dir_r);
	int fd = open(key, O_WRONLY | O_CREAT | O_EXCL, 0600);
	test_assert(fd >= 0 && write(fd, "0123456789abcdef0123456789abcdef", 32) == 32);
	close(fd);
	free(key);
	return st;
}

struct found {
	char all[8192];
	unsigned n;
};

static void gather(const char *p, void *ctx)
{
	struct found *f = ctx;
	f->n++;
	size_t len = strlen(f->all);
	snprintf(f->all + len, sizeof(f->all) - len, "%s\n", p);
}

/* Opens the store in dir (NULL if it does not open) and verifies it; with
   as_backup the files against the MANIFEST too. */
static struct found check(const char *dir, bool as_backup)
{
	struct found f = {.n = 0};
	struct store *st = NULL;
	if (store_open(dir, false, &st) != STORE_OK) {
		gather("does not open", &f);
		store_close(&st);
	}
	int r = store_verify(st, as_backup ? dir : NULL, gather, &f, NULL);
	test_assert((r == STORE_OK) == (f.n == 0));
	store_close(&st);
	return f;
}

/* Damage done in the SQLite file itself. */
static void sql(const char *dir, const char *text)
{
	test_assert(test_sqlite_exec(dir, text));
}

/* A fresh backup of st in a new folder under base. */
static char *backup_of(struct store *st, const char *base, const char *name)
{
	char *dir = xasprintf("%s/%s", base, name);
	struct store_check_stats s;
	test_assert(store_backup(st, dir, &s) == STORE_OK);
	return dir;
}

static void test_backup_verify_ok(void)
{
	test_begin("backup: a populated store verifies clean, live and backed up");
	if (test_sqlite_only())
		return;
	char *dir, *base = test_tmpdir();
	struct store *st = populated(&dir);
	struct store_check_stats s, v;

	test_assert(check(dir, false).n == 0);
	char *bk = xasprintf("%s/bk", base);
	test_assert(store_backup(st, bk, &s) == STORE_OK);
	/* postmaster, a and b; the queued copy has a body of its own */
	test_assert(s.mailboxes == 3 && s.messages == 3 && s.bodies == 3 && s.queued == 1);
	test_assert(s.octets == (uint64_t)test_census(st)->body_octets);
	test_assert(s.taken > 0);
	struct stat sb;
	test_assert(stat(bk, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	const char *files[] = {"mailroom.db", "srs.key", "MANIFEST"};
	for (size_t i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", bk, files[i]);
		test_assert(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600);
		free(p);
	}
	struct found f = check(bk, true);
	test_assert(f.n == 0);
	if (f.n != 0)
		fprintf(stderr, "%s", f.all);
	/* twice: opening a backup changes none of its octets */
	test_assert(check(bk, true).n == 0);
	struct store *b = NULL;
	test_assert(store_open(bk, false, &b) == STORE_OK);
	test_assert(store_verify(b, bk, NULL, NULL, &v) == STORE_OK);
	test_assert(v.messages == 3 && v.taken == s.taken);
	store_close(&b);
	/* DIR must not exist */
	test_assert(store_backup(st, bk, &s) == STORE_EXISTS);
	test_assert(strstr(store_error(st), "exists") != NULL);
	char *deep = xasprintf("%s/no/such/parent", base);
	test_assert(store_backup(st, deep, &s) == STORE_PERM);
	free(deep);
	free(bk);
	store_close(&st);
	test_rmtree(dir);
	test_rmtree(base);
	test_end();
}

static const struct {
	const char *what, *sql, *says;
} db_damage[] = {
    {"wrong reference count", "UPDATE bodies SET refcount = refcount + 1", "reference count"},
    {"orphan body", "INSERT INTO bodies (refcount, size, data) VALUES (0, 1, x'41')",
     "used by no message"},
    {"missing body",
     "DELETE FROM bodies WHERE id = (SELECT body_id FROM messages ORDER BY id LIMIT 1)",
     "which does not exist"},
    {"missing mailbox", "DELETE FROM mailboxes WHERE address = 'b@example.test'",
     "belongs to mailbox"},
    {"queue without body", "UPDATE queue SET body_id = 999",
     "queue entry QBACKUP1 points at body 999"},
    {"UID counter too low", "UPDATE mailboxes SET next_uid = 2 WHERE address = 'a@example.test'",
     "would reuse a UID"},
    {"used mismatch", "UPDATE mailboxes SET used = used + 7 WHERE address = 'a@example.test'",
     "its use is recorded"},
    {"count mismatch", "UPDATE mailboxes SET messages = 9 WHERE address = 'b@example.test'",
     "message count is recorded as 9"},
    {"message size", "UPDATE messages SET size = size + 1 WHERE uid = 1", "has size"},
    {"body size", "UPDATE bodies SET size = 3 WHERE id = (SELECT min(id) FROM bodies)",
     "says 3 octets"},
    {"duplicate UIDL",
     "UPDATE messages SET uidl = 'same' WHERE mailbox_id = (SELECT id FROM mailboxes"
     " WHERE address = 'a@example.test')",
     "UIDL same is used by 2"},
    /* schema 9: folders (S8, S9) */
    {"message in another mailbox's folder",
     "UPDATE messages SET folder_id = (SELECT id FROM folders WHERE name = 'Sent' AND"
     " mailbox_id = (SELECT id FROM mailboxes WHERE address = 'b@example.test'))"
     " WHERE mailbox_id = (SELECT id FROM mailboxes WHERE address = 'a@example.test')",
     "which belongs to mailbox"},
    {"message in no folder", "UPDATE messages SET folder_id = 999 WHERE uid = 1",
     "is in folder 999, which does not exist"},
    {"no INBOX",
     "UPDATE folders SET name = 'Old' WHERE name = 'INBOX' AND mailbox_id ="
     " (SELECT id FROM mailboxes WHERE address = 'postmaster')",
     "mailbox postmaster has no INBOX folder"},
    {"UIDNEXT too low", "UPDATE folders SET uidnext = 1 WHERE name = 'INBOX'",
     "its UIDNEXT is 1, but it holds UID"},
    {"HIGHESTMODSEQ too low", "UPDATE messages SET modseq = 99", "a message or expunge record"},
    {"expunge record above HIGHESTMODSEQ",
     "INSERT INTO expunged (folder_id, uid, modseq, at) SELECT id, 50, 1000, 0 FROM folders"
     " WHERE name = 'Trash' LIMIT 1",
     "has modseq 1000"},
    {"UIDVALIDITY above the mailbox's last",
     "UPDATE folders SET uidvalidity = uidvalidity + 5 WHERE name = 'Junk'",
     "above the mailbox's last one"},
    {"UIDVALIDITY 0", "UPDATE folders SET uidvalidity = 0 WHERE name = 'Drafts'",
     "UIDVALIDITY 0 is 0"},
    {"folder of no mailbox",
     "UPDATE folders SET mailbox_id = 999 WHERE id = (SELECT max(id) FROM folders)",
     "belongs to mailbox 999, which does not exist"},
    {"expunge records of no folder",
     "INSERT INTO expunged (folder_id, uid, modseq, at) VALUES (999, 1, 1, 0)",
     "belong to folder 999"},
};

/* As a backup, the database no longer matches its MANIFEST. */
static void db_changed(const char *bk)
{
	struct found f = check(bk, true);
	test_assert(strstr(f.all, "mailroom.db has changed since the backup") != NULL);
}

static void test_verify_db_damage(void)
{
	test_begin("verify: each kind of damage to the data is named");
	if (test_sqlite_only())
		return;
	char *dir, *base = test_tmpdir();
	struct store *st = populated(&dir);

	for (size_t i = 0; i < N_ELEMENTS(db_damage); i++) {
		char name[16];
		snprintf(name, sizeof(name), "d%zu", i);
		char *bk = backup_of(st, base, name);
		sql(bk, db_damage[i].sql);
		struct found f = check(bk, false);
		bool named = strstr(f.all, db_damage[i].says) != NULL;
		if (!named)
			fprintf(stderr, "%s: expected \"%s\" in:\n%s", db_damage[i].what,
				db_damage[i].says, f.all);
		test_assert(f.n > 0 && named);
		db_changed(bk);
		free(bk);
	}
	store_close(&st);
	test_rmtree(dir);
	test_rmtree(base);
	test_end();
}

static void flip(const char *path, long off)
{
	int fd = open(path, O_RDWR);
	unsigned char c = 0;
	test_assert(fd >= 0 && pread(fd, &c, 1, off) == 1);
	c ^= 0xff;
	test_assert(pwrite(fd, &c, 1, off) == 1);
	close(fd);
}

static void test_verify_files(void)
{
	test_begin("verify: MANIFEST mismatch, missing, extra and corrupt files");
	if (test_sqlite_only())
		return;
	char *dir, *base = test_tmpdir();
	struct store *st = populated(&dir);

	char *bk = backup_of(st, base, "m1");
	char *p = xasprintf("%s/MANIFEST", bk);
	FILE *f = fopen(p, "a");
	fputs("messages 99\n", f);
	fclose(f);
	struct found fd = check(bk, true);
	test_assert(strstr(fd.all, "the MANIFEST says 99 messages") != NULL);
	free(p);
	free(bk);

	bk = backup_of(st, base, "m2");
	p = xasprintf("%s/srs.key", bk);
	flip(p, 3);
	fd = check(bk, true);
	test_assert(fd.n == 1 && strstr(fd.all, "srs.key has changed") != NULL);
	/* the data checks alone do not see the secret */
	test_assert(check(bk, false).n == 0);
	unlink(p);
	fd = check(bk, true);
	test_assert(fd.n == 1 && strstr(fd.all, "srs.key is listed in the MANIFEST but cannot "
						"be read") != NULL);
	free(p);
	p = xasprintf("%s/stray.eml", bk);
	close(open(p, O_WRONLY | O_CREAT, 0600));
	fd = check(bk, true);
	test_assert(strstr(fd.all, "stray.eml is not listed in the MANIFEST") != NULL);
	free(p);
	p = xasprintf("%s/MANIFEST", bk);
	unlink(p);
	fd = check(bk, true);
	test_assert(fd.n == 1 && strstr(fd.all, "MANIFEST is missing") != NULL);
	free(p);
	free(bk);

	/* a message's octets changed in place: only the checksum can tell */
	bk = backup_of(st, base, "m3");
	p = xasprintf("%s/mailroom.db", bk);
	char *db = NULL;
	size_t len = 0;
	FILE *in = fopen(p, "rb");
	fseek(in, 0, SEEK_END);
	len = (size_t)ftell(in);
	rewind(in);
	db = xmalloc(len);
	test_assert(fread(db, 1, len, in) == len);
	fclose(in);
	char *hit = memmem(db, len, "second, to two", 14);
	test_assert(hit != NULL);
	if (hit != NULL)
		flip(p, (long)(hit - db));
	free(db);
	db_changed(bk);
	free(p);
	free(bk);

	/* a damaged b-tree page: SQLite's integrity check names it */
	bk = backup_of(st, base, "m4");
	p = xasprintf("%s/mailroom.db", bk);
	long long root = test_sqlite_int(bk, "SELECT rootpage FROM sqlite_master WHERE name = "
					     "'messages_body'");
	long long psize = test_sqlite_int(bk, "PRAGMA page_size");
	test_assert(root > 1 && psize > 0);
	for (long k = 3; k < 12; k++)
		flip(p, (long)((root - 1) * psize) + k);
	fd = check(bk, false);
	test_assert(fd.n > 0);
	test_assert(strstr(fd.all, "integrity") != NULL || strstr(fd.all, "could not be read"));
	db_changed(bk);
	free(p);
	free(bk);

	/* no database at all */
	bk = backup_of(st, base, "m5");
	p = xasprintf("%s/mailroom.db", bk);
	unlink(p);
	fd = check(bk, true);
	test_assert(strstr(fd.all, "mailroom.db is listed in the MANIFEST but cannot be read"));
	free(p);
	free(bk);
	store_close(&st);
	test_rmtree(dir);
	test_rmtree(base);
	test_end();
}

static void test_restore(void)
{
	test_begin("restore: same messages and UIDLs; refuses a store and a bad backup");
	if (test_sqlite_only())
		return;
	char *dir, *base = test_tmpdir();
	struct store *st = populated(&dir);
	char err[1024];

	char *bk = backup_of(st, base, "good");
	/* written after the snapshot: not in the restore */
	int64_t a = test_mailbox_id(st, "a@example.test");
	int res;
	test_assert(store_deliver(st, &a, 1, body1, sizeof(body1) - 1, NULL, &res) == STORE_OK);

	/* into the live data dir: refused (a lock of this very process does not
	   show as held, so it is named as a store; test_backup.py sees serve's) */
	test_assert(store_restore(bk, dir, err, sizeof(err)) == STORE_EXISTS);
	char *to = xasprintf("%s/restored", base);
	test_assert(store_restore(bk, to, err, sizeof(err)) == STORE_OK);
	struct stat sb;
	test_assert(stat(to, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	struct store *r = NULL;
	test_assert(store_open(to, false, &r) == STORE_OK);
	test_assert(store_verify(r, NULL, NULL, NULL, NULL) == STORE_OK);
	const char *who[] = {"a@example.test", "b@example.test"};
	for (size_t w = 0; w < 2; w++) {
		struct store_msg *m1 = NULL, *m2 = NULL;
		size_t n1 = 0, n2 = 0;
		test_assert(store_mailbox_load(st, test_mailbox_id(st, who[w]), &m1, &n1) ==
			    STORE_OK);
		test_assert(store_mailbox_load(r, test_mailbox_id(r, who[w]), &m2, &n2) ==
			    STORE_OK);
		test_assert(n2 == (w == 0 ? 2u : 1u) && n1 == n2 + (w == 0 ? 1u : 0u));
		for (size_t i = 0; i < n2 && i < n1; i++)
			test_assert(strcmp(m1[i].uidl, m2[i].uidl) == 0 &&
				    m1[i].size == m2[i].size);
		free(m1);
		free(m2);
	}
	char *key = xasprintf("%s/srs.key", to);
	test_assert(stat(key, &sb) == 0 && sb.st_size == 32 && (sb.st_mode & 0777) == 0600);
	free(key);
	store_close(&r);
	/* a data dir with a store (no process has it open) */
	test_assert(store_restore(bk, to, err, sizeof(err)) == STORE_EXISTS);
	test_assert(strstr(err, "already holds a store") != NULL);

	/* a bad backup: nothing copied */
	char *bad = backup_of(st, base, "bad");
	sql(bad, "UPDATE bodies SET refcount = 7");
	char *to2 = xasprintf("%s/restored2", base);
	test_assert(store_restore(bad, to2, err, sizeof(err)) == STORE_INVALID);
	test_assert(strstr(err, "no good backup") != NULL);
	char *db2 = xasprintf("%s/mailroom.db", to2);
	test_assert(access(db2, F_OK) < 0);
	/* files whole, data not: made from a damaged store, the MANIFEST
	   matches; the staged copy's check refuses it, and nothing is left */
	sql(dir, "UPDATE mailboxes SET next_uid = 1");
	char *bad2 = backup_of(st, base, "bad2");
	test_assert(store_restore(bad2, to2, err, sizeof(err)) == STORE_INVALID);
	test_assert(strstr(err, "would reuse a UID") != NULL);
	test_assert(access(db2, F_OK) < 0);
	char *stage = xasprintf("%s/restore.tmp", to2);
	test_assert(access(stage, F_OK) < 0);
	free(stage);
	free(bad2);
	char *nodir = xasprintf("%s/none", base);
	test_assert(store_restore(nodir, to2, err, sizeof(err)) == STORE_INVALID);
	test_assert(access(db2, F_OK) < 0);
	free(nodir);
	free(db2);
	free(to2);
	free(bad);
	free(to);
	free(bk);
	store_close(&st);
	test_rmtree(dir);
	test_rmtree(base);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_backup_verify_ok, test_verify_db_damage,
					   test_verify_files, test_restore, NULL});
}
