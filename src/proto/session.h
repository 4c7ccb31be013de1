/* SPDX-License-Identifier: MIT */
/*
 * session.h - the session core shared by POP3, SMTP and IMAP: one callback
 * frame per session (no re-entry), one outstanding worker job at a time,
 * the connection's events, and the login glue (the brake, the record, a
 * SASL step as a job). Each protocol keeps its replies, states and
 * commands, and tells the core the rest through a small ops table.
 *
 * A protocol session holds a struct proto_session (`core`) as its first
 * member and is made by proto_session_new(), in an arena of its own that
 * lives as long as the session; the service keeps its sessions on a
 * struct proto_session_list. Every entry point (a connection event, a
 * timer, a job's return) runs inside the frame: proto_session_run() loops
 * ops->step until it asks to wait, then leaves. A `closed` event inside a
 * frame only marks the session dead; it is freed (ops->free, which ends in
 * proto_session_free) once it has left its frame and its job has come
 * back. The SASL exchange (AUTH, AUTHENTICATE) is driven here too; the
 * protocol gives its answers (struct proto_sasl_ops).
 *
 * Jobs: a protocol job embeds a struct proto_job first and is made by
 * proto_job_new(). proto_job_submit() gives it to the pool; a refusal is
 * answered by ops->busy (the protocol's "busy" reply, which ends the
 * command). When the worker is done, ops->job_finish runs on the loop
 * thread (unless the session died), the job is freed (its shared fields
 * here, the protocol's through ops->job_clear), and the session carries on
 * where its input loop stopped. A password check first waits out the login
 * brake (directory/penalty.h) on a loop timer (proto_job_submit_after);
 * meanwhile the session counts as busy and reads nothing, and a session
 * that ends drops the job unrun. Nothing here blocks.
 *
 * Memory: the session, the core inside it and the `ip` copy sit in the
 * session arena, freed whole by proto_session_free(). A job is malloc'd
 * and freed whole; its login, secret and SASL messages are wiped on free.
 */
#ifndef MAILROOM_PROTO_SESSION_H
#define MAILROOM_PROTO_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/workers.h"
#include "proto/sasl_job.h"

struct arena;
struct buf;
struct conn;
struct conn_events;
struct service_env;
struct timer;
struct proto_job;
struct proto_sasl_ops;

struct proto_session_ops {
	const char *name;	  /* "pop3", "smtp", "imap": in log lines */
	bool (*step)(void *sess); /* one step of work; false: wait for an event */
	void (*free)(void *sess); /* frees a dead session */
	/* the pool refused a job (already freed): the protocol's "busy" reply,
	   which ends the command */
	void (*busy)(void *sess);
	/* forgets a login under way (USER, a SASL exchange) */
	void (*reset_auth)(void *sess);
	/* runs the job's own finish callback (the session is alive) */
	void (*job_finish)(struct proto_job *job);
	/* frees what the protocol's part of a job holds; NULL: nothing */
	void (*job_clear)(struct proto_job *job);
	/* the TLS handshake is done: forget what was learnt before it;
	   NULL: reset_auth */
	void (*tls_ready)(void *sess);
	/* a timeout came and no job runs or waits: true if the session's own
	   work still moves (a delay, a long reply); may note its progress;
	   NULL: never */
	bool (*timeout_busy)(void *sess);
	/* the idle timeout (seconds) set again while our side is busy */
	unsigned (*idle_timeout)(void *sess);
	/* the client took too long (idle: between commands, else within
	   one): the last reply and the close (inside the frame) */
	void (*timeout)(void *sess, bool idle);
	/* the connection is gone (core->conn is NULL already): stop timers,
	   give the connection the session record's figures */
	void (*closed)(void *sess, struct conn *c);
	/* how the protocol answers a SASL exchange (below) */
	const struct proto_sasl_ops *sasl;
};

struct proto_session {
	void *sess;			   /* the protocol's session */
	struct proto_session *prev, *next; /* the service's list */
	const struct proto_session_ops *ops;
	const struct service_env *env;
	struct arena *arena;	     /* holds the session; freed with it */
	struct conn *conn;	     /* NULL once closed */
	const char *ip;		     /* the session arena's copy */
	const char *service;	     /* the port's name ("pop3s"), for records */
	void *job;		     /* the outstanding job, or NULL */
	struct {		     /* proto_job_submit_after: a job held back */
		struct timer *timer; /* NULL: nothing waits */
		struct proto_job *job;
		worker_fn *fn;
	} wait;
	struct proto_job *held;	 /* proto_job_hold: a job waiting on the loop */
	struct sasl_exchange sx; /* AUTH exchange in progress (proto/sasl_job.h) */
	uint64_t login_start_us; /* the login's time runs from here */
	bool in_run;		 /* inside one of the session's callbacks */
	bool dead;		 /* connection gone; free once idle */
	bool closing;		 /* conn_close() called; ignore further input */
	bool tls_starting;	 /* STARTTLS/STLS accepted; waiting for tls_ready */
	bool shutdown;		 /* server stopping: say so once idle, then close */
	uint8_t auth_fails;	 /* failed logins in this session */
	char sid[17];
};

/* The connection events of every session (context: &core), installed by
   proto_session_new(). */
extern const struct conn_events proto_session_events;

/* Runs the session's steps inside its frame; inside a frame already, does
   nothing (the outer frame's loop carries on). May free the session. */
void proto_session_run(struct proto_session *ps);
/* Enters the frame from a timer (panics inside one: our bug). */
void proto_session_enter(struct proto_session *ps);
/* Loops the steps, then leaves the frame (which may free the session). */
void proto_session_steps(struct proto_session *ps);
/* Leaves the frame; frees the session if it died meanwhile. */
void proto_session_leave(struct proto_session *ps);
/* A job runs on a worker or waits to be submitted: our side is busy. */
bool proto_session_busy(const struct proto_session *ps);
/* conn_close() once; no further input is read. */
void proto_session_close(struct proto_session *ps, const char *reason);
/* Queues output unless the connection is gone or closing; false: dropped. */
bool proto_session_write(struct proto_session *ps, const void *p, size_t n);
/* The state setter's trace, "sid=... pop3 state FROM -> TO" (debug). */
void proto_session_trace_state(const struct proto_session *ps, const char *from, const char *to);

/* --- the service's sessions ------------------------------------------------------ */

struct proto_session_list {
	struct proto_session *first;
	unsigned count;
	bool stopping; /* the server stops: new sessions say so and close */
};

/* A new session of `size` bytes (zeroed, its core first) for connection
   c, in an arena whose first block is arena_first bytes, on the list l.
   Its core is filled in (id, peer address, port name) and its events are
   installed; it starts inside its frame: the protocol greets, then calls
   proto_session_steps(). */
void *proto_session_new(size_t size, size_t arena_first, const struct proto_session_ops *ops,
			const struct service_env *env, struct conn *c,
			struct proto_session_list *l);
/* Takes the session off the list and frees its arena (the session too). */
void proto_session_free(struct proto_session *ps, struct proto_session_list *l);
/* The server stops: every session is marked (it says so once idle, then
   closes); stop(sess) ends what waits for the client and says whether the
   session runs now (false: later, when what it waits for is done); then
   it runs, and may end. */
void proto_session_list_shutdown(struct proto_session_list *l, bool (*stop)(void *sess));

/* --- the per-command record (Postfix success_count/total_count) ------------------- */

struct proto_cmd_stats {
	uint64_t total, ok;
};

struct proto_cmd_done {
	struct proto_cmd_stats *stats; /* the command's row; NULL: an unknown command */
	const char *name;	       /* NULL: "unknown" */
	const char *user;	       /* logged in, or NULL */
	bool ok;
	uint64_t start_us; /* log_now_usec() when the command arrived */
	uint64_t bytes;	   /* octets of the reply worth a field, or 0 */
	const char *reply; /* SMTP's reply code, or NULL */
	const char *args;  /* what the record shows of the arguments; "": none */
	const char *state;
	size_t extra_max; /* room for reply, args and state, with their quoting */
};

/* Counts the command and logs its record (LOG_EV_COMMAND, debug). */
void proto_cmd_record(const struct proto_session *ps, const struct proto_cmd_done *d);

/* --- jobs ---------------------------------------------------------------------- */

struct proto_job {
	struct proto_session *core;
	struct directory *dir; /* the server's, for the worker side */
	int result;	       /* enum auth_result / sasl_step / store_status */
	char *login, *secret;  /* secret is wiped on free */
	struct sasl_job sasl;  /* AUTH: one SASL step (proto/sasl_job.h) */
	struct auth_identity id;
	/* a command's own data, freed with ctx_free */
	void *ctx;
	void (*ctx_free)(void *ctx);
	/* set by the loop when the session ends while the job is with a pool:
	   a password check not yet begun is then skipped (no hashing for a
	   client that left: a burst of logins that timed out must not starve
	   the next ones) */
	atomic_bool gone;
};

/* A zeroed job of `size` bytes (a protocol job with a struct proto_job
   first), for the session of ps. */
void *proto_job_new(struct proto_session *ps, size_t size);
/* Frees a job that was never submitted. */
void proto_job_free(struct proto_job *job);
/* Gives the job to the pool (the quick lane); on refusal frees it, logs,
   and returns false without a reply. For a long reply already under way,
   where a "busy" line would be read as part of it. */
bool proto_job_try_submit(struct proto_job *job, worker_fn *fn);
/* The same, and a refusal is answered by ops->busy. */
bool proto_job_submit(struct proto_job *job, worker_fn *fn);
/* A password check: submitted to the hash lane after wait_ms on a loop
   timer (at once with 0); no input is read meanwhile; a session that ends
   while it waits drops the job unrun; a refusal at the end of the wait is
   answered by ops->busy and ends the login (ops->reset_auth). */
void proto_job_submit_after(struct proto_job *job, worker_fn *fn, uint64_t wait_ms);
/* A job that waits on the loop itself (for DNS answers, say) before it
   goes to a pool: the session is busy and reads no input meanwhile. The
   holder calls proto_job_release() when its wait is over, inside the
   session's frame (proto_session_enter() from a callback of its own), and
   then submits the job or finishes with it. A session that ends while a
   job is held frees the job unrun: ops->job_clear must then cancel what
   the job waits for. */
void proto_job_hold(struct proto_job *job);
void proto_job_release(struct proto_job *job);
/* A job for another pool than the session's (SMTP's content filters):
   false when that pool refuses it; the job is then freed and nothing is
   answered (the caller replies). */
bool proto_job_try_submit_to(struct proto_job *job, struct workers *pool, worker_fn *fn);
/* The pool's worker_done_fn for every session job (loop thread). */
void proto_job_done(void *job);
/* A refused submission the protocol retries itself (SMTP's group commit):
   records the job as outstanding, or gives it to the pool; -1: refused,
   and the session still waits for it. */
int proto_job_submit_held(struct proto_job *job, worker_fn *fn);

/* --- the login glue ------------------------------------------------------------- */

/* Worker side: the password check of job->login/secret into job->id
   (job->result: enum auth_result). */
void proto_job_work_password(void *thread_ctx, void *job);
/* Loop side: the login brake's wait before checking account's password. */
uint64_t proto_login_brake_ms(const struct proto_session *ps, const char *account);
/* The brake learns of a login that succeeded, or failed (user NULL or
   empty: unknown). */
void proto_login_succeeded(const struct proto_session *ps, const char *login);
void proto_login_failed(const struct proto_session *ps, const char *user);
/* The login record (LOG_EV_LOGIN): result ok|failed|refused|error. */
void proto_login_record(const struct proto_session *ps, const char *result, const char *mech,
			const char *user, const char *reason, const char *extra);

/* Whether mechanism m may be used: EXTERNAL with a verified client
   certificate, GSSAPI with a keytab, SCRAM with a backend that holds
   verifiers, a plaintext one where plaintext_ok. */
bool proto_sasl_mech_allowed(const struct proto_session *ps, enum sasl_mech m, bool plaintext_ok);
/* Appends "<pre>NAME<post>" for every allowed mechanism, in the order we
   prefer them. */
void proto_sasl_mech_list(const struct proto_session *ps, bool plaintext_ok, const char *pre,
			  const char *post, struct buf *b);

/* The exchange itself (proto/sasl_job.h sorts each step and line) is the
   same for POP3 AUTH, SMTP AUTH and IMAP AUTHENTICATE; what the protocol
   answers is its own. */
enum proto_sasl_end {
	PROTO_SASL_TEMPFAIL,   /* the check could not be made (recorded) */
	PROTO_SASL_MALFORMED,  /* a protocol violation, no password guess (recorded) */
	PROTO_SASL_CANCEL,     /* the client sent "*" */
	PROTO_SASL_BAD_FINAL,  /* something else where the empty line belonged */
	PROTO_SASL_BAD_BASE64, /* a response that is not base64 */
};

struct proto_sasl_ops {
	/* a new job whose finish callback calls proto_sasl_finish() */
	struct proto_job *(*job)(void *sess);
	/* send a challenge (the exchange waits for the client's answer) */
	void (*challenge)(void *sess, const struct buf *data);
	/* the exchange succeeded: id logs in; login is the name the client
	   gave (the exchange's, gone once it ends) */
	void (*login)(void *sess, const struct auth_identity *id, const char *mech,
		      const char *login);
	/* wrong credentials for authcid (the exchange's, as above) */
	void (*failed)(void *sess, const char *mech, const char *authcid);
	/* the exchange ends without a login: end it, answer, end the command */
	void (*end)(void *sess, enum proto_sasl_end why);
};

/* Begins the exchange of mechanism m; gssapi_service: "pop", "smtp",
   "imap". */
void proto_sasl_start(struct proto_session *ps, enum sasl_mech m, const char *gssapi_service);
/* Runs one step of the exchange on a worker (in == NULL: no client
   message, else taken over), after the brake's wait for a step that
   checks a password. */
void proto_sasl_submit(struct proto_session *ps, struct buf *in);
/* The finish callback of such a job: sorts the step's result and hands it
   to the protocol's answers. */
void proto_sasl_finish(struct proto_job *job);
/* A client line while the exchange waits for one. accept_equals: "=" also
   ends it after success data (what some POP3 clients send). */
void proto_sasl_line(struct proto_session *ps, struct slice line, bool accept_equals);

#endif
