/* SPDX-License-Identifier: MIT */
/*
 * cli_user_import.c - `mailroom user import passwd-file FILE`: a Dovecot
 * installation's users become built-in mailboxes with the hashes they have,
 * so nobody has to choose a new password.
 *
 * Checks every line before writing anything: a domain that is not hosted
 * stops the import with nothing changed (hosting a domain is the admin's
 * decision, never a side effect). Mailboxes that exist already and hashes
 * mailroom cannot verify are skipped and reported, never overwritten. Never
 * prints a hash: a {PLAIN} one is the password.
 */
#include "cli/cli_private.h"
#include "directory/dir_config.h"
#include "directory/password.h"
#include "directory/passwdfile.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct skip {
	const struct pwf_user *u;
	const char *reason;
	char *owned; /* reason text to free, if any */
};

static void report(const char *path, const struct skip *sk, size_t n, size_t imported, bool json)
{
	if (!json) {
		for (size_t i = 0; i < n; i++)
			cli_err("user import: %s:%u: %s skipped: %s", path, sk[i].u->line,
				sk[i].u->address, sk[i].reason);
		printf("imported %zu, skipped %zu\n", imported, n);
		return;
	}
	printf("{\"imported\":%zu,\"skipped\":[", imported);
	for (size_t i = 0; i < n; i++) {
		printf("%s{\"line\":%u,\"address\":", i > 0 ? "," : "", sk[i].u->line);
		cli_json_str(stdout, sk[i].u->address);
		fputs(",\"reason\":", stdout);
		cli_json_str(stdout, sk[i].reason);
		fputc('}', stdout);
	}
	puts("]}");
}

int cli_user_import_passwdfile(struct cli *c, const char *path, const char *domain, bool json)
{
	struct pwf f;
	struct store *st = NULL;
	struct skip *sk;
	bool *take;
	size_t n_skip = 0, imported = 0;
	bool bad_hash = false;
	char *err = NULL, *dom = NULL;
	int rc;

	if (domain == NULL)
		domain = passwdfile_config(&c->cfg)->domain;
	if (domain != NULL) {
		dom = xstrdup(domain);
		pwf_lower(dom);
	}
	/* read before the store drops root: Dovecot's file is often root:dovecot 0640 */
	bool readable = access(path, R_OK) == 0;
	rc = pwf_load(path, dom, &f, &err);
	free(dom);
	if (rc < 0) {
		cli_err("user import: %s; nothing imported", err);
		free(err);
		return readable ? EX_DATAERR : EX_NOINPUT;
	}
	if ((rc = cli_store_open(c, false, &st)) != 0) {
		pwf_free(&f);
		return rc;
	}
	sk = xcalloc(f.n + 1, sizeof(*sk));
	take = xcalloc(f.n + 1, sizeof(*take));
	for (size_t i = 0; i < f.n && rc == 0; i++) {
		const struct pwf_user *u = &f.users[i];
		int r = store_user_can_add(st, u->address);
		const char *at = strchr(u->address, '@');
		if (r == STORE_NOTFOUND) {
			cli_err("user import: %s:%u: domain %s of %s is not hosted here: add it "
				"with domain add first; nothing imported",
				path, u->line, at + 1, u->address);
			rc = EX_NOUSER;
		} else if (r == STORE_EXISTS) {
			sk[n_skip++] =
			    (struct skip){u, "the mailbox or alias exists already", NULL};
		} else if (r == STORE_INVALID) {
			char *why = xstrdup(store_error(st));
			sk[n_skip++] = (struct skip){u, why, why};
		} else if (r != STORE_OK) {
			rc = cli_store_fail(st, r);
		} else if (u->pw_hash != NULL && !password_scheme_known(u->pw_hash)) {
			sk[n_skip++] = (struct skip){u,
						     "its hash is of no scheme mailroom verifies "
						     "(add it with user add and a new password)",
						     NULL};
			bad_hash = true;
		} else {
			take[i] = true;
		}
	}
	for (size_t i = 0; i < f.n && rc == 0; i++) {
		const struct pwf_user *u = &f.users[i];
		char *scram = NULL;
		if (!take[i])
			continue;
		if (password_scram_from_stored(u->pw_hash, &scram) < 0)
			scram = NULL;
		struct store_user_new nu = {.address = u->address,
					    .pw_hash = u->pw_hash,
					    .scram = scram,
					    .quota =
						u->quota > 0 ? (int64_t)u->quota : STORE_INHERIT};
		int r = store_user_add(st, &nu);
		/* Dovecot's nologin: the mailbox receives mail, nobody logs in */
		if (r == STORE_OK && u->nologin)
			r = store_user_set_enabled(st, u->address, false);
		secret_free(&scram);
		if (r != STORE_OK) {
			cli_err("user import: %s:%u: %s: %s; %zu imported before it", path, u->line,
				u->address, store_error(st), imported);
			rc = cli_exit_code(r);
			break;
		}
		imported++;
	}
	if (rc == 0) {
		report(path, sk, n_skip, imported, json);
		rc = bad_hash ? EX_DATAERR : 0;
	}
	for (size_t i = 0; i < n_skip; i++)
		free(sk[i].owned);
	free(sk);
	free(take);
	store_close(&st);
	pwf_free(&f);
	return rc;
}
