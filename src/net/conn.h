/* SPDX-License-Identifier: MIT */
/*
 * conn.h - one client connection: socket, transport (plain or TLS), input
 * and output buffers, idle timer and the deadlines against dripping
 * clients. Sessions (pop3/, smtp/) see only semantic events;
 * want-read/want-write never leave net/ and tls/.
 *
 * Lifetime: the listener creates the conn and hands it to a protocol's
 * start function once it is ready (after the handshake on implicit-TLS
 * ports). The session installs its events with conn_set_events(). `closed`
 * is called exactly once, for every way a connection ends (peer close, error,
 * conn_close() after the flush, conn_abort()); after it returns the conn is
 * freed, so the session must drop its pointer there.
 *
 * Input: bytes read are appended to conn_input(); the session consumes what
 * it parsed with buf_consume(). Reading pauses while the input holds more
 * than the input limit (conn_set_input_max) or while paused by the session.
 * Output: conn_write() appends and flushes as the socket allows; `drained`
 * fires each time the output becomes empty.
 *
 * Time: the idle timeout is restarted by every byte, so alone it lets a
 * client that sends one byte a minute hold a session for ever (slowloris).
 * Totals that bytes do not restart bound that, with limits the server sets
 * for all conns (conn_mgr_set_limits in conn_private.h):
 *   - a unit, one command line: opened by the first byte that arrives while
 *     none is open, closed by the session's conn_unit_done() once it has
 *     consumed a complete line; it must close within the line deadline;
 *   - a phase, a message body (SMTP DATA, one BDAT chunk): from
 *     conn_phase_begin() to conn_phase_end(), no unit meanwhile; it must end
 *     within the phase deadline, and every window of it must bring at least
 *     the minimum number of bytes (the rate floor).
 * A unit whose bytes wait while the session itself is busy (a worker job,
 * output the client has not read yet) may expire too: the session, seeing
 * that, carries on as it does for the idle timeout, and the next byte opens
 * a new unit. Any expiry fires `timeout`; conn_timeout_reason() says which
 * limit it was, and the session record says it (timeout=, limit=) if the
 * session closes.
 * The limits are protocol-neutral: RFC numbers for them live in the config
 * (docs/config.md).
 */
#ifndef MAILROOM_NET_CONN_H
#define MAILROOM_NET_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct conn;
struct loop;

struct conn_events {
	void (*data_in)(struct conn *c, void *ctx);
	void (*drained)(struct conn *c, void *ctx);
	void (*tls_ready)(struct conn *c, void *ctx); /* after conn_starttls() */
	void (*timeout)(struct conn *c, void *ctx);   /* idle; session replies and closes */
	void (*closed)(struct conn *c, void *ctx, const char *reason);
};

void conn_set_events(struct conn *c, const struct conn_events *ev, void *ctx);

struct buf *conn_input(struct conn *c);
void conn_set_input_max(struct conn *c, size_t max);
void conn_pause_input(struct conn *c, bool paused);

void conn_write(struct conn *c, const void *p, size_t n);
void conn_printf(struct conn *c, const char *fmt, ...) ATTR_FORMAT(2, 3);
size_t conn_output_pending(const struct conn *c);
/* Octets the kernel still holds for the peer, sent but not acknowledged or
   not sent yet (SIOCOUTQ); SIZE_MAX if it cannot tell. */
size_t conn_kernel_pending(const struct conn *c);

/* Idle timeout in seconds, restarted by every read; 0 disables. The unit
   and phase totals are not touched. */
void conn_set_idle_timeout(struct conn *c, unsigned secs);

/* The session has consumed one complete unit (a command line) from the
   input: the line deadline stops, and starts again at once if input is
   left over (pipelined lines, or the start of the next one). */
void conn_unit_done(struct conn *c);
/* A phase begins: bytes are a message body now, under the phase deadline
   and the rate floor instead of the line deadline. Both calls may be
   repeated: a second begin keeps the running phase, an end outside a phase
   does nothing. */
void conn_phase_begin(struct conn *c);
void conn_phase_end(struct conn *c);
/* Which limit fired the last `timeout`: "idle", "line_deadline",
   "data_deadline" or "data_rate" ("" before any). */
const char *conn_timeout_reason(const struct conn *c);

/* Server-side STARTTLS/STLS upgrade: discards any input still buffered
   (bytes pipelined after the command are never executed, CVE-2011-0411),
   runs the handshake, then fires tls_ready (or closed on failure). Call it
   after the positive reply has been queued; that reply is flushed in
   plaintext first. Returns -1 if TLS is not configured or already on. */
int conn_starttls(struct conn *c);

/* Flush pending output, then close. */
void conn_close(struct conn *c, const char *reason);
/* Close now, dropping unsent output. */
void conn_abort(struct conn *c, const char *reason);

const char *conn_id(const struct conn *c);	/* 16 hex digits, for logs */
const char *conn_peer_ip(const struct conn *c); /* textual address */
const char *conn_service(const struct conn *c); /* the port's name: "pop3s" */
/* The peer's port and the local address and port the connection came in
   on (getpeername/getsockname; 0 and "" when not known). */
void conn_endpoints(const struct conn *c, unsigned *peer_port, char *local, size_t local_len,
		    unsigned *local_port);
bool conn_is_tls(const struct conn *c);
bool conn_tls_available(const struct conn *c); /* STARTTLS possible */
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or "" */
const char *conn_tls_desc(const struct conn *c);
/* "TLSv1.3", or NULL before (or without) TLS */
const char *conn_tls_version(const struct conn *c);
/* Microseconds since the connection was accepted. */
uint64_t conn_age_usec(const struct conn *c);

/* The session record (util/log.h LOG_EV_SESSION) is written once per
   connection, when it is gone (the server's gone hook). The protocol adds
   what only it knows, in its `closed` event: the user logged in (or NULL),
   the commands run, the message octets it moved (POP3: retrieved, SMTP:
   accepted), and more fields as log_extra_add() text; copied. */
void conn_set_session_info(struct conn *c, const char *user, uint64_t commands, uint64_t bytes,
			   const char *extra);
/* For the gone hook: the user, commands and bytes given, and into buf the extra
   text followed by the limit a clock ended the session with
   ("timeout=idle limit=300s"); returns its length. */
size_t conn_session_extra(const struct conn *c, char *buf, size_t cap, const char **user_r,
			  uint64_t *commands_r, uint64_t *bytes_r);
/* The e-mail address of the client's verified TLS certificate ([tls]
   client_ca), or NULL: no TLS, no certificate, or one that did not verify
   or names no address. Decided once, at the end of the handshake. */
const char *conn_tls_identity(const struct conn *c);
struct loop *conn_loop(const struct conn *c);

#endif
