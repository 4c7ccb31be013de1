/* SPDX-License-Identifier: MIT */
/*
 * smtp_session.c - one SMTP conversation (RFC 5321 §3): the state machine,
 * the input loop, replies and the per-command record, worker jobs,
 * timeouts and the end of a session.
 *
 *   accept --220--> GREETED --EHLO/HELO--> READY --MAIL--> MAIL --RCPT--> RCPT
 *                     ^                      ^  ^                  |   |
 *                     |                      |  +--RSET, EHLO/HELO-+   | DATA (354)
 *                     |                      |                         v
 *                     |                      +--250/4xx/5xx answer-- DATA
 *                     |                      +--BDAT LAST answer------(RCPT)
 *                     +--STARTTLS: handshake, then everything is forgotten
 *
 * Transitions (all through smtp_enter_state(), which traces "from -> to"):
 *   GREETED|READY|MAIL|RCPT -> READY   EHLO/HELO (a transaction is dropped)
 *   READY -> MAIL                      MAIL accepted
 *   MAIL|RCPT -> RCPT                  RCPT accepted
 *   RCPT -> DATA                       DATA answered 354
 *   DATA -> RCPT                       the terminator arrived; until the answer
 *   MAIL|RCPT -> READY                 RSET, the DATA/BDAT answer, a refused chunk
 *   any -> GREETED                     TLS handshake done (RFC 3207 §4.2)
 * BDAT chunks are read in RCPT state (chunk_reading) and never enter DATA.
 *
 * Commands are handled one at a time, in order (RFC 2920 PIPELINING): while a
 * worker job (a lookup, an AUTH step, the commit of a message), an AUTH step
 * waiting out the login brake, a commit waiting for a free worker, or a TLS
 * handshake is under way, no further input is read. During DATA, input goes
 * to the DATA reader instead of the command parser; the connection's input
 * buffer is consumed as it arrives, so a large message never sits whole in
 * it. Time limits: [smtp] command_timeout between commands, data_timeout
 * while the message arrives.
 */
#include "net/conn.h"
#include "smtp/smtp.h"
#include "net/loop.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/arena.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const state_names[SMTP_STATE_COUNT] = {
    [SMTP_GREETED] = "GREETED", [SMTP_READY] = "READY", [SMTP_MAIL] = "MAIL",
    [SMTP_RCPT] = "RCPT",	[SMTP_DATA] = "DATA",
};

const char *smtp_state_name(enum smtp_state st)
{
	return st < SMTP_STATE_COUNT ? state_names[st] : "?";
}

void smtp_enter_state(struct smtp_session *s, enum smtp_state to)
{
	if (s->state == to)
		return;
	proto_session_trace_state(&s->core, smtp_state_name(s->state), smtp_state_name(to));
	s->state = to;
}

const struct config *smtp_cfg(const struct smtp_session *s)
{
	return s->svc->env->cfg;
}

struct loop *smtp_loop(const struct smtp_session *s)
{
	return s->svc->env->loop;
}

bool smtp_role_submission(const struct smtp_session *s)
{
	return s->submission;
}

/* --- output ------------------------------------------------------------------ */

void smtp_write(struct smtp_session *s, const void *p, size_t n)
{
	proto_session_write(&s->core, p, n);
}

void smtp_reply(struct smtp_session *s, int code, const char *fmt, ...)
{
	char line[512];
	size_t n = (size_t)snprintf(line, sizeof(line), "%03d ", code);
	va_list ap;

	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n - 2, fmt, ap);
	va_end(ap);
	if (m > 0)
		n += (size_t)m < sizeof(line) - n - 2 ? (size_t)m : sizeof(line) - n - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	s->reply_code = code;
	smtp_write(s, line, n);
}

void smtp_reply_store_error(struct smtp_session *s, int status, const char *what)
{
	log_warn("sid=%s smtp store error op=%s status=%d", s->core.sid, what, status);
	/* RFC 5321 §4.2.1: 4yz may succeed later, 5yz will not; RFC 3463 §3.4
	   X.3.0: "other or undefined mail system status" */
	if (status == STORE_PERM)
		smtp_reply(s, 554, "5.3.0 Error: mail store failure");
	else
		smtp_reply(s, 451, "4.3.0 Error: mail store temporarily unavailable, try again");
}

void smtp_session_close(struct smtp_session *s, const char *reason)
{
	proto_session_close(&s->core, reason);
}

void smtp_session_error(struct smtp_session *s)
{
	if (++s->errors >= smtp_config(smtp_cfg(s))->max_errors) {
		smtp_reply(s, 421, "4.7.0 %s Too many errors, closing connection",
			   smtp_cfg(s)->hostname);
		smtp_session_close(s, "too many errors");
	}
}

/* --- per-command record (Postfix success_count/total_count) --------------------- */

void smtp_cmd_begin(struct smtp_session *s, const struct smtp_cmd_def *def, struct slice args)
{
	s->cmd = def;
	s->cmd_active = true;
	s->reply_code = 0;
	s->cmd_start_us = s->core.login_start_us = log_now_usec();
	/* AUTH arguments never reach a record, not even masked */
	if (def != NULL && (def->flags & SMTP_CMD_SECRET))
		args.len = 0;
	size_t n = args.len < SMTP_LOG_ARGS_MAX ? args.len : SMTP_LOG_ARGS_MAX;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)args.p[i];
		s->cmd_args[i] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
	}
	s->cmd_args[n] = '\0';
}

void smtp_cmd_finish(struct smtp_session *s)
{
	if (!s->cmd_active)
		return;
	s->cmd_active = false;
	s->cmds_done++;
	char code[8];
	snprintf(code, sizeof(code), "%d", s->reply_code);
	proto_cmd_record(
	    &s->core, &(struct proto_cmd_done){
			  .stats = s->cmd != NULL ? &s->svc->stats[s->cmd - smtp_cmd_table] : NULL,
			  .name = s->cmd != NULL ? s->cmd->name : NULL,
			  .user = s->auth != NULL ? s->auth->address : NULL,
			  .ok = s->reply_code >= 200 && s->reply_code < 400,
			  .start_us = s->cmd_start_us,
			  .reply = code,
			  .args = s->cmd_args,
			  .state = smtp_state_name(s->state),
			  .extra_max = SMTP_LOG_ARGS_MAX * 2 + 64,
		      });
}

/* --- lifetime -------------------------------------------------------------------- */

void smtp_reset_auth(struct smtp_session *s)
{
	sasl_exchange_end(&s->core.sx);
}

static void session_free(void *p)
{
	struct smtp_session *s = p;

	smtp_tx_free(&s->tx);
	smtp_reset_auth(s);
	if (s->auth != NULL) {
		secure_zero(s->auth, sizeof(*s->auth));
		free(s->auth);
	}
	proto_session_free(&s->core, &s->svc->sessions);
}

/* --- input ----------------------------------------------------------------------- */

static bool data_step(struct smtp_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	size_t used;

	if (in->len == 0)
		return false;
	bool end = smtp_data_feed(&s->data, in->data, in->len, &used);
	buf_consume(in, used);
	if (!end)
		return false;
	conn_set_idle_timeout(s->core.conn, smtp_config(smtp_cfg(s))->command_timeout);
	conn_phase_end(s->core.conn);
	smtp_data_end(s);
	return true;
}

static bool chunk_step(struct smtp_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	size_t n = in->len < s->chunk_left ? in->len : (size_t)s->chunk_left;

	if (n > 0) {
		if (!s->chunk_discard)
			smtp_data_feed_raw(&s->data, in->data, n);
		buf_consume(in, n);
		s->chunk_left -= n;
	}
	if (s->chunk_left > 0)
		return false;
	s->chunk_reading = false;
	conn_set_idle_timeout(s->core.conn, smtp_config(smtp_cfg(s))->command_timeout);
	conn_phase_end(s->core.conn);
	smtp_chunk_end(s);
	return true;
}

static bool next_line(struct smtp_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	char copy[SMTP_AUTH_LINE_MAX];
	struct slice line;
	size_t used;
	/* AUTH lines carry base64 and may be long (RFC 4954 §4) */
	bool auth = s->core.sx.wait != SASL_WAIT_NONE ||
		    (in->len >= 5 && strncasecmp(in->data, "AUTH ", 5) == 0);

	int r = smtp_parse_line(in->data, in->len, auth ? SMTP_AUTH_LINE_MAX : SMTP_LINE_MAX, &line,
				&used);
	if (r == 0)
		return false;
	if (r < 0) {
		/* no resynchronisation after an overlong line: one answer, then close */
		smtp_reply(s, 500, "5.5.2 Line too long");
		smtp_session_close(s, "line too long");
		return false;
	}
	/* copied: the handler may see the input buffer change under it
	   (conn_starttls() discards what is left) */
	memcpy(copy, line.p, line.len);
	line.p = copy;
	buf_consume(in, used);
	conn_unit_done(s->core.conn);
	if (s->core.sx.wait != SASL_WAIT_NONE)
		proto_sasl_line(&s->core, line, false);
	else
		smtp_cmd_dispatch(s, line);
	secure_zero(copy, line.len); /* it may have held a password */
	return true;
}

static bool session_step(void *p)
{
	struct smtp_session *s = p;

	if (s->core.dead || s->core.closing || proto_session_busy(&s->core) || s->core.tls_starting)
		return false;
	if (conn_output_pending(s->core.conn) >= SMTP_OUTBUF_THROTTLE)
		return false; /* resumed by `drained` */
	if (s->state == SMTP_DATA)
		return data_step(s);
	if (s->chunk_reading)
		return chunk_step(s);
	if (s->core.shutdown && s->core.sx.wait == SASL_WAIT_NONE) {
		smtp_reply(s, 421, "4.3.2 %s Service shutting down", smtp_cfg(s)->hostname);
		smtp_session_close(s, "shutdown");
		return false;
	}
	return next_line(s);
}

/* --- jobs (proto/session.h does the rest) ------------------------------------------- */

struct smtp_job *smtp_job_new(struct smtp_session *s, smtp_job_finish_fn *finish)
{
	struct smtp_job *job = proto_job_new(&s->core, sizeof(*job));
	job->sess = s;
	job->delivery = s->svc->env->delivery;
	job->finish = finish;
	return job;
}

static void job_clear(struct proto_job *p)
{
	struct smtp_job *job = (struct smtp_job *)p;

	free(job->ids);
	free(job->notify);
	free(job->orcpt);
	buf_free(&job->msg);
	delivery_out_clear(&job->out);
	smtp_filter_work_free(&job->filt);
	smtp_checks_free(&job->chk);
}

static void job_finish(struct proto_job *p)
{
	struct smtp_job *job = (struct smtp_job *)p;
	struct smtp_session *s = job->sess;

	job->finish(s, job);
	/* the command ends with its answer, unless an AUTH exchange goes on */
	if (s->core.job == NULL && s->core.held == NULL && s->core.sx.wait == SASL_WAIT_NONE)
		smtp_cmd_finish(s);
}

static void busy(void *p)
{
	struct smtp_session *s = p;

	smtp_reply(s, 451, "4.3.0 Server busy, try again later");
	smtp_cmd_finish(s);
}

/* --- connection events (proto/session.h runs them) ------------------------------------ */

static void reset_auth(void *p)
{
	smtp_reset_auth(p);
}

static void tls_ready(void *p)
{
	struct smtp_session *s = p;

	/* RFC 3207 §4.2: forget everything; the client starts with EHLO again */
	smtp_tx_free(&s->tx);
	smtp_reset_auth(s);
	smtp_enter_state(s, SMTP_GREETED);
	s->helo[0] = '\0';
}

static unsigned idle_timeout(void *p)
{
	return smtp_config(smtp_cfg(p))->command_timeout;
}

static void on_timeout(void *p, bool idle)
{
	struct smtp_session *s = p;

	smtp_reply(s, 421, "4.4.2 %s Error: timeout exceeded", smtp_cfg(s)->hostname);
	smtp_session_close(s, "timeout");
}

static void on_closed(void *p, struct conn *c)
{
	struct smtp_session *s = p;
	char extra[64];

	snprintf(extra, sizeof(extra), "messages=%llu state=%s", (unsigned long long)s->messages,
		 smtp_state_name(s->state));
	conn_set_session_info(c, s->auth != NULL ? s->auth->address : NULL, s->cmds_done,
			      s->bytes_in, extra);
}

const struct proto_session_ops smtp_session_ops = {
    .name = "smtp",
    .step = session_step,
    .free = session_free,
    .busy = busy,
    .reset_auth = reset_auth,
    .job_finish = job_finish,
    .job_clear = job_clear,
    .tls_ready = tls_ready,
    .idle_timeout = idle_timeout,
    .timeout = on_timeout,
    .closed = on_closed,
    .sasl = &smtp_sasl_ops,
};

/* proto_session_new() makes the session around its core */
_Static_assert(offsetof(struct smtp_session, core) == 0, "the core comes first");

void smtp_session_start(struct smtp_service *svc, struct conn *c, bool submission)
{
	const struct config *cfg = svc->env->cfg;
	struct smtp_session *s = proto_session_new(sizeof(*s), SMTP_ARENA_FIRST, &smtp_session_ops,
						   svc->env, c, &svc->sessions);

	s->svc = svc;
	s->state = SMTP_GREETED;
	s->submission = submission;
	conn_set_input_max(c, SMTP_AUTH_LINE_MAX);
	conn_set_idle_timeout(c, smtp_config(cfg)->command_timeout);
	smtp_reply(s, 220, "%s ESMTP mailroom", cfg->hostname);
	proto_session_steps(&s->core); /* the client may have spoken first */
}

static bool shutdown_stop(void *p)
{
	struct smtp_session *s = p;

	if (s->state == SMTP_DATA)
		return false; /* let the message arrive; 421 follows its answer */
	/* an AUTH exchange waiting for the client ends now; a step on a
	   worker or waiting out the login brake holds s->core.sx */
	if (s->core.sx.wait != SASL_WAIT_NONE)
		smtp_reset_auth(s);
	return true;
}

void smtp_service_shutdown(struct smtp_service *svc)
{
	proto_session_list_shutdown(&svc->sessions, shutdown_stop);
}

/* --- the service entry (proto/service.h) ------------------------------------ */

enum { SMTP_PORT_RELAY, SMTP_PORT_SUBMISSION };

static const char smtp_busy[] = "421 4.7.0 Too many connections, try again later\r\n";

static const struct service_port smtp_ports[] = {
    {.name = "smtp", .listen = "127.0.0.1:2525", .busy = smtp_busy, .kind = SMTP_PORT_RELAY},
    {.name = "submission",
     .listen = "127.0.0.1:2587",
     .busy = smtp_busy,
     .kind = SMTP_PORT_SUBMISSION},
    {.name = "submissions",
     .listen = "127.0.0.1:2465",
     .implicit_tls = true,
     .kind = SMTP_PORT_SUBMISSION},
};

static void *svc_create(const struct service_env *env)
{
	return smtp_service_new(env);
}

static void svc_session(void *svc, struct conn *c, const struct service_port *port)
{
	smtp_session_start(svc, c, port->kind == SMTP_PORT_SUBMISSION);
}

static unsigned svc_sessions(const void *svc)
{
	return smtp_service_sessions(svc);
}

static void svc_shutdown(void *svc)
{
	smtp_service_shutdown(svc);
}

static void svc_destroy(void *svc)
{
	struct smtp_service *p = svc;
	smtp_service_free(&p);
}

const struct service smtp_service = {
    .name = "smtp",
    .alpn = "smtp",
    .ports = smtp_ports,
    .n_ports = sizeof(smtp_ports) / sizeof(smtp_ports[0]),
    .config = &smtp_config_section,
    .create = svc_create,
    .session = svc_session,
    .sessions = svc_sessions,
    .shutdown = svc_shutdown,
    .destroy = svc_destroy,
};
