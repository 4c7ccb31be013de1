/* SPDX-License-Identifier: MIT */
/*
 * store_forward.c - where a mailbox forwards its mail (store.h
 * "forwarding"): the mailboxes.forward and keep_copy columns of schema 8.
 *
 * forward holds the targets as the store keeps addresses (lower-cased,
 * store_norm_address), joined with commas, NULL for none: a valid address
 * holds no comma, so the list comes apart again. Targets are checked as
 * alias targets are: one in an authoritative hosted domain must be a
 * mailbox, alias or list there (or a list's owner- address, or that
 * domain's postmaster), because mail to it would be refused as unknown. A mailbox may not forward
 * to itself (its own address, or an alias or domain alias that leads to it alone): such a forward
 * could only bounce around. Longer loops (A to B to A) are allowed here; delivery ends them where
 * they close.
 */
#include "store/store_private.h"
#include "util/buf.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_postmaster(const char *address)
{
	return strcasecmp(address, STORE_POSTMASTER) == 0;
}

static int exists(struct store *st, const char *sql, const char *a, bool *yes_r)
{
	struct db_stmt *s = store_stmt(st, sql);
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, a, -1);
	int rc = db_step(s);
	if (rc != DB_ROW)
		return store_fail(st, rc, "forward target lookup");
	*yes_r = db_column_int(s, 0) != 0;
	db_reset(s);
	return STORE_OK;
}

/* Whether target t (normalised) may receive mail, and whether it is the
   mailbox `self` (primary address `own`) itself. */
static int target_check(struct store *st, const char *t, int64_t self, const char *own)
{
	if (strcmp(t, own) == 0) {
		snprintf(st->err, sizeof(st->err), "%.200s cannot forward to its own address", own);
		return STORE_INVALID;
	}
	if (is_postmaster(t))
		return STORE_OK;
	struct store_domain d = {0};
	int r = store_domain_get(st, store_addr_domain(t), &d);
	if (r == STORE_NOTFOUND)
		return STORE_OK; /* elsewhere: forwarded by SMTP */
	if (r != STORE_OK)
		return r;
	size_t local_len = (size_t)(store_addr_domain(t) - t - 1);
	char *here =
	    d.alias_of == NULL ? xstrdup(t) : xasprintf("%.*s@%s", (int)local_len, t, d.alias_of);
	bool found = true;
	if (d.type == DOMAIN_AUTHORITATIVE &&
	    !(local_len == 10 && strncmp(t, "postmaster", 10) == 0))
		r = exists(st,
			   "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE address = ?1) OR EXISTS "
			   "(SELECT 1 FROM aliases WHERE address = ?1) OR EXISTS (SELECT 1 FROM "
			   "lists WHERE address = ?1 OR 'owner-' || address = ?1)",
			   here, &found);
	store_domain_clear(&d);
	if (r == STORE_OK && !found) {
		snprintf(st->err, sizeof(st->err),
			 "forward target %.200s does not exist: add that mailbox, alias or list "
			 "first",
			 t);
		r = STORE_NOTFOUND;
	}
	/* an alias or domain alias of the mailbox alone */
	int64_t *ids = NULL;
	size_t n = 0;
	if (r == STORE_OK && store_resolve(st, here, &ids, &n) == STORE_OK && n == 1 &&
	    ids[0] == self) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s leads back to %.200s: it cannot forward there", t, own);
		r = STORE_INVALID;
	}
	free(ids);
	free(here);
	return r;
}

/* The mailbox's id and primary address (malloc'd), by its primary address. */
static int mailbox_get(struct store *st, const char *address, int64_t *id_r, char **own_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT id, address FROM mailboxes WHERE address = "
					   "lower(?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, address, -1);
	int rc = db_step(s);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "mailbox %.200s does not exist", address);
		return STORE_NOTFOUND;
	}
	if (rc != DB_ROW)
		return store_fail(st, rc, "forward");
	*id_r = db_column_int64(s, 0);
	*own_r = xstrdup(db_column_text(s, 1));
	db_reset(s);
	return STORE_OK;
}

/* The targets normalised and without repeats into norm[0..*k_r). */
static int targets_norm(struct store *st, const char *const *targets, size_t n, char **norm,
			size_t *k_r)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char *t = is_postmaster(targets[i]) ? xstrdup(STORE_POSTMASTER)
						    : store_norm_address(targets[i]);
		if (t == NULL) {
			snprintf(st->err, sizeof(st->err), "'%.200s' is not a valid forward target",
				 targets[i]);
			*k_r = k;
			return STORE_INVALID;
		}
		bool dup = false;
		for (size_t j = 0; j < k && !dup; j++)
			dup = strcmp(norm[j], t) == 0;
		if (dup)
			free(t);
		else
			norm[k++] = t;
	}
	*k_r = k;
	return STORE_OK;
}

int store_user_set_forward(struct store *st, const char *address, const char *const *targets,
			   size_t n, int keep_copy)
{
	char *norm[STORE_FORWARD_MAX], *own = NULL;
	struct buf joined = {0};
	size_t k = 0;
	int64_t id = 0;
	int r;

	if (n > STORE_FORWARD_MAX) {
		snprintf(st->err, sizeof(st->err), "%zu forward targets: at most %d", n,
			 STORE_FORWARD_MAX);
		return STORE_INVALID;
	}
	if (keep_copy < -1 || keep_copy > 1) {
		snprintf(st->err, sizeof(st->err), "keep_copy %d: 1, 0 or -1", keep_copy);
		return STORE_INVALID;
	}
	if ((r = targets_norm(st, targets, n, norm, &k)) == STORE_OK)
		r = store_begin(st);
	if (r == STORE_OK) {
		r = mailbox_get(st, address, &id, &own);
		for (size_t i = 0; i < k && r == STORE_OK; i++) {
			r = target_check(st, norm[i], id, own);
			if (i > 0)
				buf_append_c(&joined, ',');
			buf_append_str(&joined, norm[i]);
		}
		struct db_stmt *s = NULL;
		if (r == STORE_OK &&
		    (s = store_stmt(st, "UPDATE mailboxes SET forward = ?2, keep_copy = CASE WHEN "
					"?3 >= 0 THEN ?3 WHEN forward IS NULL THEN 1 ELSE "
					"keep_copy END WHERE id = ?1")) == NULL)
			r = STORE_TEMP;
		if (r == STORE_OK) {
			db_bind_int64(s, 1, id);
			/* no target: NULL, forwarding nowhere */
			db_bind_text_copy(s, 2, joined.data, (int)joined.len);
			db_bind_int64(s, 3, keep_copy);
			int rc = db_step(s);
			if (rc != DB_DONE)
				r = store_fail(st, rc, "forward");
		}
		if (r == STORE_OK)
			r = store_commit(st);
		else
			store_rollback(st);
	}
	for (size_t i = 0; i < k; i++)
		free(norm[i]);
	free(own);
	buf_free(&joined);
	return r;
}

int store_user_set_keep_copy(struct store *st, const char *address, bool keep_copy)
{
	struct db_stmt *s = store_stmt(st, "UPDATE mailboxes SET keep_copy = ?2 WHERE address = "
					   "lower(?1) AND forward IS NOT NULL");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, address, -1);
	db_bind_int64(s, 2, keep_copy);
	int rc = db_step(s);
	if (rc != DB_DONE)
		return store_fail(st, rc, "keep copy");
	if (db_changes(st) > 0)
		return STORE_OK;
	int64_t id;
	char *own = NULL;
	int r = mailbox_get(st, address, &id, &own);
	if (r == STORE_OK) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s forwards nowhere: a copy is kept only of forwarded mail", own);
		r = STORE_INVALID;
	}
	free(own);
	return r;
}
