/* SPDX-License-Identifier: MIT */
/*
 * tls_conn.c - the non-blocking TLS transport of tls_private.h.
 *
 * Owns one SSL per connection and the bookkeeping of what each operation
 * waits for. SSL_read may need the socket writable (a TLS 1.3 KeyUpdate to
 * answer) and SSL_write may need it readable, so reads and writes remember
 * their wants separately and tls_conn_events() merges them for the loop.
 * OpenSSL's error queue is per thread and sticky: it is cleared before
 * every call so a stale error never fails the next connection.
 *
 * The identity of a client certificate (tls_client.c) is decided once, as
 * the handshake completes, and kept: sessions ask for it at every AUTH.
 *
 * Lifetime: created by net/conn.c when TLS starts, freed with the conn. The
 * SSL borrows the fd; the conn closes it.
 */
#include "tls/tls_internal.h"
#include "tls/tls_private.h"
#include "util/mem.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TLS_RECORD_MAX 16384 /* RFC 8446 §5.1: plaintext per record */

struct tls_conn {
	SSL *ssl;
	const char *alpn;		    /* the port's protocol id, for the ALPN callback */
	int hs_want, read_want, write_want; /* TLS_WANT_READ or TLS_WANT_WRITE */
	bool failed;			    /* no close_notify after a fatal error */
	const char *err;		    /* why the last call failed (static) */
	int verify_err;			    /* first X509_V_ERR_* of the client's chain */
	char *identity;			    /* tls_conn_identity(), or NULL */
	const char *cert_refused;	    /* tls_conn_cert_refused(), or NULL */
};

const char *tls_conn_alpn_id(const SSL *ssl)
{
	const struct tls_conn *t = SSL_get_app_data(ssl);
	return t != NULL ? t->alpn : NULL;
}

struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, const char *alpn)
{
	ERR_clear_error();
	SSL *ssl = SSL_new(tls_ctx_ssl(ctx));
	if (ssl == NULL)
		return NULL;
	if (SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	struct tls_conn *t = xcalloc(1, sizeof(*t));
	t->ssl = ssl;
	t->alpn = alpn;
	t->hs_want = t->read_want = TLS_WANT_READ;
	t->write_want = TLS_WANT_WRITE;
	SSL_set_app_data(ssl, t); /* the ALPN callback finds the id here */
	SSL_set_accept_state(ssl);
	return t;
}

void tls_conn_verify_failed(SSL *ssl, int err)
{
	struct tls_conn *t = SSL_get_app_data(ssl);

	if (t != NULL && t->verify_err == X509_V_OK)
		t->verify_err = err;
}

void tls_conn_free(struct tls_conn **tp)
{
	struct tls_conn *t = *tp;
	if (t == NULL)
		return;
	free(t->identity);
	SSL_free(t->ssl);
	free(t);
	*tp = NULL;
}

/* Maps a failed SSL call to AGAIN (storing the want), EOF or ERROR. */
static int io_result(struct tls_conn *t, int r, int *want, const char **err_r)
{
	int saved_errno = errno; /* of the socket call inside OpenSSL */
	int e = SSL_get_error(t->ssl, r);
	unsigned long code;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_WANT_READ;
		return TLS_IO_AGAIN;
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_WANT_WRITE;
		return TLS_IO_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		/* close_notify, or a bare TCP FIN: SSL_OP_IGNORE_UNEXPECTED_EOF
		   maps that here too; a POP3 client hanging up is not an attack */
		*err_r = "peer closed the connection";
		return TLS_IO_EOF;
	case SSL_ERROR_SYSCALL:
		t->failed = true;
		*err_r = saved_errno != 0 ? strerror(saved_errno) : "peer closed the connection";
		ERR_clear_error();
		return saved_errno == 0 ? TLS_IO_EOF : TLS_IO_ERROR;
	default:
		t->failed = true;
		code = ERR_peek_last_error();
		*err_r = code != 0 && ERR_reason_error_string(code) != NULL
			     ? ERR_reason_error_string(code)
			     : "protocol error";
		ERR_clear_error();
		return TLS_IO_ERROR;
	}
}

int tls_conn_handshake(struct tls_conn *t, const char **err_r)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_do_handshake(t->ssl);
	if (r != 1)
		return io_result(t, r, &t->hs_want, err_r);
	if (t->identity == NULL && SSL_get0_peer_certificate(t->ssl) != NULL) {
		t->identity = tls_client_identity(t->ssl, t->verify_err);
		long v = t->verify_err != X509_V_OK ? t->verify_err : SSL_get_verify_result(t->ssl);
		if (t->identity == NULL)
			t->cert_refused = v != X509_V_OK ? X509_verify_cert_error_string(v)
							 : "no usable e-mail address in it";
	}
	return 1;
}

ssize_t tls_conn_read(struct tls_conn *t, void *p, size_t n)
{
	ERR_clear_error();
	errno = 0;
	int r = SSL_read(t->ssl, p, n > TLS_RECORD_MAX ? TLS_RECORD_MAX : (int)n);
	if (r > 0) {
		t->read_want = TLS_WANT_READ;
		return r;
	}
	return io_result(t, r, &t->read_want, &t->err);
}

ssize_t tls_conn_write(struct tls_conn *t, const void *p, size_t n)
{
	/* Never less than the previous attempt (SSL_write's retry rule):
	   the caller's buffer only grows, and the cap is constant. */
	ERR_clear_error();
	errno = 0;
	int r = SSL_write(t->ssl, p, n > TLS_RECORD_MAX ? TLS_RECORD_MAX : (int)n);
	if (r > 0) {
		t->write_want = TLS_WANT_WRITE;
		return r;
	}
	return io_result(t, r, &t->write_want, &t->err);
}

int tls_conn_events(const struct tls_conn *t, bool in, bool out)
{
	if (!SSL_is_init_finished(t->ssl))
		return t->hs_want;
	return (in ? t->read_want : 0) | (out ? t->write_want : 0);
}

const char *tls_conn_error(const struct tls_conn *t)
{
	return t->err != NULL ? t->err : "TLS error";
}

bool tls_conn_pending(const struct tls_conn *t)
{
	return SSL_pending(t->ssl) > 0;
}

void tls_conn_shutdown(struct tls_conn *t)
{
	if (t->failed || !SSL_is_init_finished(t->ssl))
		return;
	ERR_clear_error();
	SSL_shutdown(t->ssl); /* one try: we close right after, never wait */
	ERR_clear_error();
}

void tls_conn_desc(const struct tls_conn *t, char *out, size_t len)
{
	snprintf(out, len, "%s %s", SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
}

void tls_conn_alpn(const struct tls_conn *t, char *out, size_t len)
{
	const unsigned char *p = NULL;
	unsigned n = 0;

	SSL_get0_alpn_selected(t->ssl, &p, &n);
	snprintf(out, len, "%.*s", (int)n, p != NULL ? (const char *)p : "");
}

const char *tls_conn_identity(const struct tls_conn *t)
{
	return t->identity;
}

const char *tls_conn_cert_refused(const struct tls_conn *t)
{
	return t->cert_refused;
}
