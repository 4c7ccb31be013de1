/* SPDX-License-Identifier: MIT */
/*
 * check_dns.c - `mailroom check --dns DOMAIN`: the records other servers
 * look at before they trust mail from us or send mail to us. The MX
 * records of the domain (present, each host with an address), the mail
 * host's A/AAAA records, the PTR of each of its addresses (forward-
 * confirmed: the PTR name resolves back to the address, as receivers
 * check) and the domain's SPF record (RFC 7208). Through dns/dns.h, so
 * [delivery] resolver is honoured.
 */
#include "check/check_private.h"
#include "dns/dns.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *dns_why(enum dns_status st)
{
	switch (st) {
	case DNS_OK:
		return "found";
	case DNS_NULL_MX:
		return "null MX (RFC 7505): the domain accepts no mail";
	case DNS_NOTFOUND:
		return "no such name";
	case DNS_NODATA:
		return "no record of that type";
	case DNS_TEMP:
		break;
	}
	return "lookup failed (no answer from the resolver)";
}

/* The addresses of host as text into out; the status of the lookup. */
static enum dns_status addrs_text(const char *resolver, const char *host, struct dns_addr *a,
				  size_t *n_r, char *out, size_t len)
{
	enum dns_status st = dns_addrs(resolver, host, a, DNS_HOSTS_MAX, n_r);
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; st == DNS_OK && i < *n_r && o + 1 < len; i++) {
		char t[INET6_ADDRSTRLEN];
		dns_addr_text(&a[i], t, sizeof(t));
		int k = snprintf(out + o, len - o, "%s%s", i > 0 ? ", " : "", t);
		o += k > 0 ? (size_t)k : 0;
	}
	return st;
}

static void mx(struct check_run *r, const char *domain)
{
	const char *res = r->o->resolver;
	struct mx_host hosts[DNS_HOSTS_MAX];
	size_t n = 0;
	char list[CHECK_DETAILS_MAX] = "";
	int64_t t0 = check_now_ms();

	enum dns_status st = dns_mx_records(res, domain, hosts, DNS_HOSTS_MAX, &n);
	if (st == DNS_NODATA) {
		check_report(r, CHECK_WARNING, "dns", domain, "mx", check_now_ms() - t0,
			     "no MX records: senders use the domain's own address (RFC 5321 "
			     "§5.1)");
		return;
	}
	if (st != DNS_OK) {
		check_report(r, CHECK_CRITICAL, "dns", domain, "mx", check_now_ms() - t0, "%s",
			     dns_why(st));
		return;
	}
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < sizeof(list); i++) {
		int k = snprintf(list + o, sizeof(list) - o, "%s%u %s", i > 0 ? ", " : "",
				 hosts[i].pref, hosts[i].name);
		o += k > 0 ? (size_t)k : 0;
	}
	check_report(r, CHECK_OK, "dns", domain, "mx", check_now_ms() - t0, "%s", list);
	for (size_t i = 0; i < n; i++) {
		struct dns_addr a[DNS_HOSTS_MAX];
		size_t na = 0;
		t0 = check_now_ms();
		st = addrs_text(res, hosts[i].name, a, &na, list, sizeof(list));
		if (st == DNS_OK)
			check_report(r, CHECK_OK, "dns", hosts[i].name, "mx-host",
				     check_now_ms() - t0, "%s", list);
		else
			check_report(r, CHECK_CRITICAL, "dns", hosts[i].name, "mx-host",
				     check_now_ms() - t0, "the MX host has no A/AAAA: %s",
				     dns_why(st));
	}
}

static bool same_addr(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family &&
	       memcmp(a->bytes, b->bytes, a->family == AF_INET6 ? 16 : 4) == 0;
}

/* The PTR of a, and whether one of its names resolves back to a. */
static void ptr(struct check_run *r, const struct dns_addr *a)
{
	const char *res = r->o->resolver;
	struct mx_host names[DNS_HOSTS_MAX];
	size_t n = 0;
	char text[INET6_ADDRSTRLEN];
	int64_t t0 = check_now_ms();

	dns_addr_text(a, text, sizeof(text));
	enum dns_status st = dns_ptr(res, a, names, DNS_HOSTS_MAX, &n);
	if (st != DNS_OK) {
		check_report(r, st == DNS_TEMP ? CHECK_CRITICAL : CHECK_WARNING, "dns", text, "ptr",
			     check_now_ms() - t0,
			     "no PTR record (%s): receivers may "
			     "refuse mail from this address",
			     dns_why(st));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct dns_addr back[DNS_HOSTS_MAX];
		size_t nb = 0;
		if (dns_addrs(res, names[i].name, back, DNS_HOSTS_MAX, &nb) != DNS_OK)
			continue;
		for (size_t k = 0; k < nb; k++)
			if (same_addr(&back[k], a)) {
				check_report(r, CHECK_OK, "dns", text, "ptr", check_now_ms() - t0,
					     "%s (forward-confirmed)", names[i].name);
				return;
			}
	}
	check_report(r, CHECK_WARNING, "dns", text, "ptr", check_now_ms() - t0,
		     "%s does not resolve back to %s (not forward-confirmed)", names[0].name, text);
}

static void spf(struct check_run *r, const char *domain)
{
	static char txt[DNS_HOSTS_MAX][DNS_TXT_MAX];
	size_t n = 0, found = 0, which = 0;
	int64_t t0 = check_now_ms();

	enum dns_status st = dns_txt(r->o->resolver, domain, txt, DNS_HOSTS_MAX, &n);
	if (st == DNS_TEMP) {
		check_report(r, CHECK_CRITICAL, "dns", domain, "spf", check_now_ms() - t0, "%s",
			     dns_why(st));
		return;
	}
	for (size_t i = 0; i < n; i++)
		/* RFC 7208 §4.5: "v=spf1" alone or followed by a space */
		if (strncasecmp(txt[i], "v=spf1", 6) == 0 &&
		    (txt[i][6] == '\0' || txt[i][6] == ' '))
			found++, which = i;
	if (found == 0)
		check_report(r, CHECK_WARNING, "dns", domain, "spf", check_now_ms() - t0,
			     "no SPF record (TXT \"v=spf1 ...\"): receivers cannot tell our "
			     "mail from forgeries");
	else if (found > 1)
		check_report(r, CHECK_WARNING, "dns", domain, "spf", check_now_ms() - t0,
			     "%zu SPF records: RFC 7208 §4.5 makes that a permanent error", found);
	else
		check_report(r, CHECK_OK, "dns", domain, "spf", check_now_ms() - t0, "%.400s",
			     txt[which]);
}

void check_dns(struct check_run *r)
{
	const struct check_options *o = r->o;
	struct dns_addr a[DNS_HOSTS_MAX];
	size_t n = 0;
	char list[CHECK_DETAILS_MAX];

	mx(r, o->dns_domain);
	if (o->mail_host != NULL) {
		int64_t t0 = check_now_ms();
		enum dns_status st =
		    addrs_text(o->resolver, o->mail_host, a, &n, list, sizeof(list));
		if (st == DNS_OK) {
			check_report(r, CHECK_OK, "dns", o->mail_host, "host", check_now_ms() - t0,
				     "%s", list);
			for (size_t i = 0; i < n; i++)
				ptr(r, &a[i]);
		} else {
			check_report(r, CHECK_CRITICAL, "dns", o->mail_host, "host",
				     check_now_ms() - t0, "no A/AAAA: %s", dns_why(st));
		}
	}
	spf(r, o->dns_domain);
}
