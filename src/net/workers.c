/* SPDX-License-Identifier: MIT */
/*
 * workers.c - the bounded worker pool (see workers.h), Redis bio.c in
 * spirit.
 *
 * Jobs wait in a FIFO protected by one mutex; workers take them, run `fn`
 * with their own thread context (made by init() on the thread itself, freed
 * by deinit() there too), and move them to a done list. One eventfd,
 * registered in the loop, wakes the loop thread, which runs the `done`
 * callbacks in completion order. The bound counts jobs queued or running,
 * so a burst cannot grow memory without limit. Nothing here blocks the loop
 * thread except the short mutex sections; workers_free() is the one call
 * that waits (for the jobs already accepted).
 */
#include "net/workers.h"
#include "net/loop.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct job {
	struct job *next;
	enum worker_lane lane;
	worker_fn *fn;
	worker_done_fn *done;
	void *arg;
};

struct job_list {
	struct job *head, *tail;
};

struct workers {
	struct loop *loop;
	int efd;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct job_list quick, hash, finished; /* the two lanes, and jobs done */
	unsigned quick_streak; /* quick jobs taken in a row while a hash job waited */
	size_t queued, max_queue;
	unsigned idle;	    /* workers waiting on cond */
	size_t hash_queued; /* hash jobs not yet taken */
	uint64_t hash_ns;   /* how long a hash job runs, averaged (0: none ran yet) */
	bool stopping;
	worker_init_fn *init;
	worker_deinit_fn *deinit;
	void *init_arg;
	unsigned nthreads;
	pthread_t *threads;
};

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static struct job *list_pop(struct job_list *l)
{
	struct job *j = l->head;
	if (j != NULL) {
		l->head = j->next;
		if (l->head == NULL)
			l->tail = NULL;
	}
	return j;
}

/* The next job: quick first, but a waiting hash job after a streak. */
static struct job *take(struct workers *w)
{
	if (w->hash.head != NULL &&
	    (w->quick.head == NULL || w->quick_streak >= WORKERS_QUICK_STREAK)) {
		w->quick_streak = 0;
		w->hash_queued--;
		return list_pop(&w->hash);
	}
	if (w->hash.head != NULL)
		w->quick_streak++;
	return list_pop(&w->quick);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	void *tctx = w->init != NULL ? w->init(w->init_arg) : NULL;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (w->quick.head == NULL && w->hash.head == NULL && !w->stopping) {
			w->idle++;
			pthread_cond_wait(&w->cond, &w->mu);
			w->idle--;
		}
		struct job *j = take(w);
		if (j == NULL)
			break; /* stopping and nothing left */
		pthread_mutex_unlock(&w->mu);
		uint64_t t0 = j->lane == WORKER_LANE_HASH ? mono_ns() : 0;
		j->fn(tctx, j->arg);
		uint64_t ran = j->lane == WORKER_LANE_HASH ? mono_ns() - t0 : 0;
		pthread_mutex_lock(&w->mu);
		if (j->lane == WORKER_LANE_HASH) /* a moving average over about 8 jobs */
			w->hash_ns = w->hash_ns == 0 ? ran : (w->hash_ns * 7 + ran) / 8;
		w->queued--;
		/* the loop takes the whole list at once: only the first job
		   of a batch needs to wake it */
		bool wake = w->finished.head == NULL;
		list_push(&w->finished, j);
		if (wake) {
			uint64_t one = 1;
			ssize_t r = write(w->efd, &one, sizeof(one));
			(void)r;
		}
	}
	pthread_mutex_unlock(&w->mu);
	if (w->deinit != NULL)
		w->deinit(tctx);
	return NULL;
}

static void run_finished(struct workers *w)
{
	struct job_list done;
	pthread_mutex_lock(&w->mu);
	done = w->finished;
	w->finished.head = w->finished.tail = NULL;
	pthread_mutex_unlock(&w->mu);
	for (struct job *j; (j = list_pop(&done)) != NULL;) {
		if (j->done != NULL)
			j->done(j->arg);
		free(j);
	}
}

static void efd_ready(struct loop *l, int fd, int mask, void *ctx)
{
	uint64_t v;
	ssize_t r = read(fd, &v, sizeof(v));
	(void)r;
	run_finished(ctx);
}

struct workers *workers_new(struct loop *l, unsigned threads, size_t max_queue,
			    worker_init_fn *init, worker_deinit_fn *deinit, void *arg)
{
	struct workers *w = xcalloc(1, sizeof(*w));
	w->loop = l;
	w->max_queue = max_queue;
	w->init = init;
	w->deinit = deinit;
	w->init_arg = arg;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0)
		log_fatal("eventfd: %s", strerror(errno));
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (loop_fd_add(l, w->efd, LOOP_READ, efd_ready, w) < 0)
		log_fatal("workers: cannot watch eventfd: %s", strerror(errno));
	w->nthreads = threads ? threads : 1;
	w->threads = xcalloc(w->nthreads, sizeof(pthread_t));
	/* Workers take no signals: they inherit a full mask, so SIGTERM and
	   friends reach the loop thread's signalfd and nothing else. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned i = 0; i < w->nthreads; i++) {
		int e = pthread_create(&w->threads[i], NULL, worker_main, w);
		if (e != 0)
			log_fatal("workers: pthread_create: %s", strerror(e));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w;
}

int workers_submit(struct workers *w, worker_fn *fn, worker_done_fn *done, void *arg)
{
	return workers_submit_lane(w, WORKER_LANE_QUICK, fn, done, arg);
}

int workers_submit_lane(struct workers *w, enum worker_lane lane, worker_fn *fn,
			worker_done_fn *done, void *arg)
{
	pthread_mutex_lock(&w->mu);
	if (w->stopping || w->queued >= w->max_queue) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	struct job *j = xmalloc(sizeof(*j));
	j->lane = lane;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	list_push(lane == WORKER_LANE_HASH ? &w->hash : &w->quick, j);
	w->queued++;
	if (lane == WORKER_LANE_HASH)
		w->hash_queued++;
	/* a busy worker takes the job when it comes back: no wake-up then */
	if (w->idle > 0)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

size_t workers_depth(struct workers *w)
{
	pthread_mutex_lock(&w->mu);
	size_t n = w->queued;
	pthread_mutex_unlock(&w->mu);
	return n;
}

uint64_t workers_hash_wait_ms(struct workers *w)
{
	pthread_mutex_lock(&w->mu);
	/* every thread hashing, one after the other: the queue's time spread
	   over them (quick jobs taken first make the real wait a little longer) */
	uint64_t ms = (uint64_t)w->hash_queued * w->hash_ns / w->nthreads / 1000000u;
	pthread_mutex_unlock(&w->mu);
	return ms;
}

void workers_free(struct workers **wp)
{
	struct workers *w = *wp;
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	for (unsigned i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	run_finished(w);
	loop_fd_del(w->loop, w->efd);
	close(w->efd);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w);
	*wp = NULL;
}
