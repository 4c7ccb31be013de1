/* SPDX-License-Identifier: MIT */
/*
 * mig_mbox.h - the mbox splitter behind the `mbox` source (mig_mbox.c),
 * apart so that the unit tests and the fuzz target run it on bytes in
 * memory: the source maps the file and hands the mapping to it.
 */
#ifndef MAILROOM_MIGRATE_MIG_MBOX_H
#define MAILROOM_MIGRATE_MIG_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/migrate.h"

/* How a body line that looks like a From_ line was quoted by the writer:
   mboxrd quotes ">*From " with one more '>' (reversible), mboxo only
   "From " (so ">From " in a body cannot be told from a quoted "From "). */
enum mbox_flavour { MBOX_RD, MBOX_O };

struct mbox_split {
	const char *p;
	size_t len, off; /* off: the next From_ line, or len */
	enum mbox_flavour flavour;
	bool started;
};

void mbox_split_init(struct mbox_split *sp, const char *p, size_t len, enum mbox_flavour flavour);
/* 1: the next message is in *m (body in wire form, uidl from X-UIDL or "",
   received from the From_ line or 0); 0: no more; -1: the bytes are no
   mbox (they do not begin with a From_ line), with err. */
int mbox_split_next(struct mbox_split *sp, struct migrate_msg *m, char *err, size_t err_len);

/* The unix time of a From_ line's date ("From sender Www Mmm dd hh:mm:ss
   yyyy", a zone token allowed; UTC unless a numeric zone is given), or -1
   when it has none. */
int64_t mbox_from_date(const char *line, size_t len);

/* Where a folder's mbox file lies in an export's directory (appended to
   out): "INBOX", "Sent", "Archive.sbd/2024" (Thunderbird's layout: the
   children of X in the directory X.sbd). A '%', a leading '.' and the '.'
   of a last ".sbd" or ".msf" of a level are written %XX; the source reads
   %XX back. */
void mbox_folder_path(const char *name, struct buf *out);

/* The `mbox` source (migrate.h): mboxrd unquoting; PATH one file (INBOX)
   or a directory of them, one a folder, as mbox_folder_path lays them out
   (directories without ".sbd", as mutt and Dovecot make them, are read as
   the same hierarchy). */
extern const struct migrate_source_ops migrate_mbox_ops;

#endif
