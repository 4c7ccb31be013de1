/* SPDX-License-Identifier: MIT */
/*
 * imap_auth.c - the NOT AUTHENTICATED state: LOGIN (RFC 9051 §6.2.3),
 * AUTHENTICATE with SASL-IR (RFC 9051 §6.2.2, RFC 4959), STARTTLS
 * (§6.2.1), and the road from a verified identity to AUTHENTICATED.
 *
 * As in pop3/: every credential check runs on a worker in the hash lane,
 * after the login brake's wait (directory/penalty.h), right or wrong
 * password alike. Outcomes, with RFC 5530 response codes:
 *  - wrong credentials: "NO [AUTHENTICATIONFAILED]"; IMAP_AUTH_FAILS_MAX
 *    of them close the session; unknown users and wrong passwords look the
 *    same;
 *  - right credentials, account disabled: "NO [CONTACTADMIN]";
 *  - the check could not be made: "NO [UNAVAILABLE]";
 *  - LOGIN and plaintext mechanisms before TLS (unless [imap]
 *    plaintext_auth): "NO [PRIVACYREQUIRED]", and LOGINDISABLED is in the
 *    capabilities.
 * Passwords never reach a log line.
 */
#include "directory/penalty.h"
#include "imap/imap_private.h"
#include "net/conn.h"
#include "net/loop.h"
#include "util/arena.h"
#include "util/base64.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_USER_MAX 64

bool imap_auth_plaintext_allowed(const struct imap_session *s)
{
	return (s->conn != NULL && conn_is_tls(s->conn)) ||
	       imap_config(imap_cfg(s))->plaintext_auth;
}

bool imap_auth_mech_allowed(const struct imap_session *s, enum sasl_mech m)
{
	if (m == SASL_EXTERNAL)
		return s->conn != NULL && conn_tls_identity(s->conn) != NULL;
	if (m == SASL_GSSAPI)
		return sasl_gssapi_configured(imap_cfg(s));
	if (m == SASL_SCRAM_SHA_256 && !directory_offers(s->svc->env->dir, DIRECTORY_SCRAM))
		return false;
	return !sasl_mech_plaintext(m) || imap_auth_plaintext_allowed(s);
}

void imap_auth_mech_list(const struct imap_session *s, struct buf *out)
{
	static const enum sasl_mech order[] = {SASL_EXTERNAL, SASL_SCRAM_SHA_256, SASL_GSSAPI,
					       SASL_PLAIN, SASL_LOGIN};
	for (size_t i = 0; i < N_ELEMENTS(order); i++)
		if (imap_auth_mech_allowed(s, order[i]))
			buf_printf(out, " AUTH=%s", sasl_mech_name(order[i]));
}

void imap_login_record(struct imap_session *s, const char *result, const char *mech,
		       const char *user, const char *reason)
{
	struct log_session who = {s->service, s->sid, s->ip,
				  s->conn != NULL ? conn_tls_version(s->conn) : NULL};
	log_login(&who, result, mech, user, reason, log_now_usec() - s->login_start_us, NULL);
}

/* --- after the check ------------------------------------------------------------ */

static void login_ok(struct imap_session *s, const struct auth_identity *id, const char *mech,
		     const char *login)
{
	struct penalty *pen = s->svc->env->penalty;

	if (pen != NULL)
		penalty_success(pen, s->ip, login, loop_now_ms(imap_loop(s)));
	imap_session_reset_auth(s);
	if (!id->enabled) {
		imap_tagged(s, "NO", "[CONTACTADMIN] Account is disabled");
		imap_login_record(s, "refused", mech, id->address, "disabled");
		imap_cmd_finish(s);
		return;
	}
	unsigned open = 0;
	for (const struct imap_session *o = s->svc->first; o != NULL; o = o->next)
		open += o != s && !o->frame.dead && o->state != IMAP_STATE_NOTAUTH &&
			o->state != IMAP_STATE_LOGOUT && o->mailbox_id == id->mailbox_id;
	if (open >= imap_config(imap_cfg(s))->max_sessions) {
		/* RFC 5530 [LIMIT]: the client may come back once one ends */
		imap_tagged(s, "NO", "[LIMIT] Too many sessions for this mailbox");
		imap_login_record(s, "refused", mech, id->address, "too-many-sessions");
		imap_cmd_finish(s);
		return;
	}
	s->mailbox_id = id->mailbox_id;
	s->address = arena_strdup(s->arena, id->address);
	s->mech = mech;
	imap_session_set_state(s, IMAP_STATE_AUTH);
	/* RFC 9051 §6.2.3: capabilities may change with the login */
	struct buf caps = {0};
	imap_capabilities(s, &caps);
	imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", caps.data);
	buf_free(&caps);
	imap_login_record(s, "ok", mech, s->address, NULL);
	imap_cmd_finish(s);
}

static void auth_failed(struct imap_session *s, const char *mech, const char *user)
{
	struct penalty *pen = s->svc->env->penalty;

	s->auth_fails++;
	if (pen != NULL)
		penalty_fail(pen, s->ip, user != NULL && *user != '\0' ? user : NULL,
			     loop_now_ms(imap_loop(s)));
	imap_login_record(s, "failed", mech, user, NULL);
	imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	imap_cmd_finish(s);
	if (s->auth_fails >= IMAP_AUTH_FAILS_MAX) {
		imap_untagged(s, "BYE Too many authentication failures");
		imap_session_close(s, "too many authentication failures");
	}
}

static uint64_t brake_wait(struct imap_session *s, const char *account)
{
	struct penalty *pen = s->svc->env->penalty;
	return pen != NULL ? penalty_wait_ms(pen, s->ip, account, loop_now_ms(imap_loop(s))) : 0;
}

/* --- LOGIN ----------------------------------------------------------------------- */

static void work_login(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	job->result = directory_password(job->dir, thread_ctx, job->login, job->secret, &job->id);
}

static void finish_login(struct imap_session *s, struct imap_job *job)
{
	switch ((enum auth_result)job->result) {
	case AUTH_OK:
		login_ok(s, &job->id, "USER", job->login);
		return;
	case AUTH_FAILED:
		auth_failed(s, "USER", job->login);
		return;
	case AUTH_TEMPFAIL:
		break;
	}
	imap_tagged(s, "NO", "[UNAVAILABLE] Authentication temporarily unavailable");
	imap_login_record(s, "error", "USER", job->login, "tempfail");
	imap_cmd_finish(s);
}

enum imap_cmd_result imap_cmd_login(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	struct slice user, pass;

	if (ctx->argc != 2 || !imap_node_astring(ctx->args, &user) ||
	    !imap_node_astring(ctx->args->next, &pass)) {
		imap_tagged(s, "BAD", "LOGIN takes a user name and a password");
		return IMAP_CMD_DONE;
	}
	if (!imap_auth_plaintext_allowed(s)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return IMAP_CMD_DONE;
	}
	if (user.len == 0 || user.len > SASL_NAME_MAX || pass.len > SASL_PASSWORD_MAX ||
	    memchr(user.p, '\0', user.len) != NULL || memchr(pass.p, '\0', pass.len) != NULL) {
		imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		return IMAP_CMD_DONE;
	}
	struct imap_job *job = imap_job_new(s, finish_login);
	job->login = xstrndup(user.p, user.len);
	job->secret = xstrndup(pass.p, pass.len);
	imap_job_submit_after(s, job, work_login, brake_wait(s, job->login));
	return IMAP_CMD_ASYNC;
}

/* --- AUTHENTICATE ---------------------------------------------------------------- */

static void work_sasl(void *thread_ctx, void *p)
{
	struct imap_job *job = p;
	sasl_job_run(&job->sasl, thread_ctx);
}

static void sasl_abort(struct imap_session *s, const char *status, const char *text)
{
	imap_session_reset_auth(s);
	imap_tagged(s, status, "%s", text);
	imap_cmd_finish(s);
}

/* "+ base64" (RFC 9051 §6.2.2: an empty challenge is "+ " alone) */
static void send_challenge(struct imap_session *s, const struct buf *data)
{
	struct buf line = {0};
	sasl_challenge_line(&line, "+ ", data);
	imap_write(s, line.data, line.len);
	buf_free(&line);
}

static void finish_sasl(struct imap_session *s, struct imap_job *job)
{
	const char *mech = sasl_mech_name(sasl_server_mech(s->sx.sasl));

	switch (sasl_exchange_result(&s->sx, &job->sasl)) {
	case SASL_OUTCOME_CHALLENGE:
		send_challenge(s, &job->sasl.out);
		return;
	case SASL_OUTCOME_SUCCESS:
		login_ok(s, &job->sasl.id, mech, sasl_server_authcid(s->sx.sasl));
		return;
	case SASL_OUTCOME_FAILED: {
		char user[LOG_USER_MAX + 1];
		snprintf(user, sizeof(user), "%s", sasl_server_authcid(s->sx.sasl));
		imap_session_reset_auth(s);
		auth_failed(s, mech, user);
		return;
	}
	case SASL_OUTCOME_TEMPFAIL:
		imap_login_record(s, "error", mech, sasl_server_authcid(s->sx.sasl), "tempfail");
		sasl_abort(s, "NO", "[UNAVAILABLE] Authentication temporarily unavailable");
		return;
	case SASL_OUTCOME_MALFORMED:
		break;
	}
	imap_login_record(s, "failed", mech, NULL, "malformed");
	sasl_abort(s, "BAD", "Invalid authentication exchange");
	if (++s->auth_fails >= IMAP_AUTH_FAILS_MAX)
		imap_session_close(s, "too many authentication failures");
}

static void sasl_submit(struct imap_session *s, struct buf *in)
{
	struct imap_job *job = imap_job_new(s, finish_sasl);
	uint64_t wait = sasl_job_brake_ms(s->sx.sasl, in, s->svc->env->penalty, s->ip,
					  loop_now_ms(imap_loop(s)));

	sasl_job_init(&job->sasl, s->sx.sasl, in);
	imap_job_submit_after(s, job, work_sasl, wait);
}

enum imap_cmd_result imap_cmd_authenticate(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	struct slice name, ir;
	enum sasl_mech m;

	if (ctx->argc < 1 || ctx->argc > 2 || ctx->args->type != IMAP_NODE_ATOM ||
	    !imap_node_astring(ctx->args, &name)) {
		imap_tagged(s, "BAD", "AUTHENTICATE takes a mechanism and an initial response");
		return IMAP_CMD_DONE;
	}
	if (sasl_mech_parse(name.p, name.len, &m) < 0 ||
	    ((m == SASL_EXTERNAL || m == SASL_GSSAPI) && !imap_auth_mech_allowed(s, m))) {
		imap_tagged(s, "NO", "Unsupported authentication mechanism");
		return IMAP_CMD_DONE;
	}
	if (!imap_auth_mech_allowed(s, m)) {
		imap_tagged(s, "NO", "[PRIVACYREQUIRED] Use STARTTLS first");
		return IMAP_CMD_DONE;
	}
	struct buf in = {0};
	bool has_ir = ctx->argc == 2;
	if (has_ir) {
		/* RFC 4959: "=" is an empty initial response */
		if (!imap_node_astring(ctx->args->next, &ir) ||
		    (!slice_eq(ir, "=") && sasl_response_decode(ir, m, &in) < 0)) {
			buf_free_secret(&in);
			imap_tagged(s, "BAD", "Invalid base64 data");
			return IMAP_CMD_DONE;
		}
	}
	/* the Kerberos service is "imap" (RFC 9051 §11.1) */
	sasl_exchange_start(&s->sx, m, s->svc->env->dir, conn_tls_identity(s->conn), imap_cfg(s),
			    "imap");
	sasl_submit(s, has_ir ? &in : NULL);
	buf_free_secret(&in);
	return IMAP_CMD_ASYNC;
}

void imap_auth_sasl_line(struct imap_session *s, struct slice line)
{
	struct buf in = {0};
	struct auth_identity id;

	s->login_start_us = log_now_usec();
	switch (sasl_exchange_line(&s->sx, line, false, &in, &id)) {
	case SASL_LINE_STEP:
		sasl_submit(s, &in);
		buf_free_secret(&in);
		return;
	case SASL_LINE_CANCEL:
		/* RFC 9051 §6.2.2: the client cancels: BAD */
		sasl_abort(s, "BAD", "Authentication canceled");
		return;
	case SASL_LINE_DONE:
		login_ok(s, &id, sasl_mech_name(sasl_server_mech(s->sx.sasl)),
			 sasl_server_authcid(s->sx.sasl));
		secure_zero(&id, sizeof(id));
		return;
	case SASL_LINE_BAD_FINAL:
		sasl_abort(s, "BAD", "Invalid authentication exchange");
		return;
	case SASL_LINE_BAD_BASE64:
		sasl_abort(s, "BAD", "Invalid base64 data");
		return;
	}
}

/* --- STARTTLS -------------------------------------------------------------------- */

enum imap_cmd_result imap_cmd_starttls(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;

	if (ctx->argc != 0) {
		imap_tagged(s, "BAD", "STARTTLS takes no arguments");
		return IMAP_CMD_DONE;
	}
	if (conn_is_tls(s->conn) || !conn_tls_available(s->conn)) {
		imap_tagged(s, "NO", "TLS not available");
		return IMAP_CMD_DONE;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	imap_cmd_finish(s);
	/* what was pipelined after STARTTLS is discarded, never run
	   (CVE-2011-0411); tls_ready forgets the rest */
	s->tls_starting = true;
	imap_session_reset_auth(s);
	if (conn_starttls(s->conn) < 0) {
		log_error("sid=%s imap STARTTLS could not start", s->sid);
		s->tls_starting = false;
		imap_session_close(s, "starttls failed");
	}
	return IMAP_CMD_ASYNC; /* finished above */
}
