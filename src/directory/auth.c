/* SPDX-License-Identifier: MIT */
/*
 * auth.c - the auth cache, the dummy hash and APOP's digest (auth.h).
 *
 * Timing: an unknown login verifies a dummy yescrypt hash with the same cost
 * as a real one, so a failed USER/PASS takes the same time either way. The
 * dummy is made once per process (pthread_once) from random bytes.
 *
 * The cache is a hash table of entries keyed by an HMAC of backend, login
 * and password under a per-process random key (so it holds no password),
 * grown by doubling so chains stay short, and a list in the order entries
 * were put, which is the order they expire in: a put drops what expired
 * from the oldest end, and the oldest while [limits] auth_cache_size
 * entries are held. Every account that logged in within the TTL stays
 * cached up to that size, however many accounts there are.
 */
#include "directory/auth.h"
#include "directory/password.h"
#include "util/mem.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VERIFIED_TAG "\001verified-by-backend"
#define AUTH_CACHE_BUCKETS_MIN 1024

struct cache_entry {
	unsigned char key[32];	   /* HMAC(cache key, backend NUL login NUL password) */
	unsigned char matched[32]; /* SHA-256 of the stored hash it matched, or of the tag */
	time_t expires;
	struct auth_identity id;
	struct cache_entry *hnext;	   /* the bucket's chain */
	struct cache_entry *older, *newer; /* put order, which is expiry order */
};

struct auth_cache {
	pthread_mutex_t mu;
	unsigned char hkey[32];
	unsigned ttl;	 /* 0: off */
	size_t max;	 /* entries at most */
	size_t n;	 /* entries now */
	size_t nbuckets; /* a power of two, >= n once grown */
	struct cache_entry **buckets;
	struct cache_entry *oldest, *newest;
	atomic_ulong hits;
};

struct auth_cache *auth_cache_new(unsigned ttl_secs, size_t max_entries)
{
	struct auth_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	if (ttl_secs > 0 && max_entries > 0 && RAND_bytes(c->hkey, sizeof(c->hkey)) == 1) {
		c->ttl = ttl_secs;
		c->max = max_entries;
		c->nbuckets = AUTH_CACHE_BUCKETS_MIN;
		c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	}
	return c;
}

static void entry_free(struct cache_entry *e)
{
	secure_zero(e, sizeof(*e));
	free(e);
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;
	if (c == NULL)
		return;
	for (struct cache_entry *e = c->oldest, *next; e != NULL; e = next) {
		next = e->newer;
		entry_free(e);
	}
	free(c->buckets);
	secure_zero(c->hkey, sizeof(c->hkey));
	pthread_mutex_destroy(&c->mu);
	free(c);
	*cp = NULL;
}

unsigned long auth_cache_hits(const struct auth_cache *c)
{
	return c != NULL ? atomic_load(&((struct auth_cache *)c)->hits) : 0;
}

size_t auth_cache_entries(struct auth_cache *c)
{
	if (c == NULL)
		return 0;
	pthread_mutex_lock(&c->mu);
	size_t n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}

static void cache_key(const struct auth_cache *c, unsigned backend, const char *login,
		      const char *password, unsigned char key[32])
{
	unsigned len = 32;
	char be[16];
	int bl = snprintf(be, sizeof(be), "%u", backend);
	size_t ll = strlen(login), pl = strlen(password);
	size_t n = (size_t)bl + 1 + ll + 1 + pl;
	unsigned char *msg = xmalloc(n);

	memcpy(msg, be, (size_t)bl);
	msg[bl] = '\0';
	memcpy(msg + bl + 1, login, ll);
	msg[bl + 1 + ll] = '\0';
	memcpy(msg + bl + 2 + ll, password, pl);
	HMAC(EVP_sha256(), c->hkey, sizeof(c->hkey), msg, n, key, &len);
	secure_zero(msg, n);
	free(msg);
}

static void matched_digest(const char *matched, unsigned char out[32])
{
	const char *m = matched != NULL ? matched : VERIFIED_TAG;
	SHA256((const unsigned char *)m, strlen(m), out);
}

/* The key is an HMAC output: any 8 of its bytes are a uniform hash. */
static size_t bucket_of(const struct auth_cache *c, const unsigned char key[32])
{
	uint64_t h;
	memcpy(&h, key, sizeof(h));
	return (size_t)(h & (c->nbuckets - 1));
}

/* The entry with this key (compared in constant time), or NULL; with
   link_r, where the chain points at it. Caller holds mu. */
static struct cache_entry *find(struct auth_cache *c, const unsigned char key[32],
				struct cache_entry ***link_r)
{
	struct cache_entry **link = &c->buckets[bucket_of(c, key)];
	for (; *link != NULL; link = &(*link)->hnext)
		if (mem_equal_ct((*link)->key, key, 32)) {
			if (link_r != NULL)
				*link_r = link;
			return *link;
		}
	return NULL;
}

static void unlink_order(struct auth_cache *c, struct cache_entry *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	e->older = e->newer = NULL;
}

static void push_newest(struct auth_cache *c, struct cache_entry *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	else
		c->oldest = e;
	c->newest = e;
}

static void drop(struct auth_cache *c, struct cache_entry *e)
{
	struct cache_entry **link = NULL;
	if (find(c, e->key, &link) == e)
		*link = e->hnext;
	unlink_order(c, e);
	c->n--;
	entry_free(e);
}

/* Twice the buckets once there are more entries than buckets, so a chain
   stays short whatever the number of accounts. */
static void grow(struct auth_cache *c)
{
	size_t nb = c->nbuckets * 2;
	struct cache_entry **b = xcalloc(nb, sizeof(*b));
	for (size_t i = 0; i < c->nbuckets; i++)
		for (struct cache_entry *e = c->buckets[i], *next; e != NULL; e = next) {
			next = e->hnext;
			uint64_t h;
			memcpy(&h, e->key, sizeof(h));
			size_t j = (size_t)(h & (nb - 1));
			e->hnext = b[j];
			b[j] = e;
		}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = nb;
}

bool auth_cache_get(struct auth_cache *c, unsigned backend, const char *login, const char *password,
		    const char *matched, struct auth_identity *id_r)
{
	unsigned char key[32], md[32];
	bool hit = false;

	if (c == NULL || c->ttl == 0)
		return false;
	cache_key(c, backend, login, password, key);
	matched_digest(matched, md);
	pthread_mutex_lock(&c->mu);
	struct cache_entry *e = find(c, key, NULL);
	if (e != NULL && e->expires <= time(NULL)) {
		drop(c, e);
		e = NULL;
	}
	hit = e != NULL && mem_equal_ct(e->matched, md, 32);
	if (hit && id_r != NULL)
		*id_r = e->id;
	pthread_mutex_unlock(&c->mu);
	if (hit)
		atomic_fetch_add(&c->hits, 1);
	return hit;
}

bool auth_cache_holds(struct auth_cache *c, unsigned backend, const char *login,
		      const char *password)
{
	unsigned char key[32];

	if (c == NULL || c->ttl == 0)
		return false;
	cache_key(c, backend, login, password, key);
	pthread_mutex_lock(&c->mu);
	struct cache_entry *e = find(c, key, NULL);
	bool held = e != NULL && e->expires > time(NULL);
	pthread_mutex_unlock(&c->mu);
	return held;
}

void auth_cache_put(struct auth_cache *c, unsigned backend, const char *login, const char *password,
		    const char *matched, const struct auth_identity *id)
{
	unsigned char key[32];
	time_t now = time(NULL);

	if (c == NULL || c->ttl == 0)
		return;
	cache_key(c, backend, login, password, key);
	pthread_mutex_lock(&c->mu);
	/* what expired goes first (the oldest end), then, for a new entry, the
	   oldest while full: renewing one that is held must not push another
	   out, or a working set the size of the cache would thrash */
	struct cache_entry *e = find(c, key, NULL);
	while (c->oldest != NULL && (c->oldest->expires <= now || (e == NULL && c->n >= c->max))) {
		if (c->oldest == e)
			e = NULL; /* it expired: made anew below */
		drop(c, c->oldest);
	}
	if (e != NULL) {
		unlink_order(c, e);
	} else {
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, 32);
		if (c->n >= c->nbuckets)
			grow(c);
		size_t b = bucket_of(c, key);
		e->hnext = c->buckets[b];
		c->buckets[b] = e;
		c->n++;
	}
	matched_digest(matched, e->matched);
	e->id = *id;
	e->expires = now + (time_t)c->ttl;
	push_newest(c, e);
	pthread_mutex_unlock(&c->mu);
	secure_zero(key, sizeof(key));
}

static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char *dummy_hash;

static void dummy_make(void)
{
	unsigned char r[18];
	char pw[sizeof(r) * 2 + 1];

	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0x5a, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(pw + 2 * i, 3, "%02x", r[i]);
	if (password_hash(pw, &dummy_hash) < 0)
		dummy_hash = NULL;
	secure_zero(pw, sizeof(pw));
}

void auth_dummy_verify(const char *password)
{
	pthread_once(&dummy_once, dummy_make);
	(void)password_verify(password, dummy_hash);
}

enum auth_result auth_apop_check(const char *secret, const char *timestamp, const char *digest_hex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	char hex[2 * 16 + 1];

	if (secret == NULL || strlen(digest_hex) != 32)
		return AUTH_FAILED;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(c, timestamp, strlen(timestamp)) != 1 ||
	    EVP_DigestUpdate(c, secret, strlen(secret)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &md_len) != 1 || md_len != 16) {
		EVP_MD_CTX_free(c);
		return AUTH_TEMPFAIL;
	}
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	enum auth_result r = mem_equal_ct(hex, digest_hex, 32) ? AUTH_OK : AUTH_FAILED;
	secure_zero(md, sizeof(md));
	secure_zero(hex, sizeof(hex));
	return r;
}
