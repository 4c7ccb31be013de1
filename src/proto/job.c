/* SPDX-License-Identifier: MIT */
/*
 * job.c - the shared session frame and job plumbing (see job.h).
 */
#include "proto/job.h"
#include "net/loop.h"
#include "util/log.h"

void proto_frame_leave(struct proto_frame *f)
{
	f->in_run = false;
	if (f->dead && f->job == NULL)
		f->free(f->sess);
}

void proto_frame_run(struct proto_frame *f)
{
	if (f->in_run)
		return;
	f->in_run = true;
	while (f->step(f->sess))
		;
	proto_frame_leave(f);
}

int proto_frame_submit(struct proto_frame *f, struct workers *w, enum worker_lane lane,
		       worker_fn *fn, worker_done_fn *done, void *job)
{
	f->job = job;
	if (workers_submit_lane(w, lane, fn, done, job) == 0)
		return 0;
	f->job = NULL;
	return -1;
}

void proto_frame_job_done(struct proto_frame *f, void *job, void (*finish)(void *job),
			  void (*job_free)(void *job))
{
	bool nested = f->in_run;

	f->job = NULL;
	f->in_run = true;
	if (!f->dead)
		finish(job);
	job_free(job);
	if (nested)
		return; /* the frame that was running carries on */
	while (f->step(f->sess))
		;
	proto_frame_leave(f);
}

bool proto_frame_busy(const struct proto_frame *f)
{
	return f->job != NULL || f->wait.timer != NULL;
}

static void wait_over(struct loop *l, void *ctx)
{
	struct proto_frame *f = ctx;
	void *job = f->wait.job;

	f->wait.timer = NULL;
	f->wait.job = NULL;
	if (f->in_run)
		log_panic("proto timer inside a callback frame");
	f->in_run = true;
	f->wait.submit(f->sess, job, f->wait.fn);
	while (f->step(f->sess))
		;
	proto_frame_leave(f);
}

void proto_frame_submit_after(struct proto_frame *f, struct loop *l, uint64_t wait_ms, void *job,
			      worker_fn *fn, proto_submit_fn *submit, void (*job_free)(void *job))
{
	if (wait_ms == 0) {
		submit(f->sess, job, fn);
		return;
	}
	f->wait.loop = l;
	f->wait.job = job;
	f->wait.fn = fn;
	f->wait.submit = submit;
	f->wait.job_free = job_free;
	f->wait.timer = loop_timer_add(l, wait_ms, wait_over, f);
}

void proto_frame_cancel_wait(struct proto_frame *f)
{
	if (f->wait.timer == NULL)
		return;
	loop_timer_del(f->wait.loop, &f->wait.timer);
	f->wait.job_free(f->wait.job);
	f->wait.job = NULL;
}
