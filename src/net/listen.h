/* SPDX-License-Identifier: MIT */
/* listen.h - listening sockets for one configured address, shared by the
 * mail listeners (server/) and the metrics endpoint (admin/).
 *
 * ADDR is "host:port", "[v6]:port" or "*:port" ("*" or an empty host means
 * every address). net_listen() resolves it once with getaddrinfo, which may
 * block: call it before the loop runs. It opens one non-blocking,
 * close-on-exec socket per resolved address (SO_REUSEADDR; IPv6 sockets are
 * V6ONLY so that "[::]" and "0.0.0.0" can both be bound) and listens with
 * BACKLOG. An address this machine cannot have (no IPv6, ::1 missing) is
 * skipped with a warning while the name has another one.
 */
#ifndef MAILROOM_NET_LISTEN_H
#define MAILROOM_NET_LISTEN_H

#include <stddef.h>

/* The number of sockets written to fds (1..cap), or -1 with *err_r set
   ("cannot listen on ADDR: why" or "bad listen address ..."; the caller
   frees it) and no socket left open. */
int net_listen(const char *addr, int backlog, int *fds, size_t cap, char **err_r);

#endif
