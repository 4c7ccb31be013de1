/* SPDX-License-Identifier: MIT */
/*
 * dir_builtin.c - the built-in directory backend: the store's own accounts
 * and aliases (`mailroom user add`, `alias add`), the first in every chain
 * by default. Mailboxes that the store holds for another backend's accounts
 * (store_mailbox_ensure, marked with a source) are not this backend's: it
 * passes them on, so that backend alone decides whether they still exist.
 */
#include "directory/dir_backend.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static int builtin_open(const struct config *cfg, void **be_r, char **err_r)
{
	(void)cfg;
	(void)err_r;
	*be_r = NULL;
	return 0;
}

static void builtin_close(void *be)
{
	(void)be;
}

static enum dir_status status_of(int rc)
{
	if (rc == STORE_NOTFOUND || rc == STORE_INVALID)
		return DIR_UNKNOWN;
	return DIR_TEMPFAIL;
}

static enum dir_status builtin_lookup(void *be, struct store *st, const char *login,
				      struct dir_account *a_r)
{
	struct store_user u;
	int rc = store_user_lookup(st, login, &u);

	(void)be;
	if (rc != STORE_OK)
		return status_of(rc);
	if (u.source != NULL) {
		store_user_clear(&u);
		return DIR_UNKNOWN;
	}
	a_r->address = u.address;
	a_r->mailbox_id = u.id;
	a_r->pw_hash = u.pw_hash;
	a_r->scram = u.scram;
	a_r->apop_secret = u.apop_secret;
	a_r->enabled = u.enabled;
	a_r->pop3_enabled = u.pop3_enabled;
	a_r->submission_enabled = u.submission_enabled;
	u.address = u.pw_hash = u.scram = u.apop_secret = NULL; /* moved */
	store_user_clear(&u);
	return DIR_OK;
}

static enum dir_status builtin_resolve(void *be, struct store *st, const char *address,
				       struct dir_resolution *r_r)
{
	int rc = store_resolve_ex(st, address, &r_r->ids, &r_r->n_ids, &r_r->remote, &r_r->n_remote,
				  &r_r->pass_on, &r_r->n_pass_on);
	(void)be;
	return rc == STORE_OK ? DIR_OK : status_of(rc);
}

const struct dir_backend_ops dir_builtin_ops = {
    .name = "builtin",
    .flags = DIR_BE_SCRAM | DIR_BE_APOP,
    .open = builtin_open,
    .close = builtin_close,
    .lookup = builtin_lookup,
    .resolve = builtin_resolve,
};
