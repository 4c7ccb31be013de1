/* SPDX-License-Identifier: MIT */
/*
 * store.h - the transactional mailbox store (SPEC §2, §5): the face of store/.
 *
 * One `struct store` is one connection to the database (SQLite in WAL mode,
 * DATA_DIR/mailroom.db). A handle belongs to one thread at a time: the server
 * opens one per worker thread; the CLI opens its own. Every call is blocking
 * (it may fsync) and so must never run on a network thread.
 *
 * Invariants (tests cite them by number):
 *  S1. A delivery call that returns 0 has committed with synchronous=FULL:
 *      the message is on stable storage for every recipient reported done.
 *  S2. Single instance: one body row per delivered message, shared by all
 *      recipients; a body is removed when its last message is expunged.
 *  S3. UIDs come from a per-mailbox counter that only grows; a UID (and so a
 *      UIDL) is never reused in a mailbox, even after expunge or restart.
 *  S4. Bodies are stored in wire form (CRLF line ends, not dot-stuffed);
 *      a message's size is the exact octet count of that form.
 *  S5. Expunge removes the given messages in one transaction or not at all.
 *  S6. Schema changes go through numbered migrations in one table
 *      (schema_version); opening an older database migrates it.
 *  S7. Store errors are classified: STORE_TEMP (busy, I/O, disk full — the
 *      client may retry) or STORE_PERM; never a crash, never half-written.
 *  S8-S10. Folders, flags and changes: they stand with the folder calls in
 *      store_mailbox.h.
 *
 * Strings returned in structs are malloc'd and owned by the struct; the
 * matching *_clear() function frees them.
 *
 * This header is the one other parts include. It holds the handle, the
 * statuses, open/close, errors and read snapshots; the calls of each
 * concern are in a face of their own, included at its end and never
 * directly:
 *   store_dir.h      directory data: domains, limits, mailboxes as accounts,
 *                    forwarding, auto-replies, lists, aliases, resolving
 *   store_mailbox.h  mailbox contents: delivery, messages, bodies, folders,
 *                    flags, imports
 *   store_queue.h    submissions and the outbound queue
 *   store_route.h    routes
 *   store_dkim.h     DKIM signing keys
 *   store_backup.h   statistics, backup, verify, restore
 */
#ifndef MAILROOM_STORE_STORE_H
#define MAILROOM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/config.h"

struct store;

enum store_status {
	STORE_OK = 0,
	STORE_NOTFOUND = -1,
	STORE_EXISTS = -2,
	STORE_INVALID = -3, /* bad argument, e.g. malformed address */
	STORE_QUOTA = -4,   /* mailbox over its hard limit */
	STORE_TEMP = -5,    /* try again later: busy, I/O error, disk full */
	STORE_PERM = -6,    /* permanent failure (corrupt database, ...) */
	STORE_LIMIT = -7,   /* past a count or size limit of the store's own (STORE_*_MAX) */
};

/* The engine the store runs on ([store] backend): SQLite in the data dir
   (the default), or a PostgreSQL database several nodes share ([store] dsn,
   a libpq connection string or URI). Set once per process, before the
   first store_open; the dsn is copied. */
enum store_backend {
	STORE_BACKEND_SQLITE,
	STORE_BACKEND_POSTGRESQL,
};
void store_configure(enum store_backend backend, const char *dsn);
enum store_backend store_backend(void);
/* [store] of mailroom.conf (store_config.c), and store_configure() from a
   loaded configuration's [store] (the CLI calls it for every verb). */
extern const struct config_section store_config_section;
void store_configure_from(const struct config *cfg);
/* [node] (store_config.c): this server's name among those on one store
   (name; [server] hostname when not set), and how long its claims on
   queued messages hold (lease): after a node dies, the others take its
   messages over once the lease has run out. */
extern const struct config_section node_config_section;
const char *store_node_name(const struct config *cfg);
unsigned store_node_lease(const struct config *cfg);

/* Open the store: DATA_DIR/mailroom.db on SQLite, the dsn's database on
   PostgreSQL (DATA_DIR then holds only the node's own files). With
   create=true the folder and the database are made and migrated (mode 0700
   folder, 0600 files); without it a missing database is STORE_NOTFOUND
   ("run mailroom init"). */
int store_open(const char *data_dir, bool create, struct store **st_r);
void store_close(struct store **st);
/* On (the server): every failure of the engine that is not the caller's
   (STORE_TEMP, STORE_PERM: PostgreSQL unreachable, the disk full) is
   logged with its text, each text at most every few seconds. The CLI
   leaves it off and prints store_error() itself. */
void store_log_failures(bool on);
/* Where the store is, for the admin: DATA_DIR/mailroom.db, or "postgresql
   HOST:PORT/DATABASE" with the schema when the dsn names one. */
const char *store_where(struct store *st);
/* Human-readable text of the last error on this handle (never NULL). */
const char *store_error(const struct store *st);

/* An address as the store keeps it: the domain lower-cased, validated;
   returns a malloc'd copy, or NULL if it is no valid address. */
char *store_norm_address(const char *address);

/* Lower-cased copy of a valid domain name, or NULL (caller frees). */
char *store_norm_domain(const char *name);
/* One read snapshot for several reads (store_body_read and the other
   reads): every read between the two calls sees the same state of the
   store, at the cost of one snapshot instead of one per read. Nothing may
   be written in between; store_read_end() never fails. */
int store_read_begin(struct store *st);
void store_read_end(struct store *st);
/* Test seam (S7): the next commit on this handle fails as a disk error
   would, after the work was done; nothing of it may remain. */
void store_test_fail_next_commit(struct store *st);
/* Test seam (S6): creates or opens a store migrated only up to schema
   `version` (1 to the latest), as an older mailroom left it. */
int store_test_open_schema(const char *data_dir, int version, struct store **st_r);
/* Test seam: on PostgreSQL, every data dir gets a schema of its own in the
   dsn's database (made on first use), so each test's store starts empty. */
void store_test_pg_schema_per_dir(bool on);

#include "store/store_dir.h"
#include "store/store_mailbox.h"
#include "store/store_queue.h"
#include "store/store_route.h"
#include "store/store_dkim.h"
#include "store/store_backup.h"

#endif
