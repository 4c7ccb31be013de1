/* SPDX-License-Identifier: MIT */
/*
 * workers.h - a bounded pool of threads for blocking work.
 *
 * Password hashing, store reads and writes (fsync) never run on the network
 * thread (SPEC §8). A session submits a job; `fn` runs on a worker thread with
 * that thread's context (e.g. its own store handle); then `done` runs on the
 * loop thread. The session must not touch the job while it is submitted, and
 * must stay alive until `done` runs (a session closed meanwhile marks itself
 * dead and is freed by `done`). The queue is bounded: when it is full,
 * workers_submit() fails and the caller answers with a temporary error.
 *
 * Two lanes share the threads. Quick jobs (store reads and writes, a few
 * hundred microseconds) are taken before hash jobs (a password check:
 * milliseconds of one core each, and a burst of logins brings hundreds at
 * once). Without that, a login whose hash is done would queue its mailbox
 * load behind every hash still waiting, and no client of a burst would be
 * answered until the whole burst was hashed; sessions already logged in
 * would wait too. A hash job still runs after WORKERS_QUICK_STREAK quick
 * jobs in a row, so steady store work cannot starve logins.
 */
#ifndef MAILROOM_NET_WORKERS_H
#define MAILROOM_NET_WORKERS_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct workers;

enum worker_lane {
	WORKER_LANE_QUICK, /* store work: taken first */
	WORKER_LANE_HASH,  /* password checks */
};

#define WORKERS_QUICK_STREAK 4

typedef void worker_fn(void *thread_ctx, void *job);
typedef void worker_done_fn(void *job);
typedef void *worker_init_fn(void *arg); /* returns the thread's ctx */
typedef void worker_deinit_fn(void *thread_ctx);

struct workers *workers_new(struct loop *l, unsigned threads, size_t max_queue,
			    worker_init_fn *init, worker_deinit_fn *deinit, void *arg);
/* Returns 0, or -1 if the queue is full or the pool is stopping. The bound
   counts both lanes. workers_submit() is the quick lane. */
int workers_submit(struct workers *w, worker_fn *fn, worker_done_fn *done, void *job);
int workers_submit_lane(struct workers *w, enum worker_lane lane, worker_fn *fn,
			worker_done_fn *done, void *job);
/* Jobs queued or running now (the bound counts them), for metrics; takes
   the pool's mutex for a moment. */
size_t workers_depth(struct workers *w);
/* How long a hash job submitted now would wait before it runs, in ms, as
   the hash jobs queued ahead of it times the time one takes (a moving
   average of those that ran), over the threads; 0 before any ran. */
uint64_t workers_hash_wait_ms(struct workers *w);
/* Lets queued jobs finish, joins the threads, runs pending `done`s; sets *w = NULL. */
void workers_free(struct workers **w);

#endif
