/* SPDX-License-Identifier: MIT */
/*
 * http.c - the admin endpoint (see admin.h): listeners, one small state
 * machine per connection, and the cached store gauges.
 *
 * A connection goes READ (head bytes in, parsed after every read) ->
 * WAIT (only when the store gauges are stale: a worker job is out) ->
 * WRITE (the whole response, then shutdown of our side) -> LINGER (the
 * client's leftovers read and dropped until it closes, so our close does
 * not reset the connection under the response) -> closed. One deadline
 * timer covers the whole life; LINGER gets a shorter one.
 */
#include "admin/admin.h"
#include "admin/http_parse.h"
#include "admin/metrics.h"
#include "directory/directory.h"
#include "directory/penalty.h"
#include "net/listen.h"
#include "net/loop.h"
#include "net/workers.h"
#include "proto/service.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_LINGER_MS 1000
#define ADMIN_BACKLOG 64
#define ADMIN_ERR_MAX 256
#define ADMIN_ACCEPT_PAUSE_MS 100 /* after EMFILE and friends */

enum hc_state { HC_READ, HC_WAIT, HC_WRITE, HC_LINGER };
enum hc_target { HC_METRICS, HC_HEALTH };

struct http_conn {
	struct http_conn *next, *prev;
	struct admin *a;
	int fd;
	enum hc_state state;
	enum hc_target target;
	bool head_only;
	struct timer *deadline;
	uint64_t started_ms;
	struct buf out;
	size_t out_off;
	size_t in_len;
	char ip[INET6_ADDRSTRLEN];
	char in[HTTP_HEAD_MAX];
};

struct admin {
	struct loop *loop;
	const struct service_env *env;
	int fds[ADMIN_LISTEN_MAX];
	size_t n_fds;
	struct http_conn *conns;
	unsigned n_conns;
	struct timer *pause; /* accepting paused: out of descriptors */
	/* the store gauges: the last answer, when it came, whether one is out */
	struct store_stats stats;
	bool stats_ok, fetching, stopping;
	uint64_t stats_at_ms; /* 0: never */
};

struct stats_job {
	struct admin *a;
	struct store_stats stats;
	int rc;
	char err[ADMIN_ERR_MAX];
};

/* --- connections ------------------------------------------------------------------------ */

static void conn_close(struct http_conn *c)
{
	struct admin *a = c->a;

	loop_timer_del(a->loop, &c->deadline);
	loop_fd_del(a->loop, c->fd);
	close(c->fd);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	a->n_conns--;
	buf_free(&c->out);
	free(c);
}

static void deadline_hit(struct loop *l, void *ctx)
{
	struct http_conn *c = ctx;
	c->deadline = NULL;
	conn_close(c);
}

static void linger_begin(struct http_conn *c)
{
	shutdown(c->fd, SHUT_WR);
	c->state = HC_LINGER;
	loop_timer_del(c->a->loop, &c->deadline);
	c->deadline = loop_timer_add(c->a->loop, ADMIN_LINGER_MS, deadline_hit, c);
	loop_fd_mod(c->a->loop, c->fd, LOOP_READ);
}

/* Writes what it can; LINGER once all is out. Returns -1 if c is closed. */
static int flush_out(struct http_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n =
		    send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		conn_close(c);
		return -1;
	}
	linger_begin(c);
	return 0;
}

static const char *status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Error";
	}
}

/* The whole response, then off it goes; one record per request (the
   command is the method, or NULL for a head that did not parse). */
static void respond(struct http_conn *c, int status, const char *type, const char *body, size_t len,
		    const char *method)
{
	char code[8];

	buf_printf(&c->out,
		   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		   "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
		   status, status_text(status), type, len,
		   status == 405 ? "Allow: GET, HEAD\r\n" : "");
	if (!c->head_only)
		buf_append(&c->out, body, len);
	snprintf(code, sizeof(code), "%d", status);
	log_record(LOG_DEBUG, &(struct log_record){
				  .event = LOG_EV_COMMAND,
				  .service = "metrics",
				  .ip = c->ip,
				  .command = method,
				  .result = status < 400 ? "ok" : "err",
				  .reason = code,
				  .usec = (loop_now_ms(c->a->loop) - c->started_ms) * 1000,
			      });
	c->state = HC_WRITE;
	loop_fd_mod(c->a->loop, c->fd, LOOP_WRITE);
	flush_out(c);
}

/* An error answer: its reason phrase as the body. */
static void respond_error(struct http_conn *c, int status, const char *method)
{
	char text[64];
	int n = snprintf(text, sizeof(text), "%s\n", status_text(status));
	respond(c, status, "text/plain; charset=utf-8", text, (size_t)n, method);
}

static void answer(struct http_conn *c)
{
	struct admin *a = c->a;
	const char *method = c->head_only ? "HEAD" : "GET";
	struct buf body = {0};

	if (c->target == HC_HEALTH) {
		const char *text = a->stats_ok ? "ok\n" : "store unreadable\n";
		respond(c, a->stats_ok ? 200 : 503, "text/plain; charset=utf-8", text, strlen(text),
			method);
		return;
	}
	const struct service_env *env = a->env;
	struct metrics_gauges g = {
	    .auth_cache_hits = directory_cache_hits(env->dir),
	    .penalty_entries = penalty_count(env->penalty),
	    .workers_queue_depth = workers_depth(env->workers),
	    .store_ok = a->stats_ok,
	    .queue_messages = a->stats.queue_messages,
	    .store_bytes = a->stats.db_bytes,
	    .store_bodies = a->stats.bodies,
	};
	int64_t now = (int64_t)time(NULL);
	if (a->stats.queue_oldest > 0 && a->stats.queue_oldest < now)
		g.queue_oldest_age_seconds = (uint64_t)(now - a->stats.queue_oldest);
	metrics_render(&body, &g);
	respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", body.data, body.len, method);
	buf_free(&body);
}

/* --- the store gauges ------------------------------------------------------------------- */

static void stats_work(void *thread_ctx, void *p)
{
	struct stats_job *j = p;
	struct store *st = thread_ctx;

	j->rc = store_stats(st, &j->stats);
	if (j->rc != STORE_OK)
		snprintf(j->err, sizeof(j->err), "%s", store_error(st));
}

/* Answers every connection that waits for the gauges. */
static void answer_waiting(struct admin *a)
{
	for (struct http_conn *c = a->conns, *next; c != NULL; c = next) {
		next = c->next; /* answer() may close c */
		if (c->state == HC_WAIT)
			answer(c);
	}
}

static void stats_done(void *p)
{
	struct stats_job *j = p;
	struct admin *a = j->a;

	a->fetching = false;
	if (!a->stopping) {
		bool ok = j->rc == STORE_OK;
		if (a->stats_at_ms == 0 ? !ok : ok != a->stats_ok) {
			if (ok)
				log_info("metrics: the store answers again");
			else
				log_warn("metrics: the store does not answer: %s", j->err);
		}
		a->stats = j->stats;
		a->stats_ok = ok;
		a->stats_at_ms = loop_now_ms(a->loop);
		if (a->stats_at_ms == 0)
			a->stats_at_ms = 1;
		answer_waiting(a);
	}
	free(j);
}

/* Answers now with fresh gauges, or parks c until the query is back. */
static void answer_with_stats(struct http_conn *c)
{
	struct admin *a = c->a;
	uint64_t now = loop_now_ms(a->loop);

	if (a->stats_at_ms != 0 && now - a->stats_at_ms < ADMIN_CACHE_SECS * 1000ULL) {
		answer(c);
		return;
	}
	c->state = HC_WAIT;
	loop_fd_mod(a->loop, c->fd, 0);
	if (a->fetching)
		return;
	struct stats_job *j = xcalloc(1, sizeof(*j));
	j->a = a;
	if (workers_submit(a->env->workers, stats_work, stats_done, j) < 0) {
		/* the pool is full: what we had, or "store unreadable" */
		free(j);
		answer_waiting(a);
		return;
	}
	a->fetching = true;
}

static void route(struct http_conn *c, const struct http_request *req)
{
	const char *method = slice_eq(req->method, "GET")    ? "GET"
			     : slice_eq(req->method, "HEAD") ? "HEAD"
							     : "other";

	c->head_only = slice_eq(req->method, "HEAD");
	if (slice_eq(req->path, "/metrics"))
		c->target = HC_METRICS;
	else if (slice_eq(req->path, "/health"))
		c->target = HC_HEALTH;
	else {
		respond_error(c, 404, method);
		return;
	}
	if (method[0] == 'o') {
		c->head_only = false;
		respond_error(c, 405, method);
		return;
	}
	answer_with_stats(c);
}

static void conn_ready(struct loop *l, int fd, int mask, void *ctx)
{
	struct http_conn *c = ctx;

	if (c->state == HC_WRITE) {
		if (mask & LOOP_ERROR)
			conn_close(c);
		else
			flush_out(c);
		return;
	}
	if (c->state == HC_LINGER) {
		char junk[4096];
		ssize_t n = 0;
		/* a bounded drain per wake-up: a client that keeps sending gets
		   the loop back in turns, and the linger timer ends it */
		for (int i = 0; i < 16 && (n = read(fd, junk, sizeof(junk))) > 0; i++)
			;
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
			conn_close(c);
		return;
	}
	if (c->state == HC_WAIT) { /* only an error or hang-up gets here */
		conn_close(c);
		return;
	}
	while (c->in_len < sizeof(c->in)) {
		ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		conn_close(c); /* closed or reset before a whole head */
		return;
	}
	struct http_request req;
	int status;
	int r = http_request_parse(c->in, c->in_len, &req, &status);
	if (r < 0)
		respond_error(c, status, NULL);
	else if (r > 0)
		route(c, &req);
}

static void peer_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	const void *addr = NULL;
	int af = ss->ss_family;

	if (af == AF_INET)
		addr = &((const struct sockaddr_in *)ss)->sin_addr;
	else if (af == AF_INET6)
		addr = &((const struct sockaddr_in6 *)ss)->sin6_addr;
	if (addr == NULL || inet_ntop(af, addr, out, (socklen_t)len) == NULL)
		snprintf(out, len, "?");
}

static void accept_ready(struct loop *l, int fd, int mask, void *ctx);

static void accept_resume(struct loop *l, void *ctx)
{
	struct admin *a = ctx;
	a->pause = NULL;
	for (size_t i = 0; i < a->n_fds; i++)
		loop_fd_mod(l, a->fds[i], LOOP_READ);
}

static void accept_pause(struct admin *a)
{
	if (a->pause != NULL)
		return;
	for (size_t i = 0; i < a->n_fds; i++)
		loop_fd_mod(a->loop, a->fds[i], 0);
	a->pause = loop_timer_add(a->loop, ADMIN_ACCEPT_PAUSE_MS, accept_resume, a);
}

static void accept_ready(struct loop *l, int fd, int mask, void *ctx)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	struct admin *a = ctx;

	for (int i = 0; i < ADMIN_CONNS_MAX && !a->stopping; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* level-triggered: without a pause the loop would spin */
				log_error("metrics: accept: %s; pausing %d ms", strerror(errno),
					  ADMIN_ACCEPT_PAUSE_MS);
				accept_pause(a);
			} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				   errno != ECONNABORTED) {
				log_error("metrics: accept: %s", strerror(errno));
			}
			return;
		}
		if (a->n_conns >= ADMIN_CONNS_MAX) {
			ssize_t w = send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			(void)w;
			close(cfd);
			continue;
		}
		struct http_conn *c = xcalloc(1, sizeof(*c));
		c->a = a;
		c->fd = cfd;
		c->started_ms = loop_now_ms(l);
		peer_text(&ss, c->ip, sizeof(c->ip));
		if (loop_fd_add(l, cfd, LOOP_READ, conn_ready, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->deadline = loop_timer_add(l, ADMIN_DEADLINE_SECS * 1000ULL, deadline_hit, c);
		c->next = a->conns;
		if (a->conns != NULL)
			a->conns->prev = c;
		a->conns = c;
		a->n_conns++;
	}
}

/* --- listeners ------------------------------------------------------------------------ */

/* 0, or -1 with *err_r. */
static int bind_addr(struct admin *a, const char *addr, char **err_r)
{
	char *why = NULL;
	int n =
	    net_listen(addr, ADMIN_BACKLOG, a->fds + a->n_fds, ADMIN_LISTEN_MAX - a->n_fds, &why);
	if (n < 0) {
		*err_r = xasprintf("[metrics] listen: %s", why);
		free(why);
		return -1;
	}
	a->n_fds += (size_t)n;
	return 0;
}

static void listeners_close(struct admin *a)
{
	loop_timer_del(a->loop, &a->pause);
	for (size_t i = 0; i < a->n_fds; i++) {
		loop_fd_del(a->loop, a->fds[i]);
		close(a->fds[i]);
	}
	a->n_fds = 0;
}

int admin_listen(struct loop *l, const struct config *cfg, struct admin **a_r, char **err_r)
{
	const struct listen_list *addrs = &metrics_config(cfg)->listen;

	*a_r = NULL;
	*err_r = NULL;
	if (addrs->count == 0)
		return 0;
	struct admin *a = xcalloc(1, sizeof(*a));
	a->loop = l;
	for (size_t i = 0; i < addrs->count; i++) {
		if (bind_addr(a, addrs->addrs[i], err_r) < 0) {
			for (size_t k = 0; k < a->n_fds; k++)
				close(a->fds[k]);
			free(a);
			return -1;
		}
	}
	/* one thread still (admin.h): the sink is in place before any other */
	const char *ports[METRICS_SERVICES_MAX];
	metrics_init(ports, config_listen_names(cfg, ports, METRICS_SERVICES_MAX));
	log_set_sink(metrics_record);
	*a_r = a;
	return 0;
}

void admin_start(struct admin *a, const struct service_env *env)
{
	if (a == NULL)
		return;
	a->env = env;
	for (size_t i = 0; i < a->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[INET6_ADDRSTRLEN];
		unsigned port = 0;
		if (loop_fd_add(a->loop, a->fds[i], LOOP_READ, accept_ready, a) < 0)
			log_fatal("metrics: cannot watch a listener: %s", strerror(errno));
		if (getsockname(a->fds[i], (struct sockaddr *)&ss, &sl) == 0) {
			peer_text(&ss, ip, sizeof(ip));
			port =
			    ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							   : ((struct sockaddr_in *)&ss)->sin_port);
			log_info("listening service=metrics addr=%s%s%s:%u",
				 ss.ss_family == AF_INET6 ? "[" : "", ip,
				 ss.ss_family == AF_INET6 ? "]" : "", port);
		}
	}
}

void admin_stop(struct admin *a)
{
	if (a == NULL)
		return;
	a->stopping = true;
	listeners_close(a);
	while (a->conns != NULL)
		conn_close(a->conns);
}

void admin_free(struct admin **ap)
{
	struct admin *a = *ap;
	if (a == NULL)
		return;
	admin_stop(a);
	free(a);
	*ap = NULL;
}
