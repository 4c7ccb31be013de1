/* SPDX-License-Identifier: MIT */
/*
 * test_net_workers.c - net/workers.h: every job runs once on a worker
 * thread with that thread's own context (from init), and its `done` runs
 * on the loop thread; a full queue refuses the job instead of growing;
 * workers_free() lets accepted jobs finish, runs their `done`s, refuses new
 * work from those `done`s, and calls deinit once per thread.
 */
#include "net/loop.h"
#include "net/workers.h"
#include "test_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
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

int main(void)
{
	alarm(60);
	return test_run((void (*[])(void)){test_jobs, test_queue_full, test_free_drains, NULL});
}
