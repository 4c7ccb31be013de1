/* SPDX-License-Identifier: MIT */
/*
 * test_migrate_pop3.c - the pop3 import source (migrate/mig_pop3.h): its
 * URLs, the reader of server answers (status lines, multi-line answers
 * with the stuffing undone, fed whole and one octet at a time, bounds),
 * UIDL and LIST lines, the arrival time from Received, a plain server
 * without STLS, which must never see a user name or password, and a
 * scripted TLS server: SASL PLAIN when offered, USER/PASS when not, a
 * server without UIDL refused, messages the mailbox holds never fetched,
 * no DELE ever, QUIT at the end.
 */
#include "migrate/mig_pop3.h"
#include "migrate/migrate.h"
#include "test_common.h"
#include "tls/tls.h"

#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void test_url(void)
{
	struct mig_pop3_url u;
	char err[256];

	test_begin("pop3 URL");
	test_assert(mig_pop3_url_parse("pop3s://alice@mail.example.com", &u, err, sizeof(err)) ==
		    0);
	test_assert_str(u.user, "alice");
	test_assert_str(u.host, "mail.example.com");
	test_assert(u.port == 995 && u.implicit_tls);
	test_assert(mig_pop3_url_parse("pop3://bob%40example.org@10.0.0.1:1110/", &u, err,
				       sizeof(err)) == 0);
	test_assert_str(u.user, "bob@example.org");
	test_assert_str(u.host, "10.0.0.1");
	test_assert(u.port == 1110 && !u.implicit_tls);
	test_assert(mig_pop3_url_parse("POP3://a@[::1]", &u, err, sizeof(err)) == 0);
	test_assert_str(u.host, "::1");
	test_assert(u.port == 110);
	test_assert(mig_pop3_url_parse("pop3s://a@b@host:2995", &u, err, sizeof(err)) == 0);
	test_assert_str(u.user, "a@b");
	test_assert(u.port == 2995);

	static const char *const bad[] = {
	    "imap://a@host",
	    "pop3s://host",
	    "pop3s://@host",
	    "pop3s://a:pw@host",
	    "pop3s://a@",
	    "pop3s://a@host:0",
	    "pop3s://a@host:65536",
	    "pop3s://a@host:x",
	    "pop3s://a@host/inbox",
	    "pop3s://a%4@host",
	    "pop3s://a%0d%0aDELE@host",
	    "pop3s://a b@host",
	    "pop3s://a@[::1",
	    "pop3s://a@ho st",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		test_assert(mig_pop3_url_parse(bad[i], &u, err, sizeof(err)) < 0);
		test_assert(err[0] != '\0');
	}
	mig_pop3_url_parse("pop3s://a:secret@host", &u, err, sizeof(err));
	test_assert(strstr(err, "--password-stdin") != NULL);
	test_end();
}

struct feed {
	const char *p;
	size_t len, off, chunk;
};

static ssize_t feed_read(void *ctx, void *dst, size_t len)
{
	struct feed *f = ctx;
	size_t n = f->len - f->off;
	if (n > f->chunk)
		n = f->chunk;
	if (n > len)
		n = len;
	memcpy(dst, f->p + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

/* The status and then the multi-line body of s, read in chunks. */
static int read_answer(const char *s, size_t chunk, char *text, size_t text_len, struct buf *body,
		       size_t line_max, size_t max, int *multi_r)
{
	static struct mig_pop3_in in;
	struct feed f = {s, strlen(s), 0, chunk};

	mig_pop3_in_init(&in, feed_read, &f);
	int st = mig_pop3_status(&in, text, text_len);
	*multi_r = st == MIG_POP3_OK ? mig_pop3_multiline(&in, body, line_max, max) : st;
	return st;
}

static void test_reader(void)
{
	struct {
		const char *in, *text, *body;
		int status, multi;
	} cases[] = {
	    {"+OK 2 messages\r\n1 a\r\n2 b\r\n.\r\n", "2 messages", "1 a\r\n2 b\r\n", 0, 0},
	    {"+OK\r\n.\r\n", "", "", 0, 0},
	    {"+OK\r\n..\r\n...x\r\n.a.\r\nb..\r\n.\r\n", "", ".\r\n..x\r\na.\r\nb..\r\n", 0, 0},
	    /* a line that is "." followed by CR and more is stuffed, not the end */
	    {"+OK\r\n.\rz\r\n.\r\n", "", "\rz\r\n", 0, 0},
	    {"-ERR [AUTH] no\r\n", "[AUTH] no", NULL, 1, 1},
	    {"-ERR\r\n", "", NULL, 1, 1},
	    {"+ \r\n", "", NULL, 2, 2},
	    {"+OKAY\r\n", NULL, NULL, MIG_POP3_BAD, MIG_POP3_BAD},
	    {"* OK imap\r\n", NULL, NULL, MIG_POP3_BAD, MIG_POP3_BAD},
	    {"+OK ctl\x1b[2J\r\n.\r\n", "ctl?[2J", "", 0, 0},
	    {"+OK\r\nline\r\n", "", NULL, 0, MIG_POP3_EOF},
	    {"+OK\r\n.", "", NULL, 0, MIG_POP3_EOF},
	    {"+OK", NULL, NULL, MIG_POP3_EOF, MIG_POP3_EOF},
	};
	char text[64];

	test_begin("pop3 answers, whole and octet by octet");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *in = cases[i].in;
		for (size_t chunk = 1; chunk <= 4096; chunk *= 4096) {
			struct buf body = {0};
			int multi;
			int st =
			    read_answer(in, chunk, text, sizeof(text), &body, 100, 1000, &multi);
			test_assert(st == cases[i].status);
			test_assert(multi == cases[i].multi);
			if (cases[i].text != NULL)
				test_assert_str(text, cases[i].text);
			if (cases[i].body != NULL) {
				test_assert(body.len == strlen(cases[i].body));
				test_assert(body.len == 0 ||
					    memcmp(body.data, cases[i].body, body.len) == 0);
			}
			buf_free(&body);
		}
	}
	/* octets as sent: 8-bit, a NUL, a bare CR inside a line, bare LF ends */
	static const char lit[] = "+OK\r\n\xc3\xa9t\xe9\r\na\0b\r\nx\ry\r\nlf\n.\n";
	static const char want[] = "\xc3\xa9t\xe9\r\na\0b\r\nx\ry\r\nlf\n";
	for (size_t chunk = 1; chunk <= 4096; chunk *= 4096) {
		static struct mig_pop3_in in;
		struct feed f = {lit, sizeof(lit) - 1, 0, chunk};
		struct buf body = {0};
		mig_pop3_in_init(&in, feed_read, &f);
		test_assert(mig_pop3_status(&in, text, sizeof(text)) == 0);
		test_assert(mig_pop3_multiline(&in, &body, 100, 1000) == 0);
		test_assert(body.len == sizeof(want) - 1);
		test_assert(body.len == sizeof(want) - 1 && memcmp(body.data, want, body.len) == 0);
		buf_free(&body);
	}
	test_end();
}

static void test_bounds(void)
{
	struct buf body = {0}, big = {0};
	char text[64];
	int multi;

	test_begin("pop3 answers over their bounds");
	/* a line of 11 octets where 10 are allowed, the dot of stuffing counted */
	read_answer("+OK\r\n123456789\r\n.\r\n", 3, text, sizeof(text), &body, 11, 100, &multi);
	test_assert(multi == MIG_POP3_OK);
	buf_clear(&body);
	read_answer("+OK\r\n1234567890\r\n.\r\n", 3, text, sizeof(text), &body, 11, 100, &multi);
	test_assert(multi == MIG_POP3_LONG);
	buf_clear(&body);
	read_answer("+OK\r\n..34567890\r\n.\r\n", 3, text, sizeof(text), &body, 11, 100, &multi);
	test_assert(multi == MIG_POP3_LONG);
	buf_clear(&body);
	/* the whole answer */
	read_answer("+OK\r\nab\r\ncd\r\n.\r\n", 2, text, sizeof(text), &body, 100, 7, &multi);
	test_assert(multi == MIG_POP3_BIG);
	test_assert(body.len <= 7);
	buf_clear(&body);
	read_answer("+OK\r\nab\r\ncd\r\n.\r\n", 2, text, sizeof(text), &body, 100, 8, &multi);
	test_assert(multi == MIG_POP3_OK && body.len == 8);
	/* a status line without end */
	buf_append_str(&big, "+OK ");
	for (int i = 0; i < MIG_POP3_STATUS_MAX; i++)
		buf_append_c(&big, 'x');
	buf_append_str(&big, "\r\n");
	int st = read_answer(big.data, 1000, text, sizeof(text), &body, 100, 100, &multi);
	test_assert(st == MIG_POP3_LONG);
	/* a long text is cut to the caller's buffer, still NUL-terminated */
	st = read_answer("+OK 0123456789abcdef\r\n.\r\n", 5, text, 8, &body, 100, 100, &multi);
	test_assert(st == MIG_POP3_OK);
	test_assert_str(text, "0123456");
	buf_free(&big);
	buf_free(&body);
	test_end();
}

static void test_listing_lines(void)
{
	char uidl[MIG_POP3_UIDL_MAX + 1], u70[80];
	uint64_t n, size;

	test_begin("pop3 UIDL and LIST lines");
	test_assert(mig_pop3_uidl_line("1 00000001575e9a2b", 18, &n, uidl));
	test_assert(n == 1);
	test_assert_str(uidl, "00000001575e9a2b");
	test_assert(mig_pop3_uidl_line("12  ab~!\r", 9, &n, uidl));
	test_assert(n == 12);
	test_assert_str(uidl, "ab~!");
	memset(u70, 'u', sizeof(u70));
	u70[0] = '9', u70[1] = ' ';
	test_assert(mig_pop3_uidl_line(u70, 72, &n, uidl));
	test_assert(strlen(uidl) == 70);
	test_assert(!mig_pop3_uidl_line(u70, 73, &n, uidl)); /* 71 octets */
	test_assert(!mig_pop3_uidl_line("1", 1, &n, uidl));
	test_assert(!mig_pop3_uidl_line("1 ", 2, &n, uidl));
	test_assert(!mig_pop3_uidl_line("0 a", 3, &n, uidl));
	test_assert(!mig_pop3_uidl_line("x a", 3, &n, uidl));
	test_assert(!mig_pop3_uidl_line("1 a b", 5, &n, uidl));
	test_assert(!mig_pop3_uidl_line("1 \xc3\xa9", 4, &n, uidl));
	test_assert(!mig_pop3_uidl_line("99999999999 a", 13, &n, uidl));
	test_assert(mig_pop3_list_line("3 1024", 6, &n, &size));
	test_assert(n == 3 && size == 1024);
	test_assert(mig_pop3_list_line("3 1024 extra", 12, &n, &size));
	test_assert(!mig_pop3_list_line("3 -1", 4, &n, &size));
	test_assert(!mig_pop3_list_line("3", 1, &n, &size));
	test_end();
}

static void test_received(void)
{
	static const char m1[] =
	    "Received: from a by b;\r\n\tWed, 2 Dec 2026 04:10:00 +0100\r\n"
	    "Received: from c by d; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	    "Subject: x\r\n\r\nReceived: in the body; 1 Jan 2000 00:00 +0000\r\n";
	static const char m2[] = "Subject: x\r\n\r\nReceived: x; 1 Jan 2000 00:00:00 +0000\r\n";
	static const char m3[] = "received: by x; 5 Mar 2024 12:30 -0230\r\n\r\n";
	static const char m4[] = "Received: by x; garbage\r\n\r\n";

	test_begin("pop3 arrival time from Received");
	/* 2026-12-02 03:10:00 UTC */
	test_assert(mig_pop3_received(m1, sizeof(m1) - 1) == 1796181000);
	test_assert(mig_pop3_received(m2, sizeof(m2) - 1) == 0);
	/* 2024-03-05 15:00 UTC */
	test_assert(mig_pop3_received(m3, sizeof(m3) - 1) == 1709650800);
	test_assert(mig_pop3_received(m4, sizeof(m4) - 1) == 0);
	test_assert(mig_pop3_received("", 0) == 0);
	test_end();
}

/* --- a plain server without STLS ------------------------------------------------- */

struct plain_server {
	int lfd;
	char got[4096];
	size_t got_len;
};

static void *plain_serve(void *arg)
{
	struct plain_server *ps = arg;
	int fd = accept(ps->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	static const char greet[] = "+OK ready\r\n", capa[] = "+OK\r\nUSER\r\nUIDL\r\n.\r\n",
			  any[] = "-ERR no\r\n";
	(void)!write(fd, greet, sizeof(greet) - 1);
	for (int turns = 0; turns < 8; turns++) {
		ssize_t n = read(fd, ps->got + ps->got_len, sizeof(ps->got) - 1 - ps->got_len);
		if (n <= 0)
			break;
		ps->got_len += (size_t)n;
		ps->got[ps->got_len] = '\0';
		if (strncmp(ps->got + ps->got_len - (size_t)n, "CAPA", 4) == 0)
			(void)!write(fd, capa, sizeof(capa) - 1);
		else
			(void)!write(fd, any, sizeof(any) - 1);
	}
	close(fd);
	return NULL;
}

static void test_no_stls(void)
{
	struct plain_server ps = {0};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	struct migrate_options o = {.password = "secret-pw"};
	struct migrate_source *src = NULL;
	char url[128], err[512] = "";
	pthread_t t;

	test_begin("pop3 without STLS: no credentials sent");
	ps.lfd = socket(AF_INET, SOCK_STREAM, 0);
	test_assert(bind(ps.lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	test_assert(listen(ps.lfd, 1) == 0);
	getsockname(ps.lfd, (struct sockaddr *)&sa, &sl);
	pthread_create(&t, NULL, plain_serve, &ps);
	snprintf(url, sizeof(url), "pop3://alice@127.0.0.1:%u", ntohs(sa.sin_port));
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) < 0);
	test_assert(src == NULL);
	test_assert(strstr(err, "STLS") != NULL);
	pthread_join(t, NULL);
	close(ps.lfd);
	test_assert(strstr(ps.got, "CAPA") != NULL);
	test_assert(strstr(ps.got, "alice") == NULL);
	test_assert(strstr(ps.got, "secret-pw") == NULL);
	test_assert(strstr(ps.got, "USER") == NULL && strstr(ps.got, "AUTH") == NULL);
	/* nothing listens: a clear error, no hang */
	err[0] = '\0';
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) < 0);
	test_assert(strstr(err, "connect") != NULL);
	test_end();
}

/* --- a scripted TLS server ------------------------------------------------------- */

struct tls_server {
	int lfd;
	unsigned port;
	SSL_CTX *ctx;
	const char *capa, *uidl; /* the answers to CAPA and UIDL */
	bool close_after_list;	 /* then the connection is closed */
	char got[8192];		 /* every command line received */
	size_t got_len;
};

static const char *const bodies[] = {"Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\n.two\r\n",
				     "Subject: 3\r\n\r\nthree\r\n"};

/* as they go on the wire (RFC 1939 §3: a line that starts with '.' gets one more) */
static const char *const stuffed[] = {"Subject: 1\r\n\r\none\r\n", "Subject: 2\r\n\r\n..two\r\n",
				      "Subject: 3\r\n\r\nthree\r\n"};

static void *tls_serve(void *arg)
{
	struct tls_server *ts = arg;
	int fd = accept(ts->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	SSL *ssl = SSL_new(ts->ctx);
	char line[1024];
	size_t n = 0;

	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1)
		goto out;
	SSL_write(ssl, "+OK hello\r\n", 11);
	for (int turns = 0; turns < 40;) {
		int r = SSL_read(ssl, line + n, 1);
		if (r <= 0)
			break;
		if (line[n] != '\n' && n + 1 < sizeof(line)) {
			n++;
			continue;
		}
		line[n + 1] = '\0';
		n = 0, turns++;
		if (ts->got_len + strlen(line) < sizeof(ts->got)) {
			memcpy(ts->got + ts->got_len, line, strlen(line) + 1);
			ts->got_len += strlen(line);
		}
		const char *a = "-ERR unknown\r\n";
		char retr[256];
		unsigned k;
		if (strncmp(line, "CAPA", 4) == 0)
			a = ts->capa;
		else if (strncmp(line, "AUTH PLAIN\r", 11) == 0)
			a = "+ \r\n";
		else if (strncmp(line, "AGFsaWNlAHB3\r", 13) == 0) /* \0alice\0pw */
			a = "+OK in\r\n";
		else if (strncmp(line, "USER alice\r", 11) == 0 ||
			 strncmp(line, "PASS pw\r", 8) == 0)
			a = "+OK\r\n";
		else if (strncmp(line, "STAT", 4) == 0)
			a = "+OK 3 60\r\n";
		else if (strncmp(line, "UIDL", 4) == 0)
			a = ts->uidl;
		else if (strncmp(line, "LIST", 4) == 0)
			a = "+OK\r\n1 20\r\n2 21\r\n3 22\r\n.\r\n";
		else if (sscanf(line, "RETR %u", &k) == 1 && k >= 1 && k <= 3) {
			snprintf(retr, sizeof(retr), "+OK\r\n%s.\r\n", stuffed[k - 1]);
			a = retr;
		} else if (strncmp(line, "QUIT", 4) == 0) {
			SSL_write(ssl, "+OK bye\r\n", 9);
			break;
		}
		SSL_write(ssl, a, (int)strlen(a));
		if (ts->close_after_list && strncmp(line, "LIST", 4) == 0)
			break;
	}
out:
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void tls_server_start(struct tls_server *ts, const char *dir, pthread_t *t)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	char cert[512], key[512], *err = NULL;

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	test_assert(tls_selfsigned_ensure("localhost", cert, key, &err) == 0);
	ts->ctx = SSL_CTX_new(TLS_server_method());
	test_assert(SSL_CTX_use_certificate_chain_file(ts->ctx, cert) == 1);
	test_assert(SSL_CTX_use_PrivateKey_file(ts->ctx, key, SSL_FILETYPE_PEM) == 1);
	ts->lfd = socket(AF_INET, SOCK_STREAM, 0);
	test_assert(bind(ts->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	test_assert(listen(ts->lfd, 1) == 0);
	getsockname(ts->lfd, (struct sockaddr *)&sa, &sl);
	/* a client that never comes (a failed test) must not hang the run */
	struct timeval tv = {.tv_sec = 10};
	setsockopt(ts->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ts->port = ntohs(sa.sin_port);
	pthread_create(t, NULL, tls_serve, ts);
}

static void tls_server_stop(struct tls_server *ts, pthread_t t)
{
	pthread_join(t, NULL);
	close(ts->lfd);
	SSL_CTX_free(ts->ctx);
}

static bool holds_uidl_b(void *ctx, const char *uidl)
{
	(*(int *)ctx)++;
	return strcmp(uidl, "u-two") == 0;
}

static void test_tls_session(void)
{
	char *dir = test_tmpdir(), url[128], err[512] = "", ca[512];
	int asked = 0;
	struct tls_server ts = {
	    .capa = "+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\nUIDL\r\nPIPELINING\r\n.\r\n",
	    .uidl = "+OK\r\n1 u-one\r\n2 u-two\r\n3 u-three\r\n.\r\n"};
	struct migrate_options o = {
	    .password = "pw", .has_uidl = holds_uidl_b, .has_uidl_ctx = &asked};
	struct migrate_source *src = NULL;
	struct migrate_msg m = {0};
	pthread_t t;

	test_begin("pop3 over TLS: SASL PLAIN, skipped UIDLs, no DELE");
	tls_server_start(&ts, dir, &t);
	/* the certificate names localhost: verified with it as the CA */
	snprintf(url, sizeof(url), "pop3s://alice@localhost:%u", ts.port);
	snprintf(ca, sizeof(ca), "%s/cert.pem", dir);
	o.ca_file = ca;
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) == 0);
	test_assert(migrate_pop3_ops.count(src) == 3);
	test_assert(migrate_pop3_ops.next(src, &m, err, sizeof(err)) == 1);
	test_assert_str(m.uidl, "u-one");
	test_assert(m.body.len == strlen(bodies[0]) &&
		    memcmp(m.body.data, bodies[0], m.body.len) == 0);
	test_assert(migrate_pop3_ops.next(src, &m, err, sizeof(err)) == 1);
	test_assert_str(m.uidl, "u-three");
	test_assert(m.body.len == strlen(bodies[2]) &&
		    memcmp(m.body.data, bodies[2], m.body.len) == 0);
	test_assert(migrate_pop3_ops.next(src, &m, err, sizeof(err)) == 0);
	migrate_pop3_ops.close(&src);
	tls_server_stop(&ts, t);
	test_assert(asked == 3);
	test_assert(strstr(ts.got, "AUTH PLAIN\r\n") != NULL && strstr(ts.got, "USER") == NULL);
	test_assert(strstr(ts.got, "RETR 1\r\n") != NULL && strstr(ts.got, "RETR 3\r\n") != NULL);
	test_assert(strstr(ts.got, "RETR 2") == NULL && strstr(ts.got, "DELE") == NULL);
	test_assert(strstr(ts.got, "QUIT\r\n") != NULL);
	buf_free(&m.body);
	test_end();

	test_begin("pop3 over TLS: USER/PASS, the stuffing undone");
	ts = (struct tls_server){.capa = "+OK\r\nUSER\r\n.\r\n",
				 .uidl = "+OK\r\n1 u-one\r\n2 u-two\r\n3 u-three\r\n.\r\n"};
	tls_server_start(&ts, dir, &t);
	snprintf(url, sizeof(url), "pop3s://alice@127.0.0.1:%u", ts.port);
	o = (struct migrate_options){.password = "pw", .insecure = true};
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) == 0);
	for (int i = 0; i < 3; i++) {
		test_assert(migrate_pop3_ops.next(src, &m, err, sizeof(err)) == 1);
		test_assert(m.body.len == strlen(bodies[i]) &&
			    memcmp(m.body.data, bodies[i], m.body.len) == 0);
	}
	migrate_pop3_ops.close(&src);
	tls_server_stop(&ts, t);
	test_assert(strstr(ts.got, "USER alice\r\nPASS pw\r\n") != NULL);
	test_assert(strstr(ts.got, "AUTH") == NULL && strstr(ts.got, "DELE") == NULL);
	buf_free(&m.body);
	test_end();

	test_begin("pop3 over TLS: the certificate checked, UIDL required");
	/* the CA holds, the name does not: 127.0.0.1 is not in the certificate */
	ts = (struct tls_server){.capa = "+OK\r\nUSER\r\n.\r\n", .uidl = "-ERR no UIDL here\r\n"};
	tls_server_start(&ts, dir, &t);
	o = (struct migrate_options){.password = "pw", .ca_file = ca};
	snprintf(url, sizeof(url), "pop3s://alice@127.0.0.1:%u", ts.port);
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) < 0);
	test_assert(strstr(err, "TLS handshake failed") != NULL);
	tls_server_stop(&ts, t);
	test_assert(ts.got_len == 0);
	tls_server_start(&ts, dir, &t);
	snprintf(url, sizeof(url), "pop3s://alice@localhost:%u", ts.port);
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) < 0);
	test_assert(strstr(err, "does not support UIDL") != NULL);
	tls_server_stop(&ts, t);
	/* a UIDL answer the RFC does not allow */
	ts.uidl = "+OK\r\n1 has space\r\n.\r\n";
	ts.got_len = 0;
	tls_server_start(&ts, dir, &t);
	snprintf(url, sizeof(url), "pop3s://alice@localhost:%u", ts.port);
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) < 0);
	test_assert(strstr(err, "malformed") != NULL);
	tls_server_stop(&ts, t);
	test_assert(strstr(ts.got, "QUIT") != NULL && strstr(ts.got, "RETR") == NULL);
	test_end();

	/* pipelined RETRs into a closed connection: an error naming RETR, the
	   process alive (SIGPIPE is held while the source writes) */
	test_begin("pop3 over TLS: a connection closed mid-session is an error");
	ts = (struct tls_server){.capa = "+OK\r\nUSER\r\nPIPELINING\r\n.\r\n",
				 .uidl = "+OK\r\n1 u-one\r\n2 u-two\r\n3 u-three\r\n.\r\n",
				 .close_after_list = true};
	tls_server_start(&ts, dir, &t);
	snprintf(url, sizeof(url), "pop3s://alice@localhost:%u", ts.port);
	test_assert(migrate_pop3_ops.open(url, &o, &src, err, sizeof(err)) == 0);
	tls_server_stop(&ts, t);
	usleep(100 * 1000); /* the close is in */
	test_assert(migrate_pop3_ops.next(src, &m, err, sizeof(err)) < 0);
	test_assert(strstr(err, "RETR") != NULL);
	migrate_pop3_ops.close(&src);
	buf_free(&m.body);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_url, test_reader, test_bounds, test_listing_lines,
					   test_received, test_no_stls, test_tls_session, NULL});
}
