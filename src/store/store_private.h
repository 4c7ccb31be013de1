/* SPDX-License-Identifier: MIT */
/*
 * store_private.h - what the files of store/ share: the handle, the
 * prepared-statement cache and the error mapping. Nothing outside store/
 * includes this.
 */
#ifndef MAILROOM_STORE_STORE_PRIVATE_H
#define MAILROOM_STORE_STORE_PRIVATE_H

#include <inttypes.h>
#include <stdbool.h>

#include "store/store.h"

/* Room for every SQL literal of store/ (about 120 with schema 8's lists,
   limits, auto-replies and forwarding, about 190 with schema 9's folders),
   with some to spare: one handle may use them all over its life, and a
   full cache is fatal. */
#define STORE_STMT_CACHE 320

struct store_ops;
struct db_stmt;

struct store_stmt {
	const char *sql; /* a string literal: compared by address */
	struct db_stmt *stmt;
};

struct store {
	const struct store_ops *ops;
	struct sqlite3 *sq;  /* SQLite: the database */
	struct store_pg *pg; /* PostgreSQL: the connection and its state */
	char *data_dir;	     /* for error texts: where the store is */
	char *where;	     /* store_where(), made on the first call */
	char err[768];
	bool fail_next_commit;			 /* test seam: the next commit fails (S7) */
	struct store_import_cache *import_cache; /* store_import.c */
	struct store_stmt cache[STORE_STMT_CACHE];
	size_t n_cached;
};

/* --- the SQL engine ---------------------------------------------------------
 * Every file of store/ speaks SQL through these calls only; the engine behind
 * them is an ops table, chosen when the store is opened ([store] backend):
 * SQLite (store_sqlite.c) or PostgreSQL (store_pg.c). The SQL is one dialect
 * both run: numbered parameters (?1, ?2 ...), INSERT ... ON CONFLICT, and
 * RETURNING for new ids; what one engine lacks the other's schema provides
 * (store_pg.c defines instr() and the two-argument max() and min()). Both
 * define the store's own functions: octets(text), a text's length in
 * octets, and mailroom_uidl(mailbox_id, uid), the UIDL of a message stored
 * without one (STORE_UIDL_FMT). A statement's parameters may share one
 * numbering with its neighbours: binding a number it lacks does nothing. */

struct db_stmt;

/* What db_step returns besides an engine's own error code, which only
   store_fail() reads. */
#define DB_OK 0
#define DB_ROW 100
#define DB_DONE 101

struct store_ops {
	const char *name; /* "sqlite", "postgresql" */
	struct db_stmt *(*prepare)(struct store *st, const char *sql, int *rc_r);
	void (*finalize)(struct db_stmt *s);
	void (*reset)(struct db_stmt *s); /* and forgets the bindings */
	bool (*busy)(struct db_stmt *s);  /* positioned on a row */
	void (*bind_int64)(struct db_stmt *s, int i, int64_t v);
	/* copy: the value may go before the statement runs; else it must live
	   until the statement is reset. n < 0: up to the NUL. */
	void (*bind_text)(struct db_stmt *s, int i, const char *v, int n, bool copy);
	void (*bind_blob)(struct db_stmt *s, int i, const void *v, size_t n);
	void (*bind_null)(struct db_stmt *s, int i);
	int (*step)(struct db_stmt *s);
	int64_t (*column_int64)(struct db_stmt *s, int i);
	const char *(*column_text)(struct db_stmt *s, int i); /* NULL for NULL */
	const void *(*column_blob)(struct db_stmt *s, int i);
	size_t (*column_bytes)(struct db_stmt *s, int i);
	bool (*column_null)(struct db_stmt *s, int i);
	int64_t (*changes)(struct store *st);		/* rows the last statement changed */
	int (*exec)(struct store *st, const char *sql); /* an engine code */
	int (*fail)(struct store *st, int rc, const char *what);
	/* BEGIN of a writer (the store's write lock first), of a reader (one
	   snapshot), COMMIT and ROLLBACK: engine codes */
	int (*begin)(struct store *st, bool write);
	int (*commit)(struct store *st);
	void (*rollback)(struct store *st);
	/* The piece [off, off + len) of body `body_id` of `size` octets, whose
	   row the caller has just read (store_body_read). */
	int (*body_read)(struct store *st, int64_t body_id, uint64_t size, uint64_t off, void *dst,
			 size_t len);
	void (*close)(struct store *st);
	char *(*where)(struct store *st); /* store_where(), malloc'd */
	/* What the engines ask differently: a number that moves whenever
	   another connection has committed (store_import.c; moving more often
	   only costs a reread), and store_stats()'s one statement, its last
	   column the store's size in octets. */
	const char *sql_data_version;
	const char *sql_stats;
	/* several servers may use the store at once (store_queue_claim) */
	bool shared;
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* Every statement starts with its engine's ops. */
struct db_stmt {
	const struct store_ops *ops;
};

static inline void db_bind_int64(struct db_stmt *s, int i, int64_t v)
{
	s->ops->bind_int64(s, i, v);
}
static inline void db_bind_text(struct db_stmt *s, int i, const char *v, int n)
{
	s->ops->bind_text(s, i, v, n, false);
}
static inline void db_bind_text_copy(struct db_stmt *s, int i, const char *v, int n)
{
	s->ops->bind_text(s, i, v, n, true);
}
static inline void db_bind_blob(struct db_stmt *s, int i, const void *v, size_t n)
{
	s->ops->bind_blob(s, i, v, n);
}
static inline void db_bind_null(struct db_stmt *s, int i)
{
	s->ops->bind_null(s, i);
}
static inline int db_step(struct db_stmt *s)
{
	return s->ops->step(s);
}
static inline void db_reset(struct db_stmt *s)
{
	s->ops->reset(s);
}
static inline int64_t db_column_int64(struct db_stmt *s, int i)
{
	return s->ops->column_int64(s, i);
}
static inline int db_column_int(struct db_stmt *s, int i)
{
	return (int)s->ops->column_int64(s, i);
}
static inline const char *db_column_text(struct db_stmt *s, int i)
{
	return s->ops->column_text(s, i);
}
static inline const void *db_column_blob(struct db_stmt *s, int i)
{
	return s->ops->column_blob(s, i);
}
static inline size_t db_column_bytes(struct db_stmt *s, int i)
{
	return s->ops->column_bytes(s, i);
}
static inline bool db_column_null(struct db_stmt *s, int i)
{
	return s->ops->column_null(s, i);
}
static inline int64_t db_changes(struct store *st)
{
	return st->ops->changes(st);
}

/* The engines' own opening (store_open chooses), and the schema version
   the SQLite migrations reach, which the PostgreSQL schema is made at. */
int store_sqlite_open(const char *data_dir, bool create, struct store **st_r);
int store_pg_open(const char *data_dir, const char *dsn, bool create, struct store **st_r);
int store_schema_latest(void);

/* Runs an INSERT ... RETURNING id: the new row's id in *id_r; no row made
   is STORE_NOTFOUND. */
int store_insert_id(struct store *st, struct db_stmt *s, const char *what, int64_t *id_r);

/* A reset statement for this literal SQL, prepared once per handle.
   Returns NULL (with the error recorded) if it does not prepare. */
struct db_stmt *store_stmt(struct store *st, const char *sql);
/* Records the engine's error on the handle and returns its store_status. */
int store_fail(struct store *st, int rc, const char *what);
int store_exec(struct store *st, const char *sql);
/* Resets every cached statement still positioned on a row. A statement left
   on SQLITE_ROW holds its read transaction open: the handle would keep seeing
   an old snapshot and block WAL checkpoints. Every public read ends here. */
void store_idle(struct store *st);
int store_begin(struct store *st);  /* BEGIN IMMEDIATE: writers take the lock first */
int store_commit(struct store *st); /* rolls back on failure */
void store_rollback(struct store *st);
/* fsync of a file, or of a folder (dir), by path: 0, or -1 with errno. */
int store_fsync_path(const char *path, bool dir);
/* The domain part of a normalised address. */
const char *store_addr_domain(const char *address);
/* Domain id, or 0 if the domain is not hosted; -1 on error. */
int64_t store_domain_id(struct store *st, const char *domain);

/* SQL for a mailbox's effective value of a schema-8 level or limit column
   (store.h enum store_limit): its own unless -1, else its domain's, else 0.
   The mailbox row must be aliased `m`. */
#define STORE_EFFECTIVE(col)                                                                       \
	"(CASE WHEN m." col " >= 0 THEN m." col " ELSE COALESCE((SELECT d." col                    \
	" FROM domains d WHERE d.id = m.domain_id), 0) END)"

/* The schema-8 level and limit columns in enum store_limit order, as
   X("column") for a macro X; the same names on mailboxes and domains. */
#define STORE_LIMIT_COLUMNS(X)                                                                     \
	X("quota_warn")                                                                            \
	X("quota_send")                                                                            \
	X("quota")                                                                                 \
	X("max_message_size")                                                                      \
	X("max_recipients")                                                                        \
	X("messages_per_hour")                                                                     \
	X("messages_per_day")                                                                      \
	X("recipients_per_hour")                                                                   \
	X("recipients_per_day")
/* ", m.quota_warn, m.quota_send, ...": a mailbox's own values, and the same
   with the domain's defaults filled in, to append to a select list. */
#define STORE_OWN_COLUMN_(col) ", m." col
#define STORE_EFFECTIVE_COLUMN_(col) ", " STORE_EFFECTIVE(col)
#define STORE_LIMITS_OWN STORE_LIMIT_COLUMNS(STORE_OWN_COLUMN_)
#define STORE_LIMITS_EFFECTIVE STORE_LIMIT_COLUMNS(STORE_EFFECTIVE_COLUMN_)
/* Reads STORE_LIMIT_COUNT columns from column `first` on (store_limits.c). */
void store_limits_row(struct db_stmt *s, int first, struct store_limits *r);
/* Inside expunge's transaction: forgets the mailbox's quota notice once its
   use is below the warning level again, so the next crossing sends one. */
int store_quota_warn_recheck(struct store *st, int64_t mailbox_id);

/* Delivery pieces (store_mail.c) for use inside a caller's transaction.
   A body for mailboxes (with_tree) gets its MIME structure parsed and
   cached with it (store_body_mime_get), so no FETCH or SEARCH parses it
   again; a body for the outbound queue does not need one. */
int store_body_insert(struct store *st, const char *body, size_t len, bool with_tree,
		      int64_t *id_r);
int store_body_refs(struct store *st, int64_t body_id, int64_t refs);
int store_message_rows(struct store *st, int64_t body_id, const int64_t *mailbox_ids, size_t n,
		       size_t len, const char *uidl, bool ignore_quota, int *results,
		       size_t *accepted_r);

/* The UIDL of a message stored without one: mailbox id and UID in
   fixed-width hex (store_mail.c). */
#define STORE_UIDL_FMT "%08" PRIx64 "%08" PRIx64
/* Removes one message row and drops its body's reference, the body too
   when that was the last (S2); the mailbox's counters are the caller's
   (store_mail.c). */
int store_message_remove(struct store *st, int64_t msg_id, int64_t body_id);

/* Folders (store_folder.c), inside the caller's transaction. */
/* INBOX and the special-use folders of a new mailbox (store.h). */
int store_folders_default(struct store *st, int64_t mailbox_id);
/* The mailbox's INBOX and its highestmodseq; STORE_PERM if it has none. */
int store_inbox_of(struct store *st, int64_t mailbox_id, int64_t *folder_id_r, uint64_t *modseq_r);
/* Messages were added to the folder, the last with UID `last_uid`, each
   with modseq `modseq`: uidnext and highestmodseq follow (S8, S9). */
int store_folder_added(struct store *st, int64_t folder_id, int64_t last_uid, uint64_t modseq);
/* The expunge record of one UID (S9). */
int store_expunged_add(struct store *st, int64_t folder_id, int64_t uid, uint64_t modseq,
		       int64_t now);
/* After expunges that took `modseq`: the folder's highestmodseq follows,
   and its records older than STORE_EXPUNGED_KEEP_DAYS are pruned, the
   highest pruned modseq kept (S9). */
int store_folder_expunged(struct store *st, int64_t folder_id, uint64_t modseq, int64_t now);

/* The keywords an import brings for one message of the folder, inside the
   caller's transaction (store_import.c): the IMAP atoms among them, each in
   the folder's spelling, learnt by the folder (past
   STORE_FOLDER_KEYWORDS_MAX not listed, as with copies), cut at
   STORE_KEYWORDS_MAX; the others dropped. *text_r: malloc'd, NULL for none
   (store_folder_msg.c). */
int store_keywords_import(struct store *st, int64_t folder_id, const char *keywords, char **text_r);

/* Is the (normalised) address used by a mailbox or an alias?
   (store_directory.c) */
int store_address_used(struct store *st, const char *a, bool *used_r);
/* Whether a member or alias target `t` (normalised) may be added: in an
   authoritative hosted domain it must be a mailbox or an alias, or (lists)
   a distribution list; else STORE_NOTFOUND with a text naming it `role`
   (store_directory.c). */
int store_target_exists(struct store *st, const char *t, const char *role, bool lists);
/* Whether a distribution list holds the normalised address: as its own or
   as its bounce address owner-LOCAL@DOMAIN (store_list.c). */
int store_list_holds(struct store *st, const char *a, bool *held_r);

/* Drops what store_import keeps between calls (store_close does). */
void store_import_cache_free(struct store *st);

/* One submission inside the caller's transaction (store_queue.c). */
int store_submit_one(struct store *st, struct store_submission *sub);

#endif
