/* SPDX-License-Identifier: MIT */
/*
 * cli_backup.c - `mailroom backup DIR`, `mailroom verify [DIR]` and
 * `mailroom restore DIR` (SPEC §6; store.h "backup, verify, restore").
 *
 * backup and verify work while serve runs: they read in one read
 * transaction, which in WAL mode holds up no delivery. restore needs the
 * server stopped and a data dir without a store. As root with [server] user
 * set, all three touch the store's files only as that user (privdrop.h), so
 * a backup belongs to the account that can restore it and a restored store
 * to the account serve runs as.
 */
#include "cli/cli_private.h"
#include "server/privdrop.h"
#include "store/store.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_backup[] =
    "usage: mailroom [-c FILE] backup DIR [--json]\n"
    "\n"
    "Copies the store, as it is at one moment, into the new folder DIR (mode\n"
    "0700; DIR must not exist): mailroom.db, the SRS secret srs.key when there is\n"
    "one, and a MANIFEST with the counts and a SHA-256 per file. Works while\n"
    "serve runs: deliveries and POP3 sessions go on meanwhile, and none of what\n"
    "they commit after the start is in the copy. Everything is on disk\n"
    "(fsync'ed) when it returns. Check a backup with `mailroom verify DIR`.\n"
    "\n"
    "As root with [server] user set, the backup is made as that user: DIR's\n"
    "parent folder must be writable by it.\n";

static const char usage_verify[] =
    "usage: mailroom [-c FILE] verify [DIR] [--json]\n"
    "\n"
    "Checks the live store (without DIR; serve may run) or the backup in DIR:\n"
    "SQLite's integrity check, every body's reference count against its messages\n"
    "and queue entries, message sizes against their bodies, UID counters above\n"
    "every UID, each mailbox's recorded use and count against its messages, no\n"
    "message or queue entry without its body or mailbox, and for a backup each\n"
    "file against its MANIFEST (missing, changed or extra files). Every problem\n"
    "is one line on stderr. Exit 0 only when there is none, else 65.\n"
    "\n"
    "  --json   one object on stdout: {\"ok\":..,\"problems\":[..],\"mailboxes\":..}\n";

static const char usage_restore[] =
    "usage: mailroom [-c FILE] restore DIR\n"
    "\n"
    "Puts the backup in DIR into the config's data dir, which must hold no store\n"
    "(mailroom.db); the server must be stopped. The backup is verified first and\n"
    "a bad one is refused, with nothing copied. Then `mailroom serve` serves the\n"
    "same messages with the same UIDLs. A data dir without a TLS certificate gets\n"
    "one from `mailroom init` (which leaves the restored store alone).\n"
    "\n"
    "As root with [server] user set, the data dir and the restored files belong\n"
    "to that user.\n";

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void stats_json(const struct store_check_stats *s)
{
	printf("\"mailboxes\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"bodies\":%" PRIu64
	       ",\"octets\":%" PRIu64 ",\"queued\":%" PRIu64,
	       s->mailboxes, s->messages, s->bodies, s->octets, s->queued);
}

static void when_text(char *buf, size_t n, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

int cli_backup(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"json", false, false, NULL}};
	const char *pos[1];
	size_t np;
	bool done;
	int rc = cli_parse("backup", usage_backup, "give the folder to make: backup DIR", argc,
			   argv, opts, N_ELEMENTS(opts), pos, 1, 1, &np, &done);
	struct store *st = NULL;

	if (rc != 0 || done)
		return rc;
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	struct store_check_stats s;
	double t0 = now_s();
	int r = store_backup(st, pos[0], &s);
	double dt = now_s() - t0;
	if (r != STORE_OK) {
		cli_err("backup: %s", store_error(st));
		if (r == STORE_PERM && c->cfg.user != NULL && strstr(store_error(st), "denied"))
			cli_err("backup: it runs as [server] user %s: the folder DIR goes into "
				"must be writable by that user",
				c->cfg.user);
		store_close(&st);
		return r == STORE_EXISTS ? EX_CANTCREAT : cli_exit_code(r);
	}
	store_close(&st);
	char when[40];
	when_text(when, sizeof(when), s.taken);
	if (opts[0].set) {
		fputs("{\"dir\":", stdout);
		cli_json_str(stdout, pos[0]);
		printf(",\"taken\":%" PRId64 ",\"seconds\":%.3f,", s.taken, dt);
		stats_json(&s);
		puts("}");
	} else {
		printf("backup: %s (snapshot of %s)\n", pos[0], when);
		char *srs = xasprintf("%s/srs.key", pos[0]);
		printf("copied: mailroom.db%s, MANIFEST\n",
		       access(srs, F_OK) == 0 ? ", srs.key" : "");
		free(srs);
		printf("%" PRIu64 " mailboxes, %" PRIu64 " messages, %" PRIu64 " bodies (%" PRIu64
		       " octets), %" PRIu64 " queued; %.2f s\n",
		       s.mailboxes, s.messages, s.bodies, s.octets, s.queued, dt);
	}
	return 0;
}

struct problems {
	char **v;
	size_t n;
};

static void collect(const char *problem, void *ctx)
{
	struct problems *p = ctx;
	p->v = realloc(p->v, (p->n + 1) * sizeof(char *));
	if (p->v == NULL)
		abort();
	p->v[p->n++] = strdup(problem);
}

int cli_verify(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {{"json", false, false, NULL}};
	const char *pos[1] = {NULL};
	size_t np;
	bool done;
	int rc = cli_parse("verify", usage_verify, "", argc, argv, opts, N_ELEMENTS(opts), pos, 0,
			   1, &np, &done);
	struct store *st = NULL;
	struct problems p = {NULL, 0};
	struct store_check_stats s = {0};
	const char *what = np == 1 ? pos[0] : c->cfg.data_dir;

	if (rc != 0 || done)
		return rc;
	double t0 = now_s();
	if (np == 0) {
		if ((rc = cli_store_open(c, false, &st)) != 0)
			return rc;
		store_verify(st, NULL, collect, &p, &s);
	} else {
		/* the files against the MANIFEST first, as they are: a damaged
		   database may not open; then the data (read-only: a backup is
		   never written, nor migrated when an older mailroom made it),
		   and the files once more with the counts when they were whole */
		if (privdrop_cli(&c->cfg, false) != 0)
			return EX_CONFIG;
		struct problems files = {NULL, 0};
		store_verify(NULL, pos[0], collect, &files, &s);
		int o = store_open_backup(pos[0], &st);
		if (o == STORE_INVALID && files.n == 0) {
			/* another mailroom's schema: its files are whole, its data
			   is checked by restore on the copy it upgrades */
			fprintf(stderr, "mailroom: verify: note: %s\n", store_error(st));
			p = files;
		} else if (o != STORE_OK) {
			char text[1024];
			snprintf(text, sizeof(text), "the backup's database cannot be opened: %s",
				 st != NULL ? store_error(st) : "out of memory");
			p = files;
			collect(text, &p);
		} else if (files.n == 0) {
			store_verify(st, pos[0], collect, &p, &s);
		} else {
			p = files;
			store_verify(st, NULL, collect, &p, &s);
		}
	}
	double dt = now_s() - t0;
	store_close(&st);
	for (size_t i = 0; i < p.n; i++)
		cli_err("verify: %s", p.v[i]);
	if (opts[0].set) {
		fputs("{\"store\":", stdout);
		cli_json_str(stdout, what);
		printf(",\"backup\":%s,\"ok\":%s,\"problems\":[", np == 1 ? "true" : "false",
		       p.n == 0 ? "true" : "false");
		for (size_t i = 0; i < p.n; i++) {
			if (i > 0)
				fputc(',', stdout);
			cli_json_str(stdout, p.v[i]);
		}
		fputs("],", stdout);
		stats_json(&s);
		printf(",\"seconds\":%.3f}\n", dt);
	} else if (p.n == 0) {
		printf("ok: %s: %" PRIu64 " mailboxes, %" PRIu64 " messages, %" PRIu64
		       " bodies (%" PRIu64 " octets), %" PRIu64 " queued; %.2f s\n",
		       what, s.mailboxes, s.messages, s.bodies, s.octets, s.queued, dt);
	} else {
		cli_err("verify: %s: %zu problem%s", what, p.n, p.n == 1 ? "" : "s");
	}
	for (size_t i = 0; i < p.n; i++)
		free(p.v[i]);
	free(p.v);
	return p.n == 0 ? 0 : EX_DATAERR;
}

/* As root the data dir is made and given to [server] user first, as init
   does; the files are then written as that user. */
static int own_data_dir(const struct config *cfg)
{
	char *err = NULL;
	struct privdrop pd;
	int r = privdrop_plan(cfg, false, &pd, &err);

	if (r == 0)
		r = privdrop_chown_data(cfg, &pd, &err);
	privdrop_clear(&pd);
	if (r < 0)
		cli_err("%s", err);
	free(err);
	return r;
}

int cli_restore(struct cli *c, int argc, char **argv)
{
	const char *pos[1];
	size_t np;
	bool done;
	int rc = cli_parse("restore", usage_restore, "give the backup folder: restore DIR", argc,
			   argv, NULL, 0, pos, 1, 1, &np, &done);

	if (rc != 0 || done)
		return rc;
	if (own_data_dir(&c->cfg) != 0 || privdrop_cli(&c->cfg, false) != 0)
		return EX_CONFIG;
	char why[1024];
	double t0 = now_s();
	int r = store_restore(pos[0], c->cfg.data_dir, why, sizeof(why));
	if (r != STORE_OK) {
		cli_err("restore: %s", why);
		return r == STORE_EXISTS ? EX_CANTCREAT : cli_exit_code(r);
	}
	printf("restored: %s into %s (%.2f s)\n", pos[0], c->cfg.data_dir, now_s() - t0);
	/* a backup holds the store, not the certificate: serve needs one */
	if (access(c->cfg.tls_cert, F_OK) != 0 || access(c->cfg.tls_key, F_OK) != 0)
		printf("tls: no certificate at %s: put yours back, or run %s init for a new "
		       "self-signed one, then start the server with: %s serve\n",
		       c->cfg.tls_cert, c->prog, c->prog);
	else
		printf("start the server with: %s serve\n", c->prog);
	return 0;
}
