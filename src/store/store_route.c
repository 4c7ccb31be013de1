/* SPDX-License-Identifier: MIT */
/*
 * store_route.c - routes from address spaces to next hops (SPEC §4): what
 * the delivery agents consult for every remote domain.
 */
#include "store/store_private.h"
#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const tls_names[] = {"none", "may", "encrypt", "verify"};

const char *route_tls_name(enum route_tls t)
{
	return (unsigned)t < N_ELEMENTS(tls_names) ? tls_names[t] : "?";
}

int route_tls_parse(const char *s, enum route_tls *t_r)
{
	for (size_t i = 0; i < N_ELEMENTS(tls_names); i++)
		if (strcmp(s, tls_names[i]) == 0) {
			*t_r = (enum route_tls)i;
			return 0;
		}
	return -1;
}

int route_space_valid(const char *space)
{
	if (strcmp(space, "*") == 0)
		return 0;
	if (strncmp(space, "*.", 2) == 0)
		space += 2;
	char *d = store_norm_domain(space);
	int ok = d != NULL ? 0 : -1;
	free(d);
	return ok;
}

/* "mx", "host", "host:port", "[ip]", "[ip]:port" */
int route_hop_valid(const char *hop)
{
	const char *port = NULL;
	char host[300];

	if (strcmp(hop, "mx") == 0)
		return 0;
	if (hop[0] == '[') {
		const char *rb = strchr(hop, ']');
		if (rb == NULL || rb == hop + 1 || (rb[1] != '\0' && rb[1] != ':'))
			return -1;
		port = rb[1] == ':' ? rb + 2 : NULL;
	} else {
		const char *colon = strchr(hop, ':');
		size_t n = colon != NULL ? (size_t)(colon - hop) : strlen(hop);
		if (n == 0 || n >= sizeof(host))
			return -1;
		memcpy(host, hop, n);
		host[n] = '\0';
		char *d = store_norm_domain(host);
		if (d == NULL)
			return -1;
		free(d);
		port = colon != NULL ? colon + 1 : NULL;
	}
	if (port != NULL) {
		char *end;
		long p = strtol(port, &end, 10);
		if (*port == '\0' || *end != '\0' || p < 1 || p > 65535 ||
		    !isdigit((unsigned char)*port))
			return -1;
	}
	return 0;
}

int store_route_set(struct store *st, const struct store_route *r)
{
	if (route_space_valid(r->space) < 0) {
		snprintf(st->err, sizeof(st->err),
			 "'%.200s' is not an address space: give a domain, *.domain (its "
			 "subdomains) or * (the default route)",
			 r->space);
		return STORE_INVALID;
	}
	if (route_hop_valid(r->hop) < 0) {
		snprintf(st->err, sizeof(st->err),
			 "'%.200s' is not a next hop: give host[:port], [ip][:port] or mx, with a "
			 "port from 1 to 65535",
			 r->hop);
		return STORE_INVALID;
	}
	struct db_stmt *s = store_stmt(
	    st, "INSERT INTO routes (space, hop, tls, auth_user, auth_secret) VALUES (lower(?1), "
		"lower(?2), ?3, ?4, ?5) ON CONFLICT (space) DO UPDATE SET hop = excluded.hop, "
		"tls = excluded.tls, auth_user = excluded.auth_user, auth_secret = "
		"excluded.auth_secret");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, r->space, -1);
	db_bind_text(s, 2, r->hop, -1);
	db_bind_text(s, 3, route_tls_name(r->tls), -1);
	db_bind_text(s, 4, r->auth_user, -1);
	db_bind_text(s, 5, r->auth_secret, -1);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "route set");
	return STORE_OK;
}

int store_route_remove(struct store *st, const char *space)
{
	struct db_stmt *s = store_stmt(st, "DELETE FROM routes WHERE space = lower(?1)");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, space, -1);
	if ((rc = db_step(s)) != DB_DONE)
		return store_fail(st, rc, "route remove");
	if (db_changes(st) == 0) {
		snprintf(st->err, sizeof(st->err), "no route for %.200s (route list shows them)",
			 space);
		return STORE_NOTFOUND;
	}
	return STORE_OK;
}

static void route_row(struct db_stmt *s, struct store_route *r)
{
	const char *t;
	memset(r, 0, sizeof(*r));
	r->space = xstrdup(db_column_text(s, 0));
	r->hop = xstrdup(db_column_text(s, 1));
	if (route_tls_parse(db_column_text(s, 2), &r->tls) < 0)
		r->tls = ROUTE_TLS_MAY;
	if ((t = db_column_text(s, 3)) != NULL)
		r->auth_user = xstrdup((const char *)t);
	if ((t = db_column_text(s, 4)) != NULL)
		r->auth_secret = xstrdup((const char *)t);
}

void store_route_clear(struct store_route *r)
{
	free(r->space);
	free(r->hop);
	free(r->auth_user);
	secret_free(&r->auth_secret);
	memset(r, 0, sizeof(*r));
}

int store_route_list(struct store *st, store_route_cb *cb, void *ctx)
{
	struct db_stmt *s = store_stmt(st, "SELECT space, hop, tls, auth_user, auth_secret FROM "
					   "routes ORDER BY space = '*', space");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	while ((rc = db_step(s)) == DB_ROW) {
		struct store_route r;
		route_row(s, &r);
		cb(&r, ctx);
		store_route_clear(&r);
	}
	int r = rc == DB_DONE ? STORE_OK : store_fail(st, rc, "route list");
	store_idle(st);
	return r;
}

int store_route_find(struct store *st, const char *domain, struct store_route *r_r)
{
	/* candidates: the domain, "*.parent" for every parent, "*"; the most
	   specific one that exists wins */
	struct db_stmt *s = store_stmt(st, "SELECT space, hop, tls, auth_user, auth_secret FROM "
					   "routes WHERE space = lower(?1) OR space = '*' OR "
					   "(substr(space, 1, 2) = '*.' AND lower(?1) LIKE "
					   "'%.' || substr(space, 3)) ORDER BY space = '*', "
					   "space != lower(?1), length(space) DESC LIMIT 1");
	int rc;
	if (s == NULL)
		return STORE_TEMP;
	db_bind_text(s, 1, domain, -1);
	rc = db_step(s);
	int r = STORE_OK;
	if (rc == DB_ROW)
		route_row(s, r_r);
	else
		r = rc == DB_DONE ? STORE_NOTFOUND : store_fail(st, rc, "route find");
	store_idle(st);
	return r;
}
