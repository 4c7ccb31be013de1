/* SPDX-License-Identifier: MIT */
/*
 * store/store_route.h - routes (SPEC §4): the next hop, TLS policy and
 * smart-host login per address space.
 *
 * A face of store.h: included by store/store.h only, never directly (the
 * handle, statuses, invariants S1-S7 and open/close are there).
 */
#ifndef MAILROOM_STORE_STORE_H
#error "include store/store.h, not store/store_route.h"
#endif
#ifndef MAILROOM_STORE_STORE_ROUTE_H
#define MAILROOM_STORE_STORE_ROUTE_H

/* --- routes (SPEC §4) ------------------------------------------------------ */
enum route_tls { ROUTE_TLS_NONE, ROUTE_TLS_MAY, ROUTE_TLS_ENCRYPT, ROUTE_TLS_VERIFY };
struct store_route {
	char *space; /* "example.org", "*.example.org" or "*" (the default route) */
	char *hop;   /* "host[:port]", "[ip][:port]" or "mx" */
	enum route_tls tls;
	char *auth_user, *auth_secret; /* smart-host login, or NULL */
};
const char *route_tls_name(enum route_tls t);
int route_tls_parse(const char *s, enum route_tls *t_r);
/* Checks the forms above; returns 0 or -1. */
int route_space_valid(const char *space);
int route_hop_valid(const char *hop);
/* Adds or replaces the route of an address space. */
int store_route_set(struct store *st, const struct store_route *r);
int store_route_remove(struct store *st, const char *space);
typedef void store_route_cb(const struct store_route *r, void *ctx);
int store_route_list(struct store *st, store_route_cb *cb, void *ctx);
/* The route for a domain: the exact space, else the longest "*.suffix",
   else "*"; STORE_NOTFOUND if none (then: MX lookup). */
int store_route_find(struct store *st, const char *domain, struct store_route *r_r);
void store_route_clear(struct store_route *r);

#endif
