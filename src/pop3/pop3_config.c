/* SPDX-License-Identifier: MIT */
/* pop3_config.c - the [pop3] section of mailroom.conf (util/config.h). */
#include "pop3/pop3.h"
#include "util/config.h"

#include <stddef.h>

#define F(field) offsetof(struct pop3_config, field)

static const struct config_key pop3_keys[] = {
    {.name = "plaintext_auth", .type = CONFIG_BOOL, .off = F(plaintext_auth), .def = "no"},
    /* SPEC §7: a timestamp in the greeting makes clients try APOP */
    {.name = "apop", .type = CONFIG_BOOL, .off = F(apop), .def = "no"},
};

const struct config_section pop3_config_section = {
    .name = "pop3",
    .keys = pop3_keys,
    .n_keys = sizeof(pop3_keys) / sizeof(pop3_keys[0]),
    .size = sizeof(struct pop3_config),
};

const struct pop3_config *pop3_config(const struct config *cfg)
{
	return config_part(cfg, &pop3_config_section);
}
