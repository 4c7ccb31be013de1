/* SPDX-License-Identifier: MIT */
/*
 * test_log.c - util/log.h: the text and JSON forms of free-form lines and
 * records, as written to stderr (captured through a pipe): fields and their
 * order, escaping, invalid UTF-8, the 4 KiB bound, levels and the sink.
 */
#include "test_common.h"
#include "util/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int saved_fd = -1, pipe_rd = -1;

static void capture_begin(void)
{
	int p[2];
	test_assert(pipe(p) == 0);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	saved_fd = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	close(p[1]);
	pipe_rd = p[0];
}

/* What was written since capture_begin(); the caller frees it. */
static char *capture_end(void)
{
	static char out[1 << 16];
	size_t n = 0;
	ssize_t r;

	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	while (n < sizeof(out) - 1 && (r = read(pipe_rd, out + n, sizeof(out) - 1 - n)) > 0)
		n += (size_t)r;
	close(pipe_rd);
	out[n] = '\0';
	return strdup(out);
}

/* The line after its "time" field (JSON) or time stamp (text). */
static const char *after_time(const char *line)
{
	const char *p = strstr(line, "Z\"");
	if (p != NULL)
		return p + 2;
	p = strchr(line, ' ');
	return p != NULL ? p + 1 : line;
}

static void test_json_record(void)
{
	test_begin("json record");
	log_set_format(LOG_FORMAT_JSON);
	log_set_level(LOG_DEBUG);
	capture_begin();
	struct log_record r = {
	    .event = LOG_EV_SESSION,
	    .service = "pop3s",
	    .sid = "00ab",
	    .ip = "127.0.0.1",
	    .user = "alice@example.test",
	    .reason = "quit",
	    .usec = 1234567,
	    .count = 7,
	    .extra = "retrieved=2 deleted=0 from=<a@b> note=\"a \\\"q\\\" b\" n=007 x=",
	};
	log_record(LOG_INFO, &r);
	char *out = capture_end();
	test_assert(strncmp(out, "{\"time\":\"20", 11) == 0);
	test_assert_str(after_time(out),
			",\"level\":\"info\",\"event\":\"session\",\"service\":\"pop3s\","
			"\"sid\":\"00ab\",\"user\":\"alice@example.test\",\"ip\":\"127.0.0.1\","
			"\"reason\":\"quit\",\"ms\":1234.567,\"count\":7,\"retrieved\":2,"
			"\"deleted\":0,\"from\":\"<a@b>\",\"note\":\"a \\\"q\\\" b\",\"n\":\"007\","
			"\"x\":\"\"}\n");
	free(out);
	test_end();
}

static void test_json_msg(void)
{
	test_begin("json free-form line");
	log_set_format(LOG_FORMAT_JSON);
	capture_begin();
	log_info("sid=%s pop3 store error op=%s status=%d reason=\"%s\" time=x level=y", "12ab",
		 "retr", -1, "disk full");
	log_warn("plain words only");
	char *out = capture_end();
	char *second = strchr(out, '\n');
	test_assert(second != NULL);
	*second++ = '\0';
	test_assert_str(after_time(out), ",\"level\":\"info\",\"msg\":\"pop3 store error time=x "
					 "level=y\",\"sid\":\"12ab\",\"op\":\"retr\",\"status\":"
					 "\"-1\",\"reason\":\"disk full\"}");
	test_assert_str(after_time(second), ",\"level\":\"warn\",\"msg\":\"plain words only\"}\n");
	free(out);
	test_end();
}

static void test_json_escapes(void)
{
	test_begin("json escapes and invalid UTF-8");
	char line[LOG_LINE_MAX];
	const char msg[] =
	    "q\"b\\ c\x01\x1f\x7f \xc3\xa9 \xff \xc0\xaf \xed\xa0\x80 \xf0\x9f\x98\x80 "
	    "k=\"v\x02\"";
	size_t n = log_json_line(line, sizeof(line), "info", msg, sizeof(msg) - 1);
	line[n] = '\0';
	test_assert_str(after_time(line),
			",\"level\":\"info\",\"msg\":\"q\\\"b\\\\ c\\u0001\\u001f\\u007f \xc3\xa9 "
			"\\ufffd \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd \xf0\x9f\x98\x80\",\"k\":"
			"\"v\\u0002\"}\n");
	/* a NUL inside the text is escaped too */
	n = log_json_line(line, sizeof(line), "info", "a\0b", 3);
	line[n] = '\0';
	test_assert(strstr(line, "\"msg\":\"a\\u0000b\"") != NULL);
	test_end();
}

static void test_json_truncated(void)
{
	test_begin("json line bound");
	static char msg[10000];
	char line[LOG_LINE_MAX];

	/* a long value: cut inside the string, which is still closed */
	memcpy(msg, "k=\"", 3);
	memset(msg + 3, '"', sizeof(msg) - 4);
	msg[sizeof(msg) - 1] = '"';
	size_t n = log_json_line(line, sizeof(line), "info", msg, sizeof(msg));
	test_assert(n <= sizeof(line));
	test_assert(line[n - 1] == '\n');
	test_assert(n > 19 && memcmp(line + n - 20, "\",\"truncated\":true}\n", 20) == 0);
	/* many words: an escape sequence is never split */
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = i % 7 == 6 ? ' ' : '\x01';
	n = log_json_line(line, sizeof(line), "info", msg, sizeof(msg));
	test_assert(n <= sizeof(line) && line[n - 1] == '\n');
	test_assert(memcmp(line + n - 20, "\",\"truncated\":true}\n", 20) == 0);
	test_assert(line[n - 21] == ' ' || memcmp(line + n - 26, "\\u0001", 6) == 0);
	/* in a small line the record's extra is dropped, the object stays whole */
	struct log_record r = {.event = LOG_EV_COMMAND, .service = "smtp", .extra = msg};
	memset(msg, 'x', 300);
	memcpy(msg, "a=", 2);
	msg[300] = '\0';
	n = log_record_line(line, 128, "debug", &r, LOG_FORMAT_JSON);
	test_assert(n <= 128 && line[n - 1] == '\n');
	test_assert(memcmp(line + n - 20, "\",\"truncated\":true}\n", 20) == 0);
	test_end();
}

static void test_text_record(void)
{
	test_begin("text record");
	log_set_format(LOG_FORMAT_TEXT);
	capture_begin();
	struct log_record r = {
	    .event = LOG_EV_LOGIN,
	    .service = "submission",
	    .sid = "beef",
	    .user = "a b\"c",
	    .mech = "PLAIN",
	    .result = "failed",
	    .reason = "",
	    .usec = 5,
	};
	log_record(LOG_INFO, &r);
	r.sid = NULL;
	r.event = LOG_EV_CONNECT;
	r.user = NULL;
	r.reason = "max_connections";
	r.extra = "x=\x01\xff\xc3\xa9";
	log_record(LOG_WARN, &r);
	char *out = capture_end();
	char *second = strchr(out, '\n');
	test_assert(second != NULL);
	*second++ = '\0';
	test_assert_str(after_time(out), "info sid=beef submission login user=\"a b\\\"c\" "
					 "mech=PLAIN result=failed reason=\"\" ms=0.005");
	test_assert_str(after_time(second), "warn submission connect mech=PLAIN result=failed "
					    "reason=max_connections ms=0.005 x=??\xc3\xa9\n");
	free(out);
	test_end();
}

static void test_extra_add(void)
{
	test_begin("log_extra_add");
	char b[26] = "";
	size_t n = log_extra_add(b, sizeof(b), 0, "from", "<a@b>");
	n = log_extra_add(b, sizeof(b), n, "to", "\"x y\"@z");
	test_assert_str(b, " from=<a@b>");
	n = log_extra_add_text(b, sizeof(b), n, "n", "3");
	test_assert_str(b, " from=<a@b> n=\"3\"");
	n = log_extra_add(b, sizeof(b), n, "e", "");
	test_assert_str(b, " from=<a@b> n=\"3\" e=\"\"");
	test_assert(n == strlen(b));
	n = log_extra_add(b, sizeof(b), n, "z", NULL);
	test_assert(n == strlen(b));
	test_end();
}

static int sunk;
static void count_sink(const struct log_record *r)
{
	sunk += r->event == LOG_EV_COMMAND;
}

static void test_level_and_sink(void)
{
	test_begin("level filter, the sink sees every record");
	log_set_format(LOG_FORMAT_JSON);
	log_set_level(LOG_INFO);
	log_set_sink(count_sink);
	capture_begin();
	struct log_record r = {.event = LOG_EV_COMMAND, .service = "pop3", .command = "RETR"};
	log_record(LOG_DEBUG, &r);
	log_debug("not shown");
	log_record(LOG_INFO, &r);
	char *out = capture_end();
	test_assert(sunk == 2);
	test_assert(strstr(out, "not shown") == NULL);
	test_assert(strstr(out, "\"command\":\"RETR\"") != NULL);
	test_assert(strchr(out, '\n') == out + strlen(out) - 1); /* one line */
	free(out);
	log_set_sink(NULL);
	log_set_format(LOG_FORMAT_TEXT);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_json_record, test_json_msg, test_json_escapes,
					   test_json_truncated, test_text_record, test_extra_add,
					   test_level_and_sink, NULL});
}
