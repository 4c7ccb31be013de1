/* SPDX-License-Identifier: MIT */
/*
 * smtpload.c - SMTP ingest load client for bench/run-smtp.sh.
 *
 *   smtpload HOST PORT CONNECTIONS MESSAGES SIZE USERS DOMAIN [PER_CONN]
 *
 * CONNECTIONS threads; each opens a connection, sends EHLO, then messages
 * of about SIZE octets (MAIL, RCPT to 1..3 of the USERS mailboxes
 * user0001@DOMAIN ..., DATA), each waiting for its 250, QUIT after
 * PER_CONN of them (default: all) and a new connection for the next ones,
 * MESSAGES in all per thread.
 * Only a 250 after the final dot counts. Prints one line:
 *   "messages=N rcpts=N seconds=S msgs_per_s=X errors=E"
 * Every read has a 60 s limit; exit status 1 if anything failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *host, *domain;
static int port, conns, messages, size, users, per_conn;
static atomic_long done_msgs, done_rcpts, errors;

struct conn {
	int fd;
	char buf[8192];
	size_t off, len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one whole reply; returns its code or -1. */
static int reply(struct conn *c)
{
	char line[1024];
	for (int lines = 0; lines < 100; lines++) {
		size_t n = 0;
		for (;;) {
			if (c->off == c->len) {
				ssize_t r = recv(c->fd, c->buf, sizeof(c->buf), 0);
				if (r <= 0)
					return -1;
				c->off = 0;
				c->len = (size_t)r;
			}
			char ch = c->buf[c->off++];
			if (ch == '\n')
				break;
			if (n + 1 < sizeof(line))
				line[n++] = ch;
		}
		line[n] = '\0';
		if (n < 4 || line[3] != '-')
			return atoi(line);
	}
	return -1;
}

static int cmd(struct conn *c, const char *text)
{
	if (send_all(c, text, strlen(text)) < 0)
		return -1;
	return reply(c);
}

/* A new connection, greeted and past EHLO; 0, or -1 on failure. */
static int conn_open(struct conn *c)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 60};
	int one = 1;

	c->off = c->len = 0;
	inet_pton(AF_INET, host, &sa.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || reply(c) != 220 ||
	    cmd(c, "EHLO load.bench.test\r\n") != 250) {
		close(c->fd);
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	struct conn c = {0};
	char text[512];

	if (conn_open(&c) < 0) {
		atomic_fetch_add(&errors, 1);
		return NULL;
	}
	/* the body: header, then lines of text up to about `size` octets */
	char *body = malloc((size_t)size + 1024);
	for (int m = 0; m < messages; m++) {
		if (m > 0 && m % per_conn == 0) {
			cmd(&c, "QUIT\r\n");
			close(c.fd);
			if (conn_open(&c) < 0) {
				atomic_fetch_add(&errors, 1);
				free(body);
				return NULL;
			}
		}
		int n_rcpt = 1 + (t + m) % 3;
		size_t o = (size_t)snprintf(body, 1024,
					    "From: load%d@sender.test\r\nTo: bench\r\nSubject: load "
					    "%d/%d\r\nMessage-ID: <%d.%d@load.bench.test>\r\n\r\n",
					    t, t, m, t, m);
		while (o + 80 < (size_t)size) {
			o += (size_t)snprintf(body + o, 80,
					      "%06zu the quick brown fox jumps over the lazy dog "
					      "%d %d\r\n", o, t, m);
		}
		memcpy(body + o, ".\r\n", 4);
		o += 3;
		snprintf(text, sizeof(text), "MAIL FROM:<load%d@sender.test>\r\n", t);
		if (cmd(&c, text) != 250)
			goto fail;
		for (int r = 0; r < n_rcpt; r++) {
			snprintf(text, sizeof(text), "RCPT TO:<user%04d@%s>\r\n",
				 1 + (t * 7 + m * 3 + r) % users, domain);
			if (cmd(&c, text) != 250)
				goto fail;
		}
		if (cmd(&c, "DATA\r\n") != 354 || send_all(&c, body, o) < 0 || reply(&c) != 250)
			goto fail;
		atomic_fetch_add(&done_msgs, 1);
		atomic_fetch_add(&done_rcpts, n_rcpt);
	}
	cmd(&c, "QUIT\r\n");
	free(body);
	close(c.fd);
	return NULL;
fail:
	atomic_fetch_add(&errors, 1);
	free(body);
	close(c.fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 8 && argc != 9) {
		fprintf(stderr,
			"usage: smtpload HOST PORT CONNECTIONS MESSAGES SIZE USERS DOMAIN [PER_CONN]\n");
		return 2;
	}
	host = argv[1];
	port = atoi(argv[2]);
	conns = atoi(argv[3]);
	messages = atoi(argv[4]);
	size = atoi(argv[5]);
	users = atoi(argv[6]);
	domain = argv[7];
	per_conn = argc == 9 ? atoi(argv[8]) : messages;
	if (conns < 1 || messages < 1 || size < 256 || users < 3 || per_conn < 1)
		return 2;
	pthread_t *th = calloc((size_t)conns, sizeof(*th));
	double t0 = now();
	for (int i = 0; i < conns; i++)
		pthread_create(&th[i], NULL, worker, (void *)(long)i);
	for (int i = 0; i < conns; i++)
		pthread_join(th[i], NULL);
	double el = now() - t0;
	printf("messages=%ld rcpts=%ld seconds=%.2f msgs_per_s=%.1f errors=%ld\n",
	       atomic_load(&done_msgs), atomic_load(&done_rcpts), el,
	       (double)atomic_load(&done_msgs) / el, atomic_load(&errors));
	free(th);
	return atomic_load(&errors) > 0 ? 1 : 0;
}
