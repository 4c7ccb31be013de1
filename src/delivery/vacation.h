/* SPDX-License-Identifier: MIT */
/*
 * vacation.h - auto-replies (out of office) by the rules of RFC 3834: whether
 * a message gets one, and the reply itself. Pure functions over the message
 * bytes; whom was answered when (once per sender per interval) is the
 * store's (store.h once_key), decided in the delivery's transaction.
 */
#ifndef MAILROOM_DELIVERY_VACATION_H
#define MAILROOM_DELIVERY_VACATION_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

enum vacation_skip {
	VACATION_SEND = 0,	 /* reply */
	VACATION_NO_SENDER,	 /* the null sender <> or none known (§2) */
	VACATION_AUTO_SUBMITTED, /* Auto-Submitted: anything but "no" (§2, §5) */
	VACATION_PRECEDENCE,	 /* Precedence: bulk, list or junk */
	VACATION_LIST,		 /* a List-Id (or List-* field): list traffic (§2) */
	VACATION_NOT_ADDRESSED,	 /* none of the mailbox's addresses in To/Cc (§2) */
	VACATION_SPECIAL_SENDER, /* MAILER-DAEMON, owner-*, *-request, LISTSERV... (§2) */
	VACATION_SELF,		 /* the sender is the mailbox itself */
};
const char *vacation_skip_name(enum vacation_skip s); /* for logs: "auto-submitted", ... */

/* Whether the message (wire form) from envelope sender `sender` ("" for
   <>, NULL unknown) to a mailbox whose addresses are addrs[0..n) gets an
   auto-reply; with VACATION_SEND, *matched_r is the index of the address
   found in To/Cc (the reply's From; Bcc and Resent-To/Cc/Bcc count too).
   Addresses compare as the store keeps them, case-insensitively, local
   part included, a quoted local part by its content; group syntax,
   comments, quoted strings and folded fields are understood (RFC 5322
   §3.4). */
enum vacation_skip vacation_check(const char *msg, size_t len, const char *sender,
				  const char *const *addrs, size_t n, size_t *matched_r);

/* Appends the reply (wire form) to out: From: <from>, To: <to>, Subject
   (the given one, or "Auto: " and the original's when subject is NULL or
   empty; RFC 2047-encoded when not ASCII), Date, Message-ID at hostname,
   Auto-Submitted: auto-replied (§5), In-Reply-To and References from the
   original's Message-ID and References (§3.1.4), MIME-Version and a
   text/plain; charset=utf-8 body (quoted-printable when it is not ASCII),
   `text` with any line ends made CRLF. */
void vacation_reply_build(struct buf *out, const char *hostname, const char *from, const char *to,
			  const char *subject, const char *text, const char *msg, size_t len);

#endif
