/* SPDX-License-Identifier: MIT */
/*
 * dsn.h - delivery status notifications (RFC 3464, RFC 3461): the report a
 * sender gets when mail to some recipients failed, is delayed, or (with
 * NOTIFY=SUCCESS to a next hop without DSN) was relayed, or (NOTIFY=SUCCESS,
 * RFC 3461 §6.2.1) was delivered into a mailbox here.
 */
#ifndef MAILROOM_QUEUE_DSN_H
#define MAILROOM_QUEUE_DSN_H

#include <stdbool.h>

#include "delivery/delivery.h"
#include "store/store.h"
#include "util/buf.h"

enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_RELAYED, DSN_DELIVERED };

/* Whether a recipient's NOTIFY asks for this kind of report (RFC 3461
   §4.1: without NOTIFY, failures and delays are reported). */
bool dsn_wanted(const char *notify, enum dsn_action a);

/* Writes the whole report message (wire form) for the recipients of m whose
   index is in which[0..n); each one's remote_reply is its diagnostic. */
void dsn_build(struct buf *out, const char *hostname, const struct store_queue_msg *m,
	       const size_t *which, size_t n, enum dsn_action action, const char *report_id);

/* A report ready to be stored in the same transaction as what caused it (a
   delivery attempt): to m->sender through the local delivery path
   (delivery.h delivery_report: into the sender's mailboxes when the sender
   is ours, its forwarding applied, else through the outbound queue), always
   with the null sender (RFC 3461 §6.2). `sub` points into the other fields. */
struct dsn_report {
	struct store_submission sub;
	struct buf body;
	char qid[24]; /* "R" and 16 hex digits */
	struct delivery_out out;
};

/* Builds the report for the recipients which[0..n) of m into *rep; false
   (and *rep untouched) when there is none to make: no recipients, or the
   null sender. Looks the sender up through d in st: blocking, worker
   threads only. The caller frees a made report with dsn_report_clear(). */
bool dsn_report_make(struct store *st, struct delivery *d, const char *hostname,
		     const struct store_queue_msg *m, const size_t *which, size_t n,
		     enum dsn_action action, struct dsn_report *rep);
void dsn_report_clear(struct dsn_report *rep);

#endif
