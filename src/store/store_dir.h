/* SPDX-License-Identifier: MIT */
/*
 * store/store_dir.h - directory data in the store: hosted domains and
 * domain aliases, quota levels and limits, mailboxes as accounts (users),
 * forwarding, auto-replies, distribution lists, what the delivery path
 * reads of a mailbox, aliases, and resolving a recipient to mailboxes.
 * What a mailbox holds is in store_mailbox.h.
 *
 * A face of store.h: included by store/store.h only, never directly (the
 * handle, statuses, invariants S1-S7 and open/close are there).
 */
#ifndef MAILROOM_STORE_STORE_H
#error "include store/store.h, not store/store_dir.h"
#endif
#ifndef MAILROOM_STORE_STORE_DIR_H
#define MAILROOM_STORE_STORE_DIR_H

enum domain_type {
	DOMAIN_AUTHORITATIVE,
	DOMAIN_INTERNAL_RELAY,
	DOMAIN_EXTERNAL_RELAY,
};

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

#endif
