/* SPDX-License-Identifier: MIT */
/*
 * store_census.c - what the store holds, counted (store_backup.h
 * store_census): the rows of each table and the numbers of the bodies
 * (S2's reference counts and sizes), a mailbox's UID counter (S3) beside
 * its rows, and the once-records of side effects; and the test seams that
 * plant rows the public calls cannot make at will (a once-record, a
 * submission record of another time, a list's members by the thousand in
 * one transaction).
 *
 * The tests read the store through these instead of opening its database
 * with SQL of their own, so the same assertions hold on every engine. The
 * SQL is the one dialect both engines run (store_private.h): no PRAGMA, no
 * catalogue, counts and sums only (a sum is coalesced: no rows sum to 0),
 * no boolean results.
 */
#include "store/store_private.h"

#include <stdio.h>
#include <string.h>

/* One row of every count, in one statement (so one snapshot even without
   store_read_begin); the columns in struct store_census order. */
static const char sql_census[] =
    "SELECT (SELECT coalesce(max(version), 0) FROM schema_version), "
    "(SELECT count(*) FROM schema_version), "
    "(SELECT count(*) FROM domains), "
    "(SELECT count(*) FROM domains WHERE alias_of IS NOT NULL), "
    "(SELECT count(*) FROM mailboxes), "
    "(SELECT count(*) FROM aliases), "
    "(SELECT count(*) FROM lists), "
    "(SELECT count(*) FROM list_members), "
    "(SELECT count(*) FROM list_senders), "
    "(SELECT count(*) FROM folders), "
    "(SELECT count(*) FROM messages), "
    "(SELECT coalesce(sum(size), 0) FROM messages), "
    "(SELECT count(*) FROM expunged), "
    "(SELECT count(*) FROM queue), "
    "(SELECT count(*) FROM queue_rcpts), "
    "(SELECT count(*) FROM routes), "
    "(SELECT count(*) FROM vacations), "
    "(SELECT count(*) FROM once), "
    "(SELECT count(*) FROM sent), "
    "(SELECT count(*) FROM dkim_keys), "
    "(SELECT count(*) FROM bodies), "
    "(SELECT coalesce(sum(refcount), 0) FROM bodies), "
    "(SELECT coalesce(sum(size), 0) FROM bodies), "
    "(SELECT coalesce(sum(CASE WHEN refcount = 1 THEN 1 ELSE 0 END), 0) FROM bodies), "
    "(SELECT coalesce(sum(CASE WHEN refcount > 1 THEN 1 ELSE 0 END), 0) FROM bodies), "
    "(SELECT coalesce(sum(CASE WHEN refcount < 1 THEN 1 ELSE 0 END), 0) FROM bodies), "
    "(SELECT coalesce(max(refcount), 0) FROM bodies), "
    "(SELECT coalesce((SELECT refcount FROM bodies ORDER BY id LIMIT 1), 0)), "
    "(SELECT coalesce((SELECT refcount FROM bodies ORDER BY id DESC LIMIT 1), 0))";

int store_census(struct store *st, struct store_census *c)
{
	memset(c, 0, sizeof(*c));
	int r = store_read_begin(st);
	if (r != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(st, sql_census);
	if (s == NULL) {
		store_read_end(st);
		return STORE_TEMP;
	}
	int rc = db_step(s);
	if (rc != DB_ROW) {
		r = store_fail(st, rc, "store census");
		store_read_end(st);
		return r;
	}
	int64_t *const col[] = {
	    &c->schema_version,	  &c->schema_rows,   &c->domains,	&c->domain_aliases,
	    &c->mailboxes,	  &c->aliases,	     &c->lists,		&c->list_members,
	    &c->list_senders,	  &c->folders,	     &c->messages,	&c->message_octets,
	    &c->expunged,	  &c->queued,	     &c->queue_rcpts,	&c->routes,
	    &c->vacations,	  &c->once,	     &c->sent,		&c->dkim_keys,
	    &c->bodies,		  &c->body_refs,     &c->body_octets,	&c->bodies_single,
	    &c->bodies_shared,	  &c->bodies_unused, &c->body_max_refs, &c->body_oldest_refs,
	    &c->body_newest_refs,
	};
	for (size_t i = 0; i < sizeof(col) / sizeof(col[0]); i++)
		*col[i] = db_column_int64(s, (int)i);
	store_read_end(st);
	return STORE_OK;
}

int store_census_mailbox(struct store *st, int64_t mailbox_id, struct store_mailbox_census *c)
{
	memset(c, 0, sizeof(*c));
	struct db_stmt *s = store_stmt(
	    st, "SELECT m.next_uid, (SELECT count(*) FROM messages WHERE mailbox_id = m.id), "
		"(SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = m.id), "
		"(SELECT count(*) FROM folders WHERE mailbox_id = m.id) FROM mailboxes m "
		"WHERE m.id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	int rc = db_step(s), r = STORE_OK;
	if (rc == DB_ROW) {
		c->next_uid = db_column_int64(s, 0);
		c->messages = db_column_int64(s, 1);
		c->octets = db_column_int64(s, 2);
		c->folders = db_column_int64(s, 3);
	} else if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "mailbox %" PRId64 " does not exist",
			 mailbox_id);
		r = STORE_NOTFOUND;
	} else {
		r = store_fail(st, rc, "mailbox census");
	}
	store_idle(st);
	return r;
}

int store_census_once(struct store *st, const char *key, bool prefix, int64_t *n_r)
{
	*n_r = 0;
	/* substr rather than LIKE: a key's '_' and '%' are no patterns */
	struct db_stmt *s = store_stmt(st, "SELECT count(*) FROM once WHERE key = ?1 OR (?2 <> 0 "
					   "AND substr(key, 1, length(?1)) = ?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, key, -1);
	db_bind_int64(s, 2, prefix ? 1 : 0);
	int rc = db_step(s), r = STORE_OK;
	if (rc == DB_ROW)
		*n_r = db_column_int64(s, 0);
	else
		r = store_fail(st, rc, "once census");
	store_idle(st);
	return r;
}

/* --- test seams ------------------------------------------------------------------ */

static int write_one(struct store *st, struct db_stmt *s, const char *what)
{
	if (s == NULL)
		return STORE_TEMP;
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, what);
}

int store_test_once_add(struct store *st, const char *key, int64_t until)
{
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	/* as store_submit records a side effect's once_key */
	struct db_stmt *s = store_stmt(st, "INSERT INTO once (key, until) VALUES (?1, ?2) ON "
					   "CONFLICT (key) DO UPDATE SET until = excluded.until");
	if (s != NULL) {
		db_bind_text(s, 1, key, -1);
		db_bind_int64(s, 2, until);
	}
	if ((r = write_one(st, s, "once insert")) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

int store_test_sent_add(struct store *st, int64_t mailbox_id, int64_t at, unsigned recipients)
{
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	/* as store_submit records a submission with sent_by */
	struct db_stmt *s =
	    store_stmt(st, "INSERT INTO sent (mailbox_id, at, recipients) VALUES (?1, ?2, ?3)");
	if (s != NULL) {
		db_bind_int64(s, 1, mailbox_id);
		db_bind_int64(s, 2, at);
		db_bind_int64(s, 3, recipients);
	}
	if ((r = write_one(st, s, "sent insert")) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

int store_test_list_fill(struct store *st, const char *list, const char *prefix, const char *suffix,
			 unsigned n)
{
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	struct db_stmt *s = store_stmt(st, "SELECT id FROM lists WHERE address = ?1");
	int64_t id = 0;
	if (s == NULL) {
		store_rollback(st);
		return STORE_TEMP;
	}
	db_bind_text(s, 1, list, -1);
	int rc = db_step(s);
	if (rc == DB_ROW) {
		id = db_column_int64(s, 0);
	} else if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "list %s does not exist", list);
		r = STORE_NOTFOUND;
	} else {
		r = store_fail(st, rc, "list lookup");
	}
	db_reset(s);
	if (r != STORE_OK) {
		store_rollback(st);
		return r;
	}
	s = store_stmt(st, "INSERT INTO list_members (list_id, member) VALUES (?1, ?2)");
	for (unsigned i = 1; r == STORE_OK && i <= n; i++) {
		char member[512];
		snprintf(member, sizeof(member), "%s%u%s", prefix, i, suffix);
		if (s != NULL) {
			db_bind_int64(s, 1, id);
			db_bind_text(s, 2, member, -1);
		}
		r = write_one(st, s, "list member insert");
		if (s != NULL)
			db_reset(s);
	}
	if (r != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}
