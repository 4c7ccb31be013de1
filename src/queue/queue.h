/* SPDX-License-Identifier: MIT */
/*
 * queue.h - the queue manager: the face of queue/. It runs inside `serve`
 * and delivers the outbound queue (mail for domains mailroom does not host).
 *
 * The manager lives on the loop thread. Every [delivery] scan_interval (and
 * soon after new mail is queued) it asks a delivery thread for the messages
 * that are due, and hands each one, once, to a delivery agent: a thread of
 * its own pool that resolves the route (a configured next hop, or the MX
 * hosts), runs the SMTP client, and records the outcome per recipient in
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
