/* SPDX-License-Identifier: MIT */
/* test_proto_session.c - the session core (proto/session.h) on a real loop
   and worker pool, without a connection: a refused job gets the protocol's
   busy answer, a finished one its finish callback and then the steps, and a
   session whose connection goes away is freed only once its job is back
   (or at once, dropping a job that waits out the brake). */
#include "net/conn.h"
#include "net/loop.h"
#include "proto/service.h"
#include "proto/session.h"
#include "test_common.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct fake {
	struct proto_session core; /* first, as in every protocol's session */
	int steps, busy, finished, closed, freed, resets;
};

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int blocker_running;
static struct loop *test_loop;

static void *worker_init(void *arg)
{
	return arg;
}

static void blocker(void *thread_ctx, void *job)
{
	__atomic_store_n(&blocker_running, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_lock(&gate); /* held by the test: the pool stays busy */
	pthread_mutex_unlock(&gate);
}

static void blocker_done(void *job)
{
}

static void work_nothing(void *thread_ctx, void *job)
{
}

static bool fake_step(void *p)
{
	struct fake *f = p;
	f->steps++;
	return false;
}

static void fake_free(void *p)
{
	struct fake *f = p;
	f->freed++;
	loop_stop(test_loop);
}

static void fake_busy(void *p)
{
	struct fake *f = p;
	f->busy++;
}

static void fake_reset_auth(void *p)
{
	struct fake *f = p;
	f->resets++;
}

static void fake_job_finish(struct proto_job *job)
{
	struct fake *f = job->core->sess;
	f->finished++;
	loop_stop(test_loop);
}

static void fake_closed(void *p, struct conn *c)
{
	struct fake *f = p;
	f->closed++;
}

static const struct proto_session_ops fake_ops = {
    .name = "fake",
    .step = fake_step,
    .free = fake_free,
    .busy = fake_busy,
    .reset_auth = fake_reset_auth,
    .job_finish = fake_job_finish,
    .closed = fake_closed,
};

static void fake_init(struct fake *f, const struct service_env *env)
{
	memset(f, 0, sizeof(*f));
	f->core = (struct proto_session){.sess = f, .ops = &fake_ops, .env = env};
}

static void give_up(struct loop *l, void *ctx)
{
	loop_stop(l);
}

/* Runs the loop until something stops it, 10 s at the most. */
static void run(struct loop *l)
{
	struct timer *t = loop_timer_add(l, 10000, give_up, NULL);
	loop_run(l);
	loop_timer_del(l, &t);
}

static void test_jobs(void)
{
	struct service_env env;
	struct fake a, b;

	test_begin(
	    "proto session: a refused job is answered busy, a finished one resumes the steps");
	memset(&env, 0, sizeof(env));
	env.loop = test_loop = loop_new();
	/* one thread, two jobs at most: the blocker runs, one job queues, the
	   next is refused */
	env.workers = workers_new(env.loop, 1, 2, worker_init, NULL, NULL);
	fake_init(&a, &env);
	fake_init(&b, &env);
	pthread_mutex_lock(&gate);
	test_assert(workers_submit(env.workers, blocker, blocker_done, NULL) == 0);
	for (int i = 0; i < 5000 && !__atomic_load_n(&blocker_running, __ATOMIC_SEQ_CST); i++)
		usleep(1000);

	struct proto_job *ja = proto_job_new(&a.core, sizeof(*ja));
	ja->login = xstrdup("a@example.test");
	test_assert(proto_job_submit(ja, work_nothing));
	test_assert(a.core.job == ja && proto_session_busy(&a.core));
	struct proto_job *jb = proto_job_new(&b.core, sizeof(*jb));
	jb->secret = xstrdup("secret"); /* wiped and freed with the refused job */
	test_assert(!proto_job_submit(jb, work_nothing));
	test_assert(b.busy == 1 && b.core.job == NULL && !proto_session_busy(&b.core));
	/* a refused password check also ends the login under way */
	jb = proto_job_new(&b.core, sizeof(*jb));
	proto_job_submit_after(jb, work_nothing, 0);
	test_assert(b.busy == 2 && b.resets == 1);

	pthread_mutex_unlock(&gate);
	run(env.loop);
	test_assert(a.finished == 1 && a.steps == 1 && a.core.job == NULL && !a.core.in_run);
	test_assert(a.freed == 0);

	workers_free(&env.workers);
	loop_free(&env.loop);
	test_end();
}

static void test_dead_sessions(void)
{
	struct service_env env;
	struct fake a, b;

	test_begin(
	    "proto session: a dead session is freed once its job is back, a waiting one at once");
	memset(&env, 0, sizeof(env));
	env.loop = test_loop = loop_new();
	env.workers = workers_new(env.loop, 1, 8, worker_init, NULL, NULL);
	fake_init(&a, &env);
	fake_init(&b, &env);

	/* the connection goes while a job runs: kept until the job is back,
	   whose finish callback no longer runs */
	test_assert(
	    proto_job_submit(proto_job_new(&a.core, sizeof(struct proto_job)), work_nothing));
	proto_session_events.closed(NULL, &a.core, "test");
	test_assert(a.closed == 1 && a.core.dead && a.freed == 0);
	run(env.loop);
	test_assert(a.freed == 1 && a.finished == 0);

	/* the connection goes while a job waits out the login brake: the job
	   is dropped unrun and the session freed at once */
	struct proto_job *jb = proto_job_new(&b.core, sizeof(*jb));
	jb->login = xstrdup("b@example.test");
	proto_job_submit_after(jb, work_nothing, 60000);
	test_assert(proto_session_busy(&b.core) && b.core.job == NULL);
	proto_session_events.closed(NULL, &b.core, "test");
	test_assert(b.freed == 1 && b.finished == 0 && !proto_session_busy(&b.core));

	workers_free(&env.workers);
	loop_free(&env.loop);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_jobs, test_dead_sessions, NULL});
}
