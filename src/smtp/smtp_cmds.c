/* SPDX-License-Identifier: MIT */
/*
 * smtp_cmds.c - the SMTP command table, the one dispatcher, and the small
 * commands (EHLO, HELO, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS). The
 * transaction commands live in smtp_tx.c, AUTH in smtp_auth.c, the relay
 * policy in smtp_policy.c.
 *
 * The dispatcher enforces, for every command and in this order: the
 * command limit ([smtp] max_commands, rows flagged LIMIT), the line's
 * characters, the verb, the role (SUBMISSION rows), TLS (rows without
 * PRE_TLS), the state (503, or 554 for a recipient-less DATA), the login
 * (rows without PRE_AUTH, submission roles: 530) and the argument rule
 * (501). A handler therefore never re-checks the table; it only validates
 * the meaning of its arguments and replies. A handler that returns
 * SMTP_CMD_ERROR, and every refusal of the dispatcher's, counts toward
 * [smtp] max_errors.
 */
#include "net/conn.h"
#include "smtp/smtp.h"
#include "proto/service.h"
#include "smtp/smtp_private.h"
#include "util/config.h"
#include "util/log.h"

#include <string.h>

static smtp_cmd_fn cmd_ehlo, cmd_helo, cmd_rset, cmd_noop, cmd_quit, cmd_vrfy, cmd_expn, cmd_help,
    cmd_starttls;

#define ANY SMTP_IN_ANY
#define HELLO SMTP_IN_HELLO
#define READY SMTP_IN(SMTP_READY)
#define TX (SMTP_IN(SMTP_MAIL) | SMTP_IN(SMTP_RCPT))
#define RCPT SMTP_IN(SMTP_RCPT)
#define PRE (SMTP_CMD_PRE_TLS | SMTP_CMD_PRE_AUTH)
#define LAST SMTP_CMD_PIPELINE_LAST
#define LIMIT SMTP_CMD_LIMIT
#define NONE SMTP_ARG_NONE
#define REQ SMTP_ARG_REQUIRED

/* clang-format off */
const struct smtp_cmd_def smtp_cmd_table[] = {
	/* name       handler         states  flags                                   args   usage */
	{"EHLO",     cmd_ehlo,       ANY,    PRE | LAST | LIMIT,                      REQ,   "EHLO hostname"},
	{"HELO",     cmd_helo,       ANY,    PRE | LAST | LIMIT,                      REQ,   "HELO hostname"},
	{"MAIL",     smtp_cmd_mail,  READY,  SMTP_CMD_PRE_TLS | LIMIT,                REQ,   "MAIL FROM:<address>"},
	{"RCPT",     smtp_cmd_rcpt,  TX,     SMTP_CMD_PRE_TLS | LIMIT,                REQ,   "RCPT TO:<address>"},
	{"DATA",     smtp_cmd_data,  RCPT,   SMTP_CMD_PRE_TLS | LAST | LIMIT,         NONE,  "DATA"},
	/* BDAT's octets follow the line whatever the state: the handler reads
	   and drops a refused chunk (RFC 3030 §2), so every state lets it in */
	{"BDAT",     smtp_cmd_bdat,  ANY,    PRE | LIMIT,                             SMTP_ARG_ANY, "BDAT size [LAST]"},
	{"RSET",     cmd_rset,       ANY,    PRE | LIMIT,                             SMTP_ARG_ANY, "RSET"},
	{"NOOP",     cmd_noop,       ANY,    PRE | LAST | LIMIT,                      SMTP_ARG_ANY, "NOOP"},
	{"QUIT",     cmd_quit,       ANY,    PRE | LAST,                              SMTP_ARG_ANY, "QUIT"},
	{"VRFY",     cmd_vrfy,       ANY,    PRE | LAST | LIMIT,                      SMTP_ARG_ANY, "VRFY address"},
	{"EXPN",     cmd_expn,       ANY,    PRE | LAST | LIMIT,                      SMTP_ARG_ANY, "EXPN list"},
	{"HELP",     cmd_help,       ANY,    PRE | LIMIT,                             SMTP_ARG_ANY, "HELP"},
	{"STARTTLS", cmd_starttls,   ANY,    PRE | LAST | LIMIT,                      NONE,  "STARTTLS"},
	/* RFC 4954 §4: AUTH only between HELO/EHLO and MAIL, over TLS here */
	{"AUTH",     smtp_cmd_auth,  READY,  SMTP_CMD_PRE_AUTH | SMTP_CMD_SUBMISSION | LAST | LIMIT | SMTP_CMD_SECRET,
								                      SMTP_ARG_ANY, "AUTH mechanism [initial-response]"},
};
/* clang-format on */
const size_t smtp_cmd_count = N_ELEMENTS(smtp_cmd_table);

static const struct smtp_cmd_def *cmd_lookup(struct slice verb)
{
	for (size_t i = 0; i < N_ELEMENTS(smtp_cmd_table); i++)
		if (slice_eq_ci(verb, smtp_cmd_table[i].name))
			return &smtp_cmd_table[i];
	return NULL;
}

/* RFC 5321 §4.3.2: a command out of sequence gets 503 (554 for DATA after
   every RCPT was refused, §3.3); the text says what is missing. */
static void reply_wrong_state(struct smtp_session *s, const struct smtp_cmd_def *def)
{
	if (def->handler == smtp_cmd_data && s->state == SMTP_MAIL)
		smtp_reply(s, 554, "5.5.1 Error: no valid recipients");
	else if (def->handler == smtp_cmd_data)
		smtp_reply(s, 503, "5.5.1 Error: need RCPT command");
	else if (def->handler == smtp_cmd_rcpt)
		smtp_reply(s, 503, "5.5.1 Error: need MAIL command");
	else if (s->state == SMTP_GREETED)
		smtp_reply(s, 503, "5.5.1 Error: send %s first",
			   def->handler == smtp_cmd_auth ? "EHLO" : "HELO/EHLO");
	else if (def->handler == smtp_cmd_auth)
		smtp_reply(s, 503, "5.5.1 Error: MAIL transaction in progress");
	else
		smtp_reply(s, 503, "5.5.1 Error: nested %s command", def->name);
}

/* The checks of the table, in the order of the file header; replies and
   returns false when one fails. */
static bool cmd_allowed(struct smtp_session *s, const struct smtp_cmd_def *def, struct slice rest)
{
	if ((def->flags & SMTP_CMD_SUBMISSION) && !smtp_role_submission(s)) {
		smtp_reply(s, 503, "5.5.1 Error: authentication not enabled");
		return false;
	}
	if (!(def->flags & SMTP_CMD_PRE_TLS) && !conn_is_tls(s->core.conn)) {
		/* RFC 4954 §6: credentials only over TLS */
		smtp_reply(s, 538,
			   "5.7.11 Encryption required for requested authentication "
			   "mechanism");
		return false;
	}
	if (!(def->states & SMTP_IN(s->state))) {
		reply_wrong_state(s, def);
		return false;
	}
	if (!(def->flags & SMTP_CMD_PRE_AUTH) && smtp_role_submission(s) && s->auth == NULL) {
		smtp_reply(s, 530, "5.7.0 Authentication required");
		return false;
	}
	if ((def->args == SMTP_ARG_NONE && rest.len > 0) ||
	    (def->args == SMTP_ARG_REQUIRED && rest.len == 0)) {
		smtp_reply(s, 501, "5.5.4 Syntax: %s", def->usage);
		return false;
	}
	return true;
}

void smtp_cmd_dispatch(struct smtp_session *s, struct slice line)
{
	const struct config *cfg = smtp_cfg(s);
	struct smtp_command cmd;
	enum smtp_parse_status st = smtp_parse_command(line, &cmd);
	const struct smtp_cmd_def *def = st == SMTP_PARSE_OK ? cmd_lookup(cmd.verb) : NULL;

	smtp_cmd_begin(s, def, def != NULL ? cmd.rest : (struct slice){"", 0});
	if ((def == NULL || (def->flags & SMTP_CMD_LIMIT)) &&
	    ++s->commands > smtp_config(cfg)->max_commands) {
		smtp_reply(s, 421, "4.7.0 %s Too many commands, closing connection", cfg->hostname);
		smtp_cmd_finish(s);
		smtp_session_close(s, "too many commands");
		return;
	}
	enum smtp_cmd_result r = SMTP_CMD_ERROR;
	if (st == SMTP_PARSE_CTL) {
		smtp_reply(s, 500, "5.5.2 Invalid characters in command");
	} else if (st != SMTP_PARSE_OK) {
		smtp_reply(s, 500, "5.5.2 Syntax error, command unrecognized");
	} else if (def == NULL && (slice_eq(cmd.verb, "GET") || slice_eq(cmd.verb, "POST") ||
				   slice_eq(cmd.verb, "CONNECT"))) {
		/* a web browser or proxy talking to the SMTP port: go away at once */
		log_info("sid=%s smtp http request on smtp port ip=%s", s->core.sid, s->core.ip);
		smtp_cmd_finish(s);
		smtp_session_close(s, "http request");
		return;
	} else if (def == NULL) {
		smtp_reply(s, 500, "5.5.2 Error: command not recognized");
	} else if (cmd_allowed(s, def, cmd.rest)) {
		struct smtp_cmd_ctx ctx = {
		    .sess = s, .def = def, .verb = cmd.verb, .rest = cmd.rest};
		r = def->handler(&ctx);
	}
	if (def != NULL && (def->flags & SMTP_CMD_PIPELINE_LAST) && s->core.conn != NULL &&
	    !s->core.closing && conn_input(s->core.conn)->len > 0 && s->state != SMTP_DATA)
		/* RFC 2920 §3.1: tolerated (the input is handled in order), noted */
		log_debug("sid=%s smtp pipelined input after %s", s->core.sid, def->name);
	if (r == SMTP_CMD_ASYNC)
		return;
	smtp_cmd_finish(s);
	if (r == SMTP_CMD_ERROR)
		smtp_session_error(s);
}

/* --- EHLO / HELO ------------------------------------------------------------ */

/* Takes the HELO/EHLO name; the transaction, if any, is dropped (RFC 5321
   §4.1.4: EHLO resets the state like RSET). */
static bool helo_arg(struct smtp_session *s, struct slice rest, const char *verb)
{
	if (rest.len >= sizeof(s->helo)) {
		smtp_reply(s, 501, "5.5.4 Syntax: %s hostname", verb);
		return false;
	}
	size_t n = 0;
	for (size_t i = 0; i < rest.len && rest.p[i] != ' '; i++) {
		unsigned char c = (unsigned char)rest.p[i];
		s->helo[n++] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	s->helo[n] = '\0';
	smtp_tx_free(&s->tx);
	smtp_enter_state(s, SMTP_READY);
	return true;
}

static bool auth_offered(const struct smtp_session *s)
{
	return smtp_role_submission(s) && conn_is_tls(s->core.conn);
}

static enum smtp_cmd_result cmd_ehlo(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;
	const struct config *cfg = smtp_cfg(s);
	struct buf b = {0};

	if (!helo_arg(s, ctx->rest, "EHLO"))
		return SMTP_CMD_ERROR;
	s->esmtp = true;
	buf_printf(&b, "250-%s\r\n", cfg->hostname);
	buf_append_str(&b, "250-PIPELINING\r\n");
	buf_printf(&b, "250-SIZE %llu\r\n", (unsigned long long)smtp_config(cfg)->max_message_size);
	if (!conn_is_tls(s->core.conn) && conn_tls_available(s->core.conn))
		buf_append_str(&b, "250-STARTTLS\r\n");
	if (auth_offered(s)) {
		buf_append_str(&b, "250-AUTH");
		smtp_auth_mech_list(s, &b);
		buf_append_str(&b, "\r\n");
	}
	buf_append_str(&b, "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
			   "250-CHUNKING\r\n250 SMTPUTF8\r\n");
	smtp_write(s, b.data, b.len);
	s->reply_code = 250;
	buf_free(&b);
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_helo(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;

	if (!helo_arg(s, ctx->rest, "HELO"))
		return SMTP_CMD_ERROR;
	s->esmtp = false;
	smtp_reply(s, 250, "%s", smtp_cfg(s)->hostname);
	return SMTP_CMD_OK;
}

/* --- the rest ---------------------------------------------------------------- */

static enum smtp_cmd_result cmd_starttls(struct smtp_cmd_ctx *ctx)
{
	struct smtp_session *s = ctx->sess;

	if (conn_is_tls(s->core.conn)) {
		smtp_reply(s, 503, "5.5.1 Error: TLS already active");
		return SMTP_CMD_ERROR;
	}
	if (!conn_tls_available(s->core.conn)) {
		smtp_reply(s, 454, "4.7.0 TLS not available");
		return SMTP_CMD_OK;
	}
	smtp_reply(s, 220, "2.0.0 Ready to start TLS");
	s->core.tls_starting = true;
	if (conn_starttls(s->core.conn) < 0) { /* it also drops any pipelined input */
		s->core.tls_starting = false;
		smtp_session_close(s, "starttls failed");
	}
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_rset(struct smtp_cmd_ctx *ctx)
{
	smtp_tx_reset(ctx->sess);
	smtp_reply(ctx->sess, 250, "2.0.0 Ok");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_noop(struct smtp_cmd_ctx *ctx)
{
	smtp_reply(ctx->sess, 250, "2.0.0 Ok");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_quit(struct smtp_cmd_ctx *ctx)
{
	smtp_reply(ctx->sess, 221, "2.0.0 Bye");
	smtp_session_close(ctx->sess, "quit");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_vrfy(struct smtp_cmd_ctx *ctx)
{
	/* RFC 5321 §3.5.3: never confirm whether a user exists */
	smtp_reply(ctx->sess, 252,
		   "2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_expn(struct smtp_cmd_ctx *ctx)
{
	smtp_reply(ctx->sess, 502, "5.5.1 EXPN not available");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_result cmd_help(struct smtp_cmd_ctx *ctx)
{
	smtp_reply(ctx->sess, 214,
		   "2.0.0 Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT VRFY STARTTLS AUTH");
	return SMTP_CMD_OK;
}
