/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mta_sts.c - libFuzzer target for the MTA-STS parsers (queue/mta_sts.h):
 * the input is read as one TXT record (NUL-terminated, cut at DNS_TXT_MAX),
 * as a policy body and as a cache file. Invariants abort: an accepted id is
 * 1 to 32 letters and digits; an accepted policy has its mode's mx
 * patterns, lower case, each matching a host made from it, and a max_age
 * within bounds; its cache form reads back the same.
 */
#include "fuzz.h"
#include "queue/mta_sts.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void check_policy(const struct mta_sts_policy *p)
{
	CHECK(p->max_age <= MTA_STS_MAX_AGE_MAX);
	CHECK(p->n_mx <= MTA_STS_MX_MAX);
	CHECK(p->mode == MTA_STS_NONE || p->n_mx > 0);
	for (size_t i = 0; i < p->n_mx; i++) {
		const char *mx = p->mx[i];
		size_t len = strnlen(mx, sizeof(p->mx[i]));
		CHECK(len > 0 && len < sizeof(p->mx[i]));
		for (size_t k = 0; k < len; k++)
			CHECK(!(mx[k] >= 'A' && mx[k] <= 'Z'));
		char host[300];
		snprintf(host, sizeof(host), "%s%s", mx[0] == '*' ? "x" : "", mx + (mx[0] == '*'));
		CHECK(mta_sts_mx_match(p, host));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char rec[DNS_TXT_MAX];
	char id[MTA_STS_ID_MAX + 1];
	size_t n = size < DNS_TXT_MAX - 1 ? size : DNS_TXT_MAX - 1;

	memcpy(rec, data, n);
	rec[n] = '\0';
	if (mta_sts_txt_parse(rec, id)) {
		size_t len = strnlen(id, sizeof(id));
		CHECK(len > 0 && len <= MTA_STS_ID_MAX);
	}

	struct mta_sts_policy p, q;
	char why[100];
	memset(&p, 0, sizeof(p));
	if (mta_sts_policy_parse((const char *)data, size, &p, why, sizeof(why))) {
		check_policy(&p);
		memcpy(p.id, "fuzz", 5);
		p.fetched = 12345;
		static char text[16384];
		size_t len = mta_sts_cache_write(&p, text, sizeof(text));
		CHECK(len > 0);
		memset(&q, 0, sizeof(q));
		CHECK(mta_sts_cache_read(text, len, &q));
		CHECK(q.mode == p.mode && q.max_age == p.max_age && q.n_mx == p.n_mx &&
		      q.fetched == p.fetched && strcmp(q.id, p.id) == 0);
		for (size_t i = 0; i < p.n_mx; i++)
			CHECK(strcmp(p.mx[i], q.mx[i]) == 0);
	}
	memset(&q, 0, sizeof(q));
	if (mta_sts_cache_read((const char *)data, size, &q))
		check_policy(&q);
	return 0;
}
