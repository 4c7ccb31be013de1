/* SPDX-License-Identifier: MIT */
/*
 * smtp_tx.c - the mail transaction (RFC 5321 §3.3): its object and arena,
 * and the commands that build it: MAIL, RCPT, DATA and BDAT (RFC 3030), up
 * to the hand-over of the finished message to the group committer and the
 * answer after it.
 *
 * A struct smtp_tx is made by an accepted MAIL and lives in its own arena
 * (the envelope, every recipient and parameter string) until the answer to
 * the message, RSET, HELO/EHLO or STARTTLS; smtp_tx_free() drops it whole.
 * Lookups (sender ownership, recipients) run on workers; the relay and
 * recipient decisions are smtp_policy.c's. smtp_data_end() is the one place
 * where a complete message is checked and committed.
 */
#include "mime/mime.h"
#include "net/conn.h"
#include "net/loop.h"
#include "queue/queue.h"
#include "server/server.h"
#include "smtp/smtp_private.h"
#include "util/arena.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* --- the transaction object ------------------------------------------------- */

struct smtp_tx *smtp_tx_new(void)
{
	struct arena *a = arena_new(SMTP_TX_ARENA_FIRST);
	struct smtp_tx *t = arena_alloc(a, sizeof(*t));

	t->arena = a;
	return t;
}

void smtp_tx_free(struct smtp_tx **tp)
{
	struct smtp_tx *t = *tp;

	if (t == NULL)
		return;
	struct arena *a = t->arena;
	buf_free(&t->body);
	arena_free(&a);
	*tp = NULL;
}

void smtp_tx_reset(struct smtp_session *s)
{
	smtp_tx_free(&s->tx);
	if (s->state > SMTP_READY)
		smtp_enter_state(s, SMTP_READY);
}

/* Room for one more element in an arena array (the old copy stays in the
   arena; [smtp] max_recipients bounds the waste to the array's size). */
static void *tx_grow(struct smtp_tx *t, void *old, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return old;
	size_t nc = *cap > 0 ? *cap * 2 : 4;
	void *p = arena_alloc(t->arena, nc * size);
	if (n > 0)
		memcpy(p, old, n * size);
	*cap = nc;
	return p;
}

static const char *tx_strdup(struct smtp_tx *t, const char *s)
{
	return s != NULL ? arena_strdup(t->arena, s) : NULL;
}

static void tx_add_local(struct smtp_tx *t, int64_t id)
{
	for (size_t i = 0; i < t->n_local; i++)
		if (t->local[i] == id)
			return;
	t->local = tx_grow(t, t->local, t->n_local, &t->cap_local, sizeof(*t->local));
	t->local[t->n_local++] = id;
}

static void tx_add_remote(struct smtp_tx *t, const struct smtp_job *job, const char *address)
{
	for (size_t i = 0; i < t->n_remote; i++)
		if (strcmp(t->remote[i].address, address) == 0)
			return;
	t->remote = tx_grow(t, t->remote, t->n_remote, &t->cap_remote, sizeof(*t->remote));
	struct store_remote_rcpt *r = &t->remote[t->n_remote++];
	r->address = tx_strdup(t, address);
	r->dsn_notify = tx_strdup(t, job->notify);
	r->dsn_orcpt = tx_strdup(t, job->orcpt);
}

/* RFC 3461 §6.2.1: a recipient delivered here with NOTIFY=SUCCESS gets a
   "delivered" report; its mailboxes are in `local` already. */
static void tx_add_notify(struct smtp_tx *t, const struct smtp_job *job)
{
	if (job->notify == NULL ||
	    !smtp_policy_notify_success((struct slice){job->notify, strlen(job->notify)}))
		return;
	for (size_t i = 0; i < t->n_notify; i++)
		if (strcmp(t->notify[i].address, job->address) == 0)
			return; /* the same recipient twice: one line in the report */
	t->notify = tx_grow(t, t->notify, t->n_notify, &t->cap_notify, sizeof(*t->notify));
	struct smtp_tx_notify *n = &t->notify[t->n_notify++];
	n->address = tx_strdup(t, job->address);
	n->orcpt = tx_strdup(t, job->orcpt);
}

/* --- MAIL ------------------------------------------------------------------------ */

static void reply_path_error(struct smtp_session *s, enum smtp_path_error e, bool sender)
{
	switch (e) {
	case SMTP_PATH_E8BIT:
		smtp_reply(s, 553, "5.6.7 Non-ASCII address needs SMTPUTF8");
		break;
	case SMTP_PATH_EPARAM:
		smtp_reply(s, 501, "5.5.4 Malformed parameters");
		break;
	case SMTP_PATH_ETOOLONG:
		smtp_reply(s, 501, "5.1.%d Address too long", sender ? 7 : 3);
		break;
	default:
		smtp_reply(s, 501, "5.1.%d Bad %s address syntax", sender ? 7 : 3,
			   sender ? "sender" : "recipient");
		break;
	}
}

static void mail_accept(struct smtp_session *s)
{
	smtp_enter_state(s, SMTP_MAIL);
	smtp_reply(s, 250, "2.1.0 Ok");
}

/* Where mail to `address` goes, through the directory (directory.h): the
   mailboxes in job->ids, the outside targets in job->forward. */
static int job_resolve(struct smtp_job *job, struct store *st, const char *address)
{
	struct dir_rcpt r;
	int rc = directory_resolve(job->dir, st, address, &r);

	free(job->ids);
	for (size_t i = 0; i < job->n_forward; i++)
		free(job->forward[i]);
	free(job->forward);
	job->ids = r.ids;
	job->n_ids = r.n_ids;
	job->forward = r.remote;
	job->n_forward = r.n_remote;
	return rc;
}

static void work_sender(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;

	job->result = job_resolve(job, thread_ctx, job->address);
}

static void finish_sender(struct smtp_session *s, struct smtp_job *job)
{
	if (job->result != STORE_OK && job->result != STORE_NOTFOUND &&
	    job->result != STORE_INVALID) {
		smtp_reply_store_error(s, job->result, "sender lookup");
		smtp_tx_free(&s->tx);
		return;
	}
	if (job->result != STORE_OK ||
	    !smtp_policy_sender_owned(job->ids, job->n_ids, s->auth->mailbox_id)) {
		log_info("sid=%s smtp sender refused from=<%s> user=%s", s->sid, job->address,
			 s->auth->address);
		smtp_reply(s, 553, "5.7.1 Sender address <%s> not owned by user %s", job->address,
			   s->auth->address);
		smtp_tx_free(&s->tx);
		smtp_session_error(s);
		return;
	}
	mail_accept(s);
}

/* Checks MAIL's argument; replies and returns false if it is refused. */
static bool smtp_check_mail(struct smtp_session *s, struct slice rest, struct smtp_path *path,
			    struct smtp_mail_params *mp, enum smtp_cmd_result *r)
{
	const struct config *cfg = smtp_config(s);
	struct slice arg;
	size_t bad;

	*r = SMTP_CMD_ERROR;
	if (!smtp_parse_prefix(rest, "FROM:", &arg)) {
		smtp_reply(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		return false;
	}
	enum smtp_path_error e = smtp_parse_path(arg, true, true, path);
	if (e != SMTP_PATH_OK) {
		reply_path_error(s, e, true);
		return false;
	}
	if (!smtp_policy_mail_params(path, mp, &bad)) {
		smtp_reply(s, 555, "5.5.4 Unsupported option: %.*s", (int)path->params[bad].key.len,
			   path->params[bad].key.p);
		return false;
	}
	if ((path->flags & SMTP_PATH_UTF8) && !mp->smtputf8) {
		reply_path_error(s, SMTP_PATH_E8BIT, true);
		return false;
	}
	if (mp->size > cfg->smtp_max_message_size) {
		/* RFC 1870 §6: permanent, and no client error */
		smtp_reply(s, 552, "5.3.4 Message size exceeds fixed limit");
		*r = SMTP_CMD_OK;
		return false;
	}
	return true;
}

/* Opens the transaction; submission may first check the sender's owner. */
static enum smtp_cmd_result smtp_do_mail(struct smtp_session *s, const struct smtp_path *path,
					 const struct smtp_mail_params *mp)
{
	const struct config *cfg = smtp_config(s);
	struct smtp_tx *t = smtp_tx_new();

	t->declared_size = mp->size;
	t->body_8bit = mp->body_8bit;
	t->smtputf8 = mp->smtputf8;
	if (mp->ret.len > 0)
		t->dsn_ret = arena_strndup(t->arena, mp->ret.p, mp->ret.len);
	if (mp->envid.len > 0)
		t->dsn_envid = arena_strndup(t->arena, mp->envid.p, mp->envid.len);
	t->null_sender = (path->flags & SMTP_PATH_NULL) != 0;
	snprintf(t->sender, sizeof(t->sender), "%s", path->address);
	s->tx = t;
	if (smtp_role_submission(s) && cfg->smtp_sender_login_match && !t->null_sender) {
		struct smtp_job *job = smtp_job_new(s, finish_sender);
		snprintf(job->address, sizeof(job->address), "%s", path->address);
		if (!smtp_job_submit(s, job, work_sender)) {
			smtp_tx_free(&s->tx);
			return SMTP_CMD_OK; /* replied and finished */
		}
		return SMTP_CMD_ASYNC;
	}
	mail_accept(s);
	return SMTP_CMD_OK;
}

enum smtp_cmd_result smtp_cmd_mail(struct smtp_cmd_ctx *ctx)
{
	struct smtp_path path;
	struct smtp_mail_params mp;
	enum smtp_cmd_result r;

	if (!smtp_check_mail(ctx->sess, ctx->rest, &path, &mp, &r))
		return r;
	return smtp_do_mail(ctx->sess, &path, &mp);
}

/* --- RCPT -------------------------------------------------------------------------- */

static enum smtp_domain_kind domain_kind(enum domain_type t)
{
	switch (t) {
	case DOMAIN_INTERNAL_RELAY:
		return SMTP_DOMAIN_INTERNAL_RELAY;
	case DOMAIN_EXTERNAL_RELAY:
		return SMTP_DOMAIN_EXTERNAL_RELAY;
	default:
		return SMTP_DOMAIN_AUTHORITATIVE;
	}
}

static bool store_failed(int r)
{
	return r != STORE_OK && r != STORE_NOTFOUND && r != STORE_INVALID;
}

/* Worker: gathers the facts about one recipient, lets smtp_policy_rcpt()
   decide, and finds the mailboxes of a local verdict. job->result gets the
   verdict, job->ids the mailboxes; a store failure leaves SMTP_RCPT_TEMP
   with the store's status in job->status. */
static void work_rcpt(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct store *st = thread_ctx;
	struct smtp_rcpt_facts f = {
	    .authenticated = job->authenticated,
	    .bare_postmaster = (job->path_flags & SMTP_PATH_POSTMASTER) != 0,
	    .routing = (job->path_flags & (SMTP_PATH_ROUTING | SMTP_PATH_ROUTE)) != 0,
	};
	const char *at = strrchr(job->address, '@');
	struct store_domain d;
	int r = STORE_OK;

	memset(&d, 0, sizeof(d));
	job->result = SMTP_RCPT_TEMP;
	f.postmaster_local = at != NULL && (size_t)(at - job->address) == 10 &&
			     strncasecmp(job->address, "postmaster", 10) == 0;
	if (!f.bare_postmaster && !(job->path_flags & SMTP_PATH_LITERAL) && at != NULL) {
		r = store_domain_get(st, at + 1, &d);
		if (store_failed(r))
			goto out;
		f.domain = r == STORE_OK ? domain_kind(d.type) : SMTP_DOMAIN_NONE;
	}
	if (f.domain == SMTP_DOMAIN_AUTHORITATIVE || f.domain == SMTP_DOMAIN_INTERNAL_RELAY) {
		r = job_resolve(job, st, job->address);
		if (store_failed(r))
			goto out;
		f.found = r == STORE_OK;
	}
	enum smtp_rcpt_verdict v = smtp_policy_rcpt(&f);
	if (v == SMTP_RCPT_POSTMASTER) {
		/* RFC 5321 §4.5.1 MUST accept: [smtp] postmaster when it names a
		   mailbox here, else the store's built-in one (store.h) */
		r = job->postmaster != NULL ? job_resolve(job, st, job->postmaster)
					    : STORE_NOTFOUND;
		if (r == STORE_OK && job->n_ids == 0)
			r = STORE_NOTFOUND; /* only outside targets: not a mailbox here */
		if (store_failed(r))
			goto out;
		if (r != STORE_OK) {
			job->postmaster_fallback = job->postmaster != NULL;
			r = job_resolve(job, st, STORE_POSTMASTER);
		}
		if (store_failed(r))
			goto out;
		if (r != STORE_OK)
			v = SMTP_RCPT_NO_POSTMASTER;
	}
	bool over = false;
	for (size_t i = 0; (v == SMTP_RCPT_LOCAL || v == SMTP_RCPT_POSTMASTER) && i < job->n_ids;
	     i++) {
		bool ok = true;
		if ((r = store_quota_check(st, job->ids[i], job->size, &ok)) != STORE_OK)
			goto out;
		over |= !ok;
	}
	r = STORE_OK;
	job->result = smtp_policy_quota(v, f.bare_postmaster, over);
out:
	job->status = r;
	store_domain_clear(&d);
}

static void finish_rcpt(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_tx *t = s->tx;
	const char *a = job->address;

	switch ((enum smtp_rcpt_verdict)job->result) {
	case SMTP_RCPT_LOCAL:
	case SMTP_RCPT_POSTMASTER:
		if (job->postmaster_fallback)
			log_warn("sid=%s smtp [smtp] postmaster <%s> names no mailbox here: mail "
				 "for <%s> goes to the built-in postmaster",
				 s->sid, job->postmaster, a);
		for (size_t i = 0; i < job->n_ids; i++)
			tx_add_local(t, job->ids[i]);
		for (size_t i = 0; i < job->n_forward; i++)
			tx_add_remote(t, job, job->forward[i]);
		if (job->n_ids > 0)
			tx_add_notify(t, job);
		break;
	case SMTP_RCPT_REMOTE:
		tx_add_remote(t, job, job->address);
		break;
	case SMTP_RCPT_UNKNOWN:
		log_info("sid=%s smtp rcpt refused to=<%s> reason=unknown ip=%s", s->sid, a, s->ip);
		smtp_reply(s, 550, "5.1.1 <%s>: Recipient address rejected: User unknown", a);
		smtp_session_error(s);
		return;
	case SMTP_RCPT_RELAY:
	case SMTP_RCPT_ROUTING:
		log_info("sid=%s smtp rcpt refused to=<%s> reason=%s ip=%s", s->sid, a,
			 job->result == SMTP_RCPT_RELAY ? "relay" : "routing", s->ip);
		smtp_reply(s, 550, "5.7.1 <%s>: %s", a,
			   job->result == SMTP_RCPT_RELAY
			       ? "Relay access denied"
			       : "Sender-specified routing is not allowed");
		smtp_session_error(s);
		return;
	case SMTP_RCPT_FULL:
		smtp_reply(s, 452, "4.2.2 <%s>: Mailbox full", a);
		return;
	case SMTP_RCPT_NO_POSTMASTER:
		log_error("sid=%s smtp postmaster mail for <%s> has no mailbox: the store's "
			  "built-in postmaster is missing",
			  s->sid, a);
		smtp_reply(s, 451, "4.3.0 <%s>: Postmaster mailbox not configured", a);
		return;
	case SMTP_RCPT_TEMP:
		if (job->status == STORE_PERM)
			smtp_reply_store_error(s, STORE_PERM, "recipient lookup");
		else
			smtp_reply(s, 451, "4.3.0 <%s>: Temporary lookup failure", a);
		return;
	}
	if (t->n_rcpts == 0)
		t->first_rcpt = tx_strdup(t, a);
	t->n_rcpts++;
	smtp_enter_state(s, SMTP_RCPT);
	smtp_reply(s, 250, "2.1.5 Ok");
}

/* Checks RCPT's argument against the open transaction; replies and returns
   false if it is refused (*r says whether that counts as a client error). */
static bool smtp_check_rcpt(struct smtp_session *s, struct slice rest, struct smtp_path *path,
			    struct smtp_rcpt_params *rp, enum smtp_cmd_result *r)
{
	struct slice arg;
	size_t bad;

	*r = SMTP_CMD_ERROR;
	if (s->tx->n_rcpts >= smtp_config(s)->smtp_max_recipients) {
		smtp_reply(s, 452, "4.5.3 Error: too many recipients"); /* RFC 5321 §4.5.3.1.10 */
		*r = SMTP_CMD_OK;
		return false;
	}
	if (!smtp_parse_prefix(rest, "TO:", &arg)) {
		smtp_reply(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		return false;
	}
	enum smtp_path_error e = smtp_parse_path(arg, false, s->tx->smtputf8, path);
	if (e != SMTP_PATH_OK) {
		reply_path_error(s, e, false);
		return false;
	}
	if (!smtp_policy_rcpt_params(path, rp, &bad)) {
		smtp_reply(s, 555, "5.5.4 Unsupported option: %.*s", (int)path->params[bad].key.len,
			   path->params[bad].key.p);
		return false;
	}
	return true;
}

/* Looks the recipient up on a worker; finish_rcpt() answers. */
static enum smtp_cmd_result smtp_do_rcpt(struct smtp_session *s, const struct smtp_path *path,
					 const struct smtp_rcpt_params *rp)
{
	struct smtp_job *job = smtp_job_new(s, finish_rcpt);

	snprintf(job->address, sizeof(job->address), "%s", path->address);
	job->path_flags = path->flags;
	if (rp->notify.len > 0)
		job->notify = xstrndup(rp->notify.p, rp->notify.len);
	if (rp->orcpt.len > 0)
		job->orcpt = xstrndup(rp->orcpt.p, rp->orcpt.len);
	job->authenticated = s->auth != NULL;
	job->postmaster = smtp_config(s)->smtp_postmaster;
	job->size = s->tx->declared_size;
	return smtp_job_submit(s, job, work_rcpt) ? SMTP_CMD_ASYNC : SMTP_CMD_OK;
}

enum smtp_cmd_result smtp_cmd_rcpt(struct smtp_cmd_ctx *ctx)
{
	struct smtp_path path;
	struct smtp_rcpt_params rp;
	enum smtp_cmd_result r;

	if (!smtp_check_rcpt(ctx->sess, ctx->rest, &path, &rp, &r))
		return r;
	return smtp_do_rcpt(ctx->sess, &path, &rp);
}

/* --- DATA ------------------------------------------------------------------------------- */

enum smtp_cmd_result smtp_cmd_data(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;
	const struct config *cfg = smtp_config(s);

	if (s->tx->bdat_started) {
		smtp_reply(s, 503, "5.5.1 Error: DATA after BDAT"); /* RFC 3030 §3 */
		return SMTP_CMD_ERROR;
	}
	buf_free(&s->tx->body);
	smtp_data_init(&s->data, &s->tx->body, cfg->smtp_max_message_size);
	smtp_enter_state(s, SMTP_DATA);
	conn_set_idle_timeout(s->conn, cfg->smtp_data_timeout);
	conn_phase_begin(s->conn);
	smtp_reply(s, 354, "End data with <CR><LF>.<CR><LF>");
	return SMTP_CMD_OK;
}

static void make_qid(struct smtp_session *s, char *out, size_t len)
{
	unsigned char r[5];
	static const char digits[] = "0123456789BCDFGHJKLMNPQRSTVWXYZ";

	if (RAND_bytes(r, sizeof(r)) != 1)
		log_panic("RAND_bytes failed");
	uint64_t t = (uint64_t)time(NULL);
	uint64_t n = ++s->svc->qid_counter;
	uint64_t v = (t << 20) ^ (n & 0xfffff);
	size_t o = 0;
	for (int i = 0; i < 8 && o + 1 < len; i++, v /= 31)
		out[o++] = digits[v % 31];
	for (size_t i = 0; i < sizeof(r) && o + 1 < len; i++)
		out[o++] = digits[r[i] % 31];
	out[o] = '\0';
}

static void rfc5322_now(char *out, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void received_header(struct smtp_session *s, struct buf *b, const char *qid)
{
	const struct config *cfg = smtp_config(s);
	const struct smtp_tx *t = s->tx;
	char date[64];
	bool tls = conn_is_tls(s->conn);

	rfc5322_now(date, sizeof(date));
	/* RFC 3848 §2 (and RFC 6531 §3.7.3 for SMTPUTF8) protocol names:
	   S = over TLS, A = authenticated */
	const char *proto = !s->esmtp ? "SMTP"
			    : tls     ? (s->auth != NULL ? "ESMTPSA" : "ESMTPS")
				      : (s->auth != NULL ? "ESMTPA" : "ESMTP");
	if (t->smtputf8)
		proto = !s->esmtp ? "SMTP"
			: tls	  ? (s->auth ? "UTF8SMTPSA" : "UTF8SMTPS")
				  : (s->auth ? "UTF8SMTPA" : "UTF8SMTP");
	buf_printf(b, "Received: from %s ([%s])\r\n\tby %s (mailroom) with %s id %s", s->helo,
		   s->ip, cfg->hostname, proto, qid);
	if (tls)
		buf_printf(b, "\r\n\t(%s)", conn_tls_desc(s->conn));
	if (s->auth != NULL)
		buf_printf(b, "\r\n\t(authenticated as %s)", s->auth->address);
	if (t->n_rcpts == 1)
		buf_printf(b, "\r\n\tfor <%s>", t->first_rcpt);
	buf_printf(b, "; %s\r\n", date);
}

/* Whether the header section of body (unstuffed, any line ends) has a field
   called `name` (RFC 5322 §2.2: name, optional WSP, colon). */
static bool header_present(const struct buf *body, const char *name)
{
	const char *p = body->data != NULL ? body->data : "";
	const char *end = p + body->len;
	size_t n = strlen(name);

	while (p < end && *p != '\r' && *p != '\n') { /* an empty line ends the header */
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol != NULL ? eol + 1 : end;
		if ((size_t)(end - p) > n && strncasecmp(p, name, n) == 0) {
			const char *c = p + n;
			while (c < next && (*c == ' ' || *c == '\t'))
				c++;
			if (c < next && *c == ':')
				return true;
		}
		p = next;
	}
	return false;
}

/* RFC 6409 §8.3: a submission server adds Date and Message-ID when the
   client left them out; an MTA on port 25 never changes the message. */
static void submission_fields(struct smtp_session *s, struct buf *b, const char *qid)
{
	const struct smtp_tx *t = s->tx;
	char date[64];
	unsigned char r[6];

	if (!smtp_role_submission(s))
		return;
	if (!header_present(&t->body, "Date")) {
		rfc5322_now(date, sizeof(date));
		buf_printf(b, "Date: %s\r\n", date);
	}
	if (!header_present(&t->body, "Message-ID")) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			log_panic("RAND_bytes failed");
		buf_printf(b, "Message-ID: <%s.%02x%02x%02x%02x%02x%02x@%s>\r\n", qid, r[0], r[1],
			   r[2], r[3], r[4], r[5], smtp_config(s)->hostname);
	}
}

static void log_message(struct smtp_session *s, const char *qid, size_t size, const char *res)
{
	const struct smtp_tx *t = s->tx;
	char to[600];
	size_t o = 0;

	to[0] = '\0';
	if (t->n_rcpts > 0)
		o = (size_t)snprintf(to, sizeof(to), "<%s>", t->first_rcpt);
	if (t->n_rcpts > 1 && o < sizeof(to))
		snprintf(to + o, sizeof(to) - o, ",+%zu", t->n_rcpts - 1);
	log_info("sid=%s smtp message qid=%s from=<%s> to=%s rcpts=%zu local=%zu remote=%zu "
		 "size=%zu ip=%s tls=%s auth=%s result=\"%s\"",
		 s->sid, qid, t->sender, to, t->n_rcpts, t->n_local, t->n_remote, size, s->ip,
		 conn_is_tls(s->conn) ? conn_tls_desc(s->conn) : "no",
		 s->auth != NULL ? s->auth->address : "-", res);
}

static void finish_commit(struct smtp_session *s, struct smtp_job *job)
{
	char res[128];

	if (job->commit.sub.status == STORE_OK) {
		smtp_reply(s, 250, "2.0.0 Ok: queued as %s", job->qid);
		if (s->tx->n_remote > 0 || job->report.sub.n_remote > 0)
			queue_mgr_kick(s->svc->srv->queue);
		snprintf(res, sizeof(res), "250 queued as %s", job->qid);
	} else {
		smtp_reply_store_error(s, job->commit.sub.status, "commit");
		snprintf(res, sizeof(res), "%d store error %d", s->reply_code,
			 job->commit.sub.status);
	}
	log_message(s, job->qid, job->msg.len, res);
	smtp_tx_reset(s);
}

/* Refuses the finished message without storing it. */
static void data_refuse(struct smtp_session *s, const char *qid, int code, const char *text,
			const char *res)
{
	smtp_reply(s, code, "%s", text);
	log_message(s, qid, (size_t)s->data.size, res);
	smtp_tx_reset(s);
	smtp_cmd_finish(s); /* BDAT LAST; after DATA its record ended at 354 */
}

void smtp_data_end(struct smtp_session *s)
{
	const struct config *cfg = smtp_config(s);
	struct smtp_tx *t = s->tx;
	char qid[24];

	smtp_enter_state(s, SMTP_RCPT); /* until the answer; the tx resets after it */
	make_qid(s, qid, sizeof(qid));
	if (s->data.too_big) {
		data_refuse(s, qid, 552, "5.3.4 Message size exceeds fixed maximum message size",
			    "552 too big");
		return;
	}
	if (s->data.received > cfg->smtp_max_received) {
		data_refuse(s, qid, 554, "5.4.6 Too many hops (mail loop?)", "554 loop");
		return;
	}
	if (t->n_remote > 0 && !mime_relay_possible(t->body.data, t->body.len)) { /* SPEC §3 */
		data_refuse(s, qid, 554,
			    "5.6.3 A line over 998 octets cannot be encoded for relaying",
			    "554 long line");
		return;
	}
	struct smtp_job *job = smtp_job_new(s, finish_commit);
	struct buf head = {0};
	snprintf(job->qid, sizeof(job->qid), "%s", qid);
	received_header(s, &head, qid);
	submission_fields(s, &head, qid);
	buf_reserve(&job->msg, head.len + t->body.len + 2);
	buf_append(&job->msg, head.data, head.len);
	buf_free(&head);
	/* wire form: bare CR and LF become CR LF (see smtp_data.h) */
	store_to_wire(&job->msg, t->body.data != NULL ? t->body.data : "", t->body.len);
	buf_free(&t->body);
	struct store_submission *sub = &job->commit.sub;
	sub->qid = job->qid;
	sub->sender = t->sender;
	sub->body = job->msg.data;
	sub->len = job->msg.len;
	sub->mailbox_ids = t->local;
	sub->n_local = t->n_local;
	sub->remote = t->remote;
	sub->n_remote = t->n_remote;
	sub->auth_user = s->auth != NULL ? s->auth->address : NULL;
	sub->dsn_envid = t->dsn_envid;
	sub->dsn_ret = t->dsn_ret;
	/* RFC 3461 §6.2.1: never a report to the null sender */
	job->commit.deferred = t->n_notify > 0 && !t->null_sender;
	job->notify_rcpts = t->notify;
	job->n_notify = t->n_notify;
	job->arrival = (uint64_t)time(NULL);
	snprintf(job->hostname, sizeof(job->hostname), "%s", cfg->hostname);
	smtp_commit_submit(s, job);
}

/* --- BDAT (RFC 3030) ---------------------------------------------------------- */

enum smtp_cmd_result smtp_cmd_bdat(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;
	const struct config *cfg = smtp_config(s);
	struct slice size, last;
	uint64_t n;

	if (!slice_token(ctx->rest, &size, &last) || !smtp_parse_number(size, &n) ||
	    (last.len > 0 && !slice_eq_ci(last, "LAST"))) {
		/* without a valid size the chunk cannot be skipped: no way to resync */
		smtp_reply(s, 501, "5.5.4 Syntax: BDAT size [LAST]");
		smtp_session_close(s, "bad BDAT");
		return SMTP_CMD_OK;
	}
	s->chunk_left = n;
	s->chunk_last = last.len > 0;
	s->chunk_reading = true;
	s->chunk_discard = false;
	s->chunk_error = 0;
	conn_set_idle_timeout(s->conn, cfg->smtp_data_timeout);
	conn_phase_begin(s->conn);
	/* RFC 3030 §2: a refused BDAT's octets are still read and dropped */
	if (s->state != SMTP_RCPT) {
		s->chunk_discard = true;
		s->chunk_error = s->state == SMTP_MAIL ? 554 : 503;
		return SMTP_CMD_ASYNC;
	}
	if (!s->tx->bdat_started) {
		buf_free(&s->tx->body);
		smtp_data_init(&s->data, &s->tx->body, cfg->smtp_max_message_size);
		s->tx->bdat_started = true;
	}
	return SMTP_CMD_ASYNC;
}

void smtp_chunk_end(struct smtp_session *s)
{
	if (s->chunk_discard) {
		/* RFC 3030 §2: a refused chunk fails the whole transaction */
		if (s->chunk_error == 554)
			smtp_reply(s, 554, "5.5.1 Error: no valid recipients");
		else
			smtp_reply(s, 503, "5.5.1 Error: need RCPT command");
		smtp_tx_reset(s);
		smtp_cmd_finish(s);
		smtp_session_error(s);
		return;
	}
	if (!s->chunk_last) {
		smtp_reply(s, 250, "2.0.0 %llu octets received", (unsigned long long)s->data.size);
		smtp_cmd_finish(s);
		return;
	}
	smtp_data_raw_end(&s->data);
	smtp_data_end(s);
}
