/* SPDX-License-Identifier: MIT */
/*
 * smtp_checks.c - the sender checks of mail from outside, between the end
 * of DATA and the content filters: SPF (RFC 7208) of the MAIL FROM
 * identity (or of the HELO name for the null sender), DKIM (RFC 6376) of
 * every signature the message carries (up to DKIM_VERIFY_MAX), and DMARC
 * (RFC 7489) of the From: domain from those two; the results written into
 * an Authentication-Results field (RFC 8601) at the top of the message,
 * and such fields that claim our host name but came with the message
 * removed first (§5). The milters and clamd then see the message as it
 * will be stored, our field included, so a milter may act on it.
 *
 * The steps (the session reads no input meanwhile; a client that leaves
 * ends them, its DNS questions cancelled):
 *   1. work_parse, on the filters' threads (only with DKIM or DMARC on):
 *      the DKIM-Signature fields and the From: domain are read from the
 *      message; no loop time is spent on its size.
 *   2. ask (loop): the job is held on the loop (proto_job_hold) while the
 *      questions go to the asynchronous resolver (env->dns, libunbound):
 *      SPF's one after the other, each signature's key, DMARC's record
 *      (then the organisational domain's), the three machines side by side,
 *      all within [filter] dns_timeout; what is unanswered by then counts
 *      as a temporary error.
 *   3. work_checks, on the filters' threads: the keys are read and the
 *      signatures checked (the hashing), DMARC weighs SPF and DKIM, the
 *      field is made and put on top, forged ones dropped.
 *   4. finish_checks (loop): the results are logged; a DMARC failure
 *      meets [filter] dmarc_reject_action / dmarc_quarantine_action (a
 *      refusal, the quarantine, or nothing); then the content filters or
 *      the commit (smtp_data_filter_or_commit).
 * Submission and logged-in sessions are ours: they are not checked.
 */
#include "dns/dns_async.h"
#include "filter/authres.h"
#include "filter/dkim.h"
#include "filter/dmarc.h"
#include "filter/filter.h"
#include "filter/spf.h"
#include "net/loop.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FORGED_MAX 32 /* Authentication-Results fields of ours dropped from one message */

struct smtp_checks {
	struct smtp_session *s;
	struct smtp_job *job; /* held while the questions are out */
	struct dns_async *dns;
	struct loop *loop;
	struct timer *deadline;
	char hostname[256]; /* the authserv-id: [server] hostname */
	/* SPF */
	struct spf *spf;
	struct dns_query *spf_q;
	bool spf_on, spf_helo; /* helo: the null sender's check is of the HELO name */
	enum spf_result spf_result;
	char spf_domain[256], spf_reason[160], spf_identity[SMTP_PATH_MAX + 1];
	/* DKIM: the keys' answers are kept for step 3, which reads them */
	bool dkim_on;
	struct dkim_verify *dkim;
	size_t n_sigs;
	struct dns_query *dkim_q[DKIM_VERIFY_MAX];
	struct dns_answer dkim_a[DKIM_VERIFY_MAX];
	bool dkim_asked[DKIM_VERIFY_MAX], dkim_got[DKIM_VERIFY_MAX];
	/* DMARC */
	bool dmarc_on, from_ok;
	char from_domain[256];
	struct dmarc *dmarc;
	struct dns_query *dmarc_q;
	bool dmarc_timed_out;
	enum dmarc_result dmarc_result;
	enum dmarc_policy dmarc_policy;
	char dmarc_reason[160];
	/* step 3's */
	size_t forged;
};

static void dkim_answers_free(struct smtp_checks *c)
{
	for (size_t i = 0; i < DKIM_VERIFY_MAX; i++)
		if (c->dkim_got[i]) {
			dns_answer_free(&c->dkim_a[i]);
			c->dkim_got[i] = false;
		}
}

void smtp_checks_free(struct smtp_checks **cp)
{
	struct smtp_checks *c = *cp;

	if (c == NULL)
		return;
	if (c->spf_q != NULL)
		dns_async_cancel(c->dns, &c->spf_q);
	for (size_t i = 0; i < DKIM_VERIFY_MAX; i++)
		if (c->dkim_q[i] != NULL)
			dns_async_cancel(c->dns, &c->dkim_q[i]);
	if (c->dmarc_q != NULL)
		dns_async_cancel(c->dns, &c->dmarc_q);
	loop_timer_del(c->loop, &c->deadline);
	spf_free(&c->spf);
	dkim_verify_free(&c->dkim);
	dkim_answers_free(c);
	dmarc_free(&c->dmarc);
	free(c);
	*cp = NULL;
}

bool smtp_checks_wanted(const struct smtp_session *s)
{
	const struct filter_config *fc = filter_config(smtp_cfg(s));

	return s->svc->env->dns != NULL && s->svc->env->filters != NULL &&
	       (fc->spf || fc->dkim_verify) && s->auth == NULL && !smtp_role_submission(s);
}

/* --- step 3 (a filter thread) and 4 (loop) ------------------------------------------- */

static void add_spf(struct authres *ar, const struct smtp_checks *c)
{
	authres_add(ar, "spf", spf_result_name(c->spf_result),
		    c->spf_reason[0] != '\0' ? c->spf_reason : NULL);
	if (c->spf_helo)
		authres_prop(ar, "smtp.helo", c->spf_identity);
	else
		authres_prop(ar, "smtp.mailfrom", c->spf_identity);
}

/* One result per signature (RFC 8601 §2.7.1), header.d, header.s and
   header.b (RFC 6008) to tell them apart; "dkim=none" without one. */
static void add_dkim(struct authres *ar, const struct smtp_checks *c)
{
	if (c->n_sigs == 0) {
		authres_add(ar, "dkim", "none", NULL);
		return;
	}
	for (size_t i = 0; i < c->n_sigs; i++) {
		const struct dkim_result *r = dkim_verify_result(c->dkim, i);
		authres_add(ar, "dkim", dkim_status_name(r->result),
			    r->reason[0] != '\0' ? r->reason : NULL);
		if (r->domain[0] != '\0')
			authres_prop(ar, "header.d", r->domain);
		if (r->selector[0] != '\0')
			authres_prop(ar, "header.s", r->selector);
		if (r->algorithm[0] != '\0')
			authres_prop(ar, "header.a", r->algorithm);
		if (r->b_prefix[0] != '\0')
			authres_prop(ar, "header.b", r->b_prefix);
	}
}

static void add_dmarc(struct authres *ar, const struct smtp_checks *c)
{
	authres_add(ar, "dmarc", dmarc_result_name(c->dmarc_result),
		    c->dmarc_reason[0] != '\0' ? c->dmarc_reason : NULL);
	if (c->from_ok)
		authres_prop(ar, "header.from", c->from_domain);
}

/* The signatures checked with the keys found, then DMARC from the SPF
   and DKIM results. */
static void evaluate(struct smtp_checks *c)
{
	int pass[DKIM_VERIFY_MAX];
	const char *domains[DKIM_VERIFY_MAX];

	if (c->dkim != NULL) {
		for (size_t i = 0; i < c->n_sigs; i++)
			if (c->dkim_got[i])
				dkim_verify_key(c->dkim, i, &c->dkim_a[i]);
		dkim_verify_finish(c->dkim);
		dkim_answers_free(c);
	}
	if (!c->dmarc_on || !c->from_ok)
		return;
	for (size_t i = 0; i < c->n_sigs; i++) {
		const struct dkim_result *r = dkim_verify_result(c->dkim, i);
		pass[i] = r->result == DKIM_PASS;
		domains[i] = r->domain;
	}
	if (c->dmarc != NULL && !c->dmarc_timed_out) {
		dmarc_evaluate(c->dmarc, c->spf_result, c->spf_domain, pass, domains, c->n_sigs);
		c->dmarc_result = dmarc_result(c->dmarc);
		c->dmarc_policy = dmarc_policy(c->dmarc);
		snprintf(c->dmarc_reason, sizeof(c->dmarc_reason), "%s", dmarc_reason(c->dmarc));
	}
	dmarc_free(&c->dmarc);
}

static void work_checks(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_checks *c = job->chk;
	struct authres_span spans[FORGED_MAX];
	struct buf out = {0};

	(void)thread_ctx;
	evaluate(c);
	struct authres *ar = authres_new(c->hostname);
	if (c->spf_on)
		add_spf(ar, c);
	if (c->dkim_on)
		add_dkim(ar, c);
	if (c->dmarc_on)
		add_dmarc(ar, c);
	char *field = authres_format(ar);
	authres_free(&ar);
	size_t n = authres_find_forged(job->msg.data, job->msg.len, c->hostname, spans, FORGED_MAX);
	c->forged = n;
	if (n > FORGED_MAX)
		n = FORGED_MAX;
	buf_reserve(&out, strlen(field) + job->msg.len);
	buf_append(&out, field, strlen(field));
	free(field);
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		buf_append(&out, job->msg.data + at, spans[i].off - at);
		at = spans[i].off + spans[i].len;
	}
	buf_append(&out, job->msg.data + at, job->msg.len - at);
	buf_free(&job->msg);
	job->msg = out;
	job->dmsg.body = job->msg.data;
	job->dmsg.len = job->msg.len;
}

/* "dkim=pass:example.org/sel,fail:other.test/s2" for the log */
static void dkim_summary(const struct smtp_checks *c, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	if (!c->dkim_on) {
		snprintf(out, cap, "off");
		return;
	}
	if (c->n_sigs == 0) {
		snprintf(out, cap, "none");
		return;
	}
	for (size_t i = 0; i < c->n_sigs && o < cap; i++) {
		const struct dkim_result *r = dkim_verify_result(c->dkim, i);
		int k =
		    snprintf(out + o, cap - o, "%s%s:%.100s/%.60s", i > 0 ? "," : "",
			     dkim_status_name(r->result), r->domain[0] != '\0' ? r->domain : "-",
			     r->selector[0] != '\0' ? r->selector : "-");
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

static const char *policy_name(enum dmarc_policy p)
{
	return p == DMARC_POLICY_REJECT	      ? "reject"
	       : p == DMARC_POLICY_QUARANTINE ? "quarantine"
					      : "none";
}

/* What the DMARC result asks of this message under the config. */
static enum filter_dmarc_action dmarc_action(const struct smtp_checks *c,
					     const struct filter_config *fc)
{
	if (!c->dmarc_on || c->dmarc_result != DMARC_FAIL)
		return FILTER_DMARC_ACCEPT;
	if (c->dmarc_policy == DMARC_POLICY_REJECT)
		return (enum filter_dmarc_action)fc->dmarc_reject_action;
	if (c->dmarc_policy == DMARC_POLICY_QUARANTINE)
		return (enum filter_dmarc_action)fc->dmarc_quarantine_action;
	return FILTER_DMARC_ACCEPT;
}

static const char *action_name(enum filter_dmarc_action a)
{
	return a == FILTER_DMARC_REJECT	      ? "reject"
	       : a == FILTER_DMARC_QUARANTINE ? "quarantine"
					      : "accept";
}

static void finish_checks(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_checks *c = job->chk;
	const struct filter_config *fc = filter_config(smtp_cfg(s));
	char dkim[600], dmarc[800];

	dkim_summary(c, dkim, sizeof(dkim));
	enum filter_dmarc_action act = dmarc_action(c, fc);
	/* the policy and the action only where they apply: on a failure */
	bool failed = c->dmarc_result == DMARC_FAIL;
	if (c->dmarc_on)
		snprintf(dmarc, sizeof(dmarc), " dmarc=%s dmarc_domain=%s%s%s%s%s%s%s%s",
			 dmarc_result_name(c->dmarc_result), c->from_ok ? c->from_domain : "-",
			 failed ? " dmarc_policy=" : "", failed ? policy_name(c->dmarc_policy) : "",
			 c->dmarc_reason[0] != '\0' ? " dmarc_reason=\"" : "", c->dmarc_reason,
			 c->dmarc_reason[0] != '\0' ? "\"" : "", failed ? " dmarc_action=" : "",
			 failed ? action_name(act) : "");
	else
		snprintf(dmarc, sizeof(dmarc), " dmarc=off");
	bool why = c->spf_reason[0] != '\0';
	log_info("sid=%s qid=%s checks spf=%s spf_domain=%s%s%s%s dkim=%s%s forged_authres=%zu",
		 s->core.sid, job->qid, c->spf_on ? spf_result_name(c->spf_result) : "off",
		 c->spf_domain[0] != '\0' ? c->spf_domain : "-", why ? " spf_reason=\"" : "",
		 why ? c->spf_reason : "", why ? "\"" : "", dkim, dmarc, c->forged);
	if (act == FILTER_DMARC_REJECT) {
		/* RFC 7489 §6.7 and §7.3: refused after DATA, the policy named */
		smtp_reply(s, 550, "5.7.1 Message refused: it fails the DMARC policy of %.200s",
			   c->from_domain);
		smtp_data_logged(s, job->qid, job->msg.len, "refused by DMARC policy");
		smtp_tx_reset(s);
		return;
	}
	struct smtp_job *j = smtp_job_carry(s, job);
	if (act == FILTER_DMARC_QUARANTINE)
		snprintf(j->quarantine, sizeof(j->quarantine), "DMARC policy of %.150s (%s)",
			 c->from_domain, policy_name(c->dmarc_policy));
	smtp_data_filter_or_commit(s, j);
}

/* --- step 2 (loop) -------------------------------------------------------------------------- */

enum frame {
	FRAME_NONE, /* a callback of the loop's: the session's frame is entered */
	FRAME_CMD,  /* within the DATA command itself */
	FRAME_JOB,  /* within a job's finish (job_finish ends the command) */
};

/* Every answer is in (or the time is up): on to step 3. */
static void questions_done(struct smtp_checks *c, enum frame fr)
{
	struct smtp_session *s = c->s;
	struct smtp_job *job = c->job;
	char qid[sizeof(job->qid)];

	loop_timer_del(c->loop, &c->deadline);
	if (fr == FRAME_NONE)
		proto_session_enter(&s->core);
	proto_job_release(&job->core);
	snprintf(qid, sizeof(qid), "%s", job->qid);
	job->finish = finish_checks;
	if (!proto_job_try_submit_to(&job->core, s->svc->env->filters, work_checks)) {
		/* the job is gone with its message */
		smtp_reply(s, 451, "4.3.2 System busy, try again later");
		smtp_data_logged(s, qid, (size_t)s->data.size, "filters busy");
		smtp_tx_reset(s);
		smtp_cmd_finish(s);
	}
	if (fr == FRAME_NONE)
		proto_session_steps(&s->core);
}

static bool questions_out(const struct smtp_checks *c)
{
	if (c->spf_q != NULL || c->dmarc_q != NULL)
		return true;
	for (size_t i = 0; i < c->n_sigs; i++)
		if (c->dkim_q[i] != NULL)
			return true;
	return false;
}

static void spf_answered(const struct dns_question *q, struct dns_answer *a, void *ctx);
static void dmarc_answered(const struct dns_question *q, struct dns_answer *a, void *ctx);

/* Asks the SPF machine's next question; false when it has its result. */
static bool spf_ask(struct smtp_checks *c)
{
	for (;;) {
		const struct dns_question *q = spf_next(c->spf);
		if (q == NULL) {
			c->spf_result = spf_result(c->spf);
			snprintf(c->spf_domain, sizeof(c->spf_domain), "%s", spf_domain(c->spf));
			snprintf(c->spf_reason, sizeof(c->spf_reason), "%s", spf_reason(c->spf));
			spf_free(&c->spf);
			return false;
		}
		c->spf_q = dns_async_query(c->dns, q, spf_answered, c);
		if (c->spf_q != NULL)
			return true;
		struct dns_answer a; /* the resolver refused the question */
		dns_answer_init(&a, q->type, DNS_RESULT_TEMP);
		spf_answer(c->spf, &a);
	}
}

/* The same for DMARC's record: the From: domain's, then the organisational
   domain's; dmarc_evaluate() in step 3 gives the result. */
static void dmarc_ask(struct smtp_checks *c)
{
	for (;;) {
		const struct dns_question *q = dmarc_next(c->dmarc);
		if (q == NULL)
			return;
		c->dmarc_q = dns_async_query(c->dns, q, dmarc_answered, c);
		if (c->dmarc_q != NULL)
			return;
		struct dns_answer a;
		dns_answer_init(&a, q->type, DNS_RESULT_TEMP);
		dmarc_answer(c->dmarc, &a);
	}
}

static void answered(struct smtp_checks *c)
{
	if (!questions_out(c))
		questions_done(c, FRAME_NONE);
}

static void spf_answered(const struct dns_question *q, struct dns_answer *a, void *ctx)
{
	struct smtp_checks *c = ctx;

	(void)q;
	c->spf_q = NULL;
	spf_answer(c->spf, a);
	dns_answer_free(a);
	spf_ask(c);
	answered(c);
}

static void dmarc_answered(const struct dns_question *q, struct dns_answer *a, void *ctx)
{
	struct smtp_checks *c = ctx;

	(void)q;
	c->dmarc_q = NULL;
	dmarc_answer(c->dmarc, a);
	dns_answer_free(a);
	dmarc_ask(c);
	answered(c);
}

static void dkim_answered(const struct dns_question *q, struct dns_answer *a, void *ctx)
{
	struct smtp_checks *c = ctx;

	for (size_t i = 0; i < c->n_sigs; i++)
		if (c->dkim_asked[i] && c->dkim_q[i] != NULL && !c->dkim_got[i] &&
		    strcmp(dkim_verify_key_name(c->dkim, i), q->name) == 0) {
			c->dkim_q[i] = NULL;
			c->dkim_a[i] = *a; /* the records are kept for step 3 */
			c->dkim_got[i] = true;
			*a = (struct dns_answer){0};
			break;
		}
	dns_answer_free(a);
	answered(c);
}

/* Each usable signature's key, all at once. */
static void dkim_ask(struct smtp_checks *c)
{
	for (size_t i = 0; i < c->n_sigs; i++) {
		const char *name = dkim_verify_key_name(c->dkim, i);
		if (name == NULL)
			continue; /* already decided: no key to ask for */
		struct dns_question q = {.type = DNS_TYPE_TXT};
		snprintf(q.name, sizeof(q.name), "%s", name);
		c->dkim_asked[i] = true;
		c->dkim_q[i] = dns_async_query(c->dns, &q, dkim_answered, c);
		if (c->dkim_q[i] == NULL) {
			dns_answer_init(&c->dkim_a[i], DNS_TYPE_TXT, DNS_RESULT_TEMP);
			c->dkim_got[i] = true;
		}
	}
}

/* Time is up: what is still out is a temporary error. */
static void deadline_over(struct loop *l, void *ctx)
{
	struct smtp_checks *c = ctx;

	(void)l;
	c->deadline = NULL;
	if (c->spf_q != NULL) {
		dns_async_cancel(c->dns, &c->spf_q);
		spf_free(&c->spf);
		c->spf_result = SPF_TEMPERROR;
		snprintf(c->spf_reason, sizeof(c->spf_reason), "DNS time limit");
	}
	for (size_t i = 0; i < c->n_sigs; i++)
		if (c->dkim_q[i] != NULL) {
			dns_async_cancel(c->dns, &c->dkim_q[i]);
			dns_answer_init(&c->dkim_a[i], DNS_TYPE_TXT, DNS_RESULT_TEMP);
			c->dkim_got[i] = true;
		}
	if (c->dmarc_q != NULL) {
		dns_async_cancel(c->dns, &c->dmarc_q);
		c->dmarc_timed_out = true;
		c->dmarc_result = DMARC_TEMPERROR;
		snprintf(c->dmarc_reason, sizeof(c->dmarc_reason), "DNS time limit");
	}
	questions_done(c, FRAME_NONE);
}

/* The job waits on the loop for the questions of every check. */
static void ask(struct smtp_checks *c, enum frame fr)
{
	const struct filter_config *fc = filter_config(smtp_cfg(c->s));

	proto_job_hold(&c->job->core);
	c->deadline = loop_timer_add(c->loop, (uint64_t)fc->dns_timeout * 1000u, deadline_over, c);
	if (c->spf_on)
		spf_ask(c);
	if (c->dkim != NULL)
		dkim_ask(c);
	if (c->dmarc != NULL)
		dmarc_ask(c);
	if (!questions_out(c))
		questions_done(c, fr);
}

/* --- step 1 (a filter thread, then the loop) --------------------------------------------- */

static void work_parse(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_checks *c = job->chk;

	(void)thread_ctx;
	if (c->dkim_on) {
		c->dkim = dkim_verify_begin(job->msg.data, job->msg.len);
		c->n_sigs = dkim_verify_count(c->dkim);
	}
	if (!c->dmarc_on)
		return;
	c->from_ok = dmarc_from_domain(job->msg.data, job->msg.len, c->from_domain,
				       sizeof(c->from_domain)) == 0;
	if (!c->from_ok) {
		/* RFC 7489 §6.6.1: no single author domain to check */
		c->dmarc_result = DMARC_PERMERROR;
		snprintf(c->dmarc_reason, sizeof(c->dmarc_reason), "not exactly one From: address");
		return;
	}
	c->dmarc = dmarc_new(c->from_domain);
	dmarc_set_sample(c->dmarc, arc4random_uniform(100));
}

static void parsed(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_checks *c = job->chk;
	struct smtp_job *j = smtp_job_carry(s, job);

	j->chk = c;
	job->chk = NULL;
	c->job = j;
	ask(c, FRAME_JOB);
}

void smtp_checks_submit(struct smtp_session *s, struct smtp_job *job)
{
	const struct config *cfg = smtp_cfg(s);
	const struct filter_config *fc = filter_config(cfg);
	struct smtp_checks *c = xcalloc(1, sizeof(*c));
	unsigned char ip[16];
	int family = AF_INET6;

	c->s = s;
	c->job = job;
	c->dns = s->svc->env->dns;
	c->loop = s->svc->env->loop;
	snprintf(c->hostname, sizeof(c->hostname), "%s", cfg->hostname);
	job->chk = c;
	if (s->core.ip == NULL || inet_pton(AF_INET6, s->core.ip, ip) != 1) {
		family = AF_INET;
		if (s->core.ip == NULL || inet_pton(AF_INET, s->core.ip, ip) != 1)
			memset(ip, 0, sizeof(ip));
	}
	c->spf_on = fc->spf;
	c->dkim_on = fc->dkim_verify;
	/* DMARC weighs both: without one of them it cannot be judged */
	c->dmarc_on = fc->dmarc && fc->spf && fc->dkim_verify;
	if (c->spf_on) {
		const struct smtp_tx *t = s->tx;
		c->spf_helo = t->null_sender || t->sender[0] == '\0';
		snprintf(c->spf_identity, sizeof(c->spf_identity), "%s",
			 c->spf_helo ? s->helo : t->sender);
		c->spf = spf_new(family, ip, c->spf_helo ? "" : t->sender, s->helo);
	}
	if (!c->dkim_on && !c->dmarc_on) {
		ask(c, FRAME_CMD);
		return;
	}
	char qid[sizeof(job->qid)];
	snprintf(qid, sizeof(qid), "%s", job->qid);
	job->finish = parsed;
	if (proto_job_try_submit_to(&job->core, s->svc->env->filters, work_parse))
		return;
	/* the job is gone with its message */
	smtp_reply(s, 451, "4.3.2 System busy, try again later");
	smtp_data_logged(s, qid, (size_t)s->data.size, "filters busy");
	smtp_tx_reset(s);
	smtp_cmd_finish(s);
}
