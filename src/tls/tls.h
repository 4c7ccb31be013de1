/* SPDX-License-Identifier: MIT */
/*
 * tls.h - OpenSSL contexts, certificates and the TLS transport of net/conn.
 *
 * Policy (SPEC §10): TLS 1.2 and newer only, modern cipher list, no
 * compression, no renegotiation, strict ALPN (RFC 9325 §3.8, ALPACA): a
 * port accepts its service's ALPN id ("pop3" on POP3 ports, "smtp" on SMTP
 * ports) or no ALPN; any other protocol name aborts the handshake.
 */
#ifndef MAILROOM_TLS_TLS_H
#define MAILROOM_TLS_TLS_H

struct config;
struct tls_ctx;

/* Loads cert and key (PEM). Returns 0, or -1 with a malloc'd *err_r. */
int tls_ctx_new(const char *cert_file, const char *key_file, struct tls_ctx **ctx_r, char **err_r);
void tls_ctx_free(struct tls_ctx **ctx);
/* [tls] client_ca: every handshake of ctx asks for a client certificate
   and verifies it against those CAs (and client_crl). A client without one,
   or with one that does not verify, still completes the handshake; it only
   has no identity (tls_private.h). Nothing happens when client_ca is not
   set. Returns 0, or -1 with a malloc'd *err_r. */
int tls_ctx_client_auth(struct tls_ctx *ctx, const struct config *cfg, char **err_r);
/* Puts fresh's certificate, key and settings into running and frees fresh.
   New handshakes use them; connections that started before keep theirs
   (each SSL holds a reference to the context it was made from). */
void tls_ctx_swap(struct tls_ctx *running, struct tls_ctx **fresh);

/* Writes a self-signed certificate (EC P-256, SAN = hostname, 10 years) and
   its key (mode 0600) unless both files exist already. Returns 0 or -1. */
int tls_selfsigned_ensure(const char *hostname, const char *cert_file, const char *key_file,
			  char **err_r);

#endif
