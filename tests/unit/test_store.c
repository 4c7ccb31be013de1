/* SPDX-License-Identifier: MIT */
/* test_store.c - the store's contract (store.h invariants S1-S7). */
#include "store/store.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void test_open_and_migrate(void)
{
	char *dir = test_tmpdir();
	struct store *st = NULL;

	test_begin("store: open, create, migrations, reopen");
	test_assert(store_open(dir, false, &st) == STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "does not exist") != NULL);
	store_close(&st);
	test_assert(store_open(dir, true, &st) == STORE_OK);
	store_close(&st);
	int64_t v = test_census_dir(dir)->schema_version;
	test_assert(v >= 1);
	test_assert(store_open(dir, false, &st) == STORE_OK); /* S6: idempotent */
	store_close(&st);
	test_assert(test_census_dir(dir)->schema_version == v);
	if (store_backend() == STORE_BACKEND_SQLITE)
		test_assert(test_sqlite_int(dir, "PRAGMA journal_mode") == -1 ||
			    test_sqlite_int(dir, "SELECT 1") == 1);
	test_rmtree(dir);
	test_end();
}

static void count_domain(const struct store_domain *d, void *ctx)
{
	(*(int *)ctx)++;
}

static void test_domains(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_domain d;
	int n = 0;

	test_begin("store: domains");
	test_assert(store_domain_add(st, "Example.TEST", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_EXISTS);
	test_assert(store_domain_add(st, "bad..name", DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	test_assert(store_domain_add(st, "-bad.test", DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	test_assert(store_domain_add(st, "", DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	test_assert(store_domain_add(st, "relay.test", DOMAIN_INTERNAL_RELAY) == STORE_OK);
	test_assert(store_domain_get(st, "EXAMPLE.test", &d) == STORE_OK);
	test_assert_str(d.name, "example.test");
	test_assert(d.type == DOMAIN_AUTHORITATIVE);
	store_domain_clear(&d);
	test_assert(store_domain_get(st, "nope.test", &d) == STORE_NOTFOUND);
	test_assert(store_domain_list(st, count_domain, &n) == STORE_OK && n == 2);
	test_assert(test_add_user(st, "a@example.test", 0) == STORE_OK);
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	test_assert(store_user_remove(st, "a@example.test") == STORE_OK);
	test_assert(store_domain_remove(st, "example.test") == STORE_OK);
	test_assert(store_domain_remove(st, "example.test") == STORE_NOTFOUND);
	enum domain_type t;
	test_assert(domain_type_parse("external-relay", &t) == 0 && t == DOMAIN_EXTERNAL_RELAY);
	test_assert(domain_type_parse("sideways", &t) < 0);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_users_and_aliases(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_user u;
	int64_t *ids = NULL;
	size_t n = 0;

	test_begin("store: users, aliases, resolve");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_assert(test_add_user(st, "alice@nowhere.test", 0) == STORE_NOTFOUND);
	test_assert(test_add_user(st, "not-an-address", 0) == STORE_INVALID);
	test_assert(test_add_user(st, "Alice@Example.Test", 0) == STORE_OK);
	test_assert(test_add_user(st, "alice@example.test", 0) == STORE_EXISTS);
	test_assert(test_add_user(st, "bob@example.test", 1000) == STORE_OK);
	test_assert(store_user_lookup(st, "ALICE@example.TEST", &u) == STORE_OK);
	test_assert(u.enabled && u.pop3_enabled && u.apop_secret == NULL);
	store_user_clear(&u);

	test_assert(store_user_set_pop3(st, "alice@example.test", false) == STORE_OK);
	test_assert(store_user_set_enabled(st, "alice@example.test", false) == STORE_OK);
	test_assert(store_user_set_password(st, "alice@example.test", "$y$new", "SCRAM", "ap") ==
		    STORE_OK);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert(!u.enabled && !u.pop3_enabled);
	test_assert_str(u.pw_hash, "$y$new");
	test_assert_str(u.apop_secret, "ap");
	store_user_clear(&u);
	test_assert(store_user_clear_apop(st, "alice@example.test") == STORE_OK);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert(u.apop_secret == NULL);
	store_user_clear(&u);
	test_assert(store_user_set_limit(st, "nobody@example.test", STORE_LIMIT_QUOTA, 5) ==
		    STORE_NOTFOUND);

	/* aliases: one local target logs in; several deliver to each */
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") ==
		    STORE_EXISTS);
	test_assert(store_alias_add(st, "alice@example.test", "bob@example.test") == STORE_EXISTS);
	test_assert(test_add_user(st, "sales@example.test", 0) == STORE_EXISTS);
	test_assert(store_user_lookup(st, "sales@example.test", &u) == STORE_OK);
	test_assert_str(u.address, "alice@example.test");
	store_user_clear(&u);
	test_assert(store_alias_add(st, "team@example.test", "sales@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "team@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "team@example.test", "far@elsewhere.test") == STORE_OK);
	test_assert(store_resolve(st, "team@example.test", &ids, &n) == STORE_OK && n == 2);
	free(ids);
	test_assert(store_user_lookup(st, "team@example.test", &u) == STORE_NOTFOUND);
	/* loops terminate */
	test_assert(store_alias_add(st, "loop2@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "loop1@example.test", "loop2@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "loop2@example.test", "loop1@example.test") == STORE_OK);
	ids = NULL;
	test_assert(store_resolve(st, "loop1@example.test", &ids, &n) == STORE_OK && n == 1);
	free(ids);
	ids = NULL;
	test_assert(store_resolve(st, "nobody@example.test", &ids, &n) == STORE_NOTFOUND);
	free(ids);
	/* a long chain stops at the depth limit instead of recursing forever */
	char a[64], b[64];
	for (int i = 0; i < 20; i++) {
		snprintf(a, sizeof(a), "c%d@example.test", i);
		snprintf(b, sizeof(b), "c%d@example.test", i + 1);
		store_alias_add(st, a, b);
	}
	store_alias_add(st, "c20@example.test", "bob@example.test");
	ids = NULL;
	int r = store_resolve(st, "c0@example.test", &ids, &n);
	test_assert(r == STORE_NOTFOUND || r == STORE_OK);
	free(ids);
	test_assert(store_alias_remove(st, "team@example.test", NULL) == STORE_OK);
	test_assert(store_alias_remove(st, "team@example.test", NULL) == STORE_NOTFOUND);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_single_instance_and_uids(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	static const char body[] = "Subject: x\r\n\r\nhello\r\n";
	struct store_msg *msgs = NULL;
	size_t n = 0;
	int results[3];

	test_begin("store: single instance, UIDs, UIDLs, expunge (S1-S5)");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "a@example.test", 0);
	test_add_user(st, "b@example.test", 0);
	test_add_user(st, "c@example.test", 0);
	int64_t ids[3] = {test_mailbox_id(st, "a@example.test"),
			  test_mailbox_id(st, "b@example.test"),
			  test_mailbox_id(st, "c@example.test")};
	test_assert(store_deliver(st, ids, 3, body, sizeof(body) - 1, NULL, results) == STORE_OK);
	test_assert(results[0] == STORE_OK && results[1] == STORE_OK && results[2] == STORE_OK);
	test_assert(test_census(st)->bodies == 1);
	test_assert(test_census(st)->messages == 3);

	test_assert(store_mailbox_load(st, ids[0], &msgs, &n) == STORE_OK && n == 1);
	test_assert(msgs[0].size == sizeof(body) - 1);
	char first_uidl[71];
	snprintf(first_uidl, sizeof(first_uidl), "%s", msgs[0].uidl);
	struct buf out = {0};
	test_assert(store_message_read(st, ids[0], msgs[0].id, &out) == STORE_OK);
	test_assert(out.len == sizeof(body) - 1 && memcmp(out.data, body, out.len) == 0);
	buf_free(&out);
	/* a message of another mailbox is not readable through this one */
	struct store_msg *bm = NULL;
	size_t bn = 0;
	store_mailbox_load(st, ids[1], &bm, &bn);
	test_assert(bn == 1 && store_message_read(st, ids[0], bm[0].id, &out) != STORE_OK);
	buf_free(&out);

	/* expunge from two mailboxes: the body stays for the third (S2) */
	test_assert(store_expunge(st, ids[0], &msgs[0].id, 1) == STORE_OK);
	test_assert(store_expunge(st, ids[1], &bm[0].id, 1) == STORE_OK);
	test_assert(test_census(st)->bodies == 1);
	free(bm);
	bm = NULL;
	store_mailbox_load(st, ids[2], &bm, &bn);
	test_assert(store_expunge(st, ids[2], &bm[0].id, 1) == STORE_OK);
	test_assert(test_census(st)->bodies == 0);
	free(bm);
	free(msgs);

	/* UIDs only grow, also across reopen (S3) */
	store_close(&st);
	test_assert(store_open(dir, false, &st) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, body, sizeof(body) - 1, NULL, results) == STORE_OK);
	msgs = NULL;
	test_assert(store_mailbox_load(st, ids[0], &msgs, &n) == STORE_OK && n == 1);
	test_assert(msgs[0].uid == 2);
	test_assert(strcmp(msgs[0].uidl, first_uidl) != 0);
	free(msgs);

	/* imported UIDLs are kept; invalid ones refused */
	test_assert(store_deliver(st, ids, 1, body, sizeof(body) - 1, "old-server-17", results) ==
		    STORE_OK);
	test_assert(store_deliver(st, ids, 1, body, sizeof(body) - 1, "has space", results) ==
		    STORE_INVALID);
	char toolong[80];
	memset(toolong, 'u', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	test_assert(store_deliver(st, ids, 1, body, sizeof(body) - 1, toolong, results) ==
		    STORE_INVALID);
	msgs = NULL;
	store_mailbox_load(st, ids[0], &msgs, &n);
	test_assert(n == 2 && strcmp(msgs[1].uidl, "old-server-17") == 0);
	free(msgs);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_quota_and_failures(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	char big[600];
	int results[2];

	test_begin("store: quota, failed commit leaves nothing (S7), two handles");
	memset(big, 'x', sizeof(big));
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "small@example.test", 1000);
	test_add_user(st, "big@example.test", 0);
	int64_t ids[2] = {test_mailbox_id(st, "small@example.test"),
			  test_mailbox_id(st, "big@example.test")};
	test_assert(store_deliver(st, ids, 2, big, sizeof(big), NULL, results) == STORE_OK);
	test_assert(store_deliver(st, ids, 2, big, sizeof(big), NULL, results) == STORE_OK);
	test_assert(results[0] == STORE_QUOTA && results[1] == STORE_OK);
	test_assert(store_deliver(st, ids, 1, big, sizeof(big), NULL, results) == STORE_QUOTA);

	int64_t before = test_census(st)->messages;
	store_test_fail_next_commit(st);
	int r = store_deliver(st, &ids[1], 1, big, sizeof(big), NULL, results);
	test_assert(r == STORE_TEMP || r == STORE_PERM);
	test_assert(test_census(st)->messages == before);
	test_assert(store_deliver(st, &ids[1], 1, big, sizeof(big), NULL, results) == STORE_OK);

	/* a second handle (the CLI beside the server) sees the first one's work */
	struct store *st2 = NULL;
	struct store_user u;
	test_assert(store_open(dir, false, &st2) == STORE_OK);
	test_assert(store_user_lookup(st2, "big@example.test", &u) == STORE_OK);
	test_assert(u.messages == 3 && u.used == 3 * sizeof(big));
	store_user_clear(&u);
	test_assert(test_add_user(st2, "new@example.test", 0) == STORE_OK);
	test_assert(test_mailbox_id(st, "new@example.test") > 0);
	store_close(&st2);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

struct qlist {
	int n;
	char rcpts[256];
};

static void count_queue(const struct store_queue_entry *e, void *ctx)
{
	struct qlist *q = ctx;
	q->n++;
	for (size_t i = 0; i < e->n_rcpts; i++) {
		strncat(q->rcpts, e->rcpts[i], sizeof(q->rcpts) - strlen(q->rcpts) - 2);
		strcat(q->rcpts, ";");
	}
}

/* How many of the mailbox's messages begin with `prefix`. */
static int return_paths(struct store *st, int64_t mailbox_id, const char *prefix)
{
	struct store_msg *m = NULL;
	size_t n = 0;
	int hits = 0;

	test_assert(store_mailbox_load(st, mailbox_id, &m, &n) == STORE_OK);
	for (size_t i = 0; i < n; i++) {
		struct buf b = {0};
		test_assert(store_message_read(st, mailbox_id, m[i].id, &b) == STORE_OK);
		hits += b.len >= strlen(prefix) && memcmp(b.data, prefix, strlen(prefix)) == 0;
		buf_free(&b);
	}
	free(m);
	return hits;
}

static void test_submit_and_queue(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	static const char body[] = "Subject: s\r\n\r\nhi\r\n";
	struct store_remote_rcpt remote[] = {{"x@remote.test", "FAILURE", NULL},
					     {"y@remote.test", NULL, "rfc822;y@remote.test"}};
	struct qlist q = {0};
	bool ok;

	test_begin("store: group-committed submissions and the queue");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "a@example.test", 10);
	int64_t a = test_mailbox_id(st, "a@example.test");
	test_assert(store_quota_check(st, a, 5, &ok) == STORE_OK && ok);
	test_assert(store_quota_check(st, a, 50, &ok) == STORE_OK && !ok);
	struct store_submission subs[3] = {
	    {.qid = "Q1",
	     .sender = "s@remote.test",
	     .body = body,
	     .len = sizeof(body) - 1,
	     .mailbox_ids = &a,
	     .n_local = 1,
	     .remote = remote,
	     .n_remote = 2},
	    {.qid = "Q1",
	     .sender = "",
	     .body = body,
	     .len = sizeof(body) - 1,
	     .remote = remote,
	     .n_remote = 1}, /* duplicate qid: fails alone */
	    {.qid = "Q3",
	     .sender = "",
	     .body = body,
	     .len = sizeof(body) - 1,
	     .mailbox_ids = &a,
	     .n_local = 1},
	};
	test_assert(store_submit(st, subs, 3) == STORE_OK);
	test_assert(subs[0].status == STORE_OK && subs[1].status != STORE_OK &&
		    subs[2].status == STORE_OK);
	/* Q1: the mailbox copy (with Return-Path) and the queued copy; Q3 */
	test_assert(test_census(st)->bodies == 3);
	test_assert(test_census(st)->body_oldest_refs == 1);
	/* the one body with Q1's Return-Path is a's copy: Q3's has the null
	   sender's, the queued copy none (read below) */
	test_assert(return_paths(st, a, "Return-Path: <s@remote.test>\r\n") == 1);
	/* over quota at commit time: RCPT already checked, so it is stored */
	struct store_user u;
	test_assert(store_user_lookup(st, "a@example.test", &u) == STORE_OK && u.messages == 2);
	store_user_clear(&u);
	test_assert(store_queue_list(st, NULL, count_queue, &q) == STORE_OK && q.n == 1);
	test_assert(strcmp(q.rcpts, "x@remote.test;y@remote.test;") == 0);
	struct buf out = {0};
	test_assert(store_queue_body(st, "Q1", &out) == STORE_OK && out.len == sizeof(body) - 1);
	buf_free(&out);
	test_assert(store_queue_hold(st, "Q1", true) == STORE_OK);
	test_assert(store_queue_hold(st, "nope", true) == STORE_NOTFOUND);
	test_assert(store_queue_remove(st, "Q1") == STORE_OK);
	test_assert(store_queue_remove(st, "Q1") == STORE_NOTFOUND);
	test_assert(test_census(st)->body_oldest_refs == 1);

	/* a failed commit writes nothing of the batch (S7) */
	int64_t bodies = test_census(st)->bodies;
	struct store_submission one = {.qid = "Q9",
				       .sender = "",
				       .body = body,
				       .len = sizeof(body) - 1,
				       .mailbox_ids = &a,
				       .n_local = 1};
	store_test_fail_next_commit(st);
	test_assert(store_submit(st, &one, 1) == STORE_TEMP && one.status == STORE_TEMP);
	test_assert(test_census(st)->bodies == bodies);
	test_assert(store_submit(st, &one, 1) == STORE_OK && one.status == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void expect_route(struct store *st, const char *domain, const char *hop)
{
	struct store_route r;
	int rc = store_route_find(st, domain, &r);
	if (hop == NULL) {
		test_assert(rc == STORE_NOTFOUND);
		return;
	}
	test_assert(rc == STORE_OK && strcmp(r.hop, hop) == 0);
	store_route_clear(&r);
}

static void test_routes(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);

	test_begin("store: routes, most specific first");
	expect_route(st, "example.org", NULL);
	struct store_route r = {
	    .space = "Example.ORG", .hop = "smtp.example.org:587", .tls = ROUTE_TLS_VERIFY};
	test_assert(store_route_set(st, &r) == STORE_OK);
	r = (struct store_route){.space = "*.example.org", .hop = "[192.0.2.7]"};
	test_assert(store_route_set(st, &r) == STORE_OK);
	r = (struct store_route){.space = "*.b.example.org", .hop = "b-hop"};
	test_assert(store_route_set(st, &r) == STORE_OK);
	expect_route(st, "example.org", "smtp.example.org:587");
	expect_route(st, "a.example.org", "[192.0.2.7]");
	expect_route(st, "x.b.example.org", "b-hop");
	expect_route(st, "badexample.org", NULL); /* not a subdomain */
	expect_route(st, "elsewhere.test", NULL);
	r = (struct store_route){.space = "*", .hop = "mx"};
	test_assert(store_route_set(st, &r) == STORE_OK);
	expect_route(st, "elsewhere.test", "mx");
	expect_route(st, "example.org", "smtp.example.org:587");
	r = (struct store_route){.space = "*", .hop = "smart.test:25"}; /* replaces */
	test_assert(store_route_set(st, &r) == STORE_OK);
	expect_route(st, "elsewhere.test", "smart.test:25");
	r = (struct store_route){.space = "bad..space", .hop = "mx"};
	test_assert(store_route_set(st, &r) == STORE_INVALID);
	static const char *const bad_hops[] = {"",   "host:0", "host:99999", "[1.2.3.4",
					       "[]", "host:x", "bad..host"};
	for (size_t i = 0; i < sizeof(bad_hops) / sizeof(bad_hops[0]); i++)
		test_assert(route_hop_valid(bad_hops[i]) < 0);
	test_assert(route_hop_valid("[2001:db8::1]:2525") == 0);
	test_assert(store_route_remove(st, "*.example.org") == STORE_OK);
	test_assert(store_route_remove(st, "*.example.org") == STORE_NOTFOUND);
	expect_route(st, "a.example.org", "smart.test:25");
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void wire(const char *in, const char *want)
{
	struct buf out = {0};
	store_to_wire(&out, in, strlen(in));
	test_assert(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0);
	buf_free(&out);
}

static void test_to_wire(void)
{
	test_begin("store: wire form conversion");
	wire("a\nb\n", "a\r\nb\r\n");
	wire("a\r\nb\r\n", "a\r\nb\r\n");
	wire("a\rb", "a\r\nb\r\n");
	wire("no end", "no end\r\n");
	wire("\n\n", "\r\n\r\n");
	wire("x\r\r\ny", "x\r\n\r\ny\r\n");
	test_end();
}

/* Text is kept byte for byte on every engine (SQLite, and PostgreSQL's
   SQL_ASCII database): 8-bit bytes that are no UTF-8 come back as given. */
static void test_bytes_kept(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	static const char subject[] = "Abwesend \xe4\xf6\xfc \xff\xfe \xc3(";
	struct store_vacation v = {
	    .subject = (char *)subject, .body = "body \x80\x81\r\n", .interval_days = 7};
	struct store_vacation got;

	test_begin("store: 8-bit text that is no UTF-8 is kept byte for byte");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(st, "a@example.test", 0) == STORE_OK);
	test_assert(store_vacation_set(st, "a@example.test", &v) == STORE_OK);
	test_assert(store_vacation_get(st, "a@example.test", &got) == STORE_OK);
	test_assert_str(got.subject, subject);
	test_assert_str(got.body, "body \x80\x81\r\n");
	store_vacation_clear(&got);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

/* Claims on queued messages (store_queue_claim): on a store several servers
   share, one node at a time; a claim runs out; an attempt ends it. On
   SQLite every claim succeeds. */
static void test_queue_claims(void)
{
	char *dir;
	struct store *st = test_store_new(&dir), *other = NULL;
	static const char body[] = "Subject: c\r\n\r\nhi\r\n";
	struct store_remote_rcpt remote[] = {{"x@remote.test", NULL, NULL}};
	struct store_submission sub = {.qid = "QC",
				       .sender = "s@example.test",
				       .body = body,
				       .len = sizeof(body) - 1,
				       .remote = remote,
				       .n_remote = 1};
	bool a = false, b = false;
	char **qids = NULL, **dests = NULL;
	size_t n = 0;

	test_begin("store: a queued message is claimed by one node at a time");
	test_assert(store_submit(st, &sub, 1) == STORE_OK && sub.status == STORE_OK);
	test_assert(store_open(dir, false, &other) == STORE_OK);
	bool shared = store_backend() == STORE_BACKEND_POSTGRESQL;
	int64_t t0 = (int64_t)time(NULL); /* the message is due from then on */
	test_assert(store_queue_claim(st, "QC", "node-a", t0 + 0, 60, &a) == STORE_OK && a);
	test_assert(store_queue_claim(other, "QC", "node-b", t0 + 10, 60, &b) == STORE_OK);
	test_assert(b == !shared); /* a's claim holds until t0 + 60 */
	test_assert(store_queue_claim(st, "QC", "node-a", t0 + 20, 60, &a) == STORE_OK && a);
	/* due for a, not for b while a's claim holds */
	test_assert(store_queue_due(other, t0 + 30, "node-b", 10, &qids, &dests, &n) == STORE_OK);
	test_assert(n == (shared ? 0u : 1u));
	for (size_t i = 0; i < n; i++) {
		free(qids[i]);
		free(dests[i]);
	}
	free(qids);
	free(dests);
	/* a died: at t0 + 81 its claim (renewed at t0 + 20) has run out */
	test_assert(store_queue_claim(other, "QC", "node-b", t0 + 81, 60, &b) == STORE_OK && b);
	test_assert(store_queue_claim(st, "QC", "node-a", t0 + 90, 60, &a) == STORE_OK);
	test_assert(a == !shared);
	/* b's attempt ends its claim: a may take the next one at once */
	struct store_queue_msg m;
	test_assert(store_queue_load(other, "QC", &m) == STORE_OK && m.n_rcpts == 1);
	test_assert(store_queue_attempt(other, &m, t0 + 1000, NULL, 0) == STORE_OK);
	store_queue_msg_clear(&m);
	test_assert(store_queue_claim(st, "QC", "node-a", t0 + 100, 60, &a) == STORE_OK && a);
	test_assert(store_queue_claim(st, "NONE", "node-a", t0 + 100, 60, &a) == STORE_OK);
	test_assert(a == !shared); /* gone: nothing to claim */
	test_end();
	store_close(&other);
	store_close(&st);
	test_rmtree(dir);
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_open_and_migrate, test_domains, test_users_and_aliases,
	    test_single_instance_and_uids, test_quota_and_failures, test_submit_and_queue,
	    test_routes, test_to_wire, test_bytes_kept, test_queue_claims, NULL});
}
