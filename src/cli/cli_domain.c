/* SPDX-License-Identifier: MIT */
/* cli_domain.c - `mailroom domain add|remove|list`. */
#include "cli/cli_private.h"
#include "store/store.h"

#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] domain add NAME [--type TYPE | --alias-of DOMAIN]\n"
    "       mailroom [-c FILE] domain remove NAME\n"
    "       mailroom [-c FILE] domain list [--json]\n"
    "\n"
    "TYPE is authoritative (default: recipients must exist here), internal-relay\n"
    "(unknown recipients go on to the domain's route) or external-relay (all mail\n"
    "goes on to the route). --alias-of makes NAME a domain alias: every address\n"
    "local@NAME is local@DOMAIN, for mail and logins. A domain is removed only\n"
    "once no mailbox, alias or domain alias uses it.\n";

static void print_domain(const struct store_domain *d, void *p)
{
	struct cli_list *lc = p;

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
		fputs("}", stdout);
	} else if (d->alias_of != NULL) {
		printf("%-40s %-15s %9s %s\n", d->name, domain_type_name(d->type), "-",
		       d->alias_of);
	} else {
		printf("%-40s %-15s %9lld -\n", d->name, domain_type_name(d->type),
		       (long long)d->mailboxes);
	}
}

int cli_domain(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{.name = "type", .has_arg = true},
				 {.name = "json"},
				 {.name = "alias-of", .has_arg = true}};
	const char *pos[2];
	size_t np;
	bool done;
	struct store *st = NULL;
	int rc = cli_parse("domain", usage, "give an action: add, remove or list", argc, argv, opts,
			   3, pos, 1, 2, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_add = strcmp(sub, "add") == 0, is_rm = strcmp(sub, "remove") == 0,
	     is_list = strcmp(sub, "list") == 0;
	if (!is_add && !is_rm && !is_list) {
		cli_err("domain: unknown action '%s': use add, remove or list", sub);
		return EX_USAGE;
	}
	if ((is_add || is_rm) && np != 2) {
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
		struct cli_list lc;
		cli_list_begin(
		    &lc, opts[1].set,
		    "DOMAIN                                   TYPE            MAILBOXES ALIAS-OF");
		rc = store_domain_list(st, print_domain, &lc);
		rc = cli_list_end(&lc, st, rc, "no domains yet: add one with 'domain add NAME'");
		store_close(&st);
		return rc;
	}
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
