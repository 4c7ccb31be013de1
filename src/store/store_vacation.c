/* SPDX-License-Identifier: MIT */
/*
 * store_vacation.c - a mailbox's auto-reply (schema 8, table vacations):
 * its texts, when it ends and how often one sender is answered. Whom it
 * answered when lives in the once table under "vacation:<mailbox id>:
 * <sender>" (delivery/delivery.h decides a reply inside the delivery's
 * transaction); setting or removing an auto-reply forgets those keys, so
 * a new text reaches everyone again.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VACATION_INTERVAL_MAX 365

static char *col_text(struct db_stmt *s, int i)
{
	const char *t = db_column_text(s, i);
	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/* The one mailbox an address names: its primary address or an alias that
   leads to it alone, as logins find it (store_user_lookup). */
static int vacation_mailbox(struct store *st, const char *address, int64_t *id_r)
{
	struct store_user u;
	int r = store_user_lookup(st, address, &u);

	if (r == STORE_OK) {
		*id_r = u.id;
		store_user_clear(&u);
		return STORE_OK;
	}
	if (r != STORE_NOTFOUND)
		return r;
	int64_t *ids = NULL;
	size_t n = 0;
	if (store_resolve(st, address, &ids, &n) == STORE_OK && n > 1)
		snprintf(st->err, sizeof(st->err),
			 "%.300s leads to %zu mailboxes: give the address of one of them", address,
			 n);
	else
		snprintf(st->err, sizeof(st->err), "no mailbox has the address %.300s", address);
	free(ids);
	return STORE_NOTFOUND;
}

/* Inside the caller's transaction: forgets whom the mailbox's auto-reply
   answered. */
static int forget_replies(struct store *st, int64_t id)
{
	char pattern[64];
	struct db_stmt *s = store_stmt(st, "DELETE FROM once WHERE key LIKE ?1");

	if (s == NULL)
		return STORE_TEMP;
	snprintf(pattern, sizeof(pattern), "vacation:%lld:%%", (long long)id);
	db_bind_text_copy(s, 1, pattern, -1);
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "auto-reply keys");
}

/* Runs the write s (in the transaction begun for it) on mailbox id's
   auto-reply, forgets whom it answered and commits; a write that changed
   no row means there was no auto-reply. Rolls back on any failure. */
static int write_and_forget(struct store *st, struct db_stmt *s, int64_t id, const char *address)
{
	int r, rc = db_step(s);

	if (rc != DB_DONE) {
		r = store_fail(st, rc, "auto-reply write");
	} else if (db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "%.300s has no auto-reply", address);
		r = STORE_NOTFOUND;
	} else if ((r = forget_replies(st, id)) == STORE_OK) {
		return store_commit(st);
	}
	store_rollback(st);
	return r;
}

static void bind_opt_text(struct db_stmt *s, int i, const char *t)
{
	if (t != NULL)
		db_bind_text_copy(s, i, t, -1);
	else
		db_bind_null(s, i);
}

int store_vacation_set(struct store *st, const char *address, const struct store_vacation *v)
{
	int64_t id;
	int r;

	if (v->subject == NULL || v->body == NULL || v->until < 0 || v->interval_days < 1 ||
	    v->interval_days > VACATION_INTERVAL_MAX) {
		snprintf(st->err, sizeof(st->err),
			 "an auto-reply needs a subject, a text and an interval of 1 to %d days",
			 VACATION_INTERVAL_MAX);
		return STORE_INVALID;
	}
	if ((r = vacation_mailbox(st, address, &id)) != STORE_OK)
		return r;
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(
	    st, "INSERT INTO vacations (mailbox_id, subject, body, external_subject, "
		"external_body, until, interval_days, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
		"?8) ON CONFLICT (mailbox_id) DO UPDATE SET subject = excluded.subject, body = "
		"excluded.body, external_subject = excluded.external_subject, external_body = "
		"excluded.external_body, until = excluded.until, interval_days = "
		"excluded.interval_days, created = excluded.created");
	if (s == NULL) {
		store_rollback(st);
		return STORE_TEMP;
	}
	db_bind_int64(s, 1, id);
	db_bind_text_copy(s, 2, v->subject, -1);
	db_bind_text_copy(s, 3, v->body, -1);
	bind_opt_text(s, 4, v->external_subject);
	bind_opt_text(s, 5, v->external_body);
	db_bind_int64(s, 6, v->until);
	db_bind_int64(s, 7, (int)v->interval_days);
	db_bind_int64(s, 8, (int64_t)time(NULL));
	return write_and_forget(st, s, id, address);
}

static int vacation_by_id(struct store *st, int64_t id, struct store_vacation *v_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT subject, body, external_subject, external_body, "
					   "until, interval_days, created FROM vacations WHERE "
					   "mailbox_id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, id);
	int rc = db_step(s);
	if (rc == DB_DONE)
		return STORE_NOTFOUND;
	if (rc != DB_ROW)
		return store_fail(st, rc, "auto-reply lookup");
	v_r->subject = col_text(s, 0);
	v_r->body = col_text(s, 1);
	v_r->external_subject = col_text(s, 2);
	v_r->external_body = col_text(s, 3);
	v_r->until = db_column_int64(s, 4);
	v_r->interval_days = (unsigned)db_column_int(s, 5);
	v_r->created = db_column_int64(s, 6);
	return STORE_OK;
}

int store_vacation_get_id(struct store *st, int64_t mailbox_id, struct store_vacation *v_r)
{
	memset(v_r, 0, sizeof(*v_r));
	int r = vacation_by_id(st, mailbox_id, v_r);
	if (r == STORE_NOTFOUND)
		snprintf(st->err, sizeof(st->err), "mailbox %lld has no auto-reply",
			 (long long)mailbox_id);
	store_idle(st);
	return r;
}

int store_vacation_get(struct store *st, const char *address, struct store_vacation *v_r)
{
	int64_t id;

	memset(v_r, 0, sizeof(*v_r));
	int r = vacation_mailbox(st, address, &id);
	if (r == STORE_OK && (r = vacation_by_id(st, id, v_r)) == STORE_NOTFOUND)
		snprintf(st->err, sizeof(st->err), "%.300s has no auto-reply", address);
	store_idle(st);
	return r;
}

int store_vacation_remove(struct store *st, const char *address)
{
	int64_t id;
	int r;

	if ((r = vacation_mailbox(st, address, &id)) != STORE_OK ||
	    (r = store_begin(st)) != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(st, "DELETE FROM vacations WHERE mailbox_id = ?1");
	if (s == NULL) {
		store_rollback(st);
		return STORE_TEMP;
	}
	db_bind_int64(s, 1, id);
	return write_and_forget(st, s, id, address);
}

void store_vacation_clear(struct store_vacation *v)
{
	free(v->subject);
	free(v->body);
	free(v->external_subject);
	free(v->external_body);
	memset(v, 0, sizeof(*v));
}
