/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - admin/metrics.h: records fed to the sink directly, the
 * render checked line by line against the text format 0.0.4 (a # HELP and
 * a # TYPE line before each family's samples, names and labels well
 * formed, label values escaped), histogram buckets cumulative up to +Inf
 * with _sum and _count, unknown labels counted as "other", shards written
 * by several threads summed, the store gauges left out when the store
 * does not answer. The registry is process-wide, so tests compare deltas.
 */
#include "admin/metrics.h"
#include "test_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct metrics_gauges gauges = {
    .auth_cache_hits = 7,
    .penalty_entries = 3,
    .workers_queue_depth = 1,
    .store_ok = true,
    .queue_messages = 12,
    .queue_oldest_age_seconds = 3600,
    .store_bytes = 4096,
    .store_bodies = 5,
};

static char *render(const struct metrics_gauges *g)
{
	struct buf b = {0};
	metrics_render(&b, g);
	return b.data;
}

/* The value of one series ("name{labels}" exactly as rendered), -1 if the
   text has none. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static double now_of(const char *series)
{
	char *t = render(&gauges);
	double v = value_of(t, series);
	free(t);
	return v < 0 ? 0 : v;
}

static bool name_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
		      (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return n > 0;
}

/* One sample line "name{k="v",...} value": its name's length, or 0. */
static size_t sample_ok(const char *line, size_t len)
{
	size_t n = 0;
	while (n < len && line[n] != '{' && line[n] != ' ')
		n++;
	if (!name_ok(line, n))
		return 0;
	size_t i = n;
	if (i < len && line[i] == '{') {
		i++;
		while (i < len && line[i] != '}') {
			size_t k = i;
			while (i < len && line[i] != '=')
				i++;
			if (!name_ok(line + k, i - k) || i + 1 >= len || line[i + 1] != '"')
				return 0;
			for (i += 2; i < len && line[i] != '"'; i++)
				if (line[i] == '\\')
					i++; /* an escape: \\ \" \n */
			if (i >= len)
				return 0;
			i++;
			if (i < len && line[i] == ',')
				i++;
		}
		if (i >= len)
			return 0;
		i++;
	}
	if (i >= len || line[i] != ' ')
		return 0;
	char *end;
	strtod(line + i + 1, &end);
	return end == line + len && end != line + i + 1 ? n : 0;
}

/* The whole text: every family has HELP then TYPE, then only its own
   samples (a histogram's _bucket, _sum, _count); each family once. */
static bool format_ok(const char *text)
{
	char family[128] = "", type[16] = "", seen[8192] = " ";
	bool ok = true;

	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		if (nl == NULL)
			return false; /* the last line ends too */
		size_t len = (size_t)(nl - p);
		char name[128];
		if (strncmp(p, "# HELP ", 7) == 0) {
			if (sscanf(p + 7, "%127s", name) != 1)
				return false;
			char key[160];
			snprintf(key, sizeof(key), " %s ", name);
			if (strstr(seen, key) != NULL) {
				fprintf(stderr, "family %s twice\n", name);
				return false;
			}
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s ", name);
			snprintf(family, sizeof(family), "%s", name);
			type[0] = '\0';
			const char *t = nl + 1;
			ok = ok && strncmp(t, "# TYPE ", 7) == 0 &&
			     sscanf(t + 7, "%127s %15s", name, type) == 2 &&
			     strcmp(name, family) == 0 &&
			     (strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
			      strcmp(type, "histogram") == 0);
			p = strchr(t, '\n') != NULL ? strchr(t, '\n') + 1 : t + strlen(t);
			continue;
		}
		size_t n = sample_ok(p, len);
		if (n == 0 || family[0] == '\0') {
			fprintf(stderr, "bad line: %.*s\n", (int)len, p);
			return false;
		}
		size_t fl = strlen(family);
		bool mine = n == fl && strncmp(p, family, fl) == 0;
		if (strcmp(type, "histogram") == 0 && strncmp(p, family, fl) == 0)
			mine = (n == fl + 7 && strncmp(p + fl, "_bucket", 7) == 0) ||
			       (n == fl + 4 && strncmp(p + fl, "_sum", 4) == 0) ||
			       (n == fl + 6 && strncmp(p + fl, "_count", 6) == 0);
		if (!mine) {
			fprintf(stderr, "sample outside its family %s: %.*s\n", family, (int)len,
				p);
			return false;
		}
		p = nl + 1;
	}
	return ok;
}

static void test_format(void)
{
	test_begin("render: HELP/TYPE per family, well-formed samples, gauges");
	static const char *const ports[] = {"pop3", "pop3s", "smtp", "submission", "submissions"};
	metrics_init(ports, 5);
	metrics_record(&(struct log_record){
	    .event = LOG_EV_LOGIN, .service = "pop3", .mech = "USER", .result = "ok", .usec = 10});
	char *t = render(&gauges);
	test_assert(format_ok(t));
	test_assert(strstr(t, "# TYPE mailroom_logins_total counter\n") != NULL);
	test_assert(strstr(t, "# TYPE mailroom_login_duration_seconds histogram\n") != NULL);
	test_assert(strstr(t, "# TYPE mailroom_queue_messages gauge\n") != NULL);
	test_assert(value_of(t, "mailroom_up") == 1);
	const char *bi = strstr(t, "\nmailroom_build_info{version=\"");
	test_assert(bi != NULL && strstr(bi, "\"} 1\n") == strchr(bi + 30, '"'));
	test_assert(value_of(t, "mailroom_process_start_time_seconds") > 1.6e9);
	test_assert(value_of(t, "mailroom_auth_cache_hits_total") == 7);
	test_assert(value_of(t, "mailroom_penalty_entries") == 3);
	test_assert(value_of(t, "mailroom_workers_queue_depth") == 1);
	test_assert(value_of(t, "mailroom_store_up") == 1);
	test_assert(value_of(t, "mailroom_queue_messages") == 12);
	test_assert(value_of(t, "mailroom_queue_oldest_age_seconds") == 3600);
	test_assert(value_of(t, "mailroom_store_bytes") == 4096);
	test_assert(value_of(t, "mailroom_store_bodies") == 5);
	/* deliveries: the five results always, "other" only once seen */
	test_assert(value_of(t, "mailroom_deliveries_total{result=\"sent\"}") >= 0);
	test_assert(value_of(t, "mailroom_deliveries_total{result=\"local\"}") >= 0);
	test_assert(value_of(t, "mailroom_deliveries_total{result=\"report\"}") >= 0);
	test_assert(value_of(t, "mailroom_deliveries_total{result=\"other\"}") == -1);
	free(t);

	struct metrics_gauges down = gauges;
	down.store_ok = false;
	t = render(&down);
	test_assert(format_ok(t));
	test_assert(value_of(t, "mailroom_store_up") == 0);
	test_assert(strstr(t, "mailroom_queue_messages") == NULL);
	test_assert(strstr(t, "mailroom_store_bytes") == NULL);
	free(t);
	test_end();
}

static void test_escape(void)
{
	struct buf b = {0};

	test_begin("label values: backslash, quote and line feed escaped");
	metrics_label_escape(&b, "a\"b\\c\nd");
	test_assert_str(b.data, "a\\\"b\\\\c\\nd");
	buf_clear(&b);
	metrics_label_escape(&b, "");
	test_assert(b.len == 0);
	metrics_label_escape(&b, "TLSv1.3");
	test_assert_str(b.data, "TLSv1.3");
	buf_free(&b);
	test_end();
}

static void test_histogram(void)
{
	test_begin("histogram: cumulative buckets, +Inf = _count, _sum in seconds");
	const char *h = "mailroom_retr_duration_seconds";
	char s[128];
	double b1, b5, b25, b60, inf, cnt, sum;
#define H(le) (snprintf(s, sizeof(s), "%s_bucket{le=\"%s\"}", h, le), now_of(s))
	b1 = H("0.001"), b5 = H("0.005"), b25 = H("2.5"), b60 = H("60"), inf = H("+Inf");
	snprintf(s, sizeof(s), "%s_count", h);
	cnt = now_of(s);
	snprintf(s, sizeof(s), "%s_sum", h);
	sum = now_of(s);
	/* 0.5 ms, 1 ms (on the bound: le is inclusive), 3 ms, 2 s, 100 s; a
	   failed RETR and another command are not observed */
	const uint64_t usec[] = {500, 1000, 3000, 2000000, 100000000};
	for (size_t i = 0; i < 5; i++)
		metrics_record(&(struct log_record){.event = LOG_EV_COMMAND,
						    .service = "pop3",
						    .command = "RETR",
						    .result = "ok",
						    .usec = usec[i]});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_COMMAND, .service = "pop3", .command = "RETR", .result = "err"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_COMMAND, .service = "pop3", .command = "TOP", .result = "ok"});
	test_assert(H("0.001") - b1 == 2);
	test_assert(H("0.0025") - b1 == 2);
	test_assert(H("0.005") - b5 == 3);
	test_assert(H("2.5") - b25 == 4);
	test_assert(H("60") - b60 == 4);
	test_assert(H("+Inf") - inf == 5);
	snprintf(s, sizeof(s), "%s_count", h);
	test_assert(now_of(s) - cnt == 5);
	snprintf(s, sizeof(s), "%s_sum", h);
	double d = now_of(s) - sum;
	test_assert(d > 102.0044 && d < 102.0046);
	/* every bucket at least the one below it, +Inf equal to _count */
	char *t = render(&gauges);
	double last = 0;
	for (const char *p = strstr(t, "mailroom_retr_duration_seconds_bucket"); p != NULL;
	     p = strstr(p + 1, "mailroom_retr_duration_seconds_bucket")) {
		double v = strtod(strchr(p, ' ') + 1, NULL);
		test_assert(v >= last);
		last = v;
	}
	snprintf(s, sizeof(s), "%s_count", h);
	test_assert(last == value_of(t, s));
	free(t);
#undef H
	test_end();
}

static void test_counters(void)
{
	test_begin("counters: every event, unknown labels as other");
	/* each series and how far the records below move it */
	static const struct {
		const char *series;
		double by;
	} moves[] = {
	    {"mailroom_connections_total{service=\"smtp\",result=\"accepted\"}", 3},
	    {"mailroom_connections_total{service=\"smtp\",result=\"refused\"}", 1},
	    {"mailroom_connections_open{service=\"smtp\"}", 2},
	    {"mailroom_sessions_total{service=\"smtp\"}", 1},
	    {"mailroom_tls_handshakes_total{service=\"submissions\",version=\"TLSv1.3\",result="
	     "\"ok\"}",
	     1},
	    {"mailroom_tls_handshakes_total{service=\"submissions\",version=\"none\",result="
	     "\"failed\"}",
	     1},
	    {"mailroom_tls_handshakes_total{service=\"submissions\",version=\"other\",result="
	     "\"ok\"}",
	     1},
	    {"mailroom_commands_total{service=\"smtp\",command=\"EHLO\",result=\"ok\"}", 2},
	    {"mailroom_commands_total{service=\"other\",command=\"other\",result=\"err\"}", 2},
	    {"mailroom_logins_total{service=\"submission\",mech=\"PLAIN\",result=\"failed\"}", 1},
	    {"mailroom_logins_total{service=\"submission\",mech=\"other\",result=\"other\"}", 1},
	    {"mailroom_messages_received_total{service=\"submission\"}", 3},
	    {"mailroom_messages_refused_total{service=\"submission\"}", 2},
	    {"mailroom_deliveries_total{result=\"sent\"}", 1},
	    {"mailroom_deliveries_total{result=\"bounced\"}", 1},
	    {"mailroom_data_to_250_seconds_count", 3},
	    {"mailroom_logins_total{service=\"submission\",mech=\"LOGIN\",result=\"error\"}", 1},
	    {"mailroom_login_duration_seconds_count", 3},
	};
	const size_t n_moves = sizeof(moves) / sizeof(moves[0]);
	double v[sizeof(moves) / sizeof(moves[0])];
	for (size_t i = 0; i < n_moves; i++)
		v[i] = now_of(moves[i].series);

	for (int i = 0; i < 3; i++)
		metrics_record(&(struct log_record){
		    .event = LOG_EV_CONNECT, .service = "smtp", .result = "accepted"});
	metrics_record(
	    &(struct log_record){.event = LOG_EV_CONNECT, .service = "smtp", .result = "refused"});
	metrics_record(&(struct log_record){.event = LOG_EV_SESSION, .service = "smtp"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_TLS, .service = "submissions", .result = "ok", .tls = "TLSv1.3"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_TLS, .service = "submissions", .result = "failed"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_TLS, .service = "submissions", .result = "ok", .tls = "SSLv9"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_COMMAND, .service = "smtp", .command = "EHLO", .result = "ok"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_COMMAND, .service = "smtp", .command = "ehlo", .result = "ok"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_COMMAND, .service = "gopher", .command = "XYZZY", .result = "err"});
	metrics_record(&(struct log_record){.event = LOG_EV_COMMAND, .service = NULL});
	metrics_record(&(struct log_record){.event = LOG_EV_LOGIN,
					    .service = "submission",
					    .mech = "PLAIN",
					    .result = "failed",
					    .usec = 5});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_LOGIN, .service = "submission", .mech = "X-ODD", .result = "weird"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_LOGIN, .service = "submission", .mech = "LOGIN", .result = "error"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_MESSAGE, .service = "submission", .qid = "Q", .usec = 2000});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_MESSAGE, .service = "submission", .result = "ok", .usec = 2000});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_MESSAGE, .service = "submission", .result = "250", .usec = 9});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_MESSAGE, .service = "submission", .result = "554"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_MESSAGE, .service = "submission", .result = "451"});
	metrics_record(
	    &(struct log_record){.event = LOG_EV_DELIVERY, .service = "queue", .result = "sent"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_DELIVERY, .service = "queue", .result = "bounced"});
	metrics_record(&(struct log_record){
	    .event = LOG_EV_DELIVERY, .service = "queue", .result = "lost-in-space"});

	for (size_t i = 0; i < n_moves; i++) {
		double d = now_of(moves[i].series) - v[i];
		if (d != moves[i].by)
			fprintf(stderr, "%s moved by %g, not %g\n", moves[i].series, d,
				moves[i].by);
		test_assert(d == moves[i].by);
	}
	test_assert(now_of("mailroom_deliveries_total{result=\"other\"}") >= 1);
	char *t = render(&gauges);
	test_assert(format_ok(t));
	test_assert(strstr(t, "gopher") == NULL && strstr(t, "XYZZY") == NULL &&
		    strstr(t, "SSLv9") == NULL && strstr(t, "lost-in-space") == NULL);
	free(t);
	test_end();
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
	for (int i = 0; i < PER_THREAD; i++)
		metrics_record(&(struct log_record){.event = LOG_EV_COMMAND,
						    .service = "pop3s",
						    .command = "NOOP",
						    .result = "ok"});
	return arg;
}

static void test_threads(void)
{
	pthread_t th[THREADS];
	const char *s = "mailroom_commands_total{service=\"pop3s\",command=\"NOOP\",result=\"ok\"}";

	test_begin("shards: each thread counts alone, the scrape sums them");
	double before = now_of(s);
	for (int i = 0; i < THREADS; i++)
		test_assert(pthread_create(&th[i], NULL, hammer, NULL) == 0);
	/* scrapes while the threads write: never backwards */
	double last = before;
	for (int i = 0; i < 20; i++) {
		double v = now_of(s);
		test_assert(v >= last);
		last = v;
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	test_assert(now_of(s) - before == THREADS * PER_THREAD);
	test_end();
}

int main(void)
{
	return test_run((void (*[])(void)){test_format, test_escape, test_histogram, test_counters,
					   test_threads, NULL});
}
