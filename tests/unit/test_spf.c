/* SPDX-License-Identifier: MIT */
/*
 * test_spf.c - filter/spf.h driven by a DNS table in memory: RFC 7208
 * Appendix A's example.com zone (a, mx, ptr, ip4, include, redirect,
 * CIDR lengths), the macro examples of §7.4 (seen as the names the machine
 * asks), record selection, syntax errors as permerror, the 10-lookup and
 * 2-void-lookup limits, temperror from a TEMP answer anywhere, include of
 * none, redirect to nothing, invalid sender domains, IPv4-mapped IPv6,
 * and the machine's contract (one question at a time, repeated until
 * answered).
 */
#include "filter/spf.h"
#include "spf_zone.h"
#include "test_common.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

static const struct spf_rr zone_a[] = {
    {"example.com", DNS_TYPE_A, "192.0.2.10"},
    {"example.com", DNS_TYPE_A, "192.0.2.11"},
    {"amy.example.com", DNS_TYPE_A, "192.0.2.65"},
    {"bob.example.com", DNS_TYPE_A, "192.0.2.66"},
    {"mail-a.example.com", DNS_TYPE_A, "192.0.2.129"},
    {"mail-b.example.com", DNS_TYPE_A, "192.0.2.130"},
    {"www.example.com", DNS_TYPE_A, "192.0.2.10"},
    {"www.example.com", DNS_TYPE_A, "192.0.2.11"},
    {"mail-c.example.org", DNS_TYPE_A, "192.0.2.140"},
    {"example.com", DNS_TYPE_MX, "10 mail-a.example.com"},
    {"example.com", DNS_TYPE_MX, "20 mail-b.example.com"},
    {"example.org", DNS_TYPE_MX, "10 mail-c.example.org"},
    {"10.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "example.com"},
    {"11.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "example.com"},
    {"65.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "amy.example.com"},
    {"66.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "bob.example.com"},
    {"129.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "mail-a.example.com"},
    {"130.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "mail-b.example.com"},
    {"140.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "mail-c.example.org"},
    {"10.0.0.10.in-addr.arpa", DNS_TYPE_PTR, "bob.example.com"},
};

#define MAX_RR 64
static struct spf_rr table[MAX_RR];
static size_t n_table;
static char asked[64][DNS_NAME_MAX];
static size_t n_asked;

static void zone(const char *spf_example_com, const struct spf_rr *extra, size_t n_extra)
{
	n_table = 0;
	for (size_t i = 0; i < sizeof(zone_a) / sizeof(zone_a[0]); i++)
		table[n_table++] = zone_a[i];
	if (spf_example_com != NULL)
		table[n_table++] = (struct spf_rr){"example.com", DNS_TYPE_TXT, spf_example_com};
	for (size_t i = 0; i < n_extra && n_table < MAX_RR; i++)
		table[n_table++] = extra[i];
}

/* runs check_host() to its end; the questions land in asked[] */
static enum spf_result run(const char *ip, const char *from, const char *helo, char *domain_r)
{
	uint8_t b[16];
	int family = strchr(ip, ':') != NULL ? AF_INET6 : AF_INET;
	inet_pton(family, ip, b);
	struct spf *s = spf_new(family, b, from, helo);
	const struct dns_question *q;
	n_asked = 0;
	for (int guard = 0; (q = spf_next(s)) != NULL && guard < 200; guard++) {
		struct dns_answer a;
		if (n_asked < 64)
			snprintf(asked[n_asked++], DNS_NAME_MAX, "%s", q->name);
		spf_zone_answer(table, n_table, q, &a);
		spf_answer(s, &a);
		dns_answer_free(&a);
	}
	test_assert(q == NULL);
	enum spf_result r = spf_result(s);
	if (domain_r != NULL)
		snprintf(domain_r, DNS_NAME_MAX, "%s", spf_domain(s));
	spf_free(&s);
	test_assert(s == NULL);
	return r;
}

static enum spf_result chk(const char *record, const char *ip)
{
	zone(record, NULL, 0);
	return run(ip, "user@example.com", "helo.example.net", NULL);
}

static bool was_asked(const char *name)
{
	for (size_t i = 0; i < n_asked; i++)
		if (strcasecmp(asked[i], name) == 0)
			return true;
	return false;
}

static void test_spf_names(void)
{
	test_begin("spf: result names are RFC 8601's");
	test_assert_str(spf_result_name(SPF_NONE), "none");
	test_assert_str(spf_result_name(SPF_NEUTRAL), "neutral");
	test_assert_str(spf_result_name(SPF_PASS), "pass");
	test_assert_str(spf_result_name(SPF_FAIL), "fail");
	test_assert_str(spf_result_name(SPF_SOFTFAIL), "softfail");
	test_assert_str(spf_result_name(SPF_TEMPERROR), "temperror");
	test_assert_str(spf_result_name(SPF_PERMERROR), "permerror");
	test_end();
}

static void test_spf_appendix_a1(void)
{
	test_begin("spf: RFC 7208 A.1 simple examples");
	test_assert(chk("v=spf1 +all", "198.51.100.1") == SPF_PASS);
	test_assert(chk("v=spf1 a -all", "192.0.2.10") == SPF_PASS);
	test_assert(chk("v=spf1 a -all", "192.0.2.11") == SPF_PASS);
	test_assert(chk("v=spf1 a -all", "192.0.2.12") == SPF_FAIL);
	test_assert(chk("v=spf1 a:example.org -all", "192.0.2.10") == SPF_FAIL);
	test_assert(chk("v=spf1 mx -all", "192.0.2.129") == SPF_PASS);
	test_assert(chk("v=spf1 mx -all", "192.0.2.130") == SPF_PASS);
	test_assert(chk("v=spf1 mx -all", "192.0.2.140") == SPF_FAIL);
	test_assert(chk("v=spf1 mx:example.org -all", "192.0.2.140") == SPF_PASS);
	test_assert(chk("v=spf1 mx mx:example.org -all", "192.0.2.129") == SPF_PASS);
	test_assert(chk("v=spf1 mx mx:example.org -all", "192.0.2.140") == SPF_PASS);
	test_assert(chk("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.131") == SPF_PASS);
	test_assert(chk("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.143") == SPF_PASS);
	test_assert(chk("v=spf1 mx/30 mx:example.org/30 -all", "192.0.2.132") == SPF_FAIL);
	test_assert(chk("v=spf1 ptr -all", "192.0.2.10") == SPF_PASS);
	test_assert(chk("v=spf1 ptr -all", "192.0.2.65") == SPF_PASS);
	test_assert(chk("v=spf1 ptr -all", "192.0.2.140") == SPF_FAIL);
	test_assert(chk("v=spf1 ptr -all", "10.0.0.10") == SPF_FAIL);
	test_assert(chk("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.128") == SPF_PASS);
	test_assert(chk("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.143") == SPF_PASS);
	test_assert(chk("v=spf1 ip4:192.0.2.128/28 -all", "192.0.2.65") == SPF_FAIL);
	test_assert(chk("v=spf1 a/24 -all", "192.0.2.200") == SPF_PASS);
	test_assert(chk("v=spf1 a:www.example.com//64 -all", "192.0.2.11") == SPF_PASS);
	test_end();
}

static void test_spf_qualifiers(void)
{
	test_begin("spf: qualifiers, the default neutral, ip6, mapped IPv4");
	test_assert(chk("v=spf1 -all", "192.0.2.1") == SPF_FAIL);
	test_assert(chk("v=spf1 ~all", "192.0.2.1") == SPF_SOFTFAIL);
	test_assert(chk("v=spf1 ?all", "192.0.2.1") == SPF_NEUTRAL);
	test_assert(chk("v=spf1 ip4:192.0.2.99", "192.0.2.1") == SPF_NEUTRAL);
	test_assert(chk("V=SPF1 IP4:192.0.2.0/24 -ALL", "192.0.2.1") == SPF_PASS);
	test_assert(chk("v=spf1 ip6:2001:db8::/32 -all", "2001:db8::1") == SPF_PASS);
	test_assert(chk("v=spf1 ip6:2001:db8::/32 -all", "2001:db9::1") == SPF_FAIL);
	test_assert(chk("v=spf1 ip4:192.0.2.0/24 -all", "::ffff:192.0.2.7") == SPF_PASS);
	test_assert(chk("v=spf1 ip6:::ffff:0:0/96 -all", "::ffff:192.0.2.7") == SPF_FAIL);
	test_assert(chk("v=spf1 ip4:0.0.0.0/0 -all", "203.0.113.9") == SPF_PASS);
	test_end();
}

static void test_spf_selection(void)
{
	const struct spf_rr two[] = {
	    {"two.example", DNS_TYPE_TXT, "v=spf1 +all"},
	    {"two.example", DNS_TYPE_TXT, "v=spf1 -all"},
	    {"other.example", DNS_TYPE_TXT, "google-site-verification=xyz"},
	    {"other.example", DNS_TYPE_TXT, "v=spf10 +all"},
	    {"lone.example", DNS_TYPE_TXT, "v=spf1"},
	    {"mixed.example", DNS_TYPE_TXT, "spf2.0/pra +all"},
	    {"mixed.example", DNS_TYPE_TXT, "v=spf1 -all"},
	};
	char d[DNS_NAME_MAX];

	test_begin("spf: record selection (§4.5)");
	zone(NULL, two, sizeof(two) / sizeof(two[0]));
	test_assert(run("192.0.2.1", "a@two.example", "h.example", d) == SPF_PERMERROR);
	test_assert_str(d, "two.example");
	test_assert(run("192.0.2.1", "a@other.example", "h.example", NULL) == SPF_NONE);
	test_assert(run("192.0.2.1", "a@nowhere.example", "h.example", NULL) == SPF_NONE);
	test_assert(run("192.0.2.1", "a@lone.example", "h.example", NULL) == SPF_NEUTRAL);
	test_assert(run("192.0.2.1", "a@mixed.example", "h.example", NULL) == SPF_FAIL);
	/* the null sender is checked as postmaster@helo */
	test_assert(run("192.0.2.1", "", "two.example", d) == SPF_PERMERROR);
	test_assert_str(d, "two.example");
	test_assert(run("192.0.2.1", "", "mixed.example", NULL) == SPF_FAIL);
	test_end();
}

static void test_spf_syntax(void)
{
	char why[128];
	static const char *const bad[] = {
	    "v=spf1 foo",
	    "v=spf1 ip4:192.0.2.1/33",
	    "v=spf1 ip4:192.0.2.1/024",
	    "v=spf1 ip4:300.0.0.1",
	    "v=spf1 ip6:2001:db8::/129",
	    "v=spf1 a/33",
	    "v=spf1 a//129",
	    "v=spf1 mx:example",
	    "v=spf1 include",
	    "v=spf1 include:",
	    "v=spf1 all:x",
	    "v=spf1 exists:%{x}.example.com",
	    "v=spf1 exists:%{d0}.example.com",
	    "v=spf1 a:%{c}.example.com",
	    "v=spf1 redirect=a.example redirect=b.example",
	    "v=spf1 exp=a.example exp=b.example",
	    "v=spf1 -ip4",
	    "v=spf1 a:ex ample.com",
	    "v=spf1 a:%",
	    "v=spf1 a:%{d",
	    "v=spf1 ptr/24",
	    "v=spf1 a:foo.123",
	};
	static const char *const good[] = {
	    "v=spf1",
	    "v=spf1 ",
	    "v=spf1   -all  ",
	    "v=spf1 a mx ptr ?all",
	    "v=spf1 a:mail.example.com/24//64 mx/28 ip6:::1 ip4:10.0.0.0/8",
	    "v=spf1 foo=bar moo.cow-far_out=man:dog/cat",
	    "v=spf1 exp=explain.%{d} -all",
	    "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
	    "v=spf1 a:example.com.",
	    "v=spf1 include:_spf.example.com redirect=_spf.example.net",
	    "v=spf1 exists:%%%_%-.%{L}.example.com",
	};

	test_begin("spf: syntax errors anywhere are permerror (§4.6)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_assert(spf_record_check(bad[i], strlen(bad[i]), why, sizeof(why)) == -1);
		/* even after a mechanism that would have matched */
		char rec[256];
		snprintf(rec, sizeof(rec), "v=spf1 +all %s", bad[i] + 7);
		test_assert(chk(rec, "192.0.2.1") == SPF_PERMERROR);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		test_assert(spf_record_check(good[i], strlen(good[i]), why, sizeof(why)) == 0);
	test_assert(spf_record_check("v=spf2 -all", 11, why, sizeof(why)) == -1);
	test_end();
}

static void test_spf_include_redirect(void)
{
	const struct spf_rr z[] = {
	    {"example.org", DNS_TYPE_TXT, "v=spf1 include:example.com include:example.net -all"},
	    {"la.example.org", DNS_TYPE_TXT, "v=spf1 redirect=example.org"},
	    {"example.net", DNS_TYPE_TXT, "v=spf1 ip4:192.0.2.64/27 -all"},
	    {"softer.example", DNS_TYPE_TXT, "v=spf1 include:soft.example ~all"},
	    {"soft.example", DNS_TYPE_TXT, "v=spf1 ~all"},
	    {"incnone.example", DNS_TYPE_TXT, "v=spf1 include:nothing.example +all"},
	    {"incperm.example", DNS_TYPE_TXT, "v=spf1 include:broken.example +all"},
	    {"broken.example", DNS_TYPE_TXT, "v=spf1 bogus"},
	    {"rdnone.example", DNS_TYPE_TXT, "v=spf1 redirect=nothing.example"},
	    {"rdall.example", DNS_TYPE_TXT, "v=spf1 -all redirect=example.net"},
	    {"rdmac.example", DNS_TYPE_TXT, "v=spf1 redirect=%{d}.example.net"},
	    {"rdmac.example.example.net", DNS_TYPE_TXT, "v=spf1 ?all"},
	    {"loop.example", DNS_TYPE_TXT, "v=spf1 include:loop.example -all"},
	    {"rdloop.example", DNS_TYPE_TXT, "v=spf1 redirect=rdloop.example"},
	};
	char d[DNS_NAME_MAX];

	test_begin("spf: include and redirect (A.2, §5.2, §6.1)");
	zone("v=spf1 mx -all", z, sizeof(z) / sizeof(z[0]));
	test_assert(run("192.0.2.129", "u@example.org", "h.example", NULL) == SPF_PASS);
	test_assert(run("192.0.2.70", "u@example.org", "h.example", NULL) == SPF_PASS);
	test_assert(run("192.0.2.10", "u@example.org", "h.example", NULL) == SPF_FAIL);
	test_assert(run("192.0.2.129", "u@la.example.org", "h.example", d) == SPF_PASS);
	test_assert_str(d, "la.example.org");
	test_assert(run("192.0.2.10", "u@la.example.org", "h.example", NULL) == SPF_FAIL);
	/* an include's softfail is "no match" */
	test_assert(run("192.0.2.10", "u@softer.example", "h.example", NULL) == SPF_SOFTFAIL);
	test_assert(run("192.0.2.10", "u@incnone.example", "h.example", NULL) == SPF_PERMERROR);
	test_assert(run("192.0.2.10", "u@incperm.example", "h.example", NULL) == SPF_PERMERROR);
	test_assert(run("192.0.2.10", "u@rdnone.example", "h.example", NULL) == SPF_PERMERROR);
	test_assert(run("192.0.2.70", "u@rdall.example", "h.example", NULL) == SPF_FAIL);
	test_assert(run("192.0.2.70", "u@rdmac.example", "h.example", NULL) == SPF_NEUTRAL);
	test_assert(run("192.0.2.70", "u@loop.example", "h.example", NULL) == SPF_PERMERROR);
	test_assert(run("192.0.2.70", "u@rdloop.example", "h.example", NULL) == SPF_PERMERROR);
	test_end();
}

static void test_spf_limits(void)
{
	const struct spf_rr z[] = {
	    {"ten.example", DNS_TYPE_TXT, "v=spf1 a a a a a a a a a a ip4:192.0.2.1 -all"},
	    {"eleven.example", DNS_TYPE_TXT, "v=spf1 a a a a a a a a a a a ip4:192.0.2.1 -all"},
	    /* ip4, all and the modifiers do not count */
	    {"cheap.example", DNS_TYPE_TXT,
	     "v=spf1 ip4:1.1.1.1 ip4:1.1.1.2 ip4:1.1.1.3 ip4:1.1.1.4 ip4:1.1.1.5 "
	     "ip4:1.1.1.6 "
	     "ip4:1.1.1.7 ip4:1.1.1.8 ip4:1.1.1.9 ip4:1.1.1.10 ip4:1.1.1.11 a a a a "
	     "a a a a a "
	     "a exp=x.example foo=bar -all"},
	    {"void2.example", DNS_TYPE_TXT, "v=spf1 a:n1.example a:n2.example -all"},
	    {"void3.example", DNS_TYPE_TXT,
	     "v=spf1 a:n1.example a:n2.example exists:n3.example -all"},
	    {"mx11.example", DNS_TYPE_TXT, "v=spf1 mx -all"},
	    {"inc.example", DNS_TYPE_TXT,
	     "v=spf1 include:i1.example include:i1.example include:i1.example "
	     "include:i1.example include:i1.example include:i1.example -all"},
	    {"i1.example", DNS_TYPE_TXT, "v=spf1 a:example.com ?all"},
	    {"ten.example", DNS_TYPE_A, "198.51.100.1"},
	    {"eleven.example", DNS_TYPE_A, "198.51.100.1"},
	    {"cheap.example", DNS_TYPE_A, "198.51.100.1"},
	};
	struct spf_rr big[sizeof(z) / sizeof(z[0]) + 11];
	size_t n = sizeof(z) / sizeof(z[0]);

	memcpy(big, z, sizeof(z));
	static const char *const mx[] = {"1 m1.example",   "2 m2.example",  "3 m3.example",
					 "4 m4.example",   "5 m5.example",  "6 m6.example",
					 "7 m7.example",   "8 m8.example",  "9 m9.example",
					 "10 m10.example", "11 m11.example"};
	for (size_t i = 0; i < 11; i++)
		big[n++] = (struct spf_rr){"mx11.example", DNS_TYPE_MX, mx[i]};

	test_begin("spf: 10 lookups, 2 void lookups, 10 MX (§4.6.4)");
	zone(NULL, big, n);
	test_assert(run("192.0.2.1", "u@ten.example", "h", NULL) == SPF_PASS);
	test_assert(run("192.0.2.1", "u@eleven.example", "h", NULL) == SPF_PERMERROR);
	test_assert(run("192.0.2.1", "u@cheap.example", "h", NULL) == SPF_FAIL);
	test_assert(run("192.0.2.1", "u@void2.example", "h", NULL) == SPF_FAIL);
	test_assert(run("192.0.2.1", "u@void3.example", "h", NULL) == SPF_PERMERROR);
	test_assert(run("192.0.2.1", "u@mx11.example", "h", NULL) == SPF_PERMERROR);
	/* 6 includes and 6 a: 12 */
	test_assert(run("192.0.2.1", "u@inc.example", "h", NULL) == SPF_PERMERROR);
	test_end();
}

static void test_spf_temperror(void)
{
	const struct spf_rr z[] = {
	    {"t1.example", DNS_TYPE_TXT, "TEMP"},
	    {"t2.example", DNS_TYPE_TXT, "v=spf1 a:tmp.example +all"},
	    {"tmp.example", DNS_TYPE_A, "TEMP"},
	    {"t3.example", DNS_TYPE_TXT, "v=spf1 include:t1.example +all"},
	    {"t4.example", DNS_TYPE_TXT, "v=spf1 mx:t4mx.example -all"},
	    {"t4mx.example", DNS_TYPE_MX, "10 tmp.example"},
	    {"t5.example", DNS_TYPE_TXT, "v=spf1 ptr ?all"},
	    {"1.2.0.192.in-addr.arpa", DNS_TYPE_PTR, "TEMP"},
	};

	test_begin("spf: temperror from a TEMP answer, ptr errors do not match");
	zone(NULL, z, sizeof(z) / sizeof(z[0]));
	test_assert(run("192.0.2.1", "u@t1.example", "h", NULL) == SPF_TEMPERROR);
	test_assert(run("192.0.2.1", "u@t2.example", "h", NULL) == SPF_TEMPERROR);
	test_assert(run("192.0.2.1", "u@t3.example", "h", NULL) == SPF_TEMPERROR);
	test_assert(run("192.0.2.1", "u@t4.example", "h", NULL) == SPF_TEMPERROR);
	test_assert(run("192.0.2.1", "u@t5.example", "h", NULL) == SPF_NEUTRAL);
	test_end();
}

static void test_spf_macros(void)
{
	static const struct {
		const char *spec, *name;
	} m[] = {
	    {"%{s}", "strong-bad@email.example.com"},
	    {"%{o}", "email.example.com"},
	    {"%{d}", "email.example.com"},
	    {"%{d4}", "email.example.com"},
	    {"%{d3}", "email.example.com"},
	    {"%{d2}", "example.com"},
	    {"%{d1}", "com"},
	    {"%{dr}", "com.example.email"},
	    {"%{d2r}", "example.email"},
	    {"%{l}.x.example", "strong-bad.x.example"},
	    {"%{l-}.x.example", "strong.bad.x.example"},
	    {"%{lr}.x.example", "strong-bad.x.example"},
	    {"%{lr-}.x.example", "bad.strong.x.example"},
	    {"%{l1r-}.x.example", "strong.x.example"},
	    {"%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"},
	    {"%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"},
	    {"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
	    {"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
	    {"%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"},
	    {"%{h}.x.example", "mx.example.org.x.example"},
	    {"%{p}.x.example", "unknown.x.example"},
	    {"%{S}.x.example", "strong-bad%40email.example.com.x.example"},
	    {"a%%b.x.example", "a%b.x.example"},
	};
	char rec[256], d[DNS_NAME_MAX];

	test_begin("spf: macros (RFC 7208 §7.4)");
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(rec, sizeof(rec), "v=spf1 ?exists:%s -all", m[i].spec);
		struct spf_rr r = {"email.example.com", DNS_TYPE_TXT, rec};
		zone(NULL, &r, 1);
		enum spf_result res =
		    run("192.0.2.3", "strong-bad@email.example.com", "mx.example.org", d);
		test_assert(res == SPF_FAIL || res == SPF_NEUTRAL);
		test_assert_str(d, "email.example.com");
		test_assert(n_asked == 2);
		if (n_asked == 2)
			test_assert_str(asked[1], m[i].name);
	}
	struct spf_rr r6 = {"email.example.com", DNS_TYPE_TXT,
			    "v=spf1 exists:%{ir}.%{v}._spf.%{d2}"};
	zone(NULL, &r6, 1);
	test_assert(run("2001:db8::cb01", "strong-bad@email.example.com", "h", NULL) ==
		    SPF_NEUTRAL);
	test_assert(was_asked("1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
			      "ip6._spf.example.com"));
	/* an exists that finds the name matches */
	struct spf_rr ex[] = {
	    {"email.example.com", DNS_TYPE_TXT, "v=spf1 -exists:%{ir}.bl.example +all"},
	    {"3.2.0.192.bl.example", DNS_TYPE_A, "127.0.0.2"},
	};
	zone(NULL, ex, 2);
	test_assert(run("192.0.2.3", "x@email.example.com", "h", NULL) == SPF_FAIL);
	test_assert(run("192.0.2.4", "x@email.example.com", "h", NULL) == SPF_PASS);
	/* over 253 octets: labels go from the left */
	struct spf_rr lng = {"email.example.com", DNS_TYPE_TXT,
			     "v=spf1 exists:%{l}.%{l}.%{l}.%{l}.%{l}.%{l}.%{l}.%{l}.x.example"};
	zone(NULL, &lng, 1);
	char from[128];
	snprintf(from, sizeof(from), "%.60s@email.example.com",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	test_assert(run("192.0.2.3", from, "h", NULL) == SPF_NEUTRAL);
	test_assert(n_asked == 2 && strlen(asked[1]) <= 253 && strlen(asked[1]) > 180);
	test_end();
}

static void test_spf_domains(void)
{
	char d[DNS_NAME_MAX];
	char lab[80];

	test_begin("spf: invalid sender domains are none (§4.3)");
	zone("v=spf1 +all", NULL, 0);
	test_assert(run("192.0.2.1", "u@localhost", "h", NULL) == SPF_NONE);
	test_assert(run("192.0.2.1", "u@a..example", "h", NULL) == SPF_NONE);
	memset(lab, 'a', 64);
	lab[64] = '\0';
	char from[128];
	snprintf(from, sizeof(from), "u@%s.example", lab);
	test_assert(run("192.0.2.1", from, "h", NULL) == SPF_NONE);
	test_assert(n_asked == 0);
	test_assert(run("192.0.2.1", "u@EXAMPLE.COM.", "h", d) == SPF_PASS);
	test_assert_str(d, "EXAMPLE.COM");
	test_assert(run("192.0.2.1", "example.com", "h", NULL) == SPF_PASS);
	test_end();
}

static void test_spf_contract(void)
{
	uint8_t ip[4] = {192, 0, 2, 10};

	test_begin("spf: one question at a time, repeated until answered");
	zone("v=spf1 a -all", NULL, 0);
	struct spf *s = spf_new(AF_INET, ip, "u@example.com", "h");
	const struct dns_question *q = spf_next(s);
	test_assert(q != NULL && q->type == DNS_TYPE_TXT);
	test_assert_str(q->name, "example.com");
	test_assert(spf_next(s) == q);
	struct dns_answer a;
	/* an answer of another type is ignored */
	dns_answer_init(&a, DNS_TYPE_A, DNS_RESULT_OK);
	dns_answer_add_addr(&a, AF_INET, ip);
	spf_answer(s, &a);
	dns_answer_free(&a);
	q = spf_next(s);
	test_assert(q != NULL && q->type == DNS_TYPE_TXT);
	spf_zone_answer(table, n_table, q, &a);
	spf_answer(s, &a);
	dns_answer_free(&a);
	q = spf_next(s);
	test_assert(q != NULL && q->type == DNS_TYPE_A);
	spf_zone_answer(table, n_table, q, &a);
	spf_answer(s, &a);
	spf_answer(s, &a); /* nothing outstanding: ignored */
	dns_answer_free(&a);
	test_assert(spf_next(s) == NULL);
	test_assert(spf_result(s) == SPF_PASS);
	test_assert_str(spf_reason(s), "mechanism a matched");
	test_assert(spf_queries(s) == 2);
	spf_free(&s);
	spf_free(&s);
	/* freed half-way */
	s = spf_new(AF_INET, ip, "u@example.com", "h");
	test_assert(spf_next(s) != NULL);
	spf_free(&s);
	/* the HELO identity */
	s = spf_new_helo(AF_INET, ip, "example.com");
	while ((q = spf_next(s)) != NULL) {
		spf_zone_answer(table, n_table, q, &a);
		spf_answer(s, &a);
		dns_answer_free(&a);
	}
	test_assert(spf_result(s) == SPF_PASS);
	test_assert_str(spf_domain(s), "example.com");
	spf_free(&s);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){
	    test_spf_names, test_spf_appendix_a1, test_spf_qualifiers, test_spf_selection,
	    test_spf_syntax, test_spf_include_redirect, test_spf_limits, test_spf_temperror,
	    test_spf_macros, test_spf_domains, test_spf_contract, NULL});
}
