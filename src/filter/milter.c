/* SPDX-License-Identifier: MIT */
/*
 * milter.c - one message through one milter, and a chain of them (see
 * milter.h for the conversation, the verdicts, the timeouts and the
 * failure policy).
 *
 * A session goes through the steps in order; each step writes its macros
 * and its packet, then (unless the filter negotiated not to reply) reads
 * one verdict. A step returns GO (next step), STOP (a verdict ends the
 * message) or FAIL (the conversation broke: s->res->error says why). The
 * reader (milter_proto.h) decides what is well-formed; this file decides
 * what is allowed when.
 */
#include "filter/milter.h"
#include "filter/milter_private.h"
#include "filter/milter_proto.h"
#include "net/dial.h"
#include "util/log.h"
#include "util/mem.h"
#include "util/version.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What we let a filter do (SMFIF_*) and which steps it may turn off or not
   answer (SMFIP_*). Not SMFIP_RCPT_REJ: we never pass on refused
   recipients; not SMFIP_MDS_*: no packets over 64 KiB. */
#define OFFER_ACTIONS                                                                              \
	(SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS |           \
	 SMFIF_QUARANTINE | SMFIF_CHGFROM | SMFIF_ADDRCPT_PAR | SMFIF_SETSYMLIST)
#define OFFER_PROTOCOL                                                                             \
	(SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | SMFIP_NOBODY |             \
	 SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NR_HDR | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP | \
	 SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA |           \
	 SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC)
#define MIN_VERSION 2 /* the oldest filters still about (Sendmail 8.13) */

#define REPLY_REJECT "550 5.7.1 Command rejected"
#define REPLY_TEMPFAIL "451 4.7.1 Service unavailable - try again later"

/* Postfix's default macro lists per stage (milter_*_macros), by SMFIM_*. */
static const char connect_macros[] = "j {daemon_name} {daemon_addr} {daemon_port} {if_addr} "
				     "{client_addr} {client_port} {client_name} v _";
static const char *const default_macros[MILTER_SYMLISTS_MAX] = {
    [SMFIM_CONNECT] = connect_macros,
    [SMFIM_HELO] = "{tls_version} {cipher} {cipher_bits}",
    [SMFIM_ENVFROM] = "i {auth_type} {auth_authen} {mail_addr} {mail_host}",
    [SMFIM_ENVRCPT] = "i {rcpt_addr} {rcpt_host}",
    [SMFIM_DATA] = "i",
    [SMFIM_EOM] = "i",
    [SMFIM_EOH] = "i",
};

/* The command each macro stage goes with. */
static const char stage_cmd[MILTER_SYMLISTS_MAX] = {
    [SMFIM_CONNECT] = SMFIC_CONNECT, [SMFIM_HELO] = SMFIC_HELO, [SMFIM_ENVFROM] = SMFIC_MAIL,
    [SMFIM_ENVRCPT] = SMFIC_RCPT,    [SMFIM_DATA] = SMFIC_DATA, [SMFIM_EOM] = SMFIC_BODYEOB,
    [SMFIM_EOH] = SMFIC_EOH,
};

enum step { GO, STOP, FAIL };

struct session {
	const struct milter_conf *conf;
	const struct milter_envelope *env;
	const char *msg;
	size_t len;
	struct milter_result *res;
	struct dial d;
	struct milter_reader *rd;
	char in[16384];
	size_t off, in_len;
	struct buf out;
	uint32_t protocol;		  /* negotiated SMFIP_* */
	uint32_t actions;		  /* negotiated SMFIF_* */
	char *lists[MILTER_SYMLISTS_MAX]; /* the filter's macro lists, or NULL */
	size_t rcpt;			  /* the recipient being sent */
	size_t rcpts_left;
	bool started;  /* MAIL was sent: ABORT before QUIT unless the end was reached */
	bool finished; /* the end of message was answered */
	int64_t cap;   /* no wait beyond this (the end of message's bound), or 0 */
	unsigned header_mods, rcpt_mods;
	bool body_open; /* the last packet was REPLBODY: another one extends that body */
	bool body_done; /* a body replacement was closed by another packet */
	char tmp[64];	/* a number as text, for a macro */
};

ATTR_FORMAT(2, 3) static enum step fail(struct session *s, const char *fmt, ...)
{
	va_list ap;
	if (!s->res->failed) {
		va_start(ap, fmt);
		vsnprintf(s->res->error, sizeof(s->res->error), fmt, ap);
		va_end(ap);
		s->res->failed = true;
	}
	return FAIL;
}

static enum step io_failed(struct session *s, bool writing, char what)
{
	const char *step = milter_cmd_name(what, false);
	if (s->d.io == DIAL_TIMEOUT)
		return fail(s, "timeout after %us %s %s", s->d.secs,
			    writing ? "sending" : "waiting for the reply to", step);
	return fail(s, "connection lost %s %s", writing ? "sending" : "waiting for the reply to",
		    step);
}

/* Each wait and write: the timeout, never past the cap. */
static void deadline(struct session *s)
{
	dial_deadline(&s->d, s->conf->timeout);
	if (s->cap != 0 && s->d.deadline > s->cap)
		s->d.deadline = s->cap;
}

static bool flush(struct session *s, char what)
{
	deadline(s);
	bool ok = dial_write(&s->d, s->out.data, s->out.len);
	buf_clear(&s->out);
	if (!ok)
		io_failed(s, true, what);
	return ok;
}

/* The next packet, whatever it is but PROGRESS (which restarts the wait). */
static bool read_packet(struct session *s, char what)
{
	deadline(s);
	for (;;) {
		if (s->off == s->in_len) {
			ssize_t n = dial_read(&s->d, s->in, sizeof(s->in));
			if (n <= 0) {
				io_failed(s, false, what);
				return false;
			}
			s->off = 0;
			s->in_len = (size_t)n;
		}
		size_t used;
		enum milter_read_status st =
		    milter_reader_feed(s->rd, s->in + s->off, s->in_len - s->off, &used);
		s->off += used;
		if (st == MILTER_READ_BAD) {
			fail(s, "protocol error after %s: %s", milter_cmd_name(what, false),
			     milter_read_error_text(s->rd->error));
			return false;
		}
		if (st == MILTER_READ_PACKET && s->rd->reply.cmd == SMFIR_PROGRESS) {
			deadline(s);
			continue;
		}
		if (st == MILTER_READ_PACKET)
			return true;
	}
}

/* --- macros ------------------------------------------------------------------------------- */

static const char *domain_of(const char *addr)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;
	return at != NULL ? at + 1 : NULL;
}

static const char *number(struct session *s, unsigned v)
{
	if (v == 0)
		return NULL;
	snprintf(s->tmp, sizeof(s->tmp), "%u", v);
	return s->tmp;
}

/* The value of macro `name` (braces taken off) now, or NULL. */
static const char *macro_value(struct session *s, const char *name, struct buf *scratch)
{
	const struct milter_envelope *e = s->env;
	const char *rcpt = s->rcpt < e->n_rcpts ? e->rcpts[s->rcpt].addr : NULL;
	static const char *const plain[] = {
	    "j",	   "daemon_name", "daemon_addr", "if_addr",   "client_addr",
	    "client_name", "tls_version", "cipher",	 "i",	      "auth_type",
	    "auth_authen", "mail_addr",	  "mail_host",	 "rcpt_addr", "rcpt_host"};
	const char *values[] = {e->hostname,	      e->daemon_name, e->if_addr,     e->if_addr,
				e->client_addr,	      e->client_name, e->tls_version, e->tls_cipher,
				e->queue_id,	      e->auth_mech,   e->auth_user,   e->sender,
				domain_of(e->sender), rcpt,	      domain_of(rcpt)};

	for (size_t i = 0; i < N_ELEMENTS(plain); i++)
		if (strcmp(name, plain[i]) == 0)
			return values[i];
	if (strcmp(name, "daemon_port") == 0)
		return number(s, e->if_port);
	if (strcmp(name, "client_port") == 0)
		return number(s, e->client_port);
	if (strcmp(name, "cipher_bits") == 0)
		return number(s, e->tls_bits);
	if (strcmp(name, "v") == 0)
		return "mailroom " MAILROOM_VERSION;
	if (strcmp(name, "_") == 0 && e->client_addr != NULL) {
		buf_printf(scratch, "%s [%s]", e->client_name != NULL ? e->client_name : "unknown",
			   e->client_addr);
		return scratch->data;
	}
	return NULL;
}

#define MACROS_MAX 64

/* SMFIC_MACRO for a stage, from the filter's list or ours; nothing when
   no macro of the list has a value. */
static bool put_macros(struct session *s, int stage)
{
	const char *list = s->lists[stage] != NULL ? s->lists[stage] : default_macros[stage];
	char *copy = xstrdup(list), *save = NULL;
	const char *names[MACROS_MAX], *values[MACROS_MAX];
	struct buf scratch[MACROS_MAX];
	char *keys[MACROS_MAX];
	size_t n = 0;
	bool ok = true;

	for (char *tok = strtok_r(copy, " ", &save); tok != NULL && n < MACROS_MAX;
	     tok = strtok_r(NULL, " ", &save)) {
		size_t tl = strlen(tok);
		keys[n] = tl > 2 && tok[0] == '{' && tok[tl - 1] == '}' ? xstrndup(tok + 1, tl - 2)
									: xstrdup(tok);
		scratch[n] = (struct buf){0};
		const char *v = macro_value(s, keys[n], &scratch[n]);
		/* a number lives in s->tmp: keep its own copy */
		if (v == s->tmp) {
			buf_append_str(&scratch[n], v);
			v = scratch[n].data;
		}
		if (v == NULL || *v == '\0') {
			free(keys[n]);
			buf_free(&scratch[n]);
			continue;
		}
		names[n] = tok;
		values[n] = v;
		n++;
	}
	if (n > 0)
		ok = milter_put_macro(&s->out, stage_cmd[stage], names, values, n);
	for (size_t i = 0; i < n; i++) {
		free(keys[i]);
		buf_free(&scratch[i]);
	}
	free(copy);
	return ok;
}

/* --- verdicts ----------------------------------------------------------------------------- */

static enum step verdict(struct session *s, enum milter_action a, const char *reply)
{
	s->res->action = a;
	snprintf(s->res->reply, sizeof(s->res->reply), "%s", reply != NULL ? reply : "");
	return STOP;
}

/* A refusal (REJECT, TEMPFAIL, REPLYCODE) as an action and its reply. */
static enum step refusal(struct session *s, const struct milter_reply *r, enum milter_action *a,
			 const char **reply)
{
	if (r->cmd == SMFIR_REPLYCODE) {
		if (r->text.len >= MILTER_REPLY_MAX)
			return fail(s, "protocol error: a reply of %zu octets", r->text.len);
		*a = r->code >= 500 ? MILTER_REJECT : MILTER_TEMPFAIL;
		*reply = r->text.p;
	} else {
		*a = r->cmd == SMFIR_REJECT ? MILTER_REJECT : MILTER_TEMPFAIL;
		*reply = r->cmd == SMFIR_REJECT ? REPLY_REJECT : REPLY_TEMPFAIL;
	}
	return GO;
}

static void refuse_rcpt(struct session *s, const char *reply)
{
	struct milter_result *res = s->res;
	res->refused = xrealloc(res->refused, (res->n_refused + 1) * sizeof(*res->refused));
	res->refused[res->n_refused++] = (struct milter_refusal){
	    .rcpt = xstrdup(s->env->rcpts[s->rcpt].addr), .reply = xstrdup(reply)};
	s->rcpts_left--;
}

/* The verdict on a step before the end of message. */
static enum step step_verdict(struct session *s, char what)
{
	const struct milter_reply *r = &s->rd->reply;
	enum milter_action a;
	const char *reply;

	switch (r->cmd) {
	case SMFIR_CONTINUE:
		return GO;
	case SMFIR_ACCEPT:
		return verdict(s, MILTER_ACCEPT, NULL);
	case SMFIR_REJECT:
	case SMFIR_TEMPFAIL:
	case SMFIR_REPLYCODE:
		if (refusal(s, r, &a, &reply) == FAIL)
			return FAIL;
		if (what == SMFIC_RCPT) {
			refuse_rcpt(s, reply);
			return GO;
		}
		return verdict(s, a, reply);
	case SMFIR_DISCARD:
		if (what == SMFIC_CONNECT || what == SMFIC_HELO)
			break;
		return verdict(s, MILTER_DISCARD, NULL);
	case SMFIR_SKIP:
		if (what != SMFIC_BODY || !(s->protocol & SMFIP_SKIP))
			break;
		return STOP; /* the caller ends the body */
	case SMFIR_SHUTDOWN:
	case SMFIR_CONN_FAIL:
		return verdict(s, MILTER_TEMPFAIL, REPLY_TEMPFAIL);
	default:
		break;
	}
	return fail(s, "protocol error: %s after %s", milter_cmd_name(r->cmd, true),
		    milter_cmd_name(what, false));
}

/* Writes what s->out holds for step `what`, then reads its verdict unless
   the filter does not answer it (nr). */
static enum step send_step(struct session *s, char what, bool nr)
{
	if (!flush(s, what))
		return FAIL;
	if (nr)
		return GO;
	if (!read_packet(s, what))
		return FAIL;
	return step_verdict(s, what);
}

/* --- the steps ---------------------------------------------------------------------------- */

static enum step negotiate(struct session *s)
{
	milter_put_optneg(&s->out, SMFI_PROT_VERSION, OFFER_ACTIONS, OFFER_PROTOCOL);
	if (!flush(s, SMFIC_OPTNEG) || !read_packet(s, SMFIC_OPTNEG))
		return FAIL;
	const struct milter_reply *r = &s->rd->reply;
	if (r->cmd != SMFIC_OPTNEG)
		return fail(s, "protocol error: %s instead of the negotiation",
			    milter_cmd_name(r->cmd, true));
	if (r->version < MIN_VERSION || r->version > SMFI_PROT_VERSION)
		return fail(s, "protocol version %u (we speak %d to %d)", (unsigned)r->version,
			    MIN_VERSION, SMFI_PROT_VERSION);
	if ((r->actions & ~(uint32_t)OFFER_ACTIONS) != 0)
		return fail(s, "the filter asks for actions 0x%x beyond 0x%x", (unsigned)r->actions,
			    (unsigned)OFFER_ACTIONS);
	if (r->n_symlists > 0 && !(r->actions & SMFIF_SETSYMLIST))
		return fail(s, "macro lists without SMFIF_SETSYMLIST");
	/* Postfix too lets unknown protocol bits pass, and ignores them */
	s->protocol = r->protocol & (uint32_t)OFFER_PROTOCOL;
	s->actions = r->actions;
	for (size_t i = 0; i < r->n_symlists; i++) {
		uint32_t st = r->symlists[i].stage;
		if (st >= MILTER_SYMLISTS_MAX)
			continue;
		free(s->lists[st]);
		s->lists[st] = xstrndup(r->symlists[i].names.p, r->symlists[i].names.len);
	}
	s->res->version = r->version;
	s->res->actions = s->actions;
	s->res->protocol = s->protocol;
	s->res->leadspc = (s->protocol & SMFIP_HDR_LEADSPC) != 0;
	return GO;
}

static enum step too_long(struct session *s, char what)
{
	return fail(s, "%s too long for the milter protocol", milter_cmd_name(what, false));
}

static enum step step_connect(struct session *s)
{
	const struct milter_envelope *e = s->env;
	struct buf host = {0};
	char family = SMFIA_UNKNOWN;
	bool ok = true;

	if (!put_macros(s, SMFIM_CONNECT))
		return too_long(s, SMFIC_MACRO);
	if (s->protocol & SMFIP_NOCONNECT)
		return flush(s, SMFIC_MACRO) ? GO : FAIL;
	if (e->client_addr != NULL)
		family = strchr(e->client_addr, ':') != NULL ? SMFIA_INET6 : SMFIA_INET;
	if (e->client_name != NULL)
		buf_append_str(&host, e->client_name);
	else if (e->client_addr != NULL)
		buf_printf(&host, "[%s]", e->client_addr);
	else
		buf_append_str(&host, "unknown");
	ok = milter_put_connect(&s->out, host.data, family, (uint16_t)e->client_port,
				e->client_addr != NULL ? e->client_addr : "");
	buf_free(&host);
	if (!ok)
		return too_long(s, SMFIC_CONNECT);
	return send_step(s, SMFIC_CONNECT, s->protocol & SMFIP_NR_CONN);
}

static enum step step_helo(struct session *s)
{
	if (!put_macros(s, SMFIM_HELO))
		return too_long(s, SMFIC_MACRO);
	if ((s->protocol & SMFIP_NOHELO) || s->env->helo == NULL)
		return flush(s, SMFIC_MACRO) ? GO : FAIL;
	if (!milter_put_helo(&s->out, s->env->helo))
		return too_long(s, SMFIC_HELO);
	return send_step(s, SMFIC_HELO, s->protocol & SMFIP_NR_HELO);
}

/* MAIL or RCPT: "<addr>" and each ESMTP parameter as its own string. */
static bool put_envelope(struct session *s, char cmd, const char *addr, const char *params)
{
	char *copy = xstrdup(params != NULL ? params : ""), *save = NULL;
	const char *args[MACROS_MAX];
	size_t n = 0;
	char *bracketed = xasprintf("<%s>", addr);

	for (char *tok = strtok_r(copy, " ", &save); tok != NULL && n < MACROS_MAX;
	     tok = strtok_r(NULL, " ", &save))
		args[n++] = tok;
	bool ok = cmd == SMFIC_MAIL ? milter_put_mail(&s->out, bracketed, args, n)
				    : milter_put_rcpt(&s->out, bracketed, args, n);
	free(bracketed);
	free(copy);
	return ok;
}

static enum step step_mail(struct session *s)
{
	s->started = true;
	if (!put_macros(s, SMFIM_ENVFROM))
		return too_long(s, SMFIC_MACRO);
	if (s->protocol & SMFIP_NOMAIL)
		return flush(s, SMFIC_MACRO) ? GO : FAIL;
	if (!put_envelope(s, SMFIC_MAIL, s->env->sender != NULL ? s->env->sender : "",
			  s->env->sender_args))
		return too_long(s, SMFIC_MAIL);
	return send_step(s, SMFIC_MAIL, s->protocol & SMFIP_NR_MAIL);
}

static enum step step_rcpts(struct session *s)
{
	const struct milter_envelope *e = s->env;

	s->rcpts_left = e->n_rcpts;
	for (s->rcpt = 0; s->rcpt < e->n_rcpts; s->rcpt++) {
		if (!put_macros(s, SMFIM_ENVRCPT))
			return too_long(s, SMFIC_MACRO);
		if (s->protocol & SMFIP_NORCPT) {
			if (!flush(s, SMFIC_MACRO))
				return FAIL;
			continue;
		}
		if (!put_envelope(s, SMFIC_RCPT, e->rcpts[s->rcpt].addr, e->rcpts[s->rcpt].args))
			return too_long(s, SMFIC_RCPT);
		enum step st = send_step(s, SMFIC_RCPT, s->protocol & SMFIP_NR_RCPT);
		if (st != GO)
			return st;
	}
	s->rcpt = e->n_rcpts;
	if (e->n_rcpts > 0 && s->rcpts_left == 0) {
		/* every recipient refused: so is the message, with the last reply */
		const char *reply = s->res->refused[s->res->n_refused - 1].reply;
		return verdict(s, reply[0] == '5' ? MILTER_REJECT : MILTER_TEMPFAIL, reply);
	}
	return GO;
}

static enum step step_data(struct session *s)
{
	if (!put_macros(s, SMFIM_DATA))
		return too_long(s, SMFIC_MACRO);
	if (s->protocol & SMFIP_NODATA)
		return flush(s, SMFIC_MACRO) ? GO : FAIL;
	milter_put_simple(&s->out, SMFIC_DATA);
	return send_step(s, SMFIC_DATA, s->protocol & SMFIP_NR_DATA);
}

/* One field as the filter hears it: the value without its line end,
   folded lines joined by LF, one space after the colon taken off unless
   the filter wants it (SMFIP_HDR_LEADSPC; Sendmail eats one space, not a
   tab). */
static enum step step_header(struct session *s, const struct milter_field *f)
{
	struct buf name = {0}, value = {0};
	size_t v = f->value;

	buf_append(&name, s->msg + f->start, f->name_len);
	if (!(s->protocol & SMFIP_HDR_LEADSPC) && v < f->value_end && s->msg[v] == ' ')
		v++;
	for (; v < f->value_end; v++) {
		if (s->msg[v] == '\r' && v + 1 < f->value_end && s->msg[v + 1] == '\n')
			continue;
		buf_append_c(&value, s->msg[v]);
	}
	bool ok = milter_put_header(&s->out, name.data, value.data != NULL ? value.data : "");
	buf_free(&name);
	buf_free(&value);
	if (!ok)
		return too_long(s, SMFIC_HEADER);
	return send_step(s, SMFIC_HEADER, s->protocol & SMFIP_NR_HDR);
}

static enum step step_headers(struct session *s, const struct milter_layout *l)
{
	for (size_t i = 0; !(s->protocol & SMFIP_NOHDRS) && i < l->n_fields; i++) {
		enum step st = step_header(s, &l->fields[i]);
		if (st != GO)
			return st;
	}
	if (!put_macros(s, SMFIM_EOH))
		return too_long(s, SMFIC_MACRO);
	if (s->protocol & SMFIP_NOEOH)
		return flush(s, SMFIC_MACRO) ? GO : FAIL;
	milter_put_simple(&s->out, SMFIC_EOH);
	return send_step(s, SMFIC_EOH, s->protocol & SMFIP_NR_EOH);
}

static enum step step_body(struct session *s, const struct milter_layout *l)
{
	for (size_t p = l->body; !(s->protocol & SMFIP_NOBODY) && p < s->len;) {
		size_t n = s->len - p > MILTER_CHUNK_SIZE ? MILTER_CHUNK_SIZE : s->len - p;
		milter_put_body(&s->out, s->msg + p, n);
		p += n;
		enum step st = send_step(s, SMFIC_BODY, s->protocol & SMFIP_NR_BODY);
		if (st == STOP && s->rd->reply.cmd == SMFIR_SKIP)
			break;
		if (st != GO)
			return st;
	}
	return GO;
}

/* --- the end of message: changes, then the verdict ---------------------------------------- */

static enum step mod_add(struct session *s, enum milter_mod_type t, uint32_t index,
			 struct slice name, struct slice value)
{
	struct milter_result *res = s->res;
	res->mods = xrealloc(res->mods, (res->n_mods + 1) * sizeof(*res->mods));
	res->mods[res->n_mods++] = (struct milter_mod){
	    .type = t,
	    .index = index,
	    .name = xstrndup(name.p, name.len),
	    .value = value.p != NULL ? xstrndup(value.p, value.len) : NULL,
	    .value_len = value.len,
	};
	return GO;
}

/* A change the filter announced, within the limits. */
static enum step eom_change(struct session *s, const struct milter_reply *r)
{
	static const struct {
		char cmd;
		uint32_t action;
		enum milter_mod_type type;
		bool header;
	} kinds[] = {
	    {SMFIR_ADDHEADER, SMFIF_ADDHDRS, MILTER_MOD_ADD_HEADER, true},
	    {SMFIR_INSHEADER, SMFIF_ADDHDRS, MILTER_MOD_INSERT_HEADER, true},
	    {SMFIR_CHGHEADER, SMFIF_CHGHDRS, MILTER_MOD_CHANGE_HEADER, true},
	    {SMFIR_ADDRCPT, SMFIF_ADDRCPT, MILTER_MOD_ADD_RCPT, false},
	    {SMFIR_ADDRCPT_PAR, SMFIF_ADDRCPT_PAR, MILTER_MOD_ADD_RCPT, false},
	    {SMFIR_DELRCPT, SMFIF_DELRCPT, MILTER_MOD_DELETE_RCPT, false},
	    {SMFIR_CHGFROM, SMFIF_CHGFROM, MILTER_MOD_CHANGE_FROM, false},
	};
	const char *what = milter_cmd_name(r->cmd, true);

	for (size_t i = 0; i < N_ELEMENTS(kinds); i++) {
		if (kinds[i].cmd != r->cmd)
			continue;
		if (!(s->actions & kinds[i].action))
			return fail(s, "protocol error: %s without having asked for it", what);
		if (kinds[i].header && ++s->header_mods > MILTER_HEADER_MODS_MAX)
			return fail(s, "more than %d header changes", MILTER_HEADER_MODS_MAX);
		if (!kinds[i].header && ++s->rcpt_mods > MILTER_RCPT_MODS_MAX)
			return fail(s, "more than %d envelope changes", MILTER_RCPT_MODS_MAX);
		if (kinds[i].header)
			return mod_add(s, kinds[i].type, r->index, r->name, r->value);
		struct slice args = r->args.len > 0 ? r->args : (struct slice){NULL, 0};
		return mod_add(s, kinds[i].type, 0, r->addr, args);
	}
	return fail(s, "protocol error: %s at the end of the message", what);
}

/* SMFIR_REPLBODY: pieces of one new body, one after the other. */
static enum step eom_body(struct session *s, const struct milter_reply *r)
{
	struct milter_result *res = s->res;
	uint64_t max = s->conf->max_body != 0 ? s->conf->max_body : MILTER_BODY_DEFAULT_MAX;

	if (!(s->actions & SMFIF_CHGBODY))
		return fail(s, "protocol error: REPLBODY without having asked for it");
	if (s->body_done)
		return fail(s, "protocol error: REPLBODY after other changes broke the body");
	if (!s->body_open) {
		mod_add(s, MILTER_MOD_REPLACE_BODY, 0, SLICE_LIT(""), SLICE_LIT(""));
		s->body_open = true;
	}
	struct milter_mod *m = &res->mods[res->n_mods - 1];
	if (m->value_len + r->data.len > max)
		return fail(s, "a new body of more than %llu octets", (unsigned long long)max);
	m->value = xrealloc(m->value, m->value_len + r->data.len + 1);
	memcpy(m->value + m->value_len, r->data.p, r->data.len);
	m->value_len += r->data.len;
	m->value[m->value_len] = '\0';
	return GO;
}

static enum step step_eom(struct session *s)
{
	if (!put_macros(s, SMFIM_EOM))
		return too_long(s, SMFIC_MACRO);
	milter_put_simple(&s->out, SMFIC_BODYEOB);
	if (!flush(s, SMFIC_BODYEOB))
		return FAIL;
	/* Sendmail's T=E: the whole answer, progress or not */
	s->cap = dial_now_ms() + (int64_t)s->conf->timeout * 1000 * MILTER_EOM_FACTOR;
	for (;;) {
		if (!read_packet(s, SMFIC_BODYEOB))
			return FAIL;
		const struct milter_reply *r = &s->rd->reply;
		enum step st;
		if (r->cmd != SMFIR_REPLBODY && s->body_open) {
			s->body_open = false;
			s->body_done = true;
		}
		switch (r->cmd) {
		case SMFIR_REPLBODY:
			st = eom_body(s, r);
			break;
		case SMFIR_QUARANTINE:
			if (!(s->actions & SMFIF_QUARANTINE))
				return fail(s, "protocol error: QUARANTINE without having "
					       "asked for it");
			free(s->res->quarantine);
			s->res->quarantine = xstrndup(r->data.p, r->data.len);
			st = GO;
			break;
		case SMFIR_ACCEPT:
		case SMFIR_CONTINUE:
			s->finished = true;
			return verdict(s,
				       s->res->quarantine != NULL ? MILTER_QUARANTINE
				       : r->cmd == SMFIR_ACCEPT	  ? MILTER_ACCEPT
								  : MILTER_CONTINUE,
				       NULL);
		case SMFIR_REJECT:
		case SMFIR_TEMPFAIL:
		case SMFIR_REPLYCODE:
		case SMFIR_DISCARD:
		case SMFIR_SHUTDOWN:
		case SMFIR_CONN_FAIL:
			s->finished = true;
			return step_verdict(s, SMFIC_BODYEOB);
		default:
			st = eom_change(s, r);
			break;
		}
		if (st != GO)
			return st;
	}
}

/* --- one filter --------------------------------------------------------------------------- */

static void policy_verdict(struct session *s)
{
	struct milter_result *res = s->res;

	for (size_t i = 0; i < res->n_mods; i++) {
		free(res->mods[i].name);
		free(res->mods[i].value);
	}
	free(res->mods);
	res->mods = NULL;
	res->n_mods = 0;
	for (size_t i = 0; i < res->n_refused; i++) {
		free(res->refused[i].rcpt);
		free(res->refused[i].reply);
	}
	free(res->refused);
	res->refused = NULL;
	res->n_refused = 0;
	free(res->quarantine);
	res->quarantine = NULL;
	if (s->conf->policy == FILTER_FAIL_CLOSED)
		verdict(s, MILTER_TEMPFAIL, REPLY_TEMPFAIL);
	else
		verdict(s, MILTER_CONTINUE, NULL);
	log_warn("milter socket=%s failed reason=\"%s\" policy=%s", s->conf->socket, res->error,
		 s->conf->policy == FILTER_FAIL_CLOSED ? "tempfail" : "accept");
}

static enum step converse(struct session *s)
{
	struct milter_layout l;
	enum step st;

	if ((st = negotiate(s)) != GO || (st = step_connect(s)) != GO ||
	    (st = step_helo(s)) != GO || (st = step_mail(s)) != GO || (st = step_rcpts(s)) != GO ||
	    (st = step_data(s)) != GO)
		return st;
	milter_layout(s->msg, s->len, &l);
	if ((st = step_headers(s, &l)) == GO && (st = step_body(s, &l)) == GO)
		st = step_eom(s);
	milter_layout_free(&l);
	return st;
}

int milter_run(const struct milter_conf *conf, const struct milter_envelope *env, const char *msg,
	       size_t len, struct milter_result *res)
{
	struct session *s = xcalloc(1, sizeof(*s));
	char why[MILTER_ERROR_MAX];
	enum step st = FAIL;

	memset(res, 0, sizeof(*res));
	s->conf = conf;
	s->env = env;
	s->msg = msg;
	s->len = len;
	s->res = res;
	s->rd = xmalloc(sizeof(*s->rd));
	milter_reader_init(s->rd);
	dial_init(&s->d);
	if (filter_socket_connect(&s->d, conf->socket, conf->timeout, why, sizeof(why)) < 0)
		fail(s, "%s", why);
	else
		st = converse(s);
	if (st != FAIL) {
		/* a message that ended early is aborted; then goodbye, and the
		   verdict stands whatever happens to these last octets */
		if (s->started && !s->finished)
			milter_put_simple(&s->out, SMFIC_ABORT);
		milter_put_simple(&s->out, SMFIC_QUIT);
		s->cap = 0;
		deadline(s);
		(void)dial_write(&s->d, s->out.data, s->out.len);
	}
	dial_close(&s->d);
	if (st == FAIL)
		policy_verdict(s);
	else if (res->action != MILTER_CONTINUE)
		log_info("milter socket=%s action=%s%s%s", conf->socket,
			 milter_action_name(res->action), res->reply[0] != '\0' ? " reply=" : "",
			 res->reply);
	for (size_t i = 0; i < MILTER_SYMLISTS_MAX; i++)
		free(s->lists[i]);
	buf_free(&s->out);
	free(s->rd);
	free(s);
	return st == FAIL ? -1 : 0;
}

void milter_result_free(struct milter_result *res)
{
	for (size_t i = 0; i < res->n_mods; i++) {
		free(res->mods[i].name);
		free(res->mods[i].value);
	}
	free(res->mods);
	for (size_t i = 0; i < res->n_refused; i++) {
		free(res->refused[i].rcpt);
		free(res->refused[i].reply);
	}
	free(res->refused);
	free(res->quarantine);
	memset(res, 0, sizeof(*res));
}

/* --- a chain ------------------------------------------------------------------------------ */

static bool changes_message(const struct milter_result *res)
{
	for (size_t i = 0; i < res->n_mods; i++)
		if (res->mods[i].type <= MILTER_MOD_CHANGE_HEADER ||
		    res->mods[i].type == MILTER_MOD_REPLACE_BODY)
			return true;
	return false;
}

static bool changes_envelope(const struct milter_result *res)
{
	for (size_t i = 0; i < res->n_mods; i++)
		if (res->mods[i].type == MILTER_MOD_ADD_RCPT ||
		    res->mods[i].type == MILTER_MOD_DELETE_RCPT ||
		    res->mods[i].type == MILTER_MOD_CHANGE_FROM)
			return true;
	return res->n_refused > 0;
}

int milter_chain_run(const struct milter_conf *confs, size_t n, const struct milter_envelope *env,
		     const char *msg, size_t len, struct milter_chain_result *r)
{
	memset(r, 0, sizeof(*r));
	buf_append(&r->message, msg, len);
	milter_envelope_edit_init(&r->envelope, env);
	r->results = xcalloc(n > 0 ? n : 1, sizeof(*r->results));
	for (size_t i = 0; i < n; i++) {
		struct milter_envelope e = *env;
		struct milter_rcpt *rcpts = xcalloc(r->envelope.rcpts.count + 1, sizeof(*rcpts));
		for (size_t k = 0; k < r->envelope.rcpts.count; k++)
			rcpts[k] = (struct milter_rcpt){r->envelope.rcpts.addr[k],
							r->envelope.rcpts.args[k]};
		e.sender = r->envelope.sender;
		e.sender_args = r->envelope.sender_args;
		e.rcpts = rcpts;
		e.n_rcpts = r->envelope.rcpts.count;

		struct milter_result *res = &r->results[r->n_results++];
		if (milter_run(&confs[i], &e, r->message.data, r->message.len, res) < 0)
			r->failed++;
		free(rcpts);
		switch (res->action) {
		case MILTER_REJECT:
		case MILTER_TEMPFAIL:
		case MILTER_DISCARD:
			r->action = res->action;
			memcpy(r->reply, res->reply, sizeof(r->reply));
			return r->failed > 0 ? -1 : 0;
		case MILTER_QUARANTINE:
			free(r->quarantine);
			r->quarantine = xstrdup(res->quarantine);
			r->action = MILTER_QUARANTINE;
			break;
		case MILTER_CONTINUE:
		case MILTER_ACCEPT:
			break;
		}
		if (changes_message(res)) {
			struct buf next = {0};
			milter_apply_message(res, r->message.data, r->message.len, &next);
			buf_free(&r->message);
			r->message = next;
			r->message_changed = true;
		}
		if (changes_envelope(res)) {
			milter_apply_envelope(res, &r->envelope);
			r->envelope_changed = true;
		}
		if (env->n_rcpts > 0 && r->envelope.rcpts.count == 0) {
			/* a filter took every recipient away: nobody to deliver to */
			r->action = MILTER_DISCARD;
			log_info("milter socket=%s removed every recipient: discarded",
				 confs[i].socket);
			break;
		}
	}
	return r->failed > 0 ? -1 : 0;
}

void milter_chain_result_free(struct milter_chain_result *r)
{
	for (size_t i = 0; i < r->n_results; i++)
		milter_result_free(&r->results[i]);
	free(r->results);
	free(r->quarantine);
	buf_free(&r->message);
	milter_envelope_edit_free(&r->envelope);
	memset(r, 0, sizeof(*r));
}
