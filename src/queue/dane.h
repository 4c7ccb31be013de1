/* SPDX-License-Identifier: MIT */
/*
 * dane.h - DANE for SMTP (RFC 7672) on the delivery threads: what the
 * DNSSEC-secure TLSA records of one next hop require of its connection,
 * and how an attempt under them is logged.
 *
 * The queue manager asks only for a host whose MX records (or route) and
 * address records were secure (RFC 7672 §2.2.1, §2.2.2). Then the TLSA
 * RRset of _<port>._tcp.<host> decides:
 *  - no records, or insecure ones: DANE does not apply (the route's TLS);
 *  - a failed look-up (bogus, or no answer): the host is not used
 *    ("4.7.5 DANE: TLSA lookup for ... failed validation");
 *  - secure records of which none is usable (PKIX-TA(0), PKIX-EE(1),
 *    unknown selectors or matching types, wrong digest lengths: RFC 7672
 *    §3.1.3): STARTTLS is mandatory, the certificate is not authenticated
 *    (RFC 7672 §2.2);
 *  - secure usable records (DANE-TA(2), DANE-EE(3)): STARTTLS is mandatory
 *    and the certificate must match one (smtp_client.c start_tls with
 *    OpenSSL's DANE verifier). DANE-EE(3) checks neither names nor dates;
 *    DANE-TA(2) checks the chain's dates and the names RFC 7672 §3.2.2
 *    gives: the MX host name and the recipient domain.
 */
#ifndef MAILROOM_QUEUE_DANE_H
#define MAILROOM_QUEUE_DANE_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns_answer.h"

struct dns_sync;
struct smtp_client_job;

#define DANE_TLSA_MAX 16 /* usable records kept per host */

enum dane_state {
	DANE_OFF,     /* no DANE for this host: the route's TLS */
	DANE_ENCRYPT, /* secure TLSA records, none usable: STARTTLS mandatory */
	DANE_ON,      /* STARTTLS, and a certificate matching tlsa */
	DANE_FAIL,    /* the host is not to be used: why */
};

struct dane_host {
	enum dane_state state;
	struct dns_answer tlsa; /* the usable records (DANE_ON) */
	char why[200];		/* DANE_FAIL: "TLSA lookup for ... failed validation" */
};

/* Appends to out (a DNS_TYPE_TLSA answer) the records of in that DANE
   for SMTP can use (RFC 7672 §3.1.3 and RFC 6698 §2.1): usage 2 or 3,
   selector 0 or 1, matching type 0 (data present), 1 (32 octets) or 2
   (64 octets); at most DANE_TLSA_MAX. Returns how many it took. */
size_t dane_usable(const struct dns_answer *in, struct dns_answer *out);

/* The TLSA look-up of _<port>._tcp.<host> and what it means (above). */
void dane_lookup(struct dns_sync *ds, const char *host, unsigned port, struct dane_host *dh);
void dane_host_clear(struct dane_host *dh);

/* Before an attempt: the job's TLS under dh (domain: the recipient domain,
   a DANE-TA(2) reference name beside the host, or NULL). */
void dane_prepare(const struct dane_host *dh, const char *domain, struct smtp_client_job *j);
/* After an attempt: its log fields in note (" dane=pass dane-usage=3", or
   " dane=fail dane-reason=\"...\""); a TLS failure's reply becomes
   "4.7.5 DANE: ...". Nothing for DANE_OFF. */
void dane_after(const struct dane_host *dh, struct smtp_client_job *j, char *note, size_t len);
/* The log fields of a host not tried (DANE_FAIL, or a failed look-up
   before: why) */
void dane_fail_note(const char *why, char *note, size_t len);

#endif
