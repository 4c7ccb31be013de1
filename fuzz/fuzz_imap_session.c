/* SPDX-License-Identifier: MIT */
/*
 * fuzz_imap_session.c - libFuzzer target that drives a whole IMAP session,
 * as fuzz_pop3_session.c does for POP3: the real service, loop, conn and
 * worker pool over a socketpair, against a real store in a temporary
 * folder with a mailbox (password and SCRAM logins) whose INBOX holds
 * messages of every shape (multipart, message/rfc822, no header, a big
 * one). LOGIN, AUTHENTICATE, LIST, SELECT, FETCH of every item, STORE,
 * COPY, MOVE, APPEND with literals, EXPUNGE, IDLE, CREATE/RENAME/DELETE
 * all run as in `mailroom serve`.
 *
 * Input: byte 0 sets how many octets the client writes per loop turn
 * (1 + 16 * byte); the rest is what the client sends. Checks: the output
 * starts with the greeting and ends with a line end, and the session ends
 * within a bounded time; the sanitizers do the rest. The mailbox is put
 * back before every input: INBOX's messages and flags, the default
 * folders only.
 */
#include "directory/directory.h"
#include "server/schema.h"
#include "directory/password.h"
#include "fuzz.h"
#include "net/conn.h"
#include "net/conn_private.h"
#include "net/loop.h"
#include "net/workers.h"
#include "imap/imap.h"
#include "imap/imap_private.h"
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
	struct imap_service *imap;
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
    "From: A <a@example.test>\r\nTo: b@example.test, \"C D\" <c@example.test>\r\n"
    "Subject: one\r\nDate: Mon, 7 Feb 1994 21:52:25 -0800\r\n\r\nshort body\r\n",
    "Subject: multi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
    "--b\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b\r\n"
    "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body\r\n--b--\r\n",
    "Subject: empty body\r\n\r\n",
    "No header line at all\r\n",
};

/* The mailbox as every input must find it: the default folders, INBOX
   with the messages above and one big one, no flags. */
static void mailbox_reset(struct fuzz_env *e)
{
	struct store_folder *f = NULL;
	struct store_imsg *m = NULL;
	size_t nf = 0, n = 0;
	int64_t inbox;
	int res[1];

	if (store_folder_list(e->st, e->mailbox, &f, &nf) != STORE_OK)
		abort();
	for (size_t i = nf; i-- > 0;)
		if (strcmp(f[i].name, "INBOX") != 0 && f[i].special == STORE_SPECIAL_NONE)
			(void)store_folder_delete(e->st, e->mailbox, f[i].name);
	store_folders_free(f, nf);
	if (store_inbox_id(e->st, e->mailbox, &inbox) != STORE_OK ||
	    store_folder_load(e->st, inbox, &m, &n) != STORE_OK)
		abort();
	if (n != e->n_msgs || n == 0) {
		struct store_msg *pm = NULL;
		size_t pn = 0;
		if (store_mailbox_load(e->st, e->mailbox, &pm, &pn) != STORE_OK)
			abort();
		for (size_t i = 0; i < pn; i++)
			if (store_expunge(e->st, e->mailbox, &pm[i].id, 1) != STORE_OK)
				abort();
		free(pm);
		for (size_t i = 0; i < sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]); i++)
			if (store_deliver(e->st, &e->mailbox, 1, fuzz_msgs[i], strlen(fuzz_msgs[i]),
					  NULL, res) != STORE_OK)
				abort();
		struct buf big = {0};
		buf_append_str(&big, "Subject: big\r\n\r\n");
		for (unsigned i = 0; big.len < 3 * IMAP_READ_CHUNK + 100; i++)
			buf_printf(&big, "line %u of the big one\r\n", i);
		if (store_deliver(e->st, &e->mailbox, 1, big.data, big.len, NULL, res) != STORE_OK)
			abort();
		buf_free(&big);
		e->n_msgs = sizeof(fuzz_msgs) / sizeof(fuzz_msgs[0]) + 1;
	} else {
		uint32_t *uids = malloc(n * sizeof(*uids));
		struct store_imsg *ch = NULL;
		uint32_t *failed = NULL;
		size_t n_ch = 0, n_failed = 0;
		if (uids == NULL)
			abort();
		for (size_t i = 0; i < n; i++)
			uids[i] = m[i].uid;
		if (store_flags_change(e->st, inbox, uids, n, STORE_FLAGS_SET, 0, NULL, 0, &ch,
				       &n_ch, &failed, &n_failed) != STORE_OK)
			abort();
		store_imsgs_free(ch, n_ch);
		free(failed);
		free(uids);
	}
	store_imsgs_free(m, n);
}

static char fuzz_dir[] = "/tmp/mailroom-fuzz-imap.XXXXXX";

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
	/* LOGIN without TLS, so its paths run; no login delays, no auth
	   cache: each input meets the same server */
	buf_printf(&conf,
		   "[server]\nhostname = mail.example.test\ndata_dir = %s\nworkers = 2\n"
		   "[limits]\nauth_fail_delay_max = 0\nauth_cache_ttl = 0\n"
		   "[imap]\nplaintext_auth = yes\nappend_limit = 64K\n",
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
	struct store_user_new nu = {
	    .address = FUZZ_USER, .pw_hash = "{PLAIN}fuzz-pw", .scram = scram};
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
	env->imap = imap_service_new(&env->srv);
	env->mgr = conn_mgr_new(env->srv.loop, NULL);
	if (env->srv.workers == NULL || env->mgr == NULL)
		abort();
	return env;
}

/* The one session of this run, or NULL once it has ended. */
static struct imap_session *run_session(const struct fuzz_run *r)
{
	struct proto_session *ps = r->env->imap->sessions.first;
	return ps != NULL ? ps->sess : NULL;
}

/* Nothing left to do: all input read and handled, no job, timer or long
   reply under way, and all output taken by the client. */
static bool run_idle(const struct fuzz_run *r)
{
	const struct imap_session *s = run_session(r);
	int unread = 0;

	if (s == NULL)
		return true;
	if (r->in_off < r->in_len || s->core.conn == NULL)
		return false;
	if (ioctl(r->server_fd, FIONREAD, &unread) != 0 || unread > 0)
		return false;
	return !proto_session_busy(&s->core) && s->cont == NULL && !s->core.tls_starting &&
	       conn_output_pending(s->core.conn) == 0;
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

/* The server's output starts with the greeting and ends with a line end
   (literals inside FETCH replies hold the messages' own lines). */
static void check_output(const struct buf *out)
{
	static const char greet[] = "* OK [CAPABILITY IMAP4rev1 IMAP4rev2";

	CHECK(out->len >= sizeof(greet) - 1 && memcmp(out->data, greet, sizeof(greet) - 1) == 0);
	CHECK(out->len >= 2 && out->data[out->len - 2] == '\r' && out->data[out->len - 1] == '\n');
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
	struct conn *c = conn_new(e->mgr, sv[0], NULL, "imap", "imap");
	CHECK(c != NULL);
	if (loop_fd_add(l, sv[1], LOOP_READ | LOOP_WRITE, client_io, &r) != 0)
		abort();
	imap_session_start(e->imap, c);
	r.tick = loop_timer_add(l, FUZZ_TICK_MS, run_tick, &r);
	loop_run(l);
	loop_timer_del(l, &r.tick);
	loop_fd_del(l, sv[1]);
	close(sv[1]);
	CHECK(imap_service_sessions(e->imap) == 0);
	check_output(&r.out);
	buf_free(&r.out);
	return 0;
}
