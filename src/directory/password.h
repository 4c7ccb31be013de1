/* SPDX-License-Identifier: MIT */
/*
 * password.h - password hashes and SCRAM verifiers (blocking: workers/CLI).
 *
 * New passwords are hashed with yescrypt ("$y$", Debian's default) through
 * libxcrypt's crypt_r. Stored hashes may carry a Dovecot-style {SCHEME}
 * prefix so imported passwd files work unchanged: {CRYPT}, {YESCRYPT},
 * {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, {MD5-CRYPT} go to crypt_r;
 * {PLAIN} compares in constant time. Unknown schemes never match.
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
#define PASSWORD_MAX 511 /* libxcrypt hashes at most 511 octets */

/* Returns 0 with a malloc'd hash, or -1. */
int password_hash(const char *password, char **hash_r);
bool password_verify(const char *password, const char *stored);
int scram_verifier_make(const char *password, unsigned iterations, char **verifier_r);
/* Splits a verifier; returns -1 if malformed. Outputs are raw bytes. */
int scram_verifier_parse(const char *verifier, unsigned *iter_r, unsigned char *salt,
			 size_t *salt_len_r, size_t salt_max, unsigned char stored_key[32],
			 unsigned char server_key[32]);

#endif
