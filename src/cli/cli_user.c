/* SPDX-License-Identifier: MIT */
/* cli_user.c - `mailroom user add|remove|list|passwd|set|import`. */
#include "cli/cli_private.h"
#include "directory/password.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char usage[] =
    "usage: mailroom [-c FILE] user add ADDRESS [--password-stdin | --password-hash HASH]\n"
    "                                           [--quota SIZE] [--apop] [--no-pop3]\n"
    "                                           [--no-submission]\n"
    "       mailroom [-c FILE] user remove ADDRESS\n"
    "       mailroom [-c FILE] user list [DOMAIN] [--json]\n"
    "       mailroom [-c FILE] user passwd ADDRESS [--password-stdin] [--apop]\n"
    "       mailroom [-c FILE] user set ADDRESS [--pop3 yes|no]\n"
    "                                           [--submission yes|no] [--enabled yes|no]\n"
    "                                           [--no-apop]\n"
    "                                           [--forward ADDR[,ADDR...] | --no-forward]\n"
    "                                           [--keep-copy yes|no]\n"
    "                                           [--quota-warn SIZE] [--quota-send SIZE]\n"
    "                                           [--quota SIZE] [--max-message-size SIZE]\n"
    "                                           [--max-recipients N]\n"
    "                                           [--messages-per-hour N]\n"
    "                                           [--messages-per-day N]\n"
    "                                           [--recipients-per-hour N]\n"
    "                                           [--recipients-per-day N]\n"
    "       mailroom [-c FILE] user import passwd-file FILE [--domain DOMAIN] [--json]\n"
    "\n"
    "The password is read from the terminal (twice), or with --password-stdin\n"
    "from the first line of stdin. It is stored as a yescrypt hash and a\n"
    "SCRAM-SHA-256 verifier. --apop also keeps it in reversible form so the\n"
    "account can use POP3 APOP; only opt in for clients that need it.\n"
    "--password-hash stores HASH as it is: {SCHEME}data of a scheme mailroom\n"
    "verifies (mailroom pw makes one; Dovecot's passwd-file hashes) or a\n"
    "crypt(3) string. SCRAM-SHA-256 login then works only for a Dovecot\n"
    "{SCRAM-SHA-256} hash; other accounts log in with PLAIN, LOGIN or USER/PASS.\n"
    "user import passwd-file adds a mailbox for every line of a Dovecot\n"
    "passwd-file with its hash (bare names get --domain, else [passwd-file]\n"
    "domain); every domain must be hosted already. Existing mailboxes and\n"
    "lines without a usable hash are skipped and listed on stderr; the last\n"
    "line says \"imported N, skipped M\". Exit 65 if a hash was unusable.\n"
    "SIZE: bytes, or with K, M, G (1024-based); 0 = no quota.\n"
    "Quota levels, as in Exchange: at --quota-warn the mailbox gets one notice\n"
    "(again only after it dropped below and crossed it anew), at --quota-send\n"
    "its login can no longer send, at --quota it receives no more mail (452\n"
    "4.2.2). The sending limits count what the login submits: the size of one\n"
    "message, its recipients (lists expanded), and messages and recipients in\n"
    "any hour or day. For each, 0 means none and `default` the domain's value\n"
    "(domain set); a new mailbox takes the domain's values. The levels go\n"
    "quota-warn <= quota-send <= quota. user list shows the use against each\n"
    "level (a % of it; `default` marks the domain's value).\n"
    "A disabled account (--enabled no) still receives mail but cannot log in;\n"
    "--pop3 no closes POP3 for the account alone, --submission no its SMTP\n"
    "submission (sending); mail to it is still accepted.\n"
    "--forward sends the account's mail on to up to 32 addresses (local or\n"
    "not; it replaces what was set), --no-forward stops that. A copy stays in\n"
    "the mailbox unless --keep-copy no; a new forward keeps one unless told.\n"
    "Mail forwarded elsewhere gets an SRS envelope sender of the account's\n"
    "domain, so the next hop's SPF check passes and bounces come back.\n";

enum {
	O_PWSTDIN,
	O_QUOTA,
	O_APOP,
	O_NOPOP3,
	O_JSON,
	O_POP3,
	O_ENABLED,
	O_NOAPOP,
	O_NOSUBM,
	O_SUBM,
	O_PWHASH,
	O_DOMAIN,
	O_FORWARD,
	O_NOFORWARD,
	O_KEEPCOPY,
	/* quota levels and sending limits, beside O_QUOTA (limit_opt) */
	O_QWARN,
	O_QSEND,
	O_MAXSIZE,
	O_MAXRCPT,
	O_MPH,
	O_MPD,
	O_RPH,
	O_RPD,
	O_N
};

/* The option of each store limit, in enum store_limit order. */
static const int limit_opt[STORE_LIMIT_COUNT] = {O_QWARN, O_QSEND, O_QUOTA, O_MAXSIZE, O_MAXRCPT,
						 O_MPH,	  O_MPD,   O_RPH,   O_RPD};

/* Makes the hash and SCRAM verifier of a password read per the options. */
static int secrets(bool from_stdin, char **pw_r, char **hash_r, char **scram_r)
{
	int rc = cli_read_password(from_stdin, pw_r);

	if (rc != 0)
		return rc;
	if (password_hash(*pw_r, hash_r) < 0 ||
	    scram_verifier_make(*pw_r, SCRAM_ITERATIONS_DEFAULT, scram_r) < 0) {
		secret_free(pw_r);
		secret_free(hash_r);
		cli_err("cannot hash the password: libxcrypt or OpenSSL failed; nothing changed");
		return EX_SOFTWARE;
	}
	return 0;
}

/* One quota level in `user list`: "-" when none, else the level, the share
   of it in use and, when it is the domain's, "default". */
static void level_cell(char *buf, size_t n, const struct store_user *u, enum store_limit l)
{
	int64_t v = u->effective.v[l];
	char t[32];

	cli_limit_text(t, sizeof(t), l, v);
	if (v <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	snprintf(buf, n, "%s %llu%%%s", t, (unsigned long long)(u->used * 100 / (uint64_t)v),
		 u->own.v[l] == STORE_INHERIT ? " default" : "");
}

/* ,"forward":[...],"keep_copy":B of a `user list --json` item. */
static void forward_json(const struct store_user *u)
{
	fputs(",\"forward\":[", stdout);
	for (const char *t = u->forward; t != NULL && *t != '\0';) {
		size_t n = strcspn(t, ",");
		char *one = xstrndup(t, n);
		if (t != u->forward)
			fputc(',', stdout);
		cli_json_str(stdout, one);
		free(one);
		t += n + (t[n] == ',');
	}
	printf("],\"keep_copy\":%s", u->keep_copy ? "true" : "false");
}

static void print_user(const struct store_user *u, void *p)
{
	struct cli_list *lc = p;

	cli_list_item(lc);
	if (lc->json) {
		fputs("{\"address\":", stdout);
		cli_json_str(stdout, u->address);
		printf(",\"messages\":%lld,\"bytes\":%llu,\"quota\":%llu,\"pop3\":%s,"
		       "\"submission\":%s,\"enabled\":%s,\"apop\":%s,\"directory\":",
		       (long long)u->messages, (unsigned long long)u->used,
		       (unsigned long long)u->quota, u->pop3_enabled ? "true" : "false",
		       u->submission_enabled ? "true" : "false", u->enabled ? "true" : "false",
		       u->apop_secret != NULL ? "true" : "false");
		cli_json_str(stdout, u->source != NULL ? u->source : "builtin");
		fputs(",\"own\":", stdout);
		cli_limits_json(stdout, &u->own, true);
		fputs(",\"effective\":", stdout);
		cli_limits_json(stdout, &u->effective, false);
		forward_json(u);
		fputs("}", stdout);
	} else {
		char warn[80], send[80], quota[80];
		level_cell(warn, sizeof(warn), u, STORE_LIMIT_QUOTA_WARN);
		level_cell(send, sizeof(send), u, STORE_LIMIT_QUOTA_SEND);
		level_cell(quota, sizeof(quota), u, STORE_LIMIT_QUOTA);
		/* a directory account's mailbox has no password here: say whose it is */
		const char *tag = u->source != NULL    ? u->source
				  : u->pw_hash == NULL ? "no-password"
						       : NULL;
		printf("%-40s %8lld %12llu %-20s %-20s %-20s %s%s%s%s%s%s%s\n", u->address,
		       (long long)u->messages, (unsigned long long)u->used, warn, send, quota,
		       u->enabled ? "" : "disabled ", u->pop3_enabled ? "pop3" : "no-pop3",
		       u->submission_enabled ? " submission" : " no-submission",
		       u->apop_secret != NULL ? " apop" : "",
		       u->forward == NULL ? ""
		       : u->keep_copy	  ? " forward"
					  : " forward-only",
		       tag != NULL ? " " : "", tag != NULL ? tag : "");
	}
}

static bool only(struct cli_opt *o, const char *sub, const int *allowed, size_t n)
{
	for (int i = 0; i < O_N; i++) {
		bool ok = false;
		for (size_t k = 0; k < n; k++)
			ok |= allowed[k] == i;
		if (o[i].set && !ok) {
			cli_err("user %s does not take --%s (see mailroom user --help)", sub,
				o[i].name);
			return false;
		}
	}
	return true;
}

static int yesno(const struct cli_opt *o, bool *v_r)
{
	if (config_parse_bool(o->value, v_r) < 0) {
		cli_err("user set: --%s wants yes or no, not '%s'", o->name, o->value);
		return EX_USAGE;
	}
	return 0;
}

/* The levels and limits `user set` was given: want[l] for given[l]. */
static int limits_parse(struct cli_opt *o, int64_t *want, bool *given, bool *any_r)
{
	int rc;

	*any_r = false;
	for (int l = 0; l < STORE_LIMIT_COUNT; l++) {
		const struct cli_opt *op = &o[limit_opt[l]];
		given[l] = op->set;
		if (op->set && (rc = cli_limit_parse("user set", (enum store_limit)l, op->value,
						     true, &want[l])) != 0)
			return rc;
		*any_r |= op->set;
	}
	return 0;
}

/* Sets the given values after checking the order of the quota levels the
   mailbox would then have (its own, else its domain's). */
static int limits_apply(struct store *st, const char *address, const int64_t *want,
			const bool *given)
{
	struct store_user u;
	struct store_limits dom = {{0}}, own, eff;
	int rc;

	memset(&u, 0, sizeof(u));
	rc = store_user_lookup(st, address, &u);
	if (rc == STORE_OK && strcasecmp(u.address, address) != 0)
		rc = STORE_NOTFOUND; /* an alias: the store sets a mailbox's own */
	if (rc != STORE_OK) {
		store_user_clear(&u);
		if (rc != STORE_NOTFOUND)
			return cli_store_fail(st, rc);
		cli_err("mailbox %s does not exist", address);
		return EX_NOUSER;
	}
	/* a mailbox outside the hosted domains (postmaster, another
	   directory's) has no domain defaults: none */
	const char *at = strrchr(u.address, '@');
	rc = at != NULL ? store_domain_limits(st, at + 1, &dom) : STORE_NOTFOUND;
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_INVALID) {
		store_user_clear(&u);
		return cli_store_fail(st, rc);
	}
	own = u.own;
	bool levels = false;
	for (int l = 0; l < STORE_LIMIT_COUNT; l++) {
		if (given[l])
			own.v[l] = want[l];
		eff.v[l] = own.v[l] != STORE_INHERIT ? own.v[l] : rc == STORE_OK ? dom.v[l] : 0;
		levels |= given[l] && l <= STORE_LIMIT_QUOTA;
	}
	/* only when a level moves: a limit alone is set even if the domain's
	   levels disagree with the mailbox's */
	rc = levels ? cli_limits_order("user set", u.address, &eff, &own) : 0;
	store_user_clear(&u);
	for (int l = 0; l < STORE_LIMIT_COUNT && rc == 0; l++)
		if (given[l] && (rc = store_user_set_limit(st, address, (enum store_limit)l,
							   want[l])) != STORE_OK)
			rc = cli_store_fail(st, rc);
	return rc;
}

static int user_add(struct cli *c, struct cli_opt *o, const char *address)
{
	int64_t quota = STORE_INHERIT; /* without --quota: the domain's default */
	char *pw = NULL, *hash = NULL, *scram = NULL;
	struct store *st = NULL;
	int rc;

	if (o[O_QUOTA].set && (rc = cli_limit_parse("user add", STORE_LIMIT_QUOTA, o[O_QUOTA].value,
						    false, &quota)) != 0)
		return rc;
	if (o[O_PWHASH].set && (o[O_PWSTDIN].set || o[O_APOP].set)) {
		cli_err("user add: --password-hash goes without --password-stdin and --apop (a "
			"hash holds no password to read or keep)");
		return EX_USAGE;
	}
	/* the hash is not echoed: a {PLAIN} one is the password itself */
	if (o[O_PWHASH].set && !password_scheme_known(o[O_PWHASH].value)) {
		cli_err("user add: --password-hash is not a hash mailroom can verify: give "
			"{SCHEME}data of a known scheme (mailroom pw makes one) or a crypt(3) "
			"string");
		return EX_DATAERR;
	}
	/* no password prompt when the store is missing or the address taken */
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if ((rc = store_user_can_add(st, address)) != STORE_OK) {
		rc = cli_store_fail(st, rc);
		store_close(&st);
		return rc;
	}
	if (o[O_PWHASH].set) {
		/* as given; a Dovecot SCRAM-SHA-256 hash also serves SCRAM */
		hash = xstrdup(o[O_PWHASH].value);
		if (password_scram_from_stored(hash, &scram) < 0)
			scram = NULL;
	} else if ((rc = secrets(o[O_PWSTDIN].set, &pw, &hash, &scram)) != 0) {
		store_close(&st);
		return rc;
	}
	struct store_user_new nu = {
	    .address = address,
	    .pw_hash = hash,
	    .scram = scram,
	    .apop_secret = o[O_APOP].set ? pw : NULL,
	    .quota = quota,
	};
	rc = store_user_add(st, &nu);
	if (rc == STORE_OK && o[O_NOPOP3].set)
		rc = store_user_set_pop3(st, address, false);
	if (rc == STORE_OK && o[O_NOSUBM].set)
		rc = store_user_set_submission(st, address, false);
	if (rc == STORE_OK)
		printf("user %s added\n", address);
	else
		rc = cli_store_fail(st, rc);
	secret_free(&pw);
	secret_free(&hash);
	secret_free(&scram);
	store_close(&st);
	return rc;
}

static int user_passwd(struct cli *c, struct cli_opt *o, const char *address)
{
	char *pw = NULL, *hash = NULL, *scram = NULL;
	struct store *st = NULL;
	struct store_user u;
	int rc;

	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	/* exact primary address only: an alias names no single account to change */
	memset(&u, 0, sizeof(u));
	rc = store_user_lookup(st, address, &u);
	bool primary = rc == STORE_OK && strcasecmp(u.address, address) == 0;
	if (rc == STORE_OK && !primary) {
		cli_err("user passwd: %s is an alias of %s: give the mailbox's address", address,
			u.address);
		store_user_clear(&u);
		store_close(&st);
		return EX_DATAERR;
	}
	store_user_clear(&u);
	if (rc == STORE_NOTFOUND) {
		cli_err("user passwd: no mailbox %s (user list shows them)", address);
		store_close(&st);
		return EX_NOUSER;
	}
	if (rc != STORE_OK) {
		rc = cli_store_fail(st, rc);
		store_close(&st);
		return rc;
	}
	if ((rc = secrets(o[O_PWSTDIN].set, &pw, &hash, &scram)) != 0) {
		store_close(&st);
		return rc;
	}
	rc = store_user_set_password(st, address, hash, scram, o[O_APOP].set ? pw : NULL);
	if (rc == STORE_OK)
		printf("password of %s changed%s\n", address, o[O_APOP].set ? " (APOP on)" : "");
	else
		rc = cli_store_fail(st, rc);
	secret_free(&pw);
	secret_free(&hash);
	secret_free(&scram);
	store_close(&st);
	return rc;
}

/* What `user set` was told about forwarding: the targets of --forward
   (split in a copy of its value), --no-forward, --keep-copy. */
struct forward_set {
	bool given, clear;
	int keep; /* 1, 0, or -1: as it is */
	const char *targets[STORE_FORWARD_MAX];
	size_t n;
	char list[STORE_FORWARD_MAX * 256];
};

static int forward_parse(struct cli_opt *o, struct forward_set *f)
{
	bool keep = true;
	int rc;

	memset(f, 0, sizeof(*f));
	f->keep = -1;
	f->given = o[O_FORWARD].set || o[O_NOFORWARD].set || o[O_KEEPCOPY].set;
	f->clear = o[O_NOFORWARD].set;
	if (o[O_NOFORWARD].set && (o[O_FORWARD].set || o[O_KEEPCOPY].set)) {
		cli_err("user set: --no-forward goes alone: without --forward and --keep-copy");
		return EX_USAGE;
	}
	if (o[O_KEEPCOPY].set && (rc = yesno(&o[O_KEEPCOPY], &keep)) != 0)
		return rc;
	if (o[O_KEEPCOPY].set)
		f->keep = keep;
	if (!o[O_FORWARD].set)
		return 0;
	const char *v = o[O_FORWARD].value;
	if (strlen(v) >= sizeof(f->list)) {
		cli_err("user set: --forward takes at most %d addresses", STORE_FORWARD_MAX);
		return EX_USAGE;
	}
	strcpy(f->list, v);
	for (char *save = NULL, *t = strtok_r(f->list, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		t += strspn(t, " \t");
		t[strcspn(t, " \t")] = '\0';
		if (*t == '\0')
			continue;
		if (f->n == STORE_FORWARD_MAX) {
			cli_err("user set: --forward takes at most %d addresses",
				STORE_FORWARD_MAX);
			return EX_USAGE;
		}
		f->targets[f->n++] = t;
	}
	if (f->n == 0) {
		cli_err("user set: --forward wants addresses, as in --forward "
			"bob@example.org,carol@example.net (--no-forward stops forwarding)");
		return EX_USAGE;
	}
	return 0;
}

/* A store status, as the other settings of user_set. */
static int forward_apply(struct store *st, const char *address, const struct forward_set *f)
{
	if (f->n == 0 && !f->clear)
		return store_user_set_keep_copy(st, address, f->keep == 1);
	return store_user_set_forward(st, address, f->targets, f->n, f->keep);
}

static int user_set(struct cli *c, struct cli_opt *o, const char *address)
{
	bool pop3 = true, enabled = true, subm = true, limits = false;
	int64_t want[STORE_LIMIT_COUNT];
	bool given[STORE_LIMIT_COUNT];
	struct store *st = NULL;
	struct forward_set fw;
	int rc = forward_parse(o, &fw);

	if (rc != 0 || (rc = limits_parse(o, want, given, &limits)) != 0)
		return rc;
	if (!limits && !o[O_POP3].set && !o[O_ENABLED].set && !o[O_NOAPOP].set && !o[O_SUBM].set &&
	    !fw.given) {
		cli_err("user set: nothing to change: give --pop3, --submission, --enabled, "
			"--no-apop, a quota level (--quota-warn, --quota-send, --quota) or a "
			"sending limit (see mailroom user --help)");
		return EX_USAGE;
	}
	if ((o[O_POP3].set && (rc = yesno(&o[O_POP3], &pop3)) != 0) ||
	    (o[O_ENABLED].set && (rc = yesno(&o[O_ENABLED], &enabled)) != 0) ||
	    (o[O_SUBM].set && (rc = yesno(&o[O_SUBM], &subm)) != 0))
		return rc;
	if ((rc = cli_store_open(c, false, &st)) != 0)
		return rc;
	if (limits && (rc = limits_apply(st, address, want, given)) != 0) {
		store_close(&st);
		return rc;
	}
	rc = STORE_OK;
	if (o[O_POP3].set)
		rc = store_user_set_pop3(st, address, pop3);
	if (rc == STORE_OK && o[O_ENABLED].set)
		rc = store_user_set_enabled(st, address, enabled);
	if (rc == STORE_OK && o[O_SUBM].set)
		rc = store_user_set_submission(st, address, subm);
	if (rc == STORE_OK && o[O_NOAPOP].set)
		rc = store_user_clear_apop(st, address);
	if (rc == STORE_OK && fw.given)
		rc = forward_apply(st, address, &fw);
	if (rc == STORE_OK)
		printf("user %s updated\n", address);
	else
		rc = cli_store_fail(st, rc);
	store_close(&st);
	return rc;
}

int cli_user(struct cli *c, int argc, char **argv)
{
	struct cli_opt o[O_N] = {
	    [O_PWSTDIN] = {.name = "password-stdin"},
	    [O_QUOTA] = {.name = "quota", .has_arg = true},
	    [O_APOP] = {.name = "apop"},
	    [O_NOPOP3] = {.name = "no-pop3"},
	    [O_JSON] = {.name = "json"},
	    [O_POP3] = {.name = "pop3", .has_arg = true},
	    [O_ENABLED] = {.name = "enabled", .has_arg = true},
	    [O_NOAPOP] = {.name = "no-apop"},
	    [O_NOSUBM] = {.name = "no-submission"},
	    [O_SUBM] = {.name = "submission", .has_arg = true},
	    [O_PWHASH] = {.name = "password-hash", .has_arg = true},
	    [O_DOMAIN] = {.name = "domain", .has_arg = true},
	    [O_FORWARD] = {.name = "forward", .has_arg = true},
	    [O_NOFORWARD] = {.name = "no-forward"},
	    [O_KEEPCOPY] = {.name = "keep-copy", .has_arg = true},
	};
	for (int l = 0; l < STORE_LIMIT_COUNT; l++)
		o[limit_opt[l]] = (struct cli_opt){.name = store_limit_name((enum store_limit)l),
						   .has_arg = true};
	const char *pos[3];
	size_t np;
	bool done;
	int rc =
	    cli_parse("user", usage, "give an action: add, remove, list, passwd, set or import",
		      argc, argv, o, O_N, pos, 1, 3, &np, &done);

	if (rc != 0 || done)
		return rc;
	const char *sub = pos[0];
	if (strcmp(sub, "import") == 0) {
		static const int ok[] = {O_DOMAIN, O_JSON};
		if (!only(o, sub, ok, N_ELEMENTS(ok)))
			return EX_USAGE;
		if (np < 3 || strcmp(pos[1], "passwd-file") != 0) {
			cli_err("user import: give the format and the file, as in: user import "
				"passwd-file /etc/dovecot/users");
			return EX_USAGE;
		}
		return cli_user_import_passwdfile(
		    c, pos[2], o[O_DOMAIN].set ? o[O_DOMAIN].value : NULL, o[O_JSON].set);
	}
	if (np == 3) {
		cli_err("user: unexpected argument '%s' (see mailroom user --help)", pos[2]);
		return EX_USAGE;
	}
	if (strcmp(sub, "list") == 0) {
		static const int ok[] = {O_JSON};
		struct store *st = NULL;
		if (!only(o, sub, ok, N_ELEMENTS(ok)))
			return EX_USAGE;
		if ((rc = cli_store_open(c, false, &st)) != 0)
			return rc;
		struct cli_list lc;
		cli_list_begin(
		    &lc, o[O_JSON].set,
		    "ADDRESS                                  MESSAGES        BYTES "
		    "QUOTA-WARN           QUOTA-SEND           QUOTA                FLAGS");
		rc = store_user_list(st, np == 2 ? pos[1] : NULL, print_user, &lc);
		rc = cli_list_end(&lc, st, rc, "no mailboxes in this domain");
		store_close(&st);
		return rc;
	}
	if (np != 2 && (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0 ||
			strcmp(sub, "passwd") == 0 || strcmp(sub, "set") == 0)) {
		cli_err("user %s: ADDRESS is missing, as in: user %s alice@example.org", sub, sub);
		return EX_USAGE;
	}
	if (strcmp(sub, "add") == 0) {
		static const int ok[] = {O_PWSTDIN, O_QUOTA, O_APOP, O_NOPOP3, O_NOSUBM, O_PWHASH};
		return only(o, sub, ok, N_ELEMENTS(ok)) ? user_add(c, o, pos[1]) : EX_USAGE;
	}
	if (strcmp(sub, "passwd") == 0) {
		static const int ok[] = {O_PWSTDIN, O_APOP};
		return only(o, sub, ok, N_ELEMENTS(ok)) ? user_passwd(c, o, pos[1]) : EX_USAGE;
	}
	if (strcmp(sub, "set") == 0) {
		static const int ok[] = {O_QUOTA,   O_POP3,    O_ENABLED,   O_NOAPOP,
					 O_SUBM,    O_QWARN,   O_QSEND,	    O_MAXSIZE,
					 O_MAXRCPT, O_MPH,     O_MPD,	    O_RPH,
					 O_RPD,	    O_FORWARD, O_NOFORWARD, O_KEEPCOPY};
		return only(o, sub, ok, N_ELEMENTS(ok)) ? user_set(c, o, pos[1]) : EX_USAGE;
	}
	if (strcmp(sub, "remove") == 0) {
		struct store *st = NULL;
		if (!only(o, sub, NULL, 0))
			return EX_USAGE;
		if ((rc = cli_store_open(c, false, &st)) != 0)
			return rc;
		rc = store_user_remove(st, pos[1]);
		if (rc == STORE_OK)
			printf("user %s removed with its mail\n", pos[1]);
		else
			rc = cli_store_fail(st, rc);
		store_close(&st);
		return rc;
	}
	cli_err("user: unknown action '%s': use add, remove, list, passwd, set or import", sub);
	return EX_USAGE;
}
