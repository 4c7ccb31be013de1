/* SPDX-License-Identifier: MIT */
/*
 * store/store_mailbox.h - the contents of a mailbox: delivering bodies into
 * mailboxes, the POP3 view of INBOX, bodies read in pieces, expunge,
 * folders, flags and changes (IMAP, with invariants S8-S10), imports of
 * messages, and the conversion to wire form. The mailbox as an account
 * (store_mailbox_ensure, store_mailbox_info) is in store_dir.h.
 *
 * A face of store.h: included by store/store.h only, never directly (the
 * handle, statuses, invariants S1-S7 and open/close are there).
 */
#ifndef MAILROOM_STORE_STORE_H
#error "include store/store.h, not store/store_mailbox.h"
#endif
#ifndef MAILROOM_STORE_STORE_MAILBOX_H
#define MAILROOM_STORE_STORE_MAILBOX_H

/* --- delivery ------------------------------------------------------------ */
/* Deliver one body (wire form, S4) to n mailboxes in one transaction.
   results[i] gets STORE_OK or STORE_QUOTA per mailbox; the call returns
   STORE_OK once committed (S1) if at least one mailbox took the message,
   STORE_QUOTA if all were over quota, or an error with nothing written.
   uidl may be NULL (a fresh one is made) or an imported UIDL to keep. */
int store_deliver(struct store *st, const int64_t *mailbox_ids, size_t n, const char *body,
		  size_t len, const char *uidl, int *results);

/* The trace field final delivery puts first (RFC 5321 §4.4 MUST):
   "Return-Path: <sender>" CRLF, "<>" for the null sender, a local part
   quoted again when it is no dot-atom. store_submit() adds it to the copy
   it puts into mailboxes (SMTP, `mailroom deliver --sender`, reports), never
   to the copy it queues for elsewhere; store_deliver() (imports) does not. */
void store_return_path(struct buf *out, const char *sender);

/* --- POP3 view: the INBOX folder ------------------------------------------ */
struct store_msg {
	int64_t id;
	uint64_t uid;
	uint64_t size;	  /* octets of the wire form (S4) */
	char uidl[71];	  /* RFC 1939 §7: 1-70 chars in 0x21-0x7E */
	int64_t received; /* unix time it arrived (or the import kept) */
};
/* The messages of the mailbox's INBOX in UID order; caller frees *msgs_r. */
int store_mailbox_load(struct store *st, int64_t mailbox_id, struct store_msg **msgs_r,
		       size_t *n_r);
/* Append the message's wire-form body to out. */
int store_message_read(struct store *st, int64_t mailbox_id, int64_t msg_id, struct buf *out);

/* A body read in pieces (POP3 RETR/TOP), so that a reader holds one piece
   at a time whatever the message's size. The reader is a plain value: it
   keeps no statement, blob handle or read transaction between calls, so a
   slow client never pins a WAL snapshot, any handle (any worker thread) may
   read the next piece, and there is nothing to close.
    - store_body_open() finds the message (STORE_NOTFOUND if it is not in
      that mailbox) and fills *r_r; r_r->size is the body's size (S4). A
      reader with only mailbox_id and msg_id set (body_id 0) is opened by
      its first store_body_read() instead, in the same read transaction as
      the first piece: a small message then costs one transaction.
    - store_body_read() copies up to len octets from offset off into dst and
      sets *n_r (0 at or past the end). Every call checks, in the same read
      transaction as the copy, that the message still uses that body, so a
      message removed meanwhile (user remove, another expunge) is
      STORE_NOTFOUND rather than the bytes of a body stored later under a
      reused row id. Bodies never change once written (S2, S4), so pieces
      read at different times fit together.
   Known limit of the SQLite engine: it walks a blob's overflow pages from
   the start on every open, so a piece at offset `off` costs about
   off/page_size page lookups and a whole body costs time quadratic in its
   size. Reads of bodies of 8 MiB or more map the database for the copy,
   which makes a lookup cheap (in 60 KiB pieces, 50 MiB takes 0.8 s of
   worker CPU; docs/benchmarks.md), but the growth stays. Bodies stored in
   rows of one piece each would remove it, at the price of a migration. The
   PostgreSQL engine reads each piece with substring() of an uncompressed
   column, which reads only that piece's chunks. */
struct store_body_reader {
	int64_t mailbox_id, msg_id, body_id;
	uint64_t size;
};
int store_body_open(struct store *st, int64_t mailbox_id, int64_t msg_id,
		    struct store_body_reader *r_r);
int store_body_read(struct store *st, struct store_body_reader *r, uint64_t off, void *dst,
		    size_t len, size_t *n_r);
/* Remove messages of a mailbox (S2, S5). */
int store_expunge(struct store *st, int64_t mailbox_id, const int64_t *msg_ids, size_t n);

/* --- folders, flags and changes (IMAP; POP3 sees INBOX) -------------------
 *
 * Every mailbox holds folders; "INBOX" always exists and cannot be removed,
 * and Sent, Drafts, Trash, Junk and Archive are made with the mailbox (and
 * by the migration for older stores) with their RFC 6154 special use.
 * Delivery and POP3 work on INBOX; IMAP and imports on any folder.
 *
 *  S8.  UIDs are drawn from the mailbox's one counter (S3) whatever the
 *       folder, so a message's UID is unique in its mailbox, INBOX keeps the
 *       UIDs (and so the UIDLs) it had, and every folder's UIDs only grow.
 *       A folder's uidnext is one above the last UID given to a message
 *       added to it: it changes exactly when a message is added (RFC 9051
 *       §2.3.1.1). A folder made again under an old name gets a UIDVALIDITY
 *       above every one the mailbox has used.
 *  S9.  Each change to a folder (a message added, flags changed, a message
 *       expunged) takes the folder's next modification sequence: the
 *       message's modseq (or its expunge record's) is set to it and the
 *       folder's highestmodseq follows (RFC 7162 §3.1). Expunges leave a
 *       record (UID, modseq) for QRESYNC's VANISHED, kept for
 *       STORE_EXPUNGED_KEEP_DAYS; older ones are pruned, and a client
 *       asking from before the oldest record left is told every UID it
 *       named that is gone.
 *  S10. Copies and appends follow the mailbox quota like delivery
 *       (STORE_QUOTA, nothing written); moves and flag changes do not. A
 *       message copied shares its body (S2).
 */
#define STORE_EXPUNGED_KEEP_DAYS 30
#define STORE_FOLDER_NAME_MAX 1000    /* octets of UTF-8, the hierarchy included */
#define STORE_KEYWORDS_MAX 4000	      /* octets of one message's keyword list */
#define STORE_FOLDER_KEYWORDS_MAX 256 /* distinct keywords a folder's messages may use */

enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
	STORE_FLAGS_ALL = (1 << 5) - 1,
};

enum store_special {
	STORE_SPECIAL_NONE,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
};

struct store_folder {
	int64_t id;
	char *name; /* UTF-8, levels separated by '/'; "INBOX" in that case */
	enum store_special special;
	bool subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	/* STATUS: messages, the ones without \Seen, octets, deleted */
	uint32_t messages, unseen, deleted;
	uint64_t size;
	char *keywords; /* the keywords its messages have used, space-separated */
};

/* The mailbox's folders in name order, INBOX first, each with its counts;
   caller frees with store_folders_free(). */
int store_folder_list(struct store *st, int64_t mailbox_id, struct store_folder **f_r, size_t *n_r);
/* One folder by name ("inbox" in any case is INBOX); STORE_NOTFOUND. */
int store_folder_get(struct store *st, int64_t mailbox_id, const char *name,
		     struct store_folder *f_r);
void store_folder_clear(struct store_folder *f);
void store_folders_free(struct store_folder *f, size_t n);
/* A new folder: STORE_EXISTS if the name is taken, STORE_INVALID for a
   name that is empty, too long, not UTF-8, holds a control character, an
   empty level ("a//b", "/a", "a/") or is INBOX. Parents are not made. */
int store_folder_create(struct store *st, int64_t mailbox_id, const char *name,
			enum store_special special, int64_t *id_r);
/* Removes a folder and expunges its messages (S2); INBOX is STORE_INVALID.
   Children stay (RFC 9051 §6.3.5: their names keep the parent's level). */
int store_folder_delete(struct store *st, int64_t mailbox_id, const char *name);
/* Renames a folder and every folder under it ("a" -> "b" takes "a/x" to
   "b/x"), keeping UIDVALIDITY and UIDs. Renaming INBOX moves its messages
   into a new folder of that name and leaves INBOX empty (RFC 9051 §6.3.6).
   STORE_EXISTS if the new name (or a child's) is taken. */
int store_folder_rename(struct store *st, int64_t mailbox_id, const char *from, const char *to);
int store_folder_subscribe(struct store *st, int64_t mailbox_id, const char *name, bool on);

struct store_imsg {
	int64_t id;
	uint32_t uid;
	unsigned flags; /* enum store_flag */
	char *keywords; /* space-separated, or NULL */
	uint64_t modseq;
	uint64_t size;	  /* of the wire form (S4) */
	int64_t received; /* INTERNALDATE, unix time */
	int64_t body_id;
};
/* The folder's messages in UID order; caller frees with
   store_imsgs_free(). */
int store_folder_load(struct store *st, int64_t folder_id, struct store_imsg **m_r, size_t *n_r);
/* The same for the UIDs lo..hi only (a FETCH batch): the cost follows the
   range, not the folder. */
int store_folder_load_range(struct store *st, int64_t folder_id, uint32_t lo, uint32_t hi,
			    struct store_imsg **m_r, size_t *n_r);
void store_imsgs_free(struct store_imsg *m, size_t n);
/* What changed after modseq `since` (CONDSTORE, QRESYNC, another
   session's changes): the messages whose modseq is above it (new ones
   too) in UID order, the UIDs expunged since (ascending), and the
   folder's highestmodseq now. *vanished_all_r is set when records older
   than `since` were pruned (S9): the caller then compares UIDs itself. */
int store_folder_changes(struct store *st, int64_t folder_id, uint64_t since,
			 struct store_imsg **m_r, size_t *n_r, uint32_t **vanished_r,
			 size_t *n_vanished_r, uint64_t *highest_r, bool *vanished_all_r);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
/* STORE FLAGS, +FLAGS, -FLAGS on the given UIDs of a folder (UIDs it does
   not hold are left out), in one transaction. keywords is space-separated
   or NULL. With unchangedsince > 0 (CONDSTORE) a message whose modseq is
   above it is left as it is and its UID goes to *failed_r. Messages whose
   flags really change take one new modseq (S9); the others keep theirs.
   *changed_r gets the messages as they are after the call (flags, modseq)
   for the untagged FETCH replies; caller frees both arrays. */
int store_flags_change(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
		       enum store_flag_op op, unsigned flags, const char *keywords,
		       uint64_t unchangedsince, struct store_imsg **changed_r, size_t *n_changed_r,
		       uint32_t **failed_r, size_t *n_failed_r);
/* Removes messages of a folder: the given UIDs, or with uids == NULL every
   message with \Deleted (EXPUNGE). UIDs not held or (with uids) without
   \Deleted are skipped. *expunged_r gets the UIDs removed, ascending. */
int store_folder_expunge(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
			 uint32_t **expunged_r, size_t *n_r);
/* COPY or MOVE (RFC 6851) of the given UIDs into another folder of the
   same mailbox, in UID order, in one transaction: *new_uids_r[i] is the
   destination UID of the i-th message copied and *src_uids_r[i] its
   source UID (COPYUID, RFC 4315). A move expunges the sources (S9). */
int store_folder_copy(struct store *st, int64_t from_folder, int64_t to_folder,
		      const uint32_t *uids, size_t n, bool move, uint32_t **src_uids_r,
		      uint32_t **new_uids_r, size_t *n_r);
/* APPEND: one message (wire form, S4) into a folder with flags, keywords
   and an INTERNALDATE (0: now); committed (S1) before it returns. */
int store_folder_append(struct store *st, int64_t folder_id, const char *body, size_t len,
			unsigned flags, const char *keywords, int64_t received, uint32_t *uid_r);
/* The folder a message is in (INBOX for every delivery). */
int store_inbox_id(struct store *st, int64_t mailbox_id, int64_t *folder_id_r);

/* The parsed MIME structure of a body (mime/mime_tree.h's serialised
   form), cached once per body: get is STORE_NOTFOUND until set. */
int store_body_mime_get(struct store *st, int64_t body_id, struct buf *out);
int store_body_mime_set(struct store *st, int64_t body_id, const void *blob, size_t len);

/* --- imports (migration in) ------------------------------------------------- */
struct store_import_msg {
	const char *body; /* wire form (S4) */
	size_t len;
	const char *uidl;  /* the UIDL the source served (1-70 printable), or NULL: a fresh one */
	int64_t received;  /* unix time the source received it, 0: now */
	int64_t folder_id; /* a folder of the mailbox, 0: INBOX */
	unsigned flags;	   /* enum store_flag */
	const char *keywords; /* space-separated IMAP keywords, or NULL */
	uint32_t uid;	      /* the UID it had, 0: none */
};
/* Adds messages to one mailbox in ONE transaction (S1 for all of them),
   single instance per message, the mailbox's quota not applied (an import
   is the admin's). A message whose UIDL the mailbox already holds is
   skipped (results[i] = STORE_EXISTS; else STORE_OK or STORE_INVALID for
   a malformed UIDL), so an import run again adds only what is missing.
   Each message goes into its folder (STORE_INVALID for the whole call
   when a folder_id is not the mailbox's) with its flags and keywords;
   keywords that are no IMAP atoms are dropped, and a list longer than
   STORE_KEYWORDS_MAX is cut at a keyword's end. A message keeps the UID it
   had when that is at or above the mailbox's next UID (S3 and S8 hold: the
   counter only grows, and a folder's UIDs grow in the order of msgs), else
   it gets the next one. Returns STORE_OK once committed, or an error with
   nothing written. */
int store_import(struct store *st, int64_t mailbox_id, const struct store_import_msg *msgs,
		 size_t n, int *results);

/* Convert a message as read from a file or pipe into wire form: lone LF and
   lone CR become CRLF; a missing final line end is added. */
void store_to_wire(struct buf *out, const char *in, size_t len);

/* Test seam (S9): the folder's expunge records become `seconds` older, as
   if made that long ago, so that the next expunge there prunes them. */
int store_test_age_expunged(struct store *st, int64_t folder_id, int64_t seconds);

#endif
