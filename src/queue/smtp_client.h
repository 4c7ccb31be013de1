/* SPDX-License-Identifier: MIT */
/*
 * smtp_client.h - one outbound SMTP transaction (RFC 5321 client side) for
 * the delivery agents: EHLO (HELO fallback), STARTTLS by the route's policy,
 * AUTH PLAIN to smart hosts (only over TLS), MAIL with SIZE, BODY, SMTPUTF8
 * and DSN parameters when the next hop offers them, one RCPT per recipient,
 * DATA with dot-stuffing (proto/dotstuff.h; 8-bit content converted to 7
 * bits for a next hop without 8BITMIME, lines over 998 octets encoded:
 * mime/mime.h; then DKIM-signed over that form when the job carries keys:
 * filter/dkim.h), QUIT. It runs on delivery threads, never on the network
 * thread, and blocks, but never without bound: every reply has a total
 * deadline, however the next hop drips its octets (RFC 5321 §4.5.3.2), as
 * has each write of the message; a reply that breaks the grammar
 * (queue/smtp_reply.h) ends the connection with a temporary failure.
 */
#ifndef MAILROOM_QUEUE_SMTP_CLIENT_H
#define MAILROOM_QUEUE_SMTP_CLIENT_H

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>

#include "dns/dns_answer.h"
#include "store/store.h"

#define SMTP_CLIENT_REPLY_MAX 300

struct smtp_client_rcpt {
	const char *address, *notify, *orcpt;
	int code;			   /* the next hop's answer (RCPT, or DATA's) */
	char reply[SMTP_CLIENT_REPLY_MAX]; /* its text, for logs and reports */
};

struct smtp_client_job {
	/* in */
	const char *helo;
	const char *host;	      /* next hop name: logs, TLS verification */
	struct sockaddr_storage addr; /* IPv6 or IPv4, with the port */
	socklen_t addr_len;
	enum route_tls tls;
	const char *ca_file; /* for ROUTE_TLS_VERIFY (and tls_check); NULL: the system's CAs */
	bool tls_check;	     /* below ROUTE_TLS_VERIFY: check the certificate against host
				only to report it in tls_problem (MTA-STS testing mode) */
	/* DANE (RFC 7672, queue/dane.h): usable TLSA records the certificate
	   must match (then tls is at least ROUTE_TLS_ENCRYPT, and no CA is
	   asked); DANE-TA(2) checks the host name and dane_domain (or NULL) */
	const struct dns_record *tlsa;
	size_t n_tlsa;
	const char *dane_domain;
	const char *auth_user, *auth_secret;
	const char *sender;
	const char *body; /* wire form */
	size_t len;
	bool smtputf8; /* the envelope needs SMTPUTF8 */
	const char *envid, *ret;
	struct smtp_client_rcpt *rcpts;
	size_t n_rcpts;
	/* DKIM (filter/dkim.h): the keys that sign the form of the message
	   actually sent (after any 8-bit to 7-bit conversion), one
	   DKIM-Signature field each, put first; NULL/0: sent as it is */
	struct dkim_key *const *dkim_keys;
	size_t n_dkim_keys;
	/* seconds (RFC 5321 §4.5.3.2): connecting; the greeting and every
	   command's reply but DATA's; DATA's 354; each write of the message;
	   the reply after the final "." */
	unsigned connect_timeout, command_timeout, data_init_timeout, data_xfer_timeout,
	    data_done_timeout;
	/* out */
	bool session; /* the transaction ran: rcpts[].code hold the answers */
	int code;     /* else why not: 4xx (try again) or 5xx (give up) */
	char reply[SMTP_CLIENT_REPLY_MAX];
	bool tls_used, dsn_offered;
	bool downgraded;       /* sent as 7 bits (mime/mime.h): no 8BITMIME there */
	bool reencoded;	       /* long lines were encoded (mime/mime.h) */
	bool timed_out;	       /* a time limit ran out: the next hop is slow */
	bool tls_failed;       /* the TLS the job required was not had: STARTTLS missing or
				  refused, the handshake or the certificate failed */
	char tls_problem[160]; /* with tls_check: why the certificate would not pass, or "" */
	/* the signatures made for the last transaction, "d/s/alg,..." ("" none),
	   and whether a key failed to sign (the message then went without) */
	char dkim_signed[400];
	bool dkim_failed;
	int dane_usage; /* with tlsa: the usage of the record that matched, or -1 */
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
/* Whether the connection can carry another message (not timed out, lost or
   out of step after a malformed reply). */
bool smtp_client_usable(const struct smtp_client *c);

#endif
