/* SPDX-License-Identifier: MIT */
/*
 * notify.c - the sd_notify protocol (see notify.h): one connected AF_UNIX
 * datagram socket, a text per state, and the watchdog timer.
 *
 * Addresses: "/path" is a file-system socket; "@name" is Linux's abstract
 * namespace, where the leading '@' becomes a NUL byte and the address
 * length counts exactly the name (no terminating NUL), as systemd reads it.
 */
#include "server/notify.h"
#include "net/loop.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct notify {
	int fd;
	uint64_t watchdog_usec; /* 0: no watchdog */
	struct loop *loop;	/* set by notify_start() */
	struct timer *ready, *watchdog;
	char *status;
};

struct notify *notify_new(const char *addr, char **err_r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = addr != NULL ? strlen(addr) : 0;

	*err_r = NULL;
	if (len == 0)
		return NULL;
	if (addr[0] != '/' && addr[0] != '@') {
		*err_r = xasprintf("NOTIFY_SOCKET=%s: not a socket path or @abstract name", addr);
		return NULL;
	}
	if (len > sizeof(sa.sun_path) - (addr[0] == '/')) {
		*err_r = xasprintf("NOTIFY_SOCKET=%s: longer than a socket address", addr);
		return NULL;
	}
	memcpy(sa.sun_path, addr, len);
	if (addr[0] == '@')
		sa.sun_path[0] = '\0';
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*err_r = xasprintf("NOTIFY_SOCKET=%s: socket: %s", addr, strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		*err_r = xasprintf("NOTIFY_SOCKET=%s: %s", addr, strerror(errno));
		close(fd);
		return NULL;
	}
	struct notify *n = xcalloc(1, sizeof(*n));
	n->fd = fd;
	return n;
}

uint64_t notify_watchdog_parse(const char *usec, const char *pid, pid_t self)
{
	char *end;

	if (usec == NULL || usec[0] < '0' || usec[0] > '9')
		return 0;
	errno = 0;
	unsigned long long v = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return 0;
	if (pid != NULL) {
		if (pid[0] < '0' || pid[0] > '9')
			return 0;
		unsigned long long p = strtoull(pid, &end, 10);
		if (*end != '\0' || p != (unsigned long long)self)
			return 0; /* meant for another process (a parent) */
	}
	return v;
}

void notify_set_watchdog(struct notify *n, uint64_t usec)
{
	if (n != NULL)
		n->watchdog_usec = usec;
}

struct notify *notify_from_env(void)
{
	char *err = NULL;
	struct notify *n = notify_new(getenv("NOTIFY_SOCKET"), &err);

	if (err != NULL) {
		log_warn("service manager: %s; not notifying it", err);
		free(err);
	}
	notify_set_watchdog(
	    n, notify_watchdog_parse(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), getpid()));
	return n;
}

void notify_free(struct notify **np)
{
	struct notify *n = *np;

	if (n == NULL)
		return;
	if (n->loop != NULL) {
		loop_timer_del(n->loop, &n->ready);
		loop_timer_del(n->loop, &n->watchdog);
	}
	close(n->fd);
	free(n->status);
	free(n);
	*np = NULL;
}

int notify_send(struct notify *n, const char *text)
{
	if (n == NULL)
		return 0;
	ssize_t r = send(n->fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0) {
		log_warn("service manager: cannot notify it (%.*s): %s", (int)strcspn(text, "\n"),
			 text, strerror(errno));
		return -1;
	}
	return 0;
}

/* "HEAD\nSTATUS=status" with newlines in status made spaces (one line). */
static void send_state(struct notify *n, const char *head, const char *status)
{
	if (n == NULL)
		return;
	char *text = xasprintf("%s\nSTATUS=%s", head, status);
	for (char *p = text + strlen(head) + 1; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	notify_send(n, text);
	free(text);
}

static void watchdog_ping(struct loop *l, void *ctx)
{
	struct notify *n = ctx;

	notify_send(n, "WATCHDOG=1");
	/* half the interval, as sd_watchdog_enabled(3) advises; at least 1 ms */
	uint64_t ms = n->watchdog_usec / 2000;
	n->watchdog = loop_timer_add(l, ms > 0 ? ms : 1, watchdog_ping, n);
}

static void ready_now(struct loop *l, void *ctx)
{
	struct notify *n = ctx;

	n->ready = NULL;
	send_state(n, "READY=1", n->status);
	if (n->watchdog_usec != 0) {
		log_info("service manager: watchdog every %llu ms",
			 (unsigned long long)(n->watchdog_usec / 2000));
		watchdog_ping(l, n);
	}
}

void notify_start(struct notify *n, struct loop *l, const char *status)
{
	if (n == NULL)
		return;
	n->loop = l;
	free(n->status);
	n->status = xstrdup(status);
	/* a zero timer fires from inside loop_run(): READY means the loop turns */
	n->ready = loop_timer_add(l, 0, ready_now, n);
}

void notify_reloading(struct notify *n, const char *status)
{
	struct timespec ts;

	if (n == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char *head = xasprintf("RELOADING=1\nMONOTONIC_USEC=%llu",
			       (unsigned long long)ts.tv_sec * 1000000ULL +
				   (unsigned long long)ts.tv_nsec / 1000ULL);
	send_state(n, head, status);
	free(head);
}

void notify_ready(struct notify *n, const char *status)
{
	send_state(n, "READY=1", status);
}

void notify_stopping(struct notify *n, const char *status)
{
	send_state(n, "STOPPING=1", status);
}
