/* SPDX-License-Identifier: MIT */
/*
 * store/store_queue.h - submissions and the outbound queue: the group-
 * committed store_submit() (local copies, queued copies and their side
 * effects with their once-keys and sent-by counts), the queue as the CLI
 * sees it, and what the queue manager loads and records per attempt.
 *
 * A face of store.h: included by store/store.h only, never directly (the
 * handle, statuses, invariants S1-S7 and open/close are there).
 */
#ifndef MAILROOM_STORE_STORE_H
#error "include store/store.h, not store/store_queue.h"
#endif
#ifndef MAILROOM_STORE_STORE_QUEUE_H
#define MAILROOM_STORE_STORE_QUEUE_H

/* --- SMTP: local delivery and the outbound queue, group-committed -------- */
struct store_remote_rcpt {
	const char *address;
	const char *dsn_notify; /* RFC 3461 NOTIFY value or NULL */
	const char *dsn_orcpt;	/* RFC 3461 ORCPT value or NULL */
};
struct store_submission {
	/* in */
	const char *qid; /* queue id, unique (the session makes it) */
	/* envelope sender, "" for the null sender; NULL: not known (`mailroom
	   deliver` without --sender): no Return-Path, queued as the null sender */
	const char *sender;
	const char *body; /* wire form (S4) */
	size_t len;
	const int64_t *mailbox_ids; /* local recipients, no duplicates */
	size_t n_local;
	const struct store_remote_rcpt *remote; /* for the outbound queue */
	size_t n_remote;
	const char *auth_user; /* submission login or NULL */
	/* the message originates here: a submission login, `mailroom
	   deliver`, a report or reply mailroom makes (docs/admin.md "DKIM
	   signing" says which copies): its queued copy is DKIM-signed */
	bool local_origin;
	const char *dsn_envid, *dsn_ret;
	/* side effects (a success report, RFC 3461 §6.2.1; an auto-reply, a
	   forwarded or list copy, a quota notice): stored with this submission
	   in its savepoint, or not at all. A side effect whose mailboxes are all
	   gone is skipped; the submission itself may have no recipient of its
	   own when a side effect is stored. */
	struct store_submission *reports;
	size_t n_reports;
	/* a side effect sent at most once per key (auto-reply per sender per
	   interval, quota notice per crossing): stored only when no record of
	   once_key lasts past now, and then recorded until once_until */
	const char *once_key;
	int64_t once_until;
	/* a side effect stored only when mailbox cond_mailbox (0: always) holds
	   at least cond_used octets at that point of the transaction, the
	   message it comes with included (a quota warning: decided against the
	   use of that moment, whatever else was delivered meanwhile) */
	int64_t cond_mailbox;
	uint64_t cond_used;
	/* rate limits: the submitting mailbox (0: none) and the recipients it
	   counts for (lists expanded), recorded with the message */
	int64_t sent_by;
	unsigned sent_rcpts;
	/* out: a side effect skipped by its once_key */
	bool skipped;
	/* out: STORE_OK once the batch committed (S1), else why it failed */
	int status;
};
/* Stores every submission in ONE transaction (one fsync for the batch:
   group commit), each inside its own savepoint so one bad submission does
   not sink the others. Quotas were checked at RCPT time: a submission may
   take a mailbox past its quota. Returns STORE_OK if the commit succeeded
   (then each status says how its submission went), or the commit's error
   (then every status carries it and nothing was written). */
int store_submit(struct store *st, struct store_submission *subs, size_t n);

struct store_queue_entry {
	char *qid, *sender, *auth_user;
	int64_t created, next_attempt;
	uint64_t size;
	unsigned attempts;
	bool held;
	char **rcpts; /* addresses still to deliver */
	size_t n_rcpts;
};
typedef void store_queue_cb(const struct store_queue_entry *e, void *ctx);
/* qid NULL = all, oldest first */
int store_queue_list(struct store *st, const char *qid, store_queue_cb *cb, void *ctx);
/* Appends the queued message's body to out. */
int store_queue_body(struct store *st, const char *qid, struct buf *out);
int store_queue_remove(struct store *st, const char *qid);
int store_queue_hold(struct store *st, const char *qid, bool held);
/* Makes the message (qid NULL: every message) due for delivery now. */
int store_queue_flush(struct store *st, const char *qid);
/* Checks whether mailbox `id` can take `size` more octets (RCPT time). */
int store_quota_check(struct store *st, int64_t mailbox_id, uint64_t size, bool *ok_r);

/* --- delivery (queue manager) --------------------------------------------- */
/* Up to max queue ids due at `now` (not held, with recipients left, not
   claimed by another node whose claim still holds), oldest first, each with
   the domain of its first pending recipient (its destination, for
   concurrency limits); caller frees the strings and arrays. */
int store_queue_due(struct store *st, int64_t now, const char *node, size_t max, char ***qids_r,
		    char ***dests_r, size_t *n_r);
/* Claims a queued message for delivery by `node` until now + lease seconds,
   on a store several servers share (PostgreSQL): *claimed_r is false when
   another node's claim still holds (it is delivering the message), or the
   message is gone. A claim of this node's own is taken again (a restart).
   store_queue_attempt ends the claim; a node that dies leaves its claims to
   run out, then another node delivers those messages. On SQLite, which one
   server uses, every claim succeeds and nothing is written. */
int store_queue_claim(struct store *st, const char *qid, const char *node, int64_t now,
		      unsigned lease, bool *claimed_r);

enum queue_rcpt_status { QRCPT_PENDING = 0, QRCPT_SENT = 1, QRCPT_FAILED = 2 };
struct store_queue_rcpt {
	char *address, *dsn_notify, *dsn_orcpt, *remote_reply;
	enum queue_rcpt_status status;
};
struct store_queue_msg {
	char *qid, *sender, *auth_user, *dsn_envid, *dsn_ret;
	int64_t created, next_attempt;
	unsigned attempts;
	bool held, delay_notified;
	bool local_origin; /* store_submission.local_origin: to be DKIM-signed */
	struct buf body;
	struct store_queue_rcpt *rcpts; /* pending ones only */
	size_t n_rcpts;
};
int store_queue_load(struct store *st, const char *qid, struct store_queue_msg *m_r);
void store_queue_msg_clear(struct store_queue_msg *m);
/* Records one attempt: each recipient's new status and remote reply;
   attempts + 1; next_attempt; delay_notified. Reports (DSNs) to store go in
   the same transaction (they may be empty). When no recipient is left
   pending the message leaves the queue. */
int store_queue_attempt(struct store *st, const struct store_queue_msg *m, int64_t next_attempt,
			struct store_submission *reports, size_t n_reports);

#endif
