/* SPDX-License-Identifier: MIT */
/*
 * conn_private.h - what the server (and tests) need of net/conn beyond the
 * session-facing conn.h. Sessions never include this.
 *
 * A struct conn_mgr is the per-loop home of connections: it holds the TLS
 * context, the list of every live conn (for shutdown), and the pending list
 * that its before-sleep hook works through (output to flush, closes to
 * finish, TLS plaintext left inside OpenSSL, inputs that filled up and may
 * have been consumed since). Loop thread only.
 *
 * Lifetime: the mgr outlives its conns; conn_mgr_free() aborts the ones
 * left (each still gets `closed`, then the gone hook).
 */
#ifndef MAILROOM_NET_CONN_PRIVATE_H
#define MAILROOM_NET_CONN_PRIVATE_H

#include <stdbool.h>
#include <sys/socket.h>

#include "net/conn.h"

#define CONN_HANDSHAKE_SECS 30 /* default: implicit TLS and STARTTLS alike */
#define CONN_LINGER_SECS 30    /* default: conn_close() waiting for output to drain */

struct conn_mgr;
struct tls_ctx;

/* Runs once per conn, after `closed`, just before the conn is freed. */
typedef void conn_gone_fn(struct conn *c, const char *reason, void *ctx);

/* tls may be NULL: no STARTTLS, no implicit TLS. */
struct conn_mgr *conn_mgr_new(struct loop *l, struct tls_ctx *tls);
void conn_mgr_free(struct conn_mgr **m);
void conn_mgr_set_gone(struct conn_mgr *m, conn_gone_fn *gone, void *ctx);
unsigned conn_mgr_count(const struct conn_mgr *m);
/* Limits used from now on (0 = default): the TLS handshake (from the start of
   the STARTTLS flush or of the implicit handshake), and the wait of
   conn_close() for output to drain (restarted by each write progress). */
void conn_mgr_set_timeouts(struct conn_mgr *m, unsigned handshake_secs, unsigned linger_secs);
/* The totals against dripping clients (conn.h), used from now on; 0 turns
   each off, and all are off until this is called. */
struct conn_limits {
	unsigned line_secs;  /* a unit: from its first byte until consumed */
	unsigned phase_secs; /* a phase: conn_phase_begin() to conn_phase_end() */
	unsigned rate_bytes; /* a phase brings at least this many bytes ... */
	unsigned rate_secs;  /* ... in every window of this many seconds */
};
void conn_mgr_set_limits(struct conn_mgr *m, const struct conn_limits *lim);
/* conn_abort() on every conn still in a TLS handshake (they have no
   session to say goodbye), or on every conn. */
void conn_mgr_abort_handshakes(struct conn_mgr *m, const char *reason);
void conn_mgr_abort_all(struct conn_mgr *m, const char *reason);

/* Takes ownership of the connected socket fd (made non-blocking here).
   peer may be NULL (socketpair in tests). Returns NULL, with fd closed, if
   the loop refuses the fd. The conn reads at once and buffers input until
   a session sets its events. service names the port in records ("pop3s");
   alpn is the only ALPN id its TLS accepts (RFC 9325 §3.8). Both are kept
   as given: static strings (proto/service.h tables). */
struct conn *conn_new(struct conn_mgr *m, int fd, const struct sockaddr *peer, const char *service,
		      const char *alpn);
/* Implicit TLS (pop3s, submissions): handshake within the handshake limit,
   then the current events' tls_ready; on failure, closed. Returns -1 if no
   TLS context is configured. */
int conn_tls_accept(struct conn *c);
bool conn_tls_handshaking(const struct conn *c);
/* Bytes the conn holds itself (struct and buffers, not OpenSSL's), for
   the idle-memory tests. */
size_t conn_footprint(const struct conn *c);
/* ALPN protocol the client chose ("" if none or no TLS). */
void conn_tls_alpn(const struct conn *c, char *out, size_t len);

#endif
