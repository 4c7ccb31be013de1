/* SPDX-License-Identifier: MIT */
/*
 * pop3_auth.c - the AUTHORIZATION state: USER/PASS and APOP (RFC 1939 §7),
 * AUTH (RFC 5034), STLS (RFC 2595), and the road from a verified identity
 * to TRANSACTION (lock the mailbox, load its snapshot).
 *
 * Every credential check runs on a worker (directory_password, directory_apop,
 * sasl_server_step); the session reads no input until it returns. Outcomes:
 *  - before the check, the login brake (directory/penalty.h) may hold the
 *    attempt back, right or wrong password alike; the outcome is recorded.
 *  - wrong credentials: "-ERR [AUTH] Authentication failed" at once;
 *    POP3_AUTH_FAILS_MAX of them close the session. Unknown users and wrong
 *    passwords look the same.
 *  - right credentials, account disabled or POP3 switched off:
 *    "-ERR [SYS/PERM] ..." (RFC 3206 §4: [AUTH] means bad credentials, and
 *    retrying with other ones would not help; the client should tell the
 *    user). Only someone who knows the password learns this.
 *  - mailbox already open elsewhere: "-ERR [IN-USE]" (RFC 2449 §8.1.1).
 *  - store trouble: "-ERR [SYS/TEMP]".
 * Passwords never reach a log line; only the login name (truncated) does.
 */
#include "pop3/pop3.h"
#include "net/conn.h"
#include "net/loop.h"
#include "pop3/pop3_private.h"
#include "proto/service.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APOP_DIGEST_LEN 32 /* MD5 in hex, RFC 1939 §7 */
#define LOG_USER_MAX 64

bool pop3_auth_plaintext_allowed(const struct pop3_session *s)
{
	/* RFC 2595 §2.1 / RFC 8314: passwords only under TLS unless configured */
	return (s->core.conn != NULL && conn_is_tls(s->core.conn)) ||
	       pop3_config(pop3_cfg(s))->plaintext_auth;
}

bool pop3_auth_mech_allowed(const struct pop3_session *s, enum sasl_mech m)
{
	return proto_sasl_mech_allowed(&s->core, m, pop3_auth_plaintext_allowed(s));
}

/* --- after the check: lock, load, TRANSACTION ------------------------------ */

static void work_load(void *thread_ctx, void *p)
{
	struct pop3_job *job = p;
	job->core.result =
	    store_mailbox_load(thread_ctx, job->mailbox_id, &job->msgs, &job->n_msgs);
}

/* Copies the store's list into the compact arena form (24 bytes a message
   plus the UIDL text), so an idle session holds little. */
static bool take_snapshot(struct pop3_session *s, const struct store_msg *msgs, size_t n)
{
	size_t uidl_bytes = 0;

	if (n > UINT32_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		uidl_bytes += strnlen(msgs[i].uidl, sizeof(msgs[i].uidl) - 1);
	if (uidl_bytes > UINT32_MAX)
		return false;
	s->msgs = n > 0 ? arena_alloc(s->core.arena, n * sizeof(*s->msgs)) : NULL;
	s->uidls = uidl_bytes > 0 ? arena_alloc(s->core.arena, uidl_bytes) : NULL;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(msgs[i].uidl, sizeof(msgs[i].uidl) - 1);
		s->msgs[i].id = msgs[i].id;
		s->msgs[i].size = msgs[i].size;
		s->msgs[i].uidl_off = (uint32_t)off;
		s->msgs[i].uidl_len = (uint8_t)len;
		memcpy(s->uidls + off, msgs[i].uidl, len);
		off += len;
		s->total_size += msgs[i].size;
	}
	s->n_msgs = (uint32_t)n;
	return true;
}

static void finish_load(struct pop3_session *s, struct pop3_job *job)
{
	if (job->core.result != STORE_OK || !take_snapshot(s, job->msgs, job->n_msgs)) {
		pop3_unlock_mailbox(s->svc, s->mailbox_id);
		s->locked = false;
		pop3_reply_store_error(s,
				       job->core.result != STORE_OK ? job->core.result : STORE_PERM,
				       "mailbox_load");
		proto_login_record(&s->core, "error", job->mech, job->core.login, "store", NULL);
		pop3_cmd_finish(s);
		return;
	}
	s->address = arena_strdup(s->core.arena, job->core.login);
	s->mech = job->mech;
	pop3_session_reset_auth(s);
	pop3_session_set_state(s, POP3_STATE_TRANSACTION);
	pop3_reply(s, true, "Logged in, %u messages (%llu octets)", s->n_msgs,
		   (unsigned long long)s->total_size);
	char extra[32];
	snprintf(extra, sizeof(extra), "messages=%u", s->n_msgs);
	proto_login_record(&s->core, "ok", s->mech, s->address, NULL, extra);
	pop3_cmd_finish(s);
}

/* The credentials were right: check the account, lock, then load. `login`
   is the name the client gave (the brake knows failures by it alone). */
static void login_begin(struct pop3_session *s, const struct auth_identity *id, const char *mech,
			const char *login)
{
	proto_login_succeeded(&s->core, login);
	pop3_session_reset_auth(s);
	if (!id->enabled || !id->pop3_enabled) {
		pop3_reply(s, false, "[SYS/PERM] %s",
			   !id->enabled ? "Account is disabled"
					: "POP3 access is disabled for this account");
		proto_login_record(&s->core, "refused", mech, id->address,
				   !id->enabled ? "disabled" : "pop3-disabled", NULL);
		pop3_cmd_finish(s);
		return;
	}
	if (!pop3_lock_mailbox(s->svc, id->mailbox_id)) {
		pop3_reply(s, false, "[IN-USE] Mailbox is in use by another POP3 session");
		proto_login_record(&s->core, "refused", mech, id->address, "in-use", NULL);
		pop3_cmd_finish(s);
		return;
	}
	s->locked = true;
	s->mailbox_id = id->mailbox_id;
	struct pop3_job *job = pop3_job_new(s, finish_load);
	job->mailbox_id = id->mailbox_id;
	job->core.login = xstrdup(id->address);
	job->mech = mech;
	if (!proto_job_submit(&job->core, work_load)) {
		pop3_unlock_mailbox(s->svc, s->mailbox_id);
		s->locked = false;
	}
}

/* --- failures ---------------------------------------------------------------- */

static void auth_failed_answer(struct pop3_session *s)
{
	/* RFC 3206 §4 / RFC 5034 §6 (AUTH-RESP-CODE) */
	pop3_reply(s, false, "[AUTH] Authentication failed");
	pop3_cmd_finish(s);
	if (s->core.auth_fails >= POP3_AUTH_FAILS_MAX)
		pop3_session_close(s, "too many authentication failures");
}

static void auth_failed(struct pop3_session *s, const char *mech, const char *user)
{
	s->core.auth_fails++;
	proto_login_failed(&s->core, user);
	char extra[32];
	snprintf(extra, sizeof(extra), "attempt=%u", s->core.auth_fails);
	/* recorded before the answer may close the session */
	proto_login_record(&s->core, "failed", mech, user, NULL, extra);
	auth_failed_answer(s);
}

/* A job's auth_result, for USER/PASS and APOP. */
static void finish_check(struct pop3_session *s, struct pop3_job *job)
{
	switch ((enum auth_result)job->core.result) {
	case AUTH_OK:
		login_begin(s, &job->core.id, job->mech, job->core.login);
		return;
	case AUTH_FAILED:
		auth_failed(s, job->mech, job->core.login);
		return;
	case AUTH_TEMPFAIL:
		break;
	}
	pop3_reply(s, false, "[SYS/TEMP] Authentication temporarily unavailable");
	proto_login_record(&s->core, "error", job->mech, job->core.login, "tempfail", NULL);
	pop3_cmd_finish(s);
}

/* --- USER / PASS ---------------------------------------------------------------- */

enum pop3_cmd_result pop3_cmd_user(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	struct slice name = ctx->args[0];

	if (name.len > SASL_NAME_MAX) {
		pop3_reply(s, false, "User name too long");
		return POP3_CMD_DONE;
	}
	/* RFC 1939 §7 allows "-ERR never heard of mailbox"; we never tell */
	secret_free(&s->user);
	s->user = xstrndup(name.p, name.len);
	pop3_reply(s, true, "%s", "");
	return POP3_CMD_DONE;
}

enum pop3_cmd_result pop3_cmd_pass(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;

	if (s->user == NULL) {
		pop3_reply(s, false, "No user name given (send USER first)");
		return POP3_CMD_DONE;
	}
	/* RFC 1939 §7: the one argument of PASS may contain spaces */
	if (ctx->rest.len > SASL_PASSWORD_MAX || memchr(ctx->rest.p, '\0', ctx->rest.len)) {
		secret_free(&s->user);
		pop3_reply(s, false, "Password too long");
		return POP3_CMD_DONE;
	}
	struct pop3_job *job = pop3_job_new(s, finish_check);
	job->core.login = s->user; /* a new USER is needed after every PASS */
	s->user = NULL;
	job->core.secret = xstrndup(ctx->rest.p, ctx->rest.len);
	job->mech = "USER";
	proto_job_submit_after(&job->core, proto_job_work_password,
			       proto_login_brake_ms(&s->core, job->core.login));
	return POP3_CMD_ASYNC;
}

/* --- APOP ------------------------------------------------------------------------- */

static void work_apop(void *thread_ctx, void *p)
{
	struct pop3_job *job = p;
	job->core.result = directory_apop(job->core.dir, thread_ctx, job->core.login,
					  job->timestamp, job->core.secret, &job->core.id);
}

enum pop3_cmd_result pop3_cmd_apop(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	struct slice name = ctx->args[0], digest = ctx->args[1];

	if (s->timestamp == NULL) {
		pop3_reply(s, false, "APOP is not enabled on this server");
		return POP3_CMD_DONE;
	}
	if (name.len > SASL_NAME_MAX || digest.len != APOP_DIGEST_LEN) {
		pop3_reply(s, false, "Invalid arguments");
		pop3_session_bad_command(s);
		return POP3_CMD_DONE;
	}
	struct pop3_job *job = pop3_job_new(s, finish_check);
	job->core.secret = xstrndup(digest.p, digest.len);
	for (char *p = job->core.secret; *p != '\0'; p++) {
		if (!isxdigit((unsigned char)*p)) {
			proto_job_free(&job->core);
			pop3_reply(s, false, "Invalid arguments");
			pop3_session_bad_command(s);
			return POP3_CMD_DONE;
		}
		*p = (char)tolower((unsigned char)*p);
	}
	job->core.login = xstrndup(name.p, name.len);
	job->timestamp = s->timestamp;
	job->mech = "APOP";
	proto_job_submit_after(&job->core, work_apop,
			       proto_login_brake_ms(&s->core, job->core.login));
	return POP3_CMD_ASYNC;
}

/* --- AUTH (RFC 5034) -------------------------------------------------------------- */

static void sasl_abort(struct pop3_session *s, const char *text)
{
	pop3_session_reset_auth(s);
	pop3_reply(s, false, "%s", text);
	pop3_cmd_finish(s);
}

/* "+ base64" (RFC 5034 §4: an empty challenge is "+ " alone) */
static void sasl_challenge(void *p, const struct buf *data)
{
	struct buf line = {0};

	sasl_challenge_line(&line, "+ ", data);
	pop3_write(p, line.data, line.len);
	buf_free(&line);
}

static void sasl_login(void *p, const struct auth_identity *id, const char *mech, const char *login)
{
	login_begin(p, id, mech, login);
}

static void sasl_failed(void *p, const char *mech, const char *authcid)
{
	struct pop3_session *s = p;
	char user[LOG_USER_MAX + 1];

	snprintf(user, sizeof(user), "%s", authcid);
	pop3_session_reset_auth(s);
	auth_failed(s, mech, user);
}

static void sasl_end(void *p, enum proto_sasl_end why)
{
	static const char *const text[] = {
	    [PROTO_SASL_TEMPFAIL] = "[SYS/TEMP] Authentication temporarily unavailable",
	    [PROTO_SASL_MALFORMED] = "Invalid authentication exchange",
	    /* RFC 5034 §4: the client cancels; the server answers -ERR */
	    [PROTO_SASL_CANCEL] = "Authentication canceled",
	    [PROTO_SASL_BAD_FINAL] = "Invalid authentication exchange",
	    [PROTO_SASL_BAD_BASE64] = "Invalid base64 data",
	};
	struct pop3_session *s = p;

	sasl_abort(s, text[why]);
	if (why == PROTO_SASL_MALFORMED && ++s->core.auth_fails >= POP3_AUTH_FAILS_MAX)
		pop3_session_close(s, "too many authentication failures");
}

static void finish_sasl(struct pop3_session *s, struct pop3_job *job)
{
	proto_sasl_finish(&job->core);
}

static struct proto_job *sasl_job(void *p)
{
	return &pop3_job_new(p, finish_sasl)->core;
}

const struct proto_sasl_ops pop3_sasl_ops = {
    .job = sasl_job,
    .challenge = sasl_challenge,
    .login = sasl_login,
    .failed = sasl_failed,
    .end = sasl_end,
};

static void list_mechs(struct pop3_session *s)
{
	struct buf b = {0};

	proto_sasl_mech_list(&s->core, pop3_auth_plaintext_allowed(s), "", "\r\n", &b);
	buf_append_str(&b, ".\r\n");
	pop3_reply(s, true, "Supported mechanisms follow");
	pop3_write(s, b.data, b.len);
	buf_free(&b);
}

enum pop3_cmd_result pop3_cmd_auth(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	enum sasl_mech m;

	if (ctx->argc == 0) {
		/* not in RFC 5034, but clients from the RFC 1734 days ask this way */
		list_mechs(s);
		return POP3_CMD_DONE;
	}
	struct slice name = ctx->args[0];
	if (sasl_mech_parse(name.p, name.len, &m) < 0) {
		pop3_reply(s, false, "Unsupported authentication mechanism");
		return POP3_CMD_DONE;
	}
	if ((m == SASL_EXTERNAL || m == SASL_GSSAPI) && !pop3_auth_mech_allowed(s, m)) {
		pop3_reply(s, false, "Unsupported authentication mechanism");
		return POP3_CMD_DONE;
	}
	if (!pop3_auth_mech_allowed(s, m)) {
		pop3_reply(s, false, "[AUTH] Plaintext authentication disallowed before STLS");
		return POP3_CMD_DONE;
	}
	struct buf ir = {0};
	if (ctx->argc == 2 && sasl_response_decode(ctx->args[1], m, &ir) < 0) {
		buf_free_secret(&ir);
		pop3_reply(s, false, "Invalid base64 data");
		return POP3_CMD_DONE;
	}
	/* the Kerberos service is "pop" (RFC 5034 §4) */
	proto_sasl_start(&s->core, m, "pop");
	proto_sasl_submit(&s->core, ctx->argc == 2 ? &ir : NULL);
	return POP3_CMD_ASYNC;
}

void pop3_auth_sasl_line(struct pop3_session *s, struct slice line)
{
	s->core.login_start_us = log_now_usec(); /* the login's time runs from here */
	if (pop3_parse_check(line) != POP3_PARSE_OK && !slice_eq(line, "*") &&
	    s->core.sx.wait == SASL_WAIT_RESPONSE) {
		/* RFC 5034 §4: a response that is not base64 fails the command */
		sasl_abort(s, "Invalid base64 data");
		return;
	}
	proto_sasl_line(&s->core, line, true);
}

/* --- STLS (RFC 2595 §4) ------------------------------------------------------------ */

enum pop3_cmd_result pop3_cmd_stls(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;

	if (conn_is_tls(s->core.conn)) {
		pop3_reply(s, false, "Command not permitted when TLS active");
		return POP3_CMD_DONE;
	}
	if (!conn_tls_available(s->core.conn)) {
		pop3_reply(s, false, "TLS not available");
		return POP3_CMD_DONE;
	}
	pop3_reply(s, true, "Begin TLS negotiation");
	pop3_cmd_finish(s);
	/* input pipelined after STLS is discarded by conn_starttls(), never
	   run (CVE-2011-0411); tls_ready resets the session */
	s->core.tls_starting = true;
	pop3_session_reset_auth(s);
	if (s->core.conn == NULL)
		return POP3_CMD_ASYNC; /* the peer left while we answered */
	if (conn_starttls(s->core.conn) < 0) {
		log_error("sid=%s pop3 STLS could not start", s->core.sid);
		s->core.tls_starting = false;
		pop3_session_close(s, "starttls failed");
	}
	return POP3_CMD_ASYNC; /* already finished */
}
