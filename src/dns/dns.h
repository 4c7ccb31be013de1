/* SPDX-License-Identifier: MIT */
/*
 * dns.h - MX, address, PTR and TXT lookups for `mailroom check --dns` and
 * the MTA-STS policy look-ups (blocking: they run on delivery threads or in
 * the CLI, never on the network thread), through glibc's resolver library
 * with an optional resolver address of our own ([delivery] resolver), so
 * tests can point it at a DNS server on loopback. Not validating: the
 * queue's MX, address and TLSA look-ups use dns/dns_sync.h (DNSSEC, DANE).
 */
#ifndef MAILROOM_DNS_DNS_H
#define MAILROOM_DNS_DNS_H

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stddef.h>

#define DNS_HOSTS_MAX 10

/* How a resolver is set up (dns/dns_async.h). */
struct dns_options {
	const char *resolver;	  /* "ip[:port]" that alone is asked, or NULL: resolv.conf's */
	const char *trust_anchor; /* DNSSEC: a file of DS or DNSKEY lines, or NULL: none */
	unsigned timeout;	  /* seconds one query may take */
};

enum dns_status {
	DNS_OK,
	DNS_NULL_MX,  /* RFC 7505: the domain accepts no mail */
	DNS_NOTFOUND, /* no such domain / no address */
	DNS_TEMP,     /* try again later */
	DNS_NODATA,   /* the name exists, without records of the type asked */
};

struct mx_host {
	char name[256];
	unsigned pref;
};

/* The MX hosts of a domain by preference (RFC 5321 §5.1); a domain without
   MX records is its own mail host (implicit MX). */
enum dns_status dns_mx(const char *resolver, const char *domain, struct mx_host *out, size_t max,
		       size_t *n_r);
/* The same without the implicit MX: DNS_NODATA when the domain exists
   without MX records (`mailroom check --dns` tells that case apart). */
enum dns_status dns_mx_records(const char *resolver, const char *domain, struct mx_host *out,
			       size_t max, size_t *n_r);
/* MX hosts by preference, equal preferences in random order (RFC 5321
   §5.1): what dns_mx() and dns/dns_sync.h give. */
void dns_mx_sort(struct mx_host *out, size_t n);

struct dns_addr {
	int family; /* AF_INET6 or AF_INET */
	unsigned char bytes[16];
};

/* The addresses of a host name (or the literal itself, IPv6 or IPv4): IPv6
   ones first, then IPv4. */
enum dns_status dns_addrs(const char *resolver, const char *host, struct dns_addr *out, size_t max,
			  size_t *n_r);
void dns_addr_sockaddr(const struct dns_addr *a, unsigned port, struct sockaddr_storage *ss,
		       socklen_t *len_r);
void dns_addr_text(const struct dns_addr *a, char *out, size_t len);

#define DNS_TXT_MAX 1024 /* octets of one TXT record kept (its strings joined) */

/* The PTR names of an address (RFC 1035 §3.5: in-addr.arpa, RFC 3596 §2.5:
   ip6.arpa), without the trailing dot. */
enum dns_status dns_ptr(const char *resolver, const struct dns_addr *a, struct mx_host *out,
			size_t max, size_t *n_r);
/* The TXT records of a name, each one's character-strings joined (RFC 7208
   §3.3), NUL-terminated, control octets shown as '?', cut at
   DNS_TXT_MAX - 1 octets. */
enum dns_status dns_txt(const char *resolver, const char *name, char (*out)[DNS_TXT_MAX],
			size_t max, size_t *n_r);

/* The answer-section readers behind dns_mx() and dns_addrs(), apart so that
   they can be fuzzed: msg is a raw answer that ns_initparse() accepted.
   MX: the hosts in answer order (no sorting), DNS_NULL_MX for "0 .",
   DNS_NOTFOUND for none. Addresses: the A (AF_INET) or AAAA (AF_INET6)
   records, appended to out[*n..max). */
enum dns_status dns_parse_mx(ns_msg *msg, struct mx_host *out, size_t max, size_t *n_r);
void dns_parse_addrs(ns_msg *msg, int family, struct dns_addr *out, size_t max, size_t *n);
/* PTR names (in mx_host.name, pref 0) and TXT records, appended to
   out[*n..max). */
void dns_parse_ptr(ns_msg *msg, struct mx_host *out, size_t max, size_t *n);
void dns_parse_txt(ns_msg *msg, char (*out)[DNS_TXT_MAX], size_t max, size_t *n);

#endif
