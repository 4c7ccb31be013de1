/* SPDX-License-Identifier: MIT */
/*
 * queue_mgr.c - see queue.h: scheduling on the loop thread, delivery on agent
 * threads.
 *
 * Slots. A slow next hop must never stop the rest of the mail (a tarpit
 * answers, but one octet at a time). So:
 *  1. every reply has a total deadline (smtp_client.h), so each delivery
 *     ends;
 *  2. one destination gets at most min(per_destination, threads - 1)
 *     deliveries at once, so it never holds every agent;
 *  3. a delivery that has run for slow_after stops counting against
 *     `threads`: up to `threads` more agents serve the other destinations
 *     meanwhile (the pool has 2 * threads agents, and one more for scans);
 *  4. a destination whose delivery ran into a time limit is suspended until
 *     retry_min has passed: the rest of its bundle and its other due mail
 *     wait, untried, instead of each costing another time limit.
 */
#include "delivery/delivery.h"
#include "dns/dns.h"
#include "dns/dns_sync.h"
#include "queue/dane.h"
#include "queue/dsn.h"
#include "queue/mta_sts.h"
#include "queue/queue.h"
#include "queue/signing.h"
#include "queue/smtp_client.h"
#include "net/loop.h"
#include "net/workers.h"
#include "proto/service.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define QUEUE_JOB_MAX 1024
#define QUEUE_KICK_MS 200
#define QUEUE_MX_MAX 5

struct queue_mgr {
	const struct service_env *env;
	struct workers *agents;
	struct timer *timer;
	bool scanning;
	bool limited;		       /* a destination hit its limit (logged once) */
	atomic_bool stopping;	       /* jobs not started yet are left for the next run */
	struct deliver_job **inflight; /* bundles handed to an agent */
	size_t n_inflight;
	struct suspension *suspended; /* destinations that ran into a time limit */
	size_t n_suspended;
};

struct suspension {
	char *dest;
	int64_t until; /* time(NULL) */
};

struct scan_job {
	struct queue_mgr *q;
	char **qids, **dests;
	size_t n;
};

#define QUEUE_BUNDLE_MAX 20 /* messages for one destination per job (one connection) */

struct deliver_job {
	struct queue_mgr *q;
	char *dest;
	char *qids[QUEUE_BUNDLE_MAX];
	size_t n;
	int64_t started;       /* monotonic ms, when handed to an agent */
	atomic_bool timed_out; /* set by the agent: a time limit ran out */
};

/* An open connection kept for the next message of the bundle. */
struct conn_cache {
	struct smtp_client *c;
	char domain[256], host[256];
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
};

/* --- agent threads ----------------------------------------------------------- */

/* What each delivery thread keeps of its own: its store handle, its DKIM
   keys, its validating resolver. */
struct agent {
	struct store *st;
	struct signing *signing;
	struct dns_sync *dns; /* validating, blocking (dns/dns_sync.h) */
};

static void *agent_init(void *arg)
{
	const struct config *cfg = arg;
	struct agent *ag = xcalloc(1, sizeof(*ag));
	char err[256];

	if (store_open(cfg->data_dir, false, &ag->st) != STORE_OK)
		log_fatal("delivery: cannot open the store in %s: %s", cfg->data_dir,
			  ag->st != NULL ? store_error(ag->st) : "error");
	ag->signing = signing_new();
	const struct dns_options opt = {
	    .resolver = delivery_config(cfg)->resolver,
	    .trust_anchor = delivery_trust_anchor(cfg),
	    .timeout = delivery_config(cfg)->connect_timeout,
	};
	ag->dns = dns_sync_new(&opt, err, sizeof(err));
	if (ag->dns == NULL)
		log_fatal("delivery: %s", err);
	return ag;
}

static void agent_deinit(void *ctx)
{
	struct agent *ag = ctx;
	store_close(&ag->st);
	signing_free(&ag->signing);
	dns_sync_free(&ag->dns);
	free(ag);
}

static const char *domain_of(const char *address)
{
	const char *at = strrchr(address, '@');
	return at != NULL ? at + 1 : address;
}

/* The delay since the message was queued, for its records. */
static uint64_t delay_usec(const struct store_queue_msg *m)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t us = ((int64_t)now.tv_sec - m->created) * 1000000 + now.tv_nsec / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

/* One recipient's attempt (util/log.h LOG_EV_DELIVERY): result sent |
   deferred | bounced | expired | report; relay "host[ip]:port" or "none"
   (NULL: no attempt), starttls yes|no (NULL: not tried), policy the TLS
   policy's fields as log_extra_add() made them (" mta-sts=enforce ...",
   or NULL), status the reply's enhanced code. Runs on a delivery thread. */
static void delivery_record(const struct store_queue_msg *m, const char *to, const char *result,
			    const char *relay, const char *starttls, const char *mime,
			    const char *policy, const char *reply)
{
	char extra[SMTP_CLIENT_REPLY_MAX + 800], rcpt[600], status[16];
	size_t n = 0;

	extra[0] = '\0';
	snprintf(rcpt, sizeof(rcpt), "<%.590s>", to);
	n = log_extra_add(extra, sizeof(extra), n, "to", rcpt);
	n = log_extra_add(extra, sizeof(extra), n, "relay", relay);
	n = log_extra_add(extra, sizeof(extra), n, "starttls", starttls);
	n = log_extra_add(extra, sizeof(extra), n, "mime", mime);
	size_t pl = policy != NULL ? strlen(policy) : 0;
	if (pl > 0 && n + pl < sizeof(extra)) {
		memcpy(extra + n, policy, pl + 1);
		n += pl;
	}
	/* "550 5.1.1 ..." or "4.4.1 connect to ...": the enhanced code
	   (RFC 3463) leads the text, after the reply code if there is one */
	const char *p = reply != NULL ? reply : "";
	if (strspn(p, "0123456789") == 3 && p[3] == ' ')
		p += 4;
	size_t k = strspn(p, "0123456789.");
	if (k >= 5 && k < sizeof(status) && (p[k] == ' ' || p[k] == '\0')) {
		snprintf(status, sizeof(status), "%.*s", (int)k, p);
		n = log_extra_add(extra, sizeof(extra), n, "status", status);
	}
	log_extra_add(extra, sizeof(extra), n, "reply", reply);
	struct log_record r = {
	    .event = LOG_EV_DELIVERY,
	    .service = "queue",
	    .qid = m->qid,
	    .result = result,
	    .usec = delay_usec(m),
	    .extra = extra + 1,
	};
	log_record(LOG_INFO, &r);
}

static const char *rcpt_result(enum queue_rcpt_status st)
{
	return st == QRCPT_SENT ? "sent" : st == QRCPT_FAILED ? "bounced" : "deferred";
}

static void set_all(struct store_queue_msg *m, const size_t *idx, size_t n,
		    enum queue_rcpt_status st, const char *reply)
{
	for (size_t i = 0; i < n; i++) {
		struct store_queue_rcpt *r = &m->rcpts[idx[i]];
		r->status = st;
		free(r->remote_reply);
		r->remote_reply = xstrdup(reply);
	}
}

/* Outcomes decided without a next hop (DNS, routes, policies). */
static void set_all_log(struct store_queue_msg *m, const size_t *idx, size_t n,
			enum queue_rcpt_status st, const char *policy, const char *reply)
{
	set_all(m, idx, n, st, reply);
	for (size_t i = 0; i < n; i++)
		delivery_record(m, m->rcpts[idx[i]].address, rcpt_result(st), "none", NULL, NULL,
				policy, reply);
}

/* "host", "host:port", "[ip]", "[ip]:port" */
static void split_hop(const char *hop, char *host, size_t len, unsigned *port)
{
	const char *colon;
	*port = 25;
	if (hop[0] == '[') {
		const char *rb = strchr(hop, ']');
		snprintf(host, len, "%.*s", (int)(rb - hop - 1), hop + 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(hop, ':');
		snprintf(host, len, "%.*s", (int)(colon != NULL ? colon - hop : (long)strlen(hop)),
			 hop);
	}
	if (colon != NULL)
		*port = (unsigned)atoi(colon + 1);
}

/* Delivers the recipients m->rcpts[idx[0..n)] (one domain) over one route. */
static void record(struct store_queue_msg *m, const size_t *idx, size_t n,
		   const struct smtp_client_rcpt *rc, const struct smtp_client_job *j,
		   const char *ip, unsigned port, const char *policy)
{
	char fields[1200];
	if (j->dkim_failed)
		log_warn("queue qid=%s: a DKIM key could not sign the message: sent %s", m->qid,
			 j->dkim_signed[0] != '\0' ? "with the other signatures" : "unsigned");
	if (j->dkim_signed[0] != '\0') { /* dkim=d/s/a,... after the policy's fields */
		size_t k = (size_t)snprintf(fields, sizeof(fields), "%.700s",
					    policy != NULL ? policy : "");
		log_extra_add(fields, sizeof(fields), k, "dkim", j->dkim_signed);
		policy = fields;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_queue_rcpt *r = &m->rcpts[idx[i]];
		r->status = rc[i].code >= 200 && rc[i].code < 300 ? QRCPT_SENT
			    : rc[i].code >= 500			  ? QRCPT_FAILED
								  : QRCPT_PENDING;
		free(r->remote_reply);
		r->remote_reply = xasprintf("%s", rc[i].reply);
		char relay[400];
		snprintf(relay, sizeof(relay), "%.255s[%s]:%u", j->host, ip, port);
		delivery_record(m, r->address, rcpt_result(r->status), relay,
				j->tls_used ? "yes" : "no",
				j->downgraded  ? "downgraded"
				: j->reencoded ? "reencoded"
					       : NULL,
				policy, rc[i].reply);
	}
}

/* A next hop that refused the whole transaction: one record per recipient. */
static void attempt_records(const struct store_queue_msg *m, const struct smtp_client_rcpt *rc,
			    size_t n, const char *result, const char *host, const char *ip,
			    unsigned port, const struct smtp_client_job *j, const char *policy)
{
	char relay[400];

	snprintf(relay, sizeof(relay), "%.255s[%s]:%u", host, ip, port);
	for (size_t i = 0; i < n; i++)
		delivery_record(m, rc[i].address, result, relay, j->tls_used ? "yes" : "no", NULL,
				policy, j->reply);
}

/* --- MTA-STS (RFC 8461, queue/mta_sts.h) over the MX hosts of a domain --- */

struct sts {
	struct mta_sts_policy p; /* in testing or enforce mode */
	char note[120];		 /* its log fields: " mta-sts=enforce mta-sts-id=..." */
};

/* The policy in force for domain, or NULL (none, or mode none). */
static struct sts *sts_lookup(const struct config *cfg, const char *domain)
{
	struct sts *s = xcalloc(1, sizeof(*s));
	if (!mta_sts_policy_for(cfg, domain, &s->p) || s->p.mode == MTA_STS_NONE) {
		free(s);
		return NULL;
	}
	size_t k =
	    log_extra_add(s->note, sizeof(s->note), 0, "mta-sts", mta_sts_mode_name(s->p.mode));
	log_extra_add(s->note, sizeof(s->note), k, "mta-sts-id", s->p.id);
	return s;
}

/* Before trying MX host `host`: false when enforce mode rules it out
   (last says why); else the TLS the job needs there. dane: DANE applies
   to the host, and takes precedence (RFC 8461 §2). */
static bool sts_prepare(const struct store_queue_msg *m, const struct sts *s, const char *host,
			bool dane, struct smtp_client_job *j, enum route_tls route_tls, char *last,
			size_t last_len)
{
	j->tls = route_tls;
	j->tls_check = false;
	if (s == NULL || dane)
		return true;
	if (s->p.mode == MTA_STS_ENFORCE) {
		if (!mta_sts_mx_match(&s->p, host)) {
			snprintf(last, last_len,
				 "4.7.5 MTA-STS: MX host %.200s does not match the policy", host);
			log_info(
			    "queue qid=%s mta-sts: MX host %s skipped: not in the policy id=%s",
			    m->qid, host, s->p.id);
			return false;
		}
		j->tls = ROUTE_TLS_VERIFY; /* §4.2: STARTTLS, a PKIX-valid certificate for host */
	} else {
		j->tls_check = true;
	}
	return true;
}

/* After an attempt at host: its log fields in note (testing mode: what
   would have failed); in enforce mode, a TLS failure is the policy's. */
static void sts_after(const struct sts *s, const char *host, bool dane, struct smtp_client_job *j,
		      char *note, size_t len)
{
	note[0] = '\0';
	if (s == NULL || dane)
		return;
	snprintf(note, len, "%s", s->note);
	if (s->p.mode == MTA_STS_ENFORCE) {
		if (j->tls_failed) {
			const char *p = j->reply; /* its enhanced code gives way to 4.7.5 */
			size_t k = strspn(p, "0123456789.");
			p += k >= 5 && p[k] == ' ' ? k + 1 : 0;
			char r[SMTP_CLIENT_REPLY_MAX];
			snprintf(r, sizeof(r), "4.7.5 MTA-STS: %.270s", p);
			snprintf(j->reply, sizeof(j->reply), "%s", r);
		}
		return;
	}
	char fail[400];
	size_t o = 0;
	fail[0] = '\0';
	if (!mta_sts_mx_match(&s->p, host))
		o += (size_t)snprintf(fail, sizeof(fail), "MX host not in the policy; ");
	if (!j->tls_used && o < sizeof(fail))
		o += (size_t)snprintf(fail + o, sizeof(fail) - o, "no TLS; ");
	if (j->tls_problem[0] != '\0' && o < sizeof(fail))
		o += (size_t)snprintf(fail + o, sizeof(fail) - o, "%s; ", j->tls_problem);
	if (o > 2 && o < sizeof(fail)) {
		fail[o - 2] = '\0';
		log_extra_add(note, len, strlen(note), "mta-sts-fail", fail);
	}
}

/* Returns true when a next hop ran into a time limit. */
static bool deliver_domain(struct agent *ag, const struct config *cfg, struct store_queue_msg *m,
			   const size_t *idx, size_t n, bool *dsn_offered, struct conn_cache *cache,
			   struct dkim_key *const *dkim_keys, size_t n_dkim_keys)
{
	struct store *st = ag->st;
	const char *domain = domain_of(m->rcpts[idx[0]].address);
	struct store_route route;
	struct mx_host hosts[QUEUE_MX_MAX];
	size_t n_hosts = 0;
	unsigned port = 25;
	char last[SMTP_CLIENT_REPLY_MAX] = "4.4.1 no next hop answered", note[400];
	struct sts *sts = NULL; /* an explicit route is not subject to MTA-STS */
	char dnote[400] = "";	/* the last host DANE ruled out, for the deferral */

	memset(&route, 0, sizeof(route));
	route.tls = ROUTE_TLS_MAY;
	int rr = store_route_find(st, domain, &route);
	if (rr != STORE_OK && rr != STORE_NOTFOUND) {
		set_all_log(m, idx, n, QRCPT_PENDING, NULL, "4.3.0 route lookup failed");
		return false;
	}
	/* DANE (queue/dane.h): a configured route's host is as trusted as the
	   MX records it replaces (RFC 7672 §2.2.2); not over --tls none */
	bool dane_on = delivery_config(cfg)->dane && delivery_trust_anchor(cfg) != NULL &&
		       route.tls != ROUTE_TLS_NONE;
	struct dns_sec mx_sec = {.secure = true};
	if (rr == STORE_OK && strcmp(route.hop, "mx") != 0) {
		split_hop(route.hop, hosts[0].name, sizeof(hosts[0].name), &port);
		n_hosts = 1;
	} else {
		enum dns_status d =
		    dns_sync_mx(ag->dns, domain, hosts, QUEUE_MX_MAX, &n_hosts, &mx_sec);
		if (d == DNS_NULL_MX || d == DNS_NOTFOUND) {
			/* mailroom's own finding, not a reply: no SMTP code (dsn.c, X-mailroom) */
			set_all_log(m, idx, n, QRCPT_FAILED, NULL,
				    d == DNS_NULL_MX ? "5.1.10 Recipient domain has a null MX: it "
						       "accepts no mail"
						     : "5.1.2 Recipient domain not found");
			store_route_clear(&route);
			return false;
		}
		if (d != DNS_OK && mx_sec.bogus && dane_on) {
			char why[260];
			snprintf(why, sizeof(why), "MX lookup for %.200s failed validation",
				 domain);
			dane_fail_note(why, dnote, sizeof(dnote));
			snprintf(last, sizeof(last), "4.7.5 DANE: %s", why);
			set_all_log(m, idx, n, QRCPT_PENDING, dnote, last);
			store_route_clear(&route);
			return false;
		}
		if (d != DNS_OK) {
			set_all_log(m, idx, n, QRCPT_PENDING, NULL,
				    "4.4.3 DNS lookup of the domain failed");
			store_route_clear(&route);
			return false;
		}
		sts = sts_lookup(cfg, domain);
	}
	struct smtp_client_rcpt *rc = xcalloc(n, sizeof(*rc));
	for (size_t i = 0; i < n; i++) {
		rc[i].address = m->rcpts[idx[i]].address;
		rc[i].notify = m->rcpts[idx[i]].dsn_notify;
		rc[i].orcpt = m->rcpts[idx[i]].dsn_orcpt;
	}
	bool utf8 = false;
	for (const char *p = m->sender; *p != '\0'; p++)
		utf8 |= (unsigned char)*p >= 0x80;
	for (size_t i = 0; i < n; i++)
		for (const char *p = rc[i].address; *p != '\0'; p++)
			utf8 |= (unsigned char)*p >= 0x80;
	bool done = false, slow = false;
	struct smtp_client_job j = {
	    .helo = cfg->hostname,
	    .tls = route.tls,
	    .ca_file = delivery_config(cfg)->ca_file,
	    .auth_user = route.auth_user,
	    .auth_secret = route.auth_secret,
	    .sender = m->sender,
	    .body = m->body.data,
	    .len = m->body.len,
	    .smtputf8 = utf8,
	    .envid = m->dsn_envid,
	    .ret = m->dsn_ret,
	    .rcpts = rc,
	    .n_rcpts = n,
	    .dkim_keys = dkim_keys,
	    .n_dkim_keys = n_dkim_keys,
	    .connect_timeout = delivery_config(cfg)->connect_timeout,
	    .command_timeout = delivery_config(cfg)->command_timeout,
	    .data_init_timeout = delivery_config(cfg)->data_init_timeout,
	    .data_xfer_timeout = delivery_config(cfg)->data_xfer_timeout,
	    .data_done_timeout = delivery_config(cfg)->data_done_timeout,
	};
	char ip[INET6_ADDRSTRLEN];
	/* the connection of the previous message to this domain, if any */
	if (cache != NULL && cache->c != NULL && strcasecmp(cache->domain, domain) == 0) {
		j.host = cache->host;
		j.addr = cache->addr;
		j.addr_len = cache->addr_len;
		if (smtp_client_send(cache->c, &j)) {
			record(m, idx, n, rc, &j, cache->ip, cache->port,
			       sts != NULL ? sts->note : NULL);
			*dsn_offered = j.dsn_offered;
			done = true;
			if (!smtp_client_usable(cache->c))
				smtp_client_close(&cache->c);
		} else {
			smtp_client_close(&cache->c); /* start afresh below */
			snprintf(last, sizeof(last), "%s", j.reply);
		}
		slow = j.timed_out;
	}
	/* a kept connection that ran into a time limit: not another one now;
	   a fresh one that does tries the next host (a backup MX may answer) */
	bool kept_slow = slow;
	for (size_t h = 0; h < n_hosts && !done && !kept_slow; h++) {
		struct dns_addr addrs[4];
		size_t n_addrs = 0;
		struct dns_sec a_sec;
		if (dns_sync_addrs(ag->dns, hosts[h].name, addrs, 4, &n_addrs, &a_sec) != DNS_OK) {
			if (a_sec.bogus && dane_on) {
				char why[260];
				snprintf(why, sizeof(why),
					 "address lookup for %.200s failed validation",
					 hosts[h].name);
				dnote[0] = '\0';
				dane_fail_note(why, dnote, sizeof(dnote));
				snprintf(last, sizeof(last), "4.7.5 DANE: %s", why);
			} else {
				snprintf(last, sizeof(last), "4.4.3 cannot resolve %.200s",
					 hosts[h].name);
			}
			continue;
		}
		/* DANE for a host with DNSSEC-secure TLSA records (RFC 7672);
		   DANE then decides its TLS, not MTA-STS (RFC 8461 §2) */
		struct dane_host dh = {.state = DANE_OFF};
		if (dane_on && mx_sec.secure && a_sec.secure)
			dane_lookup(ag->dns, hosts[h].name, port, &dh);
		if (dh.state == DANE_FAIL) {
			dnote[0] = '\0';
			dane_fail_note(dh.why, dnote, sizeof(dnote));
			snprintf(last, sizeof(last), "4.7.5 DANE: %s", dh.why);
			log_info("queue qid=%s dane: MX host %s skipped: %s", m->qid, hosts[h].name,
				 dh.why);
			dane_host_clear(&dh);
			continue;
		}
		bool dane = dh.state != DANE_OFF;
		if (!sts_prepare(m, sts, hosts[h].name, dane, &j, route.tls, last, sizeof(last))) {
			dane_host_clear(&dh);
			continue;
		}
		dane_prepare(&dh, domain, &j);
		for (size_t a = 0; a < n_addrs && !done; a++) {
			j.host = hosts[h].name;
			dns_addr_sockaddr(&addrs[a], port, &j.addr, &j.addr_len);
			j.tls_used = false;
			dns_addr_text(&addrs[a], ip, sizeof(ip));
			struct smtp_client *c = smtp_client_open(&j);
			bool sent = c != NULL && smtp_client_send(c, &j);
			slow |= j.timed_out;
			sts_after(sts, hosts[h].name, dane, &j, note, sizeof(note));
			dane_after(&dh, &j, note, sizeof(note));
			if (dane && !sent && j.tls_failed) {
				snprintf(dnote, sizeof(dnote), "%s", note);
				snprintf(last, sizeof(last), "%s", j.reply);
			}
			if (sent) {
				record(m, idx, n, rc, &j, ip, port, note);
				*dsn_offered = j.dsn_offered;
				done = true;
				if (cache != NULL &&
				    smtp_client_usable(c)) { /* keep it for the next message */
					smtp_client_close(&cache->c);
					cache->c = c;
					c = NULL;
					snprintf(cache->domain, sizeof(cache->domain), "%s",
						 domain);
					snprintf(cache->host, sizeof(cache->host), "%.255s",
						 hosts[h].name);
					cache->addr = j.addr;
					cache->addr_len = j.addr_len;
					cache->port = port;
					snprintf(cache->ip, sizeof(cache->ip), "%s", ip);
				}
			} else if (j.code >= 500) {
				set_all(m, idx, n, QRCPT_FAILED, j.reply);
				attempt_records(m, rc, n, "bounced", hosts[h].name, ip, port, &j,
						note);
				done = true;
			} else {
				snprintf(last, sizeof(last), "%s", j.reply);
				attempt_records(m, rc, n, "deferred", hosts[h].name, ip, port, &j,
						note);
			}
			smtp_client_close(&c);
		}
		j.tlsa = NULL; /* they were dh's */
		j.n_tlsa = 0;
		dane_host_clear(&dh);
	}
	/* the deferral's fields are those of the reason it gives: DANE's when
	   the last host failed under DANE, even in a domain with a policy */
	bool dane_last = dnote[0] != '\0' && strncmp(last, "4.7.5 DANE: ", 12) == 0;
	if (!done)
		set_all_log(m, idx, n, QRCPT_PENDING,
			    dane_last	       ? dnote
			    : sts != NULL      ? sts->note
			    : dnote[0] != '\0' ? dnote
					       : NULL,
			    last);
	free(sts);
	free(rc);
	store_route_clear(&route);
	return slow;
}

/* A report to m->sender (delivery_dsn_make), logged. */
static bool report_add(struct store *st, struct delivery *d, const struct config *cfg,
		       struct store_queue_msg *m, const size_t *which, size_t n,
		       enum dsn_action action, struct delivery_dsn *rep)
{
	if (!delivery_dsn_make(d, st, m, which, n, action, rep))
		return false;
	char extra[700], to[600], num[24];
	size_t k = 0;
	extra[0] = '\0';
	snprintf(to, sizeof(to), "<%.590s>", m->sender);
	k = log_extra_add(extra, sizeof(extra), k, "report", rep->qid);
	k = log_extra_add(extra, sizeof(extra), k, "to", to);
	k = log_extra_add(extra, sizeof(extra), k, "action",
			  action == DSN_FAILED	  ? "failed"
			  : action == DSN_DELAYED ? "delayed"
						  : "relayed");
	snprintf(num, sizeof(num), "%zu", n);
	log_extra_add(extra, sizeof(extra), k, "recipients", num);
	struct log_record r = {
	    .event = LOG_EV_DELIVERY,
	    .service = "queue",
	    .qid = m->qid,
	    .result = "report",
	    .usec = delay_usec(m),
	    .count = n,
	    .extra = extra + 1,
	};
	log_record(LOG_INFO, &r);
	return true;
}

/* Returns true when a next hop ran into a time limit. */
static bool deliver_one(struct agent *ag, struct queue_mgr *q, const char *qid,
			struct conn_cache *cache)
{
	struct store *st = ag->st;
	const struct config *cfg = q->env->cfg;
	struct store_queue_msg m;
	int64_t now = (int64_t)time(NULL);

	bool slow = false;

	if (store_queue_load(st, qid, &m) != STORE_OK)
		return false;
	if (m.held || m.n_rcpts == 0) {
		store_queue_msg_clear(&m);
		return false;
	}
	/* on a store several servers share, one of them delivers it */
	bool claimed = true;
	if (store_queue_claim(st, qid, store_node_name(cfg), now, store_node_lease(cfg),
			      &claimed) != STORE_OK ||
	    !claimed) {
		store_queue_msg_clear(&m);
		return false;
	}
	/* only mail that originates here is signed (docs/admin.md "DKIM signing") */
	struct dkim_key *dkim_keys[SIGNING_KEYS_MAX];
	size_t n_dkim_keys =
	    m.local_origin ? signing_keys(ag->signing, st, m.body.data, m.body.len, dkim_keys) : 0;
	size_t *idx = xcalloc(m.n_rcpts, sizeof(*idx));
	bool *done = xcalloc(m.n_rcpts, sizeof(*done));
	bool *dsn_offered = xcalloc(m.n_rcpts, sizeof(*dsn_offered));
	for (size_t i = 0; i < m.n_rcpts; i++) {
		if (done[i])
			continue;
		size_t n = 0;
		const char *dom = domain_of(m.rcpts[i].address);
		for (size_t k = i; k < m.n_rcpts; k++)
			if (!done[k] && strcasecmp(domain_of(m.rcpts[k].address), dom) == 0) {
				idx[n++] = k;
				done[k] = true;
			}
		bool offered = false;
		slow |=
		    deliver_domain(ag, cfg, &m, idx, n, &offered, cache, dkim_keys, n_dkim_keys);
		for (size_t k = 0; k < n; k++)
			dsn_offered[idx[k]] = offered;
	}
	/* out of time: what is still pending fails now */
	bool expired = now - m.created >= (int64_t)delivery_config(cfg)->lifetime;
	size_t nf = 0, nd = 0, ns = 0;
	size_t *failed = xcalloc(m.n_rcpts, sizeof(size_t));
	size_t *delayed = xcalloc(m.n_rcpts, sizeof(size_t));
	size_t *relayed = xcalloc(m.n_rcpts, sizeof(size_t));
	for (size_t i = 0; i < m.n_rcpts; i++) {
		struct store_queue_rcpt *r = &m.rcpts[i];
		if (r->status == QRCPT_PENDING && expired) {
			char *why =
			    xasprintf("4.4.7 Message expired after %u days in the queue; last "
				      "error: %s",
				      delivery_config(cfg)->lifetime / 86400,
				      r->remote_reply != NULL ? r->remote_reply : "none");
			free(r->remote_reply);
			r->remote_reply = why;
			r->status = QRCPT_FAILED;
			delivery_record(&m, r->address, "expired", NULL, NULL, NULL, NULL, why);
		}
		if (r->status == QRCPT_FAILED && dsn_wanted(r->dsn_notify, DSN_FAILED))
			failed[nf++] = i;
		else if (r->status == QRCPT_PENDING && !m.delay_notified &&
			 now - m.created >= (int64_t)delivery_config(cfg)->delay_warning &&
			 dsn_wanted(r->dsn_notify, DSN_DELAYED))
			delayed[nd++] = i;
		else if (r->status == QRCPT_SENT && !dsn_offered[i] &&
			 dsn_wanted(r->dsn_notify, DSN_RELAYED))
			relayed[ns++] = i;
	}
	struct delivery_dsn reps[3];
	size_t n_reps = 0;
	if (report_add(st, q->env->delivery, cfg, &m, failed, nf, DSN_FAILED, &reps[n_reps]))
		n_reps++;
	if (report_add(st, q->env->delivery, cfg, &m, delayed, nd, DSN_DELAYED, &reps[n_reps]))
		n_reps++;
	if (nd > 0)
		m.delay_notified = true;
	if (report_add(st, q->env->delivery, cfg, &m, relayed, ns, DSN_RELAYED, &reps[n_reps]))
		n_reps++;
	struct store_submission subs[3];
	for (size_t i = 0; i < n_reps; i++)
		subs[i] = reps[i].sub;

	uint64_t backoff = delivery_config(cfg)->retry_min;
	for (unsigned a = 0; a < m.attempts && backoff < delivery_config(cfg)->retry_max; a++)
		backoff *= 2;
	if (backoff > delivery_config(cfg)->retry_max)
		backoff = delivery_config(cfg)->retry_max;
	int r = store_queue_attempt(st, &m, now + (int64_t)backoff, subs, n_reps);
	if (r != STORE_OK)
		log_error("queue qid=%s: cannot record the attempt: %s (it will be retried)", m.qid,
			  store_error(st));
	for (size_t i = 0; i < n_reps; i++)
		delivery_dsn_clear(&reps[i]);
	free(failed);
	free(delayed);
	free(relayed);
	free(idx);
	free(done);
	free(dsn_offered);
	store_queue_msg_clear(&m);
	return slow;
}

/* Agent thread: the messages of one bundle, in order, over one connection
   to their destination where the next hop allows. */
static void work_deliver(void *ctx, void *p)
{
	struct deliver_job *job = p;
	struct conn_cache cache;

	memset(&cache, 0, sizeof(cache));
	for (size_t i = 0; i < job->n; i++) {
		if (atomic_load(&job->q->stopping))
			break; /* the rest is still due after the restart */
		if (deliver_one(ctx, job->q, job->qids[i], &cache)) {
			/* slot rule 4: the rest waits for the suspension to end */
			atomic_store(&job->timed_out, true);
			break;
		}
	}
	smtp_client_close(&cache.c);
}

static void work_scan(void *ctx, void *p)
{
	struct scan_job *job = p;
	store_queue_due(((struct agent *)ctx)->st, (int64_t)time(NULL),
			store_node_name(job->q->env->cfg), QUEUE_JOB_MAX, &job->qids, &job->dests,
			&job->n);
}

/* --- loop thread -------------------------------------------------------------------- */

static void schedule(struct queue_mgr *q, uint64_t ms);

static bool inflight_has(const struct queue_mgr *q, const char *qid)
{
	for (size_t i = 0; i < q->n_inflight; i++)
		for (size_t k = 0; k < q->inflight[i]->n; k++)
			if (strcmp(q->inflight[i]->qids[k], qid) == 0)
				return true;
	return false;
}

static unsigned inflight_to(const struct queue_mgr *q, const char *dest)
{
	unsigned n = 0;
	for (size_t i = 0; i < q->n_inflight; i++)
		n += strcasecmp(q->inflight[i]->dest, dest) == 0;
	return n;
}

static void job_free(struct deliver_job *job)
{
	for (size_t i = 0; i < job->n; i++)
		free(job->qids[i]);
	free(job->dest);
	free(job);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Slot rule 4: whether dest is suspended now (expired entries go). */
static bool suspended(struct queue_mgr *q, const char *dest)
{
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < q->n_suspended;) {
		struct suspension *s = &q->suspended[i];
		if (s->until <= now) {
			free(s->dest);
			*s = q->suspended[--q->n_suspended];
			continue;
		}
		if (strcasecmp(s->dest, dest) == 0)
			return true;
		i++;
	}
	return false;
}

static void suspend(struct queue_mgr *q, const char *dest)
{
	const struct config *cfg = q->env->cfg;
	if (suspended(q, dest))
		return;
	q->suspended = xrealloc(q->suspended, (q->n_suspended + 1) * sizeof(*q->suspended));
	q->suspended[q->n_suspended++] = (struct suspension){
	    .dest = xstrdup(dest),
	    .until = (int64_t)time(NULL) + (int64_t)delivery_config(cfg)->retry_min,
	};
	log_info("queue destination=%s suspended for %us: a next hop ran into a time limit", dest,
		 delivery_config(cfg)->retry_min);
}

static void deliver_done(void *p)
{
	struct deliver_job *job = p;
	struct queue_mgr *q = job->q;

	for (size_t i = 0; i < q->n_inflight; i++)
		if (q->inflight[i] == job) {
			q->inflight[i] = q->inflight[--q->n_inflight];
			break;
		}
	if (atomic_load(&job->timed_out))
		suspend(q, job->dest);
	job_free(job);
	if (q->limited) {
		q->limited = false;
		queue_mgr_kick(q);
	}
}

/* Slot rules 2 and 3: whether one more delivery may start for dest now;
 *wake_ms_r: when the next delivery turns slow (0: none is running). */
static bool slot_free(struct queue_mgr *q, const char *dest, uint64_t *wake_ms_r)
{
	const struct config *cfg = q->env->cfg;
	int64_t now = mono_ms(), slow_ms = (int64_t)delivery_config(cfg)->slow_after * 1000;
	unsigned fast = 0;

	*wake_ms_r = 0;
	for (size_t i = 0; i < q->n_inflight; i++) {
		int64_t age = now - q->inflight[i]->started;
		if (age < slow_ms) {
			fast++;
			uint64_t left = (uint64_t)(slow_ms - age);
			if (*wake_ms_r == 0 || left < *wake_ms_r)
				*wake_ms_r = left;
		}
	}
	if (fast >= delivery_config(cfg)->threads ||
	    q->n_inflight >= 2 * (size_t)delivery_config(cfg)->threads)
		return false;
	unsigned share = delivery_config(cfg)->per_destination;
	if (delivery_config(cfg)->threads > 1 && share > delivery_config(cfg)->threads - 1)
		share = delivery_config(cfg)->threads - 1;
	return inflight_to(q, dest) < share;
}

static void scan_done(void *p)
{
	struct scan_job *scan = p;
	struct queue_mgr *q = scan->q;
	uint64_t wake = 0;

	q->scanning = false;
	for (size_t i = 0; i < scan->n; i++) {
		if (scan->qids[i] == NULL || inflight_has(q, scan->qids[i]) ||
		    suspended(q, scan->dests[i]))
			continue;
		/* the rest waits for a free slot, or for the next scan */
		if (!slot_free(q, scan->dests[i], &wake)) {
			if (!q->limited)
				log_info("queue destination=%s waits: %zu deliveries under way",
					 scan->dests[i], q->n_inflight);
			q->limited = true;
			continue;
		}
		/* one job takes this message and the next ones for the same place */
		struct deliver_job *d = xcalloc(1, sizeof(*d));
		d->q = q;
		d->dest = xstrdup(scan->dests[i]);
		d->started = mono_ms();
		for (size_t k = i; k < scan->n && d->n < QUEUE_BUNDLE_MAX; k++) {
			if (scan->qids[k] == NULL || strcasecmp(scan->dests[k], d->dest) != 0 ||
			    inflight_has(q, scan->qids[k]))
				continue;
			d->qids[d->n++] = scan->qids[k];
			scan->qids[k] = NULL;
		}
		if (workers_submit(q->agents, work_deliver, deliver_done, d) != 0) {
			job_free(d);
			break;
		}
		q->inflight = xrealloc(q->inflight, (q->n_inflight + 1) * sizeof(*q->inflight));
		q->inflight[q->n_inflight++] = d;
	}
	/* slot rule 3: when a delivery turns slow, what waits may start */
	if (q->limited && wake > 0 && !atomic_load(&q->stopping) &&
	    wake + 50 < (uint64_t)delivery_config(q->env->cfg)->scan_interval * 1000)
		schedule(q, wake + 50);
	for (size_t i = 0; i < scan->n; i++) {
		free(scan->qids[i]);
		free(scan->dests[i]);
	}
	free(scan->qids);
	free(scan->dests);
	free(scan);
}

static void scan(struct loop *l, void *ctx)
{
	struct queue_mgr *q = ctx;

	q->timer = NULL;
	if (atomic_load(&q->stopping))
		return;
	if (!q->scanning) {
		struct scan_job *job = xcalloc(1, sizeof(*job));
		job->q = q;
		if (workers_submit(q->agents, work_scan, scan_done, job) == 0)
			q->scanning = true;
		else
			free(job);
	}
	schedule(q, (uint64_t)delivery_config(q->env->cfg)->scan_interval * 1000);
}

static void schedule(struct queue_mgr *q, uint64_t ms)
{
	loop_timer_del(q->env->loop, &q->timer);
	q->timer = loop_timer_add(q->env->loop, ms, scan, q);
}

struct queue_mgr *queue_mgr_new(const struct service_env *env)
{
	const struct config *cfg = env->cfg;

	if (!delivery_config(cfg)->enabled)
		return NULL;
	struct queue_mgr *q = xcalloc(1, sizeof(*q));
	q->env = env;
	/* slot rule 3: twice the threads, and one for the scans */
	q->agents = workers_new(env->loop, delivery_config(cfg)->threads * 2 + 1, QUEUE_JOB_MAX * 2,
				agent_init, agent_deinit, (void *)cfg);
	schedule(q, 1000); /* a first look soon after start: mail left from before */
	return q;
}

void queue_mgr_kick(struct queue_mgr *q)
{
	if (q != NULL && !atomic_load(&q->stopping))
		schedule(q, QUEUE_KICK_MS);
}

void queue_mgr_stop(struct queue_mgr *q)
{
	if (q == NULL)
		return;
	atomic_store(&q->stopping, true);
	loop_timer_del(q->env->loop, &q->timer);
}

void queue_mgr_free(struct queue_mgr **qp)
{
	struct queue_mgr *q = *qp;

	if (q == NULL)
		return;
	loop_timer_del(q->env->loop, &q->timer);
	workers_free(&q->agents); /* deliveries under way finish first */
	free(q->inflight);	  /* the jobs themselves went in workers_free */
	for (size_t i = 0; i < q->n_suspended; i++)
		free(q->suspended[i].dest);
	free(q->suspended);
	free(q);
	*qp = NULL;
}
