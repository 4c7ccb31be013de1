/* SPDX-License-Identifier: MIT */
/*
 * tls_client.c - TLS client certificates: asking for them, verifying them
 * against [tls] client_ca (and client_crl), and naming their owner with an
 * e-mail address for SASL EXTERNAL (RFC 4422 appendix A).
 *
 * A certificate is a second way to log in, never a condition of the
 * handshake: the server asks (SSL_VERIFY_PEER without
 * FAIL_IF_NO_PEER_CERT) and the verify callback always lets the handshake
 * go on, remembering the first error instead. A connection whose
 * certificate did not verify, or that sent none, simply has no identity
 * and logs in with a password. The mapping settings travel with the
 * SSL_CTX (ex_data freed with it), so a reload that swaps the context
 * never leaves a handshake in flight with settings freed under it.
 *
 * Never does anything but name the owner: whether that address may log
 * in is the directory's question (directory_identity()).
 */
#include "tls/tls.h"
#include "tls/tls_internal.h"
#include "util/config.h"
#include "util/mem.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* intermediates between the client's certificate and the root
   (SSL_CTX_set_verify_depth(3)): longer chains are odd for user
   certificates and only cost verification time */
#define TLS_CLIENT_VERIFY_DEPTH 2
#define TLS_ADDRESS_MAX 319 /* RFC 5321 §4.5.3.1: 64 + "@" + 254 */

struct client_map {
	enum tls_cert_map map;
	char domain[256];
};

static pthread_once_t map_once = PTHREAD_ONCE_INIT;
static int map_index = -1;

static void map_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	free(ptr);
}

static void map_index_init(void)
{
	map_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, map_free);
}

/* The handshake goes on whatever the verdict; the first error is kept for
   the identity (none then) and for the log. */
static int verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok) {
		SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
		if (ssl != NULL)
			tls_conn_verify_failed(ssl, X509_STORE_CTX_get_error(x));
	}
	return 1;
}

int tls_ctx_client_auth(struct tls_ctx *ctx, const struct config *cfg, char **err_r)
{
	SSL_CTX *c = tls_ctx_ssl(ctx);

	if (cfg->tls_client_ca == NULL)
		return 0;
	pthread_once(&map_once, map_index_init);
	if (map_index < 0)
		return tls_fail(err_r, "TLS", "client certificate settings");
	ERR_clear_error();
	if (SSL_CTX_load_verify_locations(c, cfg->tls_client_ca, NULL) != 1)
		return tls_fail(err_r, "cannot load TLS client CA", cfg->tls_client_ca);
	/* RFC 8446 §4.2.4: certificate_authorities tells clients which of
	   their certificates to send */
	STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(cfg->tls_client_ca);
	if (names == NULL)
		return tls_fail(err_r, "no CA certificate in", cfg->tls_client_ca);
	SSL_CTX_set_client_CA_list(c, names);
	if (cfg->tls_client_crl != NULL) {
		X509_STORE *store = SSL_CTX_get_cert_store(c);
		X509_LOOKUP *lu = X509_STORE_add_lookup(store, X509_LOOKUP_file());
		if (lu == NULL ||
		    X509_load_crl_file(lu, cfg->tls_client_crl, X509_FILETYPE_PEM) <= 0)
			return tls_fail(err_r, "cannot load TLS client CRL", cfg->tls_client_crl);
		/* the client's own certificate; its CAs are the admin's */
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	}
	struct client_map *m = xcalloc(1, sizeof(*m));
	m->map = cfg->tls_client_cert_map;
	snprintf(m->domain, sizeof(m->domain), "%s",
		 cfg->tls_client_cert_domain != NULL ? cfg->tls_client_cert_domain : "");
	if (SSL_CTX_set_ex_data(c, map_index, m) != 1) {
		free(m);
		return tls_fail(err_r, "TLS", "client certificate settings");
	}
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_verify_depth(c, TLS_CLIENT_VERIFY_DEPTH);
	/* OpenSSL refuses to resume a session under SSL_VERIFY_PEER without a
	   session id context (SSL_R_SESSION_ID_CONTEXT_UNINITIALIZED): the
	   handshake of a client with a ticket would fail */
	static const unsigned char sid_ctx[] = "mailroom";
	SSL_CTX_set_session_id_context(c, sid_ctx, sizeof(sid_ctx) - 1);
	return 0;
}

/* --- naming the owner -------------------------------------------------------- */

/* An address as it may reach the directory and the logs: one '@' with
   text on both sides, no controls, spaces or non-ASCII (RFC 5280 §4.2.1.6:
   rfc822Name is an IA5String addr-spec; a CN here must look the same). */
static bool address_ok(const unsigned char *p, size_t len)
{
	size_t at = 0, n_at = 0;

	if (len == 0 || len > TLS_ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '<' || p[i] == '>')
			return false;
		if (p[i] == '@')
			at = i, n_at++;
	}
	return n_at == 1 && at > 0 && at < len - 1;
}

static char *from_asn1(const ASN1_STRING *s, const char *domain)
{
	unsigned char *utf8 = NULL;
	int n = ASN1_STRING_to_UTF8(&utf8, s);
	char *r = NULL;

	if (n <= 0)
		return NULL;
	if (memchr(utf8, '@', (size_t)n) == NULL && domain != NULL && *domain != '\0') {
		char *full = xasprintf("%.*s@%s", n, (const char *)utf8, domain);
		if (address_ok((const unsigned char *)full, strlen(full)))
			r = full;
		else
			free(full);
	} else if (address_ok(utf8, (size_t)n)) {
		r = xstrndup((const char *)utf8, (size_t)n);
	}
	OPENSSL_free(utf8);
	return r;
}

static char *subject_entry(X509 *cert, int nid, const char *domain)
{
	X509_NAME *name = X509_get_subject_name(cert);
	int i = name != NULL ? X509_NAME_get_index_by_NID(name, nid, -1) : -1;

	if (i < 0)
		return NULL;
	return from_asn1(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)), domain);
}

char *tls_cert_address(X509 *cert, enum tls_cert_map map, const char *domain)
{
	if (map == CERT_MAP_CN)
		return subject_entry(cert, NID_commonName, domain);
	/* RFC 5280 §4.1.2.6: e-mail addresses belong in the subjectAltName;
	   the subject's emailAddress is the legacy place */
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char *r = NULL;
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_EMAIL) {
			r = from_asn1(gn->d.rfc822Name, NULL); /* the first only */
			break;
		}
	}
	GENERAL_NAMES_free(sans);
	return r != NULL ? r : subject_entry(cert, NID_pkcs9_emailAddress, NULL);
}

char *tls_client_identity(SSL *ssl, int verify_err)
{
	SSL_CTX *c = SSL_get_SSL_CTX(ssl);
	const struct client_map *m = map_index >= 0 ? SSL_CTX_get_ex_data(c, map_index) : NULL;
	X509 *cert = SSL_get0_peer_certificate(ssl);

	/* a resumed session did not run the callback: its verdict is stored */
	if (m == NULL || cert == NULL || verify_err != X509_V_OK ||
	    SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	return tls_cert_address(cert, m->map, m->domain);
}
