/* SPDX-License-Identifier: MIT */
/*
 * log.h - one line per event, key=value fields, to stderr.
 *
 * Every line: an ISO-8601 UTC timestamp, the level, then the message. Session
 * code prefixes its messages with "sid=<id>" so a grep for one id shows a
 * whole conversation. With [server] log_format = json the same line is one
 * JSON object: "time", "level", "msg" (the words that are not key=value) and
 * each key=value pair as a string field. log_panic() is for our own bugs and
 * aborts; log_fatal() is for the environment (bad config, no port) and exits 1.
 * Thread-safe: each line is written with one write(2).
 *
 * Records. What an operator counts or searches for - a finished command, a
 * login, a session, an accepted message, a delivery attempt - is a struct
 * log_record with named fields, not a format string. log_record() writes it
 * as one line in the log format in effect ([server] log_format: text is
 * key=value pairs, json one JSON object per line) when its level passes,
 * and hands it, whatever the level, to the sink (log_set_sink(): the
 * metrics of admin/metrics.h) on the calling thread. Every record names
 * its event and service; the other fields are NULL or 0 when they do not
 * apply. A record never holds a secret: no password, no SASL response, no
 * AUTH argument (tests/proto/test_logs.py checks).
 *
 * The text form of a record: "[sid=ID ]SERVICE EVENT" then the fields that
 * are set, in this order, as key=value: qid user ip command mech result
 * reason tls ms (usec / 1000, three decimals) bytes count, then `extra`
 * as it is. The json form: "time", "level", "event", "service", the same
 * fields by the same names (ms, bytes, count as numbers), then extra's
 * pairs as fields (unquoted digits as numbers, quoted values unquoted; a
 * key already used goes into "msg" with the other words). docs/admin.md
 * "Logs" has the table of every event's fields.
 */
#ifndef MAILROOM_UTIL_LOG_H
#define MAILROOM_UTIL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "util/mem.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) ATTR_FORMAT(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
void log_set_format(enum log_format format);

enum log_event {
	/* a connection accepted, or refused (result accepted|refused, reason; a
	   refused one has no sid) */
	LOG_EV_CONNECT,
	/* a TLS handshake finished: result ok|failed, tls = "TLSv1.3", reason;
	   usec = the handshake's time */
	LOG_EV_TLS,
	/* one protocol command answered: command, result ok|err, usec from its
	   arrival to the last octet of its reply queued; bytes = RETR/TOP reply
	   octets; extra args= (never for PASS/APOP/AUTH), state=, SMTP reply= */
	LOG_EV_COMMAND,
	/* a login decided: user, mech, result ok|failed|refused|error (error: the
	   check could not run, reason tempfail|store), usec from the command
	   (or the last SASL response) to the answer */
	LOG_EV_LOGIN,
	/* a message accepted (qid, bytes, count = recipients, usec = end of data
	   to the reply; result = the reply code, "250") or refused at its end
	   (result "552", "554", "451"; reason) */
	LOG_EV_MESSAGE,
	/* a connection ended, one per connection: reason, usec = its life,
	   count = commands, bytes = message octets retrieved (POP3) or accepted
	   (SMTP), user if logged in */
	LOG_EV_SESSION,
	/* one recipient's delivery attempt: result sent|deferred|bounced|expired,
	   qid, usec = the delay since it was queued; result report (a DSN made,
	   count = recipients); result local (a message stored into count local
	   mailboxes at its commit, SMTP service and sid) */
	LOG_EV_DELIVERY,
	LOG_EV_COUNT
};
const char *log_event_name(enum log_event ev);

struct log_record {
	enum log_event event;
	const char *service; /* "pop3", "pop3s", "smtp", "submission", "submissions", "queue",
				"metrics" */
	const char *sid, *qid, *ip, *user;
	const char *command; /* LOG_EV_COMMAND: the verb, upper-case ("RETR", "DATA") */
	const char *mech;    /* LOG_EV_LOGIN: "PLAIN", "USER", "SCRAM-SHA-256", ... */
	const char *result;  /* a short token, see the events above */
	const char *reason;  /* a short token or text ("timeout", "in-use", the reply) */
	const char *tls;     /* the protocol version once TLS runs, else NULL */
	uint64_t usec;	     /* the duration the event gives it */
	uint64_t bytes;
	uint64_t count;
	const char *extra; /* more fields as "key=value key=\"a b\"", or NULL */
};
void log_record(enum log_level level, const struct log_record *r);
/* The LOG_EV_LOGIN record of a session, at info; user is the name the
   client gave, cut to 64 octets, and left out when empty. POP3 and SMTP
   write theirs through it. */
struct log_session {
	const char *service, *sid, *ip, *tls;
};
void log_login(const struct log_session *who, const char *result, const char *mech,
	       const char *user, const char *reason, uint64_t usec, const char *extra);
/* A monotonic clock in microseconds, for the durations of records. */
uint64_t log_now_usec(void);

/* Called with every record, whatever the level, on the thread that made it
   (admin/metrics.h says which threads those are). NULL: none. Set once,
   before any other thread runs. */
typedef void log_sink_fn(const struct log_record *r);
void log_set_sink(log_sink_fn *fn);

/* Appends " key=value" to the extra text in buf (cap octets, NUL-terminated,
   len of them used), the value quoted as the text form quotes it (when it
   is empty or holds a space, '"', '\\' or '='; \" and \\ inside); a pair
   that does not fit is left out whole. Returns the new length. */
size_t log_extra_add(char *buf, size_t cap, size_t len, const char *key, const char *value);
/* The same, always quoted: a value from the network (a command's
   arguments) stays a string in the json form even when it is all digits. */
size_t log_extra_add_text(char *buf, size_t cap, size_t len, const char *key, const char *value);

/* The line formatters behind log_msg() and log_record(), for tests and fuzz
   targets: they write one whole line, '\n' included, of at most size octets
   (size >= 128) into out and return its length. log_json_line() takes a
   free-form message of len octets. */
#define LOG_LINE_MAX 4096
size_t log_json_line(char *out, size_t size, const char *level, const char *msg, size_t len);
size_t log_record_line(char *out, size_t size, const char *level, const struct log_record *r,
		       enum log_format format);

ATTR_NORETURN void log_fatal(const char *fmt, ...) ATTR_FORMAT(1, 2);
ATTR_NORETURN void log_panic(const char *fmt, ...) ATTR_FORMAT(1, 2);

#endif
