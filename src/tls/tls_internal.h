/* SPDX-License-Identifier: MIT */
/*
 * tls_internal.h - what tls.c and tls_conn.c share and nobody else sees:
 * the SSL_CTX behind a struct tls_ctx, and the listening role of an SSL
 * (for the ALPN callback, which only gets the SSL).
 */
#ifndef MAILROOM_TLS_TLS_INTERNAL_H
#define MAILROOM_TLS_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "tls/tls.h"
#include "util/config.h"

SSL_CTX *tls_ctx_ssl(struct tls_ctx *ctx);
/* ROLE_COUNT if the SSL was not made by tls_conn_new(). */
enum listen_role tls_conn_role(const SSL *ssl);

#endif
