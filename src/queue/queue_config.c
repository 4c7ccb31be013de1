/* SPDX-License-Identifier: MIT */
/* queue_config.c - the [delivery] section of mailroom.conf (util/config.h). */
#include "queue/queue.h"
#include "util/config.h"

#include <stddef.h>
#include <unistd.h>
#include <string.h>

/* Debian's dns-root-data: the root zone's KSK */
#define DELIVERY_ROOT_KEY "/usr/share/dns/root.key"

#define F(field) offsetof(struct delivery_config, field)

static const char *check_resolver(const char *v)
{
	return !config_addr_valid(v) && strchr(v, ':') != NULL ? "expected ip or ip:port" : NULL;
}

static const struct config_key delivery_keys[] = {
    {.name = "enabled", .type = CONFIG_BOOL, .off = F(enabled), .def = "yes"},
    {.name = "threads", .type = CONFIG_COUNT, .off = F(threads), .def = "4", .min = 1, .max = 256},
    {.name = "per_destination",
     .type = CONFIG_COUNT,
     .off = F(per_destination),
     .def = "2",
     .min = 1,
     .max = 10000},
    {.name = "scan_interval",
     .type = CONFIG_DURATION,
     .off = F(scan_interval),
     .def = "30s",
     .min = 1},
    {.name = "retry_min", .type = CONFIG_DURATION, .off = F(retry_min), .def = "5m", .min = 1},
    {.name = "retry_max", .type = CONFIG_DURATION, .off = F(retry_max), .def = "1h", .min = 1},
    {.name = "lifetime", .type = CONFIG_DURATION, .off = F(lifetime), .def = "5d", .min = 1},
    {.name = "delay_warning",
     .type = CONFIG_DURATION,
     .off = F(delay_warning),
     .def = "4h",
     .min = 1},
    {.name = "connect_timeout",
     .type = CONFIG_DURATION,
     .off = F(connect_timeout),
     .def = "30s",
     .min = 1},
    /* RFC 5321 §4.5.3.2.1-4: 5 minutes */
    {.name = "command_timeout",
     .type = CONFIG_DURATION,
     .off = F(command_timeout),
     .def = "5m",
     .min = 1},
    /* §4.5.3.2.5 */
    {.name = "data_init_timeout",
     .type = CONFIG_DURATION,
     .off = F(data_init_timeout),
     .def = "2m",
     .min = 1},
    /* §4.5.3.2.6 */
    {.name = "data_xfer_timeout",
     .type = CONFIG_DURATION,
     .off = F(data_xfer_timeout),
     .def = "3m",
     .min = 1},
    /* §4.5.3.2.7 */
    {.name = "data_done_timeout",
     .type = CONFIG_DURATION,
     .off = F(data_done_timeout),
     .def = "10m",
     .min = 1},
    {.name = "slow_after", .type = CONFIG_DURATION, .off = F(slow_after), .def = "30s", .min = 1},
    {.name = "resolver", .type = CONFIG_STR, .off = F(resolver), .check = check_resolver},
    {.name = "ca_file", .type = CONFIG_PATH, .off = F(ca_file)},
    {.name = "mta_sts", .type = CONFIG_BOOL, .off = F(mta_sts), .def = "yes"},
    {.name = "mta_sts_port",
     .type = CONFIG_COUNT,
     .off = F(mta_sts_port),
     .def = "443",
     .min = 1,
     .max = 65535},
    {.name = "mta_sts_connect_timeout",
     .type = CONFIG_DURATION,
     .off = F(mta_sts_connect_timeout),
     .def = "10s",
     .min = 1},
    {.name = "mta_sts_timeout",
     .type = CONFIG_DURATION,
     .off = F(mta_sts_timeout),
     .def = "1m",
     .min = 1},
    {.name = "dnssec_trust_anchor",
     .type = CONFIG_PATH,
     .off = F(dnssec_trust_anchor),
     .def = DELIVERY_ROOT_KEY,
     .none = "none"},
    {.name = "dane", .type = CONFIG_BOOL, .off = F(dane), .def = "yes"},
};

const struct config_section delivery_config_section = {
    .name = "delivery",
    .keys = delivery_keys,
    .n_keys = sizeof(delivery_keys) / sizeof(delivery_keys[0]),
    .size = sizeof(struct delivery_config),
};

const struct delivery_config *delivery_config(const struct config *cfg)
{
	return config_part(cfg, &delivery_config_section);
}

const char *delivery_trust_anchor(const struct config *cfg)
{
	const char *ta = delivery_config(cfg)->dnssec_trust_anchor;

	if (ta != NULL && strcmp(ta, DELIVERY_ROOT_KEY) == 0 && access(ta, R_OK) != 0)
		return NULL;
	return ta;
}
