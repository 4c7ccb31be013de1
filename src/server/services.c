/* SPDX-License-Identifier: MIT */
/* services.c - see services.h. */
#include "server/services.h"
#include "imap/imap.h"
#include "pop3/pop3.h"
#include "smtp/smtp.h"

const struct service *const server_services[] = {
    &smtp_service,
    &pop3_service,
    &imap_service,
};

const size_t server_n_services = sizeof(server_services) / sizeof(server_services[0]);

_Static_assert(sizeof(server_services) / sizeof(server_services[0]) <= SERVER_SERVICES_MAX,
	       "raise SERVER_SERVICES_MAX");
