/* SPDX-License-Identifier: MIT */
/*
 * test_penalty.c - directory/penalty.h: the per-IP delay after failed logins.
 * The first failed attempt waits 1 s, each further failure doubles the delay
 * up to the configured maximum, a success clears it, an address left alone
 * for the quiet period (15 min, penalty.c) starts over, a maximum of 0 means
 * no delay at all, and the table stays bounded by dropping the entries that
 * failed least recently.
 */
#include "directory/penalty.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>

#define T0 1000000000ULL              /* an arbitrary "now" in ms */
#define QUIET_MS (15ULL * 60 * 1000)  /* PENALTY_EXPIRE_MS */

static void test_doubling_and_cap(void)
{
	struct penalty *p = penalty_new(15);
	static const uint64_t want[] = {1000, 2000, 4000, 8000, 15000, 15000, 15000};

	test_begin("penalty: 1 s first, doubling per failure, capped at the maximum");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + i) == want[i]);
		penalty_fail(p, "192.0.2.1", T0 + i);
	}
	/* thousands of failures: no overflow of the shift, still the cap */
	for (int i = 0; i < 5000; i++)
		penalty_fail(p, "192.0.2.1", T0 + 100);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + 100) == 15000);
	penalty_free(&p);
	test_assert(p == NULL);
	penalty_free(&p); /* freeing NULL is harmless */

	/* a small maximum caps the second step already */
	p = penalty_new(3);
	test_assert(penalty_delay_ms(p, "192.0.2.9", T0) == 1000);
	penalty_fail(p, "192.0.2.9", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.9", T0) == 2000);
	penalty_fail(p, "192.0.2.9", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.9", T0) == 3000);
	penalty_fail(p, "192.0.2.9", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.9", T0) == 3000);
	penalty_free(&p);

	/* a maximum of 1 s: every delay is 1 s */
	p = penalty_new(1);
	for (int i = 0; i < 5; i++) {
		test_assert(penalty_delay_ms(p, "192.0.2.9", T0) == 1000);
		penalty_fail(p, "192.0.2.9", T0);
	}
	penalty_free(&p);

	/* Large maxima: the delay keeps doubling, min(1 s << failures, max),
	   also past the 20th failure (auth_fail_delay_max = 30d). */
	p = penalty_new(30 * 86400);
	uint64_t expect = 1000;
	for (int i = 0; i < 19; i++) {
		test_assert(penalty_delay_ms(p, "192.0.2.7", T0) == expect);
		penalty_fail(p, "192.0.2.7", T0);
		expect *= 2;
	}
	test_assert(penalty_delay_ms(p, "192.0.2.7", T0) == 1000ULL << 19);
	penalty_fail(p, "192.0.2.7", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.7", T0) == 1000ULL << 20);
	penalty_free(&p);
	test_end();
}

static void test_success_and_independence(void)
{
	struct penalty *p = penalty_new(15);

	test_begin("penalty: per address; a success clears only that address");
	penalty_fail(p, "192.0.2.1", T0);
	penalty_fail(p, "192.0.2.1", T0);
	penalty_fail(p, "2001:db8::1", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0) == 4000);
	test_assert(penalty_delay_ms(p, "2001:db8::1", T0) == 2000);
	test_assert(penalty_delay_ms(p, "192.0.2.10", T0) == 1000); /* prefix is no match */
	test_assert(penalty_delay_ms(p, "192.0.2.", T0) == 1000);
	test_assert(penalty_delay_ms(p, "", T0) == 1000);

	penalty_success(p, "192.0.2.1");
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0) == 1000);
	test_assert(penalty_delay_ms(p, "2001:db8::1", T0) == 2000);
	penalty_success(p, "192.0.2.1");   /* twice: nothing left to clear */
	penalty_success(p, "198.51.100.1"); /* never failed */
	test_assert(penalty_delay_ms(p, "198.51.100.1", T0) == 1000);
	/* after a success the count starts from scratch */
	penalty_fail(p, "192.0.2.1", T0 + 1);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + 1) == 2000);

	/* the longest textual address inet_ntop(3) makes */
	const char *longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
	penalty_fail(p, longest, T0);
	penalty_fail(p, longest, T0);
	test_assert(penalty_delay_ms(p, longest, T0) == 4000);
	penalty_success(p, longest);
	test_assert(penalty_delay_ms(p, longest, T0) == 1000);
	penalty_free(&p);
	test_end();
}

static void test_expiry(void)
{
	struct penalty *p = penalty_new(15);

	test_begin("penalty: entries expire after the quiet period since the last failure");
	penalty_fail(p, "192.0.2.1", T0);
	penalty_fail(p, "192.0.2.1", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + QUIET_MS - 1) == 4000);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + QUIET_MS) == 4000);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + QUIET_MS + 1) == 1000);
	/* once expired it stays expired, and a new failure counts from one */
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0) == 1000);
	penalty_fail(p, "192.0.2.1", T0 + QUIET_MS + 2);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0 + QUIET_MS + 2) == 2000);

	/* the quiet period runs from the last failure, not the first */
	penalty_fail(p, "192.0.2.2", T0);
	penalty_fail(p, "192.0.2.2", T0 + 10 * 60 * 1000);
	test_assert(penalty_delay_ms(p, "192.0.2.2", T0 + 20 * 60 * 1000) == 4000);
	test_assert(penalty_delay_ms(p, "192.0.2.2", T0 + 26 * 60 * 1000) == 1000);

	/* a failure after expiry, without a delay query in between, starts over */
	penalty_fail(p, "192.0.2.3", T0);
	penalty_fail(p, "192.0.2.3", T0);
	penalty_fail(p, "192.0.2.3", T0 + QUIET_MS + 1000);
	test_assert(penalty_delay_ms(p, "192.0.2.3", T0 + QUIET_MS + 1000) == 2000);

	/* a clock that steps back does not expire anything */
	penalty_fail(p, "192.0.2.4", T0 + 5000);
	test_assert(penalty_delay_ms(p, "192.0.2.4", T0) == 2000);
	penalty_free(&p);
	test_end();
}

static void test_no_delay(void)
{
	struct penalty *p = penalty_new(0);

	test_begin("penalty: maximum 0 means no delay");
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0) == 0);
	for (int i = 0; i < 50; i++)
		penalty_fail(p, "192.0.2.1", T0);
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0) == 0);
	penalty_success(p, "192.0.2.1");
	test_assert(penalty_delay_ms(p, "192.0.2.1", T0) == 0);
	penalty_free(&p);
	test_end();
}

static void ip_of(int i, char *out, size_t len)
{
	snprintf(out, len, "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
}

static void test_bounded(void)
{
	struct penalty *p = penalty_new(15);
	char ip[64];
	const int n = 20000; /* more than the table holds (16384 in penalty.c) */

	test_begin("penalty: many addresses stay bounded, least recently failed go first");
	/* "sticky" failed first but keeps failing: it must survive the flood */
	penalty_fail(p, "192.0.2.77", T0);
	for (int i = 0; i < n; i++) {
		ip_of(i, ip, sizeof(ip));
		penalty_fail(p, ip, T0 + 1 + (uint64_t)i);
		if (i % 1000 == 0)
			penalty_fail(p, "192.0.2.77", T0 + 1 + (uint64_t)i);
	}
	uint64_t now = T0 + 1 + (uint64_t)n;
	ip_of(0, ip, sizeof(ip));
	test_assert(penalty_delay_ms(p, ip, now) == 1000); /* dropped */
	ip_of(1000, ip, sizeof(ip));
	test_assert(penalty_delay_ms(p, ip, now) == 1000); /* dropped */
	ip_of(n - 1, ip, sizeof(ip));
	test_assert(penalty_delay_ms(p, ip, now) == 2000); /* newest kept */
	ip_of(n - 16000, ip, sizeof(ip));
	test_assert(penalty_delay_ms(p, ip, now) == 2000); /* within the bound */
	test_assert(penalty_delay_ms(p, "192.0.2.77", now) == 15000);

	/* and still usable afterwards */
	penalty_success(p, "192.0.2.77");
	test_assert(penalty_delay_ms(p, "192.0.2.77", now) == 1000);
	penalty_free(&p);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_doubling_and_cap, test_success_and_independence,
					    test_expiry, test_no_delay, test_bounded, NULL});
}
