/* SPDX-License-Identifier: MIT */
/*
 * smtp_session.c - one SMTP conversation: input loop, replies, DATA phase,
 * worker jobs, timeouts and the end of a session.
 *
 *   accept --220--> GREETED --EHLO/HELO--> READY --MAIL--> MAIL --RCPT--> RCPT
 *                                            ^                              |
 *                                            +--250/4xx/5xx <-- DATA <--354-+
 *   RSET: back to READY. STARTTLS: back to GREETED, everything forgotten.
 *
 * Commands are handled one at a time, in order (RFC 2920 PIPELINING): while a
 * worker job (a lookup, an AUTH step, the commit of a message) or a TLS
 * handshake is under way, no further input is read. During DATA, input goes
 * to the DATA reader instead of the command parser; the connection's input
 * buffer is consumed as it arrives, so a large message never sits whole in
 * it. Time limits: [smtp] command_timeout between commands, data_timeout
 * while the message arrives.
 */
#include "net/conn.h"
#include "net/loop.h"
#include "server/server.h"
#include "smtp/smtp_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct config *smtp_config(const struct smtp_session *s)
{
	return s->svc->srv->cfg;
}

bool smtp_role_submission(const struct smtp_session *s)
{
	enum listen_role r = s->conn != NULL ? conn_role(s->conn) : ROLE_SMTP;
	return r == ROLE_SUBMISSION || r == ROLE_SUBMISSIONS;
}

void smtp_write(struct smtp_session *s, const void *p, size_t n)
{
	if (s->conn != NULL && !s->closing)
		conn_write(s->conn, p, n);
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
	smtp_write(s, line, n);
}

void smtp_session_close(struct smtp_session *s, const char *reason)
{
	if (s->closing || s->conn == NULL)
		return;
	s->closing = true;
	conn_close(s->conn, reason);
}

void smtp_session_error(struct smtp_session *s)
{
	if (++s->errors >= smtp_config(s)->smtp_max_errors) {
		smtp_reply(s, 421, "4.7.0 %s Too many errors, closing connection",
			   smtp_config(s)->hostname);
		smtp_session_close(s, "too many errors");
	}
}

void smtp_txn_reset(struct smtp_session *s)
{
	struct smtp_txn *t = s->txn;

	if (t != NULL) {
		for (size_t i = 0; i < t->n_remote; i++) {
			free((char *)t->remote[i].address);
			free((char *)t->remote[i].dsn_notify);
			free((char *)t->remote[i].dsn_orcpt);
		}
		free(t->remote);
		free(t->local);
		free(t->dsn_envid);
		free(t->dsn_ret);
		free(t);
		s->txn = NULL;
	}
	buf_free(&s->body);
	s->bdat_started = false;
	if (s->state > SMTP_READY)
		s->state = SMTP_READY;
}

void smtp_reset_auth(struct smtp_session *s)
{
	sasl_server_free(&s->sasl);
	s->sasl_wait = SMTP_SASL_IDLE;
	if (s->pending != NULL) {
		secure_zero(s->pending, sizeof(*s->pending));
		free(s->pending);
		s->pending = NULL;
	}
}

static void session_free(struct smtp_session *s)
{
	smtp_txn_reset(s);
	smtp_reset_auth(s);
	free(s->auth);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		s->svc->first = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->svc->sessions--;
	free(s);
}

static void session_leave(struct smtp_session *s)
{
	s->in_run = false;
	if (s->dead && s->job == NULL)
		session_free(s);
}

/* --- input ----------------------------------------------------------------- */

static bool data_step(struct smtp_session *s)
{
	struct buf *in = conn_input(s->conn);
	size_t used;

	if (in->len == 0)
		return false;
	bool end = smtp_data_feed(&s->data, in->data, in->len, &used);
	buf_consume(in, used);
	if (!end)
		return false;
	conn_set_idle_timeout(s->conn, smtp_config(s)->smtp_command_timeout);
	conn_phase_end(s->conn);
	smtp_data_end(s);
	return true;
}

static bool chunk_step(struct smtp_session *s)
{
	struct buf *in = conn_input(s->conn);
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
	conn_set_idle_timeout(s->conn, smtp_config(s)->smtp_command_timeout);
	conn_phase_end(s->conn);
	smtp_chunk_end(s);
	return true;
}

static bool next_line(struct smtp_session *s)
{
	struct buf *in = conn_input(s->conn);
	char copy[SMTP_AUTH_LINE_MAX];
	struct slice line;
	size_t used;
	/* AUTH lines carry base64 and may be long (RFC 4954 §4) */
	bool auth = s->sasl_wait != SMTP_SASL_IDLE ||
		    (in->len >= 5 && strncasecmp(in->data, "AUTH ", 5) == 0);

	int r = smtp_parse_line(in->data, in->len, auth ? SMTP_AUTH_LINE_MAX : SMTP_LINE_MAX,
				&line, &used);
	if (r == 0)
		return false;
	if (r < 0) {
		/* no resynchronisation after an overlong line: one answer, then close */
		smtp_reply(s, 500, "5.5.2 Line too long");
		log_info("sid=%s smtp line too long ip=%s", s->sid, s->ip);
		smtp_session_close(s, "line too long");
		return false;
	}
	memcpy(copy, line.p, line.len);
	line.p = copy;
	buf_consume(in, used);
	conn_unit_done(s->conn);
	if (s->sasl_wait != SMTP_SASL_IDLE)
		smtp_auth_line(s, line);
	else
		smtp_cmd_dispatch(s, line);
	secure_zero(copy, line.len);
	return true;
}

static bool session_step(struct smtp_session *s)
{
	if (s->dead || s->closing || s->job != NULL || s->brake != NULL || s->tls_starting)
		return false;
	if (conn_output_pending(s->conn) >= SMTP_OUTBUF_THROTTLE)
		return false;
	if (s->state == SMTP_DATA)
		return data_step(s);
	if (s->chunk_reading)
		return chunk_step(s);
	if (s->shutdown && s->sasl_wait == SMTP_SASL_IDLE) {
		smtp_reply(s, 421, "4.3.2 %s Service shutting down", smtp_config(s)->hostname);
		smtp_session_close(s, "shutdown");
		return false;
	}
	return next_line(s);
}

static void session_run(struct smtp_session *s)
{
	if (s->in_run)
		return;
	s->in_run = true;
	while (session_step(s))
		;
	session_leave(s);
}

/* --- jobs -------------------------------------------------------------------- */

struct smtp_job *smtp_job_new(struct smtp_session *s, smtp_job_finish_fn *finish)
{
	struct smtp_job *job = xcalloc(1, sizeof(*job));
	job->sess = s;
	job->finish = finish;
	return job;
}

static void job_free(struct smtp_job *job)
{
	free(job->ids);
	for (size_t i = 0; i < job->n_forward; i++)
		free(job->forward[i]);
	free(job->forward);
	free(job->notify);
	free(job->orcpt);
	buf_free_secret(&job->in);
	buf_free(&job->out);
	buf_free(&job->msg);
	secure_zero(&job->id, sizeof(job->id));
	free(job);
}

void smtp_job_complete(struct smtp_job *job)
{
	smtp_job_done(job);
}

void smtp_job_done(void *p)
{
	struct smtp_job *job = p;
	struct smtp_session *s = job->sess;
	bool nested = s->in_run;

	s->job = NULL;
	s->in_run = true;
	if (!s->dead)
		job->finish(s, job);
	job_free(job);
	if (nested)
		return;
	while (session_step(s))
		;
	session_leave(s);
}

bool smtp_job_submit(struct smtp_session *s, struct smtp_job *job, worker_fn *fn)
{
	s->job = job;
	if (workers_submit(s->svc->srv->workers, fn, smtp_job_done, job) == 0)
		return true;
	s->job = NULL;
	job_free(job);
	log_warn("sid=%s smtp worker queue full", s->sid);
	smtp_reply(s, 451, "4.3.0 Server busy, try again later");
	return false;
}

static void brake_fired(struct loop *l, void *ctx)
{
	struct smtp_session *s = ctx;
	struct smtp_job *job = s->braked;

	s->brake = NULL;
	s->braked = NULL;
	if (s->in_run)
		log_panic("sid=%s smtp timer inside a callback frame", s->sid);
	s->in_run = true;
	if (!smtp_job_submit(s, job, job->worker))
		smtp_reset_auth(s);
	while (session_step(s))
		;
	session_leave(s);
}

void smtp_job_submit_after(struct smtp_session *s, struct smtp_job *job, worker_fn *fn,
			   uint64_t wait_ms)
{
	if (wait_ms == 0) {
		if (!smtp_job_submit(s, job, fn))
			smtp_reset_auth(s);
		return;
	}
	job->worker = fn;
	s->braked = job;
	s->brake = loop_timer_add(s->svc->srv->loop, wait_ms, brake_fired, s);
}

/* --- connection events --------------------------------------------------------- */

static void on_data_in(struct conn *c, void *ctx)
{
	session_run(ctx);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	/* RFC 3207 §4.2: forget everything; the client starts with EHLO again */
	s->tls_starting = false;
	smtp_txn_reset(s);
	smtp_reset_auth(s);
	s->state = SMTP_GREETED;
	s->helo[0] = '\0';
	log_debug("sid=%s smtp tls started %s", s->sid, conn_tls_desc(c));
	session_run(s);
}

static void on_timeout(struct conn *c, void *ctx)
{
	struct smtp_session *s = ctx;

	if (s->in_run)
		return;
	if (s->job != NULL || s->brake != NULL) { /* our side is busy, not the client */
		conn_set_idle_timeout(c, smtp_config(s)->smtp_command_timeout);
		return;
	}
	s->in_run = true;
	smtp_reply(s, 421, "4.4.2 %s Error: timeout exceeded", smtp_config(s)->hostname);
	log_info("sid=%s smtp timeout state=%d ip=%s", s->sid, (int)s->state, s->ip);
	smtp_session_close(s, "timeout");
	session_leave(s);
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
	struct smtp_session *s = ctx;

	s->conn = NULL;
	s->dead = true;
	loop_timer_del(s->svc->srv->loop, &s->brake);
	if (s->braked != NULL) {
		job_free(s->braked);
		s->braked = NULL;
	}
	log_debug("sid=%s smtp end reason=%s commands=%u", s->sid, reason, s->commands);
	if (!s->in_run && s->job == NULL)
		session_free(s);
}

static const struct conn_events smtp_conn_events = {
    .data_in = on_data_in,
    .drained = on_data_in,
    .tls_ready = on_tls_ready,
    .timeout = on_timeout,
    .closed = on_closed,
};

void smtp_session_start(struct smtp_service *svc, struct conn *c)
{
	const struct config *cfg = svc->srv->cfg;
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->svc = svc;
	s->conn = c;
	s->state = SMTP_GREETED;
	snprintf(s->sid, sizeof(s->sid), "%s", conn_id(c));
	snprintf(s->ip, sizeof(s->ip), "%s", conn_peer_ip(c));
	s->shutdown = svc->stopping;
	s->next = svc->first;
	if (s->next != NULL)
		s->next->prev = s;
	svc->first = s;
	svc->sessions++;

	conn_set_events(c, &smtp_conn_events, s);
	conn_set_input_max(c, SMTP_AUTH_LINE_MAX);
	conn_set_idle_timeout(c, cfg->smtp_command_timeout);
	s->in_run = true;
	smtp_reply(s, 220, "%s ESMTP mailroom", cfg->hostname);
	while (session_step(s))
		;
	session_leave(s);
}

void smtp_service_shutdown(struct smtp_service *svc)
{
	svc->stopping = true;
	for (struct smtp_session *s = svc->first, *next; s != NULL; s = next) {
		next = s->next;
		s->shutdown = true;
		if (s->state == SMTP_DATA)
			continue; /* let the message arrive; 421 follows its answer */
		/* an AUTH exchange waiting for the client ends now; a step on a
		   worker or waiting out the login brake holds s->sasl */
		if (s->sasl_wait != SMTP_SASL_IDLE)
			smtp_reset_auth(s);
		session_run(s);
	}
}
