/* SPDX-License-Identifier: MIT */
/*
 * smtp_commit.c - group commit of accepted messages, and the service object.
 *
 * A message whose DATA ended is appended to the service's pending list (loop
 * thread) and a worker job is submitted for it. The first worker to run
 * takes EVERY pending message and stores them in one store_submit() call:
 * one transaction, one WAL fsync. A worker whose message was taken by
 * another batch waits for that batch to finish; so each job returns only
 * once its own message is on stable storage (S1), and the session answers
 * 250 only then. Under load the batches grow by themselves: while one fsync
 * runs, the next messages gather.
 */
#include "server/server.h"
#include "smtp/smtp_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>

struct smtp_service *smtp_service_new(struct server *srv)
{
	struct smtp_service *svc = xcalloc(1, sizeof(*svc));

	svc->srv = srv;
	pthread_mutex_init(&svc->mu, NULL);
	pthread_cond_init(&svc->cv, NULL);
	svc->pending_tail = &svc->pending;
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
	pthread_mutex_destroy(&svc->mu);
	pthread_cond_destroy(&svc->cv);
	free(svc);
	*svcp = NULL;
}

unsigned smtp_service_sessions(const struct smtp_service *svc)
{
	return svc->sessions;
}

void smtp_commit_submit(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_service *svc = s->svc;
	struct smtp_commit *c = &job->commit;

	c->next = NULL;
	c->taken = c->done = false;
	pthread_mutex_lock(&svc->mu);
	*svc->pending_tail = c;
	svc->pending_tail = &c->next;
	pthread_mutex_unlock(&svc->mu);
	s->job = job;
	if (workers_submit(svc->srv->workers, smtp_commit_work, smtp_job_done, job) == 0)
		return;
	/* The pool refused the job (full or stopping). Another worker's batch
	   may have taken the message already: then wait for that batch (this is
	   the rare overload path); otherwise unlink it and fail it. */
	pthread_mutex_lock(&svc->mu);
	if (!c->taken) {
		struct smtp_commit **pp = &svc->pending;
		while (*pp != c)
			pp = &(*pp)->next;
		*pp = c->next;
		if (svc->pending_tail == &c->next)
			svc->pending_tail = pp;
		c->sub.status = STORE_TEMP;
		c->done = true;
	}
	while (!c->done)
		pthread_cond_wait(&svc->cv, &svc->mu);
	pthread_mutex_unlock(&svc->mu);
	log_warn("sid=%s smtp worker queue full", s->sid);
	smtp_job_complete(job);
}

#define SMTP_BATCH_MAX 256

void smtp_commit_work(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_service *svc = job->sess->svc;
	struct store *st = thread_ctx;

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
	while (!job->commit.done)
		pthread_cond_wait(&svc->cv, &svc->mu);
	pthread_mutex_unlock(&svc->mu);
}
