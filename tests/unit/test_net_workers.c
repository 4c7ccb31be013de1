/* SPDX-License-Identifier: MIT */
/*
 * test_net_workers.c - net/workers.h: every job runs once on a worker
 * thread with that thread's own context (from init), and its `done` runs
 * on the loop thread; a full queue refuses the job instead of growing;
 * workers_free() lets accepted jobs finish, runs their `done`s, refuses new
 * work from those `done`s, and calls deinit once per thread. Lanes: with
 * one thread held, quick jobs queued after hash jobs run first, and a
 * waiting hash job runs after WORKERS_QUICK_STREAK quick ones in a row.
 */
#include "net/loop.h"
#include "net/workers.h"
#include "test_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pool_ctx {
	atomic_int inits, deinits;
	pthread_t loop_thread;
	struct loop *loop;
	struct workers *w;
	int done, done_off_loop, expected;
	atomic_int ran;
	int resubmit_refused;
};

struct thread_ctx {
	struct pool_ctx *p;
	int index;
};

struct job {
	struct pool_ctx *p;
	bool ctx_ok; /* fn got a thread ctx made by init for this pool */
	pthread_t ran_on;
	pthread_mutex_t *gate; /* held by the test to keep the job running */
	bool resubmit;
};

static void *t_init(void *arg)
{
	struct pool_ctx *p = arg;
	struct thread_ctx *t = malloc(sizeof(*t));
	t->p = p;
	t->index = atomic_fetch_add(&p->inits, 1);
	return t;
}

static void t_deinit(void *tctx)
{
	struct thread_ctx *t = tctx;
	atomic_fetch_add(&t->p->deinits, 1);
	free(t);
}

static void job_fn(void *tctx, void *arg)
{
	struct job *j = arg;
	j->ctx_ok = tctx != NULL && ((struct thread_ctx *)tctx)->p == j->p;
	j->ran_on = pthread_self();
	if (j->gate != NULL) {
		pthread_mutex_lock(j->gate);
		pthread_mutex_unlock(j->gate);
	} else {
		usleep(1000);
	}
	atomic_fetch_add(&j->p->ran, 1);
}

static void job_done(void *arg)
{
	struct job *j = arg;
	struct pool_ctx *p = j->p;

	if (!pthread_equal(pthread_self(), p->loop_thread))
		p->done_off_loop++;
	if (!j->ctx_ok || pthread_equal(j->ran_on, p->loop_thread))
		p->done_off_loop++; /* counted as a failure too */
	if (j->resubmit && workers_submit(p->w, job_fn, job_done, j) < 0)
		p->resubmit_refused++;
	else if (j->resubmit)
		return;
	free(j);
	if (++p->done == p->expected && p->loop != NULL)
		loop_stop(p->loop);
}

static void guard_cb(struct loop *l, void *ctx)
{
	*(bool *)ctx = true;
	loop_stop(l);
}

static struct job *job_new(struct pool_ctx *p)
{
	struct job *j = calloc(1, sizeof(*j));
	j->p = p;
	return j;
}

static void test_jobs(void)
{
	test_begin("workers run jobs off the loop, done on the loop thread");
	struct pool_ctx p = {.loop_thread = pthread_self(), .expected = 200};
	bool timed_out = false;

	p.loop = loop_new();
	p.w = workers_new(p.loop, 4, 1000, t_init, t_deinit, &p);
	for (int i = 0; i < p.expected; i++)
		test_assert(workers_submit(p.w, job_fn, job_done, job_new(&p)) == 0);
	struct timer *g = loop_timer_add(p.loop, 10000, guard_cb, &timed_out);
	loop_run(p.loop);
	test_assert(!timed_out);
	if (!timed_out)
		loop_timer_del(p.loop, &g);
	test_assert(p.done == p.expected);
	test_assert(atomic_load(&p.ran) == p.expected);
	test_assert(p.done_off_loop == 0);
	workers_free(&p.w);
	test_assert(p.w == NULL);
	workers_free(&p.w); /* accepts NULL */
	test_assert(atomic_load(&p.inits) == 4);
	test_assert(atomic_load(&p.deinits) == 4);
	loop_free(&p.loop);
	test_end();
}

static void test_queue_full(void)
{
	test_begin("workers refuse jobs beyond the queue bound");
	struct pool_ctx p = {.loop_thread = pthread_self(), .expected = 3};
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	bool timed_out = false;

	p.loop = loop_new();
	p.w = workers_new(p.loop, 1, 3, t_init, t_deinit, &p);
	pthread_mutex_lock(&gate);
	struct job *js[4];
	for (int i = 0; i < 4; i++) {
		js[i] = job_new(&p);
		js[i]->gate = &gate;
	}
	test_assert(workers_submit(p.w, job_fn, job_done, js[0]) == 0);
	test_assert(workers_submit(p.w, job_fn, job_done, js[1]) == 0);
	test_assert(workers_submit(p.w, job_fn, job_done, js[2]) == 0);
	/* one running (blocked on the gate) + two queued = the bound of 3 */
	test_assert(workers_submit(p.w, job_fn, job_done, js[3]) == -1);
	free(js[3]);
	pthread_mutex_unlock(&gate);
	struct timer *g = loop_timer_add(p.loop, 10000, guard_cb, &timed_out);
	loop_run(p.loop);
	test_assert(!timed_out);
	if (!timed_out)
		loop_timer_del(p.loop, &g);
	test_assert(p.done == 3);
	/* room again once jobs have finished */
	p.expected = 4;
	test_assert(workers_submit(p.w, job_fn, job_done, job_new(&p)) == 0);
	workers_free(&p.w);
	test_assert(p.done == 4);
	loop_free(&p.loop);
	test_end();
}

static void test_free_drains(void)
{
	test_begin("workers_free() finishes accepted jobs and refuses new ones");
	struct pool_ctx p = {.loop_thread = pthread_self(), .expected = 20};

	struct loop *l = loop_new();
	p.w = workers_new(l, 3, 100, t_init, t_deinit, &p);
	for (int i = 0; i < p.expected; i++) {
		struct job *j = job_new(&p);
		j->resubmit = i == 0; /* its done tries to queue more work */
		test_assert(workers_submit(p.w, job_fn, job_done, j) == 0);
	}
	workers_free(&p.w); /* the loop never ran: every done runs in here */
	test_assert(p.done == p.expected);
	test_assert(atomic_load(&p.ran) == p.expected);
	test_assert(p.resubmit_refused == 1);
	test_assert(p.done_off_loop == 0);
	test_assert(atomic_load(&p.deinits) == 3);
	loop_free(&l);
	test_end();
}

/* --- lanes ----------------------------------------------------------------------- */

struct lane_log {
	pthread_mutex_t mu;
	char order[64]; /* 'g' for the gate, then 'q' or 'h' per job, in run order */
	size_t n;
	pthread_mutex_t gate;
	int done, expected;
	struct loop *loop;
};

struct lane_job {
	struct lane_log *log;
	char tag;
};

static void lane_fn(void *tctx, void *arg)
{
	struct lane_job *j = arg;
	(void)tctx;
	if (j->tag == 'g') { /* the first job holds the only thread */
		pthread_mutex_lock(&j->log->gate);
		pthread_mutex_unlock(&j->log->gate);
	}
	pthread_mutex_lock(&j->log->mu);
	if (j->log->n + 1 < sizeof(j->log->order))
		j->log->order[j->log->n++] = j->tag;
	pthread_mutex_unlock(&j->log->mu);
}

static void lane_done(void *arg)
{
	struct lane_job *j = arg;
	if (++j->log->done == j->log->expected)
		loop_stop(j->log->loop);
	free(j);
}

static void give_up(struct loop *l, void *ctx)
{
	(void)ctx;
	loop_stop(l);
}

/* Runs the gate, then the jobs of `plan` ('q' quick, 'h' hash) submitted in
   that order while the gate holds the one thread; returns the run order. */
static void run_lanes(const char *plan, char *out, size_t len)
{
	struct lane_log log = {.mu = PTHREAD_MUTEX_INITIALIZER,
			       .gate = PTHREAD_MUTEX_INITIALIZER,
			       .expected = (int)strlen(plan) + 1};
	log.loop = loop_new();
	struct workers *w = workers_new(log.loop, 1, 64, NULL, NULL, NULL);
	pthread_mutex_lock(&log.gate);
	struct lane_job *g = calloc(1, sizeof(*g));
	*g = (struct lane_job){&log, 'g'};
	test_assert(workers_submit(w, lane_fn, lane_done, g) == 0);
	usleep(20000); /* the thread takes the gate job before the rest is queued */
	for (const char *p = plan; *p != '\0'; p++) {
		struct lane_job *j = calloc(1, sizeof(*j));
		*j = (struct lane_job){&log, *p};
		test_assert(workers_submit_lane(w, *p == 'h' ? WORKER_LANE_HASH : WORKER_LANE_QUICK,
						lane_fn, lane_done, j) == 0);
	}
	pthread_mutex_unlock(&log.gate);
	struct timer *t = loop_timer_add(log.loop, 10000, give_up, NULL);
	loop_run(log.loop);
	loop_timer_del(log.loop, &t);
	workers_free(&w);
	loop_free(&log.loop);
	snprintf(out, len, "%.*s", (int)log.n, log.order);
}

static void test_lanes(void)
{
	char got[64];

	test_begin("workers: quick jobs go before hash jobs, a hash job after a streak");
	run_lanes("hhhqqq", got, sizeof(got));
	test_assert_str(got, "gqqqhhh");
	/* WORKERS_QUICK_STREAK (4) quick jobs in a row, then the waiting hash */
	run_lanes("hhqqqqqqqqqq", got, sizeof(got));
	test_assert_str(got, "gqqqqhqqqqhqq");
	run_lanes("hqhq", got, sizeof(got));
	test_assert_str(got, "gqqhh");
	test_end();
}

int main(void)
{
	alarm(60);
	return test_run(
	    (void (*[])(void)){test_jobs, test_queue_full, test_free_drains, test_lanes, NULL});
}
