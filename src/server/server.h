/* SPDX-License-Identifier: MIT */
/*
 * server.h - `mailroom serve`: the process that owns the loop, the worker
 * pool, the TLS context and the listeners, and hands ready connections to
 * the service of their port (server/services.h, proto/service.h). There is
 * no global: a service gets a struct service_env at start and nothing else.
 *
 * Started as root, serve binds its listeners and then runs as [server] user
 * for good, before any thread starts (privdrop.h); as root without it, it
 * refuses to start.
 *
 * Limits enforced before a protocol sees a connection: max_connections in
 * total and max_connections_per_ip; over either, the connection gets a short
 * protocol-appropriate refusal and is closed.
 *
 * Signals: SIGTERM/SIGINT stop gracefully (listeners close, sessions get a
 * last reply, queued jobs finish); SIGPIPE is ignored. SIGHUP reads the
 * config file again: a file with an error is refused and nothing changes;
 * otherwise the TLS certificate and key are loaded anew (for new
 * connections; a certificate that fails to load keeps the old one), the
 * log level is applied, and every other changed key is logged as taking
 * effect at the next restart.
 */
#ifndef MAILROOM_SERVER_SERVER_H
#define MAILROOM_SERVER_SERVER_H

#include "util/config.h"

/* Runs until SIGTERM; returns the process exit code. */
int server_run(const struct config *cfg);

#endif
