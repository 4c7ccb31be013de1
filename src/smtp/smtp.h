/* SPDX-License-Identifier: MIT */
/*
 * smtp.h - the SMTP service (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, STARTTLS, AUTH, SMTPUTF8, DSN): the face of smtp/.
 * `smtp_service` is its entry in the server's list of services
 * (proto/service.h), ALPN id "smtp", with three ports: smtp (inbound for
 * hosted domains), submission (STARTTLS) and submissions (implicit TLS);
 * the port a connection arrived on decides the policy.
 */
#ifndef MAILROOM_SMTP_SMTP_H
#define MAILROOM_SMTP_SMTP_H

#include "proto/service.h"

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct smtp_service;

extern const struct service smtp_service;

/* [smtp] (docs/config.md): read through smtp_config(cfg). */
struct smtp_config {
	uint64_t max_message_size; /* octets; EHLO advertises it (SIZE) */
	unsigned max_recipients;   /* per message (RFC 5321 §4.5.3.1.8: >= 100) */
	unsigned max_errors;	   /* bad commands per session before we close */
	unsigned max_commands;	   /* commands per session */
	unsigned max_received;	   /* Received: headers before a loop is assumed */
	unsigned command_timeout;  /* seconds waiting for a command */
	unsigned data_timeout;	   /* seconds waiting for DATA content */
	char *postmaster;	   /* mailbox for postmaster@ without one, or NULL */
	bool sender_login_match;   /* submission: MAIL FROM must be the user's */
};
struct config;
extern const struct config_section smtp_config_section;
const struct smtp_config *smtp_config(const struct config *cfg);

/* env must outlive the service (S1). */
struct smtp_service *smtp_service_new(const struct service_env *env);
void smtp_service_free(struct smtp_service **svc);
/* submission: the port is for authenticated users (submission,
   submissions), not inbound relay for hosted domains (smtp). */
void smtp_session_start(struct smtp_service *svc, struct conn *c, bool submission);
unsigned smtp_service_sessions(const struct smtp_service *svc);
/* Graceful stop: sessions answer 421 between commands and close; a message
   whose commit is under way still gets its 250 first. */
void smtp_service_shutdown(struct smtp_service *svc);

#endif
