/* SPDX-License-Identifier: MIT */
/*
 * auth.h - what a login proves (enum auth_result, struct auth_identity, which
 * directory.h hands on to every caller), and the parts of a password check
 * that every backend shares, used by directory.c only: the auth cache, the
 * dummy hash for unknown logins, and APOP's digest.
 *
 * The auth cache (SPEC §10: POP3 clients log in every few minutes) keeps a
 * successful check for ttl seconds under an HMAC of backend, login and
 * password, keyed with a random per-cache key, so no password is kept. Each
 * entry holds a digest of what the check matched: the stored hash for
 * backends that hand one over (the account is still read each time and a
 * hit counts only while its hash is unchanged, so a new password, a removed
 * or a disabled account take effect at once), or a fixed tag for backends
 * that check passwords themselves (LDAP bind, PAM; the cached identity is
 * then reused until ttl, and a directory that is down does not stop logins
 * that succeeded a moment ago). Failures are never cached. Thread-safe.
 */
#ifndef MAILROOM_DIRECTORY_AUTH_H
#define MAILROOM_DIRECTORY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,   /* unknown user or wrong secret: never say which */
	AUTH_TEMPFAIL, /* store or directory error: [SYS/TEMP] / 454 4.7.0 */
};

/* A proven login: the store mailbox it opens and what it may do. */
struct auth_identity {
	int64_t mailbox_id;
	char address[320];
	bool pop3_enabled;
	bool submission_enabled;
	bool enabled;
};

struct auth_cache;

/* At most max_entries successful checks, each reused for ttl_secs; ttl 0
   or max 0: a cache that never hits (and keeps nothing). */
struct auth_cache *auth_cache_new(unsigned ttl_secs, size_t max_entries);
void auth_cache_free(struct auth_cache **c);
/* `matched` is the stored hash, or NULL for a backend that verified itself.
   A hit fills *id_r with the identity put (callers with a fresh account may
   ignore it). */
bool auth_cache_get(struct auth_cache *c, unsigned backend, const char *login, const char *password,
		    const char *matched, struct auth_identity *id_r);
void auth_cache_put(struct auth_cache *c, unsigned backend, const char *login, const char *password,
		    const char *matched, const struct auth_identity *id);
/* Whether an unexpired check of (backend, login, password) is held: a hint
   only (a hit also needs the stored hash unchanged); counts no hit. */
bool auth_cache_holds(struct auth_cache *c, unsigned backend, const char *login,
		      const char *password);
unsigned long auth_cache_hits(const struct auth_cache *c);
size_t auth_cache_entries(struct auth_cache *c); /* held now */

/* Spends the time of one real check, for logins no backend knows. */
void auth_dummy_verify(const char *password);

/* RFC 1939 §7: digest_hex == MD5(timestamp || secret) in lower-case hex.
   Returns AUTH_OK, AUTH_FAILED, or AUTH_TEMPFAIL if OpenSSL fails. */
enum auth_result auth_apop_check(const char *secret, const char *timestamp, const char *digest_hex);

#endif
