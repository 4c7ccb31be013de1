/* SPDX-License-Identifier: MIT */
/*
 * smtp_reply.h - the reader of a next hop's replies (RFC 5321 §4.2) for
 * the delivery client, and the EHLO keyword reader (RFC 5321 §4.1.1.1).
 *
 * A byte machine: feed it whatever the socket delivered, in pieces of any
 * size; it stops after each complete line and says whether the reply goes
 * on. The result never depends on how the input was cut. It is strict,
 * since a next hop that breaks the grammar cannot be trusted to have meant
 * what it seems to say:
 *  - every line starts with a reply code: three digits, the first 2-5, the
 *    second 0-5 (RFC 5321 §4.2 Reply-code);
 *  - then "-" (more lines follow), a space and text, or the line end (the
 *    last line);
 *  - every line of one reply carries the same code (RFC 5321 §4.2.1);
 *  - a line holds at most SMTP_REPLY_LINE_MAX octets and a reply at most
 *    SMTP_REPLY_LINES_MAX lines (RFC 5321 §4.5.3.1.5 says 512 octets; we
 *    allow more, as deployed servers exceed it, but never without bound);
 *  - a line ends at LF, with an optional CR before it; NUL, any other CR
 *    and control characters other than HT are malformed. Octets >= 0x80
 *    are kept (RFC 6531 servers answer in UTF-8).
 * A malformed reply stops the machine; the caller treats it as a temporary
 * failure and drops the connection, which can no longer be kept in step.
 * No allocation: the state holds the current line.
 */
#ifndef MAILROOM_QUEUE_SMTP_REPLY_H
#define MAILROOM_QUEUE_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_MAX 2048 /* octets before the line end; see above */
#define SMTP_REPLY_LINES_MAX 128

enum smtp_reply_status {
	SMTP_REPLY_BAD = -1, /* malformed: r->error says how; feed no more */
	SMTP_REPLY_MORE = 0, /* every octet consumed, the line is not complete */
	SMTP_REPLY_LINE = 1, /* a continuation line is complete */
	SMTP_REPLY_DONE = 2, /* the last line is complete: the reply is whole */
};

enum smtp_reply_error {
	SMTP_REPLY_OK,
	SMTP_REPLY_ERR_CODE,	  /* not a reply code */
	SMTP_REPLY_ERR_SEPARATOR, /* neither "-", space nor line end after it */
	SMTP_REPLY_ERR_MIXED,	  /* a line with another code than the first */
	SMTP_REPLY_ERR_CONTROL,	  /* NUL, stray CR or another control octet */
	SMTP_REPLY_ERR_LONG_LINE,
	SMTP_REPLY_ERR_TOO_MANY_LINES,
};

struct smtp_reply {
	int code;	/* the reply code once the first line has it, else 0 */
	unsigned lines; /* complete lines so far */
	enum smtp_reply_error error;
	/* the text of the line just completed (after the code and separator),
	   NUL-terminated; valid after LINE or DONE until the next feed */
	char text[SMTP_REPLY_LINE_MAX + 1];
	size_t text_len;
	/* private */
	size_t pos;    /* octets of the current line seen */
	int line_code; /* the current line's code so far */
	bool last;     /* the current line is the last one */
	bool cr;       /* the previous octet was CR */
	bool done;     /* DONE or BAD was returned */
};

void smtp_reply_init(struct smtp_reply *r);
/* Consumes in[0..len) up to the end of the next line; *used_r says how
   many octets. After DONE, smtp_reply_init() starts the next reply. */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *r, const char *in, size_t len,
				       size_t *used_r);
/* A short English phrase for r->error, for logs and reports. */
const char *smtp_reply_error_text(enum smtp_reply_error e);

/* What a next hop offers in its EHLO reply (RFC 5321 §4.1.1.1). */
struct smtp_ehlo {
	bool pipelining, starttls, size, eightbit, smtputf8, dsn, auth_plain;
	uint64_t size_max; /* SIZE's parameter, 0 when none (RFC 1870 §4) */
};

/* Reads one line of the EHLO reply after the first (ehlo-keyword
   *(SP ehlo-param)); keywords are matched whole and case-insensitively.
   "AUTH=PLAIN ..." (the pre-RFC 4954 form) counts as AUTH. */
void smtp_ehlo_line(struct smtp_ehlo *e, const char *text, size_t len);

#endif
