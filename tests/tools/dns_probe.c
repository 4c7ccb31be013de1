/* SPDX-License-Identifier: MIT */
/*
 * dns_probe - asks DNS questions through dns/dns_async.h on an event loop,
 * all at once, and prints one line per answer as it arrives:
 *   dns_probe [--ta FILE] [--timeout SECS] RESOLVER TYPE NAME [TYPE NAME ...]
 *   NAME TYPE result=ok|nxdomain|nodata|temp secure=yes|no [record ...]
 * TYPE is a, aaaa, mx, txt, ptr or tlsa. tests/proto/test_dns_async.py
 * drives it against an unbound on loopback.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "dns/dns_async.h"
#include "net/loop.h"

static const struct {
	const char *name;
	enum dns_type type;
} types[] = {{"a", DNS_TYPE_A},	    {"aaaa", DNS_TYPE_AAAA}, {"mx", DNS_TYPE_MX},
	     {"txt", DNS_TYPE_TXT}, {"ptr", DNS_TYPE_PTR},   {"tlsa", DNS_TYPE_TLSA}};

static const char *const results[] = {"ok", "nxdomain", "nodata", "temp"};
static struct loop *loop;
static unsigned left;

static const char *type_name(enum dns_type t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == t)
			return types[i].name;
	return "?";
}

static void answered(const struct dns_question *q, struct dns_answer *a, void *ctx)
{
	(void)ctx;
	printf("%s %s result=%s secure=%s", q->name, type_name(q->type), results[a->result],
	       a->secure ? "yes" : "no");
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_record *r = &a->rr[i];
		char ip[INET6_ADDRSTRLEN];
		switch (q->type) {
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			inet_ntop(r->u.addr.family, r->u.addr.bytes, ip, sizeof(ip));
			printf(" %s", ip);
			break;
		case DNS_TYPE_MX:
		case DNS_TYPE_PTR:
			printf(" %u:%s", r->u.host.pref, r->u.host.name);
			break;
		case DNS_TYPE_TXT:
			printf(" \"%s\"", r->u.txt.text);
			break;
		case DNS_TYPE_TLSA:
			printf(" %u/%u/%u:", r->u.tlsa.usage, r->u.tlsa.selector, r->u.tlsa.mtype);
			for (size_t k = 0; k < r->u.tlsa.len; k++)
				printf("%02x", r->u.tlsa.data[k]);
			break;
		}
	}
	printf("\n");
	fflush(stdout);
	dns_answer_free(a);
	if (--left == 0)
		loop_stop(loop);
}

int main(int argc, char **argv)
{
	struct dns_options opt = {.timeout = 5};
	int i = 1;
	char err[256];

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--ta") == 0)
			opt.trust_anchor = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			opt.timeout = (unsigned)atoi(argv[i + 1]);
		else
			break;
	}
	if (i >= argc || (argc - i - 1) % 2 != 0 || argc - i - 1 == 0) {
		fprintf(stderr, "usage: dns_probe [--ta FILE] [--timeout SECS] RESOLVER TYPE NAME "
				"[TYPE NAME ...]\n");
		return 2;
	}
	opt.resolver = strcmp(argv[i], "system") == 0 ? NULL : argv[i];
	loop = loop_new();
	struct dns_async *da = dns_async_new(loop, &opt, err, sizeof(err));
	if (da == NULL) {
		fprintf(stderr, "dns_probe: %s\n", err);
		return 1;
	}
	for (i++; i + 1 < argc; i += 2) {
		struct dns_question q = {.type = 0};
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			if (strcmp(argv[i], types[t].name) == 0)
				q.type = types[t].type;
		if (q.type == 0 || strlen(argv[i + 1]) >= sizeof(q.name)) {
			fprintf(stderr, "dns_probe: bad question %s %s\n", argv[i], argv[i + 1]);
			return 2;
		}
		strcpy(q.name, argv[i + 1]);
		if (dns_async_query(da, &q, answered, NULL) == NULL) {
			fprintf(stderr, "dns_probe: cannot ask %s\n", q.name);
			return 1;
		}
		left++;
	}
	loop_run(loop);
	dns_async_free(&da);
	loop_free(&loop);
	return 0;
}
