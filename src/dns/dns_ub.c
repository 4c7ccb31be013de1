/* SPDX-License-Identifier: MIT */
/* dns_ub.c - see dns_ub.h. */
#include "dns/dns_ub.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns.h"
#include "dns/dns_rdata.h"

void dns_ub_read(const struct ub_result *r, struct dns_answer *a)
{
	a->secure = r->secure != 0;
	if (r->bogus) {
		a->result = DNS_RESULT_TEMP;
		a->secure = false;
		a->bogus = true;
		return;
	}
	if (r->nxdomain || r->rcode == 3) {
		a->result = DNS_RESULT_NXDOMAIN;
		return;
	}
	if (r->rcode != 0) {
		a->result = DNS_RESULT_TEMP;
		a->secure = false;
		return;
	}
	for (size_t i = 0; r->havedata && r->data != NULL && r->data[i] != NULL; i++)
		dns_rdata_add(a, (const unsigned char *)r->data[i], (size_t)r->len[i]);
	if (a->n == 0)
		a->result = DNS_RESULT_NODATA;
}

static const char *const lab_zones[] = {
    "test.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
};

/* "ip[:port]" as libunbound's "ip@port" */
static int forwarder(const char *resolver, char *out, size_t cap)
{
	const char *colon = strrchr(resolver, ':');

	if (colon != NULL && strchr(resolver, ':') == colon) /* IPv4 with a port */
		return snprintf(out, cap, "%.*s@%s", (int)(colon - resolver), resolver, colon + 1) <
			       (int)cap
			   ? 0
			   : -1;
	return snprintf(out, cap, "%s", resolver) < (int)cap ? 0 : -1;
}

/* set once at start, before the resolvers are made (dns_sync.h) */
static atomic_bool validation_off;

void dns_validation_off(void)
{
	atomic_store(&validation_off, true);
}

struct ub_ctx *dns_ub_new(const struct dns_options *opt, char *err, size_t cap)
{
	struct ub_ctx *ub = ub_ctx_create();
	bool own = opt->resolver != NULL && opt->resolver[0] != '\0';
	char fwd[128];
	int r;

	if (ub == NULL) {
		snprintf(err, cap, "cannot make a resolver");
		return NULL;
	}
	if ((r = ub_ctx_async(ub, 1)) != 0)
		goto fail;
	if (own) {
		if (forwarder(opt->resolver, fwd, sizeof(fwd)) != 0) {
			snprintf(err, cap, "resolver %s: not ip[:port]", opt->resolver);
			ub_ctx_delete(ub);
			return NULL;
		}
		r = ub_ctx_set_fwd(ub, fwd);
	} else {
		r = ub_ctx_resolvconf(ub, NULL);
	}
	if (r != 0)
		goto fail;
	if (opt->trust_anchor != NULL && opt->trust_anchor[0] != '\0' &&
	    !atomic_load(&validation_off)) {
		/* libunbound reads the file only at its first query: read it now */
		FILE *f = fopen(opt->trust_anchor, "r");
		if (f == NULL) {
			snprintf(err, cap, "resolver: trust anchor %s: %s", opt->trust_anchor,
				 strerror(errno));
			ub_ctx_delete(ub);
			return NULL;
		}
		fclose(f);
		if ((r = ub_ctx_add_ta_file(ub, opt->trust_anchor)) != 0)
			goto fail;
	}
	/* the resolver named is asked everything, the names RFC 6761 and
	   RFC 5737 set aside for tests and documentation included, which
	   libunbound would otherwise answer itself (labs and tests keep their
	   zones there); under the root's trust anchor they would be bogus
	   (the root denies them), so they are insecure unless the trust
	   anchor has a zone of their own. Last: removing a zone fixes the
	   context's settings. */
	for (size_t i = 0; own && i < sizeof(lab_zones) / sizeof(lab_zones[0]); i++)
		if ((r = ub_ctx_set_option(ub, "domain-insecure:", lab_zones[i])) != 0)
			goto fail;
	for (size_t i = 0; own && i < sizeof(lab_zones) / sizeof(lab_zones[0]); i++)
		ub_ctx_zone_remove(ub, lab_zones[i]); /* absent: nothing to do */
	return ub;
fail:
	snprintf(err, cap, "resolver: %s", ub_strerror(r));
	ub_ctx_delete(ub);
	return NULL;
}
