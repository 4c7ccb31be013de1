/* SPDX-License-Identifier: MIT */
/*
 * smtp_auth.c - SMTP AUTH (RFC 4954) on the submission roles: the command,
 * the SASL exchange driven one worker step at a time (proto/sasl_job.h),
 * the lines of the client in between, and the login's outcome.
 *
 * The dispatcher has already checked the role, TLS and the state (READY);
 * here only the meaning of the arguments is judged. Every outcome is
 * recorded in the shared penalty table (directory/penalty.h), and its login
 * brake may hold back the step that checks a password; after
 * SMTP_AUTH_FAILS_MAX failures the session closes. Credentials never reach
 * the log: the table row is SECRET, and every buffer that held a response
 * is wiped.
 */
#include "directory/penalty.h"
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

static void work_sasl(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;

	sasl_job_run(&job->sasl, thread_ctx);
}

static void send_challenge(struct smtp_session *s, const struct buf *data)
{
	struct buf line = {0};

	sasl_challenge_line(&line, "334 ", data);
	smtp_write(s, line.data, line.len);
	s->reply_code = 334;
	buf_free(&line);
}

static void auth_success(struct smtp_session *s, const struct auth_identity *id, const char *mech)
{
	struct penalty *pen = s->svc->env->penalty;
	char login[SASL_NAME_MAX + 1]; /* as the client gave it: the brake's key */

	snprintf(login, sizeof(login), "%s", sasl_server_authcid(s->sx.sasl));
	smtp_reset_auth(s);
	if (!id->enabled || !id->submission_enabled) {
		smtp_reply(s, 535, "5.7.8 Authentication credentials invalid");
		smtp_login_record(s, "refused", mech, id->address,
				  !id->enabled ? "disabled" : "submission-disabled");
		return;
	}
	if (pen != NULL)
		penalty_success(pen, s->ip, login, loop_now_ms(smtp_loop(s)));
	s->auth = xmalloc(sizeof(*s->auth));
	*s->auth = *id;
	smtp_reply(s, 235, "2.7.0 Authentication successful");
	smtp_login_record(s, "ok", mech, id->address, NULL);
}

static void auth_failed(struct smtp_session *s, const char *mech)
{
	struct penalty *pen = s->svc->env->penalty;
	const char *user = s->sx.sasl != NULL ? sasl_server_authcid(s->sx.sasl) : "";

	smtp_login_record(s, "failed", mech, user, NULL);
	if (pen != NULL) /* before the reset: `user` belongs to the exchange */
		penalty_fail(pen, s->ip, *user != '\0' ? user : NULL, loop_now_ms(smtp_loop(s)));
	smtp_reset_auth(s);
	smtp_reply(s, 535, "5.7.8 Authentication credentials invalid");
	if (++s->auth_fails >= SMTP_AUTH_FAILS_MAX) {
		smtp_reply(s, 421, "4.7.0 %s Too many authentication failures",
			   smtp_cfg(s)->hostname);
		smtp_session_close(s, "too many authentication failures");
	}
}

static void finish_sasl(struct smtp_session *s, struct smtp_job *job)
{
	const char *mech = sasl_mech_name(sasl_server_mech(s->sx.sasl));

	switch (sasl_exchange_result(&s->sx, &job->sasl)) {
	case SASL_OUTCOME_CHALLENGE:
		send_challenge(s, &job->sasl.out);
		return;
	case SASL_OUTCOME_SUCCESS:
		auth_success(s, &job->sasl.id, mech);
		return;
	case SASL_OUTCOME_FAILED:
		auth_failed(s, mech);
		return;
	case SASL_OUTCOME_TEMPFAIL:
		smtp_login_record(s, "error", mech, sasl_server_authcid(s->sx.sasl), "tempfail");
		smtp_reset_auth(s);
		smtp_reply(s, 454, "4.7.0 Temporary authentication failure");
		return;
	case SASL_OUTCOME_MALFORMED:
		break;
	}
	smtp_login_record(s, "failed", mech, NULL, "malformed");
	smtp_reset_auth(s);
	smtp_reply(s, 501, "5.5.2 Invalid authentication exchange");
	smtp_session_error(s);
}

/* Runs one step of the exchange on a worker; in == NULL: no client data.
   The login brake (directory/penalty.h) holds back the step that checks
   the password, right or wrong, so its timing tells nothing. False: the
   pool refused the step, which has answered and ended the exchange. */
static bool sasl_submit(struct smtp_session *s, struct buf *in)
{
	struct smtp_job *job = smtp_job_new(s, finish_sasl);
	uint64_t wait = sasl_job_brake_ms(s->sx.sasl, in, s->svc->env->penalty, s->ip,
					  loop_now_ms(smtp_loop(s)));

	sasl_job_init(&job->sasl, s->sx.sasl, in);
	smtp_job_submit_after(s, job, work_sasl, wait);
	return s->sx.sasl != NULL;
}

bool smtp_auth_mech_offered(const struct smtp_session *s, enum sasl_mech m)
{
	/* EXTERNAL only for a verified client certificate ([tls] client_ca) */
	if (m == SASL_EXTERNAL)
		return conn_tls_identity(s->conn) != NULL;
	/* GSSAPI needs a keytab ([gssapi]) */
	if (m == SASL_GSSAPI)
		return sasl_gssapi_configured(smtp_cfg(s));
	/* SCRAM needs a verifier that only some backends hold */
	return m != SASL_SCRAM_SHA_256 || directory_offers(s->svc->env->dir, DIRECTORY_SCRAM);
}

void smtp_auth_mech_list(const struct smtp_session *s, struct buf *b)
{
	static const enum sasl_mech order[] = {SASL_EXTERNAL, SASL_SCRAM_SHA_256, SASL_GSSAPI,
					       SASL_PLAIN, SASL_LOGIN};
	for (size_t i = 0; i < N_ELEMENTS(order); i++)
		if (smtp_auth_mech_offered(s, order[i]))
			buf_printf(b, " %s", sasl_mech_name(order[i]));
}

static bool auth_start(struct smtp_session *s, enum sasl_mech m, struct buf *ir, bool has_ir)
{
	/* the Kerberos service is "smtp" (RFC 4954 §4) */
	sasl_exchange_start(&s->sx, m, s->svc->env->dir, conn_tls_identity(s->conn), smtp_cfg(s),
			    "smtp");
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

void smtp_auth_line(struct smtp_session *s, struct slice line)
{
	struct buf in = {0};
	struct auth_identity id;

	s->login_start_us = log_now_usec(); /* the login's time runs from here */
	switch (sasl_exchange_line(&s->sx, line, false, &in, &id)) {
	case SASL_LINE_STEP:
		sasl_submit(s, &in);
		buf_free_secret(&in);
		return;
	case SASL_LINE_CANCEL:
		/* RFC 4954 §4: the client cancels */
		smtp_reset_auth(s);
		smtp_reply(s, 501, "5.0.0 Authentication cancelled");
		smtp_cmd_finish(s);
		return;
	case SASL_LINE_DONE:
		auth_success(s, &id, sasl_mech_name(sasl_server_mech(s->sx.sasl)));
		secure_zero(&id, sizeof(id));
		smtp_cmd_finish(s);
		return;
	case SASL_LINE_BAD_FINAL:
		smtp_reset_auth(s);
		smtp_reply(s, 501, "5.5.2 Invalid authentication exchange");
		break;
	case SASL_LINE_BAD_BASE64:
		smtp_reset_auth(s);
		smtp_reply(s, 501, "5.5.2 Invalid base64 data");
		break;
	}
	smtp_cmd_finish(s);
	smtp_session_error(s);
}
