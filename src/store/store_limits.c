/* SPDX-License-Identifier: MIT */
/*
 * store_limits.c - quota levels and sending limits (schema 8): a mailbox's
 * own values, its domain's defaults, and the submissions counted for the
 * rate limits.
 *
 * Each level or limit is one column of the same name on mailboxes (-1: the
 * domain's default) and on domains (0: none); STORE_EFFECTIVE in
 * store_private.h gives a mailbox's value in SQL. The quota notice is sent
 * once per crossing (once-key "quota-warn:<mailbox id>", kept without end):
 * whatever changes the warning level or the receive quota a mailbox works
 * with forgets that key, and so does an expunge that brings the mailbox
 * below its level, so the next crossing is told again.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const limit_names[STORE_LIMIT_COUNT] = {
    "quota-warn",	"quota-send",	       "quota",
    "max-message-size", "max-recipients",      "messages-per-hour",
    "messages-per-day", "recipients-per-hour", "recipients-per-day",
};

const char *store_limit_name(enum store_limit l)
{
	return (unsigned)l < STORE_LIMIT_COUNT ? limit_names[l] : NULL;
}

void store_limits_row(struct db_stmt *s, int first, struct store_limits *r)
{
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		r->v[i] = db_column_int64(s, first + i);
}

/* One literal statement per column: the statement cache keys on the
   string's address, and a column name cannot be bound. */
#define USER_SET_(col) "UPDATE mailboxes SET " col " = ?2 WHERE id = ?1",
#define DOMAIN_SET_(col) "UPDATE domains SET " col " = ?2 WHERE id = ?1",
static const char *const user_set_sql[STORE_LIMIT_COUNT] = {STORE_LIMIT_COLUMNS(USER_SET_)};
static const char *const domain_set_sql[STORE_LIMIT_COUNT] = {STORE_LIMIT_COLUMNS(DOMAIN_SET_)};

/* Does a change of this value move the level the quota notice is about? */
static bool moves_notice(enum store_limit l)
{
	return l == STORE_LIMIT_QUOTA_WARN || l == STORE_LIMIT_QUOTA;
}

static int step_done(struct store *st, struct db_stmt *s, const char *what)
{
	if (s == NULL)
		return STORE_TEMP;
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, what);
}

/* One row's value: `sql` is one of the *_set_sql literals. */
static int set_value(struct store *st, const char *sql, int64_t id, int64_t v)
{
	struct db_stmt *s = store_stmt(st, sql);
	if (s != NULL) {
		db_bind_int64(s, 1, id);
		db_bind_int64(s, 2, v);
	}
	return step_done(st, s, "set limit");
}

static bool value_ok(struct store *st, enum store_limit l, int64_t v, bool inherit_ok)
{
	if ((unsigned)l >= STORE_LIMIT_COUNT) {
		snprintf(st->err, sizeof(st->err), "no such limit (%d)", (int)l);
		return false;
	}
	if (v < 0 && !(inherit_ok && v == STORE_INHERIT)) {
		snprintf(st->err, sizeof(st->err),
			 "%s cannot be %lld: give 0 (none) or a positive value%s", limit_names[l],
			 (long long)v, inherit_ok ? ", or the domain's default" : "");
		return false;
	}
	return true;
}

/* The mailbox of `address` (its primary address) with its own and effective
   values; STORE_NOTFOUND with the text when there is none. */
static int user_limits(struct store *st, const char *address, int64_t *id_r,
		       struct store_limits *own, struct store_limits *eff)
{
	struct db_stmt *s = store_stmt(st, "SELECT m.id" STORE_LIMITS_OWN STORE_LIMITS_EFFECTIVE
					   " FROM mailboxes m WHERE m.address = lower(?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, address, -1);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "mailbox %.200s does not exist", address);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "user limits");
	*id_r = db_column_int64(s, 0);
	store_limits_row(s, 1, own);
	store_limits_row(s, 1 + STORE_LIMIT_COUNT, eff);
	db_reset(s);
	return STORE_OK;
}

static int forget_notice(struct store *st, int64_t mailbox_id)
{
	struct db_stmt *s =
	    store_stmt(st, "DELETE FROM once WHERE key = '" STORE_ONCE_QUOTA_WARN "' || ?1");
	if (s != NULL)
		db_bind_int64(s, 1, mailbox_id);
	return step_done(st, s, "quota notice");
}

int store_user_set_limit(struct store *st, const char *address, enum store_limit l, int64_t v)
{
	struct store_limits own, before, after;
	int64_t id = 0;
	int r;

	if (!value_ok(st, l, v, true))
		return STORE_INVALID;
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = user_limits(st, address, &id, &own, &before)) != STORE_OK)
		goto fail;
	if ((r = set_value(st, user_set_sql[l], id, v)) != STORE_OK)
		goto fail;
	/* only a level that really moved: setting the same value again keeps
	   the notice already sent */
	if (moves_notice(l)) {
		if ((r = user_limits(st, address, &id, &own, &after)) != STORE_OK)
			goto fail;
		if (after.v[l] != before.v[l] && (r = forget_notice(st, id)) != STORE_OK)
			goto fail;
	}
	return store_commit(st);
fail:
	store_rollback(st);
	return r;
}

/* A hosted domain (not an alias) and its defaults. */
static int domain_limits(struct store *st, const char *domain, int64_t *id_r,
			 struct store_limits *r_r)
{
	char *d = store_norm_domain(domain);
	if (d == NULL) {
		snprintf(st->err, sizeof(st->err), "'%.200s' is not a valid domain name", domain);
		return STORE_INVALID;
	}
#define DOMAIN_COLUMN_(col) ", d." col
	struct db_stmt *s =
	    store_stmt(st, "SELECT d.id, t.name" STORE_LIMIT_COLUMNS(
			       DOMAIN_COLUMN_) " FROM domains d LEFT JOIN domains t "
					       "ON t.id = d.alias_of WHERE d.name "
					       "= ?1");
#undef DOMAIN_COLUMN_
	int r = STORE_TEMP;
	if (s == NULL)
		goto out;
	db_bind_text(s, 1, d, -1);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "domain %.200s does not exist", d);
		r = STORE_NOTFOUND;
	} else if (rc != DB_ROW) {
		r = store_fail(st, rc, "domain limits");
	} else if (!db_column_null(s, 1)) {
		snprintf(st->err, sizeof(st->err),
			 "domain %.200s is an alias of %.200s: its mailboxes have the defaults of "
			 "%.200s",
			 d, db_column_text(s, 1), db_column_text(s, 1));
		r = STORE_INVALID;
	} else {
		*id_r = db_column_int64(s, 0);
		store_limits_row(s, 2, r_r);
		r = STORE_OK;
	}
	db_reset(s);
out:
	free(d);
	return r;
}

int store_domain_limits(struct store *st, const char *domain, struct store_limits *r)
{
	int64_t id = 0;
	int rc = domain_limits(st, domain, &id, r);
	store_idle(st);
	return rc;
}

int store_domain_set_limit(struct store *st, const char *domain, enum store_limit l, int64_t v)
{
	struct store_limits old;
	int64_t id = 0;
	int r;

	if (!value_ok(st, l, v, false))
		return STORE_INVALID;
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = domain_limits(st, domain, &id, &old)) != STORE_OK)
		goto fail;
	if ((r = set_value(st, domain_set_sql[l], id, v)) != STORE_OK)
		goto fail;
	if (moves_notice(l) && old.v[l] != v) {
		/* the mailboxes that work with the domain's level */
		struct db_stmt *s = store_stmt(
		    st, l == STORE_LIMIT_QUOTA_WARN
			    ? "DELETE FROM once WHERE key IN (SELECT '" STORE_ONCE_QUOTA_WARN
			      "' || id FROM mailboxes WHERE domain_id = ?1 AND "
			      "quota_warn < 0)"
			    : "DELETE FROM once WHERE key IN (SELECT '" STORE_ONCE_QUOTA_WARN
			      "' || id FROM mailboxes WHERE domain_id = ?1 AND quota < 0)");
		if (s != NULL)
			db_bind_int64(s, 1, id);
		if ((r = step_done(st, s, "quota notice")) != STORE_OK)
			goto fail;
	}
	return store_commit(st);
fail:
	store_rollback(st);
	return r;
}

int store_quota_warn_recheck(struct store *st, int64_t mailbox_id)
{
	struct db_stmt *s = store_stmt(
	    st,
	    "DELETE FROM once WHERE key = '" STORE_ONCE_QUOTA_WARN "' || ?1 AND EXISTS (SELECT "
	    "1 FROM mailboxes m WHERE m.id = ?1 AND m.used < " STORE_EFFECTIVE("quota_warn") ")");
	if (s != NULL)
		db_bind_int64(s, 1, mailbox_id);
	return step_done(st, s, "quota notice");
}

int store_sent_count(struct store *st, int64_t mailbox_id, int64_t since, uint64_t *messages_r,
		     uint64_t *recipients_r)
{
	struct db_stmt *s =
	    store_stmt(st, "SELECT count(*), coalesce(sum(recipients), 0) FROM sent "
			   "WHERE mailbox_id = ?1 AND at >= ?2");
	int r = STORE_TEMP;

	*messages_r = *recipients_r = 0;
	if (s != NULL) {
		db_bind_int64(s, 1, mailbox_id);
		db_bind_int64(s, 2, since);
		int rc = db_step(s);
		if (rc == DB_ROW) {
			*messages_r = (uint64_t)db_column_int64(s, 0);
			*recipients_r = (uint64_t)db_column_int64(s, 1);
			r = STORE_OK;
		} else {
			r = store_fail(st, rc, "sent count");
		}
	}
	store_idle(st);
	return r;
}
