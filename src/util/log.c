/* SPDX-License-Identifier: MIT */
/* log.c - see log.h. */
#include "util/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* set by the loop thread (start-up, SIGHUP), read by every thread */
static atomic_int min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};
static atomic_int log_format = LOG_FORMAT_TEXT;
static log_sink_fn *sink;

void log_set_format(enum log_format format)
{
	atomic_store_explicit(&log_format, (int)format, memory_order_relaxed);
}

void log_set_sink(log_sink_fn *fn)
{
	sink = fn;
}

const char *log_event_name(enum log_event ev)
{
	static const char *const names[LOG_EV_COUNT] = {
	    "connect", "tls", "command", "login", "message", "session", "delivery",
	};
	return (unsigned)ev < LOG_EV_COUNT ? names[ev] : "?";
}

void log_set_level(enum log_level level)
{
	atomic_store_explicit(&min_level, (int)level, memory_order_relaxed);
}

ATTR_FORMAT(2, 0) static void log_v(const char *level, const char *fmt, va_list ap)
{
	char line[4096];
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
			      level);
	int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2; /* truncated; never split a line */
	/* Control characters from the network never reach the log verbatim. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	if ((int)level < atomic_load_explicit(&min_level, memory_order_relaxed))
		return;
	va_start(ap, fmt);
	log_v(level_names[level], fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v("fatal", fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_v("panic", fmt, ap);
	va_end(ap);
	abort();
}

static void add_field(char *line, size_t cap, size_t *n, const char *key, const char *v)
{
	if (v == NULL || *n >= cap)
		return;
	bool quote = v[0] == '\0' || strpbrk(v, " \"=") != NULL;
	int m = snprintf(line + *n, cap - *n, quote ? " %s=\"%s\"" : " %s=%s", key, v);
	if (m > 0)
		*n += (size_t)m;
}

/* The text form: "[sid=ID ]SERVICE EVENT key=value...". The json form is
   written by log_v from the same text (every field is a key=value pair). */
void log_record(enum log_level level, const struct log_record *r)
{
	char line[3072], num[32];
	size_t n = 0;

	if (sink != NULL)
		sink(r);
	if ((int)level < atomic_load_explicit(&min_level, memory_order_relaxed))
		return;
	if (r->sid != NULL)
		n += (size_t)snprintf(line, sizeof(line), "sid=%s ", r->sid);
	n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s",
			      r->service != NULL ? r->service : "-", log_event_name(r->event));
	add_field(line, sizeof(line), &n, "cmd", r->command);
	add_field(line, sizeof(line), &n, "qid", r->qid);
	add_field(line, sizeof(line), &n, "user", r->user);
	add_field(line, sizeof(line), &n, "ip", r->ip);
	add_field(line, sizeof(line), &n, "mech", r->mech);
	add_field(line, sizeof(line), &n, "result", r->result);
	add_field(line, sizeof(line), &n, "reason", r->reason);
	add_field(line, sizeof(line), &n, "tls", r->tls);
	if (r->bytes != 0) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)r->bytes);
		add_field(line, sizeof(line), &n, "bytes", num);
	}
	if (r->count != 0) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)r->count);
		add_field(line, sizeof(line), &n, "count", num);
	}
	if (r->usec != 0) {
		snprintf(num, sizeof(num), "%llu.%03llu", (unsigned long long)(r->usec / 1000),
			 (unsigned long long)(r->usec % 1000));
		add_field(line, sizeof(line), &n, "ms", num);
	}
	if (r->extra != NULL && n < sizeof(line))
		snprintf(line + n, sizeof(line) - n, " %s", r->extra);
	log_msg(level, "%s", line);
}
