/* SPDX-License-Identifier: MIT */
/*
 * smtp_cmds.c - the SMTP commands and the relay policy.
 *
 * Policy (docs/admin.md repeats it):
 *  - Inbound role (smtp): recipients must be in a hosted domain. In an
 *    authoritative domain they must exist (550 5.1.1 at RCPT, never a bounce
 *    later); internal-relay domains queue unknown recipients for the
 *    domain's route; external-relay domains queue everything. Any other
 *    domain, an address literal, or a local part that carries routing ('%',
 *    '!', a quoted '@') gets 550 5.7.1: no open relay, whatever the trick.
 *    AUTH is not offered here.
 *  - Submission roles: AUTH (over TLS only) before MAIL; then any recipient
 *    is accepted (remote ones go to the outbound queue), and the envelope
 *    sender must be an address of the authenticated mailbox unless [smtp]
 *    sender_login_match = no ("<>" is allowed, for receipts and reports).
 *  - postmaster@ every hosted domain, and bare <Postmaster>, are always
 *    accepted (RFC 5321 §4.5.1): to that address's own mailbox if one exists,
 *    else to [smtp] postmaster, else to the store's built-in postmaster.
 *  - Quotas are checked at RCPT with the size declared in MAIL (452 4.2.2).
 */
#include "directory/penalty.h"
#include "mime/mime.h"
#include "net/conn.h"
#include "net/loop.h"
#include "queue/queue.h"
#include "server/server.h"
#include "smtp/smtp_private.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/mem.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SMTP_AUTH_FAILS_MAX 3

static bool arg_empty(struct slice rest)
{
	return rest.len == 0;
}

/* --- EHLO / HELO ------------------------------------------------------------ */

static bool helo_arg(struct smtp_session *s, struct slice rest, const char *verb)
{
	if (rest.len == 0 || rest.len >= sizeof(s->helo)) {
		smtp_reply(s, 501, "5.5.4 Syntax: %s hostname", verb);
		smtp_session_error(s);
		return false;
	}
	size_t n = 0;
	for (size_t i = 0; i < rest.len && rest.p[i] != ' '; i++) {
		unsigned char c = (unsigned char)rest.p[i];
		s->helo[n++] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	s->helo[n] = '\0';
	smtp_txn_reset(s);
	s->state = SMTP_READY;
	return true;
}

static bool auth_offered(const struct smtp_session *s)
{
	return smtp_role_submission(s) && conn_is_tls(s->conn);
}

static void cmd_ehlo(struct smtp_session *s, struct slice rest)
{
	const struct config *cfg = smtp_config(s);
	struct buf b = {0};

	if (!helo_arg(s, rest, "EHLO"))
		return;
	s->esmtp = true;
	buf_printf(&b, "250-%s\r\n", cfg->hostname);
	buf_append_str(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n", (unsigned long long)cfg->smtp_max_message_size);
	if (!conn_is_tls(s->conn) && conn_tls_available(s->conn))
		buf_append_str(&b, "250-STARTTLS\r\n");
	if (auth_offered(s))
		buf_append_str(&b, "250-AUTH SCRAM-SHA-256 PLAIN LOGIN\r\n");
	buf_append_str(&b, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
			   "250-CHUNKING\r\n250 SMTPUTF8\r\n");
	smtp_write(s, b.data, b.len);
	buf_free(&b);
}

static void cmd_helo(struct smtp_session *s, struct slice rest)
{
	if (!helo_arg(s, rest, "HELO"))
		return;
	s->esmtp = false;
	smtp_reply(s, 250, "%s", smtp_config(s)->hostname);
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
	smtp_session_error(s);
}

static char *slice_dup(struct slice s)
{
	return xstrndup(s.p, s.len);
}

static void mail_accept(struct smtp_session *s)
{
	s->state = SMTP_MAIL;
	smtp_reply(s, 250, "2.1.0 Ok");
}

static void work_sender(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	int64_t *ids = NULL;
	size_t n = 0;

	job->result = store_resolve(thread_ctx, job->address, &ids, &n);
	job->ids = ids;
	job->n_ids = n;
}

static void finish_sender(struct smtp_session *s, struct smtp_job *job)
{
	bool owned = false;

	if (job->result != STORE_OK && job->result != STORE_NOTFOUND &&
	    job->result != STORE_INVALID) {
		smtp_reply(s, 451, "4.3.0 Temporary lookup failure");
		smtp_txn_reset(s);
		return;
	}
	for (size_t i = 0; job->result == STORE_OK && i < job->n_ids; i++)
		owned |= job->ids[i] == s->auth->mailbox_id;
	if (!owned) {
		log_info("sid=%s smtp sender refused from=<%s> user=%s", s->sid, job->address,
			 s->auth->address);
		smtp_reply(s, 553, "5.7.1 Sender address <%s> not owned by user %s", job->address,
			   s->auth->address);
		smtp_txn_reset(s);
		smtp_session_error(s);
		return;
	}
	mail_accept(s);
}

static void cmd_mail(struct smtp_session *s, struct slice rest)
{
	const struct config *cfg = smtp_config(s);
	struct smtp_path path;
	struct slice arg;

	if (s->state == SMTP_GREETED) {
		smtp_reply(s, 503, "5.5.1 Error: send HELO/EHLO first");
		smtp_session_error(s);
		return;
	}
	if (s->state != SMTP_READY) {
		smtp_reply(s, 503, "5.5.1 Error: nested MAIL command");
		smtp_session_error(s);
		return;
	}
	if (smtp_role_submission(s) && s->auth == NULL) {
		smtp_reply(s, 530, "5.7.0 Authentication required");
		smtp_session_error(s);
		return;
	}
	if (!smtp_parse_prefix(rest, "FROM:", &arg)) {
		smtp_reply(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		smtp_session_error(s);
		return;
	}
	enum smtp_path_error e = smtp_parse_path(arg, true, true, &path);
	if (e != SMTP_PATH_OK) {
		reply_path_error(s, e, true);
		return;
	}
	struct smtp_txn *t = xcalloc(1, sizeof(*t));
	bool utf8 = false;
	for (size_t i = 0; i < path.n_params; i++) {
		struct smtp_param *pm = &path.params[i];
		uint64_t n;
		if (slice_eq_ci(pm->key, "SIZE") && pm->has_value &&
		    smtp_parse_number(pm->value, &n)) {
			t->declared_size = n;
		} else if (slice_eq_ci(pm->key, "BODY") &&
			   (slice_eq_ci(pm->value, "7BIT") || slice_eq_ci(pm->value, "8BITMIME"))) {
			t->body_8bit = slice_eq_ci(pm->value, "8BITMIME");
		} else if (slice_eq_ci(pm->key, "SMTPUTF8") && !pm->has_value) {
			utf8 = true;
		} else if (slice_eq_ci(pm->key, "RET") &&
			   (slice_eq_ci(pm->value, "FULL") || slice_eq_ci(pm->value, "HDRS"))) {
			free(t->dsn_ret);
			t->dsn_ret = slice_dup(pm->value);
		} else if (slice_eq_ci(pm->key, "ENVID") && pm->has_value &&
			   pm->value.len <= 100 && smtp_xtext_valid(pm->value)) {
			free(t->dsn_envid);
			t->dsn_envid = slice_dup(pm->value);
		} else if (slice_eq_ci(pm->key, "AUTH") && pm->has_value) {
			/* RFC 4954 §5: accepted; we record our own login instead */
		} else {
			smtp_reply(s, 555, "5.5.4 Unsupported option: %.*s", (int)pm->key.len,
				   pm->key.p);
			free(t->dsn_ret);
			free(t->dsn_envid);
			free(t);
			smtp_session_error(s);
			return;
		}
	}
	if ((path.flags & SMTP_PATH_UTF8) && !utf8) {
		free(t->dsn_ret);
		free(t->dsn_envid);
		free(t);
		reply_path_error(s, SMTP_PATH_E8BIT, true);
		return;
	}
	if (t->declared_size > cfg->smtp_max_message_size) {
		free(t->dsn_ret);
		free(t->dsn_envid);
		free(t);
		smtp_reply(s, 552, "5.3.4 Message size exceeds fixed limit");
		return;
	}
	t->smtputf8 = utf8;
	t->null_sender = (path.flags & SMTP_PATH_NULL) != 0;
	snprintf(t->sender, sizeof(t->sender), "%s", path.address);
	s->txn = t;
	if (smtp_role_submission(s) && cfg->smtp_sender_login_match && !t->null_sender) {
		struct smtp_job *job = smtp_job_new(s, finish_sender);
		snprintf(job->address, sizeof(job->address), "%s", path.address);
		if (!smtp_job_submit(s, job, work_sender))
			smtp_txn_reset(s);
		return;
	}
	mail_accept(s);
}

/* --- RCPT -------------------------------------------------------------------------- */

enum rcpt_verdict {
	RCPT_LOCAL,   /* ids hold the mailboxes */
	RCPT_REMOTE,  /* queue for delivery elsewhere */
	RCPT_UNKNOWN, /* 550 5.1.1 */
	RCPT_RELAY,   /* 550 5.7.1 relay denied */
	RCPT_ROUTING, /* 550 5.7.1 sender-specified routing */
	RCPT_FULL,    /* 452 4.2.2 */
	RCPT_NO_POSTMASTER, /* 451 4.3.0: no mailbox configured */
	RCPT_TEMP,    /* 451 4.3.0 */
};

struct rcpt_ctx {
	bool authenticated;
	const char *postmaster; /* [smtp] postmaster */
	uint64_t size;
};

static int resolve_local(struct store *st, const char *address, struct smtp_job *job)
{
	free(job->ids);
	job->ids = NULL;
	job->n_ids = 0;
	return store_resolve(st, address, &job->ids, &job->n_ids);
}

/* Worker: decides what happens to one recipient. */
static void work_rcpt(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct store *st = thread_ctx;
	struct rcpt_ctx *rc = (struct rcpt_ctx *)job->out.data;
	struct store_domain d;
	int r;

	memset(&d, 0, sizeof(d));
	job->result = RCPT_TEMP;
	if (job->is_postmaster) {
		goto postmaster;
	}
	const char *at = strrchr(job->address, '@');
	bool hosted = false;
	if (!(job->path_flags & SMTP_PATH_LITERAL) && at != NULL) {
		r = store_domain_get(st, at + 1, &d);
		if (r != STORE_OK && r != STORE_NOTFOUND && r != STORE_INVALID)
			goto out;
		hosted = r == STORE_OK;
		job->dom_type = d.type;
	}
	job->dom_hosted = hosted;
	if (!hosted) {
		job->result = rc->authenticated ? RCPT_REMOTE : RCPT_RELAY;
		goto out;
	}
	if (job->path_flags & (SMTP_PATH_ROUTING | SMTP_PATH_ROUTE)) {
		if (!rc->authenticated) {
			job->result = RCPT_ROUTING;
			goto out;
		}
	}
	if (d.type == DOMAIN_EXTERNAL_RELAY) {
		job->result = RCPT_REMOTE;
		goto out;
	}
	free(job->ids);
	job->ids = NULL;
	r = store_resolve_all(st, job->address, &job->ids, &job->n_ids, &job->forward,
			      &job->n_forward);
	if (r == STORE_OK) {
		job->result = RCPT_LOCAL; /* and forward[] goes to the queue */
	} else if (r != STORE_NOTFOUND && r != STORE_INVALID) {
		goto out;
	} else if (at != NULL && (size_t)(at - job->address) == 10 &&
		   strncasecmp(job->address, "postmaster", 10) == 0) {
		goto postmaster;
	} else {
		job->result = d.type == DOMAIN_INTERNAL_RELAY ? RCPT_REMOTE : RCPT_UNKNOWN;
		goto out;
	}
	goto quota;
postmaster: /* RFC 5321 §4.5.1: without [smtp] postmaster, the store's built-in one */
	r = resolve_local(st, rc->postmaster != NULL ? rc->postmaster : STORE_POSTMASTER, job);
	if (r != STORE_OK) {
		job->result = r == STORE_NOTFOUND || r == STORE_INVALID ? RCPT_NO_POSTMASTER
									: RCPT_TEMP;
		goto out;
	}
	job->result = RCPT_LOCAL;
quota:
	for (size_t i = 0; i < job->n_ids; i++) {
		bool ok = true;
		if (store_quota_check(st, job->ids[i], rc->size, &ok) != STORE_OK) {
			job->result = RCPT_TEMP;
			goto out;
		}
		if (!ok && !job->is_postmaster) {
			job->result = RCPT_FULL;
			goto out;
		}
	}
out:
	store_domain_clear(&d);
}

static void txn_add_local(struct smtp_txn *t, int64_t id)
{
	for (size_t i = 0; i < t->n_local; i++)
		if (t->local[i] == id)
			return;
	t->local = xrealloc(t->local, (t->n_local + 1) * sizeof(*t->local));
	t->local[t->n_local++] = id;
}

static void txn_add_remote(struct smtp_txn *t, struct smtp_job *job, const char *address)
{
	for (size_t i = 0; i < t->n_remote; i++)
		if (strcmp(t->remote[i].address, address) == 0)
			return;
	t->remote = xrealloc(t->remote, (t->n_remote + 1) * sizeof(*t->remote));
	struct store_remote_rcpt *r = &t->remote[t->n_remote++];
	r->address = xstrdup(address);
	r->dsn_notify = job->notify != NULL ? xstrdup(job->notify) : NULL;
	r->dsn_orcpt = job->orcpt != NULL ? xstrdup(job->orcpt) : NULL;
}

static void finish_rcpt(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_txn *t = s->txn;
	const char *a = job->address;

	switch ((enum rcpt_verdict)job->result) {
	case RCPT_LOCAL:
		for (size_t i = 0; i < job->n_ids; i++)
			txn_add_local(t, job->ids[i]);
		for (size_t i = 0; i < job->n_forward; i++)
			txn_add_remote(t, job, job->forward[i]);
		break;
	case RCPT_REMOTE:
		txn_add_remote(t, job, job->address);
		break;
	case RCPT_UNKNOWN:
		log_info("sid=%s smtp rcpt refused to=<%s> reason=unknown ip=%s", s->sid, a, s->ip);
		smtp_reply(s, 550, "5.1.1 <%s>: Recipient address rejected: User unknown", a);
		smtp_session_error(s);
		return;
	case RCPT_RELAY:
	case RCPT_ROUTING:
		log_info("sid=%s smtp rcpt refused to=<%s> reason=%s ip=%s", s->sid, a,
			 job->result == RCPT_RELAY ? "relay" : "routing", s->ip);
		smtp_reply(s, 550, "5.7.1 <%s>: %s", a,
			   job->result == RCPT_RELAY ? "Relay access denied"
						     : "Sender-specified routing is not allowed");
		smtp_session_error(s);
		return;
	case RCPT_FULL:
		smtp_reply(s, 452, "4.2.2 <%s>: Mailbox full", a);
		return;
	case RCPT_NO_POSTMASTER:
		log_error("sid=%s smtp postmaster mail for <%s> has no mailbox: [smtp] "
			  "postmaster names no local mailbox",
			  s->sid, a);
		smtp_reply(s, 451, "4.3.0 <%s>: Postmaster mailbox not configured", a);
		return;
	case RCPT_TEMP:
		smtp_reply(s, 451, "4.3.0 <%s>: Temporary lookup failure", a);
		return;
	}
	if (t->n_rcpts == 0)
		snprintf(t->first_rcpt, sizeof(t->first_rcpt), "%s", a);
	t->n_rcpts++;
	s->state = SMTP_RCPT;
	smtp_reply(s, 250, "2.1.5 Ok");
}

static bool notify_valid(struct slice v)
{
	if (slice_eq_ci(v, "NEVER"))
		return true;
	while (v.len > 0) {
		const char *comma = memchr(v.p, ',', v.len);
		struct slice w = {v.p, comma != NULL ? (size_t)(comma - v.p) : v.len};
		if (!slice_eq_ci(w, "SUCCESS") && !slice_eq_ci(w, "FAILURE") &&
		    !slice_eq_ci(w, "DELAY"))
			return false;
		v.p += w.len + (comma != NULL);
		v.len -= w.len + (comma != NULL);
		if (comma != NULL && v.len == 0)
			return false;
	}
	return true;
}

static void cmd_rcpt(struct smtp_session *s, struct slice rest)
{
	const struct config *cfg = smtp_config(s);
	struct smtp_path path;
	struct slice arg;

	if (s->state != SMTP_MAIL && s->state != SMTP_RCPT) {
		smtp_reply(s, 503, "5.5.1 Error: need MAIL command");
		smtp_session_error(s);
		return;
	}
	if (s->txn->n_rcpts >= cfg->smtp_max_recipients) {
		smtp_reply(s, 452, "4.5.3 Error: too many recipients");
		return;
	}
	if (!smtp_parse_prefix(rest, "TO:", &arg)) {
		smtp_reply(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		smtp_session_error(s);
		return;
	}
	enum smtp_path_error e = smtp_parse_path(arg, false, s->txn->smtputf8, &path);
	if (e != SMTP_PATH_OK) {
		reply_path_error(s, e, false);
		return;
	}
	struct smtp_job *job = smtp_job_new(s, finish_rcpt);
	for (size_t i = 0; i < path.n_params; i++) {
		struct smtp_param *pm = &path.params[i];
		if (slice_eq_ci(pm->key, "NOTIFY") && pm->has_value && notify_valid(pm->value)) {
			free(job->notify);
			job->notify = slice_dup(pm->value);
		} else if (slice_eq_ci(pm->key, "ORCPT") && pm->has_value && pm->value.len <= 500 &&
			   memchr(pm->value.p, ';', pm->value.len) != NULL) {
			free(job->orcpt);
			job->orcpt = slice_dup(pm->value);
		} else {
			smtp_reply(s, 555, "5.5.4 Unsupported option: %.*s", (int)pm->key.len,
				   pm->key.p);
			free(job->notify);
			free(job->orcpt);
			free(job);
			smtp_session_error(s);
			return;
		}
	}
	snprintf(job->address, sizeof(job->address), "%s", path.address);
	job->path_flags = path.flags;
	job->is_postmaster = (path.flags & SMTP_PATH_POSTMASTER) != 0;
	/* the policy facts travel in job->out (a buf the job frees) */
	struct rcpt_ctx rc = {
		.authenticated = s->auth != NULL,
		.postmaster = cfg->smtp_postmaster,
		.size = s->txn->declared_size,
	};
	buf_append(&job->out, &rc, sizeof(rc));
	smtp_job_submit(s, job, work_rcpt);
}

/* --- DATA ----------------------------------------------------------------------------- */

static void cmd_data(struct smtp_session *s, struct slice rest)
{
	const struct config *cfg = smtp_config(s);

	if (!arg_empty(rest)) {
		smtp_reply(s, 501, "5.5.4 Syntax: DATA");
		smtp_session_error(s);
		return;
	}
	if (s->state == SMTP_MAIL) {
		smtp_reply(s, 554, "5.5.1 Error: no valid recipients");
		smtp_session_error(s);
		return;
	}
	if (s->state != SMTP_RCPT) {
		smtp_reply(s, 503, "5.5.1 Error: need RCPT command");
		smtp_session_error(s);
		return;
	}
	if (s->bdat_started) {
		smtp_reply(s, 503, "5.5.1 Error: DATA after BDAT");
		smtp_session_error(s);
		return;
	}
	buf_free(&s->body);
	smtp_data_init(&s->data, &s->body, cfg->smtp_max_message_size);
	s->state = SMTP_DATA;
	conn_set_idle_timeout(s->conn, cfg->smtp_data_timeout);
	conn_phase_begin(s->conn);
	smtp_reply(s, 354, "End data with <CR><LF>.<CR><LF>");
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

static void received_header(struct smtp_session *s, struct buf *b, const char *qid)
{
	const struct config *cfg = smtp_config(s);
	const struct smtp_txn *t = s->txn;
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	bool tls = conn_is_tls(s->conn);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	/* RFC 3848 protocol names */
	const char *proto = !s->esmtp ? "SMTP"
			    : tls ? (s->auth != NULL ? "ESMTPSA" : "ESMTPS")
				  : (s->auth != NULL ? "ESMTPA" : "ESMTP");
	if (t->smtputf8)
		proto = !s->esmtp ? "SMTP" : tls ? (s->auth ? "UTF8SMTPSA" : "UTF8SMTPS")
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

static void log_message(struct smtp_session *s, const char *qid, size_t size, const char *res)
{
	const struct smtp_txn *t = s->txn;
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
		if (s->txn->n_remote > 0)
			queue_mgr_kick(s->svc->srv->queue);
		snprintf(res, sizeof(res), "250 queued as %s", job->qid);
	} else {
		smtp_reply(s, 451, "4.3.0 Error: mail store temporarily unavailable, try again");
		snprintf(res, sizeof(res), "451 store error %d", job->commit.sub.status);
	}
	log_message(s, job->qid, job->msg.len, res);
	smtp_txn_reset(s);
}

void smtp_data_end(struct smtp_session *s)
{
	const struct config *cfg = smtp_config(s);
	struct smtp_txn *t = s->txn;
	char qid[24];

	s->state = SMTP_RCPT; /* until the answer; the txn resets after it */
	make_qid(s, qid, sizeof(qid));
	if (s->data.too_big) {
		smtp_reply(s, 552, "5.3.4 Message size exceeds fixed maximum message size");
		log_message(s, qid, (size_t)s->data.size, "552 too big");
		smtp_txn_reset(s);
		return;
	}
	if (s->data.received > cfg->smtp_max_received) {
		smtp_reply(s, 554, "5.4.6 Too many hops (mail loop?)");
		log_message(s, qid, (size_t)s->data.size, "554 loop");
		smtp_txn_reset(s);
		return;
	}
	if (t->n_remote > 0 && !mime_relay_possible(s->body.data, s->body.len)) { /* SPEC §3 */
		smtp_reply(s, 554, "5.6.3 A line over 998 octets cannot be encoded for relaying");
		log_message(s, qid, (size_t)s->data.size, "554 long line");
		smtp_txn_reset(s);
		return;
	}
	struct smtp_job *job = smtp_job_new(s, finish_commit);
	struct buf head = {0};
	snprintf(job->qid, sizeof(job->qid), "%s", qid);
	received_header(s, &head, qid);
	buf_reserve(&job->msg, head.len + s->body.len + 2);
	buf_append(&job->msg, head.data, head.len);
	buf_free(&head);
	/* wire form: bare CR and LF become CR LF (see smtp_data.h) */
	store_to_wire(&job->msg, s->body.data != NULL ? s->body.data : "", s->body.len);
	buf_free(&s->body);
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
	smtp_commit_submit(s, job);
}

/* --- BDAT (RFC 3030) ---------------------------------------------------------- */

static void cmd_bdat(struct smtp_session *s, struct slice rest)
{
	const struct config *cfg = smtp_config(s);
	struct slice size, last;
	uint64_t n;

	if (!slice_token(rest, &size, &last) || !smtp_parse_number(size, &n) ||
	    (last.len > 0 && !slice_eq_ci(last, "LAST"))) {
		/* without a valid size the chunk cannot be skipped: no way to resync */
		smtp_reply(s, 501, "5.5.4 Syntax: BDAT size [LAST]");
		smtp_session_close(s, "bad BDAT");
		return;
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
		return;
	}
	if (!s->bdat_started) {
		buf_free(&s->body);
		smtp_data_init(&s->data, &s->body, cfg->smtp_max_message_size);
		s->bdat_started = true;
	}
}

void smtp_chunk_end(struct smtp_session *s)
{
	if (s->chunk_discard) {
		/* RFC 3030 §2: a refused chunk fails the whole transaction */
		if (s->chunk_error == 554)
			smtp_reply(s, 554, "5.5.1 Error: no valid recipients");
		else
			smtp_reply(s, 503, "5.5.1 Error: need RCPT command");
		smtp_txn_reset(s);
		smtp_session_error(s);
		return;
	}
	if (!s->chunk_last) {
		smtp_reply(s, 250, "2.0.0 %llu octets received",
			   (unsigned long long)s->data.size);
		return;
	}
	smtp_data_raw_end(&s->data);
	s->bdat_started = false;
	smtp_data_end(s);
}

/* --- AUTH (RFC 4954) ------------------------------------------------------------------ */

static void work_sasl(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	const char *in = job->has_in ? (job->in.data != NULL ? job->in.data : "") : NULL;

	job->result = sasl_server_step(job->sasl, thread_ctx, in, job->in.len, &job->out, &job->id);
}

static void send_challenge(struct smtp_session *s, const struct buf *data)
{
	struct buf line = {0};

	sasl_challenge_line(&line, "334 ", data);
	smtp_write(s, line.data, line.len);
	buf_free(&line);
}

static void auth_success(struct smtp_session *s, const struct auth_identity *id,
			 const char *mech)
{
	struct penalty *pen = s->svc->srv->penalty;
	char login[SASL_NAME_MAX + 1]; /* as the client gave it: the brake's key */

	snprintf(login, sizeof(login), "%s", sasl_server_authcid(s->sasl));
	smtp_reset_auth(s);
	if (!id->enabled || !id->submission_enabled) {
		log_info("sid=%s smtp auth refused user=%s reason=%s ip=%s", s->sid, id->address,
			 !id->enabled ? "disabled" : "submission-disabled", s->ip);
		smtp_reply(s, 535, "5.7.8 Authentication credentials invalid");
		return;
	}
	if (pen != NULL)
		penalty_success(pen, s->ip, login, loop_now_ms(conn_loop(s->conn)));
	s->auth = xmalloc(sizeof(*s->auth));
	*s->auth = *id;
	log_info("sid=%s smtp login user=%s ip=%s mech=%s", s->sid, id->address, s->ip, mech);
	smtp_reply(s, 235, "2.7.0 Authentication successful");
}

static void auth_failed(struct smtp_session *s, const char *mech)
{
	struct penalty *pen = s->svc->srv->penalty;

	const char *user = s->sasl != NULL ? sasl_server_authcid(s->sasl) : "";

	log_info("sid=%s smtp auth failed user=%s ip=%s mech=%s", s->sid, user, s->ip, mech);
	if (pen != NULL)
		penalty_fail(pen, s->ip, *user != '\0' ? user : NULL,
			     loop_now_ms(conn_loop(s->conn)));
	smtp_reset_auth(s);
	smtp_reply(s, 535, "5.7.8 Authentication credentials invalid");
	if (++s->auth_fails >= SMTP_AUTH_FAILS_MAX) {
		smtp_reply(s, 421, "4.7.0 %s Too many authentication failures",
			   smtp_config(s)->hostname);
		smtp_session_close(s, "too many authentication failures");
	}
}

static void finish_sasl(struct smtp_session *s, struct smtp_job *job)
{
	const char *mech = sasl_mech_name(sasl_server_mech(s->sasl));

	switch ((enum sasl_step)job->result) {
	case SASL_CONTINUE:
		send_challenge(s, &job->out);
		s->sasl_wait = SMTP_SASL_RESPONSE;
		return;
	case SASL_SUCCESS:
		if (job->out.len > 0) {
			send_challenge(s, &job->out);
			s->pending = xmalloc(sizeof(*s->pending));
			*s->pending = job->id;
			s->sasl_wait = SMTP_SASL_FINAL_EMPTY;
			return;
		}
		auth_success(s, &job->id, mech);
		return;
	case SASL_FAILED:
		auth_failed(s, mech);
		return;
	case SASL_TEMPFAIL:
		smtp_reset_auth(s);
		smtp_reply(s, 454, "4.7.0 Temporary authentication failure");
		return;
	case SASL_MALFORMED:
		break;
	}
	smtp_reset_auth(s);
	smtp_reply(s, 501, "5.5.2 Invalid authentication exchange");
	smtp_session_error(s);
}

static void sasl_submit(struct smtp_session *s, struct buf *in)
{
	struct smtp_job *job = smtp_job_new(s, finish_sasl);
	struct penalty *pen = s->svc->srv->penalty;
	char account[SASL_NAME_MAX + 1];
	uint64_t wait = 0;

	/* the login brake (directory/penalty.h) holds back the step that checks
	   the password, right or wrong, so its timing tells nothing */
	if (pen != NULL && in != NULL &&
	    sasl_server_checks(s->sasl, in->data != NULL ? in->data : "", in->len, account))
		wait = penalty_wait_ms(pen, s->ip, account, loop_now_ms(conn_loop(s->conn)));
	job->sasl = s->sasl;
	if (in != NULL) {
		job->has_in = true;
		job->in = *in;
		memset(in, 0, sizeof(*in));
	}
	smtp_job_submit_after(s, job, work_sasl, wait);
}

static void auth_start(struct smtp_session *s, enum sasl_mech m, struct buf *ir, bool has_ir)
{
	s->sasl = sasl_server_new(m);
	sasl_submit(s, has_ir ? ir : NULL);
}

static void cmd_auth(struct smtp_session *s, struct slice rest)
{
	enum sasl_mech m;
	struct slice mech, ir;

	if (!smtp_role_submission(s)) {
		smtp_reply(s, 503, "5.5.1 Error: authentication not enabled");
		smtp_session_error(s);
		return;
	}
	if (!conn_is_tls(s->conn)) {
		smtp_reply(s, 538, "5.7.11 Encryption required for requested authentication "
				   "mechanism");
		smtp_session_error(s);
		return;
	}
	if (s->state == SMTP_GREETED) {
		smtp_reply(s, 503, "5.5.1 Error: send EHLO first");
		smtp_session_error(s);
		return;
	}
	if (s->auth != NULL) {
		smtp_reply(s, 503, "5.5.1 Error: already authenticated");
		smtp_session_error(s);
		return;
	}
	if (s->state != SMTP_READY) {
		smtp_reply(s, 503, "5.5.1 Error: MAIL transaction in progress");
		smtp_session_error(s);
		return;
	}
	if (!slice_token(rest, &mech, &ir) || sasl_mech_parse(mech.p, mech.len, &m) < 0) {
		smtp_reply(s, 504, "5.5.4 Unrecognized authentication type");
		smtp_session_error(s);
		return;
	}
	struct buf in = {0};
	bool has_ir = ir.len > 0;
	if (has_ir && sasl_response_decode(ir, &in) < 0) {
		buf_free_secret(&in);
		smtp_reply(s, 501, "5.5.2 Invalid base64 data");
		smtp_session_error(s);
		return;
	}
	auth_start(s, m, &in, has_ir);
	buf_free_secret(&in);
}

void smtp_auth_line(struct smtp_session *s, struct slice line)
{
	struct buf in = {0};

	if (slice_eq(line, "*")) {
		smtp_reset_auth(s);
		smtp_reply(s, 501, "5.0.0 Authentication cancelled");
		return;
	}
	if (s->sasl_wait == SMTP_SASL_FINAL_EMPTY) {
		struct auth_identity id = *s->pending;
		const char *mech = sasl_mech_name(sasl_server_mech(s->sasl));
		if (line.len != 0) {
			smtp_reset_auth(s);
			smtp_reply(s, 501, "5.5.2 Invalid authentication exchange");
			smtp_session_error(s);
			return;
		}
		auth_success(s, &id, mech);
		secure_zero(&id, sizeof(id));
		return;
	}
	if (sasl_response_decode(line, &in) < 0) {
		buf_free_secret(&in);
		smtp_reset_auth(s);
		smtp_reply(s, 501, "5.5.2 Invalid base64 data");
		smtp_session_error(s);
		return;
	}
	s->sasl_wait = SMTP_SASL_IDLE;
	sasl_submit(s, &in);
	buf_free_secret(&in);
}

/* --- the rest ---------------------------------------------------------------------------- */

static void cmd_starttls(struct smtp_session *s, struct slice rest)
{
	if (!arg_empty(rest)) {
		smtp_reply(s, 501, "5.5.4 Syntax: STARTTLS");
		smtp_session_error(s);
		return;
	}
	if (conn_is_tls(s->conn)) {
		smtp_reply(s, 503, "5.5.1 Error: TLS already active");
		smtp_session_error(s);
		return;
	}
	if (!conn_tls_available(s->conn)) {
		smtp_reply(s, 454, "4.7.0 TLS not available");
		return;
	}
	smtp_reply(s, 220, "2.0.0 Ready to start TLS");
	s->tls_starting = true;
	if (conn_starttls(s->conn) < 0) {
		s->tls_starting = false;
		smtp_session_close(s, "starttls failed");
	}
}

static void cmd_rset(struct smtp_session *s, struct slice rest)
{
	smtp_txn_reset(s);
	smtp_reply(s, 250, "2.0.0 Ok");
}

static void cmd_noop(struct smtp_session *s, struct slice rest)
{
	smtp_reply(s, 250, "2.0.0 Ok");
}

static void cmd_quit(struct smtp_session *s, struct slice rest)
{
	smtp_reply(s, 221, "2.0.0 Bye");
	smtp_session_close(s, "quit");
}

static void cmd_vrfy(struct smtp_session *s, struct slice rest)
{
	/* RFC 5321 §3.5.3: never confirm whether a user exists */
	smtp_reply(s, 252, "2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct smtp_session *s, struct slice rest)
{
	smtp_reply(s, 502, "5.5.1 EXPN not available");
}

static void cmd_help(struct smtp_session *s, struct slice rest)
{
	smtp_reply(s, 214, "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS "
			   "AUTH");
}

static const struct {
	const char *name;
	void (*fn)(struct smtp_session *s, struct slice rest);
} commands[] = {
	{"EHLO", cmd_ehlo}, {"HELO", cmd_helo}, {"MAIL", cmd_mail},	{"RCPT", cmd_rcpt},
	{"DATA", cmd_data}, {"RSET", cmd_rset}, {"NOOP", cmd_noop},	{"QUIT", cmd_quit},
	{"VRFY", cmd_vrfy}, {"EXPN", cmd_expn}, {"HELP", cmd_help},	{"STARTTLS", cmd_starttls},
	{"AUTH", cmd_auth}, {"BDAT", cmd_bdat},
};

void smtp_cmd_dispatch(struct smtp_session *s, struct slice line)
{
	const struct config *cfg = smtp_config(s);
	struct smtp_command cmd;
	enum smtp_parse_status st = smtp_parse_command(line, &cmd);

	if (++s->commands > cfg->smtp_max_commands) {
		smtp_reply(s, 421, "4.7.0 %s Too many commands, closing connection", cfg->hostname);
		smtp_session_close(s, "too many commands");
		return;
	}
	if (st == SMTP_PARSE_CTL) {
		smtp_reply(s, 500, "5.5.2 Invalid characters in command");
		smtp_session_error(s);
		return;
	}
	if (st != SMTP_PARSE_OK) {
		smtp_reply(s, 500, "5.5.2 Syntax error, command unrecognized");
		smtp_session_error(s);
		return;
	}
	for (size_t i = 0; i < N_ELEMENTS(commands); i++) {
		if (slice_eq_ci(cmd.verb, commands[i].name)) {
			commands[i].fn(s, cmd.rest);
			return;
		}
	}
	/* a web browser or proxy talking to the SMTP port: go away at once */
	if (slice_eq(cmd.verb, "GET") || slice_eq(cmd.verb, "POST") ||
	    slice_eq(cmd.verb, "CONNECT")) {
		log_info("sid=%s smtp http request on smtp port ip=%s", s->sid, s->ip);
		smtp_session_close(s, "http request");
		return;
	}
	smtp_reply(s, 500, "5.5.2 Error: command not recognized");
	smtp_session_error(s);
}
