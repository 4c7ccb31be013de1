/* SPDX-License-Identifier: MIT */
/* listen.c - see listen.h. */
#include "net/listen.h"
#include "util/log.h"
#include "util/mem.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Splits "host:port" or "[v6]:port"; 0 or -1 for a malformed address. */
static int split_addr(const char *addr, char **host_r, char **port_r)
{
	const char *colon;

	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		colon = rb + 1;
		if (colon[1] == '\0')
			return -1;
		*host_r = xstrndup(addr + 1, (size_t)(rb - addr - 1));
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || colon[1] == '\0')
			return -1;
		*host_r = xstrndup(addr, (size_t)(colon - addr));
	}
	*port_r = xstrdup(colon + 1);
	return 0;
}

/* The listening fd; or -1 with errno (the socket closed). */
static int open_one(const struct addrinfo *ai, int backlog)
{
	int one = 1;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int net_listen(const char *addr, int backlog, int *fds, size_t cap, char **err_r)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char *host = NULL, *port = NULL;
	size_t n = 0;
	int e;

	*err_r = NULL;
	if (split_addr(addr, &host, &port) < 0) {
		*err_r = xasprintf("bad listen address %s (want host:port or [v6]:port)", addr);
		return -1;
	}
	bool any = host[0] == '\0' || strcmp(host, "*") == 0;
	e = getaddrinfo(any ? NULL : host, port, &hints, &res);
	free(host);
	free(port);
	if (e != 0) {
		*err_r = xasprintf("cannot resolve listen address %s: %s", addr, gai_strerror(e));
		return -1;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		if (n == cap) {
			*err_r = xasprintf("cannot listen on %s: too many sockets", addr);
			break;
		}
		int fd = open_one(ai, backlog);
		if (fd >= 0) {
			fds[n++] = fd;
			continue;
		}
		int err = errno;
		bool absent = err == EAFNOSUPPORT || err == EADDRNOTAVAIL;
		if (absent && (ai != res || ai->ai_next != NULL)) {
			log_warn("cannot listen on %s: %s; skipped", addr, strerror(err));
			continue; /* "localhost" without IPv6 */
		}
		*err_r = xasprintf("cannot listen on %s: %s", addr, strerror(err));
		break;
	}
	freeaddrinfo(res);
	if (*err_r == NULL && n == 0)
		*err_r = xasprintf("cannot listen on %s: no usable address", addr);
	if (*err_r != NULL) {
		while (n > 0)
			close(fds[--n]);
		return -1;
	}
	return (int)n;
}
