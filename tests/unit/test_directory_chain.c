/* SPDX-License-Identifier: MIT */
/*
 * test_directory_chain.c - directory.h over the built-in backend: logins and
 * recipients go through the chain; mailboxes made for other backends'
 * accounts (store_mailbox_ensure) are not the built-in backend's; the
 * [directory] backend key's checks.
 */
#include "directory/directory.h"
#include "server/schema.h"
#include "directory/password.h"
#include "store/store.h"
#include "test_common.h"
#include "util/config.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_builtin_chain(void)
{
	char *dir = NULL;
	struct store *st = test_store_new(&dir);
	struct directory *d = test_directory("");
	struct auth_identity id;
	struct dir_rcpt r;
	char *h = NULL;

	test_begin("directory: the built-in backend through the chain");
	test_assert_str(directory_describe(d), "builtin");
	test_assert(directory_offers(d, DIRECTORY_SCRAM) && directory_offers(d, DIRECTORY_APOP));
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(password_hash("pencil", &h) == 0);
	struct store_user_new u = {.address = "alice@example.test", .pw_hash = h};
	test_assert(store_user_add(st, &u) == STORE_OK);
	test_assert(store_alias_add(st, "info@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "out@example.test", "bob@elsewhere.test") == STORE_OK);

	test_assert(directory_password(d, st, "Alice@EXAMPLE.test", "pencil", &id) == AUTH_OK);
	test_assert_str(id.address, "alice@example.test");
	int64_t alice = id.mailbox_id;
	test_assert(directory_password(d, st, "alice@example.test", "x", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "nobody@example.test", "x", &id) == AUTH_FAILED);
	test_assert(directory_identity(d, st, "info@example.test", &id) == AUTH_OK &&
		    id.mailbox_id == alice);
	test_assert(directory_identity(d, st, "nobody@example.test", &id) == AUTH_FAILED);

	test_assert(directory_resolve(d, st, "INFO@example.test", &r) == STORE_OK);
	test_assert(r.n_ids == 1 && r.ids[0] == alice && r.n_remote == 0);
	dir_rcpt_clear(&r);
	test_assert(directory_resolve(d, st, "out@example.test", &r) == STORE_OK);
	test_assert(r.n_ids == 0 && r.n_remote == 1 &&
		    strcmp(r.remote[0], "bob@elsewhere.test") == 0);
	dir_rcpt_clear(&r);
	test_assert(directory_resolve(d, st, "nobody@example.test", &r) == STORE_NOTFOUND);
	test_assert(directory_resolve(d, st, "not an address", &r) == STORE_INVALID);
	test_assert(directory_resolve(d, st, "PostMaster", &r) == STORE_OK && r.n_ids == 1);
	dir_rcpt_clear(&r);

	/* a mailbox made for another backend's account is that backend's: the
	   built-in one neither logs it in nor resolves it by address */
	int64_t carol = 0, again = 0;
	test_assert(store_mailbox_ensure(st, "Carol@Example.TEST", "ldap", &carol) == STORE_OK);
	test_assert(carol > 0 && carol != alice);
	test_assert(store_mailbox_ensure(st, "carol@example.test", "ldap", &again) == STORE_OK);
	test_assert(again == carol);
	test_assert(store_mailbox_ensure(st, "alice@example.test", "ldap", &again) == STORE_OK);
	test_assert(again == alice); /* an existing mailbox is kept as it is */
	test_assert(store_mailbox_ensure(st, "no address", "ldap", &again) == STORE_INVALID);
	test_assert(directory_identity(d, st, "carol@example.test", &id) == AUTH_FAILED);
	test_assert(directory_resolve(d, st, "carol@example.test", &r) == STORE_NOTFOUND);
	struct store_user su;
	test_assert(store_user_lookup(st, "carol@example.test", &su) == STORE_OK);
	test_assert(su.source != NULL && strcmp(su.source, "ldap") == 0 && su.pw_hash == NULL);
	store_user_clear(&su);
	/* a mailbox in a domain that is not hosted has none */
	test_assert(store_mailbox_ensure(st, "dave@unhosted.test", "pam", &again) == STORE_OK);

	free(h);
	directory_free(&d);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* A built-in alias of another backend's account: mail to it and logins
   with it reach that account (one level deep). */
static void test_alias_of_other_backend(void)
{
	char *dir = NULL;
	struct store *st = test_store_new(&dir);
	struct auth_identity id;
	struct dir_rcpt r;
	char *ini = NULL, *path = NULL;

	test_begin("directory: a built-in alias of a passwd-file account");
	path = xasprintf("%s/users.passwd", dir);
	FILE *f = fopen(path, "w");
	test_assert(f != NULL);
	fputs("carol@example.test:{PLAIN}carol-pw::::::\n", f);
	fclose(f);
	ini = xasprintf("[directory]\nbackend = builtin, passwd-file\n"
			"[passwd-file]\npath = %s\n[limits]\nauth_cache_ttl = 0\n",
			path);
	struct directory *d = test_directory(ini);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	/* alias add makes the target's mailbox first (cli_alias.c) */
	test_assert(directory_resolve(d, st, "carol@example.test", &r) == STORE_OK && r.n_ids == 1);
	int64_t carol = r.ids[0];
	dir_rcpt_clear(&r);
	test_assert(store_alias_add(st, "team@example.test", "carol@example.test") == STORE_OK);

	test_assert(directory_resolve(d, st, "team@example.test", &r) == STORE_OK);
	test_assert(r.n_ids == 1 && r.ids[0] == carol);
	dir_rcpt_clear(&r);
	test_assert(directory_password(d, st, "team@example.test", "carol-pw", &id) == AUTH_OK);
	test_assert_str(id.address, "carol@example.test");
	test_assert(id.mailbox_id == carol);
	test_assert(directory_password(d, st, "team@example.test", "wrong", &id) == AUTH_FAILED);
	test_assert(directory_identity(d, st, "TEAM@example.test", &id) == AUTH_OK &&
		    id.mailbox_id == carol);
	test_assert(directory_password(d, st, "nobody@example.test", "carol-pw", &id) ==
		    AUTH_FAILED);

	directory_free(&d);
	free(ini);
	free(path);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_backend_key(void)
{
	static const struct {
		const char *ini;
		bool ok;
	} cases[] = {
	    {"[directory]\nbackend = builtin\n", true},
	    {"[directory]\nbackend = builtin, passwd-file\n", true},
	    {"[directory]\nbackend = ldap,pam\n", true},
	    {"[directory]\nbackend = nis\n", false},
	    {"[directory]\nbackend = builtin, builtin\n", false},
	    {"[directory]\nbackend =\n", false},
	    {"[directory]\nbackend = ,\n", false},
	    {"[directory]\nchain = builtin\n", false},
	};
	test_begin("directory: [directory] backend names known backends, each once");
	for (size_t i = 0; i < N_ELEMENTS(cases); i++) {
		struct config cfg;
		char *err = NULL;
		int rc = config_parse(server_schema(), "t.conf", cases[i].ini, strlen(cases[i].ini),
				      &cfg, &err);
		test_assert((rc == 0) == cases[i].ok);
		if (rc == 0)
			config_free(&cfg);
		else
			test_assert(err != NULL && strstr(err, "t.conf:2:") != NULL);
		free(err);
	}
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_builtin_chain, test_alias_of_other_backend,
					   test_backend_key, NULL});
}
