/* SPDX-License-Identifier: MIT */
/*
 * cli_import.c - `mailroom import SOURCE PATH|URL ADDRESS`: another
 * server's mailbox into one mailroom mailbox, each message with the UIDL
 * the old server served (migrate.h), so POP3 clients that left mail there
 * download nothing twice.
 *
 * The source is found by name in migrate/'s table; ADDRESS must lead to
 * exactly one local mailbox (an alias of one is fine; a list, an alias of
 * several or a forward elsewhere is refused: an import puts mail in one
 * place). The source is opened before the store, which drops root, so a
 * store only root can list is still read. Running it again is safe: what
 * is there already (by UIDL) is skipped and counted as such.
 */
#include "cli/cli_private.h"
#include "directory/directory.h"
#include "migrate/migrate.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: mailroom [-c FILE] import maildir|mbox|winpop3 PATH ADDRESS [--uidl-format FMT]\n"
    "       mailroom [-c FILE] import pop3 URL ADDRESS --password-stdin [--insecure]\n"
    "                                [--ca-file FILE]\n"
    "\n"
    "Copies another server's mailbox into the mailbox of ADDRESS, keeping the\n"
    "POP3 UIDL each message had there, so clients that leave mail on the server\n"
    "download nothing twice. Messages already there (same UIDL) are skipped:\n"
    "run it again after an interruption to go on.\n"
    "  maildir PATH   a Maildir (cur/ and new/), with its Maildir++ folders\n"
    "                 (.a.b is a/b), flags, keywords (dovecot-keywords), UIDs\n"
    "                 where they fit and subscriptions; Dovecot's dovecot-uidlist\n"
    "                 and Courier's courierpop3dsizelist give the UIDLs\n"
    "  mbox PATH      an mbox file (mboxrd or mboxo) into INBOX, or a folder of\n"
    "                 them, one a folder (a.sbd/b or a/b is a/b), with the flags\n"
    "                 of Status, X-Status and X-Keywords\n"
    "  winpop3 PATH   a mailbox folder of the Windows POP3 service\n"
    "                 (...\\mailbox\\DOMAIN\\P3_NAME.mbx)\n"
    "  pop3 URL       a live server: pop3s://USER@HOST[:PORT]\n"
    "options:\n"
    "  --uidl-format FMT  maildir: Dovecot's pop3_uidl_format (default %08Xu%08Xv);\n"
    "                 winpop3: %f is the file name without .eml (default %f)\n"
    "  --password-stdin   pop3: the account's password from stdin's first line\n"
    "  --insecure     pop3: accept any certificate\n"
    "  --ca-file FILE pop3: CA certificates to verify the server with\n"
    "Exit: 0 done, 64 usage, 66 PATH unreadable, 67 no such mailbox, 65 bad\n"
    "source data (what was stored before it stays), 75 store busy.\n";

struct progress {
	struct timespec start;
	bool tty;
};

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_progress(const struct migrate_stats *st, long long total, void *ctx)
{
	struct progress *p = ctx;
	if (!p->tty)
		return;
	double s = since(&p->start);
	if (total >= 0)
		fprintf(stderr, "\rimport: %llu/%lld messages, %.0f messages/s\033[K",
			(unsigned long long)st->seen, total, s > 0 ? (double)st->seen / s : 0.0);
	else
		fprintf(stderr, "\rimport: %llu messages, %.0f messages/s\033[K",
			(unsigned long long)st->seen, s > 0 ? (double)st->seen / s : 0.0);
}

/* The one mailbox ADDRESS leads to, or an exit code after saying why. */
static int one_mailbox(struct cli *c, struct store *st, const char *address, int64_t *id_r)
{
	struct directory *dir = NULL;
	struct dir_rcpt to;
	int rc = cli_directory_open(c, &dir);

	if (rc != 0)
		return rc;
	int r = directory_resolve(dir, st, address, &to);
	directory_free(&dir);
	if (r == STORE_NOTFOUND || r == STORE_INVALID) {
		cli_err("import: %s is no local mailbox", address);
		return EX_NOUSER;
	}
	if (r != STORE_OK)
		return cli_store_fail(st, r);
	if (to.n_ids != 1 || to.n_remote != 0) {
		cli_err("import: %s leads to %zu local mailboxes and %zu addresses elsewhere: give "
			"the address of one mailbox",
			address, to.n_ids, to.n_remote);
		dir_rcpt_clear(&to);
		return EX_USAGE;
	}
	*id_r = to.ids[0];
	dir_rcpt_clear(&to);
	return 0;
}

/* The UIDLs a mailbox holds, sorted, for a live source to skip. */
struct known {
	char **v;
	size_t n;
	uint64_t hits;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int known_load(struct store *st, int64_t mailbox, struct known *k)
{
	struct store_msg *msgs = NULL;
	size_t n = 0;
	int r = store_mailbox_load(st, mailbox, &msgs, &n);

	if (r != STORE_OK)
		return cli_store_fail(st, r);
	k->v = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		k->v[k->n++] = xstrdup(msgs[i].uidl);
	free(msgs);
	qsort(k->v, k->n, sizeof(char *), cmp_str);
	return 0;
}

static bool known_has(void *ctx, const char *uidl)
{
	struct known *k = ctx;
	bool yes = bsearch(&uidl, k->v, k->n, sizeof(char *), cmp_str) != NULL;
	k->hits += yes;
	return yes;
}

static void known_free(struct known *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
	memset(k, 0, sizeof(*k));
}

int cli_import(struct cli *c, int argc, char **argv)
{
	struct cli_opt opts[] = {
	    {.name = "uidl-format", .has_arg = true},
	    {.name = "password-stdin"},
	    {.name = "insecure"},
	    {.name = "ca-file", .has_arg = true},
	};
	const char *pos[3];
	size_t np;
	bool done;
	int rc = cli_parse("import", usage, "give a source, a PATH (or URL) and an ADDRESS", argc,
			   argv, opts, N_ELEMENTS(opts), pos, 3, 3, &np, &done);
	if (rc != 0 || done)
		return rc;

	const struct migrate_source_ops *ops = migrate_source_find(pos[0]);
	if (ops == NULL) {
		cli_err("import: no source '%s' (maildir, mbox, winpop3 or pop3; see mailroom "
			"import --help)",
			pos[0]);
		return EX_USAGE;
	}
	bool is_pop3 = strcmp(ops->name, "pop3") == 0;
	struct migrate_options o = {
	    .uidl_format = opts[0].value,
	    .ca_file = opts[3].value,
	    .insecure = opts[2].set,
	};
	if (!is_pop3 && (opts[1].set || opts[2].set || opts[3].set)) {
		cli_err("import: --password-stdin, --insecure and --ca-file are for pop3");
		return EX_USAGE;
	}
	if (is_pop3 && opts[0].set) {
		cli_err("import: --uidl-format is not for pop3 (the server's UIDL answer is kept)");
		return EX_USAGE;
	}
	char *password = NULL;
	if (is_pop3) {
		if (!opts[1].set) {
			cli_err("import pop3: give the password with --password-stdin");
			return EX_USAGE;
		}
		if ((rc = cli_read_password(true, &password)) != 0)
			return rc;
		o.password = password;
	}

	struct migrate_source *src = NULL;
	struct store *st = NULL;
	int64_t mailbox = 0;
	struct known known = {0};
	char err[1024];
	/* a live server: the mailbox first, so that what it holds already is
	   not downloaded again (the files of the other sources are read as
	   the server's user, after the store is open, either way) */
	if (is_pop3) {
		if ((rc = cli_store_open(c, false, &st)) != 0 ||
		    (rc = one_mailbox(c, st, pos[2], &mailbox)) != 0 ||
		    (rc = known_load(st, mailbox, &known)) != 0) {
			secret_free(&password);
			store_close(&st);
			return rc;
		}
		o.has_uidl = known_has;
		o.has_uidl_ctx = &known;
	}
	if (ops->open(pos[1], &o, &src, err, sizeof(err)) < 0) {
		secret_free(&password);
		known_free(&known);
		store_close(&st);
		cli_err("import %s: %s; nothing imported", ops->name, err);
		return is_pop3 ? EX_UNAVAILABLE : EX_NOINPUT;
	}
	secret_free(&password);

	if (st == NULL && ((rc = cli_store_open(c, false, &st)) != 0 ||
			   (rc = one_mailbox(c, st, pos[2], &mailbox)) != 0)) {
		ops->close(&src);
		store_close(&st);
		return rc;
	}

	struct progress p = {.tty = isatty(STDERR_FILENO) == 1};
	struct migrate_stats stats;
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	int r = migrate_import(st, mailbox, ops, src, on_progress, &p, &stats, err, sizeof(err));
	double secs = since(&p.start);
	if (p.tty && stats.seen > 0)
		fputc('\n', stderr);
	ops->close(&src);
	store_close(&st);
	stats.skipped += known.hits; /* not even fetched */
	known_free(&known);
	printf("import %s: added %llu, %llu already there, %llu octets, %.2f seconds", ops->name,
	       (unsigned long long)stats.added, (unsigned long long)stats.skipped,
	       (unsigned long long)stats.octets, secs);
	if (stats.folders > 0)
		printf(", %llu folders made", (unsigned long long)stats.folders);
	putchar('\n');
	if (r < 0) {
		cli_err("import %s: %s; run it again to go on", ops->name, err);
		return EX_DATAERR;
	}
	return 0;
}
