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

/* --- [node] ------------------------------------------------------------------ */

struct node_config {
	char *name;
	unsigned lease; /* seconds */
};

/* A node's name goes into the store (its claims); a word, as a host name. */
static const char *check_node_name(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 64)
		return "expected a name of 1 to 64 letters, digits, '.', '-' or '_'";
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return "expected a name of 1 to 64 letters, digits, '.', '-' or '_'";
	}
	return NULL;
}

static const struct config_key node_keys[] = {
    {.name = "name",
     .type = CONFIG_STR,
     .off = offsetof(struct node_config, name),
     .check = check_node_name},
    {.name = "lease",
     .type = CONFIG_DURATION,
     .off = offsetof(struct node_config, lease),
     .def = "10m",
     .min = 1},
};

const struct config_section node_config_section = {
    .name = "node",
    .keys = node_keys,
    .n_keys = sizeof(node_keys) / sizeof(node_keys[0]),
    .size = sizeof(struct node_config),
};

const char *store_node_name(const struct config *cfg)
{
	const struct node_config *n = config_part(cfg, &node_config_section);
	return n != NULL && n->name != NULL ? n->name : cfg->hostname;
}

unsigned store_node_lease(const struct config *cfg)
{
	const struct node_config *n = config_part(cfg, &node_config_section);
	return n != NULL && n->lease > 0 ? n->lease : 600;
}

void store_configure_from(const struct config *cfg)
{
	const struct store_config *sc = config_part(cfg, &store_config_section);
	if (sc == NULL)
		store_configure(STORE_BACKEND_SQLITE, NULL);
	else
		store_configure((enum store_backend)sc->backend, sc->dsn);
}
