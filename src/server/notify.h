/* SPDX-License-Identifier: MIT */
/*
 * notify.h - tells a service manager (systemd, Type=notify) how serve is
 * doing: the sd_notify(3) protocol, written out, without libsystemd.
 *
 * The protocol is one datagram per state change, "KEY=VALUE" lines, sent to
 * the AF_UNIX socket named in $NOTIFY_SOCKET (a path, or "@name" for the
 * abstract namespace). serve sends READY=1 once its listeners are bound and
 * the loop runs, RELOADING=1 (with MONOTONIC_USEC) when SIGHUP starts a
 * reload and READY=1 when it ends, STOPPING=1 when shutdown begins, and,
 * when $WATCHDOG_USEC is set for this process, WATCHDOG=1 from a loop timer
 * at half that interval: a loop that stops turning stops the pings, and the
 * manager restarts the service.
 *
 * The socket is opened (and connected, so its permission is checked) before
 * serve gives up root; sending never blocks: a datagram the manager's full
 * queue cannot take is dropped and logged. Without $NOTIFY_SOCKET every
 * function here is a no-op on a NULL handle. Loop thread only.
 */
#ifndef MAILROOM_SERVER_NOTIFY_H
#define MAILROOM_SERVER_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

struct loop;
struct notify;

/* A handle on the socket `addr` ("/path" or "@abstract"). NULL with
   *err_r NULL when addr is NULL or empty (no manager); NULL with a
   malloc'd message in *err_r (caller frees) when it cannot be used. */
struct notify *notify_new(const char *addr, char **err_r);
/* notify_new() on $NOTIFY_SOCKET, with $WATCHDOG_USEC/$WATCHDOG_PID read;
   an unusable socket is logged and NULL returned. */
struct notify *notify_from_env(void);
void notify_free(struct notify **n);

/* The watchdog interval in microseconds that applies to process `self`:
   WATCHDOG_USEC when it is a positive number and WATCHDOG_PID is unset or
   `self`; else 0 (no watchdog). */
uint64_t notify_watchdog_parse(const char *usec, const char *pid, pid_t self);
/* Sets the watchdog interval (0: off); notify_from_env() does it. */
void notify_set_watchdog(struct notify *n, uint64_t usec);

/* Sends `text` ("READY=1\nSTATUS=..."), as is. Returns 0, or -1 (logged). */
int notify_send(struct notify *n, const char *text);
/* Once the loop `l` runs: READY=1 with STATUS=status, then the watchdog
   pings start. `status` is copied. */
void notify_start(struct notify *n, struct loop *l, const char *status);
/* RELOADING=1 with MONOTONIC_USEC=now, and STATUS. */
void notify_reloading(struct notify *n, const char *status);
/* READY=1 after a reload, with STATUS. */
void notify_ready(struct notify *n, const char *status);
/* STOPPING=1 with STATUS; the watchdog keeps pinging until notify_free(). */
void notify_stopping(struct notify *n, const char *status);

#endif
