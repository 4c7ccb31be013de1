/* SPDX-License-Identifier: MIT */
/*
 * dsn.h - delivery status notifications (RFC 3464, RFC 3461): the report a
 * sender gets when mail to some recipients failed, is delayed, or (with
 * NOTIFY=SUCCESS to a next hop without DSN) was relayed, or (NOTIFY=SUCCESS,
 * RFC 3461 §6.2.1) was delivered into a mailbox here. This part only
 * writes them; delivery.h (delivery_dsn_make) sends them on the local
 * delivery path.
 */
#ifndef MAILROOM_QUEUE_DSN_H
#define MAILROOM_QUEUE_DSN_H

#include <stdbool.h>

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

#endif
