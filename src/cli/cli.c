/* SPDX-License-Identifier: MIT */
/*
 * cli.c - global options, verb dispatch and the helpers every verb uses.
 */
#include "cli/cli_private.h"
#include "server/schema.h"
#include "directory/directory.h"
#include "directory/password.h"
#include "server/privdrop.h"
#include "store/store.h"
#include "util/mem.h"
#include "util/version.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const char usage_main[] =
    "usage: mailroom [-c FILE] VERB [ARGS]\n"
    "\n"
    "  init                     create the data dir, store and a self-signed certificate\n"
    "  serve                    run the server in the foreground (SIGTERM stops it)\n"
    "  domain add|remove|set|list   accepted domains and their quota and limit defaults\n"
    "  user add|remove|list|passwd|set|import   mailboxes\n"
    "  alias add|remove|list    extra addresses of mailboxes\n"
    "  list add|set|member|sender|remove|show|list   distribution lists\n"
    "  deliver ADDRESS          deliver a message read from stdin\n"
    "  queue list|show|flush|hold|release|remove   the outbound queue\n"
    "  route add|remove|list    next hops for remote domains (smart hosts)\n"
    "  dkim generate|rotate|list|remove   DKIM signing keys and their DNS records\n"
    "  config check|show        check the config file, TLS files, store and\n"
    "                           directory servers; print the effective configuration\n"
    "  pw                       hash a password read from stdin: one {SCHEME}hash line\n"
    "  vacation set|show|remove   auto-replies (out of office) of a mailbox\n"
    "  import maildir|mbox|winpop3|pop3   another server's mailbox, UIDLs kept\n"
    "  export maildir|mbox ADDRESS PATH   a mailbox out as a Maildir or mbox file\n"
    "  backup DIR               a consistent copy of the store while serve runs\n"
    "  verify [DIR]             check the live store or a backup (exit 65 on damage)\n"
    "  restore DIR              put a backup into an empty data dir (server stopped)\n"
    "  check ADDRESS            test POP3, IMAP and submission as a client: TLS, login,\n"
    "                           a probe\n"
    "\n"
    "options:\n"
    "  -c, --config FILE        config file (default ./mailroom.conf if present,\n"
#ifdef MAILROOM_SYSTEM_CONFIG
    "                           else " MAILROOM_SYSTEM_CONFIG " if present,\n"
#endif
    "                           else built-in defaults with data in ./mailroom-data)\n"
    "  -h, --help               this text; VERB --help for each verb\n"
    "  -V, --version            print the version\n";

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("mailroom: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

struct cli_opt *cli_opt(struct cli_opt *opts, size_t nopts, const char *name)
{
	for (size_t i = 0; i < nopts; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

int cli_parse(const char *verb, const char *usage, const char *missing, int argc, char **argv,
	      struct cli_opt *opts, size_t nopts, const char **pos, size_t min_pos, size_t max_pos,
	      size_t *npos_r, bool *done_r)
{
	size_t np = 0;
	bool only_pos = false;

	*done_r = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			fputs(usage, stdout);
			*done_r = true;
			return 0;
		}
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = true;
			continue;
		}
		if (only_pos || a[0] != '-' || a[1] == '\0') {
			if (np == max_pos) {
				cli_err("%s: unexpected argument '%s' (see mailroom %s --help)",
					verb, a, verb);
				return EX_USAGE;
			}
			pos[np++] = a;
			continue;
		}
		const char *name = a + (a[1] == '-' ? 2 : 1);
		const char *eq = strchr(name, '=');
		size_t nl = eq != NULL ? (size_t)(eq - name) : strlen(name);
		struct cli_opt *o = NULL;
		for (size_t k = 0; a[1] == '-' && k < nopts; k++)
			if (strlen(opts[k].name) == nl && strncmp(opts[k].name, name, nl) == 0)
				o = &opts[k];
		if (o == NULL) {
			cli_err("%s: unknown option '%s' (see mailroom %s --help)", verb, a, verb);
			return EX_USAGE;
		}
		if (o->has_arg) {
			if (eq != NULL) {
				o->value = eq + 1;
			} else if (i + 1 < argc) {
				o->value = argv[++i];
			} else {
				cli_err("%s: option --%s needs a value", verb, o->name);
				return EX_USAGE;
			}
		} else if (eq != NULL) {
			cli_err("%s: option --%s takes no value", verb, o->name);
			return EX_USAGE;
		}
		o->set = true;
	}
	if (np < min_pos) {
		cli_err("%s: %s (see mailroom %s --help)", verb, missing, verb);
		return EX_USAGE;
	}
	*npos_r = np;
	return 0;
}

int cli_exit_code(int store_status)
{
	switch (store_status) {
	case STORE_OK:
		return 0;
	case STORE_NOTFOUND:
		return EX_NOUSER;
	case STORE_EXISTS:
	case STORE_INVALID:
	case STORE_LIMIT:
		return EX_DATAERR;
	case STORE_QUOTA:
	case STORE_TEMP:
		return EX_TEMPFAIL;
	default:
		return EX_IOERR;
	}
}

int cli_directory_open(struct cli *c, struct directory **dir_r)
{
	char *err = NULL;
	if (directory_open(&c->cfg, dir_r, &err) == 0)
		return 0;
	cli_err("%s", err);
	free(err);
	return EX_CONFIG;
}

int cli_store_open(struct cli *c, bool create, struct store **st_r)
{
	*st_r = NULL;
	/* as root with [server] user: the store is touched only as that user */
	if (privdrop_cli(&c->cfg, false) != 0)
		return EX_CONFIG;
	int rc = store_open(c->cfg.data_dir, create, st_r);

	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_NOTFOUND && !create) {
		cli_err("no mail store in %s: run '%s init' first", c->cfg.data_dir, c->prog);
		store_close(st_r);
		return EX_CONFIG;
	}
	/* the environment's texts name the folder already */
	const char *why = *st_r != NULL ? store_error(*st_r) : "out of memory";
	const char *verb = create ? "create" : "open";
	if (strstr(why, c->cfg.data_dir) != NULL)
		cli_err("cannot %s the mail store: %s", verb, why);
	else
		cli_err("cannot %s the mail store in %s: %s", verb, c->cfg.data_dir, why);
	store_close(st_r);
	return cli_exit_code(rc);
}

int cli_store_fail(struct store *st, int rc)
{
	cli_err("%s", store_error(st));
	return cli_exit_code(rc);
}

static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);

	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *ask(const char *prompt)
{
	struct termios old, quiet;
	bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
	char *line;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	line = read_line(stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return line;
}

int cli_read_password(bool from_stdin, char **pw_r)
{
	char *pw;

	if (from_stdin) {
		pw = read_line(stdin);
		if (pw == NULL) {
			cli_err("no password on stdin: give it as the first line");
			return EX_NOINPUT;
		}
	} else {
		if (!isatty(STDIN_FILENO)) {
			cli_err("stdin is not a terminal: pass the password on stdin with "
				"--password-stdin");
			return EX_USAGE;
		}
		pw = ask("Password: ");
		char *again = pw != NULL ? ask("Again: ") : NULL;
		if (pw == NULL || again == NULL || strcmp(pw, again) != 0) {
			secret_free(&pw);
			secret_free(&again);
			cli_err("the two passwords do not match: nothing changed, try again");
			return EX_DATAERR;
		}
		secret_free(&again);
	}
	if (pw[0] == '\0') {
		secret_free(&pw);
		cli_err("an empty password is refused: give one of 1 to %d bytes", PASSWORD_MAX);
		return EX_DATAERR;
	}
	if (strlen(pw) > PASSWORD_MAX) {
		secret_free(&pw);
		cli_err("the password is longer than %d bytes: give one of 1 to %d bytes",
			PASSWORD_MAX, PASSWORD_MAX);
		return EX_DATAERR;
	}
	*pw_r = pw;
	return 0;
}

void cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0';
	     p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void cli_list_begin(struct cli_list *l, bool json, const char *header)
{
	l->json = json;
	l->header = header;
	l->n = 0;
}

void cli_list_item(struct cli_list *l)
{
	if (l->json)
		fputs(l->n > 0 ? "," : "[", stdout);
	else if (l->n == 0 && l->header != NULL)
		puts(l->header);
	l->n++;
}

int cli_list_end(struct cli_list *l, struct store *st, int rc, const char *empty)
{
	if (l->json && (rc == STORE_OK || l->n > 0))
		fputs(l->n > 0 ? "]\n" : "[]\n", stdout);
	if (rc != STORE_OK)
		return cli_store_fail(st, rc);
	if (!l->json && l->n == 0 && empty != NULL)
		puts(empty);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
} verbs[] = {
    {"init", cli_init},	    {"serve", cli_serve},   {"domain", cli_domain},
    {"user", cli_user},	    {"alias", cli_alias},   {"deliver", cli_deliver},
    {"queue", cli_queue},   {"route", cli_route},   {"config", cli_config},
    {"pw", cli_pw},	    {"list", cli_list},	    {"vacation", cli_vacation},
    {"backup", cli_backup}, {"verify", cli_verify}, {"restore", cli_restore},
    {"import", cli_import}, {"export", cli_export}, {"check", cli_check},
    {"dkim", cli_dkim},
};

int cli_main(int argc, char **argv)
{
	struct cli c;
	const char *cfg_path = NULL;
	char *err = NULL;
	int i = 1;

	memset(&c, 0, sizeof(c));
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage_main, stdout);
			return 0;
		}
		if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("mailroom %s\n", MAILROOM_VERSION);
			return 0;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i == argc) {
				cli_err("%s needs a file name: mailroom -c FILE VERB", a);
				return EX_USAGE;
			}
			cfg_path = argv[i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			cfg_path = a + 9;
		} else {
			cli_err("unknown option '%s' (see mailroom --help)", a);
			return EX_USAGE;
		}
	}
	if (i == argc) {
		fputs(usage_main, stderr);
		return EX_USAGE;
	}
	const char *verb = argv[i];
	for (size_t k = 0; k < N_ELEMENTS(verbs); k++) {
		if (strcmp(verbs[k].name, verb) != 0)
			continue;
		if (config_load(server_schema(), cfg_path, &c.cfg, &err) < 0) {
			cli_err("%s", err);
			free(err);
			/* check answers monitoring systems: UNKNOWN, as Nagios plugins */
			return strcmp(verb, "check") == 0 ? 3 : EX_CONFIG;
		}
		store_configure_from(&c.cfg);
		char *prog =
		    cfg_path != NULL ? xasprintf("mailroom -c %s", cfg_path) : xstrdup("mailroom");
		c.prog = prog;
		int rc = verbs[k].fn(&c, argc - i - 1, argv + i + 1);
		config_free(&c.cfg);
		free(prog);
		return rc;
	}
	cli_err("unknown verb '%s' (see mailroom --help)", verb);
	return EX_USAGE;
}
