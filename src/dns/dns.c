/* SPDX-License-Identifier: MIT */
/* dns.c - see dns.h. */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <resolv.h>
#include <stdbool.h>
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

static int query(struct __res_state *rs, const char *name, int type, unsigned char *ans, int len,
		 ns_msg *msg)
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

/* One query through a resolver of its own (res_open). */
static int lookup(const char *resolver, const char *name, int type, unsigned char *ans, int len,
		  ns_msg *msg)
{
	struct __res_state rs;
	if (res_open(&rs, resolver) < 0)
		return DNS_TEMP;
	int r = query(&rs, name, type, ans, len, msg);
	res_nclose(&rs);
	return r;
}

enum dns_status dns_parse_mx(ns_msg *msg, struct mx_host *out, size_t max, size_t *n_r)
{
	size_t n = 0;

	*n_r = 0;
	for (int i = 0; i < ns_msg_count(*msg, ns_s_an) && n < max; i++) {
		ns_rr rr;
		if (ns_parserr(msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_mx ||
		    ns_rr_rdlen(rr) < 3)
			continue;
		unsigned pref = ns_get16(ns_rr_rdata(rr));
		char name[NS_MAXDNAME];
		if (ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(rr) + 2,
				       name, sizeof(name)) < 0)
			continue;
		if (name[0] == '\0' || strcmp(name, ".") == 0)
			return DNS_NULL_MX; /* RFC 7505 null MX: a single record "0 ." */
		if (strlen(name) >= sizeof(out[n].name))
			continue; /* longer than any host name may be (RFC 1035: 255) */
		memcpy(out[n].name, name, strlen(name) + 1);
		out[n].pref = pref;
		n++;
	}
	*n_r = n;
	return n == 0 ? DNS_NOTFOUND : DNS_OK;
}

static enum dns_status mx_lookup(const char *resolver, const char *domain, bool implicit,
				 struct mx_host *out, size_t max, size_t *n_r)
{
	struct __res_state rs;
	unsigned char ans[4096];
	ns_msg msg;
	size_t n = 0;

	*n_r = 0;
	if (res_open(&rs, resolver) < 0)
		return DNS_TEMP;
	int r = (int)query(&rs, domain, ns_t_mx, ans, sizeof(ans), &msg);
	if (r == DNS_NODATA && implicit) {
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
	res_nclose(&rs);
	enum dns_status st = dns_parse_mx(&msg, out, max, &n);
	if (st != DNS_OK)
		return st;
	dns_mx_sort(out, n);
	*n_r = n;
	return DNS_OK;
}

/* By preference; equal preferences in random order (RFC 5321 §5.1). */
void dns_mx_sort(struct mx_host *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (out[j].pref < out[i].pref ||
			    (out[j].pref == out[i].pref && (rand() & 1))) {
				struct mx_host t = out[i];
				out[i] = out[j];
				out[j] = t;
			}
}

enum dns_status dns_mx(const char *resolver, const char *domain, struct mx_host *out, size_t max,
		       size_t *n_r)
{
	return mx_lookup(resolver, domain, true, out, max, n_r);
}

enum dns_status dns_mx_records(const char *resolver, const char *domain, struct mx_host *out,
			       size_t max, size_t *n_r)
{
	return mx_lookup(resolver, domain, false, out, max, n_r);
}

void dns_addr_sockaddr(const struct dns_addr *a, unsigned port, struct sockaddr_storage *ss,
		       socklen_t *len_r)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		memcpy(&s6->sin6_addr, a->bytes, 16);
		*len_r = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		memcpy(&s4->sin_addr, a->bytes, 4);
		*len_r = sizeof(*s4);
	}
}

void dns_addr_text(const struct dns_addr *a, char *out, size_t len)
{
	if (inet_ntop(a->family, a->bytes, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

static void add(struct dns_addr *out, size_t max, size_t *n, int family, const void *bytes)
{
	if (*n >= max)
		return;
	out[*n].family = family;
	memset(out[*n].bytes, 0, sizeof(out[*n].bytes));
	memcpy(out[*n].bytes, bytes, family == AF_INET6 ? 16 : 4);
	(*n)++;
}

void dns_parse_addrs(ns_msg *msg, int family, struct dns_addr *out, size_t max, size_t *n)
{
	int type = family == AF_INET6 ? ns_t_aaaa : ns_t_a;
	size_t want = family == AF_INET6 ? 16 : 4;
	for (int i = 0; i < ns_msg_count(*msg, ns_s_an); i++) {
		ns_rr rr;
		if (ns_parserr(msg, ns_s_an, i, &rr) == 0 && (int)ns_rr_type(rr) == type &&
		    ns_rr_rdlen(rr) == want)
			add(out, max, n, family, ns_rr_rdata(rr));
	}
}

/* One record type through our resolver; appends what it finds. */
static enum dns_status query_addrs(const char *resolver, const char *host, int type,
				   struct dns_addr *out, size_t max, size_t *n)
{
	unsigned char ans[4096];
	ns_msg msg;

	int r = lookup(resolver, host, type, ans, sizeof(ans), &msg);
	if (r != DNS_OK)
		return r == DNS_NODATA ? DNS_NOTFOUND : (enum dns_status)r;
	dns_parse_addrs(&msg, type == ns_t_aaaa ? AF_INET6 : AF_INET, out, max, n);
	return DNS_OK;
}

enum dns_status dns_addrs(const char *resolver, const char *host, struct dns_addr *out, size_t max,
			  size_t *n_r)
{
	unsigned char lit[16];
	size_t n = 0;

	*n_r = 0;
	if (max == 0)
		return DNS_NOTFOUND;
	if (inet_pton(AF_INET6, host, lit) == 1 || inet_pton(AF_INET, host, lit) == 1) {
		add(out, max, &n, strchr(host, ':') != NULL ? AF_INET6 : AF_INET, lit);
		*n_r = n;
		return DNS_OK;
	}
	if (resolver == NULL || resolver[0] == '\0') {
		/* the system's resolver, /etc/hosts included */
		struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
		struct addrinfo *res = NULL;
		int e = getaddrinfo(host, NULL, &hints, &res);
		if (e != 0)
			return e == EAI_NONAME || e == EAI_NODATA ? DNS_NOTFOUND : DNS_TEMP;
		for (int fam = 0; fam < 2; fam++)
			for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
				if (fam == 0 && a->ai_family == AF_INET6)
					add(out, max, &n, AF_INET6,
					    &((struct sockaddr_in6 *)a->ai_addr)->sin6_addr);
				else if (fam == 1 && a->ai_family == AF_INET)
					add(out, max, &n, AF_INET,
					    &((struct sockaddr_in *)a->ai_addr)->sin_addr);
			}
		freeaddrinfo(res);
		*n_r = n;
		return n > 0 ? DNS_OK : DNS_NOTFOUND;
	}
	enum dns_status r6 = query_addrs(resolver, host, ns_t_aaaa, out, max, &n);
	enum dns_status r4 = query_addrs(resolver, host, ns_t_a, out, max, &n);
	*n_r = n;
	if (n > 0)
		return DNS_OK;
	return r6 == DNS_TEMP || r4 == DNS_TEMP ? DNS_TEMP : DNS_NOTFOUND;
}

void dns_parse_ptr(ns_msg *msg, struct mx_host *out, size_t max, size_t *n)
{
	for (int i = 0; i < ns_msg_count(*msg, ns_s_an) && *n < max; i++) {
		ns_rr rr;
		char name[NS_MAXDNAME];
		if (ns_parserr(msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_ptr ||
		    ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), ns_rr_rdata(rr), name,
				       sizeof(name)) < 0)
			continue;
		size_t len = strlen(name);
		if (len == 0 || len >= sizeof(out[*n].name))
			continue;
		memcpy(out[*n].name, name, len + 1);
		out[*n].pref = 0;
		(*n)++;
	}
}

void dns_parse_txt(ns_msg *msg, char (*out)[DNS_TXT_MAX], size_t max, size_t *n)
{
	for (int i = 0; i < ns_msg_count(*msg, ns_s_an) && *n < max; i++) {
		ns_rr rr;
		if (ns_parserr(msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_txt)
			continue;
		/* RFC 1035 §3.3.14: one or more <character-string>s, each a
		   length octet and that many octets */
		const unsigned char *p = ns_rr_rdata(rr), *end = p + ns_rr_rdlen(rr);
		size_t o = 0;
		while (p < end) {
			size_t k = *p++;
			if (k > (size_t)(end - p))
				k = (size_t)(end - p);
			for (size_t j = 0; j < k && o + 1 < DNS_TXT_MAX; j++)
				out[*n][o++] = p[j] < 0x20 || p[j] == 0x7f ? '?' : (char)p[j];
			p += k;
		}
		out[*n][o] = '\0';
		(*n)++;
	}
}

enum dns_status dns_ptr(const char *resolver, const struct dns_addr *a, struct mx_host *out,
			size_t max, size_t *n_r)
{
	unsigned char ans[4096];
	char name[80];
	ns_msg msg;
	size_t o = 0;

	*n_r = 0;
	if (a->family == AF_INET6) {
		for (int i = 15; i >= 0; i--)
			o += (size_t)snprintf(name + o, sizeof(name) - o, "%x.%x.",
					      a->bytes[i] & 0xf, a->bytes[i] >> 4);
		snprintf(name + o, sizeof(name) - o, "ip6.arpa");
	} else {
		snprintf(name, sizeof(name), "%u.%u.%u.%u.in-addr.arpa", a->bytes[3], a->bytes[2],
			 a->bytes[1], a->bytes[0]);
	}
	int r = lookup(resolver, name, ns_t_ptr, ans, sizeof(ans), &msg);
	if (r != DNS_OK)
		return (enum dns_status)r;
	dns_parse_ptr(&msg, out, max, n_r);
	return *n_r > 0 ? DNS_OK : DNS_NODATA;
}

enum dns_status dns_txt(const char *resolver, const char *name, char (*out)[DNS_TXT_MAX],
			size_t max, size_t *n_r)
{
	unsigned char ans[8192];
	ns_msg msg;

	*n_r = 0;
	int r = lookup(resolver, name, ns_t_txt, ans, sizeof(ans), &msg);
	if (r != DNS_OK)
		return (enum dns_status)r;
	dns_parse_txt(&msg, out, max, n_r);
	return *n_r > 0 ? DNS_OK : DNS_NODATA;
}
