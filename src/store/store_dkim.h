/* SPDX-License-Identifier: MIT */
/*
 * store/store_dkim.h - DKIM signing keys per hosted domain (schema 10).
 *
 * A face of store.h: included by store/store.h only, never directly (the
 * handle, statuses, invariants S1-S7 and open/close are there).
 */
#ifndef MAILROOM_STORE_STORE_H
#error "include store/store.h, not store/store_dkim.h"
#endif
#ifndef MAILROOM_STORE_STORE_DKIM_H
#define MAILROOM_STORE_STORE_DKIM_H

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

#endif
