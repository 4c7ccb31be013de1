/* SPDX-License-Identifier: MIT */
/*
 * delivery.h - the one local delivery path (SPEC §3-§5): every message that
 * reaches a mailbox here goes through it, whatever brought it: SMTP (inbound
 * and submission), `mailroom deliver`, and mailroom's own reports.
 *
 * A message is delivered in two steps:
 *  1. delivery_add(), once per recipient (at RCPT, or for each address
 *     `deliver` is given): resolves and expands the address through the
 *     directory (aliases, distribution lists, forwarding, SRS bounce
 *     addresses, the postmaster fall-back), applies the recipient's policy
 *     (the receive quota, a list's sender rule, the sender's recipient limits)
 *     and adds what it found to a plan. A refused recipient leaves the plan
 *     as it was, with a verdict the caller turns into its protocol's answer.
 *  2. delivery_build(), once the message is complete: makes the store
 *     submission of the message and of everything it causes, its side
 *     effects: copies to lists (List-Id, the list's bounce address as
 *     envelope sender), forwarded copies (SRS envelope sender, Delivered-To),
 *     auto-replies (RFC 3834), quota warnings, success reports (RFC 3461).
 *     The caller stores the submission with store_submit(): the message and
 *     its side effects are committed in one transaction or not at all, so a
 *     crash never sends a reply for mail that was not stored, nor loses one
 *     for mail that was; a side effect sent at most once (an auto-reply per
 *     sender and interval, a quota warning per crossing) is decided inside
 *     that transaction (store.h once_key).
 *
 * Both steps block (store, directory): worker threads only. A plan belongs
 * to one message and is used by one thread at a time.
 */
#ifndef MAILROOM_DELIVERY_DELIVERY_H
#define MAILROOM_DELIVERY_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/dsn.h"
#include "store/store.h"
#include "util/buf.h"

struct directory;
struct delivery;
struct delivery_plan;

/* --- the context: one per server or CLI run, read-only once open ------------ */
struct delivery_settings {
	const char *hostname;	/* [server] hostname: Message-IDs, report texts */
	const char *postmaster; /* [smtp] postmaster, or NULL */
	const char *data_dir;	/* where the SRS secret lives (srs.key) */
	struct directory *dir;	/* borrowed; outlives the context */
	unsigned max_expansion; /* most recipients one address may expand to */
};
/* Loads (or makes, on first use) the SRS secret. Returns 0, or -1 with *err_r. */
int delivery_open(const struct delivery_settings *s, struct delivery **d_r, const char **err_r);
void delivery_free(struct delivery **d);

/* --- step 1: recipients ------------------------------------------------------- */
struct delivery_sender {
	const char *address; /* envelope sender: "" the null sender, NULL unknown */
	int64_t mailbox;     /* the submission login's mailbox; 0 for none */
	const char *login;   /* that login's address, for texts; NULL for none */
	/* the message originates here without a login: `mailroom deliver`,
	   mailroom's own reports (a login implies it). Its queued copies
	   are DKIM-signed (store_submission.local_origin). */
	bool local_origin;
};

enum delivery_verdict {
	DELIVERY_OK,		/* added to the plan */
	DELIVERY_UNKNOWN,	/* no such recipient: 550 5.1.1 */
	DELIVERY_FULL,		/* over its receive quota: 452 4.2.2 */
	DELIVERY_REFUSED,	/* a list's sender rule, a bad SRS address: 550 5.7.1 */
	DELIVERY_TOO_MANY,	/* the sender's recipients per message: 452 4.5.3 */
	DELIVERY_RATE,		/* the sender's hourly or daily limit: 450 4.7.1 */
	DELIVERY_SEND_QUOTA,	/* the sender's mailbox is over its send quota: 552 5.2.2 */
	DELIVERY_TOO_BIG,	/* the sender's message size limit: 552 5.3.4 */
	DELIVERY_NO_POSTMASTER, /* postmaster mail with no mailbox: 451 4.3.0 */
	DELIVERY_TEMP,		/* a lookup failed: 451 4.3.0 (status says which) */
};

struct delivery_result {
	enum delivery_verdict verdict;
	int status;		  /* the store status behind DELIVERY_TEMP */
	char text[256];		  /* why, for the reply and the log ("" when OK) */
	size_t expanded;	  /* recipients the address expanded to */
	size_t over_quota;	  /* of its mailboxes, those over their quota */
	int limit;		  /* the enum store_limit that refused, or -1 */
	bool postmaster_fallback; /* [smtp] postmaster names no mailbox here */
};

/* A new, empty plan for a message from snd (the strings are copied) of
   `size` octets as declared (0 if unknown). */
struct delivery_plan *delivery_plan_new(const struct delivery_sender *snd, uint64_t size);
void delivery_plan_free(struct delivery_plan **p);

/* Submission (snd->mailbox != 0), at MAIL: may the login send a message of
   `size` now? (its send quota, message rate, message size.) DELIVERY_OK or
   the refusal with its text; the limits read are kept in the plan for the
   recipients and delivery_plan_size_ok(). */
enum delivery_verdict delivery_sender_check(struct delivery *d, struct store *st,
					    struct delivery_plan *p, struct delivery_result *res);
/* At the end of DATA: whether the message's real size is within the
   sender's limit (always true without a login). */
bool delivery_plan_size_ok(const struct delivery_plan *p, uint64_t size);

struct delivery_rcpt {
	const char *address;
	const char *notify, *orcpt; /* RFC 3461 NOTIFY= and ORCPT=, or NULL */
	/* postmaster@ a hosted domain or bare <Postmaster>: with no mailbox or
	   alias of its own it goes to [smtp] postmaster, else to the store's
	   built-in postmaster (RFC 5321 §4.5.1) */
	bool postmaster;
	/* `mailroom deliver`: an LDA cannot refuse part of a message, so the
	   quota refuses it only when no mailbox found has room and nothing
	   goes elsewhere; the others then take it past their quota */
	bool any_room;
};
/* Resolves r, checks its policy and adds it to the plan. */
enum delivery_verdict delivery_add(struct delivery *d, struct store *st, struct delivery_plan *p,
				   const struct delivery_rcpt *r, struct delivery_result *res);
/* A recipient that is not ours (relayed by submission or to a relay
   domain): queued as it is, within the sender's recipient limits read by
   delivery_sender_check(). Does not block. */
enum delivery_verdict delivery_add_remote(struct delivery_plan *p, const struct delivery_rcpt *r,
					  struct delivery_result *res);
/* Recipients accepted so far (lists expanded) and whether any is local. */
size_t delivery_plan_recipients(const struct delivery_plan *p);
size_t delivery_plan_local(const struct delivery_plan *p);
size_t delivery_plan_remote(const struct delivery_plan *p);

/* --- step 2: the message and its side effects ----------------------------------- */
struct delivery_message {
	const char *qid;
	const char *body; /* wire form (store.h S4), the trace fields included */
	size_t len;
	int64_t arrival;		 /* time(NULL) when it was received */
	const char *dsn_envid, *dsn_ret; /* RFC 3461, or NULL */
};

/* What delivery_build made: out->sub is ready for store_submit(); every
   pointer in it points into `out`, which must outlive the commit. */
struct delivery_out {
	struct store_submission sub;
	void *priv;
};
/* Blocking. The plan is kept (the caller frees it after the commit). */
void delivery_build(struct delivery *d, struct store *st, struct delivery_plan *p,
		    const struct delivery_message *m, struct delivery_out *out);
/* Whether the message causes nothing that needs the store to be made: no
   list or forwarded copy, auto-reply or report (quota warnings need
   nothing: what they depend on is decided in the commit). Then
   delivery_build(d, NULL, ...) does not block and may run on a network
   thread, which keeps the plain message's way to the group commit short. */
bool delivery_plan_simple(const struct delivery_plan *p);
/* After store_submit(): one log line per side effect stored or skipped. */
void delivery_log(const struct delivery_out *out, const char *sid);
void delivery_out_clear(struct delivery_out *out);

/* --- mailroom's own reports ------------------------------------------------------- */
/* A report (DSN, notice) with the null sender to `to`, delivered through
   this same path (to's forwarding applies): *out is ready for store_submit,
   alone or as a side effect of another submission. A recipient that cannot
   be resolved now (directory down) or is not ours goes to the queue. */
void delivery_report(struct delivery *d, struct store *st, const char *qid, const char *to,
		     const char *body, size_t len, struct delivery_out *out);

/* A delivery status report (RFC 3464; queue/dsn.h writes it) about the
   recipients which[0..n) of the queued message m, ready to be stored in the
   same transaction as the attempt that caused it: to m->sender through
   delivery_report() (into the sender's mailboxes when the sender is ours,
   its forwarding applied, else through the outbound queue), always with the
   null sender (RFC 3461 §6.2). `sub` points into the other fields. */
struct delivery_dsn {
	struct store_submission sub;
	struct buf body;
	char qid[24]; /* "R" and 16 hex digits */
	struct delivery_out out;
};
/* False (and *rep untouched) when there is none to make: no recipients,
   or the null sender. Blocking. The caller frees a made report with
   delivery_dsn_clear(). */
bool delivery_dsn_make(struct delivery *d, struct store *st, const struct store_queue_msg *m,
		       const size_t *which, size_t n, enum dsn_action action,
		       struct delivery_dsn *rep);
void delivery_dsn_clear(struct delivery_dsn *rep);

#endif
