/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_rdata.c - libFuzzer target for the record readers behind the
 * asynchronous resolver (dns/dns_rdata.h). The first octet picks the type,
 * the rest is cut into records at each 0xff 0xfe pair, as libunbound's
 * answer would list them; every record is read, and DANE's choice of
 * usable TLSA records (queue/dane.h) made. Invariants abort.
 */
#include "fuzz.h"
#include "dns/dns_rdata.h"
#include "queue/dane.h"

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

static const enum dns_type types[] = {DNS_TYPE_A,   DNS_TYPE_AAAA, DNS_TYPE_MX,
				      DNS_TYPE_PTR, DNS_TYPE_TXT,  DNS_TYPE_TLSA};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_answer a;

	if (size < 1 || size > 65536)
		return 0;
	dns_answer_init(&a, types[data[0] % 6], DNS_RESULT_NODATA);
	const uint8_t *p = data + 1, *end = data + size;
	size_t tried = 0;
	while (p <= end) {
		const uint8_t *q = p;
		while (q + 1 < end && !(q[0] == 0xff && q[1] == 0xfe))
			q++;
		if (q + 1 >= end)
			q = end;
		size_t before = a.n;
		int r = dns_rdata_add(&a, p, (size_t)(q - p));
		CHECK(a.n == before + (r == 0));
		tried++;
		p = q + 2;
	}
	CHECK(a.n <= tried);
	CHECK(a.n == 0 ? a.result == DNS_RESULT_NODATA : a.result == DNS_RESULT_OK);
	for (size_t i = 0; i < a.n; i++) {
		const struct dns_record *r = &a.rr[i];
		switch (a.type) {
		case DNS_TYPE_A:
			CHECK(r->u.addr.family == AF_INET);
			break;
		case DNS_TYPE_AAAA:
			CHECK(r->u.addr.family == AF_INET6);
			break;
		case DNS_TYPE_MX:
		case DNS_TYPE_PTR: {
			size_t len = strlen(r->u.host.name);
			CHECK(len < DNS_NAME_MAX && len <= 253);
			for (size_t k = 0; k < len; k++)
				CHECK(r->u.host.name[k] > 0x20 && r->u.host.name[k] < 0x7f);
			break;
		}
		case DNS_TYPE_TXT:
			CHECK(strlen(r->u.txt.text) == r->u.txt.len);
			break;
		case DNS_TYPE_TLSA:
			CHECK(r->u.tlsa.data != NULL);
			break;
		}
	}
	/* DANE's choice of records (queue/dane.h): only usable ones, a prefix */
	struct dns_answer u;
	dns_answer_init(&u, DNS_TYPE_TLSA, DNS_RESULT_NODATA);
	size_t kept = dane_usable(&a, &u);
	CHECK(kept == u.n && kept <= DANE_TLSA_MAX && kept <= a.n);
	CHECK(a.type == DNS_TYPE_TLSA || kept == 0);
	for (size_t i = 0; i < u.n; i++) {
		const struct dns_record *r = &u.rr[i];
		CHECK(r->u.tlsa.usage == 2 || r->u.tlsa.usage == 3);
		CHECK(r->u.tlsa.selector <= 1 && r->u.tlsa.mtype <= 2 && r->u.tlsa.len > 0);
		CHECK(r->u.tlsa.mtype != 1 || r->u.tlsa.len == 32);
		CHECK(r->u.tlsa.mtype != 2 || r->u.tlsa.len == 64);
	}
	dns_answer_free(&u);
	dns_answer_free(&a);
	return 0;
}
