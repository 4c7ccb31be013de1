/* SPDX-License-Identifier: MIT */
/*
 * test_dmarc.c - filter/dmarc.h: record parsing (v=DMARC1 first, p=
 * required unless rua= is there, sp, adkim, aspf, pct), the two look-ups
 * driven by a DNS table, multiple records as none, temperror, strict and
 * relaxed alignment through the Public Suffix List (mail.example.co.uk is
 * example.co.uk), sp= for subdomains, pct= with the sample, and the From:
 * domain of a header (one field, one address).
 */
#include "filter/dmarc.h"
#include "test_common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct rr {
	const char *name, *text; /* "TEMP" */
};

static const struct rr *tab;
static size_t n_tab;

static struct dmarc *run(const char *from, const struct rr *t, size_t n)
{
	struct dmarc *d = dmarc_new(from);
	const struct dns_question *q;
	tab = t;
	n_tab = n;
	for (int guard = 0; (q = dmarc_next(d)) != NULL && guard < 4; guard++) {
		struct dns_answer a;
		dns_answer_init(&a, DNS_TYPE_TXT, DNS_RESULT_NXDOMAIN);
		for (size_t i = 0; i < n_tab; i++)
			if (strcasecmp(tab[i].name, q->name) == 0) {
				if (strcmp(tab[i].text, "TEMP") == 0)
					a.result = DNS_RESULT_TEMP;
				else
					dns_answer_add_txt(&a, tab[i].text, strlen(tab[i].text));
			}
		dmarc_answer(d, &a);
		dns_answer_free(&a);
	}
	test_assert(dmarc_next(d) == NULL);
	return d;
}

/* the result for an SPF result alone, on "x.example" */
static enum dmarc_result spf_only(const char *from_domain, const struct rr *t, size_t n,
				  enum spf_result spf)
{
	struct dmarc *d = run(from_domain, t, n);
	dmarc_evaluate(d, spf, "x.example", NULL, NULL, 0);
	enum dmarc_result r = dmarc_result(d);
	dmarc_free(&d);
	return r;
}

static void test_dmarc_record(void)
{
	struct dmarc_record r;

	test_begin("dmarc: record parsing");
	test_assert(dmarc_record_parse("v=DMARC1; p=reject", 18, &r) == 0);
	test_assert(r.p == DMARC_POLICY_REJECT && r.sp == DMARC_POLICY_REJECT && r.pct == 100);
	test_assert(!r.strict_dkim && !r.strict_spf);
	const char *t = "v=DMARC1 ; p = quarantine; sp=none; adkim=s; aspf=s; pct=20; "
			"rua=mailto:d@example.com; np=reject; foo=bar;";
	test_assert(dmarc_record_parse(t, strlen(t), &r) == 0);
	test_assert(r.p == DMARC_POLICY_QUARANTINE && r.sp == DMARC_POLICY_NONE);
	test_assert(r.strict_dkim && r.strict_spf && r.pct == 20 && r.has_rua);
	test_assert(dmarc_record_parse("p=reject; v=DMARC1", 18, &r) == -1);
	test_assert(dmarc_record_parse("v=DMARC2; p=reject", 18, &r) == -1);
	test_assert(dmarc_record_parse("v=DMARC1", 8, &r) == -1);
	test_assert(dmarc_record_parse("v=DMARC1; p=bogus", 17, &r) == -1);
	t = "v=DMARC1; p=bogus; rua=mailto:a@example.com";
	test_assert(dmarc_record_parse(t, strlen(t), &r) == 0 && r.p == DMARC_POLICY_NONE);
	test_assert(dmarc_record_parse("", 0, &r) == -1);
	test_assert(dmarc_record_parse("v=DMARC1; p=none; pct=101", 25, &r) == 0 && r.pct == 100);
	test_end();
}

static void test_dmarc_org(void)
{
	char o[256];

	test_begin("dmarc: organisational domain through libpsl");
	test_assert(dmarc_org_domain("mail.example.co.uk", o, sizeof(o)) == 0);
	test_assert_str(o, "example.co.uk");
	test_assert(dmarc_org_domain("A.B.Example.COM", o, sizeof(o)) == 0);
	test_assert_str(o, "example.com");
	test_assert(dmarc_org_domain("example.com", o, sizeof(o)) == 0);
	test_assert_str(o, "example.com");
	test_assert(dmarc_org_domain("", o, sizeof(o)) == -1);
	test_end();
}

static void test_dmarc_policy(void)
{
	static const struct rr z[] = {
	    {"_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine"},
	    {"_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s"},
	    {"_dmarc.two.example", "v=DMARC1; p=reject"},
	    {"_dmarc.two.example", "v=DMARC1; p=none"},
	    {"_dmarc.temp.example", "TEMP"},
	    {"_dmarc.half.example", "v=DMARC1; p=reject; pct=50"},
	};
	size_t n = sizeof(z) / sizeof(z[0]);
	const char *dom[] = {"mail.example.com"};
	int pass[] = {1}, nopass[] = {0};

	test_begin("dmarc: look-ups, alignment, sp, pct");
	struct dmarc *d = run("example.com", z, n);
	dmarc_evaluate(d, SPF_PASS, "bounce.example.com", NULL, NULL, 0);
	test_assert(dmarc_result(d) == DMARC_PASS); /* relaxed SPF */
	dmarc_evaluate(d, SPF_FAIL, "example.com", nopass, dom, 1);
	test_assert(dmarc_result(d) == DMARC_FAIL && dmarc_policy(d) == DMARC_POLICY_REJECT);
	dmarc_evaluate(d, SPF_NONE, "", pass, dom, 1);
	test_assert(dmarc_result(d) == DMARC_PASS);
	dmarc_evaluate(d, SPF_PASS, "example.org", NULL, NULL, 0);
	test_assert(dmarc_result(d) == DMARC_FAIL);
	dmarc_free(&d);
	test_assert(d == NULL);

	/* a subdomain without its own record: the org record's sp= */
	d = run("news.example.com", z, n);
	dmarc_evaluate(d, SPF_FAIL, "news.example.com", NULL, NULL, 0);
	test_assert(dmarc_result(d) == DMARC_FAIL && dmarc_policy(d) == DMARC_POLICY_QUARANTINE);
	dmarc_free(&d);

	d = run("strict.example", z, n);
	const char *sub[] = {"a.strict.example"};
	dmarc_evaluate(d, SPF_PASS, "b.strict.example", pass, sub, 1);
	test_assert(dmarc_result(d) == DMARC_FAIL);
	const char *same[] = {"STRICT.example"};
	dmarc_evaluate(d, SPF_FAIL, "", pass, same, 1);
	test_assert(dmarc_result(d) == DMARC_PASS);
	dmarc_free(&d);

	test_assert(spf_only("two.example", z, n, SPF_FAIL) == DMARC_NONE);
	test_assert(spf_only("temp.example", z, n, SPF_FAIL) == DMARC_TEMPERROR);
	test_assert(spf_only("nothing.example", z, n, SPF_FAIL) == DMARC_NONE);
	test_assert_str(dmarc_result_name(DMARC_NONE), "none");
	test_assert(spf_only("", z, n, SPF_PASS) == DMARC_PERMERROR);

	d = run("half.example", z, n);
	dmarc_set_sample(d, 49);
	dmarc_evaluate(d, SPF_FAIL, "", NULL, NULL, 0);
	test_assert(dmarc_policy(d) == DMARC_POLICY_REJECT);
	dmarc_set_sample(d, 50);
	dmarc_evaluate(d, SPF_FAIL, "", NULL, NULL, 0);
	test_assert(dmarc_policy(d) == DMARC_POLICY_QUARANTINE);
	dmarc_free(&d);

	test_end();
}

static int from(const char *h, char *out)
{
	return dmarc_from_domain(h, strlen(h), out, 256);
}

static void test_dmarc_from(void)
{
	char o[256];

	test_begin("dmarc: the From: domain");
	test_assert(from("Subject: x\r\nFrom: A <a@Mail.Example.COM>\r\n\r\nFrom: b@c.example\r\n",
			 o) == 0);
	test_assert_str(o, "mail.example.com");
	test_assert(from("from : \"x, y@z\" (c@d.example) <u@e.example>\n\n", o) == 0);
	test_assert_str(o, "e.example");
	test_assert(from("From: u@a.example\r\n\tFolded\r\n", o) == 0);
	test_assert_str(o, "a.example");
	test_assert(from("From: a@x.example, b@y.example\r\n\r\n", o) == -1);
	test_assert(from("From: a@x.example\r\nFrom: b@x.example\r\n\r\n", o) == -1);
	test_assert(from("Subject: none\r\n\r\n", o) == -1);
	test_assert(from("From: undisclosed\r\n\r\n", o) == -1);
	test_assert(from("From: <a@x.example> <b@y.example>\r\n\r\n", o) == -1);
	test_assert(from("Fromage: a@x.example\r\n\r\n", o) == -1);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_dmarc_record, test_dmarc_org, test_dmarc_policy,
					   test_dmarc_from, NULL});
}
