/* SPDX-License-Identifier: MIT */
/*
 * dns_ub.h - what the two libunbound resolvers share (dns/dns_async.h on
 * the event loop, dns/dns_sync.h on the delivery threads): a context made
 * from struct dns_options, and its results read as struct dns_answer.
 * Internal to dns/.
 */
#ifndef MAILROOM_DNS_DNS_UB_H
#define MAILROOM_DNS_DNS_UB_H

#include <stddef.h>

#include "dns/dns_answer.h"

struct ub_ctx;
struct ub_result;
struct dns_options;

/* A context in threaded asynchronous mode (no forked process: the server
   may have dropped root), asking opt->resolver alone if set (else
   resolv.conf's), validating with opt->trust_anchor if set (read now, so a
   missing file is said at once). With a resolver of its own, the zones
   RFC 6761 and RFC 5737 keep for tests and documentation are asked too
   (libunbound answers them itself otherwise) and are DNSSEC-insecure
   unless the trust anchor names a zone inside them. NULL with a message in
   err (cap octets). */
struct ub_ctx *dns_ub_new(const struct dns_options *opt, char *err, size_t cap);

/* libunbound's result as an answer: a bogus one (validation failed) is no
   answer at all (DNS_RESULT_TEMP, bogus set), as is a server failure. */
void dns_ub_read(const struct ub_result *r, struct dns_answer *a);

#endif
