/* SPDX-License-Identifier: MIT */
/*
 * test_clamd.c - clamd's replies (filter/clamd.h): the parser on every
 * form clamd sends to INSTREAM and on the malformed ones it must refuse;
 * the reader fed whole, cut anywhere and octet by octet, its limit; and
 * clamd_scan()'s verdicts and policies against a scripted clamd on a unix
 * socket (a refused connection, a reply after a lost write, a timeout).
 */
#include "filter/clamd.h"
#include "test_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void test_parse(void)
{
	static const struct {
		const char *in;
		enum clamd_verdict verdict;
		const char *text; /* signature or reason */
		bool size_limit;
	} good[] = {
	    {"stream: OK", CLAMD_CLEAN, "", false},
	    {"stream: Win.Test.EICAR_HDB-1 FOUND", CLAMD_INFECTED, "Win.Test.EICAR_HDB-1", false},
	    {"stream: Heuristics.Phishing.Email.SpoofedDomain FOUND", CLAMD_INFECTED,
	     "Heuristics.Phishing.Email.SpoofedDomain", false},
	    {"INSTREAM size limit exceeded. ERROR", CLAMD_ERROR, "INSTREAM size limit exceeded.",
	     true},
	    {"stream: Can't allocate memory ERROR", CLAMD_ERROR, "Can't allocate memory", false},
	    {"UNKNOWN COMMAND ERROR", CLAMD_ERROR, "UNKNOWN COMMAND", false},
	};
	static const char *const bad[] = {
	    "",
	    "stream: ",
	    "stream: ok",
	    "stream: OK ",
	    "stream:OK",
	    "OK",
	    "stream:  FOUND",
	    "stream: FOUND",
	    "stream: Two Words FOUND",
	    "stream: Eicar FOUND\n",
	    "stream: Eicar\tFOUND",
	    " ERROR",
	    "stream:  ERROR",
	    "ERROR",
	    "stream: OK\r",
	    "1: stream: OK",
	};
	struct clamd_reply r;

	test_begin("clamd: replies read, malformed ones refused");
	for (size_t i = 0; i < N_ELEMENTS(good); i++) {
		test_assert(clamd_reply_parse(good[i].in, strlen(good[i].in), &r));
		test_assert(r.verdict == good[i].verdict);
		test_assert_str(r.verdict == CLAMD_INFECTED ? r.signature : r.reason, good[i].text);
		test_assert(r.size_limit == good[i].size_limit);
	}
	for (size_t i = 0; i < N_ELEMENTS(bad); i++)
		test_assert(!clamd_reply_parse(bad[i], strlen(bad[i]), &r));
	/* a NUL inside is not text */
	test_assert(!clamd_reply_parse("stream: O\0K", 11, &r));
	char name[CLAMD_NAME_MAX + 20];
	snprintf(name, sizeof(name), "stream: %0*d FOUND", CLAMD_NAME_MAX - 1, 7);
	test_assert(clamd_reply_parse(name, strlen(name), &r) && r.verdict == CLAMD_INFECTED);
	snprintf(name, sizeof(name), "stream: %0*d FOUND", CLAMD_NAME_MAX, 7);
	test_assert(!clamd_reply_parse(name, strlen(name), &r));
	test_assert_str(clamd_verdict_name(CLAMD_SKIPPED), "skipped");
	test_end();
}

/* Feeds in cut after every `step` octets; the status and octets used. */
static enum clamd_read_status feed_steps(struct clamd_reader *r, const char *in, size_t len,
					 size_t step, size_t *used_r)
{
	enum clamd_read_status st = CLAMD_READ_MORE;
	size_t off = 0;

	clamd_reader_init(r);
	while (off < len && st == CLAMD_READ_MORE) {
		size_t n = len - off < step ? len - off : step, used;
		st = clamd_reader_feed(r, in + off, n, &used);
		test_assert(used <= n && (st != CLAMD_READ_MORE || used == n));
		off += used;
	}
	*used_r = off;
	return st;
}

static void test_reader(void)
{
	static const char two[] = "stream: OK\0stream: X FOUND\0";
	struct clamd_reader r;
	size_t used;

	test_begin("clamd: the reader stops at the NUL, however the input is cut");
	for (size_t step = 1; step <= sizeof(two); step++) {
		test_assert(feed_steps(&r, two, sizeof(two) - 1, step, &used) == CLAMD_READ_DONE);
		test_assert(used == 11 && r.len == 10);
		test_assert_str(r.text, "stream: OK");
	}
	test_assert(feed_steps(&r, "stream: O", 9, 4, &used) == CLAMD_READ_MORE && used == 9);
	char *big = malloc(CLAMD_REPLY_MAX + 10);
	memset(big, 'a', CLAMD_REPLY_MAX + 10);
	for (size_t step = 1; step <= CLAMD_REPLY_MAX + 10; step += 97) {
		test_assert(feed_steps(&r, big, CLAMD_REPLY_MAX + 10, step, &used) ==
			    CLAMD_READ_BAD);
		test_assert(used == CLAMD_REPLY_MAX);
		test_assert(clamd_reader_feed(&r, "x", 1, &used) == CLAMD_READ_BAD && used == 0);
	}
	big[CLAMD_REPLY_MAX] = '\0'; /* the longest reply there is */
	test_assert(feed_steps(&r, big, CLAMD_REPLY_MAX + 1, 100, &used) == CLAMD_READ_DONE);
	test_assert(r.len == CLAMD_REPLY_MAX && used == CLAMD_REPLY_MAX + 1);
	free(big);
	test_end();
}

/* --- a scripted clamd --------------------------------------------------------------------- */

struct fake {
	int lfd;
	char path[108];
	const char *reply; /* with its NUL sent */
	size_t read_max;   /* octets read before replying and closing (0: all) */
	bool silent;	   /* never answer */
	size_t got;	   /* octets received */
	char head[16];
};

static void *fake_run(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return NULL;
	while ((f->read_max == 0 || f->got < f->read_max) && (n = read(fd, buf, sizeof(buf))) > 0) {
		if (f->got < sizeof(f->head))
			memcpy(f->head + f->got, buf,
			       (size_t)n < sizeof(f->head) - f->got ? (size_t)n
								    : sizeof(f->head) - f->got);
		f->got += (size_t)n;
		/* the end: a zero-length chunk */
		if (f->read_max == 0 && f->got >= 14 && n >= 4 &&
		    memcmp(buf + n - 4, "\0\0\0\0", 4) == 0)
			break;
	}
	if (!f->silent && f->reply != NULL)
		(void)!write(fd, f->reply, strlen(f->reply) + 1);
	if (f->silent)
		sleep(2);
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, const char *dir, pthread_t *t)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(f->path, sizeof(f->path), "%s/clamd.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	test_assert(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	test_assert(listen(f->lfd, 1) == 0);
	pthread_create(t, NULL, fake_run, f);
}

static void fake_stop(struct fake *f, pthread_t t)
{
	pthread_join(t, NULL);
	close(f->lfd);
	unlink(f->path);
}

static void scan_with(struct fake *f, const char *msg, size_t len, struct clamd_conf *conf,
		      struct clamd_result *r)
{
	char *dir = test_tmpdir(), spec[200];
	pthread_t t;

	fake_start(f, dir, &t);
	snprintf(spec, sizeof(spec), "unix:%s", f->path);
	conf->socket = spec;
	clamd_scan(conf, msg, len, r);
	fake_stop(f, t);
	test_rmtree(dir);
}

static void test_scan(void)
{
	struct clamd_conf conf = {
	    .timeout = 5, .policy = FILTER_FAIL_CLOSED, .max_scan_size = 1 << 20};
	struct clamd_result r;
	static const char msg[] = "Subject: t\r\n\r\nhello\r\n";

	test_begin("clamd: scans against a scripted clamd, and the policies");
	struct fake ok = {.reply = "stream: OK"};
	scan_with(&ok, msg, sizeof(msg) - 1, &conf, &r);
	test_assert(r.verdict == CLAMD_CLEAN && r.action == CLAMD_ACCEPT);
	/* the command, one chunk with its length, the end */
	test_assert(ok.got == 10 + 4 + sizeof(msg) - 1 + 4);
	test_assert(memcmp(ok.head, "zINSTREAM\0\0\0\0\025Sub", 16) == 0);

	struct fake found = {.reply = "stream: Test.Sig FOUND"};
	scan_with(&found, msg, sizeof(msg) - 1, &conf, &r);
	test_assert(r.verdict == CLAMD_INFECTED && r.action == CLAMD_REJECT);
	test_assert_str(r.signature, "Test.Sig");
	test_assert_str(r.reply, "554 5.7.1 Virus found: Test.Sig");

	/* StreamMaxLength: clamd answers and closes while we still write */
	size_t big_len = 4 << 20;
	char *big = malloc(big_len);
	memset(big, 'x', big_len);
	conf.max_scan_size = 0;
	struct fake limit = {.reply = "INSTREAM size limit exceeded. ERROR", .read_max = 100000};
	scan_with(&limit, big, big_len, &conf, &r);
	test_assert(r.verdict == CLAMD_ERROR && r.size_limit);
	test_assert(r.action == CLAMD_TEMPFAIL && strncmp(r.reply, "451 4.7.1 ", 10) == 0);
	test_assert(strstr(r.reason, "size limit") != NULL);
	conf.policy = FILTER_FAIL_OPEN;
	struct fake limit2 = {.reply = "INSTREAM size limit exceeded. ERROR", .read_max = 100000};
	scan_with(&limit2, big, big_len, &conf, &r);
	test_assert(r.verdict == CLAMD_ERROR && r.size_limit && r.action == CLAMD_ACCEPT);
	free(big);

	struct fake junk = {.reply = "stream: maybe"};
	scan_with(&junk, msg, sizeof(msg) - 1, &conf, &r);
	test_assert(r.verdict == CLAMD_ERROR && strstr(r.reason, "malformed") != NULL);

	conf.timeout = 1;
	struct fake silent = {.silent = true};
	scan_with(&silent, msg, sizeof(msg) - 1, &conf, &r);
	test_assert(r.verdict == CLAMD_ERROR && strstr(r.reason, "timeout") != NULL);
	test_assert(r.action == CLAMD_ACCEPT);

	/* nobody there */
	conf.socket = "unix:/nonexistent/clamd.sock";
	conf.policy = FILTER_FAIL_CLOSED;
	clamd_scan(&conf, msg, sizeof(msg) - 1, &r);
	test_assert(r.verdict == CLAMD_ERROR && r.action == CLAMD_TEMPFAIL);
	test_assert(strstr(r.reason, "connect") != NULL);

	/* too big to scan: not sent */
	conf.max_scan_size = 4;
	clamd_scan(&conf, msg, sizeof(msg) - 1, &r);
	test_assert(r.verdict == CLAMD_SKIPPED && r.action == CLAMD_ACCEPT);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_parse, test_reader, test_scan, NULL});
}
