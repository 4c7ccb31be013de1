/* SPDX-License-Identifier: MIT */
/*
 * dir_backend.h - what a directory backend provides (the ops table behind
 * directory.h). One file per backend: dir_builtin.c (the store's own
 * accounts), dir_passwdfile.c, dir_ldap.c, dir_pam.c.
 *
 * A backend answers two questions: "which account is this login?" (passdb)
 * and "where does mail to this address go?" (userdb). Every op may block
 * and is called from many worker threads at once: a backend keeps its own
 * locks (an LDAP connection pool, a re-read passwd-file). Every op returns
 *   DIR_OK       the backend knows the login/address; *out is filled;
 *   DIR_UNKNOWN  not this backend's: directory.c asks the next one;
 *   DIR_FAILED   (verify only) known here, but the password is wrong;
 *   DIR_TEMPFAIL the backend could not answer (server down, timeout,
 *                store busy): the caller answers 4xx / [SYS/TEMP].
 * A backend never logs a password, and wipes any copy it made.
 */
#ifndef MAILROOM_DIRECTORY_DIR_BACKEND_H
#define MAILROOM_DIRECTORY_DIR_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;

enum dir_status { DIR_OK, DIR_UNKNOWN, DIR_FAILED, DIR_TEMPFAIL };

/* One account as a backend knows it. Strings are malloc'd and owned;
   dir_account_clear() wipes the secrets and frees everything. */
struct dir_account {
	char *address;	    /* the mailbox's address: user@domain, domain lower-case */
	int64_t mailbox_id; /* > 0 if the backend knows the store mailbox (builtin);
			       0: directory.c finds or makes it by address */
	char *pw_hash;	    /* a stored hash ({SCHEME}... or crypt(3)), NULL if none */
	char *scram;	    /* SCRAM-SHA-256 verifier (password.h), NULL if none */
	char *apop_secret;  /* APOP's reversible secret, NULL if none */
	bool enabled;	    /* false: may not log in (mail is still accepted) */
	bool pop3_enabled;
	bool submission_enabled;
};
void dir_account_clear(struct dir_account *a);

/* Where mail for one address goes, as a backend sees it. directory.c turns
   `mailboxes` (addresses of this backend's accounts) into store ids. */
struct dir_resolution {
	int64_t *ids; /* store mailbox ids (builtin) */
	size_t n_ids;
	char **mailboxes; /* account addresses that need a store mailbox */
	size_t n_mailboxes;
	char **remote; /* targets outside every hosted domain */
	size_t n_remote;
	char **pass_on; /* targets in hosted domains that this backend does not
			   hold (a built-in alias of an LDAP user): directory.c
			   resolves each through the other backends, one level */
	size_t n_pass_on;
};
void dir_resolution_add_id(struct dir_resolution *r, int64_t id);
void dir_resolution_add_mailbox(struct dir_resolution *r, const char *address);
void dir_resolution_add_remote(struct dir_resolution *r, const char *address);
void dir_resolution_add_pass_on(struct dir_resolution *r, const char *address);
void dir_resolution_clear(struct dir_resolution *r);

enum {
	DIR_BE_SCRAM = 1 << 0, /* lookup may return SCRAM verifiers */
	DIR_BE_APOP = 1 << 1,  /* lookup may return APOP secrets */
};

struct dir_backend_ops {
	const char *name; /* as written in [directory] backend */
	unsigned flags;	  /* DIR_BE_* */
	/* Reads the backend's config section; connects lazily. Returns 0, or
	   -1 with a malloc'd message (caller frees). */
	int (*open)(const struct config *cfg, void **be_r, char **err_r);
	void (*close)(void *be);
	/* The account a login names (an address, or a bare name where the
	   backend maps one), with the secrets the backend holds. */
	enum dir_status (*lookup)(void *be, struct store *st, const char *login,
				  struct dir_account *a_r);
	/* Optional: for backends that check a password themselves (LDAP bind,
	   PAM). When set, a plaintext login calls this instead of lookup +
	   password_verify(); DIR_FAILED means known but wrong. Results are
	   cached by directory.c for [limits] auth_cache_ttl. */
	enum dir_status (*verify)(void *be, struct store *st, const char *login,
				  const char *password, struct dir_account *a_r);
	/* Recipient resolution (aliases, alternate addresses). lookup and
	   resolve are required; verify is optional. */
	enum dir_status (*resolve)(void *be, struct store *st, const char *address,
				   struct dir_resolution *r_r);
	/* Optional, for `config check`: reaches what the backend depends on
	   (the LDAP server: connect, StartTLS, bind, the base entry; a file:
	   there and parsed) within the backend's timeout, and says what it
	   found in *text_r (malloc'd, one line: "ldap://h bind as cn=x and
	   base dc=y found"). DIR_OK; DIR_FAILED when the settings are wrong
	   (a refused bind, no base entry, a file that does not parse);
	   DIR_TEMPFAIL when the server did not answer. On failure *text_r
	   says why, naming the step. */
	enum dir_status (*probe)(void *be, char **text_r);
};

extern const struct dir_backend_ops dir_builtin_ops;
extern const struct dir_backend_ops dir_ldap_ops;
extern const struct dir_backend_ops dir_pam_ops;
extern const struct dir_backend_ops dir_passwdfile_ops;

#endif
