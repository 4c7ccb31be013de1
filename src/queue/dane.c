/* SPDX-License-Identifier: MIT */
/* dane.c - see dane.h. */
#include "queue/dane.h"

#include <stdio.h>
#include <string.h>

#include "dns/dns_sync.h"
#include "queue/smtp_client.h"
#include "util/log.h"

size_t dane_usable(const struct dns_answer *in, struct dns_answer *out)
{
	size_t kept = 0;

	for (size_t i = 0; in->type == DNS_TYPE_TLSA && i < in->n; i++) {
		const struct dns_record *r = &in->rr[i];
		uint8_t u = r->u.tlsa.usage, s = r->u.tlsa.selector, m = r->u.tlsa.mtype;
		size_t len = r->u.tlsa.len;
		if ((u != 2 && u != 3) || s > 1 || m > 2)
			continue;
		if (len == 0 || (m == 1 && len != 32) || (m == 2 && len != 64))
			continue;
		if (out->n >= DANE_TLSA_MAX)
			break;
		dns_answer_add_tlsa(out, u, s, m, r->u.tlsa.data, len);
		kept++;
	}
	return kept;
}

void dane_lookup(struct dns_sync *ds, const char *host, unsigned port, struct dane_host *dh)
{
	struct dns_question q = {.type = DNS_TYPE_TLSA};
	struct dns_answer a;

	memset(dh, 0, sizeof(*dh));
	dns_answer_init(&dh->tlsa, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	if (snprintf(q.name, sizeof(q.name), "_%u._tcp.%s", port, host) >= (int)sizeof(q.name))
		return; /* no such name can exist */
	dns_sync_query(ds, &q, &a);
	if (a.result == DNS_RESULT_TEMP) {
		dh->state = DANE_FAIL;
		snprintf(dh->why, sizeof(dh->why), "TLSA lookup for %.150s failed%s", q.name,
			 a.bogus ? " validation" : "");
	} else if (a.result == DNS_RESULT_OK && a.secure) {
		dh->state = dane_usable(&a, &dh->tlsa) > 0 ? DANE_ON : DANE_ENCRYPT;
	}
	dns_answer_free(&a);
}

void dane_host_clear(struct dane_host *dh)
{
	dns_answer_free(&dh->tlsa);
	dh->state = DANE_OFF;
}

void dane_prepare(const struct dane_host *dh, const char *domain, struct smtp_client_job *j)
{
	j->tlsa = NULL;
	j->n_tlsa = 0;
	j->dane_domain = NULL;
	j->dane_usage = -1;
	if (dh->state != DANE_ON && dh->state != DANE_ENCRYPT)
		return;
	if (j->tls < ROUTE_TLS_ENCRYPT)
		j->tls = ROUTE_TLS_ENCRYPT; /* STARTTLS, or this host is not used */
	j->tls_check = false;
	if (dh->state == DANE_ON) {
		j->tlsa = dh->tlsa.rr;
		j->n_tlsa = dh->tlsa.n;
		j->dane_domain = domain;
	}
}

void dane_fail_note(const char *why, char *note, size_t len)
{
	size_t k = log_extra_add(note, len, strlen(note), "dane", "fail");
	log_extra_add(note, len, k, "dane-reason", why);
}

void dane_after(const struct dane_host *dh, struct smtp_client_job *j, char *note, size_t len)
{
	if (dh->state != DANE_ON && dh->state != DANE_ENCRYPT)
		return;
	size_t k = strlen(note);
	if (j->tls_failed) {
		const char *p = j->reply; /* its enhanced code gives way to 4.7.5 */
		size_t c = strspn(p, "0123456789.");
		p += c >= 5 && p[c] == ' ' ? c + 1 : 0;
		char why[280];
		snprintf(why, sizeof(why), "%.270s", p);
		/* the route's words do not fit: DANE requires it here */
		char *route = strstr(why, ", required for this route");
		if (route != NULL)
			*route = '\0';
		snprintf(j->reply, sizeof(j->reply), "4.7.5 DANE: %s", why);
		dane_fail_note(why, note, len);
		return;
	}
	if (!j->tls_used)
		return; /* no connection, or no STARTTLS reached: nothing was checked */
	if (dh->state == DANE_ENCRYPT) {
		log_extra_add(note, len, k, "dane", "unusable");
		return;
	}
	char usage[8];
	snprintf(usage, sizeof(usage), "%d", j->dane_usage);
	k = log_extra_add(note, len, k, "dane", "pass");
	log_extra_add(note, len, k, "dane-usage", usage);
}
