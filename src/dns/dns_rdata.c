/* SPDX-License-Identifier: MIT */
/* dns_rdata.c - see dns_rdata.h. */
#include "dns/dns_rdata.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/mem.h"

int dns_wire_name(const unsigned char *p, size_t len, char *out, size_t cap, size_t *used_r)
{
	size_t i = 0, o = 0;

	if (cap == 0)
		return -1;
	for (;;) {
		if (i >= len)
			return -1;
		unsigned n = p[i++];
		if (n == 0)
			break;
		if (n > 63 || i + n > len) /* 0xc0: compression, never in rdata here */
			return -1;
		size_t grown = o + (o > 0) + n; /* a dot, then the label */
		if (grown > 253 || grown + 1 > cap)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (unsigned k = 0; k < n; k++) {
			unsigned char c = p[i + k];
			/* a name is text for us: what cannot be printed is shown as '?' */
			out[o++] = c > 0x20 && c < 0x7f && c != '.' ? (char)c : '?';
		}
		i += n;
	}
	out[o] = '\0';
	*used_r = i;
	return 0;
}

static int add_txt(struct dns_answer *a, const unsigned char *p, size_t len)
{
	char *text = xmalloc(len + 1);
	size_t i = 0, o = 0;

	while (i < len) {
		size_t n = p[i++];
		if (i + n > len) {
			free(text);
			return -1;
		}
		memcpy(text + o, p + i, n);
		o += n;
		i += n;
	}
	dns_answer_add_txt(a, text, o);
	free(text);
	return 0;
}

int dns_rdata_add(struct dns_answer *a, const unsigned char *p, size_t len)
{
	char name[DNS_NAME_MAX];
	size_t used;

	switch (a->type) {
	case DNS_TYPE_A:
		if (len != 4)
			return -1;
		dns_answer_add_addr(a, AF_INET, p);
		return 0;
	case DNS_TYPE_AAAA:
		if (len != 16)
			return -1;
		dns_answer_add_addr(a, AF_INET6, p);
		return 0;
	case DNS_TYPE_MX:
		if (len < 3 || dns_wire_name(p + 2, len - 2, name, sizeof(name), &used) != 0 ||
		    used != len - 2)
			return -1;
		dns_answer_add_host(a, (unsigned)p[0] << 8 | p[1], name);
		return 0;
	case DNS_TYPE_PTR:
		if (dns_wire_name(p, len, name, sizeof(name), &used) != 0 || used != len)
			return -1;
		dns_answer_add_host(a, 0, name);
		return 0;
	case DNS_TYPE_TXT:
		return add_txt(a, p, len);
	case DNS_TYPE_TLSA:
		if (len < 3)
			return -1;
		dns_answer_add_tlsa(a, p[0], p[1], p[2], p + 3, len - 3);
		return 0;
	}
	return -1;
}
