/* SPDX-License-Identifier: MIT */
/*
 * queue.h - the queue manager: the face of queue/. It runs inside `serve`
 * and delivers the outbound queue (mail for domains mailroom does not host).
 *
 * The manager lives on the loop thread. Every [delivery] scan_interval (and
 * soon after new mail is queued) it asks a delivery thread for the messages
 * that are due, and hands each one, once, to a delivery agent: a thread of
 * its own pool that resolves the route (a configured next hop, or the MX
 * hosts, filtered and held to verified TLS by the domain's MTA-STS policy:
 * queue/mta_sts.h), runs the SMTP client, and records the outcome per recipient in
 * the store with the reports it owes the sender, in one transaction. A
 * recipient whose next hop accepted it is never tried again; retries back
 * off from retry_min to retry_max; after delay_warning the sender gets a
 * delay notice, after lifetime a failure report. Everything lives in the
 * store, so it all survives restarts.
 */
#ifndef MAILROOM_QUEUE_QUEUE_H
#define MAILROOM_QUEUE_QUEUE_H

struct service_env;
struct queue_mgr;

#include <stdbool.h>

/* [delivery] (docs/config.md): read through delivery_config(cfg). */
struct delivery_config {
	bool enabled;		  /* run the queue manager in serve */
	unsigned threads;	  /* delivery agents (blocking SMTP clients) */
	unsigned per_destination; /* messages in delivery to one domain at once */
	unsigned scan_interval;	  /* seconds between queue scans */
	unsigned retry_min;	  /* first retry after this; doubles each time */
	unsigned retry_max;	  /* ... up to this */
	unsigned lifetime;	  /* give up and report after this */
	unsigned delay_warning;	  /* send a delay notice after this */
	unsigned connect_timeout;
	unsigned command_timeout;   /* each reply but DATA's, as a whole */
	unsigned data_init_timeout; /* the 354 after DATA */
	unsigned data_xfer_timeout; /* each write of the message */
	unsigned data_done_timeout; /* the reply after the final "." */
	unsigned slow_after;	    /* a delivery this old frees its slot */
	char *resolver;		    /* "ip[:port]" of the DNS server, or NULL: the system's */
	char *ca_file;		    /* CAs for --tls verify, or NULL: the system's */
	bool mta_sts;		    /* RFC 8461 policies of recipient domains (queue/mta_sts.h) */
	unsigned mta_sts_port;	    /* of the policy host: 443, another for tests and labs */
	unsigned mta_sts_connect_timeout;
	unsigned mta_sts_timeout;  /* the whole fetch of a policy */
	char *dnssec_trust_anchor; /* DS or DNSKEY lines, or NULL: no DNSSEC validation */
	bool dane; /* RFC 7672 for MX hosts with secure TLSA records (queue/dane.h) */
};
struct config;
struct config_section;
extern const struct config_section delivery_config_section;
const struct delivery_config *delivery_config(const struct config *cfg);
/* The trust anchor file the resolvers validate with, or NULL: none (set to
   "none", or the default, Debian's dns-root-data file, is not there). */
const char *delivery_trust_anchor(const struct config *cfg);

/* It reads the config, loop and delivery path through env (proto/service.h),
   which must outlive it. */
struct queue_mgr *queue_mgr_new(const struct service_env *env);
/* Scan soon (new mail was queued). */
void queue_mgr_kick(struct queue_mgr *q);
/* Graceful stop (SIGTERM): no more scans; deliveries under way finish,
   those not started yet stay due for the next run. */
void queue_mgr_stop(struct queue_mgr *q);
/* Stops scanning; deliveries under way finish (their threads are joined). */
void queue_mgr_free(struct queue_mgr **q);

#endif
