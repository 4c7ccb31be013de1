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
 * carries on where the input loop stopped. A job may first wait out a delay
 * on a loop timer (proto_frame_submit_after: the login brake, directory/
 * penalty.h); meanwhile the frame counts as busy, and a session that ends
 * drops the job unrun (proto_frame_cancel_wait). Nothing here blocks.
 */
#ifndef MAILROOM_PROTO_JOB_H
#define MAILROOM_PROTO_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "net/workers.h"

struct loop;
struct timer;

/* The protocol's submit: gives `job` to the pool, answering and cleaning up
   itself when the pool refuses. */
typedef void proto_submit_fn(void *sess, void *job, worker_fn *fn);

struct proto_frame {
	void *sess;		  /* the protocol's session */
	bool (*step)(void *sess); /* one step of work; false: wait for an event */
	void (*free)(void *sess); /* frees a dead session */
	bool in_run;		  /* inside one of the session's callbacks */
	bool dead;		  /* connection gone; free once idle */
	void *job;		  /* the outstanding job, or NULL */
	struct {		  /* proto_frame_submit_after: a job held back */
		struct loop *loop;
		struct timer *timer; /* NULL: nothing waits */
		void *job;
		worker_fn *fn;
		proto_submit_fn *submit;
		void (*job_free)(void *job);
	} wait;
};

/* Runs the session's steps inside its frame; inside a frame already, does
   nothing (the outer frame's loop carries on). May free the session. */
void proto_frame_run(struct proto_frame *f);
/* Leaves the frame; frees the session if it died meanwhile. */
void proto_frame_leave(struct proto_frame *f);
/* Records `job` as outstanding and gives it to the pool; on refusal (pool
   full or stopping) clears it again and returns -1: the caller then frees
   the job and replies. */
int proto_frame_submit(struct proto_frame *f, struct workers *w, enum worker_lane lane,
		       worker_fn *fn, worker_done_fn *done, void *job);
/* Calls submit(sess, job, fn) after wait_ms on a loop timer, inside the
   frame, then runs the session's steps; with wait_ms 0 at once. Until then
   the frame is busy (proto_frame_busy) and the session reads no input.
   One job at a time: nothing else is outstanding when this is called. */
void proto_frame_submit_after(struct proto_frame *f, struct loop *l, uint64_t wait_ms, void *job,
			      worker_fn *fn, proto_submit_fn *submit, void (*job_free)(void *job));
/* The session ends: a job still waiting is dropped unrun (job_free). */
void proto_frame_cancel_wait(struct proto_frame *f);
/* A job runs on a worker or waits to be submitted: our side is busy. */
bool proto_frame_busy(const struct proto_frame *f);
/* For the protocol's worker_done_fn: the job is back. Runs finish(job)
   unless the session died, then job_free(job), then resumes the session. */
void proto_frame_job_done(struct proto_frame *f, void *job, void (*finish)(void *job),
			  void (*job_free)(void *job));

#endif
