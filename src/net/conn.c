/* SPDX-License-Identifier: MIT */
/*
 * conn.c - client connections (conn.h) and their per-loop manager
 * (conn_private.h).
 *
 * A conn owns its socket, a transport (plain, or TLS from tls/ after the
 * handshake: nginx swaps c->recv/c->send the same way), an input and an
 * output buffer, and one timer that serves the handshake timeout, the
 * close linger, and in between the earliest of the session's clocks (idle,
 * line deadline, phase deadline, rate window; conn.h "Time"). All I/O
 * happens in conn_io(), which only the loop calls (fd events, the timer,
 * the manager's before-sleep pass).
 * Session calls (conn_write, conn_close, conn_starttls, ...) only record
 * what is wanted and put the conn on the pending list; the before-sleep
 * pass then flushes output in one write per conn and iteration (Redis
 * handleClientsWithPendingWrites) and finishes closes.
 *
 * Re-entrancy (OpenSMTPD io_frame_enter): callbacks run inside a frame;
 * conn_io() panics if entered from one. `closed` therefore never fires from
 * inside a session's own call: it fires from conn_io() or the timer, once,
 * then the conn is freed (or, if still on a manager list, freed when it
 * leaves the list: a "gone" conn is never touched again).
 *
 * Memory: reads go through a stack buffer, so an idle conn holds no read
 * space; empty buffers larger than CONN_BUF_KEEP are freed; OpenSSL frees
 * its record buffers itself (SSL_MODE_RELEASE_BUFFERS).
 */
#include "net/conn.h"
#include "net/conn_private.h"
#include "net/loop.h"
#include "tls/tls_private.h"
#include "util/log.h"
#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sockios.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/rand.h>

_Static_assert(TLS_WANT_READ == LOOP_READ && TLS_WANT_WRITE == LOOP_WRITE,
	       "tls_conn_events() answers in the loop's bits");

#define CONN_READ_CHUNK 16384	     /* one TLS record */
#define CONN_READ_BURST (256 * 1024) /* per conn and round, for fairness */
#define CONN_INPUT_MAX_DEFAULT 65536
#define CONN_BUF_KEEP 512     /* empty buffers above this are freed */
#define CONN_COMPACT_MIN 4096 /* written prefix worth a memmove */
#define CONN_IO_ROUNDS 8      /* read/write rounds per conn_io() */
#define CONN_PENDING_ROUNDS 8 /* before-sleep passes before giving up */

/* Transport results: bytes (> 0) or one of these (same as tls/'s). */
#define CONN_IO_AGAIN TLS_IO_AGAIN
#define CONN_IO_EOF TLS_IO_EOF
#define CONN_IO_ERROR TLS_IO_ERROR

enum conn_tls_state {
	CONN_TLS_OFF,
	CONN_TLS_FLUSHING, /* STARTTLS: plaintext reply still going out */
	CONN_TLS_HANDSHAKE,
	CONN_TLS_ON,
};

enum conn_expiry {
	CONN_EXPIRY_NONE,
	CONN_EXPIRY_IDLE,
	CONN_EXPIRY_LINE,
	CONN_EXPIRY_PHASE,
	CONN_EXPIRY_RATE,
};

static const char *const conn_expiry_names[] = {
    [CONN_EXPIRY_NONE] = "",
    [CONN_EXPIRY_IDLE] = "idle",
    [CONN_EXPIRY_LINE] = "line_deadline",
    [CONN_EXPIRY_PHASE] = "data_deadline",
    [CONN_EXPIRY_RATE] = "data_rate",
};

struct conn_transport {
	ssize_t (*read)(struct conn *c, void *p, size_t n);
	ssize_t (*write)(struct conn *c, const void *p, size_t n);
	int (*events)(const struct conn *c, bool in, bool out);
	bool (*pending)(const struct conn *c);
	const char *(*error)(const struct conn *c);
};

struct conn_mgr {
	struct loop *loop;
	struct tls_ctx *tls;
	struct conn *all;     /* doubly linked through prev/next */
	struct conn *pending; /* singly linked through pnext */
	struct conn *full;    /* input full: singly linked through fnext */
	unsigned count;
	unsigned handshake_secs, linger_secs;
	struct conn_limits lim;
	conn_gone_fn *gone;
	void *gone_ctx;
};

struct conn {
	struct conn_mgr *mgr;
	struct conn *prev, *next, *pnext, *fnext;
	const struct conn_transport *tr;
	struct tls_conn *tls;
	const struct conn_events *ev;
	void *ctx;

	struct buf in, out;
	size_t out_off;	 /* bytes of out already written */
	size_t tls_mark; /* STARTTLS: out bytes to send in plaintext */
	size_t in_max;

	struct timer *timer;
	uint64_t deadline, timer_at; /* ms; deadline 0 = no timeout */
	unsigned idle_secs;
	/* the session's clocks (absolute ms, 0 = not running); while the
	   transport is readable and no close is under way, deadline is the
	   earliest of them (conn_clocks_arm) */
	uint64_t idle_at, unit_at, phase_at, window_at;
	uint64_t window_bytes, window_seen; /* this rate window; the last one */
	enum conn_expiry expiry;	    /* why `timeout` fired last */

	int fd;
	int mask; /* registered with the loop */
	int err;  /* errno of the last failed plain read/write */
	unsigned frame;
	const char *service, *alpn; /* conn_new() */
	enum conn_tls_state tls_state;
	bool listed, in_full, paused, eof, closing, doomed, graceful, gone, phase;

	char *tls_desc;
	char tls_version[16]; /* "TLSv1.3" once TLS runs */
	uint64_t born_us;     /* log_now_usec() at accept */
	uint64_t tls_us;      /* ... when the handshake began */
	/* for the session record (conn_set_session_info, conn_session_extra) */
	char *user, *extra;
	uint64_t commands, bytes;
	char close_detail[96]; /* the limit a clock ended the session with */
	char id[17];
	char ip[INET6_ADDRSTRLEN];
	char reason[96];
};

static void conn_on_fd(struct loop *l, int fd, int mask, void *ctx);
static void conn_on_timer(struct loop *l, void *ctx);

/* --- ids ------------------------------------------------------------------------ */

static atomic_uint_fast64_t conn_counter;
static uint64_t conn_id_key;
static pthread_once_t conn_id_once = PTHREAD_ONCE_INIT;

static void conn_id_init(void)
{
	if (RAND_bytes((unsigned char *)&conn_id_key, sizeof(conn_id_key)) != 1)
		conn_id_key = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
}

/* splitmix64's finaliser is a bijection, so distinct counters give
   distinct ids, and the random key keeps them from looking sequential. */
static void conn_make_id(char out[17])
{
	pthread_once(&conn_id_once, conn_id_init);
	uint64_t x = atomic_fetch_add(&conn_counter, 1) + conn_id_key;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	x ^= x >> 31;
	snprintf(out, 17, "%016llx", (unsigned long long)x);
}

/* --- transports ------------------------------------------------------------------- */

static ssize_t plain_read(struct conn *c, void *p, size_t n)
{
	for (;;) {
		ssize_t r = recv(c->fd, p, n, 0);
		if (r > 0)
			return r;
		if (r == 0)
			return CONN_IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return CONN_IO_AGAIN;
		c->err = errno;
		return CONN_IO_ERROR;
	}
}

static ssize_t plain_write(struct conn *c, const void *p, size_t n)
{
	for (;;) {
		ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r > 0 ? r : CONN_IO_AGAIN;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return CONN_IO_AGAIN;
		c->err = errno;
		return CONN_IO_ERROR;
	}
}

static int plain_events(const struct conn *c, bool in, bool out)
{
	return (in ? LOOP_READ : 0) | (out ? LOOP_WRITE : 0);
}

static bool plain_pending(const struct conn *c)
{
	return false;
}

static const char *plain_error(const struct conn *c)
{
	return c->err != 0 ? strerror(c->err) : "connection closed";
}

static const struct conn_transport plain_transport = {
    plain_read, plain_write, plain_events, plain_pending, plain_error,
};

static ssize_t tls_read(struct conn *c, void *p, size_t n)
{
	return tls_conn_read(c->tls, p, n);
}

static ssize_t tls_write(struct conn *c, const void *p, size_t n)
{
	return tls_conn_write(c->tls, p, n);
}

static int tls_events(const struct conn *c, bool in, bool out)
{
	return tls_conn_events(c->tls, in, out);
}

static bool tls_pending(const struct conn *c)
{
	return tls_conn_pending(c->tls);
}

static const char *tls_error(const struct conn *c)
{
	return tls_conn_error(c->tls);
}

static const struct conn_transport tls_transport = {
    tls_read, tls_write, tls_events, tls_pending, tls_error,
};

/* --- small helpers ---------------------------------------------------------------- */

static struct loop *mgr_loop(const struct conn *c)
{
	return c->mgr->loop;
}

static void conn_schedule(struct conn *c)
{
	if (c->listed || c->gone)
		return;
	c->listed = true;
	c->pnext = c->mgr->pending;
	c->mgr->pending = c;
}

static void conn_set_reason(struct conn *c, const char *fmt, ...) ATTR_FORMAT(2, 3);
static void conn_set_reason(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

/* Marks the conn for closing now; conn_io() or the before-sleep pass
   finishes it. `graceful` sends TLS close_notify first. */
static void conn_doom(struct conn *c, bool graceful)
{
	if (c->doomed)
		return;
	c->doomed = true;
	c->graceful = graceful;
	conn_schedule(c);
}

static void conn_fail(struct conn *c, const char *what)
{
	if (c->doomed)
		return;
	if (!c->closing) /* keep the session's own reason for a close in progress */
		conn_set_reason(c, "%s: %s", what, c->tr->error(c));
	conn_doom(c, false);
}

/* The one timer: arm it for `deadline` (absolute ms; 0 = none). */
static void conn_timer_set(struct conn *c, uint64_t deadline)
{
	struct loop *l = mgr_loop(c);
	uint64_t now = loop_now_ms(l);

	loop_timer_del(l, &c->timer);
	c->deadline = deadline;
	if (deadline == 0)
		return;
	c->timer_at = deadline;
	c->timer = loop_timer_add(l, deadline > now ? deadline - now : 0, conn_on_timer, c);
}

/* Moves the deadline later without touching the heap: the timer fires at
   its old time and re-arms itself for the rest (nginx does the same trick
   with its timer rbtree's lazy updates). */
static void conn_deadline_push(struct conn *c, uint64_t deadline)
{
	if (c->timer != NULL && c->timer_at <= deadline)
		c->deadline = deadline;
	else
		conn_timer_set(c, deadline);
}

static uint64_t conn_after(const struct conn *c, unsigned secs)
{
	return secs == 0 ? 0 : loop_now_ms(mgr_loop(c)) + (uint64_t)secs * 1000;
}

static bool conn_readable_state(const struct conn *c)
{
	return c->tls_state == CONN_TLS_OFF || c->tls_state == CONN_TLS_ON;
}

/* --- the session's clocks (conn.h "Time") ------------------------------------------ */

/* Points the one timer at the earliest running clock. Only while they
   rule: the handshake and the close linger set the timer themselves. */
static void conn_clocks_arm(struct conn *c)
{
	const uint64_t at[] = {c->idle_at, c->unit_at, c->phase_at, c->window_at};
	uint64_t first = 0;

	if (c->gone || c->doomed || c->closing || !conn_readable_state(c))
		return;
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		if (at[i] != 0 && (first == 0 || at[i] < first))
			first = at[i];
	if (first == 0)
		conn_timer_set(c, 0);
	else
		conn_deadline_push(c, first);
}

static void conn_clocks_clear(struct conn *c)
{
	c->idle_at = c->unit_at = c->phase_at = c->window_at = 0;
	c->window_bytes = 0;
	c->phase = false;
}

/* The line deadline of the unit that the input holds the start of, if any. */
static uint64_t conn_unit_deadline(const struct conn *c)
{
	return c->in.len > 0 ? conn_after(c, c->mgr->lim.line_secs) : 0;
}

/* `n` bytes arrived. The idle clock restarts; a unit opens with its first
   byte; a phase counts them towards its rate window. */
static void conn_clocks_input(struct conn *c, size_t n)
{
	if (c->idle_secs != 0)
		c->idle_at = conn_after(c, c->idle_secs);
	if (c->phase)
		c->window_bytes += n;
	else if (c->unit_at == 0)
		c->unit_at = conn_after(c, c->mgr->lim.line_secs);
	conn_clocks_arm(c);
}

/* Which clock has run out at `now`, if any; that one stops (a rate window
   that was met starts the next one instead), so that a session which
   carries on is not woken again at once. */
static enum conn_expiry conn_clocks_expired(struct conn *c, uint64_t now)
{
	const struct conn_limits *lim = &c->mgr->lim;

	if (c->phase_at != 0 && now >= c->phase_at) {
		c->phase_at = 0;
		return CONN_EXPIRY_PHASE;
	}
	if (c->unit_at != 0 && now >= c->unit_at) {
		c->unit_at = 0;
		return CONN_EXPIRY_LINE;
	}
	if (c->window_at != 0 && now >= c->window_at) {
		c->window_seen = c->window_bytes;
		c->window_bytes = 0;
		c->window_at = now + (uint64_t)lim->rate_secs * 1000;
		if (c->window_seen < lim->rate_bytes)
			return CONN_EXPIRY_RATE;
	}
	if (c->idle_at != 0 && now >= c->idle_at) {
		c->idle_at = 0;
		return CONN_EXPIRY_IDLE;
	}
	return CONN_EXPIRY_NONE;
}

/* The limit a clock ended the session with, for its record: "timeout=idle
   limit=300s", or the rate's "timeout=data_rate bytes=N window=Ns min=N". */
static void conn_note_expiry(struct conn *c)
{
	const struct conn_limits *lim = &c->mgr->lim;
	const char *why = conn_expiry_names[c->expiry];
	unsigned limit = c->expiry == CONN_EXPIRY_IDLE	  ? c->idle_secs
			 : c->expiry == CONN_EXPIRY_LINE  ? lim->line_secs
			 : c->expiry == CONN_EXPIRY_PHASE ? lim->phase_secs
							  : 0;

	if (c->expiry == CONN_EXPIRY_NONE)
		return;
	if (c->expiry == CONN_EXPIRY_RATE)
		snprintf(c->close_detail, sizeof(c->close_detail),
			 "timeout=%s bytes=%llu window=%us min=%u", why,
			 (unsigned long long)c->window_seen, lim->rate_secs, lim->rate_bytes);
	else
		snprintf(c->close_detail, sizeof(c->close_detail), "timeout=%s limit=%us", why,
			 limit);
}

static bool conn_wants_read(const struct conn *c)
{
	return !c->gone && !c->doomed && !c->closing && !c->eof && !c->paused &&
	       conn_readable_state(c) && c->in.len < c->in_max;
}

/* Output bytes that may go out now: up to the STARTTLS mark while the
   plaintext reply drains, nothing during the handshake. */
static size_t conn_out_end(const struct conn *c)
{
	switch (c->tls_state) {
	case CONN_TLS_FLUSHING:
		return c->tls_mark;
	case CONN_TLS_HANDSHAKE:
		return c->out_off;
	default:
		return c->out.len;
	}
}

/* Drops the written prefix of the output buffer. */
static void out_compact(struct conn *c)
{
	if (c->out_off == 0)
		return;
	size_t rest = c->out.len - c->out_off;
	if (rest > 0)
		memmove(c->out.data, c->out.data + c->out_off, rest);
	c->out.len = rest;
	c->out.data[rest] = '\0';
	c->tls_mark = c->tls_mark > c->out_off ? c->tls_mark - c->out_off : 0;
	c->out_off = 0;
}

/* Before appending: reuse the space of what was written already. */
static void out_prepare(struct conn *c)
{
	if (c->out_off > 0 && (c->out_off == c->out.len ||
			       (c->out_off >= CONN_COMPACT_MIN && c->out_off * 2 >= c->out.len)))
		out_compact(c);
}

static void conn_trim(struct conn *c)
{
	if (c->out_off == c->out.len && c->out.cap > CONN_BUF_KEEP) {
		buf_free(&c->out);
		c->out_off = c->tls_mark = 0;
	}
	if (c->in.len == 0 && c->in.cap > CONN_BUF_KEEP)
		buf_free_secret(&c->in); /* it may have held a password */
}

/* --- callbacks, each inside a frame ------------------------------------------------ */

static void fire(struct conn *c, void (*cb)(struct conn *, void *))
{
	if (cb == NULL || c->gone)
		return;
	c->frame++;
	cb(c, c->ctx);
	c->frame--;
}

#define EV(c, name) ((c)->ev != NULL ? (c)->ev->name : NULL)

/* --- the I/O steps ---------------------------------------------------------------- */

static void conn_tls_begin(struct conn *c)
{
	out_compact(c); /* the plaintext part is gone; the rest waits for TLS */
	c->tls = tls_conn_new(c->mgr->tls, c->fd, c->alpn);
	if (c->tls == NULL) {
		conn_set_reason(c, "tls: cannot create a session");
		conn_doom(c, false);
		return;
	}
	c->tr = &tls_transport;
	c->tls_state = CONN_TLS_HANDSHAKE;
	c->tls_us = log_now_usec();
}

/* The handshake's record: debug when it worked, info when it failed
   (failure = the reason). */
static void conn_tls_record(const struct conn *c, const char *failure)
{
	char extra[96] = "";
	const char *cipher = c->tls_desc != NULL ? strchr(c->tls_desc, ' ') : NULL;

	if (cipher != NULL)
		log_extra_add(extra, sizeof(extra), 0, "cipher", cipher + 1);
	struct log_record r = {
	    .event = LOG_EV_TLS,
	    .service = c->service,
	    .sid = c->id,
	    .ip = c->ip,
	    .result = failure != NULL ? "failed" : "ok",
	    .reason = failure,
	    .tls = c->tls_version[0] != '\0' ? c->tls_version : NULL,
	    .usec = log_now_usec() - (c->tls_us != 0 ? c->tls_us : c->born_us),
	    .extra = extra[0] != '\0' ? extra + 1 : NULL,
	};
	log_record(failure != NULL ? LOG_INFO : LOG_DEBUG, &r);
}

/* Returns true if the handshake completed. */
static bool conn_handshake(struct conn *c)
{
	const char *err = NULL;
	int r = tls_conn_handshake(c->tls, &err);
	char desc[128];

	if (r == TLS_IO_AGAIN)
		return false;
	if (r != 1) {
		conn_set_reason(c, "tls handshake failed: %s", err != NULL ? err : "error");
		conn_tls_record(c, err != NULL ? err : "error");
		conn_doom(c, false);
		return false;
	}
	c->tls_state = CONN_TLS_ON;
	tls_conn_desc(c->tls, desc, sizeof(desc));
	c->tls_desc = xstrdup(desc);
	snprintf(c->tls_version, sizeof(c->tls_version), "%.*s", (int)strcspn(desc, " "), desc);
	conn_tls_record(c, NULL);
	/* a certificate that does not verify costs only SASL EXTERNAL */
	if (tls_conn_cert_refused(c->tls) != NULL)
		log_info("tls sid=%s ip=%s client certificate gives no identity: %s", c->id, c->ip,
			 tls_conn_cert_refused(c->tls));
	conn_clocks_clear(c);
	c->idle_at = conn_after(c, c->idle_secs);
	conn_clocks_arm(c);
	fire(c, EV(c, tls_ready));
	return true;
}

/* Writes what may go out. Returns true if bytes were written. */
static bool conn_flush(struct conn *c)
{
	size_t end = conn_out_end(c);
	bool wrote = false;

	while (c->out_off < end) {
		ssize_t n = c->tr->write(c, c->out.data + c->out_off, end - c->out_off);
		if (n == CONN_IO_AGAIN)
			break;
		if (n < 0) {
			conn_fail(c, "write error");
			return false;
		}
		c->out_off += (size_t)n;
		wrote = true;
	}
	if (c->out_off < end) {
		if (wrote && c->closing)
			conn_deadline_push(c, conn_after(c, c->mgr->linger_secs));
		return wrote;
	}
	if (c->tls_state == CONN_TLS_FLUSHING) {
		if (c->closing)
			conn_doom(c, true);
		else
			conn_tls_begin(c);
		return true;
	}
	if (c->tls_state == CONN_TLS_HANDSHAKE)
		return wrote;
	if (c->out.len > 0) {
		c->out.len = c->out_off = 0;
		c->out.data[0] = '\0';
	}
	if (c->closing) {
		conn_doom(c, true);
		return false;
	}
	if (wrote)
		fire(c, EV(c, drained));
	return wrote;
}

/* Reads what the input limit allows, then tells the session once.
   Returns true if bytes arrived. */
static bool conn_read(struct conn *c)
{
	char tmp[CONN_READ_CHUNK];
	size_t total = 0, used = 0;

	while (conn_wants_read(c) && total < CONN_READ_BURST) {
		size_t room = c->in_max - c->in.len;
		ssize_t n = c->tr->read(c, tmp, room < sizeof(tmp) ? room : sizeof(tmp));
		if (n == CONN_IO_AGAIN)
			break;
		if (n == CONN_IO_EOF) {
			c->eof = true;
			break;
		}
		if (n < 0) {
			conn_fail(c, "read error");
			break;
		}
		buf_append(&c->in, tmp, (size_t)n);
		total += (size_t)n;
		if ((size_t)n > used)
			used = (size_t)n;
	}
	secure_zero(tmp, used); /* it may have held a password */
	if (total > 0 && !c->doomed) {
		conn_clocks_input(c, total);
		fire(c, EV(c, data_in));
	}
	if (c->eof && !c->doomed && !c->closing) {
		/* the peer is done sending; answers to what it sent still go
		   out (a half-closed client may be waiting for them) */
		conn_close(c, "disconnected");
	}
	return total > 0;
}

static void conn_update_mask(struct conn *c)
{
	bool in = conn_wants_read(c);
	bool out = c->out_off < conn_out_end(c);
	int mask;

	if (c->tls_state == CONN_TLS_HANDSHAKE)
		mask = tls_conn_events(c->tls, true, false);
	else
		mask = c->tr->events(c, in, out);
	if (mask != c->mask) {
		if (loop_fd_mod(mgr_loop(c), c->fd, mask) < 0) {
			conn_set_reason(c, "epoll: %s", strerror(errno));
			conn_doom(c, false);
			return;
		}
		c->mask = mask;
	}
	/* Input full: the session consumes with buf_consume() behind our back,
	   so the before-sleep pass checks these until there is room again. */
	if (!in && !c->in_full && !c->paused && !c->closing && !c->eof && !c->doomed &&
	    conn_readable_state(c) && c->in.len >= c->in_max) {
		c->in_full = true;
		c->fnext = c->mgr->full;
		c->mgr->full = c;
	}
}

static void conn_release(struct conn *c)
{
	if (!c->gone || c->listed || c->in_full)
		return;
	free(c);
}

/* Closes the socket, fires `closed` then the gone hook, frees. */
static void conn_finish(struct conn *c)
{
	struct conn_mgr *m = c->mgr;

	c->gone = true;
	loop_timer_del(m->loop, &c->timer);
	loop_fd_del(m->loop, c->fd);
	if (c->tls != NULL && c->graceful)
		tls_conn_shutdown(c->tls);
	close(c->fd);
	c->fd = -1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		m->all = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	m->count--;
	if (c->reason[0] == '\0')
		conn_set_reason(c, "closed");

	void (*closed)(struct conn *, void *, const char *) = EV(c, closed);
	if (closed != NULL) {
		c->frame++;
		closed(c, c->ctx, c->reason);
		c->frame--;
	}
	if (m->gone != NULL)
		m->gone(c, c->reason, m->gone_ctx);
	tls_conn_free(&c->tls);
	buf_free_secret(&c->in);
	buf_free(&c->out);
	free(c->tls_desc);
	c->tls_desc = NULL;
	free(c->user);
	free(c->extra);
	c->user = c->extra = NULL;
	conn_release(c);
}

static void conn_io(struct conn *c, int mask)
{
	bool progress = false;

	if (c->frame != 0)
		log_panic("conn %s: I/O from inside its own callback", c->id);
	if (c->gone)
		return;
	/* EPOLLHUP/ERR is reported even for a conn that waits for nothing;
	   if nothing below would notice, the loop would spin on it */
	if ((mask & LOOP_ERROR) && !conn_wants_read(c) && c->out_off >= conn_out_end(c) &&
	    c->tls_state != CONN_TLS_HANDSHAKE && !c->doomed) {
		conn_set_reason(c, "disconnected");
		conn_doom(c, false);
	}
	if (c->closing && c->tls_state == CONN_TLS_HANDSHAKE)
		conn_doom(c, false); /* queued output can never be sent */

	for (int round = 0; round < CONN_IO_ROUNDS && !c->doomed; round++) {
		progress = false;
		if (c->tls_state == CONN_TLS_HANDSHAKE)
			progress |= conn_handshake(c);
		if (!c->doomed)
			progress |= conn_flush(c);
		if (!c->doomed)
			progress |= conn_read(c);
		if (!progress)
			break;
	}
	if (c->doomed) {
		conn_finish(c);
		return;
	}
	if (progress)
		conn_schedule(c); /* more may be waiting, e.g. inside OpenSSL */
	else if (conn_wants_read(c) && c->tr->pending(c))
		conn_schedule(c);
	conn_trim(c);
	conn_update_mask(c);
	if (c->doomed)
		conn_finish(c);
}

static void conn_on_fd(struct loop *l, int fd, int mask, void *ctx)
{
	conn_io(ctx, mask);
}

static void conn_on_timer(struct loop *l, void *ctx)
{
	struct conn *c = ctx;
	uint64_t now = loop_now_ms(l);
	enum conn_expiry why = CONN_EXPIRY_NONE;

	c->timer = NULL;
	if (c->deadline == 0 || c->doomed)
		return;
	if (now < c->deadline) {
		conn_timer_set(c, c->deadline); /* pushed later meanwhile */
		return;
	}
	c->deadline = 0;
	if (c->tls_state == CONN_TLS_FLUSHING || c->tls_state == CONN_TLS_HANDSHAKE) {
		conn_set_reason(c, "tls handshake timeout");
		conn_tls_record(c, "timeout");
		conn_doom(c, false);
	} else if (c->closing) {
		conn_set_reason(c, "timeout while closing");
		conn_doom(c, false);
	} else if ((why = conn_clocks_expired(c, now)) == CONN_EXPIRY_NONE) {
		conn_clocks_arm(c); /* a rate window that was met */
		return;
	} else if (EV(c, timeout) != NULL) {
		c->expiry = why;
		fire(c, EV(c, timeout));
		/* a session that neither closed nor re-armed stays watched */
		if (!c->doomed && !c->closing && c->idle_at == 0 && c->idle_secs != 0)
			c->idle_at = conn_after(c, c->idle_secs);
		conn_clocks_arm(c);
	} else {
		c->expiry = why;
		conn_set_reason(c, "timeout");
		conn_doom(c, false);
	}
	if (why != CONN_EXPIRY_NONE && (c->doomed || c->closing))
		conn_note_expiry(c);
	conn_io(c, 0);
}

/* --- the manager ------------------------------------------------------------------ */

/* Before every epoll_wait: resume inputs that have room again, then run
   the pending conns until none is left or the rounds run out (then the
   loop does not sleep, so nothing waits inside OpenSSL unnoticed). */
static void mgr_before_sleep(struct loop *l, void *ctx)
{
	struct conn_mgr *m = ctx;

	for (struct conn **pp = &m->full; *pp != NULL;) {
		struct conn *c = *pp;
		if (c->gone || c->in.len < c->in_max || c->paused || c->closing) {
			*pp = c->fnext;
			c->in_full = false;
			if (c->gone)
				conn_release(c);
			else
				conn_schedule(c);
		} else {
			pp = &c->fnext;
		}
	}
	for (int round = 0; round < CONN_PENDING_ROUNDS && m->pending != NULL; round++) {
		struct conn *list = m->pending;
		m->pending = NULL;
		while (list != NULL) {
			struct conn *c = list;
			list = c->pnext;
			c->listed = false;
			if (c->gone)
				conn_release(c);
			else
				conn_io(c, 0);
		}
	}
	if (m->pending != NULL)
		loop_skip_sleep(l);
}

struct conn_mgr *conn_mgr_new(struct loop *l, struct tls_ctx *tls)
{
	struct conn_mgr *m = xcalloc(1, sizeof(*m));
	m->loop = l;
	m->tls = tls;
	m->handshake_secs = CONN_HANDSHAKE_SECS;
	m->linger_secs = CONN_LINGER_SECS;
	loop_before_sleep(l, mgr_before_sleep, m);
	return m;
}

void conn_mgr_set_gone(struct conn_mgr *m, conn_gone_fn *gone, void *ctx)
{
	m->gone = gone;
	m->gone_ctx = ctx;
}

void conn_mgr_set_timeouts(struct conn_mgr *m, unsigned handshake_secs, unsigned linger_secs)
{
	m->handshake_secs = handshake_secs != 0 ? handshake_secs : CONN_HANDSHAKE_SECS;
	m->linger_secs = linger_secs != 0 ? linger_secs : CONN_LINGER_SECS;
}

void conn_mgr_set_limits(struct conn_mgr *m, const struct conn_limits *lim)
{
	m->lim = *lim;
	if (m->lim.rate_bytes == 0 || m->lim.rate_secs == 0)
		m->lim.rate_bytes = m->lim.rate_secs = 0;
}

unsigned conn_mgr_count(const struct conn_mgr *m)
{
	return m->count;
}

void conn_mgr_abort_handshakes(struct conn_mgr *m, const char *reason)
{
	for (struct conn *c = m->all; c != NULL; c = c->next)
		if (c->tls_state == CONN_TLS_FLUSHING || c->tls_state == CONN_TLS_HANDSHAKE)
			conn_abort(c, reason);
}

void conn_mgr_abort_all(struct conn_mgr *m, const char *reason)
{
	for (struct conn *c = m->all; c != NULL; c = c->next)
		conn_abort(c, reason);
}

void conn_mgr_free(struct conn_mgr **mp)
{
	struct conn_mgr *m = *mp;
	if (m == NULL)
		return;
	/* `closed` may abort other conns: that only marks them, so walking
	   from the head again is safe and ends when the list is empty */
	while (m->all != NULL) {
		struct conn *c = m->all;
		if (!c->doomed) {
			conn_set_reason(c, "server stopping");
			c->doomed = true;
		}
		conn_finish(c);
	}
	for (struct conn *c = m->pending, *next; c != NULL; c = next) {
		next = c->pnext;
		c->listed = false;
		conn_release(c);
	}
	for (struct conn *c = m->full, *next; c != NULL; c = next) {
		next = c->fnext;
		c->in_full = false;
		conn_release(c);
	}
	loop_before_sleep_del(m->loop, mgr_before_sleep, m);
	free(m);
	*mp = NULL;
}

/* --- creation ---------------------------------------------------------------------- */

static void peer_text(const struct sockaddr *sa, char *out, size_t len)
{
	if (sa == NULL) {
		snprintf(out, len, "local");
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)len);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) /* one address, one spelling: limits count it once */
			inet_ntop(AF_INET, &a->s6_addr[12], out, (socklen_t)len);
		else
			inet_ntop(AF_INET6, a, out, (socklen_t)len);
	} else {
		snprintf(out, len, "local");
	}
}

struct conn *conn_new(struct conn_mgr *m, int fd, const struct sockaddr *peer, const char *service,
		      const char *alpn)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    loop_fd_add(m->loop, fd, LOOP_READ, conn_on_fd, c) < 0) {
		log_error("conn: cannot watch fd %d: %s", fd, strerror(errno));
		close(fd);
		free(c);
		return NULL;
	}
	if (peer != NULL && (peer->sa_family == AF_INET || peer->sa_family == AF_INET6)) {
		/* Output is already gathered per batch (conn_write buffers until the
		   loop flushes), so Nagle only adds delay: a reply written in pieces
		   (a RETR streamed from the store) would have its tail held until the
		   client's delayed ACK, about 40 ms per message. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	c->mgr = m;
	c->fd = fd;
	c->mask = LOOP_READ;
	c->service = service;
	c->alpn = alpn;
	c->tr = &plain_transport;
	c->in_max = CONN_INPUT_MAX_DEFAULT;
	conn_make_id(c->id);
	c->born_us = log_now_usec();
	peer_text(peer, c->ip, sizeof(c->ip));
	c->next = m->all;
	if (c->next != NULL)
		c->next->prev = c;
	m->all = c;
	m->count++;
	return c;
}

/* --- the session's face (conn.h) ------------------------------------------------------ */

void conn_set_events(struct conn *c, const struct conn_events *ev, void *ctx)
{
	c->ev = ev;
	c->ctx = ctx;
}

struct buf *conn_input(struct conn *c)
{
	return &c->in;
}

void conn_set_input_max(struct conn *c, size_t max)
{
	c->in_max = max != 0 ? max : CONN_INPUT_MAX_DEFAULT;
	conn_schedule(c);
}

void conn_pause_input(struct conn *c, bool paused)
{
	if (c->paused == paused)
		return;
	c->paused = paused;
	conn_schedule(c);
}

void conn_write(struct conn *c, const void *p, size_t n)
{
	if (c->gone || c->doomed || c->closing || n == 0)
		return;
	out_prepare(c);
	buf_append(&c->out, p, n);
	conn_schedule(c);
}

void conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->gone || c->doomed || c->closing)
		return;
	out_prepare(c);
	va_start(ap, fmt);
	buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	conn_schedule(c);
}

size_t conn_output_pending(const struct conn *c)
{
	return c->out.len - c->out_off;
}

size_t conn_kernel_pending(const struct conn *c)
{
	int n = 0;
	if (c->fd < 0 || ioctl(c->fd, SIOCOUTQ, &n) != 0 || n < 0)
		return SIZE_MAX; /* unknown: as if the client were slow */
	return (size_t)n;
}

void conn_set_idle_timeout(struct conn *c, unsigned secs)
{
	c->idle_secs = secs;
	if (c->gone || c->doomed || c->closing || !conn_readable_state(c))
		return; /* the handshake or linger timer rules until then */
	c->idle_at = conn_after(c, secs);
	conn_clocks_arm(c);
}

void conn_unit_done(struct conn *c)
{
	if (c->phase)
		return;
	c->unit_at = conn_unit_deadline(c);
	conn_clocks_arm(c);
}

void conn_phase_begin(struct conn *c)
{
	const struct conn_limits *lim = &c->mgr->lim;

	if (c->phase || c->gone || c->doomed || c->closing)
		return;
	c->phase = true;
	c->unit_at = 0;
	c->phase_at = conn_after(c, lim->phase_secs);
	c->window_bytes = 0;
	c->window_at = conn_after(c, lim->rate_secs);
	conn_clocks_arm(c);
}

void conn_phase_end(struct conn *c)
{
	if (!c->phase)
		return;
	c->phase = false;
	c->phase_at = c->window_at = 0;
	c->unit_at = conn_unit_deadline(c);
	conn_clocks_arm(c);
}

const char *conn_timeout_reason(const struct conn *c)
{
	return conn_expiry_names[c->expiry];
}

static int conn_tls_start(struct conn *c)
{
	if (c->gone || c->doomed || c->closing || c->mgr->tls == NULL ||
	    c->tls_state != CONN_TLS_OFF)
		return -1;
	c->tls_mark = c->out.len;
	c->tls_state = CONN_TLS_FLUSHING;
	conn_clocks_clear(c); /* the handshake's own limit rules, then all start anew */
	conn_timer_set(c, conn_after(c, c->mgr->handshake_secs));
	conn_schedule(c);
	return 0;
}

int conn_starttls(struct conn *c)
{
	if (conn_tls_start(c) < 0)
		return -1;
	/* RFC 2595 §4, RFC 3207 §4.2, CVE-2011-0411: whatever the client sent
	   after the command arrived in plaintext and must never be executed.
	   Bytes still in the kernel are read by the handshake, which fails on
	   them. */
	if (c->in.len > 0)
		secure_zero(c->in.data, c->in.len);
	buf_clear(&c->in);
	return 0;
}

int conn_tls_accept(struct conn *c)
{
	return conn_tls_start(c);
}

void conn_close(struct conn *c, const char *reason)
{
	if (c->gone || c->doomed || c->closing)
		return;
	c->closing = true;
	conn_set_reason(c, "%s", reason);
	if (c->out_off < c->out.len)
		conn_timer_set(c, conn_after(c, c->mgr->linger_secs));
	else
		loop_timer_del(mgr_loop(c), &c->timer);
	conn_schedule(c);
}

void conn_abort(struct conn *c, const char *reason)
{
	if (c->gone || c->doomed)
		return;
	conn_set_reason(c, "%s", reason);
	conn_doom(c, false);
}

const char *conn_id(const struct conn *c)
{
	return c->id;
}

const char *conn_peer_ip(const struct conn *c)
{
	return c->ip;
}

const char *conn_service(const struct conn *c)
{
	return c->service;
}

bool conn_is_tls(const struct conn *c)
{
	return c->tls_state == CONN_TLS_ON;
}

bool conn_tls_available(const struct conn *c)
{
	return c->mgr->tls != NULL && c->tls_state == CONN_TLS_OFF;
}

const char *conn_tls_version(const struct conn *c)
{
	return c->tls_version[0] != '\0' ? c->tls_version : NULL;
}

uint64_t conn_age_usec(const struct conn *c)
{
	return log_now_usec() - c->born_us;
}

void conn_set_session_info(struct conn *c, const char *user, uint64_t commands, uint64_t bytes,
			   const char *extra)
{
	c->bytes = bytes;
	free(c->user);
	free(c->extra);
	c->user = user != NULL ? xstrdup(user) : NULL;
	c->extra = extra != NULL && extra[0] != '\0' ? xstrdup(extra) : NULL;
	c->commands = commands;
}

size_t conn_session_extra(const struct conn *c, char *buf, size_t cap, const char **user_r,
			  uint64_t *commands_r, uint64_t *bytes_r)
{
	*bytes_r = c->bytes;
	*user_r = c->user;
	*commands_r = c->commands;
	int n =
	    snprintf(buf, cap, "%s%s%s", c->extra != NULL ? c->extra : "",
		     c->extra != NULL && c->close_detail[0] != '\0' ? " " : "", c->close_detail);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static unsigned sockaddr_port(const struct sockaddr_storage *ss, char *text, size_t len)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		if (text != NULL)
			inet_ntop(AF_INET, &a->sin_addr, text, (socklen_t)len);
		return ntohs(a->sin_port);
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (text != NULL)
			inet_ntop(AF_INET6, &a->sin6_addr, text, (socklen_t)len);
		return ntohs(a->sin6_port);
	}
	return 0;
}

void conn_endpoints(const struct conn *c, unsigned *peer_port, char *local, size_t local_len,
		    unsigned *local_port)
{
	struct sockaddr_storage ss;
	socklen_t n = sizeof(ss);

	*peer_port = *local_port = 0;
	if (local_len > 0)
		local[0] = '\0';
	memset(&ss, 0, sizeof(ss));
	if (getpeername(c->fd, (struct sockaddr *)&ss, &n) == 0)
		*peer_port = sockaddr_port(&ss, NULL, 0);
	n = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(c->fd, (struct sockaddr *)&ss, &n) == 0)
		*local_port = sockaddr_port(&ss, local_len > 0 ? local : NULL, local_len);
}

const char *conn_tls_desc(const struct conn *c)
{
	return c->tls_desc != NULL ? c->tls_desc : "";
}

const char *conn_tls_identity(const struct conn *c)
{
	return c->tls != NULL && c->tls_state == CONN_TLS_ON ? tls_conn_identity(c->tls) : NULL;
}

struct loop *conn_loop(const struct conn *c)
{
	return c->mgr->loop;
}

bool conn_tls_handshaking(const struct conn *c)
{
	return c->tls_state == CONN_TLS_FLUSHING || c->tls_state == CONN_TLS_HANDSHAKE;
}

size_t conn_footprint(const struct conn *c)
{
	return sizeof(*c) + c->in.cap + c->out.cap +
	       (c->tls_desc != NULL ? strlen(c->tls_desc) + 1 : 0);
}

void conn_tls_alpn(const struct conn *c, char *out, size_t len)
{
	if (c->tls != NULL && c->tls_state == CONN_TLS_ON)
		tls_conn_alpn(c->tls, out, len);
	else if (len > 0)
		out[0] = '\0';
}
