/* SPDX-License-Identifier: MIT */
/*
 * cli_export.c - `mailroom export maildir|mbox ADDRESS PATH`: one mailbox
 * out of mailroom with every folder, as a Maildir++ Dovecot serves with the
 * same folders, flags, UIDs and UIDLs, or as a directory of mboxrd files
 * (migrate.h). It reads each folder as it is then and may run while
 * `serve` does.
 */
#include "cli/cli_private.h"
#include "directory/directory.h"
#include "migrate/migrate.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] export maildir|mbox ADDRESS PATH\n"
    "\n"
    "Writes every folder of the mailbox of ADDRESS (an alias must lead to one\n"
    "mailbox) to PATH, a folder that must not exist or be empty:\n"
    "  maildir  a Maildir++ (INBOX in PATH, folder a/b in PATH/.a.b) with flags\n"
    "           in the file names, dovecot-keywords, a dovecot-uidlist a folder\n"
    "           and subscriptions: Dovecot serving it shows the same folders,\n"
    "           flags and UIDs, and POP3 clients get the same UIDLs and bytes\n"
    "  mbox     one mboxrd file a folder (PATH/INBOX, PATH/a.sbd/b), flags as\n"
    "           Status, X-Status and X-Keywords headers\n"
    "Prints one summary line.\n"
    "Exit: 0 written, 64 bad usage, 67 unknown address, 73 PATH in use or not\n"
    "writable, 75 store busy.\n";

int cli_export(struct cli *c, int argc, char **argv)
{
	const char *pos[3];
	size_t np;
	bool done;
	struct store *st = NULL;
	struct directory *dir = NULL;
	struct dir_rcpt r = {0};
	struct migrate_stats stats;
	char err[1024];
	int rc = cli_parse("export", usage,
			   "give the format, ADDRESS and PATH, as in: export maildir "
			   "alice@example.org /srv/export/alice",
			   argc, argv, NULL, 0, pos, 3, 3, &np, &done);

	if (rc != 0 || done)
		return rc;
	bool maildir = strcmp(pos[0], "maildir") == 0;
	if (!maildir && strcmp(pos[0], "mbox") != 0) {
		cli_err("export: unknown format '%s': maildir or mbox", pos[0]);
		return EX_USAGE;
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if ((rc = cli_directory_open(c, &dir)) != 0)
		goto out;
	int s = directory_resolve(dir, st, pos[1], &r);
	if (s == STORE_NOTFOUND || (s == STORE_OK && r.n_ids == 0)) {
		cli_err("export: no mailbox for %s", pos[1]);
		rc = EX_NOUSER;
		goto out;
	}
	if (s != STORE_OK) {
		rc = cli_store_fail(st, s);
		goto out;
	}
	if (r.n_ids > 1) {
		cli_err("export: %s leads to %zu mailboxes: give the address of one", pos[1],
			r.n_ids);
		rc = EX_USAGE;
		goto out;
	}
	int e = maildir ? migrate_export_maildir(st, r.ids[0], pos[2], &stats, err, sizeof(err))
			: migrate_export_mbox(st, r.ids[0], pos[2], &stats, err, sizeof(err));
	if (e < 0) {
		cli_err("export: %s", err);
		/* the exporters report a store failure with the store's own text */
		rc = strcmp(err, store_error(st)) == 0 ? EX_TEMPFAIL : EX_CANTCREAT;
		goto out;
	}
	printf("exported %" PRIu64 " messages (%" PRIu64 " octets) in %" PRIu64
	       " folders of %s to %s %s\n",
	       stats.added, stats.octets, stats.folders, pos[1],
	       maildir ? "the Maildir" : "the mbox folder", pos[2]);
	rc = 0;
out:
	dir_rcpt_clear(&r);
	directory_free(&dir);
	store_close(&st);
	return rc;
}
