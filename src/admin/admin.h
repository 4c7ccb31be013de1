/* SPDX-License-Identifier: MIT */
/*
 * admin.h - the admin endpoint of `mailroom serve`: a small HTTP/1.1
 * listener on the event loop ([metrics] listen) that serves
 *   GET /metrics  the Prometheus text format 0.0.4 (admin/metrics.h)
 *   GET /health   200 "ok", or 503 while the store does not answer
 * and HEAD of both; any other path is 404, another method 405, a bad head
 * 400 (admin/http_parse.h). Every response closes its connection.
 *
 * Limits against hostile clients: a request head of at most HTTP_HEAD_MAX
 * octets (431 past it), ADMIN_DEADLINE_SECS per connection from accept to
 * close, ADMIN_CONNS_MAX connections at once (the next get a 503 and are
 * closed). It never reads a body.
 *
 * The store's gauges (queue, size, bodies) are SQLite reads: they run on
 * the worker pool (thread ctx = struct store *) when a request needs them
 * and the last answer is older than ADMIN_CACHE_SECS; requests that arrive
 * meanwhile wait for that one query. Everything else a scrape reads (the
 * counters, the login brake's table, the auth cache, the pool's depth) is
 * read on the loop thread at once. Loop thread only, except the store job.
 *
 * Lifetime: admin_listen() as root before the privilege drop, while the
 * process has one thread (it also installs the metrics log sink);
 * admin_start() once the worker pool and the services exist;
 * admin_stop() when shutdown begins; admin_free() after workers_free(),
 * since a store job's completion may still run until then.
 */
#ifndef MAILROOM_ADMIN_ADMIN_H
#define MAILROOM_ADMIN_ADMIN_H

#include "util/config.h"

#define ADMIN_DEADLINE_SECS 10
#define ADMIN_CONNS_MAX 16
#define ADMIN_CACHE_SECS 5
#define ADMIN_LISTEN_MAX 8 /* sockets over all [metrics] listen addresses */

struct admin;
struct loop;
struct service_env;

/* [metrics] (docs/config.md) */
struct metrics_config {
	struct listen_list listen; /* HTTP /metrics and /health; empty: off */
};
extern const struct config_section metrics_config_section;
const struct metrics_config *metrics_config(const struct config *cfg);

/* Binds every address of cfg's [metrics] listen, and counts records by
   the [listen] keys' names. No address: returns 0 with *a_r NULL (no
   endpoint, no sink). On failure -1 with *err_r (free it). cfg must
   outlive the admin. */
int admin_listen(struct loop *l, const struct config *cfg, struct admin **a_r, char **err_r);
/* Begins accepting; env (its directory, brake and workers) must outlive
   the admin. Accepts NULL. */
void admin_start(struct admin *a, const struct service_env *env);
/* Closes the listeners and every connection. Accepts NULL. */
void admin_stop(struct admin *a);
/* Accepts NULL; sets *a = NULL. */
void admin_free(struct admin **a);

#endif
