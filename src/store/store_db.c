/* SPDX-License-Identifier: MIT */
/*
 * store_db.c - what the store does the same on every engine: opening the
 * engine [store] backend names, the prepared-statement cache, transactions,
 * the error text, and the address rules. The engines are store_sqlite.c
 * and store_pg.c (store_private.h, "the SQL engine").
 */
#include "store/store_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Chosen once per process, before the first store_open (store.h). */
static enum store_backend cur_backend = STORE_BACKEND_SQLITE;
static char *cur_dsn;

void store_configure(enum store_backend backend, const char *dsn)
{
	cur_backend = backend;
	free(cur_dsn);
	cur_dsn = dsn != NULL ? xstrdup(dsn) : NULL;
}

enum store_backend store_backend(void)
{
	return cur_backend;
}

int store_open(const char *data_dir, bool create, struct store **st_r)
{
	if (cur_backend == STORE_BACKEND_POSTGRESQL)
		return store_pg_open(data_dir, cur_dsn, create, st_r);
	return store_sqlite_open(data_dir, create, st_r);
}

void store_close(struct store **stp)
{
	struct store *st = *stp;
	if (st == NULL)
		return;
	store_import_cache_free(st);
	for (size_t i = 0; i < st->n_cached; i++)
		st->ops->finalize(st->cache[i].stmt);
	st->ops->close(st);
	free(st->where);
	free(st->data_dir);
	free(st);
	*stp = NULL;
}

struct db_stmt *store_stmt(struct store *st, const char *sql)
{
	for (size_t i = 0; i < st->n_cached; i++)
		if (st->cache[i].sql == sql) {
			db_reset(st->cache[i].stmt);
			return st->cache[i].stmt;
		}
	int rc = DB_OK;
	struct db_stmt *s = st->ops->prepare(st, sql, &rc);
	if (s == NULL) {
		store_fail(st, rc, "prepare");
		return NULL;
	}
	if (st->n_cached < STORE_STMT_CACHE)
		st->cache[st->n_cached++] = (struct store_stmt){sql, s};
	else
		log_panic("store: statement cache full; raise STORE_STMT_CACHE");
	return s;
}

static bool log_failures;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_last[sizeof(((struct store *)0)->err)];
static time_t log_last_at;

void store_log_failures(bool on)
{
	log_failures = on;
}

/* The server's log says why the store failed (the client only hears "try
   again"): each text once, again after STORE_LOG_EVERY seconds, so an
   outage that fails every statement writes a line, not a flood. */
#define STORE_LOG_EVERY 10

int store_fail(struct store *st, int rc, const char *what)
{
	int r = st->ops->fail(st, rc, what);
	if (!log_failures || (r != STORE_TEMP && r != STORE_PERM))
		return r;
	time_t now = time(NULL);
	pthread_mutex_lock(&log_mu);
	bool say = strcmp(log_last, st->err) != 0 || now - log_last_at >= STORE_LOG_EVERY;
	if (say) {
		snprintf(log_last, sizeof(log_last), "%s", st->err);
		log_last_at = now;
	}
	pthread_mutex_unlock(&log_mu);
	if (say)
		log_warn("store: %s", st->err);
	return r;
}

int store_insert_id(struct store *st, struct db_stmt *s, const char *what, int64_t *id_r)
{
	int rc = db_step(s);
	if (rc == DB_ROW) {
		*id_r = db_column_int64(s, 0);
		db_reset(s);
		return STORE_OK;
	}
	if (rc == DB_DONE) {
		snprintf(st->err, sizeof(st->err), "%s: no row was made", what);
		return STORE_NOTFOUND;
	}
	return store_fail(st, rc, what);
}

void store_idle(struct store *st)
{
	for (size_t i = 0; i < st->n_cached; i++)
		if (st->ops->busy(st->cache[i].stmt))
			db_reset(st->cache[i].stmt);
}

int store_exec(struct store *st, const char *sql)
{
	int rc = st->ops->exec(st, sql);
	return rc == DB_OK ? STORE_OK : store_fail(st, rc, "exec");
}

int store_begin(struct store *st)
{
	int rc = st->ops->begin(st, true);
	return rc == DB_OK ? STORE_OK : store_fail(st, rc, "begin");
}

int store_read_begin(struct store *st)
{
	int rc = st->ops->begin(st, false);
	return rc == DB_OK ? STORE_OK : store_fail(st, rc, "begin");
}

void store_read_end(struct store *st)
{
	store_rollback(st); /* nothing was written: ending the snapshot is all */
}

void store_rollback(struct store *st)
{
	store_idle(st);
	st->ops->rollback(st);
}

int store_commit(struct store *st)
{
	if (st->fail_next_commit) {
		st->fail_next_commit = false;
		store_rollback(st);
		snprintf(st->err, sizeof(st->err), "commit: injected failure");
		return STORE_TEMP;
	}
	store_idle(st);
	int rc = st->ops->commit(st);
	if (rc != DB_OK) {
		int r = store_fail(st, rc, "commit");
		store_rollback(st);
		return r;
	}
	return STORE_OK;
}

void store_test_fail_next_commit(struct store *st)
{
	st->fail_next_commit = true;
}

const char *store_where(struct store *st)
{
	if (st->where == NULL)
		st->where = st->ops->where(st);
	return st->where;
}

const char *store_error(const struct store *st)
{
	return st->err[0] != '\0' ? st->err : "no error";
}

int store_fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

/* --- addresses ------------------------------------------------------------- */

static bool domain_valid(const char *d)
{
	size_t label = 0, len = strlen(d);
	if (len == 0 || len > 253 || d[len - 1] == '.' || d[len - 1] == '-' || d[0] == '.')
		return false;
	for (const char *p = d; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
			return false;
		if (label == 0 && *p == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

/* Local parts: RFC 5321 dot-atom characters. Quoted local parts are refused:
   they are legal but a classic source of relay and alias confusion. */
static bool local_valid(const char *l, size_t n)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~.";
	if (n == 0 || n > 64 || l[0] == '.' || l[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];
		if (c == '.' && l[i + 1] == '.')
			return false;
		if (!(isalnum(c) || strchr(specials, c) != NULL || c >= 0x80))
			return false;
	}
	return true;
}

char *store_norm_address(const char *address)
{
	size_t len = strlen(address);
	const char *at = strrchr(address, '@');
	if (len == 0 || len > 254 || at == NULL || strchr(address, '@') != at)
		return NULL;
	if (!local_valid(address, (size_t)(at - address)) || !domain_valid(at + 1))
		return NULL;
	char *a = xstrdup(address);
	for (char *p = a; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return a;
}

const char *store_addr_domain(const char *address)
{
	const char *at = strrchr(address, '@');
	return at != NULL ? at + 1 : address;
}

char *store_norm_domain(const char *name)
{
	if (!domain_valid(name))
		return NULL;
	char *d = xstrdup(name);
	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

int64_t store_domain_id(struct store *st, const char *domain)
{
	struct db_stmt *s = store_stmt(st, "SELECT id FROM domains WHERE name = ?1");
	if (s == NULL)
		return -1;
	db_bind_text(s, 1, domain, -1);
	int rc = db_step(s);
	if (rc == DB_ROW)
		return db_column_int64(s, 0);
	if (rc == DB_DONE)
		return 0;
	store_fail(st, rc, "domain lookup");
	return -1;
}
