/* SPDX-License-Identifier: MIT */
/*
 * dns_sync.h - the delivery threads' resolver: blocking look-ups on
 * libunbound, DNSSEC-validating with the configured trust anchor, each
 * answer saying whether it was secure (dns/dns_answer.h). The queue's MX,
 * address and TLSA look-ups (DANE, queue/dane.h) go through it; `mailroom
 * check --dns` keeps dns/dns.h.
 *
 * A resolver belongs to one thread (each delivery agent makes its own):
 * a look-up waits on the context's descriptor with poll() for at most the
 * time limit of struct dns_options, then gives up with DNS_RESULT_TEMP.
 * Never on the network thread (dns/dns_async.h is the loop's).
 */
#ifndef MAILROOM_DNS_DNS_SYNC_H
#define MAILROOM_DNS_DNS_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "dns/dns.h"
#include "dns/dns_answer.h"

struct dns_sync;

/* NULL with a message in err (cap octets): a bad resolver address, an
   unreadable trust anchor. */
struct dns_sync *dns_sync_new(const struct dns_options *opt, char *err, size_t cap);
void dns_sync_free(struct dns_sync **ds);

/* One question; a is initialised here and owns its records. */
void dns_sync_query(struct dns_sync *ds, const struct dns_question *q, struct dns_answer *a);

/* What dns_mx() and dns_addrs() give (dns/dns.h), with the DNSSEC status
   of the answers behind it: *secure_r when every RRset (or denial) used
   was secure; *bogus_r when one failed validation (then DNS_TEMP). */
struct dns_sec {
	bool secure, bogus;
};
enum dns_status dns_sync_mx(struct dns_sync *ds, const char *domain, struct mx_host *out,
			    size_t max, size_t *n_r, struct dns_sec *sec_r);
/* IPv6 ones first, then IPv4; a literal is itself (and not secure). */
enum dns_status dns_sync_addrs(struct dns_sync *ds, const char *host, struct dns_addr *out,
			       size_t max, size_t *n_r, struct dns_sec *sec_r);

/* The start-up check of the resolver (blocking, at most timeout seconds):
   whether the trust anchor of opt fails the root's own keys, which is what a
   resolver that passes no DNSSEC records (RRSIG, DNSKEY, DS) does to every
   answer: they would all be bogus, and so no answer at all. Then
   dns_validation_off() makes every resolver made after it non-validating
   (nothing is secure, DANE never applies): mail still flows. False when the
   root's keys validate, are not covered by the anchor, or cannot be had
   now (a resolver that is down says nothing about DNSSEC). */
bool dns_sync_dnssec_broken(const struct dns_options *opt, unsigned timeout);
void dns_validation_off(void);

#endif
