/* SPDX-License-Identifier: MIT */
/*
 * sasl_job.h - one SASL step as a worker job, shared by POP3 AUTH and SMTP
 * AUTH: the client's message goes in, the server's answer, the step's result
 * and (on success) the identity come out. The protocol owns the exchange
 * (struct sasl_server) and the replies; this is only the part that ran twice.
 *
 * Memory: `in` and `out` may hold credentials and are wiped by
 * sasl_job_clear(); the exchange is borrowed, never freed here.
 */
#ifndef MAILROOM_PROTO_SASL_JOB_H
#define MAILROOM_PROTO_SASL_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/sasl.h"

struct penalty;
struct store;

struct sasl_job {
	struct sasl_server *sasl; /* borrowed from the session */
	bool has_in;		  /* `in` holds a client message */
	struct buf in, out;
	struct auth_identity id;
	enum sasl_step result;
};

/* Loop side: takes over *in (NULL: no client message, e.g. no initial
   response); *in is left empty. */
void sasl_job_init(struct sasl_job *j, struct sasl_server *sasl, struct buf *in);
/* Loop side, before submitting: the login brake's wait (directory/
   penalty.h) for the step that will take `in` (NULL: no client message).
   Only a step that checks a password waits, so its timing tells nothing
   of whether the password was right; pen NULL: no brake. */
uint64_t sasl_job_brake_ms(const struct sasl_server *sasl, const struct buf *in,
			   struct penalty *pen, const char *ip, uint64_t now_ms);
/* Worker side: runs the step against the store. */
void sasl_job_run(struct sasl_job *j, struct store *st);
/* Wipes and frees the messages and the identity. */
void sasl_job_clear(struct sasl_job *j);

/* --- the exchange around the steps ------------------------------------------
 *
 * What POP3 AUTH, SMTP AUTH and IMAP AUTHENTICATE do alike between the
 * command and the login: start the mechanism, read each client line (a
 * cancel, the empty line after success data, a base64 response) and sort a
 * step's result into what the protocol answers. The replies, the brake's
 * wait and the job stay the protocol's own.
 */
enum sasl_wait {
	SASL_WAIT_NONE,	       /* no exchange waits for the client */
	SASL_WAIT_RESPONSE,    /* the next line is a client response (or "*") */
	SASL_WAIT_FINAL_EMPTY, /* success data went out; an empty line completes */
};

struct sasl_exchange {
	struct sasl_server *sasl;      /* NULL: no exchange */
	uint8_t wait;		       /* enum sasl_wait */
	struct auth_identity *pending; /* SASL_WAIT_FINAL_EMPTY: who logs in */
};

struct directory;
struct config;
/* Begins mechanism m (the protocol has checked that it offers it):
   tls_identity is the verified client certificate's address for
   EXTERNAL (or NULL), gssapi_service the service part of the Kerberos
   principal ("pop", "smtp", "imap"). */
void sasl_exchange_start(struct sasl_exchange *x, enum sasl_mech m, struct directory *dir,
			 const char *tls_identity, const struct config *cfg,
			 const char *gssapi_service);
/* Ends it, wiping what it held; harmless when there is none. */
void sasl_exchange_end(struct sasl_exchange *x);

enum sasl_line {
	SASL_LINE_STEP,	      /* *in holds the decoded response: run a step */
	SASL_LINE_CANCEL,     /* "*": the client gave up */
	SASL_LINE_DONE,	      /* the empty line after success data: *id_r logs in */
	SASL_LINE_BAD_FINAL,  /* something else where the empty line belonged */
	SASL_LINE_BAD_BASE64, /* a response that is not base64 */
};
/* A line while x->wait != SASL_WAIT_NONE. accept_equals: "=" also ends the
   exchange after success data (what some POP3 clients send). The wait is
   cleared for STEP and DONE; on the others the caller ends the exchange. */
enum sasl_line sasl_exchange_line(struct sasl_exchange *x, struct slice line, bool accept_equals,
				  struct buf *in, struct auth_identity *id_r);

enum sasl_outcome {
	SASL_OUTCOME_CHALLENGE, /* send j->out as a challenge; the wait is set */
	SASL_OUTCOME_SUCCESS,	/* j->id logs in */
	SASL_OUTCOME_FAILED,	/* wrong credentials: the brake counts it */
	SASL_OUTCOME_TEMPFAIL,	/* the check could not be made */
	SASL_OUTCOME_MALFORMED, /* a protocol violation, no password guess */
};
/* Sorts a finished step. Success with data becomes a CHALLENGE that waits
   for the empty line, with the identity kept in x->pending. */
enum sasl_outcome sasl_exchange_result(struct sasl_exchange *x, const struct sasl_job *j);

#endif
