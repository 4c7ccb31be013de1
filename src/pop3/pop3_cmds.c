/* SPDX-License-Identifier: MIT */
/*
 * pop3_cmds.c - the POP3 command table, the one dispatcher, and the
 * handlers of the TRANSACTION state (RFC 1939 §5) plus CAPA (RFC 2449 §5)
 * and QUIT. The AUTHORIZATION handlers live in pop3_auth.c.
 *
 * The dispatcher enforces, for every command and in this order: the line's
 * characters, the verb, the line length (POP3_LINE_MAX unless the row says
 * LONG), the state, plaintext-password policy, and the argument count. A
 * handler therefore never re-checks the table; it only validates the meaning
 * of its arguments. Unknown commands, wrong states and bad arguments count
 * toward POP3_BAD_CMDS_MAX.
 *
 * Message numbers are 1-based over the snapshot taken at login; messages
 * marked with DELE are invisible to every command but RSET, and only QUIT
 * (UPDATE state) expunges them. Sizes are store_msg.size: the exact octets
 * of the wire form that RETR sends before byte-stuffing (store.h S4).
 */
#include "net/conn.h"
#include "pop3/pop3_private.h"
#include "proto/dotstuff.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static pop3_cmd_fn cmd_capa, cmd_quit, cmd_noop, cmd_stat, cmd_list, cmd_uidl, cmd_retr, cmd_top,
    cmd_dele, cmd_rset;

#define IN_BOTH (POP3_IN_AUTH | POP3_IN_TRANS)
#define PLAINTEXT POP3_CMD_PLAINTEXT
#define LONG POP3_CMD_LONG
#define SECRET POP3_CMD_SECRET
#define RAW POP3_CMD_RAW
#define BODY POP3_CMD_BODY

/* clang-format off */
const struct pop3_cmd_def pop3_cmd_table[] = {
	/* name   handler          states          flags                           min, max args */
	{"CAPA", cmd_capa,        IN_BOTH,        0,                              0, 0},
	{"QUIT", cmd_quit,        IN_BOTH,        0,                              0, 0},
	{"USER", pop3_cmd_user,   POP3_IN_AUTH,   PLAINTEXT | LONG,               1, 1},
	{"PASS", pop3_cmd_pass,   POP3_IN_AUTH,   PLAINTEXT | LONG | SECRET | RAW, 1, 1},
	{"APOP", pop3_cmd_apop,   POP3_IN_AUTH,   LONG | SECRET,                  2, 2},
	{"AUTH", pop3_cmd_auth,   POP3_IN_AUTH,   LONG | SECRET,                  0, 2},
	{"STLS", pop3_cmd_stls,   POP3_IN_AUTH,   0,                              0, 0},
	{"STAT", cmd_stat,        POP3_IN_TRANS,  0,                              0, 0},
	{"LIST", cmd_list,        POP3_IN_TRANS,  0,                              0, 1},
	{"UIDL", cmd_uidl,        POP3_IN_TRANS,  0,                              0, 1},
	{"RETR", cmd_retr,        POP3_IN_TRANS,  BODY,                           1, 1},
	{"TOP",  cmd_top,         POP3_IN_TRANS,  BODY,                           2, 2},
	{"DELE", cmd_dele,        POP3_IN_TRANS,  0,                              1, 1},
	{"RSET", cmd_rset,        POP3_IN_TRANS,  0,                              0, 0},
	{"NOOP", cmd_noop,        POP3_IN_TRANS,  0,                              0, 0},
};
/* clang-format on */
const size_t pop3_cmd_count = N_ELEMENTS(pop3_cmd_table);

static const struct pop3_cmd_def *cmd_lookup(struct slice verb)
{
	if (verb.len > POP3_VERB_MAX)
		return NULL;
	for (size_t i = 0; i < N_ELEMENTS(pop3_cmd_table); i++)
		if (slice_eq_ci(verb, pop3_cmd_table[i].name))
			return &pop3_cmd_table[i];
	return NULL;
}

/* Replies -ERR, counts the bad command and ends the record. */
static void bad_command(struct pop3_session *s, const char *text)
{
	pop3_reply(s, false, "%s", text);
	pop3_cmd_finish(s);
	pop3_session_bad_command(s);
}

void pop3_cmd_dispatch(struct pop3_session *s, struct slice line, size_t octets)
{
	struct pop3_command pc;
	enum pop3_parse_status st = pop3_parse_command(line, &pc);
	const struct pop3_cmd_def *def = st == POP3_PARSE_OK ? cmd_lookup(pc.verb) : NULL;

	pop3_cmd_begin(s, def, def != NULL ? pc.rest : (struct slice){"", 0});
	switch (st) {
	case POP3_PARSE_OK:
		break;
	case POP3_PARSE_NUL:
		bad_command(s, "NUL character in command");
		return;
	case POP3_PARSE_CTL:
		bad_command(s, "Invalid character in command");
		return;
	case POP3_PARSE_EMPTY:
		bad_command(s, "Unknown command");
		return;
	}
	/* RFC 2449 §4: 255 octets, except lines that carry credentials */
	if (octets > POP3_LINE_MAX && (def == NULL || !(def->flags & POP3_CMD_LONG))) {
		pop3_reply(s, false, "Line too long");
		pop3_cmd_finish(s);
		pop3_session_close(s, "line too long");
		return;
	}
	if (def == NULL) {
		bad_command(s, "Unknown command");
		return;
	}
	if (!(def->states & POP3_IN(s->state))) {
		bad_command(s, "Command not valid in this state");
		return;
	}
	if ((def->flags & POP3_CMD_PLAINTEXT) && !pop3_auth_plaintext_allowed(s)) {
		/* RFC 2595 §2.1 / RFC 3206 §4: refuse before the password is sent */
		pop3_reply(s, false, "[AUTH] Plaintext authentication disallowed before STLS");
		pop3_cmd_finish(s);
		return;
	}
	bool args_ok = (def->flags & POP3_CMD_RAW)
			   ? (pc.rest.len > 0 || def->min_args == 0)
			   : (pc.argc >= def->min_args && pc.argc <= def->max_args);
	if (!args_ok) {
		bad_command(s, "Invalid arguments");
		return;
	}

	struct pop3_cmd_ctx ctx = {.sess = s, .def = def, .rest = pc.rest, .argc = pc.argc};
	memcpy(ctx.args, pc.args, sizeof(ctx.args));
	if (def->handler(&ctx) == POP3_CMD_DONE)
		pop3_cmd_finish(s);
}

struct pop3_msg *pop3_cmd_msg_arg(struct pop3_session *s, struct slice arg, uint32_t *msgno_r)
{
	uint64_t v;

	if (!slice_to_uint(arg, UINT32_MAX, &v)) {
		pop3_reply(s, false, "Invalid message number");
		pop3_session_bad_command(s);
		return NULL;
	}
	if (v == 0 || v > s->n_msgs) {
		pop3_reply(s, false, "No such message");
		return NULL;
	}
	struct pop3_msg *m = &s->msgs[v - 1];
	if (m->deleted) {
		pop3_reply(s, false, "Message %u already deleted", (unsigned)v);
		return NULL;
	}
	*msgno_r = (uint32_t)v;
	return m;
}

/* --- CAPA, QUIT, NOOP ------------------------------------------------------------- */

static enum pop3_cmd_result cmd_capa(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	struct buf b = {0};

	/* RFC 2449 §6: the tags; what is offered before login is offered after
	   it too (§5), so the list depends on TLS and config, not on state */
	buf_append_str(&b, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
			   "EXPIRE NEVER\r\nLOGIN-DELAY 0\r\n");
	if (pop3_auth_plaintext_allowed(s))
		buf_append_str(&b, "USER\r\n");
	buf_append_str(&b, "SASL");
	static const enum sasl_mech order[] = {SASL_EXTERNAL, SASL_SCRAM_SHA_256, SASL_GSSAPI,
					       SASL_PLAIN, SASL_LOGIN};
	for (size_t i = 0; i < N_ELEMENTS(order); i++)
		if (pop3_auth_mech_allowed(s, order[i]))
			buf_printf(&b, " %s", sasl_mech_name(order[i]));
	buf_append_str(&b, "\r\n");
	if (s->core.conn != NULL && !conn_is_tls(s->core.conn) && conn_tls_available(s->core.conn))
		buf_append_str(&b, "STLS\r\n");
	buf_append_str(&b, "IMPLEMENTATION mailroom\r\n.\r\n");
	pop3_reply(s, true, "Capability list follows");
	pop3_write(s, b.data, b.len);
	buf_free(&b);
	return POP3_CMD_DONE;
}

static void work_expunge(void *thread_ctx, void *p)
{
	struct pop3_job *job = p;
	job->core.result = store_expunge(thread_ctx, job->mailbox_id, job->ids, job->n_ids);
}

/* The end of UPDATE: answer, release the mailbox, close (RFC 1939 §6). */
static void quit_done(struct pop3_session *s, int status, uint32_t n)
{
	if (status != STORE_OK) {
		/* store.h S5: nothing was removed */
		pop3_reply_store_error(s, status, "expunge");
	} else {
		const struct service_env *env = s->svc->env;
		s->expunged = n;
		pop3_reply(s, true, "Logging out, %u messages deleted", n);
		/* IMAP sessions on the mailbox see them go */
		if (n > 0 && env->changed != NULL)
			env->changed(env->changed_ctx, s->mailbox_id);
	}
	pop3_unlock_mailbox(s->svc, s->mailbox_id);
	s->locked = false;
	pop3_cmd_finish(s);
	pop3_session_close(s, "quit");
}

static void finish_expunge(struct pop3_session *s, struct pop3_job *job)
{
	quit_done(s, job->core.result, (uint32_t)job->n_ids);
}

static enum pop3_cmd_result cmd_quit(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;

	if (s->state == POP3_STATE_AUTHORIZATION) {
		pop3_reply(s, true, "Logging out");
		pop3_session_close(s, "quit");
		return POP3_CMD_DONE;
	}
	/* RFC 1939 §6: QUIT in TRANSACTION enters UPDATE and removes the
	   messages marked as deleted, in one store transaction */
	pop3_session_set_state(s, POP3_STATE_UPDATE);
	if (s->n_deleted == 0) {
		quit_done(s, STORE_OK, 0);
		return POP3_CMD_ASYNC; /* quit_done() ended the command */
	}
	struct pop3_job *job = pop3_job_new(s, finish_expunge);
	job->mailbox_id = s->mailbox_id;
	job->n_ids = s->n_deleted;
	job->ids = xcalloc(job->n_ids, sizeof(*job->ids));
	for (size_t i = 0, k = 0; i < s->n_msgs; i++)
		if (s->msgs[i].deleted)
			job->ids[k++] = s->msgs[i].id;
	if (!proto_job_submit(&job->core, work_expunge))
		pop3_session_close(s, "expunge not started");
	return POP3_CMD_ASYNC;
}

static enum pop3_cmd_result cmd_noop(struct pop3_cmd_ctx *ctx)
{
	pop3_reply(ctx->sess, true, "%s", "");
	return POP3_CMD_DONE;
}

/* --- STAT, LIST, UIDL --------------------------------------------------------------- */

static enum pop3_cmd_result cmd_stat(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;

	/* RFC 1939 §5: "+OK nn mm", deleted messages not counted */
	pop3_reply(s, true, "%u %llu", s->n_msgs - s->n_deleted,
		   (unsigned long long)(s->total_size - s->deleted_size));
	return POP3_CMD_DONE;
}

static enum pop3_cmd_result cmd_list(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	uint32_t no;

	if (ctx->argc == 1) {
		struct pop3_msg *m = pop3_cmd_msg_arg(s, ctx->args[0], &no);
		if (m != NULL)
			pop3_reply(s, true, "%u %llu", no, (unsigned long long)m->size);
		return POP3_CMD_DONE;
	}
	pop3_reply(s, true, "%u messages (%llu octets)", s->n_msgs - s->n_deleted,
		   (unsigned long long)(s->total_size - s->deleted_size));
	pop3_cont_list(s, false);
	return POP3_CMD_ASYNC;
}

static enum pop3_cmd_result cmd_uidl(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	uint32_t no;

	if (ctx->argc == 1) {
		struct pop3_msg *m = pop3_cmd_msg_arg(s, ctx->args[0], &no);
		if (m != NULL)
			pop3_reply(s, true, "%u %.*s", no, (int)m->uidl_len,
				   s->uidls + m->uidl_off);
		return POP3_CMD_DONE;
	}
	pop3_reply(s, true, "Unique-ID listing follows");
	pop3_cont_list(s, true);
	return POP3_CMD_ASYNC;
}

/* --- RETR, TOP ------------------------------------------------------------------------ */

/* The first line of a RETR or TOP reply, once the body is found (stored:
   its size in the store, which should be the one listed). */
static void body_reply(struct pop3_session *s, uint32_t msgno, uint64_t stored, bool top)
{
	const struct pop3_msg *m = &s->msgs[msgno - 1];

	if (stored != m->size)
		log_warn("sid=%s pop3 size mismatch msg=%u listed=%llu stored=%llu", s->core.sid,
			 msgno, (unsigned long long)m->size, (unsigned long long)stored);
	if (top) {
		pop3_reply(s, true, "Top of message follows");
		return;
	}
	pop3_reply(s, true, "%llu octets", (unsigned long long)m->size);
	s->retrieved++;
	s->last_retr = msgno;
}

/* Read-ahead. A client that downloads its mailbox sends RETR 1, RETR 2, ...
   one after the other, and for a small message the cost of a RETR is the
   trip to a worker and back, not the read. So the job that reads message n,
   when n follows the last RETR and is small, also reads the next small
   messages (POP3_AHEAD_*: how many, how big, how much per session and for
   all sessions), in the same read snapshot, each stuffed and ready; their
   RETRs are then answered at once on the loop thread. What a RETR sends is
   what it sends without read-ahead: the message as it was when read, from
   the snapshot taken at login (a message another session expunged in the
   meantime was read while it still existed, as a slower RETR would have).
   Held buffers go when sent and when the session ends. */
void pop3_ahead_free(struct pop3_service *svc, struct pop3_ahead **a, uint32_t *n)
{
	for (uint32_t i = 0; i < *n; i++) {
		if ((*a)[i].size > 0) /* still counted */
			svc->ahead_bytes -= (size_t)(*a)[i].size;
		buf_free(&(*a)[i].out);
	}
	free(*a);
	*a = NULL;
	*n = 0;
}

static void ahead_drop(struct pop3_service *svc, struct pop3_ahead *e)
{
	svc->ahead_bytes -= (size_t)e->size;
	e->size = 0;
	e->ok = false;
	buf_free(&e->out);
}

/* The messages after msgno to read with it; none unless msgno follows the
   last RETR, nothing is held yet, and msgno itself is small. */
static void ahead_plan(struct pop3_session *s, uint32_t msgno, struct pop3_job *job)
{
	struct pop3_service *svc = s->svc;
	uint64_t bytes = s->msgs[msgno - 1].size;
	uint32_t k = 0;

	if (s->n_ahead > 0 || bytes > POP3_AHEAD_MSG_MAX || s->last_retr != msgno - 1)
		return;
	struct pop3_ahead *a = xcalloc(POP3_AHEAD_MSGS, sizeof(*a));
	for (uint32_t no = msgno + 1; no <= s->n_msgs && k < POP3_AHEAD_MSGS; no++) {
		const struct pop3_msg *m = &s->msgs[no - 1];
		if (m->deleted)
			continue;
		if (m->size == 0 || m->size > POP3_AHEAD_MSG_MAX ||
		    bytes + m->size > POP3_AHEAD_BYTES ||
		    svc->ahead_bytes + m->size > POP3_AHEAD_TOTAL)
			break;
		bytes += m->size;
		svc->ahead_bytes += (size_t)m->size;
		a[k++] = (struct pop3_ahead){.msg_id = m->id, .size = m->size, .msgno = no};
	}
	if (k == 0) {
		free(a);
		return;
	}
	job->ahead = a;
	job->n_ahead = k;
}

/* Worker: read and stuff the planned messages; the first failure ends it
   (their RETRs then go to the store and report it). */
static void ahead_read(struct store *st, struct pop3_job *job, char *raw)
{
	for (uint32_t i = 0; i < job->n_ahead; i++) {
		struct pop3_ahead *e = &job->ahead[i];
		struct store_body_reader r = {.mailbox_id = job->mailbox_id, .msg_id = e->msg_id};
		size_t n = 0;
		if (store_body_read(st, &r, 0, raw, POP3_READ_CHUNK, &n) != STORE_OK || n != r.size)
			return;
		struct dotstuff ds;
		dotstuff_init(&ds);
		buf_reserve(&e->out, n + n / 32 + 8);
		dotstuff_feed(&ds, raw, n, &e->out);
		dotstuff_finish(&ds, &e->out);
		e->stored = r.size;
		e->ok = true;
	}
}

/* Loop thread: the session keeps what was read, the rest goes. */
static void ahead_take(struct pop3_session *s, struct pop3_job *job)
{
	for (uint32_t i = 0; i < job->n_ahead; i++)
		if (!job->ahead[i].ok)
			ahead_drop(s->svc, &job->ahead[i]);
	pop3_ahead_free(s->svc, &s->ahead, &s->n_ahead);
	s->ahead = job->ahead;
	s->n_ahead = job->n_ahead;
	job->ahead = NULL;
	job->n_ahead = 0;
}

/* RETR of a message read ahead: the whole reply now. */
static bool ahead_send(struct pop3_session *s, uint32_t msgno)
{
	struct pop3_ahead *e = NULL;
	bool more = false;

	for (uint32_t i = 0; i < s->n_ahead; i++) {
		if (s->ahead[i].ok && s->ahead[i].msgno == msgno)
			e = &s->ahead[i];
		else if (s->ahead[i].ok)
			more = true;
	}
	if (e == NULL)
		return false;
	body_reply(s, msgno, e->stored, false);
	s->bytes_out += e->out.len;
	pop3_write(s, e->out.data, e->out.len);
	ahead_drop(s->svc, e);
	if (!more)
		pop3_ahead_free(s->svc, &s->ahead, &s->n_ahead);
	return true;
}

/* A RETR or TOP reply in progress. The body comes from the store in pieces,
   one worker job at a time; each piece is byte-stuffed on the worker and
   written at once, and the next job starts only once the output buffer is
   empty (pop3_cont_steps), so the session holds one stuffed piece at most,
   whatever the size of the message. The kernel's socket buffer keeps the
   client busy while the next piece is read. A piece is POP3_READ_CHUNK
   octets to begin with and doubles, up to POP3_READ_MAX, each time the
   client had taken all of the previous one by the time the next was read:
   a fast reader pays for few trips to a worker and few walks of the body's
   pages, a slow or stalled one holds one small piece; all the sessions
   together hold at most POP3_PIECES_TOTAL above the small pieces.
   The first job opens the body, so a missing message still gets a proper
   -ERR. After the +OK line an error can only end the connection: an -ERR
   line would read as message text, and the missing "." tells the client
   that the message is incomplete (RFC 1939 §3). TOP stops reading once the
   dot-stuffer reaches its cut (RFC 1939 §7). */
struct pop3_body {
	struct store_body_reader reader;
	struct dotstuff ds;
	uint64_t off; /* octets of the body read so far */
	struct pop3_service *svc;
	size_t piece; /* octets the next job reads */
	uint32_t msgno;
	bool top;
	bool opened;  /* the worker found the body: reader is valid */
	bool started; /* the +OK line has gone out */
	bool last;    /* the last piece (and the final ".") was produced */
	bool done;    /* the reply is complete, or was refused */
};

/* Worker: open the body on the first call, then read and stuff one piece.
   The body state belongs to this job while it runs (pop3_cont_steps). */
static void work_body(void *thread_ctx, void *p)
{
	struct pop3_job *job = p;
	struct pop3_body *b = job->body;
	size_t n = 0;

	if (!b->opened) { /* the first read finds the body (store.h) */
		memset(&b->reader, 0, sizeof(b->reader));
		b->reader.mailbox_id = job->mailbox_id;
		b->reader.msg_id = job->msg_id;
	}
	char *raw = xmalloc(b->piece);
	/* one snapshot for the message and those read ahead (best effort) */
	bool snap = job->n_ahead > 0 && store_read_begin(thread_ctx) == STORE_OK;
	job->core.result = store_body_read(thread_ctx, &b->reader, b->off, raw, b->piece, &n);
	if (job->core.result == STORE_OK) {
		b->opened = true;
		b->off += n;
		buf_reserve(&job->out, n + n / 32 + 8);
		bool cut = dotstuff_feed(&b->ds, raw, n, &job->out);
		if (cut || n == 0 || b->off >= b->reader.size) {
			dotstuff_finish(&b->ds, &job->out);
			b->last = true;
		}
		if (b->last)
			ahead_read(thread_ctx, job, raw);
	}
	if (snap)
		store_read_end(thread_ctx);
	free(raw);
}

static void finish_body(struct pop3_session *s, struct pop3_job *job)
{
	struct pop3_body *b = job->body;

	if (job->core.result != STORE_OK && !b->started) {
		pop3_reply_store_error(s, job->core.result, b->top ? "top" : "retr");
		b->done = true;
		return;
	}
	if (job->core.result != STORE_OK) {
		log_warn("sid=%s pop3 store error op=%s status=%d msg=%u offset=%llu", s->core.sid,
			 b->top ? "top" : "retr", job->core.result, b->msgno,
			 (unsigned long long)b->off);
		pop3_session_close(s, "store error inside a message");
		return;
	}
	if (!b->started) {
		body_reply(s, b->msgno, b->reader.size, b->top);
		b->started = true;
	}
	if (job->n_ahead > 0)
		ahead_take(s, job);
	/* the client took all of the last piece while this one was read: the
	   kernel holds next to nothing for it (a stalled client's data waits
	   there, in its window) */
	if (!b->last && conn_output_pending(s->core.conn) == 0 &&
	    conn_kernel_pending(s->core.conn) < b->piece / 8 && b->piece < POP3_READ_MAX &&
	    s->svc->piece_bytes + b->piece <= POP3_PIECES_TOTAL) {
		s->svc->piece_bytes += b->piece;
		b->piece *= 2;
	}
	s->bytes_out += job->out.len;
	pop3_write(s, job->out.data, job->out.len);
	b->done = b->last;
}

/* The worker pool was full in the middle of a message: try again soon. */
static void body_retry(struct pop3_session *s)
{
	(void)s; /* the next session step starts the job again */
}

static bool body_step(struct pop3_session *s, void *ctx)
{
	struct pop3_body *b = ctx;

	if (b->done)
		return true;
	struct pop3_job *job = pop3_job_new(s, finish_body);
	job->mailbox_id = s->mailbox_id;
	job->msg_id = s->msgs[b->msgno - 1].id;
	job->body = b;
	if (!b->started) {
		if (!b->top)
			ahead_plan(s, b->msgno, job);
		return !proto_job_submit(&job->core, work_body); /* it replied -ERR if not */
	}
	if (!proto_job_try_submit(&job->core, work_body))
		pop3_session_delay(s, POP3_RETRY_MS, body_retry); /* back-pressure, not an error */
	return false;
}

static void body_free(void *ctx)
{
	struct pop3_body *b = ctx;

	b->svc->piece_bytes -= b->piece - POP3_READ_CHUNK;
	free(b);
}

static enum pop3_cmd_result start_read(struct pop3_session *s, struct slice arg, bool top,
				       uint64_t lines)
{
	uint32_t no;

	if (pop3_cmd_msg_arg(s, arg, &no) == NULL)
		return POP3_CMD_DONE;
	if (!top && ahead_send(s, no))
		return POP3_CMD_DONE;
	struct pop3_body *b = xcalloc(1, sizeof(*b));
	b->svc = s->svc;
	b->piece = POP3_READ_CHUNK;
	b->msgno = no;
	b->top = top;
	if (top)
		dotstuff_init_top(&b->ds, lines);
	else
		dotstuff_init(&b->ds);
	pop3_cont_steps(s, body_step, body_free, b);
	return POP3_CMD_ASYNC;
}

static enum pop3_cmd_result cmd_retr(struct pop3_cmd_ctx *ctx)
{
	return start_read(ctx->sess, ctx->args[0], false, 0);
}

static enum pop3_cmd_result cmd_top(struct pop3_cmd_ctx *ctx)
{
	uint64_t lines;

	/* RFC 1939 §7: TOP msg n, n a non-negative number of body lines */
	if (!slice_to_uint(ctx->args[1], UINT64_MAX, &lines)) {
		pop3_reply(ctx->sess, false, "Invalid number of lines");
		pop3_session_bad_command(ctx->sess);
		return POP3_CMD_DONE;
	}
	return start_read(ctx->sess, ctx->args[0], true, lines);
}

/* --- DELE, RSET ------------------------------------------------------------------------ */

static enum pop3_cmd_result cmd_dele(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;
	uint32_t no;
	struct pop3_msg *m = pop3_cmd_msg_arg(s, ctx->args[0], &no);

	if (m != NULL) {
		/* RFC 1939 §5: only marked; removed in the UPDATE state */
		m->deleted = true;
		s->n_deleted++;
		s->deleted_size += m->size;
		pop3_reply(s, true, "Message %u deleted", no);
	}
	return POP3_CMD_DONE;
}

static enum pop3_cmd_result cmd_rset(struct pop3_cmd_ctx *ctx)
{
	struct pop3_session *s = ctx->sess;

	for (uint32_t i = 0; i < s->n_msgs; i++)
		s->msgs[i].deleted = false;
	s->n_deleted = 0;
	s->deleted_size = 0;
	pop3_reply(s, true, "Maildrop has %u messages (%llu octets)", s->n_msgs,
		   (unsigned long long)s->total_size);
	return POP3_CMD_DONE;
}
