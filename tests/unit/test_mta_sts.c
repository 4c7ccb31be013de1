/* SPDX-License-Identifier: MIT */
/*
 * test_mta_sts.c - the MTA-STS parsers and cache rules (queue/mta_sts.h):
 * TXT records (RFC 8461 §3.1) alone and as a set, policy bodies (§3.2: the
 * RFC's example, LF and CRLF, each required field, bad values, max_age
 * bounds), mx patterns (§4.1: "*." is one label), the cache file's form
 * and when a cached policy expires or goes stale.
 */
#include "queue/mta_sts.h"
#include "test_common.h"

#include <stdio.h>
#include <string.h>

static void test_txt(void)
{
	char id[MTA_STS_ID_MAX + 1];

	test_begin("mta-sts: TXT records");
	test_assert(mta_sts_txt_parse("v=STSv1; id=20160831085700Z;", id));
	test_assert_str(id, "20160831085700Z");
	test_assert(mta_sts_txt_parse("v=STSv1;id=abc", id));
	test_assert_str(id, "abc");
	test_assert(mta_sts_txt_parse("v=STSv1 ; ext-1=x!y ;\tid=Z9 ; ", id));
	test_assert_str(id, "Z9");
	test_assert(!mta_sts_txt_parse("v=STSv1;", id));	    /* no id */
	test_assert(!mta_sts_txt_parse("v=STSv1", id));		    /* no field */
	test_assert(!mta_sts_txt_parse("v=STSv2; id=1", id));	    /* version */
	test_assert(!mta_sts_txt_parse("v=STSv10; id=1", id));	    /* not STSv1 */
	test_assert(!mta_sts_txt_parse(" v=STSv1; id=1", id));	    /* leading space */
	test_assert(!mta_sts_txt_parse("v=STSv1; id=", id));	    /* empty id */
	test_assert(!mta_sts_txt_parse("v=STSv1; id=a-b", id));	    /* not alnum */
	test_assert(!mta_sts_txt_parse("v=STSv1; id=1; id=2", id)); /* twice */
	test_assert(!mta_sts_txt_parse("v=STSv1; id=123456789012345678901234567890123", id));
	test_assert(mta_sts_txt_parse("v=STSv1; id=12345678901234567890123456789012", id));
	test_assert(!mta_sts_txt_parse("v=STSv1; id=1; =x", id));
	test_assert(!mta_sts_txt_parse("v=STSv1; id=1; x", id));
	test_assert(!mta_sts_txt_parse("v=STSv1; id=1; x=a b", id));
	test_assert(!mta_sts_txt_parse("v=STSv1 id=1", id));

	static const char recs[3][DNS_TXT_MAX] = {"v=spf1 -all", "v=STSv1; id=one;",
						  "v=STSv1; id=two;"};
	test_assert(mta_sts_txt_pick(recs, 2, id));
	test_assert_str(id, "one");
	test_assert(!mta_sts_txt_pick(recs, 3, id)); /* two STSv1 records: none */
	test_assert(!mta_sts_txt_pick(recs, 1, id));
	static const char bad[2][DNS_TXT_MAX] = {"v=STSv1; id=", "google-site-verification=x"};
	test_assert(!mta_sts_txt_pick(bad, 2, id)); /* the one left is invalid */
	test_end();
}

#define POLICY(s) s, sizeof(s) - 1

static void test_policy(void)
{
	struct mta_sts_policy p;
	char why[100];

	test_begin("mta-sts: policy bodies");
	/* RFC 8461 §3.2's example */
	test_assert(mta_sts_policy_parse(POLICY("version: STSv1\r\nmode: enforce\r\n"
						"mx: mail.example.com\r\nmx: *.example.net\r\n"
						"mx: backupmx.example.com\r\nmax_age: 604800\r\n"),
					 &p, why, sizeof(why)));
	test_assert(p.mode == MTA_STS_ENFORCE && p.max_age == 604800 && p.n_mx == 3);
	test_assert_str(p.mx[1], "*.example.net");
	/* LF, no final end of line, spaces, unknown keys, upper case mx */
	test_assert(mta_sts_policy_parse(POLICY("version: STSv1\nmode:testing  \n"
						"x-note: any thing here\n\nmx: MX.Example.ORG\n"
						"max_age: 86400"),
					 &p, why, sizeof(why)));
	test_assert(p.mode == MTA_STS_TESTING && p.max_age == 86400 && p.n_mx == 1);
	test_assert_str(p.mx[0], "mx.example.org");
	/* mode none needs no mx; a repeated field: the first counts */
	test_assert(mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\nmode: enforce\n"
						"max_age: 10\nmax_age: 20\n"),
					 &p, why, sizeof(why)));
	test_assert(p.mode == MTA_STS_NONE && p.max_age == 10 && p.n_mx == 0);
	/* max_age: the maximum, above it, too long, not a number */
	test_assert(mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\nmax_age: 31557600\n"),
					 &p, why, sizeof(why)));
	test_assert(p.max_age == 31557600);
	test_assert(mta_sts_policy_parse(
	    POLICY("version: STSv1\nmode: none\nmax_age: 9999999999\n"), &p, why, sizeof(why)));
	test_assert(p.max_age == MTA_STS_MAX_AGE_MAX);
	test_assert(!mta_sts_policy_parse(
	    POLICY("version: STSv1\nmode: none\nmax_age: 99999999999\n"), &p, why, sizeof(why)));
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\nmax_age: -1\n"), &p,
					  why, sizeof(why)));
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\nmax_age: 1d\n"), &p,
					  why, sizeof(why)));
	/* bad version, bad mode, missing fields */
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv2\nmode: none\nmax_age: 1\n"), &p,
					  why, sizeof(why)));
	test_assert(strcmp(why, "version is not STSv1") == 0);
	test_assert(!mta_sts_policy_parse(
	    POLICY("version: STSv1\nmode: Enforce\nmax_age: 1\nmx: a.b\n"), &p, why, sizeof(why)));
	test_assert(
	    !mta_sts_policy_parse(POLICY("mode: none\nmax_age: 1\n"), &p, why, sizeof(why)));
	test_assert(
	    !mta_sts_policy_parse(POLICY("version: STSv1\nmax_age: 1\n"), &p, why, sizeof(why)));
	test_assert(
	    !mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\n"), &p, why, sizeof(why)));
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv1\nmode: enforce\nmax_age: 1\n"), &p,
					  why, sizeof(why)));
	test_assert(strcmp(why, "no mx") == 0);
	/* bad lines and mx patterns */
	test_assert(!mta_sts_policy_parse(POLICY("version STSv1\nmode: none\nmax_age: 1\n"), &p,
					  why, sizeof(why)));
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\nmax_age: 1\nx:\n"),
					  &p, why, sizeof(why)));
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv1\rmode: none\nmax_age: 1\n"), &p,
					  why, sizeof(why)));
	static const char *bad_mx[] = {"*",    "*.",   "a..b",	".a.b",	 "a.b.",  "-a.b",
				       "a-.b", "a*.b", "a.*.b", "*.*.b", "a_b.c", "a b"};
	for (size_t i = 0; i < sizeof(bad_mx) / sizeof(bad_mx[0]); i++) {
		char text[200];
		int n = snprintf(text, sizeof(text),
				 "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %s\n", bad_mx[i]);
		bool ok = mta_sts_policy_parse(text, (size_t)n, &p, why, sizeof(why));
		if (ok)
			fprintf(stderr, "  accepted mx %s\n", bad_mx[i]);
		test_assert(!ok);
	}
	/* a NUL inside is not a line end */
	test_assert(!mta_sts_policy_parse(POLICY("version: STSv1\nmode: none\nmax_age: 1\0\n"), &p,
					  why, sizeof(why)));
	test_end();
}

static void test_match(void)
{
	struct mta_sts_policy p = {.n_mx = 2};

	test_begin("mta-sts: mx patterns");
	test_assert(mta_sts_pattern_match("*.example.com", "mx1.example.com"));
	test_assert(mta_sts_pattern_match("*.example.com", "MX1.Example.Com."));
	test_assert(!mta_sts_pattern_match("*.example.com", "a.b.example.com"));
	test_assert(!mta_sts_pattern_match("*.example.com", "example.com"));
	test_assert(!mta_sts_pattern_match("*.example.com", ".example.com"));
	test_assert(!mta_sts_pattern_match("*.example.com", "mx1.example.co"));
	test_assert(!mta_sts_pattern_match("*.example.com", "mx1xexample.com"));
	test_assert(mta_sts_pattern_match("mail.example.com", "mail.example.com."));
	test_assert(!mta_sts_pattern_match("mail.example.com", "mail.example.com.au"));
	test_assert(!mta_sts_pattern_match("mail.example.com", "x.mail.example.com"));
	snprintf(p.mx[0], sizeof(p.mx[0]), "mail.example.com");
	snprintf(p.mx[1], sizeof(p.mx[1]), "*.example.net");
	test_assert(mta_sts_mx_match(&p, "mx.example.net"));
	test_assert(mta_sts_mx_match(&p, "mail.example.com"));
	test_assert(!mta_sts_mx_match(&p, "mx.example.com"));
	test_end();
}

static void test_cache(void)
{
	struct mta_sts_policy p, q;
	char text[4096];

	test_begin("mta-sts: the cache file and the cache rules");
	memset(&p, 0, sizeof(p));
	p.mode = MTA_STS_ENFORCE;
	p.max_age = 86400 * 7;
	p.n_mx = 2;
	snprintf(p.mx[0], sizeof(p.mx[0]), "mx.example.test");
	snprintf(p.mx[1], sizeof(p.mx[1]), "*.example.net");
	snprintf(p.id, sizeof(p.id), "20240101");
	p.fetched = 1700000000;
	size_t n = mta_sts_cache_write(&p, text, sizeof(text));
	test_assert(n > 0 && n == strlen(text));
	test_assert(strncmp(text, "20240101 1700000000\nversion: STSv1\nmode: enforce\n", 48) == 0);
	memset(&q, 0, sizeof(q));
	test_assert(mta_sts_cache_read(text, n, &q));
	test_assert(q.mode == p.mode && q.max_age == p.max_age && q.n_mx == 2 &&
		    q.fetched == p.fetched);
	test_assert_str(q.id, "20240101");
	test_assert_str(q.mx[1], "*.example.net");
	test_assert(mta_sts_cache_write(&p, text, 30) == 0); /* does not fit */
	test_assert(!mta_sts_cache_read(POLICY("20240101\nversion: STSv1\n"), &q));
	test_assert(
	    !mta_sts_cache_read(POLICY(" 1\nversion: STSv1\nmode: none\nmax_age: 1\n"), &q));
	test_assert(
	    !mta_sts_cache_read(POLICY("a-b 1\nversion: STSv1\nmode: none\nmax_age: 1\n"), &q));
	test_assert(
	    mta_sts_cache_read(POLICY("a 1\nversion: STSv1\nmode: none\nmax_age: 1\n"), &q));

	/* expiry: max_age after the fetch; staleness: another id or a day old */
	int64_t t = p.fetched;
	test_assert(!mta_sts_expired(&p, t));
	test_assert(!mta_sts_expired(&p, t + 86400 * 7 - 1));
	test_assert(mta_sts_expired(&p, t + 86400 * 7));
	test_assert(!mta_sts_stale(&p, "20240101", t + 3600));
	test_assert(!mta_sts_stale(&p, NULL, t + 3600));
	test_assert(mta_sts_stale(&p, "20240102", t + 1));
	test_assert(mta_sts_stale(&p, "20240101", t + MTA_STS_REFRESH));
	test_assert(mta_sts_stale(&p, NULL, t + 86400 * 7));
	p.max_age = 60; /* a short max_age: stale when it expires */
	test_assert(!mta_sts_stale(&p, "20240101", t + 59));
	test_assert(mta_sts_stale(&p, "20240101", t + 60));
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_txt, test_policy, test_match, test_cache, NULL});
}
