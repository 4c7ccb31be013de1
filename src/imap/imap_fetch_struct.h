/* SPDX-License-Identifier: MIT */
/*
 * imap_fetch_struct.h - the FETCH items that describe a message's
 * structure (RFC 9051 §7.5.2, RFC 3501 §7.4.2): ENVELOPE, BODY and
 * BODYSTRUCTURE, rendered from a MIME tree (mime/mime_tree.h) alone; the
 * message itself is not needed, so a store that caches the serialised
 * tree answers these without reading mail.
 *
 * Each function appends the item's value, parentheses included, as it
 * follows the item name in a FETCH response ("ENVELOPE " + value). The
 * output is what Dovecot sends for the same message, byte for byte
 * (docs/imap.md, "ENVELOPE and BODYSTRUCTURE"): quoted strings unless a
 * literal is needed (imap/imap_write.h), types and subtypes as the message
 * writes them, charset "us-ascii" added to text parts that lack one,
 * parameters RFC 2231-merged but not decoded, addresses that cannot be
 * read given placeholders (mime/mime_address.h), encoded-words left
 * encoded. Literals make the output span lines; the caller sends it as
 * it is.
 */
#ifndef MAILROOM_IMAP_IMAP_FETCH_STRUCT_H
#define MAILROOM_IMAP_IMAP_FETCH_STRUCT_H

#include "mime/mime_tree.h"
#include "util/buf.h"

enum imap_struct_flags {
	/* IMAP4rev2 (RFC 9051 §7.5.2): message/global is shown like
	   message/rfc822, with the envelope, structure and line count of the
	   message in it. Without it (IMAP4rev1) it is a basic part. */
	IMAP_STRUCT_REV2 = 1 << 0,
};

/* ENVELOPE of a message part (the root, or the child of a message/rfc822
   part): "(date subject from sender reply-to to cc bcc in-reply-to
   message-id)"; sender and reply-to default to from (RFC 9051 §7.5.2). */
void imap_envelope_write(const struct mime_part *message, struct buf *out);

/* BODY (no extension data) and BODYSTRUCTURE (with MD5, disposition,
   language and location) of the whole message. */
void imap_body_write(const struct mime_tree *t, unsigned flags, struct buf *out);
void imap_bodystructure_write(const struct mime_tree *t, unsigned flags, struct buf *out);

#endif
