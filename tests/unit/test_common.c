/* SPDX-License-Identifier: MIT */
/* test_common.c - see test_common.h. */
#include "test_common.h"
#include "server/schema.h"
#include "directory/directory.h"
#include "store/store.h"
#include "util/config.h"

#include <sqlite3.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *cur_name;
static bool cur_failed;
static unsigned passed, failed, skipped;

void test_begin(const char *name)
{
	cur_name = name;
	cur_failed = false;
}

void test_assert_at(bool ok, const char *expr, const char *file, int line)
{
	if (ok)
		return;
	printf("FAIL %s: %s:%d: %s\n", cur_name, file, line, expr);
	cur_failed = true;
}

void test_assert_str_at(const char *a, const char *b, const char *file, int line)
{
	if (a != NULL && b != NULL && strcmp(a, b) == 0)
		return;
	printf("FAIL %s: %s:%d: \"%s\" != \"%s\"\n", cur_name, file, line, a ? a : "(null)",
	       b ? b : "(null)");
	cur_failed = true;
}

void test_end(void)
{
	printf("%s %s\n", cur_failed ? "not ok" : "ok", cur_name);
	if (cur_failed)
		failed++;
	else
		passed++;
}

int test_run(void (*const tests[])(void))
{
	/* the store tests run once per engine: with this set, on PostgreSQL,
	   each data dir in a schema of its own */
	const char *dsn = getenv("MAILROOM_TEST_STORE_DSN");
	if (dsn != NULL && dsn[0] != '\0') {
		store_configure(STORE_BACKEND_POSTGRESQL, dsn);
		store_test_pg_schema_per_dir(true);
	}
	/* as in `mailroom serve`: a peer that goes away is an error return,
	   not a signal (OpenSSL writes to sockets with write(2)) */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; tests[i] != NULL; i++)
		tests[i]();
	if (skipped > 0)
		printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
	else
		printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed + skipped > 0 ? 0 : 1;
}

bool test_sqlite_only(void)
{
	if (store_backend() == STORE_BACKEND_SQLITE)
		return false;
	printf("ok %s (skipped: SQLite only)\n", cur_name);
	skipped++;
	return true;
}

char *test_tmpdir(void)
{
	char tmpl[] = "/tmp/mailroom-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	if (d == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	return strdup(d);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

void test_rmtree(char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

struct store *test_store_new(char **dir_r)
{
	struct store *st = NULL;
	*dir_r = test_tmpdir();
	test_assert(store_open(*dir_r, true, &st) == STORE_OK);
	return st;
}

int test_add_user(struct store *st, const char *address, uint64_t quota)
{
	struct store_user_new u = {.address = address, .pw_hash = "$y$x", .quota = quota};
	return store_user_add(st, &u);
}

int64_t test_mailbox_id(struct store *st, const char *address)
{
	struct store_user u;
	int64_t id = -1;
	if (store_user_lookup(st, address, &u) == STORE_OK)
		id = u.id;
	store_user_clear(&u);
	return id;
}

struct directory *test_directory(const char *ini)
{
	struct config cfg;
	struct directory *d = NULL;
	char *err = NULL;

	if (config_parse(server_schema(), "test.conf", ini, strlen(ini), &cfg, &err) != 0) {
		fprintf(stderr, "test_directory: %s\n", err);
		free(err);
		test_assert(false);
		return NULL;
	}
	if (directory_open(&cfg, &d, &err) != 0) {
		fprintf(stderr, "test_directory: %s\n", err);
		free(err);
	}
	test_assert(d != NULL);
	config_free(&cfg);
	return d;
}

const struct store_census *test_census(struct store *st)
{
	static struct store_census c;
	test_assert(store_census(st, &c) == STORE_OK);
	return &c;
}

const struct store_census *test_census_dir(const char *dir)
{
	static struct store_census c;
	struct store *st = NULL;
	memset(&c, 0, sizeof(c));
	test_assert(store_open(dir, false, &st) == STORE_OK);
	if (st != NULL)
		test_assert(store_census(st, &c) == STORE_OK);
	store_close(&st);
	return &c;
}

int64_t test_next_uid(struct store *st, int64_t mailbox_id)
{
	struct store_mailbox_census c;
	if (store_census_mailbox(st, mailbox_id, &c) != STORE_OK)
		return -1;
	return c.next_uid;
}

int64_t test_once(struct store *st, const char *key, bool prefix)
{
	int64_t n = -1;
	if (store_census_once(st, key, prefix, &n) != STORE_OK)
		return -1;
	return n;
}

/* --- the SQLite file itself ----------------------------------------------------- */

static sqlite3 *sqlite_file(const char *dir)
{
	char path[512];
	sqlite3 *db = NULL;

	test_assert(store_backend() == STORE_BACKEND_SQLITE);
	snprintf(path, sizeof(path), "%s/mailroom.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 5000);
	return db;
}

long long test_sqlite_int(const char *dir, const char *sql)
{
	sqlite3 *db = sqlite_file(dir);
	sqlite3_stmt *s;
	long long n = -1;

	if (db == NULL)
		return -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		else if (rc == SQLITE_DONE)
			n = 0;
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return n;
}

bool test_sqlite_exec(const char *dir, const char *sql)
{
	sqlite3 *db = sqlite_file(dir);
	char *err = NULL;

	if (db == NULL)
		return false;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		fprintf(stderr, "%s: %s\n", sql, err != NULL ? err : sqlite3_errstr(rc));
	sqlite3_free(err);
	sqlite3_close(db);
	return rc == SQLITE_OK;
}

struct test_sqlite_lock *test_sqlite_lock(const char *dir)
{
	sqlite3 *db = sqlite_file(dir);
	if (db != NULL && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		db = NULL;
	}
	return (struct test_sqlite_lock *)db;
}

void test_sqlite_unlock(struct test_sqlite_lock *lock)
{
	sqlite3 *db = (sqlite3 *)lock;
	if (db == NULL)
		return;
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
}
