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
 * damaged or read-only; 77 (EX_NOPERM) a list's sender rule refuses the
 * sender. The message goes through the local delivery path (delivery.h)
 * as SMTP's does, side effects included.
 *
 * postmaster@ a hosted domain without a mailbox or alias of that name goes
 * where SMTP sends it (RFC 5321 §4.5.1): to [smtp] postmaster if set, else to
 * the store's built-in postmaster; `deliver postmaster` reaches the latter.
 */
#include "cli/cli_private.h"
#include "smtp/smtp.h"
#include "delivery/delivery.h"
#include "directory/directory.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/mem.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
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
    "Lists, forwarding, auto-replies and quota warnings apply as to SMTP (not\n"
    "with --uidl: an import only stores).\n"
    "Exit: 0 delivered, 67 unknown recipient, 75 try later (store busy, quota\n"
    "full), 65 bad message, 74 stdin or store unreadable, 77 a list's sender\n"
    "rule refuses the sender.\n";

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

/* The sysexits code of a recipient the delivery path refused. */
static int refused(const char *rcpt, const struct delivery_result *res)
{
	switch (res->verdict) {
	case DELIVERY_UNKNOWN:
		cli_err("deliver: no mailbox for %s", rcpt);
		return EX_NOUSER;
	case DELIVERY_FULL:
		cli_err("deliver: the mailbox of %s is over its quota: try later, or raise it with "
			"user set --quota",
			rcpt);
		return EX_TEMPFAIL;
	case DELIVERY_REFUSED:
		cli_err("deliver: %s: %s", rcpt, res->text);
		return EX_NOPERM;
	case DELIVERY_NO_POSTMASTER:
	case DELIVERY_TEMP:
	default:
		cli_err("deliver: %s: %s", rcpt, res->text);
		return EX_TEMPFAIL;
	}
}

static void make_qid(char *qid, size_t len)
{
	unsigned char rnd[8];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(qid, len, "L%02X%02X%02X%02X%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2], rnd[3],
		 rnd[4], rnd[5], rnd[6], rnd[7]);
}

/* postmaster@ a hosted domain falls back as on SMTP (RFC 5321 §4.5.1). */
static bool postmaster_address(struct store *st, const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');
	struct store_domain d;

	if (at == NULL)
		return strcasecmp(rcpt, STORE_POSTMASTER) == 0;
	if ((size_t)(at - rcpt) != 10 || strncasecmp(rcpt, STORE_POSTMASTER, 10) != 0 ||
	    store_domain_get(st, at + 1, &d) != STORE_OK)
		return false;
	store_domain_clear(&d);
	return true;
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
	struct delivery *dl = NULL;
	struct delivery_plan *plan = NULL;
	struct delivery_out out = {0};
	struct buf in = {0}, wire = {0};
	int rc = cli_parse("deliver", usage, "ADDRESS is missing, as in: deliver alice@example.org",
			   argc, argv, opts, 2, pos, 1, 1, &np, &done);

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
	struct delivery_settings ds = {.hostname = c->cfg.hostname,
				       .postmaster = smtp_config(&c->cfg)->postmaster,
				       .data_dir = c->cfg.data_dir,
				       .dir = dir};
	const char *derr;
	if (delivery_open(&ds, &dl, &derr) < 0) {
		cli_err("deliver: %s", derr);
		rc = EX_TEMPFAIL;
		goto out;
	}
	char *norm = store_norm_address(rcpt);
	if (norm == NULL && strcasecmp(rcpt, STORE_POSTMASTER) != 0) {
		cli_err("deliver: '%s' is not a valid address", rcpt);
		rc = EX_NOUSER;
		goto out;
	}
	free(norm);
	/* the admin's own injection: originates here (DKIM-signed when queued) */
	struct delivery_sender snd = {.address = opts[1].set ? opts[1].value : NULL,
				      .local_origin = true};
	struct delivery_rcpt r = {
	    .address = rcpt, .postmaster = postmaster_address(st, rcpt), .any_room = true};
	struct delivery_result res;
	plan = delivery_plan_new(&snd, wire.len);
	if (delivery_add(dl, st, plan, &r, &res) != DELIVERY_OK) {
		rc = refused(rcpt, &res);
		goto out;
	}
	char qid[24];
	make_qid(qid, sizeof(qid));
	struct delivery_message m = {
	    .qid = qid, .body = wire.data, .len = wire.len, .arrival = (int64_t)time(NULL)};
	delivery_build(dl, st, plan, &m, &out);
	if (opts[0].set) {
		/* a migrated message keeps its UIDL: into the mailboxes alone, with
		   no side effects (an import is no new mail) */
		if (out.sub.n_remote > 0 || delivery_plan_remote(plan) > 0 || res.over_quota > 0 ||
		    delivery_plan_local(plan) != out.sub.n_local) {
			bool fwd = out.sub.n_remote > 0 || delivery_plan_remote(plan) > 0;
			cli_err("deliver: --uidl needs local mailboxes with room: %s %s", rcpt,
				fwd ? "also forwards elsewhere" : "has a mailbox over quota");
			rc = fwd ? EX_DATAERR : EX_TEMPFAIL;
			goto out;
		}
		int *results = xcalloc(out.sub.n_local, sizeof(*results));
		rc = store_deliver(st, out.sub.mailbox_ids, out.sub.n_local, wire.data, wire.len,
				   opts[0].value, results);
		free(results);
	} else {
		rc = store_submit(st, &out.sub, 1);
		if (rc == STORE_OK)
			rc = out.sub.status;
		if (rc == STORE_OK)
			delivery_log(&out, qid);
	}
	if (rc == STORE_OK && res.over_quota > 0)
		cli_err("deliver: %zu of %zu mailboxes of %s are now over quota", res.over_quota,
			out.sub.n_local, rcpt);
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
out:
	delivery_out_clear(&out);
	delivery_plan_free(&plan);
	delivery_free(&dl);
	buf_free(&in);
	buf_free(&wire);
	directory_free(&dir);
	store_close(&st);
	return rc;
}
