/* SPDX-License-Identifier: MIT */
/*
 * store_stats.c - the few numbers an operator watches (store.h
 * store_stats): queue length and age, body count, database size.
 *
 * One statement, so the numbers come from one read snapshot (WAL: no
 * writer waits for it); each engine words it (its ops' sql_stats). Counting bodies walks the bodies
 * b-tree, which is why callers cache the result (admin/ keeps it a few seconds) instead of asking
 * on every scrape.
 */
#include "store/store_private.h"

#include <string.h>

int store_stats(struct store *st, struct store_stats *r)
{
	struct db_stmt *s = store_stmt(st, st->ops->sql_stats);
	int rc;

	memset(r, 0, sizeof(*r));
	if (s == NULL)
		return STORE_TEMP;
	rc = db_step(s);
	if (rc != DB_ROW) {
		rc = store_fail(st, rc, "store statistics");
		store_idle(st);
		return rc;
	}
	r->queue_messages = (uint64_t)db_column_int64(s, 0);
	r->queue_oldest = db_column_int64(s, 1); /* NULL (no queue) reads as 0 */
	r->bodies = (uint64_t)db_column_int64(s, 2);
	r->db_bytes = (uint64_t)db_column_int64(s, 3);
	store_idle(st);
	return STORE_OK;
}
