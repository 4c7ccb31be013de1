/* SPDX-License-Identifier: MIT */
/*
 * store_dkim.c - DKIM signing keys per hosted domain (store.h "DKIM signing
 * keys"): what `mailroom dkim` manages and the delivery threads sign with.
 * Every change bumps dkim_changes.n in its own transaction, so a reader
 * that cached the keys sees that it must read them again.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[] = {"active", "retiring"};

const char *store_dkim_state_name(enum store_dkim_state s)
{
	return (unsigned)s < N_ELEMENTS(state_names) ? state_names[s] : "?";
}

static enum store_dkim_state state_parse(const char *s)
{
	return s != NULL && strcmp(s, "retiring") == 0 ? STORE_DKIM_RETIRING : STORE_DKIM_ACTIVE;
}

int store_dkim_selector_valid(const char *sel)
{
	size_t n = strlen(sel), label = 0;
	if (n == 0 || n > 63)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)sel[i];
		if (c == '.') {
			if (label == 0 || sel[i - 1] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (!isalnum(c) && !(c == '-' && label > 0))
			return -1;
		label++;
	}
	return label > 0 && sel[n - 1] != '-' ? 0 : -1;
}

static int bump(struct store *st)
{
	return store_exec(st, "UPDATE dkim_changes SET n = n + 1");
}

/* The hosted domain (lower case) a key may belong to, in *d_r. */
static int key_domain(struct store *st, const char *domain, char **d_r)
{
	char *d = store_norm_domain(domain);
	if (d == NULL) {
		snprintf(st->err, sizeof(st->err), "'%.200s' is not a valid domain name", domain);
		return STORE_INVALID;
	}
	struct db_stmt *s = store_stmt(st, "SELECT alias_of FROM domains WHERE name = ?1");
	if (s == NULL) {
		free(d);
		return STORE_TEMP;
	}
	db_bind_text(s, 1, d, -1);
	int rc = db_step(s), r = STORE_OK;
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s is not a hosted domain (domain list shows them)", d);
		r = STORE_NOTFOUND;
	} else if (rc != DB_ROW) {
		r = store_fail(st, rc, "domain lookup");
	} else if (!db_column_null(s, 0)) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s is a domain alias: its mail is signed for the domain it stands "
			 "for, give that one",
			 d);
		r = STORE_INVALID;
	}
	db_reset(s);
	if (r != STORE_OK) {
		free(d);
		return r;
	}
	*d_r = d;
	return STORE_OK;
}

static int check_key(struct store *st, const struct store_dkim_key *k)
{
	if (store_dkim_selector_valid(k->selector) < 0) {
		snprintf(st->err, sizeof(st->err),
			 "'%.100s' is not a selector: 1 to 63 letters, digits and '-', labels "
			 "separated by '.'",
			 k->selector);
		return STORE_INVALID;
	}
	if (strcmp(k->algorithm, "rsa") != 0 && strcmp(k->algorithm, "ed25519") != 0) {
		snprintf(st->err, sizeof(st->err), "'%.100s' is no algorithm: rsa or ed25519",
			 k->algorithm);
		return STORE_INVALID;
	}
	if (k->private_pem == NULL || k->private_pem[0] == '\0') {
		snprintf(st->err, sizeof(st->err), "a key needs its private key");
		return STORE_INVALID;
	}
	return STORE_OK;
}

/* The selector of the domain's active key of alg, or NULL (*sel_r). */
static int active_of(struct store *st, const char *d, const char *alg, char **sel_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT selector FROM dkim_keys WHERE domain = ?1 AND "
					   "algorithm = ?2 AND state = 'active' ORDER BY id DESC");
	*sel_r = NULL;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, d, -1);
	db_bind_text(s, 2, alg, -1);
	int rc = db_step(s);
	if (rc == DB_ROW)
		*sel_r = xstrdup(db_column_text(s, 0));
	db_reset(s);
	return rc == DB_ROW || rc == DB_DONE ? STORE_OK : store_fail(st, rc, "dkim lookup");
}

static int insert(struct store *st, const char *d, const struct store_dkim_key *k)
{
	struct db_stmt *s = store_stmt(st, "INSERT INTO dkim_keys (domain, selector, algorithm, "
					   "bits, private_key, state, created) VALUES (?1, "
					   "lower(?2), ?3, ?4, ?5, ?6, ?7)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, d, -1);
	db_bind_text(s, 2, k->selector, -1);
	db_bind_text(s, 3, k->algorithm, -1);
	db_bind_int64(s, 4, (int64_t)k->bits);
	db_bind_text(s, 5, k->private_pem, -1);
	db_bind_text(s, 6, store_dkim_state_name(k->state), -1);
	db_bind_int64(s, 7, k->created != 0 ? k->created : (int64_t)time(NULL));
	int rc = db_step(s);
	if (rc == DB_DONE)
		return STORE_OK;
	int r = store_fail(st, rc, "dkim key insert");
	db_reset(s);
	if (r == STORE_EXISTS) /* the unique (domain, selector) */
		snprintf(st->err, sizeof(st->err),
			 "%.200s already has a key with selector %.100s (dkim list shows them)", d,
			 k->selector);
	return r;
}

static int set_state(struct store *st, const char *domain, const char *selector,
		     enum store_dkim_state state)
{
	struct db_stmt *s = store_stmt(st, "UPDATE dkim_keys SET state = ?3 WHERE domain = "
					   "lower(?1) AND selector = lower(?2)");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, domain, -1);
	db_bind_text(s, 2, selector, -1);
	db_bind_text(s, 3, store_dkim_state_name(state), -1);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "dkim state");
	if (db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "%.200s has no key with selector %.100s", domain,
			 selector);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

/* add (old_r NULL) or rotate (old_r set) */
static int add_or_rotate(struct store *st, const struct store_dkim_key *k, bool rotate,
			 char **old_r)
{
	char *d = NULL, *old = NULL;
	int r = check_key(st, k);

	if (r != STORE_OK)
		return r;
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = key_domain(st, k->domain, &d)) != STORE_OK)
		goto fail;
	if (k->state == STORE_DKIM_ACTIVE || rotate)
		if ((r = active_of(st, d, k->algorithm, &old)) != STORE_OK)
			goto fail;
	if (!rotate && old != NULL && k->state == STORE_DKIM_ACTIVE) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s already has an active %s key (selector %.100s): rotate it "
			 "instead (dkim rotate %.200s)",
			 d, k->algorithm, old, d);
		r = STORE_EXISTS;
		goto fail;
	}
	if (rotate && old == NULL) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s has no active %s key to rotate (dkim generate makes one)", d,
			 k->algorithm);
		r = STORE_NOTFOUND;
		goto fail;
	}
	if (rotate) {
		struct store_dkim_key nk = *k;
		nk.state = STORE_DKIM_ACTIVE;
		if ((r = set_state(st, d, old, STORE_DKIM_RETIRING)) != STORE_OK ||
		    (r = insert(st, d, &nk)) != STORE_OK)
			goto fail;
	} else if ((r = insert(st, d, k)) != STORE_OK) {
		goto fail;
	}
	if ((r = bump(st)) != STORE_OK || (r = store_commit(st)) != STORE_OK)
		goto fail_done;
	free(d);
	if (old_r != NULL)
		*old_r = old;
	else
		free(old);
	return STORE_OK;
fail:
	store_rollback(st);
fail_done:
	free(d);
	free(old);
	return r;
}

int store_dkim_add(struct store *st, const struct store_dkim_key *k)
{
	return add_or_rotate(st, k, false, NULL);
}

int store_dkim_rotate(struct store *st, const struct store_dkim_key *k, char **old_r)
{
	return add_or_rotate(st, k, true, old_r);
}

int store_dkim_set_state(struct store *st, const char *domain, const char *selector,
			 enum store_dkim_state state)
{
	int r = store_begin(st);
	if (r != STORE_OK)
		return r;
	if ((r = set_state(st, domain, selector, state)) != STORE_OK ||
	    (r = bump(st)) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

int store_dkim_remove(struct store *st, const char *domain, const char *selector)
{
	struct db_stmt *s = store_stmt(st, "DELETE FROM dkim_keys WHERE domain = lower(?1) AND "
					   "(?2 IS NULL OR selector = lower(?2))");
	int rc, r;
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if (s == NULL) {
		store_rollback(st);
		return STORE_TEMP;
	}
	db_bind_text(s, 1, domain, -1);
	db_bind_text(s, 2, selector, -1);
	if ((rc = db_step(s)) != DB_DONE) {
		r = store_fail(st, rc, "dkim remove");
		store_rollback(st);
		return r;
	}
	if (db_changes(st) == 0) {
		store_rollback(st);
		if (selector != NULL)
			snprintf(st->err, sizeof(st->err),
				 "%.200s has no key with selector %.100s (dkim list shows them)",
				 domain, selector);
		else
			snprintf(st->err, sizeof(st->err), "%.200s has no DKIM keys", domain);
		return STORE_NOTFOUND;
	}
	if ((r = bump(st)) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

void store_dkim_key_clear(struct store_dkim_key *k)
{
	free(k->domain);
	free(k->selector);
	free(k->algorithm);
	secret_free(&k->private_pem);
	memset(k, 0, sizeof(*k));
}

int store_dkim_list(struct store *st, const char *domain, store_dkim_cb *cb, void *ctx)
{
	struct db_stmt *s =
	    store_stmt(st, "SELECT domain, selector, algorithm, bits, private_key, "
			   "state, created FROM dkim_keys WHERE ?1 IS NULL OR "
			   "domain = lower(?1) ORDER BY domain, state = 'retiring', "
			   "id DESC");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, domain, -1);
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_dkim_key k = {
		    .domain = xstrdup(db_column_text(s, 0)),
		    .selector = xstrdup(db_column_text(s, 1)),
		    .algorithm = xstrdup(db_column_text(s, 2)),
		    .bits = (unsigned)db_column_int64(s, 3),
		    .private_pem = xstrdup(db_column_text(s, 4)),
		    .state = state_parse(db_column_text(s, 5)),
		    .created = db_column_int64(s, 6),
		};
		cb(&k, ctx);
		store_dkim_key_clear(&k);
	}
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "dkim list");
	store_idle(st);
	return r;
}

int store_dkim_changes(struct store *st, int64_t *n_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT n FROM dkim_changes");
	if (s == NULL)
		return STORE_TEMP;
	int rc = db_step(s), r = STORE_OK;
	if (rc == DB_ROW)
		*n_r = db_column_int64(s, 0);
	else
		r = rc == DB_DONE ? (*n_r = 0, STORE_OK) : store_fail(st, rc, "dkim changes");
	store_idle(st);
	return r;
}
