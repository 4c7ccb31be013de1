/* SPDX-License-Identifier: MIT */
/*
 * test_store_stats.c - store/store.h store_stats(): an empty store, then
 * local deliveries (one body per message, S2, shared by its recipients)
 * and queued messages (length and the oldest one's time); the database
 * size is, on SQLite, its page count times the page size.
 */
#include "store/store.h"
#include "test_common.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int submit(struct store *st, const char *qid, const int64_t *local, size_t n_local,
		  bool remote)
{
	static const char body[] = "Subject: stats\r\n\r\nhello\r\n";
	struct store_remote_rcpt r = {.address = "carol@remote.test"};
	struct store_submission sub = {
	    .qid = qid,
	    .sender = "alice@example.test",
	    .body = body,
	    .len = sizeof(body) - 1,
	    .mailbox_ids = local,
	    .n_local = n_local,
	    .remote = remote ? &r : NULL,
	    .n_remote = remote ? 1 : 0,
	};
	int rc = store_submit(st, &sub, 1);
	return rc == STORE_OK ? sub.status : rc;
}

/* The earliest created time of the queue's entries, as the CLI lists them
   (0: none). */
static void oldest_cb(const struct store_queue_entry *e, void *ctx)
{
	int64_t *t = ctx;
	if (*t == 0 || e->created < *t)
		*t = e->created;
}

static int64_t queue_oldest(struct store *st)
{
	int64_t t = 0;
	test_assert(store_queue_list(st, NULL, oldest_cb, &t) == STORE_OK);
	return t;
}

static void test_stats(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_stats s;

	test_begin("store_stats: empty, local, queued");
	test_assert(store_stats(st, &s) == STORE_OK);
	test_assert(s.queue_messages == 0 && s.queue_oldest == 0 && s.bodies == 0);
	test_assert(s.db_bytes > 0);
	/* SQLite: the file's pages times its page size (PostgreSQL: the
	   database's size on disk, its files' octets) */
	if (store_backend() == STORE_BACKEND_SQLITE) {
		test_assert(s.db_bytes % 512 == 0);
		test_assert((long long)s.db_bytes ==
			    test_sqlite_int(dir, "SELECT p.page_count * s.page_size FROM "
						 "pragma_page_count() p, pragma_page_size() s"));
	}

	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "alice@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "bob@example.test", 0) == STORE_OK);
	int64_t ids[2] = {test_mailbox_id(st, "alice@example.test"),
			  test_mailbox_id(st, "bob@example.test")};
	test_assert(submit(st, "Q1", ids, 2, false) == STORE_OK);
	test_assert(store_stats(st, &s) == STORE_OK);
	test_assert(s.bodies == 1 && s.queue_messages == 0 && s.queue_oldest == 0);

	int64_t before = (int64_t)time(NULL);
	test_assert(submit(st, "Q2", NULL, 0, true) == STORE_OK);
	test_assert(submit(st, "Q3", ids, 1, true) == STORE_OK);
	test_assert(store_stats(st, &s) == STORE_OK);
	/* counted as stored: a message with local and remote recipients may
	   keep its local copy and its queued copy apart */
	test_assert(s.bodies >= 3 && (int64_t)s.bodies == test_census(st)->bodies);
	test_assert(s.queue_messages == 2);
	test_assert(s.queue_oldest >= before && s.queue_oldest <= (int64_t)time(NULL));
	test_assert(s.queue_oldest == queue_oldest(st));

	test_assert(store_queue_remove(st, "Q2") == STORE_OK);
	test_assert(store_queue_remove(st, "Q3") == STORE_OK);
	test_assert(store_stats(st, &s) == STORE_OK);
	test_assert(s.queue_messages == 0 && s.queue_oldest == 0);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

int main(void)
{
	return test_run((void (*[])(void)){test_stats, NULL});
}
