/* SPDX-License-Identifier: MIT */
/* imap_config.c - the [imap] section of mailroom.conf (util/config.h). */
#include "imap/imap.h"
#include "util/config.h"

#include <stddef.h>

#define F(field) offsetof(struct imap_config, field)

static const struct config_key imap_keys[] = {
    {.name = "plaintext_auth", .type = CONFIG_BOOL, .off = F(plaintext_auth), .def = "no"},
    /* RFC 9051 §5.4: an inactivity timer of at least 30 minutes */
    {.name = "autologout",
     .type = CONFIG_DURATION,
     .off = F(autologout),
     .def = "30m",
     .min = 1800},
    {.name = "append_limit",
     .type = CONFIG_SIZE,
     .off = F(append_limit),
     .def = "35M",
     .min = 1024,
     .max = 1ULL << 30},
    {.name = "literal_plus", .type = CONFIG_BOOL, .off = F(literal_plus), .def = "yes"},
    {.name = "max_sessions",
     .type = CONFIG_COUNT,
     .off = F(max_sessions),
     .def = "20",
     .min = 1,
     .max = 10000},
    /* how soon IDLE sees what another process (mailroom deliver, import)
       changed; changes made by this server's own sessions come at once */
    {.name = "idle_check", .type = CONFIG_DURATION, .off = F(idle_check), .def = "30s", .min = 1},
};

const struct config_section imap_config_section = {
    .name = "imap",
    .keys = imap_keys,
    .n_keys = sizeof(imap_keys) / sizeof(imap_keys[0]),
    .size = sizeof(struct imap_config),
};

const struct imap_config *imap_config(const struct config *cfg)
{
	return config_part(cfg, &imap_config_section);
}
