/* SPDX-License-Identifier: MIT */
/*
 * mta_sts.h - SMTP MTA Strict Transport Security (RFC 8461) for outbound
 * delivery: whether a recipient domain publishes a policy, the policy
 * itself, and what it allows.
 *
 * A domain announces a policy with a TXT record at _mta-sts.<domain>
 * ("v=STSv1; id=...;", §3.1) and serves it over HTTPS at
 * https://mta-sts.<domain>/.well-known/mta-sts.txt (§3.2, §3.3): a mode
 * (enforce, testing, none), the MX host patterns it allows ("*." stands
 * for one leftmost label) and how long the policy may be kept (max_age).
 *
 * mta_sts_policy_for() runs on delivery threads (it blocks: a DNS look-up
 * and perhaps an HTTPS fetch, each with time limits; never on the network
 * thread). Policies are kept in memory and under <data_dir>/mta-sts/, one
 * file a domain written atomically, so a restart keeps them (§5.1):
 *  1. with no cached policy, or the TXT id not the cached one's, or the
 *     cached one older than MTA_STS_REFRESH, the policy is fetched;
 *  2. a fetch that fails, or a TXT record that is gone or invalid, leaves
 *     a cached policy in force until its max_age ends;
 *  3. without a valid cached policy, either means: no policy.
 *
 * The parsers (mta_sts_parse.c) are pure and fuzzed (fuzz/fuzz_mta_sts.c).
 */
#ifndef MAILROOM_QUEUE_MTA_STS_H
#define MAILROOM_QUEUE_MTA_STS_H

#include "dns/dns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MTA_STS_ID_MAX 32	       /* §3.1: 1*32(ALPHA / DIGIT) */
#define MTA_STS_MX_MAX 32	       /* mx patterns kept; more make the policy invalid */
#define MTA_STS_MAX_AGE_MAX 31557600u  /* §3.2: about a year */
#define MTA_STS_BODY_MAX (64 * 1024)   /* §3.3: a policy is small; a larger body is refused */
#define MTA_STS_REFRESH (24 * 60 * 60) /* a policy this old is fetched again when used */

enum mta_sts_mode { MTA_STS_NONE, MTA_STS_TESTING, MTA_STS_ENFORCE };

struct mta_sts_policy {
	enum mta_sts_mode mode;
	unsigned max_age;	      /* seconds */
	char mx[MTA_STS_MX_MAX][256]; /* lower case: "mx1.example.com", "*.example.net" */
	size_t n_mx;
	char id[MTA_STS_ID_MAX + 1]; /* the TXT record's id when it was fetched */
	int64_t fetched;	     /* time(NULL) of the fetch */
};

const char *mta_sts_mode_name(enum mta_sts_mode m);

/* --- parsers (mta_sts_parse.c) ---------------------------------------------- */

/* One TXT record (§3.1): true when it is a valid "v=STSv1" record, with
   its id in id. Unknown fields are ignored; a second id field, an
   empty or overlong one, or a field that breaks the grammar makes the
   record invalid. */
bool mta_sts_txt_parse(const char *rec, char id[MTA_STS_ID_MAX + 1]);
/* The records at _mta-sts.<domain> (§3.1): those that do not begin with
   "v=STSv1" are discarded; true when exactly one is left and it is valid. */
bool mta_sts_txt_pick(const char (*recs)[DNS_TXT_MAX], size_t n, char id[MTA_STS_ID_MAX + 1]);
/* A policy body (§3.2): "key: value" lines ending in LF or CRLF (blank
   lines are skipped). version STSv1, mode and max_age are required, and
   at least one mx unless the mode is none; the first of a repeated field
   counts (but mx); unknown keys are ignored; a max_age over
   MTA_STS_MAX_AGE_MAX counts as that. False with why (a short text) on
   anything else. p->id and p->fetched are left alone. */
bool mta_sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *p, char *why,
			  size_t why_len);
/* §4.1: a host name (a trailing dot ignored, any case) against one
   pattern: equal, or "*.rest" with the host one label followed by
   ".rest". */
bool mta_sts_pattern_match(const char *pattern, const char *host);
/* Whether any of p's mx patterns matches host. */
bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host);

/* The cache file's form: a first line "<id> <fetched>", then the policy
   as a policy body. Write appends to out (cap octets, NUL-terminated) and
   returns the length, or 0 when it does not fit; read is the strict
   inverse (false on anything else). */
size_t mta_sts_cache_write(const struct mta_sts_policy *p, char *out, size_t cap);
bool mta_sts_cache_read(const char *text, size_t len, struct mta_sts_policy *p);

/* Cache rules, at time now: expired when max_age has passed since the
   fetch (the policy is no longer in force); stale when it should be
   fetched again before use: expired, another TXT id (id NULL: no valid
   record, which alone never makes a policy stale), or older than
   MTA_STS_REFRESH. */
bool mta_sts_expired(const struct mta_sts_policy *p, int64_t now);
bool mta_sts_stale(const struct mta_sts_policy *p, const char *id, int64_t now);

/* --- look-up (mta_sts.c) ---------------------------------------------------- */

struct config;

/* The policy in force for domain ([delivery] in cfg: mta_sts, resolver,
   ca_file, mta_sts_port and the timeouts; data_dir for the cache), on a
   delivery thread. True with *out filled when there is one (any mode);
   false: none (no record, mta_sts = no, nothing could be fetched and no
   valid cached one). Every fetch and its failure is logged. */
bool mta_sts_policy_for(const struct config *cfg, const char *domain, struct mta_sts_policy *out);

/* For tests and `mailroom` tools: the cached policy of domain, memory or
   disk, expired or not; false when there is none. */
bool mta_sts_cached(const struct config *cfg, const char *domain, struct mta_sts_policy *out);

#endif
