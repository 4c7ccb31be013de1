/* SPDX-License-Identifier: MIT */
/*
 * test_net_conn.c - net/conn.h over a socketpair, plain transport: lines in
 * and replies out; drained; a 1 MiB reply then conn_close() arrives whole
 * before the close; conn_abort() from inside data_in fires `closed` only
 * after the callback returns, exactly once, and drops queued output; the
 * idle timeout fires and is restarted by reads; peer close and half-close
 * (answers still delivered); the input limit pauses reading and the
 * session's later buf_consume() outside any callback resumes it;
 * conn_pause_input(); an idle conn frees its big buffers; conn_close()
 * gives up after the linger limit on a peer that never reads; ids are 16 hex
 * digits and distinct; conn_mgr_free() closes what is left, once each.
 * Against dripping clients, with limits of a second or two: a line dripped
 * a byte at a time hits the line deadline although every byte restarts the
 * idle clock; complete lines, even each sent in pieces, keep a session
 * alive past it; a phase (DATA) that drips hits the rate floor, one that
 * streams steadily but never ends hits the phase deadline, one that streams
 * and ends is fine; a session that carries on after an expiry is still
 * watched.
 */
#include "net/conn.h"
#include "net/conn_private.h"
#include "net/loop.h"
#include "test_common.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum mode { M_ECHO, M_SLOW };

struct sess {
	struct loop *loop;
	struct conn_mgr *mgr;
	struct conn *c;
	enum mode mode;
	int cfd; /* client end */
	bool cli_eof;
	struct buf cli; /* what the client received */
	struct buf got; /* what the session consumed */
	int data_in, drained, timeouts, closed, gone;
	bool in_cb, closed_nested, stopped;
	size_t max_seen;
	char reason[96];
	uint64_t t0, t_closed;
	struct timer *consume;
	bool (*done)(struct sess *s);
	bool timed_out;
	bool units;	    /* tell the conn about each consumed line */
	bool in_phase;	    /* between DATA and "." */
	bool carry_on;	    /* the first timeout does not close */
	char why[32];	    /* conn_timeout_reason() at the last timeout */
	struct timer *drip; /* the client sends drip_text piece by piece */
	const char *drip_text;
	size_t drip_off, drip_piece;
	unsigned drip_ms, drip_rounds;
};

static void on_data_in(struct conn *c, void *ctx);
static void on_drained(struct conn *c, void *ctx);
static void on_timeout(struct conn *c, void *ctx);
static void on_closed(struct conn *c, void *ctx, const char *reason);

static const struct conn_events events = {
    .data_in = on_data_in,
    .drained = on_drained,
    .timeout = on_timeout,
    .closed = on_closed,
};

static void handle_line(struct sess *s, struct conn *c, const char *line, size_t len)
{
	buf_append(&s->got, line, len);
	buf_append_c(&s->got, '\n');
	if (s->in_phase) {
		if (len == 1 && line[0] == '.') {
			s->in_phase = false;
			conn_phase_end(c);
			conn_write(c, "+done\r\n", 7);
		}
	} else if (len == 4 && memcmp(line, "DATA", 4) == 0) {
		s->in_phase = true;
		conn_phase_begin(c);
		conn_write(c, "+go\r\n", 5);
	} else if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
		conn_write(c, "+BYE\r\n", 6);
		conn_close(c, "quit");
	} else if (len == 5 && memcmp(line, "ABORT", 5) == 0) {
		conn_write(c, "+never\r\n", 8);
		conn_abort(c, "aborted");
		s->stopped = true;
		/* still valid until `closed`: the session may look at it */
		test_assert(conn_output_pending(c) == 0 || conn_output_pending(c) > 0);
		conn_write(c, "x", 1); /* ignored after abort */
	} else if (len == 3 && memcmp(line, "BIG", 3) == 0) {
		char *big = malloc(1 << 20);
		for (size_t i = 0; i < 1 << 20; i++)
			big[i] = (char)('a' + i % 26);
		conn_write(c, big, 1 << 20);
		free(big);
		conn_close(c, "big done");
	} else {
		conn_printf(c, "+%.*s\r\n", (int)len, line);
	}
}

static void consume_lines(struct sess *s, struct conn *c)
{
	struct buf *in = conn_input(c);
	char *nl;

	while (s->c != NULL && !s->stopped && in->len > 0 &&
	       (nl = memchr(in->data, '\n', in->len)) != NULL) {
		size_t used = (size_t)(nl - in->data) + 1;
		size_t len = used - 1;
		char line[8192];
		if (len > 0 && in->data[len - 1] == '\r')
			len--;
		memcpy(line, in->data, len);
		buf_consume(in, used);
		if (s->units)
			conn_unit_done(c);
		handle_line(s, c, line, len);
	}
}

static void consume_later(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	struct buf *in;

	s->consume = NULL;
	if (s->c == NULL)
		return;
	in = conn_input(s->c);
	buf_append(&s->got, in->data, in->len);
	buf_consume(in, in->len); /* outside any conn callback */
}

static void on_data_in(struct conn *c, void *ctx)
{
	struct sess *s = ctx;
	struct buf *in = conn_input(c);

	s->in_cb = true;
	s->data_in++;
	if (in->len > s->max_seen)
		s->max_seen = in->len;
	if (s->mode == M_ECHO)
		consume_lines(s, c);
	else if (s->consume == NULL)
		s->consume = loop_timer_add(s->loop, 2, consume_later, s);
	s->in_cb = false;
}

static void on_drained(struct conn *c, void *ctx)
{
	struct sess *s = ctx;
	s->drained++;
}

static void on_timeout(struct conn *c, void *ctx)
{
	struct sess *s = ctx;
	s->timeouts++;
	snprintf(s->why, sizeof(s->why), "%s", conn_timeout_reason(c));
	if (s->carry_on) {
		s->carry_on = false;
		return;
	}
	conn_printf(c, "-ERR idle\r\n");
	conn_close(c, "idle");
}

static void on_closed(struct conn *c, void *ctx, const char *reason)
{
	struct sess *s = ctx;
	if (s->in_cb)
		s->closed_nested = true;
	s->closed++;
	s->t_closed = loop_now_ms(s->loop);
	snprintf(s->reason, sizeof(s->reason), "%s", reason);
	loop_timer_del(s->loop, &s->consume);
	loop_timer_del(s->loop, &s->drip);
	s->c = NULL;
}

static void on_gone(struct conn *c, const char *reason, void *ctx)
{
	struct sess *s = ctx;
	s->gone++;
}

static void client_read(struct loop *l, int fd, int mask, void *ctx)
{
	struct sess *s = ctx;
	char tmp[65536];

	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n > 0) {
			buf_append(&s->cli, tmp, (size_t)n);
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			s->cli_eof = true;
			loop_fd_del(l, fd);
		}
		return;
	}
}

static void check_done(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	if (s->done != NULL && s->done(s))
		loop_stop(l);
}

static void guard_cb(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	s->timed_out = true;
	loop_stop(l);
}

static void sess_init(struct sess *s, enum mode mode)
{
	int sv[2];

	memset(s, 0, sizeof(*s));
	s->mode = mode;
	s->loop = loop_new();
	s->mgr = conn_mgr_new(s->loop, NULL);
	conn_mgr_set_gone(s->mgr, on_gone, s);
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	s->c = conn_new(s->mgr, sv[0], NULL, "pop3", "pop3");
	test_assert(s->c != NULL);
	conn_set_events(s->c, &events, s);
	s->cfd = sv[1];
	fcntl(s->cfd, F_SETFL, O_NONBLOCK);
	loop_fd_add(s->loop, s->cfd, LOOP_READ, client_read, s);
	loop_before_sleep(s->loop, check_done, s);
	s->t0 = loop_now_ms(s->loop);
}

static void sess_run(struct sess *s, uint64_t max_ms)
{
	struct timer *g = loop_timer_add(s->loop, max_ms, guard_cb, s);
	loop_run(s->loop);
	if (!s->timed_out)
		loop_timer_del(s->loop, &g);
	test_assert(!s->timed_out);
}

static void sess_free(struct sess *s)
{
	loop_fd_del(s->loop, s->cfd);
	close(s->cfd);
	conn_mgr_free(&s->mgr);
	loop_timer_del(s->loop, &s->consume);
	loop_timer_del(s->loop, &s->drip);
	loop_free(&s->loop);
	buf_free(&s->cli);
	buf_free(&s->got);
}

static void cli_send(struct sess *s, const char *str)
{
	size_t len = strlen(str);
	test_assert(write(s->cfd, str, len) == (ssize_t)len);
}

static bool done_closed(struct sess *s)
{
	return s->closed > 0 && s->cli_eof;
}

static bool done_cli_has(struct sess *s, const char *want)
{
	return s->cli.len >= strlen(want) && strstr(s->cli.data, want) != NULL;
}

/* --- tests --------------------------------------------------------------------------- */

static bool done_echo(struct sess *s)
{
	return done_cli_has(s, "+b\r\n");
}

static void test_echo(void)
{
	test_begin("conn lines in, replies out, drained");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_echo;
	cli_send(&s, "a\r\nb\r\n");
	sess_run(&s, 3000);
	test_assert_str(s.cli.data, "+a\r\n+b\r\n");
	test_assert_str(s.got.data, "a\nb\n");
	test_assert(s.drained >= 1);
	test_assert(s.closed == 0);
	test_assert(!conn_is_tls(s.c));
	test_assert(!conn_tls_available(s.c)); /* no TLS context given */
	test_assert(conn_starttls(s.c) == -1);
	test_assert_str(conn_service(s.c), "pop3");
	test_assert_str(conn_peer_ip(s.c), "local");
	test_assert_str(conn_tls_desc(s.c), "");
	test_assert(conn_loop(s.c) == s.loop);

	/* then QUIT: reply flushed, closed once, gone once */
	s.done = done_closed;
	cli_send(&s, "QUIT\r\n");
	sess_run(&s, 3000);
	test_assert_str(s.cli.data, "+a\r\n+b\r\n+BYE\r\n");
	test_assert(s.closed == 1);
	test_assert(s.gone == 1);
	test_assert_str(s.reason, "quit");
	test_assert(!s.closed_nested);
	test_assert(conn_mgr_count(s.mgr) == 0);
	sess_free(&s);
	test_end();
}

static void test_big_then_close(void)
{
	test_begin("conn 1 MiB reply then conn_close(): all bytes, then EOF");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_closed;
	cli_send(&s, "BIG\r\n");
	sess_run(&s, 10000);
	test_assert(s.cli.len == 1 << 20);
	bool same = s.cli.len == 1 << 20;
	for (size_t i = 0; same && i < s.cli.len; i++)
		same = s.cli.data[i] == (char)('a' + i % 26);
	test_assert(same);
	test_assert(s.closed == 1);
	test_assert_str(s.reason, "big done");
	sess_free(&s);
	test_end();
}

static void test_abort_in_callback(void)
{
	test_begin("conn abort inside data_in: closed after the callback, once");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_closed;
	cli_send(&s, "one\r\nABORT\r\nafter\r\n");
	sess_run(&s, 3000);
	test_assert(s.closed == 1);
	test_assert(s.gone == 1);
	test_assert(!s.closed_nested);
	test_assert_str(s.reason, "aborted");
	test_assert_str(s.got.data, "one\nABORT\n"); /* nothing after the abort */
	test_assert(strstr(s.cli.data != NULL ? s.cli.data : "", "+never") == NULL);
	sess_free(&s);
	test_end();
}

static void test_idle_timeout(void)
{
	test_begin("conn idle timeout fires after the set time");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_closed;
	conn_set_idle_timeout(s.c, 1);
	sess_run(&s, 5000);
	test_assert(s.timeouts == 1);
	test_assert(s.closed == 1);
	test_assert_str(s.reason, "idle");
	test_assert_str(s.cli.data, "-ERR idle\r\n");
	test_assert(s.t_closed - s.t0 >= 1000 && s.t_closed - s.t0 < 3000);
	sess_free(&s);
	test_end();
}

static void send_late(struct loop *l, void *ctx)
{
	cli_send(ctx, "ping\r\n");
}

static void test_idle_restart(void)
{
	test_begin("conn idle timeout restarts on every read");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_closed;
	conn_set_idle_timeout(s.c, 1);
	loop_timer_add(s.loop, 600, send_late, &s);
	sess_run(&s, 5000);
	test_assert(s.timeouts == 1);
	test_assert_str(s.cli.data, "+ping\r\n-ERR idle\r\n");
	test_assert(s.t_closed - s.t0 >= 1600);
	sess_free(&s);
	test_end();
}

static bool done_conn_closed(struct sess *s)
{
	return s->closed > 0;
}

static void test_peer_close(void)
{
	test_begin("conn peer close fires closed with reason disconnected");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_conn_closed;
	loop_fd_del(s.loop, s.cfd);
	close(s.cfd);
	s.cfd = -1;
	sess_run(&s, 3000);
	test_assert(s.closed == 1);
	test_assert_str(s.reason, "disconnected");
	sess_free(&s);
	test_end();
}

static void test_half_close(void)
{
	test_begin("conn half-closed client still gets its answers");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_closed;
	cli_send(&s, "hello\r\n");
	shutdown(s.cfd, SHUT_WR);
	sess_run(&s, 3000);
	test_assert_str(s.cli.data, "+hello\r\n");
	test_assert(s.closed == 1);
	test_assert_str(s.reason, "disconnected");
	sess_free(&s);
	test_end();
}

static bool done_got_1000(struct sess *s)
{
	return s->got.len >= 1000;
}

static void test_input_limit(void)
{
	test_begin("conn input limit pauses reading; consuming later resumes it");
	struct sess s;
	char data[1001];

	sess_init(&s, M_SLOW);
	s.done = done_got_1000;
	conn_set_input_max(s.c, 16);
	for (int i = 0; i < 1000; i++)
		data[i] = (char)('0' + i % 10);
	data[1000] = '\0';
	cli_send(&s, data);
	sess_run(&s, 10000);
	test_assert(s.got.len == 1000);
	test_assert(s.got.len == 1000 && memcmp(s.got.data, data, 1000) == 0);
	test_assert(s.max_seen <= 16);
	test_assert(s.data_in >= 1000 / 16);
	sess_free(&s);
	test_end();
}

static void unpause(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	test_assert(s->data_in == 0);
	conn_pause_input(s->c, false);
}

static bool done_got_x(struct sess *s)
{
	return done_cli_has(s, "+X\r\n");
}

static void test_pause(void)
{
	test_begin("conn_pause_input() holds data_in until resumed");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_got_x;
	conn_pause_input(s.c, true);
	cli_send(&s, "X\r\n");
	loop_timer_add(s.loop, 50, unpause, &s);
	sess_run(&s, 3000);
	test_assert(s.data_in == 1);
	test_assert_str(s.cli.data, "+X\r\n");
	sess_free(&s);
	test_end();
}

static bool done_long(struct sess *s)
{
	return s->cli.len >= 4003 && s->drained > 0;
}

static void test_idle_memory(void)
{
	test_begin("conn idle after a 4 KiB exchange holds little memory");
	struct sess s;
	char line[4003];

	sess_init(&s, M_ECHO);
	s.done = done_long;
	memset(line, 'z', 4000);
	memcpy(line + 4000, "\r\n", 3);
	cli_send(&s, line);
	sess_run(&s, 3000);
	test_assert(s.cli.len == 4003);
	/* no 16 KiB read buffer and no big empty buffers kept around */
	printf("# idle conn footprint %zu bytes\n", conn_footprint(s.c));
	test_assert(conn_footprint(s.c) <= 2048);
	sess_free(&s);
	test_end();
}

static void test_linger_timeout(void)
{
	test_begin("conn_close() gives up on a peer that never reads");
	struct sess s;
	sess_init(&s, M_ECHO);
	s.done = done_conn_closed;
	conn_mgr_set_timeouts(s.mgr, 0, 1);
	loop_fd_del(s.loop, s.cfd); /* the client stops reading */
	cli_send(&s, "BIG\r\n");    /* 1 MiB, more than the socket holds */
	sess_run(&s, 5000);
	test_assert(s.closed == 1);
	test_assert_str(s.reason, "timeout while closing");
	test_assert(s.t_closed - s.t0 >= 1000 && s.t_closed - s.t0 < 4000);
	sess_free(&s);
	test_end();
}

static bool is_hex16(const char *id)
{
	if (strlen(id) != 16)
		return false;
	for (int i = 0; i < 16; i++)
		if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
			return false;
	return true;
}

static void test_ids_and_mgr_free(void)
{
	test_begin("conn ids are 16 hex digits and distinct; mgr_free closes all");
	struct sess s;
	int sv[2][2];
	struct conn *more[2];

	sess_init(&s, M_ECHO);
	for (int i = 0; i < 2; i++) {
		test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) == 0);
		more[i] = conn_new(s.mgr, sv[i][0], NULL, "pop3s", "pop3");
		conn_set_events(more[i], &events, &s);
	}
	test_assert(is_hex16(conn_id(s.c)) && is_hex16(conn_id(more[0])));
	test_assert(strcmp(conn_id(s.c), conn_id(more[0])) != 0);
	test_assert(strcmp(conn_id(more[0]), conn_id(more[1])) != 0);
	test_assert(conn_mgr_count(s.mgr) == 3);
	conn_mgr_free(&s.mgr);
	test_assert(s.closed == 3);
	test_assert(s.gone == 3);
	test_assert_str(s.reason, "server stopping");
	for (int i = 0; i < 2; i++)
		close(sv[i][1]);
	sess_free(&s);
	test_end();
}

/* Replies leave as they are gathered: a TCP conn has Nagle off, or the tail
   of a reply written in pieces (a streamed RETR) waits for a delayed ACK. */
static void test_tcp_nodelay(void)
{
	test_begin("conn turns Nagle off on TCP connections");
	struct loop *l = loop_new();
	struct conn_mgr *m = conn_mgr_new(l, NULL);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	test_assert(bind(ls, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(ls, 1) == 0);
	test_assert(getsockname(ls, (struct sockaddr *)&a, &al) == 0);
	int cl = socket(AF_INET, SOCK_STREAM, 0);
	test_assert(connect(cl, (struct sockaddr *)&a, sizeof(a)) == 0);
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	int fd = accept(ls, (struct sockaddr *)&peer, &pl);
	test_assert(fd >= 0);
	int v = 0;
	socklen_t vl = sizeof(v);
	test_assert(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 0);
	struct conn *c = conn_new(m, fd, (struct sockaddr *)&peer, "pop3", "pop3");
	test_assert(c != NULL);
	test_assert(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &vl) == 0 && v == 1);
	conn_mgr_free(&m);
	loop_free(&l);
	close(cl);
	close(ls);
	test_end();
}

/* --- deadlines against dripping clients ---------------------------------------------- */

/* Sends the next drip_piece bytes of drip_text (from the start again at its
   end), drip_rounds times, one every drip_ms. */
static void drip_cb(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	size_t len = strlen(s->drip_text);

	s->drip = NULL;
	if (s->c == NULL || s->drip_rounds == 0)
		return;
	s->drip_rounds--;
	for (size_t i = 0; i < s->drip_piece; i++) {
		char b = s->drip_text[s->drip_off++ % len];
		test_assert(send(s->cfd, &b, 1, MSG_NOSIGNAL) == 1);
	}
	s->drip = loop_timer_add(l, s->drip_ms, drip_cb, s);
}

static void drip_start(struct sess *s, const char *text, size_t piece, unsigned ms, unsigned rounds)
{
	s->drip_text = text;
	s->drip_off = 0;
	s->drip_piece = piece;
	s->drip_ms = ms;
	s->drip_rounds = rounds;
	s->drip = loop_timer_add(s->loop, 0, drip_cb, s);
}

/* A line of 1 s, a phase of 2 s, at least 10 bytes per 1 s of a phase; the
   idle timeout (3 s) is longer than all, so it never decides these. */
static void sess_init_limits(struct sess *s)
{
	sess_init(s, M_ECHO);
	s->units = true;
	conn_mgr_set_limits(s->mgr,
			    &(struct conn_limits){
				.line_secs = 1, .phase_secs = 2, .rate_bytes = 10, .rate_secs = 1});
	conn_set_idle_timeout(s->c, 3);
	test_assert_str(conn_timeout_reason(s->c), "");
}

/* Runs until the conn is closed; it must have been by `why`, between lo and
   hi ms after `from`. */
static void expect_closed_by(struct sess *s, const char *why, uint64_t from, uint64_t lo,
			     uint64_t hi)
{
	s->done = done_closed;
	sess_run(s, hi + 2000);
	test_assert(s->closed == 1);
	test_assert_str(s->why, why);
	test_assert(s->t_closed - from >= lo && s->t_closed - from < hi);
}

static void test_line_drip(void)
{
	test_begin("conn a line dripped a byte per 200 ms hits the line deadline");
	struct sess s;
	sess_init_limits(&s);
	drip_start(&s, "NOOP", 1, 200, 40); /* 8 s if nothing stopped it */
	expect_closed_by(&s, "line_deadline", s.t0, 1000, 2000);
	test_assert(s.timeouts == 1);
	test_assert_str(s.cli.data, "-ERR idle\r\n");
	sess_free(&s);
	test_end();
}

static bool done_twelve(struct sess *s)
{
	return s->got.len >= 12 * 4; /* "pin\n" or "big\n" */
}

static void test_lines_keep_alive(void)
{
	test_begin("conn complete lines, each in pieces, keep a session past the deadline");
	struct sess s;
	sess_init_limits(&s);
	s.done = done_twelve;
	/* 2 bytes per 100 ms: each line takes 250 ms, twelve take 3 s */
	drip_start(&s, "pin\r\nbig\r\n", 2, 100, 40);
	sess_run(&s, 6000);
	test_assert(s.timeouts == 0 && s.closed == 0);
	test_assert(s.got.len == 12 * 4);
	test_assert(loop_now_ms(s.loop) - s.t0 >= 2500);
	sess_free(&s);
	test_end();
}

static void test_carry_on(void)
{
	test_begin("conn a session that carries on after a line deadline is still watched");
	struct sess s;
	sess_init_limits(&s);
	s.carry_on = true; /* as a session whose own job is still running */
	cli_send(&s, "HAL");
	/* the line deadline at 1 s, then the idle clock (3 s) closes it */
	expect_closed_by(&s, "idle", s.t0, 3000, 5000);
	test_assert(s.timeouts == 2);
	sess_free(&s);
	test_end();
}

static bool done_go(struct sess *s)
{
	return done_cli_has(s, "+go\r\n");
}

/* sess_init_limits(), then DATA: returns the time the phase began. */
static uint64_t sess_init_phase(struct sess *s)
{
	sess_init_limits(s);
	s->done = done_go;
	cli_send(s, "DATA\r\n");
	sess_run(s, 3000);
	return loop_now_ms(s->loop);
}

static void test_phase_drip(void)
{
	test_begin("conn a phase dripped a byte per 300 ms falls below the rate floor");
	struct sess s;
	uint64_t t1 = sess_init_phase(&s);
	drip_start(&s, "x", 1, 300, 30);
	expect_closed_by(&s, "data_rate", t1, 900, 1900);
	sess_free(&s);
	test_end();
}

static void test_phase_deadline(void)
{
	test_begin("conn a phase that streams above the floor but never ends hits its deadline");
	struct sess s;
	uint64_t t1 = sess_init_phase(&s);
	/* 40 bytes per second, body lines of 300 ms: neither the floor nor a
	   line deadline (there is none in a phase) ends it */
	drip_start(&s, "body line\r\n", 4, 100, 60);
	expect_closed_by(&s, "data_deadline", t1, 1900, 2900);
	sess_free(&s);
	test_end();
}

static bool done_done(struct sess *s)
{
	return done_cli_has(s, "+done\r\n");
}

static void stop_drip(struct loop *l, void *ctx)
{
	struct sess *s = ctx;
	loop_timer_del(l, &s->drip);
	cli_send(s, "\r\n.\r\n");
}

static void test_phase_steady(void)
{
	test_begin("conn a steady phase longer than a line deadline and a rate window ends well");
	struct sess s;
	sess_init_phase(&s);
	s.done = done_done;
	drip_start(&s, "x", 3, 100, 100); /* 30 bytes/s, one line without an end */
	loop_timer_add(s.loop, 1600, stop_drip, &s);
	sess_run(&s, 4000);
	test_assert(s.timeouts == 0 && s.closed == 0);
	/* after the phase the line deadline rules again */
	uint64_t t1 = loop_now_ms(s.loop);
	cli_send(&s, "NO");
	expect_closed_by(&s, "line_deadline", t1, 900, 1900);
	sess_free(&s);
	test_end();
}

int main(void)
{
	alarm(100);
	return test_run((void (*[])(void)){
	    test_echo,	       test_big_then_close, test_abort_in_callback, test_idle_timeout,
	    test_idle_restart, test_peer_close,	    test_half_close,	    test_input_limit,
	    test_pause,	       test_idle_memory,    test_linger_timeout,    test_ids_and_mgr_free,
	    test_tcp_nodelay,  test_line_drip,	    test_lines_keep_alive,  test_carry_on,
	    test_phase_drip,   test_phase_deadline, test_phase_steady,	    NULL});
}
