/* SPDX-License-Identifier: MIT */
/* cli_route.c - `mailroom route add|remove|list`. */
#include "cli/cli_private.h"
#include "store/store.h"
#include "util/mem.h"

#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] route add ADDRESS-SPACE NEXT-HOP [--tls none|may|encrypt|verify]\n"
    "                                   [--auth-user USER --password-stdin]\n"
    "       mailroom [-c FILE] route remove ADDRESS-SPACE\n"
    "       mailroom [-c FILE] route list [--json]\n"
    "\n"
    "ADDRESS-SPACE: a domain, *.domain (its subdomains), or * (the default route).\n"
    "NEXT-HOP: host[:port], [ip][:port], or mx (look up the domain's MX records).\n"
    "Without a route, mail goes to the MX hosts of its domain. --tls: none (never),\n"
    "may (STARTTLS when offered; the default), encrypt (STARTTLS required), verify\n"
    "(required, and the certificate must verify for the host name). --auth-user logs\n"
    "in to a smart host; the password (first line of stdin) is kept in the store.\n"
    "add replaces an existing route of the same address space.\n";

enum { O_TLS, O_USER, O_PWSTDIN, O_JSON, O_N };

static void print_route(const struct store_route *r, void *p)
{
	struct cli_list *lc = p;

	cli_list_item(lc);
	if (lc->json) {
		fputs("{\"space\":", stdout);
		cli_json_str(stdout, r->space);
		fputs(",\"hop\":", stdout);
		cli_json_str(stdout, r->hop);
		printf(",\"tls\":\"%s\",\"auth_user\":", route_tls_name(r->tls));
		if (r->auth_user != NULL)
			cli_json_str(stdout, r->auth_user);
		else
			fputs("null", stdout);
		fputs("}", stdout);
	} else {
		printf("%-30s %-30s %-7s %s\n", r->space, r->hop, route_tls_name(r->tls),
		       r->auth_user != NULL ? r->auth_user : "-");
	}
}

int cli_route(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N] = {
	    [O_TLS] = {.name = "tls", .has_arg = true},
	    [O_USER] = {.name = "auth-user", .has_arg = true},
	    [O_PWSTDIN] = {.name = "password-stdin"},
	    [O_JSON] = {.name = "json"},
	};
	const char *pos[3];
	size_t np;
	bool done;
	struct store *st = NULL;
	int rc = cli_parse("route", usage, "give an action: add, remove or list", argc, argv, o,
			   O_N, pos, 1, 3, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_add = strcmp(sub, "add") == 0, is_rm = strcmp(sub, "remove") == 0,
	     is_list = strcmp(sub, "list") == 0;
	if (!is_add && !is_rm && !is_list) {
		cli_err("route: unknown action '%s': use add, remove or list", sub);
		return EX_USAGE;
	}
	if ((is_add && np != 3) || (is_rm && np != 2) || (is_list && np != 1)) {
		cli_err("route %s %s", sub,
			is_add	? "takes ADDRESS-SPACE and NEXT-HOP, as in: route add example.org "
				  "smtp.example.org:587"
			: is_rm ? "takes one ADDRESS-SPACE (route list shows them)"
				: "takes no argument");
		return EX_USAGE;
	}
	if (!is_add && (o[O_TLS].set || o[O_USER].set || o[O_PWSTDIN].set)) {
		cli_err("route %s: --tls, --auth-user and --password-stdin go with route add", sub);
		return EX_USAGE;
	}
	if (o[O_JSON].set && !is_list) {
		cli_err("route %s: --json goes with route list", sub);
		return EX_USAGE;
	}
	struct store_route r = {.tls = ROUTE_TLS_MAY};
	if (is_add) {
		if (o[O_TLS].set && route_tls_parse(o[O_TLS].value, &r.tls) < 0) {
			cli_err(
			    "route add: --tls '%s' is unknown: use none, may, encrypt or verify",
			    o[O_TLS].value);
			return EX_USAGE;
		}
		if (o[O_USER].set != o[O_PWSTDIN].set) {
			cli_err("route add: --auth-user and --password-stdin go together (the "
				"password is the first line of stdin)");
			return EX_USAGE;
		}
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if (is_add) {
		char *pw = NULL;
		if (o[O_USER].set && (rc = cli_read_password(true, &pw)) != 0) {
			store_close(&st);
			return rc;
		}
		r.space = (char *)pos[1];
		r.hop = (char *)pos[2];
		r.auth_user = o[O_USER].set ? (char *)o[O_USER].value : NULL;
		r.auth_secret = pw;
		rc = store_route_set(st, &r);
		secret_free(&pw);
		if (rc == STORE_OK)
			printf("route %s -> %s (tls=%s)\n", pos[1], pos[2], route_tls_name(r.tls));
	} else if (is_rm) {
		rc = store_route_remove(st, pos[1]);
		if (rc == STORE_OK)
			printf("route %s removed\n", pos[1]);
	} else {
		struct cli_list lc;
		cli_list_begin(&lc, o[O_JSON].set,
			       "ADDRESS-SPACE                  NEXT-HOP                       TLS  "
			       "   AUTH-USER");
		rc = store_route_list(st, print_route, &lc);
		rc = cli_list_end(&lc, st, rc,
				  "no routes: mail goes to the MX hosts of each domain");
		store_close(&st);
		return rc;
	}
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
