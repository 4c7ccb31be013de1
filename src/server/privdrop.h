/* SPDX-License-Identifier: MIT */
/*
 * privdrop.h - who mailroom runs as: [server] user (SPEC §7).
 *
 * Started as root, `serve` binds its listeners (ports 25, 110, ...) and then
 * runs as [server] user for good: supplementary groups, group and user are
 * switched before any thread starts and before any client byte is read, and
 * the switch is verified (root cannot be regained, no capability is left).
 * Started as another user with capabilities (a systemd unit's
 * AmbientCapabilities=CAP_NET_BIND_SERVICE), serve drops them all once its
 * listeners are bound.
 * As root without [server] user, serve refuses to start; [server] user may
 * not name root. Not started as root, the key must name the current user
 * (it is then ignored) or be left out.
 *
 * The CLI follows the same rule when run as root with [server] user set: it
 * switches to that user before it touches the store, so it never leaves a
 * root-owned file (WAL, SHM, a new store) that the server cannot open.
 * `init` as root first makes the data dir, then gives it and the files it
 * knows to that user.
 *
 * The data dir, the store's files, the SRS secret and any TLS file inside the
 * data dir must belong to the user mailroom runs as; a mismatch is refused
 * with a message naming the path, its owner and the chown(1) to run.
 *
 * Errors come back as malloc'd text in *err_r (the caller frees). Nothing
 * here keeps state; the process's credentials are the state.
 */
#ifndef MAILROOM_SERVER_PRIVDROP_H
#define MAILROOM_SERVER_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

#include "util/config.h"

struct privdrop {
	bool drop;  /* started as root: switch to uid/gid */
	bool check; /* uid is who will own the data: check ownership */
	uid_t uid;
	gid_t gid;
	char *name;  /* the account mailroom runs as; never NULL after a plan */
	char *group; /* its primary group's name */
};

/* Decides who the process runs as from [server] user and the current
   credentials. `serve` refuses root without [server] user; the CLI then
   stays root (drop and check false). Returns 0 or -1. */
int privdrop_plan(const struct config *cfg, bool serve, struct privdrop *pd, char **err_r);

/* The data dir, mailroom.db, its -wal and -shm files, the SRS secret
   (srs.key) and the TLS files inside the data dir, where they exist, must
   be owned by pd->uid. */
int privdrop_check_owner(const struct config *cfg, const struct privdrop *pd, char **err_r);

/* As root: makes the data dir (mode 0700) if it is missing and gives it and
   the files of privdrop_check_owner() to the user. Never follows a symbolic
   link inside the data dir. A no-op without pd->drop. */
int privdrop_chown_data(const struct config *cfg, const struct privdrop *pd, char **err_r);

/* Switches to pd->uid/gid for good and verifies it; a no-op without
   pd->drop. Must run while the process has one thread. */
int privdrop_apply(const struct privdrop *pd, char **err_r);

/* Drops every capability the process holds: the ambient set is cleared
   (PR_CAP_AMBIENT_CLEAR_ALL) and the permitted, effective and inheritable
   sets set to none (capset), then read back. For a start that is not as
   root but with CAP_NET_BIND_SERVICE from the service manager (systemd's
   AmbientCapabilities=): once the listeners are bound, it is needed no
   more. *held_r: what was held, as text for the log ("permitted=0x400
   ..."), or NULL when nothing was (caller frees). Returns 0 or -1.
   Capabilities are per thread: must run while the process has one. */
int privdrop_caps_clear(char **held_r, char **err_r);

/* After the switch: the data dir can be reached (every parent searchable). */
int privdrop_check_reach(const char *dir, const struct privdrop *pd, char **err_r);

/* The CLI's whole rule: plan, check, apply, reach. `serve_rule`: refuse
   root without [server] user as serve would (config check). Prints the error
   and returns 1, or returns 0. Safe to call more than once. */
int privdrop_cli(const struct config *cfg, bool serve_rule);

void privdrop_clear(struct privdrop *pd);

#endif
