/* SPDX-License-Identifier: MIT */
/* cli_domain.c - `mailroom domain add|remove|set|list`. */
#include "cli/cli_private.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] domain add NAME [--type TYPE | --alias-of DOMAIN]\n"
    "       mailroom [-c FILE] domain remove NAME\n"
    "       mailroom [-c FILE] domain set NAME [--quota-warn SIZE] [--quota-send SIZE]\n"
    "                                     [--quota SIZE] [--max-message-size SIZE]\n"
    "                                     [--max-recipients N] [--messages-per-hour N]\n"
    "                                     [--messages-per-day N] [--recipients-per-hour N]\n"
    "                                     [--recipients-per-day N]\n"
    "       mailroom [-c FILE] domain list [--json]\n"
    "\n"
    "TYPE is authoritative (default: recipients must exist here), internal-relay\n"
    "(unknown recipients go on to the domain's route) or external-relay (all mail\n"
    "goes on to the route). --alias-of makes NAME a domain alias: every address\n"
    "local@NAME is local@DOMAIN, for mail and logins. A domain is removed only\n"
    "once no mailbox, alias or domain alias uses it.\n"
    "domain set gives the domain's defaults of the quota levels and sending\n"
    "limits (see mailroom user --help): every mailbox of the domain without a\n"
    "value of its own (user set ... default) has these. 0 means none. SIZE:\n"
    "bytes, or with K, M, G (1024-based).\n";

/* The listing is read whole first: reading a domain's defaults while the
   list is being stepped would restart it (store_idle). */
struct domains {
	struct store_domain *v;
	size_t n;
};

static void collect_domain(const struct store_domain *d, void *p)
{
	struct domains *ds = p;

	ds->v = xrealloc(ds->v, (ds->n + 1) * sizeof(*ds->v));
	ds->v[ds->n++] =
	    (struct store_domain){.name = xstrdup(d->name),
				  .type = d->type,
				  .mailboxes = d->mailboxes,
				  .alias_of = d->alias_of ? xstrdup(d->alias_of) : NULL};
}

/* "quota=10M max-recipients=50", or "-" when no default is set. */
static void defaults_text(char *buf, size_t n, const struct store_limits *l)
{
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < STORE_LIMIT_COUNT && len < n; i++) {
		char t[32];
		if (l->v[i] <= 0)
			continue;
		cli_limit_text(t, sizeof(t), (enum store_limit)i, l->v[i]);
		len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len > 0 ? " " : "",
					store_limit_name((enum store_limit)i), t);
	}
	if (buf[0] == '\0')
		snprintf(buf, n, "-");
}

static void print_domain(const struct store_domain *d, const struct store_limits *l,
			 struct cli_list *lc)
{
	char defaults[512];

	cli_list_item(lc);
	if (lc->json) {
		fputs("{\"name\":", stdout);
		cli_json_str(stdout, d->name);
		printf(",\"type\":\"%s\",\"mailboxes\":%lld,\"alias_of\":",
		       domain_type_name(d->type), (long long)d->mailboxes);
		if (d->alias_of != NULL)
			cli_json_str(stdout, d->alias_of);
		else
			fputs("null", stdout);
		/* an alias has no defaults: its mailboxes are the target's */
		fputs(",\"defaults\":", stdout);
		if (l != NULL)
			cli_limits_json(stdout, l, false);
		else
			fputs("null", stdout);
		fputs("}", stdout);
	} else if (d->alias_of != NULL) {
		printf("%-40s %-15s %9s %-20s -\n", d->name, domain_type_name(d->type), "-",
		       d->alias_of);
	} else {
		defaults_text(defaults, sizeof(defaults), l);
		printf("%-40s %-15s %9lld %-20s %s\n", d->name, domain_type_name(d->type),
		       (long long)d->mailboxes, "-", defaults);
	}
}

static int domain_list(struct store *st, bool json)
{
	struct domains ds = {0};
	struct cli_list lc;
	int rc = store_domain_list(st, collect_domain, &ds);

	cli_list_begin(&lc, json,
		       "DOMAIN                                   TYPE            MAILBOXES "
		       "ALIAS-OF             DEFAULTS");
	for (size_t i = 0; i < ds.n && rc == STORE_OK; i++) {
		struct store_limits l;
		if (ds.v[i].alias_of == NULL)
			rc = store_domain_limits(st, ds.v[i].name, &l);
		if (rc == STORE_OK)
			print_domain(&ds.v[i], ds.v[i].alias_of == NULL ? &l : NULL, &lc);
	}
	for (size_t i = 0; i < ds.n; i++)
		store_domain_clear(&ds.v[i]);
	free(ds.v);
	return cli_list_end(&lc, st, rc, "no domains yet: add one with 'domain add NAME'");
}

/* `domain set NAME --LIMIT V...`: opts[first + l] is limit l's option. */
static int domain_set(struct store *st, const char *name, struct cli_opt *lim)
{
	int64_t want[STORE_LIMIT_COUNT];
	struct store_limits l;
	bool any = false, levels = false;
	int rc;

	for (int i = 0; i < STORE_LIMIT_COUNT; i++) {
		if (lim[i].set && (rc = cli_limit_parse("domain set", (enum store_limit)i,
							lim[i].value, false, &want[i])) != 0)
			return rc;
		any |= lim[i].set;
		levels |= lim[i].set && i <= STORE_LIMIT_QUOTA;
	}
	if (!any) {
		cli_err("domain set: nothing to change: give a quota level (--quota-warn, "
			"--quota-send, --quota) or a sending limit (see mailroom domain --help)");
		return EX_USAGE;
	}
	if ((rc = store_domain_limits(st, name, &l)) != STORE_OK)
		return cli_store_fail(st, rc);
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		if (lim[i].set)
			l.v[i] = want[i];
	if (levels && (rc = cli_limits_order("domain set", name, &l, NULL)) != 0)
		return rc;
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		if (lim[i].set && (rc = store_domain_set_limit(st, name, (enum store_limit)i,
							       want[i])) != STORE_OK)
			return cli_store_fail(st, rc);
	printf("domain %s updated\n", name);
	return 0;
}

int cli_domain(struct cli *c, int argc, char **argv)
{
	/* 0-2: --type, --json, --alias-of; then one per limit (store.h order) */
	struct cli_opt opts[3 + STORE_LIMIT_COUNT] = {{.name = "type", .has_arg = true},
						      {.name = "json"},
						      {.name = "alias-of", .has_arg = true}};
	struct cli_opt *lim = &opts[3];
	const char *pos[2];
	size_t np;
	bool done, any_lim = false;
	struct store *st = NULL;

	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		lim[i] = (struct cli_opt){.name = store_limit_name((enum store_limit)i),
					  .has_arg = true};
	int rc = cli_parse("domain", usage, "give an action: add, remove, set or list", argc, argv,
			   opts, N_ELEMENTS(opts), pos, 1, 2, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_add = strcmp(sub, "add") == 0, is_rm = strcmp(sub, "remove") == 0,
	     is_list = strcmp(sub, "list") == 0, is_set = strcmp(sub, "set") == 0;
	if (!is_add && !is_rm && !is_list && !is_set) {
		cli_err("domain: unknown action '%s': use add, remove, set or list", sub);
		return EX_USAGE;
	}
	for (int i = 0; i < STORE_LIMIT_COUNT; i++)
		any_lim |= lim[i].set;
	if (any_lim && !is_set) {
		cli_err("domain %s: the quota levels and sending limits go with domain set", sub);
		return EX_USAGE;
	}
	if ((is_add || is_rm || is_set) && np != 2) {
		cli_err("domain %s: NAME is missing, as in: domain %s example.org", sub, sub);
		return EX_USAGE;
	}
	if (is_list && np != 1) {
		cli_err("domain list takes no NAME: it lists every domain");
		return EX_USAGE;
	}
	if ((opts[0].set || opts[2].set) && !is_add) {
		cli_err("domain %s: --type and --alias-of go with domain add", sub);
		return EX_USAGE;
	}
	if (opts[0].set && opts[2].set) {
		cli_err("domain add: a domain alias takes the type of its target: give --type or "
			"--alias-of, not both");
		return EX_USAGE;
	}
	if (opts[1].set && !is_list) {
		cli_err("domain %s: --json goes with domain list", sub);
		return EX_USAGE;
	}
	enum domain_type type = DOMAIN_AUTHORITATIVE;
	if (opts[0].set && domain_type_parse(opts[0].value, &type) < 0) {
		cli_err("domain add: unknown type '%s': use authoritative, internal-relay or "
			"external-relay",
			opts[0].value);
		return EX_USAGE;
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if (is_set) {
		rc = domain_set(st, pos[1], lim);
		store_close(&st);
		return rc;
	}
	if (is_add && opts[2].set) {
		rc = store_domain_alias_add(st, pos[1], opts[2].value);
		if (rc == STORE_OK)
			printf("domain %s added as an alias of %s\n", pos[1], opts[2].value);
	} else if (is_add) {
		rc = store_domain_add(st, pos[1], type);
		if (rc == STORE_OK)
			printf("domain %s added (%s)\n", pos[1], domain_type_name(type));
	} else if (is_rm) {
		rc = store_domain_remove(st, pos[1]);
		if (rc == STORE_OK)
			printf("domain %s removed\n", pos[1]);
	} else {
		rc = domain_list(st, opts[1].set);
		store_close(&st);
		return rc;
	}
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
