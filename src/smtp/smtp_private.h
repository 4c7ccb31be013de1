/* SPDX-License-Identifier: MIT */
/*
 * smtp_private.h - what the files of smtp/ share: the service, the session,
 * the transaction, the command table's types, worker jobs and the reply
 * helpers. Nothing outside smtp/ (and its unit tests and fuzz targets)
 * includes it.
 *
 * Lifetimes (the same rule as POP3 sessions): a session lives from
 * smtp_session_start() until its connection is closed AND no worker job is
 * outstanding; it and what it keeps for that whole time (ip, HELO name) sit
 * in the session arena. A transaction (struct smtp_tx) lives from MAIL to the
 * answer after DATA/BDAT LAST, or to RSET, HELO/EHLO or STARTTLS; it and all
 * of its envelope sit in its own child arena, freed whole by smtp_tx_free().
 * The message body is a buf owned by the transaction (it can be large).
 */
#ifndef MAILROOM_SMTP_SMTP_PRIVATE_H
#define MAILROOM_SMTP_SMTP_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "delivery/delivery.h"
#include "directory/directory.h"
#include "net/workers.h"
#include "proto/sasl.h"
#include "proto/sasl_job.h"
#include "proto/session.h"
#include "queue/dsn.h"
#include "smtp/smtp.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_policy.h"
#include "store/store.h"
#include "util/buf.h"

struct arena;
struct conn;
struct config;
struct timer;

#define SMTP_OUTBUF_THROTTLE (64 * 1024)
#define SMTP_ARENA_FIRST 768	 /* session (632 bytes) + ip */
#define SMTP_TX_ARENA_FIRST 1024 /* envelope of a few recipients */
#define SMTP_AUTH_FAILS_MAX 3
#define SMTP_LOG_ARGS_MAX 60

/* --- states (the diagram is at the top of smtp_session.c) ----------------- */
enum smtp_state {
	SMTP_GREETED, /* before EHLO/HELO */
	SMTP_READY,   /* after EHLO/HELO, no transaction */
	SMTP_MAIL,    /* MAIL accepted */
	SMTP_RCPT,    /* at least one RCPT accepted */
	SMTP_DATA,    /* reading the message */
	SMTP_STATE_COUNT
};
#define SMTP_IN(st) (1u << (st))
#define SMTP_IN_ANY                                                                                \
	(SMTP_IN(SMTP_GREETED) | SMTP_IN(SMTP_READY) | SMTP_IN(SMTP_MAIL) | SMTP_IN(SMTP_RCPT))
#define SMTP_IN_HELLO (SMTP_IN(SMTP_READY) | SMTP_IN(SMTP_MAIL) | SMTP_IN(SMTP_RCPT))

/* --- the command table ---------------------------------------------------- */
enum smtp_cmd_flags {
	SMTP_CMD_PRE_TLS = 1 << 0,	 /* allowed before TLS; else 538 on a plain conn */
	SMTP_CMD_PRE_AUTH = 1 << 1,	 /* allowed before login on submission roles; else 530 */
	SMTP_CMD_PIPELINE_LAST = 1 << 2, /* RFC 2920 §3.1: must end a pipelined group */
	SMTP_CMD_LIMIT = 1 << 3,	 /* counts toward [smtp] max_commands */
	SMTP_CMD_SECRET = 1 << 4,	 /* arguments never logged */
	SMTP_CMD_SUBMISSION = 1 << 5,	 /* only on submission roles; else 503 */
};

enum smtp_arg_rule {
	SMTP_ARG_ANY,	   /* the handler reads what it needs */
	SMTP_ARG_NONE,	   /* nothing may follow the verb: 501 */
	SMTP_ARG_REQUIRED, /* something must follow the verb: 501 */
};

enum smtp_cmd_result {
	SMTP_CMD_OK,	/* replied; the command is finished */
	SMTP_CMD_ERROR, /* replied with an error that counts toward [smtp] max_errors */
	SMTP_CMD_ASYNC, /* a job or the DATA/BDAT reader finishes it later */
};

struct smtp_session;
struct smtp_cmd_def;

struct smtp_cmd_ctx {
	struct smtp_session *sess;
	const struct smtp_cmd_def *def;
	struct slice verb, rest; /* rest: after the first space */
};

typedef enum smtp_cmd_result smtp_cmd_fn(struct smtp_cmd_ctx *ctx);

struct smtp_cmd_def {
	const char *name;
	smtp_cmd_fn *handler;
	unsigned states;   /* SMTP_IN(...) mask */
	unsigned flags;	   /* enum smtp_cmd_flags */
	uint8_t args;	   /* enum smtp_arg_rule */
	const char *usage; /* "Syntax: ..." text of the 501 for a bad argument */
};

/* --- the service ----------------------------------------------------------- */
/* A message handed to the group committer. */
struct smtp_commit {
	struct store_submission sub;
	struct smtp_commit *next;
	bool taken, done; /* guarded by the service's mutex */
	/* queued: made from the plan (delivery_build, on the worker) and
	   appended to the pending list */
	bool queued;
};

struct smtp_service {
	const struct service_env *env;
	uint64_t qid_counter;
	struct proto_session_list sessions;
	struct proto_cmd_stats *stats; /* one per row of the command table */
	/* group commit, shared with the worker threads */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a batch finished (worker threads only) */
	struct smtp_commit *pending, **pending_tail;
	uint64_t batches, batched; /* for logs: messages per fsync */
};

/* --- the transaction (smtp_tx.c) ------------------------------------------- */
/* An accepted RCPT as the client gave it: what the content filters hear,
   and what the plan is made again from when one of them changes the
   envelope (smtp_filter.c). */
struct smtp_tx_rcpt {
	const char *address;
	const char *notify, *orcpt; /* RFC 3461 values, or NULL */
	unsigned path_flags;	    /* SMTP_PATH_* */
	struct smtp_tx_rcpt *next;
};

struct smtp_tx {
	struct arena *arena; /* holds this struct and every string below */
	char sender[SMTP_PATH_MAX + 1];
	bool null_sender;
	uint64_t declared_size; /* MAIL SIZE= */
	bool body_8bit, smtputf8;
	const char *dsn_envid, *dsn_ret; /* tx arena, or NULL */
	/* the recipients, resolved and expanded (delivery.h); a job that runs
	   for this session is the only one to touch it meanwhile */
	struct delivery_plan *plan;
	size_t n_rcpts; /* accepted RCPT commands */
	const char *first_rcpt;
	struct smtp_tx_rcpt *rcpts, **rcpts_tail; /* in the order accepted */
	struct buf body;			  /* DATA/BDAT content */
	bool bdat_started;
};

/* --- the session ----------------------------------------------------------- */
struct smtp_job;

struct smtp_session {
	/* the shared core (proto/session.h): connection, id, callback frame,
	   outstanding job and brake wait, the AUTH exchange, the closing/
	   STARTTLS/shutdown flags */
	struct proto_session core;
	struct smtp_service *svc;
	char helo[256];
	bool esmtp;
	enum smtp_state state;
	unsigned errors, commands;

	struct auth_identity *auth; /* logged in (submission) */

	struct smtp_tx *tx;
	/* BDAT (RFC 3030): a chunk being read */
	uint64_t chunk_left;
	bool chunk_reading, chunk_last, chunk_discard;
	int chunk_error; /* reply code once a discarded chunk is read */
	struct smtp_data data;
	struct timer *retry; /* commit waiting for a worker (back-pressure) */

	/* the command being run, for the per-command log record */
	const struct smtp_cmd_def *cmd;
	uint64_t cmd_start_us; /* log_now_usec() when it arrived */
	uint64_t data_end_us;  /* the message's end (final "." or BDAT LAST) */
	bool cmd_active;
	int reply_code;
	char cmd_args[SMTP_LOG_ARGS_MAX + 1];	/* "" for SECRET commands */
	bool submission;			/* arrived on submission or submissions */
	uint64_t cmds_done, messages, bytes_in; /* for the session record */
};

/* --- worker jobs (smtp_session.c; proto/session.h does the rest) ---------- */
typedef void smtp_job_finish_fn(struct smtp_session *s, struct smtp_job *job);

struct smtp_job {
	struct proto_job core; /* AUTH: the SASL step; result */
	struct smtp_session *sess;
	smtp_job_finish_fn *finish;
	int status; /* the store's status behind a failed lookup */
	/* RCPT / MAIL lookups */
	struct delivery *delivery;  /* the server's */
	struct delivery_plan *plan; /* the transaction's (MAIL, RCPT), or the message's (DATA) */
	struct delivery_result dres;
	char address[SMTP_PATH_MAX + 1];
	unsigned path_flags;
	char *notify, *orcpt; /* RCPT NOTIFY=/ORCPT= values, or NULL */
	int64_t *ids;	      /* MAIL: the sender address's mailboxes */
	size_t n_ids;
	bool authenticated;
	bool check_owner; /* MAIL: [smtp] sender_login_match applies */
	uint64_t size;	  /* declared in MAIL */
	/* DATA */
	struct smtp_commit commit;
	struct buf msg;
	char qid[24];
	struct delivery_message dmsg;
	struct delivery_out out;       /* the submission and its side effects */
	struct smtp_filter_work *filt; /* the content filters' (smtp_filter.c) */
	struct smtp_checks *chk;       /* the sender checks' (smtp_checks.c) */
	/* the sender checks' verdict that the message goes to the quarantine
	   (DMARC), the reason; "" if none: the content filters still run */
	char quarantine[200];
};

/* A job for s; submit it with proto_job_submit (a refusal replies 451 and
   finishes the command) or proto_job_submit_after (the login brake). The
   command ends with the job's answer, unless an AUTH exchange goes on. */
struct smtp_job *smtp_job_new(struct smtp_session *s, smtp_job_finish_fn *finish);
/* The session's ops, for tests that drive a session without a connection. */
extern const struct proto_session_ops smtp_session_ops;

/* --- session (smtp_session.c) ---------------------------------------------- */
const struct config *smtp_cfg(const struct smtp_session *s);
struct loop *smtp_loop(const struct smtp_session *s);
/* The one state setter: every transition is traced "from -> to". */
void smtp_enter_state(struct smtp_session *s, enum smtp_state to);
const char *smtp_state_name(enum smtp_state st);
/* "code text" with CRLF; records the reply for the command's log record. */
void smtp_reply(struct smtp_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A store status at `what` -> 451 4.3.0 (temporary) or 554 5.3.0 (permanent):
   the one place where store errors become replies (STYLE §6). */
void smtp_reply_store_error(struct smtp_session *s, int status, const char *what);
void smtp_write(struct smtp_session *s, const void *p, size_t n);
void smtp_session_close(struct smtp_session *s, const char *reason);
/* Counts a client error; closes with 421 past [smtp] max_errors. */
void smtp_session_error(struct smtp_session *s);
void smtp_reset_auth(struct smtp_session *s);
bool smtp_role_submission(const struct smtp_session *s);
/* Per-command record: the dispatcher begins it, the reply of the command (or
   its job) finishes it. */
void smtp_cmd_begin(struct smtp_session *s, const struct smtp_cmd_def *def, struct slice args);
void smtp_cmd_finish(struct smtp_session *s);

/* --- commands (smtp_cmds.c) ------------------------------------------------- */
extern const struct smtp_cmd_def smtp_cmd_table[];
extern const size_t smtp_cmd_count;
void smtp_cmd_dispatch(struct smtp_session *s, struct slice line);

/* --- the transaction (smtp_tx.c) -------------------------------------------- */
struct smtp_tx *smtp_tx_new(void);
void smtp_tx_free(struct smtp_tx **tx);
/* Drops the transaction of s and goes back to READY (RSET, after DATA). */
void smtp_tx_reset(struct smtp_session *s);
smtp_cmd_fn smtp_cmd_mail, smtp_cmd_rcpt, smtp_cmd_data, smtp_cmd_bdat;
/* One recipient, for smtp_rcpt_resolve(). */
struct smtp_rcpt_in {
	const char *address;
	const char *notify, *orcpt; /* or NULL */
	unsigned path_flags;	    /* SMTP_PATH_* */
	bool authenticated;	    /* may relay */
};
/* Worker side: where the recipient may go (enum smtp_rcpt_verdict), a
   local one resolved and added to plan (dres says how), a remote one added
   as it is; *status_r is the store's status behind SMTP_RCPT_TEMP. */
int smtp_rcpt_resolve(struct store *st, struct delivery *dl, struct delivery_plan *plan,
		      const struct smtp_rcpt_in *in, struct delivery_result *dres, int *status_r);
/* The DATA content ended (DATA terminator or BDAT LAST): check it and hand
   it to the committer. Every end-of-message check lives here. */
void smtp_data_end(struct smtp_session *s);
/* The finished message (job->msg, job->dmsg) to the group committer; the
   answer follows its commit. */
void smtp_data_commit(struct smtp_session *s, struct smtp_job *job);
/* The message's record with the reply just given: `reason` its meaning. */
void smtp_data_logged(struct smtp_session *s, const char *qid, size_t size, const char *reason);
/* A BDAT chunk has been read completely. */
void smtp_chunk_end(struct smtp_session *s);

/* --- authentication (smtp_auth.c) -------------------------------------------- */
smtp_cmd_fn smtp_cmd_auth;
/* The answers to an AUTH exchange (proto/session.h). */
extern const struct proto_sasl_ops smtp_sasl_ops;
/* Whether mechanism m may be used on this session, and the EHLO keyword's
   list of them ("SCRAM-SHA-256 PLAIN LOGIN"), appended to b. */
bool smtp_auth_mech_offered(const struct smtp_session *s, enum sasl_mech m);
void smtp_auth_mech_list(const struct smtp_session *s, struct buf *b);

/* --- content filters (smtp_filter.c) ------------------------------------------- */
struct smtp_filter_work;
/* Whether [filter] names a milter or clamd (and the server has the
   filters' threads). */
bool smtp_filter_wanted(const struct smtp_session *s);
/* Loop side: runs the filters on the job's message; then the message is
   refused, dropped or committed (smtp_data_commit) as they say. */
void smtp_filter_submit(struct smtp_session *s, struct smtp_job *job);
void smtp_filter_work_free(struct smtp_filter_work **w);
/* A job that carries from's message (and its filter work) on to the next
   step of the chain after DATA. */
struct smtp_job *smtp_job_carry(struct smtp_session *s, struct smtp_job *from);

/* --- sender checks (smtp_checks.c) --------------------------------------------- */
struct smtp_checks;
/* Whether SPF/DKIM/DMARC run on this message: mail from outside (no
   login, not on submission) with a check on and a resolver. */
bool smtp_checks_wanted(const struct smtp_session *s);
/* Loop side: the checks, then the content filters or the commit. */
void smtp_checks_submit(struct smtp_session *s, struct smtp_job *job);
void smtp_checks_free(struct smtp_checks **c);
/* After the checks (or without them): the content filters, else the
   commit. */
void smtp_data_filter_or_commit(struct smtp_session *s, struct smtp_job *job);

/* --- group commit (smtp_commit.c) ---------------------------------------------- */
/* Worker side: stores the job's message, batched with every other message
   pending at that moment (one transaction, one fsync). */
void smtp_commit_work(void *thread_ctx, void *job);
/* Loop side: queues the job's message for the next batch and submits the
   job; its finish callback runs once the message is stored or failed. Never
   blocks: with the worker pool full, the session waits (reads nothing) and
   the submission is retried on the next loop turn. */
void smtp_commit_submit(struct smtp_session *s, struct smtp_job *job);

#endif
