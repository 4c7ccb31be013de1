/* SPDX-License-Identifier: MIT */
/*
 * mig_pop3.h - the pieces of the pop3 import source (mig_pop3.c) that read
 * outside data, open to the unit tests and the fuzz target: the URL, and
 * a POP3 client's reader of server responses (RFC 1939 §3: status lines,
 * multi-line responses with their byte-stuffing undone).
 *
 * The reader pulls bytes through a callback, so the same code reads a TLS
 * connection in the import and a byte string in the tests. Every line has
 * a bound (status lines MIG_POP3_STATUS_MAX, lines of a multi-line
 * response the caller's line_max) and a multi-line response a total bound,
 * so a server can never make the import hold more than it allows.
 */
#ifndef MAILROOM_MIGRATE_MIG_POP3_H
#define MAILROOM_MIGRATE_MIG_POP3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define MIG_POP3_STATUS_MAX 4096 /* RFC 2449 §4 says 512; servers' texts run longer */
#define MIG_POP3_UIDL_MAX 70	 /* RFC 1939 §7 */

struct mig_pop3_url {
	char user[256]; /* percent-decoded */
	char host[256]; /* without the brackets of an IPv6 literal */
	unsigned port;
	bool implicit_tls; /* pop3s: TLS from the first octet; pop3: STLS */
};
/* pop3s://user@host[:port] (995) or pop3://user@host[:port] (110); a
   trailing "/" is allowed, a password in the URL is not. 0, or -1 with err. */
int mig_pop3_url_parse(const char *url, struct mig_pop3_url *u, char *err, size_t err_len);

/* >0: octets read into dst; 0: the peer closed; -1: error or timeout */
typedef ssize_t mig_pop3_read_fn(void *ctx, void *dst, size_t len);

struct mig_pop3_in {
	mig_pop3_read_fn *read;
	void *ctx;
	size_t off, len;
	char buf[16384];
};

enum mig_pop3_status {
	MIG_POP3_OK = 0,    /* +OK (status), or the multi-line response is complete */
	MIG_POP3_ERR = 1,   /* -ERR */
	MIG_POP3_CONT = 2,  /* "+ " : a SASL continuation (RFC 5034 §4) */
	MIG_POP3_EOF = -1,  /* the connection closed mid-response */
	MIG_POP3_IO = -2,   /* read error or timeout */
	MIG_POP3_LONG = -3, /* a line over its bound */
	MIG_POP3_BIG = -4,  /* a multi-line response over its bound */
	MIG_POP3_BAD = -5,  /* a status line that is neither +OK nor -ERR */
};
const char *mig_pop3_status_text(int status);

void mig_pop3_in_init(struct mig_pop3_in *in, mig_pop3_read_fn *read, void *ctx);
/* Reads one status line; text gets what follows "+OK "/"-ERR "/"+ " with
   the line end removed and control octets shown as '?'. */
int mig_pop3_status(struct mig_pop3_in *in, char *text, size_t text_len);
/* Reads the rest of a multi-line response up to its "." line and appends
   it to out with the stuffing dot of every line that starts with '.'
   removed; every other octet stays as the server sent it (CRLF kept). */
int mig_pop3_multiline(struct mig_pop3_in *in, struct buf *out, size_t line_max, size_t max);

/* One line of a UIDL or LIST answer without its line end: "n uidl",
   "n size". False when it is not of that form (a UIDL must be 1-70
   octets of 0x21-0x7E). */
bool mig_pop3_uidl_line(const char *p, size_t len, uint64_t *n_r, char uidl[MIG_POP3_UIDL_MAX + 1]);
bool mig_pop3_list_line(const char *p, size_t len, uint64_t *n_r, uint64_t *size_r);

/* The time of the first Received field's date (RFC 5322 §3.6.7), the
   moment the old server's side took the message; 0 when there is none to
   read. */
int64_t mig_pop3_received(const char *msg, size_t len);

/* The source's ops table (migrate_source_find("pop3")). */
struct migrate_source_ops;
extern const struct migrate_source_ops migrate_pop3_ops;

#endif
