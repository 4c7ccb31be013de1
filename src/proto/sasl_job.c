/* SPDX-License-Identifier: MIT */
/*
 * sasl_job.c - one SASL step as a worker job (see sasl_job.h).
 */
#include "proto/sasl_job.h"
#include "util/mem.h"

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
