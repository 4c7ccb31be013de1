/* SPDX-License-Identifier: MIT */
/*
 * smtp_filter.c - the content filters between the end of DATA and the
 * commit: clamd's virus scan, then the milters in their order ([filter],
 * filter/filter.h). This is the hook the delivery path has before the
 * commit (port 25) and before queueing (submission): nothing is stored or
 * queued that the filters refused, and what they changed is what is stored.
 *
 * The steps, each a job of the session (the session reads nothing while
 * one runs; a client that goes away ends the chain unanswered, nothing
 * stored):
 *   1. work_filter, on the filters' own threads (env->filters): the
 *      conversations wait on the network for up to their timeouts, so they
 *      never hold a store worker. clamd first (a virus ends it), then the
 *      milter chain with the message as it will be stored (our Received
 *      field on top) and the envelope as accepted.
 *   2. finish_filter (loop): REJECT/TEMPFAIL answer the client with the
 *      filter's reply; DISCARD answers 250 and stores nothing; otherwise
 *      the message (changed or not) goes on.
 *   3. When a milter changed the envelope, or quarantined the message, the
 *      plan is made again on a store worker (work_replan): every recipient
 *      goes through the same resolution as at RCPT; one a milter added is
 *      trusted as the admin's own filter is (it may be remote), one that
 *      no longer resolves is dropped and logged. A quarantined message goes
 *      only to [filter] quarantine (else [smtp] postmaster, else the
 *      store's built-in postmaster) with the reason, the sender and the
 *      original recipients in fields of its own.
 *   4. The group commit (smtp_commit.c) as for any message.
 */
#include "filter/filter.h"
#include "net/conn.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum filter_verdict {
	FILTER_GO,	   /* deliver, as the filters left it */
	FILTER_REFUSE,	   /* reply: 4xx or 5xx */
	FILTER_DROP,	   /* DISCARD: 250, nothing stored */
	FILTER_QUARANTINE, /* to the quarantine mailbox */
};

struct smtp_filter_work {
	/* what the worker needs, copied: a reload may replace the config */
	struct milter_conf *milters;
	char **sockets;
	size_t n_milters;
	struct clamd_conf clamd;
	char *clamd_socket;
	struct milter_envelope env;
	struct milter_rcpt *rcpts;
	char **rcpt_args;
	char peer_ip[64], local_ip[64], tls_cipher[128], sender_args[256];
	/* the outcome */
	enum filter_verdict verdict;
	char reply[MILTER_REPLY_MAX];
	char what[64]; /* for the message record: "virus", "milter reject" */
	char signature[CLAMD_NAME_MAX];
	struct milter_chain_result chain;
	bool ran_milters;
	/* step 3: the recipients the plan is made from */
	char quarantine_to[SMTP_PATH_MAX + 1]; /* [filter] quarantine, or "" */
	struct delivery_plan *plan;
	size_t dropped;
};

void smtp_filter_work_free(struct smtp_filter_work **wp)
{
	struct smtp_filter_work *w = *wp;

	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n_milters; i++)
		free(w->sockets[i]);
	free(w->sockets);
	free(w->milters);
	free(w->clamd_socket);
	for (size_t i = 0; i < w->env.n_rcpts; i++)
		free(w->rcpt_args[i]);
	free(w->rcpt_args);
	free(w->rcpts);
	milter_chain_result_free(&w->chain);
	delivery_plan_free(&w->plan);
	free(w);
	*wp = NULL;
}

bool smtp_filter_wanted(const struct smtp_session *s)
{
	return s->svc->env->filters != NULL && filter_enabled(filter_config(smtp_cfg(s)));
}

/* "NOTIFY=... ORCPT=..." for the milters, or NULL */
static char *rcpt_args(const struct smtp_tx_rcpt *r)
{
	if (r->notify == NULL && r->orcpt == NULL)
		return NULL;
	return xasprintf("%s%s%s%s%s", r->notify != NULL ? "NOTIFY=" : "",
			 r->notify != NULL ? r->notify : "",
			 r->notify != NULL && r->orcpt != NULL ? " " : "",
			 r->orcpt != NULL ? "ORCPT=" : "", r->orcpt != NULL ? r->orcpt : "");
}

static void sender_args(const struct smtp_tx *t, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	if (t->body_8bit)
		n += (size_t)snprintf(out + n, len - n, "BODY=8BITMIME");
	if (t->smtputf8 && n < len)
		n += (size_t)snprintf(out + n, len - n, "%sSMTPUTF8", n > 0 ? " " : "");
	if (t->dsn_ret != NULL && n < len)
		n += (size_t)snprintf(out + n, len - n, "%sRET=%s", n > 0 ? " " : "", t->dsn_ret);
	if (t->dsn_envid != NULL && n < len)
		snprintf(out + n, len - n, "%sENVID=%s", n > 0 ? " " : "", t->dsn_envid);
}

static struct smtp_filter_work *work_new(struct smtp_session *s, const char *qid)
{
	const struct config *cfg = smtp_cfg(s);
	const struct filter_config *fc = filter_config(cfg);
	const struct smtp_tx *t = s->tx;
	struct smtp_filter_work *w = xcalloc(1, sizeof(*w));
	unsigned peer_port = 0, local_port = 0;

	w->n_milters = fc->milter.count;
	w->milters = xcalloc(w->n_milters + 1, sizeof(*w->milters));
	w->sockets = xcalloc(w->n_milters + 1, sizeof(*w->sockets));
	for (size_t i = 0; i < w->n_milters; i++) {
		w->sockets[i] = xstrdup(fc->milter.addrs[i]);
		w->milters[i] = (struct milter_conf){
		    .socket = w->sockets[i],
		    .timeout = fc->milter_timeout,
		    .policy = (enum filter_policy)fc->milter_default_action,
		};
	}
	if (fc->clamd != NULL) {
		w->clamd_socket = xstrdup(fc->clamd);
		w->clamd = (struct clamd_conf){
		    .socket = w->clamd_socket,
		    .timeout = fc->clamd_timeout,
		    .policy = (enum filter_policy)fc->clamd_default_action,
		    .max_scan_size = fc->max_scan_size,
		};
	}
	if (s->core.conn != NULL) {
		conn_endpoints(s->core.conn, &peer_port, w->local_ip, sizeof(w->local_ip),
			       &local_port);
		const char *desc = conn_tls_desc(s->core.conn), *sp = strchr(desc, ' ');
		snprintf(w->tls_cipher, sizeof(w->tls_cipher), "%s", sp != NULL ? sp + 1 : "");
	}
	snprintf(w->peer_ip, sizeof(w->peer_ip), "%s", s->core.ip != NULL ? s->core.ip : "");
	sender_args(t, w->sender_args, sizeof(w->sender_args));
	w->rcpts = xcalloc(t->n_rcpts + 1, sizeof(*w->rcpts));
	w->rcpt_args = xcalloc(t->n_rcpts + 1, sizeof(*w->rcpt_args));
	size_t n = 0;
	for (const struct smtp_tx_rcpt *r = t->rcpts; r != NULL && n < t->n_rcpts; r = r->next) {
		w->rcpt_args[n] = rcpt_args(r);
		w->rcpts[n] = (struct milter_rcpt){.addr = r->address, .args = w->rcpt_args[n]};
		n++;
	}
	const char *tlsv = s->core.conn != NULL ? conn_tls_version(s->core.conn) : NULL;
	w->env = (struct milter_envelope){
	    .client_addr = w->peer_ip[0] != '\0' ? w->peer_ip : NULL,
	    .client_port = peer_port,
	    .helo = s->helo[0] != '\0' ? s->helo : NULL,
	    .hostname = cfg->hostname,
	    .daemon_name = smtp_role_submission(s) ? "submission" : "smtp",
	    .if_addr = w->local_ip[0] != '\0' ? w->local_ip : NULL,
	    .if_port = local_port,
	    .tls_version = tlsv != NULL && tlsv[0] != '\0' ? tlsv : NULL,
	    .tls_cipher = w->tls_cipher[0] != '\0' ? w->tls_cipher : NULL,
	    .auth_user = s->auth != NULL ? s->auth->address : NULL,
	    .queue_id = qid,
	    .sender = t->sender,
	    .sender_args = w->sender_args[0] != '\0' ? w->sender_args : NULL,
	    .rcpts = w->rcpts,
	    .n_rcpts = n,
	};
	return w;
}

/* --- step 1: the conversations (a filter thread) -------------------------------- */

static void work_filter(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_filter_work *w = job->filt;

	(void)thread_ctx;
	w->verdict = FILTER_GO;
	if (w->clamd_socket != NULL) {
		struct clamd_result cr;
		clamd_scan(&w->clamd, job->msg.data, job->msg.len, &cr);
		if (cr.action != CLAMD_ACCEPT) {
			w->verdict = FILTER_REFUSE;
			snprintf(w->reply, sizeof(w->reply), "%s", cr.reply);
			snprintf(w->what, sizeof(w->what), "%s",
				 cr.action == CLAMD_REJECT ? "virus" : "clamd unavailable");
			snprintf(w->signature, sizeof(w->signature), "%s", cr.signature);
			return;
		}
	}
	if (w->n_milters == 0)
		return;
	w->ran_milters = true;
	milter_chain_run(w->milters, w->n_milters, &w->env, job->msg.data, job->msg.len, &w->chain);
	switch (w->chain.action) {
	case MILTER_REJECT:
	case MILTER_TEMPFAIL:
		w->verdict = FILTER_REFUSE;
		snprintf(w->reply, sizeof(w->reply), "%s", w->chain.reply);
		snprintf(w->what, sizeof(w->what), "milter %s",
			 milter_action_name(w->chain.action));
		break;
	case MILTER_DISCARD:
		w->verdict = FILTER_DROP;
		break;
	case MILTER_QUARANTINE:
		w->verdict = FILTER_QUARANTINE;
		break;
	default:
		break;
	}
}

/* --- the replies ------------------------------------------------------------------ */

/* A filter's reply, one or several lines ("550-5.7.1 a" CRLF "550 5.7.1
   b"), sent again with one code and the separators right; a reply that is
   not a 4xx/5xx of the right class gets the generic one. */
static void reply_filter(struct smtp_session *s, const char *reply, bool temp)
{
	int code = atoi(reply);
	char line[600];

	if (code < 400 || code > 599 || (code < 500) != temp) {
		if (temp)
			smtp_reply(s, 451, "4.7.1 Service unavailable - try again later");
		else
			smtp_reply(s, 550, "5.7.1 Message rejected by a content filter");
		return;
	}
	const char *p = reply;
	while (*p != '\0') {
		const char *e = strstr(p, "\r\n");
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		const char *text = len > 4 ? p + 4 : "";
		size_t tlen = len > 4 ? len - 4 : 0;
		bool last = e == NULL || e[2] == '\0';
		if (last) {
			smtp_reply(s, code, "%.*s", (int)tlen, text);
			break;
		}
		int n = snprintf(line, sizeof(line), "%03d-%.*s\r\n", code,
				 (int)(tlen < 500 ? tlen : 500), text);
		smtp_write(s, line, (size_t)n);
		p = e + 2;
	}
}

/* --- logs ---------------------------------------------------------------------------- */

/* AVAPI's report: who sent what to whom */
static void log_virus(const struct smtp_session *s, const struct smtp_job *job,
		      const struct smtp_filter_work *w)
{
	char to[1024];
	size_t o = 0;

	to[0] = '\0';
	for (size_t i = 0; i < w->env.n_rcpts && o + 4 < sizeof(to); i++) {
		int n = snprintf(to + o, sizeof(to) - o, "%s<%s>", i > 0 ? "," : "",
				 w->env.rcpts[i].addr);
		if (n < 0 || (size_t)n >= sizeof(to) - o)
			break;
		o += (size_t)n;
	}
	log_warn("sid=%s qid=%s virus found signature=%s from=<%s> to=%s ip=%s user=%s",
		 s->core.sid, job->qid, w->signature, w->env.sender, to, s->core.ip,
		 s->auth != NULL ? s->auth->address : "-");
}

static void log_milters(const struct smtp_session *s, const struct smtp_job *job,
			const struct smtp_filter_work *w)
{
	for (size_t i = 0; i < w->chain.n_results; i++) {
		const struct milter_result *r = &w->chain.results[i];
		log_info("sid=%s qid=%s milter=%s action=%s changes=%zu%s%s", s->core.sid, job->qid,
			 w->sockets[i], milter_action_name(r->action), r->n_mods,
			 r->failed ? " failed=" : "", r->failed ? r->error : "");
	}
}

/* --- steps 2 and 3 (loop), and the plan made again (a store worker) ------------------- */

struct smtp_job *smtp_job_carry(struct smtp_session *s, struct smtp_job *from)
{
	struct smtp_job *j = smtp_job_new(s, NULL);

	snprintf(j->qid, sizeof(j->qid), "%s", from->qid);
	j->msg = from->msg;
	from->msg = (struct buf){0};
	j->dmsg = from->dmsg;
	j->dmsg.qid = j->qid;
	j->dmsg.body = j->msg.data;
	j->dmsg.len = j->msg.len;
	j->plan = s->tx->plan;
	j->filt = from->filt;
	from->filt = NULL;
	memcpy(j->quarantine, from->quarantine, sizeof(j->quarantine));
	return j;
}

/* The quarantine's own fields above the message. */
static void quarantine_fields(struct smtp_job *job, const char *reason)
{
	const struct smtp_filter_work *w = job->filt;
	struct buf b = {0};

	buf_printf(&b, "X-Quarantine-Reason: %.400s\r\n",
		   reason != NULL && reason[0] != '\0' ? reason : "content filter");
	buf_printf(&b, "X-Quarantine-Sender: <%s>\r\n", w->env.sender);
	if (w->ran_milters) /* the recipients as the milters left them */
		for (size_t i = 0; i < w->chain.envelope.rcpts.count; i++)
			buf_printf(&b, "X-Original-To: <%s>\r\n", w->chain.envelope.rcpts.addr[i]);
	else
		for (size_t i = 0; i < w->env.n_rcpts; i++)
			buf_printf(&b, "X-Original-To: <%s>\r\n", w->env.rcpts[i].addr);
	buf_append(&b, job->msg.data, job->msg.len);
	buf_free(&job->msg);
	job->msg = b;
	job->dmsg.body = job->msg.data;
	job->dmsg.len = job->msg.len;
}

static bool same_address(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* NOTIFY= and ORCPT= from a milter's ESMTP arguments ("NOTIFY=NEVER"). */
static void parse_rcpt_args(const char *args, char *notify, char *orcpt, size_t len)
{
	notify[0] = orcpt[0] = '\0';
	for (const char *p = args; p != NULL && *p != '\0';) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n > 7 && strncasecmp(p, "NOTIFY=", 7) == 0)
			snprintf(notify, len, "%.*s", (int)(n - 7), p + 7);
		else if (n > 6 && strncasecmp(p, "ORCPT=", 6) == 0)
			snprintf(orcpt, len, "%.*s", (int)(n - 6), p + 6);
		p += n;
	}
}

static void work_replan(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct store *st = thread_ctx;
	struct smtp_filter_work *w = job->filt;
	const struct smtp_session *s = job->sess;
	const struct milter_envelope_edit *e = &w->chain.envelope;
	struct delivery_result dres;
	int status;
	struct delivery_sender snd = {
	    .address = w->verdict == FILTER_QUARANTINE ? w->env.sender : e->sender,
	    .mailbox = s->auth != NULL ? s->auth->mailbox_id : 0,
	    .login = s->auth != NULL ? s->auth->address : NULL,
	};

	w->plan = delivery_plan_new(&snd, job->msg.len);
	if (snd.mailbox != 0) {
		memset(&dres, 0, sizeof(dres));
		delivery_sender_check(job->delivery, st, w->plan, &dres);
	}
	if (w->verdict == FILTER_QUARANTINE) {
		const char *q = w->quarantine_to[0] != '\0' ? w->quarantine_to : NULL;
		struct smtp_rcpt_in in = {
		    .address = q != NULL ? q : "postmaster",
		    .path_flags = q != NULL ? 0 : SMTP_PATH_POSTMASTER,
		    .authenticated = true,
		};
		memset(&dres, 0, sizeof(dres));
		int v = smtp_rcpt_resolve(st, job->delivery, w->plan, &in, &dres, &status);
		if (v != SMTP_RCPT_LOCAL || dres.verdict != DELIVERY_OK) {
			/* no quarantine mailbox: the built-in postmaster keeps it */
			in = (struct smtp_rcpt_in){.address = "postmaster",
						   .path_flags = SMTP_PATH_POSTMASTER,
						   .authenticated = true};
			memset(&dres, 0, sizeof(dres));
			smtp_rcpt_resolve(st, job->delivery, w->plan, &in, &dres, &status);
		}
		return;
	}
	for (size_t i = 0; i < e->rcpts.count; i++) {
		const char *addr = e->rcpts.addr[i];
		const struct smtp_tx_rcpt *orig = NULL;
		for (const struct smtp_tx_rcpt *r = s->tx->rcpts; r != NULL && orig == NULL;
		     r = r->next)
			if (same_address(r->address, addr))
				orig = r;
		char notify[64], orcpt[512];
		struct smtp_rcpt_in in = {.address = addr};
		if (orig != NULL) {
			in.notify = orig->notify;
			in.orcpt = orig->orcpt;
			in.path_flags = orig->path_flags;
			in.authenticated = s->auth != NULL;
		} else {
			parse_rcpt_args(e->rcpts.args[i], notify, orcpt, sizeof(notify));
			in.notify = notify[0] != '\0' ? notify : NULL;
			in.orcpt = orcpt[0] != '\0' ? orcpt : NULL;
			in.authenticated = true; /* the admin's own filter added it */
		}
		memset(&dres, 0, sizeof(dres));
		int v = smtp_rcpt_resolve(st, job->delivery, w->plan, &in, &dres, &status);
		bool ok =
		    (v == SMTP_RCPT_LOCAL || v == SMTP_RCPT_POSTMASTER || v == SMTP_RCPT_REMOTE) &&
		    dres.verdict == DELIVERY_OK;
		if (!ok) {
			w->dropped++;
			log_warn("sid=%s qid=%s filter recipient dropped to=<%s> reason=\"%s\"",
				 s->core.sid, job->qid, addr,
				 dres.text[0] != '\0' ? dres.text : "not deliverable");
		}
	}
}

static void go_commit(struct smtp_session *s, struct smtp_job *from)
{
	struct smtp_job *j = smtp_job_carry(s, from);

	smtp_data_commit(s, j);
}

static void finish_replan(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_filter_work *w = job->filt;

	/* the transaction's plan is the new one from now on */
	delivery_plan_free(&s->tx->plan);
	s->tx->plan = w->plan;
	w->plan = NULL;
	if (delivery_plan_recipients(s->tx->plan) == 0) {
		smtp_reply(s, 250, "2.0.0 Ok: queued as %s", job->qid);
		smtp_data_logged(s, job->qid, job->msg.len, "no recipient left after the filters");
		smtp_tx_reset(s);
		return;
	}
	go_commit(s, job);
}

static void finish_filter(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_filter_work *w = job->filt;

	if (w->ran_milters)
		log_milters(s, job, w);
	if (w->signature[0] != '\0')
		log_virus(s, job, w);
	/* the sender checks' quarantine, where no filter did worse */
	if (w->verdict == FILTER_GO && job->quarantine[0] != '\0') {
		w->verdict = FILTER_QUARANTINE;
		if (w->chain.quarantine == NULL)
			w->chain.quarantine = xstrdup(job->quarantine);
	}
	switch (w->verdict) {
	case FILTER_REFUSE:
		reply_filter(s, w->reply, w->reply[0] == '4');
		smtp_data_logged(s, job->qid, job->msg.len, w->what);
		smtp_tx_reset(s);
		return;
	case FILTER_DROP:
		/* the client is told it was taken (Postfix and Sendmail do the same) */
		smtp_reply(s, 250, "2.0.0 Ok: queued as %s", job->qid);
		smtp_data_logged(s, job->qid, job->msg.len, "discarded by a milter");
		smtp_tx_reset(s);
		return;
	case FILTER_QUARANTINE:
	case FILTER_GO:
		break;
	}
	if (w->ran_milters && w->chain.message_changed) {
		buf_free(&job->msg);
		job->msg = w->chain.message;
		w->chain.message = (struct buf){0};
		job->dmsg.body = job->msg.data;
		job->dmsg.len = job->msg.len;
	}
	bool replan =
	    w->verdict == FILTER_QUARANTINE || (w->ran_milters && w->chain.envelope_changed);
	if (!replan) {
		go_commit(s, job);
		return;
	}
	struct smtp_job *j = smtp_job_carry(s, job);
	j->finish = finish_replan;
	if (w->verdict == FILTER_QUARANTINE) {
		const char *q = filter_config(smtp_cfg(s))->quarantine;
		if (q == NULL)
			q = smtp_config(smtp_cfg(s))->postmaster;
		log_info("sid=%s qid=%s quarantined reason=\"%s\" to=<%s>", s->core.sid, j->qid,
			 w->chain.quarantine != NULL ? w->chain.quarantine : "",
			 q != NULL ? q : "built-in postmaster");
		quarantine_fields(j, w->chain.quarantine);
		snprintf(w->quarantine_to, sizeof(w->quarantine_to), "%s", q != NULL ? q : "");
	}
	if (!proto_job_submit(&j->core, work_replan))
		smtp_tx_reset(s); /* answered busy */
}

/* --- step 0 (loop) ------------------------------------------------------------------------ */

void smtp_filter_submit(struct smtp_session *s, struct smtp_job *job)
{
	char qid[sizeof(job->qid)];

	snprintf(qid, sizeof(qid), "%s", job->qid);
	job->filt = work_new(s, job->qid);
	job->finish = finish_filter;
	if (proto_job_try_submit_to(&job->core, s->svc->env->filters, work_filter))
		return;
	/* the job is gone with its message */
	log_warn("sid=%s smtp filter queue full", s->core.sid);
	smtp_reply(s, 451, "4.3.2 System busy, try again later");
	smtp_data_logged(s, qid, (size_t)s->data.size, "filters busy");
	smtp_tx_reset(s);
	smtp_cmd_finish(s);
}
