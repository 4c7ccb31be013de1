/* SPDX-License-Identifier: MIT */
/*
 * auth.h - who is this? Built-in accounts checked against the store.
 *
 * All auth_* calls block (store lookups, password hashing) and run on worker
 * threads. A failed login costs the same time whether or not the account
 * exists (a dummy hash is verified for unknown users). The penalty table
 * (penalty.h) belongs to the loop thread and delays answers per client IP.
 */
#ifndef MAILROOM_DIRECTORY_AUTH_H
#define MAILROOM_DIRECTORY_AUTH_H

#include <stdbool.h>
#include <stdint.h>

struct store;

enum auth_result {
	AUTH_OK,
	AUTH_FAILED,   /* unknown user or wrong secret: never say which */
	AUTH_TEMPFAIL, /* store error: [SYS/TEMP] */
};

struct auth_identity {
	int64_t mailbox_id;
	char address[320];
	bool pop3_enabled;
	bool submission_enabled;
	bool enabled;
};

enum auth_result auth_password(struct store *st, const char *login, const char *password,
			       struct auth_identity *id_r);

/* The auth cache (SPEC §10: POP3 clients log in every few minutes). A
   successful password check is remembered for ttl seconds under an HMAC of
   login and password (keyed with a random per-process key: no password is
   kept), together with a digest of the stored hash it matched. A hit skips
   the slow hash, but the account is still read from the store each time and
   the hit counts only if its stored hash is unchanged: a new password, a
   removed or disabled account take effect at once. Failures are never
   cached. ttl 0 (the default until set) disables it. Thread-safe. */
void auth_cache_configure(unsigned ttl_secs);
unsigned long auth_cache_hits(void); /* for tests and logs */
/* RFC 1939 §7: digest_hex = MD5(timestamp || secret) in lower-case hex. Fails
   for accounts without an APOP secret. */
enum auth_result auth_apop(struct store *st, const char *login, const char *timestamp,
			   const char *digest_hex, struct auth_identity *id_r);

#endif
