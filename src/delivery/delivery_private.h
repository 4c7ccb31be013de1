/* SPDX-License-Identifier: MIT */
/*
 * delivery_private.h - what the files of delivery/ share: the context, the
 * plan and its buckets (delivery.c fills them, delivery_build.c makes the
 * submission and side effects from them).
 */
#ifndef MAILROOM_DELIVERY_DELIVERY_PRIVATE_H
#define MAILROOM_DELIVERY_DELIVERY_PRIVATE_H

#include <openssl/crypto.h>
#include <stdarg.h>

#include "delivery/delivery.h"
#include "delivery/srs.h"

#define DELIVERY_DEPTH_MAX 8	     /* aliases, lists and forwards inside each other */
#define DELIVERY_EXPANSION_MAX 10000 /* recipients one address may expand to */
#define STORE_ADDRESS_MAX 320

struct delivery {
	char *hostname, *postmaster;
	struct directory *dir;
	unsigned char srs_key[SRS_KEY_LEN];
	unsigned max_expansion;
};

struct dl_ids {
	int64_t *v;
	size_t n, cap;
};
struct dl_rems {
	struct store_remote_rcpt *v; /* strings owned */
	size_t n, cap;
};
bool dl_ids_has(const struct dl_ids *a, int64_t id);
bool dl_ids_add(struct dl_ids *a, int64_t id);
bool dl_rem_has(const struct dl_rems *a, const char *address);
bool dl_rem_add(struct dl_rems *a, const char *address, const char *notify, const char *orcpt);
void dl_rems_free(struct dl_rems *a);

/* Outside targets of one mailbox's forwarding; a member reached through a
   list forwards the list's copy (its bounce address, its List-Id). */
struct dl_fwd {
	int64_t from;
	char *from_addr;
	char *list; /* the list's address, or NULL */
	struct dl_rems to;
};
/* One list's copy: its members, flattened. */
struct dl_list {
	char *address;
	struct dl_ids ids;
	struct dl_rems remote;
	struct dl_rems full; /* members left out for their quota */
};
struct dl_set {
	struct dl_ids ids;     /* direct mailboxes */
	struct dl_rems remote; /* queued with the original sender */
	struct dl_fwd *fwd;
	size_t n_fwd;
	struct dl_list *lists;
	size_t n_lists;
};
struct dl_notify {
	char *address, *orcpt;
};

struct delivery_plan {
	char *sender; /* NULL: unknown */
	int64_t snd_mailbox;
	char *login;
	bool local_origin; /* delivery_sender.local_origin, or a login */
	uint64_t size;
	bool limits_loaded;
	struct store_limits lim; /* the login's, effective */
	uint64_t rcpts_hour, rcpts_day;
	struct dl_set set;
	struct dl_notify *notify; /* NOTIFY=SUCCESS recipients with mailboxes here */
	size_t n_notify;
	struct store_mailbox_info *info; /* each mailbox met, read once */
	size_t n_info, cap_info;
	uint32_t *info_at; /* open addressing by id: index in info + 1, 0 = empty */
	size_t info_slots; /* a power of two, at least twice n_info */
	size_t recipients;
};

/* The plan's record of mailbox id (read on first use); NULL with
   *status_r when it cannot be read (STORE_NOTFOUND: gone). The pointer
   lasts until the next call. */
const struct store_mailbox_info *dl_info(struct store *st, struct delivery_plan *p, int64_t id,
					 int *status_r);

#endif
