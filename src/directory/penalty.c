/* SPDX-License-Identifier: MIT */
/*
 * penalty.c - the login brake (penalty.h): failures per client address,
 * per account, and per (address, account) pair, in one bounded table.
 *
 * Every entry is a key and a count: 'A' address, 'U' account, 'P' address
 * NUL account. A pair remembers its own failures, so a success can take
 * exactly those off the address and the account, and carries the mark
 * "this address logged in to this account" that lifts the account brake.
 * Entries sit in a chained hash table (FNV-1a keyed with a per-process
 * random seed, so clients cannot aim at one bucket) and on one list in
 * order of last touch: the table is full at PENALTY_ENTRIES_MAX, and then
 * the entry touched longest ago goes, in O(1). Expired entries are dropped
 * when met in a bucket and a few at a time from the old end of the list.
 */
#include "directory/penalty.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENALTY_BUCKETS 8192 /* a power of two; about 2 entries a chain when full */
#define PENALTY_FAILS_MAX 1000
#define PENALTY_SHIFT_MAX 40 /* first_ms << 40 still fits in 64 bits */
#define PENALTY_TRIM 4	     /* expired entries dropped per recording call */
#define PENALTY_ADDR_MAX 64  /* a normalised address: "ffff:...::/64" or text */
#define PENALTY_KEY_MAX (1 + PENALTY_ADDR_MAX + 1 + PENALTY_ACCOUNT_NAME_MAX)

struct penalty_entry {
	struct penalty_entry *hnext, **hprev; /* bucket chain */
	struct penalty_entry *newer, *older;  /* touch order */
	uint64_t hash;
	uint64_t fail_ms; /* last failure */
	uint64_t good_ms; /* last success (pairs only), 0 if none */
	unsigned fails;
	uint16_t key_len;
	char key[];
};

struct penalty {
	struct penalty_entry *buckets[PENALTY_BUCKETS];
	struct penalty_entry *newest, *oldest;
	size_t count;
	uint64_t first_ms, max_ms;
	uint64_t seed;
};

struct penalty_key {
	char data[PENALTY_KEY_MAX];
	uint16_t len;
};

struct penalty *penalty_new(uint64_t first_ms, uint64_t max_ms)
{
	struct penalty *p = xcalloc(1, sizeof(*p));

	p->first_ms = first_ms;
	p->max_ms = max_ms;
	if (RAND_bytes((unsigned char *)&p->seed, sizeof(p->seed)) != 1)
		p->seed = 0x9e3779b97f4a7c15ULL;
	return p;
}

void penalty_free(struct penalty **pp)
{
	struct penalty *p = *pp;

	if (p == NULL)
		return;
	for (struct penalty_entry *e = p->newest, *n; e != NULL; e = n) {
		n = e->older;
		free(e);
	}
	free(p);
	*pp = NULL;
}

size_t penalty_count(const struct penalty *p)
{
	return p->count;
}

/* --- keys ------------------------------------------------------------------------ */

/* The brake's unit for an address: IPv4 as is, IPv4-mapped IPv6 as its
   IPv4 address, other IPv6 as its /64; text that is no address as it is. */
static void addr_norm(const char *ip, char out[PENALTY_ADDR_MAX])
{
	unsigned char a[16];

	if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			inet_ntop(AF_INET, a + 12, out, PENALTY_ADDR_MAX);
			return;
		}
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, out, PENALTY_ADDR_MAX - 3);
		strcat(out, "/64");
		return;
	}
	snprintf(out, PENALTY_ADDR_MAX, "%s", ip);
}

static void key_add(struct penalty_key *k, const char *s, bool fold)
{
	for (; *s != '\0' && k->len < sizeof(k->data); s++) {
		char c = *s;
		if (fold && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		k->data[k->len++] = c;
	}
}

/* kind 'A': addr; 'U': account; 'P': addr NUL account. */
static void key_make(struct penalty_key *k, char kind, const char *addr, const char *account)
{
	char acct[PENALTY_ACCOUNT_NAME_MAX + 1];

	k->len = 0;
	k->data[k->len++] = kind;
	if (kind != 'U')
		key_add(k, addr, false);
	if (kind == 'P')
		k->data[k->len++] = '\0';
	if (kind != 'A') {
		snprintf(acct, sizeof(acct), "%s", account);
		key_add(k, acct, true);
	}
}

static uint64_t key_hash(const struct penalty *p, const struct penalty_key *k)
{
	uint64_t h = 14695981039346656037ULL ^ p->seed;

	for (size_t i = 0; i < k->len; i++)
		h = (h ^ (unsigned char)k->data[i]) * 1099511628211ULL;
	/* MurmurHash3's finaliser: the low bits pick the bucket */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

/* --- entries --------------------------------------------------------------------- */

static bool fails_expired(const struct penalty_entry *e, uint64_t now_ms)
{
	/* a clock that steps back expires nothing */
	return now_ms > e->fail_ms && now_ms - e->fail_ms > PENALTY_EXPIRE_MS;
}

/* The failures that still count (older ones are forgotten on the way). */
static unsigned live_fails(struct penalty_entry *e, uint64_t now_ms)
{
	if (e->fails > 0 && fails_expired(e, now_ms))
		e->fails = 0;
	return e->fails;
}

static bool good_live(const struct penalty_entry *e, uint64_t now_ms)
{
	return e->good_ms != 0 && (now_ms <= e->good_ms || now_ms - e->good_ms <= PENALTY_GOOD_MS);
}

static bool entry_dead(struct penalty_entry *e, uint64_t now_ms)
{
	return live_fails(e, now_ms) == 0 && !good_live(e, now_ms);
}

static void list_unlink(struct penalty *p, struct penalty_entry *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		p->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		p->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void list_push(struct penalty *p, struct penalty_entry *e)
{
	e->older = p->newest;
	e->newer = NULL;
	if (p->newest != NULL)
		p->newest->newer = e;
	else
		p->oldest = e;
	p->newest = e;
}

static void entry_drop(struct penalty *p, struct penalty_entry *e)
{
	*e->hprev = e->hnext;
	if (e->hnext != NULL)
		e->hnext->hprev = e->hprev;
	list_unlink(p, e);
	free(e);
	p->count--;
}

/* The entry for k, or NULL; a dead entry met on the way is dropped. */
static struct penalty_entry *lookup(struct penalty *p, const struct penalty_key *k, uint64_t hash,
				    uint64_t now_ms)
{
	struct penalty_entry *e = p->buckets[hash & (PENALTY_BUCKETS - 1)], *next;

	for (; e != NULL; e = next) {
		next = e->hnext;
		if (entry_dead(e, now_ms)) {
			entry_drop(p, e);
			continue;
		}
		if (e->hash == hash && e->key_len == k->len && memcmp(e->key, k->data, k->len) == 0)
			return e;
	}
	return NULL;
}

static struct penalty_entry *find(struct penalty *p, char kind, const char *addr,
				  const char *account, uint64_t now_ms)
{
	struct penalty_key k;

	key_make(&k, kind, addr, account);
	return lookup(p, &k, key_hash(p, &k), now_ms);
}

/* The entry for the key, made if missing, and moved to the new end. */
static struct penalty_entry *touch(struct penalty *p, char kind, const char *addr,
				   const char *account, uint64_t now_ms)
{
	struct penalty_key k;

	key_make(&k, kind, addr, account);
	uint64_t hash = key_hash(p, &k);
	struct penalty_entry *e = lookup(p, &k, hash, now_ms);
	if (e != NULL) {
		list_unlink(p, e);
		list_push(p, e);
		return e;
	}
	if (p->count >= PENALTY_ENTRIES_MAX)
		entry_drop(p, p->oldest);
	e = xcalloc(1, sizeof(*e) + k.len);
	e->hash = hash;
	e->key_len = k.len;
	memcpy(e->key, k.data, k.len);
	struct penalty_entry **head = &p->buckets[hash & (PENALTY_BUCKETS - 1)];
	e->hnext = *head;
	if (*head != NULL)
		(*head)->hprev = &e->hnext;
	e->hprev = head;
	*head = e;
	list_push(p, e);
	p->count++;
	return e;
}

/* Drops a few expired entries from the old end (amortised O(1)). */
static void trim(struct penalty *p, uint64_t now_ms)
{
	for (int i = 0; i < PENALTY_TRIM && p->oldest != NULL && entry_dead(p->oldest, now_ms); i++)
		entry_drop(p, p->oldest);
}

/* --- the brake ------------------------------------------------------------------- */

static uint64_t curve(const struct penalty *p, unsigned fails)
{
	if (fails == 0)
		return 0;
	unsigned shift = fails - 1;
	uint64_t d = shift >= PENALTY_SHIFT_MAX ? p->max_ms : p->first_ms << shift;
	return d < p->max_ms ? d : p->max_ms;
}

static bool brake_off(const struct penalty *p)
{
	return p->first_ms == 0 || p->max_ms == 0;
}

uint64_t penalty_wait_ms(struct penalty *p, const char *ip, const char *account, uint64_t now_ms)
{
	char addr[PENALTY_ADDR_MAX];
	uint64_t wait = 0;

	if (brake_off(p))
		return 0;
	addr_norm(ip, addr);
	struct penalty_entry *a = find(p, 'A', addr, NULL, now_ms);
	if (a != NULL)
		wait = curve(p, live_fails(a, now_ms));
	if (account == NULL)
		return wait;
	struct penalty_entry *pair = find(p, 'P', addr, account, now_ms);
	if (pair != NULL && good_live(pair, now_ms))
		return wait; /* the owner's address: no account brake */
	struct penalty_entry *u = find(p, 'U', NULL, account, now_ms);
	uint64_t acct = u != NULL ? curve(p, live_fails(u, now_ms)) : 0;
	return acct > wait ? acct : wait;
}

static void count_fail(struct penalty_entry *e, uint64_t now_ms)
{
	live_fails(e, now_ms); /* after the quiet period, start from one */
	if (e->fails < PENALTY_FAILS_MAX)
		e->fails++;
	e->fail_ms = now_ms;
}

void penalty_fail(struct penalty *p, const char *ip, const char *account, uint64_t now_ms)
{
	char addr[PENALTY_ADDR_MAX];

	if (brake_off(p))
		return;
	trim(p, now_ms);
	addr_norm(ip, addr);
	count_fail(touch(p, 'A', addr, NULL, now_ms), now_ms);
	if (account == NULL)
		return;
	count_fail(touch(p, 'U', NULL, account, now_ms), now_ms);
	count_fail(touch(p, 'P', addr, account, now_ms), now_ms);
}

static void take_off(struct penalty_entry *e, unsigned n, uint64_t now_ms)
{
	if (e != NULL)
		e->fails = live_fails(e, now_ms) > n ? e->fails - n : 0;
}

void penalty_success(struct penalty *p, const char *ip, const char *account, uint64_t now_ms)
{
	char addr[PENALTY_ADDR_MAX];

	if (brake_off(p) || account == NULL)
		return;
	trim(p, now_ms);
	addr_norm(ip, addr);
	struct penalty_entry *pair = touch(p, 'P', addr, account, now_ms);
	unsigned n = live_fails(pair, now_ms);
	pair->fails = 0;
	pair->good_ms = now_ms != 0 ? now_ms : 1;
	take_off(find(p, 'A', addr, NULL, now_ms), n, now_ms);
	take_off(find(p, 'U', NULL, account, now_ms), n, now_ms);
}
