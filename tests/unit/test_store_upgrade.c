/* SPDX-License-Identifier: MIT */
/*
 * test_store_upgrade.c - upgrades of real old stores (S6): every fixture
 * store of tests/fixtures/stores (made by the mailroom binary of each schema
 * version that shipped, see make.sh there) is copied to a temp folder and
 * opened with today's store_open; every message (bytes, UIDL, UID order),
 * password, quota, alias, domain, route and queue entry of its expected.txt
 * must be there as that version served it, the UID counters must go on
 * where they were, store_verify must find the upgraded store consistent, and
 * the copy taken before the upgrade must be the old store. From schema 9 on
 * (folders) every mailbox has INBOX and the special-use folders, and INBOX
 * holds every old message under its old UID (S8). Also: a store
 * newer than this mailroom is refused and left as it is, and an upgrade
 * whose copy cannot be made changes nothing.
 *
 * SQLite only: the fixtures are SQLite stores, read and damaged in their
 * files (test_common.h test_sqlite_int); a PostgreSQL store is made at the
 * latest schema. On another engine every test is skipped.
 */
#include "test_common.h"

#include "directory/password.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define N_VERSIONS 8 /* fixtures v1 .. v8; today's schema is newer */
#define MAX_ITEMS 64

struct exp_msg {
	char *address, *uidl;
	struct buf body;
};
struct expected {
	int version;
	char *lines[MAX_ITEMS][6]; /* the words of each non-msg line */
	size_t n_lines;
	struct exp_msg msgs[MAX_ITEMS];
	size_t n_msgs;
};

/* The source tree: from MAILROOM_SRC, else from where this file was
   compiled (CMake gives the compiler absolute paths). */
static char *src_dir(void)
{
	const char *env = getenv("MAILROOM_SRC");
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	char *s = xstrdup(__FILE__);
	char *p = strstr(s, "/tests/unit/");
	if (p != NULL)
		*p = '\0';
	return s;
}

static char *fixture_path(int version, const char *file)
{
	char *src = src_dir();
	char *p = xasprintf("%s/tests/fixtures/stores/v%d/%s", src, version, file);
	free(src);
	return p;
}

static bool read_file(const char *path, struct buf *out)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_append(out, tmp, n);
	bool ok = !ferror(f);
	fclose(f);
	return ok;
}

static bool write_file(const char *path, const struct buf *b)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return false;
	bool ok = fwrite(b->data, 1, b->len, f) == b->len;
	return fclose(f) == 0 && ok;
}

static void unhex(const char *h, struct buf *out)
{
	for (size_t i = 0; h[i] != '\0' && h[i + 1] != '\0'; i += 2) {
		char two[3] = {h[i], h[i + 1], '\0'};
		char c = (char)strtoul(two, NULL, 16);
		buf_append(out, &c, 1);
	}
}

static char *unhex_str(const char *h)
{
	struct buf b = {0};
	unhex(h, &b);
	buf_append(&b, "", 1);
	return (char *)b.data;
}

static bool parse_expected(int version, struct expected *e)
{
	char *path = fixture_path(version, "expected.txt");
	struct buf text = {0};
	bool ok = read_file(path, &text);
	free(path);
	memset(e, 0, sizeof(*e));
	if (!ok)
		return false;
	buf_append(&text, "", 1);
	char *save = NULL;
	for (char *line = strtok_r((char *)text.data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *w[6] = {0}, *s2 = NULL;
		size_t n = 0;
		for (char *t = strtok_r(line, " ", &s2); t != NULL && n < 6;
		     t = strtok_r(NULL, " ", &s2))
			w[n++] = t;
		if (n == 0)
			continue;
		if (strcmp(w[0], "version") == 0 && n == 2) {
			e->version = atoi(w[1]);
		} else if (strcmp(w[0], "msg") == 0 && n == 4 && e->n_msgs < MAX_ITEMS) {
			struct exp_msg *m = &e->msgs[e->n_msgs++];
			m->address = xstrdup(w[1]);
			m->uidl = xstrdup(w[2]);
			unhex(w[3], &m->body);
		} else if (e->n_lines < MAX_ITEMS) {
			for (size_t i = 0; i < n; i++)
				e->lines[e->n_lines][i] = xstrdup(w[i]);
			e->n_lines++;
		}
	}
	buf_free(&text);
	return true;
}

static void expected_clear(struct expected *e)
{
	for (size_t i = 0; i < e->n_lines; i++)
		for (size_t j = 0; j < 6; j++)
			free(e->lines[i][j]);
	for (size_t i = 0; i < e->n_msgs; i++) {
		free(e->msgs[i].address);
		free(e->msgs[i].uidl);
		buf_free(&e->msgs[i].body);
	}
}

/* The fixture's database into a fresh temp folder; the tree is never
   written. */
static char *copy_fixture(int version)
{
	char *dir = test_tmpdir();
	char *from = fixture_path(version, "mailroom.db");
	char *to = xasprintf("%s/mailroom.db", dir);
	struct buf b = {0};
	test_assert(read_file(from, &b) && b.len > 0);
	test_assert(write_file(to, &b));
	buf_free(&b);
	free(from);
	/* a fixture is committed after a clean shutdown: no WAL beside it */
	char *wal = fixture_path(version, "mailroom.db-wal");
	test_assert(access(wal, F_OK) < 0);
	free(wal);
	free(to);
	return dir;
}

static int latest_version(void)
{
	char *dir = NULL;
	struct store *st = test_store_new(&dir);
	store_close(&st);
	int v = (int)test_census_dir(dir)->schema_version;
	test_rmtree(dir);
	return v;
}

/* store_open(dir, false) that says why when it fails */
static struct store *open_ok(const char *dir)
{
	struct store *st = NULL;
	int r = store_open(dir, false, &st);
	if (r != STORE_OK)
		fprintf(stderr, "store_open %s: %d: %s\n", dir, r, store_error(st));
	test_assert(r == STORE_OK);
	return st;
}

static void problem_cb(const char *problem, void *ctx)
{
	fprintf(stderr, "fixture v%d after the upgrade: %s\n", *(int *)ctx, problem);
}

/* The folders under DIR/backups, as a count, and the last one's name. */
static int backups(const char *dir, char **last_r)
{
	char *b = xasprintf("%s/backups", dir);
	DIR *d = opendir(b);
	int n = 0;
	if (last_r != NULL)
		*last_r = NULL;
	if (d != NULL) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			n++;
			if (last_r != NULL) {
				free(*last_r);
				*last_r = xasprintf("%s/%s", b, de->d_name);
			}
		}
		closedir(d);
	}
	free(b);
	return n;
}

struct alias_seen {
	char list[1024];
};
static void alias_cb(const char *address, const char *target, void *ctx)
{
	struct alias_seen *a = ctx;
	size_t n = strlen(a->list);
	snprintf(a->list + n, sizeof(a->list) - n, "%s>%s;", address, target);
}

struct route_seen {
	char list[1024];
};
static void route_cb(const struct store_route *r, void *ctx)
{
	struct route_seen *a = ctx;
	size_t n = strlen(a->list);
	snprintf(a->list + n, sizeof(a->list) - n, "%s %s %s %s %s;", r->space, r->hop,
		 route_tls_name(r->tls), r->auth_user != NULL ? r->auth_user : "-",
		 r->auth_secret != NULL ? r->auth_secret : "-");
}

struct queue_seen {
	int n;
	char qid[64], sender[256], rcpts[512];
};
static void queue_cb(const struct store_queue_entry *e, void *ctx)
{
	struct queue_seen *q = ctx;
	q->n++;
	snprintf(q->qid, sizeof(q->qid), "%s", e->qid);
	snprintf(q->sender, sizeof(q->sender), "%s", e->sender);
	q->rcpts[0] = '\0';
	for (size_t i = 0; i < e->n_rcpts; i++) {
		size_t n = strlen(q->rcpts);
		snprintf(q->rcpts + n, sizeof(q->rcpts) - n, "%s%s", i > 0 ? "," : "", e->rcpts[i]);
	}
}

/* Every message of one mailbox, as the old version served it over POP3. */
static void check_messages(struct store *st, const struct expected *e, const char *address,
			   int64_t mailbox_id)
{
	struct store_msg *msgs = NULL;
	size_t n = 0, k = 0;
	test_assert(store_mailbox_load(st, mailbox_id, &msgs, &n) == STORE_OK);
	for (size_t i = 0; i < e->n_msgs; i++) {
		const struct exp_msg *m = &e->msgs[i];
		if (strcmp(m->address, address) != 0)
			continue;
		test_assert(k < n);
		if (k >= n)
			break;
		test_assert_str(msgs[k].uidl, m->uidl);
		test_assert(msgs[k].size == m->body.len);
		test_assert(k == 0 || msgs[k].uid > msgs[k - 1].uid);
		struct buf body = {0};
		test_assert(store_message_read(st, mailbox_id, msgs[k].id, &body) == STORE_OK);
		test_assert(body.len == m->body.len &&
			    memcmp(body.data, m->body.data, body.len) == 0);
		buf_free(&body);
		k++;
	}
	test_assert(k == n);
	free(msgs);
}

/* Schema 9: the default folders, INBOX with every old message under the
   UID (and so the UIDL) it had, the UID counter as INBOX's uidnext (S8). */
static void check_folders(struct store *st, const struct expected *e, const char *address,
			  int64_t mailbox_id)
{
	static const char *const names[] = {"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"};
	static const enum store_special uses[] = {STORE_SPECIAL_NONE,	STORE_SPECIAL_ARCHIVE,
						  STORE_SPECIAL_DRAFTS, STORE_SPECIAL_JUNK,
						  STORE_SPECIAL_SENT,	STORE_SPECIAL_TRASH};
	uint32_t next_uid = 0, n_exp = 0;
	for (size_t i = 0; i < e->n_lines; i++)
		if (strcmp(e->lines[i][0], "next-uid") == 0 && strcmp(e->lines[i][1], address) == 0)
			next_uid = (uint32_t)strtoul(e->lines[i][2], NULL, 10);
	for (size_t i = 0; i < e->n_msgs; i++)
		n_exp += strcmp(e->msgs[i].address, address) == 0;

	struct store_folder *f = NULL;
	size_t n = 0;
	test_assert(store_folder_list(st, mailbox_id, &f, &n) == STORE_OK && n == 6);
	for (size_t i = 0; i < n && i < 6; i++) {
		test_assert_str(f[i].name, names[i]);
		test_assert(f[i].special == uses[i] && f[i].subscribed && f[i].uidvalidity > 0);
		test_assert(next_uid == 0 || f[i].uidnext == next_uid);
		test_assert(f[i].messages == (i == 0 ? n_exp : 0));
		test_assert(f[i].unseen == f[i].messages && f[i].deleted == 0);
	}
	int64_t inbox = 0;
	test_assert(store_inbox_id(st, mailbox_id, &inbox) == STORE_OK && n > 0 &&
		    inbox == f[0].id);
	uint64_t highest = n > 0 ? f[0].highestmodseq : 0;
	store_folders_free(f, n);

	struct store_imsg *m = NULL;
	struct store_msg *p = NULL;
	size_t nm = 0, np = 0;
	test_assert(store_folder_load(st, inbox, &m, &nm) == STORE_OK && nm == n_exp);
	test_assert(store_mailbox_load(st, mailbox_id, &p, &np) == STORE_OK && np == nm);
	for (size_t i = 0; i < nm && i < np; i++) {
		test_assert(m[i].id == p[i].id && m[i].uid == p[i].uid && m[i].size == p[i].size);
		test_assert(m[i].flags == 0 && m[i].keywords == NULL);
		test_assert(m[i].modseq >= 1 && m[i].modseq <= highest);
	}
	store_imsgs_free(m, nm);
	free(p);
	/* QRESYNC from 0: every message, nothing vanished */
	uint32_t *v = NULL;
	size_t nv = 0;
	uint64_t h = 0;
	bool all = true;
	test_assert(store_folder_changes(st, inbox, 0, &m, &nm, &v, &nv, &h, &all) == STORE_OK);
	test_assert(nm == n_exp && nv == 0 && !all && h == highest);
	store_imsgs_free(m, nm);
	free(v);
}

static void check_user(struct store *st, const struct expected *e, char *const *w)
{
	const char *address = w[1];
	char *pw = unhex_str(w[2]);
	uint64_t quota = strtoull(w[3], NULL, 10);
	struct store_user u = {0};

	test_assert(store_user_lookup(st, address, &u) == STORE_OK);
	test_assert(u.pw_hash != NULL && password_verify(pw, u.pw_hash));
	test_assert(u.pw_hash != NULL && !password_verify("not the password", u.pw_hash));
	/* quotas keep their meaning: a limit stays, "0 = none" of a store
	   before schema 8 becomes the domain's default, which is none; a
	   schema 8 store keeps a mailbox's explicit "--quota 0" (none) */
	int64_t own = u.own.v[STORE_LIMIT_QUOTA];
	test_assert(u.quota == quota);
	test_assert(quota != 0 ? own == (int64_t)quota
			       : own == STORE_INHERIT || (e->version >= 8 && own == 0));
	test_assert(u.effective.v[STORE_LIMIT_QUOTA] == (int64_t)quota);
	test_assert(u.pop3_enabled && u.submission_enabled && u.enabled && u.source == NULL);
	check_messages(st, e, address, u.id);
	check_folders(st, e, address, u.id);

	/* the UID counter goes on where the old version left it (S3): the
	   next message gets it, and its UIDL is none served before */
	for (size_t i = 0; i < e->n_lines; i++) {
		char *const *x = e->lines[i];
		if (strcmp(x[0], "next-uid") != 0 || strcmp(x[1], address) != 0)
			continue;
		static const char msg[] = "Subject: after the upgrade\r\n\r\nnew\r\n";
		int res = -1;
		test_assert(store_deliver(st, &u.id, 1, msg, sizeof(msg) - 1, NULL, &res) ==
			    STORE_OK);
		struct store_msg *msgs = NULL;
		size_t n = 0;
		test_assert(store_mailbox_load(st, u.id, &msgs, &n) == STORE_OK && n > 0);
		if (n > 0) {
			test_assert(msgs[n - 1].uid == strtoull(x[2], NULL, 10));
			for (size_t j = 0; j < e->n_msgs; j++)
				test_assert(strcmp(msgs[n - 1].uidl, e->msgs[j].uidl) != 0);
		}
		free(msgs);
	}
	store_user_clear(&u);
	free(pw);
}

static void check_store(struct store *st, const struct expected *e)
{
	struct alias_seen want_aliases = {{0}}, aliases = {{0}};
	struct route_seen want_routes = {{0}}, routes = {{0}};
	int users = 0;

	for (size_t i = 0; i < e->n_lines; i++) {
		char *const *w = e->lines[i];
		if (strcmp(w[0], "domain") == 0) {
			struct store_domain d = {0};
			enum domain_type t;
			test_assert(store_domain_get(st, w[1], &d) == STORE_OK);
			test_assert(domain_type_parse(w[2], &t) == 0 && d.type == t);
			test_assert(d.alias_of == NULL);
			store_domain_clear(&d);
		} else if (strcmp(w[0], "domain-alias") == 0) {
			struct store_domain d = {0};
			test_assert(store_domain_get(st, w[1], &d) == STORE_OK);
			test_assert(d.alias_of != NULL && strcmp(d.alias_of, w[2]) == 0);
			store_domain_clear(&d);
		} else if (strcmp(w[0], "user") == 0) {
			check_user(st, e, w);
			users++;
		} else if (strcmp(w[0], "alias") == 0) {
			alias_cb(w[1], w[2], &want_aliases);
		} else if (strcmp(w[0], "route") == 0) {
			size_t n = strlen(want_routes.list);
			snprintf(want_routes.list + n, sizeof(want_routes.list) - n,
				 "%s %s %s %s %s;", w[1], w[2], w[3], w[4], w[5]);
		} else if (strcmp(w[0], "queue") == 0) {
			struct queue_seen q = {0};
			test_assert(store_queue_list(st, NULL, queue_cb, &q) == STORE_OK);
			test_assert(q.n == 1);
			test_assert_str(q.sender, w[1]);
			test_assert_str(q.rcpts, w[2]);
			struct buf body = {0}, want = {0};
			unhex(w[3], &want);
			test_assert(store_queue_body(st, q.qid, &body) == STORE_OK);
			/* the old version's trace fields first, then the bytes sent */
			test_assert(body.len >= want.len && memcmp(body.data + body.len - want.len,
								   want.data, want.len) == 0);
			buf_free(&body);
			buf_free(&want);
		}
	}
	test_assert(users == 4);
	test_assert(store_alias_list(st, NULL, alias_cb, &aliases) == STORE_OK);
	/* the listing's order is the store's; compare as sets */
	test_assert(strlen(aliases.list) == strlen(want_aliases.list));
	for (char *p = want_aliases.list, *s = NULL; (p = strtok_r(p, ";", &s)) != NULL; p = NULL)
		test_assert(strstr(aliases.list, p) != NULL);
	test_assert(store_route_list(st, route_cb, &routes) == STORE_OK);
	test_assert(strlen(routes.list) == strlen(want_routes.list));
	for (char *p = want_routes.list, *s = NULL; (p = strtok_r(p, ";", &s)) != NULL; p = NULL)
		test_assert(strstr(routes.list, p) != NULL);
	/* stores from before schema 6 get the built-in postmaster */
	struct store_user pm = {0};
	test_assert(store_user_lookup(st, STORE_POSTMASTER, &pm) == STORE_OK);
	test_assert(pm.pw_hash == NULL);
	struct store_folder *f = NULL;
	size_t n = 0;
	test_assert(store_folder_list(st, pm.id, &f, &n) == STORE_OK && n == 6);
	store_folders_free(f, n);
	store_user_clear(&pm);
}

static void test_fixtures(void)
{
	test_begin("store upgrade: every shipped schema's store, made by its own binary");
	if (test_sqlite_only())
		return;
	int latest = latest_version();
	test_assert(latest > N_VERSIONS);
	for (int v = 1; v <= N_VERSIONS; v++) {
		struct expected e;
		test_assert(parse_expected(v, &e));
		test_assert(e.version == v && e.n_msgs >= 8);
		char *dir = copy_fixture(v);
		test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") == v);
		long long old_msgs = test_sqlite_int(dir, "SELECT count(*) FROM messages");
		long long old_pages = test_sqlite_int(dir, "PRAGMA page_count");

		struct store *st = open_ok(dir);
		test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") == latest);
		test_assert(test_sqlite_int(dir, "SELECT count(*) FROM pragma_integrity_check "
						 "WHERE integrity_check <> 'ok'") == 0);
		test_assert(test_sqlite_int(dir, "SELECT count(*) FROM pragma_foreign_key_check") ==
			    0);

		/* the copy before the upgrade: the old store as it was */
		char *bdir = NULL;
		test_assert(backups(dir, &bdir) == 1);
		if (bdir != NULL) {
			char *want = xasprintf("pre-schema-%d-", latest);
			test_assert(strstr(bdir, want) != NULL);
			free(want);
			struct stat sb;
			char *db = xasprintf("%s/mailroom.db", bdir);
			test_assert(stat(bdir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
			test_assert(stat(db, &sb) == 0 && (sb.st_mode & 0777) == 0600);
			test_assert(test_sqlite_int(bdir, "SELECT version FROM schema_version") ==
				    v);
			test_assert(test_sqlite_int(bdir, "SELECT count(*) FROM messages") ==
				    old_msgs);
			test_assert(test_sqlite_int(bdir, "PRAGMA page_count") == old_pages);
			free(db);
			free(bdir);
		}

		/* the upgraded store is consistent: bodies' reference counts,
		   sizes, UID counters, used counters (before the checks below
		   deliver more) */
		struct store_check_stats stats = {0};
		test_assert(store_verify(st, NULL, problem_cb, &v, &stats) == STORE_OK);
		test_assert(stats.messages == (uint64_t)old_msgs);
		test_assert(stats.mailboxes == 5); /* and the built-in postmaster */
		test_assert(stats.queued == (v >= 2 ? 1 : 0));
		check_store(st, &e);
		test_assert(store_verify(st, NULL, problem_cb, &v, NULL) == STORE_OK);
		store_close(&st);

		/* opening the upgraded store again changes nothing more */
		st = open_ok(dir);
		test_assert(backups(dir, NULL) == 1);
		store_close(&st);
		expected_clear(&e);
		test_rmtree(dir);
	}
	test_end();
}

static bool same_file(const char *path, const struct buf *b)
{
	struct buf now = {0};
	bool same =
	    read_file(path, &now) && now.len == b->len && memcmp(now.data, b->data, b->len) == 0;
	buf_free(&now);
	return same;
}

static void test_newer_refused(void)
{
	test_begin("store upgrade: a store newer than this mailroom is refused, unchanged");
	if (test_sqlite_only())
		return;
	int latest = latest_version();
	char *dir = copy_fixture(N_VERSIONS);
	struct store *st = NULL;
	test_assert(store_open(dir, false, &st) == STORE_OK);
	store_close(&st);
	char *sql = xasprintf("UPDATE schema_version SET version = %d", latest + 1);
	test_assert(test_sqlite_int(dir, sql) == 0);
	free(sql);
	/* the last connection closed: the change is in the database file */
	char *db = xasprintf("%s/mailroom.db", dir);
	struct buf before = {0};
	test_assert(read_file(db, &before));

	for (int i = 0; i < 2; i++) {
		test_assert(store_open(dir, i == 0, &st) == STORE_PERM);
		test_assert(strstr(store_error(st), "newer than this mailroom") != NULL);
		store_close(&st);
	}
	/* refused at once, even while another writer holds the lock (a newer
	   server at work on it) */
	struct test_sqlite_lock *other = test_sqlite_lock(dir);
	test_assert(other != NULL);
	time_t t0 = time(NULL);
	test_assert(store_open(dir, false, &st) == STORE_PERM);
	test_assert(strstr(store_error(st), "newer than this mailroom") != NULL);
	test_assert(time(NULL) - t0 < 5);
	store_close(&st);
	test_sqlite_unlock(other);
	test_assert(same_file(db, &before));
	test_assert(backups(dir, NULL) == 1); /* only the upgrade's own */
	test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") == latest + 1);
	buf_free(&before);
	free(db);
	test_rmtree(dir);
	test_end();
}

static void test_backup_failure(void)
{
	test_begin("store upgrade: no copy, no upgrade; nothing changed");
	if (test_sqlite_only())
		return;
	char *dir = copy_fixture(3);
	char *db = xasprintf("%s/mailroom.db", dir);
	char *b = xasprintf("%s/backups", dir);
	struct buf before = {0};
	test_assert(read_file(db, &before));

	/* a file where the backups folder goes: the copy cannot be made */
	FILE *f = fopen(b, "w");
	test_assert(f != NULL);
	if (f != NULL)
		fclose(f);
	struct store *st = NULL;
	test_assert(store_open(dir, false, &st) == STORE_PERM);
	test_assert(strstr(store_error(st), "cannot back up the store") != NULL);
	test_assert(strstr(store_error(st), "nothing was changed") != NULL);
	store_close(&st);
	test_assert(same_file(db, &before));
	test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") == 3);

	/* once the folder can be made, the upgrade goes on */
	test_assert(unlink(b) == 0);
	test_assert(mkdir(b, 0700) == 0);
	test_assert(store_open(dir, false, &st) == STORE_OK);
	test_assert(backups(dir, NULL) == 1);
	store_close(&st);

	/* an upgrade cut short leaves its folder; the next one in the same
	   second takes another name (folders for this second and the next two
	   are there already) */
	char *dir2 = copy_fixture(2);
	char *b2 = xasprintf("%s/backups", dir2);
	int latest = latest_version();
	time_t now = time(NULL);
	test_assert(mkdir(b2, 0700) == 0);
	for (int i = 0; i < 3; i++) {
		char stamp[32];
		time_t t = now + i;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
		char *taken = xasprintf("%s/pre-schema-%d-%s", b2, latest, stamp);
		test_assert(mkdir(taken, 0700) == 0);
		free(taken);
	}
	st = open_ok(dir2);
	store_close(&st);
	test_assert(backups(dir2, NULL) == 4);
	DIR *d = opendir(b2);
	int suffixed = 0;
	for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;) {
		size_t n = strlen(de->d_name);
		if (n > 2 && strcmp(de->d_name + n - 2, ".1") == 0) {
			char *db2 = xasprintf("%s/%s", b2, de->d_name);
			test_assert(test_sqlite_int(db2, "SELECT version FROM schema_version") ==
				    2);
			free(db2);
			suffixed++;
		}
	}
	if (d != NULL)
		closedir(d);
	test_assert(suffixed == 1);
	free(b2);
	test_rmtree(dir2);

	/* a fresh store has nothing to keep: no copy */
	char *fresh = NULL;
	st = test_store_new(&fresh);
	test_assert(st != NULL);
	store_close(&st);
	test_assert(backups(fresh, NULL) == 0);
	test_rmtree(fresh);

	buf_free(&before);
	free(b);
	free(db);
	test_rmtree(dir);
	test_end();
}

static void test_damaged_store(void)
{
	test_begin("store upgrade: a damaged store is refused, not migrated");
	if (test_sqlite_only())
		return;
	char *dir = test_tmpdir();
	char *db = xasprintf("%s/mailroom.db", dir);
	struct buf junk = {0};
	buf_append(&junk, "this is not a database, and not a mailroom store either\n", 56);
	test_assert(write_file(db, &junk));
	struct store *st = NULL;
	test_assert(store_open(dir, false, &st) == STORE_PERM);
	store_close(&st);
	test_assert(same_file(db, &junk));
	test_assert(backups(dir, NULL) == 0);
	buf_free(&junk);
	free(db);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_fixtures, test_newer_refused, test_backup_failure,
					   test_damaged_store, NULL});
}
