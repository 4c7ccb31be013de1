/* SPDX-License-Identifier: MIT */
/*
 * tls_private.h - the non-blocking TLS transport that net/conn.c drives.
 * Only net/ and tls/ include this; sessions never see it.
 *
 * Want-read and want-write stay in here: a call that cannot progress
 * returns TLS_IO_AGAIN and remembers which socket readiness it waits for;
 * the caller asks tls_conn_events() what to wait for and retries the same
 * call (with the same or more bytes, for writes) once the loop says so. A
 * struct tls_conn belongs to one conn and dies with it; it never owns the fd.
 */
#ifndef MAILROOM_TLS_TLS_PRIVATE_H
#define MAILROOM_TLS_TLS_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tls/tls.h"
#include "util/config.h"

struct tls_conn;

#define TLS_IO_AGAIN (-1)
#define TLS_IO_EOF (-2)
#define TLS_IO_ERROR (-3)

/* Server side, on a connected non-blocking socket. alpn is the
   only ALPN protocol id accepted (kept, not copied: a static string). Returns NULL if OpenSSL
   refuses. */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *alpn);
void tls_conn_free(struct tls_conn **t);
/* 1 = handshake complete, or a TLS_IO_* code; on TLS_IO_ERROR/EOF *err_r
   (static text) says why, e.g. "no application protocol". */
int tls_conn_handshake(struct tls_conn *t, const char **err_r);
/* Bytes read/written (> 0) or a TLS_IO_* code. Writes are at most one
   record (16 KiB) per call. */
ssize_t tls_conn_read(struct tls_conn *t, void *p, size_t n);
ssize_t tls_conn_write(struct tls_conn *t, const void *p, size_t n);
/* Why the last read or write returned TLS_IO_EOF/ERROR (static text). */
const char *tls_conn_error(const struct tls_conn *t);
/* TLS_WANT_READ/TLS_WANT_WRITE mask to wait for, given that the caller wants to
   read (in) and/or has output to send (out). During the handshake, only
   the handshake's own need counts. */
/* What tls_conn_events() asks for; the same bits as net/loop.h's
   LOOP_READ and LOOP_WRITE (net/conn.c checks), so the caller passes
   them on as they are. */
#define TLS_WANT_READ 1
#define TLS_WANT_WRITE 2
int tls_conn_events(const struct tls_conn *t, bool in, bool out);
/* Plaintext already inside OpenSSL that the socket will not announce. */
bool tls_conn_pending(const struct tls_conn *t);
/* Sends close_notify, best effort, never blocks; nothing after a failure. */
void tls_conn_shutdown(struct tls_conn *t);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
void tls_conn_desc(const struct tls_conn *t, char *out, size_t len);
/* ALPN protocol the client chose, or "" (for tests and logs). */
void tls_conn_alpn(const struct tls_conn *t, char *out, size_t len);
/* After the handshake: the address of the client's verified certificate
   ([tls] client_ca, client_cert_map), or NULL. Decided once, when the
   handshake completes, and kept for the connection. */
const char *tls_conn_identity(const struct tls_conn *t);
/* After the handshake: why the certificate the client sent gives no
   identity (static text, for the log), or NULL if it sent none or it
   does. */
const char *tls_conn_cert_refused(const struct tls_conn *t);

#endif
