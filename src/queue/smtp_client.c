/* SPDX-License-Identifier: MIT */
/* smtp_client.c - see smtp_client.h. */
#include "queue/smtp_client.h"
#include "filter/dkim.h"
#include "mime/mime.h"
#include "net/dial.h"
#include "proto/dotstuff.h"
#include "queue/smtp_reply.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

/* How the last read or write failed (the connection is unusable then). */
enum client_io { IO_OK, IO_LOST, IO_TIMEOUT, IO_MALFORMED };

struct client {
	struct dial d; /* every wait a poll() against the current deadline */
	SSL_CTX *ctx;
	char in[16384];
	size_t off, len;
	struct smtp_client_job *job;
	const char *body; /* what DATA sends: the job's, or its converted form */
	size_t body_len;
	struct buf converted;
	struct buf signed_; /* the DKIM-Signature fields, then body */
	bool used;	    /* a transaction ran: RSET before the next */
	bool tls_on;	    /* STARTTLS done */
	struct smtp_ehlo ehlo;
	unsigned quit_timeout; /* the open's command_timeout: close has no job */
	enum client_io io;
	enum smtp_reply_error bad; /* with IO_MALFORMED */
};

/* A failure of this message: code 4xx/5xx and text. Returns false. */
ATTR_FORMAT(3, 4) static bool fail(struct client *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->job->reply, sizeof(c->job->reply), fmt, ap);
	va_end(ap);
	c->job->code = code;
	return false;
}

/* The next reply (or write) must be complete within secs: a total, not a
   time per recv, so a next hop that drips octets cannot stretch it
   (RFC 5321 §4.5.3.2 gives these limits per command). */
static void deadline_in(struct client *c, unsigned secs)
{
	dial_deadline(&c->d, secs);
}

static bool io_failed(struct client *c, enum client_io why)
{
	if (c->io == IO_OK)
		c->io = why;
	if (why == IO_TIMEOUT && c->job != NULL)
		c->job->timed_out = true;
	return false;
}

/* The connection's failure (net/dial.h) as the conversation's. */
static bool dial_failed(struct client *c)
{
	return io_failed(c, c->d.io == DIAL_TIMEOUT ? IO_TIMEOUT : IO_LOST);
}

static ssize_t io_read(struct client *c, void *p, size_t n)
{
	if (c->io != IO_OK)
		return -1;
	ssize_t r = dial_read(&c->d, p, n);
	if (r <= 0) {
		dial_failed(c);
		return -1;
	}
	return r;
}

static bool io_write(struct client *c, const void *p, size_t n)
{
	return c->io == IO_OK && (dial_write(&c->d, p, n) || dial_failed(c));
}

/* Reads one whole reply before the deadline (queue/smtp_reply.h); returns
   its code, or 0 with c->io saying why. text gets "code text" of the last
   line; with ehlo, the lines after the first are read as EHLO keywords. */
static int read_reply(struct client *c, char *text, size_t cap, bool ehlo)
{
	struct smtp_reply r;

	smtp_reply_init(&r);
	for (;;) {
		if (c->off == c->len) {
			ssize_t n = io_read(c, c->in, sizeof(c->in));
			if (n <= 0)
				return 0;
			c->off = 0;
			c->len = (size_t)n;
		}
		size_t used;
		enum smtp_reply_status st =
		    smtp_reply_feed(&r, c->in + c->off, c->len - c->off, &used);
		c->off += used;
		if (st == SMTP_REPLY_BAD) {
			c->bad = r.error;
			return io_failed(c, IO_MALFORMED);
		}
		if (st == SMTP_REPLY_MORE)
			continue;
		if (ehlo && r.lines > 1)
			smtp_ehlo_line(&c->ehlo, r.text, r.text_len);
		if (st == SMTP_REPLY_DONE) {
			if (text != NULL)
				snprintf(text, cap, "%d%s%.*s", r.code, r.text_len > 0 ? " " : "",
					 (int)(cap > 8 ? cap - 8 : 0), r.text);
			return r.code;
		}
	}
}

/* Why the conversation with the next hop ended while sending something or
   waiting for the reply to `what` (NULL: the greeting); a temporary
   failure either way (RFC 5321 §4.5.3.2, §4.2.4). Returns false. */
static bool fail_io(struct client *c, bool sending, const char *what)
{
	struct smtp_client_job *j = c->job;
	char phase[64];

	if (sending)
		snprintf(phase, sizeof(phase), "sending %s", what);
	else if (what == NULL)
		snprintf(phase, sizeof(phase), "waiting for the greeting");
	else
		snprintf(phase, sizeof(phase), "waiting for the reply to %s", what);
	switch (c->io) {
	case IO_TIMEOUT:
		return fail(c, 451, "4.4.2 conversation with %.200s timed out after %us %s",
			    j->host, c->d.secs, phase);
	case IO_MALFORMED:
		return fail(c, 451, "4.5.0 %.200s sent a malformed reply (%s) %s", j->host,
			    smtp_reply_error_text(c->bad), phase);
	case IO_LOST:
	case IO_OK:
		break;
	}
	return fail(c, 451, "4.4.2 %.200s: lost connection %s", j->host, phase);
}

/* One command line, then its reply within secs; 0 when the connection
   failed (c->io). */
ATTR_FORMAT(5, 6)
static int command(struct client *c, unsigned secs, char *text, size_t cap, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return 0;
	memcpy(line + n, "\r\n", 2);
	deadline_in(c, secs);
	if (!io_write(c, line, (size_t)n + 2))
		return 0;
	return read_reply(c, text, cap, false);
}

static int ehlo(struct client *c, char *text, size_t cap)
{
	struct smtp_client_job *j = c->job;
	char line[600];

	memset(&c->ehlo, 0, sizeof(c->ehlo));
	snprintf(line, sizeof(line), "EHLO %.500s\r\n", j->helo);
	deadline_in(c, j->command_timeout);
	if (!io_write(c, line, strlen(line)))
		return 0;
	int code = read_reply(c, text, cap, true);
	if (code >= 500 && code < 600) { /* RFC 5321 §3.2: fall back to HELO */
		memset(&c->ehlo, 0, sizeof(c->ehlo));
		code = command(c, j->command_timeout, text, cap, "HELO %.500s", j->helo);
	}
	return code;
}

static bool tcp_connect(struct client *c)
{
	struct smtp_client_job *j = c->job;

	deadline_in(c, j->connect_timeout);
	int e = dial_connect(&c->d, (struct sockaddr *)&j->addr, j->addr_len);
	if (e == 0)
		return true;
	dial_failed(c);
	if (c->io == IO_TIMEOUT)
		return fail(c, 451, "4.4.1 connect to %.200s: timed out", j->host);
	return fail(c, 451, "4.4.1 connect to %.200s: %s", j->host, strerror(e));
}

/* 1: TLS is on; 0: the next hop refused STARTTLS (the plain connection
   still works); -1: the connection is lost (job->code says why). */
/* DANE (RFC 7672 §3.1, §3.2): the job's TLSA records as the only trust;
   DANE-EE(3) without name checks, DANE-TA(2) with the host's name and the
   domain's */
static bool dane_setup(struct client *c, SSL *ssl)
{
	struct smtp_client_job *j = c->job;
	size_t usable = 0;

	j->dane_usage = -1;
	if (SSL_dane_enable(ssl, j->host) <= 0 ||
	    (j->dane_domain != NULL && SSL_add1_host(ssl, j->dane_domain) != 1)) {
		fail(c, 451, "4.7.5 TLS session (DANE)");
		return false;
	}
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	for (size_t i = 0; i < j->n_tlsa; i++) {
		const struct dns_record *r = &j->tlsa[i];
		usable += SSL_dane_tlsa_add(ssl, r->u.tlsa.usage, r->u.tlsa.selector,
					    r->u.tlsa.mtype, r->u.tlsa.data, r->u.tlsa.len) > 0;
	}
	if (usable == 0) {
		fail(c, 451, "4.7.5 no TLSA record of %.200s is usable", j->host);
		j->tls_failed = true;
		return false;
	}
	return true;
}

static int start_tls(struct client *c)
{
	struct smtp_client_job *j = c->job;
	char text[SMTP_CLIENT_REPLY_MAX];
	int code = command(c, j->command_timeout, text, sizeof(text), "STARTTLS");

	if (code == 0) {
		fail_io(c, false, "STARTTLS");
		return -1;
	}
	if (code != 220) {
		fail(c, 451, "4.7.5 STARTTLS refused by %.200s: %s", j->host, text);
		j->tls_failed = true;
		return 0;
	}
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		fail(c, 451, "4.7.5 TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	/* tls_check: the chain and name are checked all the same, and the
	   result only read after the handshake (SSL_VERIFY_NONE goes on);
	   DANE: the TLSA records instead of any CA (RFC 7672 §3.1) */
	bool dane = j->n_tlsa > 0;
	bool verify = j->tls == ROUTE_TLS_VERIFY && !dane,
	     check = (verify || j->tls_check) && !dane;
	if (dane && SSL_CTX_dane_enable(c->ctx) <= 0) {
		fail(c, 451, "4.7.5 TLS context (DANE)");
		return -1;
	}
	if (check) {
		if (j->ca_file != NULL)
			SSL_CTX_load_verify_locations(c->ctx, j->ca_file, NULL);
		else
			SSL_CTX_set_default_verify_paths(c->ctx);
	}
	SSL_CTX_set_verify(c->ctx, verify || dane ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	SSL *ssl = SSL_new(c->ctx);
	if (ssl == NULL) {
		fail(c, 451, "4.7.5 TLS session");
		return -1;
	}
	SSL_set_fd(ssl, c->d.fd);
	SSL_set_tlsext_host_name(ssl, j->host);
	if (check)
		SSL_set1_host(ssl, j->host);
	if (dane && !dane_setup(c, ssl)) {
		SSL_free(ssl);
		return -1;
	}
	c->off = c->len = 0;		    /* nothing read before the handshake survives it */
	deadline_in(c, j->command_timeout); /* the handshake as a whole */
	if (!dial_handshake(&c->d, ssl)) {
		long v = SSL_get_verify_result(ssl);
		dial_failed(c);
		if (c->io == IO_TIMEOUT)
			fail(c, 451, "4.4.2 TLS handshake with %.200s timed out after %us", j->host,
			     c->d.secs);
		else
			fail(c, 451, "4.7.5 TLS handshake with %.200s failed%s%s", j->host,
			     v != X509_V_OK ? ": " : "",
			     v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		j->tls_failed = c->io != IO_TIMEOUT;
		SSL_free(ssl);
		return -1;
	}
	long v = SSL_get_verify_result(ssl);
	uint8_t usage;
	if (dane && SSL_get0_dane_tlsa(ssl, &usage, NULL, NULL, NULL, NULL) >= 0)
		j->dane_usage = usage;
	if (j->tls_check && !verify && v != X509_V_OK)
		snprintf(j->tls_problem, sizeof(j->tls_problem), "certificate of %.100s: %s",
			 j->host, X509_verify_cert_error_string(v));
	j->tls_used = true;
	c->tls_on = true;
	return 1;
}

static bool auth_plain(struct client *c)
{
	struct smtp_client_job *j = c->job;
	struct buf raw = {0}, b64 = {0};
	char text[SMTP_CLIENT_REPLY_MAX];

	buf_append_c(&raw, '\0');
	buf_append_str(&raw, j->auth_user);
	buf_append_c(&raw, '\0');
	buf_append_str(&raw, j->auth_secret);
	base64_encode(&b64, raw.data, raw.len);
	buf_append_c(&b64, '\0');
	int code = command(c, j->command_timeout, text, sizeof(text), "AUTH PLAIN %s", b64.data);
	buf_free_secret(&raw);
	buf_free_secret(&b64);
	if (code == 235)
		return true;
	if (code == 0)
		return fail_io(c, false, "AUTH");
	return fail(c, code >= 500 ? 554 : 451, "%s AUTH at %.200s failed: %s",
		    code >= 500 ? "5.7.8" : "4.7.0", j->host, text);
}

/* The message, dot-stuffed by the shared filter (proto/dotstuff.h, RFC
   5321 §4.5.2), in blocks; each write has its own time limit. */
static bool send_body(struct client *c)
{
	enum { BLOCK = 65536 };
	struct dotstuff ds;
	struct buf out = {0};
	bool ok = true;

	dotstuff_init(&ds);
	for (size_t off = 0; ok && off < c->body_len; off += BLOCK) {
		size_t n = c->body_len - off < BLOCK ? c->body_len - off : BLOCK;
		dotstuff_feed(&ds, c->body + off, n, &out);
		deadline_in(c, c->job->data_xfer_timeout);
		ok = io_write(c, out.data, out.len);
		buf_clear(&out);
	}
	dotstuff_finish(&ds, &out);
	deadline_in(c, c->job->data_xfer_timeout);
	ok = ok && io_write(c, out.data, out.len);
	buf_free(&out);
	return ok;
}

/* Sends the next command line of *next (unless pipelining sent them all)
   and moves past it; the reply is due within secs of the write. */
static bool send_next(struct client *c, const char **next, bool pipelined, unsigned secs)
{
	const char *e = strstr(*next, "\r\n") + 2;
	deadline_in(c, secs); /* pipelined: its reply is due within secs from now */
	bool ok = pipelined || io_write(c, *next, (size_t)(e - *next));
	*next = e;
	return ok;
}

/* The job's DKIM signatures over the form about to be sent, prepended to it
   (c->body_len grows with them, and so does SIZE=). A key that cannot sign
   is skipped: signing never stops a delivery. */
static void sign_body(struct client *c)
{
	struct smtp_client_job *j = c->job;
	size_t o = 0;

	j->dkim_signed[0] = '\0';
	j->dkim_failed = false;
	buf_clear(&c->signed_);
	for (size_t i = 0; i < j->n_dkim_keys; i++) {
		const struct dkim_key *k = j->dkim_keys[i];
		char *field = dkim_sign(k, c->body, c->body_len, time(NULL));
		if (field == NULL) {
			j->dkim_failed = true;
			continue;
		}
		buf_append_str(&c->signed_, field);
		free(field);
		int n = snprintf(j->dkim_signed + o, sizeof(j->dkim_signed) - o, "%s%s/%s/%s",
				 o > 0 ? "," : "", dkim_key_domain(k), dkim_key_selector(k),
				 dkim_alg_name(dkim_key_alg(k)));
		if (n > 0 && (size_t)n < sizeof(j->dkim_signed) - o)
			o += (size_t)n;
	}
	if (c->signed_.len == 0)
		return;
	buf_append(&c->signed_, c->body, c->body_len);
	c->body = c->signed_.data;
	c->body_len = c->signed_.len;
}

/* The form of the message for this next hop (mime/mime.h): no 8-bit
   content without 8BITMIME (RFC 6152 §3), no line over 998 octets for
   anyone (RFC 5321 §4.5.3.1.6). False with the reason when impossible. */
static bool prepare_body(struct client *c)
{
	struct smtp_client_job *j = c->job;

	c->body = j->body;
	c->body_len = j->len;
	buf_clear(&c->converted);
	switch (mime_relay_form(j->body, j->len, !c->ehlo.eightbit, &c->converted)) {
	case MIME_RELAY_ASIS:
		sign_body(c);
		return true;
	case MIME_RELAY_CONVERTED:
		c->body = c->converted.data;
		c->body_len = c->converted.len;
		for (size_t i = 0; i < j->len && !c->ehlo.eightbit && !j->downgraded; i++)
			j->downgraded = (unsigned char)j->body[i] >= 0x80;
		j->reencoded = !j->downgraded; /* only long lines needed it */
		sign_body(c);
		return true;
	case MIME_RELAY_NO_8BIT:
		return fail(c, 554,
			    "5.6.3 %.200s does not accept 8-bit content (no 8BITMIME), "
			    "and this message cannot be converted to 7 bits",
			    j->host);
	case MIME_RELAY_LONG_LINE:
		break;
	}
	return fail(c, 554,
		    "5.6.3 the message has a line over 998 octets that cannot be encoded "
		    "(RFC 5321 4.5.3.1.6)");
}

static bool transaction(struct client *c)
{
	struct smtp_client_job *j = c->job;
	char text[SMTP_CLIENT_REPLY_MAX], params[600];
	int code;
	size_t o = 0;

	params[0] = '\0';
	if (!prepare_body(c))
		return false;
	if (c->ehlo.size)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SIZE=%zu", c->body_len);
	if (c->ehlo.eightbit)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " BODY=8BITMIME");
	if (j->smtputf8) {
		if (!c->ehlo.smtputf8) /* RFC 6531 §3.4: cannot downgrade an address */
			return fail(c, 553, "5.6.7 %.200s does not support SMTPUTF8", j->host);
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SMTPUTF8");
	}
	if (c->ehlo.dsn && j->ret != NULL)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " RET=%.20s", j->ret);
	if (c->ehlo.dsn && j->envid != NULL && o < sizeof(params))
		snprintf(params + o, sizeof(params) - o, " ENVID=%.200s", j->envid);
	j->dsn_offered = c->ehlo.dsn;
	/* RFC 2920: with PIPELINING, MAIL, every RCPT and DATA go in one write
	   and the replies are read in order; without it, one at a time */
	struct buf out = {0};
	buf_printf(&out, "MAIL FROM:<%s>%s\r\n", j->sender, params);
	for (size_t i = 0; i < j->n_rcpts; i++) {
		struct smtp_client_rcpt *r = &j->rcpts[i];
		buf_printf(&out, "RCPT TO:<%s>", r->address);
		if (c->ehlo.dsn && r->notify != NULL)
			buf_printf(&out, " NOTIFY=%s", r->notify);
		if (c->ehlo.dsn && r->orcpt != NULL)
			buf_printf(&out, " ORCPT=%s", r->orcpt);
		buf_append_str(&out, "\r\n");
	}
	buf_append_str(&out, "DATA\r\n");
	const char *next = out.data;
	size_t ok = 0;
	bool pipe = c->ehlo.pipelining;
	deadline_in(c, j->command_timeout);
	if (pipe && !io_write(c, out.data, out.len)) {
		buf_free(&out);
		return fail_io(c, true, "MAIL");
	}
	if (!send_next(c, &next, pipe, j->command_timeout)) {
		buf_free(&out);
		return fail_io(c, true, "MAIL");
	}
	code = read_reply(c, text, sizeof(text), false);
	if (code == 0) {
		buf_free(&out);
		return fail_io(c, false, "MAIL");
	}
	if (code != 250 && !pipe) {
		buf_free(&out);
		return fail(c, code >= 500 ? code : 451, "%s", text);
	}
	int mail_code = code;
	char mail_text[SMTP_CLIENT_REPLY_MAX];
	snprintf(mail_text, sizeof(mail_text), "%s", text);
	for (size_t i = 0; i < j->n_rcpts; i++) {
		struct smtp_client_rcpt *r = &j->rcpts[i];
		if (!send_next(c, &next, pipe, j->command_timeout)) {
			buf_free(&out);
			return fail_io(c, true, "RCPT");
		}
		r->code = read_reply(c, r->reply, sizeof(r->reply), false);
		if (r->code == 0) {
			buf_free(&out);
			return fail_io(c, false, "RCPT");
		}
		ok += r->code == 250 || r->code == 251;
	}
	if (mail_code != 250) { /* pipelined: the RCPT and DATA replies are read too */
		deadline_in(c, j->data_init_timeout);
		if (pipe && read_reply(c, NULL, 0, false) == 0)
			c->io = c->io == IO_OK ? IO_LOST : c->io; /* out of step: no reuse */
		buf_free(&out);
		return fail(c, mail_code >= 500 ? mail_code : 451, "%s", mail_text);
	}
	if (ok == 0 && !pipe) {
		buf_free(&out);
		command(c, j->command_timeout, NULL, 0, "RSET");
		j->session = true;
		return true;
	}
	bool sent = send_next(c, &next, pipe, j->data_init_timeout);
	buf_free(&out);
	if (!sent)
		return fail_io(c, true, "DATA");
	code = read_reply(c, text, sizeof(text), false);
	if (code == 0)
		return fail_io(c, false, "DATA");
	if (ok == 0) { /* pipelined DATA after no recipient: refused, or end it at once */
		if (code == 354) {
			deadline_in(c, j->data_done_timeout);
			if (!io_write(c, ".\r\n", 3) || read_reply(c, NULL, 0, false) == 0)
				c->io = c->io == IO_OK ? IO_LOST : c->io;
		}
		j->session = true;
		return true;
	}
	if (code != 354)
		return fail(c, code >= 500 ? code : 451, "%s", text);
	if (!send_body(c))
		return fail_io(c, true, "the message");
	deadline_in(c, j->data_done_timeout);
	code = read_reply(c, text, sizeof(text), false);
	if (code == 0) /* unknown outcome: retry (a duplicate beats a loss) */
		return fail_io(c, false, "the end of data");
	for (size_t i = 0; i < j->n_rcpts; i++) {
		struct smtp_client_rcpt *r = &j->rcpts[i];
		if (r->code == 250 || r->code == 251) {
			r->code = code;
			snprintf(r->reply, sizeof(r->reply), "%s", text);
		}
	}
	j->session = true;
	return true;
}

static void client_free(struct client *c)
{
	dial_close(&c->d);
	SSL_CTX_free(c->ctx);
	buf_free(&c->converted);
	buf_free(&c->signed_);
	free(c);
}

struct smtp_client *smtp_client_open(struct smtp_client_job *j)
{
	struct client *c = xcalloc(1, sizeof(*c));
	char text[SMTP_CLIENT_REPLY_MAX];

	dial_init(&c->d);
	c->job = j;
	c->quit_timeout = j->command_timeout;
	j->session = false;
	j->timed_out = false;
	j->code = 0;
	j->reply[0] = '\0';
	j->tls_failed = false;
	j->tls_problem[0] = '\0';
	if (!tcp_connect(c))
		goto fail;
	deadline_in(c, j->command_timeout); /* RFC 5321 §4.5.3.2.1: 5 minutes */
	int code = read_reply(c, text, sizeof(text), false);
	if (code == 0) {
		fail_io(c, false, NULL);
		goto fail;
	}
	if (code != 220) {
		fail(c, code >= 500 ? code : 451, "%s", text);
		goto fail;
	}
	if ((code = ehlo(c, text, sizeof(text))) != 250) {
		if (code == 0)
			fail_io(c, false, "EHLO");
		else
			fail(c, code >= 500 ? code : 451, "%s", text);
		goto fail;
	}
	if (j->tls != ROUTE_TLS_NONE && c->ehlo.starttls) {
		int t = start_tls(c);
		if (t < 0 || (t == 0 && j->tls >= ROUTE_TLS_ENCRYPT))
			goto fail;
		j->code = 0; /* refused under "may": go on without TLS */
		if (t == 1 && (code = ehlo(c, text, sizeof(text))) != 250) {
			if (code == 0)
				fail_io(c, false, "EHLO after STARTTLS");
			else
				fail(c, 451, "%s", text);
			goto fail;
		}
	} else if (j->tls >= ROUTE_TLS_ENCRYPT) {
		fail(c, 451, "4.7.4 %.200s does not offer STARTTLS, required for this route",
		     j->host);
		j->tls_failed = true;
		goto fail;
	}
	if (j->auth_user != NULL) {
		if (!j->tls_used) {
			fail(c, 451, "4.7.0 not sending credentials to %.200s without TLS",
			     j->host);
			goto fail;
		}
		if (!c->ehlo.auth_plain) {
			fail(c, 451, "4.7.0 %.200s offers no AUTH PLAIN", j->host);
			goto fail;
		}
		if (!auth_plain(c))
			goto fail;
	}
	return (struct smtp_client *)c;
fail:
	client_free(c);
	return NULL;
}

bool smtp_client_send(struct smtp_client *sc, struct smtp_client_job *j)
{
	struct client *c = (struct client *)sc;

	c->job = j;
	j->tls_used = c->tls_on;
	j->session = false;
	j->downgraded = false;
	j->reencoded = false;
	j->timed_out = false;
	j->code = 0;
	j->reply[0] = '\0';
	if (c->io != IO_OK)
		return fail(c, 451, "4.4.2 %.200s: the connection is no longer usable", j->host);
	if (c->used) {
		int code = command(c, j->command_timeout, NULL, 0, "RSET");
		if (code == 0)
			return fail_io(c, false, "RSET");
		if (code != 250)
			return fail(c, 451, "4.4.2 %.200s: RSET refused", j->host);
	}
	c->used = true;
	transaction(c);
	return j->session;
}

bool smtp_client_usable(const struct smtp_client *sc)
{
	return sc != NULL && ((const struct client *)sc)->io == IO_OK;
}

void smtp_client_close(struct smtp_client **scp)
{
	struct client *c = (struct client *)*scp;

	if (c == NULL)
		return;
	/* a conversation out of step, timed out or lost gets no QUIT: it
	   would only wait for another time limit */
	c->job = NULL; /* the last one's may be gone */
	if (c->d.fd >= 0 && c->io == IO_OK)
		command(c, c->quit_timeout, NULL, 0, "QUIT");
	client_free(c);
	*scp = NULL;
}

bool smtp_client_run(struct smtp_client_job *j)
{
	struct smtp_client *c = smtp_client_open(j);
	bool ok = false;

	if (c != NULL) {
		ok = smtp_client_send(c, j);
		smtp_client_close(&c);
	}
	return ok;
}
