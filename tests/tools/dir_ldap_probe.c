/* SPDX-License-Identifier: MIT */
/*
 * dir_ldap_probe.c - calls the ldap directory backend's ops directly, for
 * tests/proto/test_ldap.py (a real slapd on loopback).
 *
 *   dir_ldap_probe CONFIG
 * reads one request per line on stdin, tab-separated, and answers one line
 * each on stdout, so one backend (its pool, its cache) serves many requests:
 *   lookup LOGIN            -> OK address=A hash=yes|no | UNKNOWN | TEMPFAIL
 *   verify LOGIN PASSWORD   -> OK address=A | FAILED | UNKNOWN | TEMPFAIL
 *   resolve ADDRESS         -> OK A[,B...] | UNKNOWN | TEMPFAIL
 *   parallel N REQUEST...   -> N threads at once: their answers joined by "|"
 * Every answer ends with " ms=N", the time the op took.
 */
#include "directory/dir_backend.h"
#include "server/schema.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {"OK", "UNKNOWN", "FAILED", "TEMPFAIL"};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

struct request {
	void *be;
	const char *cmd, *arg, *pw;
	char out[1024];
	double ms;
};

/* One op; its answer (without the time) in req->out. */
static void *request_run(void *v)
{
	struct request *q = v;
	struct dir_account a = {0};
	struct dir_resolution r = {0};
	enum dir_status st;
	size_t n = 0;
	double t0 = now_ms();

#define OUT(...)                                                                                   \
	n += (size_t)snprintf(q->out + n, n < sizeof(q->out) ? sizeof(q->out) - n : 0, __VA_ARGS__)
	if (strcmp(q->cmd, "lookup") == 0) {
		st = dir_ldap_ops.lookup(q->be, NULL, q->arg, &a);
		OUT("%s", status_names[st]);
		if (st == DIR_OK)
			OUT(" address=%s hash=%s", a.address, a.pw_hash ? "yes" : "no");
	} else if (strcmp(q->cmd, "verify") == 0) {
		st = dir_ldap_ops.verify(q->be, NULL, q->arg, q->pw ? q->pw : "", &a);
		OUT("%s", status_names[st]);
		if (st == DIR_OK)
			OUT(" address=%s", a.address);
	} else if (strcmp(q->cmd, "resolve") == 0) {
		st = dir_ldap_ops.resolve(q->be, NULL, q->arg, &r);
		OUT("%s", status_names[st]);
		for (size_t i = 0; i < r.n_mailboxes; i++)
			OUT("%c%s", i == 0 ? ' ' : ',', r.mailboxes[i]);
	} else {
		OUT("BAD-REQUEST");
	}
#undef OUT
	q->ms = now_ms() - t0;
	dir_account_clear(&a);
	dir_resolution_clear(&r);
	return NULL;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char *err = NULL, line[4096];
	void *be;

	if (argc != 2) {
		fprintf(stderr, "usage: dir_ldap_probe CONFIG\n");
		return 2;
	}
	if (config_load(server_schema(), argv[1], &cfg, &err) < 0) {
		fprintf(stderr, "%s\n", err);
		free(err);
		return 1;
	}
	log_set_level(cfg.log_level);
	if (dir_ldap_ops.open(&cfg, &be, &err) < 0) {
		printf("OPEN-ERROR %s\n", err);
		free(err);
		config_free(&cfg);
		return 1;
	}
	printf("READY\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char *save = NULL;
		line[strcspn(line, "\n")] = '\0';
		char *cmd = strtok_r(line, "\t", &save);
		unsigned threads = 1;
		if (cmd != NULL && strcmp(cmd, "parallel") == 0) {
			char *n = strtok_r(NULL, "\t", &save);
			threads = n ? (unsigned)strtoul(n, NULL, 10) : 0;
			cmd = strtok_r(NULL, "\t", &save);
		}
		char *arg = strtok_r(NULL, "\t", &save), *pw = strtok_r(NULL, "\t", &save);
		if (cmd == NULL || arg == NULL || threads < 1 || threads > 64) {
			printf("BAD-REQUEST\n");
			fflush(stdout);
			continue;
		}
		/* parallel N OP ...: N threads at once; the answers in order,
		   the time of the slowest */
		struct request *q = xcalloc(threads, sizeof(*q));
		pthread_t *tid = xcalloc(threads, sizeof(*tid));
		double ms = 0;
		for (unsigned i = 0; i < threads; i++) {
			q[i] = (struct request){.be = be, .cmd = cmd, .arg = arg, .pw = pw};
			if (pthread_create(&tid[i], NULL, request_run, &q[i]) != 0)
				log_fatal("pthread_create failed");
		}
		for (unsigned i = 0; i < threads; i++) {
			pthread_join(tid[i], NULL);
			printf("%s%s", i > 0 ? "|" : "", q[i].out);
			ms = q[i].ms > ms ? q[i].ms : ms;
		}
		printf(" ms=%.0f\n", ms);
		fflush(stdout);
		if (pw != NULL)
			secure_zero(pw, strlen(pw));
		free(q);
		free(tid);
	}
	dir_ldap_ops.close(be);
	config_free(&cfg);
	return 0;
}
