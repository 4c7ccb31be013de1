/* SPDX-License-Identifier: MIT */
/*
 * test_auth_cache.c - directory/auth.h's cache of successful password
 * checks: a hit needs the same backend, login, password and stored hash;
 * every one of 100,000 accounts stays cached (no two accounts push each
 * other out, whatever their number), the oldest go once the size is
 * reached (renewing a held entry pushes none out), expired entries miss and are dropped, and a
 * cache with TTL 0 or size 0 keeps nothing.
 */
#include "directory/auth.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct auth_identity ident(int64_t id)
{
	struct auth_identity a = {.mailbox_id = id, .enabled = true, .pop3_enabled = true};
	snprintf(a.address, sizeof(a.address), "user%lld@example.test", (long long)id);
	return a;
}

static void test_keys(void)
{
	test_begin("auth cache: backend, login, password and stored hash all must match");
	struct auth_cache *c = auth_cache_new(300, 10);
	struct auth_identity a = ident(7), got;
	auth_cache_put(c, 0, "alice", "pw", "$y$hash", &a);
	memset(&got, 0, sizeof(got));
	test_assert(auth_cache_get(c, 0, "alice", "pw", "$y$hash", &got));
	test_assert(got.mailbox_id == 7 && strcmp(got.address, "user7@example.test") == 0);
	test_assert(!auth_cache_get(c, 1, "alice", "pw", "$y$hash", NULL));
	test_assert(!auth_cache_get(c, 0, "alice", "pw2", "$y$hash", NULL));
	test_assert(!auth_cache_get(c, 0, "alicf", "pw", "$y$hash", NULL));
	/* a changed password in the store: another stored hash */
	test_assert(!auth_cache_get(c, 0, "alice", "pw", "$y$other", NULL));
	test_assert(!auth_cache_get(c, 0, "alice", "pw", NULL, NULL));
	auth_cache_put(c, 2, "bob", "pw", NULL, &a); /* a backend that verified itself */
	test_assert(auth_cache_get(c, 2, "bob", "pw", NULL, NULL));
	/* the same key put again is one entry */
	auth_cache_put(c, 2, "bob", "pw", NULL, &a);
	test_assert(auth_cache_entries(c) == 2);
	test_assert(auth_cache_hits(c) == 2);
	auth_cache_free(&c);
	test_assert(c == NULL);
	test_end();
}

static void test_many_accounts(void)
{
	enum { N = 100000 };
	char login[32];

	test_begin("auth cache: 100,000 accounts all stay cached; past the size the oldest go");
	struct auth_cache *c = auth_cache_new(300, N);
	for (int i = 0; i < N; i++) {
		struct auth_identity a = ident(i);
		snprintf(login, sizeof(login), "user%d", i);
		auth_cache_put(c, 0, login, "secret", "$y$h", &a);
	}
	test_assert(auth_cache_entries(c) == N);
	size_t hits = 0;
	for (int i = 0; i < N; i++) {
		struct auth_identity got;
		snprintf(login, sizeof(login), "user%d", i);
		hits += auth_cache_get(c, 0, login, "secret", "$y$h", &got) && got.mailbox_id == i;
	}
	test_assert(hits == N);
	/* one more: the oldest (user0) goes, the newest stay */
	struct auth_identity extra = ident(N);
	auth_cache_put(c, 0, "late", "secret", "$y$h", &extra);
	test_assert(auth_cache_entries(c) == N);
	test_assert(!auth_cache_get(c, 0, "user0", "secret", "$y$h", NULL));
	test_assert(auth_cache_get(c, 0, "user1", "secret", "$y$h", NULL));
	test_assert(auth_cache_get(c, 0, "late", "secret", "$y$h", NULL));
	auth_cache_free(&c);
	test_end();
}

static void test_full_renewal(void)
{
	char login[32];

	test_begin("auth cache: a full cache renews an entry it holds without pushing one out");
	struct auth_cache *c = auth_cache_new(300, 3);
	struct auth_identity a = ident(1);
	for (int i = 0; i < 3; i++) {
		snprintf(login, sizeof(login), "user%d", i);
		auth_cache_put(c, 0, login, "secret", "$y$h", &a);
	}
	/* every login of a working set the size of the cache, checked again
	   (each success is put again): all stay, none is evicted */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 3; i++) {
			snprintf(login, sizeof(login), "user%d", i);
			test_assert(auth_cache_get(c, 0, login, "secret", "$y$h", NULL));
			auth_cache_put(c, 0, login, "secret", "$y$h", &a);
		}
	test_assert(auth_cache_entries(c) == 3);
	auth_cache_free(&c);
	test_end();
}

static void test_expiry_and_off(void)
{
	test_begin(
	    "auth cache: expired entries miss and are dropped; TTL 0 or size 0 keep nothing");
	struct auth_cache *c = auth_cache_new(1, 100);
	struct auth_identity a = ident(1);
	auth_cache_put(c, 0, "alice", "pw", "$y$h", &a);
	test_assert(auth_cache_get(c, 0, "alice", "pw", "$y$h", NULL));
	sleep(2);
	test_assert(!auth_cache_get(c, 0, "alice", "pw", "$y$h", NULL));
	test_assert(auth_cache_entries(c) == 0);
	auth_cache_put(c, 0, "bob", "pw", "$y$h", &a);
	sleep(2);
	auth_cache_put(c, 0, "carol", "pw", "$y$h", &a); /* drops bob, expired */
	test_assert(auth_cache_entries(c) == 1);
	auth_cache_free(&c);

	struct auth_cache *off = auth_cache_new(0, 100), *none = auth_cache_new(300, 0);
	auth_cache_put(off, 0, "alice", "pw", "$y$h", &a);
	auth_cache_put(none, 0, "alice", "pw", "$y$h", &a);
	test_assert(!auth_cache_get(off, 0, "alice", "pw", "$y$h", NULL));
	test_assert(!auth_cache_get(none, 0, "alice", "pw", "$y$h", NULL));
	test_assert(auth_cache_entries(off) == 0 && auth_cache_entries(none) == 0);
	auth_cache_free(&off);
	auth_cache_free(&none);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_keys, test_many_accounts, test_full_renewal,
					   test_expiry_and_off, NULL});
}
