/* SPDX-License-Identifier: MIT */
/* store_config.c - [store] of mailroom.conf (store.h "the engine"). */
#include "store/store.h"

#include <stddef.h>
#include <string.h>

struct store_config {
	int backend; /* enum store_backend */
	char *dsn;
};

static const char *const backend_names[] = {"sqlite", "postgresql", NULL};

/* A libpq connection string: a URI, or key=value pairs (libpq checks the
   rest when it connects). */
static const char *check_dsn(const char *v)
{
	if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0 ||
	    strchr(v, '=') != NULL)
		return NULL;
	return "expected a PostgreSQL connection string: postgresql://USER@HOST:PORT/DATABASE "
	       "or host=... dbname=... (several hosts: host=a,b target_session_attrs=read-write)";
}

static const struct config_key store_keys[] = {
    {.name = "backend",
     .type = CONFIG_ENUM,
     .off = offsetof(struct store_config, backend),
     .def = "sqlite",
     .names = backend_names},
    {.name = "dsn",
     .type = CONFIG_STR,
     .off = offsetof(struct store_config, dsn),
     .check = check_dsn},
};

const struct config_section store_config_section = {
    .name = "store",
    .keys = store_keys,
    .n_keys = sizeof(store_keys) / sizeof(store_keys[0]),
    .size = sizeof(struct store_config),
};

void store_configure_from(const struct config *cfg)
{
	const struct store_config *sc = config_part(cfg, &store_config_section);
	if (sc == NULL)
		store_configure(STORE_BACKEND_SQLITE, NULL);
	else
		store_configure((enum store_backend)sc->backend, sc->dsn);
}
