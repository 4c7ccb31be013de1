/* SPDX-License-Identifier: MIT */
/* dial.c - see dial.h. */
#include "net/dial.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t dial_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dial_init(struct dial *d)
{
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

void dial_deadline(struct dial *d, unsigned secs)
{
	d->secs = secs;
	d->deadline = dial_now_ms() + (int64_t)secs * 1000;
}

static bool failed(struct dial *d, enum dial_io why)
{
	d->io = why;
	return false;
}

/* Until the socket is ready for ev, at most until the deadline. */
static bool ready(struct dial *d, short ev)
{
	for (;;) {
		int64_t left = d->deadline - dial_now_ms();
		if (left <= 0)
			return failed(d, DIAL_TIMEOUT);
		struct pollfd pfd = {.fd = d->fd, .events = ev};
		int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return true;
		if (r < 0 && errno != EINTR)
			return failed(d, DIAL_LOST);
	}
}

/* What OpenSSL asks for after a call that returned r. */
static bool ssl_ready(struct dial *d, struct ssl_st *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return ready(d, POLLIN);
	case SSL_ERROR_WANT_WRITE:
		return ready(d, POLLOUT);
	default:
		return failed(d, DIAL_LOST);
	}
}

int dial_connect(struct dial *d, const struct sockaddr *sa, socklen_t len)
{
	d->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->fd < 0)
		return errno;
	int e = connect(d->fd, sa, len) < 0 ? errno : 0;
	if (e == EINPROGRESS) {
		socklen_t el = sizeof(e);
		if (!ready(d, POLLOUT))
			e = d->io == DIAL_TIMEOUT ? ETIMEDOUT : errno;
		else if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
			e = errno;
	}
	if (e != 0) {
		close(d->fd);
		d->fd = -1;
		d->io = e == ETIMEDOUT ? DIAL_TIMEOUT : DIAL_LOST;
	}
	return e;
}

ssize_t dial_read(struct dial *d, void *p, size_t n)
{
	if (d->io != DIAL_OK)
		return -1;
	for (;;) {
		if (d->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_read(d->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r > 0)
				return r;
			if (SSL_get_error(d->ssl, r) == SSL_ERROR_ZERO_RETURN) {
				d->io = DIAL_LOST;
				return 0;
			}
			if (!ssl_ready(d, d->ssl, r))
				return -1;
			continue;
		}
		ssize_t r = recv(d->fd, p, n, 0);
		if (r > 0)
			return r;
		if (r == 0) {
			d->io = DIAL_LOST;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			d->io = DIAL_LOST;
			return -1;
		}
		if (!ready(d, POLLIN))
			return -1;
	}
}

bool dial_write(struct dial *d, const void *p, size_t n)
{
	const char *q = p;
	if (d->io != DIAL_OK)
		return false;
	while (n > 0) {
		size_t chunk = n > 65536 ? 65536 : n;
		if (d->ssl != NULL) {
			ERR_clear_error();
			int r = SSL_write(d->ssl, q, (int)chunk);
			if (r <= 0) {
				if (!ssl_ready(d, d->ssl, r))
					return false;
				continue; /* the same buffer again, as OpenSSL requires */
			}
			q += r;
			n -= (size_t)r;
			continue;
		}
		ssize_t w = send(d->fd, q, chunk, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!ready(d, POLLOUT))
				return false;
			continue;
		}
		if (w <= 0)
			return failed(d, DIAL_LOST);
		q += w;
		n -= (size_t)w;
	}
	return true;
}

bool dial_handshake(struct dial *d, struct ssl_st *ssl)
{
	for (;;) {
		ERR_clear_error();
		int r = SSL_connect(ssl);
		if (r == 1) {
			d->ssl = ssl;
			return true;
		}
		if (!ssl_ready(d, ssl, r))
			return false;
	}
}

void dial_close(struct dial *d)
{
	if (d->ssl != NULL) {
		if (d->io == DIAL_OK)
			SSL_shutdown(d->ssl); /* non-blocking: one try, never a wait */
		SSL_free(d->ssl);
		d->ssl = NULL;
	}
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}
