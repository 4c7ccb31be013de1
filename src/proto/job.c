/* SPDX-License-Identifier: MIT */
/*
 * job.c - the shared session frame and job plumbing (see job.h).
 */
#include "proto/job.h"

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

int proto_frame_submit(struct proto_frame *f, struct workers *w, worker_fn *fn,
		       worker_done_fn *done, void *job)
{
	f->job = job;
	if (workers_submit(w, fn, done, job) == 0)
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
