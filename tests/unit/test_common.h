/* SPDX-License-Identifier: MIT */
/*
 * test_common.h - the unit-test harness (Dovecot test-common.h in spirit).
 *
 *   test_begin("name"); test_assert(x); test_assert_str(a, b); test_end();
 *   return test_run((void (*[])(void)){ test_a, test_b, NULL });
 *
 * A failed assertion prints file:line and marks the current test failed;
 * the run continues. test_run() prints "N passed, N failed" and returns the
 * exit code.
 */
#ifndef MAILROOM_TEST_COMMON_H
#define MAILROOM_TEST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void test_begin(const char *name);
void test_assert_at(bool ok, const char *expr, const char *file, int line);
void test_assert_str_at(const char *a, const char *b, const char *file, int line);
void test_end(void);
int test_run(void (*const tests[])(void));
/* A fresh empty folder under /tmp for this test (removed by the caller). */
char *test_tmpdir(void);
/* Removes the folder and everything in it, and frees the string. */
void test_rmtree(char *dir);

/* Store fixtures: a fresh store in a new temp folder; a user with a dummy
   hash; a mailbox id by address (-1 if none). */
struct store;
struct store *test_store_new(char **dir_r);
int test_add_user(struct store *st, const char *address, uint64_t quota);
int64_t test_mailbox_id(struct store *st, const char *address);
/* A directory (directory.h) from config text, e.g. "" for the built-in
   backend alone; the test fails if it does not open. directory_free() it. */
struct directory;
struct directory *test_directory(const char *ini);

/* What the store holds, read through it on either engine (store_backup.h
   store_census): the census (the test fails when it cannot be read; the
   answer lives until the next call), the same of the store in DIR opened
   for it, a mailbox's next UID (-1: no such mailbox), and the number of
   once-records of a key or (prefix) of the keys that start with it (-1 on
   error). */
struct store_census;
const struct store_census *test_census(struct store *st);
const struct store_census *test_census_dir(const char *dir);
int64_t test_next_uid(struct store *st, int64_t mailbox_id);
int64_t test_once(struct store *st, const char *key, bool prefix);

/* The SQLite file itself: only for tests of the SQLite engine (its file,
   pages and PRAGMAs, schemas of older SQLite stores, damage done to it).
   Such a test calls test_sqlite_only() right after test_begin() and
   returns when it says true: on another engine the test is reported
   "ok NAME (skipped: SQLite only)" and counted apart. test_sqlite_int
   gives one integer from plain SQLite on DIR/mailroom.db (0 for no row or
   a statement that returns none, -1 on error); test_sqlite_exec runs
   statements there (false, with the error printed, when they fail);
   test_sqlite_lock holds its write lock from a second connection (BEGIN
   IMMEDIATE; NULL when it cannot) until test_sqlite_unlock. */
bool test_sqlite_only(void);
long long test_sqlite_int(const char *dir, const char *sql);
bool test_sqlite_exec(const char *dir, const char *sql);
struct test_sqlite_lock;
struct test_sqlite_lock *test_sqlite_lock(const char *dir);
void test_sqlite_unlock(struct test_sqlite_lock *lock);

#define test_assert(x) test_assert_at((x), #x, __FILE__, __LINE__)
#define test_assert_str(a, b) test_assert_str_at((a), (b), __FILE__, __LINE__)

#endif
