/* SPDX-License-Identifier: MIT */
/*
 * test_store_dkim.c - store/store.h "DKIM signing keys": keys only for a
 * hosted domain that is no alias, one active key per algorithm, unique
 * selectors per domain (case folded), rotation in one transaction, state
 * changes, removal of one or all, listing per domain or all in its order,
 * the change counter moving with every change and not with a refusal, bad
 * selectors and algorithms; and the queue's local_origin flag stored by
 * store_submit() and read back by store_queue_load().
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
	test_assert(store_domain_add(st, "b.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_alias_add(st, "alias.test", "a.test") == STORE_OK);
	return st;
}

static void done(struct store **st)
{
	store_close(st);
	test_rmtree(dir);
	dir = NULL;
}

static struct store_dkim_key key(const char *domain, const char *sel, const char *alg)
{
	return (struct store_dkim_key){.domain = (char *)domain,
				       .selector = (char *)sel,
				       .algorithm = (char *)alg,
				       .bits = strcmp(alg, "rsa") == 0 ? 2048 : 256,
				       .private_pem = "-----BEGIN PRIVATE KEY-----\nx\n",
				       .state = STORE_DKIM_ACTIVE};
}

struct pems {
	size_t n, begins; /* keys, and those whose PEM is a PKCS#8 private key */
};

static void pem_cb(const struct store_dkim_key *k, void *p)
{
	struct pems *s = p;
	static const char begin[] = "-----BEGIN PRIVATE KEY-----";
	s->n++;
	s->begins += k->private_pem != NULL && strncmp(k->private_pem, begin, strlen(begin)) == 0;
}

static int64_t changes(struct store *st)
{
	int64_t n = -1;
	test_assert(store_dkim_changes(st, &n) == STORE_OK);
	return n;
}

struct seen {
	char text[1024];
	size_t n;
};

static void seen_cb(const struct store_dkim_key *k, void *p)
{
	struct seen *s = p;
	size_t l = strlen(s->text);
	snprintf(s->text + l, sizeof(s->text) - l, "%s%s/%s/%s/%u/%s", s->n > 0 ? " " : "",
		 k->domain, k->selector, k->algorithm, k->bits, store_dkim_state_name(k->state));
	test_assert(k->private_pem != NULL && strncmp(k->private_pem, "-----BEGIN", 10) == 0);
	test_assert(k->created > 0);
	s->n++;
}

static const char *listing(struct store *st, const char *domain)
{
	static struct seen s;
	memset(&s, 0, sizeof(s));
	test_assert(store_dkim_list(st, domain, seen_cb, &s) == STORE_OK);
	return s.text;
}

static void test_dkim_add(void)
{
	test_begin("store dkim: add, one active key per algorithm, unique selectors");
	struct store *st = fixture();
	int64_t c0 = changes(st);
	struct store_dkim_key k = key("A.Test", "Sel1", "rsa");
	test_assert(store_dkim_add(st, &k) == STORE_OK);
	test_assert(changes(st) == c0 + 1);
	test_assert(strcmp(listing(st, NULL), "a.test/sel1/rsa/2048/active") == 0);
	/* a second active rsa key: refused, pointing to rotate */
	k = key("a.test", "sel2", "rsa");
	test_assert(store_dkim_add(st, &k) == STORE_EXISTS);
	test_assert(strstr(store_error(st), "rotate") != NULL);
	/* the same selector (any case), even for another algorithm */
	k = key("a.test", "SEL1", "ed25519");
	test_assert(store_dkim_add(st, &k) == STORE_EXISTS);
	test_assert(changes(st) == c0 + 1);
	k = key("a.test", "e1", "ed25519");
	test_assert(store_dkim_add(st, &k) == STORE_OK);
	/* a retiring key may be added beside the active one */
	k = key("a.test", "old", "rsa");
	k.state = STORE_DKIM_RETIRING;
	test_assert(store_dkim_add(st, &k) == STORE_OK);
	k = key("b.test", "sel1", "rsa");
	test_assert(store_dkim_add(st, &k) == STORE_OK);
	test_assert(strcmp(listing(st, NULL), "a.test/e1/ed25519/256/active "
					      "a.test/sel1/rsa/2048/active "
					      "a.test/old/rsa/2048/retiring "
					      "b.test/sel1/rsa/2048/active") == 0);
	test_assert(strcmp(listing(st, "B.test"), "b.test/sel1/rsa/2048/active") == 0);
	test_assert(strcmp(listing(st, "nowhere.test"), "") == 0);
	/* domains: unknown, alias, invalid */
	k = key("nowhere.test", "s", "rsa");
	test_assert(store_dkim_add(st, &k) == STORE_NOTFOUND);
	k = key("alias.test", "s", "rsa");
	test_assert(store_dkim_add(st, &k) == STORE_INVALID);
	test_assert(strstr(store_error(st), "alias") != NULL);
	k = key("not a domain", "s", "rsa");
	test_assert(store_dkim_add(st, &k) == STORE_INVALID);
	/* selectors and algorithms */
	const char *bad[] = {
	    "",	    "-a",  "a-",
	    "a..b", ".a",  "a.",
	    "a_b",  "a b", "0123456789012345678901234567890123456789012345678901234567890123"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k = key("b.test", bad[i], "ed25519");
		test_assert(store_dkim_add(st, &k) == STORE_INVALID);
	}
	test_assert(store_dkim_selector_valid("mr202612e-2") == 0);
	test_assert(store_dkim_selector_valid("a.b-c.d9") == 0);
	k = key("b.test", "s", "dsa");
	test_assert(store_dkim_add(st, &k) == STORE_INVALID);
	k = key("b.test", "s", "rsa");
	k.private_pem = "";
	test_assert(store_dkim_add(st, &k) == STORE_INVALID);
	done(&st);
	test_end();
}

static void test_dkim_rotate_remove(void)
{
	test_begin("store dkim: rotate, set state, remove one or all, the change counter");
	struct store *st = fixture();
	struct store_dkim_key k = key("a.test", "one", "rsa");
	char *old = NULL;
	test_assert(store_dkim_rotate(st, &k, &old) == STORE_NOTFOUND); /* nothing to rotate */
	test_assert(store_dkim_add(st, &k) == STORE_OK);
	int64_t c = changes(st);
	k = key("a.test", "two", "rsa");
	test_assert(store_dkim_rotate(st, &k, &old) == STORE_OK);
	test_assert(old != NULL && strcmp(old, "one") == 0);
	free(old);
	old = NULL;
	test_assert(changes(st) == c + 1);
	test_assert(strcmp(listing(st, "a.test"), "a.test/two/rsa/2048/active "
						  "a.test/one/rsa/2048/retiring") == 0);
	/* a rotation to a selector in use changes nothing */
	k = key("a.test", "one", "rsa");
	test_assert(store_dkim_rotate(st, &k, &old) == STORE_EXISTS && old == NULL);
	test_assert(strcmp(listing(st, "a.test"), "a.test/two/rsa/2048/active "
						  "a.test/one/rsa/2048/retiring") == 0);
	test_assert(changes(st) == c + 1);
	/* no ed25519 key to rotate */
	k = key("a.test", "e", "ed25519");
	test_assert(store_dkim_rotate(st, &k, &old) == STORE_NOTFOUND);
	test_assert(store_dkim_set_state(st, "a.test", "two", STORE_DKIM_RETIRING) == STORE_OK);
	test_assert(store_dkim_set_state(st, "a.test", "nope", STORE_DKIM_ACTIVE) ==
		    STORE_NOTFOUND);
	test_assert(changes(st) == c + 2);
	test_assert(store_dkim_remove(st, "a.test", "ONE") == STORE_OK);
	test_assert(store_dkim_remove(st, "a.test", "one") == STORE_NOTFOUND);
	test_assert(strcmp(listing(st, NULL), "a.test/two/rsa/2048/retiring") == 0);
	k = key("b.test", "x", "ed25519");
	test_assert(store_dkim_add(st, &k) == STORE_OK);
	test_assert(store_dkim_remove(st, "a.test", NULL) == STORE_OK);
	test_assert(store_dkim_remove(st, "a.test", NULL) == STORE_NOTFOUND);
	test_assert(strcmp(listing(st, NULL), "b.test/x/ed25519/256/active") == 0);
	test_assert(changes(st) == c + 5);
	/* the keys are in the database (and so in backups): another handle
	   reads the one left, its private key as it was given */
	struct store *other = NULL;
	test_assert(store_open(dir, false, &other) == STORE_OK);
	test_assert(test_census(other)->dkim_keys == 1);
	struct pems p = {0};
	test_assert(store_dkim_list(other, NULL, pem_cb, &p) == STORE_OK);
	test_assert(p.n == 1 && p.begins == 1);
	store_close(&other);
	done(&st);
	test_end();
}

static void test_dkim_local_origin(void)
{
	test_begin("store dkim: the queue keeps whether a message originates here");
	struct store *st = fixture();
	struct store_remote_rcpt r = {.address = "x@far.test"};
	struct store_submission subs[2] = {
	    {.qid = "Q1",
	     .sender = "a@a.test",
	     .body = "Subject: x\r\n\r\nx\r\n",
	     .len = 17,
	     .remote = &r,
	     .n_remote = 1,
	     .local_origin = true},
	    {.qid = "Q2",
	     .sender = "o@out.test",
	     .body = "Subject: y\r\n\r\ny\r\n",
	     .len = 17,
	     .remote = &r,
	     .n_remote = 1},
	};
	test_assert(store_submit(st, subs, 2) == STORE_OK);
	test_assert(subs[0].status == STORE_OK && subs[1].status == STORE_OK);
	struct store_queue_msg m;
	test_assert(store_queue_load(st, "Q1", &m) == STORE_OK && m.local_origin);
	store_queue_msg_clear(&m);
	test_assert(store_queue_load(st, "Q2", &m) == STORE_OK && !m.local_origin);
	store_queue_msg_clear(&m);
	done(&st);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_dkim_add, test_dkim_rotate_remove,
					   test_dkim_local_origin, NULL});
}
