/* SPDX-License-Identifier: MIT */
/*
 * fuzz_spf.c - libFuzzer target for filter/spf.h. The input is lines: the
 * first is checked as a record alone (spf_record_check); then check_host()
 * runs for 192.0.2.3 (or 2001:db8::3 when byte 0 is odd), and every question
 * is answered from the next line: its first octet picks the result (OK,
 * NXDOMAIN, NODATA, TEMP), the rest is a TXT text, or split on spaces into
 * host names (MX, PTR), or gives 4 / 16 address octets. Lines run out:
 * NXDOMAIN. Checks: the machine ends within a bound of questions (the
 * lookup limits hold whatever DNS says), every question names a type it
 * may ask, and the result is one of the seven.
 */
#include "filter/spf.h"
#include "fuzz.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *next_line(const char **p, const char *end, size_t *len)
{
	if (*p >= end)
		return NULL;
	const char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	*len = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
	*p = nl != NULL ? nl + 1 : end;
	return s;
}

static void fill(struct dns_answer *a, const struct dns_question *q, const char *l, size_t len)
{
	static const enum dns_result res[4] = {DNS_RESULT_OK, DNS_RESULT_NXDOMAIN,
					       DNS_RESULT_NODATA, DNS_RESULT_TEMP};
	dns_answer_init(a, q->type, len == 0 ? DNS_RESULT_OK : res[(uint8_t)l[0] % 4]);
	if (len == 0 || (uint8_t)l[0] % 4 != 0) {
		if (a->result == DNS_RESULT_OK)
			a->result = DNS_RESULT_NODATA;
		return;
	}
	l++;
	len--;
	uint8_t b[16] = {0};
	char name[DNS_NAME_MAX];
	switch (q->type) {
	case DNS_TYPE_TXT:
		for (size_t i = 0, s = 0; i <= len; i++)
			if (i == len || l[i] == '|') {
				dns_answer_add_txt(a, l + s, i - s);
				s = i + 1;
			}
		break;
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		for (size_t i = 0; i < len; i += 16) {
			memset(b, 0, sizeof(b));
			memcpy(b, l + i, len - i < 16 ? len - i : 16);
			dns_answer_add_addr(a, q->type == DNS_TYPE_A ? AF_INET : AF_INET6, b);
		}
		break;
	default:
		for (size_t i = 0, s = 0; i <= len; i++)
			if (i == len || l[i] == ' ') {
				size_t n = i - s < sizeof(name) - 1 ? i - s : sizeof(name) - 1;
				memcpy(name, l + s, n);
				name[n] = '\0';
				dns_answer_add_host(a, (unsigned)i, name);
				s = i + 1;
			}
		break;
	}
	if (a->n == 0)
		a->result = DNS_RESULT_NODATA;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *p = (const char *)data + 1, *end = (const char *)data + size, *l;
	size_t len;
	char why[128];
	int family = data[0] & 1 ? AF_INET6 : AF_INET;
	uint8_t ip[16] = {192, 0, 2, 3};
	if (family == AF_INET6) {
		static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 3};
		memcpy(ip, v6, 16);
	}

	if ((l = next_line(&p, end, &len)) != NULL) {
		int r = spf_record_check(l, len, why, sizeof(why));
		CHECK(r == 0 || r == -1);
	}
	p = (const char *)data + 1;
	struct spf *s = spf_new(family, ip, data[0] & 2 ? "" : "user@fuzz.example", "helo.example");
	const struct dns_question *q;
	unsigned steps = 0;
	while ((q = spf_next(s)) != NULL) {
		CHECK(++steps <= 10 * (SPF_MAX_NAMES + 2) + 2);
		CHECK(q->type == DNS_TYPE_TXT || q->type == DNS_TYPE_A ||
		      q->type == DNS_TYPE_AAAA || q->type == DNS_TYPE_MX ||
		      q->type == DNS_TYPE_PTR);
		CHECK(strlen(q->name) < DNS_NAME_MAX);
		struct dns_answer a;
		l = next_line(&p, end, &len);
		if (l == NULL)
			dns_answer_init(&a, q->type, DNS_RESULT_NXDOMAIN);
		else
			fill(&a, q, l, len);
		spf_answer(s, &a);
		dns_answer_free(&a);
	}
	enum spf_result r = spf_result(s);
	CHECK(r >= SPF_NONE && r <= SPF_PERMERROR);
	CHECK(strlen(spf_reason(s)) < SPF_REASON_MAX);
	spf_free(&s);
	return 0;
}
