/* SPDX-License-Identifier: MIT */
/*
 * imap_session.c - one IMAP conversation (RFC 9051 §3): the state machine,
 * the input loop over the incremental parser, replies, worker jobs, long
 * replies and IDLE.
 *
 *   accept --greeting--> NOT AUTHENTICATED --LOGIN/AUTHENTICATE ok--> AUTHENTICATED
 *                          |  ^                                          |  ^
 *                          |  +-- STARTTLS: handshake, then any          |  | CLOSE, UNSELECT,
 *                          |      SASL exchange is forgotten     SELECT, |  | a failed SELECT
 *                          |                                    EXAMINE  v  |
 *                          | LOGOUT                                    SELECTED
 *                          v                                             | LOGOUT
 *                        LOGOUT <----------------------------------------+
 *
 * Every transition goes through imap_session_set_state(). Any state can
 * end early (autologout, too many bad commands or failed logins, the peer
 * going away, shutdown): the session says "* BYE" when it can and closes.
 *
 * Input: commands are handled one at a time, in order; the parser
 * (imap_parse.h) works on the connection's input buffer, which holds the
 * whole command (its literals too, up to [imap] append_limit for APPEND)
 * until it is handled and dropped. A synchronizing literal is answered with
 * "+" once the parser has checked its size; one the command may not take is
 * refused before the client sends it. While a job, a long reply, a TLS
 * handshake or a brake wait is under way, or while more than
 * IMAP_OUTBUF_THROTTLE octets wait to go out, nothing more is read. Every
 * entry point runs inside the session's frame (proto/session.h), as in pop3/.
 *
 * Lines that are no commands: an AUTHENTICATE response while a SASL
 * exchange waits (imap_auth.c), and "DONE" ending IDLE (RFC 2177).
 */
#include "imap/imap_private.h"
#include "net/conn.h"
#include "net/loop.h"
#include "store/store.h"
#include "util/arena.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_REPLY_MAX 1024
#define IMAP_NONAPPEND_LITERAL_MAX (64 * 1024) /* literals outside APPEND */

struct imap_cont {
	imap_cont_step_fn *step;
	void (*free_fn)(void *ctx);
	void *ctx;
};

static const char *const state_names[IMAP_STATE_COUNT] = {
    [IMAP_STATE_NOTAUTH] = "NOTAUTH",
    [IMAP_STATE_AUTH] = "AUTH",
    [IMAP_STATE_SELECTED] = "SELECTED",
    [IMAP_STATE_LOGOUT] = "LOGOUT",
};

const char *imap_state_name(enum imap_state st)
{
	return st < IMAP_STATE_COUNT ? state_names[st] : "?";
}

void imap_session_set_state(struct imap_session *s, enum imap_state to)
{
	if (s->state == to)
		return;
	proto_session_trace_state(&s->core, imap_state_name(s->state), imap_state_name(to));
	s->state = to;
	if (s->core.conn != NULL && (to == IMAP_STATE_AUTH || to == IMAP_STATE_SELECTED))
		conn_set_idle_timeout(s->core.conn, imap_config(imap_cfg(s))->autologout);
}

struct loop *imap_loop(const struct imap_session *s)
{
	return s->svc->env->loop;
}

const struct config *imap_cfg(const struct imap_session *s)
{
	return s->svc->env->cfg;
}

/* --- output ----------------------------------------------------------------- */

void imap_write(struct imap_session *s, const void *p, size_t n)
{
	if (proto_session_write(&s->core, p, n))
		s->progress += n;
}

static void write_line(struct imap_session *s, const char *head, const char *fmt, va_list ap)
    ATTR_FORMAT(3, 0);

static void write_line(struct imap_session *s, const char *head, const char *fmt, va_list ap)
{
	char line[IMAP_REPLY_MAX];
	size_t n = (size_t)snprintf(line, sizeof(line), "%s", head);
	size_t room = sizeof(line) - n - 2;
	va_list again;
	va_copy(again, ap);
	int m = vsnprintf(line + n, room, fmt, ap);

	if (m >= 0 && (size_t)m < room) {
		n += (size_t)m;
		line[n++] = '\r';
		line[n++] = '\n';
		imap_write(s, line, n);
	} else if (m > 0) {
		/* a long line (FLAGS with many keywords): never cut short */
		char *big = xmalloc(n + (size_t)m + 3);
		memcpy(big, line, n);
		vsnprintf(big + n, (size_t)m + 1, fmt, again);
		n += (size_t)m;
		big[n++] = '\r';
		big[n++] = '\n';
		imap_write(s, big, n);
		free(big);
	}
	va_end(again);
}

void imap_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_line(s, "* ", fmt, ap);
	va_end(ap);
}

void imap_tagged(struct imap_session *s, const char *status, const char *fmt, ...)
{
	char head[IMAP_TAG_MAX + 8];
	va_list ap;

	snprintf(head, sizeof(head), "%s %s ", s->tag[0] != '\0' ? s->tag : "*", status);
	s->reply_ok = strcmp(status, "OK") == 0;
	va_start(ap, fmt);
	write_line(s, head, fmt, ap);
	va_end(ap);
}

void imap_reply_store_error(struct imap_session *s, int status, const char *what)
{
	log_warn("sid=%s imap store error op=%s status=%d", s->core.sid, what, status);
	/* RFC 5530 response codes */
	switch (status) {
	case STORE_NOTFOUND:
		imap_tagged(s, "NO", "[NONEXISTENT] No such mailbox");
		break;
	case STORE_EXISTS:
		imap_tagged(s, "NO", "[ALREADYEXISTS] Mailbox exists");
		break;
	case STORE_INVALID:
		imap_tagged(s, "NO", "[CANNOT] Invalid mailbox name or argument");
		break;
	case STORE_QUOTA:
		imap_tagged(s, "NO", "[OVERQUOTA] Mailbox is full");
		break;
	case STORE_LIMIT:
		imap_tagged(s, "NO", "[LIMIT] Too many keywords");
		break;
	case STORE_PERM:
		imap_tagged(s, "NO", "[SERVERBUG] Mail store failure");
		break;
	default:
		imap_tagged(s, "NO", "[UNAVAILABLE] Mail store temporarily unavailable, try again");
		break;
	}
}

/* --- per-command record ----------------------------------------------------- */

void imap_cmd_begin(struct imap_session *s, const struct imap_cmd_def *def,
		    const struct imap_command *cmd)
{
	s->cmd = def;
	s->cmd_active = true;
	s->reply_ok = false;
	s->cmd_uid = cmd->uid;
	s->cmd_start_us = s->core.login_start_us = log_now_usec();
	s->cmd_progress = s->progress;
	s->cmd_args[0] = '\0';
	/* LOGIN and AUTHENTICATE arguments never reach a record */
	if (def != NULL && !(def->flags & IMAP_CMD_SECRET)) {
		struct buf b = {0};
		imap_command_dump(cmd, &b);
		size_t skip = cmd->tag.len + 1, n = 0;
		for (size_t i = skip; i < b.len && n < IMAP_LOG_ARGS_MAX; i++) {
			char c = b.data[i];
			if (c == '\r' || c == '\n')
				break;
			s->cmd_args[n++] = (c < 0x20 || c == 0x7f) ? '?' : c;
		}
		s->cmd_args[n] = '\0';
		buf_free(&b);
	}
}

void imap_cmd_finish(struct imap_session *s)
{
	if (!s->cmd_active)
		return;
	s->cmd_active = false;
	s->commands++;
	proto_cmd_record(
	    &s->core, &(struct proto_cmd_done){
			  .stats = s->cmd != NULL ? &s->svc->stats[s->cmd - imap_cmd_table] : NULL,
			  .name = s->cmd != NULL ? s->cmd->name : NULL,
			  .user = s->address,
			  .ok = s->reply_ok,
			  .start_us = s->cmd_start_us,
			  .bytes = s->progress - s->cmd_progress,
			  .args = s->cmd_args,
			  .state = imap_state_name(s->state),
			  .extra_max = IMAP_LOG_ARGS_MAX * 2 + 48,
		      });
	if (s->reply_ok)
		s->bad_cmds = 0;
}

void imap_session_bad_command(struct imap_session *s)
{
	if (++s->bad_cmds > IMAP_BAD_CMDS_MAX) {
		imap_untagged(s, "BYE Too many invalid commands");
		imap_session_close(s, "too many bad commands");
	}
}

/* --- lifetime ----------------------------------------------------------------- */

void imap_session_reset_auth(struct imap_session *s)
{
	sasl_exchange_end(&s->core.sx);
}

static void cont_free(struct imap_cont **cp)
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
	struct imap_session *s = p;

	imap_session_reset_auth(s);
	cont_free(&s->cont);
	imap_view_free(&s->sel);
	imap_parser_deinit(&s->parser);
	proto_session_free(&s->core, &s->svc->sessions);
}

void imap_session_close(struct imap_session *s, const char *reason)
{
	if (s->core.closing || s->core.conn == NULL)
		return;
	imap_session_set_state(s, IMAP_STATE_LOGOUT);
	proto_session_close(&s->core, reason);
}

/* --- long replies ------------------------------------------------------------- */

void imap_cont_steps(struct imap_session *s, imap_cont_step_fn *step, void (*free_fn)(void *),
		     void *ctx)
{
	s->cont = xcalloc(1, sizeof(*s->cont));
	s->cont->step = step;
	s->cont->free_fn = free_fn;
	s->cont->ctx = ctx;
}

static void cont_pump(struct imap_session *s)
{
	if (s->cont->step(s, s->cont->ctx)) {
		cont_free(&s->cont);
		imap_cmd_finish(s);
	}
}

/* --- input ------------------------------------------------------------------------ */

/* The largest literal the command being read may send. */
static uint64_t literal_limit(const struct imap_session *s, const struct imap_command *cmd)
{
	if (strcmp(cmd->name, "APPEND") == 0 && s->state != IMAP_STATE_NOTAUTH)
		return imap_config(imap_cfg(s))->append_limit;
	return IMAP_NONAPPEND_LITERAL_MAX;
}

static void copy_tag(struct imap_session *s, const struct imap_command *cmd)
{
	size_t n = cmd->tag.len;
	if (n > IMAP_TAG_MAX)
		n = 0;
	memcpy(s->tag, cmd->tag.p, n);
	s->tag[n] = '\0';
}

/* A command the parser refused: one BAD (or NO [TOOBIG]), then skip it. */
static void parse_error(struct imap_session *s, const struct imap_command *cmd)
{
	copy_tag(s, cmd);
	if (cmd->err == IMAP_PERR_EMPTY) {
		/* an empty line: nothing to answer */
	} else if (cmd->err == IMAP_PERR_TOOBIG || cmd->err == IMAP_PERR_REFUSED) {
		if (cmd->lit.sync)
			imap_tagged(s, "NO", "[TOOBIG] Literal too big");
		else
			imap_tagged(s, "BAD", "[TOOBIG] Literal too big");
		imap_session_bad_command(s);
	} else {
		imap_tagged(s, "BAD", "%s", cmd->err_text != NULL ? cmd->err_text : "Syntax error");
		imap_session_bad_command(s);
	}
	s->skipping = true;
	s->tag[0] = '\0';
}

static void idle_poll_fired(struct loop *l, void *ctx);

static void idle_polled(struct imap_session *s)
{
	if (s->idling && s->core.conn != NULL && s->idle_poll == NULL)
		s->idle_poll =
		    loop_timer_add(imap_loop(s), imap_config(imap_cfg(s))->idle_check * 1000ULL,
				   idle_poll_fired, s);
}

static void idle_poll_fired(struct loop *l, void *ctx)
{
	struct imap_session *s = ctx;

	s->idle_poll = NULL;
	if (!s->idling || s->core.in_run)
		return;
	if (proto_session_busy(&s->core)) {
		idle_polled(s); /* a sync is under way already */
		return;
	}
	s->core.in_run = true;
	if (s->sel != NULL)
		s->sel->dirty = true;
	imap_sync(s, true, idle_polled);
	proto_session_leave(&s->core);
}

void imap_idle_start(struct imap_session *s)
{
	s->idling = true;
	imap_write(s, "+ idling\r\n", 10);
	idle_polled(s);
}

/* "DONE" ends IDLE (RFC 2177 §3); anything else ends it too, with BAD. */
static bool idle_line(struct imap_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	struct slice line;
	size_t used;
	bool nul;

	int r = imap_parse_line(in->data, in->len, IMAP_LINE_MAX, &line, &used, &nul);
	if (r == 0)
		return false;
	bool done = r > 0 && !nul && slice_eq_ci(line, "DONE");
	if (r > 0)
		buf_consume(in, used);
	conn_unit_done(s->core.conn);
	s->idling = false;
	loop_timer_del(imap_loop(s), &s->idle_poll);
	if (done)
		imap_tagged(s, "OK", "IDLE terminated");
	else
		imap_tagged(s, "BAD", "Expected DONE");
	imap_cmd_finish(s);
	if (r < 0)
		imap_session_close(s, "line too long");
	return true;
}

static bool sasl_line(struct imap_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	char copy[IMAP_SASL_LINE_MAX];
	struct slice line;
	size_t used;
	bool nul;

	int r = imap_parse_line(in->data, in->len, IMAP_SASL_LINE_MAX, &line, &used, &nul);
	if (r == 0)
		return false;
	if (r < 0 || nul) {
		imap_tagged(s, "BAD", "Invalid authentication response");
		imap_session_reset_auth(s);
		imap_cmd_finish(s);
		imap_session_close(s, "bad authentication response");
		return false;
	}
	memcpy(copy, line.p, line.len);
	line.p = copy;
	buf_consume(in, used);
	conn_unit_done(s->core.conn);
	proto_sasl_line(&s->core, line, false);
	secure_zero(copy, line.len);
	return true;
}

/* Reads on in the command under way; false when more input is needed. */
static bool next_command(struct imap_session *s)
{
	struct buf *in = conn_input(s->core.conn);
	struct imap_command cmd;

	if (s->skipping) {
		size_t used = 0;
		enum imap_parse_result r = imap_parser_skip(&s->parser, in->data, in->len, &used);
		buf_consume(in, used);
		if (r != IMAP_PARSE_DONE)
			return false;
		s->skipping = false;
		imap_parser_reset(&s->parser);
		conn_unit_done(s->core.conn);
		return true;
	}
	if (in->len == 0)
		return false;
	enum imap_parse_result r = imap_parser_feed(&s->parser, in->data, in->len, &cmd);
	switch (r) {
	case IMAP_PARSE_MORE:
		return false;
	case IMAP_PARSE_LITERAL:
		if (cmd.lit.size > literal_limit(s, &cmd)) {
			/* refused before the client sends it (RFC 7888 §4) */
			imap_parser_refuse(&s->parser);
			cmd.err = IMAP_PERR_REFUSED;
			parse_error(s, &cmd);
			return true;
		}
		if (cmd.lit.size > IMAP_NONAPPEND_LITERAL_MAX)
			conn_phase_begin(s->core.conn); /* a message: the data deadline */
		if (cmd.lit.sync)
			imap_write(s, "+ Ready for literal data\r\n", 26);
		return true;
	case IMAP_PARSE_ERROR:
		parse_error(s, &cmd);
		return true;
	case IMAP_PARSE_DONE:
		break;
	}
	conn_phase_end(s->core.conn);
	copy_tag(s, &cmd);
	if (s->tag[0] == '\0') {
		imap_tagged(s, "BAD", "Tag too long");
		imap_session_bad_command(s);
	} else {
		imap_cmd_dispatch(s, &cmd);
	}
	/* the command's octets go only now: the handler read them in place */
	imap_parser_reset(&s->parser);
	if (s->core.conn == NULL)
		return false;
	buf_consume(conn_input(s->core.conn), cmd.len);
	conn_unit_done(s->core.conn);
	return true;
}

static bool session_step(void *p)
{
	struct imap_session *s = p;

	if (s->core.dead || s->core.closing || proto_session_busy(&s->core) || s->core.tls_starting)
		return false;
	if (conn_output_pending(s->core.conn) >= IMAP_OUTBUF_THROTTLE)
		return false; /* resumed by `drained` */
	if (s->cont != NULL) {
		if (conn_output_pending(s->core.conn) > 0)
			return false; /* one piece at a time */
		cont_pump(s);
		return true;
	}
	if (s->core.shutdown && (!s->cmd_active || s->idling)) {
		if (s->idling) {
			s->idling = false;
			loop_timer_del(imap_loop(s), &s->idle_poll);
			imap_tagged(s, "OK", "IDLE terminated");
			imap_cmd_finish(s);
		}
		imap_untagged(s, "BYE Server shutting down");
		imap_session_close(s, "shutdown");
		return false;
	}
	if (s->idling)
		return idle_line(s);
	if (s->core.sx.wait != SASL_WAIT_NONE)
		return sasl_line(s);
	if (s->cmd_active)
		return false; /* a command waits for its own event */
	return next_command(s);
}

/* --- worker jobs (proto/session.h does the rest) ---------------------------------- */

struct imap_job *imap_job_new(struct imap_session *s, imap_job_finish_fn *finish)
{
	struct imap_job *job = proto_job_new(&s->core, sizeof(*job));
	job->sess = s;
	job->finish = finish;
	job->mailbox_id = s->mailbox_id;
	job->folder_id = s->sel != NULL ? s->sel->folder_id : 0;
	return job;
}

static void job_clear(struct proto_job *p)
{
	struct imap_job *job = (struct imap_job *)p;

	if (job->ctx_free != NULL)
		job->ctx_free(job->ctx);
}

static void job_finish(struct proto_job *p)
{
	struct imap_job *job = (struct imap_job *)p;
	job->finish(job->sess, job);
}

static void busy(void *p)
{
	struct imap_session *s = p;

	imap_tagged(s, "NO", "[UNAVAILABLE] Server busy, try again later");
	imap_cmd_finish(s);
}

/* --- connection events (proto/session.h runs them) --------------------------------- */

/* also after the TLS handshake: RFC 9051 §6.2.1, what was learnt before it
   is forgotten */
static void reset_auth(void *p)
{
	imap_session_reset_auth(p);
}

/* A long reply that still moves is no idle client. */
static bool timeout_busy(void *p)
{
	struct imap_session *s = p;
	bool busy = s->cont != NULL && s->progress != s->progress_at_timeout;

	s->progress_at_timeout = s->progress;
	return busy;
}

static unsigned idle_timeout(void *p)
{
	return imap_config(imap_cfg(p))->autologout;
}

static void on_timeout(void *p, bool idle)
{
	struct imap_session *s = p;

	cont_free(&s->cont);
	if (idle)
		imap_untagged(s, "BYE Autologout; idle for too long");
	else
		imap_untagged(s, "BYE Autologout; command not completed in time");
	imap_session_close(s, "timeout");
}

static void on_closed(void *p, struct conn *c)
{
	struct imap_session *s = p;

	loop_timer_del(imap_loop(s), &s->idle_poll);
	char extra[96] = "";
	if (s->address != NULL)
		snprintf(extra, sizeof(extra), "fetched=%u appended=%u expunged=%u", s->fetched,
			 s->appended, s->expunged);
	conn_set_session_info(c, s->address, s->commands, s->bytes_out, extra);
}

static const struct proto_session_ops imap_session_ops = {
    .name = "imap",
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
    .sasl = &imap_sasl_ops,
};

/* --- start ------------------------------------------------------------------------- */

/* proto_session_new() makes the session around its core */
_Static_assert(offsetof(struct imap_session, core) == 0, "the core comes first");

void imap_session_start(struct imap_service *svc, struct conn *c)
{
	const struct config *cfg = svc->env->cfg;
	const struct imap_config *ic = imap_config(cfg);
	struct imap_session *s = proto_session_new(sizeof(*s), IMAP_ARENA_FIRST, &imap_session_ops,
						   svc->env, c, &svc->sessions);
	struct imap_parse_limits lim;

	s->svc = svc;
	s->state = IMAP_STATE_NOTAUTH;
	imap_parse_limits_default(&lim);
	lim.literal_max = ic->append_limit;
	lim.literals_max = ic->append_limit + IMAP_NONAPPEND_LITERAL_MAX;
	lim.nonsync_max = ic->literal_plus ? UINT64_MAX : IMAP_LITERAL_MINUS_MAX;
	imap_parser_init(&s->parser, &lim);
	/* the whole command stays in the buffer until it is handled */
	conn_set_input_max(c, (size_t)(lim.line_max + lim.literals_max + 64));
	conn_set_idle_timeout(c, cfg->idle_timeout);
	struct buf caps = {0};
	imap_capabilities(s, &caps);
	if (s->core.shutdown) {
		imap_untagged(s, "BYE Server shutting down");
		imap_session_close(s, "shutdown");
	} else {
		imap_untagged(s, "OK [CAPABILITY %s] %s IMAP ready", caps.data, cfg->hostname);
	}
	buf_free(&caps);
	proto_session_steps(&s->core);
}

static bool shutdown_stop(void *p)
{
	struct imap_session *s = p;

	if (s->core.sx.wait != SASL_WAIT_NONE) {
		imap_session_reset_auth(s);
		imap_tagged(s, "NO", "Server shutting down");
		imap_cmd_finish(s);
	}
	return true;
}

void imap_service_shutdown(struct imap_service *svc)
{
	proto_session_list_shutdown(&svc->sessions, shutdown_stop);
}

size_t imap_session_footprint(const struct imap_session *s)
{
	return arena_footprint(s->core.arena);
}
