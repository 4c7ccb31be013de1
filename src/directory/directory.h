/* SPDX-License-Identifier: MIT */
/*
 * directory.h - who is this, and where does mail to this address go? The
 * face of directory/: every login (POP3, SMTP AUTH, SCRAM, APOP, GSSAPI,
 * certificates), every recipient lookup (SMTP RCPT, `mailroom deliver`,
 * reports to local senders) and the CLI's checks go through it. No protocol
 * code asks the store for an identity.
 *
 * A struct directory is made once from the config ([directory] backend: a
 * comma-separated chain such as "builtin, ldap") and shared by every worker
 * thread; it is thread-safe. Backends (dir_backend.h) are asked in order:
 * the first that knows a login or an address decides; one that does not
 * know passes to the next; one that cannot answer (LDAP down) makes the
 * whole answer temporary, because a later backend's "unknown" would then be
 * a lie. Accounts of other backends than the built-in one get a store
 * mailbox on first login or delivery (store_mailbox_ensure): no per-user
 * step in mailroom.
 *
 * Every call blocks (store, password hashing, LDAP, PAM) and so runs on a
 * worker thread or in the CLI, never on the event loop. `st` is the
 * caller's own store handle (one per thread, store.h).
 *
 * A failed login costs about the same time whether or not the account
 * exists: unknown logins verify a dummy hash (auth.h).
 */
#ifndef MAILROOM_DIRECTORY_DIRECTORY_H
#define MAILROOM_DIRECTORY_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "directory/auth.h" /* enum auth_result, struct auth_identity */

struct config;
struct directory;
struct store;

/* Opens every backend of cfg's chain (reads passwd-files, checks LDAP
   settings; connects lazily). Returns 0, or -1 with a malloc'd message. */
int directory_open(const struct config *cfg, struct directory **dir_r, char **err_r);
void directory_free(struct directory **dir);
/* "builtin, ldap": the chain as configured, for logs. */
const char *directory_describe(const struct directory *dir);

/* A plaintext password (USER/PASS, AUTH PLAIN and LOGIN). A success is
   remembered for [limits] auth_cache_ttl (see directory.c). */
enum auth_result directory_password(struct directory *dir, struct store *st, const char *login,
				    const char *password, struct auth_identity *id_r);
/* Whether a check of this login and password is likely to be answered by
   the auth cache (no hashing): a hint for where to queue it, on the loop
   thread (a keyed digest and a lookup, no store access). */
bool directory_password_cached(struct directory *dir, const char *login, const char *password);
/* RFC 1939 §7 APOP: digest_hex = MD5(timestamp || secret) in lower-case hex.
   Only accounts that hold a reversible APOP secret (built-in, opted in). */
enum auth_result directory_apop(struct directory *dir, struct store *st, const char *login,
				const char *timestamp, const char *digest_hex,
				struct auth_identity *id_r);
/* The SCRAM-SHA-256 verifier (password.h format) of a login, malloc'd.
   AUTH_FAILED when the account is unknown or holds no verifier (an LDAP,
   PAM or imported-hash account: SCRAM cannot work for it). */
enum auth_result directory_scram(struct directory *dir, struct store *st, const char *login,
				 char **verifier_r, struct auth_identity *id_r);
/* An identity proven by other means (a Kerberos principal mapped to an
   address, a TLS client certificate's address): the account without a
   password check. AUTH_FAILED when no backend knows it. */
enum auth_result directory_identity(struct directory *dir, struct store *st, const char *login,
				    struct auth_identity *id_r);

enum directory_feature {
	DIRECTORY_SCRAM, /* some backend can hold SCRAM verifiers */
	DIRECTORY_APOP,	 /* some backend can hold APOP secrets */
};
bool directory_offers(const struct directory *dir, enum directory_feature f);

/* --- config check ----------------------------------------------------------- */

enum directory_probe_status {
	DIRECTORY_PROBE_OK,
	DIRECTORY_PROBE_WRONG,	     /* a setting is wrong: a refused bind, no base */
	DIRECTORY_PROBE_UNAVAILABLE, /* the server did not answer in time */
};
/* Called once per probed backend: its name ([directory] backend), what it
   found or why it failed (one line), and how long that took. */
typedef void (*directory_probe_fn)(void *ctx, const char *backend,
				   enum directory_probe_status status, const char *text,
				   unsigned ms);
/* For `mailroom config check`: every backend of the chain that depends on
   something outside the store (an LDAP server, a PAM service file, a
   passwd-file) reaches it, in chain order, and fn hears of each; the
   built-in backend has nothing to reach. Stops at the first failure and
   returns its status, else DIRECTORY_PROBE_OK. Blocks up to each
   backend's timeout. */
enum directory_probe_status directory_probe(struct directory *dir, directory_probe_fn fn,
					    void *ctx);

/* --- recipients ------------------------------------------------------------ */

/* Where mail to one address goes: store mailboxes (ids, each once) and
   targets outside every hosted domain (forwarding). */
struct dir_rcpt {
	int64_t *ids;
	size_t n_ids;
	char **remote;
	size_t n_remote;
};

/* Statuses are store.h's: STORE_OK if anything matched, STORE_NOTFOUND if
   nothing did, STORE_TEMP if the store or a directory could not answer
   (LDAP down: 451 4.4.3, never 550). A mailbox of a non-builtin account is
   created in the store on its first resolution. */
int directory_resolve(struct directory *dir, struct store *st, const char *address,
		      struct dir_rcpt *r);
void dir_rcpt_clear(struct dir_rcpt *r);

/* Counters for tests, logs and metrics. */
unsigned long directory_cache_hits(const struct directory *dir);

#endif
