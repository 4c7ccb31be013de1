/* SPDX-License-Identifier: MIT */
/*
 * pop3load.c - POP3 load client for the benchmarks in bench/.
 *
 *   cc -O2 -o pop3load bench/pop3load.c
 *
 * Two modes, one epoll loop, no threads:
 *
 *   pop3load [options] load   full-mailbox downloads: each session connects,
 *                             reads the greeting, USER/PASS, STAT, UIDL, RETR
 *                             of every message (read to the "." line), QUIT,
 *                             then waits for the server to close. Nothing is
 *                             deleted, so rounds can repeat.
 *   pop3load [options] idle   opens -n connections, reads each greeting and
 *                             holds them until SIGTERM/SIGINT or -H seconds;
 *                             with -l each logs in to a mailbox of its own
 *                             first (USER/PASS) and is held logged in.
 *
 * Concurrency: -c sessions run at once. Slot s owns mailboxes s, s+c, s+2c...
 * so two sessions never open the same mailbox at the same time (servers may
 * refuse a second session on a mailbox).
 *
 * Checks: every reply must start with +OK; STAT's count must match the UIDL
 * listing; the RETR octets (after removing dot-stuffing) must add up to
 * STAT's size. Any failure is an error; the exit status is 1 if any
 * happened, 2 for a usage error.
 *
 * Results go to stdout as "key=value" lines, for scripts: one for load;
 * for idle, one when every connection is greeted (or failed) and one at
 * the end (how many were still open).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INBUF (64 * 1024)
#define IDLE_INBUF 512
#define OUTBUF 1024
#define MAX_ERRORS_SHOWN 10

enum state {
	ST_FREE,
	ST_CONNECTING,
	ST_GREETING,
	ST_USER,
	ST_PASS,
	ST_STAT,
	ST_UIDL,
	ST_UIDL_DATA,
	ST_RETR,
	ST_RETR_DATA,
	ST_QUIT,
	ST_CLOSING, /* after +OK to QUIT: wait for the server's close */
	ST_IDLE,    /* idle mode: greeting read, holding */
};

static const char *state_name[] = {
    "free", "connect", "greeting", "USER", "PASS",  "STAT",
    "UIDL", "UIDL data", "RETR", "RETR data", "QUIT", "close wait", "idle",
};

/* Multi-line scanner states (RFC 1939 §3). */
enum ml { ML_BOL, ML_MID, ML_DOT, ML_DOTCR };

struct conn {
	int fd;
	enum state st;
	int slot;
	int mbox;
	int login_no; /* idle mode with -l: the mailbox it logs in to */
	double deadline;
	double t0; /* the session's connect */
	size_t inlen, incap;
	char *in;
	char out[OUTBUF];
	size_t outlen, outoff;
	/* session */
	long nmsg, cur;
	unsigned long long stat_size, got_size;
	enum ml ml;
	unsigned long long ml_bytes, ml_stuffed, ml_lines;
};

struct slot {
	long done;  /* sessions started by this slot */
	long count; /* mailboxes owned */
};

static struct {
	const char *host, *port;
	const char *user_fmt, *password, *label;
	int mailboxes, first, conc, rounds;
	double duration, timeout, hold;
	int idle_n, idle_pending;
	bool idle_login;
	bool verbose;
} opt = {
    .host = "127.0.0.1",
    .port = "110",
    .user_fmt = "bench%04d@bench.test",
    .password = "bench-pass",
    .label = "server",
    .mailboxes = 50,
    .first = 1,
    .conc = 10,
    .rounds = 1,
    .duration = 0,
    .timeout = 30,
    .hold = 0,
    .idle_n = 1000,
    .idle_pending = 64,
};

static struct {
	long sessions, messages, errors, refused;
	unsigned long long bytes;
	long idle_opened, idle_held, idle_failed, idle_dropped;
} st;

/* session times (connect to the +OK of QUIT), for the percentiles */
static double *lat;
static size_t n_lat, cap_lat;

static void lat_add(double secs)
{
	if (n_lat == cap_lat) {
		size_t cap = cap_lat ? cap_lat * 2 : 4096;
		double *p = realloc(lat, cap * sizeof(*p));
		if (p == NULL)
			return; /* the percentiles then miss a few */
		lat = p;
		cap_lat = cap;
	}
	lat[n_lat++] = secs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* the q-quantile of the session times, in ms (nearest rank) */
static double lat_ms(double q)
{
	if (n_lat == 0)
		return 0;
	size_t k = (size_t)(q * (double)n_lat);
	if (k >= n_lat)
		k = n_lat - 1;
	return lat[k] * 1000.0;
}

static int epfd;
static struct addrinfo *addr;
static struct conn *conns;
static int nconns;
static struct slot *slots;
static double t_start, t_stop;
static volatile sig_atomic_t got_signal;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

static void conn_error(struct conn *c, const char *fmt, ...)
{
	st.errors++;
	if (st.errors <= MAX_ERRORS_SHOWN) {
		va_list ap;
		char user[128] = "-";
		if (c->mbox >= 0)
			snprintf(user, sizeof(user), opt.user_fmt, c->mbox);
		fprintf(stderr, "pop3load: %s: error: user=%s state=%s: ", opt.label, user,
			state_name[c->st]);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (st.errors == MAX_ERRORS_SHOWN + 1)
		fprintf(stderr, "pop3load: %s: more errors not shown\n", opt.label);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->st = ST_FREE;
	c->inlen = 0;
	c->outlen = c->outoff = 0;
}

static void set_events(struct conn *c, uint32_t ev)
{
	struct epoll_event e = {.events = ev, .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
}

static int conn_open(struct conn *c)
{
	int fd = socket(addr->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->fd = -1;
		conn_error(c, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->inlen = 0;
	c->outlen = c->outoff = 0;
	c->deadline = now() + opt.timeout;
	if (connect(fd, addr->ai_addr, addr->ai_addrlen) < 0 && errno != EINPROGRESS) {
		c->st = ST_CONNECTING;
		conn_error(c, "connect: %s", strerror(errno));
		close(fd);
		c->fd = -1;
		c->st = ST_FREE;
		return -1;
	}
	c->st = ST_CONNECTING;
	struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
	return 0;
}

/* Queues a command and tries to send it at once. */
static int send_cmd(struct conn *c, enum state next, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(c->out, sizeof(c->out), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(c->out)) {
		conn_error(c, "command too long");
		return -1;
	}
	c->outlen = (size_t)n;
	c->outoff = 0;
	c->st = next;
	while (c->outoff < c->outlen) {
		ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (w > 0) {
			c->outoff += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			set_events(c, EPOLLIN | EPOLLOUT);
			return 0;
		}
		conn_error(c, "send: %s", w < 0 ? strerror(errno) : "closed");
		return -1;
	}
	c->outlen = c->outoff = 0;
	return 0;
}

/* Feeds multi-line response data to the scanner. Returns the number of
   bytes consumed; sets *done when the terminating "." line was read. */
static size_t ml_scan(struct conn *c, const char *p, size_t n, bool *done, bool *bad)
{
	size_t i = 0;
	*done = false;
	while (i < n) {
		switch (c->ml) {
		case ML_MID: {
			const char *nl = memchr(p + i, '\n', n - i);
			if (nl == NULL) {
				i = n;
			} else {
				i = (size_t)(nl - p) + 1;
				c->ml_lines++;
				c->ml = ML_BOL;
			}
			break;
		}
		case ML_BOL:
			if (p[i] == '.') {
				c->ml = ML_DOT;
				i++;
			} else {
				c->ml = ML_MID;
			}
			break;
		case ML_DOT:
			if (p[i] == '\r') {
				c->ml = ML_DOTCR;
				i++;
			} else {
				/* a stuffed line must start with ".." */
				if (p[i] != '.')
					*bad = true;
				c->ml_stuffed++;
				c->ml = ML_MID;
			}
			break;
		case ML_DOTCR:
			if (p[i] == '\n') {
				i++;
				c->ml_bytes += i;
				*done = true;
				return i;
			}
			*bad = true;
			c->ml_stuffed++;
			c->ml = ML_MID;
			break;
		}
	}
	c->ml_bytes += i;
	return i;
}

static void ml_start(struct conn *c)
{
	c->ml = ML_BOL;
	c->ml_bytes = c->ml_stuffed = c->ml_lines = 0;
}

/* Picks the next mailbox for a slot; -1 when the slot is finished. */
static int slot_next(int s)
{
	struct slot *sl = &slots[s];
	if (sl->count == 0)
		return -1;
	if (opt.duration > 0) {
		if (now() >= t_start + opt.duration)
			return -1;
	} else if (sl->done >= sl->count * opt.rounds) {
		return -1;
	}
	long k = sl->done++ % sl->count;
	return opt.first + s + (int)(k * opt.conc);
}

static void session_start(struct conn *c)
{
	for (;;) {
		int mb = slot_next(c->slot);
		if (mb < 0) {
			c->st = ST_FREE;
			c->mbox = -1;
			return;
		}
		c->mbox = mb;
		c->nmsg = c->cur = 0;
		c->stat_size = c->got_size = 0;
		c->t0 = now();
		if (conn_open(c) == 0)
			return;
		if (st.errors > 1000)
			return;
	}
}

static void session_fail(struct conn *c)
{
	conn_close(c);
	if (st.errors > 1000) {
		fprintf(stderr, "pop3load: %s: too many errors, stopping\n", opt.label);
		return;
	}
	session_start(c);
}

/* Handles one status line ("+OK ..." or "-ERR ..."), without its CRLF.
   Returns -1 if the session failed. */
static int on_line(struct conn *c, char *line)
{
	char user[128];
	bool ok = strncmp(line, "+OK", 3) == 0;

	if (!ok) {
		if (c->st == ST_GREETING && strstr(line, "[SYS/TEMP]") != NULL)
			st.refused++;
		conn_error(c, "server said: %.200s", line);
		return -1;
	}
	switch (c->st) {
	case ST_GREETING:
		if (c->mbox < 0 && c->login_no == 0) { /* idle mode */
			c->st = ST_IDLE;
			c->deadline = 0;
			st.idle_held++;
			lat_add(now() - c->t0);
			return 0;
		}
		snprintf(user, sizeof(user), opt.user_fmt, c->mbox < 0 ? c->login_no : c->mbox);
		return send_cmd(c, ST_USER, "USER %s\r\n", user);
	case ST_USER:
		return send_cmd(c, ST_PASS, "PASS %s\r\n", opt.password);
	case ST_PASS:
		if (c->mbox < 0) { /* idle mode with -l: logged in, now held */
			c->st = ST_IDLE;
			c->deadline = 0;
			st.idle_held++;
			lat_add(now() - c->t0);
			return 0;
		}
		return send_cmd(c, ST_STAT, "STAT\r\n");
	case ST_STAT: {
		long n;
		unsigned long long sz;
		if (sscanf(line + 3, " %ld %llu", &n, &sz) != 2 || n < 0) {
			conn_error(c, "bad STAT reply: %.200s", line);
			return -1;
		}
		c->nmsg = n;
		c->stat_size = sz;
		return send_cmd(c, ST_UIDL, "UIDL\r\n");
	}
	case ST_UIDL:
		ml_start(c);
		c->st = ST_UIDL_DATA;
		return 0;
	case ST_RETR:
		ml_start(c);
		c->st = ST_RETR_DATA;
		return 0;
	case ST_QUIT:
		c->st = ST_CLOSING;
		st.sessions++;
		lat_add(now() - c->t0);
		return 0;
	default:
		conn_error(c, "unexpected line: %.200s", line);
		return -1;
	}
}

static int next_retr_or_quit(struct conn *c)
{
	if (c->cur < c->nmsg) {
		c->cur++;
		return send_cmd(c, ST_RETR, "RETR %ld\r\n", c->cur);
	}
	if (c->got_size != c->stat_size) {
		conn_error(c, "RETR gave %llu octets, STAT said %llu", c->got_size, c->stat_size);
		return -1;
	}
	return send_cmd(c, ST_QUIT, "QUIT\r\n");
}

/* Consumes buffered input. Returns -1 if the session failed. */
static int process(struct conn *c)
{
	size_t off = 0;
	int r = 0;

	while (off < c->inlen && r == 0) {
		char *p = c->in + off;
		size_t n = c->inlen - off;
		if (c->st == ST_UIDL_DATA || c->st == ST_RETR_DATA) {
			bool done, bad = false;
			size_t used = ml_scan(c, p, n, &done, &bad);
			off += used;
			if (bad) {
				conn_error(c, "bad dot-stuffing in a multi-line reply");
				r = -1;
				break;
			}
			if (!done)
				continue;
			if (c->st == ST_UIDL_DATA) {
				if ((long)c->ml_lines != c->nmsg) {
					conn_error(c, "UIDL listed %llu messages, STAT said %ld",
						   c->ml_lines, c->nmsg);
					r = -1;
					break;
				}
				c->cur = 0;
			} else {
				/* payload: everything but ".\r\n", stuffing removed */
				c->got_size += c->ml_bytes - 3 - c->ml_stuffed;
				st.bytes += c->ml_bytes - 3 - c->ml_stuffed;
				st.messages++;
			}
			r = next_retr_or_quit(c);
			continue;
		}
		if (c->st == ST_IDLE || c->st == ST_CLOSING) {
			off = c->inlen; /* ignore anything more */
			break;
		}
		char *nl = memchr(p, '\n', n);
		if (nl == NULL) {
			if (n > 4096) {
				conn_error(c, "status line too long");
				r = -1;
			}
			break;
		}
		*nl = '\0';
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		off += (size_t)(nl - p) + 1;
		r = on_line(c, p);
	}
	if (off > 0 && off < c->inlen)
		memmove(c->in, c->in + off, c->inlen - off);
	c->inlen = off <= c->inlen ? c->inlen - off : 0;
	return r;
}

static void on_event(struct conn *c, uint32_t ev)
{
	if (c->st == ST_CONNECTING) {
		int err = 0;
		socklen_t sl = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err != 0) {
			conn_error(c, "connect: %s", strerror(err));
			if (c->mbox < 0) {
				st.idle_failed++;
				conn_close(c);
			} else {
				session_fail(c);
			}
			return;
		}
		c->st = ST_GREETING;
		c->deadline = now() + opt.timeout;
		set_events(c, EPOLLIN);
		return;
	}
	if ((ev & EPOLLOUT) && c->outoff < c->outlen) {
		while (c->outoff < c->outlen) {
			ssize_t w =
			    send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
			if (w > 0) {
				c->outoff += (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return;
			conn_error(c, "send: %s", w < 0 ? strerror(errno) : "closed");
			session_fail(c);
			return;
		}
		c->outlen = c->outoff = 0;
		set_events(c, EPOLLIN);
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		if (c->inlen == c->incap) {
			conn_error(c, "input buffer full");
			goto fail;
		}
		ssize_t r = read(c->fd, c->in + c->inlen, c->incap - c->inlen);
		if (r > 0) {
			c->inlen += (size_t)r;
			if (c->st != ST_IDLE)
				c->deadline = now() + opt.timeout;
			enum state before = c->st;
			if (process(c) < 0)
				goto fail;
			if ((before == ST_GREETING || before == ST_PASS) && c->st == ST_IDLE)
				return;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* EOF or error */
		if (c->st == ST_CLOSING) {
			conn_close(c);
			session_start(c);
			return;
		}
		if (c->st == ST_IDLE) {
			st.idle_dropped++;
			conn_close(c);
			return;
		}
		conn_error(c, "connection closed by server%s%s", r < 0 ? ": " : "",
			   r < 0 ? strerror(errno) : "");
		goto fail;
	}
fail:
	if (c->mbox < 0) {
		if (c->st != ST_IDLE)
			st.idle_failed++;
		conn_close(c);
		return;
	}
	session_fail(c);
}

static void check_timeouts(void)
{
	double t = now();
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];
		if (c->st == ST_FREE || c->st == ST_IDLE || c->deadline == 0 || t < c->deadline)
			continue;
		if (c->st == ST_CLOSING) { /* server did not close: fine, we do */
			conn_close(c);
			session_start(c);
			continue;
		}
		conn_error(c, "timeout after %.0f s", opt.timeout);
		if (c->mbox < 0) {
			st.idle_failed++;
			conn_close(c);
		} else {
			session_fail(c);
		}
	}
}

static int active_conns(void)
{
	int n = 0;
	for (int i = 0; i < nconns; i++)
		n += conns[i].st != ST_FREE;
	return n;
}

static void loop_once(int ms)
{
	struct epoll_event ev[256];
	int n = epoll_wait(epfd, ev, 256, ms);
	if (n < 0 && errno != EINTR) {
		perror("epoll_wait");
		exit(1);
	}
	for (int i = 0; i < n; i++)
		on_event(ev[i].data.ptr, ev[i].events);
}

static void alloc_conns(int n)
{
	nconns = n;
	conns = calloc((size_t)n, sizeof(*conns));
	if (conns == NULL) {
		perror("calloc");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		conns[i].fd = -1;
		conns[i].mbox = -1;
		conns[i].slot = i;
	}
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int run_load(void)
{
	if (opt.conc > opt.mailboxes) {
		fprintf(stderr, "pop3load: -c %d is more than -m %d mailboxes; using %d\n",
			opt.conc, opt.mailboxes, opt.mailboxes);
		opt.conc = opt.mailboxes;
	}
	alloc_conns(opt.conc);
	slots = calloc((size_t)opt.conc, sizeof(*slots));
	if (slots == NULL) {
		perror("calloc");
		return 1;
	}
	for (int s = 0; s < opt.conc; s++) {
		slots[s].count = (opt.mailboxes - s + opt.conc - 1) / opt.conc;
		conns[s].in = malloc(INBUF);
		conns[s].incap = INBUF;
		if (conns[s].in == NULL) {
			perror("malloc");
			return 1;
		}
	}
	double cpu0 = cpu_seconds();
	t_start = now();
	for (int s = 0; s < opt.conc; s++)
		session_start(&conns[s]);
	double last_check = t_start;
	/* bounded: every session ends by completion, error or timeout */
	while (active_conns() > 0 && st.errors <= 1000 && !got_signal) {
		loop_once(200);
		double t = now();
		if (t - last_check >= 0.5) {
			check_timeouts();
			last_check = t;
		}
	}
	t_stop = now();
	double secs = t_stop - t_start;
	if (secs <= 0)
		secs = 1e-9;
	if (got_signal)
		st.errors++;
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	printf("label=%s sessions=%ld messages=%ld bytes=%llu seconds=%.3f msgs_per_s=%.1f "
	       "mib_per_s=%.2f sessions_per_s=%.1f errors=%ld client_cpu_s=%.2f "
	       "p50_ms=%.2f p99_ms=%.2f\n",
	       opt.label, st.sessions, st.messages, st.bytes, secs, (double)st.messages / secs,
	       (double)st.bytes / secs / (1024.0 * 1024.0), (double)st.sessions / secs, st.errors,
	       cpu_seconds() - cpu0, lat_ms(0.50), lat_ms(0.99));
	fflush(stdout);
	return st.errors > 0 || st.sessions == 0 ? 1 : 0;
}

static int run_idle(void)
{
	alloc_conns(opt.idle_n);
	/* a greeting is one short line: a small buffer each */
	char *bufs = malloc((size_t)opt.idle_n * IDLE_INBUF);
	if (bufs == NULL) {
		perror("malloc");
		return 1;
	}
	for (int i = 0; i < opt.idle_n; i++) {
		conns[i].in = bufs + (size_t)i * IDLE_INBUF;
		conns[i].incap = IDLE_INBUF;
		if (opt.idle_login)
			conns[i].login_no = opt.first + i;
	}
	t_start = now();
	int next = 0;
	double last_check = t_start;
	/* bounded: each connection ends greeted, failed or timed out */
	while (!got_signal) {
		/* opened connections not yet greeted or failed */
		long pending = st.idle_opened - st.idle_held - st.idle_failed;
		while (next < opt.idle_n && pending < opt.idle_pending) {
			st.idle_opened++;
			conns[next].t0 = now();
			if (conn_open(&conns[next]) == 0)
				pending++;
			else
				st.idle_failed++;
			next++;
		}
		if (next >= opt.idle_n && pending == 0)
			break;
		loop_once(100);
		double t = now();
		if (t - last_check >= 0.5) {
			check_timeouts();
			last_check = t;
		}
	}
	double secs = now() - t_start;
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	printf("label=%s requested=%d held=%ld failed=%ld seconds=%.2f wait_p50_ms=%.1f "
	       "wait_p99_ms=%.1f wait_max_ms=%.1f\n",
	       opt.label, opt.idle_n, st.idle_held, st.idle_failed, secs, lat_ms(0.50),
	       lat_ms(0.99), n_lat > 0 ? lat[n_lat - 1] * 1000.0 : 0.0);
	fflush(stdout);
	/* hold: until a signal or -H seconds; notice server-side closes */
	double until = opt.hold > 0 ? now() + opt.hold : 0;
	while (!got_signal && (until == 0 || now() < until))
		loop_once(200);
	long still = st.idle_held - st.idle_dropped;
	printf("label=%s still_held=%ld dropped=%ld\n", opt.label, still, st.idle_dropped);
	fflush(stdout);
	for (int i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			conn_close(&conns[i]);
	return st.idle_failed > 0 || st.idle_dropped > 0 ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pop3load [options] load|idle\n"
		"  -s HOST      server address (127.0.0.1)\n"
		"  -p PORT      POP3 port (110)\n"
		"  -L LABEL     name printed in the results (server)\n"
		"  -T SECONDS   timeout for every read and connect (30)\n"
		"load:\n"
		"  -m N         mailboxes (50)\n"
		"  -f N         number of the first mailbox (1)\n"
		"  -u FORMAT    user name, printf format of the number (bench%%04d@bench.test)\n"
		"  -w PASSWORD  password of every mailbox (bench-pass)\n"
		"  -c N         sessions at once (10); at most -m\n"
		"  -r N         rounds: each mailbox downloaded N times (1)\n"
		"  -d SECONDS   run for this long instead of -r rounds\n"
		"idle:\n"
		"  -n N         connections to open and hold (1000)\n"
		"  -a N         connections waiting for their greeting at once (64)\n"
		"  -H SECONDS   hold this long, then close (0: until SIGTERM or SIGINT)\n"
		"  -l           log in first (USER/PASS with -u, -w, mailboxes from -f on), then hold\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int ch;
	while ((ch = getopt(argc, argv, "s:p:L:T:m:f:u:w:c:r:d:n:a:H:l")) != -1) {
		switch (ch) {
		case 's': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 'L': opt.label = optarg; break;
		case 'T': opt.timeout = atof(optarg); break;
		case 'm': opt.mailboxes = atoi(optarg); break;
		case 'f': opt.first = atoi(optarg); break;
		case 'u': opt.user_fmt = optarg; break;
		case 'w': opt.password = optarg; break;
		case 'c': opt.conc = atoi(optarg); break;
		case 'r': opt.rounds = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'n': opt.idle_n = atoi(optarg); break;
		case 'a': opt.idle_pending = atoi(optarg); break;
		case 'H': opt.hold = atof(optarg); break;
		case 'l': opt.idle_login = true; break;
		default: usage();
		}
	}
	if (optind != argc - 1)
		usage();
	bool idle = strcmp(argv[optind], "idle") == 0;
	if (!idle && strcmp(argv[optind], "load") != 0)
		usage();
	if (opt.mailboxes < 1 || opt.conc < 1 || opt.rounds < 1 || opt.timeout <= 0 ||
	    opt.idle_n < 1 || opt.idle_pending < 1 || opt.duration < 0 || opt.hold < 0)
		usage();

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int e = getaddrinfo(opt.host, opt.port, &hints, &addr);
	if (e != 0) {
		fprintf(stderr, "pop3load: %s:%s: %s\n", opt.host, opt.port, gai_strerror(e));
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		perror("epoll_create1");
		return 1;
	}
	return idle ? run_idle() : run_load();
}
