/* SPDX-License-Identifier: MIT */
/*
 * check_pop3.c - the POP3 steps of `mailroom check` (RFC 1939, RFC 2449
 * CAPA, RFC 2595 STLS, RFC 5034 AUTH PLAIN): connect, TLS, greeting,
 * login, stat, logout for each POP3 service, and the probe's poll of the
 * mailbox (UIDL, TOP n 0 of new messages, RETR, DELE, QUIT).
 *
 * The password goes only over TLS: a session whose TLS step failed stops
 * there. A session of the probe is quiet: its steps print nothing, and
 * its first failure becomes the reason of the probe's line.
 */
#include "check/check_private.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#define POP3_LISTING_LINE 512
#define POP3_LISTING_MAX (64u << 20)
#define POP3_MESSAGE_LINE (4u << 20)
#define POP3_MESSAGE_MAX (64u << 20)

struct pop3 {
	struct check_sess s;
	struct check_capa capa;
	char text[MIG_POP3_STATUS_MAX];
};

#define step(p, ...) check_sess_step(&(p)->s, __VA_ARGS__)

/* Why a status line did not come. */
static const char *io_why(struct pop3 *p, int st)
{
	return st == MIG_POP3_IO ? check_conn_why(&p->s.c) : mig_pop3_status_text(st);
}

/* A command line (CRLF added) and its status line in p->text. */
static int command(struct pop3 *p, const char *line)
{
	char out[4096];
	int n = snprintf(out, sizeof(out), "%s\r\n", line);
	if (n < 0 || (size_t)n >= sizeof(out))
		return MIG_POP3_LONG;
	bool ok = check_conn_write(&p->s.c, out, (size_t)n);
	OPENSSL_cleanse(out, sizeof(out));
	if (!ok)
		return MIG_POP3_IO;
	return mig_pop3_status(&p->s.c.in, p->text, sizeof(p->text));
}

/* A multi-line answer to cmd into b: MIG_POP3_OK, ERR (text in p->text)
   or a read failure. */
static int listing(struct pop3 *p, const char *cmd, struct buf *b, size_t line_max, size_t max)
{
	int st = command(p, cmd);
	if (st != MIG_POP3_OK)
		return st;
	return mig_pop3_multiline(&p->s.c.in, b, line_max, max);
}

static void capa(struct pop3 *p)
{
	struct buf b = {0};
	memset(&p->capa, 0, sizeof(p->capa));
	if (listing(p, "CAPA", &b, POP3_LISTING_LINE, 1u << 16) == MIG_POP3_OK)
		check_parse_capa(b.data, b.len, &p->capa);
	buf_free(&b);
}

static bool login(struct pop3 *p)
{
	const struct check_options *o = p->s.r->o;
	int st;
	const char *how;

	check_sess_begin(&p->s);
	if (p->capa.sasl_plain) {
		/* RFC 5034 §4: AUTH PLAIN, the credentials after the "+ " */
		struct buf b64 = {0};
		how = "AUTH PLAIN";
		st = command(p, "AUTH PLAIN");
		if (st == MIG_POP3_CONT) {
			check_plain_response(&b64, o->address, o->password);
			st = command(p, b64.data);
		}
		buf_free_secret(&b64);
	} else {
		char line[1100];
		how = "USER/PASS";
		snprintf(line, sizeof(line), "USER %s", o->address);
		st = command(p, line);
		if (st == MIG_POP3_OK) {
			snprintf(line, sizeof(line), "PASS %s", o->password);
			st = command(p, line);
			OPENSSL_cleanse(line, sizeof(line));
		}
	}
	if (st < 0)
		return step(p, CHECK_CRITICAL, "login", "%s as %s: %s", how, o->address,
			    io_why(p, st));
	if (st != MIG_POP3_OK)
		return step(p, CHECK_CRITICAL, "login", "%s as %s refused: %s", how, o->address,
			    p->text[0] != '\0' ? p->text : "-ERR");
	return step(p, CHECK_OK, "login", "%s as %s", how, o->address);
}

/* connect, TLS, greeting and login; false when a step failed */
static bool open_session(struct pop3 *p)
{
	bool implicit = p->s.svc == CHECK_POP3S;

	if (!check_sess_connect(&p->s))
		return false;
	check_sess_begin(&p->s);
	int st = mig_pop3_status(&p->s.c.in, p->text, sizeof(p->text));
	if (st < 0)
		return step(p, CHECK_CRITICAL, "greeting", "%s", io_why(p, st));
	if (st != MIG_POP3_OK)
		return step(p, CHECK_CRITICAL, "greeting", "refused: %.200s", p->text);
	char greeting[128];
	snprintf(greeting, sizeof(greeting), "%.100s", p->text);
	capa(p);
	if (!step(p, CHECK_OK, "greeting", "+OK %s", greeting))
		return false;
	if (!implicit) {
		check_sess_begin(&p->s);
		if (!p->capa.stls)
			return step(p, CHECK_CRITICAL, "tls",
				    "no STLS in CAPA: the password is "
				    "not sent in the clear");
		st = command(p, "STLS");
		if (st != MIG_POP3_OK)
			return step(p, CHECK_CRITICAL, "tls", "STLS: %s",
				    st < 0 ? io_why(p, st) : p->text);
		if (!check_sess_tls(&p->s))
			return false;
	}
	check_sess_begin(&p->s);
	capa(p); /* RFC 2595 §4: what was offered before TLS is forgotten */
	return login(p);
}

static void logout(struct pop3 *p)
{
	check_sess_begin(&p->s);
	int st = command(p, "QUIT");
	if (st == MIG_POP3_OK)
		step(p, CHECK_OK, "logout", "+OK %.100s", p->text);
	else
		step(p, CHECK_CRITICAL, "logout", "QUIT: %s", st < 0 ? io_why(p, st) : p->text);
}

/* "+OK nn mm" (RFC 1939 §5) as the admin reads it */
static void stat_step(struct pop3 *p, const char *text)
{
	unsigned long long count, octets;
	char rest;
	if (sscanf(text, "%llu %llu%c", &count, &octets, &rest) == 2 ||
	    (sscanf(text, "%llu %llu %c", &count, &octets, &rest) == 3))
		step(p, CHECK_OK, "stat", "%llu message%s, %llu octets", count,
		     count == 1 ? "" : "s", octets);
	else
		step(p, CHECK_OK, "stat", "+OK %s", text);
}

void check_pop3_service(struct check_run *r, enum check_service svc)
{
	struct pop3 p;

	memset(&p, 0, sizeof(p));
	check_sess_init(&p.s, r, svc, NULL, 0);
	if (open_session(&p)) {
		r->login_ok[svc] = true;
		check_sess_begin(&p.s);
		int st = command(&p, "STAT");
		char stat[128];
		snprintf(stat, sizeof(stat), "%.100s", p.text);
		/* the messages there before the probe (check_pop3_fetch) */
		buf_clear(&r->baseline[svc]);
		int ul = st == MIG_POP3_OK ? listing(&p, "UIDL", &r->baseline[svc],
						     POP3_LISTING_LINE, POP3_LISTING_MAX)
					   : st;
		if (st < 0 || ul < 0)
			step(&p, CHECK_CRITICAL, "stat", "%s", io_why(&p, st < 0 ? st : ul));
		else if (st != MIG_POP3_OK)
			step(&p, CHECK_CRITICAL, "stat", "STAT: %s", p.text);
		else if (ul != MIG_POP3_OK)
			step(&p, CHECK_WARNING, "stat", "+OK %s; no UIDL: %s", stat, p.text);
		else
			stat_step(&p, stat);
		if (st >= 0 && ul >= 0)
			logout(&p);
	}
	check_conn_close(&p.s.c);
}

/* --- the probe's poll ------------------------------------------------------ */

struct fetch {
	struct pop3 *p;
	const char *subject; /* "mailroom check TOKEN" */
	uint64_t found;	     /* its message number, 0: none yet */
	int failed;	     /* TOP failed (MIG_POP3_ERR or a read failure) */
};

static bool is_probe(void *ctx, uint64_t n)
{
	struct fetch *f = ctx;
	struct buf b = {0};
	char cmd[40];

	snprintf(cmd, sizeof(cmd), "TOP %llu 0", (unsigned long long)n);
	int st = listing(f->p, cmd, &b, POP3_MESSAGE_LINE, 1u << 20);
	if (st != MIG_POP3_OK)
		f->failed = st; /* a read failed, or no TOP (RFC 1939 lists it as optional) */
	else if (st == MIG_POP3_OK && check_parse_header_has(b.data, b.len, "Subject", f->subject))
		f->found = n;
	buf_free(&b);
	return f->found != 0 || f->failed != 0;
}

int check_pop3_fetch(struct check_run *r, enum check_service svc, const char *token,
		     const struct buf *sent, char *why, size_t why_len)
{
	struct pop3 p;
	struct buf uidl = {0}, msg = {0};
	char subject[64], cmd[40];
	int rc = -1;

	memset(&p, 0, sizeof(p));
	check_sess_init(&p.s, r, svc, why, why_len);
	if (!open_session(&p))
		goto out;
	check_sess_begin(&p.s);
	int st = listing(&p, "UIDL", &uidl, POP3_LISTING_LINE, POP3_LISTING_MAX);
	if (st != MIG_POP3_OK) {
		step(&p, CHECK_CRITICAL, "UIDL", "%s", st < 0 ? io_why(&p, st) : p.text);
		goto out;
	}
	snprintf(subject, sizeof(subject), "mailroom check %s", token);
	struct fetch f = {.p = &p, .subject = subject};
	check_parse_new_uidls(uidl.data, uidl.len, r->baseline[svc].data, r->baseline[svc].len,
			      is_probe, &f);
	if (f.failed != 0) {
		step(&p, CHECK_CRITICAL, "TOP", "%s", f.failed < 0 ? io_why(&p, f.failed) : p.text);
		goto out;
	}
	if (f.found == 0) {
		rc = 0;
		command(&p, "QUIT");
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "RETR %llu", (unsigned long long)f.found);
	st = listing(&p, cmd, &msg, POP3_MESSAGE_LINE, POP3_MESSAGE_MAX);
	if (st != MIG_POP3_OK) {
		step(&p, CHECK_CRITICAL, "RETR", "%s", st < 0 ? io_why(&p, st) : p.text);
		goto out;
	}
	if (!check_parse_intact(msg.data, msg.len, sent->data, sent->len) ||
	    !check_parse_header_has(msg.data, msg.len, "Message-ID", token)) {
		step(&p, CHECK_CRITICAL, "RETR", "the probe came back altered (%zu octets)",
		     msg.len);
		goto out;
	}
	snprintf(cmd, sizeof(cmd), "DELE %llu", (unsigned long long)f.found);
	st = command(&p, cmd);
	if (st != MIG_POP3_OK) {
		step(&p, CHECK_CRITICAL, "DELE", "%s", st < 0 ? io_why(&p, st) : p.text);
		goto out;
	}
	st = command(&p, "QUIT"); /* RFC 1939 §6: the deletion happens now */
	if (st != MIG_POP3_OK) {
		step(&p, CHECK_CRITICAL, "QUIT", "%s", st < 0 ? io_why(&p, st) : p.text);
		goto out;
	}
	rc = 1;
out:
	buf_free(&uidl);
	buf_free(&msg);
	check_conn_close(&p.s.c);
	return rc;
}
