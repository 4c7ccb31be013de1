/* SPDX-License-Identifier: MIT */
/*
 * test_net_tls.c - tls/tls.h and the TLS side of net/conn.h, against an
 * OpenSSL client on a thread over a socketpair:
 *  - tls_selfsigned_ensure(): folders made 0700, key 0600, certificate
 *    valid for the hostname (checked by X509_check_host and by the client's
 *    verification) for about 10 years; a no-op when both files exist;
 *  - tls_ctx_new() refuses a missing file and a key of another certificate;
 *  - implicit TLS: handshake then tls_ready, ALPN "pop3" or none accepted on
 *    POP3 ports, "http/1.1" or "smtp" refused with no_application_protocol,
 *    "smtp" accepted on an SMTP port, TLS 1.1 refused, plaintext garbage
 *    fails the handshake, a silent client hits the handshake limit;
 *  - STARTTLS: the "+OK" goes out in plaintext, a command pipelined behind
 *    STLS is discarded (CVE-2011-0411), commands after the handshake work;
 *  - 1 MiB over TLS then close_notify; 50 pipelined lines with a 16-byte
 *    input limit (plaintext left inside OpenSSL must still be delivered);
 *  - client certificates ([tls] client_ca): the SAN e-mail, the subject's
 *    emailAddress and the CN (+ domain) mappings; a verified certificate
 *    gives conn_tls_identity(), while none, an expired one and one of
 *    another CA still complete the handshake with no identity.
 */
#include "net/conn.h"
#include "net/conn_private.h"
#include "net/loop.h"
#include "test_common.h"
#include "tls/tls.h"
#include "tls/tls_internal.h"

#include <ftw.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define HOST "mail.example.test"

static char *tmpdir, *cert_file, *key_file;
static struct tls_ctx *server_tls;

/* --- the server side: a tiny line session ---------------------------------------- */

struct sess {
	struct loop *loop;
	struct conn_mgr *mgr;
	struct conn *c;
	struct buf got;
	int tls_ready, closed;
	bool was_tls_at_capa;
	char reason[128];
	char alpn[32];
	char identity[320]; /* conn_tls_identity() at tls_ready, "" if NULL */
	atomic_bool client_done;
	bool timed_out;
};

static void handle_line(struct sess *s, struct conn *c, const char *line, size_t len)
{
	buf_append(&s->got, line, len);
	buf_append_c(&s->got, '\n');
	if (len == 4 && memcmp(line, "STLS", 4) == 0) {
		conn_write(c, "+OK Begin TLS\r\n", 15);
		test_assert(conn_tls_available(c));
		test_assert(conn_starttls(c) == 0);
	} else if (len == 4 && memcmp(line, "CAPA", 4) == 0) {
		s->was_tls_at_capa = conn_is_tls(c);
		conn_write(c, "+CAPA\r\n", 7);
	} else if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
		conn_write(c, "+BYE\r\n", 6);
		conn_close(c, "quit");
	} else if (len == 3 && memcmp(line, "BIG", 3) == 0) {
		char *big = malloc(1 << 20);
		for (size_t i = 0; i < 1 << 20; i++)
			big[i] = (char)('a' + i % 26);
		conn_write(c, big, 1 << 20);
		free(big);
		conn_close(c, "big done");
	} else {
		conn_printf(c, "+%.*s\r\n", (int)len, line);
	}
}

static void on_data_in(struct conn *c, void *ctx)
{
	struct sess *s = ctx;
	struct buf *in = conn_input(c);
	char *nl;

	/* after STLS the conn has emptied the input: the loop ends there */
	while (in->len > 0 && (nl = memchr(in->data, '\n', in->len)) != NULL) {
		size_t used = (size_t)(nl - in->data) + 1, len = used - 1;
		char line[1024];
		if (len > 0 && in->data[len - 1] == '\r')
			len--;
		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, in->data, len);
		buf_consume(in, used);
		handle_line(s, c, line, len);
	}
}

static void on_tls_ready(struct conn *c, void *ctx)
{
	struct sess *s = ctx;
	s->tls_ready++;
	test_assert(conn_is_tls(c));
	test_assert(!conn_tls_available(c));
	test_assert(strncmp(conn_tls_desc(c), "TLSv1.", 6) == 0);
	conn_tls_alpn(c, s->alpn, sizeof(s->alpn));
	snprintf(s->identity, sizeof(s->identity), "%s",
		 conn_tls_identity(c) != NULL ? conn_tls_identity(c) : "");
	on_data_in(c, ctx); /* anything that came with the handshake */
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
	struct sess *s = ctx;
	s->closed++;
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	s->c = NULL;
}

static const struct conn_events events = {
    .data_in = on_data_in,
    .tls_ready = on_tls_ready,
    .closed = on_closed,
};

static void check_done(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	if (atomic_load(&s->client_done) && s->closed > 0)
		loop_stop(l);
}

static void guard_cb(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	s->timed_out = true;
	loop_stop(l);
}

/* --- the client side: blocking OpenSSL on a thread ---------------------------------- */

struct client {
	int fd;
	const char *alpn;   /* offered, or NULL */
	int max_version;    /* 0 = default */
	const char *script; /* scenario name */
	X509 *cert;	    /* client certificate to send, or NULL */
	EVP_PKEY *key;
	struct sess *s;
	/* results */
	bool connected;
	char err[256];
	char alpn_got[32];
	struct buf rx;
	bool rx_eof;
};

static SSL *client_ssl(struct client *cl)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	SSL_CTX_load_verify_locations(ctx, cert_file, NULL);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cl->max_version != 0) {
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(ctx, cl->max_version);
	}
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps a reference */
	if (cl->cert != NULL) {
		test_assert(SSL_use_certificate(ssl, cl->cert) == 1);
		test_assert(SSL_use_PrivateKey(ssl, cl->key) == 1);
	}
	SSL_set_fd(ssl, cl->fd);
	SSL_set_tlsext_host_name(ssl, HOST);
	SSL_set1_host(ssl, HOST);
	if (cl->alpn != NULL) {
		unsigned char proto[64];
		size_t n = strlen(cl->alpn);
		proto[0] = (unsigned char)n;
		memcpy(proto + 1, cl->alpn, n);
		SSL_set_alpn_protos(ssl, proto, (unsigned)n + 1);
	}
	return ssl;
}

static bool client_connect(struct client *cl, SSL *ssl)
{
	const unsigned char *p;
	unsigned n = 0;

	if (SSL_connect(ssl) != 1) {
		ERR_error_string_n(ERR_get_error(), cl->err, sizeof(cl->err));
		return false;
	}
	SSL_get0_alpn_selected(ssl, &p, &n);
	snprintf(cl->alpn_got, sizeof(cl->alpn_got), "%.*s", (int)n, n ? (const char *)p : "");
	cl->connected = true;
	return true;
}

static void ssl_send(SSL *ssl, const char *str)
{
	int n = (int)strlen(str);
	test_assert(SSL_write(ssl, str, n) == n);
}

/* Reads until `want` has arrived (or EOF / error). */
static void ssl_expect(struct client *cl, SSL *ssl, const char *want)
{
	char tmp[16384];
	while (cl->rx.len < strlen(want) || strstr(cl->rx.data, want) == NULL) {
		int n = SSL_read(ssl, tmp, sizeof(tmp));
		if (n <= 0) {
			cl->rx_eof = true;
			return;
		}
		buf_append(&cl->rx, tmp, (size_t)n);
	}
}

static void ssl_drain(struct client *cl, SSL *ssl)
{
	char tmp[16384];
	int n;
	while ((n = SSL_read(ssl, tmp, sizeof(tmp))) > 0)
		buf_append(&cl->rx, tmp, (size_t)n);
	cl->rx_eof = true;
}

static void script_echo(struct client *cl, SSL *ssl)
{
	ssl_send(ssl, "hello\r\n");
	ssl_expect(cl, ssl, "+hello\r\n");
	ssl_send(ssl, "QUIT\r\n");
	ssl_expect(cl, ssl, "+BYE\r\n");
	ssl_drain(cl, ssl);
}

static void script_pipelined(struct client *cl, SSL *ssl)
{
	struct buf out = {0};
	for (int i = 0; i < 50; i++)
		buf_printf(&out, "line %02d\r\n", i);
	buf_append_str(&out, "QUIT\r\n");
	test_assert(SSL_write(ssl, out.data, (int)out.len) == (int)out.len);
	buf_free(&out);
	ssl_expect(cl, ssl, "+BYE\r\n");
	ssl_drain(cl, ssl);
}

static void script_starttls(struct client *cl, SSL *ssl)
{
	char line[64];
	size_t n = 0;
	const char *inject = "STLS\r\nUSER evil\r\n";

	/* both commands in one segment, the classic injection */
	test_assert(write(cl->fd, inject, strlen(inject)) == (ssize_t)strlen(inject));
	while (n < sizeof(line) - 1 && read(cl->fd, line + n, 1) == 1)
		if (line[n++] == '\n')
			break;
	line[n] = '\0';
	test_assert_str(line, "+OK Begin TLS\r\n");
	if (!client_connect(cl, ssl))
		return;
	ssl_send(ssl, "CAPA\r\n");
	ssl_expect(cl, ssl, "+CAPA\r\n");
	ssl_send(ssl, "QUIT\r\n");
	ssl_expect(cl, ssl, "+BYE\r\n");
	ssl_drain(cl, ssl);
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	SSL *ssl = client_ssl(cl);

	if (strcmp(cl->script, "starttls") == 0) {
		script_starttls(cl, ssl);
	} else if (strcmp(cl->script, "silent") == 0) {
		char tmp[256];
		while (read(cl->fd, tmp, sizeof(tmp)) > 0) /* until the server gives up */
			;
	} else if (strcmp(cl->script, "garbage") == 0) {
		const char *g = "GET / HTTP/1.0\r\n\r\n";
		char tmp[256];
		test_assert(write(cl->fd, g, strlen(g)) == (ssize_t)strlen(g));
		while (read(cl->fd, tmp, sizeof(tmp)) > 0)
			;
	} else if (client_connect(cl, ssl)) {
		if (strcmp(cl->script, "echo") == 0) {
			script_echo(cl, ssl);
		} else if (strcmp(cl->script, "big") == 0) {
			ssl_send(ssl, "BIG\r\n");
			ssl_drain(cl, ssl);
		} else if (strcmp(cl->script, "pipelined") == 0) {
			script_pipelined(cl, ssl);
		}
	}
	SSL_free(ssl);
	shutdown(cl->fd, SHUT_RDWR);
	atomic_store(&cl->s->client_done, true);
	loop_wake(cl->s->loop);
	return NULL;
}

/* Runs one scenario: a conn whose port speaks `alpn` (implicit TLS unless starttls) against
   a client thread. */
static void run_case(struct sess *s, struct client *cl, const char *alpn, bool implicit,
		     size_t input_max)
{
	int sv[2];
	pthread_t t;

	memset(s, 0, sizeof(*s));
	s->loop = loop_new();
	s->mgr = conn_mgr_new(s->loop, server_tls);
	conn_mgr_set_timeouts(s->mgr, 1, 0);
	loop_before_sleep(s->loop, check_done, s);
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s->c = conn_new(s->mgr, sv[0], NULL, "test", alpn);
	conn_set_events(s->c, &events, s);
	if (input_max != 0)
		conn_set_input_max(s->c, input_max);
	if (implicit)
		test_assert(conn_tls_accept(s->c) == 0);
	cl->fd = sv[1];
	cl->s = s;
	test_assert(pthread_create(&t, NULL, client_main, cl) == 0);
	struct timer *g = loop_timer_add(s->loop, 15000, guard_cb, s);
	loop_run(s->loop);
	if (!s->timed_out)
		loop_timer_del(s->loop, &g);
	test_assert(!s->timed_out);
	pthread_join(t, NULL);
	close(sv[1]);
	conn_mgr_free(&s->mgr);
	loop_free(&s->loop);
}

static void case_free(struct sess *s, struct client *cl)
{
	buf_free(&s->got);
	buf_free(&cl->rx);
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_selfsigned(void)
{
	test_begin("tls_selfsigned_ensure makes a 10-year cert for the hostname");
	char *err = NULL;
	struct stat st1, st2, dst;

	tmpdir = test_tmpdir();
	cert_file = xasprintf("%s/data/tls/cert.pem", tmpdir);
	key_file = xasprintf("%s/data/tls/key.pem", tmpdir);
	test_assert(tls_selfsigned_ensure(HOST, cert_file, key_file, &err) == 0);
	test_assert(stat(key_file, &st1) == 0 && (st1.st_mode & 0777) == 0600);
	char *dir = xasprintf("%s/data/tls", tmpdir);
	test_assert(stat(dir, &dst) == 0 && (dst.st_mode & 0777) == 0700);
	free(dir);

	FILE *f = fopen(cert_file, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f != NULL)
		fclose(f);
	test_assert(x != NULL);
	if (x != NULL) {
		int days = 0, secs = 0;
		test_assert(X509_check_host(x, HOST, 0, 0, NULL) == 1);
		test_assert(X509_check_host(x, "other.example.test", 0, 0, NULL) != 1);
		ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x));
		test_assert(days > 9 * 365 && days <= 3651);
		const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
		test_assert(serial->type == V_ASN1_INTEGER && serial->length >= 8);
		X509_free(x);
	}
	/* both exist: untouched */
	test_assert(tls_selfsigned_ensure(HOST, cert_file, key_file, &err) == 0);
	test_assert(stat(key_file, &st2) == 0 && st2.st_ino == st1.st_ino &&
		    st2.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
	test_end();
}

static void test_ctx_errors(void)
{
	test_begin("tls_ctx_new refuses missing files and a mismatched key");
	char *err = NULL;
	char *missing = xasprintf("%s/nope.pem", tmpdir);
	char *c2 = xasprintf("%s/other/cert.pem", tmpdir);
	char *k2 = xasprintf("%s/other/key.pem", tmpdir);
	struct tls_ctx *ctx = NULL;

	test_assert(tls_ctx_new(missing, key_file, &ctx, &err) == -1);
	test_assert(err != NULL && strstr(err, "nope.pem") != NULL);
	printf("# %s\n", err);
	free(err);
	err = NULL;
	test_assert(tls_selfsigned_ensure("other.example.test", c2, k2, &err) == 0);
	test_assert(tls_ctx_new(cert_file, k2, &ctx, &err) == -1);
	test_assert(err != NULL && strstr(err, "does not match") != NULL);
	printf("# %s\n", err != NULL ? err : "(null)");
	free(err);
	err = NULL;
	test_assert(tls_ctx_new(cert_file, key_file, &server_tls, &err) == 0);
	tls_ctx_free(&ctx); /* accepts NULL */
	free(missing);
	free(c2);
	free(k2);
	test_end();
}

static void test_implicit_alpn_pop3(void)
{
	test_begin("tls implicit handshake with ALPN pop3, then lines");
	struct sess s;
	struct client cl = {.alpn = "pop3", .script = "echo"};
	run_case(&s, &cl, "pop3", true, 0);
	test_assert(cl.connected);
	test_assert_str(cl.alpn_got, "pop3");
	test_assert_str(s.alpn, "pop3");
	test_assert(s.tls_ready == 1);
	test_assert_str(cl.rx.data, "+hello\r\n+BYE\r\n");
	test_assert(cl.rx_eof);
	test_assert_str(s.reason, "quit");
	case_free(&s, &cl);
	test_end();
}

static void test_implicit_no_alpn(void)
{
	test_begin("tls implicit handshake without ALPN is accepted");
	struct sess s;
	struct client cl = {.script = "echo"};
	run_case(&s, &cl, "pop3", true, 0);
	test_assert(cl.connected);
	test_assert_str(cl.alpn_got, "");
	test_assert_str(cl.rx.data, "+hello\r\n+BYE\r\n");
	case_free(&s, &cl);
	test_end();
}

static void expect_refused(const char *port_alpn, const char *alpn)
{
	struct sess s;
	struct client cl = {.alpn = alpn, .script = "echo"};
	run_case(&s, &cl, port_alpn, true, 0);
	test_assert(!cl.connected);
	test_assert(strstr(cl.err, "no application protocol") != NULL);
	test_assert(s.tls_ready == 0);
	test_assert(s.closed == 1);
	test_assert(strncmp(s.reason, "tls handshake failed", 20) == 0);
	case_free(&s, &cl);
}

static void test_alpn_refused(void)
{
	test_begin("tls ALPN of another protocol is refused (ALPACA)");
	expect_refused("pop3", "http/1.1");
	expect_refused("pop3", "smtp");
	expect_refused("smtp", "pop3");
	test_end();
}

static void test_alpn_smtp(void)
{
	test_begin("tls ALPN smtp is accepted on an SMTP port");
	struct sess s;
	struct client cl = {.alpn = "smtp", .script = "echo"};
	run_case(&s, &cl, "smtp", true, 0);
	test_assert(cl.connected);
	test_assert_str(cl.alpn_got, "smtp");
	case_free(&s, &cl);
	test_end();
}

static void test_old_tls_refused(void)
{
	test_begin("tls 1.1 is refused");
	struct sess s;
	struct client cl = {.script = "echo", .max_version = TLS1_1_VERSION};
	run_case(&s, &cl, "pop3", true, 0);
	test_assert(!cl.connected);
	test_assert(s.closed == 1 && strncmp(s.reason, "tls handshake failed", 20) == 0);
	case_free(&s, &cl);
	test_end();
}

static void test_garbage(void)
{
	test_begin("tls plaintext on an implicit-TLS port fails the handshake");
	struct sess s;
	struct client cl = {.script = "garbage"};
	run_case(&s, &cl, "pop3", true, 0);
	test_assert(s.closed == 1 && strncmp(s.reason, "tls handshake failed", 20) == 0);
	test_assert(s.got.len == 0);
	case_free(&s, &cl);
	test_end();
}

static void test_handshake_timeout(void)
{
	test_begin("tls a client that never starts the handshake is dropped");
	struct sess s;
	struct client cl = {.script = "silent"};
	run_case(&s, &cl, "pop3", true, 0);
	test_assert(s.closed == 1);
	test_assert_str(s.reason, "tls handshake timeout");
	case_free(&s, &cl);
	test_end();
}

static void test_starttls_injection(void)
{
	test_begin("tls STARTTLS discards bytes pipelined after the command");
	struct sess s;
	struct client cl = {.alpn = "pop3", .script = "starttls"};
	run_case(&s, &cl, "pop3", false, 0);
	test_assert(cl.connected);
	test_assert(s.tls_ready == 1);
	test_assert(s.was_tls_at_capa);
	test_assert_str(s.got.data, "STLS\nCAPA\nQUIT\n"); /* never "USER evil" */
	test_assert_str(cl.rx.data, "+CAPA\r\n+BYE\r\n");
	case_free(&s, &cl);
	test_end();
}

static void test_big(void)
{
	test_begin("tls 1 MiB reply, then close_notify");
	struct sess s;
	struct client cl = {.script = "big"};
	run_case(&s, &cl, "pop3", true, 0);
	test_assert(cl.rx.len == 1 << 20);
	bool same = cl.rx.len == 1 << 20;
	for (size_t i = 0; same && i < cl.rx.len; i++)
		same = cl.rx.data[i] == (char)('a' + i % 26);
	test_assert(same);
	test_assert_str(s.reason, "big done");
	case_free(&s, &cl);
	test_end();
}

static void test_pending(void)
{
	test_begin("tls plaintext left inside OpenSSL is still delivered");
	struct sess s;
	struct client cl = {.script = "pipelined"};
	struct buf want = {0};

	run_case(&s, &cl, "pop3", true, 16);
	for (int i = 0; i < 50; i++)
		buf_printf(&want, "+line %02d\r\n", i);
	buf_append_str(&want, "+BYE\r\n");
	test_assert_str(cl.rx.data, want.data);
	buf_free(&want);
	case_free(&s, &cl);
	test_end();
}

/* --- client certificates ------------------------------------------------------------- */

struct cert_spec {
	const char *cn, *san_email, *subject_email;
	X509 *issuer;
	EVP_PKEY *issuer_key; /* NULL: self-signed */
	bool ca;
	long from_days, to_days;
};

static X509 *make_cert(EVP_PKEY *key, const struct cert_spec *cs)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	X509V3_CTX v3;
	static long serial = 100;

	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_set_version(x, X509_VERSION_3);
	X509_time_adj_ex(X509_getm_notBefore(x), (int)cs->from_days, 0, NULL);
	X509_time_adj_ex(X509_getm_notAfter(x), (int)cs->to_days, 0, NULL);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cs->cn, -1, -1,
				   0);
	if (cs->subject_email != NULL)
		X509_NAME_add_entry_by_NID(name, NID_pkcs9_emailAddress, MBSTRING_ASC,
					   (const unsigned char *)cs->subject_email, -1, -1, 0);
	X509_set_issuer_name(x, cs->issuer != NULL ? X509_get_subject_name(cs->issuer) : name);
	X509V3_set_ctx(&v3, cs->issuer != NULL ? cs->issuer : x, x, NULL, NULL, 0);
	char san[128];
	snprintf(san, sizeof(san), "email:%s", cs->san_email != NULL ? cs->san_email : "");
	const char *exts[][2] = {
	    {"basicConstraints", cs->ca ? "critical,CA:TRUE" : "CA:FALSE"},
	    {"keyUsage", cs->ca ? "critical,keyCertSign,cRLSign" : "digitalSignature"},
	    {"extendedKeyUsage", cs->ca ? NULL : "clientAuth"},
	    {"subjectAltName", cs->san_email != NULL ? san : NULL},
	};
	for (size_t i = 0; i < N_ELEMENTS(exts); i++) {
		if (exts[i][1] == NULL)
			continue;
		X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		test_assert(e != NULL && X509_add_ext(x, e, -1) == 1);
		X509_EXTENSION_free(e);
	}
	test_assert(X509_sign(x, cs->issuer_key != NULL ? cs->issuer_key : key, EVP_sha256()) > 0);
	return x;
}

static void check_map(X509 *x, enum tls_cert_map map, const char *domain, const char *want)
{
	char *got = tls_cert_address(x, map, domain);
	if (want == NULL)
		test_assert(got == NULL);
	else
		test_assert_str(got != NULL ? got : "(null)", want);
	free(got);
}

static void test_cert_map(void)
{
	test_begin("tls client certificate names: SAN e-mail, emailAddress, CN + domain");
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct cert_spec both = {.cn = "Alice",
				 .san_email = "alice@example.test",
				 .subject_email = "old@example.test",
				 .to_days = 1};
	struct cert_spec legacy = {
	    .cn = "carol", .subject_email = "carol@example.test", .to_days = 1};
	struct cert_spec cn_only = {.cn = "bob", .to_days = 1};
	struct cert_spec cn_addr = {.cn = "dave@example.test", .to_days = 1};
	struct cert_spec cn_space = {.cn = "Bob Smith", .to_days = 1};
	X509 *x;

	x = make_cert(k, &both);
	check_map(x, CERT_MAP_EMAIL, NULL, "alice@example.test");
	check_map(x, CERT_MAP_CN, "example.test", "Alice@example.test");
	X509_free(x);
	x = make_cert(k, &legacy);
	check_map(x, CERT_MAP_EMAIL, NULL, "carol@example.test");
	X509_free(x);
	x = make_cert(k, &cn_only);
	check_map(x, CERT_MAP_EMAIL, NULL, NULL);
	check_map(x, CERT_MAP_CN, "example.test", "bob@example.test");
	check_map(x, CERT_MAP_CN, "", NULL); /* no domain: no address */
	X509_free(x);
	x = make_cert(k, &cn_addr);
	check_map(x, CERT_MAP_CN, "other.test", "dave@example.test");
	X509_free(x);
	x = make_cert(k, &cn_space);
	check_map(x, CERT_MAP_CN, "example.test", NULL);
	X509_free(x);
	EVP_PKEY_free(k);
	test_end();
}

static void write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");
	test_assert(f != NULL && PEM_write_X509(f, x) == 1);
	if (f != NULL)
		fclose(f);
}

/* One implicit-TLS echo session against a server that asks for client
   certificates; returns what conn_tls_identity() said ("" for NULL). */
static void client_cert_case(struct tls_ctx *ctx, X509 *cert, EVP_PKEY *key, const char *want)
{
	struct tls_ctx *saved = server_tls;
	struct sess s;
	struct client cl = {.script = "echo", .cert = cert, .key = key};

	server_tls = ctx;
	run_case(&s, &cl, "pop3", true, 0);
	server_tls = saved;
	test_assert(cl.connected); /* a certificate never fails the handshake */
	test_assert(s.tls_ready == 1);
	test_assert_str(cl.rx.data, "+hello\r\n+BYE\r\n");
	test_assert_str(s.identity, want);
	case_free(&s, &cl);
}

static void test_client_certs(void)
{
	test_begin("tls client certificates: verified gives an identity, others none");
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
	EVP_PKEY *k = EVP_EC_gen("P-256");
	struct cert_spec ca_spec = {.cn = "Test CA", .ca = true, .to_days = 2};
	struct cert_spec other_spec = {.cn = "Other CA", .ca = true, .to_days = 2};
	X509 *ca = make_cert(ca_key, &ca_spec), *other = make_cert(other_key, &other_spec);
	struct cert_spec alice_spec = {.cn = "Alice",
				       .san_email = "alice@example.test",
				       .issuer = ca,
				       .issuer_key = ca_key,
				       .to_days = 1};
	struct cert_spec expired_spec = alice_spec, foreign_spec = alice_spec;
	expired_spec.from_days = -3, expired_spec.to_days = -1;
	foreign_spec.issuer = other, foreign_spec.issuer_key = other_key;
	X509 *alice = make_cert(k, &alice_spec), *expired = make_cert(k, &expired_spec);
	X509 *foreign = make_cert(k, &foreign_spec);
	struct config cfg = {.tls_client_cert_map = CERT_MAP_EMAIL};
	struct tls_ctx *ctx = NULL;
	char *err = NULL;

	cfg.tls_client_ca = xasprintf("%s/client-ca.pem", tmpdir);
	write_cert(cfg.tls_client_ca, ca);
	test_assert(tls_ctx_new(cert_file, key_file, &ctx, &err) == 0);
	test_assert(tls_ctx_client_auth(ctx, &cfg, &err) == 0);
	client_cert_case(ctx, alice, k, "alice@example.test");
	client_cert_case(ctx, NULL, NULL, "");
	client_cert_case(ctx, expired, k, "");
	client_cert_case(ctx, foreign, k, "");
	client_cert_case(server_tls, alice, k, ""); /* no client_ca: never asked */
	tls_ctx_free(&ctx);

	/* a missing CA file stops the start */
	free(cfg.tls_client_ca);
	cfg.tls_client_ca = xasprintf("%s/nope-ca.pem", tmpdir);
	test_assert(tls_ctx_new(cert_file, key_file, &ctx, &err) == 0);
	test_assert(tls_ctx_client_auth(ctx, &cfg, &err) == -1);
	test_assert(err != NULL && strstr(err, "nope-ca.pem") != NULL);
	free(err);
	tls_ctx_free(&ctx);
	free(cfg.tls_client_ca);
	X509_free(alice);
	X509_free(expired);
	X509_free(foreign);
	X509_free(ca);
	X509_free(other);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	test_end();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_cleanup(void)
{
	test_begin("tls cleanup");
	tls_ctx_free(&server_tls);
	test_assert(server_tls == NULL);
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(tmpdir);
	free(cert_file);
	free(key_file);
	test_end();
}

int main(void)
{
	alarm(110);
	return test_run((void (*[])(void)){
	    test_selfsigned, test_ctx_errors, test_implicit_alpn_pop3, test_implicit_no_alpn,
	    test_alpn_refused, test_alpn_smtp, test_old_tls_refused, test_garbage,
	    test_handshake_timeout, test_starttls_injection, test_big, test_pending, test_cert_map,
	    test_client_certs, test_cleanup, NULL});
}
