/* SPDX-License-Identifier: MIT */
/*
 * dns_probe - asks DNS questions through dns/dns_async.h on an event loop,
 * all at once, and prints one line per answer as it arrives (with --sync:
 * through dns/dns_sync.h, the delivery threads' resolver, one by one):
 *   dns_probe [--sync] [--ta FILE] [--timeout SECS] RESOLVER TYPE NAME [TYPE NAME ...]
 *   NAME TYPE result=ok|nxdomain|nodata|temp secure=yes|no [record ...]
 * TYPE is a, aaaa, mx, txt, ptr or tlsa. tests/proto/test_dns_async.py
 * drives it against an unbound on loopback.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns/dns.h"
#include "dns/dns_async.h"
#include "dns/dns_sync.h"
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
	if (loop != NULL && --left == 0)
		loop_stop(loop);
}

static enum dns_type type_of(const char *name)
{
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		if (strcmp(name, types[t].name) == 0)
			return types[t].type;
	return 0;
}

static int ask_sync(const struct dns_options *opt, int argc, char **argv)
{
	char err[256];
	struct dns_sync *ds = dns_sync_new(opt, err, sizeof(err));

	if (ds == NULL) {
		fprintf(stderr, "dns_probe: %s\n", err);
		return 1;
	}
	for (int i = 0; i + 1 < argc; i += 2) {
		struct dns_question q = {.type = type_of(argv[i])};
		struct dns_answer a;
		if (q.type == 0 || strlen(argv[i + 1]) >= sizeof(q.name)) {
			fprintf(stderr, "dns_probe: bad question %s %s\n", argv[i], argv[i + 1]);
			dns_sync_free(&ds);
			return 2;
		}
		strcpy(q.name, argv[i + 1]);
		dns_sync_query(ds, &q, &a);
		answered(&q, &a, NULL);
	}
	dns_sync_free(&ds);
	return 0;
}

int main(int argc, char **argv)
{
	struct dns_options opt = {.timeout = 5};
	int i = 1;
	char err[256];
	bool sync = false;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--sync") == 0) {
			sync = true;
			i--;
		} else if (strcmp(argv[i], "--ta") == 0)
			opt.trust_anchor = argv[i + 1];
		else if (strcmp(argv[i], "--timeout") == 0)
			opt.timeout = (unsigned)atoi(argv[i + 1]);
		else
			break;
	}
	if (i >= argc || (argc - i - 1) % 2 != 0 || argc - i - 1 == 0) {
		fprintf(stderr, "usage: dns_probe [--sync] [--ta FILE] [--timeout SECS] RESOLVER "
				"TYPE NAME [TYPE NAME ...]\n");
		return 2;
	}
	opt.resolver = strcmp(argv[i], "system") == 0 ? NULL : argv[i];
	if (sync)
		return ask_sync(&opt, argc - i - 1, argv + i + 1);
	loop = loop_new();
	struct dns_async *da = dns_async_new(loop, &opt, err, sizeof(err));
	if (da == NULL) {
		fprintf(stderr, "dns_probe: %s\n", err);
		return 1;
	}
	for (i++; i + 1 < argc; i += 2) {
		struct dns_question q = {.type = type_of(argv[i])};
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
