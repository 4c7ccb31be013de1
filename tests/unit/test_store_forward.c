/* SPDX-License-Identifier: MIT */
/*
 * test_store_forward.c - store/store.h "forwarding": targets kept
 * normalised and without repeats, keep_copy (a new forward keeps a copy
 * unless told, a changed one keeps its setting), clearing, the target
 * checks of authoritative, relay and alias domains (mailboxes, aliases,
 * lists and postmaster exist; others do not), a mailbox forwarding to
 * itself by any of its names, the limit of STORE_FORWARD_MAX targets, bad
 * addresses, unknown mailboxes, and keep_copy alone. What is stored is read
 * back as store_user_lookup() gives it; a refusal changes nothing.
 */
#include "store/store.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static struct store *fixture(void)
{
	struct store *st = test_store_new(&dir);
	test_assert(store_domain_add(st, "a.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_add(st, "relay.test", DOMAIN_INTERNAL_RELAY) == STORE_OK);
	test_assert(store_domain_add(st, "out.test", DOMAIN_EXTERNAL_RELAY) == STORE_OK);
	test_assert(store_domain_alias_add(st, "alias.test", "a.test") == STORE_OK);
	test_assert(test_add_user(st, "alice@a.test", 0) == 0);
	test_assert(test_add_user(st, "bob@a.test", 0) == 0);
	test_assert(store_alias_add(st, "al@a.test", "alice@a.test") == STORE_OK);
	test_assert(store_alias_add(st, "both@a.test", "alice@a.test") == STORE_OK);
	test_assert(store_alias_add(st, "both@a.test", "bob@a.test") == STORE_OK);
	test_assert(store_list_add(st, "staff@a.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	return st;
}

static void done(struct store **st)
{
	store_close(st);
	test_rmtree(dir);
	dir = NULL;
}

/* 1 when alice's row holds exactly this forward (NULL: none) and keep_copy. */
static bool alice_is(struct store *st, const char *forward, int keep)
{
	struct store_user u = {0};
	bool is = false;
	if (store_user_lookup(st, "alice@a.test", &u) == STORE_OK)
		is = (forward == NULL ? u.forward == NULL
				      : u.forward != NULL && strcmp(u.forward, forward) == 0) &&
		     u.keep_copy == (keep != 0);
	store_user_clear(&u);
	return is;
}

/* The commas in the mailbox's forward (-1: none). */
static int forward_commas(struct store *st, const char *address)
{
	struct store_user u = {0};
	int n = -1;
	if (store_user_lookup(st, address, &u) == STORE_OK && u.forward != NULL) {
		n = 0;
		for (const char *c = u.forward; *c != '\0'; c++)
			n += *c == ',';
	}
	store_user_clear(&u);
	return n;
}

static int set(struct store *st, const char *address, const char *t1, const char *t2, int keep)
{
	const char *t[] = {t1, t2};
	size_t n = t1 == NULL ? 0 : t2 == NULL ? 1 : 2;
	return store_user_set_forward(st, address, t, n, keep);
}

static void test_forward_set(void)
{
	test_begin("store forward: set, normalise, keep_copy, clear");
	struct store *st = fixture();
	test_assert(alice_is(st, NULL, 1));
	/* normalised and without repeats; a new forward keeps a copy */
	const char *t[] = {"Bob@A.Test", "Carol@Elsewhere.Example", "bob@a.test"};
	test_assert(store_user_set_forward(st, "Alice@a.test", t, 3, -1) == STORE_OK);
	test_assert(alice_is(st, "bob@a.test,carol@elsewhere.example", 1));
	/* told not to keep one; a changed forward keeps that setting */
	test_assert(set(st, "alice@a.test", "carol@elsewhere.example", NULL, 0) == STORE_OK);
	test_assert(alice_is(st, "carol@elsewhere.example", 0));
	test_assert(set(st, "alice@a.test", "dave@elsewhere.example", "bob@a.test", -1) ==
		    STORE_OK);
	test_assert(alice_is(st, "dave@elsewhere.example,bob@a.test", 0));
	/* cleared, keep_copy left; the next forward keeps a copy again */
	test_assert(set(st, "alice@a.test", NULL, NULL, -1) == STORE_OK);
	test_assert(alice_is(st, NULL, 0));
	test_assert(set(st, "alice@a.test", "bob@a.test", NULL, -1) == STORE_OK);
	test_assert(alice_is(st, "bob@a.test", 1));
	test_assert(set(st, "alice@a.test", "bob@a.test", NULL, 0) == STORE_OK);
	test_assert(set(st, "alice@a.test", "bob@a.test", NULL, 1) == STORE_OK);
	test_assert(alice_is(st, "bob@a.test", 1));
	/* clearing an unset forward is fine */
	test_assert(set(st, "bob@a.test", NULL, NULL, -1) == STORE_OK);
	/* the built-in postmaster may forward, and be forwarded to */
	test_assert(set(st, "postmaster", "admin@elsewhere.example", NULL, -1) == STORE_OK);
	test_assert(set(st, "alice@a.test", "POSTMASTER", NULL, -1) == STORE_OK);
	test_assert(alice_is(st, "postmaster", 1));
	done(&st);
	test_end();
}

static void test_forward_targets(void)
{
	static const char *const ok[] = {
	    "bob@a.test",	  "al@a.test", /* an alias of alice and no one else... */
	    "staff@a.test",	  "postmaster@a.test",
	    "nobody@relay.test",  "nobody@out.test",
	    "bob@alias.test",	  "someone@elsewhere.example",
	    "both@a.test",	  "postmaster@alias.test",
	    "owner-staff@a.test",
	};
	static const char *const unknown[] = {"nobody@a.test", "nobody@alias.test", "staf@a.test",
					      "owner-nobody@a.test", "owner-alice@a.test"};

	test_begin("store forward: targets that exist, and those that do not");
	struct store *st = fixture();
	test_assert(test_add_user(st, "carol@a.test", 0) == 0);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		/* ...so carol, not alice, forwards to it */
		int r = set(st, "carol@a.test", ok[i], NULL, -1);
		if (r != STORE_OK)
			printf("  %s: %s\n", ok[i], store_error(st));
		test_assert(r == STORE_OK);
	}
	test_assert(set(st, "alice@a.test", "bob@a.test", NULL, 0) == STORE_OK);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		test_assert(set(st, "alice@a.test", unknown[i], NULL, -1) == STORE_NOTFOUND);
		test_assert(strstr(store_error(st), unknown[i]) != NULL);
		/* one bad target sinks the others: nothing changed */
		test_assert(set(st, "alice@a.test", "carol@elsewhere.example", unknown[i], 1) ==
			    STORE_NOTFOUND);
		test_assert(alice_is(st, "bob@a.test", 0));
	}
	/* bad addresses */
	static const char *const bad[] = {"",
					  "bob",
					  "bob@",
					  "@a.test",
					  "a b@x.example",
					  "a,b@x.example",
					  "bob@a..test",
					  "<bob@a.test>"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_assert(set(st, "alice@a.test", "carol@elsewhere.example", bad[i], -1) ==
			    STORE_INVALID);
		test_assert(alice_is(st, "bob@a.test", 0));
	}
	done(&st);
	test_end();
}

static void test_forward_self(void)
{
	static const char *const self[] = {"alice@a.test", "ALICE@A.TEST", "al@a.test",
					   "alice@alias.test", "Al@Alias.Test"};

	test_begin("store forward: never to itself, by any of its names");
	struct store *st = fixture();
	for (size_t i = 0; i < sizeof(self) / sizeof(self[0]); i++) {
		test_assert(set(st, "alice@a.test", self[i], NULL, -1) == STORE_INVALID);
		test_assert(strstr(store_error(st), "alice@a.test") != NULL);
		test_assert(set(st, "alice@a.test", "bob@a.test", self[i], -1) == STORE_INVALID);
		test_assert(alice_is(st, NULL, 1));
	}
	test_assert(set(st, "postmaster", "postmaster", NULL, -1) == STORE_INVALID);
	/* an alias that leads to alice and bob is another matter; so is a chain
	   back through bob (delivery ends it where it closes) */
	test_assert(set(st, "alice@a.test", "both@a.test", NULL, -1) == STORE_OK);
	test_assert(set(st, "bob@a.test", "alice@a.test", NULL, -1) == STORE_OK);
	test_assert(set(st, "alice@a.test", "bob@a.test", NULL, 0) == STORE_OK);
	test_assert(alice_is(st, "bob@a.test", 0));
	done(&st);
	test_end();
}

static void test_forward_limits(void)
{
	const char *t[STORE_FORWARD_MAX + 1];
	char names[STORE_FORWARD_MAX + 1][64];

	test_begin("store forward: at most STORE_FORWARD_MAX targets, known mailboxes only");
	struct store *st = fixture();
	for (size_t i = 0; i <= STORE_FORWARD_MAX; i++) {
		snprintf(names[i], sizeof(names[i]), "user%zu@elsewhere.example", i);
		t[i] = names[i];
	}
	test_assert(store_user_set_forward(st, "alice@a.test", t, STORE_FORWARD_MAX + 1, -1) ==
		    STORE_INVALID);
	test_assert(alice_is(st, NULL, 1));
	test_assert(store_user_set_forward(st, "alice@a.test", t, STORE_FORWARD_MAX, -1) ==
		    STORE_OK);
	test_assert(forward_commas(st, "alice@a.test") == STORE_FORWARD_MAX - 1);
	test_assert(store_user_set_forward(st, "alice@a.test", t, 1, 2) == STORE_INVALID);
	/* mailboxes that are not there, and aliases (they are no mailbox) */
	test_assert(set(st, "nobody@a.test", "bob@a.test", NULL, -1) == STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "nobody@a.test") != NULL);
	test_assert(set(st, "al@a.test", "bob@a.test", NULL, -1) == STORE_NOTFOUND);
	test_assert(set(st, "nobody@else.example", NULL, NULL, -1) == STORE_NOTFOUND);
	done(&st);
	test_end();
}

static void test_forward_keep_copy(void)
{
	test_begin("store forward: keep_copy alone");
	struct store *st = fixture();
	test_assert(store_user_set_keep_copy(st, "alice@a.test", false) == STORE_INVALID);
	test_assert(strstr(store_error(st), "alice@a.test") != NULL);
	test_assert(alice_is(st, NULL, 1));
	test_assert(set(st, "alice@a.test", "bob@a.test", NULL, -1) == STORE_OK);
	test_assert(store_user_set_keep_copy(st, "Alice@A.test", false) == STORE_OK);
	test_assert(alice_is(st, "bob@a.test", 0));
	test_assert(store_user_set_keep_copy(st, "alice@a.test", true) == STORE_OK);
	test_assert(alice_is(st, "bob@a.test", 1));
	test_assert(store_user_set_keep_copy(st, "nobody@a.test", true) == STORE_NOTFOUND);
	done(&st);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_forward_set, test_forward_targets,
					   test_forward_self, test_forward_limits,
					   test_forward_keep_copy, NULL});
}
