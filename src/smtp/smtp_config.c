/* SPDX-License-Identifier: MIT */
/* smtp_config.c - the [smtp] section of mailroom.conf (util/config.h). */
#include "smtp/smtp.h"
#include "util/config.h"

#include <stddef.h>

#define F(field) offsetof(struct smtp_config, field)

static const struct config_key smtp_keys[] = {
    {.name = "max_message_size",
     .type = CONFIG_SIZE,
     .off = F(max_message_size),
     .def = "35M",
     .min = 1024,
     .max = 1ULL << 30},
    {.name = "max_recipients",
     .type = CONFIG_COUNT,
     .off = F(max_recipients),
     .def = "100",
     .min = 1,
     .max = 100000},
    {.name = "max_errors",
     .type = CONFIG_COUNT,
     .off = F(max_errors),
     .def = "20",
     .min = 1,
     .max = 10000},
    {.name = "max_commands",
     .type = CONFIG_COUNT,
     .off = F(max_commands),
     .def = "10000",
     .min = 10,
     .max = 10000000},
    {.name = "max_received_headers",
     .type = CONFIG_COUNT,
     .off = F(max_received),
     .def = "50",
     .min = 5,
     .max = 1000},
    {.name = "command_timeout",
     .type = CONFIG_DURATION,
     .off = F(command_timeout),
     .def = "5m",
     .min = 1},
    {.name = "data_timeout",
     .type = CONFIG_DURATION,
     .off = F(data_timeout),
     .def = "10m",
     .min = 1},
    {.name = "postmaster", .type = CONFIG_STR, .off = F(postmaster)},
    {.name = "sender_login_match", .type = CONFIG_BOOL, .off = F(sender_login_match), .def = "yes"},
};

const struct config_section smtp_config_section = {
    .name = "smtp",
    .keys = smtp_keys,
    .n_keys = sizeof(smtp_keys) / sizeof(smtp_keys[0]),
    .size = sizeof(struct smtp_config),
};

const struct smtp_config *smtp_config(const struct config *cfg)
{
	return config_part(cfg, &smtp_config_section);
}
