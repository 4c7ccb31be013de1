/* SPDX-License-Identifier: MIT */
/*
 * smtp_policy.h - who may send what to whom, as pure functions of facts the
 * session has gathered: no store, no connection, no clock. The session
 * looks the facts up (on a worker) and replies; these functions only decide,
 * so they are unit-tested with tables (tests/unit/test_smtp_policy.c).
 *
 * Relay policy (docs/admin.md repeats it):
 *  - Inbound role (smtp): recipients must be in a hosted domain. In an
 *    authoritative domain they must exist (550 5.1.1 at RCPT, never a bounce
 *    later); internal-relay domains queue unknown recipients for the
 *    domain's route; external-relay domains queue everything. Any other
 *    domain, an address literal, or a local part that carries routing ('%',
 *    '!', a quoted '@', a source route) gets 550 5.7.1: no open relay,
 *    whatever the trick.
 *  - Submission roles (logged in): any recipient is accepted; remote ones go
 *    to the outbound queue.
 *  - postmaster@ every hosted domain, and bare <Postmaster>, are always
 *    accepted (RFC 5321 §4.5.1): to that address's own mailbox if one exists,
 *    else to [smtp] postmaster, else to the store's built-in postmaster.
 *  - What a local recipient expands to, and its quota and the sender's
 *    limits, are the delivery path's (delivery/delivery.h).
 */
#ifndef MAILROOM_SMTP_SMTP_POLICY_H
#define MAILROOM_SMTP_SMTP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/smtp_parse.h"

#define SMTP_ENVID_MAX 100 /* RFC 3461 §4.4 */
#define SMTP_ORCPT_MAX 500 /* RFC 3461 §4.2 */

/* --- MAIL and RCPT parameters --------------------------------------------- */
struct smtp_mail_params {
	uint64_t size;		  /* SIZE= (RFC 1870), 0 if absent */
	bool body_8bit, smtputf8; /* BODY=8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531) */
	struct slice ret, envid;  /* RFC 3461 §4.3/4.4; borrow from the line */
};
struct smtp_rcpt_params {
	struct slice notify, orcpt; /* RFC 3461 §4.1/4.2; borrow from the line */
};
/* Interprets the parameters of a parsed MAIL/RCPT path. Returns true if all
   are known and valid; else false with *bad_r = the index of the first one
   refused (555 5.5.4). A later repeat of a parameter overrides an earlier. */
bool smtp_policy_mail_params(const struct smtp_path *p, struct smtp_mail_params *out,
			     size_t *bad_r);
bool smtp_policy_rcpt_params(const struct smtp_path *p, struct smtp_rcpt_params *out,
			     size_t *bad_r);
/* RFC 3461 §4.1: "NEVER" or a comma list of SUCCESS, FAILURE, DELAY. */
bool smtp_policy_notify_valid(struct slice v);
/* Whether a valid NOTIFY value asks for a success report (§6.2.1). */
bool smtp_policy_notify_success(struct slice v);

/* --- recipients -------------------------------------------------------------- */
enum smtp_domain_kind {
	SMTP_DOMAIN_NONE, /* not hosted here (or an address literal) */
	SMTP_DOMAIN_AUTHORITATIVE,
	SMTP_DOMAIN_INTERNAL_RELAY,
	SMTP_DOMAIN_EXTERNAL_RELAY,
};

struct smtp_rcpt_facts {
	bool authenticated;    /* a submission login */
	bool bare_postmaster;  /* <Postmaster> without a domain */
	bool postmaster_local; /* the local part is "postmaster" */
	bool routing;	       /* '%', '!', quoted '@' or a source route */
	enum smtp_domain_kind domain;
	bool found; /* resolved to mailboxes or aliases (hosted, non-external domains) */
};

enum smtp_rcpt_verdict {
	SMTP_RCPT_LOCAL,      /* the address's own mailboxes (and alias targets) */
	SMTP_RCPT_POSTMASTER, /* the [smtp] postmaster mailbox */
	SMTP_RCPT_REMOTE,     /* queue for delivery elsewhere */
	SMTP_RCPT_UNKNOWN,    /* 550 5.1.1 */
	SMTP_RCPT_RELAY,      /* 550 5.7.1 relay denied */
	SMTP_RCPT_ROUTING,    /* 550 5.7.1 sender-specified routing */
	SMTP_RCPT_TEMP,	      /* 451 4.3.0: a lookup failed */
};

/* Where a recipient goes, before any mailbox lookup past `found`. */
enum smtp_rcpt_verdict smtp_policy_rcpt(const struct smtp_rcpt_facts *f);
/* --- senders ----------------------------------------------------------------- */
/* Submission with [smtp] sender_login_match: the sender address resolved to
   ids[0..n); it is the user's if one of them is the login's mailbox. */
bool smtp_policy_sender_owned(const int64_t *ids, size_t n, int64_t mailbox_id);

#endif
