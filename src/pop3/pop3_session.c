/* SPDX-License-Identifier: MIT */
/*
 * pop3_session.c - one POP3 conversation (RFC 1939 §3): the state machine,
 * the input loop, replies, worker jobs and long replies.
 *
 *   accept --greeting--> AUTHORIZATION --login ok, mailbox locked--> TRANSACTION
 *                          |   ^    and its snapshot loaded             |
 *                          |   |                                        | QUIT
 *                          |   +-- STLS: TLS handshake, then USER and   v
 *                          |       any SASL exchange are forgotten   UPDATE
 *                          | QUIT                                       | expunge done
 *                          v                                            v  (or failed)
 *                        LOGOUT <-----------------------------------LOGOUT
 *
 * Every transition goes through pop3_session_set_state(), which logs
 * "from -> to". Any state can end early (idle timeout, line too long, too
 * many bad commands or failed logins, the peer going away): the session
 * goes to LOGOUT without passing UPDATE, so nothing is deleted (RFC 1939 §6).
 *
 * Input is handled one line at a time, in order (RFC 2449 PIPELINING). While
 * a worker job, a login check waiting out the brake, a delayed step, a long
 * reply or a TLS handshake is under way, or while more than
 * POP3_OUTBUF_THROTTLE bytes wait to be sent (Dovecot's
 * POP3_OUTBUF_THROTTLE_SIZE), no further line is read; the `drained`,
 * job-done and timer events pick up where it stopped. Each of those entry
 * points runs inside one frame (in_run): a `closed` event that arrives inside
 * a frame only marks the session dead, and the frame frees it on the way
 * out, or the job's done callback does if a job is outstanding.
 */
#include "net/conn.h"
#include "pop3/pop3.h"
#include "net/loop.h"
#include "pop3/pop3_private.h"
#include "proto/service.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POP3_REPLY_MAX 512

struct pop3_cont {
	bool uidl;		 /* listing kind */
	uint32_t next;		 /* listing: next message index */
	pop3_cont_step_fn *step; /* a reply in steps (RETR/TOP), else a listing */
	void (*free_fn)(void *ctx);
	void *ctx;
};

static const char *const state_names[POP3_STATE_COUNT] = {
    [POP3_STATE_AUTHORIZATION] = "AUTHORIZATION",
    [POP3_STATE_TRANSACTION] = "TRANSACTION",
    [POP3_STATE_UPDATE] = "UPDATE",
    [POP3_STATE_LOGOUT] = "LOGOUT",
};

const char *pop3_state_name(enum pop3_state st)
{
	return st < POP3_STATE_COUNT ? state_names[st] : "?";
}

void pop3_session_set_state(struct pop3_session *s, enum pop3_state to)
{
	if (s->state == to)
		return;
	proto_session_trace_state(&s->core, pop3_state_name(s->state), pop3_state_name(to));
	s->state = to;
}

struct loop *pop3_loop(const struct pop3_session *s)
{
	return s->svc->env->loop;
}

/* --- output ----------------------------------------------------------------- */

void pop3_write(struct pop3_session *s, const void *p, size_t n)
{
	if (proto_session_write(&s->core, p, n))
		s->progress += n;
}

void pop3_reply(struct pop3_session *s, bool ok, const char *fmt, ...)
{
	char line[POP3_REPLY_MAX];
	size_t n = (size_t)snprintf(line, sizeof(line), "%s ", ok ? "+OK" : "-ERR");
	size_t room = sizeof(line) - n - 2; /* CR LF */
	va_list ap;

	va_start(ap, fmt);
	int m = vsnprintf(line + n, room, fmt, ap);
	va_end(ap);
	if (m <= 0)
		n--; /* no text: no space after the status */
	else
		n += (size_t)m < room ? (size_t)m : room - 1; /* truncated */
	line[n++] = '\r';
	line[n++] = '\n';
	s->reply_ok = ok;
	pop3_write(s, line, n);
}

void pop3_reply_store_error(struct pop3_session *s, int status, const char *what)
{
	log_warn("sid=%s pop3 store error op=%s status=%d", s->core.sid, what, status);
	/* RFC 3206 §4: SYS/TEMP may succeed later, SYS/PERM will not */
	if (status == STORE_PERM)
		pop3_reply(s, false, "[SYS/PERM] Mail store failure");
	else
		pop3_reply(s, false,
			   "[SYS/TEMP] Mail store temporarily unavailable, try again later");
}

/* --- per-command record ----------------------------------------------------- */

void pop3_cmd_begin(struct pop3_session *s, const struct pop3_cmd_def *def, struct slice args)
{
	s->cmd = def;
	s->cmd_active = true;
	s->reply_ok = false;
	s->cmd_start_us = s->core.login_start_us = log_now_usec();
	s->cmd_progress = s->progress;
	/* PASS, APOP and AUTH arguments never reach a record, not even masked */
	if (def != NULL && (def->flags & POP3_CMD_SECRET))
		args.len = 0;
	size_t n = args.len < POP3_LOG_ARGS_MAX ? args.len : POP3_LOG_ARGS_MAX;
	memcpy(s->cmd_args, args.p, n);
	s->cmd_args[n] = '\0';
}

void pop3_cmd_finish(struct pop3_session *s)
{
	if (!s->cmd_active)
		return;
	s->cmd_active = false;
	s->commands++;
	/* RETR/TOP: the reply's octets, once its last one is queued */
	bool body = s->cmd != NULL && (s->cmd->flags & POP3_CMD_BODY);
	proto_cmd_record(
	    &s->core, &(struct proto_cmd_done){
			  .stats = s->cmd != NULL ? &s->svc->stats[s->cmd - pop3_cmd_table] : NULL,
			  .name = s->cmd != NULL ? s->cmd->name : NULL,
			  .user = s->address,
			  .ok = s->reply_ok,
			  .start_us = s->cmd_start_us,
			  .bytes = body ? s->progress - s->cmd_progress : 0,
			  .args = s->cmd_args,
			  .state = pop3_state_name(s->state),
			  .extra_max = POP3_LOG_ARGS_MAX * 2 + 48,
		      });
}

void pop3_session_bad_command(struct pop3_session *s)
{
	if (++s->bad_cmds > POP3_BAD_CMDS_MAX)
		pop3_session_close(s, "too many bad commands");
}

/* --- lifetime ----------------------------------------------------------------- */

void pop3_session_reset_auth(struct pop3_session *s)
{
	secret_free(&s->user);
	sasl_exchange_end(&s->core.sx);
}

static void cont_free(struct pop3_cont **cp)
{
	if (*cp == NULL)
		return;
	if ((*cp)->free_fn != NULL)
		(*cp)->free_fn((*cp)->ctx);
	free(*cp);
	*cp = NULL;
}

static void session_free(void *p)
{
	struct pop3_session *s = p;

	if (s->locked)
		pop3_unlock_mailbox(s->svc, s->mailbox_id);
	pop3_session_reset_auth(s);
	cont_free(&s->cont);
	pop3_ahead_free(s->svc, &s->ahead, &s->n_ahead);
	proto_session_free(&s->core, &s->svc->sessions);
}

void pop3_session_close(struct pop3_session *s, const char *reason)
{
	if (s->core.closing || s->core.conn == NULL)
		return;
	pop3_session_set_state(s, POP3_STATE_LOGOUT);
	proto_session_close(&s->core, reason);
}

/* --- long replies ------------------------------------------------------------- */

void pop3_cont_list(struct pop3_session *s, bool uidl)
{
	s->cont = xcalloc(1, sizeof(*s->cont));
	s->cont->uidl = uidl;
}

void pop3_cont_steps(struct pop3_session *s, pop3_cont_step_fn *step, void (*free_fn)(void *),
		     void *ctx)
{
	s->cont = xcalloc(1, sizeof(*s->cont));
	s->cont->step = step;
	s->cont->free_fn = free_fn;
	s->cont->ctx = ctx;
}

/* Writes one chunk of the long reply; ends the command after the last. */
static void cont_pump(struct pop3_session *s)
{
	struct pop3_cont *c = s->cont;
	bool done;

	if (c->step != NULL) {
		done = c->step(s, c->ctx);
	} else {
		struct buf chunk = {0};
		while (chunk.len < POP3_CHUNK && c->next < s->n_msgs) {
			const struct pop3_msg *m = &s->msgs[c->next++];
			if (m->deleted)
				continue;
			if (c->uidl)
				buf_printf(&chunk, "%u %.*s\r\n", c->next, (int)m->uidl_len,
					   s->uidls + m->uidl_off);
			else
				buf_printf(&chunk, "%u %llu\r\n", c->next,
					   (unsigned long long)m->size);
		}
		done = c->next == s->n_msgs;
		if (done)
			buf_append_str(&chunk, ".\r\n");
		pop3_write(s, chunk.data, chunk.len);
		buf_free(&chunk);
	}
	if (done) {
		cont_free(&s->cont);
		pop3_cmd_finish(s);
	}
}

/* --- input ------------------------------------------------------------------------ */

/* Handles the next complete input line; false if there is none. */
static bool session_next_line(struct pop3_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	char copy[POP3_LONG_LINE_MAX];
	struct slice line;
	size_t used;

	int r = pop3_parse_line(in->data, in->len, POP3_LONG_LINE_MAX, &line, &used);
	if (r == 0)
		return false;
	if (r < 0) {
		/* nginx ngx_mail_read_command: one answer, then close */
		pop3_reply(s, false, "Line too long");
		pop3_session_close(s, "line too long");
		return false;
	}
	/* the line is copied so the handler may see the input buffer change
	   under it (conn_starttls() discards what is left) */
	memcpy(copy, line.p, line.len);
	line.p = copy;
	buf_consume(in, used);
	conn_unit_done(s->core.conn);
	if (s->core.sx.wait != SASL_WAIT_NONE)
		pop3_auth_sasl_line(s, line);
	else
		pop3_cmd_dispatch(s, line, used);
	secure_zero(copy, line.len); /* it may have held a password */
	return true;
}

/* One step of work; false when the session must wait for an event. */
static bool session_step(void *p)
{
	struct pop3_session *s = p;

	if (s->core.dead || s->core.closing || proto_session_busy(&s->core) || s->delay != NULL ||
	    s->core.tls_starting)
		return false;
	if (conn_output_pending(s->core.conn) >= POP3_OUTBUF_THROTTLE)
		return false; /* resumed by `drained` */
	if (s->cont != NULL) {
		/* a step writes a whole store piece: the next one only once the
		   output is empty, so a session holds one piece, not two */
		if (s->cont->step != NULL && conn_output_pending(s->core.conn) > 0)
			return false; /* resumed by `drained` */
		cont_pump(s);
		return true;
	}
	if (s->core.shutdown && !s->cmd_active) {
		/* between commands (an AUTH exchange counts as one command) */
		pop3_reply(s, false, "[SYS/TEMP] Server shutting down");
		pop3_session_close(s, "shutdown");
		return false;
	}
	return session_next_line(s);
}

/* --- worker jobs (proto/session.h does the rest) ---------------------------------- */

struct pop3_job *pop3_job_new(struct pop3_session *s, pop3_job_finish_fn *finish)
{
	struct pop3_job *job = proto_job_new(&s->core, sizeof(*job));
	job->sess = s;
	job->finish = finish;
	return job;
}

static void job_clear(struct proto_job *p)
{
	struct pop3_job *job = (struct pop3_job *)p;

	buf_free(&job->out);
	pop3_ahead_free(job->sess->svc, &job->ahead, &job->n_ahead);
	free(job->msgs);
	free(job->ids);
}

static void job_finish(struct proto_job *p)
{
	struct pop3_job *job = (struct pop3_job *)p;
	job->finish(job->sess, job);
}

static void busy(void *p)
{
	struct pop3_session *s = p;

	pop3_reply(s, false, "[SYS/TEMP] Server busy, try again later");
	pop3_cmd_finish(s);
}

/* --- delayed steps ------------------------------------------------------------------ */

static void delay_fired(struct loop *l, void *ctx)
{
	struct pop3_session *s = ctx;
	void (*fn)(struct pop3_session *) = s->delay_fn;

	s->delay = NULL;
	s->delay_fn = NULL;
	proto_session_enter(&s->core);
	fn(s);
	proto_session_steps(&s->core);
}

void pop3_session_delay(struct pop3_session *s, uint64_t ms, void (*fn)(struct pop3_session *s))
{
	if (ms == 0) {
		fn(s);
		return;
	}
	s->delay_fn = fn;
	s->delay = loop_timer_add(pop3_loop(s), ms, delay_fired, s);
}

/* --- connection events (proto/session.h runs them) --------------------------------- */

/* also after the TLS handshake: RFC 2595 §4, forget everything learnt
   before it */
static void reset_auth(void *p)
{
	pop3_session_reset_auth(p);
}

/* Not idle while a delay waits or a long reply still moves. */
static bool timeout_busy(void *p)
{
	struct pop3_session *s = p;
	bool busy = s->delay != NULL || (s->cont != NULL && s->progress != s->progress_at_timeout);

	s->progress_at_timeout = s->progress;
	return busy;
}

static unsigned idle_timeout(void *p)
{
	return pop3_cfg(p)->idle_timeout;
}

static void on_timeout(void *p, bool idle)
{
	struct pop3_session *s = p;

	/* RFC 1939 §3 lets us just close; a last line tells the user why */
	cont_free(&s->cont);
	if (idle)
		pop3_reply(s, false, "Autologout; idle for too long");
	else
		pop3_reply(s, false, "Autologout; command line not completed in time");
	pop3_session_close(s, "timeout");
}

static void on_closed(void *p, struct conn *c)
{
	struct pop3_session *s = p;

	loop_timer_del(pop3_loop(s), &s->delay);
	char extra[64] = "";
	if (s->address != NULL)
		snprintf(extra, sizeof(extra), "retrieved=%u deleted=%u", s->retrieved,
			 s->expunged);
	conn_set_session_info(c, s->address, s->commands, s->bytes_out, extra);
}

static const struct proto_session_ops pop3_session_ops = {
    .name = "pop3",
    .step = session_step,
    .free = session_free,
    .busy = busy,
    .reset_auth = reset_auth,
    .job_finish = job_finish,
    .job_clear = job_clear,
    .timeout_busy = timeout_busy,
    .idle_timeout = idle_timeout,
    .timeout = on_timeout,
    .closed = on_closed,
    .sasl = &pop3_sasl_ops,
};

/* --- start ------------------------------------------------------------------------- */

/* RFC 1939 §7: "<process-ID.clock@hostname>", different for every greeting;
   the random part keeps it unpredictable across restarts. */
static const char *make_timestamp(struct pop3_session *s, const char *hostname)
{
	uint32_t rnd = 0;
	char tmp[300];

	if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
		log_panic("RAND_bytes failed");
	snprintf(tmp, sizeof(tmp), "<%ld.%llu.%08x@%.200s>", (long)getpid(),
		 (unsigned long long)++s->svc->timestamps, rnd, hostname);
	return arena_strdup(s->core.arena, tmp);
}

/* proto_session_new() makes the session around its core */
_Static_assert(offsetof(struct pop3_session, core) == 0, "the core comes first");

void pop3_session_start(struct pop3_service *svc, struct conn *c)
{
	const struct config *cfg = svc->env->cfg;
	struct pop3_session *s = proto_session_new(sizeof(*s), POP3_ARENA_FIRST, &pop3_session_ops,
						   svc->env, c, &svc->sessions);

	s->svc = svc;
	s->state = POP3_STATE_AUTHORIZATION;
	conn_set_input_max(c, POP3_LONG_LINE_MAX);
	conn_set_idle_timeout(c, cfg->idle_timeout);
	if (pop3_config(cfg)->apop && directory_offers(svc->env->dir, DIRECTORY_APOP))
		s->timestamp = make_timestamp(s, cfg->hostname);
	pop3_reply(s, true, "%s POP3 ready%s%s", cfg->hostname, s->timestamp ? " " : "",
		   s->timestamp ? s->timestamp : "");
	proto_session_steps(&s->core); /* the client may have spoken first */
}

static bool shutdown_stop(void *p)
{
	struct pop3_session *s = p;

	if (s->core.sx.wait != SASL_WAIT_NONE) {
		/* an AUTH exchange waiting for the client: end it now */
		pop3_session_reset_auth(s);
		pop3_cmd_finish(s);
	}
	return true;
}

void pop3_service_shutdown(struct pop3_service *svc)
{
	proto_session_list_shutdown(&svc->sessions, shutdown_stop);
}

/* For the idle-memory test: bytes held by a session's arena. */
size_t pop3_session_footprint(const struct pop3_session *s)
{
	return arena_footprint(s->core.arena);
}
