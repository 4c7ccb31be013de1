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
   hash; a mailbox id by address (-1 if none); one integer from plain SQLite
   on the store's database (0 for no row, -1 on error). */
struct store;
struct store *test_store_new(char **dir_r);
int test_add_user(struct store *st, const char *address, uint64_t quota);
int64_t test_mailbox_id(struct store *st, const char *address);
/* A directory (directory.h) from config text, e.g. "" for the built-in
   backend alone; the test fails if it does not open. directory_free() it. */
struct directory;
struct directory *test_directory(const char *ini);
long long test_db_int(const char *dir, const char *sql);

#define test_assert(x) test_assert_at((x), #x, __FILE__, __LINE__)
#define test_assert_str(a, b) test_assert_str_at((a), (b), __FILE__, __LINE__)

#endif
