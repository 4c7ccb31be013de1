/* SPDX-License-Identifier: MIT */
/*
 * test_delivery.c - the local delivery path (delivery/delivery.h) over a
 * real store: resolution (aliases, the postmaster fall-back, forwarding
 * chains, SRS bounces), the receive quota, the sender's limits, and the
 * side effects committed with the message or not at all.
 */
#include "delivery/delivery.h"
#include "delivery/srs.h"
#include "directory/directory.h"
#include "store/store.h"
#include "test_common.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fixture {
	char *dir;
	struct store *st;
	struct directory *d;
	struct delivery *dl;
};

static void setup(struct fixture *f)
{
	const char *err = NULL;

	f->st = test_store_new(&f->dir);
	f->d = test_directory("");
	struct delivery_settings s = {
	    .hostname = "mail.example.test", .data_dir = f->dir, .dir = f->d};
	test_assert(delivery_open(&s, &f->dl, &err) == 0);
	test_assert(store_domain_add(f->st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(test_add_user(f->st, "a@example.test", 0) == STORE_OK);
	test_assert(test_add_user(f->st, "b@example.test", 0) == STORE_OK);
}

static void teardown(struct fixture *f)
{
	delivery_free(&f->dl);
	directory_free(&f->d);
	store_close(&f->st);
	test_rmtree(f->dir);
}

static size_t count(struct fixture *f, const char *address)
{
	struct store_msg *msgs = NULL;
	size_t n = 0;
	int64_t id = test_mailbox_id(f->st, address);

	if (id < 0 || store_mailbox_load(f->st, id, &msgs, &n) != STORE_OK)
		return (size_t)-1;
	free(msgs);
	return n;
}

static void queued_cb(const struct store_queue_entry *e, void *ctx)
{
	struct buf *b = ctx;
	buf_printf(b, "%s>", e->sender);
	for (size_t i = 0; i < e->n_rcpts; i++)
		buf_printf(b, "%s%s", i > 0 ? "," : "", e->rcpts[i]);
	buf_printf(b, ";");
}

/* The queue as "sender>rcpt,rcpt;" per message (NUL-terminated). */
static void queued(struct fixture *f, struct buf *b)
{
	b->len = 0;
	test_assert(store_queue_list(f->st, NULL, queued_cb, b) == STORE_OK);
	buf_append(b, "", 1);
}

/* One message from `sender` to the addresses, through both steps; returns
   the commit's status, or -100 - verdict when a recipient is refused. */
static int deliver(struct fixture *f, const char *sender, const char *const *to, size_t n,
		   const char *body)
{
	static unsigned seq;
	struct delivery_sender snd = {.address = sender};
	struct delivery_plan *p = delivery_plan_new(&snd, strlen(body));
	struct delivery_result res;
	struct delivery_out out;
	char qid[24];

	for (size_t i = 0; i < n; i++) {
		struct delivery_rcpt r = {.address = to[i],
					  .postmaster = strstr(to[i], "postmaster")};
		if (delivery_add(f->dl, f->st, p, &r, &res) != DELIVERY_OK) {
			delivery_plan_free(&p);
			return -100 - (int)res.verdict;
		}
	}
	snprintf(qid, sizeof(qid), "T%u", ++seq);
	struct delivery_message m = {
	    .qid = qid, .body = body, .len = strlen(body), .arrival = (int64_t)time(NULL)};
	delivery_build(f->dl, f->st, p, &m, &out);
	int rc = store_submit(f->st, &out.sub, 1);
	if (rc == STORE_OK)
		rc = out.sub.status;
	delivery_out_clear(&out);
	delivery_plan_free(&p);
	return rc;
}

static const char msg[] = "From: x@remote.test\r\nTo: a@example.test\r\nSubject: s\r\n\r\nhi\r\n";

static void test_aliases_and_postmaster(void)
{
	struct fixture f;
	const char *both[] = {"both@example.test"};
	const char *pm[] = {"postmaster@example.test"};
	const char *nobody[] = {"nobody@example.test"};

	test_begin("delivery: an alias reaches each of its mailboxes once; postmaster falls back");
	setup(&f);
	test_assert(store_alias_add(f.st, "both@example.test", "a@example.test") == STORE_OK);
	test_assert(store_alias_add(f.st, "both@example.test", "b@example.test") == STORE_OK);
	test_assert(deliver(&f, "x@remote.test", both, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 1 && count(&f, "b@example.test") == 1);
	test_assert(deliver(&f, "x@remote.test", pm, 1, msg) == STORE_OK);
	test_assert(count(&f, STORE_POSTMASTER) == 1);
	test_assert(deliver(&f, "x@remote.test", nobody, 1, msg) == -100 - DELIVERY_UNKNOWN);
	teardown(&f);
	test_end();
}

static void test_quota(void)
{
	struct fixture f;
	const char *a[] = {"a@example.test"};
	const char *both[] = {"both@example.test"};
	struct delivery_sender snd = {.address = "x@remote.test"};
	struct delivery_result res;

	test_begin("delivery: the receive quota refuses at RCPT; an LDA's any-room rule");
	setup(&f);
	test_assert(store_user_set_limit(f.st, "a@example.test", STORE_LIMIT_QUOTA, 10) ==
		    STORE_OK);
	test_assert(store_alias_add(f.st, "both@example.test", "a@example.test") == STORE_OK);
	test_assert(store_alias_add(f.st, "both@example.test", "b@example.test") == STORE_OK);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == -100 - DELIVERY_FULL);
	test_assert(deliver(&f, "x@remote.test", both, 1, msg) == -100 - DELIVERY_FULL);
	struct delivery_plan *p = delivery_plan_new(&snd, sizeof(msg) - 1);
	struct delivery_rcpt r = {.address = "both@example.test", .any_room = true};
	test_assert(delivery_add(f.dl, f.st, p, &r, &res) == DELIVERY_OK && res.over_quota == 1);
	struct delivery_rcpt ra = {.address = "a@example.test", .any_room = true};
	test_assert(delivery_add(f.dl, f.st, p, &ra, &res) == DELIVERY_FULL);
	delivery_plan_free(&p);
	/* bare <Postmaster> is never refused for its quota */
	test_assert(store_user_set_limit(f.st, STORE_POSTMASTER, STORE_LIMIT_QUOTA, 10) ==
		    STORE_OK);
	const char *bare[] = {"postmaster"};
	test_assert(deliver(&f, "x@remote.test", bare, 1, msg) == STORE_OK);
	teardown(&f);
	test_end();
}

static void test_forward_chains(void)
{
	struct fixture f;
	const char *a[] = {"a@example.test"};
	struct buf q = {0};

	test_begin("delivery: forwarding inside and out, loops end where they close");
	setup(&f);
	const char *to_b[] = {"b@example.test"};
	const char *to_a[] = {"a@example.test"};
	test_assert(store_user_set_forward(f.st, "a@example.test", to_b, 1, 0) == STORE_OK);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 0 && count(&f, "b@example.test") == 1);
	/* A -> B -> A, neither keeps a copy: A, where the chain closes, keeps it */
	test_assert(store_user_set_forward(f.st, "b@example.test", to_a, 1, 0) == STORE_OK);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 1 && count(&f, "b@example.test") == 1);
	test_assert(store_user_set_forward(f.st, "b@example.test", NULL, 0, -1) == STORE_OK);

	/* outside, keeping a copy: SRS sender, Delivered-To first */
	const char *far[] = {"far@remote.test"};
	test_assert(store_user_set_forward(f.st, "a@example.test", far, 1, 1) == STORE_OK);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 2);
	queued(&f, &q);
	test_assert(strncmp(q.data, "SRS0=", 5) == 0 &&
		    strstr(q.data, "=remote.test=x@example.test>far@remote.test;") != NULL);
	/* the null sender stays null */
	test_assert(deliver(&f, "", a, 1, msg) == STORE_OK);
	queued(&f, &q);
	test_assert(strstr(q.data, ";>far@remote.test;") != NULL);
	/* a copy it forwarded before comes back: kept, not sent again */
	static const char looped[] = "Delivered-To: a@example.test\r\nSubject: l\r\n\r\nx\r\n";
	size_t before = strlen(q.data);
	test_assert(deliver(&f, "x@remote.test", a, 1, looped) == STORE_OK);
	queued(&f, &q);
	test_assert(strlen(q.data) == before && count(&f, "a@example.test") == 4);
	buf_free(&q);
	teardown(&f);
	test_end();
}

static void test_srs_bounce(void)
{
	struct fixture f;
	struct buf q = {0};
	unsigned char key[SRS_KEY_LEN];
	char err[256], srs[512];

	test_begin("delivery: a bounce to an SRS address goes back to the original sender");
	setup(&f);
	test_assert(srs_key_load(f.dir, key, err, sizeof(err)) == 0);
	test_assert(srs_forward(key, sizeof(key), "orig@remote.test", "example.test",
				(int64_t)time(NULL), srs, sizeof(srs)) == 0);
	const char *to[] = {srs};
	test_assert(deliver(&f, "", to, 1, msg) == STORE_OK);
	queued(&f, &q);
	test_assert_str(q.data, ">orig@remote.test;");
	srs[6] ^= 1; /* a forged hash */
	test_assert(deliver(&f, "", to, 1, msg) == -100 - DELIVERY_REFUSED);
	buf_free(&q);
	teardown(&f);
	test_end();
}

static void test_quota_warning_once(void)
{
	struct fixture f;
	const char *a[] = {"a@example.test"};

	test_begin("delivery: one quota warning per crossing, in the message's transaction");
	setup(&f);
	test_assert(store_user_set_limit(f.st, "a@example.test", STORE_LIMIT_QUOTA_WARN, 100) ==
		    STORE_OK);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 1); /* under the level */
	/* a commit that fails leaves neither the message nor the notice */
	store_test_fail_next_commit(f.st);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_TEMP);
	test_assert(count(&f, "a@example.test") == 1);
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 3); /* the message and its notice */
	test_assert(deliver(&f, "x@remote.test", a, 1, msg) == STORE_OK);
	test_assert(count(&f, "a@example.test") == 4); /* no second notice */
	teardown(&f);
	test_end();
}

/* Two messages whose plans were made while the mailbox was under its level,
   and which cross it only together, bring one warning. */
static void test_quota_warning_together(void)
{
	struct fixture f;
	struct delivery_sender snd = {.address = "x@remote.test"};
	struct delivery_rcpt r = {.address = "a@example.test"};
	struct delivery_result res;
	struct delivery_plan *p[2];
	struct delivery_out out[2];

	test_begin("delivery: a quota warning is decided against the use at the commit");
	setup(&f);
	test_assert(store_user_set_limit(f.st, "a@example.test", STORE_LIMIT_QUOTA_WARN,
					 (int64_t)(sizeof(msg) - 1) * 3 / 2) == STORE_OK);
	for (int i = 0; i < 2; i++) {
		p[i] = delivery_plan_new(&snd, sizeof(msg) - 1);
		test_assert(delivery_add(f.dl, f.st, p[i], &r, &res) == DELIVERY_OK);
	}
	struct store_submission subs[2];
	for (int i = 0; i < 2; i++) {
		struct delivery_message m = {
		    .qid = i == 0 ? "G0" : "G1", .body = msg, .len = sizeof(msg) - 1};
		delivery_build(f.dl, f.st, p[i], &m, &out[i]);
		subs[i] = out[i].sub;
	}
	test_assert(store_submit(f.st, subs, 2) == STORE_OK);
	test_assert(subs[0].status == STORE_OK && subs[1].status == STORE_OK);
	test_assert(count(&f, "a@example.test") == 3); /* two messages, one warning */
	for (int i = 0; i < 2; i++) {
		delivery_out_clear(&out[i]);
		delivery_plan_free(&p[i]);
	}
	teardown(&f);
	test_end();
}

static void test_sender_limits(void)
{
	struct fixture f;
	struct delivery_result res;

	test_begin("delivery: the sender's recipients per message and messages per hour");
	setup(&f);
	int64_t a = test_mailbox_id(f.st, "a@example.test");
	test_assert(store_user_set_limit(f.st, "a@example.test", STORE_LIMIT_RECIPIENTS, 1) ==
		    STORE_OK);
	test_assert(store_user_set_limit(f.st, "a@example.test", STORE_LIMIT_MESSAGES_HOUR, 1) ==
		    STORE_OK);
	struct delivery_sender snd = {
	    .address = "a@example.test", .mailbox = a, .login = "a@example.test"};
	struct delivery_plan *p = delivery_plan_new(&snd, 10);
	test_assert(delivery_sender_check(f.dl, f.st, p, &res) == DELIVERY_OK);
	struct delivery_rcpt r1 = {.address = "b@example.test"};
	struct delivery_rcpt r2 = {.address = "far@remote.test"};
	test_assert(delivery_add(f.dl, f.st, p, &r1, &res) == DELIVERY_OK);
	test_assert(delivery_add_remote(p, &r2, &res) == DELIVERY_TOO_MANY &&
		    res.limit == STORE_LIMIT_RECIPIENTS);
	struct delivery_message m = {.qid = "S1", .body = msg, .len = sizeof(msg) - 1};
	struct delivery_out out;
	delivery_build(f.dl, f.st, p, &m, &out);
	test_assert(store_submit(f.st, &out.sub, 1) == STORE_OK && out.sub.status == STORE_OK);
	delivery_out_clear(&out);
	delivery_plan_free(&p);
	p = delivery_plan_new(&snd, 10);
	test_assert(delivery_sender_check(f.dl, f.st, p, &res) == DELIVERY_RATE &&
		    res.limit == STORE_LIMIT_MESSAGES_HOUR);
	delivery_plan_free(&p);
	teardown(&f);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_aliases_and_postmaster, test_quota, test_forward_chains, test_srs_bounce,
	    test_quota_warning_once, test_quota_warning_together, test_sender_limits, NULL});
}
