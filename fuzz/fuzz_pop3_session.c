/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pop3_session.c - libFuzzer target that drives a whole POP3 session
 * (Dovecot's FUZZ_BEGIN_FD): the real service, loop, conn and worker pool,
 * over a socketpair, against a real store in a temporary folder that holds
 * a mailbox with a password login, an APOP secret and a SCRAM verifier,
 * and messages of every shape (dots, an empty body, one of several store
 * pieces). Greeting, USER/PASS, APOP, AUTH, STAT/LIST/UIDL, RETR/TOP,
 * DELE/RSET, QUIT and UPDATE all run as they do in `mailroom serve`.
 *
 * Input: byte 0 sets how many octets the client writes per loop turn
 * (1 + 16 * byte), so lines arrive cut anywhere; the rest is what the
 * client sends. The client reads everything the server says. Once all is
 * sent and the session has nothing left to do, the client hangs up.
 * Checks: the server's output is CRLF lines only, the first one is the
 * greeting, and the session ends within a bounded time; the sanitizers do
 * the rest. The mailbox is restored after a run that expunged anything, so
 * every input meets the same store.
 */
#include "directory/directory.h"
#include "server/schema.h"
#include "directory/password.h"
#include "fuzz.h"
#include "net/conn.h"
#include "net/conn_private.h"
#include "net/loop.h"
#include "net/workers.h"
#include "pop3/pop3.h"
#include "pop3/pop3_private.h"
#include "proto/service.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define FUZZ_USER "fuzz@example.test"
#define FUZZ_DEADLINE_MS 5000 /* per input: a session that lasts longer is a bug */
#define FUZZ_TICK_MS 1

struct fuzz_env {
	struct config cfg;
	struct service_env srv;
	struct pop3_service *pop3;
	struct conn_mgr *mgr;
	struct store *st; /* the loop thread's own handle, for set-up and resets */
	int64_t mailbox;
	size_t n_msgs;
};

/* One run: the client side of the socketpair and what it has to send. */
struct fuzz_run {
	struct fuzz_env *env;
	int client, server_fd;
	const uint8_t *in;
	size_t in_len, in_off, step;
	struct buf out; /* everything the server sent */
	uint64_t deadline;
	unsigned idle_ticks;
	bool hung_up;
	struct timer *tick;
};

static void *worker_init(void *arg)
{
	const struct config *cfg = arg;
	struct store *st = NULL;
	if (store_open(cfg->data_dir, false, &st) != STORE_OK)
		abort();
	return st;
}

static void worker_deinit(void *tctx)
{
	struct store *st = tctx;
	store_close(&st);
}

static const char *const fuzz_msgs[] = {
    "From: a@example.test\r\nSubject: one\r\n\r\nshort body\r\n",
    "Subject: dots\r\n\r\n.starts with a dot\r\n..two\r\n.\r\n. space\r\nend\r\n",
    "Subject: empty body\r\n\r\n",
    "No header line at all\r\n",
};

/* The mailbox as every input must find it: the messages above and one
   body of several store pieces (POP3_READ_CHUNK). */
static void mailbox_reset(struct fuzz_env *e)
{
	struct store_msg *msgs = NULL;
	size_t n = 0;
	int res[1];

	if (store_mailbox_load(e->st, e->mailbox, &msgs, &n) != STORE_OK)
		abort();
	if (n == e->n_msgs && n > 0) {
		free(msgs);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (store_expunge(e->st, e->mailbox, &msgs[i].id, 1) != STORE_OK)
			abort();
	free(msgs);
	for (size_t i = 0; i < sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]); i++)
		if (store_deliver(e->st, &e->mailbox, 1, fuzz_msgs[i], strlen(fuzz_msgs[i]), NULL,
				  res) != STORE_OK)
			abort();
	struct buf big = {0};
	buf_append_str(&big, "Subject: big\r\n\r\n");
	for (unsigned i = 0; big.len < 3 * POP3_READ_CHUNK + 100; i++)
		buf_printf(&big, i % 7 == 0 ? ".line %u\r\n" : "line %u of the big one\r\n", i);
	if (store_deliver(e->st, &e->mailbox, 1, big.data, big.len, NULL, res) != STORE_OK)
		abort();
	buf_free(&big);
	e->n_msgs = sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]) + 1;
}

static char fuzz_dir[] = "/tmp/mailroom-fuzz-pop3.XXXXXX";

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* At exit: the store goes with the process (open files may be unlinked). */
static void env_remove_dir(void)
{
	nftw(fuzz_dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static struct fuzz_env *env_get(void)
{
	static struct fuzz_env *env;
	char *tmpl = fuzz_dir;
	char *err = NULL;
	struct buf conf = {0};

	if (env != NULL)
		return env;
	env = calloc(1, sizeof(*env));
	if (env == NULL || mkdtemp(tmpl) == NULL)
		abort();
	atexit(env_remove_dir);
	log_set_level(LOG_ERROR);
	signal(SIGPIPE, SIG_IGN); /* as `mailroom serve` does: either side may hang up first */
	/* APOP on, so its paths run too; no login delays, no auth cache:
	   each input meets the same server */
	buf_printf(&conf,
		   "[server]\nhostname = mail.example.test\ndata_dir = %s\nworkers = 2\n"
		   "[limits]\nauth_fail_delay_max = 0\nauth_cache_ttl = 0\n"
		   "[pop3]\nplaintext_auth = yes\napop = yes\n",
		   tmpl);
	if (config_parse(server_schema(), "/fuzz/mailroom.conf", conf.data, conf.len, &env->cfg,
			 &err) != 0)
		abort();
	buf_free(&conf);
	if (directory_open(&env->cfg, &env->srv.dir, &err) != 0)
		abort();
	if (store_open(env->cfg.data_dir, true, &env->st) != STORE_OK ||
	    store_domain_add(env->st, "example.test", DOMAIN_AUTHORITATIVE) != STORE_OK)
		abort();
	char *scram = NULL;
	if (scram_verifier_make("fuzz-pw", 4096, &scram) != 0)
		abort();
	struct store_user_new nu = {.address = FUZZ_USER,
				    .pw_hash = "{PLAIN}fuzz-pw",
				    .scram = scram,
				    .apop_secret = "fuzz-pw"};
	struct store_user u;
	if (store_user_add(env->st, &nu) != STORE_OK ||
	    store_user_lookup(env->st, FUZZ_USER, &u) != STORE_OK)
		abort();
	free(scram);
	env->mailbox = u.id;
	store_user_clear(&u);
	mailbox_reset(env);

	env->srv.cfg = &env->cfg;
	env->srv.loop = loop_new();
	env->srv.workers =
	    workers_new(env->srv.loop, 2, 64, worker_init, worker_deinit, (void *)&env->cfg);
	env->pop3 = pop3_service_new(&env->srv);
	env->mgr = conn_mgr_new(env->srv.loop, NULL);
	if (env->srv.workers == NULL || env->mgr == NULL)
		abort();
	return env;
}

/* The one session of this run, or NULL once it has ended. */
static struct pop3_session *run_session(const struct fuzz_run *r)
{
	struct proto_session *ps = r->env->pop3->sessions.first;
	return ps != NULL ? ps->sess : NULL;
}

/* Nothing left to do: all input read and handled, no job, timer or long
   reply under way, and all output taken by the client. */
static bool run_idle(const struct fuzz_run *r)
{
	const struct pop3_session *s = run_session(r);
	int unread = 0;

	if (s == NULL)
		return true;
	if (r->in_off < r->in_len || s->core.conn == NULL)
		return false;
	if (ioctl(r->server_fd, FIONREAD, &unread) != 0 || unread > 0)
		return false;
	return !proto_session_busy(&s->core) && s->delay == NULL && s->cont == NULL &&
	       !s->core.tls_starting && conn_output_pending(s->core.conn) == 0;
}

static void client_io(struct loop *l, int fd, int mask, void *ctx)
{
	struct fuzz_run *r = ctx;
	char tmp[65536];

	(void)l;
	(void)mask;
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n <= 0)
			break;
		buf_append(&r->out, tmp, (size_t)n);
	}
	if (r->in_off < r->in_len) {
		size_t n = r->in_len - r->in_off < r->step ? r->in_len - r->in_off : r->step;
		ssize_t w = write(fd, r->in + r->in_off, n);
		if (w > 0)
			r->in_off += (size_t)w;
		else if (w < 0)
			r->in_off = r->in_len; /* the server hung up: nothing more to send */
	}
	if (r->in_off == r->in_len)
		loop_fd_mod(l, fd, LOOP_READ);
}

static void run_tick(struct loop *l, void *ctx)
{
	struct fuzz_run *r = ctx;

	r->tick = NULL;
	if (run_session(r) == NULL && conn_mgr_count(r->env->mgr) == 0) {
		loop_stop(l);
		return;
	}
	if (loop_now_ms(l) > r->deadline)
		abort(); /* a session that never ends */
	r->idle_ticks = run_idle(r) ? r->idle_ticks + 1 : 0;
	if (r->idle_ticks >= 2 && !r->hung_up) {
		/* the client has said everything: hang up, as a client does */
		r->hung_up = true;
		shutdown(r->client, SHUT_WR);
	}
	r->tick = loop_timer_add(l, FUZZ_TICK_MS, run_tick, r);
}

/* The server's output: CRLF lines, starting with the greeting. */
static void check_output(const struct buf *out)
{
	static const char greet[] = "+OK mail.example.test POP3 ready <";

	CHECK(out->len >= sizeof(greet) - 1 && memcmp(out->data, greet, sizeof(greet) - 1) == 0);
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\n')
			CHECK(i > 0 && out->data[i - 1] == '\r');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_env *e = env_get();
	int sv[2];

	if (size < 1 || size > 64 * 1024)
		return 0;
	mailbox_reset(e);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		abort();
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	struct fuzz_run r = {.env = e,
			     .client = sv[1],
			     .server_fd = sv[0],
			     .in = data + 1,
			     .in_len = size - 1,
			     .step = 1 + 16 * (size_t)data[0]};
	struct loop *l = e->srv.loop;
	r.deadline = loop_now_ms(l) + FUZZ_DEADLINE_MS;
	struct conn *c = conn_new(e->mgr, sv[0], NULL, "pop3", "pop3");
	CHECK(c != NULL);
	if (loop_fd_add(l, sv[1], LOOP_READ | LOOP_WRITE, client_io, &r) != 0)
		abort();
	pop3_session_start(e->pop3, c);
	r.tick = loop_timer_add(l, FUZZ_TICK_MS, run_tick, &r);
	loop_run(l);
	loop_timer_del(l, &r.tick);
	loop_fd_del(l, sv[1]);
	close(sv[1]);
	CHECK(pop3_service_sessions(e->pop3) == 0);
	check_output(&r.out);
	buf_free(&r.out);
	return 0;
}
