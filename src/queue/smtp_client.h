/* SPDX-License-Identifier: MIT */
/*
 * smtp_client.h - one outbound SMTP transaction (RFC 5321 client side) for
 * the delivery agents: EHLO (HELO fallback), STARTTLS by the route's policy,
 * AUTH PLAIN to smart hosts (only over TLS), MAIL with SIZE, BODY, SMTPUTF8
 * and DSN parameters when the next hop offers them, one RCPT per recipient,
 * DATA with dot-stuffing (8-bit content converted to 7 bits for a next hop
 * without 8BITMIME), QUIT. Blocking with a time limit on every phase:
 * it runs on delivery threads, never on the network thread.
 */
#ifndef MAILROOM_QUEUE_SMTP_CLIENT_H
#define MAILROOM_QUEUE_SMTP_CLIENT_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

#define SMTP_CLIENT_REPLY_MAX 300

struct smtp_client_rcpt {
	const char *address, *notify, *orcpt;
	int code;			       /* the next hop's answer (RCPT, or DATA's) */
	char reply[SMTP_CLIENT_REPLY_MAX]; /* its text, for logs and reports */
};

struct smtp_client_job {
	/* in */
	const char *helo;
	const char *host; /* next hop name: logs, TLS verification */
	struct sockaddr_storage addr; /* IPv6 or IPv4, with the port */
	socklen_t addr_len;
	enum route_tls tls;
	const char *ca_file; /* for ROUTE_TLS_VERIFY; NULL: the system's CAs */
	const char *auth_user, *auth_secret;
	const char *sender;
	const char *body; /* wire form */
	size_t len;
	bool smtputf8; /* the envelope needs SMTPUTF8 */
	const char *envid, *ret;
	struct smtp_client_rcpt *rcpts;
	size_t n_rcpts;
	unsigned connect_timeout, command_timeout;
	/* out */
	bool session;	/* the transaction ran: rcpts[].code hold the answers */
	int code;	/* else why not: 4xx (try again) or 5xx (give up) */
	char reply[SMTP_CLIENT_REPLY_MAX];
	bool tls_used, dsn_offered;
	bool downgraded; /* sent as 7 bits (mime/mime.h): no 8BITMIME there */
};

/* Returns job->session: connect, one transaction, QUIT. */
bool smtp_client_run(struct smtp_client_job *job);

/* The same in steps, to send several messages over one connection:
   open (greeting, EHLO, STARTTLS, AUTH by job's route fields; NULL on
   failure, with job->code and reply set), send (RSET between messages;
   returns job->session), close (QUIT). */
struct smtp_client;
struct smtp_client *smtp_client_open(struct smtp_client_job *job);
bool smtp_client_send(struct smtp_client *c, struct smtp_client_job *job);
void smtp_client_close(struct smtp_client **c);

#endif
