/* SPDX-License-Identifier: MIT */
/*
 * mime_address.h - RFC 5322 §3.4 address lists (From, To, Cc, ...) read
 * the lenient way IMAP servers read them for ENVELOPE (RFC 9051 §7.5.2):
 * obsolete syntax (route-addr, dots in odd places, a display name with no
 * angle brackets) accepted, groups given as their start and end, and what
 * cannot be read replaced by placeholders, as Dovecot does, so that every
 * address has a mailbox and a domain:
 *   MISSING_MAILBOX, MISSING_DOMAIN    a part that is not there
 *   SYNTAX_ERROR (domain)              "name <broken>"
 *   INVALID_ROUTE (route)              "<@a,@b broken>"
 * Encoded-words (RFC 2047) are left as they are. A comment after an
 * addr-spec ("u@example.org (Name)") becomes the display name.
 *
 * The value is one header field's value as mime_hdr_value_raw() gives it:
 * a NUL octet in it ends a word (in quoted strings and comments it reads
 * as U+FFFD), as in Dovecot; the strings handed out hold no NUL. Nothing
 * is kept after the call returns: each address is handed to the callback
 * with strings valid during that call.
 */
#ifndef MAILROOM_MIME_MIME_ADDRESS_H
#define MAILROOM_MIME_MIME_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

enum mime_addr_kind {
	MIME_ADDR_MAILBOX,     /* mailbox and domain set; name and route may be */
	MIME_ADDR_GROUP_START, /* mailbox is the group's display name */
	MIME_ADDR_GROUP_END,   /* nothing is set */
};

struct mime_address {
	enum mime_addr_kind kind;
	const char *name, *route, *mailbox, *domain; /* NULL when absent */
	bool invalid;				     /* the syntax was not RFC 5322's */
};

typedef void mime_address_fn(void *ctx, const struct mime_address *a);

/* Every address of the list in s[0..n), in order. */
void mime_address_parse(const char *s, size_t n, mime_address_fn *fn, void *ctx);

#endif
