/* SPDX-License-Identifier: MIT */
/*
 * pop3.h - the POP3 service (RFC 1939, 2449, 2595, 5034, 3206, 8314): the
 * face of pop3/. `pop3_service` is its entry in the server's list of
 * services (proto/service.h): ports pop3 (STLS) and pop3s (implicit TLS),
 * ALPN id "pop3". The functions below are what that entry calls, and what
 * tests and fuzz targets call directly.
 */
#ifndef MAILROOM_POP3_POP3_H
#define MAILROOM_POP3_POP3_H

#include "proto/service.h"

#include <stdbool.h>

struct conn;
struct pop3_service;

extern const struct service pop3_service;

/* [pop3] (docs/config.md): read through pop3_config(cfg). */
struct pop3_config {
	bool plaintext_auth; /* allow USER/PASS, AUTH PLAIN/LOGIN without TLS */
	bool apop;	     /* offer APOP for accounts that hold an APOP secret */
};
struct config;
extern const struct config_section pop3_config_section;
const struct pop3_config *pop3_config(const struct config *cfg);

/* env must outlive the service (S1). */
struct pop3_service *pop3_service_new(const struct service_env *env);
void pop3_service_free(struct pop3_service **svc);
/* Greets and runs a session on c (plain on pop3, already TLS on pop3s). */
void pop3_session_start(struct pop3_service *svc, struct conn *c);
/* Sessions alive (for the idle-memory test and logs). */
unsigned pop3_service_sessions(const struct pop3_service *svc);
/* Graceful stop: every session answers "-ERR [SYS/TEMP] Server shutting
   down" as soon as its current command is finished, then closes without
   entering UPDATE (nothing is deleted). Free the service only once
   pop3_service_sessions() is 0 (sessions with a worker job end when the job
   returns, so after workers_free()). */
void pop3_service_shutdown(struct pop3_service *svc);

#endif
