/* SPDX-License-Identifier: MIT */
/*
 * cli_pw.c - `mailroom pw`: hash a password for a passwd-file or for
 * `user add --password-hash`, as `doveadm pw` does.
 *
 * Prints one "{SCHEME}hash" line and nothing else, so its output can go
 * straight into a file or a variable. It reads the password from the first
 * line of stdin (or asks twice on a terminal), never from the command line
 * where `ps` would show it, and opens no store.
 */
#include "cli/cli_private.h"
#include "directory/password.h"
#include "util/mem.h"

#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

static const char usage[] =
    "usage: mailroom [-c FILE] pw [--scheme yescrypt|sha512-crypt|argon2id] < password\n"
    "\n"
    "Prints the password (the first line of stdin, or asked twice on a\n"
    "terminal) as one {SCHEME}hash line for a passwd-file or for\n"
    "user add --password-hash. yescrypt (the default) prints {CRYPT}$y$...,\n"
    "sha512-crypt {SHA512-CRYPT}$6$..., argon2id {ARGON2ID}$argon2id$...;\n"
    "Dovecot reads all three.\n";

enum { O_SCHEME, O_N };

int cli_pw(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N] = {[O_SCHEME] = {.name = "scheme", .has_arg = true}};
	const char *scheme, *pos[1];
	char *pw = NULL, *hash = NULL;
	size_t np;
	bool done;
	int rc = cli_parse("pw", usage, "", argc, argv, o, O_N, pos, 0, 0, &np, &done);

	if (rc != 0 || done)
		return rc;
	scheme = o[O_SCHEME].set ? o[O_SCHEME].value : "yescrypt";
	if (strcasecmp(scheme, "yescrypt") != 0 && strcasecmp(scheme, "sha512-crypt") != 0 &&
	    strcasecmp(scheme, "argon2id") != 0) {
		cli_err("pw: unknown --scheme '%s': use yescrypt, sha512-crypt or argon2id",
			scheme);
		return EX_USAGE;
	}
	if ((rc = cli_read_password(!isatty(STDIN_FILENO), &pw)) != 0)
		return rc;
	if (password_hash_scheme(pw, scheme, &hash) < 0) {
		secret_free(&pw);
		cli_err("pw: cannot hash the password with %s: libxcrypt or libargon2 failed",
			scheme);
		return EX_SOFTWARE;
	}
	secret_free(&pw);
	puts(hash);
	free(hash);
	return 0;
}
