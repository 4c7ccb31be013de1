/* SPDX-License-Identifier: MIT */
/*
 * imap_write.h - strings in IMAP responses (RFC 9051 §4.3, RFC 3501 §4.3):
 * NIL, atoms, quoted strings and literals, appended to a struct buf.
 *
 * The choice between quoted and literal is the one Dovecot makes, so that
 * our FETCH answers are byte for byte those of the server we are compared
 * with (docs/imap.md): a string is quoted ("..." with \ and " escaped)
 * unless it holds CR, LF, NUL or an 8-bit octet, more than
 * IMAP_QUOTED_MAX_ESCAPES quoted-specials (a literal is shorter then), or
 * more than IMAP_QUOTED_MAX octets (long lines trouble clients; literals
 * do not); otherwise it is a literal, {n} CRLF and the octets. An IMAP
 * string may not hold NUL (CHAR8 is %x01-ff): a NUL is written as U+FFFD.
 *
 * Every function takes a pointer and a length (the _str forms a C string)
 * and appends; a NULL string is NIL where the grammar allows it (nstring)
 * and the empty string "" where it does not.
 */
#ifndef MAILROOM_IMAP_IMAP_WRITE_H
#define MAILROOM_IMAP_IMAP_WRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define IMAP_QUOTED_MAX_ESCAPES 4
#define IMAP_QUOTED_MAX 8192

/* {n} CRLF octets, whatever they are (NUL as U+FFFD). */
void imap_write_literal(struct buf *out, const char *s, size_t n);
/* string: quoted or literal by the rules above. */
void imap_write_string(struct buf *out, const char *s, size_t n);
/* nstring: NIL for NULL, else a string. */
void imap_write_nstring(struct buf *out, const char *s, size_t n);
void imap_write_nstr(struct buf *out, const char *s); /* C string or NULL */
/* astring: an atom when it is one (ASTRING-CHARs, not empty, not "NIL"
   in any case, which a client would read as NIL), else a string. */
void imap_write_astring(struct buf *out, const char *s, size_t n);
/* An unfolded header value as an nstring: every CR and LF removed, with a
   space put in where the next line did not start with white space. */
void imap_write_nstr_nolf(struct buf *out, const char *s);
/* Text for people (a subject, a display name) as a string: runs of white
   space (SP, TAB, CR, LF) become one space, none at either end. */
void imap_write_text(struct buf *out, const char *s, size_t n);

/* Whether c may appear in an atom (ATOM-CHAR). */
bool imap_is_atom_char(unsigned char c);

#endif
