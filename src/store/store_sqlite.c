/* SPDX-License-Identifier: MIT */
/*
 * store_sqlite.c - the SQLite engine of the store ([store] backend =
 * sqlite, the default): opening the database, migrations (S6), the ops
 * table of store_private.h, and the error mapping (S7). See store.h for the
 * invariants.
 *
 * Durability (S1): WAL journal with synchronous=FULL, so COMMIT returns only
 * after the WAL is fsync'ed. Writers start with BEGIN IMMEDIATE, taking the
 * write lock up front; with busy_timeout this makes concurrent writers (the
 * server's workers and the CLI) queue instead of failing on lock upgrade.
 */
#include "store/store_private.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/mem.h"

#include <sqlite3.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_DB_FILE "mailroom.db"
#define STORE_BUSY_MS 10000

/* Numbered migrations: entry i takes the schema from version i to i + 1.
   Never edit a released entry; append a new one. */
static const char *const migrations[] = {
    /* 1: domains, mailboxes, aliases, single-instance bodies, messages */
    "CREATE TABLE domains ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " type INTEGER NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE mailboxes ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: UIDLs stay unique (S3) */
    " address TEXT NOT NULL UNIQUE,"
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " pw_hash TEXT NOT NULL,"
    " scram TEXT,"
    " apop_secret TEXT,"
    " quota INTEGER NOT NULL DEFAULT 0,"
    " used INTEGER NOT NULL DEFAULT 0,"
    " messages INTEGER NOT NULL DEFAULT 0,"
    " pop3_enabled INTEGER NOT NULL DEFAULT 1,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " next_uid INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE aliases ("
    " address TEXT NOT NULL,"
    " target TEXT NOT NULL,"
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " PRIMARY KEY (address, target));"
    "CREATE TABLE bodies ("
    " id INTEGER PRIMARY KEY,"
    " refcount INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY,"
    " mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
    " uid INTEGER NOT NULL,"
    " body_id INTEGER NOT NULL REFERENCES bodies(id),"
    " size INTEGER NOT NULL,"
    " uidl TEXT,"
    " received INTEGER NOT NULL,"
    " UNIQUE (mailbox_id, uid));"
    "CREATE INDEX messages_body ON messages(body_id);",
    /* 2: the outbound queue; a queued message holds one reference on its body */
    "CREATE TABLE queue ("
    " id INTEGER PRIMARY KEY,"
    " qid TEXT NOT NULL UNIQUE,"
    " sender TEXT NOT NULL,"
    " body_id INTEGER NOT NULL REFERENCES bodies(id),"
    " size INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " next_attempt INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " held INTEGER NOT NULL DEFAULT 0,"
    " auth_user TEXT,"
    " dsn_envid TEXT,"
    " dsn_ret TEXT);"
    "CREATE TABLE queue_rcpts ("
    " queue_id INTEGER NOT NULL REFERENCES queue(id),"
    " address TEXT NOT NULL,"
    " dsn_notify TEXT,"
    " dsn_orcpt TEXT,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " last_error TEXT,"
    " PRIMARY KEY (queue_id, address));"
    "CREATE INDEX queue_next ON queue(next_attempt);",
    /* 3: routes (SPEC §4 connectors) and delivery bookkeeping */
    "CREATE TABLE routes ("
    " space TEXT PRIMARY KEY," /* "example.org", "*.example.org" or "*" */
    " hop TEXT NOT NULL,"      /* "host[:port]", "[ip][:port]" or "mx" */
    " tls TEXT NOT NULL,"      /* none, may, encrypt, verify */
    " auth_user TEXT,"
    " auth_secret TEXT);"
    "ALTER TABLE queue ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE queue_rcpts ADD COLUMN remote_reply TEXT;",
    /* 4: domain aliases (SPEC §4): every address of the alias is valid in
       the target domain */
    "ALTER TABLE domains ADD COLUMN alias_of INTEGER REFERENCES domains(id);",
    /* 5: per-mailbox switch for SMTP submission (SPEC §4 enabled protocols) */
    "ALTER TABLE mailboxes ADD COLUMN submission_enabled INTEGER NOT NULL DEFAULT 1;",
    /* 6: the built-in postmaster mailbox (RFC 5321 §4.5.1: postmaster is
       accepted from the first start). It has no domain and no password
       until the admin sets one. SQLite cannot relax NOT NULL in place, so
       the table is rebuilt (runs with foreign keys off, see migrate());
       ids and their AUTOINCREMENT counter are kept, so no id is reused (S3). */
    "CREATE TABLE mailboxes_v6 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " address TEXT NOT NULL UNIQUE,"
    " domain_id INTEGER REFERENCES domains(id)," /* NULL: the built-in postmaster */
    " pw_hash TEXT,"				 /* NULL: no password, no login */
    " scram TEXT,"
    " apop_secret TEXT,"
    " quota INTEGER NOT NULL DEFAULT 0,"
    " used INTEGER NOT NULL DEFAULT 0,"
    " messages INTEGER NOT NULL DEFAULT 0,"
    " pop3_enabled INTEGER NOT NULL DEFAULT 1,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " next_uid INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL,"
    " submission_enabled INTEGER NOT NULL DEFAULT 1);"
    "INSERT INTO mailboxes_v6 (id, address, domain_id, pw_hash, scram, apop_secret, quota,"
    " used, messages, pop3_enabled, enabled, next_uid, created, submission_enabled)"
    " SELECT id, address, domain_id, pw_hash, scram, apop_secret, quota, used, messages,"
    " pop3_enabled, enabled, next_uid, created, submission_enabled FROM mailboxes;"
    "DELETE FROM sqlite_sequence WHERE name = 'mailboxes_v6';"
    "UPDATE sqlite_sequence SET name = 'mailboxes_v6' WHERE name = 'mailboxes';"
    "DROP TABLE mailboxes;"
    "ALTER TABLE mailboxes_v6 RENAME TO mailboxes;"
    "INSERT INTO mailboxes (address, domain_id, pw_hash, created)"
    " VALUES ('" STORE_POSTMASTER "', NULL, NULL, CAST(strftime('%s', 'now') AS INTEGER));",
    /* 7: mailboxes of accounts that live in another directory backend
       (directory.h): the backend's name, NULL for built-in accounts */
    "ALTER TABLE mailboxes ADD COLUMN source TEXT;",
    /* 8: the local delivery path's data (delivery/delivery.h). Quota levels
       and sending limits per mailbox (-1: the domain's default) and per
       domain (0: none); a quota of 0 so far meant "none", which is now the
       domain's default, itself none until set. Forwarding, auto-replies,
       distribution lists, side effects sent at most once, and the
       submissions each mailbox made (rate limits). */
    "UPDATE mailboxes SET quota = -1 WHERE quota = 0;"
    "ALTER TABLE mailboxes ADD COLUMN quota_warn INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN quota_send INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN max_message_size INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN max_recipients INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN messages_per_hour INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN messages_per_day INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN recipients_per_hour INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN recipients_per_day INTEGER NOT NULL DEFAULT -1;"
    "ALTER TABLE mailboxes ADD COLUMN forward TEXT;" /* comma-separated, NULL: none */
    "ALTER TABLE mailboxes ADD COLUMN keep_copy INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE domains ADD COLUMN quota_warn INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN quota_send INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN quota INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN max_message_size INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN max_recipients INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN messages_per_hour INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN messages_per_day INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN recipients_per_hour INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE domains ADD COLUMN recipients_per_day INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE vacations ("
    " mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id),"
    " subject TEXT NOT NULL,"
    " body TEXT NOT NULL,"
    " external_subject TEXT,"
    " external_body TEXT,"
    " until INTEGER NOT NULL DEFAULT 0," /* unix time, 0: no end */
    " interval_days INTEGER NOT NULL DEFAULT 7,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE lists ("
    " id INTEGER PRIMARY KEY,"
    " address TEXT NOT NULL UNIQUE,"
    " domain_id INTEGER NOT NULL REFERENCES domains(id),"
    " senders INTEGER NOT NULL DEFAULT 0," /* enum store_list_senders */
    " owner TEXT,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE list_members ("
    " list_id INTEGER NOT NULL REFERENCES lists(id),"
    " member TEXT NOT NULL,"
    " PRIMARY KEY (list_id, member));"
    "CREATE TABLE list_senders ("
    " list_id INTEGER NOT NULL REFERENCES lists(id),"
    " sender TEXT NOT NULL,"
    " PRIMARY KEY (list_id, sender));"
    "CREATE TABLE once ("
    " key TEXT PRIMARY KEY,"
    " until INTEGER NOT NULL);"
    "CREATE TABLE sent ("
    " mailbox_id INTEGER NOT NULL,"
    " at INTEGER NOT NULL,"
    " recipients INTEGER NOT NULL);"
    "CREATE INDEX sent_mailbox ON sent(mailbox_id, at);",
    /* 9: folders for IMAP (store.h S8-S10). Every mailbox gets INBOX and
       the five RFC 6154 special-use folders, subscribed; INBOX's uidnext is
       the mailbox's UID counter and every message goes into INBOX with the
       UID it had, so POP3 serves the same UIDLs. UIDVALIDITY is a 32-bit
       unix time (never 0), and mailboxes.last_uidvalidity the largest one a
       mailbox has used, so a folder made again gets a larger one. Messages
       gain flags (enum store_flag), keywords and a modseq (RFC 7162), 1 for
       the ones already there; `expunged` keeps (folder, UID, modseq) for
       QRESYNC's VANISHED, folders.pruned_modseq the highest modseq of the
       records pruned. Bodies gain a cache of their parsed MIME structure.
       Set-based statements only: a big store migrates in one pass per step. */
    "CREATE TABLE folders ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT," /* never reused: QRESYNC state stays apart */
    " mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
    " name TEXT NOT NULL,"		   /* UTF-8, '/' between levels; INBOX as "INBOX" */
    " special INTEGER NOT NULL DEFAULT 0," /* enum store_special */
    " subscribed INTEGER NOT NULL DEFAULT 0,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " pruned_modseq INTEGER NOT NULL DEFAULT 0,"
    " keywords TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL,"
    " UNIQUE (mailbox_id, name));"
    "ALTER TABLE mailboxes ADD COLUMN last_uidvalidity INTEGER NOT NULL DEFAULT 0;"
    "UPDATE mailboxes SET last_uidvalidity ="
    " max(1, CAST(strftime('%s', 'now') AS INTEGER) % 4294967296);"
    "INSERT INTO folders (mailbox_id, name, special, subscribed, uidvalidity, uidnext,"
    " created) SELECT m.id, d.column1, d.column2, 1, m.last_uidvalidity, m.next_uid,"
    " CAST(strftime('%s', 'now') AS INTEGER) FROM mailboxes m, (VALUES ('INBOX', 0),"
    " ('Sent', 1), ('Drafts', 2), ('Trash', 3), ('Junk', 4), ('Archive', 5)) d"
    " ORDER BY m.id, d.column2;"
    "ALTER TABLE messages ADD COLUMN folder_id INTEGER REFERENCES folders(id);"
    "ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE messages ADD COLUMN keywords TEXT;" /* space-separated, NULL: none */
    "ALTER TABLE messages ADD COLUMN modseq INTEGER NOT NULL DEFAULT 1;"
    "UPDATE messages SET folder_id = (SELECT f.id FROM folders f WHERE"
    " f.mailbox_id = messages.mailbox_id AND f.name = 'INBOX');"
    "CREATE INDEX messages_folder_uid ON messages(folder_id, uid);"
    "CREATE INDEX messages_folder_modseq ON messages(folder_id, modseq);"
    "CREATE TABLE expunged ("
    " folder_id INTEGER NOT NULL REFERENCES folders(id),"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " at INTEGER NOT NULL);"
    "CREATE INDEX expunged_modseq ON expunged(folder_id, modseq);"
    "CREATE INDEX expunged_at ON expunged(folder_id, at);"
    "ALTER TABLE bodies ADD COLUMN mime BLOB;",
    /* 10: DKIM signing keys per hosted domain (store.h "DKIM signing
       keys"), a counter every change to them bumps (the delivery threads
       re-read the keys when it moves), and whether a queued message
       originates here (a submission login, `mailroom deliver`, mailroom's
       own reports): only those are signed. Messages queued before are
       not. */
    "CREATE TABLE dkim_keys ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " domain TEXT NOT NULL,"	/* lower case, a hosted domain */
    " selector TEXT NOT NULL,"	/* lower case */
    " algorithm TEXT NOT NULL," /* rsa, ed25519 */
    " bits INTEGER NOT NULL,"
    " private_key TEXT NOT NULL," /* PEM (PKCS#8): a secret */
    " state TEXT NOT NULL,"	  /* active, retiring */
    " created INTEGER NOT NULL,"
    " UNIQUE (domain, selector));"
    "CREATE TABLE dkim_changes (n INTEGER NOT NULL);"
    "INSERT INTO dkim_changes VALUES (0);"
    "ALTER TABLE queue ADD COLUMN local_origin INTEGER NOT NULL DEFAULT 0;",
    /* 11: claims on queued messages (store_queue.h store_queue_claim): the
       node delivering one and until when its claim holds, so several
       servers on one PostgreSQL store never deliver a message at once */
    ("ALTER TABLE queue ADD COLUMN lease_node TEXT;"
     "ALTER TABLE queue ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;"),
};

/* Environment failures are said in the admin's terms, with the place and
   what to do; they do not depend on the operation, so `what` is left out.
   Anything else keeps the operation and SQLite's own text. */
static int sq_fail(struct store *st, int rc, const char *what)
{
	int prim = rc & 0xff;
	int os_errno = st->sq != NULL ? sqlite3_system_errno(st->sq) : 0;
	const char *dir = st->data_dir != NULL ? st->data_dir : "the data dir";

	if (prim == SQLITE_FULL || (prim == SQLITE_IOERR && os_errno == ENOSPC)) {
		snprintf(st->err, sizeof(st->err),
			 "the disk is full: no space left for the store in %s; free some space, "
			 "then try again",
			 dir);
		return STORE_TEMP;
	}
	switch (prim) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		snprintf(st->err, sizeof(st->err),
			 "the store in %s is busy (another writer holds its lock); try again", dir);
		return STORE_TEMP;
	case SQLITE_IOERR:
		snprintf(st->err, sizeof(st->err),
			 "I/O error on the store in %s%s%s; check the disk", dir,
			 os_errno != 0 ? ": " : "", os_errno != 0 ? strerror(os_errno) : "");
		return STORE_TEMP;
	case SQLITE_CANTOPEN:
		snprintf(st->err, sizeof(st->err), "cannot open the store files in %s%s%s", dir,
			 os_errno != 0 ? ": " : "", os_errno != 0 ? strerror(os_errno) : "");
		return STORE_TEMP;
	case SQLITE_READONLY:
		snprintf(st->err, sizeof(st->err),
			 "the store in %s is read-only: check the owner and mode of its files and "
			 "that the disk is mounted read-write",
			 dir);
		return STORE_PERM;
	case SQLITE_NOMEM:
		snprintf(st->err, sizeof(st->err), "out of memory");
		return STORE_TEMP;
	case SQLITE_PROTOCOL:
		snprintf(st->err, sizeof(st->err),
			 "the store in %s is busy (lock protocol); try again", dir);
		return STORE_TEMP;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		snprintf(st->err, sizeof(st->err),
			 "%s/mailroom.db is damaged or not a mailroom store (%s)", dir,
			 sqlite3_errstr(rc));
		return STORE_PERM;
	}
	snprintf(st->err, sizeof(st->err), "%s: %s", what,
		 st->sq != NULL ? sqlite3_errmsg(st->sq) : sqlite3_errstr(rc));
	return prim == SQLITE_CONSTRAINT ? STORE_EXISTS : STORE_PERM;
}

/* --- the engine's ops ------------------------------------------------------- */

struct sq_stmt {
	struct db_stmt base;
	sqlite3_stmt *s;
};

#define SQ(x) (((struct sq_stmt *)(x))->s)

static struct db_stmt *sq_prepare(struct store *st, const char *sql, int *rc_r)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v3(st->sq, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
	if (rc != SQLITE_OK) {
		*rc_r = rc;
		return NULL;
	}
	struct sq_stmt *q = xcalloc(1, sizeof(*q));
	q->base.ops = &store_sqlite_ops;
	q->s = s;
	return &q->base;
}

static void sq_finalize(struct db_stmt *s)
{
	sqlite3_finalize(SQ(s));
	free(s);
}

static void sq_reset(struct db_stmt *s)
{
	sqlite3_reset(SQ(s));
	sqlite3_clear_bindings(SQ(s));
}

static bool sq_busy(struct db_stmt *s)
{
	return sqlite3_stmt_busy(SQ(s)) != 0;
}

static void sq_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	sqlite3_bind_int64(SQ(s), i, v);
}

static void sq_bind_text(struct db_stmt *s, int i, const char *v, int n, bool copy)
{
	sqlite3_bind_text(SQ(s), i, v, n, copy ? SQLITE_TRANSIENT : SQLITE_STATIC);
}

static void sq_bind_blob(struct db_stmt *s, int i, const void *v, size_t n)
{
	sqlite3_bind_blob64(SQ(s), i, v, n, SQLITE_STATIC);
}

static void sq_bind_null(struct db_stmt *s, int i)
{
	sqlite3_bind_null(SQ(s), i);
}

static int sq_step(struct db_stmt *s)
{
	return sqlite3_step(SQ(s));
}

static int64_t sq_column_int64(struct db_stmt *s, int i)
{
	return sqlite3_column_int64(SQ(s), i);
}

static const char *sq_column_text(struct db_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(SQ(s), i);
}

static const void *sq_column_blob(struct db_stmt *s, int i)
{
	return sqlite3_column_blob(SQ(s), i);
}

static size_t sq_column_bytes(struct db_stmt *s, int i)
{
	return (size_t)sqlite3_column_bytes(SQ(s), i);
}

static bool sq_column_null(struct db_stmt *s, int i)
{
	return sqlite3_column_type(SQ(s), i) == SQLITE_NULL;
}

static int64_t sq_changes(struct store *st)
{
	return sqlite3_changes64(st->sq);
}

static int sq_exec(struct store *st, const char *sql)
{
	return sqlite3_exec(st->sq, sql, NULL, NULL, NULL);
}

/* Writers take the write lock first (BEGIN IMMEDIATE): with busy_timeout
   concurrent writers queue instead of failing on lock upgrade; a reader's
   first read takes its snapshot. */
static int sq_begin(struct store *st, bool write)
{
	return sq_exec(st, write ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
}

static int sq_commit(struct store *st)
{
	return sq_exec(st, "COMMIT");
}

static void sq_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->sq))
		sqlite3_exec(st->sq, "ROLLBACK", NULL, NULL, NULL);
}

/* SQLite clamps it to SQLITE_MAX_MMAP_SIZE (0x7fff0000 on Linux). */
#define STORE_BODY_MMAP_ON "PRAGMA mmap_size=2147418112"
#define STORE_BODY_MMAP_MIN (8 * 1024 * 1024)

/* SQLite walks a blob's overflow chain from its start on every open, so a
   piece costs about off/page_size page lookups. Mapped pages make each
   lookup a memory read instead of a pread() (a 50 MiB body in 60 KiB
   pieces: 0.8 s of CPU instead of 4 s). The mapping lives only for this
   read, so the handle's other work and the process's RSS are as before.
   Known limit: an I/O error on a mapped page is SIGBUS, not SQLITE_IOERR (SQLite,
   "Memory-Mapped I/O"); nothing truncates the database while the server
   runs (no VACUUM). Best effort: without the pragma the read still works.
   Only for bodies past STORE_BODY_MMAP_MIN: for a smaller one the chain is
   a few hundred pages, mostly in SQLite's page cache, and mapping the file
   then unmapping it again cost more than the reads (page faults, and an
   unmap that interrupts every core to flush its TLB): a fifth of the
   server's CPU in a POP3 load of 4 KiB messages, and RETR of 1 MiB messages
   went from 640 to 820 MiB/s at 8 clients without it. */
static int sq_body_read(struct store *st, int64_t body_id, uint64_t size, uint64_t off, void *dst,
			size_t len)
{
	sqlite3_blob *blob = NULL;
	int ret = STORE_OK;

	if (off + len > INT32_MAX) {
		/* sqlite3_blob_read() takes int offsets; SQLite's own blob limit
		   (SQLITE_MAX_LENGTH) is 1e9 octets, so no stored body is this big */
		snprintf(st->err, sizeof(st->err), "body %" PRId64 " is too large", body_id);
		return STORE_PERM;
	}
	bool mapped = size >= STORE_BODY_MMAP_MIN;
	if (mapped)
		(void)sqlite3_exec(st->sq, STORE_BODY_MMAP_ON, NULL, NULL, NULL);
	int rc = sqlite3_blob_open(st->sq, "main", "bodies", "data", body_id, 0, &blob);
	if (rc == SQLITE_OK && (uint64_t)sqlite3_blob_bytes(blob) != size) {
		snprintf(st->err, sizeof(st->err), "body %" PRId64 " is not %" PRIu64 " octets",
			 body_id, size);
		ret = STORE_PERM; /* the size column and the data disagree: corrupt */
	} else {
		if (rc == SQLITE_OK)
			rc = sqlite3_blob_read(blob, dst, (int)len, (int)off);
		if (rc != SQLITE_OK)
			ret = sq_fail(st, rc, "body read");
	}
	if (blob != NULL)
		sqlite3_blob_close(blob);
	if (mapped)
		(void)sqlite3_exec(st->sq, "PRAGMA mmap_size=0", NULL, NULL, NULL);
	return ret;
}

static char *sq_where(struct store *st)
{
	return xasprintf("%s/%s", st->data_dir, STORE_DB_FILE);
}

static void sq_close(struct store *st)
{
	if (st->sq != NULL)
		sqlite3_close(st->sq);
	st->sq = NULL;
}

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .reset = sq_reset,
    .busy = sq_busy,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .column_int64 = sq_column_int64,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .column_bytes = sq_column_bytes,
    .column_null = sq_column_null,
    .changes = sq_changes,
    .exec = sq_exec,
    .fail = sq_fail,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .body_read = sq_body_read,
    .close = sq_close,
    .where = sq_where,
    .sql_data_version = "PRAGMA data_version",
    .sql_stats = "SELECT (SELECT count(*) FROM queue), (SELECT min(created) FROM queue), "
		 "(SELECT count(*) FROM bodies), (SELECT p.page_count * s.page_size FROM "
		 "pragma_page_count() p, pragma_page_size() s)",
};

/* The store's own SQL functions (store_private.h). */
static void fn_octets(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		sqlite3_result_null(ctx);
	else /* a text's length in octets, as a blob's */
		sqlite3_result_int64(ctx, sqlite3_value_bytes(argv[0]));
}

static void fn_uidl(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char u[40];
	(void)argc;
	snprintf(u, sizeof(u), STORE_UIDL_FMT, (uint64_t)sqlite3_value_int64(argv[0]),
		 (uint64_t)sqlite3_value_int64(argv[1]));
	sqlite3_result_text(ctx, u, -1, SQLITE_TRANSIENT);
}

static int sq_functions(sqlite3 *db)
{
	int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
	int rc =
	    sqlite3_create_function_v2(db, "octets", 1, flags, NULL, fn_octets, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function_v2(db, "mailroom_uidl", 2, flags, NULL, fn_uidl, NULL,
						NULL, NULL);
	return rc;
}

static int schema_version(struct store *st, int *v_r)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->sq, "SELECT version FROM schema_version", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		*v_r = 0; /* no table yet: a new database */
		return STORE_OK;
	}
	rc = sqlite3_step(s);
	*v_r = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	sqlite3_finalize(s);
	return STORE_OK;
}

/* Why the copy before an upgrade was not made; the store is untouched. */
static int backup_fail(struct store *st, int from, int to, const char *what, const char *path,
		       const char *why, bool temp)
{
	snprintf(st->err, sizeof(st->err),
		 "cannot back up the store before upgrading it from schema %d to %d: cannot %s "
		 "%s: %s; nothing was changed (free some space or fix the folder, then try "
		 "again)",
		 from, to, what, path, why);
	return temp ? STORE_TEMP : STORE_PERM;
}

/* The copy an upgrade makes first: DATA_DIR/backups/pre-schema-<new>-<time>/
   mailroom.db, taken with SQLite's backup API while this connection holds
   the migration's write lock and has written nothing yet: a second, read-only
   connection (WAL: a reader beside the writer) copies the store exactly as
   the migration finds it, and no writer comes between. Written as
   mailroom.db.part and renamed only once fsync'ed: a copy cut short by a
   crash is never taken for a whole one. Returns STORE_OK with the folder in
   dir_r (malloc'd), or an error in st->err with nothing of the store
   changed. */
static int pre_upgrade_backup(struct store *st, int from, int to, char **dir_r)
{
	char *base = xasprintf("%s/backups", st->data_dir);
	char *dir = NULL, *part = NULL, *final = NULL;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int r = STORE_OK;

	*dir_r = NULL;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (mkdir(base, 0700) < 0 && errno != EEXIST) {
		r = backup_fail(st, from, to, "make the folder", base, strerror(errno),
				errno == ENOSPC || errno == EDQUOT);
		free(base);
		return r;
	}
	/* a second upgrade in the same second (the first one cut short) */
	for (int i = 0;; i++) {
		dir = i == 0 ? xasprintf("%s/pre-schema-%d-%s", base, to, stamp)
			     : xasprintf("%s/pre-schema-%d-%s.%d", base, to, stamp, i);
		if (mkdir(dir, 0700) == 0)
			break;
		if (errno != EEXIST || i == 99) {
			r = backup_fail(st, from, to, "make the folder", dir, strerror(errno),
					errno == ENOSPC || errno == EDQUOT);
			free(base);
			free(dir);
			return r;
		}
		free(dir);
	}
	part = xasprintf("%s/%s.part", dir, STORE_DB_FILE);
	final = xasprintf("%s/%s", dir, STORE_DB_FILE);

	sqlite3 *dst = NULL, *src = NULL;
	const char *src_path = sqlite3_db_filename(st->sq, "main");
	int rc = sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(src, STORE_BUSY_MS);
		mode_t old = umask(077);
		rc = sqlite3_open_v2(part, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
		umask(old);
	}
	/* a copy that fails is removed whole, and it is fsync'ed below: the
	   copy's own journal and syncs would only slow it down */
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(dst, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", NULL,
				  NULL, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
		if (b == NULL) {
			rc = sqlite3_errcode(dst);
		} else {
			rc = sqlite3_backup_step(b, -1);
			int frc = sqlite3_backup_finish(b);
			rc = rc == SQLITE_DONE ? frc : rc;
		}
	}
	if (rc != SQLITE_OK)
		r = backup_fail(st, from, to, "copy the store to", part,
				dst != NULL ? sqlite3_errmsg(dst) : sqlite3_errstr(rc),
				(rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR);
	sqlite3_close(src);
	if (sqlite3_close(dst) != SQLITE_OK && r == STORE_OK)
		r = backup_fail(st, from, to, "close", part, "the copy is still in use", false);
	if (r == STORE_OK && store_fsync_path(part, false) < 0)
		r = backup_fail(st, from, to, "fsync", part, strerror(errno), true);
	if (r == STORE_OK && rename(part, final) < 0)
		r = backup_fail(st, from, to, "rename", part, strerror(errno), false);
	if (r == STORE_OK && (store_fsync_path(dir, true) < 0 || store_fsync_path(base, true) < 0 ||
			      store_fsync_path(st->data_dir, true) < 0))
		r = backup_fail(st, from, to, "fsync the folders of", final, strerror(errno), true);
	if (r != STORE_OK) {
		unlink(part);
		unlink(final);
		rmdir(dir);
		free(dir);
		dir = NULL;
	}
	free(base);
	free(part);
	free(final);
	*dir_r = dir;
	return r;
}

static int newer_refused(struct store *st, int v, int latest)
{
	snprintf(st->err, sizeof(st->err),
		 "the store has schema version %d, newer than this mailroom (%d): run the "
		 "mailroom that made it",
		 v, latest);
	return STORE_PERM;
}

/* Takes the schema to version `latest`. Foreign keys are off meanwhile (a
   migration may rebuild a table that others reference; PRAGMA foreign_keys
   is a no-op inside a transaction) and on again for every later statement.
   A store already at `latest` is only read: opening it never waits for
   another writer's lock. */
static int migrate(struct store *st, bool create, int latest)
{
	int v, r;

	schema_version(st, &v);
	if (v == latest)
		return STORE_OK;
	/* a newer store is refused before any lock: a newer server may be
	   running on it */
	if (v > latest)
		return newer_refused(st, v, latest);
	if ((r = store_begin(st)) != STORE_OK)
		return r;
	schema_version(st, &v);
	if (v == 0 && !create) {
		store_rollback(st);
		snprintf(st->err, sizeof(st->err), "the store has no schema");
		return STORE_NOTFOUND;
	}
	if (v > latest) {
		store_rollback(st);
		return newer_refused(st, v, latest);
	}
	if (v == latest) {
		store_rollback(st);
		return STORE_OK;
	}
	if (v > 0) {
		char *bdir = NULL;
		if ((r = pre_upgrade_backup(st, v, latest, &bdir)) != STORE_OK) {
			store_rollback(st);
			return r;
		}
		log_info("store: schema %d store in %s copied to %s/%s before the upgrade to "
			 "schema %d",
			 v, st->data_dir, bdir, STORE_DB_FILE, latest);
		free(bdir);
	}
	if (v == 0 &&
	    (r = store_exec(st, "CREATE TABLE schema_version (version INTEGER NOT "
				"NULL); INSERT INTO schema_version VALUES (0)")) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	for (; v < latest; v++) {
		if ((r = store_exec(st, migrations[v])) != STORE_OK) {
			store_rollback(st);
			return r;
		}
		log_info("store: migrated schema to version %d", v + 1);
	}
	char upd[64];
	snprintf(upd, sizeof(upd), "UPDATE schema_version SET version = %d", latest);
	if ((r = store_exec(st, upd)) != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

static int open_at(const char *data_dir, bool create, int version, struct store **st_r)
{
	struct store *st = xcalloc(1, sizeof(*st));
	st->ops = &store_sqlite_ops;
	char *path = xasprintf("%s/%s", data_dir, STORE_DB_FILE);
	int r;

	*st_r = st;
	st->data_dir = xstrdup(data_dir);
	if (create && mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		snprintf(st->err, sizeof(st->err), "cannot make the folder %s: %s", data_dir,
			 strerror(errno));
		free(path);
		return STORE_PERM;
	}
	if (!create && access(path, F_OK) < 0) {
		snprintf(st->err, sizeof(st->err), "%s does not exist", path);
		free(path);
		return STORE_NOTFOUND;
	}
	mode_t old = umask(077); /* database, WAL and SHM files: 0600 */
	int rc = sqlite3_open_v2(
	    path, &st->sq,
	    SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX, NULL);
	umask(old);
	free(path);
	if (rc != SQLITE_OK) {
		r = store_fail(st, rc, "open");
		return r;
	}
	sqlite3_busy_timeout(st->sq, STORE_BUSY_MS);
	sqlite3_extended_result_codes(st->sq, 1);
	if ((rc = sq_functions(st->sq)) != SQLITE_OK)
		return store_fail(st, rc, "open");
	if ((r = store_exec(st, "PRAGMA journal_mode=WAL")) != STORE_OK ||
	    (r = store_exec(st, "PRAGMA synchronous=FULL")) != STORE_OK ||
	    (r = store_exec(st, "PRAGMA foreign_keys=OFF")) != STORE_OK ||
	    (r = migrate(st, create, version)) != STORE_OK)
		return r;
	return store_exec(st, "PRAGMA foreign_keys=ON");
}

int store_sqlite_open(const char *data_dir, bool create, struct store **st_r)
{
	return open_at(data_dir, create, (int)N_ELEMENTS(migrations), st_r);
}

int store_open_backup(const char *dir, struct store **st_r)
{
	struct store *st = xcalloc(1, sizeof(*st));
	st->ops = &store_sqlite_ops;
	struct buf uri = {0};
	int r;

	*st_r = st;
	st->data_dir = xstrdup(dir);
	/* a URI, so the path's '%', '?' and '#' are escaped; immutable: no
	   lock, no -shm or -wal made, nothing written (the file is a copy) */
	buf_printf(&uri, "file:");
	for (const char *c = dir; *c != '\0'; c++)
		if (*c == '%' || *c == '?' || *c == '#')
			buf_printf(&uri, "%%%02X", (unsigned char)*c);
		else
			buf_append_c(&uri, *c);
	buf_printf(&uri, "/%s?mode=ro&immutable=1", STORE_DB_FILE);
	buf_append_c(&uri, '\0');
	int rc = sqlite3_open_v2(
	    uri.data, &st->sq, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	buf_free(&uri);
	if (rc == SQLITE_OK)
		rc = sq_functions(st->sq);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "open");
	sqlite3_extended_result_codes(st->sq, 1);
	struct db_stmt *s = store_stmt(st, "SELECT max(version) FROM schema_version");
	if (s == NULL)
		return STORE_PERM;
	rc = db_step(s);
	int v = rc == SQLITE_ROW ? db_column_int(s, 0) : -1;
	r = rc == SQLITE_ROW ? STORE_OK : store_fail(st, rc, "schema version");
	store_idle(st);
	if (r == STORE_OK && v != (int)N_ELEMENTS(migrations)) {
		snprintf(st->err, sizeof(st->err),
			 "the backup has schema version %d, this mailroom %d: its data is checked "
			 "when it is restored (restore upgrades a copy; the backup stays as it is)",
			 v, (int)N_ELEMENTS(migrations));
		r = STORE_INVALID;
	}
	return r;
}

int store_schema_latest(void)
{
	return (int)N_ELEMENTS(migrations);
}

int store_test_open_schema(const char *data_dir, int version, struct store **st_r)
{
	if (version < 1 || version > (int)N_ELEMENTS(migrations))
		log_panic("store: no schema version %d", version);
	return open_at(data_dir, true, version, st_r);
}
