/* SPDX-License-Identifier: MIT */
/*
 * job.h - the session side of worker jobs, shared by every protocol: one
 * callback frame per session (no re-entry), one outstanding job at a time,
 * and the rule that a session whose connection went away is freed only once
 * it has left its frame and its job has come back.
 *
 * A session embeds a struct proto_frame and fills in `sess`, `step` and
 * `free`. Every entry point (a connection event, a timer, a job's return)
 * runs inside the frame: proto_frame_run() loops `step` until it asks to
 * wait, then leaves. A worker job is submitted with proto_frame_submit();
 * the protocol's worker_done_fn hands it to proto_frame_job_done(), which
 * runs the protocol's finish callback (unless the session died), then
 * carries on where the input loop stopped. Nothing here blocks.
 */
#ifndef MAILROOM_PROTO_JOB_H
#define MAILROOM_PROTO_JOB_H

#include <stdbool.h>

#include "net/workers.h"

struct proto_frame {
	void *sess;		  /* the protocol's session */
	bool (*step)(void *sess); /* one step of work; false: wait for an event */
	void (*free)(void *sess); /* frees a dead session */
	bool in_run;		  /* inside one of the session's callbacks */
	bool dead;		  /* connection gone; free once idle */
	void *job;		  /* the outstanding job, or NULL */
};

/* Runs the session's steps inside its frame; inside a frame already, does
   nothing (the outer frame's loop carries on). May free the session. */
void proto_frame_run(struct proto_frame *f);
/* Leaves the frame; frees the session if it died meanwhile. */
void proto_frame_leave(struct proto_frame *f);
/* Records `job` as outstanding and gives it to the pool; on refusal (pool
   full or stopping) clears it again and returns -1: the caller then frees
   the job and replies. */
int proto_frame_submit(struct proto_frame *f, struct workers *w, worker_fn *fn,
		       worker_done_fn *done, void *job);
/* For the protocol's worker_done_fn: the job is back. Runs finish(job)
   unless the session died, then job_free(job), then resumes the session. */
void proto_frame_job_done(struct proto_frame *f, void *job, void (*finish)(void *job),
			  void (*job_free)(void *job));

#endif
