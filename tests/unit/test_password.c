/* SPDX-License-Identifier: MIT */
/* test_password.c - password hashes, SCRAM verifiers and auth (the brake: test_penalty.c). */
#include "directory/directory.h"
#include "directory/password.h"
#include "store/store.h"
#include "test_common.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_hash_and_verify(void)
{
	char *h = NULL;
	char buf[2048];
	struct crypt_data cd;

	test_begin("password: yescrypt, schemes, malformed input");
	test_assert(password_hash("pencil", &h) == 0);
	test_assert(strncmp(h, "$y$", 3) == 0);
	test_assert(password_verify("pencil", h));
	test_assert(!password_verify("pencil2", h));
	test_assert(!password_verify("", h));
	snprintf(buf, sizeof(buf), "{CRYPT}%s", h);
	test_assert(password_verify("pencil", buf));
	snprintf(buf, sizeof(buf), "{yescrypt}%s", h);
	test_assert(password_verify("pencil", buf));
	free(h);

	memset(&cd, 0, sizeof(cd));
	const char *s6 = crypt_r("pencil", "$6$saltsalt$", &cd);
	snprintf(buf, sizeof(buf), "{SHA512-CRYPT}%s", s6);
	test_assert(password_verify("pencil", buf));
	test_assert(!password_verify("Pencil", buf));
	test_assert(password_verify("pencil", "{PLAIN}pencil"));
	test_assert(!password_verify("pencil", "{PLAIN}pencil2"));
	test_assert(!password_verify("pencil", "{MD4}pencil"));
	test_assert(!password_verify("pencil", "{PLAIN"));
	test_assert(!password_verify("pencil", "pencil")); /* bare text is no hash */
	test_assert(!password_verify("pencil", ""));
	test_assert(!password_verify("pencil", "$y$"));
	test_assert(!password_verify("pencil", "$6$"));
	test_assert(!password_verify("pencil", "*"));
	test_assert(!password_verify("pencil", NULL));

	char *longpw = malloc(PASSWORD_MAX + 2);
	memset(longpw, 'a', PASSWORD_MAX + 1);
	longpw[PASSWORD_MAX + 1] = '\0';
	test_assert(password_hash(longpw, &h) < 0);
	free(longpw);
	test_end();
}

static void test_scram_verifier(void)
{
	char *v = NULL;
	unsigned iter;
	unsigned char salt[64], sk[32], svk[32];
	size_t sl;

	test_begin("password: SCRAM-SHA-256 verifiers");
	test_assert(scram_verifier_make("pencil", 4096, &v) == 0);
	test_assert(strncmp(v, "SCRAM-SHA-256$4096:", 19) == 0);
	test_assert(scram_verifier_parse(v, &iter, salt, &sl, sizeof(salt), sk, svk) == 0);
	test_assert(iter == 4096 && sl == 16);
	free(v);
	static const char *const bad[] = {
	    "",
	    "SCRAM-SHA-1$4096:c2FsdA==$AAAA:AAAA",
	    "SCRAM-SHA-256$0:c2FsdA==$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:!!!$"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA", /* keys too short */
	    "SCRAM-SHA-256$4096:c2FsdA==",
	    "SCRAM-SHA-256$x:c2FsdA==$AAAA:AAAA",
	    "SCRAM-SHA-256$99999999999:c2FsdA==$AAAA:AAAA",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		test_assert(scram_verifier_parse(bad[i], &iter, salt, &sl, sizeof(salt), sk, svk) <
			    0);
	test_assert(scram_verifier_make("pencil", 0, &v) < 0);
	test_end();
}

static void test_auth(void)
{
	char *dir = test_tmpdir();
	struct store *st = NULL;
	struct auth_identity id;
	char *h = NULL;

	test_begin("auth: passwords and APOP against a store");
	struct directory *d = test_directory("[limits]\nauth_cache_ttl = 0\n");
	test_assert(store_open(dir, true, &st) == STORE_OK);
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	password_hash("pencil", &h);
	struct store_user_new u = {.address = "user@example.test", .pw_hash = h};
	test_assert(store_user_add(st, &u) == STORE_OK);
	/* RFC 1939 §7 example secret */
	struct store_user_new a = {
	    .address = "mrose@example.test", .pw_hash = h, .apop_secret = "tanstaaf"};
	test_assert(store_user_add(st, &a) == STORE_OK);

	memset(&id, 0, sizeof(id));
	test_assert(directory_password(d, st, "USER@example.test", "pencil", &id) == AUTH_OK);
	test_assert_str(id.address, "user@example.test");
	test_assert(id.mailbox_id > 0 && id.enabled && id.pop3_enabled);
	test_assert(directory_password(d, st, "user@example.test", "wrong", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "nobody@example.test", "pencil", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "not an address", "pencil", &id) == AUTH_FAILED);

	const char *ts = "<1896.697170952@dbc.mtview.ca.us>";
	test_assert(directory_apop(d, st, "mrose@example.test", ts,
				   "c4c9334bac560ecc979e58001b3e22fb", &id) == AUTH_OK);
	test_assert_str(id.address, "mrose@example.test");
	test_assert(directory_apop(d, st, "mrose@example.test", ts,
				   "c4c9334bac560ecc979e58001b3e22fc", &id) == AUTH_FAILED);
	test_assert(directory_apop(d, st, "mrose@example.test", ts, "c4c9", &id) == AUTH_FAILED);
	/* no APOP secret, no APOP */
	test_assert(directory_apop(d, st, "user@example.test", ts,
				   "c4c9334bac560ecc979e58001b3e22fb", &id) == AUTH_FAILED);
	test_assert(directory_apop(d, st, "nobody@example.test", ts,
				   "c4c9334bac560ecc979e58001b3e22fb", &id) == AUTH_FAILED);
	/* the cache: a hit skips the hash, a new password misses, failures
	   are not cached */
	directory_free(&d);
	d = test_directory("[limits]\nauth_cache_ttl = 300\n");
	unsigned long hits = directory_cache_hits(d);
	test_assert(directory_password(d, st, "user@example.test", "pencil", &id) == AUTH_OK);
	test_assert(directory_password(d, st, "user@example.test", "pencil", &id) == AUTH_OK);
	test_assert(directory_cache_hits(d) == hits + 1);
	test_assert(directory_password(d, st, "user@example.test", "wrong", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "user@example.test", "wrong", &id) == AUTH_FAILED);
	test_assert(directory_cache_hits(d) == hits + 1);
	char *h2 = NULL;
	password_hash("new-pencil", &h2);
	test_assert(store_user_set_password(st, "user@example.test", h2, NULL, NULL) == STORE_OK);
	test_assert(directory_password(d, st, "user@example.test", "pencil", &id) == AUTH_FAILED);
	test_assert(directory_password(d, st, "user@example.test", "new-pencil", &id) == AUTH_OK);
	test_assert(directory_cache_hits(d) == hits + 1);
	test_assert(store_user_remove(st, "user@example.test") == STORE_OK);
	test_assert(directory_password(d, st, "user@example.test", "new-pencil", &id) ==
		    AUTH_FAILED);
	directory_free(&d);
	free(h2);
	free(h);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_hash_and_verify, test_scram_verifier, test_auth, NULL});
}
