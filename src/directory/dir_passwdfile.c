/* SPDX-License-Identifier: MIT */
/*
 * dir_passwdfile.c - the passwd-file directory backend: accounts from a
 * Dovecot passwd-file ([passwd-file] path and domain), parsed by
 * passwdfile.c.
 *
 * The table is shared by every worker thread under a rwlock; lookups take
 * it for reading and find a line in O(log n). Before a lookup, at most once
 * a second, one thread stats the file; when its inode, size or mtime
 * changed it parses the new file outside the lock and swaps it in. A file
 * that does not parse (or cannot be read) is logged with its line and the
 * last good table stays in use, so a typo in an editor never locks every
 * user out. Hashes are handed to directory.c (password_verify there, and
 * its auth cache); this file never checks a password itself, never logs a
 * hash, and wipes every copy it frees (pwf_free).
 */
#include "directory/dir_backend.h"
#include "directory/dir_config.h"
#include "directory/password.h"
#include "directory/passwdfile.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct pwf_backend {
	char *path, *domain;
	pthread_rwlock_t lock; /* guards table */
	struct pwf table;      /* the last good copy */

	pthread_mutex_t check_lock; /* one thread stats and re-reads at a time */
	time_t checked;		    /* CLOCK_MONOTONIC second of the last stat */
	struct stat seen;	    /* the file as last read, good or bad */
	bool stat_failed;	    /* logged once until the file is back */
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Reads the file when it changed since last time; called before lookups. */
static void refresh(struct pwf_backend *be)
{
	struct timespec now;
	struct stat sb;
	struct pwf fresh;
	char *err = NULL;

	clock_gettime(CLOCK_MONOTONIC, &now);
	/* another thread is at it: use the table as it is */
	if (pthread_mutex_trylock(&be->check_lock) != 0)
		return;
	if (now.tv_sec == be->checked)
		goto out;
	be->checked = now.tv_sec;
	if (stat(be->path, &sb) < 0) {
		if (!be->stat_failed)
			log_error("passwd-file %s: %s; keeping the %zu users read before", be->path,
				  strerror(errno), be->table.n);
		be->stat_failed = true;
		goto out;
	}
	be->stat_failed = false;
	if (same_file(&sb, &be->seen))
		goto out;
	be->seen = sb; /* a bad file is reported once, not every second */
	if (pwf_load(be->path, be->domain, &fresh, &err) < 0) {
		log_error("passwd-file %s; keeping the %zu users read before", err, be->table.n);
		free(err);
		goto out;
	}
	pthread_rwlock_wrlock(&be->lock);
	struct pwf old = be->table;
	be->table = fresh;
	pthread_rwlock_unlock(&be->lock);
	log_info("passwd-file %s: read again, %zu users", be->path, fresh.n);
	if (fresh.n_dups > 0)
		log_warn("passwd-file %s:%u: %zu users named again; their first lines count",
			 be->path, fresh.dup_line, fresh.n_dups);
	pwf_free(&old);
out:
	pthread_mutex_unlock(&be->check_lock);
}

static int pwfile_open(const struct config *cfg, void **be_r, char **err_r)
{
	struct pwf_backend *be;
	char *err = NULL;

	if (passwdfile_config(cfg)->path == NULL) {
		*err_r = xstrdup("[directory] backend names passwd-file, but [passwd-file] path "
				 "is not set");
		return -1;
	}
	be = xcalloc(1, sizeof(*be));
	be->path = xstrdup(passwdfile_config(cfg)->path);
	be->domain =
	    passwdfile_config(cfg)->domain != NULL ? xstrdup(passwdfile_config(cfg)->domain) : NULL;
	/* the first read must work: a server without its users should not start */
	if (stat(be->path, &be->seen) < 0 || pwf_load(be->path, be->domain, &be->table, &err) < 0) {
		*err_r = err != NULL ? xasprintf("passwd-file %s", err)
				     : xasprintf("passwd-file %s: %s", be->path, strerror(errno));
		free(err);
		free(be->path);
		free(be->domain);
		free(be);
		return -1;
	}
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	be->checked = now.tv_sec;
	pthread_rwlock_init(&be->lock, NULL);
	pthread_mutex_init(&be->check_lock, NULL);
	if (be->table.n_dups > 0)
		log_warn("passwd-file %s:%u: %zu users named again; their first lines count",
			 be->path, be->table.dup_line, be->table.n_dups);
	*be_r = be;
	return 0;
}

static void pwfile_close(void *p)
{
	struct pwf_backend *be = p;

	if (be == NULL)
		return;
	pwf_free(&be->table);
	pthread_rwlock_destroy(&be->lock);
	pthread_mutex_destroy(&be->check_lock);
	free(be->path);
	free(be->domain);
	free(be);
}

/* A login or recipient as the table keys it: lower-case, with the domain
   appended to a bare name. NULL when it cannot be one of this file's. */
static char *key_make(const struct pwf_backend *be, const char *login)
{
	char *k;

	if (strchr(login, '@') != NULL)
		k = xstrdup(login);
	else if (be->domain != NULL && login[0] != '\0')
		k = xasprintf("%s@%s", login, be->domain);
	else
		return NULL;
	pwf_lower(k);
	return k;
}

static enum dir_status pwfile_lookup(void *p, struct store *st, const char *login,
				     struct dir_account *a_r)
{
	struct pwf_backend *be = p;
	char *key = key_make(be, login);
	const struct pwf_user *u;

	if (key == NULL)
		return DIR_UNKNOWN;
	refresh(be);
	pthread_rwlock_rdlock(&be->lock);
	u = pwf_find(&be->table, key);
	if (u != NULL) {
		memset(a_r, 0, sizeof(*a_r));
		a_r->address = xstrdup(u->address);
		a_r->pw_hash = u->pw_hash != NULL ? xstrdup(u->pw_hash) : NULL;
		/* a Dovecot SCRAM-SHA-256 hash doubles as mailroom's verifier */
		if (password_scram_from_stored(u->pw_hash, &a_r->scram) < 0)
			a_r->scram = NULL;
		a_r->enabled = !u->nologin;
		a_r->pop3_enabled = true;
		a_r->submission_enabled = true;
	}
	pthread_rwlock_unlock(&be->lock);
	free(key);
	return u != NULL ? DIR_OK : DIR_UNKNOWN;
}

static enum dir_status pwfile_resolve(void *p, struct store *st, const char *address,
				      struct dir_resolution *r_r)
{
	struct pwf_backend *be = p;
	char *key = strchr(address, '@') != NULL ? key_make(be, address) : NULL;
	bool found = false;

	if (key == NULL)
		return DIR_UNKNOWN;
	refresh(be);
	pthread_rwlock_rdlock(&be->lock);
	const struct pwf_user *u = pwf_find(&be->table, key);
	if (u != NULL) {
		/* directory.c finds or makes the store mailbox by address */
		dir_resolution_add_mailbox(r_r, u->address);
		found = true;
	}
	pthread_rwlock_unlock(&be->lock);
	free(key);
	return found ? DIR_OK : DIR_UNKNOWN;
}

/* `config check`: the file as it is now parses (serve would keep its last
   good copy of one that does not, so the check reads it afresh). */
static enum dir_status pwfile_probe(void *p, char **text_r)
{
	struct pwf_backend *be = p;
	struct pwf now;
	char *err = NULL;

	if (pwf_load(be->path, be->domain, &now, &err) < 0) {
		*text_r = xasprintf("passwd-file %s", err);
		free(err);
		return DIR_FAILED;
	}
	*text_r = xasprintf("%s: %zu user%s", be->path, now.n, now.n == 1 ? "" : "s");
	pwf_free(&now);
	return DIR_OK;
}

const struct dir_backend_ops dir_passwdfile_ops = {
    .name = "passwd-file",
    /* SCRAM is not advertised for a file whose hashes are mostly crypt(3):
       clients would pick it and fail; with builtin in the chain it is, and
       then {SCRAM-SHA-256} lines take it */
    .flags = 0,
    .open = pwfile_open,
    .close = pwfile_close,
    .lookup = pwfile_lookup,
    .verify = NULL,
    .resolve = pwfile_resolve,
    .probe = pwfile_probe,
};
