/* SPDX-License-Identifier: MIT */
/*
 * store_backup.c - online backup, verify and restore (store.h, "backup,
 * verify, restore"; SPEC §5).
 *
 * Snapshot: `VACUUM INTO` rather than the sqlite3_backup API. Both read the
 * source inside one read transaction, and in WAL mode a reader never blocks
 * a writer: deliveries go on committing to the WAL while the copy runs, and
 * none of their commits is in the copy. The backup API copies page by page
 * and restarts whenever another connection writes between two steps, so
 * under steady delivery it must run as one step (-1) anyway to finish;
 * VACUUM INTO is that single step by construction, one statement that can
 * neither restart nor see a later commit. It also writes a compact file:
 * free pages, which still hold the octets of expunged messages, are not
 * copied, so a backup carries no mail a user deleted. The price is a b-tree
 * rebuild (CPU), paid by the backup process, not by the server. What a long
 * read does cost the server is a WAL that cannot be checkpointed past the
 * snapshot until the copy ends: it grows by what arrives meanwhile and is
 * checkpointed at the next commit after.
 *
 * VACUUM INTO does not fsync its output; the copy, the SRS secret, the
 * MANIFEST and the folder are fsync'ed here before store_backup returns.
 *
 * A backup folder holds:
 *   mailroom.db  the database (WAL mode, so opening it changes no octet)
 *   srs.key      the SRS secret, when the data dir has one (forwarded mail's
 *                bounces come back only to the key that signed them)
 *   MANIFEST     text: format, schema version, snapshot time, counts, and a
 *                "sha256 HEX NAME" line per file (OpenSSL EVP)
 * Opening the database (verify, restore) makes mailroom.db-wal and -shm
 * beside it for as long as it is open; they are no part of the backup.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <dirent.h>
#include <sqlite3.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BACKUP_FORMAT 1
#define MANIFEST_FILE "MANIFEST"
#define DB_FILE "mailroom.db"
#define SRS_FILE "srs.key"
#define MAX_FILES 8
#define STAGE_DIR "restore.tmp" /* inside the data dir, during a restore */

struct manifest {
	int format, schema;
	int64_t taken;
	struct store_check_stats stats;
	size_t n;
	char name[MAX_FILES][64];
	char sha[MAX_FILES][EVP_MAX_MD_SIZE * 2 + 1];
};

/* --- files -------------------------------------------------------------- */

/* SHA-256 of a file in lower-case hex, copying it to `out_fd` on the way
   when that is >= 0. Returns 0, or -1 with errno set. */
static int hash_file(const char *path, int out_fd, char hex[EVP_MAX_MD_SIZE * 2 + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char buf[1 << 16], dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	int ret = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	if (ret < 0)
		errno = ENOMEM;
	while (ret == 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -1 : 0;
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		for (ssize_t off = 0; out_fd >= 0 && off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				ret = -1;
				break;
			}
			off += w;
		}
	}
	int e = errno;
	if (ret == 0 && EVP_DigestFinal_ex(md, dig, &dlen) == 1)
		for (unsigned i = 0; i < dlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", dig[i]);
	else
		ret = -1;
	EVP_MD_CTX_free(md);
	close(fd);
	errno = e;
	return ret;
}

/* Copies src to dst (new, mode 0600) and fsyncs it; the copy's SHA-256 in
   hex. Returns 0, or -1 with errno set (dst removed). */
static int copy_file(const char *src, const char *dst, char hex[EVP_MAX_MD_SIZE * 2 + 1])
{
	int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	int r = hash_file(src, out, hex);
	if (r == 0)
		r = fsync(out);
	int e = errno;
	if (close(out) < 0 && r == 0) {
		r = -1;
		e = errno;
	}
	if (r < 0)
		unlink(dst);
	errno = e;
	return r;
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

/* The process that has the store in `dir` open, or 0: every SQLite
   connection to a WAL database holds a shared lock on byte 128 of the -shm
   file (the "DMS" slot) for as long as it is open, so asking whether a write
   lock there would be granted finds a running server without disturbing it. */
static pid_t store_holder(const char *dir)
{
	char *shm = xasprintf("%s/" DB_FILE "-shm", dir);
	int fd = open(shm, O_RDONLY | O_CLOEXEC);
	free(shm);
	if (fd < 0)
		return 0;
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128, .l_len = 1};
	pid_t pid = 0;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		pid = fl.l_pid > 0 ? fl.l_pid : 1;
	close(fd);
	return pid;
}

/* --- the MANIFEST ------------------------------------------------------- */

static int manifest_write(const char *dir, const struct manifest *m, char *err, size_t err_len)
{
	char *path = xasprintf("%s/" MANIFEST_FILE, dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	char when[32];
	struct tm tm;
	time_t t = (time_t)m->taken;

	if (f == NULL) {
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return -1;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(f, "mailroom-backup %d\nschema %d\ntaken %" PRId64 " %s\n", m->format, m->schema,
		m->taken, when);
	fprintf(f,
		"mailboxes %" PRIu64 "\nmessages %" PRIu64 "\nbodies %" PRIu64 "\noctets %" PRIu64
		"\nqueued %" PRIu64 "\n",
		m->stats.mailboxes, m->stats.messages, m->stats.bodies, m->stats.octets,
		m->stats.queued);
	for (size_t i = 0; i < m->n; i++)
		fprintf(f, "sha256 %s %s\n", m->sha[i], m->name[i]);
	int r = fflush(f) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (r < 0)
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
	if (fclose(f) != 0 && r == 0) {
		snprintf(err, err_len, "cannot write %s: %s", path, strerror(errno));
		r = -1;
	}
	free(path);
	return r;
}

/* Reads DIR/MANIFEST; a line it cannot read is a problem (said in err). */
static int manifest_read(const char *dir, struct manifest *m, char *err, size_t err_len)
{
	char *path = xasprintf("%s/" MANIFEST_FILE, dir);
	FILE *f = fopen(path, "re");
	char line[512];
	unsigned lineno = 0;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	if (f == NULL) {
		snprintf(err, err_len, "%s is missing (%s): the folder is no complete backup", path,
			 strerror(errno));
		free(path);
		return -1;
	}
	while (ret == 0 && fgets(line, sizeof(line), f) != NULL) {
		char key[32], a[160], b[160];
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		int n = sscanf(line, "%31s %159s %159s", key, a, b);
		if (lineno == 1 && (n != 2 || strcmp(key, "mailroom-backup") != 0))
			ret = -1;
		else if (lineno == 1)
			m->format = atoi(a);
		else if (n >= 2 && strcmp(key, "schema") == 0)
			m->schema = atoi(a);
		else if (n >= 2 && strcmp(key, "taken") == 0)
			m->taken = strtoll(a, NULL, 10);
		else if (n == 2 && strcmp(key, "mailboxes") == 0)
			m->stats.mailboxes = strtoull(a, NULL, 10);
		else if (n == 2 && strcmp(key, "messages") == 0)
			m->stats.messages = strtoull(a, NULL, 10);
		else if (n == 2 && strcmp(key, "bodies") == 0)
			m->stats.bodies = strtoull(a, NULL, 10);
		else if (n == 2 && strcmp(key, "octets") == 0)
			m->stats.octets = strtoull(a, NULL, 10);
		else if (n == 2 && strcmp(key, "queued") == 0)
			m->stats.queued = strtoull(a, NULL, 10);
		else if (n == 3 && strcmp(key, "sha256") == 0 && m->n < MAX_FILES &&
			 strlen(a) == 64 && strlen(b) < sizeof(m->name[0]) &&
			 strchr(b, '/') == NULL && b[0] != '.') {
			/* lengths checked above */
			memcpy(m->sha[m->n], a, 65);
			memcpy(m->name[m->n], b, strlen(b) + 1);
			m->n++;
		} else
			ret = -1;
	}
	fclose(f);
	if (ret < 0)
		snprintf(err, err_len, "%s: line %u is not a line of a mailroom backup manifest",
			 path, lineno);
	else if (m->format != BACKUP_FORMAT) {
		snprintf(err, err_len,
			 "%s: backup format %d is not the one this mailroom reads (%d)", path,
			 m->format, BACKUP_FORMAT);
		ret = -1;
	}
	m->stats.taken = m->taken;
	free(path);
	return ret;
}

/* --- counts ------------------------------------------------------------- */

static int64_t count_of(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int read_stats(sqlite3 *db, struct store_check_stats *c, int *schema_r)
{
	int64_t v[6] = {
	    count_of(db, "SELECT count(*) FROM mailboxes"),
	    count_of(db, "SELECT count(*) FROM messages"),
	    count_of(db, "SELECT count(*) FROM bodies"),
	    count_of(db, "SELECT coalesce(sum(size), 0) FROM bodies"),
	    count_of(db, "SELECT count(*) FROM queue"),
	    count_of(db, "SELECT version FROM schema_version"),
	};
	for (size_t i = 0; i < N_ELEMENTS(v); i++)
		if (v[i] < 0)
			return -1;
	c->mailboxes = (uint64_t)v[0];
	c->messages = (uint64_t)v[1];
	c->bodies = (uint64_t)v[2];
	c->octets = (uint64_t)v[3];
	c->queued = (uint64_t)v[4];
	if (schema_r != NULL)
		*schema_r = (int)v[5];
	return 0;
}

/* The same counts through the store's engine (verify of a live store). */
static int store_check_counts(struct store *st, struct store_check_stats *c)
{
	struct db_stmt *s = store_stmt(
	    st, "SELECT (SELECT count(*) FROM mailboxes), (SELECT count(*) FROM messages), "
		"(SELECT count(*) FROM bodies), (SELECT coalesce(sum(size), 0) FROM bodies), "
		"(SELECT count(*) FROM queue)");
	if (s == NULL)
		return STORE_TEMP;
	int rc = db_step(s);
	if (rc != DB_ROW)
		return store_fail(st, rc, "counts");
	c->mailboxes = (uint64_t)db_column_int64(s, 0);
	c->messages = (uint64_t)db_column_int64(s, 1);
	c->bodies = (uint64_t)db_column_int64(s, 2);
	c->octets = (uint64_t)db_column_int64(s, 3);
	c->queued = (uint64_t)db_column_int64(s, 4);
	db_reset(s);
	return STORE_OK;
}

/* --- backup ------------------------------------------------------------- */

/* Removes what a failed backup (or a restore's staging folder) holds; the
   folder goes only if it is empty then. */
static void backup_undo(const char *dir)
{
	static const char *const files[] = {DB_FILE, DB_FILE "-wal", DB_FILE "-shm", SRS_FILE,
					    MANIFEST_FILE};
	for (size_t i = 0; i < N_ELEMENTS(files); i++) {
		char *p = xasprintf("%s/%s", dir, files[i]);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

/* The copy is put in WAL mode (so that opening it later rewrites no header
   octet and the checksum holds) and counted. */
static int backup_prepare_copy(struct store *st, const char *db_path, struct manifest *m)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
	if (rc == SQLITE_OK && read_stats(db, &m->stats, &m->schema) < 0)
		rc = SQLITE_CORRUPT;
	if (rc != SQLITE_OK)
		snprintf(st->err, sizeof(st->err), "cannot read the copy %s: %s", db_path,
			 db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	/* the last connection checkpoints and removes the -wal and -shm files */
	sqlite3_close(db);
	return rc == SQLITE_OK ? STORE_OK : STORE_TEMP;
}

int store_backup(struct store *st, const char *dir, struct store_check_stats *stats)
{
	if (st->sq == NULL) {
		snprintf(st->err, sizeof(st->err),
			 "the store is on %s: back it up with that engine's own tools (pg_dump or "
			 "pg_basebackup, docs/admin.md \"PostgreSQL\"); mailroom backup copies an "
			 "SQLite store",
			 st->ops->name);
		return STORE_INVALID;
	}
	struct manifest m = {.format = BACKUP_FORMAT};
	char *db_path = xasprintf("%s/" DB_FILE, dir);
	char *srs_src = xasprintf("%s/" SRS_FILE, st->data_dir);
	char *srs_dst = xasprintf("%s/" SRS_FILE, dir);
	int r = STORE_OK;

	if (mkdir(dir, 0700) < 0) {
		int e = errno;
		snprintf(st->err, sizeof(st->err),
			 e == EEXIST ? "%s exists: a backup goes into a new folder; give one that "
				       "does not exist"
				     : "cannot make the folder %s: %s",
			 dir, strerror(e));
		r = e == EEXIST ? STORE_EXISTS : e == ENOSPC ? STORE_TEMP : STORE_PERM;
		goto out;
	}
	store_idle(st);
	m.taken = (int64_t)time(NULL);
	sqlite3_stmt *s = NULL;
	mode_t old = umask(077);
	int rc = sqlite3_prepare_v2(st->sq, "VACUUM INTO ?1", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(s, 1, db_path, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	umask(old);
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		r = store_fail(st, rc, "backup");
		goto fail;
	}
	if ((r = backup_prepare_copy(st, db_path, &m)) != STORE_OK)
		goto fail;
	const char *srcs[2] = {db_path, srs_src};
	const char *names[2] = {DB_FILE, SRS_FILE};
	for (size_t i = 0; i < 2; i++) {
		int ok;
		if (i == 0) {
			chmod(db_path, 0600);
			ok = store_fsync_path(db_path, false) == 0 &&
			     hash_file(db_path, -1, m.sha[m.n]) == 0;
		} else {
			if (!exists(srs_src))
				continue;
			ok = copy_file(srs_src, srs_dst, m.sha[m.n]) == 0;
		}
		if (!ok) {
			int e = errno;
			snprintf(st->err, sizeof(st->err), "cannot copy %s into %s: %s", srcs[i],
				 dir, strerror(e));
			r = e == ENOSPC ? STORE_TEMP : STORE_PERM;
			goto fail;
		}
		snprintf(m.name[m.n++], sizeof(m.name[0]), "%s", names[i]);
	}
	if (manifest_write(dir, &m, st->err, sizeof(st->err)) < 0) {
		r = STORE_TEMP;
		goto fail;
	}
	/* the folder's entries, then the folder's own entry in its parent */
	char *parent = xstrdup(dir);
	char *slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	int synced = store_fsync_path(dir, true) == 0 &&
		     store_fsync_path(slash != NULL ? parent : ".", true) == 0;
	free(parent);
	if (!synced) {
		snprintf(st->err, sizeof(st->err), "cannot fsync %s: %s", dir, strerror(errno));
		r = STORE_TEMP;
		goto fail;
	}
	m.stats.taken = m.taken;
	if (stats != NULL)
		*stats = m.stats;
	goto out;
fail:
	backup_undo(dir);
out:
	free(db_path);
	free(srs_src);
	free(srs_dst);
	return r;
}

/* --- verify ------------------------------------------------------------- */

struct checker {
	store_problem_cb *cb;
	void *ctx;
	unsigned problems;
};

static void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct checker *c, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->problems++;
	if (c->cb != NULL)
		c->cb(text, c->ctx);
}

/* Each file against the MANIFEST: missing, changed, or not listed. */
static void verify_manifest(struct checker *c, const char *dir, struct manifest *m, bool *read_r)
{
	char err[768];
	*read_r = manifest_read(dir, m, err, sizeof(err)) == 0;
	if (!*read_r) {
		problem(c, "%s", err);
		return;
	}
	bool has_db = false;
	for (size_t i = 0; i < m->n; i++) {
		char *p = xasprintf("%s/%s", dir, m->name[i]);
		char hex[EVP_MAX_MD_SIZE * 2 + 1];
		has_db |= strcmp(m->name[i], DB_FILE) == 0;
		if (hash_file(p, -1, hex) < 0)
			problem(c, "%s is listed in the MANIFEST but cannot be read: %s", p,
				strerror(errno));
		else if (strcmp(hex, m->sha[i]) != 0)
			problem(c,
				"%s has changed since the backup: its SHA-256 is %s, the MANIFEST "
				"says %s",
				p, hex, m->sha[i]);
		free(p);
	}
	if (!has_db)
		problem(c, "the MANIFEST of %s lists no %s", dir, DB_FILE);
	DIR *d = opendir(dir);
	if (d == NULL) {
		problem(c, "cannot list %s: %s", dir, strerror(errno));
		return;
	}
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		const char *n = e->d_name;
		bool known = strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
			     strcmp(n, MANIFEST_FILE) == 0 || strcmp(n, DB_FILE "-wal") == 0 ||
			     strcmp(n, DB_FILE "-shm") == 0;
		for (size_t i = 0; i < m->n && !known; i++)
			known = strcmp(n, m->name[i]) == 0;
		if (!known)
			problem(c,
				"%s/%s is not listed in the MANIFEST: it is no part of the backup",
				dir, n);
	}
	closedir(d);
}

/* One consistency query: each row it returns is a problem, said by `say`. */
typedef void row_say(struct checker *c, struct db_stmt *s);

static int check_rows(struct store *st, struct checker *c, const char *sql, row_say *say)
{
	struct db_stmt *s = store_stmt(st, sql);
	int rc = DB_DONE;
	if (s == NULL) {
		problem(c, "the store could not be read: %s", store_error(st));
		return -1;
	}
	while ((rc = db_step(s)) == DB_ROW)
		say(c, s);
	db_reset(s);
	if (rc == DB_DONE)
		return 0;
	store_fail(st, rc, "check");
	problem(c, "the store could not be read to the end: %s", store_error(st));
	return -1;
}

#define I64(k) ((long long)db_column_int64(s, k))
#define TXT(k) db_column_text(s, k)

static void say_integrity(struct checker *c, struct db_stmt *s)
{
	if (strcmp(TXT(0) != NULL ? TXT(0) : "", "ok") != 0)
		problem(c, "database integrity: %s", TXT(0));
}

static void say_refcount(struct checker *c, struct db_stmt *s)
{
	if (I64(2) + I64(3) == 0)
		problem(c,
			"body %lld (%lld octets) is used by no message and no queue entry "
			"(reference count %lld): it should have been removed",
			I64(0), I64(4), I64(1));
	else
		problem(c,
			"body %lld has reference count %lld, but %lld messages and %lld queue "
			"entries use it",
			I64(0), I64(1), I64(2), I64(3));
}

static void say_body_size(struct checker *c, struct db_stmt *s)
{
	problem(c, "body %lld says %lld octets but holds %lld", I64(0), I64(1), I64(2));
}

static void say_msg_size(struct checker *c, struct db_stmt *s)
{
	problem(c, "message UID %lld of %s has size %lld, but its body %lld has %lld octets",
		I64(1), TXT(0), I64(2), I64(3), I64(4));
}

static void say_queue_size(struct checker *c, struct db_stmt *s)
{
	problem(c, "queue entry %s has size %lld, but its body %lld has %lld octets", TXT(0),
		I64(1), I64(2), I64(3));
}

/* the mailbox may be missing too */
static void say_msg_body(struct checker *c, struct db_stmt *s)
{
	problem(c, "message %lld (UID %lld of %s) points at body %lld, which does not exist",
		I64(0), I64(1), TXT(3) != NULL ? TXT(3) : "a missing mailbox", I64(2));
}

static void say_msg_mailbox(struct checker *c, struct db_stmt *s)
{
	problem(c, "message %lld (UID %lld) belongs to mailbox %lld, which does not exist", I64(0),
		I64(1), I64(2));
}

static void say_queue_body(struct checker *c, struct db_stmt *s)
{
	problem(c, "queue entry %s points at body %lld, which does not exist", TXT(0), I64(1));
}

static void say_rcpt_queue(struct checker *c, struct db_stmt *s)
{
	problem(c, "a recipient (%s) belongs to queue entry %lld, which does not exist", TXT(1),
		I64(0));
}

static void say_uid(struct checker *c, struct db_stmt *s)
{
	problem(c,
		"mailbox %s: its next UID is %lld, but it holds UID %lld: a new message would "
		"reuse a UID",
		TXT(0), I64(1), I64(2));
}

static void say_used(struct checker *c, struct db_stmt *s)
{
	if (I64(1) != I64(3))
		problem(c,
			"mailbox %s: its use is recorded as %lld octets, but its messages "
			"hold %lld",
			TXT(0), I64(1), I64(3));
	if (I64(2) != I64(4))
		problem(c, "mailbox %s: its message count is recorded as %lld, but it holds %lld",
			TXT(0), I64(2), I64(4));
}

static void say_uidl(struct checker *c, struct db_stmt *s)
{
	problem(c, "mailbox %s: UIDL %s is used by %lld messages", TXT(0), TXT(1), I64(2));
}

/* --- folders (schema 9: store.h S8, S9) --- */

static void say_msg_folder(struct checker *c, struct db_stmt *s)
{
	if (db_column_null(s, 4))
		problem(c, "message %lld (UID %lld of %s) is in folder %lld, which does not exist",
			I64(0), I64(1), TXT(3) != NULL ? TXT(3) : "a missing mailbox", I64(2));
	else
		problem(c,
			"message %lld (UID %lld of %s) is in folder %lld, which belongs to "
			"mailbox %lld",
			I64(0), I64(1), TXT(3) != NULL ? TXT(3) : "a missing mailbox", I64(2),
			I64(4));
}

static void say_folder_mailbox(struct checker *c, struct db_stmt *s)
{
	problem(c, "folder %lld (%s) belongs to mailbox %lld, which does not exist", I64(0), TXT(1),
		I64(2));
}

static void say_inbox(struct checker *c, struct db_stmt *s)
{
	problem(c, "mailbox %s has no INBOX folder", TXT(0));
}

static void say_folder_uid(struct checker *c, struct db_stmt *s)
{
	problem(c,
		"mailbox %s, folder %s: its UIDNEXT is %lld, but it holds UID %lld (RFC 9051 "
		"§2.3.1.1)",
		TXT(0), TXT(1), I64(2), I64(3));
}

static void say_folder_modseq(struct checker *c, struct db_stmt *s)
{
	problem(c,
		"mailbox %s, folder %s: its HIGHESTMODSEQ is %lld, but a message or expunge "
		"record there has modseq %lld (RFC 7162 §3.1)",
		TXT(0), TXT(1), I64(2), I64(3));
}

static void say_uidvalidity(struct checker *c, struct db_stmt *s)
{
	problem(c,
		"mailbox %s, folder %s: UIDVALIDITY %lld is 0, over 32 bits or above the "
		"mailbox's last one (%lld): a folder made again could reuse it",
		TXT(0), TXT(1), I64(2), I64(3));
}

static void say_expunged_folder(struct checker *c, struct db_stmt *s)
{
	problem(c, "%lld expunge records belong to folder %lld, which does not exist", I64(1),
		I64(0));
}

static const struct {
	const char *sql;
	row_say *say;
} checks[] = {
    {"SELECT id, refcount, nm, nq, size FROM (SELECT b.id, b.refcount, b.size,"
     " (SELECT count(*) FROM messages m WHERE m.body_id = b.id) AS nm,"
     " (SELECT count(*) FROM queue q WHERE q.body_id = b.id) AS nq FROM bodies b)"
     " x WHERE refcount != nm + nq OR nm + nq = 0",
     say_refcount},
    {"SELECT id, size, length(data) FROM bodies WHERE size != length(data)", say_body_size},
    {"SELECT mb.address, m.uid, m.size, b.id, b.size FROM messages m"
     " JOIN bodies b ON b.id = m.body_id JOIN mailboxes mb ON mb.id = m.mailbox_id"
     " WHERE m.size != b.size",
     say_msg_size},
    {"SELECT q.qid, q.size, b.id, b.size FROM queue q JOIN bodies b ON b.id = q.body_id"
     " WHERE q.size != b.size",
     say_queue_size},
    {"SELECT m.id, m.uid, m.body_id, mb.address FROM messages m"
     " LEFT JOIN mailboxes mb ON mb.id = m.mailbox_id"
     " WHERE NOT EXISTS (SELECT 1 FROM bodies b WHERE b.id = m.body_id)",
     say_msg_body},
    {"SELECT m.id, m.uid, m.mailbox_id FROM messages m"
     " WHERE NOT EXISTS (SELECT 1 FROM mailboxes mb WHERE mb.id = m.mailbox_id)",
     say_msg_mailbox},
    {"SELECT q.qid, q.body_id FROM queue q"
     " WHERE NOT EXISTS (SELECT 1 FROM bodies b WHERE b.id = q.body_id)",
     say_queue_body},
    {"SELECT r.queue_id, r.address FROM queue_rcpts r"
     " WHERE NOT EXISTS (SELECT 1 FROM queue q WHERE q.id = r.queue_id)",
     say_rcpt_queue},
    {"SELECT mb.address, mb.next_uid, max(m.uid) FROM mailboxes mb"
     " JOIN messages m ON m.mailbox_id = mb.id GROUP BY mb.id HAVING max(m.uid) >= mb.next_uid",
     say_uid},
    {"SELECT address, used, messages, su, n FROM (SELECT mb.address, mb.used, mb.messages,"
     " coalesce(sum(m.size), 0) AS su, count(m.id) AS n FROM mailboxes mb"
     " LEFT JOIN messages m ON m.mailbox_id = mb.id GROUP BY mb.id) x"
     " WHERE used != su OR messages != n",
     say_used},
    {"SELECT mb.address, m.uidl, count(*) FROM messages m JOIN mailboxes mb"
     " ON mb.id = m.mailbox_id WHERE m.uidl IS NOT NULL GROUP BY mb.id, m.uidl"
     " HAVING count(*) > 1",
     say_uidl},
    {"SELECT m.id, m.uid, m.folder_id, mb.address, f.mailbox_id FROM messages m"
     " LEFT JOIN mailboxes mb ON mb.id = m.mailbox_id LEFT JOIN folders f ON f.id = m.folder_id"
     " WHERE f.id IS NULL OR f.mailbox_id != m.mailbox_id",
     say_msg_folder},
    {"SELECT f.id, f.name, f.mailbox_id FROM folders f"
     " WHERE NOT EXISTS (SELECT 1 FROM mailboxes mb WHERE mb.id = f.mailbox_id)",
     say_folder_mailbox},
    {"SELECT mb.address FROM mailboxes mb WHERE NOT EXISTS"
     " (SELECT 1 FROM folders f WHERE f.mailbox_id = mb.id AND f.name = 'INBOX')",
     say_inbox},
    {"SELECT mb.address, f.name, f.uidnext, max(m.uid) FROM folders f"
     " JOIN messages m ON m.folder_id = f.id JOIN mailboxes mb ON mb.id = f.mailbox_id"
     " GROUP BY f.id, mb.id HAVING max(m.uid) >= f.uidnext",
     say_folder_uid},
    {"SELECT mb.address, f.name, f.highestmodseq, max(x.modseq) FROM folders f"
     " JOIN (SELECT folder_id, modseq FROM messages UNION ALL"
     " SELECT folder_id, modseq FROM expunged) x ON x.folder_id = f.id"
     " JOIN mailboxes mb ON mb.id = f.mailbox_id"
     " GROUP BY f.id, mb.id HAVING max(x.modseq) > f.highestmodseq",
     say_folder_modseq},
    {"SELECT mb.address, f.name, f.uidvalidity, mb.last_uidvalidity FROM folders f"
     " JOIN mailboxes mb ON mb.id = f.mailbox_id"
     " WHERE f.uidvalidity <= 0 OR f.uidvalidity > 4294967295"
     " OR f.uidvalidity > mb.last_uidvalidity",
     say_uidvalidity},
    {"SELECT e.folder_id, count(*) FROM expunged e"
     " WHERE NOT EXISTS (SELECT 1 FROM folders f WHERE f.id = e.folder_id) GROUP BY e.folder_id",
     say_expunged_folder},
};

int store_verify(struct store *st, const char *backup_dir, store_problem_cb *cb, void *ctx,
		 struct store_check_stats *stats)
{
	struct checker c = {cb, ctx, 0};
	struct manifest m;
	bool have_manifest = false;
	struct store_check_stats got = {0};

	if (backup_dir != NULL)
		verify_manifest(&c, backup_dir, &m, &have_manifest);
	if (st == NULL) {
		if (stats != NULL)
			*stats = have_manifest ? m.stats : got;
		return c.problems == 0 ? STORE_OK : STORE_INVALID;
	}
	store_idle(st);
	/* one read transaction: every check sees the same state of a live store */
	int r = store_read_begin(st);
	/* SQLite's own check of its file; PostgreSQL checks its pages itself */
	if (r == STORE_OK && st->sq != NULL)
		check_rows(st, &c, "PRAGMA integrity_check", say_integrity);
	for (size_t i = 0; r == STORE_OK && i < N_ELEMENTS(checks); i++)
		check_rows(st, &c, checks[i].sql, checks[i].say);
	if (r == STORE_OK && store_check_counts(st, &got) != STORE_OK)
		problem(&c, "the store's counts cannot be read: %s", store_error(st));
	if (r == STORE_OK)
		store_read_end(st);
	else
		problem(&c, "the store cannot be read: %s", store_error(st));
	if (have_manifest && r == STORE_OK) {
		const char *what[] = {"mailboxes", "messages", "bodies", "octets", "queue entries"};
		uint64_t want[] = {m.stats.mailboxes, m.stats.messages, m.stats.bodies,
				   m.stats.octets, m.stats.queued};
		uint64_t have[] = {got.mailboxes, got.messages, got.bodies, got.octets, got.queued};
		for (size_t i = 0; i < N_ELEMENTS(what); i++)
			if (want[i] != have[i])
				problem(&c,
					"the MANIFEST says %" PRIu64 " %s, the backup's database "
					"holds %" PRIu64,
					want[i], what[i], have[i]);
		got.taken = m.taken;
	}
	if (stats != NULL)
		*stats = got;
	return c.problems == 0 ? STORE_OK : STORE_INVALID;
}

/* --- restore ------------------------------------------------------------ */

struct first_problem {
	char text[512];
	unsigned n;
};

static void keep_first(const char *p, void *ctx)
{
	struct first_problem *f = ctx;
	if (f->n++ == 0)
		snprintf(f->text, sizeof(f->text), "%s", p);
}

static int refuse(const char *backup_dir, const struct first_problem *fp, char *err, size_t err_len)
{
	snprintf(err, err_len,
		 "%s is no good backup (%u problem%s; mailroom verify %s lists them): %s",
		 backup_dir, fp->n, fp->n == 1 ? "" : "s", backup_dir, fp->text);
	return STORE_INVALID;
}

int store_restore(const char *backup_dir, const char *data_dir, char *err, size_t err_len)
{
	static const char *const store_files[] = {DB_FILE, DB_FILE "-wal", DB_FILE "-shm"};
	for (size_t i = 0; i < N_ELEMENTS(store_files); i++) {
		char *p = xasprintf("%s/%s", data_dir, store_files[i]);
		bool there = exists(p);
		free(p);
		if (!there)
			continue;
		pid_t pid = store_holder(data_dir);
		if (pid != 0) {
			snprintf(err, err_len,
				 "the store in %s is in use by process %ld (a running mailroom "
				 "serve?): stop the server; restore goes only into an empty data "
				 "dir",
				 data_dir, (long)pid);
			return STORE_TEMP;
		}
		snprintf(err, err_len,
			 "%s already holds a store (%s): restore goes only into a data dir "
			 "without one; move the store away first",
			 data_dir, store_files[i]);
		return STORE_EXISTS;
	}

	/* the files against the MANIFEST first, on the backup as it is; then
	   the data, on a copy in a staging folder inside data_dir: opening a
	   database may migrate it to this mailroom's schema, and the backup is
	   never written to */
	struct first_problem fp = {.n = 0};
	struct manifest m;
	store_verify(NULL, backup_dir, keep_first, &fp, NULL);
	if (fp.n == 0 && manifest_read(backup_dir, &m, err, err_len) < 0)
		return STORE_INVALID;
	if (fp.n > 0)
		return refuse(backup_dir, &fp, err, err_len);
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, err_len, "cannot make the folder %s: %s", data_dir, strerror(errno));
		return STORE_PERM;
	}
	char *stage = xasprintf("%s/" STAGE_DIR, data_dir);
	backup_undo(stage); /* left by an interrupted restore */
	int r = STORE_OK;
	if (mkdir(stage, 0700) < 0) {
		snprintf(err, err_len, "cannot make the folder %s: %s", stage, strerror(errno));
		r = errno == ENOSPC ? STORE_TEMP : STORE_PERM;
	}
	for (size_t i = 0; i < m.n && r == STORE_OK; i++) {
		char *src = xasprintf("%s/%s", backup_dir, m.name[i]);
		char *dst = xasprintf("%s/%s", stage, m.name[i]);
		char hex[EVP_MAX_MD_SIZE * 2 + 1];
		if (copy_file(src, dst, hex) < 0) {
			int e = errno;
			snprintf(err, err_len, "cannot copy %s to %s: %s", src, dst, strerror(e));
			r = e == ENOSPC ? STORE_TEMP : STORE_PERM;
		} else if (strcmp(hex, m.sha[i]) != 0) {
			snprintf(err, err_len, "%s changed while it was restored: nothing restored",
				 src);
			r = STORE_INVALID;
		}
		free(src);
		free(dst);
	}
	if (r == STORE_OK) {
		struct store *st = NULL;
		if (store_open(stage, false, &st) != STORE_OK)
			keep_first(store_error(st), &fp);
		else
			store_verify(st, NULL, keep_first, &fp, NULL);
		store_close(&st);
		if (fp.n > 0)
			r = refuse(backup_dir, &fp, err, err_len);
	}
	/* the database last: until it is in place the data dir holds no store,
	   so an interrupted restore can simply be run again */
	for (int last = 0; last < 2 && r == STORE_OK; last++)
		for (size_t i = 0; i < m.n && r == STORE_OK; i++) {
			if ((strcmp(m.name[i], DB_FILE) == 0) != (last == 1))
				continue;
			char *src = xasprintf("%s/%s", stage, m.name[i]);
			char *dst = xasprintf("%s/%s", data_dir, m.name[i]);
			if (rename(src, dst) < 0) {
				snprintf(err, err_len, "cannot rename %s to %s: %s", src, dst,
					 strerror(errno));
				r = STORE_PERM;
			}
			free(src);
			free(dst);
		}
	if (r == STORE_OK && store_fsync_path(data_dir, true) < 0) {
		snprintf(err, err_len, "cannot fsync %s: %s", data_dir, strerror(errno));
		r = STORE_TEMP;
	}
	backup_undo(stage);
	free(stage);
	return r;
}
