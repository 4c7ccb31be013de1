/* SPDX-License-Identifier: MIT */
/*
 * test_net_loop.c - net/loop.h: timers fire in deadline order (FIFO on
 * ties) and can be cancelled, also from another timer's callback; a 0 ms
 * timer re-armed from its own callback waits for the next iteration; the
 * heap stays ordered under random adds and deletes; fd events reach their
 * handler and a handler may delete another fd of the same batch; hooks run
 * before every sleep and can be removed; loop_wake() from another thread
 * ends a sleep with no timer pending. Every test is bounded by a guard timer
 * and by alarm().
 */
#include "net/loop.h"
#include "test_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool guard_fired;

static void guard_cb(struct loop *l, void *ctx)
{
	guard_fired = true;
	loop_stop(l);
}

/* Runs the loop, stopping it after at most `ms` anyway. */
static void run_bounded(struct loop *l, uint64_t ms)
{
	guard_fired = false;
	struct timer *g = loop_timer_add(l, ms, guard_cb, NULL);
	loop_run(l);
	if (!guard_fired)
		loop_timer_del(l, &g);
}

/* --- timers --------------------------------------------------------------- */

struct order {
	int seen[16];
	int n;
	int stop_after;
};

struct order_item {
	struct order *o;
	int id;
};

static void order_cb(struct loop *l, void *ctx)
{
	struct order_item *it = ctx;
	it->o->seen[it->o->n++] = it->id;
	if (it->o->n == it->o->stop_after)
		loop_stop(l);
}

static void test_timer_order(void)
{
	test_begin("loop timers fire in deadline order, FIFO on ties");
	struct loop *l = loop_new();
	struct order o = {.stop_after = 4};
	struct order_item a = {&o, 30}, b = {&o, 10}, c = {&o, 20}, d = {&o, 21};
	uint64_t start = loop_now_ms(l);

	loop_timer_add(l, 30, order_cb, &a);
	loop_timer_add(l, 10, order_cb, &b);
	loop_timer_add(l, 20, order_cb, &c);
	loop_timer_add(l, 20, order_cb, &d); /* same deadline as c, added later */
	run_bounded(l, 2000);
	test_assert(!guard_fired);
	test_assert(o.n == 4);
	test_assert(o.seen[0] == 10 && o.seen[1] == 20 && o.seen[2] == 21 && o.seen[3] == 30);
	test_assert(loop_now_ms(l) - start >= 30);
	loop_free(&l);
	test_assert(l == NULL);
	loop_free(&l); /* accepts NULL */
	test_end();
}

struct cancel_ctx {
	struct timer *victim;
	int victim_ran, killer_ran;
};

static void victim_cb(struct loop *l, void *ctx)
{
	struct cancel_ctx *cc = ctx;
	cc->victim = NULL;
	cc->victim_ran++;
}

static void killer_cb(struct loop *l, void *ctx)
{
	struct cancel_ctx *cc = ctx;
	cc->killer_ran++;
	loop_timer_del(l, &cc->victim);
	test_assert(cc->victim == NULL);
}

static void stop_cb(struct loop *l, void *ctx)
{
	loop_stop(l);
}

static void test_timer_cancel(void)
{
	test_begin("loop timer deleted by another timer's callback never fires");
	struct loop *l = loop_new();
	struct cancel_ctx cc = {0};
	struct timer *t = loop_timer_add(l, 5, victim_cb, &cc);

	loop_timer_del(l, &t);
	test_assert(t == NULL);
	loop_timer_del(l, &t); /* accepts *t == NULL */
	/* both due in the same iteration: the killer was added first */
	loop_timer_add(l, 10, killer_cb, &cc);
	cc.victim = loop_timer_add(l, 10, victim_cb, &cc);
	loop_timer_add(l, 40, stop_cb, NULL);
	run_bounded(l, 2000);
	test_assert(!guard_fired);
	test_assert(cc.killer_ran == 1);
	test_assert(cc.victim_ran == 0);
	loop_free(&l);
	test_end();
}

struct rearm_ctx {
	int fired, hooks;
};

static void rearm_cb(struct loop *l, void *ctx)
{
	struct rearm_ctx *r = ctx;
	if (++r->fired == 50) {
		loop_stop(l);
		return;
	}
	loop_timer_add(l, 0, rearm_cb, r);
}

static void count_hook(struct loop *l, void *ctx)
{
	struct rearm_ctx *r = ctx;
	r->hooks++;
}

static void test_timer_rearm_zero(void)
{
	test_begin("loop 0 ms timer re-armed in its callback yields to the loop");
	struct loop *l = loop_new();
	struct rearm_ctx r = {0};

	loop_before_sleep(l, count_hook, &r);
	loop_timer_add(l, 0, rearm_cb, &r);
	run_bounded(l, 2000);
	test_assert(!guard_fired);
	test_assert(r.fired == 50);
	/* one iteration (and so one hook run) per firing */
	test_assert(r.hooks >= 50);
	loop_free(&l);
	test_end();
}

struct heap_ctx {
	uint64_t last_when;
	uint64_t base;
	int fired;
	bool ordered;
};

struct heap_item {
	struct heap_ctx *h;
	uint64_t ms;
	struct timer *t;
};

static void heap_cb(struct loop *l, void *ctx)
{
	struct heap_item *it = ctx;
	it->t = NULL;
	if (it->ms < it->h->last_when)
		it->h->ordered = false;
	it->h->last_when = it->ms;
	it->h->fired++;
}

static void test_timer_heap(void)
{
	test_begin("loop timer heap stays ordered under random adds and deletes");
	enum { N = 2000 };
	struct loop *l = loop_new();
	struct heap_ctx h = {.ordered = true};
	struct heap_item *items = calloc(N, sizeof(*items));
	int deleted = 0;

	srand(42);
	for (int i = 0; i < N; i++) {
		items[i] = (struct heap_item){&h, (uint64_t)(rand() % 60), NULL};
		items[i].t = loop_timer_add(l, items[i].ms, heap_cb, &items[i]);
	}
	for (int i = 0; i < N; i += 3) {
		loop_timer_del(l, &items[i].t);
		deleted++;
	}
	loop_timer_add(l, 100, stop_cb, NULL);
	run_bounded(l, 3000);
	test_assert(!guard_fired);
	test_assert(h.ordered);
	test_assert(h.fired == N - deleted);
	free(items);
	loop_free(&l);
	test_end();
}

/* --- fd events ------------------------------------------------------------------ */

struct fd_ctx {
	int pipes[2][2];
	int ran[2];
	int mask[2];
};

static void fd_cb(struct loop *l, int fd, int mask, void *ctx)
{
	struct fd_ctx *f = ctx;
	int me = fd == f->pipes[0][0] ? 0 : 1;
	char buf[16];

	f->ran[me]++;
	f->mask[me] = mask;
	ssize_t r = read(fd, buf, sizeof(buf));
	(void)r;
	/* delete both: the other one is ready in the same batch */
	loop_fd_del(l, f->pipes[0][0]);
	loop_fd_del(l, f->pipes[1][0]);
	loop_timer_add(l, 10, stop_cb, NULL);
}

static void test_fd_events(void)
{
	test_begin("loop fd events; a handler may delete an fd of the same batch");
	struct loop *l = loop_new();
	struct fd_ctx f = {0};

	for (int i = 0; i < 2; i++) {
		test_assert(pipe(f.pipes[i]) == 0);
		test_assert(loop_fd_add(l, f.pipes[i][0], LOOP_READ, fd_cb, &f) == 0);
		test_assert(write(f.pipes[i][1], "x", 1) == 1);
	}
	run_bounded(l, 2000);
	test_assert(!guard_fired);
	test_assert(f.ran[0] + f.ran[1] == 1);
	test_assert((f.mask[0] | f.mask[1]) == LOOP_READ);
	for (int i = 0; i < 2; i++) {
		close(f.pipes[i][0]);
		close(f.pipes[i][1]);
	}
	loop_free(&l);
	test_end();
}

struct wr_ctx {
	int writes;
};

static void wr_cb(struct loop *l, int fd, int mask, void *ctx)
{
	struct wr_ctx *w = ctx;
	if (mask & LOOP_WRITE)
		w->writes++;
	loop_fd_mod(l, fd, 0); /* nothing asked: no more events */
	loop_timer_add(l, 30, stop_cb, NULL);
}

static void test_fd_write_mod(void)
{
	test_begin("loop write interest fires and loop_fd_mod(0) silences it");
	struct loop *l = loop_new();
	struct wr_ctx w = {0};
	int p[2];

	test_assert(pipe(p) == 0);
	test_assert(loop_fd_add(l, p[1], LOOP_WRITE, wr_cb, &w) == 0);
	run_bounded(l, 2000);
	test_assert(!guard_fired);
	test_assert(w.writes == 1);
	loop_fd_del(l, p[1]);
	close(p[0]);
	close(p[1]);
	loop_free(&l);
	test_end();
}

/* --- hooks and wake-ups ------------------------------------------------------------- */

struct hook_ctx {
	int a, b;
	atomic_bool flag;
};

static void hook_a(struct loop *l, void *ctx)
{
	struct hook_ctx *h = ctx;
	if (++h->a == 3)
		loop_stop(l);
}

static void hook_b(struct loop *l, void *ctx)
{
	struct hook_ctx *h = ctx;
	h->b++;
	loop_before_sleep_del(l, hook_b, ctx); /* removes itself while iterating */
}

static void tick_cb(struct loop *l, void *ctx)
{
	loop_timer_add(l, 1, tick_cb, ctx);
}

static void test_hooks(void)
{
	test_begin("loop before-sleep hooks run every iteration and can be removed");
	struct loop *l = loop_new();
	struct hook_ctx h = {0};

	loop_before_sleep(l, hook_a, &h);
	loop_before_sleep(l, hook_b, &h);
	loop_timer_add(l, 1, tick_cb, &h);
	run_bounded(l, 2000);
	test_assert(!guard_fired);
	test_assert(h.a == 3);
	test_assert(h.b == 1);
	loop_free(&l);
	test_end();
}

static void *waker(void *arg)
{
	struct loop *l = ((void **)arg)[0];
	struct hook_ctx *h = ((void **)arg)[1];
	usleep(30 * 1000);
	atomic_store(&h->flag, true);
	loop_wake(l);
	return NULL;
}

static void wake_hook(struct loop *l, void *ctx)
{
	struct hook_ctx *h = ctx;
	if (atomic_load(&h->flag))
		loop_stop(l);
}

static void test_wake(void)
{
	test_begin("loop_wake() from another thread ends a sleep without timers");
	struct loop *l = loop_new();
	struct hook_ctx h = {0};
	void *args[2] = {l, &h};
	pthread_t t;

	loop_before_sleep(l, wake_hook, &h);
	test_assert(pthread_create(&t, NULL, waker, args) == 0);
	loop_run(l); /* no timer: only the wake-up can end this (alarm guards) */
	pthread_join(t, NULL);
	test_assert(atomic_load(&h.flag));
	loop_free(&l);
	test_end();
}

int main(void)
{
	alarm(60);
	return test_run((void (*[])(void)){test_timer_order, test_timer_cancel,
					   test_timer_rearm_zero, test_timer_heap, test_fd_events,
					   test_fd_write_mod, test_hooks, test_wake, NULL});
}
