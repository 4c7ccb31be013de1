/* SPDX-License-Identifier: MIT */
/*
 * dial.h - a client connection for code that may block (the delivery
 * agents' threads, CLI verbs such as `check`), never for the network
 * thread. The socket is non-blocking underneath and every wait is a
 * poll() against the deadline of the operation in progress: a total, not
 * a time per recv, so a peer that drips octets cannot stretch it. Plain or
 * TLS: once dial_handshake() has succeeded, reads and writes go through
 * the SSL object, and OpenSSL's want-read/want-write never leave this file.
 *
 * The caller owns the SSL_CTX and prepares the SSL (verification, SNI,
 * host name); dial_close() frees the SSL and closes the socket.
 */
#ifndef MAILROOM_NET_DIAL_H
#define MAILROOM_NET_DIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct ssl_st;

enum dial_io {
	DIAL_OK,
	DIAL_LOST,    /* closed by the peer, reset, or a TLS failure */
	DIAL_TIMEOUT, /* the deadline passed */
};

struct dial {
	int fd;		    /* -1 when not connected */
	struct ssl_st *ssl; /* after dial_handshake(), else NULL */
	int64_t deadline;   /* CLOCK_MONOTONIC ms */
	unsigned secs;	    /* the deadline's length, for messages */
	enum dial_io io;    /* why the last operation failed */
};

int64_t dial_now_ms(void);
void dial_init(struct dial *d);
/* The operations from now on must finish within secs. */
void dial_deadline(struct dial *d, unsigned secs);
/* Connects to sa before the deadline: 0, or an errno value (ETIMEDOUT
   when the deadline passed). */
int dial_connect(struct dial *d, const struct sockaddr *sa, socklen_t len);
/* >0: octets read; 0: the peer closed (d->io is DIAL_LOST); -1: d->io. */
ssize_t dial_read(struct dial *d, void *p, size_t n);
/* All of p before the deadline, or false (d->io). */
bool dial_write(struct dial *d, const void *p, size_t n);
/* The TLS client handshake of ssl over d->fd before the deadline. True:
   d->ssl is ssl from now on (dial_close() frees it). False: d->io says
   why (DIAL_LOST for a handshake the peer or OpenSSL refused;
   ERR_peek_error() and SSL_get_verify_result() have more), and ssl is
   still the caller's to free. */
bool dial_handshake(struct dial *d, struct ssl_st *ssl);
/* Sends close_notify once (never a wait) if the connection is sound,
   frees the SSL and closes the socket. */
void dial_close(struct dial *d);

#endif
