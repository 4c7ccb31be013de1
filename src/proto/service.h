/* SPDX-License-Identifier: MIT */
/*
 * service.h - the seam between the server and a protocol: what a protocol
 * must say about itself for `mailroom serve` to run it, and the narrow
 * context the server gives it.
 *
 * A protocol (pop3/, smtp/) exports one `const struct service`: its name,
 * its ALPN id (RFC 7301; the TLS layer accepts that id or none on the
 * protocol's ports, RFC 9325 §3.8), its ports and four calls. server/ keeps
 * the list of services (server/services.c), opens every port's listeners
 * from the [listen] key named after the port, applies the connection limits
 * (refusing with the port's `busy` line), finishes the handshake on
 * implicit-TLS ports, and hands each ready connection to session(). Adding a
 * protocol is writing its folder and one entry in that list: nothing in
 * server/, net/ or tls/ names a protocol.
 *
 * Invariants:
 *   S1 a service never sees struct server: everything it may use is in
 *      struct service_env, which outlives it; env->cfg is replaced in place
 *      on reload, so a service reads it through env each time;
 *   S2 session() owns the connection from then on (it ends it with
 *      conn_close/conn_abort); it is called on the loop thread only;
 *   S3 after shutdown() a service refuses new work and ends every session
 *      at its next command boundary; destroy() is called only once
 *      sessions() is 0.
 */
#ifndef MAILROOM_PROTO_SERVICE_H
#define MAILROOM_PROTO_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_section;

struct config;
struct conn;
struct delivery;
struct dns_async;
struct directory;
struct loop;
struct penalty;
struct workers;

/* What the server shares with every service (S1). */
struct service_env {
	const struct config *cfg;
	struct loop *loop;
	struct workers *workers; /* thread ctx = struct store * */
	/* content filters (filter/: milters, clamd): threads of their own,
	   which wait on the network, with no thread ctx; NULL in tests that
	   run without them */
	struct workers *filters;
	/* DNS on the loop (dns/dns_async.h) for the SMTP sender checks; NULL
	   when it could not be set up */
	struct dns_async *dns;
	struct penalty *penalty;   /* per-IP login brake */
	struct directory *dir;	   /* accounts and recipients */
	struct delivery *delivery; /* the local delivery path */
	/* new mail was queued for delivery elsewhere: the queue manager
	   looks now instead of at its next scan (a no-op when it is off) */
	void (*queue_kick)(void *ctx);
	void *queue_ctx;
	/* a mailbox's content changed (a delivery, an expunge, a flag): every
	   service that keeps sessions on mailboxes is told (IMAP) */
	void (*changed)(void *ctx, int64_t mailbox_id);
	void *changed_ctx;
};

struct service_port {
	const char *name;   /* its [listen] key and the records' service name */
	const char *listen; /* that key's default: "127.0.0.1:2110", or "off" */
	bool implicit_tls;  /* the handshake comes first (RFC 8314) */
	/* one plaintext line for a connection refused over a limit, or NULL
	   (never on implicit-TLS ports: it would only confuse the handshake) */
	const char *busy;
	int kind; /* the service's own tag for the port (SMTP: relay or submission) */
};

struct service {
	const char *name; /* "pop3" */
	const char *alpn; /* its RFC 7301 protocol id */
	const struct service_port *ports;
	size_t n_ports;
	/* its own section of mailroom.conf ([pop3]), or NULL; the schema
	   (server/schema.c) lists it after the core sections */
	const struct config_section *config;

	void *(*create)(const struct service_env *env);
	/* a ready connection (TLS done on implicit ports) that arrived on port */
	void (*session)(void *svc, struct conn *c, const struct service_port *port);
	unsigned (*sessions)(const void *svc); /* alive now */
	void (*shutdown)(void *svc);	       /* S3 */
	void (*destroy)(void *svc);
	/* optional: env->changed reached it (loop thread) */
	void (*changed)(void *svc, int64_t mailbox_id);
};

#endif
