/* SPDX-License-Identifier: MIT */
/*
 * store/store_backup.h - the store as a whole: statistics for metrics,
 * consistent backups, the check of a store or a backup, and restore.
 *
 * A face of store.h: included by store/store.h only, never directly (the
 * handle, statuses, invariants S1-S7 and open/close are there).
 */
#ifndef MAILROOM_STORE_STORE_H
#error "include store/store.h, not store/store_backup.h"
#endif
#ifndef MAILROOM_STORE_STORE_BACKUP_H
#define MAILROOM_STORE_STORE_BACKUP_H

/* --- statistics (admin/ metrics) ------------------------------------------- */
struct store_stats {
	uint64_t queue_messages; /* messages in the outbound queue, held ones too */
	int64_t queue_oldest;	 /* unix time the oldest of them was queued; 0: none */
	uint64_t bodies;	 /* stored bodies (S2: one per distinct message) */
	uint64_t db_bytes;	 /* the database's size: its pages times the page size */
};
/* Reads them in one snapshot. It counts rows, so it costs time in
   proportion to the store: callers cache the answer (metrics keep it a
   few seconds). Every field is 0 on failure. */
int store_stats(struct store *st, struct store_stats *r);

/* --- census: what the store holds, counted (store_census.c) ------------------
   The rows of every table and the numbers of the bodies, read through the
   store on any engine: what tests (and checks) compare with what the calls
   before them should have left, instead of SQL of their own. Like
   store_stats it counts rows, so it costs time in proportion to the
   store. */
struct store_census {
	int64_t schema_version; /* the schema the store is at (S6) */
	int64_t schema_rows;	/* rows of schema_version: one */
	int64_t domains;	/* hosted domains, domain aliases included */
	int64_t domain_aliases;
	int64_t mailboxes; /* the built-in postmaster included */
	int64_t aliases;   /* (address, target) pairs */
	int64_t lists, list_members, list_senders;
	int64_t folders;
	int64_t messages;	/* message rows of every mailbox and folder */
	int64_t message_octets; /* the sum of their sizes */
	int64_t expunged;	/* expunge records (S9) */
	int64_t queued;		/* outbound queue entries, held ones too */
	int64_t queue_rcpts;	/* their recipients, whatever their state */
	int64_t routes;
	int64_t vacations; /* auto-replies set */
	int64_t once;	   /* once-records of side effects (store_submission.once_key) */
	int64_t sent;	   /* submission records for the rate limits */
	int64_t dkim_keys;
	/* the bodies (S2): one per distinct stored message or queued copy */
	int64_t bodies;
	int64_t body_refs;	  /* the sum of their reference counts */
	int64_t body_octets;	  /* the sum of their sizes */
	int64_t bodies_single;	  /* bodies with one reference */
	int64_t bodies_shared;	  /* bodies with more than one */
	int64_t bodies_unused;	  /* bodies with none (never left by a commit) */
	int64_t body_max_refs;	  /* the highest reference count, 0: no body */
	int64_t body_oldest_refs; /* the reference count of the first body stored, 0: none */
	int64_t body_newest_refs; /* ... of the last one stored, 0: none */
};
/* Counts them in one read snapshot; every field is 0 on failure. */
int store_census(struct store *st, struct store_census *c);
/* One mailbox (by id) as the store holds it: its UID counter and its rows. */
struct store_mailbox_census {
	int64_t next_uid; /* the UID its next message gets (S3, S8) */
	int64_t messages; /* its message rows, every folder */
	int64_t octets;	  /* the sum of their sizes */
	int64_t folders;
};
/* STORE_NOTFOUND when no mailbox has that id. */
int store_census_mailbox(struct store *st, int64_t mailbox_id, struct store_mailbox_census *c);
/* How many once-records there are of exactly `key` or, with prefix, of
   every key that starts with it (e.g. "vacation:12:", a mailbox's
   auto-reply senders); expired ones count until they are removed. */
int store_census_once(struct store *st, const char *key, bool prefix, int64_t *n_r);
/* Test seams: records a once-key until `until` as store_submit records a
   side effect's once_key (the quota notice, an auto-reply), and a
   submission record of the rate limits at unix time `at` as store_submit
   records one with sent_by, each in its own transaction: rows the
   delivery path writes only at the present time or with a message. */
int store_test_once_add(struct store *st, const char *key, int64_t until);
int store_test_sent_add(struct store *st, int64_t mailbox_id, int64_t at, unsigned recipients);
/* Test seam: members PREFIX1SUFFIX ... PREFIXnSUFFIX (e.g. "m", "@remote.test")
   of list `list` (its normalised address) in one transaction, without the
   checks and the limit of store_list_member_add: a list brought to its
   limit without n transactions. STORE_NOTFOUND for no such list. */
int store_test_list_fill(struct store *st, const char *list, const char *prefix, const char *suffix,
			 unsigned n);

/* --- backup, verify, restore ------------------------------------------------ */
struct store_check_stats {
	uint64_t mailboxes, messages, bodies, octets, queued;
	int64_t taken; /* backup: the unix time of the snapshot */
};
/* A consistent copy of the store at one point in time into DIR (which must
   not exist; made mode 0700): every commit before the call is in it,
   nothing half-written. It reads inside one read transaction, so writers
   go on (WAL): no lock stops delivery for longer than a commit. DIR gets
   the database, the SRS secret and a manifest of checksums (MANIFEST). */
int store_backup(struct store *st, const char *dir, struct store_check_stats *stats);
/* Checks a store (the live one, or a backup opened with store_open on its
   folder): SQLite's integrity check, every body's reference count against
   its messages and queue entries, sizes against the bodies, UID counters
   above every UID, the used counters against the messages, and the folders
   (S8, S9: every message in a folder of its mailbox, every mailbox with an
   INBOX, uidnext above every UID of its folder, highestmodseq at or above
   every modseq there, UIDVALIDITY in range); for a backup,
   every file against MANIFEST (st may then be NULL: a backup whose
   database does not open gets its files checked). Each problem is given to
   cb as one sentence; STORE_OK only when there was none, else
   STORE_INVALID. */
typedef void store_problem_cb(const char *problem, void *ctx);
int store_verify(struct store *st, const char *backup_dir, store_problem_cb *cb, void *ctx,
		 struct store_check_stats *stats);
/* A backup's database for store_verify, read-only and never migrated or
   written (no lock, no -wal or -shm made): STORE_INVALID, with the text,
   when it has another schema than this mailroom's (restore checks those
   on the copy it upgrades). */
int store_open_backup(const char *dir, struct store **st_r);
/* Puts a verified backup into data_dir, which must hold no store (the
   server stopped); the files keep their owner rules (privdrop). A bad
   backup is STORE_INVALID, a data dir with a store STORE_EXISTS, one whose
   store a process has open STORE_TEMP; nothing is copied then. */
int store_restore(const char *backup_dir, const char *data_dir, char *err, size_t err_len);

#endif
