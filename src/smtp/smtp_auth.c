/* SPDX-License-Identifier: MIT */
/*
 * smtp_auth.c - SMTP AUTH (RFC 4954) on the submission roles: the command
 * and SMTP's answers to the SASL exchange, which the session core drives
 * one worker step at a time (proto/session.h), and the login's outcome.
 *
 * The dispatcher has already checked the role, TLS and the state (READY);
 * here only the meaning of the arguments is judged. Every outcome is
 * recorded in the shared penalty table (directory/penalty.h), and its login
 * brake may hold back the step that checks a password; after
 * SMTP_AUTH_FAILS_MAX failures the session closes. Credentials never reach
 * the log: the table row is SECRET, and every buffer that held a response
 * is wiped.
 */
#include "smtp/smtp.h"
#include "net/conn.h"
#include "net/loop.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void sasl_challenge(void *p, const struct buf *data)
{
	struct smtp_session *s = p;
	struct buf line = {0};

	sasl_challenge_line(&line, "334 ", data);
	smtp_write(s, line.data, line.len);
	s->reply_code = 334;
	buf_free(&line);
}

/* The command ends here: the exchange may end on a line as well as after
   a step (where the job's end would finish it). */
static void sasl_login(void *p, const struct auth_identity *id, const char *mech,
		       const char *authcid)
{
	struct smtp_session *s = p;
	char login[SASL_NAME_MAX + 1]; /* as the client gave it: the brake's key */

	snprintf(login, sizeof(login), "%s", authcid);
	smtp_reset_auth(s);
	if (!id->enabled || !id->submission_enabled) {
		smtp_reply(s, 535, "5.7.8 Authentication credentials invalid");
		proto_login_record(&s->core, "refused", mech, id->address,
				   !id->enabled ? "disabled" : "submission-disabled", NULL);
		smtp_cmd_finish(s);
		return;
	}
	proto_login_succeeded(&s->core, login);
	s->auth = xmalloc(sizeof(*s->auth));
	*s->auth = *id;
	smtp_reply(s, 235, "2.7.0 Authentication successful");
	proto_login_record(&s->core, "ok", mech, id->address, NULL, NULL);
	smtp_cmd_finish(s);
}

static void sasl_failed(void *p, const char *mech, const char *user)
{
	struct smtp_session *s = p;

	proto_login_record(&s->core, "failed", mech, user, NULL, NULL);
	proto_login_failed(&s->core, user); /* before the reset: `user` belongs to the exchange */
	smtp_reset_auth(s);
	smtp_reply(s, 535, "5.7.8 Authentication credentials invalid");
	if (++s->core.auth_fails >= SMTP_AUTH_FAILS_MAX) {
		smtp_reply(s, 421, "4.7.0 %s Too many authentication failures",
			   smtp_cfg(s)->hostname);
		smtp_session_close(s, "too many authentication failures");
	}
}

static void sasl_end(void *p, enum proto_sasl_end why)
{
	static const struct {
		int code;
		const char *text;
	} replies[] = {
	    [PROTO_SASL_TEMPFAIL] = {454, "4.7.0 Temporary authentication failure"},
	    [PROTO_SASL_MALFORMED] = {501, "5.5.2 Invalid authentication exchange"},
	    [PROTO_SASL_CANCEL] = {501, "5.0.0 Authentication cancelled"}, /* RFC 4954 §4 */
	    [PROTO_SASL_BAD_FINAL] = {501, "5.5.2 Invalid authentication exchange"},
	    [PROTO_SASL_BAD_BASE64] = {501, "5.5.2 Invalid base64 data"},
	};
	struct smtp_session *s = p;
	bool after_step = why == PROTO_SASL_TEMPFAIL || why == PROTO_SASL_MALFORMED;

	smtp_reset_auth(s);
	smtp_reply(s, replies[why].code, "%s", replies[why].text);
	if (!after_step) /* after a step the job's end finishes the command */
		smtp_cmd_finish(s);
	if (why != PROTO_SASL_TEMPFAIL && why != PROTO_SASL_CANCEL)
		smtp_session_error(s);
}

static void finish_sasl(struct smtp_session *s, struct smtp_job *job)
{
	proto_sasl_finish(&job->core);
}

static struct proto_job *sasl_job(void *p)
{
	return &smtp_job_new(p, finish_sasl)->core;
}

const struct proto_sasl_ops smtp_sasl_ops = {
    .job = sasl_job,
    .challenge = sasl_challenge,
    .login = sasl_login,
    .failed = sasl_failed,
    .end = sasl_end,
};

/* Runs one step of the exchange on a worker; in == NULL: no client data.
   The login brake (directory/penalty.h) holds back the step that checks
   the password, right or wrong, so its timing tells nothing. False: the
   pool refused the step, which has answered and ended the exchange. */
static bool sasl_submit(struct smtp_session *s, struct buf *in)
{
	proto_sasl_submit(&s->core, in);
	return s->core.sx.sasl != NULL;
}

bool smtp_auth_mech_offered(const struct smtp_session *s, enum sasl_mech m)
{
	/* plaintext ones too: AUTH itself needs TLS (no SMTP_CMD_PRE_TLS) */
	return proto_sasl_mech_allowed(&s->core, m, true);
}

void smtp_auth_mech_list(const struct smtp_session *s, struct buf *b)
{
	proto_sasl_mech_list(&s->core, true, " ", "", b);
}

static bool auth_start(struct smtp_session *s, enum sasl_mech m, struct buf *ir, bool has_ir)
{
	/* the Kerberos service is "smtp" (RFC 4954 §4) */
	proto_sasl_start(&s->core, m, "smtp");
	return sasl_submit(s, has_ir ? ir : NULL);
}

enum smtp_cmd_result smtp_cmd_auth(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;
	enum sasl_mech m;
	struct slice mech, ir;

	if (s->auth != NULL) {
		smtp_reply(s, 503, "5.5.1 Error: already authenticated"); /* RFC 4954 §4 */
		return SMTP_CMD_ERROR;
	}
	if (!slice_token(ctx->rest, &mech, &ir) || sasl_mech_parse(mech.p, mech.len, &m) < 0 ||
	    !smtp_auth_mech_offered(s, m)) {
		smtp_reply(s, 504, "5.5.4 Unrecognized authentication type");
		return SMTP_CMD_ERROR;
	}
	struct buf in = {0};
	bool has_ir = ir.len > 0;
	if (has_ir && sasl_response_decode(ir, m, &in) < 0) {
		buf_free_secret(&in);
		smtp_reply(s, 501, "5.5.2 Invalid base64 data");
		return SMTP_CMD_ERROR;
	}
	bool started = auth_start(s, m, &in, has_ir);
	buf_free_secret(&in);
	return started ? SMTP_CMD_ASYNC : SMTP_CMD_OK;
}
