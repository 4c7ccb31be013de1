/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dmarc.c - libFuzzer target for filter/dmarc.h: the input is parsed
 * as a record (a policy and pct in range when it parses), searched for a
 * From: domain (a lower-case name that fits when found), and used as the
 * answer to both of the machine's questions, which must end.
 */
#include "filter/dmarc.h"
#include "fuzz.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *t = (const char *)data;
	struct dmarc_record r;
	char out[64];

	if (dmarc_record_parse(t, size, &r) == 0) {
		CHECK(r.p <= DMARC_POLICY_REJECT && r.sp <= DMARC_POLICY_REJECT);
		CHECK(r.pct <= 100);
	}
	if (dmarc_from_domain(t, size, out, sizeof(out)) == 0) {
		size_t n = strlen(out);
		CHECK(n > 0 && n < sizeof(out));
		for (size_t i = 0; i < n; i++)
			CHECK(!isupper((unsigned char)out[i]));
	}
	struct dmarc *d = dmarc_new("a.b.example.co.uk");
	const struct dns_question *q;
	int steps = 0;
	while ((q = dmarc_next(d)) != NULL) {
		CHECK(++steps <= 2);
		struct dns_answer a;
		dns_answer_init(&a, DNS_TYPE_TXT, DNS_RESULT_NXDOMAIN);
		if (size > 0)
			dns_answer_add_txt(&a, t, strnlen(t, size));
		dmarc_answer(d, &a);
		dns_answer_free(&a);
	}
	const int pass[1] = {size > 0 && data[0] & 1};
	const char *dom[1] = {"example.co.uk"};
	dmarc_evaluate(d, SPF_PASS, "x.example", pass, dom, 1);
	CHECK(dmarc_result(d) <= DMARC_PERMERROR && dmarc_policy(d) <= DMARC_POLICY_REJECT);
	dmarc_free(&d);
	return 0;
}
