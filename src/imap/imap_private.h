/* SPDX-License-Identifier: MIT */
/*
 * imap_private.h - what the files of imap/ share: the service, the session,
 * the command table's types, worker jobs, the selected folder's view and the
 * reply helpers. Nothing outside src/imap/ (and its tests) includes this.
 *
 * Lifetimes, as in pop3/: a session lives from imap_session_start() until
 * its connection is closed AND no worker job is outstanding. What it keeps
 * for its whole life sits in its arena (the struct itself, the peer's
 * address, the login); what comes and goes (a SASL exchange, a job, a long
 * reply, the selected folder's view) is malloc'd and freed when it ends, so
 * a session that lives for days (IDLE) never grows its arena.
 *
 * Threads: everything here runs on the loop thread except the worker side of
 * a job (its `work` function), which gets the thread's store handle and
 * touches nothing but the job.
 */
#ifndef MAILROOM_IMAP_IMAP_PRIVATE_H
#define MAILROOM_IMAP_IMAP_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "directory/directory.h"
#include "imap/imap.h"
#include "imap/imap_parse.h"
#include "net/workers.h"
#include "proto/sasl.h"
#include "proto/sasl_job.h"
#include "proto/session.h"
#include "util/mem.h"
#include "util/buf.h"

struct arena;
struct config;
struct conn;
struct loop;
struct timer;
struct store_imsg;

#define IMAP_ARENA_FIRST 2048		 /* the session, its parser, a login */
#define IMAP_OUTBUF_THROTTLE (64 * 1024) /* stop producing output above this */
#define IMAP_CHUNK (32 * 1024)		 /* octets written per step of a long reply */
#define IMAP_READ_CHUNK (60 * 1024)	 /* body octets per worker job */
#define IMAP_TAG_MAX 64			 /* longer tags are refused (BAD) */
#define IMAP_BAD_CMDS_MAX 20		 /* BAD replies in a row before we close */
#define IMAP_AUTH_FAILS_MAX 3		 /* failed logins per session before we close */
#define IMAP_LOG_ARGS_MAX 80		 /* command text kept for the record */
#define IMAP_SASL_LINE_MAX 12290	 /* an AUTHENTICATE response (a GSSAPI ticket) */
#define IMAP_SEQ_RANGES_MAX 2048	 /* ranges of one sequence set */

/* --- states (RFC 9051 §3; the diagram is at the top of imap_session.c) ----- */
enum imap_state {
	IMAP_STATE_NOTAUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
	IMAP_STATE_COUNT
};
#define IMAP_IN(st) (1u << (st))
#define IMAP_IN_NOTAUTH IMAP_IN(IMAP_STATE_NOTAUTH)
#define IMAP_IN_AUTHED (IMAP_IN(IMAP_STATE_AUTH) | IMAP_IN(IMAP_STATE_SELECTED))
#define IMAP_IN_SELECTED IMAP_IN(IMAP_STATE_SELECTED)
#define IMAP_IN_ANY (IMAP_IN_NOTAUTH | IMAP_IN_AUTHED)

/* --- the command table ---------------------------------------------------- */
enum imap_cmd_flags {
	IMAP_CMD_SECRET = 1 << 0, /* arguments never logged (LOGIN, AUTHENTICATE) */
	IMAP_CMD_UID = 1 << 1,	  /* takes the UID prefix (RFC 9051 §6.4.9) */
	/* RFC 9051 §7.5.1: no EXPUNGE while it runs (FETCH, STORE, SEARCH
	   without UID); others' changes wait for the next command */
	IMAP_CMD_NO_EXPUNGE = 1 << 2,
};

enum imap_cmd_result {
	IMAP_CMD_DONE,	/* the handler replied; the command is finished */
	IMAP_CMD_ASYNC, /* a job or long reply finishes it later */
};

struct imap_cmd_ctx;
typedef enum imap_cmd_result imap_cmd_fn(struct imap_cmd_ctx *ctx);

struct imap_cmd_def {
	const char *name;
	imap_cmd_fn *handler;
	unsigned states; /* IMAP_IN(...) mask */
	unsigned flags;	 /* enum imap_cmd_flags */
};

/* The parsed command is valid only until the handler returns: a handler
   that goes on asynchronously copies what it needs into its job. */
struct imap_cmd_ctx {
	struct imap_session *sess;
	const struct imap_cmd_def *def;
	const struct imap_command *cmd;
	bool uid;
	const struct imap_node *args; /* first argument, NULL if none */
	size_t argc;
};

/* --- the service -------------------------------------------------------- */
struct imap_service {
	const struct service_env *env;
	struct proto_cmd_stats *stats;	    /* one per row of the command table */
	struct proto_session_list sessions; /* all live sessions */
};

/* --- the selected folder ------------------------------------------------ */

/* What the session has told its client about the folder it selected:
   message sequence number i + 1 is uids[i] (RFC 9051 §2.3.1.2). It
   changes only when the client is told (EXISTS, EXPUNGE, VANISHED). */
struct imap_view {
	int64_t folder_id;
	char *name;
	bool readonly; /* EXAMINE */
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq; /* as told */
	uint32_t *uids;
	uint32_t n, cap;
	char *keywords; /* the folder's keywords, for FLAGS */
	bool dirty;	/* another session or a delivery changed it */
	/* "$" (RFC 5182): the UIDs SEARCH RETURN (SAVE) kept, ascending */
	uint32_t *saved, n_saved;
};

/* Message sequence number of uid in the view, 0 if absent. */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);
void imap_view_free(struct imap_view **v);
/* The UIDs a sequence set names, ascending, without repeats; with uid the
   set holds UIDs (RFC 9051 §6.4.9: those not in the folder are left out,
   "*" is the largest), else sequence numbers (out of range: -1 with *err_r).
   "$" is the saved result, with or without uid (RFC 5182 §2.1). */
int imap_view_select(const struct imap_view *v, const struct imap_node *set, bool uid,
		     uint32_t **uids_r, size_t *n_r, const char **err_r);

/* --- the session ---------------------------------------------------------- */
struct imap_job;
struct imap_cont;

struct imap_session {
	/* the shared core (proto/session.h): connection, id, callback frame,
	   outstanding job and brake wait, the AUTHENTICATE exchange, the
	   closing/STARTTLS/shutdown flags */
	struct proto_session core;
	struct imap_service *svc;
	enum imap_state state;

	struct imap_parser parser;
	bool parsing;	/* the parser holds a command in progress */
	bool skipping;	/* resynchronising after a bad command */
	bool idling;	/* IDLE: waiting for DONE */
	bool rev2;	/* ENABLE IMAP4rev2 */
	bool condstore; /* CONDSTORE enabled (ENABLE, or a MODSEQ use) */
	bool qresync;	/* ENABLE QRESYNC */
	bool utf8;	/* ENABLE UTF8=ACCEPT */
	uint8_t bad_cmds;

	struct timer *idle_poll; /* IDLE: look for other processes' changes */
	struct imap_cont *cont;	 /* long reply in progress */
	uint64_t progress;	 /* octets produced, for the idle check */
	uint64_t progress_at_timeout;

	/* the command being run */
	const struct imap_cmd_def *cmd;
	char tag[IMAP_TAG_MAX + 1];
	bool cmd_active, reply_ok, cmd_uid;
	uint64_t cmd_start_us, cmd_progress;
	char cmd_args[IMAP_LOG_ARGS_MAX + 1];
	unsigned commands;

	/* AUTH and SELECTED */
	int64_t mailbox_id;
	const char *address; /* arena */
	const char *mech;
	struct imap_view *sel;
	uint64_t bytes_out;
	uint32_t fetched, appended, expunged;
};

/* --- worker jobs (imap_session.c; proto/session.h does the rest) ---------- */
typedef void imap_job_finish_fn(struct imap_session *s, struct imap_job *job);

struct imap_job {
	struct proto_job core; /* login, secret, SASL step, identity, result */
	struct imap_session *sess;
	imap_job_finish_fn *finish; /* loop thread, unless the session died */
	int64_t mailbox_id, folder_id;
	/* a command's own data, freed with ctx_free */
	void *ctx;
	void (*ctx_free)(void *ctx);
};

/* A job for s; submit it with proto_job_submit (a refusal answers "NO
   [UNAVAILABLE]" and finishes the command), proto_job_try_submit (a long
   reply under way: no answer) or proto_job_submit_after (the login
   brake). */
struct imap_job *imap_job_new(struct imap_session *s, imap_job_finish_fn *finish);

/* --- session helpers (imap_session.c) ------------------------------------- */
void imap_session_set_state(struct imap_session *s, enum imap_state to);
const char *imap_state_name(enum imap_state st);
void imap_write(struct imap_session *s, const void *p, size_t n);
/* "* text" CRLF */
void imap_untagged(struct imap_session *s, const char *fmt, ...) ATTR_FORMAT(2, 3);
/* "tag OK|NO|BAD text" CRLF (the tag of the command being run); records
   the command's outcome (OK counts as success). */
void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
    ATTR_FORMAT(3, 4);
/* Store status -> "NO [UNAVAILABLE]" / "NO [SERVERBUG]" / "NO [NONEXISTENT]"
   ... (RFC 5530; the one place, STYLE §6). */
void imap_reply_store_error(struct imap_session *s, int status, const char *what);
void imap_session_close(struct imap_session *s, const char *reason);
struct loop *imap_loop(const struct imap_session *s);
const struct config *imap_cfg(const struct imap_session *s);
size_t imap_session_footprint(const struct imap_session *s);
void imap_cmd_begin(struct imap_session *s, const struct imap_cmd_def *def,
		    const struct imap_command *cmd);
void imap_cmd_finish(struct imap_session *s);
void imap_session_bad_command(struct imap_session *s);
void imap_session_reset_auth(struct imap_session *s);
/* Long replies (FETCH): `step` runs whenever the output is empty and no
   job is pending; it writes output or starts a job and returns true once
   the reply is complete (the handler then writes the tagged line itself,
   before returning true). free_fn(ctx) runs when the reply ends. */
typedef bool imap_cont_step_fn(struct imap_session *s, void *ctx);
void imap_cont_steps(struct imap_session *s, imap_cont_step_fn *step, void (*free_fn)(void *),
		     void *ctx);
/* IDLE begins ("+ idling" is sent): until DONE, changes are told as they
   come (imap_service_changed) and every [imap] idle_check at the latest
   (a delivery by another process marks nothing). */
void imap_idle_start(struct imap_session *s);
/* The CAPABILITY list for the session's state, after "CAPABILITY". */
void imap_capabilities(const struct imap_session *s, struct buf *out);

/* --- commands (imap_cmds.c) ------------------------------------------------ */
extern const struct imap_cmd_def imap_cmd_table[];
extern const size_t imap_cmd_count;
void imap_cmd_dispatch(struct imap_session *s, const struct imap_command *cmd);

/* --- authentication (imap_auth.c) ------------------------------------------ */
imap_cmd_fn imap_cmd_login, imap_cmd_authenticate, imap_cmd_starttls;
bool imap_auth_plaintext_allowed(const struct imap_session *s);
bool imap_auth_mech_allowed(const struct imap_session *s, enum sasl_mech m);
void imap_auth_mech_list(const struct imap_session *s, struct buf *out);
/* The answers to an AUTHENTICATE exchange (proto/session.h). */
extern const struct proto_sasl_ops imap_sasl_ops;

/* --- folders (imap_mailbox.c) --------------------------------------------- */
imap_cmd_fn imap_cmd_list, imap_cmd_lsub, imap_cmd_create, imap_cmd_delete, imap_cmd_rename,
    imap_cmd_subscribe, imap_cmd_unsubscribe, imap_cmd_status, imap_cmd_select, imap_cmd_examine,
    imap_cmd_close, imap_cmd_unselect, imap_cmd_namespace, imap_cmd_getquota, imap_cmd_getquotaroot,
    imap_cmd_setquota;
/* A mailbox name argument (astring, "INBOX" in any case) as the store's
   UTF-8 name; modified UTF-7 (RFC 3501 §5.1.3) is decoded unless the
   client enabled UTF8=ACCEPT. NULL with a BAD reply on a bad name. */
char *imap_mailbox_arg(struct imap_session *s, const struct imap_node *n);
/* Tells the client what changed in the selected folder since it was last
   told (EXISTS, EXPUNGE or VANISHED, FETCH of changed flags), then runs
   done(s). With expunges_ok false only new messages and flags are told.
   Runs done at once when nothing is dirty. */
void imap_sync(struct imap_session *s, bool expunges_ok, void (*done)(struct imap_session *s));

/* --- messages (imap_fetch.c, imap_msgs.c, imap_search.c) ------------------- */
imap_cmd_fn imap_cmd_fetch, imap_cmd_store, imap_cmd_expunge, imap_cmd_copy, imap_cmd_move,
    imap_cmd_append, imap_cmd_search, imap_cmd_idle, imap_cmd_check;
/* UIDs as a sequence set ("2,4:7"), from a sorted list. */
void imap_uid_set_write(struct buf *b, const uint32_t *u, size_t n);
/* Tells the client that these UIDs are gone: "* VANISHED set" once
   QRESYNC is enabled (RFC 7162 §3.2.10), else "* n EXPUNGE" for each one
   the view holds; they leave the view. uids ascending. */
void imap_tell_expunged(struct imap_session *s, const uint32_t *uids, size_t n);
/* "(\Seen \Answered $Junk)" for flags and keywords. */
void imap_flags_write(struct buf *out, unsigned flags, const char *keywords);

#endif
