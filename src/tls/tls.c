/* SPDX-License-Identifier: MIT */
/*
 * tls.c - the server's OpenSSL context and the self-signed certificate that
 * `mailroom init` makes.
 *
 * One SSL_CTX serves every port. The policy is RFC 9325's: TLS 1.2 at
 * least, AEAD ciphers with forward secrecy, no compression (CRIME), no
 * renegotiation, and strict ALPN (§3.8, the ALPACA attack): a
 * connection's ALPN id (its service's, proto/service.h) reaches the ALPN
 * callback through the SSL's app data, and only that id or no ALPN at all
 * is accepted.
 * SSL_MODE_RELEASE_BUFFERS keeps idle connections small: OpenSSL frees its
 * 16 KiB record buffers whenever nothing is in flight.
 *
 * Lifetime: the server makes one tls_ctx at start and frees it after the
 * last connection. Files are read once; a new certificate needs a restart.
 */
#include "tls/tls.h"
#include "tls/tls_internal.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Mozilla "intermediate" TLS 1.2 list; TLS 1.3 suites are OpenSSL's. */
#define TLS_CIPHERS                                                                                \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                               \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                               \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                               \
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define TLS_CERT_DAYS 3650
#define TLS_CN_MAX 64 /* RFC 5280 ub-common-name */

struct tls_ctx {
	SSL_CTX *ssl_ctx;
};

SSL_CTX *tls_ctx_ssl(struct tls_ctx *ctx)
{
	return ctx->ssl_ctx;
}

/* The reason of the oldest queued OpenSSL error, then the queue cleared. */
static char *ssl_errstr(void)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0)
		snprintf(buf, sizeof(buf), "unknown error");
	else
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return xstrdup(buf);
}

int tls_fail(char **err_r, const char *what, const char *file)
{
	char *e = ssl_errstr();
	*err_r = xasprintf("%s %s: %s", what, file, e);
	free(e);
	return -1;
}

/* RFC 7301 §3.2: the server picks. We pick only the port's own protocol;
   a client that offers only others (e.g. "http/1.1" on port 995) gets the
   no_application_protocol alert. Not called when the client sends no ALPN. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	const char *want = tls_conn_alpn_id(ssl);

	if (want == NULL)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	size_t wl = strlen(want);
	for (unsigned i = 0; i < inlen;) {
		unsigned l = in[i];
		if (l == 0 || i + 1 + l > inlen)
			break; /* malformed list */
		if (l == wl && memcmp(in + i + 1, want, wl) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)l;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + l;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

int tls_ctx_new(const char *cert_file, const char *key_file, struct tls_ctx **ctx_r, char **err_r)
{
	ERR_clear_error();
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	if (c == NULL)
		return tls_fail(err_r, "TLS", "context");

	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	/* OpenSSL 3 refuses client-initiated renegotiation unless
	   SSL_OP_ALLOW_CLIENT_RENEGOTIATION; NO_RENEGOTIATION covers ours */
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				   SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* partial and moving writes: conn.c writes from a buffer that grows */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_cipher_list(c, TLS_CIPHERS) != 1) {
		SSL_CTX_free(c);
		return tls_fail(err_r, "TLS", "cipher list");
	}
	SSL_CTX_set_dh_auto(c, 1);
	/* no server-side session cache (memory); stateless tickets resume */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(c, 1);
	SSL_CTX_set_alpn_select_cb(c, alpn_select, NULL);

	if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
		SSL_CTX_free(c);
		return tls_fail(err_r, "cannot load TLS certificate", cert_file);
	}
	if (SSL_CTX_use_PrivateKey_file(c, key_file, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL already compares the key with the certificate here */
		bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
		SSL_CTX_free(c);
		if (!mismatch)
			return tls_fail(err_r, "cannot load TLS key", key_file);
		ERR_clear_error();
		*err_r = xasprintf("TLS key %s does not match certificate %s", key_file, cert_file);
		return -1;
	}
	if (SSL_CTX_check_private_key(c) != 1) {
		SSL_CTX_free(c);
		ERR_clear_error();
		*err_r = xasprintf("TLS key %s does not match certificate %s", key_file, cert_file);
		return -1;
	}
	struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));
	ctx->ssl_ctx = c;
	*ctx_r = ctx;
	return 0;
}

void tls_ctx_free(struct tls_ctx **ctx)
{
	if (*ctx == NULL)
		return;
	SSL_CTX_free((*ctx)->ssl_ctx);
	free(*ctx);
	*ctx = NULL;
}

void tls_ctx_swap(struct tls_ctx *running, struct tls_ctx **fresh)
{
	SSL_CTX *old = running->ssl_ctx;
	running->ssl_ctx = (*fresh)->ssl_ctx;
	(*fresh)->ssl_ctx = old;
	tls_ctx_free(fresh);
}

/* --- self-signed certificate ------------------------------------------------ */

/* mkdir -p of the folder holding `file`, new folders mode 0700. */
static int mkdir_parents(const char *file)
{
	char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');
	int ret = 0;

	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	for (char *p = dir + 1; ret == 0; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			ret = -1;
		*p = c;
		if (c == '\0')
			break;
	}
	free(dir);
	return ret;
}

/* Writes through a temporary file and rename(), so a crash never leaves a
   half-written key that the next start would take as present. */
static int write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *cert)
{
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	int ok = 0, saved;

	if (fd >= 0) {
		fchmod(fd, mode); /* the file may have existed with another mode */
		FILE *f = fdopen(fd, "w");
		if (f != NULL) {
			ok = key != NULL ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
					 : PEM_write_X509(f, cert);
			ok = ok && fflush(f) == 0 && fsync(fd) == 0;
			ok = fclose(f) == 0 && ok;
		} else {
			close(fd);
		}
	}
	ok = ok && rename(tmp, path) == 0;
	saved = errno;
	if (!ok)
		unlink(tmp);
	free(tmp);
	errno = saved;
	return ok ? 0 : -1;
}

/* subjectAltName with one entry: an IP address if hostname is a literal,
   else a dNSName. Built by hand, not from a config string, so no character
   of the hostname can add entries. */
static int add_san(X509 *x, const char *hostname)
{
	unsigned char ip[16];
	int iplen = inet_pton(AF_INET, hostname, ip) == 1    ? 4
		    : inet_pton(AF_INET6, hostname, ip) == 1 ? 16
							     : 0;
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	int ok = names != NULL && gn != NULL && s != NULL;

	if (ok && iplen > 0) {
		ok = ASN1_OCTET_STRING_set(s, ip, iplen);
		GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
	} else if (ok) {
		ok = ASN1_STRING_set(s, hostname, (int)strlen(hostname));
		s->type = V_ASN1_IA5STRING;
		GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	} else {
		ASN1_OCTET_STRING_free(s);
	}
	s = NULL;
	if (ok && sk_GENERAL_NAME_push(names, gn) > 0)
		gn = NULL;
	else
		ok = 0;
	ok = ok && X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0, 0) == 1;
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(names);
	return ok ? 0 : -1;
}

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	int ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509 *make_cert(const char *hostname, EVP_PKEY *key)
{
	X509 *x = X509_new();
	unsigned char serial[16];
	int ok = x != NULL;

	/* RFC 5280 §4.1.2.2: positive, at most 20 octets, unpredictable */
	ok = ok && RAND_bytes(serial, sizeof(serial)) == 1;
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	BIGNUM *bn = ok ? BN_bin2bn(serial, sizeof(serial), NULL) : NULL;
	ok = ok && bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	ok = ok && X509_set_version(x, X509_VERSION_3);
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL; /* clock skew */
	ok = ok && X509_time_adj_ex(X509_getm_notAfter(x), TLS_CERT_DAYS, 0, NULL) != NULL;
	ok = ok && X509_set_pubkey(x, key);
	X509_NAME *name = ok ? X509_get_subject_name(x) : NULL;
	const char *cn = strlen(hostname) <= TLS_CN_MAX ? hostname : "mailroom";
	ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
					      -1, -1, 0);
	ok = ok && X509_set_issuer_name(x, name);
	ok = ok && add_san(x, hostname) == 0;
	ok = ok && add_ext(x, NID_basic_constraints, "critical,CA:FALSE") == 0;
	ok = ok && add_ext(x, NID_key_usage, "critical,digitalSignature") == 0;
	ok = ok && add_ext(x, NID_ext_key_usage, "serverAuth") == 0;
	ok = ok && add_ext(x, NID_subject_key_identifier, "hash") == 0;
	ok = ok && X509_sign(x, key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

int tls_selfsigned_ensure(const char *hostname, const char *cert_file, const char *key_file,
			  char **err_r)
{
	if (access(cert_file, F_OK) == 0 && access(key_file, F_OK) == 0)
		return 0;
	if (mkdir_parents(cert_file) < 0 || mkdir_parents(key_file) < 0) {
		*err_r =
		    xasprintf("cannot create the folder of %s: %s", cert_file, strerror(errno));
		return -1;
	}
	ERR_clear_error();
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key != NULL ? make_cert(hostname, key) : NULL;
	int ret = 0;

	if (x == NULL) {
		char *e = ssl_errstr();
		*err_r = xasprintf("cannot make a certificate: %s", e);
		free(e);
		ret = -1;
	} else if (write_pem(key_file, 0600, key, NULL) < 0) {
		*err_r = xasprintf("cannot write %s: %s", key_file, strerror(errno));
		ret = -1;
	} else if (write_pem(cert_file, 0644, NULL, x) < 0) {
		*err_r = xasprintf("cannot write %s: %s", cert_file, strerror(errno));
		ret = -1;
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return ret;
}
