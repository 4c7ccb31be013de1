/* SPDX-License-Identifier: MIT */
/*
 * password.h - password hashes and SCRAM verifiers (blocking: workers/CLI).
 *
 * New passwords are hashed with yescrypt ("$y$", Debian's default) through
 * libxcrypt's crypt_r. Stored hashes may carry a Dovecot-style {SCHEME}
 * prefix so imported passwd-files work unchanged (password.c lists every
 * scheme); a bare "$id$..." string is a crypt(3) hash. Scheme names are
 * case-insensitive, ".HEX"/".B64" suffixes pick the encoding as in Dovecot,
 * every comparison is constant-time, and unknown or malformed schemes never
 * match.
 *
 * SCRAM-SHA-256 (RFC 7677, RFC 5802) verifiers are stored like PostgreSQL's:
 *   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>
 * so the server never keeps a reversible secret for SCRAM.
 */
#ifndef MAILROOM_DIRECTORY_PASSWORD_H
#define MAILROOM_DIRECTORY_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define SCRAM_ITERATIONS_DEFAULT 4096 /* RFC 7677 §4 minimum */
#define PASSWORD_MAX 511	      /* libxcrypt hashes at most 511 octets */

/* Returns 0 with a malloc'd hash, or -1. */
int password_hash(const char *password, char **hash_r);
bool password_verify(const char *password, const char *stored);
/* True if `stored` is a hash password_verify() understands and is well
   formed ("{SCHEME}data" of a known scheme, or a crypt(3) string): the check
   behind `user add --password-hash` and `user import`. Hashes nothing. */
bool password_scheme_known(const char *stored);
/* `mailroom pw`: "yescrypt" ({CRYPT}$y$..., which Dovecot reads too),
   "sha512-crypt" ({SHA512-CRYPT}$6$...) or "argon2id" ({ARGON2ID}$argon2id$...).
   Returns 0 with a malloc'd "{SCHEME}hash", or -1 (unknown scheme, too long). */
int password_hash_scheme(const char *password, const char *scheme, char **hash_r);
/* A Dovecot {SCRAM-SHA-256}iter,salt,StoredKey,ServerKey hash rewritten as
   this file's verifier, so an imported account can still log in with SCRAM.
   Returns 0 with a malloc'd verifier, or -1 if `stored` is not one. */
int password_scram_from_stored(const char *stored, char **verifier_r);
int scram_verifier_make(const char *password, unsigned iterations, char **verifier_r);
/* Splits a verifier; returns -1 if malformed. Outputs are raw bytes. */
int scram_verifier_parse(const char *verifier, unsigned *iter_r, unsigned char *salt,
			 size_t *salt_len_r, size_t salt_max, unsigned char stored_key[32],
			 unsigned char server_key[32]);

#endif
