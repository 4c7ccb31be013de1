/* SPDX-License-Identifier: MIT */
/*
 * dns_rdata.h - records in their wire form (RFC 1035 §3.3, uncompressed, as
 * libunbound hands them over) read into a struct dns_answer. Apart from the
 * resolver so that it can be fuzzed: nothing here trusts a length.
 */
#ifndef MAILROOM_DNS_DNS_RDATA_H
#define MAILROOM_DNS_DNS_RDATA_H

#include <stddef.h>

#include "dns/dns_answer.h"

/* Appends the record data[0..len) of type a->type to a; a record that does
   not parse is skipped. Returns 0, or -1 when it was skipped. */
int dns_rdata_add(struct dns_answer *a, const unsigned char *data, size_t len);
/* A domain name in wire form (labels, no compression) as text without the
   trailing dot ("" for the root); -1 if it is malformed, runs past len or
   does not fit in cap. *used_r: the octets it took. */
int dns_wire_name(const unsigned char *p, size_t len, char *out, size_t cap, size_t *used_r);

#endif
