/* SPDX-License-Identifier: MIT */
/*
 * store_queue.c - SMTP submissions (local delivery plus the outbound queue)
 * committed in batches, and the queue as the CLI sees it.
 *
 * Group commit: the SMTP service hands every message accepted at about the
 * same time to one store_submit() call, so N messages cost one WAL fsync
 * instead of N. Each submission sits in a savepoint: a constraint failure in
 * one (a duplicate queue id, say) rolls back only that one.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *col_dup(struct db_stmt *s, int i)
{
	const char *t = db_column_text(s, i);
	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static int queue_rows(struct store *st, const struct store_submission *sub, int64_t body_id)
{
	struct db_stmt *s =
	    store_stmt(st, "INSERT INTO queue (qid, sender, body_id, size, created, "
			   "next_attempt, auth_user, dsn_envid, dsn_ret, local_origin) "
			   "VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7, ?8, ?9) RETURNING id");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, sub->qid, -1);
	db_bind_text(s, 2, sub->sender != NULL ? sub->sender : "", -1);
	db_bind_int64(s, 3, body_id);
	db_bind_int64(s, 4, (int64_t)sub->len);
	db_bind_int64(s, 5, (int64_t)time(NULL));
	db_bind_text(s, 6, sub->auth_user, -1);
	db_bind_text(s, 7, sub->dsn_envid, -1);
	db_bind_text(s, 8, sub->dsn_ret, -1);
	db_bind_int64(s, 9, sub->local_origin ? 1 : 0);
	int64_t qrow = 0;
	if ((rc = store_insert_id(st, s, "queue insert", &qrow)) != STORE_OK)
		return rc;
	for (size_t i = 0; i < sub->n_remote; i++) {
		s = store_stmt(st, "INSERT INTO queue_rcpts (queue_id, address, dsn_notify, "
				   "dsn_orcpt) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING");
		if (s == NULL)
			return STORE_TEMP;
		db_bind_int64(s, 1, qrow);
		db_bind_text(s, 2, sub->remote[i].address, -1);
		db_bind_text(s, 3, sub->remote[i].dsn_notify, -1);
		db_bind_text(s, 4, sub->remote[i].dsn_orcpt, -1);
		if ((rc = db_step(s)) != DB_DONE)
			return store_fail(st, rc, "queue recipient insert");
	}
	return STORE_OK;
}

static int body_drop(struct store *st, int64_t body_id)
{
	struct db_stmt *s = store_stmt(st, "DELETE FROM bodies WHERE id = ?1");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, body_id);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "body delete");
	return STORE_OK;
}

/* A side effect sent at most once per key (store.h once_key): true when an
   unexpired record of its key exists; else the key is recorded now. */
static int once_taken(struct store *st, const struct store_submission *sub, int64_t now,
		      bool *taken_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT until FROM once WHERE key = ?1");
	int rc;

	*taken_r = false;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, sub->once_key, -1);
	rc = db_step(s);
	if (rc == DB_ROW)
		*taken_r = db_column_int64(s, 0) > now;
	else if (rc != DB_DONE)
		return store_fail(st, rc, "once lookup");
	db_reset(s);
	if (*taken_r)
		return STORE_OK;
	s = store_stmt(st, "INSERT INTO once (key, until) VALUES (?1, ?2) ON CONFLICT (key) "
			   "DO UPDATE SET until = excluded.until");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, sub->once_key, -1);
	db_bind_int64(s, 2, sub->once_until);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "once insert");
	return STORE_OK;
}

/* Whether the submission's condition (cond_mailbox) holds now. */
static int cond_holds(struct store *st, const struct store_submission *sub, bool *holds_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT used FROM mailboxes WHERE id = ?1");
	int rc;

	*holds_r = false;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, sub->cond_mailbox);
	rc = db_step(s);
	if (rc == DB_ROW)
		*holds_r = (uint64_t)db_column_int64(s, 0) >= sub->cond_used;
	else if (rc != DB_DONE)
		return store_fail(st, rc, "condition lookup");
	db_reset(s);
	return STORE_OK;
}

/* The submitting mailbox's record for the rate limits; rows older than the
   longest window (a day) go. */
static int sent_record(struct store *st, const struct store_submission *sub, int64_t now)
{
	struct db_stmt *s = store_stmt(st, "DELETE FROM sent WHERE mailbox_id = ?1 AND at <= ?2");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, sub->sent_by);
	db_bind_int64(s, 2, now - 86400);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "sent prune");
	s = store_stmt(st, "INSERT INTO sent (mailbox_id, at, recipients) VALUES (?1, ?2, ?3)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, sub->sent_by);
	db_bind_int64(s, 2, now);
	db_bind_int64(s, 3, sub->sent_rcpts);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "sent insert");
	return STORE_OK;
}

/* One submission and its side effects. A side effect (side_effect true)
   whose recipients are all gone, or whose once_key was used, is skipped;
   the submission itself fails (STORE_NOTFOUND) only when nothing at all,
   neither it nor a side effect, was stored. */
static int submit_one(struct store *st, struct store_submission *sub, bool side_effect,
		      bool *stored_r)
{
	int64_t local_id = 0, queue_id = 0, now = (int64_t)time(NULL);
	size_t accepted = 0;
	int r = STORE_OK;
	int *results = sub->n_local > 0 ? xcalloc(sub->n_local, sizeof(int)) : NULL;
	struct buf local = {0};
	bool taken = false, any = false;

	*stored_r = false;
	sub->skipped = false;
	if (sub->cond_mailbox > 0) {
		bool holds = false;
		if ((r = cond_holds(st, sub, &holds)) != STORE_OK || !holds) {
			sub->skipped = r == STORE_OK;
			free(results);
			return r;
		}
	}
	if (sub->once_key != NULL && (r = once_taken(st, sub, now, &taken)) == STORE_OK && taken) {
		sub->skipped = true; /* and what it would have caused */
		free(results);
		return STORE_OK;
	}
	/* final delivery gets its Return-Path (RFC 5321 §4.4); the queued copy
	   does not: the last hop adds it */
	if (r == STORE_OK && !taken && sub->n_local > 0) {
		if (sub->sender != NULL)
			store_return_path(&local, sub->sender);
		buf_append(&local, sub->body, sub->len);
		if ((r = store_body_insert(st, local.data, local.len, true, &local_id)) == STORE_OK)
			r = store_message_rows(st, local_id, sub->mailbox_ids, sub->n_local,
					       local.len, NULL, true, results, &accepted);
		if (r == STORE_OK && accepted > 0)
			r = store_body_refs(st, local_id, (int64_t)accepted);
		else if (r == STORE_OK)
			r = body_drop(st, local_id); /* every mailbox went away meanwhile */
	}
	if (r == STORE_OK && !taken && sub->n_remote > 0 &&
	    (r = store_body_insert(st, sub->body, sub->len, false, &queue_id)) == STORE_OK &&
	    (r = queue_rows(st, sub, queue_id)) == STORE_OK)
		r = store_body_refs(st, queue_id, 1);
	any = !taken && (accepted > 0 || sub->n_remote > 0);
	for (size_t i = 0; r == STORE_OK && i < sub->n_reports; i++) {
		bool stored = false;
		r = submit_one(st, &sub->reports[i], true, &stored);
		any |= stored;
	}
	if (r == STORE_OK && any && sub->sent_by > 0)
		r = sent_record(st, sub, now);
	if (r == STORE_OK && !any && !side_effect && !taken) {
		snprintf(st->err, sizeof(st->err), "no recipient left for %s", sub->qid);
		r = STORE_NOTFOUND;
	}
	if (r == STORE_OK && !any && side_effect)
		sub->skipped = true;
	*stored_r = any;
	buf_free(&local);
	free(results);
	return r;
}

int store_submit_one(struct store *st, struct store_submission *sub)
{
	bool stored;

	return submit_one(st, sub, false, &stored);
}

int store_submit(struct store *st, struct store_submission *subs, size_t n)
{
	int r;

	for (size_t i = 0; i < n; i++)
		subs[i].status = STORE_TEMP;
	if ((r = store_begin(st)) != STORE_OK)
		goto fail_all;
	for (size_t i = 0; i < n; i++) {
		if ((r = store_exec(st, "SAVEPOINT sub")) != STORE_OK) {
			store_rollback(st);
			goto fail_all;
		}
		subs[i].status = store_submit_one(st, &subs[i]);
		store_idle(st);
		if (subs[i].status != STORE_OK &&
		    (r = store_exec(st, "ROLLBACK TO sub")) != STORE_OK) {
			store_rollback(st);
			goto fail_all;
		}
		if ((r = store_exec(st, "RELEASE sub")) != STORE_OK) {
			store_rollback(st);
			goto fail_all;
		}
	}
	if ((r = store_commit(st)) != STORE_OK) /* S1: one fsync for the batch */
		goto fail_all;
	return STORE_OK;
fail_all:
	for (size_t i = 0; i < n; i++)
		subs[i].status = r;
	store_idle(st);
	return r;
}

int store_quota_check(struct store *st, int64_t mailbox_id, uint64_t size, bool *ok_r)
{
	struct db_stmt *s = store_stmt(
	    st, "SELECT " STORE_EFFECTIVE("quota") ", used FROM mailboxes m WHERE id = ?1");
	int rc, r = STORE_OK;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, mailbox_id);
	rc = db_step(s);
	if (rc == DB_ROW) {
		uint64_t quota = (uint64_t)db_column_int64(s, 0);
		uint64_t used = (uint64_t)db_column_int64(s, 1);
		*ok_r = quota == 0 || used + size <= quota;
	} else {
		r = rc == DB_DONE ? STORE_NOTFOUND : store_fail(st, rc, "quota check");
	}
	store_idle(st);
	return r;
}

/* Every verb that names a queue id says the same when it is not there. */
static int no_such_message(struct store *st, const char *qid)
{
	snprintf(st->err, sizeof(st->err),
		 "no queued message %.100s: it was delivered or removed, or the id is mistyped "
		 "(queue list shows the queue)",
		 qid);
	return STORE_NOTFOUND;
}

static void entry_clear(struct store_queue_entry *e)
{
	for (size_t i = 0; i < e->n_rcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	free(e->qid);
	free(e->sender);
	free(e->auth_user);
	memset(e, 0, sizeof(*e));
}

int store_queue_list(struct store *st, const char *qid, store_queue_cb *cb, void *ctx)
{
	/* one query: entries with their recipients, grouped by the caller loop */
	struct db_stmt *s = store_stmt(
	    st, "SELECT q.qid, q.sender, q.auth_user, q.created, q.next_attempt, q.size, "
		"q.attempts, q.held, r.address FROM queue q LEFT JOIN queue_rcpts r ON "
		"r.queue_id = q.id AND r.status = 0 WHERE ?1 IS NULL OR q.qid = ?1 "
		"ORDER BY q.id, r.address");
	struct store_queue_entry e;
	int rc;
	bool have = false;
	size_t cap = 0;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	memset(&e, 0, sizeof(e));
	while ((rc = db_step(s)) == DB_ROW) {
		const char *this_qid = db_column_text(s, 0);
		if (!have || strcmp(e.qid, this_qid) != 0) {
			if (have)
				cb(&e, ctx);
			entry_clear(&e);
			cap = 0;
			have = true;
			e.qid = col_dup(s, 0);
			e.sender = col_dup(s, 1);
			e.auth_user = col_dup(s, 2);
			e.created = db_column_int64(s, 3);
			e.next_attempt = db_column_int64(s, 4);
			e.size = (uint64_t)db_column_int64(s, 5);
			e.attempts = (unsigned)db_column_int(s, 6);
			e.held = db_column_int(s, 7) != 0;
		}
		if (!db_column_null(s, 8)) {
			if (e.n_rcpts == cap) {
				cap = cap ? cap * 2 : 4;
				e.rcpts = xrealloc(e.rcpts, cap * sizeof(*e.rcpts));
			}
			e.rcpts[e.n_rcpts++] = col_dup(s, 8);
		}
	}
	if (have && rc == DB_DONE)
		cb(&e, ctx);
	entry_clear(&e);
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "queue list");
	store_idle(st);
	if (r == STORE_OK && qid != NULL && !have) {
		return no_such_message(st, qid);
	}
	return r;
}

int store_queue_body(struct store *st, const char *qid, struct buf *out)
{
	struct db_stmt *s = store_stmt(st, "SELECT b.data FROM queue q JOIN bodies b ON b.id = "
					   "q.body_id WHERE q.qid = ?1");
	int rc, r = STORE_OK;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	rc = db_step(s);
	if (rc == DB_ROW) {
		buf_append(out, db_column_blob(s, 0), (size_t)db_column_bytes(s, 0));
	} else if (rc == DB_DONE) {
		r = no_such_message(st, qid);
	} else {
		r = store_fail(st, rc, "queue body");
	}
	store_idle(st);
	return r;
}

/* Deletes a queued message and drops its reference on the body, inside the
   caller's transaction. Returns STORE_NOTFOUND if there was none. */
static int queue_drop(struct store *st, const char *qid)
{
	static const char *const steps[] = {
	    "DELETE FROM queue_rcpts WHERE queue_id = (SELECT id FROM queue WHERE qid = ?1)",
	    "DELETE FROM queue WHERE qid = ?1",
	    "UPDATE bodies SET refcount = refcount - 1 WHERE id = ?2",
	    "DELETE FROM bodies WHERE refcount <= 0 AND id = ?2",
	};
	struct db_stmt *s = store_stmt(st, "SELECT body_id FROM queue WHERE qid = ?1");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	rc = db_step(s);
	if (rc != DB_ROW) {
		db_reset(s);
		if (rc != DB_DONE)
			return store_fail(st, rc, "queue remove");
		return no_such_message(st, qid);
	}
	int64_t body_id = db_column_int64(s, 0);
	db_reset(s);
	/* the queue row goes before the body it references */
	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		s = store_stmt(st, steps[i]);
		if (s == NULL)
			return STORE_TEMP;
		db_bind_text(s, 1, qid, -1);
		db_bind_int64(s, 2, body_id);
		if ((rc = db_step(s)) != DB_DONE)
			return store_fail(st, rc, "queue remove");
	}
	return STORE_OK;
}

int store_queue_remove(struct store *st, const char *qid)
{
	int r;

	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = queue_drop(st, qid)) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

int store_queue_hold(struct store *st, const char *qid, bool held)
{
	struct db_stmt *s = store_stmt(st, "UPDATE queue SET held = ?2 WHERE qid = ?1");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	db_bind_int64(s, 2, held);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "queue hold");
	if (db_changes(st) == 0) {
		return no_such_message(st, qid);
	}
	return STORE_OK;
}

int store_queue_flush(struct store *st, const char *qid)
{
	struct db_stmt *s = store_stmt(st, "UPDATE queue SET next_attempt = ?2 WHERE ?1 IS NULL OR "
					   "qid = ?1");
	int rc;

	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	db_bind_int64(s, 2, (int64_t)time(NULL));
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "queue flush");
	if (qid != NULL && db_changes(st) == 0) {
		return no_such_message(st, qid);
	}
	return STORE_OK;
}

/* --- delivery -------------------------------------------------------------------- */

int store_queue_due(struct store *st, int64_t now, const char *node, size_t max, char ***qids_r,
		    char ***dests_r, size_t *n_r)
{
	struct db_stmt *s = store_stmt(
	    st, "SELECT qid, dest FROM (SELECT q.qid, q.next_attempt, q.id, (SELECT "
		"substr(r.address, instr(r.address, '@') + 1) FROM queue_rcpts r WHERE "
		"r.queue_id = q.id AND r.status = 0 ORDER BY r.address LIMIT 1) AS dest "
		"FROM queue q WHERE held = 0 AND next_attempt <= ?1 AND (lease_until <= ?1 OR "
		"lease_node = ?3)) x WHERE dest IS NOT NULL ORDER BY next_attempt, id LIMIT ?2");
	char **q = NULL, **d = NULL;
	size_t n = 0;
	int rc;

	*qids_r = NULL;
	*dests_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, now);
	db_bind_int64(s, 2, (int64_t)max);
	db_bind_text(s, 3, node != NULL ? node : "", -1);
	while ((rc = db_step(s)) == DB_ROW) {
		q = xrealloc(q, (n + 1) * sizeof(*q));
		d = xrealloc(d, (n + 1) * sizeof(*d));
		q[n] = col_dup(s, 0);
		d[n++] = col_dup(s, 1);
	}
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "queue due");
	store_idle(st);
	*qids_r = q;
	*dests_r = d;
	*n_r = n;
	return r;
}

int store_queue_claim(struct store *st, const char *qid, const char *node, int64_t now,
		      unsigned lease, bool *claimed_r)
{
	*claimed_r = true;
	if (!st->ops->shared)
		return STORE_OK;
	/* one statement under the writers' lock: of two nodes, one claims */
	struct db_stmt *s =
	    store_stmt(st, "UPDATE queue SET lease_node = ?2, lease_until = ?3 "
			   "WHERE qid = ?1 AND (lease_until <= ?4 OR lease_node = ?2)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	db_bind_text(s, 2, node, -1);
	db_bind_int64(s, 3, now + (int64_t)lease);
	db_bind_int64(s, 4, now);
	int rc = db_step(s);
	if (rc != DB_DONE)
		return store_fail(st, rc, "queue claim");
	*claimed_r = db_changes(st) == 1;
	return STORE_OK;
}

void store_queue_msg_clear(struct store_queue_msg *m)
{
	for (size_t i = 0; i < m->n_rcpts; i++) {
		free(m->rcpts[i].address);
		free(m->rcpts[i].dsn_notify);
		free(m->rcpts[i].dsn_orcpt);
		free(m->rcpts[i].remote_reply);
	}
	free(m->rcpts);
	free(m->qid);
	free(m->sender);
	free(m->auth_user);
	free(m->dsn_envid);
	free(m->dsn_ret);
	buf_free(&m->body);
	memset(m, 0, sizeof(*m));
}

int store_queue_load(struct store *st, const char *qid, struct store_queue_msg *m)
{
	struct db_stmt *s =
	    store_stmt(st, "SELECT q.qid, q.sender, q.auth_user, q.dsn_envid, "
			   "q.dsn_ret, q.created, q.next_attempt, q.attempts, q.held, "
			   "q.delay_notified, b.data, q.id, q.local_origin FROM queue q JOIN "
			   "bodies b "
			   "ON b.id = q.body_id WHERE q.qid = ?1");
	int rc, r = STORE_OK;

	memset(m, 0, sizeof(*m));
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, qid, -1);
	rc = db_step(s);
	if (rc != DB_ROW) {
		r = rc == DB_DONE ? STORE_NOTFOUND : store_fail(st, rc, "queue load");
		store_idle(st);
		return r;
	}
	m->qid = col_dup(s, 0);
	m->sender = col_dup(s, 1);
	m->auth_user = col_dup(s, 2);
	m->dsn_envid = col_dup(s, 3);
	m->dsn_ret = col_dup(s, 4);
	m->created = db_column_int64(s, 5);
	m->next_attempt = db_column_int64(s, 6);
	m->attempts = (unsigned)db_column_int(s, 7);
	m->held = db_column_int(s, 8) != 0;
	m->delay_notified = db_column_int(s, 9) != 0;
	buf_append(&m->body, db_column_blob(s, 10), (size_t)db_column_bytes(s, 10));
	int64_t row = db_column_int64(s, 11);
	m->local_origin = db_column_int(s, 12) != 0;
	db_reset(s);
	s = store_stmt(st, "SELECT address, dsn_notify, dsn_orcpt FROM queue_rcpts WHERE "
			   "queue_id = ?1 AND status = 0 ORDER BY address");
	if (s == NULL) {
		store_queue_msg_clear(m);
		return STORE_TEMP;
	}
	db_bind_int64(s, 1, row);
	while ((rc = db_step(s)) == DB_ROW) {
		m->rcpts = xrealloc(m->rcpts, (m->n_rcpts + 1) * sizeof(*m->rcpts));
		struct store_queue_rcpt *q = &m->rcpts[m->n_rcpts++];
		memset(q, 0, sizeof(*q));
		q->address = col_dup(s, 0);
		q->dsn_notify = col_dup(s, 1);
		q->dsn_orcpt = col_dup(s, 2);
	}
	if (rc != DB_DONE) {
		r = store_fail(st, rc, "queue load");
		store_queue_msg_clear(m);
	}
	store_idle(st);
	return r;
}

int store_queue_attempt(struct store *st, const struct store_queue_msg *m, int64_t next_attempt,
			struct store_submission *reports, size_t n_reports)
{
	int r;

	if ((r = store_begin(st)) != STORE_OK)
		return r;
	for (size_t i = 0; i < m->n_rcpts; i++) {
		struct db_stmt *s =
		    store_stmt(st, "UPDATE queue_rcpts SET status = ?3, remote_reply = "
				   "?4 WHERE queue_id = (SELECT id FROM queue WHERE "
				   "qid = ?1) AND address = ?2");
		int rc;
		if (s == NULL) {
			store_rollback(st);
			return STORE_TEMP;
		}
		db_bind_text(s, 1, m->qid, -1);
		db_bind_text(s, 2, m->rcpts[i].address, -1);
		db_bind_int64(s, 3, (int)m->rcpts[i].status);
		db_bind_text(s, 4, m->rcpts[i].remote_reply, -1);
		if ((rc = db_step(s)) != DB_DONE) {
			r = store_fail(st, rc, "queue attempt");
			store_rollback(st);
			return r;
		}
	}
	struct db_stmt *s = store_stmt(
	    st, "UPDATE queue SET attempts = attempts + 1, next_attempt = "
		"?2, delay_notified = ?3, lease_node = NULL, lease_until = 0 WHERE qid = "
		"?1");
	int rc;
	if (s == NULL) {
		store_rollback(st);
		return STORE_TEMP;
	}
	db_bind_text(s, 1, m->qid, -1);
	db_bind_int64(s, 2, next_attempt);
	db_bind_int64(s, 3, m->delay_notified);
	if ((rc = db_step(s)) != DB_DONE) {
		r = store_fail(st, rc, "queue attempt");
		store_rollback(st);
		return r;
	}
	/* reports go in with the attempt: one commit, never one without the other */
	for (size_t i = 0; i < n_reports; i++) {
		if ((r = store_exec(st, "SAVEPOINT rep")) != STORE_OK) {
			store_rollback(st);
			return r;
		}
		reports[i].status = store_submit_one(st, &reports[i]);
		store_idle(st);
		if (reports[i].status != STORE_OK)
			store_exec(st, "ROLLBACK TO rep");
		store_exec(st, "RELEASE rep");
	}
	bool left = false;
	for (size_t i = 0; i < m->n_rcpts; i++)
		left |= m->rcpts[i].status == QRCPT_PENDING;
	if (!left && (r = queue_drop(st, m->qid)) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}
