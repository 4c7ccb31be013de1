/* SPDX-License-Identifier: MIT */
/*
 * filter.h - the face of filter/: content filters that look at a message
 * before the server commits it (inbound) or queues it (submission), and may
 * refuse or change it. Two kinds exist today:
 *   - milters (filter/milter.h): the Sendmail/Postfix milter protocol v6,
 *     spoken by opendkim, opendmarc, rspamd, spamass-milter, clamav-milter;
 *   - clamd (filter/clamd.h): ClamAV's daemon, over its INSTREAM command.
 * This header owns what they share: the [filter] section of mailroom.conf,
 * the failure policy, and the socket addresses ("inet:host:port",
 * "unix:/path") both are reached at.
 *
 * Every call here blocks (with timeouts: see each client). The server
 * calls them from the filters' own worker threads (net/workers.h), never
 * from the event loop: smtp/smtp_filter.c is the hook between the end of
 * DATA and the commit; tests/tools/filter_probe.c runs them alone.
 */
#ifndef MAILROOM_FILTER_FILTER_H
#define MAILROOM_FILTER_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"

struct dial;

/* What a filter that cannot be asked (connection refused, timeout,
   protocol error, clamd's own ERROR) means for the message: fail-open
   delivers it as if the filter had accepted; fail-closed answers a
   temporary failure so the client tries again later. Either way the reason
   is logged. The order is the config's ("accept", "tempfail"). */
enum filter_policy {
	FILTER_FAIL_OPEN,
	FILTER_FAIL_CLOSED,
};

/* --- sockets ------------------------------------------------------------------------------ */

#define FILTER_SOCKET_MAX 256 /* octets of one socket spec */

/* NULL if spec is "inet:HOST:PORT" (HOST a name, an IPv4 address or
   "[IPv6]") or "unix:/absolute/path" (shorter than sun_path), else a
   message. */
const char *filter_socket_check(const char *spec);
/* Connects d (dial_init()ed) to spec within secs: 0, or -1 with a short
   reason in err (cap octets). A host name is resolved with getaddrinfo(),
   which the deadline cannot bound: name milters and clamd by IP address or
   by a name in /etc/hosts. Every address of the name is tried in turn
   while time is left. */
int filter_socket_connect(struct dial *d, const char *spec, unsigned secs, char *err, size_t cap);

/* --- [filter] ----------------------------------------------------------------------------- */

struct filter_config {
	struct listen_list milter; /* sockets of the milters, in the order they run */
	unsigned milter_timeout;   /* seconds: connecting, each reply (milter.h) */
	int milter_default_action; /* enum filter_policy */
	char *clamd;		   /* socket of clamd, or NULL: no virus scan */
	unsigned clamd_timeout;	   /* seconds: connecting, each write, the verdict */
	int clamd_default_action;  /* enum filter_policy */
	uint64_t max_scan_size;	   /* larger messages are not sent to clamd */
	unsigned workers;	   /* threads that talk to milters and clamd */
	char *quarantine;	   /* where quarantined mail goes; NULL: the postmaster */
	/* the sender checks (smtp/smtp_checks.c) */
	bool spf;
	bool dkim_verify;
	bool dmarc;		     /* with spf and dkim_verify only */
	int dmarc_reject_action;     /* enum filter_dmarc_action: a failure under p=reject */
	int dmarc_quarantine_action; /* the same under p=quarantine */
	unsigned dns_timeout;	     /* seconds for all of one message's DNS questions */
};

/* What a DMARC failure leads to (the order of the config's names). */
enum filter_dmarc_action { FILTER_DMARC_REJECT, FILTER_DMARC_QUARANTINE, FILTER_DMARC_ACCEPT };

/* Whether any content filter is configured. */
bool filter_enabled(const struct filter_config *fc);

extern const struct config_section filter_config_section;
const struct filter_config *filter_config(const struct config *cfg);

#include "filter/clamd.h"
#include "filter/milter.h"

#endif
