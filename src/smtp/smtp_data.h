/* SPDX-License-Identifier: MIT */
/*
 * smtp_data.h - the DATA reader (RFC 5321 §4.1.1.4, §4.5.2): finds the end
 * of the message, removes dot-stuffing, enforces the size limit and counts
 * Received: headers, incrementally over whatever the socket delivered.
 *
 * Policy (docs/admin.md repeats it), against SMTP smuggling:
 *  - The message ends only at CR LF "." CR LF. A bare LF or bare CR never
 *    ends a line for this purpose, so "\n.\n", "\r.\r" or "\n.\r\n" are
 *    message content, not an end of data.
 *  - A "." at the start of a line (after CR LF) is removed; nowhere else.
 *  - Bare CR and bare LF are kept as content here; the message is stored in
 *    wire form (store_to_wire: each becomes CR LF), so no later reader can
 *    mistake them for the SMTP terminator either.
 *  - Over the size limit the reader keeps reading to the terminator (so the
 *    session stays in sync) but stops storing; the caller then refuses.
 */
#ifndef MAILROOM_SMTP_SMTP_DATA_H
#define MAILROOM_SMTP_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct smtp_data {
	struct buf *out;   /* unstuffed message octets */
	uint64_t max;	   /* size limit (0 = none) */
	uint64_t size;	   /* unstuffed octets seen, also past the limit */
	unsigned received; /* "Received:" header fields in the header section */
	bool in_headers;
	bool too_big;
	bool bare_lf_cr; /* a bare LF or CR was seen */
	bool raw;	 /* BDAT chunks: no dot-unstuffing, no terminator */
	uint8_t state;
	uint8_t prefix_len; /* octets of the current line kept in prefix */
	char prefix[9];	    /* "received:" check */
};

void smtp_data_init(struct smtp_data *d, struct buf *out, uint64_t max);
/* Feeds p[0..len). Returns true when the terminator was found; *used_r then
   counts the octets consumed, terminator included (the rest belongs to the
   next command). Returns false when all of p was consumed and more is
   needed. */
bool smtp_data_feed(struct smtp_data *d, const char *p, size_t len, size_t *used_r);

/* BDAT (RFC 3030): the chunk's octets are message content as they are;
   only the size limit and the Received: count apply. */
void smtp_data_feed_raw(struct smtp_data *d, const char *p, size_t len);
/* After the LAST chunk: a CR left at its very end is content too. */
void smtp_data_raw_end(struct smtp_data *d);

#endif
