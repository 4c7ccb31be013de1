/* SPDX-License-Identifier: MIT */
/* test_common.c - see test_common.h. */
#include "test_common.h"

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
