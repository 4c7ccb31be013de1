/* SPDX-License-Identifier: MIT */
/*
 * passwdfile.h - Dovecot's passwd-file format, parsed into a table that
 * answers "which line is this address?" in O(log n). Used by the
 * passwd-file backend (dir_passwdfile.c) and by `mailroom user import
 * passwd-file`; owns no locks and does no I/O but pwf_load()'s read.
 *
 * A line is   user:password:uid:gid:gecos:home:shell:extra
 * with every field after the password optional. Blank lines and lines
 * starting with '#' are skipped. `user` is user@domain, or a bare name
 * that gets the configured domain appended; addresses are kept lower-case
 * (mailroom's rule for every address). A password without a {SCHEME} is
 * crypt(3), Dovecot's default scheme for passwd-files, so it is stored with
 * "{CRYPT}" in front. uid, gid, gecos, home and shell are mailroom's to
 * ignore (the store holds the mail). Of the extra fields (space-separated
 * key[=value]) "nologin" means the account receives mail but may not log
 * in, and "userdb_quota_rule=*:storage=SIZE" (Dovecot 2.3) gives `user
 * import` a quota; the rest are ignored.
 */
#ifndef MAILROOM_DIRECTORY_PASSWDFILE_H
#define MAILROOM_DIRECTORY_PASSWDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pwf_user {
	char *address;	/* user@domain, lower-case */
	char *pw_hash;	/* "{SCHEME}..." as written, or "{CRYPT}"-prefixed; NULL if empty */
	bool nologin;	/* extra field "nologin" */
	uint64_t quota; /* bytes, from userdb_quota_rule=*:storage=...; 0: none */
	unsigned line;
};

struct pwf {
	struct pwf_user *users; /* sorted by address */
	size_t n;
	/* A user named again on a later line: the first line wins (as in
	   Dovecot); the count and the first such line, for a warning. */
	size_t n_dups;
	unsigned dup_line;
};

/* Parses a whole file's text; bare names get `domain` appended (NULL: a
   bare name is an error). Returns 0, or -1 with a malloc'd "line N: why"
   in *err_r and *f left empty. */
int pwf_parse(const char *text, size_t len, const char *domain, struct pwf *f, char **err_r);
/* Reads and parses `path`; errors name the file ("PATH: ..." or
   "PATH:N: ..."). */
int pwf_load(const char *path, const char *domain, struct pwf *f, char **err_r);
/* The line of a lower-case address, or NULL. */
const struct pwf_user *pwf_find(const struct pwf *f, const char *address);
/* Lower-cases ASCII letters in place (addresses; UTF-8 bytes stay). */
void pwf_lower(char *s);
/* Wipes the hashes and frees everything; *f is empty afterwards. */
void pwf_free(struct pwf *f);

#endif
