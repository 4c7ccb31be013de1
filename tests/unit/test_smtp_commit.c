/* SPDX-License-Identifier: MIT */
/* test_smtp_commit.c - group commit on a full worker pool: the loop never
   waits, the session waits (back-pressure), and no message is failed for it. */
#include "net/loop.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "test_common.h"
#include "util/config.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_MSGS 3

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int finished, blocker_running;
static int statuses[N_MSGS];

static void *worker_init(void *arg)
{
	return arg; /* the one thread uses the test's store */
}

static void blocker(void *thread_ctx, void *job)
{
	__atomic_store_n(&blocker_running, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&gate); /* held by the test: the pool stays busy */
	pthread_mutex_unlock(&gate);
}

static void blocker_done(void *job)
{
}

static bool no_step(void *sess)
{
	return false;
}

static void no_free(void *sess)
{
}

static void finish(struct smtp_session *s, struct smtp_job *job)
{
	statuses[job->qid[1] - '0'] = job->commit.sub.status;
	if (++finished == N_MSGS)
		loop_stop(smtp_loop(s));
}

static void give_up(struct loop *l, void *ctx)
{
	loop_stop(l);
}

static void test_full_pool_is_back_pressure(void)
{
	static const char body[] = "Subject: s\r\n\r\nhi\r\n";
	char *dir;
	struct store *st = test_store_new(&dir);
	struct config cfg;
	struct service_env srv;
	struct smtp_session sess[N_MSGS];
	/* the session's own ops, without its input loop: no connection here */
	struct proto_session_ops ops = smtp_session_ops;
	ops.step = no_step;
	ops.free = no_free;

	test_begin("smtp commit: a full worker pool makes the session wait, never the loop");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "a@example.test", 0);
	int64_t a = test_mailbox_id(st, "a@example.test");
	memset(&cfg, 0, sizeof(cfg));
	memset(&srv, 0, sizeof(srv));
	cfg.hostname = (char *)"mail.example.test";
	srv.cfg = &cfg;
	srv.loop = loop_new();
	/* one thread, two jobs at most (running or queued): the blocker runs, one commit queues,
	   the rest are refused */
	srv.workers = workers_new(srv.loop, 1, 2, worker_init, NULL, st);
	struct smtp_service *svc = smtp_service_new(&srv);
	pthread_mutex_lock(&gate);
	test_assert(workers_submit(srv.workers, blocker, blocker_done, NULL) == 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&blocker_running, __ATOMIC_SEQ_CST); i++)
		usleep(1000); /* until the thread is busy and the queue empty */

	for (int i = 0; i < N_MSGS; i++) {
		struct smtp_session *s = &sess[i];
		memset(s, 0, sizeof(*s));
		s->svc = svc;
		s->core = (struct proto_session){.sess = s, .ops = &ops, .env = &srv};
		snprintf(s->core.sid, sizeof(s->core.sid), "S%d", i);
		struct smtp_job *job = smtp_job_new(s, finish);
		snprintf(job->qid, sizeof(job->qid), "Q%d", i);
		job->commit.sub = (struct store_submission){.qid = job->qid,
							    .sender = "x@remote.test",
							    .body = body,
							    .len = sizeof(body) - 1,
							    .mailbox_ids = &a,
							    .n_local = 1};
		smtp_commit_submit(s, job); /* returns at once, whatever the pool */
		test_assert(s->core.job == job);
	}
	test_assert(finished == 0);
	test_assert(sess[0].retry == NULL);	     /* queued in the pool */
	test_assert(sess[N_MSGS - 1].retry != NULL); /* refused: tried again later */

	pthread_mutex_unlock(&gate);
	struct timer *t = loop_timer_add(srv.loop, 10000, give_up, NULL);
	loop_run(srv.loop);
	loop_timer_del(srv.loop, &t);
	test_assert(finished == N_MSGS);
	for (int i = 0; i < N_MSGS; i++) {
		test_assert(statuses[i] == STORE_OK);
		test_assert(sess[i].core.job == NULL && sess[i].retry == NULL);
	}
	struct store_msg *msgs = NULL;
	size_t n = 0;
	test_assert(store_mailbox_load(st, a, &msgs, &n) == STORE_OK && n == N_MSGS);
	free(msgs);

	workers_free(&srv.workers);
	smtp_service_free(&svc);
	loop_free(&srv.loop);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_full_pool_is_back_pressure, NULL});
}
