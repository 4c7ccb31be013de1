/* SPDX-License-Identifier: MIT */
/*
 * schema.h - what mailroom.conf is made of: the core sections (util/config.h),
 * [listen] with one key per port of every service (server/services.h), each
 * service's own section, then the sections of the parts that are not
 * services (delivery, the directory and its backends, GSSAPI, metrics).
 * Every program entry (serve, the CLI, tests, fuzz targets) loads its
 * configuration against this schema.
 */
#ifndef MAILROOM_SERVER_SCHEMA_H
#define MAILROOM_SERVER_SCHEMA_H

#include "util/config.h"

/* Built once, then constant; safe from any thread. */
const struct config_schema *server_schema(void);

#endif
