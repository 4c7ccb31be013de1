/* SPDX-License-Identifier: MIT */
/*
 * imap_utf7.h - modified UTF-7 (RFC 3501 §5.1.3), how IMAP4rev1 clients
 * name mailboxes that are not plain ASCII: "&" starts a run of UTF-16 in
 * base64 with "," for "/", "-" ends it, "&-" is "&". The store keeps UTF-8
 * names (IMAP4rev2 and UTF8=ACCEPT clients see them as they are).
 *
 * Both directions are strict: a name that does not decode (8-bit octets,
 * a bad run, printable ASCII encoded, an unpaired surrogate) is -1, so one
 * store name has one rev1 form and back.
 */
#ifndef MAILROOM_IMAP_IMAP_UTF7_H
#define MAILROOM_IMAP_IMAP_UTF7_H

#include "util/buf.h"

/* UTF-8 to modified UTF-7, appended to out; -1 on malformed UTF-8. */
int imap_utf7_encode(struct slice in, struct buf *out);
/* Modified UTF-7 to UTF-8, appended to out; -1 if it is not valid. */
int imap_utf7_decode(struct slice in, struct buf *out);

#endif
