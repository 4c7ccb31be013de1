/* SPDX-License-Identifier: MIT */
/*
 * store_delivery.c - what the local delivery path (delivery/delivery.h)
 * reads about a mailbox in one go: its effective levels and limits, where it
 * forwards, whether an auto-reply runs, its addresses; and the count of
 * what a login submitted, for the rate limits.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static char *col_dup(struct db_stmt *s, int i)
{
	const char *t = db_column_text(s, i);
	return t != NULL ? xstrdup((const char *)t) : NULL;
}

static void split_targets(const char *list, char ***out, size_t *n_r)
{
	*out = NULL;
	*n_r = 0;
	if (list == NULL || *list == '\0')
		return;
	size_t cap = 1;
	for (const char *p = list; *p != '\0'; p++)
		cap += *p == ',';
	*out = xcalloc(cap, sizeof(char *));
	const char *p = list;
	while (*p != '\0') {
		const char *e = strchr(p, ',');
		size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
		if (len > 0)
			(*out)[(*n_r)++] = xstrndup(p, len);
		p += len + (e != NULL);
	}
}

int store_mailbox_info(struct store *st, int64_t id, int64_t now, struct store_mailbox_info *r)
{
	/* each level and limit as the mailbox's own and its domain's, in enum
	   store_limit's order; the effective one is picked below */
	struct db_stmt *s = store_stmt(
	    st, "SELECT m.id, m.address, m.used, m.forward, m.keep_copy, m.enabled, EXISTS (SELECT "
		"1 FROM vacations v WHERE v.mailbox_id = m.id AND (v.until = 0 OR v.until > ?2)), "
		"m.quota_warn, d.quota_warn, m.quota_send, d.quota_send, m.quota, d.quota, "
		"m.max_message_size, d.max_message_size, m.max_recipients, d.max_recipients, "
		"m.messages_per_hour, d.messages_per_hour, m.messages_per_day, d.messages_per_day, "
		"m.recipients_per_hour, d.recipients_per_hour, m.recipients_per_day, "
		"d.recipients_per_day FROM mailboxes m LEFT JOIN domains d ON d.id = m.domain_id "
		"WHERE m.id = ?1");
	int rc;

	memset(r, 0, sizeof(*r));
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, id);
	db_bind_int64(s, 2, now);
	rc = db_step(s);
	if (rc == DB_DONE) {
		store_idle(st);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW) {
		int e = store_fail(st, rc, "mailbox lookup");
		store_idle(st);
		return e;
	}
	r->id = db_column_int64(s, 0);
	r->address = col_dup(s, 1);
	r->used = (uint64_t)db_column_int64(s, 2);
	split_targets(db_column_text(s, 3), &r->forward, &r->n_forward);
	r->keep_copy = db_column_int(s, 4) != 0;
	r->enabled = db_column_int(s, 5) != 0;
	r->vacation = db_column_int(s, 6) != 0;
	for (int i = 0; i < STORE_LIMIT_COUNT; i++) {
		int64_t own = db_column_int64(s, 7 + 2 * i);
		r->limits.v[i] = own >= 0 ? own : db_column_int64(s, 8 + 2 * i);
	}
	store_idle(st);
	return STORE_OK;
}

void store_mailbox_info_clear(struct store_mailbox_info *r)
{
	free(r->address);
	for (size_t i = 0; i < r->n_forward; i++)
		free(r->forward[i]);
	free(r->forward);
	memset(r, 0, sizeof(*r));
}

/* The primary address, the aliases whose only target it is, and each of
   those in every domain alias of its domain. */
int store_mailbox_addresses(struct store *st, int64_t id, char ***addrs_r, size_t *n_r)
{
	struct db_stmt *s = store_stmt(
	    st, "WITH own(a) AS (SELECT address FROM mailboxes WHERE id = ?1 UNION "
		"SELECT address FROM aliases WHERE target = (SELECT address FROM mailboxes WHERE "
		"id = ?1) AND address IN (SELECT address FROM aliases GROUP BY address HAVING "
		"count(*) = 1)) "
		"SELECT a FROM own UNION SELECT substr(a, 1, instr(a, '@')) || d.name FROM own, "
		"domains d WHERE instr(a, '@') > 0 AND d.alias_of = (SELECT id FROM domains WHERE "
		"name = substr(a, instr(a, '@') + 1))");
	size_t cap = 0;
	int rc;

	*addrs_r = NULL;
	*n_r = 0;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, id);
	while ((rc = db_step(s)) == DB_ROW) {
		if (*n_r == cap) {
			cap = cap > 0 ? cap * 2 : 4;
			*addrs_r = xrealloc(*addrs_r, cap * sizeof(char *));
		}
		(*addrs_r)[(*n_r)++] = col_dup(s, 0);
	}
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "mailbox addresses");
	store_idle(st);
	if (r == STORE_OK && *n_r == 0)
		r = STORE_NOTFOUND;
	return r;
}
