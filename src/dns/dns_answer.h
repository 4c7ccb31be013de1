/* SPDX-License-Identifier: MIT */
/*
 * dns_answer.h - a DNS question and its answer as plain data.
 *
 * The checks that need DNS (SPF, DKIM, DMARC in filter/) do no I/O
 * themselves: each is a machine that says which question it needs next
 * (struct dns_question) and is fed the answer (struct dns_answer). Who asks
 * the resolver - the event loop, asynchronously, in the SMTP server; a
 * blocking call in a CLI tool; a table in a unit test - is the caller's
 * business. This header is that contract and owns no resolver.
 *
 * An answer owns its records (heap): dns_answer_free() releases them. The
 * adders below build one, for resolvers and for tests alike.
 */
#ifndef MAILROOM_DNS_DNS_ANSWER_H
#define MAILROOM_DNS_DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 256 /* octets of a domain name in text, with its NUL */

/* The record types asked for (their RFC 1035 / 3596 / 6698 numbers). */
enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_TLSA = 52,
};

struct dns_question {
	char name[DNS_NAME_MAX]; /* without the trailing dot */
	enum dns_type type;
};

/* How a question was answered. NXDOMAIN and NODATA are answers (RFC 2308);
   TEMP is none (SERVFAIL, timeout, a DNSSEC-bogus answer, no resolver):
   SPF's temperror (RFC 7208 §2.6.6), a deferral for delivery. */
enum dns_result {
	DNS_RESULT_OK,	     /* records of the type asked for, n > 0 */
	DNS_RESULT_NXDOMAIN, /* no such name */
	DNS_RESULT_NODATA,   /* the name exists without records of that type */
	DNS_RESULT_TEMP,     /* no answer now */
};

/* One record; which member is set follows the question's type. */
struct dns_record {
	union {
		struct {	    /* A, AAAA */
			int family; /* AF_INET or AF_INET6 */
			uint8_t bytes[16];
		} addr;
		struct { /* MX (pref set), PTR (pref 0) */
			unsigned pref;
			char *name; /* without the trailing dot */
		} host;
		struct {	    /* TXT: the character-strings joined (RFC 7208 §3.3) */
			char *text; /* NUL-terminated; a NUL inside is kept as '?' */
			size_t len;
		} txt;
		struct { /* TLSA (RFC 6698 §2.1) */
			uint8_t usage, selector, mtype;
			uint8_t *data;
			size_t len;
		} tlsa;
	} u;
};

struct dns_answer {
	enum dns_result result;
	bool secure; /* validated by DNSSEC (RFC 4035 "secure"), records or denial */
	bool bogus;  /* TEMP because DNSSEC validation failed (RFC 4035 "bogus") */
	enum dns_type type;
	struct dns_record *rr;
	size_t n, cap;
};

void dns_answer_init(struct dns_answer *a, enum dns_type type, enum dns_result result);
void dns_answer_free(struct dns_answer *a);
/* The adders set result to DNS_RESULT_OK; a text or name is copied. */
void dns_answer_add_addr(struct dns_answer *a, int family, const void *bytes);
void dns_answer_add_host(struct dns_answer *a, unsigned pref, const char *name);
void dns_answer_add_txt(struct dns_answer *a, const char *text, size_t len);
void dns_answer_add_tlsa(struct dns_answer *a, uint8_t usage, uint8_t selector, uint8_t mtype,
			 const uint8_t *data, size_t len);

#endif
