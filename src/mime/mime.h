/* SPDX-License-Identifier: MIT */
/*
 * mime.h - the minimal MIME reader (header fields, Content-Type parameters,
 * multipart boundaries; RFC 2045, RFC 2046) and what mailroom does with it.
 *
 * mime_downgrade() is the 8-bit to 7-bit conversion of RFC 6152 §3 for a
 * next hop that does not offer 8BITMIME, as Postfix and sendmail do it:
 * every leaf part whose body holds 8-bit bytes and is sent as 7bit or 8bit
 * is re-encoded as quoted-printable; multipart and message/rfc822 entities
 * are walked (to a depth of MIME_MAX_DEPTH) and their own 8bit label
 * becomes 7bit. Parts without 8-bit bytes are copied byte for byte.
 *
 * Some messages cannot be carried in 7 bits without changing what they
 * say, and are refused rather than mangled: 8-bit bytes in header fields
 * (those need SMTPUTF8), in a part labelled binary, base64 or
 * quoted-printable (they cannot hold such bytes), in a multipart preamble
 * or epilogue, in message/global or other message/ types, or deeper than
 * the depth limit.
 *
 * Input is the wire form (CRLF line ends); a lone LF is read as a line end
 * too. Nothing here allocates except the output buffer.
 */
#ifndef MAILROOM_MIME_MIME_H
#define MAILROOM_MIME_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define MIME_MAX_DEPTH 32

enum mime_downgrade {
	MIME_7BIT,	    /* 7-bit already: nothing appended to out */
	MIME_CONVERTED,	    /* the 7-bit form is appended to out */
	MIME_UNCONVERTIBLE, /* see above; out is left as it was */
};

enum mime_downgrade mime_downgrade(const char *msg, size_t len, struct buf *out);

/* The unfolded value of the first header field `name` (case-insensitive)
   in the header that ends at the first empty line of msg, without the
   leading white space, into *value. Returns false when there is none. */
bool mime_header_get(const char *msg, size_t len, const char *name, struct buf *value);

#endif
