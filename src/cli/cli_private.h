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
#include "util/config.h"

struct store;

struct cli {
	struct config cfg;
	const char *prog;     /* "mailroom" or "mailroom -c FILE", for hints */
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
   number of positionals print an error and return EXIT_USAGE. */
int cli_parse(const char *usage, int argc, char **argv, struct cli_opt *opts, size_t nopts,
	      const char **pos, size_t min_pos, size_t max_pos, size_t *npos_r, bool *done_r);
struct cli_opt *cli_opt(struct cli_opt *opts, size_t nopts, const char *name);

/* Opens the store (create only for init); on failure prints why and returns
   the exit code. */
int cli_store_open(struct cli *c, bool create, struct store **st_r);
/* Prints "mailroom: WHAT: store error text" and maps a store status to an
   exit code (EXIT_TEMPFAIL for STORE_TEMP). */
int cli_store_fail(struct store *st, int rc, const char *what);

/* Reads a password: from stdin's first line with --password-stdin, else
   from the terminal (asked twice, no echo). Returns 0 or an exit code. */
int cli_read_password(bool from_stdin, char **pw_r);

void cli_json_str(FILE *f, const char *s);

/* A listing on stdout: a JSON array with --json, else lines. */
struct cli_list {
	bool json;
	unsigned n;
};
void cli_list_begin(struct cli_list *l, bool json);
/* Before each item: the separator in JSON; counts the items. */
void cli_list_item(struct cli_list *l);
/* Closes the array, or prints `empty` (if not NULL) when nothing was listed. */
void cli_list_end(struct cli_list *l, const char *empty);
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int cli_init(struct cli *c, int argc, char **argv);
int cli_serve(struct cli *c, int argc, char **argv);
int cli_domain(struct cli *c, int argc, char **argv);
int cli_user(struct cli *c, int argc, char **argv);
int cli_alias(struct cli *c, int argc, char **argv);
int cli_deliver(struct cli *c, int argc, char **argv);
int cli_queue(struct cli *c, int argc, char **argv);
int cli_route(struct cli *c, int argc, char **argv);
int cli_config(struct cli *c, int argc, char **argv);

#endif
