/* SPDX-License-Identifier: MIT */
/*
 * dotstuff.h - the streaming byte-stuffing filter for multi-line responses
 * (POP3 RETR/TOP, RFC 1939 §3; SMTP DATA later, RFC 5321 §4.5.2).
 *
 * Feed it a wire-form message (CRLF line ends, store.h S4) in chunks of any
 * size; it appends to `out` the same bytes with an extra '.' before every
 * line that begins with '.'. The state is a few bytes, so a cut at any chunk
 * boundary gives the same output as one call with the whole message.
 *
 * TOP mode (RFC 1939 §7) passes the header lines, the blank line that ends
 * them, then at most `body_lines` lines of the body; dotstuff_feed() returns
 * true once that cut is reached and ignores the rest. A message without a
 * blank line is all header and is sent whole. dotstuff_finish() closes the
 * response with ".\r\n" (adding a line end first if the input lacked one,
 * which a wire-form body never does). No allocation besides `out`.
 */
#ifndef MAILROOM_PROTO_DOTSTUFF_H
#define MAILROOM_PROTO_DOTSTUFF_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

struct dotstuff {
	uint64_t lines_left; /* TOP: body lines still to pass */
	uint8_t phase;	     /* private: headers, body, done */
	uint8_t pos;	     /* private: line start, mid line, CR at header line start */
	bool limited;	     /* TOP mode */
	char last;	     /* last byte appended, '\n' when none yet */
};

/* RETR: the whole message. */
void dotstuff_init(struct dotstuff *ds);
/* TOP: headers, the blank line, then body_lines lines of the body. */
void dotstuff_init_top(struct dotstuff *ds, uint64_t body_lines);
/* Appends the stuffed form of in[0..len) to out; returns true once the TOP
   cut has been reached (further input is ignored). */
bool dotstuff_feed(struct dotstuff *ds, const char *in, size_t len, struct buf *out);
/* Appends the terminating ".\r\n" (RFC 1939 §3). */
void dotstuff_finish(struct dotstuff *ds, struct buf *out);

#endif
