/* SPDX-License-Identifier: MIT */
/*
 * cli_private.h - what the verb files of cli/ share: option parsing, the
 * store opened with a clear message, password input and JSON output.
 */
#ifndef MAILROOM_CLI_CLI_PRIVATE_H
#define MAILROOM_CLI_CLI_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"
#include "store/store.h"
#include "util/config.h"

#include <sysexits.h>

struct store;

struct cli {
	struct config cfg;
	const char *prog; /* "mailroom" or "mailroom -c FILE", for hints */
};

/* One option of a verb: "--name" alone, or "--name VALUE" / "--name=VALUE". */
struct cli_opt {
	const char *name;
	bool has_arg;
	bool set;
	const char *value;
};

/* Splits argv into options and positionals. "--help"/"-h" prints usage and
   returns 0 with *done_r = true. Unknown options, missing values or a wrong
   number of positionals print an error naming `verb` (and, when fewer than
   min_pos were given, `missing`: what to give) and return EX_USAGE. */
int cli_parse(const char *verb, const char *usage, const char *missing, int argc, char **argv,
	      struct cli_opt *opts, size_t nopts, const char **pos, size_t min_pos, size_t max_pos,
	      size_t *npos_r, bool *done_r);
struct cli_opt *cli_opt(struct cli_opt *opts, size_t nopts, const char *name);

/* Opens the store (create only for init); on failure prints why and returns
   the exit code. */
int cli_store_open(struct cli *c, bool create, struct store **st_r);
struct directory;
/* The config's directory chain (directory.h), after cli_store_open (which
   drops root). Returns 0, or EX_CONFIG after printing why. */
int cli_directory_open(struct cli *c, struct directory **dir_r);
/* The sysexits(3) code for a store status (see cli.h). */
int cli_exit_code(int store_status);
/* Prints the store's error text (it names the thing and what to do) and
   returns cli_exit_code(rc). */
int cli_store_fail(struct store *st, int rc);

/* Reads a password: from stdin's first line with --password-stdin, else
   from the terminal (asked twice, no echo). Returns 0 or an exit code. */
int cli_read_password(bool from_stdin, char **pw_r);

void cli_json_str(FILE *f, const char *s);

/* A listing on stdout: a JSON array with --json, else lines under a header
   line (printed before the first item). Nothing is printed before the first
   item, so a listing that fails prints only its error. */
struct cli_list {
	bool json;
	const char *header;
	unsigned n;
};
void cli_list_begin(struct cli_list *l, bool json, const char *header);
/* Before each item: the header or the JSON separator; counts the items. */
void cli_list_item(struct cli_list *l);
/* Ends the listing of store status rc: closes the JSON array (`[]` when
   empty), or prints `empty` (if not NULL) when nothing was listed. On an
   error prints it and returns its exit code; else 0. */
int cli_list_end(struct cli_list *l, struct store *st, int rc, const char *empty);
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Quota levels and sending limits (cli_limits.c). A value of option
   --NAME (store_limit_name): a size (K, M, G) or a count, 0 for none, and
   with inherit_ok `default` (STORE_INHERIT). Returns 0 or EX_USAGE after
   saying why, naming `verb`. */
bool cli_limit_is_size(enum store_limit l);
int cli_limit_parse(const char *verb, enum store_limit l, const char *s, bool inherit_ok,
		    int64_t *v_r);
/* "10M", "1536", "50" or "-" (none). */
void cli_limit_text(char *buf, size_t n, enum store_limit l, int64_t v);
/* quota-warn <= quota-send <= quota among the levels set in eff (a
   mailbox's with its own values in `own`, else NULL for a domain's): 0, or
   EX_DATAERR after saying which two are out of order for `who`. */
int cli_limits_order(const char *verb, const char *who, const struct store_limits *eff,
		     const struct store_limits *own);
/* {"quota-warn":N,...}; with inherit_null STORE_INHERIT is null. */
void cli_limits_json(FILE *f, const struct store_limits *l, bool inherit_null);

int cli_init(struct cli *c, int argc, char **argv);
int cli_serve(struct cli *c, int argc, char **argv);
int cli_domain(struct cli *c, int argc, char **argv);
int cli_user(struct cli *c, int argc, char **argv);
int cli_alias(struct cli *c, int argc, char **argv);
int cli_list(struct cli *c, int argc, char **argv);
int cli_deliver(struct cli *c, int argc, char **argv);
int cli_queue(struct cli *c, int argc, char **argv);
int cli_route(struct cli *c, int argc, char **argv);
int cli_dkim(struct cli *c, int argc, char **argv);
int cli_config(struct cli *c, int argc, char **argv);
int cli_pw(struct cli *c, int argc, char **argv);
int cli_vacation(struct cli *c, int argc, char **argv);
int cli_import(struct cli *c, int argc, char **argv);
int cli_backup(struct cli *c, int argc, char **argv);
int cli_verify(struct cli *c, int argc, char **argv);
int cli_restore(struct cli *c, int argc, char **argv);
int cli_export(struct cli *c, int argc, char **argv);
int cli_check(struct cli *c, int argc, char **argv);
/* `user import passwd-file FILE [--domain DOMAIN] [--json]` (cli_user_import.c). */
int cli_user_import_passwdfile(struct cli *c, const char *path, const char *domain, bool json);

#endif
