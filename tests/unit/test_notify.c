/* SPDX-License-Identifier: MIT */
/*
 * test_notify.c - server/notify.h against our own datagram sockets: a path
 * and an abstract "@" name receive exactly the texts sent; bad addresses
 * (relative, too long, nobody listening) are refused with a message and no
 * address means no handle; READY=1 comes from inside the loop and is
 * followed by WATCHDOG=1 pings at half the interval; RELOADING=1 carries
 * MONOTONIC_USEC; WATCHDOG_USEC/WATCHDOG_PID parsing. Every receive is
 * bounded (SO_RCVTIMEO) and the loop by a guard timer.
 */
#include "net/loop.h"
#include "server/notify.h"
#include "test_common.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A bound datagram socket standing in for the service manager. */
static int manager(const char *addr)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 2};
	size_t len = strlen(addr);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(sa.sun_path, addr, len);
	if (addr[0] == '@')
		sa.sun_path[0] = '\0';
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* The next datagram as a string ("" on timeout). */
static char *next_msg(int fd)
{
	char buf[4096];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	return xstrndup(buf, n > 0 ? (size_t)n : 0);
}

static void test_path_and_abstract(void)
{
	test_begin("a path and an abstract name get the texts sent");
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/notify", dir);
	char *abs = xasprintf("@mailroom-test-notify-%d", (int)getpid());
	const char *addrs[] = {path, abs};

	for (size_t i = 0; i < 2; i++) {
		int fd = manager(addrs[i]);
		char *err = NULL;
		test_assert(fd >= 0);
		struct notify *n = notify_new(addrs[i], &err);
		test_assert(n != NULL && err == NULL);
		test_assert(notify_send(n, "READY=1") == 0);
		char *m = next_msg(fd);
		test_assert_str(m, "READY=1");
		free(m);
		notify_stopping(n, "stopping:\ntwo lines");
		m = next_msg(fd);
		test_assert_str(m, "STOPPING=1\nSTATUS=stopping: two lines");
		free(m);
		notify_reloading(n, "reloading");
		m = next_msg(fd);
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		unsigned long long usec = 0, now = (unsigned long long)ts.tv_sec * 1000000ULL;
		char status[64] = "";
		test_assert(sscanf(m, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=%63[^\n]", &usec,
				   status) == 2);
		test_assert(usec <= now + 1000000ULL && usec + 5000000ULL >= now);
		test_assert_str(status, "reloading");
		free(m);
		notify_free(&n);
		test_assert(n == NULL);
		notify_free(&n); /* NULL is fine */
		close(fd);
	}
	free(abs);
	free(path);
	test_rmtree(dir);
	test_end();
}

static void test_bad_addresses(void)
{
	test_begin("no address: no handle; bad ones: a message");
	char *err = NULL;
	test_assert(notify_new(NULL, &err) == NULL && err == NULL);
	test_assert(notify_new("", &err) == NULL && err == NULL);
	test_assert(notify_send(NULL, "READY=1") == 0); /* a no-op */
	notify_ready(NULL, "x");

	test_assert(notify_new("relative/sock", &err) == NULL && err != NULL);
	test_assert(err != NULL && strstr(err, "relative/sock") != NULL);
	free(err);
	char longp[300];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	test_assert(notify_new(longp, &err) == NULL && err != NULL);
	test_assert(err != NULL && strstr(err, "longer than") != NULL);
	free(err);
	char *dir = test_tmpdir();
	char *missing = xasprintf("%s/nobody", dir);
	test_assert(notify_new(missing, &err) == NULL && err != NULL);
	test_assert(err != NULL && strstr(err, "No such file") != NULL);
	free(err);
	free(missing);
	test_rmtree(dir);
	test_end();
}

static void test_watchdog_parse(void)
{
	test_begin("WATCHDOG_USEC and WATCHDOG_PID");
	test_assert(notify_watchdog_parse(NULL, NULL, 42) == 0);
	test_assert(notify_watchdog_parse("30000000", NULL, 42) == 30000000);
	test_assert(notify_watchdog_parse("30000000", "42", 42) == 30000000);
	test_assert(notify_watchdog_parse("30000000", "41", 42) == 0);
	test_assert(notify_watchdog_parse("30000000", "x", 42) == 0);
	test_assert(notify_watchdog_parse("0", NULL, 42) == 0);
	test_assert(notify_watchdog_parse("-5", NULL, 42) == 0);
	test_assert(notify_watchdog_parse("12ms", NULL, 42) == 0);
	test_assert(notify_watchdog_parse("", NULL, 42) == 0);
	test_assert(notify_watchdog_parse("99999999999999999999999", NULL, 42) == 0);
	test_end();
}

static void stop_cb(struct loop *l, void *ctx)
{
	loop_stop(l);
}

static void test_ready_then_watchdog(void)
{
	test_begin("READY=1 from the running loop, then WATCHDOG=1 pings");
	char *dir = test_tmpdir();
	char *path = xasprintf("%s/notify", dir);
	int fd = manager(path);
	char *err = NULL;
	struct notify *n = notify_new(path, &err);
	struct loop *l = loop_new();

	test_assert(fd >= 0 && n != NULL);
	notify_set_watchdog(n, 40000); /* pings every 20 ms */
	notify_start(n, l, "serving");
	char buf[64];
	/* nothing before the loop runs */
	test_assert(recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	loop_timer_add(l, 150, stop_cb, NULL);
	loop_run(l);
	char *m = next_msg(fd);
	test_assert_str(m, "READY=1\nSTATUS=serving");
	free(m);
	unsigned pings = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		if (r < 0)
			break;
		buf[r] = '\0';
		test_assert_str(buf, "WATCHDOG=1");
		pings++;
	}
	test_assert(pings >= 2 && pings <= 9);
	notify_free(&n); /* cancels the pending ping */
	loop_free(&l);
	close(fd);
	free(path);
	test_rmtree(dir);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_path_and_abstract, test_bad_addresses,
					   test_watchdog_parse, test_ready_then_watchdog, NULL});
}
