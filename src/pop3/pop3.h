/* SPDX-License-Identifier: MIT */
/*
 * pop3.h - the POP3 service (RFC 1939, 2449, 2595, 5034, 3206, 8314): the
 * face of pop3/. The server creates one service at start and hands it every
 * connection of the pop3 and pop3s roles once the connection is ready.
 */
#ifndef MAILROOM_POP3_POP3_H
#define MAILROOM_POP3_POP3_H

struct server;
struct conn;
struct pop3_service;

struct pop3_service *pop3_service_new(struct server *srv);
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
