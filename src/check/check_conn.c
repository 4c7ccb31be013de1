/* SPDX-License-Identifier: MIT */
/*
 * check_conn.c - the connection of `mailroom check` (check_private.h): TCP
 * with a connect bound, TLS with the certificate looked at rather than
 * trusted blindly, and reads and writes that poll against the deadline of
 * the step in progress (net/dial.h).
 */
#include "check/check_private.h"
#include "net/dial.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

int64_t check_now_ms(void)
{
	return dial_now_ms();
}

void check_conn_init(struct check_conn *c)
{
	memset(c, 0, sizeof(*c));
	dial_init(&c->d);
	mig_pop3_in_init(&c->in, check_conn_read, c);
}

void check_conn_deadline(struct check_conn *c, unsigned secs)
{
	dial_deadline(&c->d, secs);
}

const char *check_conn_why(const struct check_conn *c)
{
	static char why[48];
	if (c->d.io == DIAL_TIMEOUT) {
		snprintf(why, sizeof(why), "timeout after %u s", c->d.secs);
		return why;
	}
	return "connection lost";
}

static int split_endpoint(const char *ep, char *host, size_t hlen, char *port, size_t plen)
{
	const char *h = ep, *he, *colon;
	if (*ep == '[') {
		he = strchr(ep, ']');
		if (he == NULL || he[1] != ':')
			return -1;
		h = ep + 1;
		colon = he + 1;
	} else {
		colon = strrchr(ep, ':');
		if (colon == NULL)
			return -1;
		he = colon;
	}
	if (he == h || (size_t)(he - h) >= hlen || strlen(colon + 1) == 0 ||
	    strlen(colon + 1) >= plen)
		return -1;
	memcpy(host, h, (size_t)(he - h));
	host[he - h] = '\0';
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

int check_conn_open(struct check_conn *c, const char *endpoint, char *err, size_t err_len)
{
	char host[256], port[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int e = 0;

	if (split_endpoint(endpoint, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(err, err_len, "not host:port");
		return -1;
	}
	int g = getaddrinfo(host, port, &hints, &res);
	if (g != 0) {
		snprintf(err, err_len, "%s: %s", host, gai_strerror(g));
		return -1;
	}
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		c->d.io = DIAL_OK;
		e = dial_connect(&c->d, a->ai_addr, a->ai_addrlen);
		if (e == 0 || c->d.io == DIAL_TIMEOUT)
			break; /* connected, or out of time for the others too */
	}
	freeaddrinfo(res);
	if (e == 0)
		return 0;
	if (c->d.io == DIAL_TIMEOUT)
		snprintf(err, err_len, "timeout after %u s", c->d.secs);
	else
		snprintf(err, err_len, "%s", strerror(e));
	return -1;
}

ssize_t check_conn_read(void *ctx, void *dst, size_t len)
{
	struct check_conn *c = ctx;
	return dial_read(&c->d, dst, len);
}

bool check_conn_write(struct check_conn *c, const void *p, size_t len)
{
	return dial_write(&c->d, p, len);
}

static void name_text(X509_NAME *name, char *out, size_t len)
{
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	ASN1_STRING *s = i >= 0 ? X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)) : NULL;
	if (s != NULL) {
		snprintf(out, len, "%.*s", ASN1_STRING_length(s),
			 (const char *)ASN1_STRING_get0_data(s));
	} else {
		X509_NAME_oneline(name, out, (int)len);
	}
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* What the admin needs to know of the server's certificate. */
static void cert_facts(X509 *cert, struct check_tls *t)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; sans != NULL && i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		if (g->type != GEN_DNS)
			continue;
		snprintf(t->subject, sizeof(t->subject), "%.*s", ASN1_STRING_length(g->d.dNSName),
			 (const char *)ASN1_STRING_get0_data(g->d.dNSName));
		break;
	}
	GENERAL_NAMES_free(sans);
	if (t->subject[0] == '\0')
		name_text(X509_get_subject_name(cert), t->subject, sizeof(t->subject));
	name_text(X509_get_issuer_name(cert), t->issuer, sizeof(t->issuer));
	const ASN1_TIME *na = X509_get0_notAfter(cert);
	struct tm tm;
	if (ASN1_TIME_to_tm(na, &tm) == 1)
		strftime(t->not_after, sizeof(t->not_after), "%Y-%m-%d", &tm);
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, na) == 1)
		t->days_left = days;
	t->expired = X509_cmp_current_time(na) < 0;
	t->not_yet_valid = X509_cmp_current_time(X509_get0_notBefore(cert)) > 0;
}

int check_conn_tls(struct check_conn *c, const char *name, const char *ca_file, struct check_tls *t,
		   char *err, size_t err_len)
{
	memset(t, 0, sizeof(*t));
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		snprintf(err, err_len, "cannot make a TLS context");
		return -1;
	}
	SSL_CTX_set_options(c->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	int ok = ca_file != NULL ? SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL)
				 : SSL_CTX_set_default_verify_paths(c->ctx);
	if (ok != 1) {
		snprintf(err, err_len, "cannot load CA certificates%s%s",
			 ca_file != NULL ? " from " : "", ca_file != NULL ? ca_file : "");
		return -1;
	}
	/* the chain and the name are checked, and the result read after the
	   handshake: an unverified certificate is a warning, not an end */
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	SSL *ssl = SSL_new(c->ctx);
	if (ssl == NULL) {
		snprintf(err, err_len, "cannot make a TLS session");
		return -1;
	}
	SSL_set_fd(ssl, c->d.fd);
	struct in6_addr lit;
	bool literal = inet_pton(AF_INET, name, &lit) == 1 || inet_pton(AF_INET6, name, &lit) == 1;
	if (!literal) /* SNI names hosts, never addresses (RFC 6066 §3) */
		SSL_set_tlsext_host_name(ssl, name);
	SSL_set1_host(ssl, name);
	c->in.off = c->in.len = 0; /* nothing read in the clear survives (RFC 2595 §4) */
	if (!dial_handshake(&c->d, ssl)) {
		unsigned long why = ERR_peek_error();
		if (c->d.io == DIAL_TIMEOUT)
			snprintf(err, err_len, "handshake: timeout after %u s", c->d.secs);
		else if (why != 0)
			snprintf(err, err_len, "handshake failed: %s",
				 ERR_reason_error_string(why));
		else
			snprintf(err, err_len,
				 "handshake failed: the server closed the connection");
		SSL_free(ssl);
		return -1;
	}
	snprintf(t->version, sizeof(t->version), "%s", SSL_get_version(ssl));
	t->verify = SSL_get_verify_result(ssl);
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (cert != NULL) {
		cert_facts(cert, t);
		X509_free(cert);
	} else {
		t->verify = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT;
	}
	return 0;
}

enum check_status check_tls_judge(const struct check_tls *t, char *details, size_t len)
{
	enum check_status st = CHECK_OK;
	char verdict[160];

	if (t->expired || t->not_yet_valid) {
		st = CHECK_CRITICAL;
		snprintf(verdict, sizeof(verdict), "%s",
			 t->expired ? "certificate expired" : "certificate not yet valid");
	} else if (t->verify != X509_V_OK) {
		st = CHECK_WARNING;
		snprintf(verdict, sizeof(verdict), "not verified: %s",
			 X509_verify_cert_error_string(t->verify));
	} else if (t->days_left < CHECK_CERT_WARN_DAYS) {
		st = CHECK_WARNING;
		snprintf(verdict, sizeof(verdict), "expires in %d days", t->days_left);
	} else {
		snprintf(verdict, sizeof(verdict), "verified");
	}
	snprintf(details, len, "%s, %s, issuer %s, notAfter %s (%d days), %s", t->version,
		 t->subject[0] != '\0' ? t->subject : "(no name)", t->issuer,
		 t->not_after[0] != '\0' ? t->not_after : "?", t->days_left, verdict);
	return st;
}

void check_conn_close(struct check_conn *c)
{
	dial_close(&c->d);
	SSL_CTX_free(c->ctx);
	c->ctx = NULL;
}
