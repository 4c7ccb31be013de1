/* SPDX-License-Identifier: MIT */
/*
 * cli.h - `mailroom <verb>`: the admin command (SPEC §6).
 *
 * cli_main() parses the global options (-c FILE, --help, --version), loads
 * the config and dispatches to one verb group per file (cli_init.c,
 * cli_domain.c, cli_user.c, cli_alias.c, cli_deliver.c; serve goes to
 * server_run). Errors go to stderr with a non-zero exit: 1 for failures,
 * 2 for usage errors, 75 (EX_TEMPFAIL) when the store is busy or full.
 * Listings take --json. The CLI opens the store itself, so it works while
 * `serve` runs (SQLite WAL).
 */
#ifndef MAILROOM_CLI_CLI_H
#define MAILROOM_CLI_CLI_H

#define EXIT_USAGE 2
#define EXIT_TEMPFAIL 75

int cli_main(int argc, char **argv);

#endif
