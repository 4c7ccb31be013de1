/* SPDX-License-Identifier: MIT */
/*
 * smtp_commit.c - group commit of accepted messages, their success reports,
 * and the service object.
 *
 * A message whose DATA ended is appended to the service's pending list (loop
 * thread) and a worker job is submitted for it. The first worker to run
 * takes EVERY pending message and stores them in one store_submit() call:
 * one transaction, one WAL fsync. A worker whose message was taken by
 * another batch waits for that batch to finish (on a worker thread, never
 * on the loop); so each job returns only once its own message is on stable
 * storage (S1), and the session answers 250 only then. Under load the
 * batches grow by themselves: while one fsync runs, the next messages
 * gather.
 *
 * Back-pressure: when the worker pool refuses the job (its queue is full),
 * the message stays pending (a running batch may take it), the session
 * counts the job as outstanding so it reads no further input, and the
 * submission is tried again SMTP_COMMIT_RETRY_MS later. The loop never
 * waits.
 *
 * Before a message joins a batch, its worker makes its submission from the
 * transaction's plan (delivery_build, delivery.h): the message and every
 * side effect it causes (list and forwarded copies, auto-replies, quota
 * warnings, success reports), all stored in the same transaction or not at
 * all (SPEC §3). That needs the store, so it runs on the worker too.
 */
#include "net/loop.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SMTP_BATCH_MAX 256
#define SMTP_COMMIT_RETRY_MS 5 /* pool full: try again this much later */

struct smtp_service *smtp_service_new(const struct service_env *env)
{
	struct smtp_service *svc = xcalloc(1, sizeof(*svc));

	svc->env = env;
	pthread_mutex_init(&svc->mu, NULL);
	pthread_cond_init(&svc->cv, NULL);
	svc->pending_tail = &svc->pending;
	svc->stats = xcalloc(smtp_cmd_count, sizeof(*svc->stats));
	return svc;
}

void smtp_service_free(struct smtp_service **svcp)
{
	struct smtp_service *svc = *svcp;

	if (svc == NULL)
		return;
	if (svc->batches > 0)
		log_info("smtp commits batches=%llu messages=%llu",
			 (unsigned long long)svc->batches, (unsigned long long)svc->batched);
	for (size_t i = 0; i < smtp_cmd_count; i++)
		if (svc->stats[i].total > 0)
			log_debug("smtp cmd=%s total=%llu ok=%llu", smtp_cmd_table[i].name,
				  (unsigned long long)svc->stats[i].total,
				  (unsigned long long)svc->stats[i].ok);
	free(svc->stats);
	pthread_mutex_destroy(&svc->mu);
	pthread_cond_destroy(&svc->cv);
	free(svc);
	*svcp = NULL;
}

unsigned smtp_service_sessions(const struct smtp_service *svc)
{
	return svc->sessions.count;
}

/* --- loop side ---------------------------------------------------------------- */

static void pending_append(struct smtp_service *svc, struct smtp_commit *c)
{
	*svc->pending_tail = c;
	svc->pending_tail = &c->next;
}

static void commit_try(struct smtp_session *s, struct smtp_job *job);

static void commit_retry(struct loop *l, void *ctx)
{
	struct smtp_job *job = ctx;
	struct smtp_session *s = job->sess;

	s->retry = NULL;
	commit_try(s, job);
}

static void commit_try(struct smtp_session *s, struct smtp_job *job)
{
	/* refused, the job stays outstanding: the session waits for it as for
	   a running job */
	if (proto_job_submit_held(&job->core, smtp_commit_work) == 0)
		return;
	/* the job's message may already be in a running batch: never fail it
	   here, and never wait for it here either */
	if (s->retry == NULL)
		log_debug("sid=%s smtp worker queue full, commit waits", s->core.sid);
	s->retry = loop_timer_add(smtp_loop(s), SMTP_COMMIT_RETRY_MS, commit_retry, job);
}

void smtp_commit_submit(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_commit *c = &job->commit;

	c->next = NULL;
	c->taken = c->done = c->queued = false;
	if (job->plan != NULL && delivery_plan_simple(job->plan)) {
		/* nothing to look up: made here, and pending at once, so that it
		   joins the batch that gathers while another one is being synced */
		delivery_build(job->delivery, NULL, job->plan, &job->dmsg, &job->out);
		c->sub = job->out.sub;
		job->plan = NULL;
	}
	if (job->plan == NULL) {
		pthread_mutex_lock(&s->svc->mu);
		pending_append(s->svc, c);
		c->queued = true;
		pthread_mutex_unlock(&s->svc->mu);
	}
	commit_try(s, job);
}

/* --- worker side ---------------------------------------------------------------- */

void smtp_commit_work(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_service *svc = job->sess->svc;
	struct store *st = thread_ctx;

	if (!job->commit.queued) { /* made here: its side effects need the store */
		delivery_build(job->delivery, st, job->plan, &job->dmsg, &job->out);
		job->commit.sub = job->out.sub;
		pthread_mutex_lock(&svc->mu);
		pending_append(svc, &job->commit);
		job->commit.queued = true;
		pthread_mutex_unlock(&svc->mu);
	}
	pthread_mutex_lock(&svc->mu);
	while (!job->commit.taken) {
		/* take the batch: everything pending, oldest first */
		struct smtp_commit *batch[SMTP_BATCH_MAX];
		size_t n = 0;
		while (svc->pending != NULL && n < SMTP_BATCH_MAX) {
			struct smtp_commit *c = svc->pending;
			svc->pending = c->next;
			c->taken = true;
			batch[n++] = c;
		}
		if (svc->pending == NULL)
			svc->pending_tail = &svc->pending;
		pthread_mutex_unlock(&svc->mu);

		struct store_submission *subs = xmalloc(n * sizeof(*subs));
		for (size_t i = 0; i < n; i++)
			subs[i] = batch[i]->sub;
		store_submit(st, subs, n);

		pthread_mutex_lock(&svc->mu);
		for (size_t i = 0; i < n; i++) {
			batch[i]->sub.status = subs[i].status;
			batch[i]->done = true;
		}
		svc->batches++;
		svc->batched += n;
		free(subs);
		pthread_cond_broadcast(&svc->cv);
	}
	while (!job->commit.done) /* another worker's batch has it */
		pthread_cond_wait(&svc->cv, &svc->mu);
	pthread_mutex_unlock(&svc->mu);
}
