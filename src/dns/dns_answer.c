/* SPDX-License-Identifier: MIT */
/* dns_answer.c - see dns_answer.h. */
#include "dns/dns_answer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/mem.h"

void dns_answer_init(struct dns_answer *a, enum dns_type type, enum dns_result result)
{
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->result = result;
}

void dns_answer_free(struct dns_answer *a)
{
	for (size_t i = 0; i < a->n; i++) {
		switch (a->type) {
		case DNS_TYPE_MX:
		case DNS_TYPE_PTR:
			free(a->rr[i].u.host.name);
			break;
		case DNS_TYPE_TXT:
			free(a->rr[i].u.txt.text);
			break;
		case DNS_TYPE_TLSA:
			free(a->rr[i].u.tlsa.data);
			break;
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			break;
		}
	}
	free(a->rr);
	a->rr = NULL;
	a->n = a->cap = 0;
}

static struct dns_record *add(struct dns_answer *a)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 4 : a->cap * 2;
		a->rr = xrealloc(a->rr, a->cap * sizeof(*a->rr));
	}
	a->result = DNS_RESULT_OK;
	struct dns_record *r = &a->rr[a->n++];
	memset(r, 0, sizeof(*r));
	return r;
}

void dns_answer_add_addr(struct dns_answer *a, int family, const void *bytes)
{
	struct dns_record *r = add(a);
	r->u.addr.family = family;
	memcpy(r->u.addr.bytes, bytes, family == AF_INET6 ? 16 : 4);
}

void dns_answer_add_host(struct dns_answer *a, unsigned pref, const char *name)
{
	struct dns_record *r = add(a);
	r->u.host.pref = pref;
	r->u.host.name = xstrdup(name);
}

void dns_answer_add_txt(struct dns_answer *a, const char *text, size_t len)
{
	struct dns_record *r = add(a);
	r->u.txt.text = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++)
		r->u.txt.text[i] = text[i] == '\0' ? '?' : text[i];
	r->u.txt.text[len] = '\0';
	r->u.txt.len = len;
}

void dns_answer_add_tlsa(struct dns_answer *a, uint8_t usage, uint8_t selector, uint8_t mtype,
			 const uint8_t *data, size_t len)
{
	struct dns_record *r = add(a);
	r->u.tlsa.usage = usage;
	r->u.tlsa.selector = selector;
	r->u.tlsa.mtype = mtype;
	r->u.tlsa.data = xmalloc(len > 0 ? len : 1);
	if (len > 0)
		memcpy(r->u.tlsa.data, data, len);
	r->u.tlsa.len = len;
}
