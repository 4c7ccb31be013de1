/* SPDX-License-Identifier: MIT */
/*
 * dmarc.c - DMARC record parsing, the two look-ups, alignment and the
 * From: domain (dmarc.h).
 */
#include "filter/dmarc.h"

#include <ctype.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

enum stage { ST_FROM, ST_ORG, ST_DONE };

struct dmarc {
	char from[DNS_NAME_MAX], org[DNS_NAME_MAX];
	enum stage stage;
	bool pending, have, at_org, temp;
	struct dmarc_record rec;
	unsigned sample;
	struct dns_question q;
	enum dmarc_result result;
	enum dmarc_policy policy;
	char reason[160];
};

static int policy_of(const char *v, size_t n, enum dmarc_policy *p)
{
	if (n == 4 && strncasecmp(v, "none", 4) == 0)
		*p = DMARC_POLICY_NONE;
	else if (n == 10 && strncasecmp(v, "quarantine", 10) == 0)
		*p = DMARC_POLICY_QUARANTINE;
	else if (n == 6 && strncasecmp(v, "reject", 6) == 0)
		*p = DMARC_POLICY_REJECT;
	else
		return -1;
	return 0;
}

static int mode_of(const char *v, size_t n, bool *strict)
{
	if (n != 1 || (tolower((unsigned char)v[0]) != 'r' && tolower((unsigned char)v[0]) != 's'))
		return -1;
	*strict = tolower((unsigned char)v[0]) == 's';
	return 0;
}

int dmarc_record_parse(const char *text, size_t len, struct dmarc_record *r)
{
	bool first = true, have_p = false, p_bad = false, have_sp = false;
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	r->pct = 100;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != ';')
			e++;
		size_t a = i, b = e;
		while (a < b && isspace((unsigned char)text[a]))
			a++;
		while (b > a && isspace((unsigned char)text[b - 1]))
			b--;
		i = e + 1;
		if (a == b) {
			if (first)
				return -1;
			continue;
		}
		const char *eq = memchr(text + a, '=', b - a);
		if (eq == NULL)
			return -1;
		size_t ne = (size_t)(eq - text), vs = ne + 1;
		while (ne > a && isspace((unsigned char)text[ne - 1]))
			ne--;
		while (vs < b && isspace((unsigned char)text[vs]))
			vs++;
		const char *name = text + a, *v = text + vs;
		size_t nl = ne - a, vl = b - vs;
		if (first) {
			if (nl != 1 || name[0] != 'v' || vl != 6 || strncmp(v, "DMARC1", 6) != 0)
				return -1;
			first = false;
			continue;
		}
		if (nl == 1 && name[0] == 'p') {
			have_p = true;
			p_bad = policy_of(v, vl, &r->p) < 0;
		} else if (nl == 2 && strncmp(name, "sp", 2) == 0) {
			have_sp = policy_of(v, vl, &r->sp) == 0;
		} else if (nl == 5 && strncmp(name, "adkim", 5) == 0) {
			if (mode_of(v, vl, &r->strict_dkim) < 0)
				r->strict_dkim = false;
		} else if (nl == 4 && strncmp(name, "aspf", 4) == 0) {
			if (mode_of(v, vl, &r->strict_spf) < 0)
				r->strict_spf = false;
		} else if (nl == 3 && strncmp(name, "pct", 3) == 0) {
			unsigned n = 0;
			size_t k = 0;
			while (k < vl && isdigit((unsigned char)v[k]) && n <= 100)
				n = n * 10 + (unsigned)(v[k++] - '0');
			if (k == vl && vl > 0 && n <= 100)
				r->pct = n;
		} else if (nl == 3 && strncmp(name, "rua", 3) == 0) {
			r->has_rua = vl > 0 && memchr(v, ':', vl) != NULL;
		}
	}
	if (first)
		return -1;
	if (!have_p || p_bad) {
		if (!r->has_rua)
			return -1;
		r->p = DMARC_POLICY_NONE;
	}
	if (!have_sp)
		r->sp = r->p;
	return 0;
}

static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_init(void)
{
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

int dmarc_org_domain(const char *domain, char *out, size_t cap)
{
	char low[DNS_NAME_MAX];
	size_t n = strlen(domain);

	if (n == 0 || n >= sizeof(low))
		return -1;
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)domain[i]);
	if (low[n - 1] == '.')
		low[--n] = '\0';
	pthread_once(&psl_once, psl_init);
	const char *reg = psl != NULL ? psl_registrable_domain(psl, low) : NULL;
	if (reg == NULL)
		reg = low; /* a public suffix itself, or no list: the name */
	if (strlen(reg) >= cap)
		return -1;
	snprintf(out, cap, "%s", reg);
	return 0;
}

struct dmarc *dmarc_new(const char *from_domain)
{
	struct dmarc *d = xcalloc(1, sizeof(*d));

	snprintf(d->from, sizeof(d->from), "%s", from_domain != NULL ? from_domain : "");
	size_t n = strlen(d->from);
	if (n > 0 && d->from[n - 1] == '.')
		d->from[n - 1] = '\0';
	if (d->from[0] == '\0' || strlen(d->from) > 240 ||
	    dmarc_org_domain(d->from, d->org, sizeof(d->org)) < 0) {
		d->stage = ST_DONE;
		d->result = DMARC_PERMERROR;
		snprintf(d->reason, sizeof(d->reason), "no valid From domain");
	}
	return d;
}

void dmarc_set_sample(struct dmarc *d, unsigned sample)
{
	d->sample = sample % 100;
}

const struct dns_question *dmarc_next(struct dmarc *d)
{
	if (d == NULL || d->stage == ST_DONE)
		return NULL;
	if (!d->pending) {
		snprintf(d->q.name, sizeof(d->q.name), "_dmarc.%.240s",
			 d->stage == ST_FROM ? d->from : d->org);
		d->q.type = DNS_TYPE_TXT;
		d->pending = true;
	}
	return &d->q;
}

void dmarc_answer(struct dmarc *d, const struct dns_answer *a)
{
	if (d == NULL || a == NULL || !d->pending)
		return;
	d->pending = false;
	if (a->result == DNS_RESULT_TEMP) {
		d->temp = true;
		d->stage = ST_DONE;
		return;
	}
	struct dmarc_record r;
	int found = 0;
	for (size_t i = 0; a->result == DNS_RESULT_OK && i < a->n; i++)
		if (a->rr[i].u.txt.text != NULL &&
		    dmarc_record_parse(a->rr[i].u.txt.text, a->rr[i].u.txt.len,
				       found == 0 ? &d->rec : &r) == 0)
			found++;
	if (found == 1) {
		d->have = true;
		d->at_org = d->stage == ST_ORG;
		d->stage = ST_DONE;
		return;
	}
	if (d->stage == ST_FROM && strcasecmp(d->from, d->org) != 0)
		d->stage = ST_ORG;
	else
		d->stage = ST_DONE;
}

static bool aligned(const char *id, const char *from, const char *from_org, bool strict)
{
	char org[DNS_NAME_MAX];

	if (id == NULL || *id == '\0')
		return false;
	if (strcasecmp(id, from) == 0)
		return true;
	return !strict && dmarc_org_domain(id, org, sizeof(org)) == 0 &&
	       strcasecmp(org, from_org) == 0;
}

void dmarc_evaluate(struct dmarc *d, enum spf_result spf, const char *spf_domain,
		    const int *dkim_results, const char *const *dkim_domains, size_t n_dkim)
{
	if (d->result == DMARC_PERMERROR && d->reason[0] != '\0')
		return;
	d->policy = DMARC_POLICY_NONE;
	if (d->temp) {
		d->result = DMARC_TEMPERROR;
		snprintf(d->reason, sizeof(d->reason), "DNS error looking up the DMARC record");
		return;
	}
	if (!d->have) {
		d->result = DMARC_NONE;
		snprintf(d->reason, sizeof(d->reason), "no DMARC record");
		return;
	}
	for (size_t i = 0; i < n_dkim; i++)
		if (dkim_results[i] == 1 &&
		    aligned(dkim_domains[i], d->from, d->org, d->rec.strict_dkim)) {
			d->result = DMARC_PASS;
			snprintf(d->reason, sizeof(d->reason), "DKIM d=%.100s aligned",
				 dkim_domains[i]);
			return;
		}
	if (spf == SPF_PASS && aligned(spf_domain, d->from, d->org, d->rec.strict_spf)) {
		d->result = DMARC_PASS;
		snprintf(d->reason, sizeof(d->reason), "SPF %.100s aligned", spf_domain);
		return;
	}
	d->result = DMARC_FAIL;
	enum dmarc_policy p = d->at_org && strcasecmp(d->from, d->org) != 0 ? d->rec.sp : d->rec.p;
	if (d->sample >= d->rec.pct && p != DMARC_POLICY_NONE)
		p = p == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE : DMARC_POLICY_NONE;
	d->policy = p;
	snprintf(d->reason, sizeof(d->reason), "no aligned SPF or DKIM pass");
}

enum dmarc_result dmarc_result(const struct dmarc *d)
{
	return d->result;
}

enum dmarc_policy dmarc_policy(const struct dmarc *d)
{
	return d->policy;
}

const char *dmarc_result_name(enum dmarc_result r)
{
	static const char *const names[] = {"none", "pass", "fail", "temperror", "permerror"};
	return (unsigned)r < 5 ? names[r] : "permerror";
}

const char *dmarc_reason(const struct dmarc *d)
{
	return d->reason;
}

void dmarc_free(struct dmarc **d)
{
	if (d != NULL) {
		free(*d);
		*d = NULL;
	}
}

/* the end of a header field starting at i */
static size_t field_end(const char *m, size_t len, size_t i)
{
	for (;;) {
		const char *nl = memchr(m + i, '\n', len - i);
		i = nl != NULL ? (size_t)(nl - m) + 1 : len;
		if (i >= len || (m[i] != ' ' && m[i] != '\t'))
			return i;
	}
}

int dmarc_from_domain(const char *msg, size_t len, char *out, size_t cap)
{
	size_t i = 0, vs = 0, ve = 0;
	int n_from = 0;

	while (i < len && msg[i] != '\n' &&
	       !(msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n')) {
		size_t e = field_end(msg, len, i);
		size_t c = i + 4;
		if (e - i > 4 && strncasecmp(msg + i, "From", 4) == 0) {
			while (c < e && (msg[c] == ' ' || msg[c] == '\t'))
				c++;
			if (c < e && msg[c] == ':') {
				n_from++;
				vs = c + 1;
				ve = e;
			}
		}
		i = e;
	}
	if (n_from != 1)
		return -1;
	/* one address: no ',' outside quotes, comments and <>; the domain
	   after the last '@' (inside <> when there are some) */
	int depth = 0, angles = 0;
	bool quote = false;
	size_t at = 0, lt = 0;
	for (size_t k = vs; k < ve; k++) {
		char c = msg[k];
		if (c == '\\' && (quote || depth > 0)) {
			k++;
			continue;
		}
		if (quote) {
			quote = c != '"';
			continue;
		}
		if (depth > 0) {
			depth += c == '(' ? 1 : c == ')' ? -1 : 0;
			continue;
		}
		if (c == '"')
			quote = true;
		else if (c == '(')
			depth = 1;
		else if (c == ',' || (c == '<' && ++angles > 1))
			return -1;
		else if (c == '<')
			lt = k;
		else if (c == '@' && (lt == 0 || k > lt))
			at = k;
	}
	if (at == 0 || quote || depth > 0)
		return -1;
	size_t d = at + 1, o = 0;
	while (d < ve && (isalnum((unsigned char)msg[d]) || msg[d] == '.' || msg[d] == '-' ||
			  msg[d] == '_')) {
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)tolower((unsigned char)msg[d++]);
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}
