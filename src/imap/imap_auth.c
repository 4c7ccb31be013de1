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
	return (s->core.conn != NULL && conn_is_tls(s->core.conn)) ||
	       imap_config(imap_cfg(s))->plaintext_auth;
}

bool imap_auth_mech_allowed(const struct imap_session *s, enum sasl_mech m)
{
	return proto_sasl_mech_allowed(&s->core, m, imap_auth_plaintext_allowed(s));
}

void imap_auth_mech_list(const struct imap_session *s, struct buf *out)
{
	proto_sasl_mech_list(&s->core, imap_auth_plaintext_allowed(s), " AUTH=", "", out);
}

/* --- after the check ------------------------------------------------------------ */

static void login_ok(struct imap_session *s, const struct auth_identity *id, const char *mech,
		     const char *login)
{
	proto_login_succeeded(&s->core, login);
	imap_session_reset_auth(s);
	if (!id->enabled) {
		imap_tagged(s, "NO", "[CONTACTADMIN] Account is disabled");
		proto_login_record(&s->core, "refused", mech, id->address, "disabled", NULL);
		imap_cmd_finish(s);
		return;
	}
	unsigned open = 0;
	for (const struct proto_session *p = s->svc->sessions.first; p != NULL; p = p->next) {
		const struct imap_session *o = p->sess;
		open += o != s && !o->core.dead && o->state != IMAP_STATE_NOTAUTH &&
			o->state != IMAP_STATE_LOGOUT && o->mailbox_id == id->mailbox_id;
	}
	if (open >= imap_config(imap_cfg(s))->max_sessions) {
		/* RFC 5530 [LIMIT]: the client may come back once one ends */
		imap_tagged(s, "NO", "[LIMIT] Too many sessions for this mailbox");
		proto_login_record(&s->core, "refused", mech, id->address, "too-many-sessions",
				   NULL);
		imap_cmd_finish(s);
		return;
	}
	s->mailbox_id = id->mailbox_id;
	s->address = arena_strdup(s->core.arena, id->address);
	s->mech = mech;
	imap_session_set_state(s, IMAP_STATE_AUTH);
	/* RFC 9051 §6.2.3: capabilities may change with the login */
	struct buf caps = {0};
	imap_capabilities(s, &caps);
	imap_tagged(s, "OK", "[CAPABILITY %s] Logged in", caps.data);
	buf_free(&caps);
	proto_login_record(&s->core, "ok", mech, s->address, NULL, NULL);
	imap_cmd_finish(s);
}

static void auth_failed(struct imap_session *s, const char *mech, const char *user)
{
	s->core.auth_fails++;
	proto_login_failed(&s->core, user);
	proto_login_record(&s->core, "failed", mech, user, NULL, NULL);
	imap_tagged(s, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
	imap_cmd_finish(s);
	if (s->core.auth_fails >= IMAP_AUTH_FAILS_MAX) {
		imap_untagged(s, "BYE Too many authentication failures");
		imap_session_close(s, "too many authentication failures");
	}
}

/* --- LOGIN ----------------------------------------------------------------------- */

static void finish_login(struct imap_session *s, struct imap_job *job)
{
	switch ((enum auth_result)job->core.result) {
	case AUTH_OK:
		login_ok(s, &job->core.id, "USER", job->core.login);
		return;
	case AUTH_FAILED:
		auth_failed(s, "USER", job->core.login);
		return;
	case AUTH_TEMPFAIL:
		break;
	}
	imap_tagged(s, "NO", "[UNAVAILABLE] Authentication temporarily unavailable");
	proto_login_record(&s->core, "error", "USER", job->core.login, "tempfail", NULL);
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
	job->core.login = xstrndup(user.p, user.len);
	job->core.secret = xstrndup(pass.p, pass.len);
	proto_job_submit_after(&job->core, proto_job_work_password,
			       proto_login_brake_ms(&s->core, job->core.login));
	return IMAP_CMD_ASYNC;
}

/* --- AUTHENTICATE ---------------------------------------------------------------- */

static void sasl_abort(struct imap_session *s, const char *status, const char *text)
{
	imap_session_reset_auth(s);
	imap_tagged(s, status, "%s", text);
	imap_cmd_finish(s);
}

/* "+ base64" (RFC 9051 §6.2.2: an empty challenge is "+ " alone) */
static void sasl_challenge(void *p, const struct buf *data)
{
	struct buf line = {0};
	sasl_challenge_line(&line, "+ ", data);
	imap_write(p, line.data, line.len);
	buf_free(&line);
}

static void sasl_login(void *p, const struct auth_identity *id, const char *mech, const char *login)
{
	login_ok(p, id, mech, login);
}

static void sasl_failed(void *p, const char *mech, const char *authcid)
{
	struct imap_session *s = p;
	char user[LOG_USER_MAX + 1];

	snprintf(user, sizeof(user), "%s", authcid);
	imap_session_reset_auth(s);
	auth_failed(s, mech, user);
}

static void sasl_end(void *p, enum proto_sasl_end why)
{
	struct imap_session *s = p;

	switch (why) {
	case PROTO_SASL_TEMPFAIL:
		sasl_abort(s, "NO", "[UNAVAILABLE] Authentication temporarily unavailable");
		return;
	case PROTO_SASL_MALFORMED:
		sasl_abort(s, "BAD", "Invalid authentication exchange");
		if (++s->core.auth_fails >= IMAP_AUTH_FAILS_MAX)
			imap_session_close(s, "too many authentication failures");
		return;
	case PROTO_SASL_CANCEL:
		/* RFC 9051 §6.2.2: the client cancels: BAD */
		sasl_abort(s, "BAD", "Authentication canceled");
		return;
	case PROTO_SASL_BAD_FINAL:
		sasl_abort(s, "BAD", "Invalid authentication exchange");
		return;
	case PROTO_SASL_BAD_BASE64:
		sasl_abort(s, "BAD", "Invalid base64 data");
		return;
	}
}

static void finish_sasl(struct imap_session *s, struct imap_job *job)
{
	proto_sasl_finish(&job->core);
}

static struct proto_job *sasl_job(void *p)
{
	return &imap_job_new(p, finish_sasl)->core;
}

const struct proto_sasl_ops imap_sasl_ops = {
    .job = sasl_job,
    .challenge = sasl_challenge,
    .login = sasl_login,
    .failed = sasl_failed,
    .end = sasl_end,
};

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
	proto_sasl_start(&s->core, m, "imap");
	proto_sasl_submit(&s->core, has_ir ? &in : NULL);
	buf_free_secret(&in);
	return IMAP_CMD_ASYNC;
}

/* --- STARTTLS -------------------------------------------------------------------- */

enum imap_cmd_result imap_cmd_starttls(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;

	if (ctx->argc != 0) {
		imap_tagged(s, "BAD", "STARTTLS takes no arguments");
		return IMAP_CMD_DONE;
	}
	if (conn_is_tls(s->core.conn) || !conn_tls_available(s->core.conn)) {
		imap_tagged(s, "NO", "TLS not available");
		return IMAP_CMD_DONE;
	}
	imap_tagged(s, "OK", "Begin TLS negotiation now");
	imap_cmd_finish(s);
	/* what was pipelined after STARTTLS is discarded, never run
	   (CVE-2011-0411); tls_ready forgets the rest */
	s->core.tls_starting = true;
	imap_session_reset_auth(s);
	if (conn_starttls(s->core.conn) < 0) {
		log_error("sid=%s imap STARTTLS could not start", s->core.sid);
		s->core.tls_starting = false;
		imap_session_close(s, "starttls failed");
	}
	return IMAP_CMD_ASYNC; /* finished above */
}
