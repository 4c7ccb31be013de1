/* SPDX-License-Identifier: MIT */
/*
 * signing.h - the DKIM keys a delivery thread signs with (filter/dkim.h,
 * store.h "DKIM signing keys"): the active keys of every hosted domain,
 * read from the store and kept by the thread; before each message that
 * originates here it asks the store's change counter (one small read) and
 * reads the keys again when it moved, so a `mailroom dkim` change counts
 * from the next message on. Picking is by the From: field's domain, exact
 * (docs/admin.md "DKIM signing"). Blocking: delivery threads only.
 */
#ifndef MAILROOM_QUEUE_SIGNING_H
#define MAILROOM_QUEUE_SIGNING_H

#include <stddef.h>

struct store;
struct dkim_key;

#define SIGNING_KEYS_MAX 4 /* keys one message is signed with (rsa + ed25519, RFC 8463 §4) */

struct signing;
struct signing *signing_new(void);
void signing_free(struct signing **s);
/* The active keys of the domain of msg's From: field (exactly one field
   with one address), up to SIGNING_KEYS_MAX, into keys; they stay valid
   until the next call. 0 when there are none (or the store cannot be
   read: the message then goes unsigned, logged). */
size_t signing_keys(struct signing *s, struct store *st, const char *msg, size_t len,
		    struct dkim_key **keys);

#endif
