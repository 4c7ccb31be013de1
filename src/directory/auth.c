/* SPDX-License-Identifier: MIT */
/*
 * auth.c - checks credentials of built-in accounts against the store.
 *
 * Timing: an unknown login verifies a dummy yescrypt hash with the same cost
 * as a real one, so a failed USER/PASS takes the same time either way. The
 * dummy is made once per process (pthread_once) from random bytes.
 */
#include "directory/auth.h"
#include "directory/password.h"
#include "store/store.h"
#include "util/mem.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <time.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_CACHE_SLOTS 4096

struct cache_slot {
	unsigned char key[32];	  /* HMAC(cache key, login NUL password) */
	unsigned char stored[32]; /* SHA-256 of the stored hash it matched */
	time_t expires;
};

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cache_slot *cache;
static unsigned char cache_hkey[32];
static atomic_uint cache_ttl;
static atomic_ulong cache_hits;

void auth_cache_configure(unsigned ttl_secs)
{
	pthread_mutex_lock(&cache_mu);
	if (cache == NULL && ttl_secs > 0) {
		cache = xcalloc(AUTH_CACHE_SLOTS, sizeof(*cache));
		if (RAND_bytes(cache_hkey, sizeof(cache_hkey)) != 1)
			ttl_secs = 0;
	}
	atomic_store(&cache_ttl, ttl_secs);
	pthread_mutex_unlock(&cache_mu);
}

unsigned long auth_cache_hits(void)
{
	return atomic_load(&cache_hits);
}

static void cache_key(const char *login, const char *password, unsigned char key[32])
{
	unsigned len = 32;
	size_t ll = strlen(login), pl = strlen(password);
	unsigned char *msg = xmalloc(ll + 1 + pl);
	memcpy(msg, login, ll);
	msg[ll] = '\0';
	memcpy(msg + ll + 1, password, pl);
	HMAC(EVP_sha256(), cache_hkey, sizeof(cache_hkey), msg, ll + 1 + pl, key, &len);
	secure_zero(msg, ll + 1 + pl);
	free(msg);
}

/* Slot for a key: its first bytes pick it; a collision just replaces. */
static struct cache_slot *cache_slot(const unsigned char key[32])
{
	unsigned idx = ((unsigned)key[0] | (unsigned)key[1] << 8) % AUTH_CACHE_SLOTS;
	return &cache[idx];
}

static bool cache_hit(const unsigned char key[32], const char *pw_hash)
{
	unsigned char stored[32];
	bool hit = false;

	SHA256((const unsigned char *)pw_hash, strlen(pw_hash), stored);
	pthread_mutex_lock(&cache_mu);
	struct cache_slot *sl = cache_slot(key);
	hit = sl->expires > time(NULL) && mem_equal_ct(sl->key, key, 32) &&
	      mem_equal_ct(sl->stored, stored, 32);
	pthread_mutex_unlock(&cache_mu);
	return hit;
}

static void cache_put(const unsigned char key[32], const char *pw_hash, unsigned ttl)
{
	pthread_mutex_lock(&cache_mu);
	struct cache_slot *sl = cache_slot(key);
	memcpy(sl->key, key, 32);
	SHA256((const unsigned char *)pw_hash, strlen(pw_hash), sl->stored);
	sl->expires = time(NULL) + (time_t)ttl;
	pthread_mutex_unlock(&cache_mu);
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

static void identity_fill(const struct store_user *u, struct auth_identity *id_r)
{
	memset(id_r, 0, sizeof(*id_r));
	id_r->mailbox_id = u->id;
	snprintf(id_r->address, sizeof(id_r->address), "%s", u->address);
	id_r->pop3_enabled = u->pop3_enabled;
	id_r->submission_enabled = u->submission_enabled;
	id_r->enabled = u->enabled;
}

static enum auth_result lookup(struct store *st, const char *login, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	int rc = store_user_lookup(st, login, u);
	if (rc == STORE_OK)
		return AUTH_OK;
	if (rc == STORE_NOTFOUND || rc == STORE_INVALID)
		return AUTH_FAILED;
	return AUTH_TEMPFAIL;
}

enum auth_result auth_password(struct store *st, const char *login, const char *password,
			       struct auth_identity *id_r)
{
	struct store_user u;
	enum auth_result r = lookup(st, login, &u);

	if (r == AUTH_TEMPFAIL)
		return r;
	if (r == AUTH_FAILED || u.pw_hash == NULL) {
		pthread_once(&dummy_once, dummy_make);
		(void)password_verify(password, dummy_hash);
		store_user_clear(&u);
		return AUTH_FAILED;
	}
	unsigned ttl = atomic_load(&cache_ttl);
	unsigned char key[32];
	if (ttl > 0) {
		cache_key(login, password, key);
		if (cache_hit(key, u.pw_hash)) {
			atomic_fetch_add(&cache_hits, 1);
			identity_fill(&u, id_r);
			store_user_clear(&u);
			return AUTH_OK;
		}
	}
	r = password_verify(password, u.pw_hash) ? AUTH_OK : AUTH_FAILED;
	if (r == AUTH_OK) {
		identity_fill(&u, id_r);
		if (ttl > 0)
			cache_put(key, u.pw_hash, ttl);
	}
	store_user_clear(&u);
	return r;
}

enum auth_result auth_apop(struct store *st, const char *login, const char *timestamp,
			   const char *digest_hex, struct auth_identity *id_r)
{
	struct store_user u;
	enum auth_result r = lookup(st, login, &u);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	char hex[2 * 16 + 1];

	if (r != AUTH_OK)
		return r;
	if (u.apop_secret == NULL || strlen(digest_hex) != 32) {
		store_user_clear(&u);
		return AUTH_FAILED;
	}
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (c == NULL || EVP_DigestInit_ex(c, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(c, timestamp, strlen(timestamp)) != 1 ||
	    EVP_DigestUpdate(c, u.apop_secret, strlen(u.apop_secret)) != 1 ||
	    EVP_DigestFinal_ex(c, md, &md_len) != 1 || md_len != 16) {
		EVP_MD_CTX_free(c);
		store_user_clear(&u);
		return AUTH_TEMPFAIL;
	}
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	r = mem_equal_ct(hex, digest_hex, 32) ? AUTH_OK : AUTH_FAILED;
	if (r == AUTH_OK)
		identity_fill(&u, id_r);
	secure_zero(md, sizeof(md));
	store_user_clear(&u);
	return r;
}
