/* SPDX-License-Identifier: MIT */
/*
 * test_store_limits.c - store/store.h, quota levels and sending limits
 * (schema 8): a mailbox's own values against its domain's defaults, setting
 * and clearing them, refusals, the receive quota taken from the domain, the
 * submissions counted over a window, the once-key of the quota notice
 * forgotten on expunge and when a level moves, and the migration from
 * schema 7 keeping what a quota meant. Rows the delivery path writes only
 * at the present time (sent, once) are made through the store's test seams
 * (store_backup.h); the schema-7 store is SQLite's, written in its file.
 */
#include "store/store.h"
#include "test_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG "Subject: x\r\n\r\n0123456789012345678901234567890123456789\r\n"
#define MSG_LEN (sizeof(MSG) - 1)

static struct store *fresh(char **dir_r)
{
	struct store *st = test_store_new(dir_r);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	test_assert(store_domain_add(st, "other.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	return st;
}

static int64_t new_user(struct store *st, const char *address, int64_t quota)
{
	struct store_user_new nu = {.address = address, .pw_hash = "$y$x", .quota = quota};
	test_assert(store_user_add(st, &nu) == STORE_OK);
	return test_mailbox_id(st, address);
}

static struct store_user user_of(struct store *st, const char *address)
{
	struct store_user u;
	memset(&u, 0, sizeof(u));
	test_assert(store_user_lookup(st, address, &u) == STORE_OK);
	return u;
}

static int64_t own(struct store *st, const char *address, enum store_limit l)
{
	struct store_user u = user_of(st, address);
	int64_t v = u.own.v[l];
	store_user_clear(&u);
	return v;
}

static int64_t eff(struct store *st, const char *address, enum store_limit l)
{
	struct store_user u = user_of(st, address);
	int64_t v = u.effective.v[l];
	store_user_clear(&u);
	return v;
}

/* Is the mailbox's quota notice recorded as sent? */
static bool notice_kept(struct store *st, int64_t id)
{
	char key[64];
	snprintf(key, sizeof(key), "%s%lld", STORE_ONCE_QUOTA_WARN, (long long)id);
	return test_once(st, key, false) == 1;
}

/* Records the notice as the delivery path does: once, without end. */
static void notice_sent(struct store *st, int64_t id)
{
	char key[64];
	snprintf(key, sizeof(key), "%s%lld", STORE_ONCE_QUOTA_WARN, (long long)id);
	test_assert(store_test_once_add(st, key, INT64_MAX) == STORE_OK);
	test_assert(notice_kept(st, id));
}

static void deliver_n(struct store *st, int64_t id, int n)
{
	int res[1];
	for (int i = 0; i < n; i++)
		test_assert(store_deliver(st, &id, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
}

/* Expunges the first n messages of the mailbox. */
static void expunge_n(struct store *st, int64_t id, size_t n)
{
	struct store_msg *m = NULL;
	size_t have = 0;
	test_assert(store_mailbox_load(st, id, &m, &have) == STORE_OK);
	test_assert(have >= n);
	int64_t ids[16];
	for (size_t i = 0; i < n && i < 16; i++)
		ids[i] = m[i].id;
	free(m);
	test_assert(store_expunge(st, id, ids, n) == STORE_OK);
}

static void test_names(void)
{
	static const char *const want[] = {
	    "quota-warn",	"quota-send",	       "quota",
	    "max-message-size", "max-recipients",      "messages-per-hour",
	    "messages-per-day", "recipients-per-hour", "recipients-per-day"};

	test_begin("store limits: the name of each limit");
	test_assert(STORE_LIMIT_COUNT == sizeof(want) / sizeof(want[0]));
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert_str(store_limit_name((enum store_limit)i), want[i]);
	test_assert(store_limit_name(STORE_LIMIT_COUNT) == NULL);
	test_end();
}

/* What store_user_list gave for one mailbox (id). */
struct seen {
	int64_t id, own_mph, eff_rph;
	int n;
};

static void listed(const struct store_user *lu, void *ctx)
{
	struct seen *s = ctx;
	s->n++;
	if (lu->id == s->id) {
		s->own_mph = lu->own.v[STORE_LIMIT_MESSAGES_HOUR];
		s->eff_rph = lu->effective.v[STORE_LIMIT_RECIPIENTS_HOUR];
	}
}

static void test_inheritance(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	struct store_limits d;

	test_begin("store limits: own values, domain defaults, set and clear");
	new_user(st, "alice@example.test", STORE_INHERIT);
	new_user(st, "bob@example.test", 5000);
	new_user(st, "carol@other.test", STORE_INHERIT);

	/* nothing set anywhere: every limit inherited, and none */
	struct store_user u = user_of(st, "alice@example.test");
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(u.own.v[i] == STORE_INHERIT && u.effective.v[i] == 0);
	test_assert(u.quota == 0 && u.forward == NULL && u.keep_copy && !u.vacation);
	store_user_clear(&u);
	test_assert(own(st, "bob@example.test", STORE_LIMIT_QUOTA) == 5000);
	test_assert(eff(st, "bob@example.test", STORE_LIMIT_QUOTA) == 5000);
	test_assert(store_domain_limits(st, "EXAMPLE.test", &d) == STORE_OK);
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(d.v[i] == 0);

	/* the domain's defaults reach the mailboxes without a value of their own */
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(store_domain_set_limit(st, "example.test", (enum store_limit)i,
						   1000 * (i + 1)) == STORE_OK);
	test_assert(store_domain_limits(st, "example.test", &d) == STORE_OK);
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(d.v[i] == 1000 * (i + 1));
	u = user_of(st, "alice@example.test");
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(u.own.v[i] == STORE_INHERIT && u.effective.v[i] == 1000 * (i + 1));
	test_assert(u.quota == 3000); /* `quota` is the effective receive quota */
	store_user_clear(&u);
	/* bob's own quota wins; the rest he takes from the domain */
	test_assert(eff(st, "bob@example.test", STORE_LIMIT_QUOTA) == 5000);
	test_assert(eff(st, "bob@example.test", STORE_LIMIT_RECIPIENTS_DAY) == 9000);
	/* another domain's mailbox is untouched */
	test_assert(eff(st, "carol@other.test", STORE_LIMIT_QUOTA) == 0);

	/* a mailbox's own value of each, then 0 (none, against the domain's),
	   then the domain's again */
	for (int i = 0; i < STORE_LIMIT_COUNT; i++) {
		enum store_limit l = (enum store_limit)i;
		test_assert(store_user_set_limit(st, "ALICE@example.test", l, 7) == STORE_OK);
		test_assert(own(st, "alice@example.test", l) == 7);
		test_assert(eff(st, "alice@example.test", l) == 7);
		test_assert(store_user_set_limit(st, "alice@example.test", l, 0) == STORE_OK);
		test_assert(own(st, "alice@example.test", l) == 0);
		test_assert(eff(st, "alice@example.test", l) == 0);
		test_assert(store_user_set_limit(st, "alice@example.test", l, STORE_INHERIT) ==
			    STORE_OK);
		test_assert(eff(st, "alice@example.test", l) == 1000 * (i + 1));
	}
	/* a domain default back to none */
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA, 0) == STORE_OK);
	test_assert(eff(st, "alice@example.test", STORE_LIMIT_QUOTA) == 0);
	test_assert(eff(st, "bob@example.test", STORE_LIMIT_QUOTA) == 5000);

	/* the listing carries the same values */
	int64_t ia = test_mailbox_id(st, "alice@example.test");
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_MESSAGES_HOUR, 3) ==
		    STORE_OK);
	struct seen seen = {.id = ia};
	test_assert(store_user_list(st, "example.test", listed, &seen) == STORE_OK);
	test_assert(seen.n == 2 && seen.own_mph == 3 && seen.eff_rph == 8000);

	/* the built-in postmaster has no domain: its own values, else none */
	test_assert(eff(st, "postmaster", STORE_LIMIT_QUOTA_WARN) == 0);
	test_assert(store_user_set_limit(st, "Postmaster", STORE_LIMIT_QUOTA_WARN, 10) == STORE_OK);
	test_assert(eff(st, "postmaster", STORE_LIMIT_QUOTA_WARN) == 10);
	test_assert(store_user_set_limit(st, "postmaster", STORE_LIMIT_QUOTA_WARN, STORE_INHERIT) ==
		    STORE_OK);
	test_assert(eff(st, "postmaster", STORE_LIMIT_QUOTA_WARN) == 0);

	/* forwarding and auto-reply as the mailbox row and vacations hold them */
	const char *const far[] = {"x@far.test", "y@far.test"};
	test_assert(store_user_set_forward(st, "alice@example.test", far, 2, 0) == STORE_OK);
	struct store_vacation v = {.subject = "s", .body = "b", .interval_days = 7};
	test_assert(store_vacation_set(st, "alice@example.test", &v) == STORE_OK);
	u = user_of(st, "alice@example.test");
	test_assert_str(u.forward, "x@far.test,y@far.test");
	test_assert(!u.keep_copy && u.vacation);
	store_user_clear(&u);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_refusals(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	struct store_limits d;

	test_begin("store limits: bad values, unknown mailboxes and domains, domain aliases");
	new_user(st, "alice@example.test", STORE_INHERIT);
	test_assert(store_alias_add(st, "sales@example.test", "alice@example.test") == STORE_OK);
	test_assert(store_domain_alias_add(st, "example.net", "example.test") == STORE_OK);

	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA, -2) ==
		    STORE_INVALID);
	test_assert(strstr(store_error(st), "quota") != NULL);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_COUNT, 1) ==
		    STORE_INVALID);
	test_assert(store_user_set_limit(st, "nobody@example.test", STORE_LIMIT_QUOTA, 1) ==
		    STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "nobody@example.test") != NULL);
	/* an alias is no mailbox to set, as for the other settings */
	test_assert(store_user_set_limit(st, "sales@example.test", STORE_LIMIT_QUOTA, 1) ==
		    STORE_NOTFOUND);
	test_assert(eff(st, "alice@example.test", STORE_LIMIT_QUOTA) == 0);

	/* a domain's default is never "inherit", nor negative */
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA, STORE_INHERIT) ==
		    STORE_INVALID);
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA_SEND, -5) ==
		    STORE_INVALID);
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_COUNT, 1) ==
		    STORE_INVALID);
	test_assert(store_domain_set_limit(st, "nowhere.test", STORE_LIMIT_QUOTA, 1) ==
		    STORE_NOTFOUND);
	test_assert(strstr(store_error(st), "nowhere.test") != NULL);
	test_assert(store_domain_set_limit(st, "bad..name", STORE_LIMIT_QUOTA, 1) == STORE_INVALID);
	test_assert(store_domain_limits(st, "nowhere.test", &d) == STORE_NOTFOUND);
	/* a domain alias has no defaults of its own: its target's apply */
	test_assert(store_domain_set_limit(st, "example.net", STORE_LIMIT_QUOTA, 1) ==
		    STORE_INVALID);
	test_assert(strstr(store_error(st), "example.test") != NULL);
	test_assert(store_domain_limits(st, "example.net", &d) == STORE_INVALID);
	test_assert(store_domain_limits(st, "example.test", &d) == STORE_OK && d.v[2] == 0);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_domain_quota_applies(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	int res[1];
	bool ok = false;

	test_begin("store limits: the domain's receive quota at RCPT and delivery");
	int64_t id = new_user(st, "alice@example.test", STORE_INHERIT);
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA, 2 * MSG_LEN) ==
		    STORE_OK);
	deliver_n(st, id, 2);
	test_assert(store_quota_check(st, id, MSG_LEN, &ok) == STORE_OK && !ok);
	test_assert(store_deliver(st, &id, 1, MSG, MSG_LEN, NULL, res) == STORE_QUOTA);
	/* the mailbox's own "none" lifts the domain's */
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA, 0) ==
		    STORE_OK);
	test_assert(store_quota_check(st, id, MSG_LEN, &ok) == STORE_OK && ok);
	test_assert(store_deliver(st, &id, 1, MSG, MSG_LEN, NULL, res) == STORE_OK);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_sent_count(void)
{
	char *dir;
	struct store *st = fresh(&dir);
	uint64_t m = 99, r = 99;

	test_begin("store limits: submissions counted over a window");
	int64_t ia = new_user(st, "alice@example.test", STORE_INHERIT);
	int64_t ib = new_user(st, "bob@example.test", STORE_INHERIT);
	test_assert(store_sent_count(st, ia, 0, &m, &r) == STORE_OK && m == 0 && r == 0);
	/* alice: at 1000 (3 recipients), 5000 (1), 8600 (10); bob at 8600 (2) */
	static const struct {
		int who, at, rcpts;
	} rows[] = {{0, 1000, 3}, {0, 5000, 1}, {0, 8600, 10}, {1, 8600, 2}};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		test_assert(store_test_sent_add(st, rows[i].who ? ib : ia, rows[i].at,
						(unsigned)rows[i].rcpts) == STORE_OK);
	test_assert(store_sent_count(st, ia, 0, &m, &r) == STORE_OK && m == 3 && r == 14);
	/* `since` is inclusive: a submission at exactly that second counts */
	test_assert(store_sent_count(st, ia, 5000, &m, &r) == STORE_OK && m == 2 && r == 11);
	test_assert(store_sent_count(st, ia, 5001, &m, &r) == STORE_OK && m == 1 && r == 10);
	/* the last hour at 9000 is from 5400 on; the last day all three */
	test_assert(store_sent_count(st, ia, 9000 - 3600, &m, &r) == STORE_OK && m == 1 && r == 10);
	test_assert(store_sent_count(st, ia, 9000 - 86400, &m, &r) == STORE_OK && m == 3 &&
		    r == 14);
	test_assert(store_sent_count(st, ia, 8601, &m, &r) == STORE_OK && m == 0 && r == 0);
	test_assert(store_sent_count(st, ib, 0, &m, &r) == STORE_OK && m == 1 && r == 2);
	/* an unknown mailbox sent nothing */
	test_assert(store_sent_count(st, 424242, 0, &m, &r) == STORE_OK && m == 0 && r == 0);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_notice_and_expunge(void)
{
	char *dir;
	struct store *st = fresh(&dir);

	test_begin("store limits: the quota notice is forgotten once an expunge goes below");
	int64_t ia = new_user(st, "alice@example.test", STORE_INHERIT);
	int64_t ib = new_user(st, "bob@example.test", STORE_INHERIT);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA_WARN,
					 3 * MSG_LEN) == STORE_OK);
	deliver_n(st, ia, 5);
	notice_sent(st, ia);
	/* 4 messages left: still at or above the level, the notice stands */
	expunge_n(st, ia, 1);
	test_assert(notice_kept(st, ia));
	/* exactly at the level is not below it */
	expunge_n(st, ia, 1);
	test_assert(notice_kept(st, ia));
	/* below: forgotten, so the next crossing sends one */
	expunge_n(st, ia, 1);
	test_assert(!notice_kept(st, ia));

	/* the same with the domain's level; another mailbox's notice stays */
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA_WARN,
					   2 * MSG_LEN) == STORE_OK);
	deliver_n(st, ib, 3);
	notice_sent(st, ib);
	notice_sent(st, ia);
	expunge_n(st, ib, 1);
	test_assert(notice_kept(st, ib));
	expunge_n(st, ib, 1);
	test_assert(!notice_kept(st, ib));
	test_assert(notice_kept(st, ia));
	/* an expunge in another mailbox leaves this one's notice alone */
	struct store_msg *m = NULL;
	size_t n = 0;
	test_assert(store_mailbox_load(st, ia, &m, &n) == STORE_OK && n == 2);
	test_assert(store_expunge(st, ib, &m[0].id, 1) == STORE_OK); /* not bob's: no-op */
	free(m);
	test_assert(notice_kept(st, ia));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_notice_and_levels(void)
{
	char *dir;
	struct store *st = fresh(&dir);

	test_begin("store limits: the quota notice is forgotten when its level moves");
	int64_t ia = new_user(st, "alice@example.test", STORE_INHERIT);
	int64_t ib = new_user(st, "bob@example.test", STORE_INHERIT);
	test_assert(store_user_set_limit(st, "bob@example.test", STORE_LIMIT_QUOTA_WARN, 500) ==
		    STORE_OK);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA_WARN, 100) ==
		    STORE_OK);
	notice_sent(st, ia);
	/* the same level again, or another limit: the notice stands */
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA_WARN, 100) ==
		    STORE_OK);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA_SEND, 200) ==
		    STORE_OK);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_RECIPIENTS, 5) ==
		    STORE_OK);
	test_assert(notice_kept(st, ia));
	/* a new warning level, or a new receive quota: forgotten */
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA_WARN, 150) ==
		    STORE_OK);
	test_assert(!notice_kept(st, ia));
	notice_sent(st, ia);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA, 1000) ==
		    STORE_OK);
	test_assert(!notice_kept(st, ia));
	/* inheriting a domain level of the same value moves nothing */
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA_WARN, 150) ==
		    STORE_OK);
	notice_sent(st, ia);
	test_assert(store_user_set_limit(st, "alice@example.test", STORE_LIMIT_QUOTA_WARN,
					 STORE_INHERIT) == STORE_OK);
	test_assert(notice_kept(st, ia));

	/* the domain's level moves: its inheriting mailboxes forget, bob (own
	   level) keeps his */
	notice_sent(st, ib);
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA_WARN, 150) ==
		    STORE_OK); /* unchanged */
	test_assert(notice_kept(st, ia));
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA_WARN, 300) ==
		    STORE_OK);
	test_assert(!notice_kept(st, ia) && notice_kept(st, ib));
	/* the domain's receive quota: alice has her own (1000), bob inherits */
	notice_sent(st, ia);
	test_assert(store_domain_set_limit(st, "example.test", STORE_LIMIT_QUOTA, 5000) ==
		    STORE_OK);
	test_assert(notice_kept(st, ia) && !notice_kept(st, ib));
	/* another domain's change touches neither */
	notice_sent(st, ib);
	test_assert(store_domain_set_limit(st, "other.test", STORE_LIMIT_QUOTA_WARN, 1) ==
		    STORE_OK);
	test_assert(notice_kept(st, ia) && notice_kept(st, ib));
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

static void test_migration_from_7(void)
{
	struct store *st = NULL;

	/* an SQLite store of schema 7, its rows written in its file */
	test_begin("store limits: a schema-7 quota keeps its meaning after migration 8");
	if (test_sqlite_only())
		return;
	char *dir = test_tmpdir();
	test_assert(store_test_open_schema(dir, 7, &st) == STORE_OK);
	test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") == 7);
	test_assert(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	/* schema 7: 0 was "no quota"; rows as it wrote them (today's user add
	   reads tables schema 7 lacks) */
	test_assert(test_sqlite_int(dir,
				    "INSERT INTO mailboxes (address, domain_id, pw_hash, quota, "
				    "created) SELECT 'none@example.test', id, '$y$x', 0, 0 FROM "
				    "domains WHERE name = 'example.test'") == 0);
	test_assert(test_sqlite_int(dir,
				    "INSERT INTO mailboxes (address, domain_id, pw_hash, quota, "
				    "created) SELECT 'small@example.test', id, '$y$x', 1000, 0 "
				    "FROM domains WHERE name = 'example.test'") == 0);
	store_close(&st);

	test_assert(store_open(dir, false, &st) == STORE_OK);
	test_assert(test_sqlite_int(dir, "SELECT version FROM schema_version") >= 8);
	struct store_user u = user_of(st, "none@example.test");
	test_assert(u.quota == 0 && u.effective.v[STORE_LIMIT_QUOTA] == 0);
	test_assert(u.own.v[STORE_LIMIT_QUOTA] == STORE_INHERIT);
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(u.effective.v[i] == 0);
	store_user_clear(&u);
	u = user_of(st, "small@example.test");
	test_assert(u.quota == 1000 && u.own.v[STORE_LIMIT_QUOTA] == 1000);
	test_assert(u.own.v[STORE_LIMIT_QUOTA_WARN] == STORE_INHERIT);
	store_user_clear(&u);
	int64_t id = test_mailbox_id(st, "small@example.test");
	bool ok = true;
	test_assert(store_quota_check(st, id, 1001, &ok) == STORE_OK && !ok);
	test_assert(store_quota_check(st, test_mailbox_id(st, "none@example.test"), 1u << 30,
				      &ok) == STORE_OK &&
		    ok);
	/* the migrated domain starts with no defaults */
	struct store_limits d;
	test_assert(store_domain_limits(st, "example.test", &d) == STORE_OK);
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		test_assert(d.v[i] == 0);
	store_close(&st);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_names, test_inheritance, test_refusals, test_domain_quota_applies, test_sent_count,
	    test_notice_and_expunge, test_notice_and_levels, test_migration_from_7, NULL});
}
