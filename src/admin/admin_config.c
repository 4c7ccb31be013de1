/* SPDX-License-Identifier: MIT */
/* admin_config.c - the [metrics] section of mailroom.conf (util/config.h). */
#include "admin/admin.h"

#include <stddef.h>

static const struct config_key metrics_keys[] = {
    {.name = "listen", .type = CONFIG_ADDRS, .off = offsetof(struct metrics_config, listen)},
};

const struct config_section metrics_config_section = {
    .name = "metrics",
    .keys = metrics_keys,
    .n_keys = sizeof(metrics_keys) / sizeof(metrics_keys[0]),
    .size = sizeof(struct metrics_config),
};

const struct metrics_config *metrics_config(const struct config *cfg)
{
	return config_part(cfg, &metrics_config_section);
}
