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
 * mime_relay_form() does the same where needed and, for every next hop,
 * keeps lines within MIME_LINE_MAX octets (RFC 5321 §4.5.3.1.6): a long
 * header line is folded before white space (RFC 5322 §2.2.3); a leaf part
 * with long lines labelled 7bit or 8bit (or nothing) is re-encoded as
 * quoted-printable; one labelled quoted-printable or base64 gets line
 * breaks that decoding ignores (soft breaks, RFC 2045 §6.7 and §6.8), so
 * every part decodes to what it was. Long lines that cannot be changed
 * that way (a header line without white space, a binary part, a preamble
 * or epilogue, message/partial) make the message unrelayable, and
 * mime_relay_possible() lets SMTP refuse it at DATA instead of bouncing it
 * later.
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
#define MIME_LINE_MAX 998 /* octets per line, CRLF not counted (RFC 5321 §4.5.3.1.6) */

enum mime_downgrade {
	MIME_7BIT,	    /* 7-bit already: nothing appended to out */
	MIME_CONVERTED,	    /* the 7-bit form is appended to out */
	MIME_UNCONVERTIBLE, /* see above; out is left as it was */
};

/* 8-bit content only; lines are left as they are. */
enum mime_downgrade mime_downgrade(const char *msg, size_t len, struct buf *out);

enum mime_relay {
	MIME_RELAY_ASIS,      /* nothing to change: nothing appended to out */
	MIME_RELAY_CONVERTED, /* the form to send is appended to out */
	MIME_RELAY_NO_8BIT,   /* 8-bit content that cannot go in 7 bits; out as it was */
	MIME_RELAY_LONG_LINE, /* a long line that cannot be encoded; out as it was */
};

/* The form of msg (wire form) to send to a next hop: without 8-bit
   octets when seven_bit (no 8BITMIME there), lines within MIME_LINE_MAX. */
enum mime_relay mime_relay_form(const char *msg, size_t len, bool seven_bit, struct buf *out);

/* Whether a message as SMTP DATA received it (bare CR and LF allowed; they
   become line ends in the store) can be sent to a next hop at all as far as
   line length goes. Fast when no line is long. */
bool mime_relay_possible(const char *body, size_t len);

/* The unfolded value of the first header field `name` (case-insensitive)
   in the header that ends at the first empty line of msg, without the
   leading white space, into *value. Returns false when there is none. */
bool mime_header_get(const char *msg, size_t len, const char *name, struct buf *value);

/* Every field of that header in turn, with its name (a slice into msg,
   without the colon) and its value as mime_header_get() gives it:
     struct mime_fields it; mime_fields_begin(&it, msg, len);
     while (mime_fields_next(&it, &name, &value)) ...
   One pass over the header however many fields it has. */
struct mime_fields {
	const char *msg;
	size_t hdr_len, pos;
};
void mime_fields_begin(struct mime_fields *it, const char *msg, size_t len);
bool mime_fields_next(struct mime_fields *it, struct slice *name, struct buf *value);

/* The header of an entity as IMAP servers read it (RFC 5322 §2.2), which
   is not quite how mime_fields_*() read it: the header ends only at the
   first empty line (which belongs to it) or at the end of the input. Every
   other line is a field, or a continuation of the field before when it
   starts with white space; a line without a colon is a field with an
   empty name, as is one whose name is over MIME_HDR_NAME_MAX octets.
     struct mime_hdr_walk w; struct mime_hdr_field f;
     mime_hdr_begin(&w, msg, start, end);
     while (mime_hdr_next(&w, &f) == MIME_HDR_FIELD) ... w.pos ...
   Before each call w.pos is where the next line starts, so a caller can
   stop the header there (at a multipart boundary, say). Nothing is
   allocated; only mime_hdr_value() copies. */
#define MIME_HDR_NAME_MAX 1000 /* RFC 5322 §2.1.1: no line is longer */

struct mime_hdr_walk {
	const char *msg;
	size_t end, pos;
};
struct mime_hdr_field {
	struct slice name; /* without the white space before the colon */
	size_t off, len;   /* the field, its continuation lines and line ends */
	size_t value_off;  /* after the colon, or the line start without one */
};
enum mime_hdr_next {
	MIME_HDR_FIELD, /* *f is the next field; w.pos is after it */
	MIME_HDR_END,	/* the empty line that ends the header; w.pos after it */
	MIME_HDR_EOF,	/* the input ended without an empty line */
};
void mime_hdr_begin(struct mime_hdr_walk *w, const char *msg, size_t start, size_t end);
enum mime_hdr_next mime_hdr_next(struct mime_hdr_walk *w, struct mime_hdr_field *f);
/* The value of f into *value (cleared first) as Dovecot gives it to its
   readers, which is what IMAP's ENVELOPE and BODYSTRUCTURE show: the white
   space after the colon skipped (all of it, or one character when the
   value is nothing else), each continuation line as LF and the line
   itself, the CR before every LF dropped, trailing white space kept, and
   every NUL octet replaced by U+FFFD. Always NUL-terminated. */
void mime_hdr_value(const char *msg, const struct mime_hdr_field *f, struct buf *value);
/* The same with every NUL kept as it is, for values that are lexed. */
void mime_hdr_value_raw(const char *msg, const struct mime_hdr_field *f, struct buf *value);

/* Decoders of the transfer encodings, lenient as readers must be: base64
   (RFC 2045 §6.8) skips octets outside its alphabet, and "=" ends a group so
   that concatenated encodings decode too; quoted-printable (RFC 2045 §6.7),
   or with q header Q (RFC 2047 §4.2, "_" is a space), keeps a "=" that
   starts nothing valid and drops soft line breaks. Both append to out. */
void mime_b64_decode(const char *p, size_t n, struct buf *out);
void mime_qp_decode(const char *p, size_t n, bool q, struct buf *out);

/* Appends p[0..n) as quoted-printable (RFC 2045 §6.7): lines of at most 76
   characters with soft breaks, CRLF or LF kept as CRLF line breaks. */
void mime_qp_encode(const char *p, size_t n, struct buf *out);

#endif
