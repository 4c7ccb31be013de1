/* SPDX-License-Identifier: MIT */
/* smtp_client.c - see smtp_client.h. */
#include "queue/smtp_client.h"
#include "mime/mime.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct client {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	char in[16384];
	size_t off, len;
	struct smtp_client_job *job;
	const char *body; /* what DATA sends: the job's, or its 7-bit form */
	size_t body_len;
	struct buf seven_bit;
	bool used;   /* a transaction ran: RSET before the next */
	bool tls_on; /* STARTTLS done */
	/* EHLO keywords */
	bool esmtp, pipelining, starttls, size, eightbit, smtputf8, dsn, auth_plain;
};

static void set_timeout(int fd, unsigned secs)
{
	struct timeval tv = {.tv_sec = secs};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Connection-level failure: code 4xx/5xx and text. Returns false. */
ATTR_FORMAT(3, 4) static bool fail(struct client *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->job->reply, sizeof(c->job->reply), fmt, ap);
	va_end(ap);
	c->job->code = code;
	return false;
}

static ssize_t io_read(struct client *c, void *p, size_t n)
{
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, p, (int)n);
		return r > 0 ? r : -1;
	}
	ssize_t r;
	do
		r = recv(c->fd, p, n, 0);
	while (r < 0 && errno == EINTR);
	return r > 0 ? r : -1;
}

static bool io_write(struct client *c, const void *p, size_t n)
{
	const char *q = p;
	while (n > 0) {
		ssize_t w;
		if (c->ssl != NULL) {
			int r = SSL_write(c->ssl, q, (int)(n > 65536 ? 65536 : n));
			w = r > 0 ? r : -1;
		} else {
			w = send(c->fd, q, n, MSG_NOSIGNAL);
			if (w < 0 && errno == EINTR)
				continue;
		}
		if (w <= 0)
			return false;
		q += w;
		n -= (size_t)w;
	}
	return true;
}

static bool read_line(struct client *c, char *line, size_t cap)
{
	size_t n = 0;
	for (;;) {
		while (c->off < c->len) {
			char ch = c->in[c->off++];
			if (ch == '\n') {
				if (n > 0 && line[n - 1] == '\r')
					n--;
				line[n] = '\0';
				return true;
			}
			if (n + 1 < cap)
				line[n++] = ch;
		}
		ssize_t r = io_read(c, c->in, sizeof(c->in));
		if (r <= 0)
			return false;
		c->off = 0;
		c->len = (size_t)r;
	}
}

/* Reads a whole reply; returns its code (0 on I/O failure). The last line's
   text goes to text; every line to ehlo_cb when given. */
static int read_reply(struct client *c, char *text, size_t cap, void (*line_cb)(struct client *,
										 const char *))
{
	char line[1024];
	for (int lines = 0; lines < 1000; lines++) {
		if (!read_line(c, line, sizeof(line)))
			return 0;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5')
			return 0;
		if (line_cb != NULL && lines > 0)
			line_cb(c, line + 4);
		if (line[3] != '-') {
			if (text != NULL) /* a longer text is clipped to the caller's buffer */
				snprintf(text, cap, "%.*s", (int)(cap - 1), line);
			return atoi(line);
		}
	}
	return 0;
}

ATTR_FORMAT(4, 5) static int command(struct client *c, char *text, size_t cap, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		return 0;
	memcpy(line + n, "\r\n", 2);
	if (!io_write(c, line, (size_t)n + 2))
		return 0;
	return read_reply(c, text, cap, NULL);
}

static void ehlo_line(struct client *c, const char *kw)
{
	if (strcasecmp(kw, "STARTTLS") == 0)
		c->starttls = true;
	else if (strcasecmp(kw, "PIPELINING") == 0)
		c->pipelining = true;
	else if (strncasecmp(kw, "SIZE", 4) == 0)
		c->size = true;
	else if (strcasecmp(kw, "8BITMIME") == 0)
		c->eightbit = true;
	else if (strcasecmp(kw, "SMTPUTF8") == 0)
		c->smtputf8 = true;
	else if (strcasecmp(kw, "DSN") == 0)
		c->dsn = true;
	else if (strncasecmp(kw, "AUTH ", 5) == 0 || strncasecmp(kw, "AUTH=", 5) == 0) {
		for (const char *p = kw + 5; *p != '\0';) {
			while (*p == ' ')
				p++;
			const char *e = p;
			while (*e != '\0' && *e != ' ')
				e++;
			if (e - p == 5 && strncasecmp(p, "PLAIN", 5) == 0)
				c->auth_plain = true;
			p = e;
		}
	}
}

static int ehlo(struct client *c, char *text, size_t cap)
{
	char line[600];
	c->starttls = c->size = c->eightbit = c->smtputf8 = c->dsn = c->auth_plain = false;
	c->pipelining = false;
	snprintf(line, sizeof(line), "EHLO %s\r\n", c->job->helo);
	if (!io_write(c, line, strlen(line)))
		return 0;
	int code = read_reply(c, text, cap, ehlo_line);
	c->esmtp = code == 250;
	if (code >= 500 && code < 600) /* RFC 5321 §3.2: fall back to HELO */
		code = command(c, text, cap, "HELO %s", c->job->helo);
	return code;
}

static bool tcp_connect(struct client *c)
{
	struct smtp_client_job *j = c->job;
	c->fd = socket(j->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return fail(c, 451, "4.4.0 socket: %s", strerror(errno));
	int r = connect(c->fd, (struct sockaddr *)&j->addr, j->addr_len);
	if (r < 0 && errno == EINPROGRESS) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
		r = poll(&pfd, 1, (int)j->connect_timeout * 1000);
		if (r == 0)
			return fail(c, 451, "4.4.1 connect to %s: timed out", j->host);
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (r < 0 || err != 0)
			return fail(c, 451, "4.4.1 connect to %s: %s", j->host,
				    strerror(err != 0 ? err : errno));
	} else if (r < 0) {
		return fail(c, 451, "4.4.1 connect to %s: %s", j->host, strerror(errno));
	}
	int fl = fcntl(c->fd, F_GETFL);
	fcntl(c->fd, F_SETFL, fl & ~O_NONBLOCK);
	set_timeout(c->fd, j->command_timeout);
	return true;
}

/* 1: TLS is on; 0: the next hop refused STARTTLS (the plain connection
   still works); -1: the connection is lost (job->code says why). */
static int start_tls(struct client *c)
{
	struct smtp_client_job *j = c->job;
	char text[SMTP_CLIENT_REPLY_MAX];
	int code = command(c, text, sizeof(text), "STARTTLS");

	if (code == 0) {
		fail(c, 451, "4.4.2 %s: lost connection at STARTTLS", j->host);
		return -1;
	}
	if (code != 220) {
		fail(c, 451, "4.7.5 STARTTLS refused by %s: %s", j->host, text);
		return 0;
	}
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL) {
		fail(c, 451, "4.7.5 TLS context");
		return -1;
	}
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (j->tls == ROUTE_TLS_VERIFY) {
		if (j->ca_file != NULL)
			SSL_CTX_load_verify_locations(c->ctx, j->ca_file, NULL);
		else
			SSL_CTX_set_default_verify_paths(c->ctx);
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_NONE, NULL);
	}
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL) {
		fail(c, 451, "4.7.5 TLS session");
		return -1;
	}
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, j->host);
	if (j->tls == ROUTE_TLS_VERIFY)
		SSL_set1_host(c->ssl, j->host);
	c->off = c->len = 0; /* nothing read before the handshake survives it */
	ERR_clear_error();
	if (SSL_connect(c->ssl) != 1) {
		long v = SSL_get_verify_result(c->ssl);
		fail(c, 451, "4.7.5 TLS handshake with %s failed%s%s", j->host,
		     v != X509_V_OK ? ": " : "", v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		SSL_free(c->ssl);
		c->ssl = NULL;
		return -1;
	}
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
	int code = command(c, text, sizeof(text), "AUTH PLAIN %s", b64.data);
	buf_free_secret(&raw);
	buf_free_secret(&b64);
	if (code == 235)
		return true;
	return fail(c, code >= 500 ? 554 : 451, "%s AUTH at %s failed: %s",
		    code >= 500 ? "5.7.8" : "4.7.0", j->host, text);
}

static bool send_body(struct client *c)
{
	const char *p = c->body, *end = p + c->body_len;
	struct buf out = {0};
	bool ok = true;

	/* dot-stuff line by line (RFC 5321 §4.5.2), in chunks */
	bool bol = true;
	for (; p < end && ok; p++) {
		if (bol && *p == '.')
			buf_append_c(&out, '.');
		buf_append_c(&out, *p);
		bol = *p == '\n';
		if (out.len >= 65536) {
			ok = io_write(c, out.data, out.len);
			buf_clear(&out);
		}
	}
	if (ok && c->body_len > 0 && end[-1] != '\n')
		buf_append_str(&out, "\r\n");
	buf_append_str(&out, ".\r\n");
	ok = ok && io_write(c, out.data, out.len);
	buf_free(&out);
	return ok;
}

/* Sends the next command line of *next (unless pipelining sent them all)
   and moves past it. */
static bool send_next(struct client *c, const char **next, bool pipelined)
{
	const char *e = strstr(*next, "\r\n") + 2;
	bool ok = pipelined || io_write(c, *next, (size_t)(e - *next));
	*next = e;
	return ok;
}

static bool transaction(struct client *c)
{
	struct smtp_client_job *j = c->job;
	char text[SMTP_CLIENT_REPLY_MAX], params[600];
	int code;
	size_t o = 0;

	params[0] = '\0';
	c->body = j->body;
	c->body_len = j->len;
	if (!c->eightbit) {
		/* RFC 6152 §3: no 8-bit content to a next hop without 8BITMIME:
		   convert it to quoted-printable, or fail with a clear reason */
		buf_clear(&c->seven_bit);
		switch (mime_downgrade(j->body, j->len, &c->seven_bit)) {
		case MIME_7BIT:
			break;
		case MIME_CONVERTED:
			c->body = c->seven_bit.data;
			c->body_len = c->seven_bit.len;
			j->downgraded = true;
			break;
		case MIME_UNCONVERTIBLE:
			return fail(c, 554, "5.6.3 %s does not accept 8-bit content (no 8BITMIME), "
					    "and this message cannot be converted to 7 bits", j->host);
		}
	}
	if (c->size)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SIZE=%zu", c->body_len);
	if (c->eightbit)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " BODY=8BITMIME");
	if (j->smtputf8) {
		if (!c->smtputf8) /* RFC 6531 §3.4: cannot downgrade an address */
			return fail(c, 553, "5.6.7 %s does not support SMTPUTF8", j->host);
		o += (size_t)snprintf(params + o, sizeof(params) - o, " SMTPUTF8");
	}
	if (c->dsn && j->ret != NULL)
		o += (size_t)snprintf(params + o, sizeof(params) - o, " RET=%s", j->ret);
	if (c->dsn && j->envid != NULL && o < sizeof(params))
		snprintf(params + o, sizeof(params) - o, " ENVID=%s", j->envid);
	j->dsn_offered = c->dsn;
	/* RFC 2920: with PIPELINING, MAIL, every RCPT and DATA go in one write
	   and the replies are read in order; without it, one at a time */
	struct buf out = {0};
	buf_printf(&out, "MAIL FROM:<%s>%s\r\n", j->sender, params);
	for (size_t i = 0; i < j->n_rcpts; i++) {
		struct smtp_client_rcpt *r = &j->rcpts[i];
		buf_printf(&out, "RCPT TO:<%s>", r->address);
		if (c->dsn && r->notify != NULL)
			buf_printf(&out, " NOTIFY=%s", r->notify);
		if (c->dsn && r->orcpt != NULL)
			buf_printf(&out, " ORCPT=%s", r->orcpt);
		buf_append_str(&out, "\r\n");
	}
	buf_append_str(&out, "DATA\r\n");
	const char *next = out.data;
	size_t ok = 0;
	bool pipe = c->pipelining;
	if (pipe && !io_write(c, out.data, out.len)) {
		buf_free(&out);
		return fail(c, 451, "4.4.2 %s: lost connection", j->host);
	}
	if (!send_next(c, &next, pipe)) {
		buf_free(&out);
		return fail(c, 451, "4.4.2 %s: lost connection", j->host);
	}
	code = read_reply(c, text, sizeof(text), NULL);
	if (code != 250 && !pipe) {
		buf_free(&out);
		return fail(c, code >= 500 ? code : 451, "%s", code ? text : "4.4.2 lost connection");
	}
	int mail_code = code;
	char mail_text[SMTP_CLIENT_REPLY_MAX];
	snprintf(mail_text, sizeof(mail_text), "%s", text);
	for (size_t i = 0; i < j->n_rcpts; i++) {
		struct smtp_client_rcpt *r = &j->rcpts[i];
		if (!send_next(c, &next, pipe)) {
			buf_free(&out);
			return fail(c, 451, "4.4.2 %s: lost connection", j->host);
		}
		r->code = read_reply(c, r->reply, sizeof(r->reply), NULL);
		if (r->code == 0) {
			buf_free(&out);
			return fail(c, 451, "4.4.2 %s: lost connection during RCPT", j->host);
		}
		ok += r->code == 250 || r->code == 251;
	}
	if (mail_code != 250) { /* pipelined: the RCPT and DATA replies are read too */
		if (pipe)
			read_reply(c, NULL, 0, NULL);
		buf_free(&out);
		return fail(c, mail_code >= 500 ? mail_code : 451, "%s",
			    mail_code ? mail_text : "4.4.2 lost connection");
	}
	if (ok == 0 && !pipe) {
		buf_free(&out);
		command(c, NULL, 0, "RSET");
		j->session = true;
		return true;
	}
	bool sent = send_next(c, &next, pipe);
	buf_free(&out);
	if (!sent)
		return fail(c, 451, "4.4.2 %s: lost connection", j->host);
	code = read_reply(c, text, sizeof(text), NULL);
	if (ok == 0) { /* pipelined DATA after no recipient: refused, or end it at once */
		if (code == 354) {
			io_write(c, ".\r\n", 3);
			read_reply(c, NULL, 0, NULL);
		}
		j->session = true;
		return true;
	}
	if (code != 354)
		return fail(c, code >= 500 ? code : 451, "%s", code ? text : "4.4.2 lost connection");
	if (!send_body(c))
		return fail(c, 451, "4.4.2 %s: lost connection during DATA", j->host);
	code = read_reply(c, text, sizeof(text), NULL);
	if (code == 0) /* unknown outcome: retry (a duplicate beats a loss) */
		return fail(c, 451, "4.4.2 %s: no answer after DATA", j->host);
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
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	buf_free(&c->seven_bit);
	free(c);
}

struct smtp_client *smtp_client_open(struct smtp_client_job *j)
{
	struct client *c = xcalloc(1, sizeof(*c));
	char text[SMTP_CLIENT_REPLY_MAX];

	c->fd = -1;
	c->job = j;
	j->session = false;
	j->code = 0;
	j->reply[0] = '\0';
	if (!tcp_connect(c))
		goto fail;
	int code = read_reply(c, text, sizeof(text), NULL);
	if (code != 220) {
		fail(c, code >= 500 ? code : 451, "%s", code ? text : "4.4.2 no greeting");
		goto fail;
	}
	if ((code = ehlo(c, text, sizeof(text))) != 250) {
		fail(c, code >= 500 ? code : 451, "%s", code ? text : "4.4.2 EHLO: no answer");
		goto fail;
	}
	if (j->tls != ROUTE_TLS_NONE && c->starttls) {
		int t = start_tls(c);
		if (t < 0 || (t == 0 && j->tls >= ROUTE_TLS_ENCRYPT))
			goto fail;
		j->code = 0; /* refused under "may": go on without TLS */
		if (t == 1 && (code = ehlo(c, text, sizeof(text))) != 250) {
			fail(c, 451, "%s", code ? text : "4.4.2 EHLO after STARTTLS: no answer");
			goto fail;
		}
	} else if (j->tls >= ROUTE_TLS_ENCRYPT) {
		fail(c, 451, "4.7.4 %s does not offer STARTTLS, required for this route", j->host);
		goto fail;
	}
	if (j->auth_user != NULL) {
		if (!j->tls_used) {
			fail(c, 451, "4.7.0 not sending credentials to %s without TLS", j->host);
			goto fail;
		}
		if (!c->auth_plain) {
			fail(c, 451, "4.7.0 %s offers no AUTH PLAIN", j->host);
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
	j->code = 0;
	j->reply[0] = '\0';
	if (c->used && command(c, NULL, 0, "RSET") != 250)
		return fail(c, 451, "4.4.2 %s: lost connection at RSET", j->host);
	c->used = true;
	transaction(c);
	return j->session;
}

void smtp_client_close(struct smtp_client **scp)
{
	struct client *c = (struct client *)*scp;

	if (c == NULL)
		return;
	if (c->fd >= 0)
		command(c, NULL, 0, "QUIT");
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
