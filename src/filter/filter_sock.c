/* SPDX-License-Identifier: MIT */
/* filter_sock.c - the sockets milters and clamd are reached at (filter.h). */
#include "filter/filter.h"
#include "net/dial.h"
#include "util/config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#define INET_PREFIX "inet:"
#define UNIX_PREFIX "unix:"

const char *filter_socket_check(const char *spec)
{
	static const char usage[] = "expected inet:HOST:PORT or unix:/PATH";
	struct sockaddr_un sun;

	if (strlen(spec) >= FILTER_SOCKET_MAX)
		return "socket name too long";
	if (strncmp(spec, INET_PREFIX, strlen(INET_PREFIX)) == 0) {
		const char *a = spec + strlen(INET_PREFIX);
		/* "*:port" is for listeners, not for a peer */
		return a[0] != '*' && config_addr_valid(a) ? NULL : usage;
	}
	if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0) {
		const char *p = spec + strlen(UNIX_PREFIX);
		if (p[0] != '/')
			return "expected an absolute path after unix:";
		if (strlen(p) >= sizeof(sun.sun_path))
			return "unix socket path too long";
		for (; *p != '\0'; p++)
			if ((unsigned char)*p <= ' ' || *p == 0x7f)
				return "unix socket path with a space or control character";
		return NULL;
	}
	return usage;
}

static int fail(char *err, size_t cap, const char *what, const char *detail)
{
	snprintf(err, cap, "%s: %s", what, detail);
	return -1;
}

static int connect_unix(struct dial *d, const char *path, char *err, size_t cap)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	memcpy(sun.sun_path, path, strlen(path) + 1); /* checked by filter_socket_check() */
	int e = dial_connect(d, (const struct sockaddr *)&sun, sizeof(sun));
	return e == 0 ? 0 : fail(err, cap, "connect", strerror(e));
}

static int connect_inet(struct dial *d, const char *addr, char *err, size_t cap)
{
	char host[FILTER_SOCKET_MAX];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG};
	struct addrinfo *res = NULL;
	size_t hl = (size_t)(colon - addr);

	if (addr[0] == '[') { /* "[v6]:port" */
		addr++;
		hl -= 2;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	int g = getaddrinfo(host, colon + 1, &hints, &res);
	if (g != 0)
		return fail(err, cap, "resolve", gai_strerror(g));
	int e = EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		e = dial_connect(d, ai->ai_addr, ai->ai_addrlen);
		if (e == 0 || e == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return e == 0 ? 0 : fail(err, cap, "connect", strerror(e));
}

int filter_socket_connect(struct dial *d, const char *spec, unsigned secs, char *err, size_t cap)
{
	const char *bad = filter_socket_check(spec);

	if (bad != NULL)
		return fail(err, cap, "socket", bad);
	dial_deadline(d, secs);
	if (strncmp(spec, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0)
		return connect_unix(d, spec + strlen(UNIX_PREFIX), err, cap);
	return connect_inet(d, spec + strlen(INET_PREFIX), err, cap);
}
