/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the Prometheus counters of mailroom: fed by the log records
 * (util/log.h), read by the /metrics endpoint (admin.h).
 *
 * Every struct log_record reaches metrics_record(), the log sink, on the
 * thread that made it: the event loop (sessions, connections, TLS), the
 * store workers and the delivery agents (queue_mgr). The registry is the
 * one process-wide state of admin/, because a sink has no context pointer
 * and records come from every thread.
 *
 * Threading. No lock and no atomic read-modify-write on the hot path: each
 * thread owns a shard of counters and is its only writer. An increment is
 * a relaxed atomic load and a relaxed atomic store of a _Atomic uint64_t
 * (two plain movs on x86, no lock prefix), so a scrape on the loop thread
 * can read any counter with a relaxed load and never sees a torn value.
 * A thread's first record registers its shard (a mutex, once per thread
 * for the life of the process); shards are never freed, so a counter
 * never goes down when a thread ends. Past METRICS_SHARDS_MAX threads the
 * rest share one shard that they update with atomic adds. The scrape sums
 * the shards; it may see one record's counters half applied (a histogram's
 * count before its sum), never a value going backwards.
 *
 * Labels come from fixed tables: a service, command, mechanism, TLS
 * version or result that is not in them counts as "other", so no client
 * can grow the set of series. A series is written once it is non-zero
 * (deliveries_total always has each of its named results).
 */
#ifndef MAILROOM_ADMIN_METRICS_H
#define MAILROOM_ADMIN_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/log.h"

#define METRICS_SHARDS_MAX 64

#define METRICS_SERVICES_MAX 20

/* Sets the service label's values, the ports' names (the strings must
   outlive the process's records: the schema's), and the process start
   time; call once, before any other thread runs (with
   log_set_sink(metrics_record)). */
void metrics_init(const char *const *ports, size_t n);
/* The log sink: counts one record. Any thread; never blocks. */
void metrics_record(const struct log_record *r);

/* The values a scrape reads from the server and the store (admin/http.c
   fills them); the counters come from the shards. */
struct metrics_gauges {
	uint64_t auth_cache_hits;
	uint64_t penalty_entries;
	uint64_t workers_queue_depth;
	bool store_ok; /* the store answered; else the store gauges are left out */
	uint64_t queue_messages;
	uint64_t queue_oldest_age_seconds;
	uint64_t store_bytes;
	uint64_t store_bodies;
};

/* Appends the whole exposition in the Prometheus text format 0.0.4: a
   # HELP and a # TYPE line per family, then its samples. */
void metrics_render(struct buf *out, const struct metrics_gauges *g);

/* A label value in the text format: backslash, double quote and line feed
   escaped (\\, \", \n). For tests; the render uses it for every label. */
void metrics_label_escape(struct buf *out, const char *value);

#endif
