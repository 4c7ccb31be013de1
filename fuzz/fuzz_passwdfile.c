/* SPDX-License-Identifier: MIT */
/*
 * fuzz_passwdfile.c - libFuzzer target for Dovecot passwd-file parsing
 * (directory/passwdfile.h) and the {SCHEME} form checks of password.h. Any
 * input must parse or fail with a line number, never crash or leak; a
 * parsed table is sorted, holds each lower-case address once, and finds
 * every one of them. No hash is verified (Argon2 and bcrypt would make each
 * run take seconds); their forms are checked.
 */
#include "directory/password.h"
#include "directory/passwdfile.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pwf f;
	char *err = NULL;

	if (size > 65536)
		return 0;
	/* the first byte picks a domain for bare names, or none */
	const char *domain = size > 0 && (data[0] & 1) ? "example.org" : NULL;
	if (pwf_parse((const char *)data, size, domain, &f, &err) < 0) {
		CHECK(err != NULL && strncmp(err, "line ", 5) == 0 && f.n == 0 && f.users == NULL);
		free(err);
		return 0;
	}
	for (size_t i = 0; i < f.n; i++) {
		const struct pwf_user *u = &f.users[i];
		const char *at = strchr(u->address, '@');
		char *v = NULL;
		CHECK(at != NULL && at != u->address && at[1] != '\0');
		for (const char *p = u->address; *p != '\0'; p++)
			CHECK(!(*p >= 'A' && *p <= 'Z'));
		CHECK(i == 0 || strcmp(f.users[i - 1].address, u->address) < 0);
		CHECK(pwf_find(&f, u->address) == u);
		CHECK(u->pw_hash == NULL || u->pw_hash[0] == '{');
		(void)password_scheme_known(u->pw_hash);
		if (password_scram_from_stored(u->pw_hash, &v) == 0)
			free(v);
	}
	pwf_free(&f);
	return 0;
}
