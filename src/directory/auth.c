/* SPDX-License-Identifier: MIT */
/*
 * auth.c - the auth cache, the dummy hash and APOP's digest (auth.h).
 *
 * Timing: an unknown login verifies a dummy yescrypt hash with the same cost
 * as a real one, so a failed USER/PASS takes the same time either way. The
 * dummy is made once per process (pthread_once) from random bytes. The
 * cache is a fixed table of slots; a key's first bytes pick its slot and a
 * collision just replaces the older entry.
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

#define AUTH_CACHE_SLOTS 4096
#define VERIFIED_TAG "\001verified-by-backend"

struct cache_slot {
	unsigned char key[32];	   /* HMAC(cache key, backend NUL login NUL password) */
	unsigned char matched[32]; /* SHA-256 of the stored hash it matched, or of the tag */
	time_t expires;
	struct auth_identity id;
};

struct auth_cache {
	pthread_mutex_t mu;
	struct cache_slot *slots; /* NULL when ttl is 0 */
	unsigned char hkey[32];
	unsigned ttl;
	atomic_ulong hits;
};

struct auth_cache *auth_cache_new(unsigned ttl_secs)
{
	struct auth_cache *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	if (ttl_secs > 0 && RAND_bytes(c->hkey, sizeof(c->hkey)) == 1) {
		c->slots = xcalloc(AUTH_CACHE_SLOTS, sizeof(*c->slots));
		c->ttl = ttl_secs;
	}
	return c;
}

void auth_cache_free(struct auth_cache **cp)
{
	struct auth_cache *c = *cp;
	if (c == NULL)
		return;
	if (c->slots != NULL) {
		secure_zero(c->slots, AUTH_CACHE_SLOTS * sizeof(*c->slots));
		free(c->slots);
	}
	secure_zero(c->hkey, sizeof(c->hkey));
	pthread_mutex_destroy(&c->mu);
	free(c);
	*cp = NULL;
}

unsigned long auth_cache_hits(const struct auth_cache *c)
{
	return c != NULL ? atomic_load(&((struct auth_cache *)c)->hits) : 0;
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

static struct cache_slot *slot_of(struct auth_cache *c, const unsigned char key[32])
{
	unsigned idx = ((unsigned)key[0] | (unsigned)key[1] << 8) % AUTH_CACHE_SLOTS;
	return &c->slots[idx];
}

bool auth_cache_get(struct auth_cache *c, unsigned backend, const char *login, const char *password,
		    const char *matched, struct auth_identity *id_r)
{
	unsigned char key[32], md[32];
	bool hit;

	if (c == NULL || c->slots == NULL)
		return false;
	cache_key(c, backend, login, password, key);
	matched_digest(matched, md);
	pthread_mutex_lock(&c->mu);
	struct cache_slot *sl = slot_of(c, key);
	hit = sl->expires > time(NULL) && mem_equal_ct(sl->key, key, 32) &&
	      mem_equal_ct(sl->matched, md, 32);
	if (hit && id_r != NULL)
		*id_r = sl->id;
	pthread_mutex_unlock(&c->mu);
	if (hit)
		atomic_fetch_add(&c->hits, 1);
	return hit;
}

void auth_cache_put(struct auth_cache *c, unsigned backend, const char *login, const char *password,
		    const char *matched, const struct auth_identity *id)
{
	unsigned char key[32];

	if (c == NULL || c->slots == NULL)
		return;
	cache_key(c, backend, login, password, key);
	pthread_mutex_lock(&c->mu);
	struct cache_slot *sl = slot_of(c, key);
	memcpy(sl->key, key, 32);
	matched_digest(matched, sl->matched);
	sl->id = *id;
	sl->expires = time(NULL) + (time_t)c->ttl;
	pthread_mutex_unlock(&c->mu);
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
