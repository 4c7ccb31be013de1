/* SPDX-License-Identifier: MIT */
/* dns.c - see dns.h. */
#include "queue/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A resolver state; with "ip[:port]" that server alone is asked. */
static int res_open(struct __res_state *rs, const char *resolver)
{
	memset(rs, 0, sizeof(*rs));
	if (res_ninit(rs) != 0)
		return -1;
	rs->retrans = 2;
	rs->retry = 2;
	if (resolver != NULL && resolver[0] != '\0') {
		char ip[64];
		unsigned port = 53;
		const char *colon = strrchr(resolver, ':');
		size_t n = colon != NULL ? (size_t)(colon - resolver) : strlen(resolver);
		if (n >= sizeof(ip))
			return -1;
		memcpy(ip, resolver, n);
		ip[n] = '\0';
		if (colon != NULL)
			port = (unsigned)atoi(colon + 1);
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1 || port == 0 || port > 65535)
			return -1;
		rs->nscount = 1;
		rs->nsaddr_list[0] = sa;
	}
	return 0;
}

#define DNS_NODATA 100 /* the name exists, without records of this type */

static int query(struct __res_state *rs, const char *name, int type,
		 unsigned char *ans, int len, ns_msg *msg)
{
	int n = res_nquery(rs, name, ns_c_in, type, ans, len);
	if (n < 0) {
		switch (rs->res_h_errno) {
		case HOST_NOT_FOUND:
			return DNS_NOTFOUND;
		case NO_DATA:
			return DNS_NODATA;
		default:
			return DNS_TEMP;
		}
	}
	if (ns_initparse(ans, n, msg) < 0)
		return DNS_TEMP;
	return DNS_OK;
}

enum dns_status dns_mx(const char *resolver, const char *domain, struct mx_host *out,
		       size_t max, size_t *n_r)
{
	struct __res_state rs;
	unsigned char ans[4096];
	ns_msg msg;
	size_t n = 0;

	*n_r = 0;
	if (res_open(&rs, resolver) < 0)
		return DNS_TEMP;
	int r = (int)query(&rs, domain, ns_t_mx, ans, sizeof(ans), &msg);
	if (r == DNS_NODATA) {
		/* no MX: the domain itself (RFC 5321 §5.1 implicit MX) */
		snprintf(out[0].name, sizeof(out[0].name), "%s", domain);
		out[0].pref = 0;
		*n_r = 1;
		res_nclose(&rs);
		return DNS_OK;
	}
	if (r != DNS_OK) {
		res_nclose(&rs);
		return (enum dns_status)r;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_mx ||
		    ns_rr_rdlen(rr) < 3)
			continue;
		unsigned pref = ns_get16(ns_rr_rdata(rr));
		char name[NS_MAXDNAME];
		if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, name,
				       sizeof(name)) < 0)
			continue;
		if (name[0] == '\0' || strcmp(name, ".") == 0) {
			/* RFC 7505 null MX: a single record "0 ." */
			res_nclose(&rs);
			return DNS_NULL_MX;
		}
		if (strlen(name) >= sizeof(out[n].name))
			continue; /* longer than any host name may be (RFC 1035: 255) */
		memcpy(out[n].name, name, strlen(name) + 1);
		out[n].pref = pref;
		n++;
	}
	res_nclose(&rs);
	if (n == 0)
		return DNS_NOTFOUND;
	/* by preference; equal preferences in random order (RFC 5321 §5.1) */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (out[j].pref < out[i].pref ||
			    (out[j].pref == out[i].pref && (rand() & 1))) {
				struct mx_host t = out[i];
				out[i] = out[j];
				out[j] = t;
			}
	*n_r = n;
	return DNS_OK;
}

enum dns_status dns_addrs(const char *resolver, const char *host, struct in_addr *out,
			  size_t max, size_t *n_r)
{
	*n_r = 0;
	if (max == 0)
		return DNS_NOTFOUND;
	if (inet_pton(AF_INET, host, &out[0]) == 1) {
		*n_r = 1;
		return DNS_OK;
	}
	if (resolver == NULL || resolver[0] == '\0') {
		/* the system's resolver, /etc/hosts included */
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;
		int e = getaddrinfo(host, NULL, &hints, &res);
		if (e != 0)
			return e == EAI_NONAME || e == EAI_NODATA ? DNS_NOTFOUND : DNS_TEMP;
		size_t n = 0;
		for (struct addrinfo *a = res; a != NULL && n < max; a = a->ai_next)
			out[n++] = ((struct sockaddr_in *)a->ai_addr)->sin_addr;
		freeaddrinfo(res);
		*n_r = n;
		return n > 0 ? DNS_OK : DNS_NOTFOUND;
	}
	struct __res_state rs;
	unsigned char ans[4096];
	ns_msg msg;
	size_t n = 0;
	if (res_open(&rs, resolver) < 0)
		return DNS_TEMP;
	int r = (int)query(&rs, host, ns_t_a, ans, sizeof(ans), &msg);
	if (r != DNS_OK) {
		res_nclose(&rs);
		return r == DNS_NODATA ? DNS_NOTFOUND : (enum dns_status)r;
	}
	for (int i = 0; i < ns_msg_count(msg, ns_s_an) && n < max; i++) {
		ns_rr rr;
		if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 && ns_rr_type(rr) == ns_t_a &&
		    ns_rr_rdlen(rr) == 4)
			memcpy(&out[n++], ns_rr_rdata(rr), 4);
	}
	res_nclose(&rs);
	*n_r = n;
	return n > 0 ? DNS_OK : DNS_NOTFOUND;
}
