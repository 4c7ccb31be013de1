/* SPDX-License-Identifier: MIT */
/*
 * migrate.h - mail in from other servers' stores and out again (SPEC §5,
 * §6 import/export): the face of migrate/.
 *
 * Every source is one ops table (OpenSMTPD's queue backends in spirit):
 * open a place, hand out its messages one by one with the UIDL the old
 * server served for each, close. migrate_import() runs any source into one
 * mailbox in batches (store_import: one transaction per batch, messages
 * already there by UIDL skipped, so an import run again is resumable), and
 * reports progress. Messages of folders other than INBOX are recognised
 * by a key of folder and UIDL (migrate.c), so the rule holds per folder.
 * Exporters write what a peer serves the same way, every folder: a
 * Maildir++ with Dovecot's files (the same folders, flags, UIDs and
 * UIDLs), or a directory of mboxrd files.
 *
 * Sources:
 *  - maildir: a Maildir++ with its folders, flags, keywords and UIDs;
 *    Dovecot's dovecot-uidlist (its P<uidl> field where one is stored,
 *    else what pop3_uidl_format makes, default %08Xu%08Xv); Courier's
 *    courierpop3dsizelist;
 *  - mbox: mboxrd and mboxo From_ quoting, Content-Length, flags from
 *    Status/X-Status/X-Keywords; one file, or a directory of them, one a
 *    folder;
 *  - winpop3: the Windows Server POP3 service's store, one folder per
 *    mailbox (P3_name.mbx), each message one .eml file;
 *  - pop3: a live server over TLS (pop3s://user@host[:port], or STLS),
 *    each message's UIDL from its UIDL answer.
 * All of it blocks: the CLI's, never a network thread's.
 */
#ifndef MAILROOM_MIGRATE_MIGRATE_H
#define MAILROOM_MIGRATE_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct store;
struct migrate_source;

struct migrate_options {
	const char *uidl_format; /* maildir: Dovecot's pop3_uidl_format, NULL: %08Xu%08Xv */
	const char *password;	 /* pop3: the account's password */
	const char *ca_file;	 /* pop3: CA to verify the server with, NULL: the system's */
	bool insecure;		 /* pop3: accept any certificate (a self-signed test server) */
	/* pop3, optional: true when the mailbox holds that UIDL already; such
	   messages are not fetched at all (a run again downloads only what is
	   new). NULL: every message is fetched and store_import skips them. */
	bool (*has_uidl)(void *ctx, const char *uidl);
	void *has_uidl_ctx;
};

struct migrate_msg {
	struct buf body;  /* wire form (store.h S4); the source fills it */
	char uidl[71];	  /* the UIDL the old server served, "" for none */
	int64_t received; /* unix time, 0 unknown */
	/* where it goes and how it was marked (sources with folders; the
	   others leave them): the folder's name (UTF-8, '/' between levels,
	   "" for INBOX), its flags (store.h enum store_flag), its keywords
	   (space-separated), the UID it had there (0 none) */
	struct buf folder, keywords;
	unsigned flags;
	uint32_t uid;
};

/* Frees what a message holds (body, folder, keywords), leaving it empty. */
void migrate_msg_clear(struct migrate_msg *m);

struct migrate_source_ops {
	const char *name; /* "maildir", "mbox", "winpop3", "pop3" */
	/* `where`: a path, or for pop3 a URL. Returns 0, or -1 with err. */
	int (*open)(const char *where, const struct migrate_options *o, struct migrate_source **s_r,
		    char *err, size_t err_len);
	/* 1: the next message is in *m (its body reset first); 0: no more;
	   -1: failed, with err */
	int (*next)(struct migrate_source *s, struct migrate_msg *m, char *err, size_t err_len);
	/* How many messages there are, -1 when not known (for progress). */
	long long (*count)(struct migrate_source *s);
	void (*close)(struct migrate_source **s);
	/* Sources with folders, else NULL (INBOX alone): the i-th folder's
	   name ("" for INBOX; parents before children) and whether it is
	   subscribed, NULL past the last. migrate_import makes those missing
	   before the first message, empty ones too. */
	const char *(*folder)(struct migrate_source *s, size_t i, bool *subscribed_r);
};
/* The source called `name`, or NULL. */
const struct migrate_source_ops *migrate_source_find(const char *name);

struct migrate_stats {
	uint64_t seen, added, skipped, octets;
	uint64_t folders; /* folders written (export) or made (import) */
};
typedef void migrate_progress_fn(const struct migrate_stats *st, long long total, void *ctx);

/* Runs the source into the mailbox (store_import in batches); progress, if
   given, is called after each batch. Returns 0, or -1 with err (what was
   committed before stays: run it again to go on). */
int migrate_import(struct store *st, int64_t mailbox_id, const struct migrate_source_ops *ops,
		   struct migrate_source *src, migrate_progress_fn *progress, void *ctx,
		   struct migrate_stats *stats, char *err, size_t err_len);

/* Writes the mailbox with every folder as a Maildir++ at path (made if
   missing, must hold no mail) with the files that make Dovecot show the
   same folders, flags, keywords, UIDs and UIDLs, or as a directory of
   mboxrd files (made if missing, must be empty), one a folder
   (mig_mbox.h mbox_folder_path). Returns 0, or -1 with err. */
int migrate_export_maildir(struct store *st, int64_t mailbox_id, const char *path,
			   struct migrate_stats *stats, char *err, size_t err_len);
int migrate_export_mbox(struct store *st, int64_t mailbox_id, const char *path,
			struct migrate_stats *stats, char *err, size_t err_len);

#endif
