/* SPDX-License-Identifier: MIT */
/*
 * cli_deliver.c - `mailroom deliver ADDRESS < message`: local delivery, for
 * use as an LDA (e.g. Postfix's mailbox_command) or to import mail.
 *
 * Exit codes follow sysexits(3) as MTAs expect of an LDA: 0 delivered and
 * fsync'ed; 67 (EX_NOUSER) no local mailbox for ADDRESS; 75 (EX_TEMPFAIL)
 * store busy or failing, or the mailbox over quota (the MTA keeps the
 * message and retries); 65 (EX_DATAERR) message too large or empty;
 * 1 anything else.
 */
#include "cli/cli_private.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_DATAERR 65
#define EXIT_NOUSER 67
#define DELIVER_MAX (64u * 1024 * 1024)

static const char usage[] =
	"usage: mailroom [-c FILE] deliver ADDRESS [--uidl UIDL] < message\n"
	"\n"
	"Stores the message read from stdin (at most 64 MiB) in the mailbox of\n"
	"ADDRESS, or of every mailbox an alias leads to, and exits 0 once it is on\n"
	"disk. Line ends are stored as CRLF. --uidl keeps the POP3 UIDL the message\n"
	"had on another server (1-70 printable characters), for migrations.\n"
	"Exit: 0 delivered, 67 unknown recipient, 75 try later (store busy, quota\n"
	"full), 65 bad message, 1 other errors.\n";

static int read_all(struct buf *in)
{
	for (;;) {
		buf_reserve(in, 65536);
		ssize_t n = read(STDIN_FILENO, in->data + in->len, in->cap - in->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cli_err("deliver: cannot read stdin: %s", strerror(errno));
			return 1;
		}
		if (n == 0)
			return 0;
		in->len += (size_t)n;
		if (in->len > DELIVER_MAX) {
			cli_err("deliver: message larger than %u bytes", DELIVER_MAX);
			return EXIT_DATAERR;
		}
	}
}

int cli_deliver(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{.name = "uidl", .has_arg = true}};
	const char *pos[1];
	size_t np;
	bool done;
	struct store *st = NULL;
	struct buf in = {0}, wire = {0};
	int64_t *ids = NULL;
	size_t n = 0;
	int *results = NULL;
	int rc = cli_parse(usage, argc, argv, opts, 1, pos, 1, 1, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *rcpt = pos[0];
	if ((rc = read_all(&in)) != 0)
		goto out;
	if (in.len == 0) {
		cli_err("deliver: empty message on stdin");
		rc = EXIT_DATAERR;
		goto out;
	}
	store_to_wire(&wire, in.data, in.len);
	buf_free(&in);
	if ((rc = cli_store_open(c, false, &st)) != 0) {
		rc = rc == 1 ? EXIT_TEMPFAIL : rc;
		goto out;
	}
	rc = store_resolve(st, rcpt, &ids, &n);
	if (rc == STORE_NOTFOUND || rc == STORE_INVALID) {
		cli_err("deliver: no mailbox for %s", rcpt);
		rc = EXIT_NOUSER;
		goto out;
	}
	if (rc != STORE_OK) {
		cli_store_fail(st, rc, "deliver");
		rc = EXIT_TEMPFAIL;
		goto out;
	}
	results = xcalloc(n, sizeof(*results));
	rc = store_deliver(st, ids, n, wire.data, wire.len, opts[0].value, results);
	if (rc == STORE_OK) {
		size_t full = 0;
		for (size_t i = 0; i < n; i++)
			full += results[i] != STORE_OK;
		if (full > 0)
			cli_err("deliver: %zu of %zu mailboxes of %s are over quota", full, n, rcpt);
		rc = 0;
	} else if (rc == STORE_QUOTA) {
		cli_err("deliver: mailbox of %s is over quota", rcpt);
		rc = EXIT_TEMPFAIL;
	} else if (rc == STORE_INVALID) {
		cli_store_fail(st, rc, "deliver");
		rc = EXIT_DATAERR;
	} else {
		cli_store_fail(st, rc, "deliver");
		rc = rc == STORE_TEMP ? EXIT_TEMPFAIL : 1;
	}
out:
	free(results);
	free(ids);
	buf_free(&in);
	buf_free(&wire);
	store_close(&st);
	return rc;
}
