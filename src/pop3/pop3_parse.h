/* SPDX-License-Identifier: MIT */
/*
 * pop3_parse.h - POP3 command lines (RFC 1939 §3, RFC 2449 §4), parsed
 * without copying: every result is a slice into the caller's buffer.
 *
 * Policy (docs/admin.md repeats it):
 *  - A line ends at LF. CRLF is the standard; a bare LF is accepted as a
 *    line end too (clients typed by hand, nc); the CR before the LF is
 *    stripped. A CR elsewhere is a control character (below).
 *  - A line holding NUL is refused with -ERR (POP3_PARSE_NUL); so is one with
 *    any other control character (0x01-0x1F, 0x7F). Octets >= 0x80 pass, so
 *    UTF-8 user names and passwords work.
 *  - Commands are limited to POP3_LINE_MAX octets including CRLF (RFC 2449
 *    §4). Lines that carry credentials (USER, PASS, APOP, AUTH and AUTH
 *    continuation lines with base64, RFC 5034 §4) may take up to
 *    POP3_LONG_LINE_MAX. The connection's input limit is POP3_LONG_LINE_MAX,
 *    so a client can never make us hold more than that per session.
 *  - The keyword is case-insensitive (RFC 1939 §3); arguments are split at
 *    runs of spaces, so "LIST  1 " is LIST with argument "1". Commands whose
 *    single argument may hold spaces (PASS) use `rest` instead.
 */
#ifndef MAILROOM_POP3_POP3_PARSE_H
#define MAILROOM_POP3_POP3_PARSE_H

#include <stddef.h>

#include "util/buf.h"

#define POP3_LINE_MAX 255 /* RFC 2449 §4: a command line, CRLF included */
/* credential lines and SASL responses: a GSSAPI ticket of an Active
   Directory account with many groups, base64, as RFC 4954 §4 allows SMTP */
#define POP3_LONG_LINE_MAX 12290
#define POP3_VERB_MAX 4 /* RFC 1939 §3: keywords are 3 or 4 characters */
#define POP3_ARGS_MAX 4 /* no command takes more than 2; the rest is an error */

enum pop3_parse_status {
	POP3_PARSE_OK,
	POP3_PARSE_EMPTY, /* an empty line */
	POP3_PARSE_NUL,	  /* a NUL octet in the line */
	POP3_PARSE_CTL,	  /* another control character in the line */
};

struct pop3_command {
	struct slice verb;		  /* 1..n octets; not checked against a table */
	struct slice rest;		  /* everything after the first space */
	struct slice args[POP3_ARGS_MAX]; /* rest split at spaces */
	size_t argc;			  /* > POP3_ARGS_MAX means "too many" */
};

/* Finds the first line in p[0..len). Returns 1 with the line (without its
   line end) in *line_r and the octets to consume, line end included, in
   *used_r; 0 when more input is needed; -1 when the line is longer than
   `max` octets including its line end (no LF within the first max octets). */
int pop3_parse_line(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r);

/* Checks a line's characters (NUL and control characters). */
enum pop3_parse_status pop3_parse_check(struct slice line);

/* Checks the line, then splits it into keyword and arguments. */
enum pop3_parse_status pop3_parse_command(struct slice line, struct pop3_command *cmd_r);

#endif
