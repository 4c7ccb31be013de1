/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_session.c - libFuzzer target that drives a whole SMTP session:
 * the real service, dispatcher, transaction, worker jobs and group commit,
 * over a socketpair, with a real store in a temporary folder. The first
 * byte picks the role (inbound or submission); the rest is what the client
 * sends, in pieces; once the server has been quiet for FUZZ_QUIET_MS the
 * client half-closes (so pipelined commands, lookups and commits all run
 * before the end). Whatever the input, the session
 * must end once the client has gone (no hang, no leak under ASan), and
 * every reply line must be "ddd" followed by a space or a dash.
 */
#include "fuzz.h"
#include "server/schema.h"
#include "delivery/delivery.h"
#include "directory/directory.h"
#include "net/conn_private.h"
#include "net/loop.h"
#include "net/workers.h"
#include "proto/service.h"
#include "smtp/smtp.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_SESSION_MS 10000 /* a session that outlives its client this long hangs */
#define FUZZ_QUIET_MS 20      /* no reply for this long: the server has caught up */

static const char conf_text[] = "[server]\nhostname = mx.example.test\n"
				"[smtp]\npostmaster = alice@example.test\n";

static struct {
	char dir[64];
	struct config cfg;
	struct service_env srv;
	struct smtp_service *smtp;
	struct conn_mgr *mgr;
	bool ready;
} g;

struct client {
	int fd;
	const char *p;
	size_t len, off;
	size_t step;
	bool shut, timed_out;
	struct buf got;
	struct timer *quiet; /* armed once everything is sent */
};

static void *worker_init(void *arg)
{
	struct store *st = NULL;
	CHECK(store_open(arg, false, &st) == STORE_OK);
	return st;
}

static void worker_deinit(void *ctx)
{
	struct store *st = ctx;
	store_close(&st);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void cleanup(void)
{
	workers_free(&g.srv.workers);
	smtp_service_free(&g.smtp);
	delivery_free(&g.srv.delivery);
	directory_free(&g.srv.dir);
	conn_mgr_free(&g.mgr);
	loop_free(&g.srv.loop);
	config_free(&g.cfg);
	nftw(g.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* OpenSSL makes its random generators on first use, per thread, and keeps
   them: make them before the first input, or LeakSanitizer blames it. */
static void warm_work(void *thread_ctx, void *job)
{
	unsigned char r[8];
	CHECK(RAND_bytes(r, sizeof(r)) == 1);
}

static void warm_done(void *job)
{
	loop_stop(g.srv.loop);
}

static void setup(void)
{
	char *err = NULL;
	struct store *st = NULL;
	struct store_user_new u = {.address = "alice@example.test", .pw_hash = "$y$x"};

	log_set_level(LOG_ERROR);
	snprintf(g.dir, sizeof(g.dir), "/tmp/mailroom-fuzz-XXXXXX");
	CHECK(mkdtemp(g.dir) != NULL);
	CHECK(config_parse(server_schema(), "fuzz", conf_text, sizeof(conf_text) - 1, &g.cfg,
			   &err) == 0);
	CHECK(store_open(g.dir, true, &st) == STORE_OK);
	CHECK(store_domain_add(st, "example.test", DOMAIN_AUTHORITATIVE) == STORE_OK);
	CHECK(store_user_add(st, &u) == STORE_OK);
	store_close(&st);
	g.srv.cfg = &g.cfg;
	CHECK(directory_open(&g.cfg, &g.srv.dir, &err) == 0);
	struct delivery_settings ds = {
	    .hostname = g.cfg.hostname, .data_dir = g.dir, .dir = g.srv.dir};
	const char *derr;
	CHECK(delivery_open(&ds, &g.srv.delivery, &derr) == 0);
	g.srv.loop = loop_new();
	g.srv.workers = workers_new(g.srv.loop, 1, 64, worker_init, worker_deinit, g.dir);
	g.smtp = smtp_service_new(&g.srv);
	g.mgr = conn_mgr_new(g.srv.loop, NULL);
	unsigned char r[8];
	CHECK(RAND_bytes(r, sizeof(r)) == 1);
	CHECK(workers_submit(g.srv.workers, warm_work, warm_done, NULL) == 0);
	loop_run(g.srv.loop);
	atexit(cleanup);
	g.ready = true;
}

static void quiet_fired(struct loop *l, void *ctx)
{
	struct client *c = ctx;

	c->quiet = NULL;
	shutdown(c->fd, SHUT_WR);
	c->shut = true;
}

/* Sends the next piece (sizes vary, so pipelining and partial lines are
   both seen); once everything is out, waits for the server to go quiet. */
static void client_send(struct client *c)
{
	while (c->off < c->len) {
		size_t n = c->len - c->off < c->step ? c->len - c->off : c->step;
		ssize_t w = write(c->fd, c->p + c->off, n);
		if (w <= 0)
			return; /* full: again on the next turn */
		c->off += (size_t)w;
		c->step = c->step * 5 % 61 + 1;
	}
	if (!c->shut) {
		loop_timer_del(g.srv.loop, &c->quiet);
		c->quiet = loop_timer_add(g.srv.loop, FUZZ_QUIET_MS, quiet_fired, c);
	}
}

static void client_io(struct loop *l, int fd, int mask, void *ctx)
{
	struct client *c = ctx;
	char tmp[4096];
	ssize_t n;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0)
		if (c->got.len < 1 << 20)
			buf_append(&c->got, tmp, (size_t)n);
	if (n == 0 && c->shut)
		loop_fd_mod(l, fd, 0); /* the server closed too */
	client_send(c);
}

static void check_done(struct loop *l, void *ctx)
{
	if (smtp_service_sessions(g.smtp) == 0)
		loop_stop(l);
}

static void guard(struct loop *l, void *ctx)
{
	struct client *c = ctx;
	c->timed_out = true;
	loop_stop(l);
}

/* Every line the server sent is a reply line: three digits, then space or
   dash (RFC 5321 §4.2), ending in CR LF. */
static void check_replies(const struct buf *b)
{
	const char *p = b->data, *end = b->data + b->len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			break; /* a reply cut by the close */
		CHECK(eol - p >= 5 && eol[-1] == '\r');
		CHECK(isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
		      isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-'));
		p = eol + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];

	if (size < 1 || size > 64 * 1024)
		return 0;
	if (!g.ready)
		setup();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	bool submission = (data[0] & 1) != 0;
	struct conn *conn =
	    conn_new(g.mgr, sv[0], NULL, submission ? "submission" : "smtp", "smtp");
	CHECK(conn != NULL);
	struct client c = {.fd = sv[1], .p = (const char *)data + 1, .len = size - 1, .step = 1};
	fcntl(c.fd, F_SETFL, O_NONBLOCK);
	smtp_session_start(g.smtp, conn, submission);
	CHECK(loop_fd_add(g.srv.loop, c.fd, LOOP_READ, client_io, &c) == 0);
	client_send(&c);
	loop_before_sleep(g.srv.loop, check_done, NULL);
	struct timer *t = loop_timer_add(g.srv.loop, FUZZ_SESSION_MS, guard, &c);
	if (smtp_service_sessions(g.smtp) > 0)
		loop_run(g.srv.loop);
	if (!c.timed_out)
		loop_timer_del(g.srv.loop, &t);
	loop_before_sleep_del(g.srv.loop, check_done, NULL);
	loop_timer_del(g.srv.loop, &c.quiet);
	c.shut = true;
	client_io(g.srv.loop, c.fd, LOOP_READ, &c); /* what is left */
	loop_fd_del(g.srv.loop, c.fd);
	close(c.fd);
	CHECK(!c.timed_out);
	CHECK(c.got.len >= 4 && memcmp(c.got.data, "220 ", 4) == 0);
	check_replies(&c.got);
	buf_free(&c.got);
	return 0;
}
