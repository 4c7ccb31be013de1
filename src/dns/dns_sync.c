/* SPDX-License-Identifier: MIT */
/* dns_sync.c - see dns_sync.h. */
#include "dns/dns_sync.h"

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>

#include "dns/dns_ub.h"
#include "util/mem.h"

struct dns_sync {
	struct ub_ctx *ub;
	int fd;
	unsigned timeout_ms;
};

struct pending {
	struct dns_answer *a;
	bool done;
};

struct dns_sync *dns_sync_new(const struct dns_options *opt, char *err, size_t cap)
{
	struct ub_ctx *ub = dns_ub_new(opt, err, cap);

	if (ub == NULL)
		return NULL;
	/* the system's resolver: /etc/hosts too, as getaddrinfo() reads it */
	if (opt->resolver == NULL || opt->resolver[0] == '\0')
		ub_ctx_hosts(ub, NULL);
	int fd = ub_fd(ub);
	if (fd < 0) {
		snprintf(err, cap, "resolver: no file descriptor");
		ub_ctx_delete(ub);
		return NULL;
	}
	struct dns_sync *ds = xcalloc(1, sizeof(*ds));
	ds->ub = ub;
	ds->fd = fd;
	ds->timeout_ms = (opt->timeout > 0 ? opt->timeout : 10) * 1000u;
	return ds;
}

void dns_sync_free(struct dns_sync **dsp)
{
	struct dns_sync *ds = *dsp;

	if (ds == NULL)
		return;
	ub_ctx_delete(ds->ub);
	free(ds);
	*dsp = NULL;
}

static void answered(void *arg, int err, struct ub_result *r)
{
	struct pending *p = arg;

	if (err == 0 && r != NULL)
		dns_ub_read(r, p->a);
	if (r != NULL)
		ub_resolve_free(r);
	p->done = true;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dns_sync_query(struct dns_sync *ds, const struct dns_question *q, struct dns_answer *a)
{
	struct pending p = {.a = a};
	int id;

	dns_answer_init(a, q->type, DNS_RESULT_TEMP);
	if (ub_resolve_async(ds->ub, q->name, (int)q->type, 1 /* IN */, &p, answered, &id) != 0)
		return;
	int64_t deadline = now_ms() + ds->timeout_ms;
	while (!p.done) {
		int64_t left = deadline - now_ms();
		struct pollfd pfd = {.fd = ds->fd, .events = POLLIN};
		if (left <= 0 || poll(&pfd, 1, (int)left) < 0) {
			if (left > 0)
				continue; /* EINTR */
			ub_cancel(ds->ub, id);
			dns_answer_free(a);
			dns_answer_init(a, q->type, DNS_RESULT_TEMP);
			return;
		}
		if (pfd.revents != 0)
			ub_process(ds->ub); /* runs answered() */
	}
}

static bool ask(struct dns_sync *ds, const char *name, enum dns_type type, struct dns_answer *a)
{
	struct dns_question q = {.type = type};

	if (strlen(name) >= sizeof(q.name)) {
		dns_answer_init(a, type, DNS_RESULT_NXDOMAIN);
		return false;
	}
	memcpy(q.name, name, strlen(name) + 1);
	dns_sync_query(ds, &q, a);
	return true;
}

enum dns_status dns_sync_mx(struct dns_sync *ds, const char *domain, struct mx_host *out,
			    size_t max, size_t *n_r, struct dns_sec *sec)
{
	struct dns_answer a;
	size_t n = 0;

	*n_r = 0;
	*sec = (struct dns_sec){0};
	if (max == 0 || !ask(ds, domain, DNS_TYPE_MX, &a))
		return DNS_NOTFOUND;
	sec->secure = a.secure;
	sec->bogus = a.bogus;
	enum dns_status st = a.result == DNS_RESULT_OK	     ? DNS_OK
			     : a.result == DNS_RESULT_NODATA ? DNS_NODATA
			     : a.result == DNS_RESULT_TEMP   ? DNS_TEMP
							     : DNS_NOTFOUND;
	if (st == DNS_NODATA) {
		/* no MX: the domain itself (RFC 5321 §5.1 implicit MX) */
		snprintf(out[0].name, sizeof(out[0].name), "%s", domain);
		out[0].pref = 0;
		*n_r = 1;
		dns_answer_free(&a);
		return DNS_OK;
	}
	for (size_t i = 0; st == DNS_OK && i < a.n; i++) {
		const char *name = a.rr[i].u.host.name;
		if (name[0] == '\0' || strcmp(name, ".") == 0) {
			st = DNS_NULL_MX; /* RFC 7505 null MX: a single record "0 ." */
			break;
		}
		if (n < max && strlen(name) < sizeof(out[n].name)) {
			memcpy(out[n].name, name, strlen(name) + 1);
			out[n].pref = a.rr[i].u.host.pref;
			n++;
		}
	}
	dns_answer_free(&a);
	if (st != DNS_OK)
		return st;
	if (n == 0)
		return DNS_NOTFOUND;
	dns_mx_sort(out, n);
	*n_r = n;
	return DNS_OK;
}

enum dns_status dns_sync_addrs(struct dns_sync *ds, const char *host, struct dns_addr *out,
			       size_t max, size_t *n_r, struct dns_sec *sec)
{
	unsigned char lit[16];
	size_t n = 0;
	bool temp = false;

	*n_r = 0;
	*sec = (struct dns_sec){0};
	if (max == 0)
		return DNS_NOTFOUND;
	if (inet_pton(AF_INET6, host, lit) == 1 || inet_pton(AF_INET, host, lit) == 1) {
		out[0].family = strchr(host, ':') != NULL ? AF_INET6 : AF_INET;
		memset(out[0].bytes, 0, sizeof(out[0].bytes));
		memcpy(out[0].bytes, lit, out[0].family == AF_INET6 ? 16 : 4);
		*n_r = 1;
		return DNS_OK;
	}
	sec->secure = true;
	static const enum dns_type types[] = {DNS_TYPE_AAAA, DNS_TYPE_A};
	for (size_t t = 0; t < 2; t++) {
		struct dns_answer a;
		if (!ask(ds, host, types[t], &a))
			return DNS_NOTFOUND;
		sec->secure &= a.secure;
		sec->bogus |= a.bogus;
		temp |= a.result == DNS_RESULT_TEMP;
		for (size_t i = 0; a.result == DNS_RESULT_OK && i < a.n && n < max; i++) {
			out[n].family = a.rr[i].u.addr.family;
			memcpy(out[n].bytes, a.rr[i].u.addr.bytes, sizeof(out[n].bytes));
			n++;
		}
		dns_answer_free(&a);
	}
	if (n > 0 && !sec->bogus) {
		*n_r = n;
		return DNS_OK;
	}
	sec->secure = false;
	return temp ? DNS_TEMP : DNS_NOTFOUND;
}

bool dns_sync_dnssec_broken(const struct dns_options *opt, unsigned timeout)
{
	struct dns_options o = *opt;
	char err[256];

	if (o.trust_anchor == NULL || o.trust_anchor[0] == '\0')
		return false;
	o.timeout = timeout;
	struct dns_sync *ds = dns_sync_new(&o, err, sizeof(err));
	if (ds == NULL)
		return false; /* the caller's own resolver will say why */
	/* the root's DNSKEY RRset: the first thing validation needs */
	struct dns_question q = {.name = ".", .type = (enum dns_type)48};
	struct dns_answer a;
	dns_sync_query(ds, &q, &a);
	bool broken = a.bogus;
	dns_answer_free(&a);
	dns_sync_free(&ds);
	return broken;
}
