/* SPDX-License-Identifier: MIT */
/*
 * pop3_private.h - what the files of pop3/ share: the service, the session,
 * the command table's types, worker jobs and the reply helpers. Nothing
 * outside src/pop3/ (and its unit tests) includes this header.
 *
 * Lifetimes: the service lives as long as the server. A session lives from
 * pop3_session_start() until its connection is closed AND no worker job is
 * outstanding; it and everything it owns for that whole time sit in one
 * arena (struct pop3_session itself, the APOP timestamp, the message list).
 * Things that come and go during a session (the USER name, a SASL exchange,
 * a worker job, a multi-line reply in progress) are malloc'd and freed when
 * they end, so a long session never grows its arena.
 */
#ifndef MAILROOM_POP3_POP3_PRIVATE_H
#define MAILROOM_POP3_POP3_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "directory/directory.h"
#include "net/workers.h"
#include "pop3/pop3.h"
#include "pop3/pop3_parse.h"
#include "proto/sasl.h"
#include "proto/sasl_job.h"
#include "proto/session.h"
#include "util/buf.h"

struct arena;
struct config;
struct conn;
struct loop;
struct timer;
struct store_msg;

#define POP3_ARENA_FIRST 1536		 /* session + timestamp + a small mailbox */
#define POP3_OUTBUF_THROTTLE (64 * 1024) /* stop producing output above this */
#define POP3_CHUNK (32 * 1024)		 /* bytes written per step of a long reply */
#define POP3_READ_CHUNK (60 * 1024) /* RETR/TOP: body octets of a job at first (64 KiB stuffed) */
#define POP3_READ_MAX (960 * 1024)  /* ... and at most, for a client that keeps up */
#define POP3_PIECES_TOTAL (64 * 1024 * 1024) /* all sessions: octets of pieces above the first */
#define POP3_RETRY_MS 20		     /* RETR/TOP: wait when the worker queue is full */
/* RETR read-ahead (pop3_cmds.c): messages up to AHEAD_MSG_MAX octets, at most
   AHEAD_MSGS of them and AHEAD_BYTES in all per session, AHEAD_TOTAL for all
   the sessions of the service together */
#define POP3_AHEAD_MSG_MAX (16 * 1024)
#define POP3_AHEAD_MSGS 16
#define POP3_AHEAD_BYTES (64 * 1024)
#define POP3_AHEAD_TOTAL (32 * 1024 * 1024)
#define POP3_BAD_CMDS_MAX 20  /* unknown/invalid commands before we close */
#define POP3_AUTH_FAILS_MAX 3 /* failed logins per session before we close */
#define POP3_LOG_ARGS_MAX 40  /* RFC 1939 §3: arguments are <= 40 chars */

/* --- states (the diagram is at the top of pop3_session.c) --------------- */
enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
	POP3_STATE_LOGOUT,
	POP3_STATE_COUNT
};
#define POP3_IN(st) (1u << (st))
#define POP3_IN_AUTH POP3_IN(POP3_STATE_AUTHORIZATION)
#define POP3_IN_TRANS POP3_IN(POP3_STATE_TRANSACTION)

/* --- the command table ---------------------------------------------------- */
enum pop3_cmd_flags {
	POP3_CMD_SECRET = 1 << 0,    /* arguments never logged */
	POP3_CMD_PLAINTEXT = 1 << 1, /* sends a password: refused before TLS unless allowed */
	POP3_CMD_LONG = 1 << 2,	     /* line may exceed POP3_LINE_MAX (credentials) */
	POP3_CMD_RAW = 1 << 3,	     /* one argument that may hold spaces: use `rest` */
	POP3_CMD_BODY = 1 << 4,	     /* replies with a message: its octets go in the record */
};

enum pop3_cmd_result {
	POP3_CMD_DONE,	/* the handler replied; the command is finished */
	POP3_CMD_ASYNC, /* a job, timer or long reply finishes it later */
};

struct pop3_cmd_ctx;
typedef enum pop3_cmd_result pop3_cmd_fn(struct pop3_cmd_ctx *ctx);

struct pop3_cmd_def {
	const char *name;
	pop3_cmd_fn *handler;
	unsigned states; /* POP3_IN(...) mask */
	unsigned flags;	 /* enum pop3_cmd_flags */
	uint8_t min_args, max_args;
};

struct pop3_cmd_ctx {
	struct pop3_session *sess;
	const struct pop3_cmd_def *def;
	struct slice rest;		  /* raw argument text (RAW commands) */
	struct slice args[POP3_ARGS_MAX]; /* split arguments */
	size_t argc;
};

/* --- the service and the session ----------------------------------------- */
struct pop3_lockset {
	int64_t *slots; /* open addressing; 0 = empty (mailbox ids are > 0) */
	size_t cap, count;
};

struct pop3_service {
	const struct service_env *env;
	uint64_t timestamps; /* counter for unique APOP timestamps */
	struct pop3_lockset locks;
	struct proto_cmd_stats *stats;	    /* one per row of the command table */
	struct proto_session_list sessions; /* all live sessions, for shutdown */
	size_t ahead_bytes;		    /* read-ahead held or being read, all sessions */
	size_t piece_bytes;		    /* RETR pieces above POP3_READ_CHUNK, all sessions */
};

/* One message of the snapshot taken at login; 24 bytes. */
struct pop3_msg {
	int64_t id;
	uint64_t size;
	uint32_t uidl_off; /* into pop3_session.uidls */
	uint8_t uidl_len;
	bool deleted;
};

struct pop3_job;
struct pop3_cont;
struct pop3_body;

/* A message read ahead of its RETR: stuffed, with the final ".". */
struct pop3_ahead {
	int64_t msg_id;
	uint64_t size;	 /* in the snapshot; counted in the service's budget */
	uint64_t stored; /* in the store, once read */
	uint32_t msgno;
	bool ok; /* read and waiting for its RETR */
	struct buf out;
};

struct pop3_session {
	/* the shared core (proto/session.h): connection, id, callback frame,
	   outstanding job and a job waiting out the login brake, the SASL
	   exchange, the closing/STLS/shutdown flags */
	struct proto_session core;
	struct pop3_service *svc;
	const char *timestamp; /* APOP "<...@host>", arena; NULL if APOP is off */
	enum pop3_state state;

	bool locked; /* holds the mailbox lock in the service */
	uint8_t bad_cmds;

	char *user;	     /* USER argument until PASS; malloc'd */
	struct timer *delay; /* pop3_session_delay (RETR/TOP back-pressure) */
	void (*delay_fn)(struct pop3_session *s);
	struct pop3_cont *cont; /* multi-line reply in progress */
	uint64_t progress;	/* bytes produced, for the idle check */
	uint64_t progress_at_timeout;

	/* the command being run, for the per-command log record */
	const struct pop3_cmd_def *cmd;
	uint64_t cmd_start_us; /* log_now_usec() when it arrived */
	uint64_t cmd_progress; /* `progress` when it arrived */
	bool cmd_active, reply_ok;
	char cmd_args[POP3_LOG_ARGS_MAX + 1]; /* "" for SECRET commands */
	unsigned commands;

	/* TRANSACTION */
	int64_t mailbox_id;
	const char *address; /* arena */
	const char *mech;    /* how the user logged in (static string) */
	struct pop3_msg *msgs;
	char *uidls;
	uint32_t n_msgs, n_deleted;
	uint64_t total_size, deleted_size;
	uint32_t retrieved, expunged;
	uint64_t bytes_out;
	uint32_t last_retr;	  /* number of the last message RETR sent, 0 if none */
	struct pop3_ahead *ahead; /* read-ahead, malloc'd; n_ahead entries */
	uint32_t n_ahead;
};

/* --- worker jobs (pop3_session.c; proto/session.h does the rest) ---------- */
typedef void pop3_job_finish_fn(struct pop3_session *s, struct pop3_job *job);

struct pop3_job {
	struct proto_job core; /* login, secret, SASL step, identity, result */
	struct pop3_session *sess;
	pop3_job_finish_fn *finish; /* runs on the loop thread unless the session died */
	const char *timestamp;	    /* APOP, borrowed from the session arena */
	struct buf out;		    /* a stuffed body */
	int64_t mailbox_id, msg_id;
	struct store_msg *msgs;
	size_t n_msgs;
	int64_t *ids;
	size_t n_ids;
	uint32_t msgno;
	struct pop3_body *body;	  /* RETR/TOP: the reply's state, borrowed (pop3_cmds.c) */
	struct pop3_ahead *ahead; /* RETR: the messages to read after it */
	uint32_t n_ahead;
	const char *mech;
};

/* A job for s; submit it with proto_job_submit (a refusal replies -ERR
   [SYS/TEMP] and finishes the command), proto_job_try_submit or
   proto_job_submit_after (the login brake). */
struct pop3_job *pop3_job_new(struct pop3_session *s, pop3_job_finish_fn *finish);

/* --- session helpers (pop3_session.c) ------------------------------------ */
void pop3_session_set_state(struct pop3_session *s, enum pop3_state to);
const char *pop3_state_name(enum pop3_state st);
/* "+OK text" / "-ERR text" with CRLF; records the outcome of the command. */
void pop3_reply(struct pop3_session *s, bool ok, const char *fmt, ...) ATTR_FORMAT(3, 4);
/* Raw output (multi-line bodies, "+ " challenges). */
void pop3_write(struct pop3_session *s, const void *p, size_t n);
/* Store status -> -ERR [SYS/TEMP] / [SYS/PERM] (the one place, STYLE §6). */
void pop3_reply_store_error(struct pop3_session *s, int status, const char *what);
void pop3_session_close(struct pop3_session *s, const char *reason);
/* Runs fn after ms milliseconds on a loop timer (at once if ms == 0); no
   input is processed meanwhile. */
void pop3_session_delay(struct pop3_session *s, uint64_t ms, void (*fn)(struct pop3_session *s));
struct loop *pop3_loop(const struct pop3_session *s);
/* Bytes held by the session's arena (the idle-memory test). */
size_t pop3_session_footprint(const struct pop3_session *s);
/* Starts the per-command record; the dispatcher calls it. */
void pop3_cmd_begin(struct pop3_session *s, const struct pop3_cmd_def *def, struct slice args);
/* Ends the command: logs one record (LOG_EV_COMMAND, debug) and counts it. */
void pop3_cmd_finish(struct pop3_session *s);
/* Frees what the session or a job read ahead and returns it to the
   service's budget (pop3_cmds.c). */
void pop3_ahead_free(struct pop3_service *svc, struct pop3_ahead **a, uint32_t *n);
/* Counts an invalid command; closes the session past POP3_BAD_CMDS_MAX. */
void pop3_session_bad_command(struct pop3_session *s);
/* Multi-line replies: a LIST/UIDL listing, or a reply produced in steps
   (RETR/TOP). `step` runs whenever the output is empty and no job, delay
   or handshake is pending (so never while its own job runs); it writes
   output or starts a job and returns true once the reply is complete,
   which ends the command. `free_fn(ctx)` runs when the reply
   ends, completed or cut short by the session's end. */
typedef bool pop3_cont_step_fn(struct pop3_session *s, void *ctx);
void pop3_cont_list(struct pop3_session *s, bool uidl);
void pop3_cont_steps(struct pop3_session *s, pop3_cont_step_fn *step, void (*free_fn)(void *),
		     void *ctx);
/* Forget USER, SASL state (after STLS, RFC 2595 §4). */
void pop3_session_reset_auth(struct pop3_session *s);

/* --- service (pop3_service.c) --------------------------------------------- */
bool pop3_lock_mailbox(struct pop3_service *svc, int64_t mailbox_id);
void pop3_unlock_mailbox(struct pop3_service *svc, int64_t mailbox_id);
const struct config *pop3_cfg(const struct pop3_session *s);

/* --- commands (pop3_cmds.c) ------------------------------------------------ */
extern const struct pop3_cmd_def pop3_cmd_table[];
extern const size_t pop3_cmd_count;
void pop3_cmd_dispatch(struct pop3_session *s, struct slice line, size_t octets);
/* Parses a message number argument; replies and returns NULL if it is
   invalid, out of range or deleted. */
struct pop3_msg *pop3_cmd_msg_arg(struct pop3_session *s, struct slice arg, uint32_t *msgno_r);

/* --- authentication (pop3_auth.c) ------------------------------------------ */
pop3_cmd_fn pop3_cmd_user, pop3_cmd_pass, pop3_cmd_apop, pop3_cmd_auth, pop3_cmd_stls;
bool pop3_auth_plaintext_allowed(const struct pop3_session *s);
bool pop3_auth_mech_allowed(const struct pop3_session *s, enum sasl_mech m);
/* A line received while a SASL exchange waits for the client. */
void pop3_auth_sasl_line(struct pop3_session *s, struct slice line);
/* The answers to an AUTH exchange (proto/session.h). */
extern const struct proto_sasl_ops pop3_sasl_ops;

#endif
