/* SPDX-License-Identifier: MIT */
/*
 * smtp_private.h - what the files of smtp/ share. Nothing outside smtp/
 * includes it.
 *
 * A session lives from smtp_session_start() until its connection is closed
 * and no worker job is outstanding (the same rule as POP3 sessions). The
 * envelope of the current transaction is malloc'd and dropped at RSET,
 * after DATA, and at STARTTLS.
 */
#ifndef MAILROOM_SMTP_SMTP_PRIVATE_H
#define MAILROOM_SMTP_SMTP_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "directory/auth.h"
#include "net/workers.h"
#include "proto/sasl.h"
#include "smtp/smtp.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"
#include "store/store.h"
#include "util/buf.h"

struct conn;
struct config;

#define SMTP_OUTBUF_THROTTLE (64 * 1024)

enum smtp_state {
	SMTP_GREETED, /* before EHLO/HELO */
	SMTP_READY,   /* after EHLO/HELO, no transaction */
	SMTP_MAIL,    /* MAIL accepted */
	SMTP_RCPT,    /* at least one RCPT accepted */
	SMTP_DATA,    /* reading the message */
};

enum smtp_sasl_wait { SMTP_SASL_IDLE, SMTP_SASL_RESPONSE, SMTP_SASL_FINAL_EMPTY };

/* A message handed to the group committer. */
struct smtp_commit {
	struct store_submission sub;
	struct smtp_commit *next;
	bool taken, done;
};

struct smtp_service {
	struct server *srv;
	unsigned sessions;
	uint64_t qid_counter;
	struct smtp_session *first;
	bool stopping;
	/* group commit, shared with the worker threads */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct smtp_commit *pending, **pending_tail;
	uint64_t batches, batched; /* for logs: messages per fsync */
};

struct smtp_local {
	int64_t mailbox_id;
};

struct smtp_txn {
	char sender[SMTP_PATH_MAX + 1];
	bool null_sender;
	uint64_t declared_size;
	bool body_8bit, smtputf8;
	char *dsn_envid, *dsn_ret;
	int64_t *local; /* mailbox ids, no duplicates */
	size_t n_local;
	struct store_remote_rcpt *remote; /* strings malloc'd */
	size_t n_remote;
	size_t n_rcpts; /* accepted RCPT commands */
	char first_rcpt[SMTP_PATH_MAX + 1];
};

struct smtp_job;

struct smtp_session {
	struct smtp_service *svc;
	struct smtp_session *prev, *next;
	struct conn *conn;
	char sid[17];
	char ip[46];
	char helo[256];
	bool esmtp;
	enum smtp_state state;
	bool in_run, dead, closing, tls_starting, shutdown;
	uint8_t sasl_wait;
	unsigned errors, commands, auth_fails;

	struct sasl_server *sasl;
	struct auth_identity *auth;    /* logged in (submission) */
	struct auth_identity *pending; /* SASL success waiting for the empty line */

	struct smtp_txn *txn;
	/* BDAT (RFC 3030): a chunk being read, and whether DATA-less mode is on */
	uint64_t chunk_left;
	bool chunk_reading, chunk_last, chunk_discard, bdat_started;
	int chunk_error; /* reply code once a discarded chunk is read */
	struct smtp_data data;
	struct buf body;
	struct smtp_job *job;
	struct timer *brake;	 /* smtp_job_submit_after's wait */
	struct smtp_job *braked; /* the job that waits for it */
};

/* --- worker jobs -------------------------------------------------------- */
typedef void smtp_job_finish_fn(struct smtp_session *s, struct smtp_job *job);

struct smtp_job {
	struct smtp_session *sess;
	smtp_job_finish_fn *finish;
	int result;
	/* RCPT / MAIL lookups */
	char address[SMTP_PATH_MAX + 1];
	unsigned path_flags;
	bool is_postmaster;
	int64_t *ids;
	size_t n_ids;
	char **forward; /* alias targets elsewhere */
	size_t n_forward;
	enum domain_type dom_type;
	bool dom_hosted;
	bool quota_ok;
	char *notify, *orcpt;
	/* SASL */
	struct sasl_server *sasl;
	bool has_in;
	struct buf in, out;
	struct auth_identity id;
	/* DATA */
	struct smtp_commit commit;
	struct buf msg;
	char qid[24];
	worker_fn *worker; /* smtp_job_submit_after: what runs when the wait is over */
};

struct smtp_job *smtp_job_new(struct smtp_session *s, smtp_job_finish_fn *finish);
bool smtp_job_submit(struct smtp_session *s, struct smtp_job *job, worker_fn *fn);
/* The same after wait_ms on a loop timer (the login brake, directory/
   penalty.h): no input is read meanwhile; a session that ends while it
   waits drops the job unrun; a full queue at the end of the wait answers
   as smtp_job_submit does and resets the AUTH state. */
void smtp_job_submit_after(struct smtp_session *s, struct smtp_job *job, worker_fn *fn,
			   uint64_t wait_ms);

/* --- session (smtp_session.c) ------------------------------------------ */
const struct config *smtp_config(const struct smtp_session *s);
void smtp_reply(struct smtp_session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void smtp_write(struct smtp_session *s, const void *p, size_t n);
void smtp_session_close(struct smtp_session *s, const char *reason);
/* Counts a client error; closes with 421 past the limit. */
void smtp_session_error(struct smtp_session *s);
void smtp_txn_reset(struct smtp_session *s);
void smtp_reset_auth(struct smtp_session *s);
bool smtp_role_submission(const struct smtp_session *s);

/* --- commands (smtp_cmds.c) --------------------------------------------- */
void smtp_cmd_dispatch(struct smtp_session *s, struct slice line);
void smtp_auth_line(struct smtp_session *s, struct slice line);
/* The DATA content ended: check and hand it to the committer. */
void smtp_data_end(struct smtp_session *s);
/* A BDAT chunk has been read completely. */
void smtp_chunk_end(struct smtp_session *s);

/* --- group commit (smtp_commit.c) ---------------------------------------- */
/* Worker side: stores the job's message, batched with every other message
   pending at that moment (one transaction, one fsync). */
void smtp_commit_work(void *thread_ctx, void *job);
/* Loop side: queues the job's message for the next batch and submits the
   job; its finish callback runs once the message is stored or failed. */
void smtp_commit_submit(struct smtp_session *s, struct smtp_job *job);
/* smtp_session.c: runs a finished job as if a worker had returned it. */
void smtp_job_complete(struct smtp_job *job);
void smtp_job_done(void *job); /* the worker_done_fn of every SMTP job */

#endif
