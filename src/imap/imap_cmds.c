/* SPDX-License-Identifier: MIT */
/*
 * imap_cmds.c - the command table, the one dispatcher that does every
 * check (name, state, UID prefix), and the commands of any state:
 * CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), ENABLE (RFC 5161), IDLE
 * (RFC 2177) and CHECK (IMAP4rev1).
 */
#include "imap/imap_private.h"
#include "net/conn.h"
#include "util/config.h"
#include "util/log.h"
#include "util/version.h"

#include <stdio.h>
#include <string.h>

static imap_cmd_fn cmd_capability, cmd_noop, cmd_logout, cmd_id, cmd_enable;

/* Sorted by name (binary search). */
const struct imap_cmd_def imap_cmd_table[] = {
    {"APPEND", imap_cmd_append, IMAP_IN_AUTHED, 0},
    {"AUTHENTICATE", imap_cmd_authenticate, IMAP_IN_NOTAUTH, IMAP_CMD_SECRET},
    {"CAPABILITY", cmd_capability, IMAP_IN_ANY, 0},
    {"CHECK", imap_cmd_check, IMAP_IN_SELECTED, 0},
    {"CLOSE", imap_cmd_close, IMAP_IN_SELECTED, 0},
    {"COPY", imap_cmd_copy, IMAP_IN_SELECTED, IMAP_CMD_UID},
    {"CREATE", imap_cmd_create, IMAP_IN_AUTHED, 0},
    {"DELETE", imap_cmd_delete, IMAP_IN_AUTHED, 0},
    {"ENABLE", cmd_enable, IMAP_IN_AUTHED, 0},
    {"EXAMINE", imap_cmd_examine, IMAP_IN_AUTHED, 0},
    {"EXPUNGE", imap_cmd_expunge, IMAP_IN_SELECTED, IMAP_CMD_UID},
    {"FETCH", imap_cmd_fetch, IMAP_IN_SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {"GETQUOTA", imap_cmd_getquota, IMAP_IN_AUTHED, 0},
    {"GETQUOTAROOT", imap_cmd_getquotaroot, IMAP_IN_AUTHED, 0},
    {"ID", cmd_id, IMAP_IN_ANY, 0},
    {"IDLE", imap_cmd_idle, IMAP_IN_AUTHED, 0},
    {"LIST", imap_cmd_list, IMAP_IN_AUTHED, 0},
    {"LOGIN", imap_cmd_login, IMAP_IN_NOTAUTH, IMAP_CMD_SECRET},
    {"LOGOUT", cmd_logout, IMAP_IN_ANY, 0},
    {"LSUB", imap_cmd_lsub, IMAP_IN_AUTHED, 0},
    {"MOVE", imap_cmd_move, IMAP_IN_SELECTED, IMAP_CMD_UID},
    {"NAMESPACE", imap_cmd_namespace, IMAP_IN_AUTHED, 0},
    {"NOOP", cmd_noop, IMAP_IN_ANY, 0},
    {"RENAME", imap_cmd_rename, IMAP_IN_AUTHED, 0},
    {"SEARCH", imap_cmd_search, IMAP_IN_SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {"SELECT", imap_cmd_select, IMAP_IN_AUTHED, 0},
    {"SETQUOTA", imap_cmd_setquota, IMAP_IN_AUTHED, 0},
    {"STARTTLS", imap_cmd_starttls, IMAP_IN_NOTAUTH, 0},
    {"STATUS", imap_cmd_status, IMAP_IN_AUTHED, 0},
    {"STORE", imap_cmd_store, IMAP_IN_SELECTED, IMAP_CMD_UID | IMAP_CMD_NO_EXPUNGE},
    {"SUBSCRIBE", imap_cmd_subscribe, IMAP_IN_AUTHED, 0},
    {"UNSELECT", imap_cmd_unselect, IMAP_IN_SELECTED, 0},
    {"UNSUBSCRIBE", imap_cmd_unsubscribe, IMAP_IN_AUTHED, 0},
};
const size_t imap_cmd_count = sizeof(imap_cmd_table) / sizeof(imap_cmd_table[0]);

static const struct imap_cmd_def *cmd_lookup(const char *name)
{
	size_t lo = 0, hi = imap_cmd_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(imap_cmd_table[mid].name, name);
		if (c == 0)
			return &imap_cmd_table[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* --- CAPABILITY ------------------------------------------------------------------ */

void imap_capabilities(const struct imap_session *s, struct buf *out)
{
	const struct imap_config *ic = imap_config(imap_cfg(s));

	buf_append_str(out, "IMAP4rev1 IMAP4rev2");
	if (s->state == IMAP_STATE_NOTAUTH) {
		if (s->core.conn != NULL && conn_tls_available(s->core.conn) &&
		    !conn_is_tls(s->core.conn))
			buf_append_str(out, " STARTTLS");
		/* RFC 9051 §6.2.3: LOGIN refused before TLS */
		if (!imap_auth_plaintext_allowed(s))
			buf_append_str(out, " LOGINDISABLED");
		imap_auth_mech_list(s, out);
		buf_append_str(out, " SASL-IR");
	}
	buf_append_str(out, ic->literal_plus ? " LITERAL+" : " LITERAL-");
	buf_append_str(out, " ENABLE ID IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN");
	buf_append_str(out, " SPECIAL-USE LIST-EXTENDED LIST-STATUS ESEARCH STATUS=SIZE CONDSTORE "
			    "QRESYNC QUOTA QUOTA=RES-STORAGE BINARY SEARCHRES");
	buf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)ic->append_limit);
}

static enum imap_cmd_result cmd_capability(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	struct buf b = {0};
	imap_capabilities(s, &b);
	imap_untagged(s, "CAPABILITY %s", b.data);
	buf_free(&b);
	imap_tagged(s, "OK", "CAPABILITY completed");
	return IMAP_CMD_DONE;
}

/* --- NOOP, CHECK, IDLE: the moments others' changes are told ------------------------- */

static void noop_done(struct imap_session *s)
{
	imap_tagged(s, "OK", "%s completed", s->cmd != NULL ? s->cmd->name : "NOOP");
	imap_cmd_finish(s);
}

static enum imap_cmd_result noop(struct imap_session *s)
{
	/* a delivery by another process (mailroom deliver, an import) marks
	   nothing here: NOOP always looks */
	if (s->sel != NULL)
		s->sel->dirty = true;
	if (s->sel == NULL) {
		noop_done(s);
		return IMAP_CMD_ASYNC; /* noop_done finished it */
	}
	imap_sync(s, true, noop_done);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result imap_cmd_check(struct imap_cmd_ctx *ctx)
{
	return noop(ctx->sess);
}

static enum imap_cmd_result cmd_noop(struct imap_cmd_ctx *ctx)
{
	return noop(ctx->sess);
}

static void idle_begin(struct imap_session *s)
{
	imap_idle_start(s);
}

enum imap_cmd_result imap_cmd_idle(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;

	if (ctx->argc != 0) {
		imap_tagged(s, "BAD", "IDLE takes no arguments");
		return IMAP_CMD_DONE;
	}
	/* the command stays open until DONE (imap_session.c) */
	if (s->sel != NULL && s->sel->dirty)
		imap_sync(s, true, idle_begin);
	else
		idle_begin(s);
	return IMAP_CMD_ASYNC;
}

/* --- LOGOUT ------------------------------------------------------------------------- */

static enum imap_cmd_result cmd_logout(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;

	imap_untagged(s, "BYE Logging out");
	imap_tagged(s, "OK", "LOGOUT completed");
	imap_cmd_finish(s);
	imap_session_close(s, "logout");
	return IMAP_CMD_ASYNC; /* finished above, before the close */
}

/* --- ID (RFC 2971) ------------------------------------------------------------------ */

static enum imap_cmd_result cmd_id(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	const struct imap_node *a = ctx->args;

	if (ctx->argc != 1 || (a->type != IMAP_NODE_NIL && a->type != IMAP_NODE_LIST) ||
	    (a->type == IMAP_NODE_LIST && (a->count % 2 != 0 || a->count > 60))) {
		imap_tagged(s, "BAD", "Invalid ID arguments");
		return IMAP_CMD_DONE;
	}
	/* what the client says of itself goes into the log, bounded */
	char seen[256] = "";
	size_t n = 0;
	for (const struct imap_node *k = a->child; k != NULL && k->next != NULL;
	     k = k->next->next) {
		struct slice key, val;
		if (!imap_node_string(k, &key) ||
		    (k->next->type != IMAP_NODE_NIL && !imap_node_string(k->next, &val)))
			continue;
		if (k->next->type == IMAP_NODE_NIL)
			val = (struct slice){"NIL", 3};
		int m = snprintf(seen + n, sizeof(seen) - n, "%s%.*s=%.*s", n > 0 ? " " : "",
				 (int)(key.len > 32 ? 32 : key.len), key.p,
				 (int)(val.len > 64 ? 64 : val.len), val.p);
		if (m < 0 || (size_t)m >= sizeof(seen) - n)
			break;
		n += (size_t)m;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)seen[i] < 0x20 || seen[i] == 0x7f)
			seen[i] = '?';
	if (n > 0)
		log_info("sid=%s imap client id %s", s->core.sid, seen);
	imap_untagged(s, "ID (\"name\" \"mailroom\" \"version\" \"%s\")", MAILROOM_VERSION);
	imap_tagged(s, "OK", "ID completed");
	return IMAP_CMD_DONE;
}

/* --- ENABLE (RFC 5161) -------------------------------------------------------------- */

static enum imap_cmd_result cmd_enable(struct imap_cmd_ctx *ctx)
{
	struct imap_session *s = ctx->sess;
	char enabled[128] = "";
	size_t n = 0;

	if (ctx->argc == 0) {
		imap_tagged(s, "BAD", "ENABLE needs a capability");
		return IMAP_CMD_DONE;
	}
	for (const struct imap_node *a = ctx->args; a != NULL; a = a->next) {
		const char *name = NULL;
		if (imap_node_is(a, "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			name = "IMAP4rev2";
		} else if (imap_node_is(a, "UTF8=ACCEPT") && !s->utf8) {
			s->utf8 = true;
			name = "UTF8=ACCEPT";
		} else if (imap_node_is(a, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			name = "CONDSTORE";
		} else if (imap_node_is(a, "QRESYNC") && !s->qresync) {
			/* RFC 7162 §3.2.3: QRESYNC implies CONDSTORE */
			s->qresync = s->condstore = true;
			name = "QRESYNC";
		}
		/* others are not enabled and not listed (RFC 5161 §3.1) */
		if (name != NULL && n + strlen(name) + 2 < sizeof(enabled))
			n += (size_t)snprintf(enabled + n, sizeof(enabled) - n, " %s", name);
	}
	imap_untagged(s, "ENABLED%s", enabled);
	imap_tagged(s, "OK", "ENABLE completed");
	return IMAP_CMD_DONE;
}

/* --- the dispatcher ----------------------------------------------------------------- */

static void bad(struct imap_session *s, const char *text)
{
	imap_tagged(s, "BAD", "%s", text);
	imap_cmd_finish(s);
	imap_session_bad_command(s);
}

void imap_cmd_dispatch(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_cmd_def *def = cmd_lookup(cmd->name);
	struct imap_cmd_ctx ctx = {.sess = s,
				   .def = def,
				   .cmd = cmd,
				   .uid = cmd->uid,
				   .args = cmd->args,
				   .argc = cmd->argc};

	imap_cmd_begin(s, def, cmd);
	if (def == NULL) {
		bad(s, "Unknown command");
		return;
	}
	if (cmd->uid && !(def->flags & IMAP_CMD_UID)) {
		bad(s, "This command takes no UID prefix");
		return;
	}
	if (!(def->states & IMAP_IN(s->state))) {
		if (s->state == IMAP_STATE_NOTAUTH)
			bad(s, "Log in first");
		else if (def->states == IMAP_IN_SELECTED)
			bad(s, "No mailbox selected");
		else
			bad(s, "Command not valid in this state");
		return;
	}
	if (def->handler(&ctx) == IMAP_CMD_DONE)
		imap_cmd_finish(s);
}
