/* SPDX-License-Identifier: MIT */
/*
 * sasl_job.c - one SASL step as a worker job (see sasl_job.h).
 */
#include "proto/sasl_job.h"
#include "directory/penalty.h"
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
