/* SPDX-License-Identifier: MIT */
/*
 * check_smtp.c - the submission steps of `mailroom check` (RFC 6409, RFC
 * 3207 STARTTLS, RFC 8314 implicit TLS, RFC 4954 AUTH): connect, TLS,
 * greeting (with EHLO), login, logout for each submission service, and the
 * probe's sending (MAIL, RCPT, DATA) in a quiet session whose first
 * failure becomes the reason of the probe's line.
 *
 * Replies are read by the delivery client's reader (queue/smtp_reply.h),
 * strict and bounded; AUTH is PLAIN when offered, else LOGIN, and never
 * before TLS.
 */
#include "check/check_private.h"
#include "proto/dotstuff.h"
#include "queue/smtp_reply.h"
#include "util/base64.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

struct smtp {
	struct check_sess s;
	bool starttls, plain, login; /* offered in the last EHLO reply */
	char text[SMTP_REPLY_LINE_MAX + 8];
	const char *io; /* why the last reply did not come */
};

#define step(sm, ...) check_sess_step(&(sm)->s, __VA_ARGS__)

/* One whole reply: its code, with "code text" of its last line in
   s->text; 0 when none came (s->io says why). With ehlo the lines after
   the first are read as EHLO keywords. */
static int reply(struct smtp *s, bool ehlo)
{
	struct mig_pop3_in *in = &s->s.c.in;
	struct smtp_reply r;

	smtp_reply_init(&r);
	if (ehlo)
		s->starttls = s->plain = s->login = false;
	for (;;) {
		if (in->off == in->len) {
			ssize_t n = in->read(in->ctx, in->buf, sizeof(in->buf));
			if (n <= 0) {
				s->io = n == 0 ? "the server closed the connection"
					       : check_conn_why(&s->s.c);
				return 0;
			}
			in->off = 0;
			in->len = (size_t)n;
		}
		size_t used;
		enum smtp_reply_status st =
		    smtp_reply_feed(&r, in->buf + in->off, in->len - in->off, &used);
		in->off += used;
		if (st == SMTP_REPLY_BAD) {
			s->io = smtp_reply_error_text(r.error);
			return 0;
		}
		if (st == SMTP_REPLY_MORE)
			continue;
		if (ehlo && r.lines > 1) {
			struct smtp_ehlo e = {0};
			smtp_ehlo_line(&e, r.text, r.text_len);
			s->starttls |= e.starttls;
			check_parse_ehlo_auth(r.text, r.text_len, &s->plain, &s->login);
		}
		if (st == SMTP_REPLY_DONE) {
			snprintf(s->text, sizeof(s->text), "%d %.*s", r.code, (int)r.text_len,
				 r.text);
			return r.code;
		}
	}
}

/* A command line (CRLF added) and its reply; secret lines are wiped. */
static int command(struct smtp *s, const char *line, bool ehlo)
{
	char out[4096];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(out)) {
		s->io = "command too long";
		return 0;
	}
	bool ok = check_conn_write(&s->s.c, out, (size_t)n);
	OPENSSL_cleanse(out, sizeof(out));
	if (!ok) {
		s->io = check_conn_why(&s->s.c);
		return 0;
	}
	return reply(s, ehlo);
}

/* What the last command got, for a failed step's line. */
static const char *got(const struct smtp *s, int code)
{
	return code == 0 ? s->io : s->text;
}

static bool ehlo(struct smtp *s)
{
	char line[600];
	snprintf(line, sizeof(line), "EHLO %.500s", s->s.r->o->helo);
	int code = command(s, line, true);
	return code == 250 || !step(s, CHECK_CRITICAL, "greeting", "EHLO: %s", got(s, code));
}

static bool login(struct smtp *s)
{
	const struct check_options *o = s->s.r->o;
	struct buf b64 = {0}, line = {0};
	const char *how;
	int code;

	check_sess_begin(&s->s);
	if (s->plain) {
		/* RFC 4954 §4 with an initial response (RFC 4616) */
		how = "AUTH PLAIN";
		check_plain_response(&b64, o->address, o->password);
		buf_printf(&line, "AUTH PLAIN %s", b64.data);
		code = command(s, line.data, false);
	} else if (s->login) {
		/* the LOGIN mechanism: user name and password at two 334s */
		how = "AUTH LOGIN";
		code = command(s, "AUTH LOGIN", false);
		if (code == 334) {
			base64_encode(&b64, o->address, strlen(o->address));
			buf_append_c(&b64, '\0');
			code = command(s, b64.data, false);
		}
		if (code == 334) {
			buf_clear(&b64);
			base64_encode(&b64, o->password, strlen(o->password));
			buf_append_c(&b64, '\0');
			code = command(s, b64.data, false);
		}
	} else {
		return step(s, CHECK_CRITICAL, "login", "no AUTH PLAIN or LOGIN offered after TLS");
	}
	buf_free_secret(&b64);
	buf_free_secret(&line);
	if (code != 235)
		return step(s, CHECK_CRITICAL, "login", "%s as %s refused: %s", how, o->address,
			    got(s, code));
	return step(s, CHECK_OK, "login", "%s as %s", how, o->address);
}

static bool open_session(struct smtp *s)
{
	bool implicit = s->s.svc == CHECK_SUBMISSIONS;

	if (!check_sess_connect(&s->s))
		return false;
	check_sess_begin(&s->s);
	int code = reply(s, false);
	if (code != 220)
		return step(s, CHECK_CRITICAL, "greeting", "%s", got(s, code));
	char greeting[128];
	snprintf(greeting, sizeof(greeting), "%.100s", s->text);
	if (!ehlo(s) || !step(s, CHECK_OK, "greeting", "%s", greeting))
		return false;
	if (!implicit) {
		check_sess_begin(&s->s);
		if (!s->starttls)
			return step(s, CHECK_CRITICAL, "tls",
				    "no STARTTLS in the EHLO reply: the "
				    "password is not sent in the clear");
		code = command(s, "STARTTLS", false);
		if (code != 220)
			return step(s, CHECK_CRITICAL, "tls", "STARTTLS: %s", got(s, code));
		if (!check_sess_tls(&s->s))
			return false;
	}
	check_sess_begin(&s->s);
	/* RFC 3207 §4.2: the EHLO reply before TLS is forgotten */
	return ehlo(s) && login(s);
}

static bool logout(struct smtp *s)
{
	check_sess_begin(&s->s);
	int code = command(s, "QUIT", false);
	if (code != 221)
		return step(s, CHECK_CRITICAL, "logout", "QUIT: %s", got(s, code));
	return step(s, CHECK_OK, "logout", "%s", s->text);
}

void check_smtp_service(struct check_run *r, enum check_service svc)
{
	struct smtp s;

	memset(&s, 0, sizeof(s));
	check_sess_init(&s.s, r, svc, NULL, 0);
	if (open_session(&s)) {
		r->login_ok[svc] = true;
		logout(&s);
	}
	check_conn_close(&s.s.c);
}

/* MAIL, RCPT, DATA and the message, dot-stuffed (proto/dotstuff.h). */
static bool transaction(struct smtp *s, const struct buf *msg)
{
	const char *a = s->s.r->o->address;
	char line[600];
	struct dotstuff ds;
	struct buf wire = {0};

	check_sess_begin(&s->s);
	snprintf(line, sizeof(line), "MAIL FROM:<%.500s>", a);
	int code = command(s, line, false);
	if (code != 250)
		return step(s, CHECK_CRITICAL, "MAIL", "%s", got(s, code));
	snprintf(line, sizeof(line), "RCPT TO:<%.500s>", a);
	code = command(s, line, false);
	if (code != 250 && code != 251)
		return step(s, CHECK_CRITICAL, "RCPT", "%s", got(s, code));
	code = command(s, "DATA", false);
	if (code != 354)
		return step(s, CHECK_CRITICAL, "DATA", "%s", got(s, code));
	dotstuff_init(&ds);
	dotstuff_feed(&ds, msg->data, msg->len, &wire);
	dotstuff_finish(&ds, &wire);
	bool ok = check_conn_write(&s->s.c, wire.data, wire.len);
	buf_free(&wire);
	code = ok ? reply(s, false) : 0;
	if (!ok)
		s->io = check_conn_why(&s->s.c);
	if (code != 250)
		return step(s, CHECK_CRITICAL, "DATA", "%s", got(s, code));
	return true;
}

int check_smtp_send(struct check_run *r, enum check_service svc, const struct buf *msg, char *why,
		    size_t why_len)
{
	struct smtp s;
	bool ok;

	memset(&s, 0, sizeof(s));
	check_sess_init(&s.s, r, svc, why, why_len);
	ok = open_session(&s) && transaction(&s, msg) && logout(&s);
	check_conn_close(&s.s.c);
	return ok ? 0 : -1;
}
