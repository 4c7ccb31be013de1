/* SPDX-License-Identifier: MIT */
/*
 * store.h - the transactional mailbox store (SPEC §2, §5): the face of store/.
 *
 * One `struct store` is one connection to the database (SQLite in WAL mode,
 * DATA_DIR/mailroom.db). A handle belongs to one thread at a time: the server
 * opens one per worker thread; the CLI opens its own. Every call is blocking
 * (it may fsync) and so must never run on a network thread.
 *
 * Invariants (tests cite them by number):
 *  S1. A delivery call that returns 0 has committed with synchronous=FULL:
 *      the message is on stable storage for every recipient reported done.
 *  S2. Single instance: one body row per delivered message, shared by all
 *      recipients; a body is removed when its last message is expunged.
 *  S3. UIDs come from a per-mailbox counter that only grows; a UID (and so a
 *      UIDL) is never reused in a mailbox, even after expunge or restart.
 *  S4. Bodies are stored in wire form (CRLF line ends, not dot-stuffed);
 *      a message's size is the exact octet count of that form.
 *  S5. Expunge removes the given messages in one transaction or not at all.
 *  S6. Schema changes go through numbered migrations in one table
 *      (schema_version); opening an older database migrates it.
 *  S7. Store errors are classified: STORE_TEMP (busy, I/O, disk full — the
 *      client may retry) or STORE_PERM; never a crash, never half-written.
 *
 * Strings returned in structs are malloc'd and owned by the struct; the
 * matching *_clear() function frees them.
 */
#ifndef MAILROOM_STORE_STORE_H
#define MAILROOM_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct store;

enum store_status {
	STORE_OK = 0,
	STORE_NOTFOUND = -1,
	STORE_EXISTS = -2,
	STORE_INVALID = -3, /* bad argument, e.g. malformed address */
	STORE_QUOTA = -4,   /* mailbox over its hard limit */
	STORE_TEMP = -5,    /* try again later: busy, I/O error, disk full */
	STORE_PERM = -6,    /* permanent failure (corrupt database, ...) */
	STORE_LIMIT = -7,   /* past a count or size limit of the store's own (STORE_*_MAX) */
};

enum domain_type {
	DOMAIN_AUTHORITATIVE,
	DOMAIN_INTERNAL_RELAY,
	DOMAIN_EXTERNAL_RELAY,
};

/* Open DATA_DIR/mailroom.db. With create=true the folder and the database are
   made and migrated (mode 0700 folder, 0600 files); without it a missing
   database is STORE_NOTFOUND ("run mailroom init"). */
int store_open(const char *data_dir, bool create, struct store **st_r);
void store_close(struct store **st);
/* Human-readable text of the last error on this handle (never NULL). */
const char *store_error(const struct store *st);

/* An address as the store keeps it: the domain lower-cased, validated;
   returns a malloc'd copy, or NULL if it is no valid address. */
char *store_norm_address(const char *address);

const char *domain_type_name(enum domain_type t);
int domain_type_parse(const char *s, enum domain_type *t_r);

/* --- domains ----------------------------------------------------------- */
struct store_domain {
	char *name;
	enum domain_type type; /* for an alias: the target's */
	int64_t mailboxes;     /* mailboxes whose primary address is here
				  (store_domain_list; -1 from store_domain_get) */
	char *alias_of;	       /* a domain alias: the domain it stands for, else NULL */
};
/* A hosted domain needs at least two labels and a last label that is not
   all digits (RFC 1123 §2.1): "example" or "10.0.0.1" is refused
   (STORE_INVALID). */
int store_domain_add(struct store *st, const char *name, enum domain_type type);
/* A domain alias (SPEC §4): local@alias is local@target for delivery and
   login. The target must exist and not be an alias itself; an alias holds no
   mailboxes or aliases of its own. */
int store_domain_alias_add(struct store *st, const char *alias, const char *target);
/* Refuses (STORE_EXISTS) while mailboxes, aliases or domain aliases still
   use the domain; the error text says how many of each. */
int store_domain_remove(struct store *st, const char *name);
int store_domain_get(struct store *st, const char *name, struct store_domain *d_r);
typedef void store_domain_cb(const struct store_domain *d, void *ctx);
int store_domain_list(struct store *st, store_domain_cb *cb, void *ctx);
void store_domain_clear(struct store_domain *d);

/* --- quota levels and limits (schema 8) ---------------------------------------
   Exchange's three quota levels and the per-user sending limits. A mailbox
   holds its own value of each, or STORE_INHERIT: its domain's default. A
   domain's default is 0 (none) unless set. Sizes are octets. */
enum store_limit {
	STORE_LIMIT_QUOTA_WARN,	     /* one notice to the mailbox per crossing */
	STORE_LIMIT_QUOTA_SEND,	     /* at or over it: submission refused, 5.2.2 */
	STORE_LIMIT_QUOTA,	     /* prohibit receive: 452 4.2.2 at RCPT */
	STORE_LIMIT_MESSAGE_SIZE,    /* largest message the user may send */
	STORE_LIMIT_RECIPIENTS,	     /* recipients per message, lists expanded */
	STORE_LIMIT_MESSAGES_HOUR,   /* messages submitted in any 60 minutes */
	STORE_LIMIT_MESSAGES_DAY,    /* ... in any 24 hours */
	STORE_LIMIT_RECIPIENTS_HOUR, /* recipients (lists expanded) in any 60 minutes */
	STORE_LIMIT_RECIPIENTS_DAY,  /* ... in any 24 hours */
	STORE_LIMIT_COUNT
};
#define STORE_INHERIT (-1)
struct store_limits {
	int64_t v[STORE_LIMIT_COUNT]; /* 0: none; STORE_INHERIT only in a mailbox's own */
};
/* "quota-warn", "quota-send", "quota", "max-message-size", "max-recipients",
   "messages-per-hour", "messages-per-day", "recipients-per-hour",
   "recipients-per-day": the CLI option and JSON key of each. */
const char *store_limit_name(enum store_limit l);
/* v: STORE_INHERIT, 0 (none) or a positive value. Changing the warning
   level forgets a notice already sent (the next crossing sends one). */
int store_user_set_limit(struct store *st, const char *address, enum store_limit l, int64_t v);
/* A hosted domain's defaults (v >= 0); not for a domain alias. */
int store_domain_set_limit(struct store *st, const char *domain, enum store_limit l, int64_t v);
int store_domain_limits(struct store *st, const char *domain, struct store_limits *r);

/* --- mailboxes (users) --------------------------------------------------- */
/* The built-in postmaster mailbox (RFC 5321 §4.5.1), in every store from its
   first start (schema 6): its address is this bare name, without a domain.
   It has no password (no login works) until one is set with
   store_user_set_password(); it cannot be removed. store_resolve() and
   store_user_lookup() take the name in any case. */
#define STORE_POSTMASTER "postmaster"

struct store_user {
	int64_t id;
	char *address;	   /* primary address, lower-cased domain */
	char *pw_hash;	   /* crypt(3) string, e.g. "$y$...", or NULL: no password */
	char *scram;	   /* SCRAM-SHA-256 verifier (directory/password.h) or NULL */
	char *apop_secret; /* reversible secret for APOP, NULL unless opted in */
	uint64_t quota;	   /* effective receive limit in bytes, 0 = unlimited */
	uint64_t used;	   /* bytes currently stored */
	int64_t messages;
	bool pop3_enabled;
	bool submission_enabled;
	bool enabled;
	char *source; /* NULL: a built-in account; else the directory backend whose
			 account this mailbox holds ("ldap", "pam", ...) */
	/* schema 8: `quota` above is the effective receive limit */
	struct store_limits own;       /* the mailbox's own values, STORE_INHERIT */
	struct store_limits effective; /* with the domain's defaults filled in */
	char *forward;		       /* comma-separated targets, or NULL */
	bool keep_copy;
	bool vacation; /* an auto-reply is set (it may have ended) */
};
struct store_user_new {
	const char *address;
	const char *pw_hash;
	const char *scram;
	const char *apop_secret; /* NULL for none */
	int64_t quota;		 /* STORE_INHERIT (the domain's default), 0 none, or bytes */
};
/* The address's domain must exist (STORE_NOTFOUND otherwise) and the address
   must not be used by any mailbox or alias (STORE_EXISTS). */
int store_user_add(struct store *st, const struct store_user_new *u);
/* The checks of store_user_add without the write: STORE_OK if the address
   could be added now (so the CLI asks for a password only then). */
int store_user_can_add(struct store *st, const char *address);
/* Removes the mailbox, its addresses and messages (bodies per S2). The
   built-in postmaster is refused (STORE_INVALID). */
int store_user_remove(struct store *st, const char *address);
int store_user_set_password(struct store *st, const char *address, const char *pw_hash,
			    const char *scram, const char *apop_secret);
int store_user_set_pop3(struct store *st, const char *address, bool enabled);
int store_user_set_submission(struct store *st, const char *address, bool enabled);
/* A disabled mailbox keeps receiving mail but cannot log in. */
int store_user_set_enabled(struct store *st, const char *address, bool enabled);
/* Drops the reversible APOP secret (the account stops accepting APOP). */
int store_user_clear_apop(struct store *st, const char *address);
/* The mailbox of an account that lives in another directory backend
   (directory.h), made on first use: an existing mailbox with this address
   (of any source) is returned as it is, else one is created without a
   password, marked with `source`. The domain need not be hosted (then the
   mailbox has none). Safe against a concurrent ensure of the same address. */
int store_mailbox_ensure(struct store *st, const char *address, const char *source, int64_t *id_r);
/* Looks up by primary address or any alias that points at one mailbox. */
int store_user_lookup(struct store *st, const char *login, struct store_user *u_r);
typedef void store_user_cb(const struct store_user *u, void *ctx);
/* domain NULL = all (the built-in postmaster included); a domain that is not
   hosted is STORE_NOTFOUND, a domain alias STORE_INVALID. */
int store_user_list(struct store *st, const char *domain, store_user_cb *cb, void *ctx);
void store_user_clear(struct store_user *u);

/* --- forwarding (schema 8) --------------------------------------------------- */
/* Sets (n > 0) or clears (n == 0) where a mailbox forwards its mail;
   keep_copy: 1 keep a copy in the mailbox, 0 not, -1 leave as it is (a new
   forward keeps a copy unless told). Targets are normalised addresses, at
   most STORE_FORWARD_MAX; STORE_INVALID for a bad one, STORE_NOTFOUND for
   a target in an authoritative hosted domain that does not exist. The
   mailbox's own address (or an alias that leads to it alone) is no target:
   STORE_INVALID. */
#define STORE_FORWARD_MAX 32
int store_user_set_forward(struct store *st, const char *address, const char *const *targets,
			   size_t n, int keep_copy);
/* Changes keep_copy alone; STORE_INVALID when the mailbox forwards nowhere. */
int store_user_set_keep_copy(struct store *st, const char *address, bool keep_copy);

/* --- auto-reply (schema 8) ---------------------------------------------------- */
struct store_vacation {
	char *subject, *body;			/* to senders in the hosted domains */
	char *external_subject, *external_body; /* to everyone else; NULL: the above */
	int64_t until;				/* unix time it ends (exclusive), 0: never */
	unsigned interval_days;			/* one reply per sender per this many days */
	int64_t created;
};
/* Sets or replaces the mailbox's auto-reply (address: primary or an alias
   of one mailbox); forgets whom the old one answered. */
int store_vacation_set(struct store *st, const char *address, const struct store_vacation *v);
int store_vacation_get(struct store *st, const char *address, struct store_vacation *v_r);
int store_vacation_get_id(struct store *st, int64_t mailbox_id, struct store_vacation *v_r);
int store_vacation_remove(struct store *st, const char *address);
void store_vacation_clear(struct store_vacation *v);

/* --- distribution lists (schema 8) -------------------------------------------- */
enum store_list_senders {
	STORE_LIST_ANYONE,
	STORE_LIST_MEMBERS,	  /* envelope sender must be a member */
	STORE_LIST_AUTHENTICATED, /* a submission login of this server */
	STORE_LIST_NAMED,	  /* only the named senders */
};
const char *store_list_senders_name(enum store_list_senders s);
int store_list_senders_parse(const char *s, enum store_list_senders *r);
struct store_list {
	int64_t id;
	char *address;
	enum store_list_senders senders;
	char *owner;	/* who gets the bounces; NULL: the built-in postmaster */
	char **members; /* normalised addresses: local, remote, or other lists */
	size_t n_members;
	char **named; /* senders always allowed (the only ones for NAMED) */
	size_t n_named;
};
/* A list's address lives in a hosted domain and is used by no mailbox,
   alias or other list (STORE_EXISTS); mailboxes and aliases likewise
   refuse an address a list holds. */
int store_list_add(struct store *st, const char *address, enum store_list_senders senders,
		   const char *owner);
int store_list_set(struct store *st, const char *address, enum store_list_senders senders,
		   const char *owner);
int store_list_remove(struct store *st, const char *address);
/* STORE_NOTFOUND when the address is no list. */
int store_list_get(struct store *st, const char *address, struct store_list *l_r);
int store_list_member_add(struct store *st, const char *list, const char *member);
int store_list_member_remove(struct store *st, const char *list, const char *member);
int store_list_sender_add(struct store *st, const char *list, const char *sender);
int store_list_sender_remove(struct store *st, const char *list, const char *sender);
typedef void store_list_cb(const struct store_list *l, void *ctx);
int store_list_list(struct store *st, store_list_cb *cb, void *ctx);
void store_list_clear(struct store_list *l);

/* --- what the delivery path reads (schema 8) ---------------------------------- */
/* One mailbox as local delivery sees it, in one read. */
struct store_mailbox_info {
	int64_t id;
	char *address; /* primary */
	uint64_t used;
	struct store_limits limits; /* effective: the domain's default filled in */
	char **forward;		    /* where it forwards, NULL/0 if nowhere */
	size_t n_forward;
	bool keep_copy;
	bool vacation; /* an auto-reply is set and runs at `now` */
	bool enabled;
};
int store_mailbox_info(struct store *st, int64_t id, int64_t now, struct store_mailbox_info *r);
void store_mailbox_info_clear(struct store_mailbox_info *r);
/* The mailbox's primary address and every alias that leads to it alone
   (RFC 3834 §2: "addresses of the recipient"); caller frees each and the
   array. */
int store_mailbox_addresses(struct store *st, int64_t id, char ***addrs_r, size_t *n_r);
/* Messages and recipients the mailbox submitted since `since` (rate
   limits; the store records each submission with sent_by). */
int store_sent_count(struct store *st, int64_t mailbox_id, int64_t since, uint64_t *messages_r,
		     uint64_t *recipients_r);
/* The once-key of a mailbox's quota warning: the key of its notice while
   it is at or above the level; the store forgets it when the mailbox
   drops below (expunge, a higher level). */
#define STORE_ONCE_QUOTA_WARN "quota-warn:"

/* --- aliases -------------------------------------------------------------- */
/* An alias maps an address in a hosted domain to a target: a local mailbox's
   address (delivered there) or any other address (kept for forwarding). A
   target in an authoritative hosted domain must exist as a mailbox or alias
   (STORE_NOTFOUND otherwise): mail to it could never be delivered. */
int store_alias_add(struct store *st, const char *address, const char *target);
int store_alias_remove(struct store *st, const char *address, const char *target);
typedef void store_alias_cb(const char *address, const char *target, void *ctx);
/* address NULL = all; a named address without alias is STORE_NOTFOUND. */
int store_alias_list(struct store *st, const char *address, store_alias_cb *cb, void *ctx);

/* Resolve a recipient to local mailbox ids, expanding aliases (depth-limited,
   loop-safe). Returns STORE_OK with n >= 1 ids (caller frees *ids_r), or
   STORE_NOTFOUND if nothing local matches. */
int store_resolve(struct store *st, const char *address, int64_t **ids_r, size_t *n_r);
/* Like store_resolve, and also returns the alias targets outside every
   hosted domain (forwarding; caller frees each and the array). STORE_OK if
   anything at all matched. */
int store_resolve_all(struct store *st, const char *address, int64_t **ids_r, size_t *n_r,
		      char ***remote_r, size_t *n_remote_r);
/* Like store_resolve_all, and also returns alias targets in hosted domains
   that name no built-in mailbox or alias (*local_r: accounts of another
   directory backend, resolved by directory.c). Mailboxes made for such
   accounts (store_mailbox_ensure) are never matched here by address: their
   backend decides whether they still exist. */
int store_resolve_ex(struct store *st, const char *address, int64_t **ids_r, size_t *n_r,
		     char ***remote_r, size_t *n_remote_r, char ***local_r, size_t *n_local_r);

/* --- delivery ------------------------------------------------------------ */
/* Deliver one body (wire form, S4) to n mailboxes in one transaction.
   results[i] gets STORE_OK or STORE_QUOTA per mailbox; the call returns
   STORE_OK once committed (S1) if at least one mailbox took the message,
   STORE_QUOTA if all were over quota, or an error with nothing written.
   uidl may be NULL (a fresh one is made) or an imported UIDL to keep. */
int store_deliver(struct store *st, const int64_t *mailbox_ids, size_t n, const char *body,
		  size_t len, const char *uidl, int *results);

/* The trace field final delivery puts first (RFC 5321 §4.4 MUST):
   "Return-Path: <sender>" CRLF, "<>" for the null sender, a local part
   quoted again when it is no dot-atom. store_submit() adds it to the copy
   it puts into mailboxes (SMTP, `mailroom deliver --sender`, reports), never
   to the copy it queues for elsewhere; store_deliver() (imports) does not. */
void store_return_path(struct buf *out, const char *sender);

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
/* Up to max queue ids due at `now` (not held, with recipients left), oldest
   first, each with the domain of its first pending recipient (its
   destination, for concurrency limits); caller frees the strings and arrays. */
int store_queue_due(struct store *st, int64_t now, size_t max, char ***qids_r, char ***dests_r,
		    size_t *n_r);

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

/* --- routes (SPEC §4) ------------------------------------------------------ */
enum route_tls { ROUTE_TLS_NONE, ROUTE_TLS_MAY, ROUTE_TLS_ENCRYPT, ROUTE_TLS_VERIFY };
struct store_route {
	char *space; /* "example.org", "*.example.org" or "*" (the default route) */
	char *hop;   /* "host[:port]", "[ip][:port]" or "mx" */
	enum route_tls tls;
	char *auth_user, *auth_secret; /* smart-host login, or NULL */
};
const char *route_tls_name(enum route_tls t);
int route_tls_parse(const char *s, enum route_tls *t_r);
/* Checks the forms above; returns 0 or -1. */
int route_space_valid(const char *space);
int route_hop_valid(const char *hop);
/* Adds or replaces the route of an address space. */
int store_route_set(struct store *st, const struct store_route *r);
int store_route_remove(struct store *st, const char *space);
typedef void store_route_cb(const struct store_route *r, void *ctx);
int store_route_list(struct store *st, store_route_cb *cb, void *ctx);
/* The route for a domain: the exact space, else the longest "*.suffix",
   else "*"; STORE_NOTFOUND if none (then: MX lookup). */
int store_route_find(struct store *st, const char *domain, struct store_route *r_r);
void store_route_clear(struct store_route *r);

/* --- DKIM signing keys (schema 10) -------------------------------------------
   Private keys per hosted domain, found by the From: domain of a message
   that originates here (store_submission.local_origin). A domain has at
   most one active key per algorithm; a rotation turns the old one
   `retiring`: no longer used to sign, listed until removed, so that its
   TXT record stays published while mail signed with it is in transit. The
   private keys are secrets: they live in the database (and so in every
   backup of it). The store keeps the key's text as given; filter/dkim.h
   makes and reads it. */
enum store_dkim_state { STORE_DKIM_ACTIVE, STORE_DKIM_RETIRING };
struct store_dkim_key {
	char *domain, *selector; /* lower case */
	char *algorithm;	 /* "rsa" or "ed25519" */
	unsigned bits;
	char *private_pem; /* PKCS#8 PEM: secret, freed wiped */
	enum store_dkim_state state;
	int64_t created; /* unix time */
};
const char *store_dkim_state_name(enum store_dkim_state s); /* "active", "retiring" */
/* A selector is 1-63 letters, digits, '-' and '.' between labels (RFC 6376
   §3.1): 0 or -1. */
int store_dkim_selector_valid(const char *selector);
/* Adds a key (its state and created as given; created 0: now). The domain
   must be hosted and no domain alias (STORE_NOTFOUND / STORE_INVALID); a
   selector the domain already has is STORE_EXISTS; an active key of the
   same algorithm is STORE_EXISTS too ("rotate it"). */
int store_dkim_add(struct store *st, const struct store_dkim_key *k);
/* In one transaction: k becomes the domain's active key of its algorithm
   and the active key of that algorithm (STORE_NOTFOUND if none) becomes
   retiring; its selector goes to *old_r (caller frees) if not NULL. */
int store_dkim_rotate(struct store *st, const struct store_dkim_key *k, char **old_r);
int store_dkim_set_state(struct store *st, const char *domain, const char *selector,
			 enum store_dkim_state state);
/* selector NULL: every key of the domain. STORE_NOTFOUND if none went. */
int store_dkim_remove(struct store *st, const char *domain, const char *selector);
typedef void store_dkim_cb(const struct store_dkim_key *k, void *ctx);
/* domain NULL: all, by domain, then active before retiring, then newest first. */
int store_dkim_list(struct store *st, const char *domain, store_dkim_cb *cb, void *ctx);
/* A number every add, rotate, state change and removal moves: a reader
   holding keys re-reads them when it differs from the one it read. */
int store_dkim_changes(struct store *st, int64_t *n_r);
void store_dkim_key_clear(struct store_dkim_key *k);

/* --- POP3 view: the INBOX folder ------------------------------------------ */
struct store_msg {
	int64_t id;
	uint64_t uid;
	uint64_t size;	  /* octets of the wire form (S4) */
	char uidl[71];	  /* RFC 1939 §7: 1-70 chars in 0x21-0x7E */
	int64_t received; /* unix time it arrived (or the import kept) */
};
/* The messages of the mailbox's INBOX in UID order; caller frees *msgs_r. */
int store_mailbox_load(struct store *st, int64_t mailbox_id, struct store_msg **msgs_r,
		       size_t *n_r);
/* Append the message's wire-form body to out. */
int store_message_read(struct store *st, int64_t mailbox_id, int64_t msg_id, struct buf *out);

/* A body read in pieces (POP3 RETR/TOP), so that a reader holds one piece
   at a time whatever the message's size. The reader is a plain value: it
   keeps no statement, blob handle or read transaction between calls, so a
   slow client never pins a WAL snapshot, any handle (any worker thread) may
   read the next piece, and there is nothing to close.
    - store_body_open() finds the message (STORE_NOTFOUND if it is not in
      that mailbox) and fills *r_r; r_r->size is the body's size (S4). A
      reader with only mailbox_id and msg_id set (body_id 0) is opened by
      its first store_body_read() instead, in the same read transaction as
      the first piece: a small message then costs one transaction.
    - store_body_read() copies up to len octets from offset off into dst and
      sets *n_r (0 at or past the end). Every call checks, in the same read
      transaction as the copy, that the message still uses that body, so a
      message removed meanwhile (user remove, another expunge) is
      STORE_NOTFOUND rather than the bytes of a body stored later under a
      reused row id. Bodies never change once written (S2, S4), so pieces
      read at different times fit together.
   XXX SQLite walks a blob's overflow pages from the start on every open, so
   a piece at offset `off` costs about off/page_size page lookups and a whole
   body costs time quadratic in its size. Reads of bodies of 1 MiB or more
   map the database for the copy, which makes a lookup cheap (in 60 KiB pieces, 10 MiB takes 0.05 s
   of worker CPU, 50 MiB 0.8 s; docs/benchmarks.md), but the growth stays. Bodies stored in rows of
   one piece each would remove it, at the price of a migration. */
struct store_body_reader {
	int64_t mailbox_id, msg_id, body_id;
	uint64_t size;
};
int store_body_open(struct store *st, int64_t mailbox_id, int64_t msg_id,
		    struct store_body_reader *r_r);
int store_body_read(struct store *st, struct store_body_reader *r, uint64_t off, void *dst,
		    size_t len, size_t *n_r);
/* One read snapshot for several reads (store_body_read and the other
   reads): every read between the two calls sees the same state of the
   store, at the cost of one snapshot instead of one per read. Nothing may
   be written in between; store_read_end() never fails. */
int store_read_begin(struct store *st);
void store_read_end(struct store *st);
/* Remove messages of a mailbox (S2, S5). */
int store_expunge(struct store *st, int64_t mailbox_id, const int64_t *msg_ids, size_t n);

/* --- folders, flags and changes (IMAP; POP3 sees INBOX) -------------------
 *
 * Every mailbox holds folders; "INBOX" always exists and cannot be removed,
 * and Sent, Drafts, Trash, Junk and Archive are made with the mailbox (and
 * by the migration for older stores) with their RFC 6154 special use.
 * Delivery and POP3 work on INBOX; IMAP and imports on any folder.
 *
 *  S8.  UIDs are drawn from the mailbox's one counter (S3) whatever the
 *       folder, so a message's UID is unique in its mailbox, INBOX keeps the
 *       UIDs (and so the UIDLs) it had, and every folder's UIDs only grow.
 *       A folder's uidnext is one above the last UID given to a message
 *       added to it: it changes exactly when a message is added (RFC 9051
 *       §2.3.1.1). A folder made again under an old name gets a UIDVALIDITY
 *       above every one the mailbox has used.
 *  S9.  Each change to a folder (a message added, flags changed, a message
 *       expunged) takes the folder's next modification sequence: the
 *       message's modseq (or its expunge record's) is set to it and the
 *       folder's highestmodseq follows (RFC 7162 §3.1). Expunges leave a
 *       record (UID, modseq) for QRESYNC's VANISHED, kept for
 *       STORE_EXPUNGED_KEEP_DAYS; older ones are pruned, and a client
 *       asking from before the oldest record left is told every UID it
 *       named that is gone.
 *  S10. Copies and appends follow the mailbox quota like delivery
 *       (STORE_QUOTA, nothing written); moves and flag changes do not. A
 *       message copied shares its body (S2).
 */
#define STORE_EXPUNGED_KEEP_DAYS 30
#define STORE_FOLDER_NAME_MAX 1000    /* octets of UTF-8, the hierarchy included */
#define STORE_KEYWORDS_MAX 4000	      /* octets of one message's keyword list */
#define STORE_FOLDER_KEYWORDS_MAX 256 /* distinct keywords a folder's messages may use */

enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
	STORE_FLAGS_ALL = (1 << 5) - 1,
};

enum store_special {
	STORE_SPECIAL_NONE,
	STORE_SPECIAL_SENT,
	STORE_SPECIAL_DRAFTS,
	STORE_SPECIAL_TRASH,
	STORE_SPECIAL_JUNK,
	STORE_SPECIAL_ARCHIVE,
};

struct store_folder {
	int64_t id;
	char *name; /* UTF-8, levels separated by '/'; "INBOX" in that case */
	enum store_special special;
	bool subscribed;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	/* STATUS: messages, the ones without \Seen, octets, deleted */
	uint32_t messages, unseen, deleted;
	uint64_t size;
	char *keywords; /* the keywords its messages have used, space-separated */
};

/* The mailbox's folders in name order, INBOX first, each with its counts;
   caller frees with store_folders_free(). */
int store_folder_list(struct store *st, int64_t mailbox_id, struct store_folder **f_r, size_t *n_r);
/* One folder by name ("inbox" in any case is INBOX); STORE_NOTFOUND. */
int store_folder_get(struct store *st, int64_t mailbox_id, const char *name,
		     struct store_folder *f_r);
void store_folder_clear(struct store_folder *f);
void store_folders_free(struct store_folder *f, size_t n);
/* A new folder: STORE_EXISTS if the name is taken, STORE_INVALID for a
   name that is empty, too long, not UTF-8, holds a control character, an
   empty level ("a//b", "/a", "a/") or is INBOX. Parents are not made. */
int store_folder_create(struct store *st, int64_t mailbox_id, const char *name,
			enum store_special special, int64_t *id_r);
/* Removes a folder and expunges its messages (S2); INBOX is STORE_INVALID.
   Children stay (RFC 9051 §6.3.5: their names keep the parent's level). */
int store_folder_delete(struct store *st, int64_t mailbox_id, const char *name);
/* Renames a folder and every folder under it ("a" -> "b" takes "a/x" to
   "b/x"), keeping UIDVALIDITY and UIDs. Renaming INBOX moves its messages
   into a new folder of that name and leaves INBOX empty (RFC 9051 §6.3.6).
   STORE_EXISTS if the new name (or a child's) is taken. */
int store_folder_rename(struct store *st, int64_t mailbox_id, const char *from, const char *to);
int store_folder_subscribe(struct store *st, int64_t mailbox_id, const char *name, bool on);

struct store_imsg {
	int64_t id;
	uint32_t uid;
	unsigned flags; /* enum store_flag */
	char *keywords; /* space-separated, or NULL */
	uint64_t modseq;
	uint64_t size;	  /* of the wire form (S4) */
	int64_t received; /* INTERNALDATE, unix time */
	int64_t body_id;
};
/* The folder's messages in UID order; caller frees with
   store_imsgs_free(). */
int store_folder_load(struct store *st, int64_t folder_id, struct store_imsg **m_r, size_t *n_r);
/* The same for the UIDs lo..hi only (a FETCH batch): the cost follows the
   range, not the folder. */
int store_folder_load_range(struct store *st, int64_t folder_id, uint32_t lo, uint32_t hi,
			    struct store_imsg **m_r, size_t *n_r);
void store_imsgs_free(struct store_imsg *m, size_t n);
/* What changed after modseq `since` (CONDSTORE, QRESYNC, another
   session's changes): the messages whose modseq is above it (new ones
   too) in UID order, the UIDs expunged since (ascending), and the
   folder's highestmodseq now. *vanished_all_r is set when records older
   than `since` were pruned (S9): the caller then compares UIDs itself. */
int store_folder_changes(struct store *st, int64_t folder_id, uint64_t since,
			 struct store_imsg **m_r, size_t *n_r, uint32_t **vanished_r,
			 size_t *n_vanished_r, uint64_t *highest_r, bool *vanished_all_r);

enum store_flag_op { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
/* STORE FLAGS, +FLAGS, -FLAGS on the given UIDs of a folder (UIDs it does
   not hold are left out), in one transaction. keywords is space-separated
   or NULL. With unchangedsince > 0 (CONDSTORE) a message whose modseq is
   above it is left as it is and its UID goes to *failed_r. Messages whose
   flags really change take one new modseq (S9); the others keep theirs.
   *changed_r gets the messages as they are after the call (flags, modseq)
   for the untagged FETCH replies; caller frees both arrays. */
int store_flags_change(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
		       enum store_flag_op op, unsigned flags, const char *keywords,
		       uint64_t unchangedsince, struct store_imsg **changed_r, size_t *n_changed_r,
		       uint32_t **failed_r, size_t *n_failed_r);
/* Removes messages of a folder: the given UIDs, or with uids == NULL every
   message with \Deleted (EXPUNGE). UIDs not held or (with uids) without
   \Deleted are skipped. *expunged_r gets the UIDs removed, ascending. */
int store_folder_expunge(struct store *st, int64_t folder_id, const uint32_t *uids, size_t n,
			 uint32_t **expunged_r, size_t *n_r);
/* COPY or MOVE (RFC 6851) of the given UIDs into another folder of the
   same mailbox, in UID order, in one transaction: *new_uids_r[i] is the
   destination UID of the i-th message copied and *src_uids_r[i] its
   source UID (COPYUID, RFC 4315). A move expunges the sources (S9). */
int store_folder_copy(struct store *st, int64_t from_folder, int64_t to_folder,
		      const uint32_t *uids, size_t n, bool move, uint32_t **src_uids_r,
		      uint32_t **new_uids_r, size_t *n_r);
/* APPEND: one message (wire form, S4) into a folder with flags, keywords
   and an INTERNALDATE (0: now); committed (S1) before it returns. */
int store_folder_append(struct store *st, int64_t folder_id, const char *body, size_t len,
			unsigned flags, const char *keywords, int64_t received, uint32_t *uid_r);
/* The folder a message is in (INBOX for every delivery). */
int store_inbox_id(struct store *st, int64_t mailbox_id, int64_t *folder_id_r);

/* The parsed MIME structure of a body (mime/mime_tree.h's serialised
   form), cached once per body: get is STORE_NOTFOUND until set. */
int store_body_mime_get(struct store *st, int64_t body_id, struct buf *out);
int store_body_mime_set(struct store *st, int64_t body_id, const void *blob, size_t len);

/* --- imports (migration in) ------------------------------------------------- */
struct store_import_msg {
	const char *body; /* wire form (S4) */
	size_t len;
	const char *uidl;  /* the UIDL the source served (1-70 printable), or NULL: a fresh one */
	int64_t received;  /* unix time the source received it, 0: now */
	int64_t folder_id; /* a folder of the mailbox, 0: INBOX */
	unsigned flags;	   /* enum store_flag */
	const char *keywords; /* space-separated IMAP keywords, or NULL */
	uint32_t uid;	      /* the UID it had, 0: none */
};
/* Adds messages to one mailbox in ONE transaction (S1 for all of them),
   single instance per message, the mailbox's quota not applied (an import
   is the admin's). A message whose UIDL the mailbox already holds is
   skipped (results[i] = STORE_EXISTS; else STORE_OK or STORE_INVALID for
   a malformed UIDL), so an import run again adds only what is missing.
   Each message goes into its folder (STORE_INVALID for the whole call
   when a folder_id is not the mailbox's) with its flags and keywords;
   keywords that are no IMAP atoms are dropped, and a list longer than
   STORE_KEYWORDS_MAX is cut at a keyword's end. A message keeps the UID it
   had when that is at or above the mailbox's next UID (S3 and S8 hold: the
   counter only grows, and a folder's UIDs grow in the order of msgs), else
   it gets the next one. Returns STORE_OK once committed, or an error with
   nothing written. */
int store_import(struct store *st, int64_t mailbox_id, const struct store_import_msg *msgs,
		 size_t n, int *results);

/* --- statistics (admin/ metrics) ------------------------------------------- */
struct store_stats {
	uint64_t queue_messages; /* messages in the outbound queue, held ones too */
	int64_t queue_oldest;	 /* unix time the oldest of them was queued; 0: none */
	uint64_t bodies;	 /* stored bodies (S2: one per distinct message) */
	uint64_t db_bytes;	 /* the database's size: its pages times the page size */
};
/* Reads them in one snapshot. It counts rows, so it costs time in
   proportion to the store: callers cache the answer (metrics keep it a
   few seconds). Every field is 0 on failure. */
int store_stats(struct store *st, struct store_stats *r);

/* --- backup, verify, restore ------------------------------------------------ */
struct store_check_stats {
	uint64_t mailboxes, messages, bodies, octets, queued;
	int64_t taken; /* backup: the unix time of the snapshot */
};
/* A consistent copy of the store at one point in time into DIR (which must
   not exist; made mode 0700): every commit before the call is in it,
   nothing half-written. It reads inside one read transaction, so writers
   go on (WAL): no lock stops delivery for longer than a commit. DIR gets
   the database, the SRS secret and a manifest of checksums (MANIFEST). */
int store_backup(struct store *st, const char *dir, struct store_check_stats *stats);
/* Checks a store (the live one, or a backup opened with store_open on its
   folder): SQLite's integrity check, every body's reference count against
   its messages and queue entries, sizes against the bodies, UID counters
   above every UID, the used counters against the messages, and the folders
   (S8, S9: every message in a folder of its mailbox, every mailbox with an
   INBOX, uidnext above every UID of its folder, highestmodseq at or above
   every modseq there, UIDVALIDITY in range); for a backup,
   every file against MANIFEST (st may then be NULL: a backup whose
   database does not open gets its files checked). Each problem is given to
   cb as one sentence; STORE_OK only when there was none, else
   STORE_INVALID. */
typedef void store_problem_cb(const char *problem, void *ctx);
int store_verify(struct store *st, const char *backup_dir, store_problem_cb *cb, void *ctx,
		 struct store_check_stats *stats);
/* A backup's database for store_verify, read-only and never migrated or
   written (no lock, no -wal or -shm made): STORE_INVALID, with the text,
   when it has another schema than this mailroom's (restore checks those
   on the copy it upgrades). */
int store_open_backup(const char *dir, struct store **st_r);
/* Puts a verified backup into data_dir, which must hold no store (the
   server stopped); the files keep their owner rules (privdrop). A bad
   backup is STORE_INVALID, a data dir with a store STORE_EXISTS, one whose
   store a process has open STORE_TEMP; nothing is copied then. */
int store_restore(const char *backup_dir, const char *data_dir, char *err, size_t err_len);

/* Convert a message as read from a file or pipe into wire form: lone LF and
   lone CR become CRLF; a missing final line end is added. */
void store_to_wire(struct buf *out, const char *in, size_t len);

/* Lower-cased copy of a valid domain name, or NULL (caller frees). */
char *store_norm_domain(const char *name);
/* Test seam (S7): the next commit on this handle fails as a disk error
   would, after the work was done; nothing of it may remain. */
void store_test_fail_next_commit(struct store *st);
/* Test seam (S9): the folder's expunge records become `seconds` older, as
   if made that long ago, so that the next expunge there prunes them. */
int store_test_age_expunged(struct store *st, int64_t folder_id, int64_t seconds);
/* Test seam (S6): creates or opens a store migrated only up to schema
   `version` (1 to the latest), as an older mailroom left it. */
int store_test_open_schema(const char *data_dir, int version, struct store **st_r);

#endif
