/* SPDX-License-Identifier: MIT */
/*
 * cli_deliver.c - `mailroom deliver ADDRESS < message`: local delivery, for
 * use as an LDA (e.g. Postfix's mailbox_command) or to import mail.
 *
 * Exit codes follow sysexits(3) as MTAs expect of an LDA: 0 delivered and
 * fsync'ed; 67 (EX_NOUSER) no local mailbox for ADDRESS; 75 (EX_TEMPFAIL)
 * store busy or failing, no store yet, or the mailbox over quota (the MTA
 * keeps the message and retries); 65 (EX_DATAERR) message too large or
 * empty, or a bad --uidl; 74 (EX_IOERR) stdin unreadable, or the store
 * damaged or read-only.
 *
 * postmaster@ a hosted domain without a mailbox or alias of that name goes
 * where SMTP sends it (RFC 5321 §4.5.1): to [smtp] postmaster if set, else to
 * the store's built-in postmaster; `deliver postmaster` reaches the latter.
 */
#include "cli/cli_private.h"
#include "directory/directory.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DELIVER_MAX (64u * 1024 * 1024)

static const char usage[] =
    "usage: mailroom [-c FILE] deliver ADDRESS [--sender ADDRESS] [--uidl UIDL] < message\n"
    "\n"
    "Stores the message read from stdin (at most 64 MiB) in the mailbox of\n"
    "ADDRESS, or of every mailbox an alias leads to (alias targets outside the\n"
    "hosted domains go to the outbound queue), and exits 0 once it is on disk.\n"
    "Line ends are stored as CRLF. --sender is the envelope sender: the copy\n"
    "starts with Return-Path: <ADDRESS> (\"\" gives <>), and reports about\n"
    "forwarded copies go to it (default: none, no Return-Path added). --uidl\n"
    "keeps the POP3 UIDL the message had on another server (1-70 printable\n"
    "characters), for migrations.\n"
    "Exit: 0 delivered, 67 unknown recipient, 75 try later (store busy, quota\n"
    "full), 65 bad message, 74 stdin or store unreadable.\n";

static int read_all(struct buf *in)
{
	for (;;) {
		buf_reserve(in, 65536);
		ssize_t n = read(STDIN_FILENO, in->data + in->len, in->cap - in->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_err("deliver: cannot read the message from stdin: %s", strerror(errno));
			return EX_IOERR;
		}
		if (n == 0)
			return 0;
		in->len += (size_t)n;
		if (in->len > DELIVER_MAX) {
			cli_err("deliver: the message is larger than %u bytes (64 MiB), the most "
				"deliver takes",
				DELIVER_MAX);
			return EX_DATAERR;
		}
	}
}

static int resolve_one(struct directory *dir, struct store *st, const char *rcpt, int64_t **ids_r,
		       size_t *n_r, char ***fwd_r, size_t *n_fwd_r)
{
	struct dir_rcpt r;
	int rc = directory_resolve(dir, st, rcpt, &r);
	*ids_r = r.ids;
	*n_r = r.n_ids;
	*fwd_r = r.remote;
	*n_fwd_r = r.n_remote;
	return rc;
}

/* directory_resolve, with postmaster@ a hosted domain falling back as the
   SMTP RCPT path does. */
static int resolve(struct cli *c, struct directory *dir, struct store *st, const char *rcpt,
		   int64_t **ids_r, size_t *n_r, char ***fwd_r, size_t *n_fwd_r)
{
	int rc = resolve_one(dir, st, rcpt, ids_r, n_r, fwd_r, n_fwd_r);
	const char *at = strrchr(rcpt, '@');
	struct store_domain d;

	if (rc != STORE_NOTFOUND || at == NULL || (size_t)(at - rcpt) != 10 ||
	    strncasecmp(rcpt, STORE_POSTMASTER, 10) != 0)
		return rc;
	if (store_domain_get(st, at + 1, &d) != STORE_OK)
		return rc;
	store_domain_clear(&d);
	const char *pm = c->cfg.smtp_postmaster != NULL ? c->cfg.smtp_postmaster : STORE_POSTMASTER;
	return resolve_one(dir, st, pm, ids_r, n_r, fwd_r, n_fwd_r);
}

int cli_deliver(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{.name = "uidl", .has_arg = true},
				 {.name = "sender", .has_arg = true}};
	const char *pos[1];
	size_t np;
	bool done;
	struct store *st = NULL;
	struct directory *dir = NULL;
	struct buf in = {0}, wire = {0};
	int64_t *ids = NULL;
	size_t n = 0;
	int *results = NULL;
	int rc = cli_parse("deliver", usage, "ADDRESS is missing, as in: deliver alice@example.org",
			   argc, argv, opts, 2, pos, 1, 1, &np, &done);
	char **fwd = NULL;
	size_t n_fwd = 0;

	if (rc != 0 || done)
		return rc;
	const char *rcpt = pos[0];
	if ((rc = read_all(&in)) != 0)
		goto out;
	if (in.len == 0) {
		cli_err("deliver: the message on stdin is empty: nothing delivered");
		rc = EX_DATAERR;
		goto out;
	}
	store_to_wire(&wire, in.data, in.len);
	buf_free(&in);
	if ((rc = cli_store_open(c, false, &st)) != 0) {
		rc = rc == EX_CONFIG || rc == EX_IOERR ? EX_TEMPFAIL : rc;
		goto out;
	}
	if ((rc = cli_directory_open(c, &dir)) != 0) {
		rc = EX_TEMPFAIL;
		goto out;
	}
	rc = resolve(c, dir, st, rcpt, &ids, &n, &fwd, &n_fwd);
	if (rc == STORE_NOTFOUND || rc == STORE_INVALID) {
		if (rc == STORE_INVALID)
			cli_err("deliver: '%s' is not a valid address", rcpt);
		else
			cli_err("deliver: no mailbox for %s", rcpt);
		rc = EX_NOUSER;
		goto out;
	}
	if (rc != STORE_OK) {
		cli_store_fail(st, rc);
		rc = EX_TEMPFAIL;
		goto out;
	}
	/* quota: a message refused by every mailbox waits (75); one that some
	   mailboxes can take goes to all of them, never to only some */
	size_t over = 0;
	for (size_t i = 0; i < n; i++) {
		bool ok = true;
		if (store_quota_check(st, ids[i], wire.len, &ok) != STORE_OK) {
			rc = cli_store_fail(st, STORE_TEMP);
			goto out;
		}
		over += !ok;
	}
	if (n > 0 && over == n && n_fwd == 0) {
		cli_err("deliver: the mailbox of %s is over its quota: try later, or raise it with "
			"user set --quota",
			rcpt);
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (opts[0].set) {
		if (n_fwd > 0 || over > 0) {
			cli_err("deliver: --uidl needs local mailboxes with room: %s %s", rcpt,
				n_fwd > 0 ? "also forwards elsewhere" : "has a mailbox over quota");
			rc = n_fwd > 0 ? EX_DATAERR : EX_TEMPFAIL;
			goto out;
		}
		results = xcalloc(n, sizeof(*results));
		rc = store_deliver(st, ids, n, wire.data, wire.len, opts[0].value, results);
	} else {
		struct store_remote_rcpt *remote = xcalloc(n_fwd + 1, sizeof(*remote));
		unsigned char rnd[8];
		char qid[24];
		for (size_t i = 0; i < n_fwd; i++)
			remote[i].address = fwd[i];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			memset(rnd, 0, sizeof(rnd));
		snprintf(qid, sizeof(qid), "L%02X%02X%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1],
			 rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
		struct store_submission sub = {
		    .qid = qid,
		    .sender = opts[1].set ? opts[1].value : NULL,
		    .body = wire.data,
		    .len = wire.len,
		    .mailbox_ids = ids,
		    .n_local = n,
		    .remote = remote,
		    .n_remote = n_fwd,
		};
		rc = store_submit(st, &sub, 1);
		if (rc == STORE_OK)
			rc = sub.status;
		free(remote);
	}
	if (rc == STORE_OK) {
		if (over > 0)
			cli_err("deliver: %zu of %zu mailboxes of %s are now over quota", over, n,
				rcpt);
		rc = 0;
	} else {
		rc = cli_store_fail(st, rc);
	}
out:
	for (size_t i = 0; i < n_fwd; i++)
		free(fwd[i]);
	free(fwd);
	free(results);
	free(ids);
	buf_free(&in);
	buf_free(&wire);
	directory_free(&dir);
	store_close(&st);
	return rc;
}
