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
#include "smtp/smtp.h"
#include "net/conn.h"
#include "net/loop.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/arena.h"
#include "util/config.h"
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
	delivery_plan_free(&t->plan);
	arena_free(&a);
	*tp = NULL;
}

void smtp_tx_reset(struct smtp_session *s)
{
	smtp_tx_free(&s->tx);
	if (s->state > SMTP_READY)
		smtp_enter_state(s, SMTP_READY);
}

static const char *tx_strdup(struct smtp_tx *t, const char *s)
{
	return s != NULL ? arena_strdup(t->arena, s) : NULL;
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

/* Worker, submission: whether the login owns the sender address ([smtp]
   sender_login_match), and may send now (delivery.h: send quota, rates,
   size). */
static void work_sender(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct store *st = thread_ctx;
	struct dir_rcpt r = {0};

	job->core.result = STORE_OK;
	if (job->check_owner) {
		job->core.result = directory_resolve(job->core.dir, st, job->address, &r);
		job->ids = r.ids;
		job->n_ids = r.n_ids;
		r.ids = NULL;
		dir_rcpt_clear(&r);
		if (job->core.result != STORE_OK)
			return;
	}
	delivery_sender_check(job->delivery, st, job->plan, &job->dres);
}

/* The reply to a refusal of delivery.h for the verdict v. */
static void reply_delivery(struct smtp_session *s, const struct delivery_result *res,
			   const char *address)
{
	const char *a = address != NULL ? address : "";

	switch (res->verdict) {
	case DELIVERY_OK:
		break;
	case DELIVERY_UNKNOWN:
		smtp_reply(s, 550, "5.1.1 <%s>: %s", a, res->text);
		break;
	case DELIVERY_FULL:
		smtp_reply(s, 452, "4.2.2 <%s>: %s", a, res->text);
		break;
	case DELIVERY_REFUSED:
		smtp_reply(s, 550, "5.7.1 <%s>: %s", a, res->text);
		break;
	case DELIVERY_TOO_MANY:
		smtp_reply(s, 452, "4.5.3 %s", res->text);
		break;
	case DELIVERY_RATE:
		smtp_reply(s, 450, "4.7.1 %s", res->text);
		break;
	case DELIVERY_SEND_QUOTA:
		smtp_reply(s, 552, "5.2.2 %s", res->text);
		break;
	case DELIVERY_TOO_BIG:
		smtp_reply(s, 552, "5.3.4 %s", res->text);
		break;
	case DELIVERY_NO_POSTMASTER:
		smtp_reply(s, 451, "4.3.0 <%s>: %s", a, res->text);
		break;
	case DELIVERY_TEMP:
		if (res->status == STORE_PERM)
			smtp_reply_store_error(s, STORE_PERM, "recipient lookup");
		else
			smtp_reply(s, 451, "4.3.0 <%s>: %s", a, res->text);
		break;
	}
}

static const char *limit_name(const struct delivery_result *res)
{
	return res->limit >= 0 ? store_limit_name((enum store_limit)res->limit) : "-";
}

static void finish_sender(struct smtp_session *s, struct smtp_job *job)
{
	if (job->core.result != STORE_OK && job->core.result != STORE_NOTFOUND &&
	    job->core.result != STORE_INVALID) {
		smtp_reply_store_error(s, job->core.result, "sender lookup");
		smtp_tx_free(&s->tx);
		return;
	}
	if (job->check_owner &&
	    (job->core.result != STORE_OK ||
	     !smtp_policy_sender_owned(job->ids, job->n_ids, s->auth->mailbox_id))) {
		log_info("sid=%s smtp sender refused from=<%s> user=%s", s->core.sid, job->address,
			 s->auth->address);
		smtp_reply(s, 553, "5.7.1 Sender address <%s> not owned by user %s", job->address,
			   s->auth->address);
		smtp_tx_free(&s->tx);
		smtp_session_error(s);
		return;
	}
	if (job->dres.verdict != DELIVERY_OK) {
		log_info("sid=%s delivery limit user=%s from=<%s> limit=%s reason=\"%s\"",
			 s->core.sid, s->auth->address, job->address, limit_name(&job->dres),
			 job->dres.text);
		reply_delivery(s, &job->dres, NULL);
		smtp_tx_free(&s->tx);
		return;
	}
	mail_accept(s);
}

/* Checks MAIL's argument; replies and returns false if it is refused. */
static bool smtp_check_mail(struct smtp_session *s, struct slice rest, struct smtp_path *path,
			    struct smtp_mail_params *mp, enum smtp_cmd_result *r)
{
	const struct config *cfg = smtp_cfg(s);
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
	if (mp->size > smtp_config(cfg)->max_message_size) {
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
	const struct config *cfg = smtp_cfg(s);
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
	struct delivery_sender snd = {
	    .address = t->sender,
	    .mailbox = s->auth != NULL ? s->auth->mailbox_id : 0,
	    .login = s->auth != NULL ? s->auth->address : NULL,
	};
	t->plan = delivery_plan_new(&snd, mp->size);
	s->tx = t;
	if (smtp_role_submission(s) && s->auth != NULL) {
		struct smtp_job *job = smtp_job_new(s, finish_sender);
		snprintf(job->address, sizeof(job->address), "%s", path->address);
		job->check_owner = smtp_config(cfg)->sender_login_match && !t->null_sender;
		job->plan = t->plan;
		if (!proto_job_submit(&job->core, work_sender)) {
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

/* Worker: gathers the facts about one recipient and lets smtp_policy_rcpt()
   decide where it may go; a local recipient is resolved, expanded and added
   to the plan by the delivery path, which has its own verdict in *dres.
   A store failure gives SMTP_RCPT_TEMP with the store's status. */
int smtp_rcpt_resolve(struct store *st, struct delivery *dl, struct delivery_plan *plan,
		      const struct smtp_rcpt_in *in, struct delivery_result *dres, int *status_r)
{
	struct smtp_rcpt_facts f = {
	    .authenticated = in->authenticated,
	    .bare_postmaster = (in->path_flags & SMTP_PATH_POSTMASTER) != 0,
	    .routing = (in->path_flags & (SMTP_PATH_ROUTING | SMTP_PATH_ROUTE)) != 0,
	};
	const char *at = strrchr(in->address, '@');
	struct store_domain d;
	struct delivery_rcpt r = {.address = in->address, .notify = in->notify, .orcpt = in->orcpt};
	int rc = STORE_OK;
	int verdict = SMTP_RCPT_TEMP;

	memset(&d, 0, sizeof(d));
	f.postmaster_local = at != NULL && (size_t)(at - in->address) == 10 &&
			     strncasecmp(in->address, "postmaster", 10) == 0;
	if (!f.bare_postmaster && !(in->path_flags & SMTP_PATH_LITERAL) && at != NULL) {
		rc = store_domain_get(st, at + 1, &d);
		if (store_failed(rc))
			goto out;
		f.domain = rc == STORE_OK ? domain_kind(d.type) : SMTP_DOMAIN_NONE;
	}
	rc = STORE_OK;
	bool ours =
	    f.bare_postmaster ||
	    ((f.domain == SMTP_DOMAIN_AUTHORITATIVE || f.domain == SMTP_DOMAIN_INTERNAL_RELAY) &&
	     !(f.routing && !f.authenticated));
	if (ours) {
		r.postmaster = f.bare_postmaster || f.postmaster_local;
		enum delivery_verdict v = delivery_add(dl, st, plan, &r, dres);
		if (v != DELIVERY_UNKNOWN) {
			verdict = SMTP_RCPT_LOCAL; /* dres says how it went */
			goto out;
		}
	}
	verdict = smtp_policy_rcpt(&f);
	if (verdict == SMTP_RCPT_REMOTE)
		delivery_add_remote(plan, &r, dres);
out:
	*status_r = rc;
	store_domain_clear(&d);
	return verdict;
}

static void work_rcpt(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_rcpt_in in = {
	    .address = job->address,
	    .notify = job->notify,
	    .orcpt = job->orcpt,
	    .path_flags = job->path_flags,
	    .authenticated = job->authenticated,
	};

	job->core.result =
	    smtp_rcpt_resolve(thread_ctx, job->delivery, job->plan, &in, &job->dres, &job->status);
}

static void finish_rcpt(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_tx *t = s->tx;
	const char *a = job->address;

	switch ((enum smtp_rcpt_verdict)job->core.result) {
	case SMTP_RCPT_LOCAL:
	case SMTP_RCPT_POSTMASTER:
	case SMTP_RCPT_REMOTE:
		if (job->dres.postmaster_fallback)
			log_warn("sid=%s smtp [smtp] postmaster <%s> names no mailbox here: mail "
				 "for <%s> goes to the built-in postmaster",
				 s->core.sid, smtp_config(smtp_cfg(s))->postmaster, a);
		if (job->dres.verdict != DELIVERY_OK) {
			log_info("sid=%s %s to=<%s> user=%s limit=%s reason=\"%s\"", s->core.sid,
				 job->dres.limit >= 0 ? "delivery limit" : "smtp rcpt refused", a,
				 s->auth != NULL ? s->auth->address : "-", limit_name(&job->dres),
				 job->dres.text);
			reply_delivery(s, &job->dres, a);
			if (job->dres.verdict == DELIVERY_UNKNOWN ||
			    job->dres.verdict == DELIVERY_REFUSED)
				smtp_session_error(s);
			return;
		}
		break;
	case SMTP_RCPT_UNKNOWN:
		log_info("sid=%s smtp rcpt refused to=<%s> reason=unknown ip=%s", s->core.sid, a,
			 s->core.ip);
		smtp_reply(s, 550, "5.1.1 <%s>: Recipient address rejected: User unknown", a);
		smtp_session_error(s);
		return;
	case SMTP_RCPT_RELAY:
	case SMTP_RCPT_ROUTING:
		log_info("sid=%s smtp rcpt refused to=<%s> reason=%s ip=%s", s->core.sid, a,
			 job->core.result == SMTP_RCPT_RELAY ? "relay" : "routing", s->core.ip);
		smtp_reply(s, 550, "5.7.1 <%s>: %s", a,
			   job->core.result == SMTP_RCPT_RELAY
			       ? "Relay access denied"
			       : "Sender-specified routing is not allowed");
		smtp_session_error(s);
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
	struct smtp_tx_rcpt *tr = arena_alloc(t->arena, sizeof(*tr));
	*tr = (struct smtp_tx_rcpt){
	    .address = t->n_rcpts == 0 ? t->first_rcpt : tx_strdup(t, a),
	    .notify = job->notify != NULL ? tx_strdup(t, job->notify) : NULL,
	    .orcpt = job->orcpt != NULL ? tx_strdup(t, job->orcpt) : NULL,
	    .path_flags = job->path_flags,
	};
	*(t->rcpts_tail != NULL ? t->rcpts_tail : &t->rcpts) = tr;
	t->rcpts_tail = &tr->next;
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
	if (s->tx->n_rcpts >= smtp_config(smtp_cfg(s))->max_recipients) {
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
	job->plan = s->tx->plan;
	return proto_job_submit(&job->core, work_rcpt) ? SMTP_CMD_ASYNC : SMTP_CMD_OK;
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
	const struct config *cfg = smtp_cfg(s);

	if (s->tx->bdat_started) {
		smtp_reply(s, 503, "5.5.1 Error: DATA after BDAT"); /* RFC 3030 §3 */
		return SMTP_CMD_ERROR;
	}
	buf_free(&s->tx->body);
	smtp_data_init(&s->data, &s->tx->body, smtp_config(cfg)->max_message_size);
	smtp_enter_state(s, SMTP_DATA);
	conn_set_idle_timeout(s->core.conn, smtp_config(cfg)->data_timeout);
	conn_phase_begin(s->core.conn);
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
	const struct config *cfg = smtp_cfg(s);
	const struct smtp_tx *t = s->tx;
	char date[64];
	bool tls = conn_is_tls(s->core.conn);

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
		   s->core.ip, cfg->hostname, proto, qid);
	if (tls)
		buf_printf(b, "\r\n\t(%s)", conn_tls_desc(s->core.conn));
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
			   r[2], r[3], r[4], r[5], smtp_cfg(s)->hostname);
	}
}

/* The message record: result is the reply code, reason its meaning. */
void smtp_data_logged(struct smtp_session *s, const char *qid, size_t size, const char *reason)
{
	const struct smtp_tx *t = s->tx;
	char to[600], from[SMTP_PATH_MAX + 3], extra[1400], code[8], num[24];
	size_t o = 0, n = 0;

	to[0] = '\0';
	if (t->n_rcpts > 0)
		o = (size_t)snprintf(to, sizeof(to), "<%s>", t->first_rcpt);
	if (t->n_rcpts > 1 && o < sizeof(to))
		snprintf(to + o, sizeof(to) - o, ",+%zu", t->n_rcpts - 1);
	snprintf(from, sizeof(from), "<%s>", t->sender);
	extra[0] = '\0';
	n = log_extra_add(extra, sizeof(extra), n, "from", from);
	n = log_extra_add(extra, sizeof(extra), n, "to", to);
	snprintf(num, sizeof(num), "%zu", delivery_plan_local(t->plan));
	n = log_extra_add(extra, sizeof(extra), n, "local", num);
	snprintf(num, sizeof(num), "%zu", delivery_plan_remote(t->plan));
	log_extra_add(extra, sizeof(extra), n, "remote", num);
	snprintf(code, sizeof(code), "%d", s->reply_code);
	struct log_record r = {
	    .event = LOG_EV_MESSAGE,
	    .service = s->core.service,
	    .sid = s->core.sid,
	    .qid = qid,
	    .ip = s->core.ip,
	    .user = s->auth != NULL ? s->auth->address : NULL,
	    .result = code,
	    .reason = reason,
	    .tls = s->core.conn != NULL ? conn_tls_version(s->core.conn) : NULL,
	    .usec = log_now_usec() - s->data_end_us,
	    .bytes = size,
	    .count = t->n_rcpts,
	    .extra = extra + 1,
	};
	log_record(LOG_INFO, &r);
}

static void finish_commit(struct smtp_session *s, struct smtp_job *job)
{
	char res[64];

	delivery_log(&job->out, s->core.sid);
	if (job->commit.sub.status == STORE_OK) {
		smtp_reply(s, 250, "2.0.0 Ok: queued as %s", job->qid);
		const struct service_env *env = s->svc->env;
		if ((job->commit.sub.n_remote > 0 || job->commit.sub.n_reports > 0) &&
		    env->queue_kick != NULL)
			env->queue_kick(env->queue_ctx);
		/* IMAP sessions on those mailboxes hear of the new mail */
		for (size_t i = 0; env->changed != NULL && i < job->commit.sub.n_local; i++)
			env->changed(env->changed_ctx, job->commit.sub.mailbox_ids[i]);
		snprintf(res, sizeof(res), "queued");
		s->messages++;
		s->bytes_in += job->msg.len;
	} else {
		smtp_reply_store_error(s, job->commit.sub.status, "commit");
		snprintf(res, sizeof(res), "store error %d", job->commit.sub.status);
	}
	smtp_data_logged(s, job->qid, job->msg.len, res);
	if (job->commit.sub.status == STORE_OK && delivery_plan_local(s->tx->plan) > 0) {
		/* the local mailboxes got it in the same commit */
		struct log_record r = {
		    .event = LOG_EV_DELIVERY,
		    .service = s->core.service,
		    .sid = s->core.sid,
		    .qid = job->qid,
		    .result = "local",
		    .usec = log_now_usec() - s->data_end_us,
		    .count = delivery_plan_local(s->tx->plan),
		};
		log_record(LOG_INFO, &r);
	}
	smtp_tx_reset(s);
}

/* Refuses the finished message without storing it. */
static void data_refuse(struct smtp_session *s, const char *qid, int code, const char *text,
			const char *res)
{
	smtp_reply(s, code, "%s", text);
	smtp_data_logged(s, qid, (size_t)s->data.size, res);
	smtp_tx_reset(s);
	smtp_cmd_finish(s); /* BDAT LAST; after DATA its record ended at 354 */
}

void smtp_data_end(struct smtp_session *s)
{
	const struct config *cfg = smtp_cfg(s);
	struct smtp_tx *t = s->tx;
	char qid[24];

	s->data_end_us = log_now_usec();
	smtp_enter_state(s, SMTP_RCPT); /* until the answer; the tx resets after it */
	make_qid(s, qid, sizeof(qid));
	if (s->data.too_big) {
		data_refuse(s, qid, 552, "5.3.4 Message size exceeds fixed maximum message size",
			    "too big");
		return;
	}
	if (!delivery_plan_size_ok(t->plan, s->data.size)) {
		log_info("sid=%s delivery limit user=%s size=%llu limit=max-message-size",
			 s->core.sid, s->auth != NULL ? s->auth->address : "-",
			 (unsigned long long)s->data.size);
		data_refuse(s, qid, 552, "5.3.4 Message size exceeds the limit of this sender",
			    "too big for the sender");
		return;
	}
	if (s->data.received > smtp_config(cfg)->max_received) {
		data_refuse(s, qid, 554, "5.4.6 Too many hops (mail loop?)", "loop");
		return;
	}
	if (delivery_plan_remote(t->plan) > 0 &&
	    !mime_relay_possible(t->body.data, t->body.len)) { /* SPEC §3 */
		data_refuse(s, qid, 554,
			    "5.6.3 A line over 998 octets cannot be encoded for relaying",
			    "long line");
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
	job->dmsg = (struct delivery_message){
	    .qid = job->qid,
	    .body = job->msg.data,
	    .len = job->msg.len,
	    .arrival = (int64_t)time(NULL),
	    .dsn_envid = t->dsn_envid,
	    .dsn_ret = t->dsn_ret,
	};
	job->plan = t->plan; /* the transaction's until its answer */
	if (smtp_checks_wanted(s))
		smtp_checks_submit(s, job);
	else
		smtp_data_filter_or_commit(s, job);
}

void smtp_data_filter_or_commit(struct smtp_session *s, struct smtp_job *job)
{
	/* a quarantine verdict of the sender checks goes the filters' way */
	if (smtp_filter_wanted(s) || (job->quarantine[0] != '\0' && s->svc->env->filters != NULL))
		smtp_filter_submit(s, job);
	else
		smtp_data_commit(s, job);
}

void smtp_data_commit(struct smtp_session *s, struct smtp_job *job)
{
	job->finish = finish_commit;
	smtp_commit_submit(s, job);
}

/* --- BDAT (RFC 3030) ---------------------------------------------------------- */

enum smtp_cmd_result smtp_cmd_bdat(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;
	const struct config *cfg = smtp_cfg(s);
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
	conn_set_idle_timeout(s->core.conn, smtp_config(cfg)->data_timeout);
	conn_phase_begin(s->core.conn);
	/* RFC 3030 §2: a refused BDAT's octets are still read and dropped */
	if (s->state != SMTP_RCPT) {
		s->chunk_discard = true;
		s->chunk_error = s->state == SMTP_MAIL ? 554 : 503;
		return SMTP_CMD_ASYNC;
	}
	if (!s->tx->bdat_started) {
		buf_free(&s->tx->body);
		smtp_data_init(&s->data, &s->tx->body, smtp_config(cfg)->max_message_size);
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
