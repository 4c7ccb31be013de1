/* SPDX-License-Identifier: MIT */
/*
 * check_imap.c - the IMAP steps of `mailroom check` (RFC 9051 and RFC
 * 3501, RFC 8314 implicit TLS, RFC 4959 SASL-IR, RFC 4315 UIDPLUS):
 * connect, TLS, greeting, capability, login, select, logout for each IMAP
 * service, and the probe's search of the mailbox (UID SEARCH HEADER
 * Message-ID, UID FETCH BODY.PEEK[], and the removal of the probe with UID
 * STORE and UID EXPUNGE when no POP3 service fetches it after).
 *
 * Responses are read whole by the reader of check_imap_resp.c, bounded.
 * The password goes only over TLS, as AUTHENTICATE PLAIN when offered,
 * else LOGIN; a session whose TLS step failed stops there. A session of
 * the probe is quiet: its first failure becomes the reason of the probe's
 * line. Only the probe's own UID is ever expunged: without UIDPLUS it is
 * flagged \Deleted and left, since EXPUNGE would remove every message so
 * flagged.
 */
#include "check/check_private.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define IMAP_RESP_MAX (1u << 20)   /* a response to anything but the FETCH */
#define IMAP_FETCH_MAX (64u << 20) /* the FETCH of the probe */
#define IMAP_TEXT_MAX 200	   /* of a status, on a step's line */

enum imap_result {
	IMAP_FAIL = -1, /* no tagged response: m->io says why */
	IMAP_OK = 0,
	IMAP_NO = 1,
	IMAP_BAD = 2,
	IMAP_CONT = 3, /* "+": the server waits for more of the command */
};

struct imap {
	struct check_sess s;
	struct check_imap_resp resp;
	struct check_imap_capa capa;
	unsigned tags;
	char tag[16];
	char text[IMAP_TEXT_MAX + 64]; /* the last status: "NO [CODE] text" */
	char bye[IMAP_TEXT_MAX];       /* an untagged BYE's text */
	char io[256];		       /* why no tagged response came */
};

/* What a command's untagged responses are read into. */
typedef void untagged_fn(struct imap *m, const struct check_imap_head *h, void *ctx);

#define step(m, ...) check_sess_step(&(m)->s, __VA_ARGS__)

static void imap_init(struct imap *m, struct check_run *r, enum check_service svc, char *why,
		      size_t why_len)
{
	memset(m, 0, sizeof(*m));
	check_sess_init(&m->s, r, svc, why, why_len);
	check_imap_resp_init(&m->resp, IMAP_RESP_MAX);
}

static void imap_deinit(struct imap *m)
{
	check_conn_close(&m->s.c);
	check_imap_resp_free(&m->resp);
}

/* One whole response into m->resp; false with m->io when none came. */
static bool read_resp(struct imap *m)
{
	struct mig_pop3_in *in = &m->s.c.in;

	check_imap_resp_reset(&m->resp);
	for (;;) {
		if (in->off == in->len) {
			ssize_t n = in->read(in->ctx, in->buf, sizeof(in->buf));
			if (n <= 0) {
				if (n < 0)
					snprintf(m->io, sizeof(m->io), "%s",
						 check_conn_why(&m->s.c));
				else if (m->bye[0] != '\0')
					snprintf(m->io, sizeof(m->io),
						 "the server closed the connection: BYE %.100s",
						 m->bye);
				else
					snprintf(m->io, sizeof(m->io),
						 "the server closed the connection");
				return false;
			}
			in->off = 0;
			in->len = (size_t)n;
		}
		size_t used;
		enum check_imap_feed st =
		    check_imap_resp_feed(&m->resp, in->buf + in->off, in->len - in->off, &used);
		in->off += used;
		if (st == CHECK_IMAP_DONE)
			return true;
		if (st == CHECK_IMAP_BAD) {
			snprintf(m->io, sizeof(m->io), "%s",
				 check_imap_resp_error_text(m->resp.error));
			return false;
		}
	}
}

/* The response read, to its first line end, for a step's line. */
static void resp_text(const struct imap *m, char *out, size_t len)
{
	const char *p = m->resp.text.data;
	size_t n = strcspn(p, "\r\n"); /* text is NUL-terminated past len */
	check_imap_text((struct slice){p, n < m->resp.text.len ? n : m->resp.text.len}, out, len);
}

/* A status's "WORD [CODE] text" for a step's line. */
static void status_text(const struct check_imap_head *h, char *out, size_t len)
{
	char word[16], code[IMAP_TEXT_MAX], text[IMAP_TEXT_MAX];
	check_imap_text(h->word, word, sizeof(word));
	check_imap_text(h->code, code, sizeof(code));
	check_imap_text(h->text, text, sizeof(text));
	snprintf(out, len, "%s%s%.100s%s%s%.120s", word, code[0] != '\0' ? " [" : "", code,
		 code[0] != '\0' ? "]" : "", text[0] != '\0' ? " " : "", text);
}

/* Capabilities come whole (RFC 9051 §7.2.2), in a response or a code. */
static void note_capabilities(struct imap *m, const struct check_imap_head *h)
{
	struct slice w = h->code, rest = {0};
	if (slice_eq_ci(h->word, "CAPABILITY")) {
		rest = h->rest;
	} else if (w.len > 0) {
		struct slice name;
		if (!slice_token(w, &name, &rest) || !slice_eq_ci(name, "CAPABILITY"))
			return;
	} else {
		return;
	}
	memset(&m->capa, 0, sizeof(m->capa));
	check_imap_parse_capa(rest, &m->capa);
}

/* Responses up to the tagged one of m->tag (or a continuation). */
static int wait_tagged(struct imap *m, untagged_fn *fn, void *ctx)
{
	struct check_imap_head h;

	for (;;) {
		if (!read_resp(m))
			return IMAP_FAIL;
		if (!check_imap_head(m->resp.text.data, m->resp.text.len, &h)) {
			char t[IMAP_TEXT_MAX];
			resp_text(m, t, sizeof(t));
			snprintf(m->io, sizeof(m->io), "not an IMAP response: %.120s", t);
			return IMAP_FAIL;
		}
		if (h.kind == CHECK_IMAP_CONT) {
			check_imap_text(h.text, m->text, sizeof(m->text));
			return IMAP_CONT;
		}
		note_capabilities(m, &h);
		if (h.kind == CHECK_IMAP_UNTAGGED) {
			if (slice_eq_ci(h.word, "BYE"))
				check_imap_text(h.text, m->bye, sizeof(m->bye));
			if (fn != NULL)
				fn(m, &h, ctx);
			continue;
		}
		if (!slice_eq(h.tag, m->tag))
			continue; /* not ours: nothing else is in flight */
		status_text(&h, m->text, sizeof(m->text));
		if (slice_eq_ci(h.word, "OK"))
			return IMAP_OK;
		return slice_eq_ci(h.word, "NO") ? IMAP_NO : IMAP_BAD;
	}
}

/* A line (CRLF added) as it is; secret lines are wiped. */
static bool send_line(struct imap *m, const char *line, size_t len)
{
	struct buf out = {0};
	buf_append(&out, line, len);
	buf_append_str(&out, "\r\n");
	bool ok = check_conn_write(&m->s.c, out.data, out.len);
	buf_free_secret(&out);
	if (!ok)
		snprintf(m->io, sizeof(m->io), "%s", check_conn_why(&m->s.c));
	return ok;
}

/* A tagged command and its responses, up to its tagged status. */
static int command(struct imap *m, untagged_fn *fn, void *ctx, const char *fmt, ...)
    ATTR_FORMAT(4, 5);
static int command(struct imap *m, untagged_fn *fn, void *ctx, const char *fmt, ...)
{
	struct buf line = {0};
	va_list ap;

	snprintf(m->tag, sizeof(m->tag), "a%u", ++m->tags);
	buf_printf(&line, "%s ", m->tag);
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	bool ok = send_line(m, line.data, line.len);
	buf_free_secret(&line);
	return ok ? wait_tagged(m, fn, ctx) : IMAP_FAIL;
}

/* What the last command got, for a failed step's line. */
static const char *got(const struct imap *m, int rc)
{
	return rc == IMAP_FAIL ? m->io : m->text;
}

static int capability(struct imap *m)
{
	memset(&m->capa, 0, sizeof(m->capa));
	return command(m, NULL, NULL, "CAPABILITY");
}

static bool capability_step(struct imap *m)
{
	check_sess_begin(&m->s);
	int rc = capability(m);
	if (rc != IMAP_OK)
		return step(m, CHECK_CRITICAL, "capability", "CAPABILITY: %s", got(m, rc));
	const struct check_imap_capa *c = &m->capa;
	const struct {
		bool on;
		const char *name;
	} names[] = {
	    {c->imap4rev1, "IMAP4rev1"},   {c->imap4rev2, "IMAP4rev2"},
	    {c->starttls, "STARTTLS"},	   {c->logindisabled, "LOGINDISABLED"},
	    {c->auth_plain, "AUTH=PLAIN"}, {c->sasl_ir, "SASL-IR"},
	    {c->uidplus, "UIDPLUS"},
	};
	struct buf list = {0};
	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		if (names[i].on)
			buf_printf(&list, "%s%s", list.len > 0 ? " " : "", names[i].name);
	bool ok;
	/* RFC 9051 §7.2.2: every server names its revision */
	if (!c->imap4rev1 && !c->imap4rev2)
		ok = step(m, CHECK_WARNING, "capability", "no IMAP4rev1 or IMAP4rev2 in: %s",
			  list.len > 0 ? list.data : "(none of those looked for)");
	else
		ok = step(m, CHECK_OK, "capability", "%s", list.data);
	buf_free(&list);
	return ok;
}

/* s as an IMAP quoted string (RFC 9051 §4.3), or false when it holds an
   octet a quoted string cannot (CR, LF, NUL, 8-bit): then a literal. */
static bool quoted(struct buf *out, const char *s)
{
	buf_append_c(out, '"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c >= 0x7f)
			return false;
		if (c == '"' || c == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, (char)c);
	}
	buf_append_c(out, '"');
	return true;
}

/* LOGIN user password (RFC 9051 §6.2.3), the password as a literal when
   it cannot be quoted (after the server's "+", RFC 9051 §7.5). */
static int login_cmd(struct imap *m, const char *user, const char *password)
{
	struct buf line = {0}, pw = {0};
	int rc;

	snprintf(m->tag, sizeof(m->tag), "a%u", ++m->tags);
	buf_printf(&line, "%s LOGIN ", m->tag);
	if (!quoted(&line, user)) {
		snprintf(m->io, sizeof(m->io), "the address cannot be sent as an IMAP string");
		buf_free(&line);
		return IMAP_FAIL;
	}
	buf_append_c(&line, ' ');
	if (quoted(&pw, password)) {
		buf_append(&line, pw.data, pw.len);
		rc = send_line(m, line.data, line.len) ? wait_tagged(m, NULL, NULL) : IMAP_FAIL;
	} else {
		buf_printf(&line, "{%zu}", strlen(password));
		rc = send_line(m, line.data, line.len) ? wait_tagged(m, NULL, NULL) : IMAP_FAIL;
		if (rc == IMAP_CONT)
			rc = send_line(m, password, strlen(password)) ? wait_tagged(m, NULL, NULL)
								      : IMAP_FAIL;
	}
	buf_free_secret(&line);
	buf_free_secret(&pw);
	return rc;
}

static bool login(struct imap *m)
{
	const struct check_options *o = m->s.r->o;
	const char *how;
	int rc;

	if (m->capa.auth_plain) {
		/* RFC 9051 §6.2.2 with the initial response of RFC 4959 when offered */
		struct buf b64 = {0};
		how = "AUTHENTICATE PLAIN";
		check_plain_response(&b64, o->address, o->password);
		if (m->capa.sasl_ir) {
			rc = command(m, NULL, NULL, "AUTHENTICATE PLAIN %s", b64.data);
		} else {
			rc = command(m, NULL, NULL, "AUTHENTICATE PLAIN");
			if (rc == IMAP_CONT)
				rc = send_line(m, b64.data, strlen(b64.data))
					 ? wait_tagged(m, NULL, NULL)
					 : IMAP_FAIL;
		}
		buf_free_secret(&b64);
	} else if (m->capa.logindisabled) {
		return step(m, CHECK_CRITICAL, "login",
			    "LOGINDISABLED and no AUTH=PLAIN offered after TLS");
	} else {
		how = "LOGIN";
		rc = login_cmd(m, o->address, o->password);
	}
	if (rc == IMAP_CONT) {	      /* a second challenge PLAIN does not have */
		send_line(m, "*", 1); /* RFC 9051 §6.2.2: cancels */
		rc = wait_tagged(m, NULL, NULL);
		if (rc == IMAP_CONT)
			rc = IMAP_BAD;
	}
	if (rc == IMAP_FAIL)
		return step(m, CHECK_CRITICAL, "login", "%s as %s: %s", how, o->address, m->io);
	if (rc != IMAP_OK)
		return step(m, CHECK_CRITICAL, "login", "%s as %s refused: %s", how, o->address,
			    m->text);
	return step(m, CHECK_OK, "login", "%s as %s", how, o->address);
}

/* connect, TLS, greeting, capability and login; false when a step failed */
static bool open_session(struct imap *m)
{
	struct check_imap_head h;
	char text[IMAP_TEXT_MAX + 64];

	if (!check_sess_connect(&m->s))
		return false;
	check_sess_begin(&m->s);
	if (!read_resp(m))
		return step(m, CHECK_CRITICAL, "greeting", "%s", m->io);
	if (!check_imap_head(m->resp.text.data, m->resp.text.len, &h) ||
	    h.kind != CHECK_IMAP_UNTAGGED) {
		resp_text(m, text, sizeof(text));
		return step(m, CHECK_CRITICAL, "greeting", "not an IMAP greeting: %s", text);
	}
	/* RFC 9051 §7.1.5: PREAUTH would skip the login this check is about */
	if (!slice_eq_ci(h.word, "OK")) {
		status_text(&h, text, sizeof(text));
		return step(m, CHECK_CRITICAL, "greeting", "refused: * %s", text);
	}
	check_imap_text(h.text, text, sizeof(text));
	if (!step(m, CHECK_OK, "greeting", "* OK %s", text) || !capability_step(m))
		return false;
	if (!check_service_implicit_tls(m->s.svc)) {
		check_sess_begin(&m->s);
		if (!m->capa.starttls)
			return step(m, CHECK_CRITICAL, "tls",
				    "no STARTTLS in CAPABILITY: the password is not sent in the "
				    "clear");
		int rc = command(m, NULL, NULL, "STARTTLS");
		if (rc != IMAP_OK)
			return step(m, CHECK_CRITICAL, "tls", "STARTTLS: %s", got(m, rc));
		if (!check_sess_tls(&m->s))
			return false;
		check_sess_begin(&m->s);
		/* RFC 9051 §6.2.1: what was offered before TLS is forgotten */
		rc = capability(m);
		if (rc != IMAP_OK)
			return step(m, CHECK_CRITICAL, "login", "CAPABILITY after TLS: %s",
				    got(m, rc));
	} else {
		check_sess_begin(&m->s);
	}
	return login(m);
}

static void logout(struct imap *m)
{
	check_sess_begin(&m->s);
	m->bye[0] = '\0';
	int rc = command(m, NULL, NULL, "LOGOUT");
	/* RFC 9051 §6.1.3: BYE, then the tagged OK (a close after BYE will do) */
	if (rc == IMAP_OK || (rc == IMAP_FAIL && m->bye[0] != '\0'))
		step(m, CHECK_OK, "logout", "* BYE %s", m->bye[0] != '\0' ? m->bye : "(none)");
	else
		step(m, CHECK_CRITICAL, "logout", "LOGOUT: %s", got(m, rc));
}

/* --- SELECT ----------------------------------------------------------- */

struct mailbox {
	bool exists_seen;
	uint64_t exists, uidvalidity, uidnext;
};

static void on_select(struct imap *m, const struct check_imap_head *h, void *ctx)
{
	struct mailbox *mb = ctx;
	struct slice name, arg;
	(void)m;
	if (h->has_num && slice_eq_ci(h->word, "EXISTS")) {
		mb->exists = h->num;
		mb->exists_seen = true;
	} else if (slice_eq_ci(h->word, "OK") && slice_token(h->code, &name, &arg)) {
		if (slice_eq_ci(name, "UIDVALIDITY"))
			slice_to_uint(arg, UINT32_MAX, &mb->uidvalidity);
		else if (slice_eq_ci(name, "UIDNEXT"))
			slice_to_uint(arg, UINT32_MAX, &mb->uidnext);
	}
}

static int select_inbox(struct imap *m, struct mailbox *mb)
{
	memset(mb, 0, sizeof(*mb));
	return command(m, on_select, mb, "SELECT INBOX");
}

void check_imap_service(struct check_run *r, enum check_service svc)
{
	struct imap m;
	struct mailbox mb;

	imap_init(&m, r, svc, NULL, 0);
	if (open_session(&m)) {
		r->login_ok[svc] = true;
		check_sess_begin(&m.s);
		int rc = select_inbox(&m, &mb);
		if (rc != IMAP_OK)
			step(&m, CHECK_CRITICAL, "select", "SELECT INBOX: %s", got(&m, rc));
		else if (!mb.exists_seen) /* RFC 9051 §6.3.2: EXISTS is required */
			step(&m, CHECK_WARNING, "select", "no EXISTS in the SELECT answer");
		else
			step(&m, CHECK_OK, "select",
			     "%llu message%s, UIDVALIDITY %llu, UIDNEXT %llu",
			     (unsigned long long)mb.exists, mb.exists == 1 ? "" : "s",
			     (unsigned long long)mb.uidvalidity, (unsigned long long)mb.uidnext);
		if (rc != IMAP_FAIL)
			logout(&m);
	}
	imap_deinit(&m);
}

/* --- the probe's search ------------------------------------------------- */

#define SEARCH_MAX 8

struct found {
	uint64_t uids[SEARCH_MAX];
	size_t n;
};

static void on_search(struct imap *m, const struct check_imap_head *h, void *ctx)
{
	struct found *f = ctx;
	(void)m;
	if (f->n == 0)
		f->n = check_imap_parse_search(h, f->uids, SEARCH_MAX);
}

struct fetched {
	uint64_t uid;
	bool seen;
	struct buf body;
};

static void on_fetch(struct imap *m, const struct check_imap_head *h, void *ctx)
{
	struct fetched *f = ctx;
	uint64_t uid;
	struct buf body = {0};
	(void)h;
	/* several FETCH responses may come (flag changes): only the one of
	   our UID with its BODY[] counts */
	if (check_imap_parse_fetch(m->resp.text.data, m->resp.text.len, &uid, &body) &&
	    uid == f->uid && body.len > 0 && !f->seen) {
		f->seen = true;
		buf_append(&f->body, body.data, body.len);
	}
	buf_free(&body);
}

int check_imap_find(struct check_run *r, enum check_service svc, const char *token,
		    const struct buf *sent, bool expunge, char *note, size_t note_len, char *why,
		    size_t why_len)
{
	struct imap m;
	struct mailbox mb;
	struct found found = {0};
	struct fetched f = {0};
	int rc = -1, st;

	imap_init(&m, r, svc, why, why_len);
	if (!open_session(&m))
		goto out;
	check_sess_begin(&m.s);
	st = select_inbox(&m, &mb);
	if (st != IMAP_OK) {
		step(&m, CHECK_CRITICAL, "select", "SELECT INBOX: %s", got(&m, st));
		goto out;
	}
	/* RFC 9051 §6.4.4: HEADER matches a substring of the field's value */
	st = command(&m, on_search, &found, "UID SEARCH HEADER Message-ID \"mailroom-check.%s\"",
		     token);
	if (st != IMAP_OK) {
		step(&m, CHECK_CRITICAL, "search", "UID SEARCH: %s", got(&m, st));
		goto out;
	}
	if (found.n == 0) {
		rc = 0;
		command(&m, NULL, NULL, "LOGOUT");
		goto out;
	}
	f.uid = found.uids[0];
	m.resp.max = IMAP_FETCH_MAX;
	st = command(&m, on_fetch, &f, "UID FETCH %llu (UID BODY.PEEK[])",
		     (unsigned long long)f.uid);
	m.resp.max = IMAP_RESP_MAX;
	if (st != IMAP_OK || !f.seen) {
		step(&m, CHECK_CRITICAL, "fetch", "UID FETCH %llu: %s", (unsigned long long)f.uid,
		     st != IMAP_OK ? got(&m, st) : "no BODY[] of that UID in the answer");
		goto out;
	}
	if (!check_parse_intact(f.body.data, f.body.len, sent->data, sent->len) ||
	    !check_parse_header_has(f.body.data, f.body.len, "Message-ID", token)) {
		step(&m, CHECK_CRITICAL, "fetch", "the probe came back altered (%zu octets)",
		     f.body.len);
		goto out;
	}
	snprintf(note, note_len, "UID %llu, intact", (unsigned long long)f.uid);
	if (expunge) {
		st = command(&m, NULL, NULL, "UID STORE %llu +FLAGS.SILENT (\\Deleted)",
			     (unsigned long long)f.uid);
		if (st != IMAP_OK) {
			step(&m, CHECK_CRITICAL, "store", "UID STORE: %s", got(&m, st));
			goto out;
		}
		if (m.capa.uidplus) { /* RFC 4315 §2.1: this UID only */
			st = command(&m, NULL, NULL, "UID EXPUNGE %llu", (unsigned long long)f.uid);
			if (st != IMAP_OK) {
				step(&m, CHECK_CRITICAL, "expunge", "UID EXPUNGE: %s", got(&m, st));
				goto out;
			}
			snprintf(note, note_len, "UID %llu, intact, deleted",
				 (unsigned long long)f.uid);
		} else {
			snprintf(note, note_len,
				 "UID %llu, intact, flagged \\Deleted (no UIDPLUS: not expunged)",
				 (unsigned long long)f.uid);
		}
	}
	command(&m, NULL, NULL, "LOGOUT");
	rc = 1;
out:
	buf_free(&f.body);
	imap_deinit(&m);
	return rc;
}
