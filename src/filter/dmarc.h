/* SPDX-License-Identifier: MIT */
/*
 * dmarc.h - DMARC policy (RFC 7489) as a machine with no I/O inside
 * (dns/dns_answer.h): it asks for _dmarc.<From domain>, then, without a
 * usable record there, _dmarc.<organisational domain>; dmarc_evaluate()
 * then weighs the SPF and DKIM results given to it.
 *
 * Decisions:
 *  1. A record is "v=DMARC1" as its first tag; tags are name=value pairs
 *     separated by ';'. Unknown tags and np= are ignored; rua=/ruf= are
 *     parsed but no report is ever sent.
 *  2. More than one record at a name: as if there were none (§6.6.3), and
 *     the organisational domain is asked.
 *  3. p= missing or invalid: with a rua= the record is p=none (§6.6.3),
 *     without one the record is not used.
 *  4. Alignment: strict is the same name (any case); relaxed the same
 *     organisational domain, from the Public Suffix List through libpsl
 *     (the list of Debian's publicsuffix package, else libpsl's built-in).
 *  5. pct=: the caller gives a sample 0..99 (dmarc_set_sample, 0 by
 *     default); when it is not below pct the policy is one step lighter
 *     (reject to quarantine, quarantine to none), §6.6.4.
 *  6. A TEMP answer is temperror; no record anywhere is none.
 */
#ifndef MAILROOM_FILTER_DMARC_H
#define MAILROOM_FILTER_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns_answer.h"
#include "filter/spf.h"

enum dmarc_result { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };
enum dmarc_policy { DMARC_POLICY_NONE, DMARC_POLICY_QUARANTINE, DMARC_POLICY_REJECT };

/* a parsed record */
struct dmarc_record {
	enum dmarc_policy p, sp;
	bool strict_dkim, strict_spf;
	unsigned pct;
	bool has_rua;
};
/* 0, or -1 when text is no DMARC record */
int dmarc_record_parse(const char *text, size_t len, struct dmarc_record *r);

struct dmarc;
struct dmarc *dmarc_new(const char *from_domain);
void dmarc_set_sample(struct dmarc *d, unsigned sample);
const struct dns_question *dmarc_next(struct dmarc *d);
void dmarc_answer(struct dmarc *d, const struct dns_answer *a);
/* dkim_results: 1 for a verified signature, 0 otherwise, with its d= */
void dmarc_evaluate(struct dmarc *d, enum spf_result spf, const char *spf_domain,
		    const int *dkim_results, const char *const *dkim_domains, size_t n_dkim);
enum dmarc_result dmarc_result(const struct dmarc *d);
enum dmarc_policy dmarc_policy(const struct dmarc *d);
const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_reason(const struct dmarc *d);
void dmarc_free(struct dmarc **d);

/* The RFC5322.From domain (§6.6.1): exactly one From field with exactly
   one address, else -1. Lower-cased into out. */
int dmarc_from_domain(const char *msg, size_t len, char *out, size_t cap);
/* The organisational domain (§3.2) through libpsl: 0, or -1 */
int dmarc_org_domain(const char *domain, char *out, size_t cap);

#endif
