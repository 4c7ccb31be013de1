/* SPDX-License-Identifier: MIT */
/*
 * cli_init.c - `mailroom init` and `mailroom serve`.
 *
 * init is idempotent: it makes what is missing (data dir, database at the
 * latest schema, a self-signed certificate when the configured files do not
 * exist) and leaves what exists alone. Run as root with [server] user set,
 * it makes the data dir as root, gives it and the store's and TLS files in
 * it to that user (privdrop.h), and does the rest as that user, so every
 * file it makes belongs to the account serve runs as.
 */
#include "cli/cli_private.h"
#include "server/privdrop.h"
#include "server/server.h"
#include "store/store.h"
#include "tls/tls.h"

#include <stdlib.h>
#include <unistd.h>

static const char usage_init[] =
    "usage: mailroom [-c FILE] init\n"
    "\n"
    "Creates the data dir (mode 0700), the store (SQLite in the data dir, or the\n"
    "PostgreSQL database of [store] dsn; made or migrated to the latest schema)\n"
    "and, unless the configured [tls] cert and key exist, a self-signed\n"
    "certificate for [server] hostname. Safe to run again: nothing existing is\n"
    "changed.\n"
    "\n"
    "As root with [server] user set, the data dir, the store and the TLS files in\n"
    "the data dir are given to that user (existing ones too), and the store and\n"
    "certificate are made as that user.\n";

static const char usage_serve[] =
    "usage: mailroom [-c FILE] serve\n"
    "\n"
    "Runs the server in the foreground and logs to stderr. SIGTERM or SIGINT stop\n"
    "it gracefully: listeners close, sessions get a last reply, queued work ends.\n"
    "\n"
    "Started as root, it binds its listeners and then runs as [server] user; as\n"
    "root without [server] user it refuses to start.\n";

int cli_init(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	size_t np;
	bool done;
	int rc = cli_parse("init", usage_init, "", argc, argv, NULL, 0, pos, 0, 0, &np, &done);
	struct store *st = NULL;
	char *err = NULL;

	if (rc != 0 || done)
		return rc;
	struct privdrop pd;
	if (privdrop_plan(&c->cfg, false, &pd, &err) < 0 ||
	    privdrop_chown_data(&c->cfg, &pd, &err) < 0) {
		cli_err("%s", err);
		free(err);
		privdrop_clear(&pd);
		return EX_CONFIG;
	}
	if (pd.drop)
		printf("owner: %s (uid %u) for %s\n", pd.name, (unsigned)pd.uid, c->cfg.data_dir);
	else if (geteuid() == 0)
		fprintf(stderr, "mailroom: note: [server] user is not set; serve will refuse to "
				"start as root until it is (docs/admin.md, Privileges)\n");
	privdrop_clear(&pd);
	/* cli_store_open() switches to [server] user before the store is made */
	bool had_cert = access(c->cfg.tls_cert, F_OK) == 0 && access(c->cfg.tls_key, F_OK) == 0;
	if ((rc = cli_store_open(c, true, &st)) != 0)
		return rc == EX_IOERR ? EX_CANTCREAT : rc;
	struct store_user pm;
	bool pm_password =
	    store_user_lookup(st, STORE_POSTMASTER, &pm) == STORE_OK && pm.pw_hash != NULL;
	store_user_clear(&pm);
	printf("store: %s\n", store_where(st));
	store_close(&st);
	if (!pm_password)
		printf("postmaster: mail to postmaster lands in the built-in mailbox 'postmaster'; "
		       "to read it over POP3, run: %s user passwd postmaster\n",
		       c->prog);
	if (tls_selfsigned_ensure(c->cfg.hostname, c->cfg.tls_cert, c->cfg.tls_key, &err) < 0) {
		cli_err("%s", err);
		free(err);
		return EX_CANTCREAT;
	}
	printf("tls: %s (%s)\n", c->cfg.tls_cert,
	       had_cert ? "existing" : "new self-signed certificate");
	return 0;
}

int cli_serve(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	size_t np;
	bool done;
	int rc = cli_parse("serve", usage_serve, "", argc, argv, NULL, 0, pos, 0, 0, &np, &done);

	if (rc != 0 || done)
		return rc;
	return server_run(&c->cfg);
}
