/* SPDX-License-Identifier: MIT */
/*
 * smtp_parse.h - SMTP command lines, paths and ESMTP parameters (RFC 5321
 * §4.1, RFC 1869/5321 §4.1.2 parameters, RFC 6531 SMTPUTF8), parsed without
 * copying except for the normalised address.
 *
 * Policy (docs/admin.md repeats it):
 *  - Command lines end at LF (CRLF is the standard; a bare LF is taken as a
 *    line end in commands, as Postfix does). Only DATA content is strict:
 *    see smtp_data.h.
 *  - A command line may hold SMTP_LINE_MAX octets (RFC 5321 §4.5.3.1.4 sets
 *    512 and lets extensions add more; ESMTP parameters need it); AUTH lines
 *    SMTP_AUTH_LINE_MAX (RFC 4954 §4: 12288).
 *  - NUL and other control characters in a command are refused.
 *  - Paths: "<>" (the null sender, MAIL only), "<mailbox>", and source
 *    routes "<@a,@b:mailbox>", whose route is dropped (RFC 5321 §4.1.1.3
 *    "SHOULD ignore"); relay decisions judge only the mailbox. Without angle
 *    brackets a path is refused (RFC 5321 §4.1.2), as is a local part above
 *    64 octets, a domain above 255 or a path above 256 (§4.5.3.1).
 *  - The local part is a dot-string or a quoted-string; the domain is a
 *    dot-separated host name (no empty labels, so no trailing dot) or an
 *    address literal "[192.0.2.1]" / "[IPv6:...]". Octets >= 0x80 are allowed
 *    only when the client asked for SMTPUTF8.
 *  - The result records the tricks that relay checks care about: a quoted
 *    local part, '%', '!' or '@' inside the local part, a source route, an
 *    address literal.
 */
#ifndef MAILROOM_SMTP_SMTP_PARSE_H
#define MAILROOM_SMTP_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define SMTP_LINE_MAX 2048
#define SMTP_AUTH_LINE_MAX 12288
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256
#define SMTP_PARAMS_MAX 8

enum smtp_parse_status {
	SMTP_PARSE_OK,
	SMTP_PARSE_EMPTY, /* nothing, or no keyword (leading space) */
	SMTP_PARSE_CTL,	  /* NUL or another control character */
};

struct smtp_command {
	struct slice verb; /* the keyword, case as sent */
	struct slice rest; /* after the first space, spaces kept */
};

/* Same contract as pop3_parse_line(): 1 with a line, 0 for more input, -1
   when no LF comes within max octets. */
int smtp_parse_line(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r);
enum smtp_parse_status smtp_parse_command(struct slice line, struct smtp_command *cmd_r);

enum smtp_path_flags {
	SMTP_PATH_NULL = 1 << 0,       /* "<>" */
	SMTP_PATH_ROUTE = 1 << 1,      /* a source route was given (and dropped) */
	SMTP_PATH_QUOTED = 1 << 2,     /* quoted-string local part */
	SMTP_PATH_ROUTING = 1 << 3,    /* '%', '!' or '@' in the local part */
	SMTP_PATH_LITERAL = 1 << 4,    /* address-literal domain */
	SMTP_PATH_UTF8 = 1 << 5,       /* octets >= 0x80 */
	SMTP_PATH_POSTMASTER = 1 << 6, /* bare <Postmaster> (RFC 5321 §4.5.1) */
};

struct smtp_param {
	struct slice key;   /* esmtp-keyword */
	struct slice value; /* empty when the parameter has no "=" */
	bool has_value;
};

struct smtp_path {
	/* "local@domain": the local part as sent (quotes removed, escapes
	   resolved), the domain lower-cased; "" for the null path; "postmaster"
	   for bare <Postmaster>. NUL-terminated. */
	char address[SMTP_PATH_MAX + 1];
	size_t local_len; /* octets of the local part in `address` */
	unsigned flags;
	struct smtp_param params[SMTP_PARAMS_MAX];
	size_t n_params;
};

enum smtp_path_error {
	SMTP_PATH_OK = 0,
	SMTP_PATH_ESYNTAX,  /* 501 5.1.3/5.5.4 bad address syntax */
	SMTP_PATH_ETOOLONG, /* 501 5.1.3 path/local/domain over the limits */
	SMTP_PATH_E8BIT,    /* 553 5.6.7 non-ASCII without SMTPUTF8 */
	SMTP_PATH_EPARAM,   /* 501 5.5.4 malformed or too many parameters */
};

/* Parses the argument of "MAIL FROM:" / "RCPT TO:" after the colon: an
   optional space (tolerated), the path, then parameters separated by
   spaces. */
enum smtp_path_error smtp_parse_path(struct slice arg, bool allow_null, bool utf8,
				     struct smtp_path *path_r);

/* "FROM:" / "TO:" prefix check (case-insensitive); returns the rest. */
bool smtp_parse_prefix(struct slice rest, const char *prefix, struct slice *after_r);

/* Strict unsigned decimal (SIZE=); false on junk or overflow. */
bool smtp_parse_number(struct slice s, uint64_t *v_r);

/* RFC 3461 xtext (ENVID, ORCPT): "+XX" hex escapes of printable ASCII. */
bool smtp_xtext_valid(struct slice s);

#endif
