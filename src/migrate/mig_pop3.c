/* SPDX-License-Identifier: MIT */
/*
 * mig_pop3.c - the `pop3` import source (migrate.h): a mailbox pulled from
 * a live POP3 server (Dovecot, Exchange, the Windows service, mailroom),
 * each message with the UIDL that server served, so a client that left
 * mail there downloads nothing twice after the switch.
 *
 * A blocking client, for the CLI: every read and write has a time limit
 * (MIG_POP3_TIMEOUT), the password never travels without TLS (pop3s, or
 * pop3 with STLS, RFC 2595), and the certificate is verified against the
 * system's CAs or the given CA file with the host name checked, unless
 * the admin says --insecure. Login is SASL PLAIN (RFC 5034) when CAPA
 * offers it, else USER/PASS. A server without UIDL is refused: without
 * UIDLs the import would make every client fetch everything again.
 *
 * Nothing is deleted on the old server (no DELE): it keeps its mail, and
 * QUIT at close ends the session without changing it.
 */
#include "migrate/mig_pop3.h"
#include "migrate/migrate.h"
#include "store/store.h"
#include "util/base64.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MIG_POP3_TIMEOUT 60		 /* seconds, every read, write and the connect */
#define MIG_POP3_LISTING_LINE 512	 /* a line of UIDL or LIST */
#define MIG_POP3_LISTING_MAX (64u << 20) /* a whole UIDL or LIST answer */
/* a line of a message: RFC 5322 allows 998 octets, mail in the wild
   breaks that (HTML on one line); an import must not lose such mail */
#define MIG_POP3_BODY_LINE (4u << 20)
#define MIG_POP3_BODY_SLACK (1u << 20) /* a message beyond its LIST size */
#define MIG_POP3_WINDOW 16	       /* RETRs in flight with PIPELINING */

/* --- the URL ---------------------------------------------------------------- */

static int fail(char *err, size_t err_len, const char *fmt, ...) ATTR_FORMAT(3, 4);
static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -1;
}

int mig_pop3_url_parse(const char *url, struct mig_pop3_url *u, char *err, size_t err_len)
{
	const char *p;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(url, "pop3s://", 8) == 0) {
		u->implicit_tls = true, u->port = 995, p = url + 8;
	} else if (strncasecmp(url, "pop3://", 7) == 0) {
		u->port = 110, p = url + 7;
	} else {
		return fail(err, err_len, "%s: not a pop3s:// or pop3:// URL", url);
	}
	const char *at = strrchr(p, '@');
	if (at == NULL || at == p)
		return fail(err, err_len, "%s: no user (pop3s://user@host)", url);
	size_t o = 0;
	for (const char *q = p; q < at; q++) {
		int c = (unsigned char)*q;
		if (c == ':')
			return fail(err, err_len,
				    "%s: a password does not belong in the URL (--password-stdin)",
				    url);
		if (c == '%') {
			char hex[3] = {q[1], q[1] != '\0' ? q[2] : '\0', '\0'};
			if (!isxdigit((unsigned char)hex[0]) || !isxdigit((unsigned char)hex[1]))
				return fail(err, err_len, "%s: bad percent-encoding in the user",
					    url);
			c = (int)strtol(hex, NULL, 16);
			q += 2;
		}
		/* the user goes into USER and SASL lines */
		if (c < 0x21 || c == 0x7f || c == '/')
			return fail(err, err_len, "%s: the user holds a space or control octet",
				    url);
		if (o + 1 >= sizeof(u->user))
			return fail(err, err_len, "%s: the user is too long", url);
		u->user[o++] = (char)c;
	}
	const char *h = at + 1, *he;
	if (*h == '[') {
		he = strchr(h, ']');
		if (he == NULL)
			return fail(err, err_len, "%s: unclosed [ in the host", url);
		h++;
	} else {
		he = h + strcspn(h, ":/");
	}
	if (he == h || (size_t)(he - h) >= sizeof(u->host))
		return fail(err, err_len, "%s: no host, or a host too long", url);
	for (const char *q = h; q < he; q++)
		if (!(((unsigned char)*q >= 'a' && (unsigned char)*q <= 'z') ||
		      (*q >= 'A' && *q <= 'Z') || (*q >= '0' && *q <= '9') || *q == '-' ||
		      *q == '.' || *q == ':' || *q == '_'))
			return fail(err, err_len, "%s: bad character in the host", url);
	memcpy(u->host, h, (size_t)(he - h));
	p = *he == ']' ? he + 1 : he;
	if (*p == ':') {
		uint64_t port;
		size_t n = strcspn(p + 1, "/");
		if (!slice_to_uint((struct slice){p + 1, n}, 65535, &port) || port == 0)
			return fail(err, err_len, "%s: bad port", url);
		u->port = (unsigned)port;
		p += 1 + n;
	}
	if (*p != '\0' && strcmp(p, "/") != 0)
		return fail(err, err_len, "%s: unexpected \"%s\" after the host", url, p);
	return 0;
}

/* --- the response reader ------------------------------------------------------ */

const char *mig_pop3_status_text(int status)
{
	switch (status) {
	case MIG_POP3_OK:
		return "+OK";
	case MIG_POP3_ERR:
		return "-ERR";
	case MIG_POP3_CONT:
		return "continuation";
	case MIG_POP3_EOF:
		return "the server closed the connection";
	case MIG_POP3_IO:
		return "read error or timeout";
	case MIG_POP3_LONG:
		return "a line longer than allowed";
	case MIG_POP3_BIG:
		return "an answer larger than allowed";
	case MIG_POP3_BAD:
		return "an answer that is neither +OK nor -ERR";
	}
	return "?";
}

void mig_pop3_in_init(struct mig_pop3_in *in, mig_pop3_read_fn *read, void *ctx)
{
	in->read = read;
	in->ctx = ctx;
	in->off = in->len = 0;
}

/* At least k octets buffered after off (k <= sizeof(buf)); else EOF/IO. */
static int need(struct mig_pop3_in *in, size_t k)
{
	while (in->len - in->off < k) {
		if (in->off > 0) {
			memmove(in->buf, in->buf + in->off, in->len - in->off);
			in->len -= in->off;
			in->off = 0;
		}
		ssize_t n = in->read(in->ctx, in->buf + in->len, sizeof(in->buf) - in->len);
		if (n == 0)
			return MIG_POP3_EOF;
		if (n < 0)
			return MIG_POP3_IO;
		in->len += (size_t)n;
	}
	return MIG_POP3_OK;
}

int mig_pop3_status(struct mig_pop3_in *in, char *text, size_t text_len)
{
	const char *nl;
	size_t have = 0;

	for (;;) {
		nl = memchr(in->buf + in->off + have, '\n', in->len - in->off - have);
		if (nl != NULL)
			break;
		have = in->len - in->off;
		if (have >= MIG_POP3_STATUS_MAX)
			return MIG_POP3_LONG;
		int r = need(in, have + 1);
		if (r != MIG_POP3_OK)
			return r;
	}
	const char *p = in->buf + in->off;
	size_t len = (size_t)(nl - p);
	in->off += len + 1;
	if (len > MIG_POP3_STATUS_MAX)
		return MIG_POP3_LONG;
	if (len > 0 && p[len - 1] == '\r')
		len--;
	int st;
	size_t skip;
	if (len >= 3 && memcmp(p, "+OK", 3) == 0 && (len == 3 || p[3] == ' '))
		st = MIG_POP3_OK, skip = 3;
	else if (len >= 4 && memcmp(p, "-ERR", 4) == 0 && (len == 4 || p[4] == ' '))
		st = MIG_POP3_ERR, skip = 4;
	else if (len >= 1 && p[0] == '+' && (len == 1 || p[1] == ' '))
		st = MIG_POP3_CONT, skip = 1;
	else
		return MIG_POP3_BAD;
	if (skip < len)
		skip++;
	size_t o = 0;
	for (size_t i = skip; i < len && o + 1 < text_len; i++) {
		unsigned char c = (unsigned char)p[i];
		text[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (text_len > 0)
		text[o] = '\0';
	return st;
}

int mig_pop3_multiline(struct mig_pop3_in *in, struct buf *out, size_t line_max, size_t max)
{
	size_t start = out->len, line = 0;
	bool bol = true;

	for (;;) {
		int r = need(in, 1);
		if (r != MIG_POP3_OK)
			return r;
		if (bol && in->buf[in->off] == '.') {
			/* "." CRLF ends the response (a bare LF too); any other line
			   that starts with '.' has one more, the stuffing (§3) */
			r = need(in, 2);
			size_t end = r == MIG_POP3_OK && in->buf[in->off + 1] == '\n' ? 2 : 0;
			if (r == MIG_POP3_OK && in->buf[in->off + 1] == '\r') {
				r = need(in, 3);
				end = r == MIG_POP3_OK && in->buf[in->off + 2] == '\n' ? 3 : 0;
			}
			if (r != MIG_POP3_OK)
				return r;
			if (end > 0) {
				in->off += end;
				return MIG_POP3_OK;
			}
			in->off++;
			line = 1;
		}
		const char *p = in->buf + in->off;
		size_t avail = in->len - in->off;
		const char *nl = memchr(p, '\n', avail);
		size_t n = nl != NULL ? (size_t)(nl - p) + 1 : avail;
		line += n;
		if (line > line_max)
			return MIG_POP3_LONG;
		if (out->len - start + n > max)
			return MIG_POP3_BIG;
		buf_append(out, p, n);
		in->off += n;
		bol = nl != NULL;
		if (bol)
			line = 0;
	}
}

/* "n rest": the message number and what follows the spaces after it */
static bool numbered(const char *p, size_t len, uint64_t *n_r, struct slice *rest)
{
	size_t i = 0;
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	if (i == 0 || i == len || p[i] != ' ')
		return false;
	if (!slice_to_uint((struct slice){p, i}, UINT32_MAX, n_r) || *n_r == 0)
		return false;
	while (i < len && p[i] == ' ')
		i++;
	size_t e = len;
	while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\r'))
		e--; /* trailing blanks some servers leave */
	*rest = (struct slice){p + i, e - i};
	return rest->len > 0;
}

bool mig_pop3_uidl_line(const char *p, size_t len, uint64_t *n_r, char uidl[MIG_POP3_UIDL_MAX + 1])
{
	struct slice rest;
	if (!numbered(p, len, n_r, &rest) || rest.len > MIG_POP3_UIDL_MAX)
		return false;
	for (size_t i = 0; i < rest.len; i++)
		if ((unsigned char)rest.p[i] < 0x21 || (unsigned char)rest.p[i] > 0x7e)
			return false;
	memcpy(uidl, rest.p, rest.len);
	uidl[rest.len] = '\0';
	return true;
}

bool mig_pop3_list_line(const char *p, size_t len, uint64_t *n_r, uint64_t *size_r)
{
	struct slice rest;
	if (!numbered(p, len, n_r, &rest))
		return false;
	/* RFC 1939 §5 allows more after the size ("n size ..."): the first word */
	size_t w = 0;
	while (w < rest.len && rest.p[w] != ' ')
		w++;
	return slice_to_uint((struct slice){rest.p, w}, UINT64_MAX / 4, size_r);
}

/* --- the arrival time ----------------------------------------------------------- */

static int month_of(const char *m)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	for (int i = 0; i < 12; i++)
		if (strncasecmp(m, names + 3 * i, 3) == 0)
			return i;
	return -1;
}

/* date-time of RFC 5322 §3.3: [day ","] d month yyyy hh:mm[:ss] zone */
static int64_t parse_date(const char *s)
{
	char mon[4] = "";
	int d, y, hh, mm, ss = 0, used = 0;
	const char *comma = strchr(s, ',');

	if (comma != NULL)
		s = comma + 1;
	if (sscanf(s, " %2d %3s %4d %2d:%2d%n", &d, mon, &y, &hh, &mm, &used) != 5)
		return 0;
	s += used;
	if (*s == ':') {
		int u2 = 0;
		if (sscanf(s, ":%2d%n", &ss, &u2) != 1)
			return 0;
		s += u2;
	}
	int month = month_of(mon);
	if (month < 0 || y < 1970 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60)
		return 0;
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = month,
			.tm_mday = d,
			.tm_hour = hh,
			.tm_min = mm,
			.tm_sec = ss};
	int64_t t = (int64_t)timegm(&tm);
	while (*s == ' ')
		s++;
	if ((s[0] == '+' || s[0] == '-') && s[1] >= '0' && s[1] <= '9') {
		int z = atoi(s + 1); /* hhmm */
		int64_t off = (int64_t)(z / 100) * 3600 + (z % 100) * 60;
		t += s[0] == '+' ? -off : off;
	}
	return t > 0 ? t : 0;
}

int64_t mig_pop3_received(const char *msg, size_t len)
{
	size_t i = 0;

	while (i < len) {
		const char *eol = memchr(msg + i, '\n', len - i);
		size_t e = eol != NULL ? (size_t)(eol - msg) : len;
		if (e == i || (e == i + 1 && msg[i] == '\r'))
			return 0; /* the end of the header */
		if (e - i > 9 && strncasecmp(msg + i, "Received:", 9) == 0) {
			/* the field with its folded lines, up to 4 KiB */
			size_t f = e;
			while (f + 1 < len && (msg[f + 1] == ' ' || msg[f + 1] == '\t')) {
				const char *n = memchr(msg + f + 1, '\n', len - f - 1);
				f = n != NULL ? (size_t)(n - msg) : len;
			}
			char field[4096];
			size_t fl = f - i < sizeof(field) - 1 ? f - i : sizeof(field) - 1;
			memcpy(field, msg + i, fl);
			field[fl] = '\0';
			for (size_t k = 0; k < fl; k++)
				if (field[k] == '\r' || field[k] == '\n' || field[k] == '\t')
					field[k] = ' ';
			const char *semi = strrchr(field, ';');
			return semi != NULL ? parse_date(semi + 1) : 0;
		}
		i = e + 1;
	}
	return 0;
}

/* --- the connection ------------------------------------------------------------- */

struct entry {
	uint64_t n, size;
	char uidl[MIG_POP3_UIDL_MAX + 1];
};

struct migrate_source {
	struct mig_pop3_url url;
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	bool timed_out;
	struct mig_pop3_in in;
	struct entry *list;
	size_t n, sent;		      /* entries, and the next one to send RETR for */
	size_t ring[MIG_POP3_WINDOW]; /* the entries of the RETRs in flight */
	size_t head, inflight, window;
	long long stat_count;
	bool (*has_uidl)(void *ctx, const char *uidl);
	void *has_uidl_ctx;
	char where[300]; /* host:port, for errors */
};

static ssize_t conn_read(void *ctx, void *dst, size_t len)
{
	struct migrate_source *s = ctx;

	if (s->ssl != NULL) {
		ERR_clear_error();
		int r = SSL_read(s->ssl, dst, len > INT32_MAX ? INT32_MAX : (int)len);
		if (r > 0)
			return r;
		int e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_ZERO_RETURN)
			return 0;
		/* SO_RCVTIMEO ran out: the BIO reports "try again" */
		s->timed_out =
		    e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
		    (e == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK));
		return e == SSL_ERROR_SYSCALL && r == 0 && !s->timed_out ? 0 : -1;
	}
	for (;;) {
		ssize_t n = recv(s->fd, dst, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		s->timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
		return -1;
	}
}

static bool conn_write(struct migrate_source *s, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n;
		if (s->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_write(s->ssl, p, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r <= 0)
				return false;
			n = r;
		} else {
			n = send(s->fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return false;
		}
		p += n, len -= (size_t)n;
	}
	return true;
}

/* The reason a read failed, for the admin. */
static int io_fail(struct migrate_source *s, int st, const char *what, char *err, size_t err_len)
{
	if (st == MIG_POP3_IO && s->timed_out)
		return fail(err, err_len, "%s: %s: no answer within %d s", s->where, what,
			    MIG_POP3_TIMEOUT);
	return fail(err, err_len, "%s: %s: %s", s->where, what, mig_pop3_status_text(st));
}

/* Sends a command line (CRLF added) and reads its status line. shown is
   what errors call the command (never a credential). */
static int command(struct migrate_source *s, const char *line, const char *shown, char *text,
		   size_t text_len, char *err, size_t err_len)
{
	char out[MIG_POP3_STATUS_MAX + 3];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);

	if (n < 0 || (size_t)n >= sizeof(out))
		return fail(err, err_len, "%s: %s: command too long", s->where, shown);
	bool ok = conn_write(s, out, (size_t)n);
	OPENSSL_cleanse(out, sizeof(out));
	if (!ok)
		return fail(err, err_len, "%s: %s: cannot send%s", s->where, shown,
			    s->timed_out || errno == EAGAIN ? " (timed out)" : "");
	int st = mig_pop3_status(&s->in, text, text_len);
	if (st < 0)
		return io_fail(s, st, shown, err, err_len);
	return st;
}

static void set_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = MIG_POP3_TIMEOUT};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int tcp_connect(struct migrate_source *s, char *err, size_t err_len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG}, *res;
	char port[8];
	int last = 0;

	snprintf(port, sizeof(port), "%u", s->url.port);
	int g = getaddrinfo(s->url.host, port, &hints, &res);
	if (g != 0)
		return fail(err, err_len, "%s: %s", s->where, gai_strerror(g));
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				a->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		int r = connect(fd, a->ai_addr, a->ai_addrlen);
		if (r < 0 && errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int e = 0;
			socklen_t el = sizeof(e);
			r = poll(&pfd, 1, MIG_POP3_TIMEOUT * 1000);
			if (r == 0)
				e = ETIMEDOUT;
			else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
				e = errno;
			r = e != 0 ? -1 : 0;
			errno = e;
		}
		if (r == 0) {
			/* blocking from here on; the time limits bound each call */
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
			set_timeouts(fd);
			s->fd = fd;
			freeaddrinfo(res);
			return 0;
		}
		last = errno;
		close(fd);
	}
	freeaddrinfo(res);
	return fail(err, err_len, "%s: connect: %s", s->where, strerror(last));
}

static int start_tls(struct migrate_source *s, const struct migrate_options *o, char *err,
		     size_t err_len)
{
	s->ctx = SSL_CTX_new(TLS_client_method());
	if (s->ctx == NULL)
		return fail(err, err_len, "%s: TLS context", s->where);
	SSL_CTX_set_min_proto_version(s->ctx, TLS1_2_VERSION);
	/* a peer that closes without close_notify ends the stream (the reader
	   reports it as the server closing mid-answer) */
	SSL_CTX_set_options(s->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (o->insecure) {
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_NONE, NULL);
	} else {
		int ok = o->ca_file != NULL
			     ? SSL_CTX_load_verify_locations(s->ctx, o->ca_file, NULL)
			     : SSL_CTX_set_default_verify_paths(s->ctx);
		if (ok != 1)
			return fail(err, err_len, "%s: cannot load CA certificates%s%s", s->where,
				    o->ca_file != NULL ? " from " : "",
				    o->ca_file != NULL ? o->ca_file : "");
		SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER, NULL);
	}
	s->ssl = SSL_new(s->ctx);
	if (s->ssl == NULL)
		return fail(err, err_len, "%s: TLS session", s->where);
	SSL_set_fd(s->ssl, s->fd);
	/* SNI names hosts, never addresses (RFC 6066 §3); the check takes
	   both (OpenSSL 3: an IP literal is matched against IP SANs) */
	struct in6_addr any;
	bool literal = inet_pton(AF_INET, s->url.host, &any) == 1 ||
		       inet_pton(AF_INET6, s->url.host, &any) == 1;
	if (!literal)
		SSL_set_tlsext_host_name(s->ssl, s->url.host);
	if (!o->insecure && SSL_set1_host(s->ssl, s->url.host) != 1)
		return fail(err, err_len, "%s: TLS host name check", s->where);
	ERR_clear_error();
	int r = SSL_connect(s->ssl);
	if (r != 1) {
		long v = SSL_get_verify_result(s->ssl);
		unsigned long e = ERR_peek_error();
		char why[256] = "";
		if (v != X509_V_OK)
			snprintf(why, sizeof(why),
				 ": %s (--ca-file, or --insecure for a test server)",
				 X509_verify_cert_error_string(v));
		else if (e != 0)
			snprintf(why, sizeof(why), ": %s", ERR_reason_error_string(e));
		else if (s->timed_out || errno == EAGAIN)
			snprintf(why, sizeof(why), ": no answer within %d s", MIG_POP3_TIMEOUT);
		SSL_free(s->ssl);
		s->ssl = NULL;
		return fail(err, err_len, "%s: TLS handshake failed%s", s->where, why);
	}
	s->in.off = s->in.len = 0; /* nothing read in the clear survives (RFC 2595 §4) */
	return 0;
}

/* CAPA (RFC 2449): whether it worked, and the tags mailroom cares for. */
struct capa {
	bool stls, sasl_plain, user, uidl, pipelining;
};

static int capa(struct migrate_source *s, struct capa *c, char *err, size_t err_len)
{
	char text[MIG_POP3_STATUS_MAX];
	struct buf b = {0};

	memset(c, 0, sizeof(*c));
	int st = command(s, "CAPA", "CAPA", text, sizeof(text), err, err_len);
	if (st != MIG_POP3_OK)
		return st < 0 ? -1 : 0; /* an RFC 1939 server without CAPA */
	st = mig_pop3_multiline(&s->in, &b, MIG_POP3_LISTING_LINE, 1u << 16);
	if (st != MIG_POP3_OK) {
		buf_free(&b);
		return io_fail(s, st, "CAPA", err, err_len);
	}
	for (size_t i = 0; i < b.len;) {
		const char *e = memchr(b.data + i, '\n', b.len - i);
		size_t n = (size_t)(e - (b.data + i));
		char line[MIG_POP3_LISTING_LINE + 2];
		memcpy(line, b.data + i, n);
		line[n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[n - 1] = '\0';
		char *tok = strtok(line, " ");
		if (tok != NULL && strcasecmp(tok, "STLS") == 0)
			c->stls = true;
		else if (tok != NULL && strcasecmp(tok, "USER") == 0)
			c->user = true;
		else if (tok != NULL && strcasecmp(tok, "UIDL") == 0)
			c->uidl = true;
		else if (tok != NULL && strcasecmp(tok, "PIPELINING") == 0)
			c->pipelining = true;
		else if (tok != NULL && strcasecmp(tok, "SASL") == 0)
			while ((tok = strtok(NULL, " ")) != NULL)
				c->sasl_plain |= strcasecmp(tok, "PLAIN") == 0;
		i += n + 1;
	}
	buf_free(&b);
	return 0;
}

static int login(struct migrate_source *s, const struct capa *c, const char *password, char *err,
		 size_t err_len)
{
	char text[MIG_POP3_STATUS_MAX], line[1100];
	int st;

	if (c->sasl_plain) {
		/* RFC 5034 §4 with RFC 4616: no initial response, so a command line
		   stays short whatever the password's length */
		struct buf raw = {0}, b64 = {0};
		st = command(s, "AUTH PLAIN", "AUTH PLAIN", text, sizeof(text), err, err_len);
		if (st == MIG_POP3_CONT) {
			buf_append_c(&raw, '\0');
			buf_append_str(&raw, s->url.user);
			buf_append_c(&raw, '\0');
			buf_append_str(&raw, password);
			base64_encode(&b64, raw.data, raw.len);
			buf_append_c(&b64, '\0');
			st = command(s, b64.data, "AUTH PLAIN", text, sizeof(text), err, err_len);
		}
		buf_free_secret(&raw);
		buf_free_secret(&b64);
	} else {
		snprintf(line, sizeof(line), "USER %s", s->url.user);
		st = command(s, line, "USER", text, sizeof(text), err, err_len);
		if (st == MIG_POP3_OK) {
			if (snprintf(line, sizeof(line), "PASS %s", password) >= (int)sizeof(line))
				st = fail(err, err_len, "%s: the password is too long", s->where);
			else
				st = command(s, line, "PASS", text, sizeof(text), err, err_len);
			OPENSSL_cleanse(line, sizeof(line));
		}
	}
	if (st < 0)
		return -1;
	if (st != MIG_POP3_OK)
		return fail(err, err_len, "%s: login as %s failed: %s", s->where, s->url.user,
			    text[0] != '\0' ? text : "-ERR");
	return 0;
}

/* A multi-line listing (UIDL, LIST) into b; UIDL -ERR is the refusal. */
static int listing(struct migrate_source *s, const char *cmd, struct buf *b, char *err,
		   size_t err_len)
{
	char text[MIG_POP3_STATUS_MAX];
	int st = command(s, cmd, cmd, text, sizeof(text), err, err_len);

	if (st < 0)
		return -1;
	if (st != MIG_POP3_OK) {
		if (strcmp(cmd, "UIDL") == 0)
			return fail(err, err_len,
				    "%s: the server does not support UIDL (%s); an import keeps "
				    "each message's UIDL so that clients do not fetch it again, "
				    "and cannot without it",
				    s->where, text);
		return fail(err, err_len, "%s: %s failed: %s", s->where, cmd, text);
	}
	st = mig_pop3_multiline(&s->in, b, MIG_POP3_LISTING_LINE, MIG_POP3_LISTING_MAX);
	if (st != MIG_POP3_OK)
		return io_fail(s, st, cmd, err, err_len);
	return 0;
}

static int read_lists(struct migrate_source *s, char *err, size_t err_len)
{
	struct buf b = {0};
	size_t cap = 0;
	int r = listing(s, "UIDL", &b, err, err_len);

	for (size_t i = 0; r == 0 && i < b.len;) {
		const char *e = memchr(b.data + i, '\n', b.len - i);
		size_t n = (size_t)(e - (b.data + i));
		struct entry en = {0};
		if (!mig_pop3_uidl_line(b.data + i, n, &en.n, en.uidl)) {
			r = fail(err, err_len, "%s: UIDL: malformed line \"%.*s\"", s->where,
				 (int)(n > 80 ? 80 : n), b.data + i);
			break;
		}
		if (s->n == cap) {
			cap = cap ? 2 * cap : 256;
			s->list = xrealloc(s->list, cap * sizeof(*s->list));
		}
		s->list[s->n++] = en;
		i += n + 1;
	}
	buf_clear(&b);
	if (r == 0)
		r = listing(s, "LIST", &b, err, err_len);
	/* both answers are in message-number order (RFC 1939 §5, §7): one walk */
	size_t j = 0;
	for (size_t i = 0; r == 0 && i < b.len;) {
		const char *e = memchr(b.data + i, '\n', b.len - i);
		size_t n = (size_t)(e - (b.data + i));
		uint64_t num, size;
		if (!mig_pop3_list_line(b.data + i, n, &num, &size)) {
			r = fail(err, err_len, "%s: LIST: malformed line \"%.*s\"", s->where,
				 (int)(n > 80 ? 80 : n), b.data + i);
			break;
		}
		while (j < s->n && s->list[j].n < num)
			j++;
		if (j < s->n && s->list[j].n == num)
			s->list[j].size = size;
		i += n + 1;
	}
	buf_free(&b);
	return r;
}

/* STAT (RFC 1939 §5): "+OK count octets"; the count is only for progress */
static int pop3_stat(struct migrate_source *s, char *err, size_t err_len)
{
	char text[MIG_POP3_STATUS_MAX];
	uint64_t count;
	int st = command(s, "STAT", "STAT", text, sizeof(text), err, err_len);

	if (st < 0)
		return -1;
	s->stat_count = -1;
	if (st == MIG_POP3_OK &&
	    slice_to_uint((struct slice){text, strcspn(text, " ")}, UINT32_MAX, &count))
		s->stat_count = (long long)count;
	return 0;
}

static void close_session(struct migrate_source **sp);

static int open_session(const char *where, const struct migrate_options *o,
			struct migrate_source **s_r, char *err, size_t err_len)
{
	struct migrate_source *s = xcalloc(1, sizeof(*s));
	char text[MIG_POP3_STATUS_MAX];
	struct capa c;

	*s_r = NULL;
	s->fd = -1;
	s->stat_count = -1;
	mig_pop3_in_init(&s->in, conn_read, s);
	if (mig_pop3_url_parse(where, &s->url, err, err_len) < 0)
		goto fail;
	snprintf(s->where, sizeof(s->where), strchr(s->url.host, ':') ? "[%s]:%u" : "%s:%u",
		 s->url.host, s->url.port);
	if (o == NULL || o->password == NULL) {
		fail(err, err_len, "%s: no password given", s->where);
		goto fail;
	}
	if (memchr(o->password, '\r', strlen(o->password)) != NULL ||
	    strchr(o->password, '\n') != NULL) {
		fail(err, err_len, "%s: the password holds a line end", s->where);
		goto fail;
	}
	s->has_uidl = o->has_uidl;
	s->has_uidl_ctx = o->has_uidl_ctx;
	if (o->insecure)
		fprintf(stderr,
			"mailroom: warning: %s: the server's certificate is not verified "
			"(--insecure): anyone on the path could read the password\n",
			s->where);
	if (tcp_connect(s, err, err_len) < 0)
		goto fail;
	if (s->url.implicit_tls && start_tls(s, o, err, err_len) < 0)
		goto fail;
	int st = mig_pop3_status(&s->in, text, sizeof(text));
	if (st != MIG_POP3_OK) {
		if (st < 0)
			io_fail(s, st, "greeting", err, err_len);
		else
			fail(err, err_len, "%s: the server refuses the session: %s", s->where,
			     text);
		goto fail;
	}
	if (capa(s, &c, err, err_len) < 0)
		goto fail;
	if (!s->url.implicit_tls) {
		/* the password never goes in the clear: STLS or nothing */
		if (!c.stls) {
			fail(err, err_len,
			     "%s: the server offers no STLS; refusing to send the password "
			     "without TLS (pop3s:// for a server with TLS on its own port)",
			     s->where);
			goto fail;
		}
		st = command(s, "STLS", "STLS", text, sizeof(text), err, err_len);
		if (st != MIG_POP3_OK) {
			if (st > 0)
				fail(err, err_len,
				     "%s: STLS refused (%s); refusing to send the password without "
				     "TLS",
				     s->where, text);
			goto fail;
		}
		if (start_tls(s, o, err, err_len) < 0)
			goto fail;
		/* RFC 2595 §4: what the server said before TLS is forgotten */
		if (capa(s, &c, err, err_len) < 0)
			goto fail;
	}
	s->window = c.pipelining ? MIG_POP3_WINDOW : 1;
	if (login(s, &c, o->password, err, err_len) < 0 || pop3_stat(s, err, err_len) < 0 ||
	    read_lists(s, err, err_len) < 0)
		goto fail;
	*s_r = s;
	return 0;
fail:
	close_session(&s);
	return -1;
}

/* A body as the store keeps it (S4): the server's octets unless it sent
   bare line ends, which only a broken server does. */
static void to_wire(struct buf *body)
{
	for (size_t i = 0; i < body->len; i++) {
		bool bare =
		    (body->data[i] == '\n' && (i == 0 || body->data[i - 1] != '\r')) ||
		    (body->data[i] == '\r' && (i + 1 == body->len || body->data[i + 1] != '\n'));
		if (bare) {
			struct buf w = {0};
			store_to_wire(&w, body->data, body->len);
			buf_free(body);
			*body = w;
			return;
		}
	}
}

/* Sends RETR for the next messages the mailbox does not hold, up to the
   window: one at a time, or with PIPELINING (RFC 2449 §6.6) several, so a
   distant server's round trips overlap. The commands are short: the
   server's answers never wait for them to be sent. */
static int send_retrs(struct migrate_source *s, char *err, size_t err_len)
{
	while (s->inflight < s->window && s->sent < s->n) {
		struct entry *e = &s->list[s->sent++];
		char cmd[40];
		if (s->has_uidl != NULL && s->has_uidl(s->has_uidl_ctx, e->uidl))
			continue; /* the mailbox holds it: not fetched again */
		int n = snprintf(cmd, sizeof(cmd), "RETR %llu\r\n", (unsigned long long)e->n);
		if (!conn_write(s, cmd, (size_t)n))
			return fail(err, err_len, "%s: RETR: cannot send%s", s->where,
				    s->timed_out || errno == EAGAIN ? " (timed out)" : "");
		s->ring[(s->head + s->inflight++) % MIG_POP3_WINDOW] = (size_t)(e - s->list);
	}
	return 0;
}

static int next_msg(struct migrate_source *s, struct migrate_msg *m, char *err, size_t err_len)
{
	char text[MIG_POP3_STATUS_MAX], cmd[32];

	buf_clear(&m->body);
	if (send_retrs(s, err, err_len) < 0)
		return -1;
	if (s->inflight == 0)
		return 0;
	const struct entry *e = &s->list[s->ring[s->head]];
	s->head = (s->head + 1) % MIG_POP3_WINDOW;
	s->inflight--;
	snprintf(cmd, sizeof(cmd), "RETR %llu", (unsigned long long)e->n);
	int st = mig_pop3_status(&s->in, text, sizeof(text));
	if (st < 0)
		return io_fail(s, st, cmd, err, err_len);
	if (st != MIG_POP3_OK)
		return fail(err, err_len, "%s: %s (UIDL %s) failed: %s", s->where, cmd, e->uidl,
			    text);
	size_t max =
	    e->size > SIZE_MAX / 4 ? SIZE_MAX / 2 : (size_t)e->size * 2 + MIG_POP3_BODY_SLACK;
	st = mig_pop3_multiline(&s->in, &m->body, MIG_POP3_BODY_LINE, max);
	if (st != MIG_POP3_OK)
		return io_fail(s, st, cmd, err, err_len);
	to_wire(&m->body);
	snprintf(m->uidl, sizeof(m->uidl), "%s", e->uidl);
	m->received = mig_pop3_received(m->body.data, m->body.len);
	return 1;
}

static long long src_count(struct migrate_source *s)
{
	return s->stat_count;
}

static void close_session(struct migrate_source **sp)
{
	struct migrate_source *s = *sp;
	char text[MIG_POP3_STATUS_MAX], err[16];

	if (s == NULL)
		return;
	*sp = NULL;
	if (s->fd >= 0 && (s->ssl != NULL || s->url.implicit_tls == false)) {
		/* QUIT without DELE: the old server keeps every message */
		struct timeval tv = {.tv_sec = 5};
		setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		command(s, "QUIT", "QUIT", text, sizeof(text), err, sizeof(err));
	}
	if (s->ssl != NULL) {
		SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
	}
	SSL_CTX_free(s->ctx);
	if (s->fd >= 0)
		close(s->fd);
	free(s->list);
	free(s);
}

/* A server that closes the connection must make a write fail with EPIPE,
   not end the CLI (which, unlike serve, does not ignore SIGPIPE): the
   signal is held while the source runs and one it raised is taken away. */
static void pipe_hold(sigset_t *old)
{
	sigset_t pipe;
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe, old);
}

static void pipe_release(const sigset_t *old)
{
	sigset_t pipe, pending;
	struct timespec zero = {0};
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigpending(&pending);
	if (!sigismember(old, SIGPIPE) && sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

static int src_open(const char *where, const struct migrate_options *o, struct migrate_source **s_r,
		    char *err, size_t err_len)
{
	sigset_t old;
	pipe_hold(&old);
	int r = open_session(where, o, s_r, err, err_len);
	pipe_release(&old);
	return r;
}

static int src_next(struct migrate_source *s, struct migrate_msg *m, char *err, size_t err_len)
{
	sigset_t old;
	pipe_hold(&old);
	int r = next_msg(s, m, err, err_len);
	pipe_release(&old);
	return r;
}

static void src_close(struct migrate_source **sp)
{
	sigset_t old;
	pipe_hold(&old);
	close_session(sp);
	pipe_release(&old);
}

const struct migrate_source_ops migrate_pop3_ops = {
    .name = "pop3",
    .open = src_open,
    .next = src_next,
    .count = src_count,
    .close = src_close,
};
