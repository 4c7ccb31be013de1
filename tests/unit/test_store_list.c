/* SPDX-License-Identifier: MIT */
/*
 * test_store_list.c - store/store.h, distribution lists: the sender rules'
 * names, a list's address (normalised, in a hosted domain that is no alias,
 * sharing one name space with mailboxes and aliases, its bounce address
 * owner-LOCAL@DOMAIN included), owners, members and named senders (which
 * must exist when local, duplicates, the limit), reading and listing, and
 * what removing a list, a mailbox or a domain does to the rows around them.
 * Row counts are read through the store's census (store_backup.h).
 */
#include "store/store.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers ---------------------------------------------------------------- */

/* A store with the hosted domains every test uses: example.test
   (authoritative) with alice and bob, alias.test an alias of it, and
   relay.test (internal relay). */
static struct store *fixture(char **dir_r)
{
	struct store *st = test_store_new(dir_r);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_alias_add(st, "alias.test", "example.test") == STORE_OK);
	test_assert(store_domain_add(st, "relay.test", DOMAIN_INTERNAL_RELAY) == STORE_OK);
	test_assert(test_add_user(st, "alice@example.test", 0) == STORE_OK);
	test_assert(test_add_user(st, "bob@example.test", 0) == STORE_OK);
	return st;
}

static bool has_err(struct store *st, const char *part)
{
	bool ok = strstr(store_error(st), part) != NULL;
	if (!ok)
		fprintf(stderr, "error text '%s' lacks '%s'\n", store_error(st), part);
	return ok;
}

/* The members of a list joined by spaces ("" if none, "?" if no list). */
static const char *members_of(struct store *st, const char *list)
{
	static char out[1024];
	struct store_list l;
	if (store_list_get(st, list, &l) != STORE_OK)
		return "?";
	out[0] = '\0';
	for (size_t i = 0; i < l.n_members; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "",
			 l.members[i]);
	store_list_clear(&l);
	return out;
}

/* The lists whose address starts with `prefix`. */
struct prefixed {
	const char *prefix;
	size_t n;
};

static void prefixed_cb(const struct store_list *l, void *ctx)
{
	struct prefixed *p = ctx;
	p->n += strncmp(l->address, p->prefix, strlen(p->prefix)) == 0;
}

static size_t lists_starting(struct store *st, const char *prefix)
{
	struct prefixed p = {.prefix = prefix};
	test_assert(store_list_list(st, prefixed_cb, &p) == STORE_OK);
	return p.n;
}

/* --- the sender rules --------------------------------------------------------- */

static void test_senders_names(void)
{
	static const char *const names[] = {"anyone", "members", "authenticated", "named"};
	enum store_list_senders s;

	test_begin("list: sender rule names, both ways");
	for (int i = 0; i < 4; i++) {
		test_assert_str(store_list_senders_name((enum store_list_senders)i), names[i]);
		test_assert(store_list_senders_parse(names[i], &s) == 0 && (int)s == i);
	}
	test_assert(store_list_senders_parse("everyone", &s) != 0);
	test_assert(store_list_senders_parse("Members", &s) != 0);
	test_assert(store_list_senders_parse("", &s) != 0);
	test_assert_str(store_list_senders_name((enum store_list_senders)9), "?");
	test_end();
}

/* --- the list's address ----------------------------------------------------------- */

static void test_add(void)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct store_list l;

	test_begin("list add: normalised, read back, defaults");
	test_assert(store_list_add(st, "Staff@EXAMPLE.test", STORE_LIST_MEMBERS, NULL) == STORE_OK);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_OK);
	test_assert_str(l.address, "staff@example.test");
	test_assert(l.senders == STORE_LIST_MEMBERS && l.owner == NULL && l.id > 0);
	test_assert(l.n_members == 0 && l.members == NULL && l.n_named == 0);
	store_list_clear(&l);
	test_assert(l.address == NULL);
	/* read in any case, and through a domain alias */
	test_assert(store_list_get(st, "STAFF@Example.Test", &l) == STORE_OK);
	store_list_clear(&l);
	test_assert(store_list_get(st, "staff@alias.test", &l) == STORE_OK);
	test_assert_str(l.address, "staff@example.test");
	store_list_clear(&l);
	/* stored in the domain it stands for: that domain counts it */
	test_assert(test_census(st)->lists == 1);
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	test_assert(has_err(st, "1 distribution list"));
	/* a remote owner, a local one, the postmaster by name (stored as none) */
	test_assert(store_list_add(st, "a@example.test", STORE_LIST_ANYONE, "Boss@Far.Test") ==
		    STORE_OK);
	test_assert(store_list_add(st, "b@example.test", STORE_LIST_NAMED, "alice@example.test") ==
		    STORE_OK);
	test_assert(store_list_add(st, "c@example.test", STORE_LIST_AUTHENTICATED, "PostMaster") ==
		    STORE_OK);
	test_assert(store_list_add(st, "d@example.test", STORE_LIST_ANYONE, "staff@example.test") ==
		    STORE_OK); /* a list may own another */
	test_assert(store_list_get(st, "a@example.test", &l) == STORE_OK);
	test_assert_str(l.owner, "boss@far.test");
	store_list_clear(&l);
	test_assert(store_list_get(st, "b@example.test", &l) == STORE_OK);
	test_assert(l.senders == STORE_LIST_NAMED);
	test_assert_str(l.owner, "alice@example.test");
	store_list_clear(&l);
	test_assert(store_list_get(st, "c@example.test", &l) == STORE_OK);
	test_assert(l.senders == STORE_LIST_AUTHENTICATED && l.owner == NULL);
	store_list_clear(&l);
	/* a list in a relay domain is fine too */
	test_assert(store_list_add(st, "team@relay.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_end();

	test_begin("list add: refused addresses, domains, rules and owners");
	test_assert(store_list_add(st, "no address", STORE_LIST_ANYONE, NULL) == STORE_INVALID);
	test_assert(has_err(st, "'no address' is not a valid list address"));
	test_assert(store_list_add(st, "postmaster", STORE_LIST_ANYONE, NULL) == STORE_INVALID);
	test_assert(store_list_add(st, "x@elsewhere.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "domain elsewhere.test does not exist"));
	test_assert(store_list_add(st, "x@alias.test", STORE_LIST_ANYONE, NULL) == STORE_NOTFOUND);
	test_assert(has_err(st, "alias of example.test: add the list in example.test"));
	test_assert(store_list_add(st, "x@example.test", (enum store_list_senders)7, NULL) ==
		    STORE_INVALID);
	test_assert(has_err(st, "unknown sender rule 7"));
	test_assert(store_list_add(st, "x@example.test", STORE_LIST_ANYONE, "not valid") ==
		    STORE_INVALID);
	test_assert(has_err(st, "owner 'not valid' is not a valid address"));
	test_assert(store_list_add(st, "x@example.test", STORE_LIST_ANYONE, "ghost@example.test") ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "owner ghost@example.test does not exist"));
	test_assert(store_list_add(st, "x@example.test", STORE_LIST_ANYONE, "x@example.test") ==
		    STORE_INVALID);
	test_assert(has_err(st, "cannot own itself"));
	test_assert(store_list_add(st, "x@example.test", STORE_LIST_ANYONE,
				   "owner-x@example.test") == STORE_INVALID);
	/* a 59-character local part leaves no room for "owner-" (RFC 5321: 64) */
	char longer[128];
	snprintf(longer, sizeof(longer), "%.59s@example.test",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	test_assert(store_list_add(st, longer, STORE_LIST_ANYONE, NULL) == STORE_INVALID);
	test_assert(has_err(st, "too long for its bounce address"));
	longer[58] = '@'; /* 58 characters fit */
	snprintf(longer + 59, sizeof(longer) - 59, "example.test");
	test_assert(store_list_add(st, longer, STORE_LIST_ANYONE, NULL) == STORE_OK);
	/* nothing of the refused ones was written */
	test_assert(lists_starting(st, "x@") == 0);
	test_end();

	test_begin("list add: one name space with mailboxes, aliases and bounce addresses");
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(test_add_user(st, "owner-ops@example.test", 0) == STORE_OK);
	test_assert(store_list_add(st, "alice@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_EXISTS);
	test_assert(has_err(st, "address alice@example.test is in use already"));
	test_assert(store_list_add(st, "Sales@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_EXISTS);
	test_assert(store_list_add(st, "staff@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_EXISTS);
	/* another list's bounce address, and a list whose bounce address is taken */
	test_assert(store_list_add(st, "owner-staff@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_EXISTS);
	test_assert(store_list_add(st, "ops@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_EXISTS);
	test_assert(has_err(st, "owner-ops@example.test, the bounce address of list "
				"ops@example.test, is in use already"));
	/* the same local part in another domain is another address */
	test_assert(store_list_add(st, "staff@relay.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_end();

	test_begin("list add: a failed commit leaves nothing (S7)");
	store_test_fail_next_commit(st);
	test_assert(store_list_add(st, "late@example.test", STORE_LIST_ANYONE, NULL) == STORE_TEMP);
	test_assert(store_list_get(st, "late@example.test", &l) == STORE_NOTFOUND);
	test_assert(has_err(st, "no list late@example.test"));
	test_assert(store_list_add(st, "late@example.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_end();

	store_close(&st);
	test_rmtree(dir);
}

static void test_set(void)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct store_list l;

	test_begin("list set: rule and owner, refusals keep the list as it was");
	test_assert(store_list_add(st, "staff@example.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_list_set(st, "Staff@example.test", STORE_LIST_NAMED,
				   "bob@example.test") == STORE_OK);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_OK);
	test_assert(l.senders == STORE_LIST_NAMED);
	test_assert_str(l.owner, "bob@example.test");
	store_list_clear(&l);
	test_assert(store_list_set(st, "staff@example.test", STORE_LIST_MEMBERS,
				   "ghost@example.test") == STORE_NOTFOUND);
	test_assert(store_list_set(st, "staff@example.test", STORE_LIST_MEMBERS,
				   "staff@example.test") == STORE_INVALID);
	test_assert(store_list_set(st, "staff@example.test", (enum store_list_senders) - 1, NULL) ==
		    STORE_INVALID);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_OK);
	test_assert(l.senders == STORE_LIST_NAMED);
	test_assert_str(l.owner, "bob@example.test");
	store_list_clear(&l);
	/* no owner: back to the postmaster */
	test_assert(store_list_set(st, "staff@example.test", STORE_LIST_MEMBERS, NULL) == STORE_OK);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_OK);
	test_assert(l.senders == STORE_LIST_MEMBERS && l.owner == NULL);
	store_list_clear(&l);
	test_assert(store_list_set(st, "none@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "no list none@example.test"));
	test_assert(store_list_set(st, "alice@example.test", STORE_LIST_ANYONE, NULL) ==
		    STORE_NOTFOUND); /* a mailbox is no list */
	test_assert(store_list_set(st, "bad", STORE_LIST_ANYONE, NULL) == STORE_INVALID);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

/* --- members and named senders ----------------------------------------------------- */

static void test_members(void)
{
	char *dir;
	struct store *st = fixture(&dir);

	test_begin("list member add: mailboxes, aliases, lists, remote, itself");
	test_assert(store_list_add(st, "staff@example.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_list_add(st, "all@example.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_alias_add(st, "sales@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "Alice@Example.Test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "STAFF@example.test", "sales@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "far@remote.test") == STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "all@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "staff@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "postmaster") == STORE_OK);
	/* unknown in a relay domain: passed on; through a domain alias: checked there */
	test_assert(store_list_member_add(st, "staff@example.test", "who@relay.test") == STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "bob@alias.test") == STORE_OK);
	/* A -> B -> A: nesting both ways is allowed, delivery flattens it */
	test_assert(store_list_member_add(st, "all@example.test", "staff@example.test") ==
		    STORE_OK);
	test_assert_str(members_of(st, "staff@example.test"),
			"alice@example.test all@example.test bob@alias.test far@remote.test "
			"postmaster sales@example.test staff@example.test who@relay.test");
	test_assert_str(members_of(st, "all@example.test"), "staff@example.test");
	test_assert(test_census(st)->list_members == 9);
	test_end();

	test_begin("list member add: refused members and lists");
	test_assert(store_list_member_add(st, "staff@example.test", "ghost@example.test") ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "member ghost@example.test does not exist: add that mailbox, "
				"alias or list first"));
	test_assert(store_list_member_add(st, "staff@example.test", "ghost@alias.test") ==
		    STORE_NOTFOUND);
	test_assert(store_list_member_add(st, "staff@example.test", "alice@example.test") ==
		    STORE_EXISTS);
	test_assert(has_err(st, "alice@example.test is a member of list staff@example.test "
				"already"));
	test_assert(store_list_member_add(st, "staff@example.test", "FAR@remote.test") ==
		    STORE_EXISTS);
	test_assert(store_list_member_add(st, "staff@example.test", "two words") == STORE_INVALID);
	test_assert(has_err(st, "member 'two words' is not a valid address"));
	test_assert(store_list_member_add(st, "none@example.test", "alice@example.test") ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "no list none@example.test"));
	test_assert(store_list_member_add(st, "alice@example.test", "bob@example.test") ==
		    STORE_NOTFOUND);
	test_assert(store_list_member_add(st, "bad list", "bob@example.test") == STORE_INVALID);
	test_assert(test_census(st)->list_members == 9);
	test_end();

	test_begin("list member remove");
	test_assert(store_list_member_remove(st, "staff@example.test", "FAR@REMOTE.TEST") ==
		    STORE_OK);
	test_assert(store_list_member_remove(st, "staff@example.test", "far@remote.test") ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "far@remote.test is no member of list staff@example.test"));
	test_assert(store_list_member_remove(st, "staff@example.test", "bob@example.test") ==
		    STORE_NOTFOUND); /* bob is a member only through the alias */
	test_assert(store_list_member_remove(st, "none@example.test", "alice@example.test") ==
		    STORE_NOTFOUND);
	test_assert(store_list_member_remove(st, "staff@example.test", "x y") == STORE_INVALID);
	test_assert(store_list_member_remove(st, "staff@example.test", "staff@example.test") ==
		    STORE_OK);
	test_assert(test_census(st)->list_members == 7);
	test_end();

	test_begin("list member add: at most 10,000 members of a list's own");
	test_assert(store_list_add(st, "big@example.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_test_list_fill(st, "big@example.test", "m", "@remote.test", 9999) ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "big@example.test", "last@remote.test") == STORE_OK);
	test_assert(store_list_member_add(st, "big@example.test", "more@remote.test") ==
		    STORE_INVALID);
	test_assert(has_err(st, "has 10000 members already"));
	test_assert(store_list_member_remove(st, "big@example.test", "m1@remote.test") == STORE_OK);
	test_assert(store_list_member_add(st, "big@example.test", "more@remote.test") == STORE_OK);
	/* senders are counted apart */
	test_assert(store_list_sender_add(st, "big@example.test", "boss@remote.test") == STORE_OK);
	struct store_list l;
	test_assert(store_list_get(st, "big@example.test", &l) == STORE_OK);
	test_assert(l.n_members == 10000 && l.n_named == 1);
	store_list_clear(&l);
	test_end();

	store_close(&st);
	test_rmtree(dir);
}

static void test_senders(void)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct store_list l;

	test_begin("list sender add|remove: any valid address, once");
	test_assert(store_list_add(st, "staff@example.test", STORE_LIST_NAMED, NULL) == STORE_OK);
	test_assert(store_list_sender_add(st, "staff@example.test", "Boss@Remote.Test") ==
		    STORE_OK);
	test_assert(store_list_sender_add(st, "staff@example.test", "alice@example.test") ==
		    STORE_OK);
	/* a sender need not exist, even in an authoritative domain */
	test_assert(store_list_sender_add(st, "staff@example.test", "ghost@example.test") ==
		    STORE_OK);
	test_assert(store_list_sender_add(st, "staff@example.test", "boss@remote.test") ==
		    STORE_EXISTS);
	test_assert(has_err(st, "boss@remote.test is a sender of list staff@example.test already"));
	test_assert(store_list_sender_add(st, "staff@example.test", "postmaster") == STORE_INVALID);
	test_assert(store_list_sender_add(st, "staff@example.test", "") == STORE_INVALID);
	test_assert(has_err(st, "sender '' is not a valid address"));
	test_assert(store_list_sender_add(st, "none@example.test", "boss@remote.test") ==
		    STORE_NOTFOUND);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_OK);
	test_assert(l.n_named == 3 && l.n_members == 0);
	test_assert(l.n_named == 3 && strcmp(l.named[0], "alice@example.test") == 0 &&
		    strcmp(l.named[1], "boss@remote.test") == 0 &&
		    strcmp(l.named[2], "ghost@example.test") == 0);
	store_list_clear(&l);
	test_assert(store_list_sender_remove(st, "staff@example.test", "GHOST@example.test") ==
		    STORE_OK);
	test_assert(store_list_sender_remove(st, "staff@example.test", "ghost@example.test") ==
		    STORE_NOTFOUND);
	test_assert(has_err(st, "ghost@example.test is no sender of list staff@example.test"));
	test_assert(store_list_sender_remove(st, "none@example.test", "boss@remote.test") ==
		    STORE_NOTFOUND);
	/* members and senders are apart: a sender is no member */
	test_assert(store_list_member_remove(st, "staff@example.test", "boss@remote.test") ==
		    STORE_NOTFOUND);
	test_assert(test_census(st)->list_senders == 2 && test_census(st)->list_members == 0);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

/* --- reading ------------------------------------------------------------------------ */

struct seen {
	char text[512];
	int n;
};

static void collect(const struct store_list *l, void *p)
{
	struct seen *s = p;
	size_t k = strlen(s->text);
	snprintf(s->text + k, sizeof(s->text) - k, "%s%s:%s:%zu:%zu", s->n ? " " : "", l->address,
		 store_list_senders_name(l->senders), l->n_members, l->n_named);
	s->n++;
}

static void test_get_list(void)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct store_list l;
	struct seen s = {.n = 0};

	test_begin("list get and list list");
	test_assert(store_list_list(st, collect, &s) == STORE_OK && s.n == 0);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_NOTFOUND);
	test_assert(l.address == NULL && l.members == NULL);
	test_assert(has_err(st, "no list staff@example.test (list list shows them)"));
	test_assert(store_list_get(st, "alice@example.test", &l) == STORE_NOTFOUND);
	test_assert(store_list_get(st, "nonsense", &l) == STORE_INVALID);
	test_assert(store_list_add(st, "zeta@example.test", STORE_LIST_NAMED, NULL) == STORE_OK);
	test_assert(store_list_add(st, "alpha@example.test", STORE_LIST_MEMBERS, NULL) == STORE_OK);
	test_assert(store_list_member_add(st, "alpha@example.test", "bob@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "alpha@example.test", "alice@example.test") ==
		    STORE_OK);
	test_assert(store_list_sender_add(st, "zeta@example.test", "x@remote.test") == STORE_OK);
	test_assert(store_list_list(st, collect, &s) == STORE_OK);
	test_assert_str(s.text, "alpha@example.test:members:2:0 zeta@example.test:named:0:1");
	test_assert(store_list_get(st, "alpha@example.test", &l) == STORE_OK);
	test_assert(l.n_members == 2 && strcmp(l.members[0], "alice@example.test") == 0 &&
		    strcmp(l.members[1], "bob@example.test") == 0);
	store_list_clear(&l);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

/* --- removal, and the directory around lists ------------------------------------------ */

static void test_remove(void)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct store_list l;

	test_begin("list remove: its rows, its place in other lists, lists it owned");
	test_assert(store_list_add(st, "staff@example.test", STORE_LIST_NAMED, NULL) == STORE_OK);
	test_assert(store_list_add(st, "all@example.test", STORE_LIST_ANYONE,
				   "staff@example.test") == STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "alice@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "staff@example.test", "staff@example.test") ==
		    STORE_OK);
	test_assert(store_list_sender_add(st, "staff@example.test", "boss@remote.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "all@example.test", "staff@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "all@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_list_remove(st, "STAFF@example.test") == STORE_OK);
	test_assert(store_list_get(st, "staff@example.test", &l) == STORE_NOTFOUND);
	test_assert_str(members_of(st, "all@example.test"), "bob@example.test");
	test_assert(store_list_get(st, "all@example.test", &l) == STORE_OK);
	test_assert(l.owner == NULL);
	store_list_clear(&l);
	test_assert(test_census(st)->list_members == 1 && test_census(st)->list_senders == 0);
	test_assert(test_census(st)->lists == 1);
	test_assert(store_list_remove(st, "staff@example.test") == STORE_NOTFOUND);
	test_assert(has_err(st, "no list staff@example.test"));
	test_assert(store_list_remove(st, "alice@example.test") == STORE_NOTFOUND);
	test_assert(store_list_remove(st, "") == STORE_INVALID);
	/* the address and its bounce address are free again */
	test_assert(test_add_user(st, "staff@example.test", 0) == STORE_OK);
	test_assert(store_alias_add(st, "owner-staff@example.test", "bob@example.test") ==
		    STORE_OK);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

static void test_directory_around(void)
{
	char *dir;
	struct store *st = fixture(&dir);
	struct store_list l;

	test_begin("mailbox and alias add refuse a list's address and bounce address");
	test_assert(store_list_add(st, "staff@example.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(test_add_user(st, "Staff@example.test", 0) == STORE_EXISTS);
	test_assert(has_err(st, "staff@example.test belongs to a distribution list"));
	test_assert(store_user_can_add(st, "staff@example.test") == STORE_EXISTS);
	test_assert(test_add_user(st, "owner-staff@example.test", 0) == STORE_EXISTS);
	test_assert(store_user_can_add(st, "owner-staff@example.test") == STORE_EXISTS);
	test_assert(store_alias_add(st, "staff@example.test", "alice@example.test") ==
		    STORE_EXISTS);
	test_assert(has_err(st, "cannot be an alias (list list shows them)"));
	test_assert(store_alias_add(st, "owner-staff@example.test", "alice@example.test") ==
		    STORE_EXISTS);
	/* other local parts stay free */
	test_assert(store_user_can_add(st, "staffer@example.test") == STORE_OK);
	test_assert(store_alias_add(st, "owner@example.test", "alice@example.test") == STORE_OK);
	test_assert(test_census(st)->aliases == 1);
	test_end();

	test_begin("domain remove refuses while lists use the domain");
	test_assert(store_domain_add(st, "lists.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_list_add(st, "a@lists.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_list_add(st, "b@lists.test", STORE_LIST_ANYONE, NULL) == STORE_OK);
	test_assert(store_domain_remove(st, "lists.test") == STORE_EXISTS);
	test_assert(has_err(st, "domain lists.test is in use by 2 distribution lists: remove "
				"them first (list list shows them)"));
	test_assert(store_list_remove(st, "a@lists.test") == STORE_OK);
	test_assert(store_domain_remove(st, "lists.test") == STORE_EXISTS);
	test_assert(has_err(st, "in use by 1 distribution list:"));
	test_assert(store_list_remove(st, "b@lists.test") == STORE_OK);
	test_assert(store_domain_remove(st, "lists.test") == STORE_OK);
	/* counted beside mailboxes and aliases */
	test_assert(store_domain_remove(st, "example.test") == STORE_EXISTS);
	test_assert(has_err(st, "2 mailboxes, 1 alias, 1 domain alias, 1 distribution list"));
	test_end();

	test_begin("user remove leaves no rows behind");
	int64_t alice = test_mailbox_id(st, "alice@example.test");
	int64_t bob = test_mailbox_id(st, "bob@example.test");
	char key[128];
	test_assert(alice > 0 && bob > 0);
	test_assert(store_list_add(st, "team@example.test", STORE_LIST_ANYONE,
				   "alice@example.test") == STORE_OK);
	test_assert(store_list_member_add(st, "team@example.test", "alice@example.test") ==
		    STORE_OK);
	test_assert(store_list_member_add(st, "team@example.test", "bob@example.test") == STORE_OK);
	test_assert(store_list_sender_add(st, "team@example.test", "alice@example.test") ==
		    STORE_OK);
	struct store_vacation v = {.subject = "s", .body = "b", .interval_days = 7};
	for (int i = 0; i < 2; i++) {
		int64_t id = i == 0 ? alice : bob;
		test_assert(store_vacation_set(st,
					       i == 0 ? "alice@example.test" : "bob@example.test",
					       &v) == STORE_OK);
		test_assert(store_test_sent_add(st, id, 1, 2) == STORE_OK);
		test_assert(store_test_sent_add(st, id, 2, 3) == STORE_OK);
		snprintf(key, sizeof(key), "vacation:%lld:x@remote.test", (long long)id);
		test_assert(store_test_once_add(st, key, 9000000000) == STORE_OK);
		snprintf(key, sizeof(key), STORE_ONCE_QUOTA_WARN "%lld", (long long)id);
		test_assert(store_test_once_add(st, key, 9000000000) == STORE_OK);
	}
	test_assert(test_census(st)->vacations == 2 && test_census(st)->sent == 4);
	test_assert(test_census(st)->once == 4);
	test_assert(store_user_remove(st, "alice@example.test") == STORE_OK);
	/* none of alice's rows is left: no auto-reply, no submission, no key */
	struct store_vacation g;
	uint64_t sm = 99, sr = 99;
	test_assert(store_vacation_get_id(st, alice, &g) == STORE_NOTFOUND);
	test_assert(store_sent_count(st, alice, 0, &sm, &sr) == STORE_OK && sm == 0 && sr == 0);
	snprintf(key, sizeof(key), "vacation:%lld:", (long long)alice);
	test_assert(test_once(st, key, true) == 0);
	snprintf(key, sizeof(key), STORE_ONCE_QUOTA_WARN "%lld", (long long)alice);
	test_assert(test_once(st, key, false) == 0);
	/* bob's rows stay */
	test_assert(test_census(st)->vacations == 1 && test_census(st)->sent == 2);
	test_assert(test_census(st)->once == 2);
	test_assert(store_vacation_get_id(st, bob, &g) == STORE_OK);
	store_vacation_clear(&g);
	test_assert(store_sent_count(st, bob, 0, &sm, &sr) == STORE_OK && sm == 2 && sr == 5);
	snprintf(key, sizeof(key), "vacation:%lld:", (long long)bob);
	test_assert(test_once(st, key, true) == 1);
	snprintf(key, sizeof(key), STORE_ONCE_QUOTA_WARN "%lld", (long long)bob);
	test_assert(test_once(st, key, false) == 1);
	/* gone from the list, which now bounces to the postmaster; a named
	   sender needs no mailbox and stays */
	test_assert_str(members_of(st, "team@example.test"), "bob@example.test");
	test_assert(store_list_get(st, "team@example.test", &l) == STORE_OK);
	test_assert(l.owner == NULL && l.n_named == 1);
	store_list_clear(&l);
	if (store_backend() == STORE_BACKEND_SQLITE) /* PostgreSQL enforces its own */
		test_assert(test_sqlite_int(dir, "SELECT count(*) FROM pragma_foreign_key_check") ==
			    0);
	test_end();
	store_close(&st);
	test_rmtree(dir);
}

int main(void)
{
	return test_run((void (*[])(void)){test_senders_names, test_add, test_set, test_members,
					   test_senders, test_get_list, test_remove,
					   test_directory_around, NULL});
}
