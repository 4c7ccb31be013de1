/* SPDX-License-Identifier: MIT */
/*
 * check.c - `mailroom check` as a whole (check.h): the services in order
 * (pop3, pop3s, imap, imaps, submission, submissions), then the probe (a
 * message from the address to itself over submission, found over IMAP by
 * its Message-ID, fetched back over POP3 and deleted by whichever looks
 * last), then the DNS records; the step records and the summary line.
 */
#include "check/check_private.h"
#include "util/base64.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static const char *const service_names[CHECK_SERVICES] = {
    [CHECK_POP3] = "pop3",   [CHECK_POP3S] = "pop3s",		[CHECK_IMAP] = "imap",
    [CHECK_IMAPS] = "imaps", [CHECK_SUBMISSION] = "submission", [CHECK_SUBMISSIONS] = "submissions",
};

const char *check_service_name(enum check_service svc)
{
	return svc < CHECK_SERVICES ? service_names[svc] : "?";
}

bool check_service_implicit_tls(enum check_service svc)
{
	return svc == CHECK_POP3S || svc == CHECK_IMAPS || svc == CHECK_SUBMISSIONS;
}

const char *check_status_name(enum check_status st)
{
	switch (st) {
	case CHECK_OK:
		return "OK";
	case CHECK_WARNING:
		return "WARNING";
	case CHECK_CRITICAL:
		return "CRITICAL";
	case CHECK_UNKNOWN:
		return "UNKNOWN";
	case CHECK_SKIPPED:
		return "SKIPPED";
	}
	return "?";
}

void check_report(struct check_run *r, enum check_status st, const char *service,
		  const char *address, const char *step, int64_t ms, const char *fmt, ...)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 32;
		r->steps = xrealloc(r->steps, r->cap * sizeof(*r->steps));
	}
	struct check_step *s = &r->steps[r->n++];
	memset(s, 0, sizeof(*s));
	s->status = st;
	snprintf(s->service, sizeof(s->service), "%s", service);
	snprintf(s->address, sizeof(s->address), "%s", address != NULL ? address : "-");
	snprintf(s->step, sizeof(s->step), "%s", step);
	s->ms = ms;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->details, sizeof(s->details), fmt, ap);
	va_end(ap);
	if (r->o->on_step != NULL)
		r->o->on_step(r->o->ctx, s);
}

void check_step_line(const struct check_step *s, char *out, size_t len)
{
	char ms[24];
	if (s->ms >= 0)
		snprintf(ms, sizeof(ms), "%lld ms", s->ms);
	else
		snprintf(ms, sizeof(ms), "-");
	snprintf(out, len, "%-8s %-11s %-21s %-10s %8s  %s", check_status_name(s->status),
		 s->service, s->address, s->step, ms, s->details);
}

/* --- sessions ------------------------------------------------------------- */

void check_sess_init(struct check_sess *s, struct check_run *r, enum check_service svc, char *why,
		     size_t why_len)
{
	memset(s, 0, sizeof(*s));
	s->r = r;
	s->svc = svc;
	s->addr = r->o->endpoint[svc];
	s->why = why;
	s->why_len = why_len;
	if (why != NULL)
		why[0] = '\0';
	check_conn_init(&s->c);
}

void check_sess_begin(struct check_sess *s)
{
	s->t0 = check_now_ms();
	check_conn_deadline(&s->c, s->r->o->step_timeout);
}

bool check_sess_step(struct check_sess *s, enum check_status st, const char *name, const char *fmt,
		     ...)
{
	char details[CHECK_DETAILS_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(details, sizeof(details), fmt, ap);
	va_end(ap);
	if (s->why == NULL)
		check_report(s->r, st, check_service_name(s->svc), s->addr, name,
			     check_now_ms() - s->t0, "%s", details);
	else if (st == CHECK_CRITICAL && s->why[0] == '\0')
		snprintf(s->why, s->why_len, "%s %s: %s", check_service_name(s->svc), name,
			 details);
	return st != CHECK_CRITICAL;
}

bool check_sess_connect(struct check_sess *s)
{
	char err[256];
	check_sess_begin(s);
	if (check_conn_open(&s->c, s->addr, err, sizeof(err)) < 0)
		return check_sess_step(s, CHECK_CRITICAL, "connect", "%s", err);
	if (!check_sess_step(s, CHECK_OK, "connect", "connected"))
		return false;
	if (!check_service_implicit_tls(s->svc))
		return true;
	check_sess_begin(s); /* RFC 8314: TLS from the first octet */
	return check_sess_tls(s);
}

bool check_sess_tls(struct check_sess *s)
{
	struct check_tls t;
	char err[256], details[CHECK_DETAILS_MAX];
	const struct check_options *o = s->r->o;

	if (check_conn_tls(&s->c, o->tls_name, o->ca_file, &t, err, sizeof(err)) < 0)
		return check_sess_step(s, CHECK_CRITICAL, "tls", "%s", err);
	return check_sess_step(s, check_tls_judge(&t, details, sizeof(details)), "tls", "%s",
			       details);
}

void check_plain_response(struct buf *b64, const char *user, const char *password)
{
	struct buf raw = {0};
	buf_append_c(&raw, '\0');
	buf_append_str(&raw, user);
	buf_append_c(&raw, '\0');
	buf_append_str(&raw, password);
	base64_encode(b64, raw.data, raw.len);
	buf_append_c(b64, '\0');
	buf_free_secret(&raw);
}

/* --- the probe ------------------------------------------------------------ */

static void make_probe(const struct check_options *o, char token[CHECK_TOKEN_LEN + 1],
		       struct buf *msg)
{
	unsigned char rnd[CHECK_TOKEN_LEN / 2];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		/* no entropy source: time and pid are unique enough for a probe */
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)(t >> (8 * (i % 8)));
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(token + 2 * i, 3, "%02x", rnd[i]);
	const char *at = strrchr(o->address, '@');
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	buf_printf(msg,
		   "From: <%s>\r\n"
		   "To: <%s>\r\n"
		   "Subject: mailroom check %s\r\n"
		   "Date: %s\r\n"
		   "Message-ID: <mailroom-check.%s@%s>\r\n"
		   "Auto-Submitted: auto-generated\r\n"
		   "MIME-Version: 1.0\r\n"
		   "Content-Type: text/plain; charset=us-ascii\r\n"
		   "\r\n"
		   "A probe of `mailroom check`, token %s.\r\n"
		   ".A line that starts with a dot tests the dot-stuffing.\r\n"
		   "It is deleted as soon as it is fetched back.\r\n",
		   o->address, o->address, token, date, token,
		   at != NULL && at[1] != '\0' ? at + 1 : "mailroom.invalid", token);
}

/* The first of a and b that logged in, else CHECK_SERVICES. */
static enum check_service logged_in(const struct check_run *r, enum check_service a,
				    enum check_service b)
{
	return r->login_ok[a] ? a : r->login_ok[b] ? b : CHECK_SERVICES;
}

/* One way of looking for the probe: over IMAP (find) or POP3 (fetch). */
struct look {
	enum check_service svc;
	bool imap, expunge;
	const char *token;
	const struct buf *msg;
	char note[160];
};

static int look_once(struct check_run *r, struct look *l, char *why, size_t why_len)
{
	if (l->imap)
		return check_imap_find(r, l->svc, l->token, l->msg, l->expunge, l->note,
				       sizeof(l->note), why, why_len);
	snprintf(l->note, sizeof(l->note), "intact, deleted");
	return check_pop3_fetch(r, l->svc, l->token, l->msg, why, why_len);
}

/* Polls with a growing pause (a quarter second up to two) until the probe
   is found, a poll fails, or end (at least one poll). Reports the step;
   returns the time it was found, or -1. */
static int64_t look_for(struct check_run *r, struct look *l, int64_t t0, int64_t end)
{
	const char *name = l->imap ? "find" : "fetch";
	char why[CHECK_DETAILS_MAX];
	int64_t t1 = check_now_ms(), pause = 250;
	unsigned polls = 0;
	int rc;
	for (;;) {
		polls++;
		rc = look_once(r, l, why, sizeof(why));
		int64_t left = end - check_now_ms();
		if (rc != 0 || left <= 0)
			break;
		int64_t nap = pause < left ? pause : left;
		struct timespec ts = {.tv_sec = nap / 1000, .tv_nsec = (nap % 1000) * 1000000};
		nanosleep(&ts, NULL);
		pause = pause * 2 > 2000 ? 2000 : pause * 2;
	}
	int64_t t2 = check_now_ms();
	const char *ep = r->o->endpoint[l->svc];
	if (rc == 1) {
		check_report(r, CHECK_OK, "probe", ep, name, t2 - t1,
			     "over %s after %u poll%s: %s; end-to-end %lld ms",
			     check_service_name(l->svc), polls, polls == 1 ? "" : "s", l->note,
			     (long long)(t2 - t0));
		return t2;
	}
	if (rc == 0)
		check_report(r, CHECK_CRITICAL, "probe", ep, name, t2 - t1,
			     "not in the mailbox within %u s (%u polls over %s)",
			     r->o->probe_timeout, polls, check_service_name(l->svc));
	else
		check_report(r, CHECK_CRITICAL, "probe", ep, name, t2 - t1, "%s", why);
	return -1;
}

/* Sends the probe, finds it over IMAP (IMAPS if it passed, else IMAP),
   then fetches and deletes it over POP3 (POP3S, else POP3); with no POP3
   service the IMAP search deletes it. */
static void probe(struct check_run *r, int64_t *e2e_r)
{
	const struct check_options *o = r->o;
	enum check_service send = logged_in(r, CHECK_SUBMISSION, CHECK_SUBMISSIONS);
	enum check_service pop = logged_in(r, CHECK_POP3S, CHECK_POP3);
	enum check_service imap = logged_in(r, CHECK_IMAPS, CHECK_IMAP);
	char why[CHECK_DETAILS_MAX], token[CHECK_TOKEN_LEN + 1];
	struct buf msg = {0};

	*e2e_r = -1;
	if (send == CHECK_SERVICES || (pop == CHECK_SERVICES && imap == CHECK_SERVICES)) {
		check_report(r, CHECK_SKIPPED, "probe", NULL, "send", -1,
			     "no %s service logged in: no probe message",
			     send == CHECK_SERVICES ? "submission" : "POP3 or IMAP");
		return;
	}
	make_probe(o, token, &msg);
	int64_t t0 = check_now_ms();
	if (check_smtp_send(r, send, &msg, why, sizeof(why)) < 0) {
		check_report(r, CHECK_CRITICAL, "probe", o->endpoint[send], "send",
			     check_now_ms() - t0, "%s", why);
		buf_free(&msg);
		return;
	}
	check_report(r, CHECK_OK, "probe", o->endpoint[send], "send", check_now_ms() - t0,
		     "over %s, token %s", check_service_name(send), token);
	/* both looks within probe_timeout of the sending */
	int64_t end = t0 + (int64_t)o->probe_timeout * 1000, first = -1;
	if (imap != CHECK_SERVICES) {
		struct look l = {.svc = imap,
				 .imap = true,
				 .expunge = pop == CHECK_SERVICES,
				 .token = token,
				 .msg = &msg};
		first = look_for(r, &l, t0, end);
	}
	if (pop != CHECK_SERVICES) {
		struct look l = {.svc = pop, .token = token, .msg = &msg};
		int64_t t = look_for(r, &l, t0, end);
		if (first < 0)
			first = t;
	}
	if (first >= 0)
		*e2e_r = first - t0;
	buf_free(&msg);
}

/* --- the run -------------------------------------------------------------- */

static void summary_line(const struct check_run *r, enum check_status worst, int64_t e2e,
			 struct buf *out)
{
	size_t run = 0;
	const struct check_step *first = NULL;

	for (size_t i = 0; i < r->n; i++) {
		if (r->steps[i].status != CHECK_SKIPPED)
			run++;
		if (first == NULL && r->steps[i].status == worst && worst != CHECK_OK)
			first = &r->steps[i];
	}
	buf_printf(out, "MAILROOM CHECK %s - ", check_status_name(worst));
	if (first != NULL)
		buf_printf(out, "%s %s %s: %s", first->service, first->step, first->address,
			   first->details);
	else
		buf_printf(out, "%zu steps in %lld ms", run, (long long)(check_now_ms() - r->t0));
	/* perfdata (Nagios plugin guidelines): 'label'=value[UOM] */
	const char *sep = " |";
	for (size_t i = 0; i < r->n; i++) {
		const struct check_step *s = &r->steps[i];
		if (s->ms < 0 || s->status == CHECK_SKIPPED || strcmp(s->service, "dns") == 0)
			continue;
		buf_printf(out, "%s time_%s_%s=%lldms", sep, s->service, s->step, s->ms);
		sep = "";
	}
	if (e2e >= 0)
		buf_printf(out, " time_probe_e2e=%lldms", (long long)e2e);
}

enum check_status check_run(const struct check_options *o, struct buf *summary)
{
	struct check_run r = {.o = o, .t0 = check_now_ms()};
	int64_t e2e = -1;

	for (enum check_service svc = 0; svc < CHECK_SERVICES; svc++) {
		if (o->endpoint[svc] == NULL) {
			check_report(&r, CHECK_SKIPPED, check_service_name(svc), NULL, "connect",
				     -1, "off");
			continue;
		}
		if (svc == CHECK_POP3 || svc == CHECK_POP3S)
			check_pop3_service(&r, svc);
		else if (svc == CHECK_IMAP || svc == CHECK_IMAPS)
			check_imap_service(&r, svc);
		else
			check_smtp_service(&r, svc);
	}
	if (!o->no_probe)
		probe(&r, &e2e);
	if (o->dns_domain != NULL)
		check_dns(&r);
	enum check_status worst = CHECK_OK;
	for (size_t i = 0; i < r.n; i++)
		if (r.steps[i].status != CHECK_SKIPPED && r.steps[i].status > worst)
			worst = r.steps[i].status;
	summary_line(&r, worst, e2e, summary);
	for (enum check_service svc = 0; svc < CHECK_SERVICES; svc++)
		buf_free(&r.baseline[svc]);
	free(r.steps);
	return worst;
}
