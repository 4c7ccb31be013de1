/* SPDX-License-Identifier: MIT */
/*
 * log.h - one line per event, key=value fields, to stderr.
 *
 * Every line: an ISO-8601 UTC timestamp, the level, then the message. Session
 * code prefixes its messages with "sid=<id>" (see log_session_id()) so a grep
 * for one id shows a whole conversation. log_panic() is for our own bugs and
 * aborts; log_fatal() is for the environment (bad config, no port) and exits 1.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef MAILROOM_UTIL_LOG_H
#define MAILROOM_UTIL_LOG_H

#include "util/mem.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) ATTR_FORMAT(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
ATTR_NORETURN void log_fatal(const char *fmt, ...) ATTR_FORMAT(1, 2);
ATTR_NORETURN void log_panic(const char *fmt, ...) ATTR_FORMAT(1, 2);

#endif
