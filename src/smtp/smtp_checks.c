/* SPDX-License-Identifier: MIT */
/*
 * smtp_checks.c - the sender checks of mail from outside, between the end
 * of DATA and the content filters: SPF (RFC 7208) of the MAIL FROM
 * identity (or of the HELO name for the null sender), its result written
 * into an Authentication-Results field (RFC 8601) at the top of the
 * message, and such fields that claim our host name but came with the
 * message removed first (§5). The milters and clamd then see the message
 * as it will be stored, our field included, so a milter may act on it.
 *
 * The steps (the session reads no input meanwhile; a client that leaves
 * ends them, its DNS questions cancelled):
 *   1. smtp_checks_submit (loop): the job is held on the loop
 *      (proto_job_hold) while the SPF machine's questions go to the
 *      asynchronous resolver (env->dns, libunbound) one after the other, all
 *      within [filter] dns_timeout; what is unanswered by then counts as a
 *      temporary error.
 *   2. work_checks, on the filters' threads: the field is made and put on
 *      top, forged ones dropped (a copy of the message: no loop time spent
 *      on its size).
 *   3. finish_checks (loop): the results are logged, then the content
 *      filters or the commit (smtp_data_filter_or_commit).
 * Submission and logged-in sessions are ours: they are not checked.
 */
#include "dns/dns_async.h"
#include "filter/authres.h"
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
	/* step 2's */
	size_t forged;
};

void smtp_checks_free(struct smtp_checks **cp)
{
	struct smtp_checks *c = *cp;

	if (c == NULL)
		return;
	if (c->spf_q != NULL)
		dns_async_cancel(c->dns, &c->spf_q);
	loop_timer_del(c->loop, &c->deadline);
	spf_free(&c->spf);
	free(c);
	*cp = NULL;
}

bool smtp_checks_wanted(const struct smtp_session *s)
{
	const struct filter_config *fc = filter_config(smtp_cfg(s));

	return s->svc->env->dns != NULL && s->svc->env->filters != NULL && fc->spf &&
	       s->auth == NULL && !smtp_role_submission(s);
}

/* --- step 2 (a filter thread) and 3 (loop) ------------------------------------------- */

static void add_spf(struct authres *ar, const struct smtp_checks *c)
{
	authres_add(ar, "spf", spf_result_name(c->spf_result),
		    c->spf_reason[0] != '\0' ? c->spf_reason : NULL);
	if (c->spf_helo)
		authres_prop(ar, "smtp.helo", c->spf_identity);
	else
		authres_prop(ar, "smtp.mailfrom", c->spf_identity);
}

static void work_checks(void *thread_ctx, void *p)
{
	struct smtp_job *job = p;
	struct smtp_checks *c = job->chk;
	struct authres_span spans[FORGED_MAX];
	struct buf out = {0};

	(void)thread_ctx;
	struct authres *ar = authres_new(c->hostname);
	if (c->spf_on)
		add_spf(ar, c);
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

static void finish_checks(struct smtp_session *s, struct smtp_job *job)
{
	struct smtp_checks *c = job->chk;

	bool why = c->spf_reason[0] != '\0';
	log_info("sid=%s qid=%s checks spf=%s spf_domain=%s%s%s%s forged_authres=%zu", s->core.sid,
		 job->qid, c->spf_on ? spf_result_name(c->spf_result) : "off",
		 c->spf_domain[0] != '\0' ? c->spf_domain : "-", why ? " spf_reason=\"" : "",
		 why ? c->spf_reason : "", why ? "\"" : "", c->forged);
	struct smtp_job *j = smtp_job_carry(s, job);
	smtp_data_filter_or_commit(s, j);
}

/* --- step 1 (loop) -------------------------------------------------------------------------- */

/* Every answer is in (or the time is up): on to step 2. in_frame: called
   from within the session's frame (the DATA command itself). */
static void questions_done(struct smtp_checks *c, bool in_frame)
{
	struct smtp_session *s = c->s;
	struct smtp_job *job = c->job;
	char qid[sizeof(job->qid)];

	loop_timer_del(c->loop, &c->deadline);
	if (!in_frame)
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
	if (!in_frame)
		proto_session_steps(&s->core);
}

static bool questions_out(const struct smtp_checks *c)
{
	return c->spf_q != NULL;
}

static void spf_answered(const struct dns_question *q, struct dns_answer *a, void *ctx);

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

static void spf_answered(const struct dns_question *q, struct dns_answer *a, void *ctx)
{
	struct smtp_checks *c = ctx;

	(void)q;
	c->spf_q = NULL;
	spf_answer(c->spf, a);
	dns_answer_free(a);
	spf_ask(c);
	if (!questions_out(c))
		questions_done(c, false);
}

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
	questions_done(c, false);
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
	if (c->spf_on) {
		const struct smtp_tx *t = s->tx;
		c->spf_helo = t->null_sender || t->sender[0] == '\0';
		snprintf(c->spf_identity, sizeof(c->spf_identity), "%s",
			 c->spf_helo ? s->helo : t->sender);
		c->spf = spf_new(family, ip, c->spf_helo ? "" : t->sender, s->helo);
	}
	proto_job_hold(&job->core);
	c->deadline = loop_timer_add(c->loop, (uint64_t)fc->dns_timeout * 1000u, deadline_over, c);
	if (c->spf_on)
		spf_ask(c);
	if (!questions_out(c))
		questions_done(c, true);
}
