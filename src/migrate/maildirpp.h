/* SPDX-License-Identifier: MIT */
/*
 * maildirpp.h - the folder side of a Maildir++ as Dovecot keeps it
 * (LAYOUT=maildir++, its default): folder names as directory names, the
 * flags in a file name's info, dovecot-keywords and subscriptions. Both
 * directions, for the export (mig_export.c) and the import (mig_maildir.c).
 * The parsers read another server's files: any input parses or fails with
 * a reason, never crashes (fuzz/fuzz_dovecot_uidlist.c).
 *
 * Names: INBOX is the Maildir itself; the folder "a/b" is the directory
 * ".a.b" beside cur/ new/ tmp/. Each level is in modified UTF-7 (RFC 3501
 * §5.1.3), as Dovecot stores names unless told UTF8, and a '.', '/' or '\'
 * in a level, or a '~' at its start, is written '\' and two hex digits
 * (Dovecot's listescape plugin), since '.' separates the levels.
 *
 * Info: ":2," then the flags in ASCII order, D(raft) F(lagged)
 * R(eplied: \Answered) S(een) T(rashed: \Deleted), then the letters a-z
 * of the folder's keywords, the i-th line of dovecot-keywords ("<i> <name>"
 * for i 0-25) being the letter 'a' + i.
 *
 * subscriptions: Dovecot's version 2 ("V\t2", an empty line, then one
 * name a line with '\t' between levels, each level as in its directory's
 * name) or the older form (the directory's name without its leading '.').
 * Names listed that are not valid are left out.
 */
#ifndef MAILROOM_MIGRATE_MAILDIRPP_H
#define MAILROOM_MIGRATE_MAILDIRPP_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define MAILDIRPP_KEYWORDS 26 /* letters a-z */

/* The directory of a store folder name (UTF-8, '/' between levels),
   appended to out (NUL-terminated): "" for INBOX, else ".lvl.lvl".
   Returns 0, or -1 for a name that is no UTF-8. */
int maildirpp_name_encode(const char *name, struct buf *out);
/* The store name of a directory (its name as listed, starting with '.'),
   appended to out (NUL-terminated). Returns 0, or -1 with err for a name
   that is no Maildir++ folder (no leading '.', an empty level, a bad
   escape or modified UTF-7). */
int maildirpp_name_decode(const char *dir, size_t len, struct buf *out, char *err, size_t err_len);

/* A file name's info: the store flags (enum store_flag) and the keyword
   letters (bit i: 'a' + i) after ":2,"; none when there is no info. Other
   letters are ignored, as Dovecot does. */
void maildirpp_info_parse(const char *file_name, unsigned *flags_r, unsigned *letters_r);
/* ":2," and the letters of flags and keyword letters, appended to out. */
void maildirpp_info_format(unsigned flags, unsigned letters, struct buf *out);

/* dovecot-keywords: name[i] is the keyword of letter 'a' + i, or NULL. */
struct maildirpp_keywords {
	char *name[MAILDIRPP_KEYWORDS];
};
/* Returns 0, or -1 with err ("line N: ...") and *k empty: a line that is
   not "<0-25> <name>", a number given twice, a name that is empty or
   holds a control character. */
int maildirpp_keywords_parse(const char *data, size_t len, struct maildirpp_keywords *k, char *err,
			     size_t err_len);
void maildirpp_keywords_free(struct maildirpp_keywords *k);

/* The store names a subscriptions file lists; cb is called for each one
   that decodes. */
typedef void maildirpp_subscribed_cb(const char *name, void *ctx);
void maildirpp_subscriptions_parse(const char *data, size_t len, maildirpp_subscribed_cb *cb,
				   void *ctx);

#endif
