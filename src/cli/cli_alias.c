/* SPDX-License-Identifier: MIT */
/* cli_alias.c - `mailroom alias add|remove|list`. */
#include "cli/cli_private.h"
#include "directory/directory.h"
#include "store/store.h"

#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] alias add ADDRESS TARGET\n"
    "       mailroom [-c FILE] alias remove ADDRESS [TARGET]\n"
    "       mailroom [-c FILE] alias list [ADDRESS] [--json]\n"
    "\n"
    "ADDRESS must be in a hosted domain and not be a mailbox's address. TARGET is a\n"
    "mailbox's address, another alias, or an outside address. An alias with several\n"
    "targets delivers to each; an alias with one local target also logs in to it.\n"
    "remove without TARGET removes every target of ADDRESS.\n";

static void print_alias(const char *address, const char *target, void *p)
{
	struct cli_list *lc = p;

	cli_list_item(lc);
	if (lc->json) {
		fputs("{\"address\":", stdout);
		cli_json_str(stdout, address);
		fputs(",\"target\":", stdout);
		cli_json_str(stdout, target);
		fputs("}", stdout);
	} else {
		printf("%-40s -> %s\n", address, target);
	}
}

int cli_alias(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{.name = "json"}};
	const char *pos[3];
	size_t np;
	bool done;
	struct store *st = NULL;
	int rc = cli_parse("alias", usage, "give an action: add, remove or list", argc, argv, opts,
			   1, pos, 1, 3, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_add = strcmp(sub, "add") == 0, is_rm = strcmp(sub, "remove") == 0,
	     is_list = strcmp(sub, "list") == 0;
	if (!is_add && !is_rm && !is_list) {
		cli_err("alias: unknown action '%s': use add, remove or list", sub);
		return EX_USAGE;
	}
	if ((is_add && np != 3) || (is_rm && np < 2) || (is_list && np > 2)) {
		cli_err("alias %s takes %s", sub,
			is_add	? "ADDRESS and TARGET, as in: alias add sales@example.org "
				  "alice@example.org"
			: is_rm ? "ADDRESS and, to remove one target only, TARGET"
				: "one ADDRESS at most");
		return EX_USAGE;
	}
	if (opts[0].set && !is_list) {
		cli_err("alias %s: --json goes with alias list", sub);
		return EX_USAGE;
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if (is_add) {
		/* a target that is another backend's account (LDAP, PAM) gets its
		   mailbox now, so the store sees it exists (directory.h) */
		struct directory *dir = NULL;
		struct dir_rcpt to;
		if (cli_directory_open(c, &dir) != 0) {
			store_close(&st);
			return EX_CONFIG;
		}
		if (directory_resolve(dir, st, pos[2], &to) == STORE_OK)
			dir_rcpt_clear(&to);
		directory_free(&dir);
		rc = store_alias_add(st, pos[1], pos[2]);
		if (rc == STORE_OK)
			printf("alias %s -> %s added\n", pos[1], pos[2]);
	} else if (is_rm) {
		rc = store_alias_remove(st, pos[1], np == 3 ? pos[2] : NULL);
		if (rc == STORE_OK)
			printf("alias %s removed\n", pos[1]);
	} else {
		struct cli_list lc;
		cli_list_begin(&lc, opts[0].set,
			       "ADDRESS                                     TARGET");
		rc = store_alias_list(st, np == 2 ? pos[1] : NULL, print_alias, &lc);
		rc = cli_list_end(&lc, st, rc, "no aliases");
		store_close(&st);
		return rc;
	}
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
