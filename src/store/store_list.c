/* SPDX-License-Identifier: MIT */
/*
 * store_list.c - distribution lists (SPEC §4): an address in a hosted domain
 * that stands for its members (mailboxes, aliases, remote addresses, other
 * lists), with a rule about who may send to it and an owner who gets the
 * bounces of its copies.
 *
 * A list shares the one name space of mailboxes and aliases
 * (store_directory.c): an address is a mailbox, an alias or a list, never
 * two of them. Every list also holds its bounce address owner-LOCAL@DOMAIN
 * (the envelope sender of its copies), so that address can be neither a
 * mailbox nor an alias nor another list. Members, named senders and owners
 * are kept by address, normalised as everywhere in the store; expanding the
 * members, nested lists and loops included, is the delivery path's work.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Members and named senders per list. Delivery expands an address to at
   most 10,000 recipients; a list with more members of its own could never
   be delivered whole. */
#define LIST_ENTRIES_MAX 10000
#define BOUNCE_PREFIX "owner-"

static const char *const senders_names[] = {"anyone", "members", "authenticated", "named"};

const char *store_list_senders_name(enum store_list_senders s)
{
	return (unsigned)s < N_ELEMENTS(senders_names) ? senders_names[s] : "?";
}

int store_list_senders_parse(const char *s, enum store_list_senders *r)
{
	for (size_t i = 0; i < N_ELEMENTS(senders_names); i++)
		if (strcmp(s, senders_names[i]) == 0) {
			*r = (enum store_list_senders)i;
			return 0;
		}
	return -1;
}

static int step_done(struct store *st, struct db_stmt *s, const char *what)
{
	if (s == NULL)
		return STORE_TEMP;
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, what);
}

/* A member or owner as the store keeps it: the built-in postmaster's bare
   name, or a normalised address; NULL if neither. */
static char *norm_member(const char *address)
{
	return strcasecmp(address, STORE_POSTMASTER) == 0 ? xstrdup(STORE_POSTMASTER)
							  : store_norm_address(address);
}

/* The normalised address of a list, or NULL with the reason in st->err. */
static char *norm_list(struct store *st, const char *address)
{
	char *a = store_norm_address(address);
	if (a == NULL)
		snprintf(st->err, sizeof(st->err), "'%.200s' is not a valid list address", address);
	return a;
}

int store_list_holds(struct store *st, const char *a, bool *held_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT EXISTS (SELECT 1 FROM lists WHERE address = ?1 "
					   "OR '" BOUNCE_PREFIX "' || address = ?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, a, -1);
	int rc = db_step(s);
	if (rc != DB_ROW)
		return store_fail(st, rc, "list lookup");
	*held_r = db_column_int(s, 0) != 0;
	db_reset(s);
	return STORE_OK;
}

/* Is the normalised address a mailbox, an alias, a list or a list's bounce
   address? */
static int address_taken(struct store *st, const char *a, bool *taken_r)
{
	int r = store_address_used(st, a, taken_r);
	return r != STORE_OK || *taken_r ? r : store_list_holds(st, a, taken_r);
}

/* The id of the list with this normalised address, 0 if none (st->err says
   so), -1 on error. */
static int64_t list_id(struct store *st, const char *a)
{
	struct db_stmt *s = store_stmt(st, "SELECT id FROM lists WHERE address = ?1");
	if (s == NULL)
		return -1;
	db_bind_text(s, 1, a, -1);
	int rc = db_step(s);
	int64_t id = rc == DB_ROW ? db_column_int64(s, 0) : 0;
	db_reset(s);
	if (rc == DB_DONE)
		snprintf(st->err, sizeof(st->err), "no list %.200s (list list shows them)", a);
	else if (rc != DB_ROW) {
		store_fail(st, rc, "list lookup");
		return -1;
	}
	return id;
}

/* The owner as stored: NULL for the built-in postmaster; checks that it
   exists and is not the list itself or its bounce address (its bounces
   would come back to it). */
static int owner_check(struct store *st, const char *list, const char *owner, char **owner_r)
{
	*owner_r = NULL;
	if (owner == NULL)
		return STORE_OK;
	char *o = norm_member(owner);
	if (o == NULL) {
		snprintf(st->err, sizeof(st->err), "owner '%.200s' is not a valid address", owner);
		return STORE_INVALID;
	}
	if (strcmp(o, STORE_POSTMASTER) == 0) {
		free(o);
		return STORE_OK;
	}
	size_t pl = strlen(BOUNCE_PREFIX);
	if (strcmp(o, list) == 0 ||
	    (strncmp(o, BOUNCE_PREFIX, pl) == 0 && strcmp(o + pl, list) == 0)) {
		snprintf(st->err, sizeof(st->err),
			 "list %.200s cannot own itself: its bounces would come back to it; name a "
			 "mailbox",
			 list);
		free(o);
		return STORE_INVALID;
	}
	int r = store_target_exists(st, o, "owner", true);
	if (r != STORE_OK) {
		free(o);
		return r;
	}
	*owner_r = o;
	return STORE_OK;
}

static int senders_check(struct store *st, enum store_list_senders senders)
{
	if ((unsigned)senders < N_ELEMENTS(senders_names))
		return STORE_OK;
	snprintf(st->err, sizeof(st->err),
		 "unknown sender rule %d: use anyone, members, authenticated or named",
		 (int)senders);
	return STORE_INVALID;
}

/* The checks of a new list's address: a hosted domain that is no alias,
   the address and its bounce address both free. */
static int list_address_check(struct store *st, const char *a, int64_t *dom_r)
{
	const char *domain = store_addr_domain(a);
	struct store_domain d = {0};
	int r = store_domain_get(st, domain, &d);
	if (r == STORE_NOTFOUND || (r == STORE_OK && d.alias_of != NULL)) {
		if (r == STORE_OK)
			snprintf(st->err, sizeof(st->err),
				 "domain %.200s is an alias of %.200s: add the list in %.200s",
				 domain, d.alias_of, d.alias_of);
		else
			snprintf(st->err, sizeof(st->err),
				 "domain %.200s does not exist: a list lives in a hosted domain "
				 "(domain add)",
				 domain);
		store_domain_clear(&d);
		return STORE_NOTFOUND;
	}
	store_domain_clear(&d);
	if (r != STORE_OK)
		return r;
	if ((*dom_r = store_domain_id(st, domain)) <= 0)
		return STORE_TEMP;
	bool taken = false;
	if ((r = address_taken(st, a, &taken)) != STORE_OK)
		return r;
	if (taken) {
		snprintf(
		    st->err, sizeof(st->err),
		    "address %.200s is in use already (user list, alias list and list list show "
		    "them)",
		    a);
		return STORE_EXISTS;
	}
	char *bounce = xasprintf(BOUNCE_PREFIX "%s", a), *b = store_norm_address(bounce);
	if (b == NULL) {
		snprintf(
		    st->err, sizeof(st->err),
		    "the local part of %.200s is too long for its bounce address " BOUNCE_PREFIX
		    "%.200s (at most 64 characters)",
		    a, a);
		r = STORE_INVALID;
	} else if ((r = address_taken(st, b, &taken)) == STORE_OK && taken) {
		snprintf(
		    st->err, sizeof(st->err),
		    "%.200s, the bounce address of list %.200s, is in use already by a mailbox, "
		    "alias or list",
		    b, a);
		r = STORE_EXISTS;
	}
	free(bounce);
	free(b);
	return r;
}

/* list add (a new list) and list set (an existing one): the same checks
   of the rule and the owner, then one write. */
static int list_write(struct store *st, const char *address, enum store_list_senders senders,
		      const char *owner, bool add)
{
	char *a = norm_list(st, address), *o = NULL;
	int64_t id = 0, dom = 0;
	int r;

	if (a == NULL)
		return STORE_INVALID;
	if ((r = senders_check(st, senders)) != STORE_OK || (r = store_begin(st)) != STORE_OK) {
		free(a);
		return r;
	}
	if (add)
		r = list_address_check(st, a, &dom);
	else if ((id = list_id(st, a)) <= 0)
		r = id == 0 ? STORE_NOTFOUND : STORE_TEMP;
	if (r != STORE_OK || (r = owner_check(st, a, owner, &o)) != STORE_OK)
		goto fail;
	struct db_stmt *s = store_stmt(st, add ? "INSERT INTO lists (address, domain_id, senders, "
						 "owner, created) VALUES (?1, ?2, ?3, ?4, ?5)"
					       : "UPDATE lists SET senders = ?3, owner = ?4 WHERE "
						 "id = ?6");
	if (s != NULL) {
		db_bind_text(s, 1, a, -1);
		db_bind_int64(s, 2, dom);
		db_bind_int64(s, 3, (int)senders);
		db_bind_text(s, 4, o, -1);
		db_bind_int64(s, 5, (int64_t)time(NULL));
		db_bind_int64(s, 6, id);
	}
	if ((r = step_done(st, s, add ? "list add" : "list set")) != STORE_OK)
		goto fail;
	free(a);
	free(o);
	return store_commit(st);
fail:
	store_rollback(st);
	free(a);
	free(o);
	return r;
}

int store_list_add(struct store *st, const char *address, enum store_list_senders senders,
		   const char *owner)
{
	return list_write(st, address, senders, owner, true);
}

int store_list_set(struct store *st, const char *address, enum store_list_senders senders,
		   const char *owner)
{
	return list_write(st, address, senders, owner, false);
}

int store_list_remove(struct store *st, const char *address)
{
	char *a = norm_list(st, address);
	int r;

	if (a == NULL)
		return STORE_INVALID;
	if ((r = store_begin(st)) != STORE_OK) {
		free(a);
		return r;
	}
	int64_t id = list_id(st, a);
	if (id <= 0) {
		store_rollback(st);
		free(a);
		return id == 0 ? STORE_NOTFOUND : STORE_TEMP;
	}
	/* other lists lose it as a member, as aliases go with their mailbox (a
	   member left behind would name an address that no longer exists), and
	   lists it owned bounce to the postmaster */
	static const char *const steps[] = {
	    "DELETE FROM list_members WHERE list_id = ?1 OR member = (SELECT address FROM lists "
	    "WHERE id = ?1)",
	    "DELETE FROM list_senders WHERE list_id = ?1",
	    "UPDATE lists SET owner = NULL WHERE owner = (SELECT address FROM lists WHERE id = "
	    "?1)",
	    "DELETE FROM lists WHERE id = ?1",
	};
	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct db_stmt *s = store_stmt(st, steps[i]);
		if (s != NULL)
			db_bind_int64(s, 1, id);
		if ((r = step_done(st, s, "list remove")) != STORE_OK) {
			store_rollback(st);
			free(a);
			return r;
		}
	}
	free(a);
	return store_commit(st);
}

/* --- members and named senders ------------------------------------------------- */

/* One entry table of a list: its members or its named senders. */
struct entries {
	const char *insert, *delete, *count;
	const char *role; /* "member", "sender": for the texts */
	bool members;	  /* members must exist when local; senders need not */
};

static const struct entries members_tab = {
    .insert = "INSERT INTO list_members (list_id, member) VALUES (?1, ?2)",
    .delete = "DELETE FROM list_members WHERE list_id = ?1 AND member = ?2",
    .count = "SELECT count(*) FROM list_members WHERE list_id = ?1",
    .role = "member",
    .members = true,
};
static const struct entries senders_tab = {
    .insert = "INSERT INTO list_senders (list_id, sender) VALUES (?1, ?2)",
    .delete = "DELETE FROM list_senders WHERE list_id = ?1 AND sender = ?2",
    .count = "SELECT count(*) FROM list_senders WHERE list_id = ?1",
    .role = "sender",
};

static int entry_change(struct store *st, const struct entries *t, const char *list,
			const char *entry, bool add)
{
	char *a = norm_list(st, list);
	char *e = a == NULL ? NULL : t->members ? norm_member(entry) : store_norm_address(entry);
	int r = STORE_INVALID;

	if (a == NULL)
		return STORE_INVALID;
	if (e == NULL) {
		snprintf(st->err, sizeof(st->err), "%s '%.200s' is not a valid address", t->role,
			 entry);
		goto out;
	}
	if ((r = store_begin(st)) != STORE_OK)
		goto out;
	int64_t id = list_id(st, a);
	if (id <= 0) {
		r = id == 0 ? STORE_NOTFOUND : STORE_TEMP;
		goto fail;
	}
	struct db_stmt *s;
	if (add) {
		/* a list may name itself: delivery gives each member one copy */
		if (t->members && strcmp(e, a) != 0 &&
		    (r = store_target_exists(st, e, "member", true)) != 0)
			goto fail;
		if ((s = store_stmt(st, t->count)) == NULL) {
			r = STORE_TEMP;
			goto fail;
		}
		db_bind_int64(s, 1, id);
		int rc = db_step(s);
		if (rc != DB_ROW) {
			r = store_fail(st, rc, "list count");
			goto fail;
		}
		if (db_column_int64(s, 0) >= LIST_ENTRIES_MAX) {
			snprintf(st->err, sizeof(st->err),
				 "list %.200s has %d %ss already, the most a list can have; nest "
				 "lists as members instead",
				 a, LIST_ENTRIES_MAX, t->role);
			r = STORE_INVALID;
			goto fail;
		}
		db_reset(s);
	}
	if ((s = store_stmt(st, add ? t->insert : t->delete)) != NULL) {
		db_bind_int64(s, 1, id);
		db_bind_text(s, 2, e, -1);
	}
	if ((r = step_done(st, s, add ? "list add entry" : "list remove entry")) != STORE_OK) {
		if (r == STORE_EXISTS)
			snprintf(st->err, sizeof(st->err), "%.200s is a %s of list %.200s already",
				 e, t->role, a);
		goto fail;
	}
	if (!add && db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err),
			 "%.200s is no %s of list %.200s (list show %.200s lists them)", e, t->role,
			 a, a);
		r = STORE_NOTFOUND;
		goto fail;
	}
	r = store_commit(st);
	goto out;
fail:
	store_rollback(st);
out:
	free(a);
	free(e);
	return r;
}

int store_list_member_add(struct store *st, const char *list, const char *member)
{
	return entry_change(st, &members_tab, list, member, true);
}

int store_list_member_remove(struct store *st, const char *list, const char *member)
{
	return entry_change(st, &members_tab, list, member, false);
}

int store_list_sender_add(struct store *st, const char *list, const char *sender)
{
	return entry_change(st, &senders_tab, list, sender, true);
}

int store_list_sender_remove(struct store *st, const char *list, const char *sender)
{
	return entry_change(st, &senders_tab, list, sender, false);
}

/* --- reading -------------------------------------------------------------------- */

/* The rows of one statement's first column, bound to the list id. */
static int list_column(struct store *st, const char *sql, int64_t id, char ***v_r, size_t *n_r)
{
	struct db_stmt *s = store_stmt(st, sql);
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, id);
	while ((rc = db_step(s)) == DB_ROW) {
		*v_r = xrealloc(*v_r, (*n_r + 1) * sizeof(char *));
		(*v_r)[(*n_r)++] = xstrdup(db_column_text(s, 0));
	}
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "list read");
}

static int list_load(struct store *st, int64_t id, struct store_list *l)
{
	struct db_stmt *s =
	    store_stmt(st, "SELECT address, senders, owner FROM lists WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, id);
	int rc = db_step(s);
	if (rc == DB_DONE)
		return STORE_NOTFOUND; /* removed meanwhile */
	if (rc != DB_ROW)
		return store_fail(st, rc, "list read");
	const char *owner = db_column_text(s, 2);
	l->id = id;
	l->address = xstrdup(db_column_text(s, 0));
	l->senders = (enum store_list_senders)db_column_int(s, 1);
	l->owner = owner != NULL ? xstrdup((const char *)owner) : NULL;
	db_reset(s);
	int r =
	    list_column(st, "SELECT member FROM list_members WHERE list_id = ?1 ORDER BY member",
			id, &l->members, &l->n_members);
	if (r == STORE_OK)
		r = list_column(
		    st, "SELECT sender FROM list_senders WHERE list_id = ?1 ORDER BY sender", id,
		    &l->named, &l->n_named);
	if (r != STORE_OK)
		store_list_clear(l);
	return r;
}

int store_list_get(struct store *st, const char *address, struct store_list *l_r)
{
	char *a = norm_list(st, address);
	memset(l_r, 0, sizeof(*l_r));
	if (a == NULL)
		return STORE_INVALID;
	int64_t id = list_id(st, a);
	struct store_domain d = {0};
	if (id == 0 && store_domain_get(st, store_addr_domain(a), &d) == STORE_OK &&
	    d.alias_of != NULL) { /* local@alias.domain is local@target */
		char *b = xasprintf("%.*s@%s", (int)(store_addr_domain(a) - a - 1), a, d.alias_of);
		id = list_id(st, b);
		free(b);
	}
	store_domain_clear(&d);
	int r = id > 0 ? list_load(st, id, l_r) : id == 0 ? STORE_NOTFOUND : STORE_TEMP;
	if (r == STORE_NOTFOUND) /* the text names what was asked for */
		snprintf(st->err, sizeof(st->err), "no list %.200s (list list shows them)", a);
	free(a);
	store_idle(st);
	return r;
}

int store_list_list(struct store *st, store_list_cb *cb, void *ctx)
{
	/* the ids first: the callback runs with no statement open */
	struct db_stmt *s = store_stmt(st, "SELECT id FROM lists ORDER BY address");
	int64_t *ids = NULL;
	size_t n = 0;
	int rc, r;
	if (s == NULL)
		return STORE_TEMP;
	while ((rc = db_step(s)) == DB_ROW) {
		ids = xrealloc(ids, (n + 1) * sizeof(int64_t));
		ids[n++] = db_column_int64(s, 0);
	}
	r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "list list");
	for (size_t i = 0; i < n && r == STORE_OK; i++) {
		struct store_list l = {0};
		r = list_load(st, ids[i], &l);
		store_idle(st);
		if (r == STORE_NOTFOUND) { /* removed since the ids were read */
			r = STORE_OK;
			continue;
		}
		if (r == STORE_OK)
			cb(&l, ctx);
		store_list_clear(&l);
	}
	free(ids);
	store_idle(st);
	return r;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void store_list_clear(struct store_list *l)
{
	free(l->address);
	free(l->owner);
	strv_free(l->members, l->n_members);
	strv_free(l->named, l->n_named);
	memset(l, 0, sizeof(*l));
}
