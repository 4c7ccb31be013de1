/* SPDX-License-Identifier: MIT */
/*
 * cli.h - `mailroom <verb>`: the admin command (SPEC §6).
 *
 * cli_main() parses the global options (-c FILE, --help, --version), loads
 * the config and dispatches to one verb group per file (cli_init.c,
 * cli_domain.c, cli_user.c, cli_alias.c, cli_deliver.c; serve goes to
 * server_run). Each error is one line on stderr, "mailroom: " and a sentence
 * that names the thing and what to do, and the exit status is a sysexits(3)
 * code: 64 (EX_USAGE) a wrong command line, 65 (EX_DATAERR) a name or value
 * refused, 66 (EX_NOINPUT) nothing to read on stdin, 67 (EX_NOUSER) the
 * mailbox, alias, domain, route or queued message named does not exist,
 * 69 (EX_UNAVAILABLE) a directory server that does not answer (config
 * check), 70 (EX_SOFTWARE) an internal failure, 73 (EX_CANTCREAT) init
 * cannot make a file, 74 (EX_IOERR) the store is damaged or read-only, 75 (EX_TEMPFAIL)
 * the store is busy or the disk full (try again), 78 (EX_CONFIG) the config
 * file, its TLS files, or a missing store (run init). Listings take --json;
 * in text they have a header line. The CLI opens the store itself, so it
 * works while `serve` runs (SQLite WAL).
 */
#ifndef MAILROOM_CLI_CLI_H
#define MAILROOM_CLI_CLI_H

int cli_main(int argc, char **argv);

#endif
