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
static unsigned passed, failed;

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
	/* as in `mailroom serve`: a peer that goes away is an error return,
	   not a signal (OpenSSL writes to sockets with write(2)) */
	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; tests[i] != NULL; i++)
		tests[i]();
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 && passed > 0 ? 0 : 1;
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

long long test_db_int(const char *dir, const char *sql)
{
	char path[512];
	sqlite3 *db;
	sqlite3_stmt *s;
	long long n = -1;

	snprintf(path, sizeof(path), "%s/mailroom.db", dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
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
