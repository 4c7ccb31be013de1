/* SPDX-License-Identifier: MIT */
/*
 * tls_internal.h - what tls.c and tls_conn.c share and nobody else sees:
 * the SSL_CTX behind a struct tls_ctx, the ALPN id of an SSL's port (for
 * the ALPN callback, which only gets the SSL), and the client certificate
 * checks of tls_client.c.
 */
#ifndef MAILROOM_TLS_TLS_INTERNAL_H
#define MAILROOM_TLS_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "tls/tls.h"
#include "util/config.h"

SSL_CTX *tls_ctx_ssl(struct tls_ctx *ctx);
/* *err_r = "what file: <the oldest queued OpenSSL error>", the queue
   cleared; returns -1. */
int tls_fail(char **err_r, const char *what, const char *file);
/* The ALPN id the connection's port speaks (tls_conn_new), or NULL if the
   SSL was not made by tls_conn_new(). */
const char *tls_conn_alpn_id(const SSL *ssl);

/* The verify callback saw X509_V_ERR_* `err`; the first one counts. */
void tls_conn_verify_failed(SSL *ssl, int err);
/* The owner of a verified client certificate as a malloc'd address, or
   NULL: no certificate, client certificates not configured, verify_err
   (the callback's first error) or the stored verdict not X509_V_OK, or
   no usable name. */
char *tls_client_identity(SSL *ssl, int verify_err);
/* The mapping alone ([tls] client_cert_map): email = the first rfc822Name
   of the subjectAltName, else the subject's emailAddress; cn = the
   subject's CN, "@domain" appended when it has no '@' and domain is not
   empty. NULL when that name is missing or no plain address. */
char *tls_cert_address(X509 *cert, enum tls_cert_map map, const char *domain);

#endif
