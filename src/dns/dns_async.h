/* SPDX-License-Identifier: MIT */
/*
 * dns_async.h - DNS look-ups on the event loop, without blocking it:
 * libunbound's asynchronous queries, its file descriptor (ub_fd) watched by
 * the loop, answers delivered as struct dns_answer (dns/dns_answer.h) by a
 * callback on the loop's thread. DNSSEC-validated when a trust anchor is
 * configured; the answer says whether it was secure.
 *
 * One resolver per loop. Every call here is made on the loop's thread.
 */
#ifndef MAILROOM_DNS_DNS_ASYNC_H
#define MAILROOM_DNS_DNS_ASYNC_H

#include "dns/dns_answer.h"

struct loop;
struct dns_async;
struct dns_query;
struct dns_options; /* dns/dns.h */

/* The answer's records belong to the callback: it must dns_answer_free()
   them (or keep them). The query handle is gone once the callback runs. */
typedef void dns_async_cb(const struct dns_question *q, struct dns_answer *a, void *ctx);

/* NULL with a message in err (cap octets) if libunbound cannot be set up
   with opt (a bad resolver address, an unreadable trust anchor). */
struct dns_async *dns_async_new(struct loop *l, const struct dns_options *opt, char *err,
				size_t cap);
/* Cancels what is still pending (no callback runs) and closes. */
void dns_async_free(struct dns_async **da);

/* Starts a query; cb runs later on the loop (never from inside this call),
   at the latest after the resolver's time limit with DNS_RESULT_TEMP.
   Returns NULL if the query cannot be started (cb never runs). */
struct dns_query *dns_async_query(struct dns_async *da, const struct dns_question *q,
				  dns_async_cb *cb, void *ctx);
/* Cancels a pending query: its callback will not run. Sets *q = NULL. */
void dns_async_cancel(struct dns_async *da, struct dns_query **q);

#endif
