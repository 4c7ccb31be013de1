/* SPDX-License-Identifier: MIT */
/*
 * spf.h - Sender Policy Framework, RFC 7208 check_host(), as a step machine
 * with no I/O inside (dns/dns_answer.h is the contract):
 *
 *   struct spf *s = spf_new(AF_INET, ip, "user@example.com", "mx.example.com");
 *   const struct dns_question *q;
 *   while ((q = spf_next(s)) != NULL) {
 *           struct dns_answer a = ...ask q...;
 *           spf_answer(s, &a);
 *           dns_answer_free(&a);
 *   }
 *   spf_result(s), spf_domain(s), spf_reason(s); spf_free(&s);
 *
 * At most one question is outstanding: spf_next() without an answer in
 * between returns the same question again. The answer is read, never kept.
 *
 * What it does, and the decisions where RFC 7208 leaves room:
 *  1. Record selection (§4.5): the TXT records that begin with "v=spf1"
 *     (any case) followed by a space or their end; none: "none"; more than
 *     one: "permerror". NXDOMAIN: "none"; a TEMP answer: "temperror".
 *  2. The whole record is parsed before anything in it is evaluated (§4.6):
 *     a syntax error anywhere is "permerror" (unknown mechanisms, bad CIDR
 *     lengths or leading zeros, bad macros, a domain-spec without a valid
 *     end, redirect= or exp= twice). Unknown modifiers are ignored.
 *  3. Mechanisms all, include, a, mx, ptr, ip4, ip6, exists with the
 *     qualifiers + - ~ ?; modifier redirect= (applied when nothing matched;
 *     a target without a record is "permerror"); exp= is parsed, never
 *     fetched (the explanation is not used in our replies).
 *  4. Limits (§4.6.4): include, a, mx, ptr, exists and redirect together at
 *     most SPF_MAX_LOOKUPS (10), else "permerror"; at most SPF_MAX_VOID (2)
 *     lookups answered NXDOMAIN or with no records, else "permerror"; more
 *     than 10 MX records: "permerror"; only the first 10 PTR names are used.
 *  5. include of a domain whose result is none: "permerror"; temperror and
 *     permerror of an include or redirect are the result.
 *  6. Macros (§7): s l o d i p h v, the transformers (digits, r) and the
 *     delimiters; upper-case letters URL-escape. %{p} expands to "unknown"
 *     (no PTR look-up for a macro, as §7.3 allows); c r t are only valid in
 *     exp= (never expanded here) and a syntax error elsewhere. An expansion
 *     longer than 253 octets loses labels on the left (§7.3); one that is
 *     still no domain name (an empty label, a label over 63 octets) makes
 *     a, mx, ptr, exists not match and include, redirect "permerror".
 *  7. The sender domain is checked first (§4.3): a label over 63 octets, an
 *     empty label, more than 253 octets or a single label: "none".
 *  8. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as IPv4.
 *  9. The null sender is postmaster@<helo> (§2.4); a sender without '@' is
 *     postmaster@<sender>.
 */
#ifndef MAILROOM_FILTER_SPF_H
#define MAILROOM_FILTER_SPF_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns_answer.h"

#define SPF_MAX_LOOKUPS 10 /* DNS-querying terms per check (§4.6.4) */
#define SPF_MAX_VOID 2	   /* void lookups per check (§4.6.4) */
#define SPF_MAX_NAMES 10   /* MX or PTR names per mechanism */
#define SPF_REASON_MAX 192

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR
};

/* "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"
   (the RFC 8601 result names) */
const char *spf_result_name(enum spf_result r);

struct spf;
/* check_host() for ip (4 or 16 octets after family AF_INET / AF_INET6),
   the MAIL FROM address ("" for the null sender) and the HELO name.
   Never NULL. */
struct spf *spf_new(int family, const void *ip, const char *mail_from, const char *helo);
/* check_host() for the HELO identity (§2.3): the domain is the HELO name,
   the sender postmaster@<helo>. */
struct spf *spf_new_helo(int family, const void *ip, const char *helo);
/* The next question, or NULL when the result is known. */
const struct dns_question *spf_next(struct spf *s);
/* The answer to the last question spf_next() returned; ignored if none is
   outstanding or its type differs. */
void spf_answer(struct spf *s, const struct dns_answer *a);
enum spf_result spf_result(const struct spf *s);
/* The domain checked: the MAIL FROM domain, or the HELO name */
const char *spf_domain(const struct spf *s);
/* A short text: "mechanism ip4:192.0.2.0/24 matched", "too many DNS lookups" */
const char *spf_reason(const struct spf *s);
/* DNS questions asked so far (counting each MX and PTR host) */
unsigned spf_queries(const struct spf *s);
void spf_free(struct spf **s);

/* The record parser alone (a record's text after selection, "v=spf1 ..."):
   0 if it is valid, else -1 with a reason in why. */
int spf_record_check(const char *text, size_t len, char *why, size_t cap);

#endif
