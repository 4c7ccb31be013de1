/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns.c - libFuzzer target for the readers of raw DNS answers that the
 * delivery agents use (dns/dns.h: dns_parse_mx, dns_parse_addrs) and of `mailroom check --dns`
 * (dns_parse_ptr, dns_parse_txt). The
 * input is one answer message as a resolver would return it; what passes
 * ns_initparse() goes through the MX reader, both address readers, the PTR and the TXT
 * reader.
 * Invariants abort.
 */
#include "fuzz.h"
#include "dns/dns.h"

#include <stdint.h>
#include <string.h>

#define FUZZ_MAX 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ns_msg msg;
	struct mx_host mx[FUZZ_MAX];
	struct dns_addr addrs[FUZZ_MAX];
	size_t n = 0;

	if (size > 65535 || ns_initparse(data, (int)size, &msg) < 0)
		return 0;
	enum dns_status st = dns_parse_mx(&msg, mx, FUZZ_MAX, &n);
	CHECK(n <= FUZZ_MAX);
	CHECK(st == DNS_OK ? n > 0 : st == DNS_NULL_MX || (st == DNS_NOTFOUND && n == 0));
	for (size_t i = 0; st == DNS_OK && i < n; i++) {
		size_t len = strnlen(mx[i].name, sizeof(mx[i].name));
		CHECK(len > 0 && len < sizeof(mx[i].name));
		CHECK(strcmp(mx[i].name, ".") != 0);
		CHECK(mx[i].pref <= 65535);
	}
	n = 0;
	dns_parse_addrs(&msg, AF_INET6, addrs, FUZZ_MAX, &n);
	size_t n6 = n;
	dns_parse_addrs(&msg, AF_INET, addrs, FUZZ_MAX, &n);
	CHECK(n6 <= n && n <= FUZZ_MAX);
	for (size_t i = 0; i < n; i++)
		CHECK(addrs[i].family == (i < n6 ? AF_INET6 : AF_INET));
	for (size_t i = n6; i < n; i++) /* IPv4: the rest of the bytes stay zero */
		for (size_t k = 4; k < sizeof(addrs[i].bytes); k++)
			CHECK(addrs[i].bytes[k] == 0);
	n = 0;
	dns_parse_ptr(&msg, mx, FUZZ_MAX, &n);
	CHECK(n <= FUZZ_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(mx[i].name, sizeof(mx[i].name));
		CHECK(len > 0 && len < sizeof(mx[i].name));
	}
	static char txt[FUZZ_MAX][DNS_TXT_MAX];
	n = 0;
	dns_parse_txt(&msg, txt, FUZZ_MAX, &n);
	CHECK(n <= FUZZ_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t len = strnlen(txt[i], DNS_TXT_MAX);
		CHECK(len < DNS_TXT_MAX);
		for (size_t k = 0; k < len; k++)
			CHECK((unsigned char)txt[i][k] >= 0x20 && txt[i][k] != 0x7f);
	}
	return 0;
}
