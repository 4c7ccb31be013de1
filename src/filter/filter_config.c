/* SPDX-License-Identifier: MIT */
/* filter_config.c - the [filter] section of mailroom.conf (util/config.h). */
#include "filter/filter.h"
#include "util/config.h"

#include <stddef.h>
#include <string.h>

#define F(field) offsetof(struct filter_config, field)

/* the order of enum filter_policy */
static const char *const policies[] = {"accept", "tempfail", NULL};
/* the order of enum filter_dmarc_action */
static const char *const dmarc_actions[] = {"reject", "quarantine", "accept", NULL};

/* An address of ours that quarantined mail goes to: local@domain, no
   spaces or angle brackets (it is looked up as a recipient). */
static const char *check_address(const char *v)
{
	const char *at = strrchr(v, '@');

	if (at == NULL || at == v || at[1] == '\0' || strpbrk(v, " \t<>,;\"") != NULL)
		return "give an address such as quarantine@example.test";
	return NULL;
}

static const struct config_key filter_keys[] = {
    {.name = "milter", .type = CONFIG_LIST, .off = F(milter), .check = filter_socket_check},
    /* Postfix's milter_command_timeout */
    {.name = "milter_timeout",
     .type = CONFIG_DURATION,
     .off = F(milter_timeout),
     .def = "30s",
     .min = 1},
    {.name = "milter_default_action",
     .type = CONFIG_ENUM,
     .off = F(milter_default_action),
     .def = "tempfail",
     .names = policies},
    {.name = "clamd",
     .type = CONFIG_STR,
     .off = F(clamd),
     .check = filter_socket_check,
     .none = "off"},
    /* clamav-milter's ReadTimeout: a big message takes a while to scan */
    {.name = "clamd_timeout",
     .type = CONFIG_DURATION,
     .off = F(clamd_timeout),
     .def = "2m",
     .min = 1},
    {.name = "clamd_default_action",
     .type = CONFIG_ENUM,
     .off = F(clamd_default_action),
     .def = "tempfail",
     .names = policies},
    /* clamd's StreamMaxLength is 100M in Debian's ClamAV 1.x; 25M keeps the
       scan of one message short and is the classic clamav-milter limit */
    {.name = "max_scan_size",
     .type = CONFIG_SIZE,
     .off = F(max_scan_size),
     .def = "25M",
     .min = 1024,
     .max = 4ULL << 30},
    /* a milter or clamd conversation waits on the network for seconds:
       these threads are the filters' own, so the store and password work
       never queue behind them */
    {.name = "workers", .type = CONFIG_COUNT, .off = F(workers), .def = "16", .min = 1, .max = 256},
    {.name = "quarantine", .type = CONFIG_STR, .off = F(quarantine), .check = check_address},
    /* the sender checks of mail from outside (port 25, no login) */
    {.name = "spf", .type = CONFIG_BOOL, .off = F(spf), .def = "yes"},
    {.name = "dkim_verify", .type = CONFIG_BOOL, .off = F(dkim_verify), .def = "yes"},
    {.name = "dmarc", .type = CONFIG_BOOL, .off = F(dmarc), .def = "yes"},
    /* the sender domain's own word is followed by default (RFC 7489 §6.3) */
    {.name = "dmarc_reject_action",
     .type = CONFIG_ENUM,
     .off = F(dmarc_reject_action),
     .def = "reject",
     .names = dmarc_actions},
    {.name = "dmarc_quarantine_action",
     .type = CONFIG_ENUM,
     .off = F(dmarc_quarantine_action),
     .def = "quarantine",
     .names = dmarc_actions},
    /* all the DNS questions of one message's checks together, and each
       one: a resolver that does not answer delays the message no longer */
    {.name = "dns_timeout",
     .type = CONFIG_DURATION,
     .off = F(dns_timeout),
     .def = "20s",
     .min = 1,
     .max = 300},
};

const struct config_section filter_config_section = {
    .name = "filter",
    .keys = filter_keys,
    .n_keys = sizeof(filter_keys) / sizeof(filter_keys[0]),
    .size = sizeof(struct filter_config),
};

const struct filter_config *filter_config(const struct config *cfg)
{
	return config_part(cfg, &filter_config_section);
}

bool filter_enabled(const struct filter_config *fc)
{
	return fc->milter.count > 0 || fc->clamd != NULL;
}
