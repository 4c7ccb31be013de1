/* SPDX-License-Identifier: MIT */
/*
 * smtp.h - the SMTP service (RFC 5321 with PIPELINING, SIZE, 8BITMIME,
 * ENHANCEDSTATUSCODES, STARTTLS, AUTH, SMTPUTF8, DSN): the face of smtp/.
 * One service serves the three roles: smtp (inbound for hosted domains),
 * submission (STARTTLS) and submissions (implicit TLS); the role of the
 * connection decides the policy.
 */
#ifndef MAILROOM_SMTP_SMTP_H
#define MAILROOM_SMTP_SMTP_H

struct server;
struct conn;
struct smtp_service;

struct smtp_service *smtp_service_new(struct server *srv);
void smtp_service_free(struct smtp_service **svc);
void smtp_session_start(struct smtp_service *svc, struct conn *c);
unsigned smtp_service_sessions(const struct smtp_service *svc);
/* Graceful stop: sessions answer 421 between commands and close; a message
   whose commit is under way still gets its 250 first. */
void smtp_service_shutdown(struct smtp_service *svc);

#endif
