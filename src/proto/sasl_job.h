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

#endif
