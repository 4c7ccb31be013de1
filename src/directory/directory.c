/* SPDX-License-Identifier: MIT */
/*
 * directory.c - the chain of directory backends behind directory.h.
 *
 * Rules of the chain, for logins: backends are asked in the configured
 * order; DIR_UNKNOWN passes to the next; the first that knows the login
 * decides (a wrong password there fails the login: a later backend never
 * gets to accept another password for the same name); DIR_TEMPFAIL stops
 * the chain with a temporary error (a later "unknown" could be wrong, and a
 * later backend's password must not win while the first is down). When no
 * backend knows the login, a dummy hash is verified so the answer takes as
 * long as a real one. For recipients the same order holds; a backend's
 * pass_on addresses (a built-in alias of an LDAP user) are resolved through
 * the other backends, one level deep.
 *
 * Accounts that carry no store mailbox id get one from
 * store_mailbox_ensure() here, under the backend's name as their source.
 */
#include "directory/directory.h"
#include "directory/dir_config.h"
#include "directory/auth.h"
#include "directory/dir_backend.h"
#include "directory/password.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Every backend this build knows, by [directory] backend name. */
static const struct dir_backend_ops *const backends[] = {
    &dir_builtin_ops,
    &dir_ldap_ops,
    &dir_pam_ops,
    &dir_passwdfile_ops,
};

struct dir_link {
	const struct dir_backend_ops *ops;
	void *be;
};

struct directory {
	struct dir_link *chain;
	size_t n;
	struct auth_cache *cache;
	char *describe;
	unsigned flags; /* DIR_BE_* of any backend in the chain */
};

/* --- backend helpers (dir_backend.h) ---------------------------------------- */

void dir_account_clear(struct dir_account *a)
{
	free(a->address);
	secret_free(&a->pw_hash);
	secret_free(&a->scram);
	secret_free(&a->apop_secret);
	memset(a, 0, sizeof(*a));
}

static void strv_push(char ***v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = xstrdup(s);
}

static void strv_free(char ***v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void ids_push(int64_t **ids, size_t *n, int64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*ids)[i] == id)
			return; /* one delivery per mailbox, however many paths lead to it */
	*ids = xrealloc(*ids, (*n + 1) * sizeof(int64_t));
	(*ids)[(*n)++] = id;
}

static void rcpt_add_id(struct dir_rcpt *r, int64_t id)
{
	ids_push(&r->ids, &r->n_ids, id);
}

void dir_resolution_add_id(struct dir_resolution *r, int64_t id)
{
	ids_push(&r->ids, &r->n_ids, id);
}

void dir_resolution_add_mailbox(struct dir_resolution *r, const char *address)
{
	strv_push(&r->mailboxes, &r->n_mailboxes, address);
}

void dir_resolution_add_remote(struct dir_resolution *r, const char *address)
{
	strv_push(&r->remote, &r->n_remote, address);
}

void dir_resolution_add_pass_on(struct dir_resolution *r, const char *address)
{
	strv_push(&r->pass_on, &r->n_pass_on, address);
}

void dir_resolution_clear(struct dir_resolution *r)
{
	free(r->ids);
	strv_free(&r->mailboxes, &r->n_mailboxes);
	strv_free(&r->remote, &r->n_remote);
	strv_free(&r->pass_on, &r->n_pass_on);
	memset(r, 0, sizeof(*r));
}

void dir_rcpt_clear(struct dir_rcpt *r)
{
	free(r->ids);
	strv_free(&r->remote, &r->n_remote);
	memset(r, 0, sizeof(*r));
}

/* --- opening ---------------------------------------------------------------- */

int directory_open(const struct config *cfg, struct directory **dir_r, char **err_r)
{
	struct directory *d = xcalloc(1, sizeof(*d));
	struct buf desc = {0};

	d->chain = xcalloc(
	    directory_config(cfg)->backends.count > 0 ? directory_config(cfg)->backends.count : 1,
	    sizeof(*d->chain));
	for (size_t i = 0; i < directory_config(cfg)->backends.count; i++) {
		const char *name = directory_config(cfg)->backends.addrs[i];
		const struct dir_backend_ops *ops = NULL;
		for (size_t k = 0; k < N_ELEMENTS(backends); k++)
			if (strcmp(backends[k]->name, name) == 0)
				ops = backends[k];
		if (ops == NULL) {
			*err_r = xasprintf("[directory] backend %s is not built into this mailroom",
					   name);
			goto fail;
		}
		char *err = NULL;
		if (ops->open(cfg, &d->chain[d->n].be, &err) < 0) {
			*err_r = xasprintf("[directory] backend %s: %s", name,
					   err != NULL ? err : "cannot start");
			free(err);
			goto fail;
		}
		d->chain[d->n++].ops = ops;
		d->flags |= ops->flags;
		buf_printf(&desc, "%s%s", i > 0 ? ", " : "", name);
	}
	if (d->n == 0) {
		*err_r = xstrdup("[directory] backend names no backend");
		goto fail;
	}
	d->describe = xstrndup(desc.data, desc.len);
	buf_free(&desc);
	d->cache = auth_cache_new(cfg->auth_cache_ttl, cfg->auth_cache_size);
	*dir_r = d;
	return 0;
fail:
	buf_free(&desc);
	directory_free(&d);
	return -1;
}

void directory_free(struct directory **dp)
{
	struct directory *d = *dp;
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		d->chain[i].ops->close(d->chain[i].be);
	free(d->chain);
	auth_cache_free(&d->cache);
	free(d->describe);
	free(d);
	*dp = NULL;
}

const char *directory_describe(const struct directory *d)
{
	return d->describe;
}

bool directory_offers(const struct directory *d, enum directory_feature f)
{
	switch (f) {
	case DIRECTORY_SCRAM:
		return (d->flags & DIR_BE_SCRAM) != 0;
	case DIRECTORY_APOP:
		return (d->flags & DIR_BE_APOP) != 0;
	}
	return false;
}

unsigned long directory_cache_hits(const struct directory *d)
{
	return auth_cache_hits(d->cache);
}

/* --- config check ------------------------------------------------------------ */

enum directory_probe_status directory_probe(struct directory *d, directory_probe_fn fn, void *ctx)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct dir_backend_ops *ops = d->chain[i].ops;
		struct timespec t0, t1;
		char *text = NULL;

		if (ops->probe == NULL)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		enum dir_status s = ops->probe(d->chain[i].be, &text);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long long ms =
		    (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		enum directory_probe_status ps = s == DIR_OK	     ? DIRECTORY_PROBE_OK
						 : s == DIR_TEMPFAIL ? DIRECTORY_PROBE_UNAVAILABLE
								     : DIRECTORY_PROBE_WRONG;
		fn(ctx, ops->name, ps, text != NULL ? text : "", ms > 0 ? (unsigned)ms : 0);
		free(text);
		if (ps != DIRECTORY_PROBE_OK)
			return ps;
	}
	return DIRECTORY_PROBE_OK;
}

/* --- logins ----------------------------------------------------------------- */

/* The identity of an account backend i knows, with its store mailbox. */
static enum auth_result identity_of(struct directory *d, struct store *st, size_t i,
				    const struct dir_account *a, struct auth_identity *id_r)
{
	int64_t mid = a->mailbox_id;

	memset(id_r, 0, sizeof(*id_r));
	if (a->address == NULL)
		return AUTH_FAILED;
	if (mid <= 0) {
		int rc = store_mailbox_ensure(st, a->address, d->chain[i].ops->name, &mid);
		if (rc == STORE_INVALID || rc == STORE_NOTFOUND) {
			log_warn("directory: %s account %s has no usable mail address",
				 d->chain[i].ops->name, a->address);
			return AUTH_FAILED;
		}
		if (rc != STORE_OK)
			return AUTH_TEMPFAIL;
	}
	id_r->mailbox_id = mid;
	snprintf(id_r->address, sizeof(id_r->address), "%s", a->address);
	id_r->enabled = a->enabled;
	id_r->pop3_enabled = a->pop3_enabled;
	id_r->submission_enabled = a->submission_enabled;
	return AUTH_OK;
}

/* Asks the chain for the account of a login; *which_r gets the backend
   that knew it. AUTH_FAILED: none did. */
/* A login that no backend knows may be a built-in alias of exactly one
   account of another backend (alias add sales@ alice@, alice in LDAP): that
   account's address (malloc'd), or NULL. The built-in backend logs in its
   own aliases itself; this is the road for the others, one level deep. */
static char *alias_login(struct directory *d, struct store *st, const char *login,
			 enum auth_result *r)
{
	struct dir_resolution res = {0};
	char *target = NULL;
	bool builtin = false;
	enum dir_status s = DIR_UNKNOWN;

	for (size_t i = 0; i < d->n; i++)
		builtin |= d->chain[i].ops == &dir_builtin_ops;
	if (builtin)
		s = dir_builtin_ops.resolve(NULL, st, login, &res);
	if (s == DIR_TEMPFAIL)
		*r = AUTH_TEMPFAIL; /* the store could not say: no "wrong password" */
	if (s == DIR_OK && res.n_ids == 0 && res.n_remote == 0 && res.n_pass_on == 1 &&
	    strcasecmp(res.pass_on[0], login) != 0)
		target = xstrdup(res.pass_on[0]);
	dir_resolution_clear(&res);
	return target;
}

static enum auth_result find_in_chain(struct directory *d, struct store *st, const char *login,
				      struct dir_account *a_r, size_t *which_r, bool *known_r)
{
	*known_r = true;
	for (size_t i = 0; i < d->n; i++) {
		memset(a_r, 0, sizeof(*a_r));
		enum dir_status s = d->chain[i].ops->lookup(d->chain[i].be, st, login, a_r);
		if (s == DIR_OK) {
			*which_r = i;
			return AUTH_OK;
		}
		dir_account_clear(a_r);
		if (s == DIR_TEMPFAIL)
			return AUTH_TEMPFAIL;
		if (s == DIR_FAILED)
			return AUTH_FAILED;
	}
	*known_r = false;
	return AUTH_FAILED;
}

/* Asks the chain for the account of a login (or of the one account a
   built-in alias names); *which_r gets the backend that knew it.
   AUTH_FAILED: none did. */
static enum auth_result find_account(struct directory *d, struct store *st, const char *login,
				     struct dir_account *a_r, size_t *which_r)
{
	bool known = false;
	enum auth_result r = find_in_chain(d, st, login, a_r, which_r, &known);
	char *target = known ? NULL : alias_login(d, st, login, &r);

	if (target != NULL)
		r = find_in_chain(d, st, target, a_r, which_r, &known);
	free(target);
	return r;
}

/* A backend that checks the password itself (LDAP bind, PAM). */
static enum auth_result verify_at(struct directory *d, struct store *st, size_t i,
				  const char *login, const char *password, bool *known_r,
				  struct auth_identity *id_r)
{
	struct dir_account a = {0};

	*known_r = true;
	if (auth_cache_get(d->cache, (unsigned)i, login, password, NULL, id_r))
		return AUTH_OK;
	enum dir_status s = d->chain[i].ops->verify(d->chain[i].be, st, login, password, &a);
	enum auth_result r = AUTH_FAILED;
	if (s == DIR_OK) {
		r = identity_of(d, st, i, &a, id_r);
		if (r == AUTH_OK)
			auth_cache_put(d->cache, (unsigned)i, login, password, NULL, id_r);
	} else if (s == DIR_TEMPFAIL) {
		r = AUTH_TEMPFAIL;
	} else if (s == DIR_UNKNOWN) {
		*known_r = false;
	}
	dir_account_clear(&a);
	return r;
}

/* A backend that hands over the stored hash: verified here, and a cache hit
   counts only while that hash is unchanged. */
static enum auth_result lookup_at(struct directory *d, struct store *st, size_t i,
				  const char *login, const char *password, bool *known_r,
				  struct auth_identity *id_r)
{
	struct dir_account a = {0};
	enum dir_status s = d->chain[i].ops->lookup(d->chain[i].be, st, login, &a);
	enum auth_result r = AUTH_FAILED;

	*known_r = s != DIR_UNKNOWN;
	if (s == DIR_TEMPFAIL) {
		r = AUTH_TEMPFAIL;
	} else if (s == DIR_OK && a.pw_hash == NULL) {
		auth_dummy_verify(password); /* e.g. the postmaster before `user passwd` */
	} else if (s == DIR_OK) {
		struct auth_identity cached;
		bool ok =
		    auth_cache_get(d->cache, (unsigned)i, login, password, a.pw_hash, &cached) ||
		    password_verify(password, a.pw_hash);
		if (ok) {
			r = identity_of(d, st, i, &a, id_r);
			if (r == AUTH_OK)
				auth_cache_put(d->cache, (unsigned)i, login, password, a.pw_hash,
					       id_r);
		}
	}
	dir_account_clear(&a);
	return r;
}

static enum auth_result password_in_chain(struct directory *d, struct store *st, const char *login,
					  const char *password, bool *known_r,
					  struct auth_identity *id_r)
{
	for (size_t i = 0; i < d->n; i++) {
		enum auth_result r = d->chain[i].ops->verify != NULL
					 ? verify_at(d, st, i, login, password, known_r, id_r)
					 : lookup_at(d, st, i, login, password, known_r, id_r);
		if (*known_r || r == AUTH_TEMPFAIL)
			return r;
	}
	return AUTH_FAILED;
}

bool directory_password_cached(struct directory *d, const char *login, const char *password)
{
	for (size_t i = 0; i < d->n; i++)
		if (auth_cache_holds(d->cache, (unsigned)i, login, password))
			return true;
	return false;
}

enum auth_result directory_password(struct directory *d, struct store *st, const char *login,
				    const char *password, struct auth_identity *id_r)
{
	bool known = false;
	enum auth_result r = password_in_chain(d, st, login, password, &known, id_r);

	if (!known && r != AUTH_TEMPFAIL) {
		char *target = alias_login(d, st, login, &r);
		if (target != NULL)
			r = password_in_chain(d, st, target, password, &known, id_r);
		free(target);
	}
	if (!known && r != AUTH_TEMPFAIL)
		auth_dummy_verify(password);
	return r;
}

/* The account a login names, put through `check` (NULL: none), as an
   identity: APOP and logins proven elsewhere share this road. */
static enum auth_result account_login(struct directory *d, struct store *st, const char *login,
				      enum auth_result (*check)(const struct dir_account *a,
								const void *arg),
				      const void *arg, struct auth_identity *id_r)
{
	struct dir_account a;
	size_t i = 0;
	enum auth_result r = find_account(d, st, login, &a, &i);

	if (r != AUTH_OK)
		return r;
	if (check != NULL)
		r = check(&a, arg);
	if (r == AUTH_OK)
		r = identity_of(d, st, i, &a, id_r);
	dir_account_clear(&a);
	return r;
}

struct apop_args {
	const char *timestamp, *digest_hex;
};

static enum auth_result apop_check(const struct dir_account *a, const void *arg)
{
	const struct apop_args *p = arg;
	return auth_apop_check(a->apop_secret, p->timestamp, p->digest_hex);
}

enum auth_result directory_apop(struct directory *d, struct store *st, const char *login,
				const char *timestamp, const char *digest_hex,
				struct auth_identity *id_r)
{
	struct apop_args args = {timestamp, digest_hex};
	return account_login(d, st, login, apop_check, &args, id_r);
}

enum auth_result directory_scram(struct directory *d, struct store *st, const char *login,
				 char **verifier_r, struct auth_identity *id_r)
{
	struct dir_account a;
	size_t i = 0;
	enum auth_result r = find_account(d, st, login, &a, &i);

	*verifier_r = NULL;
	if (r != AUTH_OK)
		return r;
	if (a.scram == NULL)
		r = AUTH_FAILED; /* e.g. an imported crypt hash, an LDAP account */
	else
		r = identity_of(d, st, i, &a, id_r);
	if (r == AUTH_OK) {
		*verifier_r = a.scram;
		a.scram = NULL;
	}
	dir_account_clear(&a);
	return r;
}

enum auth_result directory_identity(struct directory *d, struct store *st, const char *login,
				    struct auth_identity *id_r)
{
	return account_login(d, st, login, NULL, NULL, id_r);
}

/* --- recipients ------------------------------------------------------------- */

/* Backend i's answer for one address, merged into out. pass_on addresses
   go to *pass_r when given (the first level only). */
static int resolve_at(struct directory *d, struct store *st, size_t i, const char *address,
		      struct dir_rcpt *out, struct dir_resolution *pass_r, bool *found_r)
{
	struct dir_resolution res = {0};
	enum dir_status s = d->chain[i].ops->resolve(d->chain[i].be, st, address, &res);
	int rc = STORE_OK;

	*found_r = s == DIR_OK;
	if (s == DIR_TEMPFAIL)
		rc = STORE_TEMP;
	for (size_t k = 0; s == DIR_OK && k < res.n_ids; k++)
		rcpt_add_id(out, res.ids[k]);
	for (size_t k = 0; s == DIR_OK && rc == STORE_OK && k < res.n_mailboxes; k++) {
		int64_t id = 0;
		int e = store_mailbox_ensure(st, res.mailboxes[k], d->chain[i].ops->name, &id);
		if (e == STORE_OK)
			rcpt_add_id(out, id);
		else if (e != STORE_INVALID && e != STORE_NOTFOUND)
			rc = STORE_TEMP;
		else
			log_warn("directory: %s gave %s no usable mail address",
				 d->chain[i].ops->name, address);
	}
	for (size_t k = 0; s == DIR_OK && k < res.n_remote; k++)
		strv_push(&out->remote, &out->n_remote, res.remote[k]);
	for (size_t k = 0; s == DIR_OK && pass_r != NULL && k < res.n_pass_on; k++)
		dir_resolution_add_pass_on(pass_r, res.pass_on[k]);
	dir_resolution_clear(&res);
	return rc;
}

int directory_resolve(struct directory *d, struct store *st, const char *address,
		      struct dir_rcpt *r)
{
	struct dir_resolution pass = {0};
	size_t from = d->n;
	bool found = false;
	int rc = STORE_OK;

	memset(r, 0, sizeof(*r));
	char *norm =
	    strcasecmp(address, STORE_POSTMASTER) == 0 ? NULL : store_norm_address(address);
	if (norm == NULL && strcasecmp(address, STORE_POSTMASTER) != 0)
		return STORE_INVALID;
	free(norm);
	for (size_t i = 0; i < d->n && !found && rc == STORE_OK; i++) {
		rc = resolve_at(d, st, i, address, r, &pass, &found);
		from = i;
	}
	/* a built-in alias that names another backend's account */
	for (size_t k = 0; rc == STORE_OK && k < pass.n_pass_on; k++) {
		bool hit = false;
		for (size_t i = 0; i < d->n && !hit && rc == STORE_OK; i++)
			if (i != from)
				rc = resolve_at(d, st, i, pass.pass_on[k], r, NULL, &hit);
	}
	dir_resolution_clear(&pass);
	/* RFC 5321 §4.5.1: the store's built-in postmaster takes its mail even
	   when the chain leaves the built-in backend out */
	if (rc == STORE_OK && !found && strcasecmp(address, STORE_POSTMASTER) == 0 &&
	    dir_builtin_ops.resolve(NULL, st, address, &pass) == DIR_OK) {
		for (size_t k = 0; k < pass.n_ids; k++)
			rcpt_add_id(r, pass.ids[k]);
		dir_resolution_clear(&pass);
	}
	if (rc == STORE_OK && r->n_ids + r->n_remote == 0)
		rc = STORE_NOTFOUND;
	if (rc != STORE_OK)
		dir_rcpt_clear(r);
	return rc;
}
