/* SPDX-License-Identifier: MIT */
/*
 * spf_zone.c - the SPF tests' DNS table (spf_zone.h).
 */
#include "spf_zone.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

void spf_zone_answer(const struct spf_rr *zone, size_t n, const struct dns_question *q,
		     struct dns_answer *a)
{
	bool name_seen = false;
	uint8_t b[16];

	dns_answer_init(a, q->type, DNS_RESULT_NXDOMAIN);
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(zone[i].name, q->name) != 0)
			continue;
		name_seen = true;
		if (zone[i].type != q->type)
			continue;
		const char *v = zone[i].value;
		if (strcmp(v, "TEMP") == 0) {
			dns_answer_free(a);
			dns_answer_init(a, q->type, DNS_RESULT_TEMP);
			return;
		}
		if (q->type == DNS_TYPE_TXT)
			dns_answer_add_txt(a, v, strlen(v));
		else if (q->type == DNS_TYPE_MX && strchr(v, ' ') != NULL)
			dns_answer_add_host(a, (unsigned)atoi(v), strchr(v, ' ') + 1);
		else if (q->type == DNS_TYPE_PTR)
			dns_answer_add_host(a, 0, v);
		else if (q->type == DNS_TYPE_A && inet_pton(AF_INET, v, b) == 1)
			dns_answer_add_addr(a, AF_INET, b);
		else if (q->type == DNS_TYPE_AAAA && inet_pton(AF_INET6, v, b) == 1)
			dns_answer_add_addr(a, AF_INET6, b);
	}
	if (a->n == 0 && name_seen)
		a->result = DNS_RESULT_NODATA;
}
