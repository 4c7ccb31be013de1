/* SPDX-License-Identifier: MIT */
/* cli_config.c - `mailroom config check|show`. */
#include "cli/cli_private.h"
#include "smtp/smtp.h"
#include "directory/directory.h"
#include "proto/sasl.h"
#include "server/privdrop.h"
#include "store/store.h"
#include "tls/tls.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mailroom [-c FILE] config check\n"
    "       mailroom [-c FILE] config show\n"
    "\n"
    "check reads the config file as serve would (an error names FILE:LINE),\n"
    "then loads the TLS certificate and key, reads the [gssapi] keytab if one\n"
    "is set, opens the store, and reaches every directory backend of\n"
    "[directory] backend: ldap connects to [ldap] uri, does StartTLS if set,\n"
    "binds as bind_dn and reads the entry of base (within [ldap] timeout);\n"
    "pam finds its service file; passwd-file reads and parses its file. It\n"
    "prints one line per check, or why it failed, with a non-zero exit. Run\n"
    "it before sending serve a SIGHUP or restarting it.\n"
    "show prints the effective configuration: every key with its value,\n"
    "defaults included, paths absolute. Its output is a valid config file.\n"
    "Exit: 0 all checks passed, 78 a problem of the config or of what it\n"
    "names (a refused bind, a missing file), 69 a directory server that does\n"
    "not answer.\n";

/* One line per probed directory backend: on stdout when it passed, else
   the reason on stderr. */
static void probe_line(void *ctx, const char *backend, enum directory_probe_status status,
		       const char *text, unsigned ms)
{
	if (status == DIRECTORY_PROBE_OK)
		printf("ok: %s %s (%u ms)\n", backend, text, ms);
	else
		cli_err("%s: %s (%u ms)", backend, text, ms);
}

static int check(struct cli *c)
{
	struct tls_ctx *tls = NULL;
	struct store *st = NULL;
	char *err = NULL;
	int rc;

	printf("config: %s: ok\n", c->cfg.file != NULL ? c->cfg.file : "(built-in defaults)");
	/* the rest as serve sees it after its switch to [server] user */
	if (privdrop_cli(&c->cfg, true) != 0)
		return EX_CONFIG;
	if (tls_ctx_new(c->cfg.tls_cert, c->cfg.tls_key, &tls, &err) < 0 ||
	    tls_ctx_client_auth(tls, &c->cfg, &err) < 0) {
		tls_ctx_free(&tls);
		cli_err("%s", err);
		free(err);
		return EX_CONFIG;
	}
	tls_ctx_free(&tls);
	printf("tls: %s and %s: ok\n", c->cfg.tls_cert, c->cfg.tls_key);
	if (c->cfg.tls_client_ca != NULL)
		printf("tls: client certificates from %s: ok\n", c->cfg.tls_client_ca);
	if (sasl_gssapi_configured(&c->cfg)) {
		struct buf found = {0};
		if (sasl_gssapi_check(&c->cfg, &found, &err) < 0) {
			cli_err("%s", err);
			free(err);
			buf_free(&found);
			return EX_CONFIG;
		}
		printf("gssapi: %s: %s: ok\n", gssapi_config(&c->cfg)->keytab, found.data);
		buf_free(&found);
	}
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	printf("store: %s: ok\n", store_where(st));
	/* a postmaster that leads nowhere: SMTP falls back to the built-in one
	   (RFC 5321 §4.5.1 MUST accept), but the admin meant another mailbox */
	const char *pm = smtp_config(&c->cfg)->postmaster != NULL ? smtp_config(&c->cfg)->postmaster
								  : STORE_POSTMASTER;
	struct directory *dir = NULL;
	if ((rc = cli_directory_open(c, &dir)) != 0) {
		store_close(&st);
		return rc;
	}
	printf("directory: %s: ok\n", directory_describe(dir));
	enum directory_probe_status ps = directory_probe(dir, probe_line, NULL);
	if (ps != DIRECTORY_PROBE_OK) {
		directory_free(&dir);
		store_close(&st);
		return ps == DIRECTORY_PROBE_UNAVAILABLE ? EX_UNAVAILABLE : EX_CONFIG;
	}
	struct dir_rcpt to;
	int r = directory_resolve(dir, st, pm, &to);
	if (r == STORE_OK && to.n_ids == 0)
		r = STORE_NOTFOUND; /* only outside targets: SMTP falls back too */
	dir_rcpt_clear(&to);
	directory_free(&dir);
	if (r == STORE_NOTFOUND || r == STORE_INVALID) {
		cli_err("[smtp] postmaster = %s is no local mailbox or alias: postmaster mail goes "
			"to the built-in mailbox 'postmaster' instead; add it, or remove the key",
			pm);
		rc = EX_CONFIG;
	} else if (r != STORE_OK) {
		rc = cli_store_fail(st, r);
	} else {
		printf("postmaster: mail to postmaster goes to %s\n", pm);
	}
	store_close(&st);
	return rc;
}

int cli_config(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	size_t np;
	bool done;
	int rc = cli_parse("config", usage, "give an action: check or show", argc, argv, NULL, 0,
			   pos, 1, 1, &np, &done);

	if (rc != 0 || done)
		return rc;
	if (strcmp(pos[0], "check") == 0)
		return check(c);
	if (strcmp(pos[0], "show") == 0) {
		struct buf out = {0};
		config_write(&c->cfg, &out);
		fwrite(out.data, 1, out.len, stdout);
		buf_free(&out);
		return 0;
	}
	cli_err("config: unknown action '%s': use check or show", pos[0]);
	return EX_USAGE;
}
