/* SPDX-License-Identifier: MIT */
/*
 * session.c - the session core shared by POP3, SMTP and IMAP (see
 * session.h): the frame, jobs, connection events and the login glue.
 */
#include "proto/session.h"
#include "directory/directory.h"
#include "directory/penalty.h"
#include "net/conn.h"
#include "net/loop.h"
#include "proto/service.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the frame --------------------------------------------------------------- */

void proto_session_leave(struct proto_session *ps)
{
	ps->in_run = false;
	if (ps->dead && ps->job == NULL)
		ps->ops->free(ps->sess);
}

void proto_session_steps(struct proto_session *ps)
{
	while (ps->ops->step(ps->sess))
		;
	proto_session_leave(ps);
}

void proto_session_run(struct proto_session *ps)
{
	if (ps->in_run)
		return;
	ps->in_run = true;
	proto_session_steps(ps);
}

void proto_session_enter(struct proto_session *ps)
{
	if (ps->in_run)
		log_panic("sid=%s %s timer inside a callback frame", ps->sid, ps->ops->name);
	ps->in_run = true;
}

bool proto_session_busy(const struct proto_session *ps)
{
	return ps->job != NULL || ps->wait.timer != NULL || ps->held != NULL;
}

void proto_session_close(struct proto_session *ps, const char *reason)
{
	if (ps->closing || ps->conn == NULL)
		return;
	ps->closing = true;
	conn_close(ps->conn, reason);
}

bool proto_session_write(struct proto_session *ps, const void *p, size_t n)
{
	if (ps->conn == NULL || ps->closing)
		return false;
	conn_write(ps->conn, p, n);
	return true;
}

void proto_session_trace_state(const struct proto_session *ps, const char *from, const char *to)
{
	log_debug("sid=%s %s state %s -> %s", ps->sid, ps->ops->name, from, to);
}

/* --- the service's sessions ------------------------------------------------------ */

void *proto_session_new(size_t size, size_t arena_first, const struct proto_session_ops *ops,
			const struct service_env *env, struct conn *c, struct proto_session_list *l)
{
	struct arena *a = arena_new(arena_first);
	struct proto_session *ps = arena_alloc(a, size);

	*ps = (struct proto_session){
	    .sess = ps, .ops = ops, .env = env, .arena = a, .conn = c, .shutdown = l->stopping};
	snprintf(ps->sid, sizeof(ps->sid), "%s", conn_id(c));
	ps->ip = arena_strdup(a, conn_peer_ip(c));
	ps->service = conn_service(c);
	ps->next = l->first;
	if (ps->next != NULL)
		ps->next->prev = ps;
	l->first = ps;
	l->count++;
	conn_set_events(c, &proto_session_events, ps);
	ps->in_run = true;
	return ps;
}

void proto_session_free(struct proto_session *ps, struct proto_session_list *l)
{
	struct arena *a = ps->arena;

	if (ps->prev != NULL)
		ps->prev->next = ps->next;
	else
		l->first = ps->next;
	if (ps->next != NULL)
		ps->next->prev = ps->prev;
	l->count--;
	arena_free(&a);
}

void proto_session_list_shutdown(struct proto_session_list *l, bool (*stop)(void *sess))
{
	l->stopping = true;
	for (struct proto_session *ps = l->first, *next; ps != NULL; ps = next) {
		next = ps->next;
		ps->shutdown = true;
		if (stop(ps->sess))
			proto_session_run(ps); /* may free it */
	}
}

/* --- the per-command record --------------------------------------------------------- */

#define PROTO_CMD_EXTRA_MAX 256

void proto_cmd_record(const struct proto_session *ps, const struct proto_cmd_done *d)
{
	char extra[PROTO_CMD_EXTRA_MAX] = "";
	size_t cap = d->extra_max < sizeof(extra) ? d->extra_max : sizeof(extra);
	size_t n = 0;

	if (d->stats != NULL) {
		d->stats->total++;
		d->stats->ok += d->ok;
	}
	if (d->reply != NULL)
		n = log_extra_add(extra, cap, n, "reply", d->reply);
	if (d->args[0] != '\0')
		n = log_extra_add_text(extra, cap, n, "args", d->args);
	n = log_extra_add(extra, cap, n, "state", d->state);
	struct log_record r = {
	    .event = LOG_EV_COMMAND,
	    .service = ps->service,
	    .sid = ps->sid,
	    .ip = ps->ip,
	    .user = d->user,
	    .command = d->name != NULL ? d->name : "unknown",
	    .result = d->ok ? "ok" : "err",
	    .usec = log_now_usec() - d->start_us,
	    .bytes = d->bytes,
	    .extra = n > 0 ? extra + 1 : NULL,
	};
	log_record(LOG_DEBUG, &r);
}

/* --- jobs ---------------------------------------------------------------------- */

void *proto_job_new(struct proto_session *ps, size_t size)
{
	struct proto_job *job = xcalloc(1, size);
	job->core = ps;
	job->dir = ps->env->dir;
	return job;
}

void proto_job_free(struct proto_job *job)
{
	if (job->core->ops->job_clear != NULL)
		job->core->ops->job_clear(job);
	free(job->login);
	secret_free(&job->secret);
	sasl_job_clear(&job->sasl);
	secure_zero(&job->id, sizeof(job->id));
	if (job->ctx_free != NULL)
		job->ctx_free(job->ctx);
	free(job);
}

void proto_job_done(void *p)
{
	struct proto_job *job = p;
	struct proto_session *ps = job->core;
	bool nested = ps->in_run;

	ps->job = NULL;
	ps->in_run = true;
	if (!ps->dead)
		ps->ops->job_finish(job);
	proto_job_free(job);
	if (nested)
		return; /* the frame that was running carries on */
	proto_session_steps(ps);
}

int proto_job_submit_held(struct proto_job *job, worker_fn *fn)
{
	struct proto_session *ps = job->core;

	ps->job = job;
	return workers_submit_lane(ps->env->workers, WORKER_LANE_QUICK, fn, proto_job_done, job);
}

static bool try_submit_to(struct proto_job *job, struct workers *pool, worker_fn *fn,
			  enum worker_lane lane)
{
	struct proto_session *ps = job->core;

	ps->job = job;
	if (workers_submit_lane(pool, lane, fn, proto_job_done, job) == 0)
		return true;
	ps->job = NULL;
	proto_job_free(job);
	log_warn("sid=%s %s worker queue full", ps->sid, ps->ops->name);
	return false;
}

static bool try_submit(struct proto_job *job, worker_fn *fn, enum worker_lane lane)
{
	return try_submit_to(job, job->core->env->workers, fn, lane);
}

bool proto_job_try_submit_to(struct proto_job *job, struct workers *pool, worker_fn *fn)
{
	return try_submit_to(job, pool, fn, WORKER_LANE_QUICK);
}

static bool submit(struct proto_job *job, worker_fn *fn, enum worker_lane lane)
{
	struct proto_session *ps = job->core;

	if (try_submit(job, fn, lane))
		return true;
	ps->ops->busy(ps->sess);
	return false;
}

bool proto_job_try_submit(struct proto_job *job, worker_fn *fn)
{
	return try_submit(job, fn, WORKER_LANE_QUICK);
}

bool proto_job_submit(struct proto_job *job, worker_fn *fn)
{
	return submit(job, fn, WORKER_LANE_QUICK);
}

/* The end of the brake's wait (or no wait): a password check, in the hash
   lane (net/workers.h), or in the quick lane when the auth cache will
   answer it (it then costs a store read, not a hash: it must not wait
   behind a burst of cold logins). A check that would wait in the hash lane
   longer than [limits] auth_queue_wait is refused at once, and the client
   told to come back, rather than left to time out unanswered. A refused job
   ends the AUTH state too, so the next line is a command again. */
static void braked_submit(struct proto_job *job, worker_fn *fn)
{
	struct proto_session *ps = job->core;
	enum worker_lane lane = WORKER_LANE_HASH;

	if (fn == proto_job_work_password && job->login != NULL && job->secret != NULL &&
	    directory_password_cached(job->dir, job->login, job->secret))
		lane = WORKER_LANE_QUICK;
	unsigned bound = ps->env->cfg != NULL ? ps->env->cfg->auth_queue_wait : 0;
	if (lane == WORKER_LANE_HASH && bound > 0) {
		uint64_t wait = workers_hash_wait_ms(ps->env->workers);
		if (wait > (uint64_t)bound * 1000u) {
			log_warn("sid=%s %s login refused for now user=%s: password checks queued "
				 "for about %llu ms, over [limits] auth_queue_wait (%u s)",
				 ps->sid, ps->ops->name, job->login != NULL ? job->login : "-",
				 (unsigned long long)wait, bound);
			proto_job_free(job);
			ps->ops->busy(ps->sess);
			ps->ops->reset_auth(ps->sess);
			return;
		}
	}
	if (!submit(job, fn, lane))
		ps->ops->reset_auth(ps->sess);
}

static void wait_over(struct loop *l, void *ctx)
{
	struct proto_session *ps = ctx;
	struct proto_job *job = ps->wait.job;

	ps->wait.timer = NULL;
	ps->wait.job = NULL;
	if (ps->in_run)
		log_panic("proto timer inside a callback frame");
	ps->in_run = true;
	braked_submit(job, ps->wait.fn);
	proto_session_steps(ps);
}

void proto_job_submit_after(struct proto_job *job, worker_fn *fn, uint64_t wait_ms)
{
	struct proto_session *ps = job->core;

	if (wait_ms == 0) {
		braked_submit(job, fn);
		return;
	}
	ps->wait.job = job;
	ps->wait.fn = fn;
	ps->wait.timer = loop_timer_add(ps->env->loop, wait_ms, wait_over, ps);
}

void proto_job_hold(struct proto_job *job)
{
	struct proto_session *ps = job->core;

	if (ps->held != NULL || ps->job != NULL)
		log_panic("sid=%s %s second job held", ps->sid, ps->ops->name);
	ps->held = job;
}

void proto_job_release(struct proto_job *job)
{
	struct proto_session *ps = job->core;

	if (ps->held != job)
		log_panic("sid=%s %s releases a job it does not hold", ps->sid, ps->ops->name);
	ps->held = NULL;
}

/* The session ends: a job still waiting is dropped unrun. */
static void cancel_wait(struct proto_session *ps)
{
	if (ps->held != NULL) {
		struct proto_job *job = ps->held;
		ps->held = NULL;
		proto_job_free(job);
	}
	if (ps->wait.timer == NULL)
		return;
	loop_timer_del(ps->env->loop, &ps->wait.timer);
	proto_job_free(ps->wait.job);
	ps->wait.job = NULL;
}

/* --- connection events ----------------------------------------------------------- */

static void on_data_in(struct conn *c, void *ctx)
{
	proto_session_run(ctx);
}

static void on_tls_ready(struct conn *c, void *ctx)
{
	struct proto_session *ps = ctx;

	ps->tls_starting = false;
	if (ps->ops->tls_ready != NULL)
		ps->ops->tls_ready(ps->sess);
	else
		ps->ops->reset_auth(ps->sess);
	proto_session_run(ps);
}

static void on_timeout(struct conn *c, void *ctx)
{
	struct proto_session *ps = ctx;

	if (ps->in_run)
		return;
	/* our side is busy (a job, the login brake, a long reply), not the client */
	bool busy = ps->ops->timeout_busy != NULL && ps->ops->timeout_busy(ps->sess);
	if (busy || proto_session_busy(ps)) {
		conn_set_idle_timeout(c, ps->ops->idle_timeout(ps->sess));
		return;
	}
	ps->in_run = true;
	ps->ops->timeout(ps->sess, strcmp(conn_timeout_reason(c), "idle") == 0);
	proto_session_leave(ps);
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
	struct proto_session *ps = ctx;

	ps->conn = NULL;
	ps->dead = true;
	if (ps->job != NULL) /* with a pool: what it has not begun is skipped */
		atomic_store(&((struct proto_job *)ps->job)->gone, true);
	cancel_wait(ps);
	/* the session record itself is the server's, when the conn is gone */
	ps->ops->closed(ps->sess, c);
	if (!ps->in_run && ps->job == NULL)
		ps->ops->free(ps->sess);
}

const struct conn_events proto_session_events = {
    .data_in = on_data_in,
    .drained = on_data_in,
    .tls_ready = on_tls_ready,
    .timeout = on_timeout,
    .closed = on_closed,
};

/* --- the login glue ---------------------------------------------------------------- */

void proto_job_work_password(void *thread_ctx, void *p)
{
	struct proto_job *job = p;
	if (atomic_load(&job->gone)) { /* the client left while this waited */
		job->result = AUTH_TEMPFAIL;
		return;
	}
	job->result = directory_password(job->dir, thread_ctx, job->login, job->secret, &job->id);
}

uint64_t proto_login_brake_ms(const struct proto_session *ps, const char *account)
{
	struct penalty *pen = ps->env->penalty;

	return pen != NULL ? penalty_wait_ms(pen, ps->ip, account, loop_now_ms(ps->env->loop)) : 0;
}

void proto_login_succeeded(const struct proto_session *ps, const char *login)
{
	if (ps->env->penalty != NULL)
		penalty_success(ps->env->penalty, ps->ip, login, loop_now_ms(ps->env->loop));
}

void proto_login_failed(const struct proto_session *ps, const char *user)
{
	if (ps->env->penalty != NULL)
		penalty_fail(ps->env->penalty, ps->ip, user != NULL && *user != '\0' ? user : NULL,
			     loop_now_ms(ps->env->loop));
}

void proto_login_record(const struct proto_session *ps, const char *result, const char *mech,
			const char *user, const char *reason, const char *extra)
{
	struct log_session who = {ps->service, ps->sid, ps->ip,
				  ps->conn != NULL ? conn_tls_version(ps->conn) : NULL};
	log_login(&who, result, mech, user, reason, log_now_usec() - ps->login_start_us, extra);
}

bool proto_sasl_mech_allowed(const struct proto_session *ps, enum sasl_mech m, bool plaintext_ok)
{
	/* EXTERNAL only for a verified client certificate ([tls] client_ca) */
	if (m == SASL_EXTERNAL)
		return ps->conn != NULL && conn_tls_identity(ps->conn) != NULL;
	/* GSSAPI only with a keytab; like SCRAM it is offered before TLS too:
	   Kerberos never sends the password (docs/admin.md, Kerberos) */
	if (m == SASL_GSSAPI)
		return sasl_gssapi_configured(ps->env->cfg);
	if (m == SASL_SCRAM_SHA_256 && !directory_offers(ps->env->dir, DIRECTORY_SCRAM))
		return false; /* no backend in the chain holds SCRAM verifiers */
	return !sasl_mech_plaintext(m) || plaintext_ok;
}

void proto_sasl_mech_list(const struct proto_session *ps, bool plaintext_ok, const char *pre,
			  const char *post, struct buf *b)
{
	static const enum sasl_mech order[] = {SASL_EXTERNAL, SASL_SCRAM_SHA_256, SASL_GSSAPI,
					       SASL_PLAIN, SASL_LOGIN};

	for (size_t i = 0; i < N_ELEMENTS(order); i++)
		if (proto_sasl_mech_allowed(ps, order[i], plaintext_ok))
			buf_printf(b, "%s%s%s", pre, sasl_mech_name(order[i]), post);
}

void proto_sasl_start(struct proto_session *ps, enum sasl_mech m, const char *gssapi_service)
{
	sasl_exchange_start(&ps->sx, m, ps->env->dir, conn_tls_identity(ps->conn), ps->env->cfg,
			    gssapi_service);
}

static void work_sasl(void *thread_ctx, void *p)
{
	struct proto_job *job = p;
	if (atomic_load(&job->gone))
		return; /* the client left: nobody reads the step's answer */
	sasl_job_run(&job->sasl, thread_ctx);
}

void proto_sasl_submit(struct proto_session *ps, struct buf *in)
{
	struct proto_job *job = ps->ops->sasl->job(ps->sess);
	/* the login brake holds back the step that checks the password, right
	   or wrong, so its timing tells nothing */
	uint64_t wait = sasl_job_brake_ms(ps->sx.sasl, in, ps->env->penalty, ps->ip,
					  loop_now_ms(ps->env->loop));

	sasl_job_init(&job->sasl, ps->sx.sasl, in);
	proto_job_submit_after(job, work_sasl, wait);
}

void proto_sasl_finish(struct proto_job *job)
{
	struct proto_session *ps = job->core;
	const struct proto_sasl_ops *ops = ps->ops->sasl;
	const char *mech = sasl_mech_name(sasl_server_mech(ps->sx.sasl));

	switch (sasl_exchange_result(&ps->sx, &job->sasl)) {
	case SASL_OUTCOME_CHALLENGE:
		ops->challenge(ps->sess, &job->sasl.out);
		return;
	case SASL_OUTCOME_SUCCESS:
		ops->login(ps->sess, &job->sasl.id, mech, sasl_server_authcid(ps->sx.sasl));
		return;
	case SASL_OUTCOME_FAILED:
		ops->failed(ps->sess, mech, sasl_server_authcid(ps->sx.sasl));
		return;
	case SASL_OUTCOME_TEMPFAIL:
		proto_login_record(ps, "error", mech, sasl_server_authcid(ps->sx.sasl), "tempfail",
				   NULL);
		ops->end(ps->sess, PROTO_SASL_TEMPFAIL);
		return;
	case SASL_OUTCOME_MALFORMED:
		break;
	}
	/* a protocol violation is no password guess: no delay, but it counts */
	proto_login_record(ps, "failed", mech, NULL, "malformed", NULL);
	ops->end(ps->sess, PROTO_SASL_MALFORMED);
}

void proto_sasl_line(struct proto_session *ps, struct slice line, bool accept_equals)
{
	const struct proto_sasl_ops *ops = ps->ops->sasl;
	struct buf in = {0};
	struct auth_identity id;

	ps->login_start_us = log_now_usec(); /* the login's time runs from here */
	switch (sasl_exchange_line(&ps->sx, line, accept_equals, &in, &id)) {
	case SASL_LINE_STEP:
		proto_sasl_submit(ps, &in);
		buf_free_secret(&in);
		return;
	case SASL_LINE_CANCEL:
		ops->end(ps->sess, PROTO_SASL_CANCEL);
		return;
	case SASL_LINE_DONE:
		ops->login(ps->sess, &id, sasl_mech_name(sasl_server_mech(ps->sx.sasl)),
			   sasl_server_authcid(ps->sx.sasl));
		secure_zero(&id, sizeof(id));
		return;
	case SASL_LINE_BAD_FINAL:
		ops->end(ps->sess, PROTO_SASL_BAD_FINAL);
		return;
	case SASL_LINE_BAD_BASE64:
		ops->end(ps->sess, PROTO_SASL_BAD_BASE64);
		return;
	}
}
