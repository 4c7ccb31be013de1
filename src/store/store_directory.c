/* SPDX-License-Identifier: MIT */
/*
 * store_directory.c - domains, mailboxes and aliases in the store, and the
 * resolution of a recipient address to local mailboxes.
 *
 * Addresses are kept lower-cased (local part included): mailroom treats
 * local parts as case-insensitive, as nearly every deployment expects.
 * Mailbox addresses and alias addresses share one name space: an address is
 * either a mailbox or an alias, never both. Alias targets outside the hosted
 * domains are kept (forwarding uses them later) but resolve to nothing here.
 */
#include "store/store_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ALIAS_DEPTH_MAX 8
#define RESOLVE_MAX 1000

static int resolve(struct store *st, const char *address, int64_t **ids_r, size_t *n_r);

static const char *const domain_type_names[] = {"authoritative", "internal-relay",
						"external-relay"};

const char *domain_type_name(enum domain_type t)
{
	return domain_type_names[t];
}

int domain_type_parse(const char *s, enum domain_type *t_r)
{
	for (size_t i = 0; i < N_ELEMENTS(domain_type_names); i++)
		if (strcmp(s, domain_type_names[i]) == 0) {
			*t_r = (enum domain_type)i;
			return 0;
		}
	return -1;
}

static int step_done(struct store *st, struct db_stmt *s, const char *what)
{
	int rc = db_step(s);
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, what);
}

static char *col_text(struct db_stmt *s, int i)
{
	const char *t = db_column_text(s, i);
	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/* --- domains ------------------------------------------------------------------ */

/* A domain mailroom can host: a valid name (store_norm_domain) with two
   labels at least and a last label that is not all digits (RFC 1123 §2.1:
   an IP address is no domain). Host names of next hops may be single
   labels; hosted domains may not, since mail from elsewhere never reaches
   them. Returns the lower-cased name or NULL with the reason in st->err. */
static char *hosted_domain(struct store *st, const char *name)
{
	char *d = store_norm_domain(name);
	if (d == NULL) {
		snprintf(st->err, sizeof(st->err),
			 "'%.200s' is not a valid domain name (letters, digits, '-', labels "
			 "separated by dots, as in example.org)",
			 name);
		return NULL;
	}
	const char *last = strrchr(d, '.');
	if (last == NULL) {
		snprintf(st->err, sizeof(st->err),
			 "'%.200s' has no dot: a hosted domain is a full name such as %.200s.org",
			 name, d);
		free(d);
		return NULL;
	}
	if (strspn(last + 1, "0123456789") == strlen(last + 1)) {
		snprintf(st->err, sizeof(st->err),
			 "'%.200s' ends in a number: an IP address is not a domain name", name);
		free(d);
		return NULL;
	}
	return d;
}

int store_domain_add(struct store *st, const char *name, enum domain_type type)
{
	char *d = hosted_domain(st, name);
	if (d == NULL)
		return STORE_INVALID;
	struct db_stmt *s = store_stmt(st, "INSERT INTO domains (name, type, created) "
					   "VALUES (?1, ?2, ?3)");
	int r = STORE_TEMP;
	if (s != NULL) {
		db_bind_text_copy(s, 1, d, -1);
		db_bind_int64(s, 2, (int)type);
		db_bind_int64(s, 3, (int64_t)time(NULL));
		r = step_done(st, s, "domain add");
		if (r == STORE_EXISTS)
			snprintf(st->err, sizeof(st->err), "domain %s exists already", d);
	}
	free(d);
	return r;
}

int store_domain_alias_add(struct store *st, const char *alias, const char *target)
{
	char *a = hosted_domain(st, alias), *t = a != NULL ? hosted_domain(st, target) : NULL;
	int r;

	if (a == NULL || t == NULL) {
		r = STORE_INVALID;
		goto out;
	}
	if (strcmp(a, t) == 0) {
		snprintf(st->err, sizeof(st->err), "a domain cannot be an alias of itself");
		r = STORE_INVALID;
		goto out;
	}
	if ((r = store_begin(st)) != STORE_OK)
		goto out;
	struct db_stmt *s = store_stmt(st, "SELECT id, alias_of IS NOT NULL FROM domains WHERE "
					   "name = ?1");
	if (s == NULL) {
		store_rollback(st);
		r = STORE_TEMP;
		goto out;
	}
	db_bind_text(s, 1, t, -1);
	int rc = db_step(s);
	int64_t tid = rc == DB_ROW ? db_column_int64(s, 0) : 0;
	bool target_is_alias = rc == DB_ROW && db_column_int(s, 1) != 0;
	db_reset(s);
	if (rc != DB_ROW || target_is_alias) {
		store_rollback(st);
		if (rc != DB_ROW && rc != DB_DONE) {
			r = store_fail(st, rc, "domain alias");
			goto out;
		}
		snprintf(st->err, sizeof(st->err),
			 target_is_alias
			     ? "domain %s is an alias itself; point at the domain it stands for"
			     : "domain %s does not exist",
			 t);
		r = target_is_alias ? STORE_INVALID : STORE_NOTFOUND;
		goto out;
	}
	s = store_stmt(st, "INSERT INTO domains (name, type, created, alias_of) SELECT ?1, "
			   "type, ?3, ?2 FROM domains WHERE id = ?2");
	if (s == NULL) {
		store_rollback(st);
		r = STORE_TEMP;
		goto out;
	}
	db_bind_text(s, 1, a, -1);
	db_bind_int64(s, 2, tid);
	db_bind_int64(s, 3, (int64_t)time(NULL));
	if ((r = step_done(st, s, "domain alias")) != STORE_OK) {
		if (r == STORE_EXISTS)
			snprintf(st->err, sizeof(st->err), "domain %s exists already", a);
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	free(a);
	free(t);
	return r;
}

int store_domain_remove(struct store *st, const char *name)
{
	char *d = store_norm_domain(name);
	int r;
	if (d == NULL) {
		snprintf(st->err, sizeof(st->err), "'%s' is not a valid domain name", name);
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK)
		goto out;
	int64_t id = store_domain_id(st, d);
	if (id <= 0) {
		store_rollback(st);
		r = id == 0 ? STORE_NOTFOUND : STORE_TEMP;
		if (id == 0)
			snprintf(st->err, sizeof(st->err), "domain %s does not exist", d);
		goto out;
	}
	struct db_stmt *s = store_stmt(st, "SELECT (SELECT count(*) FROM mailboxes WHERE "
					   "domain_id = ?1), (SELECT count(DISTINCT address) FROM "
					   "aliases WHERE domain_id = ?1), (SELECT count(*) FROM "
					   "domains WHERE alias_of = ?1), (SELECT count(*) FROM "
					   "lists WHERE domain_id = ?1)");
	if (s == NULL) {
		store_rollback(st);
		r = STORE_TEMP;
		goto out;
	}
	db_bind_int64(s, 1, id);
	int rc = db_step(s);
	if (rc != DB_ROW) {
		r = store_fail(st, rc, "domain remove");
		store_rollback(st);
		goto out;
	}
	long long boxes = db_column_int64(s, 0), aliases = db_column_int64(s, 1),
		  dom_aliases = db_column_int64(s, 2), lists_n = db_column_int64(s, 3);
	db_reset(s);
	if (boxes + aliases + dom_aliases + lists_n > 0) {
		const struct {
			long long n;
			const char *what, *plural, *list;
		} use[] = {{boxes, "mailbox", "es", "user list"},
			   {aliases, "alias", "es", "alias list"},
			   {dom_aliases, "domain alias", "es", "domain list"},
			   {lists_n, "distribution list", "s", "list list"}};
		char in_use[200] = "", lists[64] = "";
		for (size_t i = 0; i < N_ELEMENTS(use); i++) {
			if (use[i].n == 0)
				continue;
			size_t l = strlen(in_use), k = strlen(lists);
			snprintf(in_use + l, sizeof(in_use) - l, "%s%lld %s%s", l > 0 ? ", " : "",
				 use[i].n, use[i].what, use[i].n == 1 ? "" : use[i].plural);
			snprintf(lists + k, sizeof(lists) - k, "%s%s", k > 0 ? ", " : "",
				 use[i].list);
		}
		store_rollback(st);
		snprintf(st->err, sizeof(st->err),
			 "domain %s is in use by %s: remove them first (%s shows them)", d, in_use,
			 lists);
		r = STORE_EXISTS;
		goto out;
	}
	s = store_stmt(st, "DELETE FROM domains WHERE id = ?1");
	db_bind_int64(s, 1, id);
	if ((r = step_done(st, s, "domain remove")) != STORE_OK) {
		store_rollback(st);
		goto out;
	}
	r = store_commit(st);
out:
	free(d);
	return r;
}

static void domain_row(struct db_stmt *s, struct store_domain *d)
{
	d->name = col_text(s, 0);
	d->type = (enum domain_type)db_column_int(s, 1);
	d->mailboxes = db_column_int64(s, 2);
	d->alias_of = col_text(s, 3);
}

/* A domain's row; the mailbox count only for the list (counting is a scan of
   every mailbox: it has no place on a lookup made for each recipient). */
#define DOMAIN_SELECT                                                                              \
	"SELECT d.name, coalesce(t.type, d.type), -1, t.name FROM domains d "                      \
	"LEFT JOIN domains t ON t.id = d.alias_of "
#define DOMAIN_SELECT_COUNTED                                                                      \
	"SELECT d.name, coalesce(t.type, d.type), coalesce(c.n, 0), t.name FROM domains d "        \
	"LEFT JOIN domains t ON t.id = d.alias_of LEFT JOIN (SELECT domain_id, count(*) AS n "     \
	"FROM mailboxes GROUP BY domain_id) c ON c.domain_id = d.id "

static int domain_get(struct store *st, const char *name, struct store_domain *d_r)
{
	struct db_stmt *s = store_stmt(st, DOMAIN_SELECT "WHERE d.name = lower(?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, name, -1);
	int rc = db_step(s);
	if (rc == DB_DONE)
		return STORE_NOTFOUND;
	if (rc != DB_ROW)
		return store_fail(st, rc, "domain get");
	domain_row(s, d_r);
	return STORE_OK;
}

int store_domain_list(struct store *st, store_domain_cb *cb, void *ctx)
{
	struct db_stmt *s = store_stmt(st, DOMAIN_SELECT_COUNTED "ORDER BY d.name");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_domain d;
		domain_row(s, &d);
		cb(&d, ctx);
		store_domain_clear(&d);
	}
	return rc == DB_DONE ? STORE_OK : store_fail(st, rc, "domain list");
}

void store_domain_clear(struct store_domain *d)
{
	free(d->name);
	free(d->alias_of);
	d->name = NULL;
	d->alias_of = NULL;
}

/* The domain an alias domain stands for (malloc'd), or NULL. */
static char *domain_alias_target(struct store *st, const char *domain)
{
	struct db_stmt *s = store_stmt(st, "SELECT t.name FROM domains d JOIN domains t ON t.id = "
					   "d.alias_of WHERE d.name = ?1");
	char *t = NULL;
	if (s == NULL)
		return NULL;
	db_bind_text(s, 1, domain, -1);
	if (db_step(s) == DB_ROW)
		t = col_text(s, 0);
	db_reset(s);
	return t;
}

/* --- mailboxes ------------------------------------------------------------------- */

static bool is_postmaster(const char *address)
{
	return strcasecmp(address, STORE_POSTMASTER) == 0;
}

/* A local address as the store keeps it: the bare name of the built-in
   postmaster, or a valid address lower-cased (malloc'd), else NULL. */
static char *norm_local(const char *address)
{
	return is_postmaster(address) ? xstrdup(STORE_POSTMASTER) : store_norm_address(address);
}

int store_address_used(struct store *st, const char *a, bool *used_r)
{
	struct db_stmt *s = store_stmt(st, "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE "
					   "address = ?1) OR EXISTS (SELECT 1 FROM aliases WHERE "
					   "address = ?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, a, -1);
	int rc = db_step(s);
	if (rc != DB_ROW)
		return store_fail(st, rc, "address lookup");
	*used_r = db_column_int(s, 0) != 0;
	return STORE_OK;
}

/* Normalises and checks that the domain is hosted; returns its id via *dom_r. */
static int address_prepare(struct store *st, const char *address, char **norm_r, int64_t *dom_r)
{
	char *a = store_norm_address(address);
	if (a == NULL) {
		snprintf(st->err, sizeof(st->err), "'%s' is not a valid address", address);
		return STORE_INVALID;
	}
	int64_t dom = store_domain_id(st, store_addr_domain(a));
	if (dom <= 0) {
		if (dom == 0)
			snprintf(st->err, sizeof(st->err), "domain %s does not exist",
				 store_addr_domain(a));
		free(a);
		return dom == 0 ? STORE_NOTFOUND : STORE_TEMP;
	}
	char *target = domain_alias_target(st, store_addr_domain(a));
	if (target != NULL) {
		snprintf(st->err, sizeof(st->err),
			 "domain %s is an alias of %s: add the address in %s", store_addr_domain(a),
			 target, target);
		free(target);
		free(a);
		return STORE_INVALID;
	}
	*norm_r = a;
	*dom_r = dom;
	return STORE_OK;
}

/* What store_user_add checks before it writes: *a_r gets the normalised
   address (caller frees), *dom_r its domain id. */
static int user_add_check(struct store *st, const char *address, char **a_r, int64_t *dom_r)
{
	bool used = false;
	int r;

	*a_r = NULL;
	if (is_postmaster(address)) {
		snprintf(st->err, sizeof(st->err),
			 "postmaster is the built-in mailbox and exists already; give it a "
			 "password with: user passwd postmaster");
		return STORE_EXISTS;
	}
	if ((r = address_prepare(st, address, a_r, dom_r)) != STORE_OK)
		return r;
	if ((r = store_address_used(st, *a_r, &used)) == STORE_OK && used) {
		snprintf(st->err, sizeof(st->err),
			 "address %s is in use already (user list, alias list %s)", *a_r, *a_r);
		r = STORE_EXISTS;
	} else if (r == STORE_OK && (r = store_list_holds(st, *a_r, &used)) == STORE_OK && used) {
		snprintf(st->err, sizeof(st->err),
			 "address %s belongs to a distribution list: it is a list's address or its "
			 "bounce address owner-LIST (list list shows them)",
			 *a_r);
		r = STORE_EXISTS;
	}
	if (r != STORE_OK) {
		free(*a_r);
		*a_r = NULL;
	}
	return r;
}

int store_user_can_add(struct store *st, const char *address)
{
	char *a = NULL;
	int64_t dom = 0;
	int r = user_add_check(st, address, &a, &dom);
	free(a);
	store_idle(st);
	return r;
}

int store_user_add(struct store *st, const struct store_user_new *u)
{
	char *a = NULL;
	int64_t dom = 0;
	int r;

	if ((r = store_begin(st)) != STORE_OK)
		return r;
	if ((r = user_add_check(st, u->address, &a, &dom)) != STORE_OK)
		goto fail;
	struct db_stmt *s = store_stmt(st, "INSERT INTO mailboxes (address, domain_id, pw_hash, "
					   "scram, apop_secret, quota, created) VALUES (?1, ?2, "
					   "?3, ?4, ?5, ?6, ?7) RETURNING id");
	if (s == NULL) {
		r = STORE_TEMP;
		goto fail;
	}
	db_bind_text(s, 1, a, -1);
	db_bind_int64(s, 2, dom);
	db_bind_text(s, 3, u->pw_hash, -1);
	db_bind_text(s, 4, u->scram, -1);
	db_bind_text(s, 5, u->apop_secret, -1);
	db_bind_int64(s, 6, (int64_t)u->quota);
	db_bind_int64(s, 7, (int64_t)time(NULL));
	int64_t id = 0;
	if ((r = store_insert_id(st, s, "user add", &id)) != STORE_OK ||
	    (r = store_folders_default(st, id)) != STORE_OK)
		goto fail;
	free(a);
	return store_commit(st);
fail:
	store_rollback(st);
	free(a);
	return r;
}

/* The id of the mailbox with this address, 0 if none (st->err says so), -1
   on error. builtin_only: mailboxes of built-in accounts alone, as
   resolution wants them (another backend's mailbox is found through that
   backend, store_resolve_ex). */
static int64_t mailbox_find(struct store *st, const char *address, bool builtin_only)
{
	struct db_stmt *s =
	    store_stmt(st, builtin_only ? "SELECT id FROM mailboxes WHERE address = "
					  "lower(?1) AND source IS NULL"
					: "SELECT id FROM mailboxes WHERE address = lower(?1)");
	if (s == NULL)
		return -1;
	db_bind_text_copy(s, 1, address, -1);
	int rc = db_step(s);
	if (rc == DB_ROW)
		return db_column_int64(s, 0);
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "mailbox %s does not exist", address);
		return 0;
	}
	store_fail(st, rc, "mailbox lookup");
	return -1;
}

static int64_t mailbox_id(struct store *st, const char *address)
{
	return mailbox_find(st, address, false);
}

int store_mailbox_ensure(struct store *st, const char *address, const char *source, int64_t *id_r)
{
	char *a = store_norm_address(address);
	int r;

	if (a == NULL) {
		snprintf(st->err, sizeof(st->err), "'%s' is not a valid address", address);
		return STORE_INVALID;
	}
	int64_t id = mailbox_id(st, a);
	if (id > 0) {
		*id_r = id;
		free(a);
		store_idle(st);
		return STORE_OK;
	}
	if (id < 0 || (r = store_begin(st)) != STORE_OK) {
		free(a);
		store_idle(st);
		return STORE_TEMP;
	}
	/* DO NOTHING: another thread or node may have made it meanwhile */
	struct db_stmt *s =
	    store_stmt(st, "INSERT INTO mailboxes (address, domain_id, "
			   "pw_hash, source, quota, created) VALUES (?1, (SELECT id "
			   "FROM domains WHERE name = ?2 AND alias_of IS NULL), "
			   "NULL, ?3, -1, ?4) ON CONFLICT DO NOTHING");
	if (s == NULL) {
		r = STORE_TEMP;
		goto fail;
	}
	db_bind_text(s, 1, a, -1);
	db_bind_text(s, 2, store_addr_domain(a), -1);
	db_bind_text(s, 3, source, -1);
	db_bind_int64(s, 4, (int64_t)time(NULL));
	if ((r = step_done(st, s, "mailbox create")) != STORE_OK)
		goto fail;
	bool made = db_changes(st) > 0;
	id = mailbox_id(st, a);
	if (id <= 0) {
		r = STORE_TEMP;
		goto fail;
	}
	if (made && (r = store_folders_default(st, id)) != STORE_OK)
		goto fail;
	if ((r = store_commit(st)) != STORE_OK)
		goto out;
	*id_r = id;
	log_info("store: made mailbox %s for a %s account", a, source);
	goto out;
fail:
	store_rollback(st);
out:
	free(a);
	return r;
}

int store_user_remove(struct store *st, const char *address)
{
	int r;
	if (is_postmaster(address)) {
		snprintf(st->err, sizeof(st->err),
			 "postmaster is the built-in mailbox (RFC 5321 postmaster mail) and cannot "
			 "be removed; to have that mail elsewhere, set [smtp] postmaster");
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	int64_t id = mailbox_id(st, address);
	if (id <= 0) {
		store_rollback(st);
		return id == 0 ? STORE_NOTFOUND : STORE_TEMP;
	}
	static const char *const steps[] = {
	    "UPDATE bodies SET refcount = refcount - (SELECT count(*) FROM messages m "
	    "WHERE m.body_id = bodies.id AND m.mailbox_id = ?1) WHERE id IN (SELECT "
	    "body_id FROM messages WHERE mailbox_id = ?1)",
	    "DELETE FROM messages WHERE mailbox_id = ?1",
	    "DELETE FROM bodies WHERE refcount <= 0",
	    "DELETE FROM aliases WHERE target = (SELECT address FROM mailboxes WHERE id = ?1)",
	    /* its list memberships go as its aliases do, lists it owned bounce
	       to the postmaster; its auto-reply, what it sent (rate limits) and
	       its once-keys (store.h) go with it */
	    "DELETE FROM list_members WHERE member = (SELECT address FROM mailboxes WHERE id = "
	    "?1)",
	    "UPDATE lists SET owner = NULL WHERE owner = (SELECT address FROM mailboxes WHERE id "
	    "= ?1)",
	    "DELETE FROM vacations WHERE mailbox_id = ?1",
	    "DELETE FROM sent WHERE mailbox_id = ?1",
	    "DELETE FROM once WHERE key = '" STORE_ONCE_QUOTA_WARN "' || ?1 OR key LIKE "
	    "'vacation:' || ?1 || ':%'",
	    /* its folders and their expunge records (schema 9) */
	    "DELETE FROM expunged WHERE folder_id IN (SELECT id FROM folders WHERE mailbox_id = "
	    "?1)",
	    "DELETE FROM folders WHERE mailbox_id = ?1",
	    "DELETE FROM mailboxes WHERE id = ?1",
	};
	for (size_t i = 0; i < N_ELEMENTS(steps); i++) {
		struct db_stmt *s = store_stmt(st, steps[i]);
		if (s == NULL) {
			store_rollback(st);
			return STORE_TEMP;
		}
		db_bind_int64(s, 1, id);
		if ((r = step_done(st, s, "user remove")) != STORE_OK) {
			store_rollback(st);
			return r;
		}
	}
	return store_commit(st);
}

static int update_one(struct store *st, struct db_stmt *s, const char *address)
{
	if (s == NULL)
		return STORE_TEMP;
	int r = step_done(st, s, "user update");
	if (r != STORE_OK)
		return r;
	if (db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "mailbox %s does not exist", address);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

int store_user_set_password(struct store *st, const char *address, const char *pw_hash,
			    const char *scram, const char *apop_secret)
{
	struct db_stmt *s = store_stmt(st, "UPDATE mailboxes SET pw_hash = ?2, scram = ?3, "
					   "apop_secret = ?4 WHERE address = lower(?1)");
	if (s != NULL) {
		db_bind_text_copy(s, 1, address, -1);
		db_bind_text(s, 2, pw_hash, -1);
		db_bind_text(s, 3, scram, -1);
		db_bind_text(s, 4, apop_secret, -1);
	}
	return update_one(st, s, address);
}

/* One column of one mailbox: `sql` is a literal "UPDATE ... ?2 ... ?1". */
static int set_column(struct store *st, const char *sql, const char *address, int64_t value)
{
	struct db_stmt *s = store_stmt(st, sql);
	if (s != NULL) {
		db_bind_text_copy(s, 1, address, -1);
		db_bind_int64(s, 2, value);
	}
	return update_one(st, s, address);
}

int store_user_set_pop3(struct store *st, const char *address, bool enabled)
{
	return set_column(st, "UPDATE mailboxes SET pop3_enabled = ?2 WHERE address = lower(?1)",
			  address, enabled);
}

int store_user_set_submission(struct store *st, const char *address, bool enabled)
{
	return set_column(st,
			  "UPDATE mailboxes SET submission_enabled = ?2 WHERE address = lower(?1)",
			  address, enabled);
}

int store_user_set_enabled(struct store *st, const char *address, bool enabled)
{
	return set_column(st, "UPDATE mailboxes SET enabled = ?2 WHERE address = lower(?1)",
			  address, enabled);
}

int store_user_clear_apop(struct store *st, const char *address)
{
	struct db_stmt *s = store_stmt(st, "UPDATE mailboxes SET apop_secret = NULL WHERE "
					   "address = lower(?1)");
	if (s != NULL)
		db_bind_text_copy(s, 1, address, -1);
	return update_one(st, s, address);
}

#define USER_SELECT                                                                                \
	"SELECT id, address, pw_hash, scram, apop_secret, " STORE_EFFECTIVE(                       \
	    "quota") ", used, "                                                                    \
		     "messages, pop3_enabled, enabled, submission_enabled, source, forward, "      \
		     "keep_copy, EXISTS (SELECT 1 FROM vacations v WHERE v.mailbox_id = "          \
		     "m.id)" STORE_LIMITS_OWN STORE_LIMITS_EFFECTIVE " FROM mailboxes m "

static void user_row(struct db_stmt *s, struct store_user *u)
{
	u->id = db_column_int64(s, 0);
	u->address = col_text(s, 1);
	u->pw_hash = col_text(s, 2);
	u->scram = col_text(s, 3);
	u->apop_secret = col_text(s, 4);
	u->quota = (uint64_t)db_column_int64(s, 5);
	u->used = (uint64_t)db_column_int64(s, 6);
	u->messages = db_column_int64(s, 7);
	u->pop3_enabled = db_column_int(s, 8) != 0;
	u->enabled = db_column_int(s, 9) != 0;
	u->submission_enabled = db_column_int(s, 10) != 0;
	u->source = col_text(s, 11);
	u->forward = col_text(s, 12);
	u->keep_copy = db_column_int(s, 13) != 0;
	u->vacation = db_column_int(s, 14) != 0;
	store_limits_row(s, 15, &u->own);
	store_limits_row(s, 15 + STORE_LIMIT_COUNT, &u->effective);
}

static int user_by_id(struct store *st, int64_t id, struct store_user *u_r)
{
	struct db_stmt *s = store_stmt(st, USER_SELECT "WHERE id = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_int64(s, 1, id);
	int rc = db_step(s);
	if (rc == DB_DONE)
		return STORE_NOTFOUND;
	if (rc != DB_ROW)
		return store_fail(st, rc, "user lookup");
	user_row(s, u_r);
	return STORE_OK;
}

static int user_lookup(struct store *st, const char *login, struct store_user *u_r)
{
	memset(u_r, 0, sizeof(*u_r));
	struct db_stmt *s = store_stmt(st, USER_SELECT "WHERE address = lower(?1)");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, login, -1);
	int rc = db_step(s);
	if (rc == DB_ROW) {
		user_row(s, u_r);
		return STORE_OK;
	}
	if (rc != DB_DONE)
		return store_fail(st, rc, "user lookup");
	/* An alias that leads to exactly one mailbox logs in to it. */
	int64_t *ids = NULL;
	size_t n = 0;
	int r = resolve(st, login, &ids, &n);
	if (r == STORE_OK && n == 1)
		r = user_by_id(st, ids[0], u_r);
	else if (r == STORE_OK)
		r = STORE_NOTFOUND;
	free(ids);
	return r;
}

int store_user_list(struct store *st, const char *domain, store_user_cb *cb, void *ctx)
{
	struct db_stmt *s;
	int rc, r;
	if (domain != NULL) {
		char *d = store_norm_domain(domain), *target = NULL;
		int64_t id = d != NULL ? store_domain_id(st, d) : 0;
		if (id > 0)
			target = domain_alias_target(st, d);
		if (id <= 0 || target != NULL) {
			if (id == 0)
				snprintf(st->err, sizeof(st->err), "domain %.200s does not exist",
					 domain);
			else if (target != NULL)
				snprintf(st->err, sizeof(st->err),
					 "domain %.100s is an alias of %.100s: its mailboxes are "
					 "listed under %.100s",
					 d, target, target);
			r = id < 0 ? STORE_TEMP : id == 0 ? STORE_NOTFOUND : STORE_INVALID;
			free(d);
			free(target);
			return r;
		}
		free(d);
		s = store_stmt(st, USER_SELECT "WHERE domain_id = (SELECT id FROM domains "
					       "WHERE name = lower(?1)) ORDER BY address");
		if (s != NULL)
			db_bind_text_copy(s, 1, domain, -1);
	} else {
		s = store_stmt(st, USER_SELECT "ORDER BY address");
	}
	if (s == NULL)
		return STORE_TEMP;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_user u;
		user_row(s, &u);
		cb(&u, ctx);
		store_user_clear(&u);
	}
	r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "user list");
	store_idle(st);
	return r;
}

void store_user_clear(struct store_user *u)
{
	free(u->address);
	free(u->source);
	free(u->forward);
	secret_free(&u->pw_hash);
	secret_free(&u->scram);
	secret_free(&u->apop_secret);
	memset(u, 0, sizeof(*u));
}

/* --- aliases --------------------------------------------------------------------- */

/* An alias target in an authoritative hosted domain (directly or through a
   domain alias) must be a mailbox or an alias: mail to it would be refused
   as unknown. Targets elsewhere, and in relay domains, are forwarded. */
int store_target_exists(struct store *st, const char *t, const char *role, bool lists)
{
	if (is_postmaster(t))
		return STORE_OK;
	struct store_domain d = {0};
	int r = domain_get(st, store_addr_domain(t), &d);
	if (r == STORE_NOTFOUND)
		return STORE_OK;
	if (r != STORE_OK)
		return r;
	char *local = d.alias_of == NULL ? xstrdup(t)
					 : xasprintf("%.*s@%s", (int)(store_addr_domain(t) - t - 1),
						     t, d.alias_of);
	bool used = true;
	if (d.type == DOMAIN_AUTHORITATIVE)
		r = store_address_used(st, local, &used);
	if (r == STORE_OK && !used && lists)
		r = store_list_holds(st, local, &used);
	if (r == STORE_OK && !used) {
		snprintf(st->err, sizeof(st->err),
			 "%s %.200s does not exist: add that %s first (user add, alias add%s)",
			 role, t, lists ? "mailbox, alias or list" : "mailbox or alias",
			 lists ? ", list add" : "");
		r = STORE_NOTFOUND;
	}
	free(local);
	store_domain_clear(&d);
	return r;
}

int store_alias_add(struct store *st, const char *address, const char *target)
{
	char *a = NULL, *t = norm_local(target);
	int64_t dom;
	bool used;
	int r;

	if (t == NULL) {
		snprintf(st->err, sizeof(st->err), "'%.200s' is not a valid target address",
			 target);
		return STORE_INVALID;
	}
	if ((r = store_begin(st)) != STORE_OK) {
		free(t);
		return r;
	}
	if ((r = address_prepare(st, address, &a, &dom)) != STORE_OK)
		goto fail;
	struct db_stmt *s = store_stmt(st, "SELECT EXISTS (SELECT 1 FROM mailboxes WHERE "
					   "address = ?1)");
	if (s == NULL) {
		r = STORE_TEMP;
		goto fail;
	}
	db_bind_text(s, 1, a, -1);
	if (db_step(s) != DB_ROW) {
		r = STORE_TEMP;
		goto fail;
	}
	used = db_column_int(s, 0) != 0;
	if (used) {
		snprintf(st->err, sizeof(st->err), "%s is a mailbox, it cannot be an alias", a);
		r = STORE_EXISTS;
		goto fail;
	}
	if ((r = store_list_holds(st, a, &used)) != STORE_OK)
		goto fail;
	if (used) {
		snprintf(st->err, sizeof(st->err),
			 "%s belongs to a distribution list (a list's address or its bounce "
			 "address owner-LIST), it cannot be an alias (list list shows them)",
			 a);
		r = STORE_EXISTS;
		goto fail;
	}
	if (strcmp(a, t) == 0) {
		snprintf(st->err, sizeof(st->err), "an alias cannot point at itself");
		r = STORE_INVALID;
		goto fail;
	}
	if ((r = store_target_exists(st, t, "alias target", false)) != STORE_OK)
		goto fail;
	s = store_stmt(st, "INSERT INTO aliases (address, target, domain_id) VALUES (?1, ?2, ?3)");
	if (s == NULL) {
		r = STORE_TEMP;
		goto fail;
	}
	db_bind_text(s, 1, a, -1);
	db_bind_text(s, 2, t, -1);
	db_bind_int64(s, 3, dom);
	if ((r = step_done(st, s, "alias add")) != STORE_OK) {
		if (r == STORE_EXISTS)
			snprintf(st->err, sizeof(st->err), "alias %s -> %s exists already", a, t);
		goto fail;
	}
	free(a);
	free(t);
	return store_commit(st);
fail:
	store_rollback(st);
	free(a);
	free(t);
	return r;
}

int store_alias_remove(struct store *st, const char *address, const char *target)
{
	struct db_stmt *s;
	if (target != NULL) {
		s = store_stmt(st, "DELETE FROM aliases WHERE address = lower(?1) AND target = "
				   "lower(?2)");
		if (s != NULL)
			db_bind_text_copy(s, 2, target, -1);
	} else {
		s = store_stmt(st, "DELETE FROM aliases WHERE address = lower(?1)");
	}
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, address, -1);
	int r = step_done(st, s, "alias remove");
	if (r == STORE_OK && db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "no such alias: %s%s%s", address,
			 target ? " -> " : "", target ? target : "");
		return STORE_NOTFOUND;
	}
	return r;
}

int store_alias_list(struct store *st, const char *address, store_alias_cb *cb, void *ctx)
{
	struct db_stmt *s;
	int rc;
	if (address != NULL) {
		s = store_stmt(st, "SELECT address, target FROM aliases WHERE address = "
				   "lower(?1) ORDER BY target");
		if (s != NULL)
			db_bind_text_copy(s, 1, address, -1);
	} else {
		s = store_stmt(st, "SELECT address, target FROM aliases ORDER BY address, target");
	}
	if (s == NULL)
		return STORE_TEMP;
	size_t n = 0;
	while ((rc = db_step(s)) == DB_ROW) {
		cb(db_column_text(s, 0), db_column_text(s, 1), ctx);
		n++;
	}
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "alias list");
	store_idle(st);
	if (r == STORE_OK && n == 0 && address != NULL) {
		snprintf(st->err, sizeof(st->err), "no alias %.200s (alias list shows them all)",
			 address);
		r = STORE_NOTFOUND;
	}
	return r;
}

/* --- resolution ----------------------------------------------------------------- */

struct resolve {
	int64_t *ids;
	size_t n, cap;
	bool want_remote;
	char **remote; /* alias targets outside the hosted domains */
	size_t n_remote;
	bool want_local;
	char **local; /* targets in hosted domains unknown here (other backends) */
	size_t n_local;
	char **seen;	 /* addresses already expanded: loop safety */
	int *seen_depth; /* ... and the smallest depth each was met at */
	size_t n_seen;
};

/* True if a was already expanded from this depth or a shallower one. A
   shorter path met later expands it again (the depth limit may have cut
   the longer one short), so the result never depends on the names; loops
   still end, as every revisit is shallower and depth is bounded. */
static bool resolve_seen(struct resolve *rs, const char *a, int depth)
{
	for (size_t i = 0; i < rs->n_seen; i++)
		if (strcmp(rs->seen[i], a) == 0) {
			if (rs->seen_depth[i] <= depth)
				return true;
			rs->seen_depth[i] = depth;
			return false;
		}
	rs->seen = xrealloc(rs->seen, (rs->n_seen + 1) * sizeof(char *));
	rs->seen_depth = xrealloc(rs->seen_depth, (rs->n_seen + 1) * sizeof(int));
	rs->seen_depth[rs->n_seen] = depth;
	rs->seen[rs->n_seen++] = xstrdup(a);
	return false;
}

static void resolve_add(struct resolve *rs, int64_t id)
{
	for (size_t i = 0; i < rs->n; i++)
		if (rs->ids[i] == id)
			return; /* one delivery per mailbox, however many paths lead to it */
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? rs->cap * 2 : 4;
		rs->ids = xrealloc(rs->ids, rs->cap * sizeof(int64_t));
	}
	rs->ids[rs->n++] = id;
}

static int resolve_rec(struct store *st, struct resolve *rs, const char *a, int depth)
{
	if (depth > ALIAS_DEPTH_MAX || rs->n_seen > RESOLVE_MAX || resolve_seen(rs, a, depth))
		return STORE_OK;
	int64_t id = mailbox_find(st, a, true);
	if (id < 0)
		return STORE_TEMP;
	if (id > 0) {
		resolve_add(rs, id);
		return STORE_OK;
	}
	/* Collect the targets first: the cached statement is reused below. */
	struct db_stmt *s = store_stmt(st, "SELECT target FROM aliases WHERE address = ?1");
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text_copy(s, 1, a, -1);
	char **targets = NULL;
	size_t nt = 0;
	int rc;
	while ((rc = db_step(s)) == DB_ROW) {
		targets = xrealloc(targets, (nt + 1) * sizeof(char *));
		targets[nt++] = xstrdup(db_column_text(s, 0));
	}
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "alias lookup");
	if (r == STORE_OK && nt == 0 && depth > 0 && (rs->want_remote || rs->want_local)) {
		/* outside every hosted domain: a forwarding target; inside one but
		   unknown here: maybe another directory backend's account */
		int64_t dom = store_domain_id(st, store_addr_domain(a));
		if (dom < 0)
			return STORE_TEMP;
		if (dom == 0 && rs->want_remote) {
			rs->remote = xrealloc(rs->remote, (rs->n_remote + 1) * sizeof(char *));
			rs->remote[rs->n_remote++] = xstrdup(a);
		} else if (dom > 0 && rs->want_local) {
			rs->local = xrealloc(rs->local, (rs->n_local + 1) * sizeof(char *));
			rs->local[rs->n_local++] = xstrdup(a);
		}
	}
	for (size_t i = 0; i < nt; i++) {
		if (r == STORE_OK)
			r = resolve_rec(st, rs, targets[i], depth + 1);
		free(targets[i]);
	}
	free(targets);
	return r;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int resolve_full(struct store *st, const char *address, int64_t **ids_r, size_t *n_r,
			char ***remote_r, size_t *n_remote_r, char ***local_r, size_t *n_local_r)
{
	struct resolve rs = {.want_remote = remote_r != NULL, .want_local = local_r != NULL};
	char *a = norm_local(address);
	int r;

	*ids_r = NULL;
	*n_r = 0;
	if (remote_r != NULL) {
		*remote_r = NULL;
		*n_remote_r = 0;
	}
	if (local_r != NULL) {
		*local_r = NULL;
		*n_local_r = 0;
	}
	if (a == NULL) {
		snprintf(st->err, sizeof(st->err), "'%s' is not a valid address", address);
		return STORE_INVALID;
	}
	char *target = domain_alias_target(st, store_addr_domain(a));
	if (target != NULL) { /* local@alias.domain is local@target */
		char *b = xasprintf("%.*s@%s", (int)(store_addr_domain(a) - a - 1), a, target);
		free(target);
		free(a);
		a = b;
	}
	r = resolve_rec(st, &rs, a, 0);
	for (size_t i = 0; i < rs.n_seen; i++)
		free(rs.seen[i]);
	free(rs.seen);
	free(rs.seen_depth);
	free(a);
	if (r != STORE_OK || rs.n + rs.n_remote + rs.n_local == 0) {
		free(rs.ids);
		strv_free(rs.remote, rs.n_remote);
		strv_free(rs.local, rs.n_local);
		if (r == STORE_OK)
			snprintf(st->err, sizeof(st->err), "no mailbox for %s", address);
		return r != STORE_OK ? r : STORE_NOTFOUND;
	}
	*ids_r = rs.ids;
	*n_r = rs.n;
	if (remote_r != NULL) {
		*remote_r = rs.remote;
		*n_remote_r = rs.n_remote;
	}
	if (local_r != NULL) {
		*local_r = rs.local;
		*n_local_r = rs.n_local;
	}
	return STORE_OK;
}

static int resolve(struct store *st, const char *address, int64_t **ids_r, size_t *n_r)
{
	int r = resolve_full(st, address, ids_r, n_r, NULL, NULL, NULL, NULL);
	if (r == STORE_OK && *n_r == 0) {
		free(*ids_r);
		*ids_r = NULL;
		snprintf(st->err, sizeof(st->err), "no mailbox for %s", address);
		return STORE_NOTFOUND;
	}
	return r;
}

/* Public reads end with store_idle() (see store_private.h). */
int store_domain_get(struct store *st, const char *name, struct store_domain *d_r)
{
	int r = domain_get(st, name, d_r);
	store_idle(st);
	return r;
}

int store_user_lookup(struct store *st, const char *login, struct store_user *u_r)
{
	int r = user_lookup(st, login, u_r);
	store_idle(st);
	return r;
}

int store_resolve_all(struct store *st, const char *address, int64_t **ids_r, size_t *n_r,
		      char ***remote_r, size_t *n_remote_r)
{
	int r = resolve_full(st, address, ids_r, n_r, remote_r, n_remote_r, NULL, NULL);
	store_idle(st);
	return r;
}

int store_resolve_ex(struct store *st, const char *address, int64_t **ids_r, size_t *n_r,
		     char ***remote_r, size_t *n_remote_r, char ***local_r, size_t *n_local_r)
{
	int r = resolve_full(st, address, ids_r, n_r, remote_r, n_remote_r, local_r, n_local_r);
	store_idle(st);
	return r;
}

int store_resolve(struct store *st, const char *address, int64_t **ids_r, size_t *n_r)
{
	int r = resolve(st, address, ids_r, n_r);
	store_idle(st);
	return r;
}
