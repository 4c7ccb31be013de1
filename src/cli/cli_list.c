/* SPDX-License-Identifier: MIT */
/* cli_list.c - `mailroom list add|set|member|sender|remove|show|list`:
   distribution lists (store.h). */
#include "cli/cli_private.h"
#include "directory/directory.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] list add ADDRESS [--senders RULE] [--owner ADDRESS]\n"
    "       mailroom [-c FILE] list set ADDRESS [--senders RULE] [--owner ADDRESS | "
    "--no-owner]\n"
    "       mailroom [-c FILE] list member add|remove LIST MEMBER\n"
    "       mailroom [-c FILE] list sender add|remove LIST ADDRESS\n"
    "       mailroom [-c FILE] list remove ADDRESS\n"
    "       mailroom [-c FILE] list show ADDRESS [--json]\n"
    "       mailroom [-c FILE] list list [--json]\n"
    "\n"
    "A distribution list is an address in a hosted domain that delivers to each\n"
    "of its members: mailboxes, aliases, outside addresses and other lists\n"
    "(nested lists are flattened; every mailbox gets one copy). A member in an\n"
    "authoritative domain must exist. RULE says who may send to the list:\n"
    "  anyone         everyone (the default)\n"
    "  members        envelope senders that are members (of nested lists too)\n"
    "  authenticated  submission logins of this server only\n"
    "  named          only the senders named with list sender add\n"
    "Senders named with list sender add may always send, whatever the rule.\n"
    "Copies carry List-Id: <LOCAL.DOMAIN> and the bounce address\n"
    "owner-LOCAL@DOMAIN as their envelope sender; mail to that address goes to\n"
    "the owner (--owner; without one the built-in postmaster mailbox).\n"
    "list set changes only what it is given; --no-owner gives the bounces back\n"
    "to the postmaster. Removing a list also removes it from other lists.\n";

enum { O_SENDERS, O_OWNER, O_NOOWNER, O_JSON, O_N };

/* Only the options in `allowed` (a bit per O_*) go with this action. */
static bool only(const struct cli_opt *o, const char *sub, unsigned allowed)
{
	for (int i = 0; i < O_N; i++)
		if (o[i].set && !(allowed & (1u << i))) {
			cli_err("list %s does not take --%s (see mailroom list --help)", sub,
				o[i].name);
			return false;
		}
	return true;
}

static int senders_opt(const struct cli_opt *o, const char *sub, enum store_list_senders *r)
{
	if (store_list_senders_parse(o->value, r) == 0)
		return 0;
	cli_err("list %s: --senders wants anyone, members, authenticated or named, not '%s'", sub,
		o->value);
	return EX_USAGE;
}

static void json_strv(char *const *v, size_t n)
{
	fputc('[', stdout);
	for (size_t i = 0; i < n; i++) {
		fputs(i > 0 ? "," : "", stdout);
		cli_json_str(stdout, v[i]);
	}
	fputc(']', stdout);
}

static void print_json(const struct store_list *l)
{
	const char *at = strrchr(l->address, '@');
	char *bounce = xasprintf("owner-%s", l->address),
	     *id = xasprintf("%.*s.%s", (int)(at - l->address), l->address, at + 1);

	fputs("{\"address\":", stdout);
	cli_json_str(stdout, l->address);
	printf(",\"senders\":\"%s\",\"owner\":", store_list_senders_name(l->senders));
	cli_json_str(stdout, l->owner != NULL ? l->owner : STORE_POSTMASTER);
	fputs(",\"bounce\":", stdout);
	cli_json_str(stdout, bounce);
	fputs(",\"list_id\":", stdout);
	cli_json_str(stdout, id);
	fputs(",\"members\":", stdout);
	json_strv(l->members, l->n_members);
	fputs(",\"named\":", stdout);
	json_strv(l->named, l->n_named);
	fputc('}', stdout);
	free(bounce);
	free(id);
}

static void print_list(const struct store_list *l, void *p)
{
	struct cli_list *lc = p;

	cli_list_item(lc);
	if (lc->json)
		print_json(l);
	else
		printf("%-40s %-13s %7zu %s\n", l->address, store_list_senders_name(l->senders),
		       l->n_members, l->owner != NULL ? l->owner : STORE_POSTMASTER);
}

static void print_show(const struct store_list *l)
{
	const char *at = strrchr(l->address, '@');

	printf("list:     %s\n", l->address);
	printf("senders:  %s\n", store_list_senders_name(l->senders));
	printf("owner:    %s\n", l->owner != NULL ? l->owner : "postmaster (built-in)");
	printf("bounces:  owner-%s\n", l->address);
	printf("list-id:  <%.*s.%s>\n", (int)(at - l->address), l->address, at + 1);
	printf("members:  %zu\n", l->n_members);
	for (size_t i = 0; i < l->n_members; i++)
		printf("  %s\n", l->members[i]);
	printf("named senders: %zu\n", l->n_named);
	for (size_t i = 0; i < l->n_named; i++)
		printf("  %s\n", l->named[i]);
}

/* A member that is another backend's account (LDAP, PAM) gets its mailbox
   now, so the store sees it exists (directory.h), as alias add does. */
static int ensure_member(struct cli *c, struct store *st, const char *member)
{
	struct directory *dir = NULL;
	struct dir_rcpt to;

	if (cli_directory_open(c, &dir) != 0)
		return EX_CONFIG;
	if (directory_resolve(dir, st, member, &to) == STORE_OK)
		dir_rcpt_clear(&to);
	directory_free(&dir);
	return 0;
}

/* list member|sender add|remove LIST ADDRESS */
static int entries(struct cli *c, const char *what, const char *const *pos, size_t np)
{
	bool member = strcmp(what, "member") == 0;
	if (np != 4 || (strcmp(pos[1], "add") != 0 && strcmp(pos[1], "remove") != 0)) {
		cli_err("list %s takes add or remove, LIST and %s, as in: list %s add "
			"staff@example.org %s",
			what, member ? "MEMBER" : "ADDRESS", what,
			member ? "alice@example.org" : "boss@example.net");
		return EX_USAGE;
	}
	bool add = strcmp(pos[1], "add") == 0;
	struct store *st = NULL;
	int rc = cli_store_open(c, false, &st);
	if (rc != 0)
		return rc;
	if (member && add && (rc = ensure_member(c, st, pos[3])) != 0) {
		store_close(&st);
		return rc;
	}
	rc = member ? add ? store_list_member_add(st, pos[2], pos[3])
			  : store_list_member_remove(st, pos[2], pos[3])
	     : add ? store_list_sender_add(st, pos[2], pos[3])
		    : store_list_sender_remove(st, pos[2], pos[3]);
	if (rc == STORE_OK)
		printf("%s %s %s list %s\n", what, pos[3], add ? "added to" : "removed from",
		       pos[2]);
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}

int cli_list(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N] = {
	    [O_SENDERS] = {.name = "senders", .has_arg = true},
	    [O_OWNER] = {.name = "owner", .has_arg = true},
	    [O_NOOWNER] = {.name = "no-owner"},
	    [O_JSON] = {.name = "json"},
	};
	const char *pos[4];
	size_t np;
	bool done;
	struct store *st = NULL;
	int rc = cli_parse("list", usage,
			   "give an action: add, set, member, sender, remove, show or list", argc,
			   argv, o, O_N, pos, 1, 4, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	bool is_add = strcmp(sub, "add") == 0, is_set = strcmp(sub, "set") == 0,
	     is_rm = strcmp(sub, "remove") == 0, is_show = strcmp(sub, "show") == 0,
	     is_list = strcmp(sub, "list") == 0;
	bool is_entry = strcmp(sub, "member") == 0 || strcmp(sub, "sender") == 0;
	if (!is_add && !is_set && !is_rm && !is_show && !is_list && !is_entry) {
		cli_err("list: unknown action '%s': use add, set, member, sender, remove, show or "
			"list",
			sub);
		return EX_USAGE;
	}
	unsigned allowed = is_add		? 1u << O_SENDERS | 1u << O_OWNER
			   : is_set		? 1u << O_SENDERS | 1u << O_OWNER | 1u << O_NOOWNER
			   : is_show || is_list ? 1u << O_JSON
						: 0;
	if (!only(o, sub, allowed))
		return EX_USAGE;
	if (is_entry)
		return entries(c, sub, pos, np);
	if (is_list ? np != 1 : np != 2) {
		cli_err(is_list ? "list list takes no argument: it lists every list"
				: "list %s takes one ADDRESS, as in: list %s staff@example.org",
			sub, sub);
		return EX_USAGE;
	}
	if (o[O_OWNER].set && o[O_NOOWNER].set) {
		cli_err("list set: --owner and --no-owner exclude each other");
		return EX_USAGE;
	}
	if (is_set && !o[O_SENDERS].set && !o[O_OWNER].set && !o[O_NOOWNER].set) {
		cli_err("list set: nothing to change: give --senders, --owner or --no-owner");
		return EX_USAGE;
	}
	enum store_list_senders senders = STORE_LIST_ANYONE;
	if (o[O_SENDERS].set && (rc = senders_opt(&o[O_SENDERS], sub, &senders)) != 0)
		return rc;
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	struct store_list l = {0};
	if (is_list) {
		struct cli_list lc;
		cli_list_begin(
		    &lc, o[O_JSON].set,
		    "ADDRESS                                  SENDERS       MEMBERS OWNER");
		rc = store_list_list(st, print_list, &lc);
		rc = cli_list_end(&lc, st, rc, "no lists");
		store_close(&st);
		return rc;
	} else if (is_show) {
		if ((rc = store_list_get(st, pos[1], &l)) == STORE_OK) {
			if (o[O_JSON].set) {
				print_json(&l);
				fputc('\n', stdout);
			} else {
				print_show(&l);
			}
		}
	} else if (is_add) {
		rc = store_list_add(st, pos[1], senders, o[O_OWNER].value);
		if (rc == STORE_OK)
			printf("list %s added (senders: %s)\n", pos[1],
			       store_list_senders_name(senders));
	} else if (is_set) {
		/* what is not given stays as it is */
		if ((rc = store_list_get(st, pos[1], &l)) == STORE_OK) {
			const char *owner = o[O_NOOWNER].set ? NULL
					    : o[O_OWNER].set ? o[O_OWNER].value
							     : l.owner;
			rc = store_list_set(st, pos[1], o[O_SENDERS].set ? senders : l.senders,
					    owner);
		}
		if (rc == STORE_OK)
			printf("list %s changed\n", pos[1]);
	} else {
		rc = store_list_remove(st, pos[1]);
		if (rc == STORE_OK)
			printf("list %s removed\n", pos[1]);
	}
	store_list_clear(&l);
	rc = rc == STORE_OK ? 0 : cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}
