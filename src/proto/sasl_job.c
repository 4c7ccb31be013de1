/* SPDX-License-Identifier: MIT */
/*
 * sasl_job.c - one SASL step as a worker job (see sasl_job.h).
 */
#include "proto/sasl_job.h"
#include "directory/penalty.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

void sasl_job_init(struct sasl_job *j, struct sasl_server *sasl, struct buf *in)
{
	memset(j, 0, sizeof(*j));
	j->sasl = sasl;
	if (in != NULL) {
		j->has_in = true;
		j->in = *in;
		memset(in, 0, sizeof(*in));
	}
}

uint64_t sasl_job_brake_ms(const struct sasl_server *sasl, const struct buf *in,
			   struct penalty *pen, const char *ip, uint64_t now_ms)
{
	char account[SASL_NAME_MAX + 1];

	if (pen == NULL || in == NULL ||
	    !sasl_server_checks(sasl, in->data != NULL ? in->data : "", in->len, account))
		return 0;
	/* "": the step checks a name it cannot know yet (GSSAPI's ticket) */
	return penalty_wait_ms(pen, ip, account[0] != '\0' ? account : NULL, now_ms);
}

void sasl_job_run(struct sasl_job *j, struct store *st)
{
	const char *in = j->has_in ? (j->in.data != NULL ? j->in.data : "") : NULL;

	j->result = sasl_server_step(j->sasl, st, in, j->in.len, &j->out, &j->id);
}

void sasl_job_clear(struct sasl_job *j)
{
	buf_free_secret(&j->in);
	buf_free_secret(&j->out);
	secure_zero(&j->id, sizeof(j->id));
}

/* --- the exchange around the steps ------------------------------------------------------- */

void sasl_exchange_start(struct sasl_exchange *x, enum sasl_mech m, struct directory *dir,
			 const char *tls_identity, const struct config *cfg,
			 const char *gssapi_service)
{
	sasl_exchange_end(x);
	x->sasl = sasl_server_new(m, dir);
	if (m == SASL_EXTERNAL)
		sasl_server_set_external(x->sasl, tls_identity);
	sasl_server_use_gssapi(x->sasl, cfg, gssapi_service);
}

void sasl_exchange_end(struct sasl_exchange *x)
{
	sasl_server_free(&x->sasl);
	x->wait = SASL_WAIT_NONE;
	if (x->pending != NULL) {
		secure_zero(x->pending, sizeof(*x->pending));
		free(x->pending);
		x->pending = NULL;
	}
}

enum sasl_line sasl_exchange_line(struct sasl_exchange *x, struct slice line, bool accept_equals,
				  struct buf *in, struct auth_identity *id_r)
{
	if (slice_eq(line, "*"))
		return SASL_LINE_CANCEL; /* RFC 4422 §5: the client aborts */
	if (x->wait == SASL_WAIT_FINAL_EMPTY) {
		if (line.len != 0 && !(accept_equals && slice_eq(line, "=")))
			return SASL_LINE_BAD_FINAL;
		*id_r = *x->pending;
		secure_zero(x->pending, sizeof(*x->pending));
		free(x->pending);
		x->pending = NULL;
		x->wait = SASL_WAIT_NONE;
		return SASL_LINE_DONE;
	}
	if (sasl_response_decode(line, sasl_server_mech(x->sasl), in) < 0) {
		buf_free_secret(in);
		return SASL_LINE_BAD_BASE64;
	}
	x->wait = SASL_WAIT_NONE;
	return SASL_LINE_STEP;
}

enum sasl_outcome sasl_exchange_result(struct sasl_exchange *x, const struct sasl_job *j)
{
	switch (j->result) {
	case SASL_CONTINUE:
		x->wait = SASL_WAIT_RESPONSE;
		return SASL_OUTCOME_CHALLENGE;
	case SASL_SUCCESS:
		if (j->out.len == 0)
			return SASL_OUTCOME_SUCCESS;
		/* RFC 4422 §5 (e): additional data with success goes out as a
		   challenge; the client answers with an empty response */
		x->pending = xmalloc(sizeof(*x->pending));
		*x->pending = j->id;
		x->wait = SASL_WAIT_FINAL_EMPTY;
		return SASL_OUTCOME_CHALLENGE;
	case SASL_FAILED:
		return SASL_OUTCOME_FAILED;
	case SASL_TEMPFAIL:
		return SASL_OUTCOME_TEMPFAIL;
	case SASL_MALFORMED:
		break;
	}
	return SASL_OUTCOME_MALFORMED;
}
