/* SPDX-License-Identifier: MIT */
/*
 * test_delivery_atomic.c - a message and its side effects (a forwarded
 * copy, a list copy, an auto-reply, a quota warning) are one commit: a
 * commit that fails leaves none of them, nor the once-keys that would stop
 * them next time; the retry stores all of them once. The once-keys decide
 * inside the transaction, so plans made before either message was stored,
 * committed together or one after the other, still give one auto-reply.
 * (tests/proto/test_crash_side_effects.py does the same with kill -9.)
 */
#include "delivery/delivery.h"
#include "directory/directory.h"
#include "store/store.h"
#include "test_common.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VAC "vac@example.test"
#define FWD "fwd@example.test"
#define M1 "m1@example.test"
#define QW "q@example.test"
#define STAFF "staff@example.test"

static char *dir;
static struct store *st;
static struct directory *dirs;
static struct delivery *dl;

static void open_all(void)
{
	const char *err = NULL;
	const char *far[] = {"far@remote.test"};
	struct store_vacation v = {
	    .subject = "Away", .body = "Back next week.\n", .interval_days = 1};

	st = test_store_new(&dir);
	dirs = test_directory("");
	struct delivery_settings s = {
	    .hostname = "mail.example.test", .data_dir = dir, .dir = dirs};
	test_assert(delivery_open(&s, &dl, &err) == 0);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	const char *users[] = {VAC, FWD, M1, QW};
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		test_assert(test_add_user(st, users[i], 0) == STORE_OK);
	test_assert(store_vacation_set(st, VAC, &v) == STORE_OK);
	test_assert(store_user_set_forward(st, FWD, far, 1, 1) == STORE_OK);
	test_assert(store_list_add(st, STAFF, STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_list_member_add(st, STAFF, M1) == STORE_OK);
	test_assert(store_list_member_add(st, STAFF, "ext@remote.test") == STORE_OK);
	/* any message takes q over its warning level */
	test_assert(store_user_set_limit(st, QW, STORE_LIMIT_QUOTA_WARN, 10) == STORE_OK);
}

static void close_all(void)
{
	delivery_free(&dl);
	directory_free(&dirs);
	store_close(&st);
	test_rmtree(dir);
}

static long long in_box(const char *address)
{
	struct store_msg *msgs = NULL;
	size_t n = 0;

	if (store_mailbox_load(st, test_mailbox_id(st, address), &msgs, &n) != STORE_OK)
		return -1;
	free(msgs);
	return (long long)n;
}

struct tally {
	unsigned entries, replies; /* replies: from the null sender */
};

static void tally_cb(const struct store_queue_entry *e, void *ctx)
{
	struct tally *t = ctx;

	t->entries++;
	t->replies += e->sender[0] == '\0';
}

static struct tally queued(void)
{
	struct tally t = {0};

	test_assert(store_queue_list(st, NULL, tally_cb, &t) == STORE_OK);
	return t;
}

static long long once_keys(void)
{
	return test_census(st)->once;
}

/* One message: its plan, its submission, and the body that points into. */
struct msg {
	struct delivery_plan *p;
	struct delivery_out out;
	char body[256];
};

/* A message from `sender` to every address in `to` (NULL-terminated), made
   up to its submission in m->out. */
static void make(struct msg *m, const char *sender, const char *const *to, const char *qid)
{
	struct delivery_sender snd = {.address = sender};
	struct delivery_result res;

	snprintf(m->body, sizeof(m->body),
		 "From: <%s>\r\nTo: " VAC ", " STAFF "\r\nMessage-ID: <%s@remote.test>\r\n"
		 "Subject: %s\r\n\r\ntext\r\n",
		 sender, qid, qid);
	m->p = delivery_plan_new(&snd, strlen(m->body));
	for (size_t i = 0; to[i] != NULL; i++) {
		struct delivery_rcpt r = {.address = to[i]};
		test_assert(delivery_add(dl, st, m->p, &r, &res) == DELIVERY_OK);
	}
	struct delivery_message dm = {
	    .qid = qid, .body = m->body, .len = strlen(m->body), .arrival = (int64_t)time(NULL)};
	delivery_build(dl, st, m->p, &dm, &m->out);
}

static void done(struct msg *m)
{
	delivery_out_clear(&m->out);
	delivery_plan_free(&m->p);
}

static const char *const everyone[] = {VAC, FWD, STAFF, QW, NULL};
static const char *const vac_only[] = {VAC, NULL};

/* Two messages to VAC, from a and from b, as one batch in subs. */
static void make_batch(struct msg m[2], const char *a, const char *b,
		       struct store_submission subs[2])
{
	static unsigned seq;
	char qid[2][16];

	for (int i = 0; i < 2; i++)
		snprintf(qid[i], sizeof(qid[i]), "P%u", ++seq);
	make(&m[0], a, vac_only, qid[0]);
	make(&m[1], b, vac_only, qid[1]);
	subs[0] = m[0].out.sub;
	subs[1] = m[1].out.sub;
}

static void test_failed_commit_then_retry(void)
{
	struct msg a, b;

	test_begin("delivery: a failed commit leaves no message, side effect or once-key");
	open_all();
	make(&a, "x@remote.test", everyone, "A1");
	store_test_fail_next_commit(st);
	test_assert(store_submit(st, &a.out.sub, 1) != STORE_OK && a.out.sub.status != STORE_OK);
	test_assert(in_box(VAC) == 0 && in_box(FWD) == 0 && in_box(M1) == 0 && in_box(QW) == 0);
	test_assert(queued().entries == 0 && once_keys() == 0);

	/* the same submission again: all of it, once */
	test_assert(store_submit(st, &a.out.sub, 1) == STORE_OK && a.out.sub.status == STORE_OK);
	test_assert(in_box(VAC) == 1 && in_box(FWD) == 1 && in_box(M1) == 1);
	test_assert(in_box(QW) == 2); /* the message and its warning */
	struct tally t = queued();
	/* the forwarded copy, the list's outside member, the reply */
	test_assert(t.entries == 3 && t.replies == 1);
	test_assert(once_keys() == 2);

	/* the sender writes again: no second reply, no second warning */
	make(&b, "x@remote.test", everyone, "A2");
	test_assert(store_submit(st, &b.out.sub, 1) == STORE_OK && b.out.sub.status == STORE_OK);
	test_assert(in_box(VAC) == 2 && in_box(QW) == 3);
	t = queued();
	test_assert(t.entries == 5 && t.replies == 1);
	done(&a);
	done(&b);
	close_all();
	test_end();
}

static void test_failed_batch_then_retry(void)
{
	struct msg m[2];
	struct store_submission subs[2];

	test_begin("delivery: a failed group commit leaves nothing of any of its messages");
	open_all();
	make_batch(m, "v@remote.test", "w@remote.test", subs);
	store_test_fail_next_commit(st);
	test_assert(store_submit(st, subs, 2) != STORE_OK);
	test_assert(subs[0].status != STORE_OK && subs[1].status != STORE_OK);
	test_assert(in_box(VAC) == 0 && queued().entries == 0 && once_keys() == 0);
	test_assert(store_submit(st, subs, 2) == STORE_OK);
	test_assert(subs[0].status == STORE_OK && subs[1].status == STORE_OK);
	struct tally t = queued();
	test_assert(in_box(VAC) == 2 && t.entries == 2 && t.replies == 2); /* one each */
	done(&m[0]);
	done(&m[1]);
	close_all();
	test_end();
}

static void test_once_decided_in_the_transaction(void)
{
	struct msg m[4];
	struct store_submission subs[2];

	test_begin("delivery: plans made before either commit still give one reply");
	open_all();
	/* both in one batch (group commit); the key is lower-cased */
	make_batch(m, "y@remote.test", "Y@REMOTE.TEST", subs);
	test_assert(store_submit(st, subs, 2) == STORE_OK);
	test_assert(subs[0].status == STORE_OK && subs[1].status == STORE_OK);
	test_assert(subs[0].n_reports == 1 && !subs[0].reports[0].skipped);
	test_assert(subs[1].n_reports == 1 && subs[1].reports[0].skipped);
	test_assert(in_box(VAC) == 2 && queued().replies == 1);
	/* one after the other, the second plan made before the first commit */
	make(&m[2], "z@remote.test", vac_only, "C3");
	make(&m[3], "z@remote.test", vac_only, "C4");
	test_assert(store_submit(st, &m[2].out.sub, 1) == STORE_OK &&
		    m[2].out.sub.status == STORE_OK);
	test_assert(store_submit(st, &m[3].out.sub, 1) == STORE_OK &&
		    m[3].out.sub.status == STORE_OK);
	test_assert(m[3].out.sub.n_reports == 1 && m[3].out.sub.reports[0].skipped);
	test_assert(in_box(VAC) == 4 && queued().replies == 2);
	for (int i = 0; i < 4; i++)
		done(&m[i]);
	close_all();
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_failed_commit_then_retry,
					   test_failed_batch_then_retry,
					   test_once_decided_in_the_transaction, NULL});
}
