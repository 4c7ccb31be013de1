/* SPDX-License-Identifier: MIT */
/*
 * test_store_directory.c - store/store.h, the directory half: opening and
 * migrating the store, domains, mailboxes (users) and aliases, and the
 * resolution of recipients through aliases. Complements test_store.c (which
 * covers the invariants S1-S7 in broad strokes) with the contract's edges:
 * name validation, listing, counts, removal with messages, alias chains,
 * diamonds, loops and the depth limit. Row counts are read through the
 * store's census (store_backup.h); the SQLite file itself only in the tests
 * of that engine.
 */
#include "store/store.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* --- helpers ---------------------------------------------------------------- */

/* Resolves and returns the number of mailboxes (0 for NOTFOUND, -1 for any
   other error); *ids_r (may be NULL) gets the sorted ids, caller frees. */
static long resolve_n(struct store *st, const char *address, int64_t **ids_r)
{
	int64_t *ids = NULL;
	size_t n = 0;
	int r = store_resolve(st, address, &ids, &n);
	if (r == STORE_NOTFOUND) {
		free(ids);
		return 0;
	}
	if (r != STORE_OK) {
		free(ids);
		return -1;
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: order is not promised */
		for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			int64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	if (ids_r != NULL)
		*ids_r = ids;
	else
		free(ids);
	return (long)n;
}

/* --- open and migrations ------------------------------------------------------ */

static void test_open(void)
{
	char *dir = test_tmpdir();
	char sub[512];
	struct store *st = NULL;
	struct stat sb;

	test_begin("store: open, create, reopen");
	snprintf(sub, sizeof(sub), "%s/data", dir);
	test_assert(store_open(sub, false, &st) == STORE_NOTFOUND);
	test_assert(store_error(st) != NULL && store_error(st)[0] != '\0');
	store_close(&st);
	test_assert(st == NULL);
	store_close(&st); /* closing NULL is harmless */

	/* create makes the folder 0700 (the database 0600: test_open_sqlite) */
	test_assert(store_open(sub, true, &st) == STORE_OK);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	store_close(&st);
	test_assert(stat(sub, &sb) == 0 && (sb.st_mode & 0777) == 0700);

	int64_t v = test_census_dir(sub)->schema_version;
	test_assert(v >= 1);
	test_assert(test_census_dir(sub)->schema_rows == 1);
	/* S6: reopening (with or without create) migrates nothing more */
	test_assert(store_open(sub, false, &st) == STORE_OK);
	store_close(&st);
	test_assert(store_open(sub, true, &st) == STORE_OK);
	struct store_domain d;
	test_assert(store_domain_get(st, "example.test", &d) == STORE_OK); /* data kept */
	store_domain_clear(&d);
	store_close(&st);
	test_assert(test_census_dir(sub)->schema_version == v);
	test_assert(test_census_dir(sub)->schema_rows == 1);
	test_rmtree(dir);
	test_end();
}

/* The SQLite store's file: its mode, a schema written by a newer mailroom,
   a file that is no database. */
static void test_open_sqlite(void)
{
	char sub[512], path[600];
	struct store *st = NULL;
	struct stat sb;

	test_begin("store: the SQLite file: 0600, a newer schema refused, no database");
	if (test_sqlite_only())
		return;
	char *dir = test_tmpdir();
	snprintf(sub, sizeof(sub), "%s/data", dir);
	test_assert(store_open(sub, true, &st) == STORE_OK);
	store_close(&st);
	snprintf(path, sizeof(path), "%s/mailroom.db", sub);
	test_assert(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);

	/* a store from a newer mailroom is refused, not "migrated" */
	test_assert(test_sqlite_int(sub, "UPDATE schema_version SET version = 9999") == 0);
	test_assert(store_open(sub, false, &st) == STORE_PERM);
	test_assert(strstr(store_error(st), "newer") != NULL);
	store_close(&st);
	test_assert(store_open(sub, true, &st) == STORE_PERM);
	store_close(&st);

	/* a file that is not a database: a classified error, no crash (S7) */
	FILE *f = fopen(path, "w");
	test_assert(f != NULL);
	if (f != NULL) {
		for (int i = 0; i < 64; i++)
			fputs("not a database ", f);
		fclose(f);
	}
	int r = store_open(sub, false, &st);
	test_assert(r == STORE_PERM || r == STORE_TEMP);
	store_close(&st);
	/* an empty file has no schema: without create it is "not found" */
	f = fopen(path, "w");
	if (f != NULL)
		fclose(f);
	test_assert(store_open(sub, false, &st) == STORE_NOTFOUND);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- domains ------------------------------------------------------------------- */

struct domain_seen {
	char names[8][64];
	int64_t mailboxes[8];
	enum domain_type types[8];
	int n;
};

static void domain_cb(const struct store_domain *d, void *ctx)
{
	struct domain_seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", d->name);
		s->mailboxes[s->n] = d->mailboxes;
		s->types[s->n] = d->type;
	}
	s->n++;
}

static void test_domain_names(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	char label63[80], label64[80], long254[300];

	test_begin("store: domain name validation");
	static const char *const good[] = {"example.test", "x_y.test", "_dmarc.example.test",
					   "xn--bcher-kva.test", "a-b.c-d.test"};
	/* valid names (a next hop may be one) that no one can send mail to */
	static const char *const unhostable[] = {"a", "localhost", "1.2.3.4", "x.123"};
	static const char *const bad[] = {"",
					  ".",
					  ".a",
					  "a.",
					  "a..b",
					  "-a.test",
					  "a-.test",
					  "a.-b",
					  "exa mple.test",
					  "ex@mple.test",
					  "a/b",
					  "a\tb",
					  "ex\xc3\xa4mple.test"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		test_assert(store_domain_add(st, good[i], DOMAIN_AUTHORITATIVE) == STORE_OK);
		char *n = store_norm_domain(good[i]);
		test_assert(n != NULL);
		free(n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_assert(store_domain_add(st, bad[i], DOMAIN_AUTHORITATIVE) == STORE_INVALID);
		test_assert(store_norm_domain(bad[i]) == NULL);
	}
	for (size_t i = 0; i < sizeof(unhostable) / sizeof(unhostable[0]); i++) {
		char *n = store_norm_domain(unhostable[i]);
		test_assert(n != NULL);
		free(n);
		test_assert(store_domain_add(st, unhostable[i], DOMAIN_AUTHORITATIVE) ==
			    STORE_INVALID);
		test_assert(store_domain_alias_add(st, unhostable[i], "example.test") ==
			    STORE_INVALID);
	}
	test_assert(store_domain_add(st, "example", DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	test_assert(strstr(store_error(st), "'example' has no dot") != NULL);
	test_assert(store_domain_add(st, "10.0.0.1", DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	test_assert(strstr(store_error(st), "an IP address is not a domain name") != NULL);
	/* labels up to 63 octets, names up to 253 */
	memset(label63, 'a', 63);
	strcpy(label63 + 63, ".test");
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".test");
	test_assert(store_domain_add(st, label63, DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_add(st, label64, DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	for (int i = 0; i < 254; i += 2) {
		long254[i] = 'b';
		long254[i + 1] = '.';
	}
	long254[253] = 'c'; /* "b.b. ... b.c": 254 octets */
	long254[254] = '\0';
	test_assert(strlen(long254) == 254);
	test_assert(store_domain_add(st, long254, DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	test_assert(store_domain_add(st, long254 + 2, DOMAIN_AUTHORITATIVE) == STORE_OK);

	char *n = store_norm_domain("MiXeD.Example.TEST");
	test_assert_str(n, "mixed.example.test");
	free(n);
	char *nd = store_norm_domain("example.test-");
	test_assert(nd == NULL);
	free(nd);
	test_assert(store_domain_add(st, "a-", DOMAIN_AUTHORITATIVE) == STORE_INVALID);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_domains(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_domain d;
	struct domain_seen seen = {0};

	test_begin("store: domains add, get, list, remove");
	for (int t = DOMAIN_AUTHORITATIVE; t <= DOMAIN_EXTERNAL_RELAY; t++) {
		enum domain_type back;
		test_assert(domain_type_parse(domain_type_name((enum domain_type)t), &back) == 0);
		test_assert(back == (enum domain_type)t);
	}
	test_assert_str(domain_type_name(DOMAIN_AUTHORITATIVE), "authoritative");
	test_assert_str(domain_type_name(DOMAIN_INTERNAL_RELAY), "internal-relay");
	enum domain_type t;
	test_assert(domain_type_parse("Authoritative", &t) < 0);
	test_assert(domain_type_parse("", &t) < 0);

	test_assert(store_domain_list(st, domain_cb, &seen) == STORE_OK && seen.n == 0);
	test_assert(store_domain_add(st, "Zeta.TEST", DOMAIN_EXTERNAL_RELAY) == STORE_OK);
	test_assert(store_domain_add(st, "alpha.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_add(st, "mid.test", DOMAIN_INTERNAL_RELAY) == STORE_OK);
	test_assert(store_domain_add(st, "ZETA.test", DOMAIN_AUTHORITATIVE) == STORE_EXISTS);
	test_assert(store_domain_add(st, "alpha.test", DOMAIN_INTERNAL_RELAY) == STORE_EXISTS);

	test_assert(store_domain_get(st, "zeta.test", &d) == STORE_OK);
	test_assert_str(d.name, "zeta.test");				   /* stored lower-cased */
	test_assert(d.type == DOMAIN_EXTERNAL_RELAY && d.mailboxes == -1); /* not counted */
	store_domain_clear(&d);
	test_assert(d.name == NULL);
	test_assert(store_domain_get(st, "ALPHA.TEST", &d) == STORE_OK);
	test_assert_str(d.name, "alpha.test");
	store_domain_clear(&d);
	test_assert(store_domain_get(st, "beta.test", &d) == STORE_NOTFOUND);

	test_assert(test_add_user(st, "a@alpha.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "b@alpha.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "c@mid.test", 0) == STORE_OK);
	/* a lookup (one per recipient) does not count: only the list does */
	test_assert(store_domain_get(st, "alpha.test", &d) == STORE_OK && d.mailboxes == -1);
	store_domain_clear(&d);

	/* listed in name order, with their counts */
	test_assert(store_domain_list(st, domain_cb, &seen) == STORE_OK && seen.n == 3);
	test_assert_str(seen.names[0], "alpha.test");
	test_assert_str(seen.names[1], "mid.test");
	test_assert_str(seen.names[2], "zeta.test");
	test_assert(seen.mailboxes[0] == 2 && seen.mailboxes[1] == 1 && seen.mailboxes[2] == 0);
	test_assert(seen.types[1] == DOMAIN_INTERNAL_RELAY);

	/* removal is refused while a mailbox or an alias still uses the domain */
	test_assert(store_domain_remove(st, "alpha.test") == STORE_EXISTS);
	test_assert(store_domain_get(st, "alpha.test", &d) == STORE_OK);
	store_domain_clear(&d);
	test_assert(store_user_remove(st, "a@alpha.test") == STORE_OK);
	test_assert(store_user_remove(st, "b@alpha.test") == STORE_OK);
	test_assert(store_alias_add(st, "info@alpha.test", "c@mid.test") == STORE_OK);
	test_assert(store_domain_remove(st, "alpha.test") == STORE_EXISTS);
	test_assert(store_alias_remove(st, "info@alpha.test", NULL) == STORE_OK);
	test_assert(store_domain_remove(st, "ALPHA.test") == STORE_OK);
	test_assert(store_domain_get(st, "alpha.test", &d) == STORE_NOTFOUND);
	test_assert(store_domain_remove(st, "alpha.test") == STORE_NOTFOUND);
	test_assert(store_domain_remove(st, "bad..name") == STORE_INVALID);
	/* an alias elsewhere that merely points INTO a domain does not pin it */
	test_assert(store_domain_add(st, "other.test", DOMAIN_INTERNAL_RELAY) == STORE_OK);
	test_assert(store_alias_add(st, "fwd@mid.test", "someone@other.test") == STORE_OK);
	test_assert(store_domain_remove(st, "other.test") == STORE_OK);
	/* and a removed domain can be added again */
	test_assert(store_domain_add(st, "alpha.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- users ----------------------------------------------------------------------- */

struct user_seen {
	char addr[8][64];
	uint64_t quota[8];
	int n;
};

static void user_cb(const struct store_user *u, void *ctx)
{
	struct user_seen *s = ctx;
	if (s->n < 8) {
		snprintf(s->addr[s->n], sizeof(s->addr[0]), "%s", u->address);
		s->quota[s->n] = u->quota;
	}
	s->n++;
}

static void test_user_add(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_user u;

	test_begin("store: users add and validation");
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	static const char *const bad[] = {
	    "",
	    "@example.test",
	    "a@",
	    "a",
	    "a@@example.test",
	    "a@b@example.test",
	    "\"q\"@example.test",
	    "a b@example.test",
	    "a..b@example.test",
	    ".a@example.test",
	    "a.@example.test",
	    "a@bad..test",
	    "a(b)@example.test",
	    "a,b@example.test",
	    "a\r\n@example.test",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = test_add_user(st, bad[i], 0);
		test_assert(r == STORE_INVALID);
		if (r != STORE_INVALID)
			printf("  bad address %zu: %d\n", i, r);
	}
	char local65[100];
	memset(local65, 'l', 65);
	strcpy(local65 + 65, "@example.test");
	test_assert(test_add_user(st, local65, 0) == STORE_INVALID);
	strcpy(local65 + 64, "@example.test"); /* 64 octets: the limit */
	test_assert(test_add_user(st, local65, 0) == STORE_OK);

	static const char *const good[] = {"a+tag@example.test", "o'brien@example.test",
					   "first.last@example.test", "j\xc3\xb6rg@example.test"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		test_assert(test_add_user(st, good[i], 0) == STORE_OK);

	test_assert(test_add_user(st, "alice@nowhere.test", 0) == STORE_NOTFOUND);
	test_assert(test_add_user(st, "Alice@Example.TEST", 0) == STORE_OK);
	test_assert(test_add_user(st, "ALICE@example.test", 0) == STORE_EXISTS);
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(test_add_user(st, "Sales@example.test", 0) == STORE_EXISTS);

	/* what was given comes back; the address is lower-cased */
	struct store_user_new full = {.address = "bob@example.test",
				      .pw_hash = "$y$hash",
				      .scram = "SCRAM-SHA-256$4096:c2FsdA==$a:b",
				      .apop_secret = "tanstaaf",
				      .quota = 12345};
	test_assert(store_user_add(st, &full) == STORE_OK);
	test_assert(store_user_lookup(st, "BOB@example.test", &u) == STORE_OK);
	test_assert(u.id > 0);
	test_assert_str(u.address, "bob@example.test");
	test_assert_str(u.pw_hash, "$y$hash");
	test_assert_str(u.scram, "SCRAM-SHA-256$4096:c2FsdA==$a:b");
	test_assert_str(u.apop_secret, "tanstaaf");
	test_assert(u.quota == 12345 && u.used == 0 && u.messages == 0);
	test_assert(u.enabled && u.pop3_enabled);
	store_user_clear(&u);
	test_assert(u.address == NULL && u.pw_hash == NULL);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert(u.scram == NULL && u.apop_secret == NULL && u.quota == 0);
	store_user_clear(&u);
	test_assert(store_user_lookup(st, "nobody@example.test", &u) == STORE_NOTFOUND);
	store_user_clear(&u);
	test_assert(store_user_lookup(st, "not an address", &u) != STORE_OK);
	store_user_clear(&u);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_user_changes(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_user u;
	struct user_seen seen = {0};

	test_begin("store: users set_*, list, lookup through aliases");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	store_domain_add(st, "other.test", DOMAIN_AUTHORITATIVE);
	struct store_user_new a = {.address = "alice@example.test",
				   .pw_hash = "$y$1",
				   .scram = "S1",
				   .apop_secret = "ap1"};
	test_assert(store_user_add(st, &a) == STORE_OK);
	test_assert(test_add_user(st, "bob@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "carol@other.test", 0) == STORE_OK);

	test_assert(store_user_set_limit(st, "ALICE@example.test", STORE_LIMIT_QUOTA, 5000) ==
		    STORE_OK);
	test_assert(store_user_set_pop3(st, "alice@example.test", false) == STORE_OK);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert(u.quota == 5000 && !u.pop3_enabled && u.enabled);
	store_user_clear(&u);
	test_assert(store_user_set_pop3(st, "alice@example.test", true) == STORE_OK);
	test_assert(store_user_set_enabled(st, "alice@example.test", false) == STORE_OK);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert(u.pop3_enabled && !u.enabled); /* a disabled mailbox is still found */
	store_user_clear(&u);
	test_assert(store_user_set_enabled(st, "alice@example.test", true) == STORE_OK);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA, 0) ==
		    STORE_OK);

	/* a new password replaces all three secrets; NULLs clear */
	test_assert(store_user_set_password(st, "alice@example.test", "$y$2", NULL, NULL) ==
		    STORE_OK);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert_str(u.pw_hash, "$y$2");
	test_assert(u.scram == NULL && u.apop_secret == NULL && u.quota == 0 && u.enabled);
	store_user_clear(&u);
	test_assert(store_user_set_password(st, "alice@example.test", "$y$3", "S3", "ap3") ==
		    STORE_OK);
	test_assert(store_user_clear_apop(st, "alice@example.test") == STORE_OK);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert_str(u.pw_hash, "$y$3");
	test_assert_str(u.scram, "S3"); /* clear_apop leaves the rest */
	test_assert(u.apop_secret == NULL);
	store_user_clear(&u);

	/* unknown mailboxes, and aliases are not mailboxes for set_* */
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_user_set_limit(st, "nobody@example.test", STORE_LIMIT_QUOTA, 1) ==
		    STORE_NOTFOUND);
	test_assert(store_user_set_pop3(st, "nobody@example.test", true) == STORE_NOTFOUND);
	test_assert(store_user_set_enabled(st, "nobody@example.test", true) == STORE_NOTFOUND);
	test_assert(store_user_clear_apop(st, "nobody@example.test") == STORE_NOTFOUND);
	test_assert(store_user_set_password(st, "nobody@example.test", "$y$", NULL, NULL) ==
		    STORE_NOTFOUND);
	test_assert(store_user_set_limit(st, "sales@example.test", STORE_LIMIT_QUOTA, 1) ==
		    STORE_NOTFOUND);
	test_assert(store_user_remove(st, "sales@example.test") == STORE_NOTFOUND);

	/* lookup through an alias with one local target gives that mailbox */
	test_assert(store_user_lookup(st, "SALES@example.test", &u) == STORE_OK);
	test_assert_str(u.address, "alice@example.test");
	store_user_clear(&u);
	/* ... also through a chain, and with an extra non-local target */
	test_assert(store_alias_add(st, "team@example.test", "sales@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "team@example.test", "far@elsewhere.test") == STORE_OK);
	test_assert(store_user_lookup(st, "team@example.test", &u) == STORE_OK);
	test_assert_str(u.address, "alice@example.test");
	store_user_clear(&u);
	/* but not through an alias that reaches two mailboxes, or none */
	test_assert(store_alias_add(st, "both@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "both@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_user_lookup(st, "both@example.test", &u) == STORE_NOTFOUND);
	store_user_clear(&u);
	test_assert(store_alias_add(st, "away@example.test", "far@elsewhere.test") == STORE_OK);
	test_assert(store_user_lookup(st, "away@example.test", &u) == STORE_NOTFOUND);
	store_user_clear(&u);

	/* list: all in address order (the built-in postmaster too), or one domain */
	test_assert(store_user_list(st, NULL, user_cb, &seen) == STORE_OK && seen.n == 4);
	test_assert_str(seen.addr[0], "alice@example.test");
	test_assert_str(seen.addr[1], "bob@example.test");
	test_assert_str(seen.addr[2], "carol@other.test");
	test_assert_str(seen.addr[3], STORE_POSTMASTER);
	memset(&seen, 0, sizeof(seen));
	test_assert(store_user_list(st, "OTHER.test", user_cb, &seen) == STORE_OK && seen.n == 1);
	test_assert_str(seen.addr[0], "carol@other.test");
	memset(&seen, 0, sizeof(seen));
	test_assert(store_user_list(st, "example.test", user_cb, &seen) == STORE_OK && seen.n == 2);
	memset(&seen, 0, sizeof(seen));
	/* a domain that is not hosted is an error, not an empty list */
	test_assert(store_user_list(st, "unknown.test", user_cb, &seen) == STORE_NOTFOUND &&
		    seen.n == 0);
	test_assert_str(store_error(st), "domain unknown.test does not exist");
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_user_remove(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	static const char body[] = "Subject: r\r\n\r\nremove me\r\n";
	static const char own[] = "Subject: own\r\n\r\nonly alice\r\n";
	int results[2];

	test_begin("store: user remove takes its messages, bodies and aliases");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "alice@example.test", 0);
	test_add_user(st, "bob@example.test", 0);
	int64_t ids[2] = {test_mailbox_id(st, "alice@example.test"),
			  test_mailbox_id(st, "bob@example.test")};
	test_assert(store_deliver(st, ids, 2, body, sizeof(body) - 1, NULL, results) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, own, sizeof(own) - 1, NULL, results) == STORE_OK);
	test_assert(store_deliver(st, ids, 1, own, sizeof(own) - 1, NULL, results) == STORE_OK);
	test_assert(test_census(st)->bodies == 3);
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "sales@example.test", "bob@example.test") == STORE_OK);

	test_assert(store_user_remove(st, "Alice@Example.test") == STORE_OK);
	/* alice's messages and the bodies only she used are gone; the shared
	   body stays for bob with one reference left */
	const struct store_census *c = test_census(st);
	test_assert(c->messages == 1);
	test_assert(c->bodies == 1);
	test_assert(c->body_refs == 1); /* the one body's */
	struct store_msg *msgs = NULL;
	size_t n = 0;
	test_assert(store_mailbox_load(st, ids[0], &msgs, &n) == STORE_OK && n == 0);
	free(msgs);
	msgs = NULL;
	test_assert(store_mailbox_load(st, ids[1], &msgs, &n) == STORE_OK && n == 1);
	struct buf out = {0};
	test_assert(n == 1 && store_message_read(st, ids[1], msgs[0].id, &out) == STORE_OK);
	test_assert(out.len == sizeof(body) - 1 && memcmp(out.data, body, out.len) == 0);
	buf_free(&out);
	free(msgs);
	/* the alias no longer leads to alice */
	int64_t *rids = NULL;
	test_assert(resolve_n(st, "sales@example.test", &rids) == 1 && rids[0] == ids[1]);
	free(rids);
	test_assert(store_user_remove(st, "alice@example.test") == STORE_NOTFOUND);
	test_assert(resolve_n(st, "alice@example.test", NULL) == 0);

	/* removing the last user of the shared body drops it too */
	test_assert(store_user_remove(st, "bob@example.test") == STORE_OK);
	c = test_census(st);
	test_assert(c->bodies == 0);
	test_assert(c->messages == 0);
	test_assert(c->aliases == 0);

	/* the address is free again, as a new mailbox with a new id */
	test_assert(test_add_user(st, "alice@example.test", 0) == STORE_OK);
	int64_t again = test_mailbox_id(st, "alice@example.test");
	test_assert(again > 0 && again != ids[0] && again != ids[1]);
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	test_assert(store_user_remove(st, "alice@example.test") == STORE_OK);
	test_assert(store_domain_remove(st, "example.test") == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* --- aliases ---------------------------------------------------------------------- */

struct alias_seen {
	char pair[16][96];
	int n;
};

static void alias_cb(const char *address, const char *target, void *ctx)
{
	struct alias_seen *s = ctx;
	if (s->n < 16)
		snprintf(s->pair[s->n], sizeof(s->pair[0]), "%s>%s", address, target);
	s->n++;
}

static void test_aliases(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct alias_seen seen = {0};

	test_begin("store: aliases add, list, remove");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "alice@example.test", 0);
	test_add_user(st, "bob@example.test", 0);

	test_assert(store_alias_add(st, "x@nowhere.test", "alice@example.test") == STORE_NOTFOUND);
	test_assert(store_alias_add(st, "x@example.test", "not-an-address") == STORE_INVALID);
	test_assert(store_alias_add(st, "x y@example.test", "alice@example.test") == STORE_INVALID);
	test_assert(store_alias_add(st, "x@example.test", "X@EXAMPLE.test") == STORE_INVALID);
	test_assert(store_alias_add(st, "Alice@example.test", "bob@example.test") == STORE_EXISTS);

	test_assert(store_alias_add(st, "Sales@Example.test", "BOB@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "sales@example.test", "bob@EXAMPLE.test") == STORE_EXISTS);
	test_assert(store_alias_add(st, "abuse@example.test", "ext@elsewhere.test") == STORE_OK);

	test_assert(store_alias_list(st, NULL, alias_cb, &seen) == STORE_OK && seen.n == 3);
	test_assert_str(seen.pair[0], "abuse@example.test>ext@elsewhere.test");
	test_assert_str(seen.pair[1], "sales@example.test>alice@example.test");
	test_assert_str(seen.pair[2], "sales@example.test>bob@example.test");
	memset(&seen, 0, sizeof(seen));
	test_assert(store_alias_list(st, "SALES@example.test", alias_cb, &seen) == STORE_OK &&
		    seen.n == 2);
	memset(&seen, 0, sizeof(seen));
	/* a named address without alias is an error, not an empty list */
	test_assert(store_alias_list(st, "none@example.test", alias_cb, &seen) == STORE_NOTFOUND &&
		    seen.n == 0);
	test_assert(strstr(store_error(st), "no alias none@example.test") != NULL);

	/* remove one target, then the rest at once */
	test_assert(store_alias_remove(st, "sales@example.test", "BOB@example.test") == STORE_OK);
	test_assert(store_alias_remove(st, "sales@example.test", "bob@example.test") ==
		    STORE_NOTFOUND);
	test_assert(resolve_n(st, "sales@example.test", NULL) == 1);
	test_assert(store_alias_remove(st, "Sales@example.test", NULL) == STORE_OK);
	test_assert(resolve_n(st, "sales@example.test", NULL) == 0);
	test_assert(store_alias_remove(st, "sales@example.test", NULL) == STORE_NOTFOUND);
	/* a removed alias address may become a mailbox */
	test_assert(test_add_user(st, "sales@example.test", 0) == STORE_OK);
	memset(&seen, 0, sizeof(seen));
	test_assert(store_alias_list(st, NULL, alias_cb, &seen) == STORE_OK && seen.n == 1);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_resolve(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	int64_t *ids = NULL;
	char a[64], b[64];

	test_begin("store: resolve through aliases, chains, loops, depth limit");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "alice@example.test", 0);
	test_add_user(st, "bob@example.test", 0);
	test_add_user(st, "carol@example.test", 0);
	int64_t ia = test_mailbox_id(st, "alice@example.test"),
		ib = test_mailbox_id(st, "bob@example.test"),
		ic = test_mailbox_id(st, "carol@example.test");

	/* a mailbox resolves to itself, case-insensitively */
	test_assert(resolve_n(st, "ALICE@example.TEST", &ids) == 1 && ids[0] == ia);
	free(ids);
	test_assert(resolve_n(st, "nobody@example.test", NULL) == 0);
	test_assert(resolve_n(st, "nobody@unhosted.test", NULL) == 0);
	ids = NULL;
	size_t n = 0;
	test_assert(store_resolve(st, "not an address", &ids, &n) == STORE_INVALID);
	free(ids);

	/* several targets, nested aliases, external targets ignored */
	store_alias_add(st, "team@example.test", "alice@example.test");
	store_alias_add(st, "team@example.test", "bob@example.test");
	store_alias_add(st, "team@example.test", "far@elsewhere.test");
	store_alias_add(st, "all@example.test", "team@example.test");
	store_alias_add(st, "all@example.test", "carol@example.test");
	ids = NULL;
	test_assert(resolve_n(st, "all@example.test", &ids) == 3);
	test_assert(ids != NULL && ids[0] == ia && ids[1] == ib && ids[2] == ic);
	free(ids);

	/* a diamond delivers once per mailbox */
	store_alias_add(st, "d@example.test", "team@example.test");
	store_alias_add(st, "d@example.test", "all@example.test");
	store_alias_add(st, "d@example.test", "alice@example.test");
	test_assert(resolve_n(st, "d@example.test", NULL) == 3);

	/* loops terminate; what the loop reaches is still delivered (aliases are
	   made target first: a target in the domain must exist) */
	test_assert(store_alias_add(st, "l3@example.test", "carol@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "l2@example.test", "l3@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "l1@example.test", "l2@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "l3@example.test", "l1@example.test") == STORE_OK);
	ids = NULL;
	test_assert(resolve_n(st, "l1@example.test", &ids) == 1 && ids[0] == ic);
	free(ids);
	ids = NULL;
	test_assert(resolve_n(st, "l2@example.test", &ids) == 1 && ids[0] == ic);
	free(ids);
	/* without the way out, the loop alone reaches nothing */
	test_assert(store_alias_remove(st, "l3@example.test", "carol@example.test") == STORE_OK);
	test_assert(resolve_n(st, "l1@example.test", NULL) == 0);

	/* a short chain (3 hops) resolves */
	store_alias_add(st, "h3@example.test", "bob@example.test");
	store_alias_add(st, "h2@example.test", "h3@example.test");
	store_alias_add(st, "h1@example.test", "h2@example.test");
	ids = NULL;
	test_assert(resolve_n(st, "h1@example.test", &ids) == 1 && ids[0] == ib);
	free(ids);

	/* a very long chain stops at the depth limit: not found, no crash */
	store_alias_add(st, "c100@example.test", "bob@example.test");
	for (int i = 99; i >= 0; i--) {
		snprintf(a, sizeof(a), "c%d@example.test", i);
		snprintf(b, sizeof(b), "c%d@example.test", i + 1);
		test_assert(store_alias_add(st, a, b) == STORE_OK);
	}
	test_assert(resolve_n(st, "c0@example.test", NULL) == 0);
	test_assert(resolve_n(st, "c99@example.test", NULL) == 1); /* near the end: short */

	/* a wide fan-out of aliases that all loop back on each other */
	store_alias_add(st, "w29@example.test", "alice@example.test");
	for (int i = 0; i < 29; i++) {
		snprintf(a, sizeof(a), "w%d@example.test", i);
		test_assert(store_alias_add(st, a, "w29@example.test") == STORE_OK);
	}
	for (int i = 0; i < 30; i++)
		for (int j = 0; j < 30; j++) {
			if (i == j)
				continue;
			snprintf(a, sizeof(a), "w%d@example.test", i);
			snprintf(b, sizeof(b), "w%d@example.test", j);
			store_alias_add(st, a, b);
		}
	long wn = resolve_n(st, "w0@example.test", NULL);
	test_assert(wn == 1); /* terminates, and finds alice past the long chain */

	test_assert(store_alias_add(st, "x@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "k7@example.test", "x@example.test") == STORE_OK);
	for (int i = 6; i >= 1; i--) {
		snprintf(a, sizeof(a), "k%d@example.test", i);
		snprintf(b, sizeof(b), "k%d@example.test", i + 1);
		test_assert(store_alias_add(st, a, b) == STORE_OK);
	}
	test_assert(store_alias_add(st, "p@example.test", "x@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "p@example.test", "k1@example.test") == STORE_OK);
	long pn = resolve_n(st, "p@example.test", NULL);
	test_assert(pn == 1);
	test_assert(wn == 1);
	/* the store still answers normally afterwards */
	test_assert(test_mailbox_id(st, "carol@example.test") == ic);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* A target in an authoritative hosted domain must exist; elsewhere it is a
   forward, and relay domains forward what they do not have. */
static void test_alias_targets(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);

	test_begin("store: alias targets in hosted domains must exist");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	store_domain_add(st, "relay.test", DOMAIN_INTERNAL_RELAY);
	test_assert(store_domain_alias_add(st, "example.net", "example.test") == STORE_OK);
	test_add_user(st, "alice@example.test", 0);

	test_assert(store_alias_add(st, "x@example.test", "nosuch@example.test") == STORE_NOTFOUND);
	test_assert_str(store_error(st), "alias target nosuch@example.test does not exist: add "
					 "that mailbox or alias first (user add, alias add)");
	test_assert(store_alias_list(st, NULL, alias_cb, &(struct alias_seen){0}) == STORE_OK);
	test_assert(test_census(st)->aliases == 0); /* nothing kept */
	/* through a domain alias: the address it stands for counts */
	test_assert(store_alias_add(st, "x@example.test", "nosuch@example.net") == STORE_NOTFOUND);
	test_assert(store_alias_add(st, "x@example.test", "ALICE@example.net") == STORE_OK);
	/* an alias is a target too, and so is the built-in postmaster */
	test_assert(store_alias_add(st, "y@example.test", "x@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "pm@example.test", "PostMaster") == STORE_OK);
	int64_t *ids = NULL;
	test_assert(resolve_n(st, "pm@example.test", &ids) == 1 &&
		    ids[0] == test_mailbox_id(st, STORE_POSTMASTER));
	free(ids);
	/* relay domains and the rest of the world are forwarded to */
	test_assert(store_alias_add(st, "z@example.test", "anyone@relay.test") == STORE_OK);
	test_assert(store_alias_add(st, "z@example.test", "far@elsewhere.test") == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* The in-use count once had an unbound parameter: the domain went to the
   DELETE and came back as "FOREIGN KEY constraint failed". */
static void test_domain_in_use(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);

	test_begin("store: a domain in use says what uses it");
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	test_add_user(st, "alice@example.test", 0);
	test_add_user(st, "bob@example.test", 0);
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	test_assert_str(store_error(st), "domain example.test is in use by 2 mailboxes: remove "
					 "them first (user list shows them)");
	test_assert(store_alias_add(st, "team@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "team@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_domain_alias_add(st, "example.net", "example.test") == STORE_OK);
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	test_assert_str(store_error(st),
			"domain example.test is in use by 2 mailboxes, 1 alias, 1 domain alias: "
			"remove them first (user list, alias list, domain list shows them)");
	test_assert(strstr(store_error(st), "FOREIGN KEY") == NULL);
	struct store_domain d;
	test_assert(store_domain_get(st, "example.test", &d) == STORE_OK); /* still there */
	store_domain_clear(&d);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* RFC 5321 §4.5.1: every store has a postmaster mailbox from its first start. */
static void test_postmaster(void)
{
	char *dir;
	struct store *st = test_store_new(&dir);
	struct store_user u;
	struct user_seen seen = {0};

	test_begin("store: the built-in postmaster mailbox");
	test_assert(store_user_lookup(st, "PostMaster", &u) == STORE_OK);
	test_assert_str(u.address, STORE_POSTMASTER);
	test_assert(u.pw_hash == NULL && u.scram == NULL && u.apop_secret == NULL);
	test_assert(u.enabled && u.pop3_enabled);
	int64_t pm = u.id;
	store_user_clear(&u);
	int64_t *ids = NULL;
	test_assert(resolve_n(st, "POSTMASTER", &ids) == 1 && ids[0] == pm);
	free(ids);
	test_assert(store_user_list(st, NULL, user_cb, &seen) == STORE_OK && seen.n == 1);
	test_assert_str(seen.addr[0], STORE_POSTMASTER);

	/* it cannot be removed or added again */
	test_assert(store_user_remove(st, "postmaster") == STORE_INVALID);
	test_assert(strstr(store_error(st), "cannot be removed") != NULL);
	test_assert(test_add_user(st, "Postmaster", 0) == STORE_EXISTS);
	test_assert(strstr(store_error(st), "user passwd postmaster") != NULL);
	test_assert(store_user_can_add(st, "postmaster") == STORE_EXISTS);
	test_assert(test_mailbox_id(st, STORE_POSTMASTER) == pm);

	/* a password makes it a mailbox like any other; mail reaches it */
	test_assert(store_user_set_password(st, "postmaster", "$y$pm", "S", NULL) == STORE_OK);
	test_assert(store_user_lookup(st, "postmaster", &u) == STORE_OK);
	test_assert_str(u.pw_hash, "$y$pm");
	store_user_clear(&u);
	static const char body[] = "Subject: pm\r\n\r\nx\r\n";
	int result;
	test_assert(store_deliver(st, &pm, 1, body, sizeof(body) - 1, NULL, &result) == STORE_OK);
	test_assert(store_user_lookup(st, "postmaster", &u) == STORE_OK && u.messages == 1);
	store_user_clear(&u);
	/* it belongs to no domain: domain listings and removal ignore it */
	store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE);
	memset(&seen, 0, sizeof(seen));
	test_assert(store_user_list(st, "example.test", user_cb, &seen) == STORE_OK && seen.n == 0);
	test_assert(store_domain_remove(st, "example.test") == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

/* S6: a store made before schema 6 gets the postmaster at its next open,
   with every mailbox, message and id kept. */
static void test_migration_postmaster(void)
{
	struct store *st = NULL;
	static const char body[] = "Subject: old\r\n\r\nkept\r\n";

	/* an SQLite store of schema 5, its rows written in its file */
	test_begin("store: migration 6 on an old store adds postmaster, keeps the rest");
	if (test_sqlite_only())
		return;
	char *dir = test_tmpdir();
	test_assert(store_test_open_schema(dir, 5, &st) == STORE_OK);
	test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") == 5);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	/* written and read by SQL: today's user add, lookup and remove know
	   tables and columns that schema 5 lacks */
	static const char *const old_boxes[] = {"'alice@example.test', 1000",
						"'bob@example.test', 0", "'carol@example.test', 0"};
	for (size_t i = 0; i < sizeof(old_boxes) / sizeof(old_boxes[0]); i++) {
		char ins[256];
		snprintf(ins, sizeof(ins),
			 "INSERT INTO mailboxes (address, quota, domain_id, pw_hash, created) "
			 "VALUES (%s, (SELECT id FROM domains WHERE name = 'example.test'), "
			 "'$y$x', 0)",
			 old_boxes[i]);
		test_assert(test_sqlite_int(dir, ins) == 0);
	}
	test_assert(store_user_set_submission(st, "bob@example.test", false) == STORE_OK);
	int64_t ia = test_sqlite_int(dir, "SELECT id FROM mailboxes WHERE address = "
					  "'alice@example.test'");
	int64_t ic = test_sqlite_int(dir, "SELECT id FROM mailboxes WHERE address = "
					  "'carol@example.test'");
	/* a message as schema 5 held it (today's delivery reads later columns) */
	char sql[512];
	test_assert(test_sqlite_int(dir,
				    "INSERT INTO bodies (id, refcount, size, data) VALUES (900, "
				    "1, 22, CAST('Subject: old' || char(13, 10, 13, 10) || "
				    "'kept' || char(13, 10) AS BLOB))") == 0);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO messages (mailbox_id, uid, body_id, size, uidl, received) "
		 "VALUES (%lld, 1, 900, %zu, 'OLD-UIDL', 0)",
		 (long long)ia, sizeof(body) - 1);
	test_assert(test_sqlite_int(dir, sql) == 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE mailboxes SET used = %zu, messages = 1, next_uid = 2 WHERE id = %lld",
		 sizeof(body) - 1, (long long)ia);
	test_assert(test_sqlite_int(dir, sql) == 0);
	test_assert(test_sqlite_int(dir, "DELETE FROM mailboxes WHERE address = "
					 "'carol@example.test'") == 0); /* highest id */
	test_assert(test_sqlite_int(dir, "SELECT count(*) FROM mailboxes WHERE address = "
					 "'postmaster'") == 0);
	store_close(&st);

	test_assert(store_open(dir, false, &st) == STORE_OK);
	test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") >= 6);
	struct store_user u;
	test_assert(store_user_lookup(st, "postmaster", &u) == STORE_OK);
	test_assert(u.pw_hash == NULL);
	test_assert(u.id > ic); /* the id counter survived the rebuild: no id reused (S3) */
	store_user_clear(&u);
	test_assert(store_user_lookup(st, "alice@example.test", &u) == STORE_OK);
	test_assert(u.id == ia && u.quota == 1000 && u.messages == 1);
	test_assert_str(u.pw_hash, "$y$x");
	store_user_clear(&u);
	test_assert(store_user_lookup(st, "bob@example.test", &u) == STORE_OK);
	test_assert(!u.submission_enabled && u.pop3_enabled);
	store_user_clear(&u);
	struct store_msg *msgs = NULL;
	size_t n = 0;
	test_assert(store_mailbox_load(st, ia, &msgs, &n) == STORE_OK && n == 1);
	test_assert(n == 1 && strcmp(msgs[0].uidl, "OLD-UIDL") == 0);
	free(msgs);
	test_assert(test_add_user(st, "dave@example.test", 0) == STORE_OK);
	test_assert(test_mailbox_id(st, "dave@example.test") > ic);
	/* the references still hold and are still enforced */
	test_assert(test_sqlite_int(dir, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
	test_assert(test_sqlite_int(dir, "SELECT count(*) FROM pragma_foreign_key_list('messages') "
					 "WHERE \"table\" = 'mailboxes'") == 1);
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	store_close(&st);
	/* once only */
	test_assert(store_open(dir, false, &st) == STORE_OK);
	test_assert(test_sqlite_int(dir, "SELECT count(*) FROM mailboxes WHERE address = "
					 "'postmaster'") == 1);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_open, test_open_sqlite, test_domain_names, test_domains, test_user_add,
	    test_user_changes, test_user_remove, test_aliases, test_alias_targets, test_resolve,
	    test_domain_in_use, test_postmaster, test_migration_postmaster, NULL});
}
