/* SPDX-License-Identifier: MIT */
/* dns_async.c - see dns_async.h. */
#include "dns/dns_async.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#include "dns/dns.h"
#include "dns/dns_ub.h"
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

static void answered(void *arg, int err, struct ub_result *r)
{
	struct dns_query *q = arg;
	struct dns_answer a;

	dns_answer_init(&a, q->q.type, DNS_RESULT_TEMP);
	if (err == 0 && r != NULL)
		dns_ub_read(r, &a);
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

struct dns_async *dns_async_new(struct loop *l, const struct dns_options *opt, char *err,
				size_t cap)
{
	struct ub_ctx *ub = dns_ub_new(opt, err, cap);

	if (ub == NULL)
		return NULL;
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
