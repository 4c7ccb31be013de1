/* SPDX-License-Identifier: MIT */
/*
 * test_net_dial.c - the blocking client connection (net/dial.h) over a
 * socketpair and loopback: reads and writes, a silent peer that runs the
 * deadline out (DIAL_TIMEOUT within the bound), a peer that closes
 * (0, DIAL_LOST), and a refused connect.
 */
#include "net/dial.h"
#include "test_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_read_write_timeout_close(void)
{
	int sv[2];
	struct dial d;
	char buf[16];

	test_begin("dial: read, write, timeout, close");
	test_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	dial_init(&d);
	d.fd = sv[0];
	fcntl(d.fd, F_SETFL, fcntl(d.fd, F_GETFL) | O_NONBLOCK);
	dial_deadline(&d, 5);
	test_assert(dial_write(&d, "ping", 4));
	test_assert(read(sv[1], buf, sizeof(buf)) == 4 && memcmp(buf, "ping", 4) == 0);
	test_assert(write(sv[1], "pong", 4) == 4);
	test_assert(dial_read(&d, buf, sizeof(buf)) == 4 && memcmp(buf, "pong", 4) == 0);
	/* the peer says nothing: the deadline ends the wait */
	dial_deadline(&d, 1);
	int64_t t0 = dial_now_ms();
	test_assert(dial_read(&d, buf, sizeof(buf)) == -1);
	int64_t took = dial_now_ms() - t0;
	test_assert(d.io == DIAL_TIMEOUT && d.secs == 1);
	test_assert(took >= 900 && took < 3000);
	/* a failed connection stays failed */
	test_assert(!dial_write(&d, "x", 1));
	d.io = DIAL_OK;
	close(sv[1]);
	dial_deadline(&d, 5);
	test_assert(dial_read(&d, buf, sizeof(buf)) == 0 && d.io == DIAL_LOST);
	dial_close(&d);
	test_assert(d.fd == -1);
	dial_close(&d); /* twice is harmless */
	test_end();
}

static void test_connect_refused(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	struct dial d;

	test_begin("dial: connect refused");
	/* a port that was just free: bound, then closed without listening */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	test_assert(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	test_assert(getsockname(s, (struct sockaddr *)&sa, &len) == 0);
	close(s);
	dial_init(&d);
	dial_deadline(&d, 5);
	test_assert(dial_connect(&d, (struct sockaddr *)&sa, sizeof(sa)) == ECONNREFUSED);
	test_assert(d.fd == -1 && d.io == DIAL_LOST);
	dial_close(&d);
	test_end();
}

int main(void)
{
	return test_run(
	    (void (*[])(void)){test_read_write_timeout_close, test_connect_refused, NULL});
}
