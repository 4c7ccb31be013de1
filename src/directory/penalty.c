/* SPDX-License-Identifier: MIT */
/*
 * penalty.c - per-IP failed-login delays.
 *
 * A chained hash table of client addresses (FNV-1a over the textual IP,
 * keyed with a per-process random seed so clients cannot aim at one
 * bucket). At most PENALTY_MAX entries; when full, the entry least recently
 * failed is dropped. Entries expire PENALTY_EXPIRE_MS after their last
 * failure. Loop thread only: no locks.
 */
#include "directory/penalty.h"
#include "util/mem.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define PENALTY_BUCKETS 4096
#define PENALTY_MAX 16384
#define PENALTY_EXPIRE_MS (15 * 60 * 1000ULL)
#define PENALTY_FIRST_MS 1000ULL

struct penalty_entry {
	struct penalty_entry *next;
	uint64_t last_ms;
	unsigned fails;
	char ip[46]; /* INET6_ADDRSTRLEN */
};

struct penalty {
	struct penalty_entry *buckets[PENALTY_BUCKETS];
	unsigned count;
	uint64_t max_ms;
	uint32_t seed;
};

struct penalty *penalty_new(unsigned max_delay_secs)
{
	struct penalty *p = xcalloc(1, sizeof(*p));

	p->max_ms = (uint64_t)max_delay_secs * 1000;
	if (RAND_bytes((unsigned char *)&p->seed, sizeof(p->seed)) != 1)
		p->seed = 0x9e3779b9u;
	return p;
}

void penalty_free(struct penalty **pp)
{
	struct penalty *p = *pp;

	if (p == NULL)
		return;
	for (size_t i = 0; i < PENALTY_BUCKETS; i++) {
		struct penalty_entry *e = p->buckets[i], *n;
		for (; e != NULL; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(p);
	*pp = NULL;
}

static size_t bucket_of(const struct penalty *p, const char *ip)
{
	uint32_t h = 2166136261u ^ p->seed;

	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % PENALTY_BUCKETS;
}

/* Finds ip's entry, unlinking expired ones met on the way; *link_r points at
   the link that holds the result (for removal). */
static struct penalty_entry *find(struct penalty *p, const char *ip, uint64_t now_ms,
				  struct penalty_entry ***link_r)
{
	struct penalty_entry **link = &p->buckets[bucket_of(p, ip)];

	while (*link != NULL) {
		struct penalty_entry *e = *link;
		if (now_ms != 0 && now_ms - e->last_ms > PENALTY_EXPIRE_MS && e->last_ms < now_ms) {
			*link = e->next;
			free(e);
			p->count--;
			continue;
		}
		if (strcmp(e->ip, ip) == 0) {
			if (link_r != NULL)
				*link_r = link;
			return e;
		}
		link = &e->next;
	}
	return NULL;
}

uint64_t penalty_delay_ms(struct penalty *p, const char *ip, uint64_t now_ms)
{
	struct penalty_entry *e = find(p, ip, now_ms, NULL);
	uint64_t d = PENALTY_FIRST_MS;

	if (p->max_ms == 0)
		return 0;
	if (e != NULL)
		d = e->fails >= 42 ? p->max_ms : PENALTY_FIRST_MS << e->fails; /* 2^42 s: no overflow */
	return d < p->max_ms ? d : p->max_ms;
}

static void evict_oldest(struct penalty *p)
{
	struct penalty_entry **oldest = NULL;

	for (size_t i = 0; i < PENALTY_BUCKETS; i++)
		for (struct penalty_entry **l = &p->buckets[i]; *l != NULL; l = &(*l)->next)
			if (oldest == NULL || (*l)->last_ms < (*oldest)->last_ms)
				oldest = l;
	if (oldest != NULL) {
		struct penalty_entry *e = *oldest;
		*oldest = e->next;
		free(e);
		p->count--;
	}
}

void penalty_fail(struct penalty *p, const char *ip, uint64_t now_ms)
{
	struct penalty_entry *e = find(p, ip, now_ms, NULL);

	if (e == NULL) {
		if (p->count >= PENALTY_MAX)
			evict_oldest(p);
		e = xcalloc(1, sizeof(*e));
		size_t l = strlen(ip);
		if (l >= sizeof(e->ip))
			l = sizeof(e->ip) - 1;
		memcpy(e->ip, ip, l);
		size_t b = bucket_of(p, e->ip);
		e->next = p->buckets[b];
		p->buckets[b] = e;
		p->count++;
	}
	if (e->fails < 1000)
		e->fails++;
	e->last_ms = now_ms;
}

void penalty_success(struct penalty *p, const char *ip)
{
	struct penalty_entry **link;
	struct penalty_entry *e = find(p, ip, 0, &link);

	if (e != NULL) {
		*link = e->next;
		free(e);
		p->count--;
	}
}
