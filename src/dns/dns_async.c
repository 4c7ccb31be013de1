/* SPDX-License-Identifier: MIT */
/* dns_async.c - see dns_async.h. */
#include "dns/dns_async.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns.h"
#include "dns/dns_rdata.h"
#include "net/loop.h"
#include "util/mem.h"

struct dns_query {
	struct dns_async *da;
	struct dns_query *prev, *next;
	struct timer *timer;
	int id; /* libunbound's async_id */
	struct dns_question q;
	dns_async_cb *cb;
	void *ctx;
};

struct dns_async {
	struct loop *loop;
	struct ub_ctx *ub;
	int fd;
	unsigned timeout_ms;
	struct dns_query *pending; /* a list, for the end */
};

static void unlink_query(struct dns_query *q)
{
	struct dns_async *da = q->da;

	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		da->pending = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	loop_timer_del(da->loop, &q->timer);
}

/* libunbound's result as an answer: a bogus one (validation failed) is no
   answer at all, as is a server failure */
static void read_result(const struct ub_result *r, struct dns_answer *a)
{
	a->secure = r->secure != 0;
	if (r->bogus) {
		a->result = DNS_RESULT_TEMP;
		a->secure = false;
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

static void answered(void *arg, int err, struct ub_result *r)
{
	struct dns_query *q = arg;
	struct dns_answer a;

	dns_answer_init(&a, q->q.type, DNS_RESULT_TEMP);
	if (err == 0 && r != NULL)
		read_result(r, &a);
	if (r != NULL)
		ub_resolve_free(r);
	unlink_query(q);
	q->cb(&q->q, &a, q->ctx);
	free(q);
}

static void on_readable(struct loop *l, int fd, int mask, void *ctx)
{
	struct dns_async *da = ctx;

	(void)l;
	(void)fd;
	(void)mask;
	ub_process(da->ub); /* runs answered() for each query that is done */
}

static void timed_out(struct loop *l, void *ctx)
{
	struct dns_query *q = ctx;
	struct dns_answer a;

	(void)l;
	q->timer = NULL;
	ub_cancel(q->da->ub, q->id);
	dns_answer_init(&a, q->q.type, DNS_RESULT_TEMP);
	unlink_query(q);
	q->cb(&q->q, &a, q->ctx);
	free(q);
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

struct dns_async *dns_async_new(struct loop *l, const struct dns_options *opt, char *err,
				size_t cap)
{
	struct ub_ctx *ub = ub_ctx_create();
	char fwd[128];
	int r;

	if (ub == NULL) {
		snprintf(err, cap, "cannot make a resolver");
		return NULL;
	}
	/* threads, not a forked process: the server may have dropped root */
	if ((r = ub_ctx_async(ub, 1)) != 0)
		goto fail;
	if (opt->resolver != NULL && opt->resolver[0] != '\0') {
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
	if (opt->trust_anchor != NULL && opt->trust_anchor[0] != '\0') {
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
	   zones there). Last: removing a zone fixes the context's settings. */
	if (opt->resolver != NULL && opt->resolver[0] != '\0')
		for (size_t i = 0; i < sizeof(lab_zones) / sizeof(lab_zones[0]); i++)
			ub_ctx_zone_remove(ub, lab_zones[i]); /* absent: nothing to do */
	int fd = ub_fd(ub);
	if (fd < 0) {
		snprintf(err, cap, "resolver: no file descriptor");
		ub_ctx_delete(ub);
		return NULL;
	}
	struct dns_async *da = xcalloc(1, sizeof(*da));
	da->loop = l;
	da->ub = ub;
	da->fd = fd;
	da->timeout_ms = (opt->timeout > 0 ? opt->timeout : 10) * 1000u;
	if (loop_fd_add(l, fd, LOOP_READ, on_readable, da) != 0) {
		snprintf(err, cap, "resolver: cannot watch its descriptor");
		ub_ctx_delete(ub);
		free(da);
		return NULL;
	}
	return da;
fail:
	snprintf(err, cap, "resolver: %s", ub_strerror(r));
	ub_ctx_delete(ub);
	return NULL;
}

void dns_async_free(struct dns_async **dap)
{
	struct dns_async *da = *dap;

	if (da == NULL)
		return;
	while (da->pending != NULL) {
		struct dns_query *q = da->pending;
		ub_cancel(da->ub, q->id);
		unlink_query(q);
		free(q);
	}
	loop_fd_del(da->loop, da->fd);
	ub_ctx_delete(da->ub);
	free(da);
	*dap = NULL;
}

struct dns_query *dns_async_query(struct dns_async *da, const struct dns_question *question,
				  dns_async_cb *cb, void *ctx)
{
	struct dns_query *q = xcalloc(1, sizeof(*q));

	q->da = da;
	q->q = *question;
	q->cb = cb;
	q->ctx = ctx;
	if (ub_resolve_async(da->ub, q->q.name, (int)q->q.type, 1 /* IN */, q, answered, &q->id) !=
	    0) {
		free(q);
		return NULL;
	}
	q->timer = loop_timer_add(da->loop, da->timeout_ms, timed_out, q);
	q->next = da->pending;
	if (q->next != NULL)
		q->next->prev = q;
	da->pending = q;
	return q;
}

void dns_async_cancel(struct dns_async *da, struct dns_query **qp)
{
	struct dns_query *q = *qp;

	if (q == NULL)
		return;
	ub_cancel(da->ub, q->id);
	unlink_query(q);
	free(q);
	*qp = NULL;
}
