/* SPDX-License-Identifier: MIT */
/*
 * test_net_listen.c - listening sockets for a configured address
 * (net/listen.h): 127.0.0.1 with a kernel-chosen port gives one
 * non-blocking, close-on-exec socket that accepts; a port already bound is
 * refused with the system's reason and no socket left open; malformed
 * addresses, an unresolvable host and a full fds array are refused; "[::1]"
 * works where the machine has IPv6 and is refused cleanly where it has not.
 */
#include "net/listen.h"
#include "test_common.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int bound_port(int fd)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return -1;
	return ntohs(sa.sin_port);
}

static void test_loopback_and_in_use(void)
{
	int fds[4], more[4];
	char *err = NULL, addr[64];

	test_begin("listen: loopback, accept, port in use");
	test_assert(net_listen("127.0.0.1:0", 16, fds, 4, &err) == 1 && err == NULL);
	test_assert((fcntl(fds[0], F_GETFL) & O_NONBLOCK) != 0);
	test_assert((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
	int port = bound_port(fds[0]);
	test_assert(port > 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	test_assert(connect(c, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	int a = -1;
	for (int i = 0; i < 100 && a < 0; i++) {
		a = accept(fds[0], NULL, NULL);
		if (a < 0)
			usleep(10000);
	}
	test_assert(a >= 0);
	close(a);
	close(c);

	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	test_assert(net_listen(addr, 16, more, 4, &err) == -1);
	test_assert(err != NULL && strstr(err, "cannot listen on 127.0.0.1:") != NULL &&
		    strstr(err, "Address already in use") != NULL);
	free(err);
	close(fds[0]);
	test_end();
}

static void test_refusals(void)
{
	static const char *bad[] = {"127.0.0.1", "[::1", "[::1]", "[::1]:", "127.0.0.1:", ""};
	int fds[2];
	char *err = NULL;

	test_begin("listen: malformed, unresolvable, too many");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		test_assert(net_listen(bad[i], 16, fds, 2, &err) == -1);
		test_assert(err != NULL && strstr(err, "bad listen address") != NULL);
		free(err);
		err = NULL;
	}
	test_assert(net_listen("no-such-host.invalid:25", 16, fds, 2, &err) == -1);
	test_assert(err != NULL && strstr(err, "cannot resolve listen address") != NULL);
	free(err);
	test_assert(net_listen("127.0.0.1:0", 16, fds, 0, &err) == -1);
	test_assert(err != NULL && strstr(err, "too many sockets") != NULL);
	free(err);
	test_end();
}

static void test_ipv6(void)
{
	int fds[2];
	char *err = NULL;

	test_begin("listen: [::1] with or without IPv6");
	int n = net_listen("[::1]:0", 16, fds, 2, &err);
	if (n == 1) {
		test_assert(err == NULL);
		close(fds[0]);
	} else {
		test_assert(n == -1 && err != NULL && strstr(err, "[::1]:0") != NULL);
		free(err);
	}
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_loopback_and_in_use, test_refusals, test_ipv6, NULL});
}
