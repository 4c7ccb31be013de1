/* SPDX-License-Identifier: MIT */
/*
 * services.h - the protocols `mailroom serve` runs (proto/service.h), in the
 * order their listeners open. Adding a protocol is one entry in
 * services.c; nothing else in server/ names one.
 */
#ifndef MAILROOM_SERVER_SERVICES_H
#define MAILROOM_SERVER_SERVICES_H

#include <stddef.h>

#include "proto/service.h"

#define SERVER_SERVICES_MAX 8

extern const struct service *const server_services[];
extern const size_t server_n_services;

#endif
