/* SPDX-License-Identifier: MIT */
/* sasl_config.c - the [gssapi] section of mailroom.conf (util/config.h). */
#include "proto/sasl.h"
#include "util/config.h"

#include <stddef.h>
#include <string.h>

/* RFC 4120 §6.1: no separators; '@' and '/' would split names */
static const char *check_realm(const char *v)
{
	return strpbrk(v, "@/\\ \t") != NULL ? "expected a Kerberos realm such as EXAMPLE.COM"
					     : NULL;
}

static const char *check_principal(const char *v)
{
	return strcmp(v, "*") != 0 && config_check_host(v) != NULL
		   ? "expected a host name, or * for any host in the keytab"
		   : NULL;
}

/* without a realm no principal maps to an address */
static const char *gssapi_finish(const void *fields, const struct config *cfg)
{
	const struct gssapi_config *g = fields;
	return g->keytab != NULL && g->realm == NULL ? "[gssapi] keytab is set but realm is not"
						     : NULL;
}

#define F(field) offsetof(struct gssapi_config, field)

static const struct config_key gssapi_keys[] = {
    {.name = "keytab", .type = CONFIG_PATH, .off = F(keytab)},
    {.name = "realm", .type = CONFIG_STR, .off = F(realm), .check = check_realm},
    {.name = "domain",
     .type = CONFIG_STR,
     .off = F(domain),
     .check = config_check_domain,
     .flags = CONFIG_LOWER},
    {.name = "principal", .type = CONFIG_STR, .off = F(principal), .check = check_principal},
};

const struct config_section gssapi_config_section = {
    .name = "gssapi",
    .keys = gssapi_keys,
    .n_keys = sizeof(gssapi_keys) / sizeof(gssapi_keys[0]),
    .size = sizeof(struct gssapi_config),
    .finish = gssapi_finish,
};

const struct gssapi_config *gssapi_config(const struct config *cfg)
{
	return config_part(cfg, &gssapi_config_section);
}
