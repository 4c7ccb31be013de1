/* SPDX-License-Identifier: MIT */
/*
 * pop3_service.c - the POP3 service: one per server, loop thread only.
 *
 * It owns what sessions share: the set of mailboxes that have a session in
 * TRANSACTION (RFC 2449 §8.1.1 [IN-USE]: one session per mailbox, so two
 * clients never race each other's DELE/QUIT), the counter that makes APOP
 * timestamps unique, and per-command counters (Postfix success_count /
 * total_count), one per row of pop3_cmd_table.
 *
 * The lock set is an open-addressing hash set of mailbox ids with linear
 * probing and backward-shift deletion (no tombstones), kept at most half
 * full. Id 0 marks an empty slot; store ids start at 1.
 */
#include "pop3/pop3_private.h"
#include "pop3/pop3.h"
#include "proto/service.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

#define LOCKSET_MIN 64

struct pop3_service *pop3_service_new(const struct service_env *env)
{
	struct pop3_service *svc = xcalloc(1, sizeof(*svc));
	svc->env = env;
	svc->stats = xcalloc(pop3_cmd_count, sizeof(*svc->stats));
	return svc;
}

void pop3_service_free(struct pop3_service **svcp)
{
	struct pop3_service *svc = *svcp;
	if (svc == NULL)
		return;
	free(svc->locks.slots);
	free(svc->stats);
	free(svc);
	*svcp = NULL;
}

unsigned pop3_service_sessions(const struct pop3_service *svc)
{
	return svc->sessions.count;
}

const struct config *pop3_cfg(const struct pop3_session *s)
{
	return s->svc->env->cfg;
}

static size_t lock_hash(int64_t id, size_t cap)
{
	uint64_t x = (uint64_t)id * 0x9e3779b97f4a7c15ULL; /* Fibonacci hashing */
	return (size_t)(x >> 32) & (cap - 1);
}

/* Index of id, or of the empty slot where it would go. */
static size_t lock_find(const struct pop3_lockset *ls, int64_t id)
{
	size_t i = lock_hash(id, ls->cap);
	while (ls->slots[i] != 0 && ls->slots[i] != id)
		i = (i + 1) & (ls->cap - 1);
	return i;
}

static void lock_grow(struct pop3_lockset *ls)
{
	struct pop3_lockset n = {xcalloc(ls->cap ? ls->cap * 2 : LOCKSET_MIN, sizeof(int64_t)),
				 ls->cap ? ls->cap * 2 : LOCKSET_MIN, ls->count};
	for (size_t i = 0; i < ls->cap; i++)
		if (ls->slots[i] != 0)
			n.slots[lock_find(&n, ls->slots[i])] = ls->slots[i];
	free(ls->slots);
	*ls = n;
}

bool pop3_lock_mailbox(struct pop3_service *svc, int64_t mailbox_id)
{
	struct pop3_lockset *ls = &svc->locks;

	if (mailbox_id == 0)
		log_panic("pop3: mailbox id 0 cannot be locked");
	if ((ls->count + 1) * 2 > ls->cap)
		lock_grow(ls);
	size_t i = lock_find(ls, mailbox_id);
	if (ls->slots[i] == mailbox_id)
		return false;
	ls->slots[i] = mailbox_id;
	ls->count++;
	return true;
}

void pop3_unlock_mailbox(struct pop3_service *svc, int64_t mailbox_id)
{
	struct pop3_lockset *ls = &svc->locks;

	if (ls->cap == 0)
		return;
	size_t i = lock_find(ls, mailbox_id);
	if (ls->slots[i] != mailbox_id)
		log_panic("pop3: unlocking mailbox %lld that is not locked", (long long)mailbox_id);
	ls->slots[i] = 0;
	ls->count--;
	/* backward-shift: pull later members of the probe run into the hole */
	for (size_t j = (i + 1) & (ls->cap - 1); ls->slots[j] != 0; j = (j + 1) & (ls->cap - 1)) {
		size_t home = lock_hash(ls->slots[j], ls->cap);
		/* move j to i unless home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			ls->slots[i] = ls->slots[j];
			ls->slots[j] = 0;
			i = j;
		}
	}
}

/* --- the service entry (proto/service.h) ------------------------------------ */

/* RFC 3206 §4 [SYS/TEMP]: the client may retry later */
static const struct service_port pop3_ports[] = {
    {.name = "pop3",
     .listen = "127.0.0.1:2110",
     .busy = "-ERR [SYS/TEMP] Too many connections\r\n"},
    {.name = "pop3s", .listen = "127.0.0.1:2995", .implicit_tls = true},
};

static void *svc_create(const struct service_env *env)
{
	return pop3_service_new(env);
}

static void svc_session(void *svc, struct conn *c, const struct service_port *port)
{
	(void)port; /* both ports speak the same POP3; STLS is offered where TLS is not on */
	pop3_session_start(svc, c);
}

static unsigned svc_sessions(const void *svc)
{
	return pop3_service_sessions(svc);
}

static void svc_shutdown(void *svc)
{
	pop3_service_shutdown(svc);
}

static void svc_destroy(void *svc)
{
	struct pop3_service *p = svc;
	pop3_service_free(&p);
}

const struct service pop3_service = {
    .name = "pop3",
    .alpn = "pop3",
    .ports = pop3_ports,
    .n_ports = sizeof(pop3_ports) / sizeof(pop3_ports[0]),
    .config = &pop3_config_section,
    .create = svc_create,
    .session = svc_session,
    .sessions = svc_sessions,
    .shutdown = svc_shutdown,
    .destroy = svc_destroy,
};
