/* SPDX-License-Identifier: MIT */
/*
 * test_penalty.c - directory/penalty.h, the login brake. An address with no
 * failures never waits; n failures make the next attempt wait first << (n-1)
 * up to the cap, whatever the password turns out to be. IPv6 counts per
 * /64 and an IPv4-mapped address as its IPv4 address. A success clears only
 * that account's failures from that address. Guessing one account from many
 * addresses slows every new address, but never the owner's known address,
 * and never beyond the cap. The table stays bounded and entries expire.
 */
#include "directory/penalty.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>

#define T0 1000000000ULL /* an arbitrary "now" in ms */
#define QUIET_MS PENALTY_EXPIRE_MS
#define ALICE "alice@example.test"
#define MALLORY "mallory@example.test"

static void test_curve_and_cap(void)
{
	struct penalty *p = penalty_new(1000, 15000);
	static const uint64_t want[] = {0, 1000, 2000, 4000, 8000, 15000, 15000};

	test_begin("penalty: no wait at first, then 1 s doubling per failure up to the cap");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0 + i) == want[i]);
		test_assert(penalty_wait_ms(p, "192.0.2.1", ALICE, T0 + i) == want[i]);
		penalty_fail(p, "192.0.2.1", ALICE, T0 + i);
	}
	/* thousands of failures: no overflow of the shift, still the cap */
	for (int i = 0; i < 5000; i++)
		penalty_fail(p, "192.0.2.1", NULL, T0 + 100);
	test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0 + 100) == 15000);
	test_assert(penalty_wait_ms(p, "192.0.2.2", NULL, T0 + 100) == 0); /* others free */
	penalty_free(&p);
	test_assert(p == NULL);
	penalty_free(&p); /* freeing NULL is harmless */

	/* a sub-second first step (the test configuration) and a large cap */
	const uint64_t cap = 30ULL * 86400 * 1000;
	p = penalty_new(100, cap);
	uint64_t expect = 100;
	penalty_fail(p, "192.0.2.7", NULL, T0);
	for (int i = 0; i < 50; i++) {
		test_assert(penalty_wait_ms(p, "192.0.2.7", NULL, T0) ==
			    (expect < cap ? expect : cap));
		penalty_fail(p, "192.0.2.7", NULL, T0);
		expect = expect < cap ? expect * 2 : cap;
	}
	penalty_free(&p);

	/* either knob at 0 switches the brake off and records nothing */
	for (int off = 0; off < 2; off++) {
		p = off == 0 ? penalty_new(0, 15000) : penalty_new(1000, 0);
		for (int i = 0; i < 50; i++)
			penalty_fail(p, "192.0.2.1", ALICE, T0);
		test_assert(penalty_wait_ms(p, "192.0.2.1", ALICE, T0) == 0);
		test_assert(penalty_wait_ms(p, "192.0.2.9", ALICE, T0) == 0);
		penalty_success(p, "192.0.2.1", ALICE, T0);
		test_assert(penalty_count(p) == 0);
		penalty_free(&p);
	}
	test_end();
}

static void test_address_units(void)
{
	struct penalty *p = penalty_new(1000, 15000);

	test_begin("penalty: IPv6 per /64, IPv4-mapped as IPv4, IPv4 per address");
	penalty_fail(p, "2001:db8:1:2::1", NULL, T0);
	penalty_fail(p, "2001:db8:1:2:ffff:1:2:3", NULL, T0);
	/* anywhere in the same /64: one brake */
	test_assert(penalty_wait_ms(p, "2001:db8:1:2:abcd::77", NULL, T0) == 2000);
	test_assert(penalty_wait_ms(p, "2001:DB8:1:2::", NULL, T0) == 2000);
	/* the next /64 is another client */
	test_assert(penalty_wait_ms(p, "2001:db8:1:3::1", NULL, T0) == 0);
	test_assert(penalty_wait_ms(p, "2001:db8:1::1", NULL, T0) == 0);

	/* ::ffff:192.0.2.5 is 192.0.2.5, whichever form the listener saw */
	penalty_fail(p, "::ffff:192.0.2.5", NULL, T0);
	test_assert(penalty_wait_ms(p, "192.0.2.5", NULL, T0) == 1000);
	penalty_fail(p, "192.0.2.5", NULL, T0);
	test_assert(penalty_wait_ms(p, "::ffff:192.0.2.5", NULL, T0) == 2000);
	/* ... and is not lumped with the other mapped addresses of its /64 */
	test_assert(penalty_wait_ms(p, "::ffff:192.0.2.6", NULL, T0) == 0);
	test_assert(penalty_wait_ms(p, "192.0.2.6", NULL, T0) == 0);
	/* IPv4 neighbours are separate; a prefix of the text is no match */
	test_assert(penalty_wait_ms(p, "192.0.2.50", NULL, T0) == 0);
	test_assert(penalty_wait_ms(p, "192.0.2.", NULL, T0) == 0);
	test_assert(penalty_wait_ms(p, "", NULL, T0) == 0);

	/* the longest text inet_ntop(3) makes, and text that is no address */
	const char *longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	penalty_fail(p, longest, NULL, T0);
	test_assert(penalty_wait_ms(p, "ffff:ffff:ffff:ffff::", NULL, T0) == 1000);
	penalty_fail(p, "unix", NULL, T0);
	test_assert(penalty_wait_ms(p, "unix", NULL, T0) == 1000);
	test_assert(penalty_wait_ms(p, "unix2", NULL, T0) == 0);
	penalty_free(&p);
	test_end();
}

static void test_success_clears_only_its_account(void)
{
	struct penalty *p = penalty_new(1000, 15000);

	test_begin("penalty: a success clears only that account's failures from that address");
	/* a guesser tries alice three times, then logs in to its own account */
	for (int i = 0; i < 3; i++)
		penalty_fail(p, "192.0.2.66", ALICE, T0);
	test_assert(penalty_wait_ms(p, "192.0.2.66", NULL, T0) == 4000);
	penalty_success(p, "192.0.2.66", MALLORY, T0 + 1);
	test_assert(penalty_wait_ms(p, "192.0.2.66", NULL, T0 + 1) == 4000);
	test_assert(penalty_wait_ms(p, "192.0.2.66", ALICE, T0 + 1) == 4000);
	test_assert(penalty_wait_ms(p, "192.0.2.66", MALLORY, T0 + 1) == 4000);

	/* the owner mistyped twice, then got it right: that is forgiven */
	penalty_fail(p, "198.51.100.1", ALICE, T0);
	penalty_fail(p, "198.51.100.1", ALICE, T0);
	penalty_fail(p, "198.51.100.1", "bob@example.test", T0);
	test_assert(penalty_wait_ms(p, "198.51.100.1", NULL, T0) == 4000);
	penalty_success(p, "198.51.100.1", ALICE, T0 + 1);
	/* bob's failure from that address stays */
	test_assert(penalty_wait_ms(p, "198.51.100.1", NULL, T0 + 1) == 1000);
	penalty_success(p, "198.51.100.1", ALICE, T0 + 2); /* twice: nothing left */
	test_assert(penalty_wait_ms(p, "198.51.100.1", NULL, T0 + 2) == 1000);
	penalty_success(p, "198.51.100.1", "Bob@Example.Test", T0 + 3); /* names fold case */
	test_assert(penalty_wait_ms(p, "198.51.100.1", NULL, T0 + 3) == 0);
	/* after a success the count starts from scratch */
	penalty_fail(p, "198.51.100.1", ALICE, T0 + 4);
	test_assert(penalty_wait_ms(p, "198.51.100.1", NULL, T0 + 4) == 1000);

	/* failures with no account named are the address's own */
	penalty_fail(p, "203.0.113.9", NULL, T0);
	penalty_success(p, "203.0.113.9", ALICE, T0);
	penalty_success(p, "203.0.113.9", NULL, T0);
	test_assert(penalty_wait_ms(p, "203.0.113.9", NULL, T0) == 1000);
	penalty_free(&p);
	test_end();
}

static void test_account_brake(void)
{
	struct penalty *p = penalty_new(1000, 8000);
	char ip[64];

	test_begin("penalty: one account guessed from many addresses slows, capped, owner exempt");
	/* the owner's usual address logged in once */
	penalty_success(p, "198.51.100.7", ALICE, T0);
	/* 1,000 addresses try alice once each: no address is penalised much */
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i >> 8, i & 255);
		test_assert(penalty_wait_ms(p, ip, NULL, T0 + (uint64_t)i) == 0);
		penalty_fail(p, ip, i % 2 == 0 ? ALICE : "ALICE@example.test", T0 + (uint64_t)i);
	}
	uint64_t now = T0 + 1000;
	/* but every new address that names alice waits, at most the cap */
	test_assert(penalty_wait_ms(p, "10.9.9.9", ALICE, now) == 8000);
	test_assert(penalty_wait_ms(p, "10.0.0.1", ALICE, now) == 8000);
	test_assert(penalty_wait_ms(p, "10.0.0.1", NULL, now) == 1000);
	/* other accounts are not slowed from a clean address */
	test_assert(penalty_wait_ms(p, "10.9.9.9", "bob@example.test", now) == 0);
	/* the owner's known address is never held back by others' guesses */
	test_assert(penalty_wait_ms(p, "198.51.100.7", ALICE, now) == 0);
	/* the owner's success does not reset the brake others earned */
	penalty_success(p, "198.51.100.7", ALICE, now);
	test_assert(penalty_wait_ms(p, "10.9.9.9", ALICE, now) == 8000);
	/* a new address, once logged in, is the owner's too */
	penalty_success(p, "10.9.9.9", ALICE, now + 8000);
	test_assert(penalty_wait_ms(p, "10.9.9.9", ALICE, now + 8001) == 0);

	/* the account brake ends with the quiet period */
	uint64_t later = T0 + 999 + QUIET_MS + 1;
	test_assert(penalty_wait_ms(p, "10.8.8.8", ALICE, later) == 0);
	/* the known-address mark lasts much longer than failures */
	test_assert(penalty_wait_ms(p, "198.51.100.7", ALICE, later) == 0);
	penalty_fail(p, "10.8.8.8", ALICE, later);
	penalty_fail(p, "10.8.8.7", ALICE, later);
	test_assert(penalty_wait_ms(p, "10.8.8.6", ALICE, later) == 2000);
	test_assert(penalty_wait_ms(p, "198.51.100.7", ALICE, later) == 0);
	/* ... but not forever */
	later += PENALTY_GOOD_MS + 1;
	penalty_fail(p, "10.8.8.8", ALICE, later);
	test_assert(penalty_wait_ms(p, "198.51.100.7", ALICE, later) == 1000);
	penalty_free(&p);
	test_end();
}

static void test_expiry(void)
{
	struct penalty *p = penalty_new(1000, 15000);

	test_begin("penalty: entries expire after the quiet period since the last failure");
	penalty_fail(p, "192.0.2.1", ALICE, T0);
	penalty_fail(p, "192.0.2.1", ALICE, T0);
	test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0 + QUIET_MS - 1) == 2000);
	test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0 + QUIET_MS) == 2000);
	test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0 + QUIET_MS + 1) == 0);
	test_assert(penalty_wait_ms(p, "192.0.2.9", ALICE, T0 + QUIET_MS + 1) == 0);
	/* once expired it stays expired, and a new failure counts from one */
	test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0) == 0);
	penalty_fail(p, "192.0.2.1", NULL, T0 + QUIET_MS + 2);
	test_assert(penalty_wait_ms(p, "192.0.2.1", NULL, T0 + QUIET_MS + 2) == 1000);

	/* the quiet period runs from the last failure, not the first */
	penalty_fail(p, "192.0.2.2", NULL, T0);
	penalty_fail(p, "192.0.2.2", NULL, T0 + 10 * 60 * 1000);
	test_assert(penalty_wait_ms(p, "192.0.2.2", NULL, T0 + 20 * 60 * 1000) == 2000);
	test_assert(penalty_wait_ms(p, "192.0.2.2", NULL, T0 + 26 * 60 * 1000) == 0);

	/* a failure after expiry, without a query in between, starts over */
	penalty_fail(p, "192.0.2.3", NULL, T0);
	penalty_fail(p, "192.0.2.3", NULL, T0);
	penalty_fail(p, "192.0.2.3", NULL, T0 + QUIET_MS + 1000);
	test_assert(penalty_wait_ms(p, "192.0.2.3", NULL, T0 + QUIET_MS + 1000) == 1000);

	/* a clock that steps back expires nothing */
	penalty_fail(p, "192.0.2.4", NULL, T0 + 5000);
	test_assert(penalty_wait_ms(p, "192.0.2.4", NULL, T0) == 1000);

	/* expired entries leave the table as new ones come in */
	size_t before = penalty_count(p);
	test_assert(before > 0);
	for (int i = 0; i < 100; i++)
		penalty_fail(p, "203.0.113.1", NULL, T0 + 3 * QUIET_MS + (uint64_t)i);
	test_assert(penalty_count(p) == 1);
	penalty_free(&p);
	test_end();
}

static void ip_of(int i, char *out, size_t len)
{
	snprintf(out, len, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static void test_bounded(void)
{
	struct penalty *p = penalty_new(1000, 15000);
	char ip[64], name[64];
	const int n = 20000; /* more than the table holds */

	test_begin("penalty: a flood stays bounded, least recently touched go first");
	/* "sticky" failed first but keeps failing: it must survive the flood */
	penalty_fail(p, "192.0.2.77", NULL, T0);
	for (int i = 0; i < n; i++) {
		ip_of(i, ip, sizeof(ip));
		snprintf(name, sizeof(name), "user%d@example.test", i);
		/* three entries an attempt: address, account, pair */
		penalty_fail(p, ip, name, T0 + 1 + (uint64_t)i);
		test_assert(penalty_count(p) <= PENALTY_ENTRIES_MAX);
		if (i % 1000 == 0)
			penalty_fail(p, "192.0.2.77", NULL, T0 + 1 + (uint64_t)i);
	}
	test_assert(penalty_count(p) == PENALTY_ENTRIES_MAX);
	uint64_t now = T0 + 1 + (uint64_t)n;
	ip_of(0, ip, sizeof(ip));
	test_assert(penalty_wait_ms(p, ip, NULL, now) == 0); /* dropped */
	ip_of(n - 1, ip, sizeof(ip));
	test_assert(penalty_wait_ms(p, ip, NULL, now) == 1000); /* newest kept */
	test_assert(penalty_wait_ms(p, "10.7.7.7", "user19999@example.test", now) == 1000);
	ip_of(n - PENALTY_ENTRIES_MAX / 3 + 10, ip, sizeof(ip));
	test_assert(penalty_wait_ms(p, ip, NULL, now) == 1000); /* within the bound */
	test_assert(penalty_wait_ms(p, "192.0.2.77", NULL, now) == 15000);

	/* long names are cut, not refused, and the table still works */
	char longname[600];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	penalty_fail(p, "192.0.2.78", longname, now);
	longname[PENALTY_ACCOUNT_NAME_MAX] = '\0';
	test_assert(penalty_wait_ms(p, "192.0.2.79", longname, now) == 1000);
	test_assert(penalty_count(p) == PENALTY_ENTRIES_MAX);
	penalty_free(&p);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_curve_and_cap, test_address_units,
					   test_success_clears_only_its_account, test_account_brake,
					   test_expiry, test_bounded, NULL});
}
