/* SPDX-License-Identifier: MIT */
/*
 * spf_zone.h - a DNS table in memory that answers the questions of the SPF
 * machine (filter/spf.h), for tests/unit/test_spf.c and tests/tools/spf_probe.c.
 *
 * A name in the table without the type asked is NODATA, a name not in it
 * NXDOMAIN (names compared without regard to case). A record whose value is
 * "TEMP" makes that question unanswered (temperror). A value that does not
 * read as its type (an address that is none) adds nothing.
 */
#ifndef MAILROOM_TESTS_SPF_ZONE_H
#define MAILROOM_TESTS_SPF_ZONE_H

#include "dns/dns_answer.h"

#include <stddef.h>

struct spf_rr {
	const char *name;
	enum dns_type type;
	const char *value; /* TXT text, address, "PREF HOST", PTR host; "TEMP" */
};

/* fills a (which the caller frees with dns_answer_free) with the answer of
 * the n records of zone to q */
void spf_zone_answer(const struct spf_rr *zone, size_t n, const struct dns_question *q,
		     struct dns_answer *a);

#endif
