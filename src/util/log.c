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

/* --- the line writer -------------------------------------------------------- */

/* A JSON line under construction: pieces go in whole or not at all, and
   LOG_JSON_RESERVE octets are kept for what closes the line, so a line cut
   at LOG_LINE_MAX is still one valid object ("truncated":true). */
#define LOG_JSON_RESERVE 32
#define LOG_KEYS_MAX 48
#define LOG_KEY_MAX 48 /* a longer "key=" is a word, not a field */

struct jw {
	char *p;
	size_t n, cap; /* cap: where pieces stop; the buffer holds cap + reserve */
	bool full;
};

static bool jw_put(struct jw *w, const char *s, size_t len)
{
	if (w->full || w->n > w->cap || len > w->cap - w->n) {
		w->full = true;
		return false;
	}
	memcpy(w->p + w->n, s, len);
	w->n += len;
	return true;
}

/* For the closing octets, which the reserve always has room for. */
static void jw_force(struct jw *w, const char *s)
{
	size_t len = strlen(s);
	memcpy(w->p + w->n, s, len);
	w->n += len;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629 §4), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* The inside of a JSON string. unquote: the text is a quoted value of the
   text form, where \" and \\ stand for " and \. */
static void jw_chars(struct jw *w, const char *text, size_t len, bool unquote)
{
	const unsigned char *s = (const unsigned char *)text;
	char esc[8];

	for (size_t i = 0; i < len && !w->full;) {
		unsigned char c = s[i];
		if (unquote && c == '\\' && i + 1 < len && (s[i + 1] == '"' || s[i + 1] == '\\'))
			c = s[++i];
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jw_put(w, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jw_put(w, esc, 6);
			i++;
		} else {
			size_t k = utf8_seq(s + i, len - i);
			if (k == 0) {
				jw_put(w, "\\ufffd", 6); /* not UTF-8 */
				i++;
			} else {
				jw_put(w, text + i, k);
				i += k;
			}
		}
	}
}

/* ,"key":"value" - the key and the opening quote go in whole; a value cut
   short is still closed. */
static void jw_str(struct jw *w, const char *key, const char *v, size_t len, bool unquote)
{
	if (w->full)
		return;
	size_t n0 = w->n;
	if (!jw_put(w, w->n > 1 ? ",\"" : "\"", w->n > 1 ? 2 : 1))
		return;
	jw_chars(w, key, strlen(key), false);
	if (w->full || !jw_put(w, "\":\"", 3)) {
		w->n = n0; /* not even the key: leave it out */
		return;
	}
	jw_chars(w, v, len, unquote);
	jw_force(w, "\"");
}

/* ,"key":number - in whole or not at all */
static void jw_num(struct jw *w, const char *key, const char *num)
{
	char piece[96];
	int m = snprintf(piece, sizeof(piece), ",\"%s\":%s", key, num);
	if (m > 0 && (size_t)m < sizeof(piece))
		jw_put(w, piece, (size_t)m);
}

static void jw_open(struct jw *w, char *line, size_t size, const char *level)
{
	struct timespec ts;
	struct tm tm;
	char stamp[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + k, sizeof(stamp) - k, ".%03ldZ", ts.tv_nsec / 1000000);
	*w = (struct jw){.p = line, .cap = size - LOG_JSON_RESERVE};
	jw_put(w, "{", 1);
	jw_str(w, "time", stamp, strlen(stamp), false);
	jw_str(w, "level", level, strlen(level), false);
}

static size_t jw_close(struct jw *w)
{
	if (w->full)
		jw_force(w, ",\"truncated\":true");
	jw_force(w, "}\n");
	return w->n;
}

/* --- key=value text ------------------------------------------------------------ */

/* One word of a message: a key=value pair (the value quoted or not) or any
   other word. */
struct kv_token {
	const char *word;
	size_t word_len;
	const char *key, *val;
	size_t key_len, val_len;
	bool is_pair, quoted;
};

static bool key_char(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && ((c >= '0' && c <= '9') || c == '.' || c == '-'));
}

/* The next word of s[*pos..len); false at the end. */
static bool kv_next(const char *s, size_t len, size_t *pos, struct kv_token *t)
{
	size_t i = *pos;

	while (i < len && s[i] == ' ')
		i++;
	if (i == len)
		return false;
	*t = (struct kv_token){.word = s + i};
	size_t k = i;
	while (k < len && key_char((unsigned char)s[k], k == i))
		k++;
	if (k > i && k - i <= LOG_KEY_MAX && k < len && s[k] == '=') {
		size_t v = k + 1;
		if (v < len && s[v] == '"') {
			size_t e = v + 1;
			while (e < len && s[e] != '"')
				e += s[e] == '\\' && e + 1 < len ? 2 : 1;
			if (e < len && (e + 1 == len || s[e + 1] == ' ')) {
				*t = (struct kv_token){s + i, e + 1 - i, s + i, s + v + 1,
						       k - i, e - v - 1, true,	true};
				*pos = e + 1;
				return true;
			}
		} else {
			size_t e = v;
			while (e < len && s[e] != ' ')
				e++;
			*t = (struct kv_token){s + i, e - i, s + i, s + v,
					       k - i, e - v, true,  false};
			*pos = e;
			return true;
		}
	}
	size_t e = i;
	while (e < len && s[e] != ' ')
		e++;
	t->word_len = e - i;
	*pos = e;
	return true;
}

/* Keys already in the object: a pair whose key is taken stays a word. */
struct key_set {
	const char *key[LOG_KEYS_MAX];
	size_t len[LOG_KEYS_MAX];
	size_t n;
};

static bool key_set_add(struct key_set *ks, const char *key, size_t len)
{
	for (size_t i = 0; i < ks->n; i++)
		if (ks->len[i] == len && memcmp(ks->key[i], key, len) == 0)
			return false;
	if (ks->n == LOG_KEYS_MAX)
		return false;
	ks->key[ks->n] = key;
	ks->len[ks->n++] = len;
	return true;
}

/* A value written as a JSON number: 1 to 15 digits, no leading zero. */
static bool is_count(const char *v, size_t len)
{
	if (len == 0 || len > 15 || (v[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return true;
}

/* The words of text (len octets) as fields: pairs become fields, every
   other word (and a pair whose key is taken) goes into "msg", written
   first. numbers: unquoted digits become numbers (record extras, which
   our code writes); in free-form lines every value is a string. */
static void jw_text(struct jw *w, const char *text, size_t len, const struct key_set *taken,
		    bool always_msg, bool numbers)
{
	struct key_set ks = *taken;
	struct kv_token t;
	size_t pos = 0, words = 0;
	bool field[256];
	size_t nt = 0;

	/* pass 1: classify the first 256 words (the rest are words) */
	while (kv_next(text, len, &pos, &t)) {
		bool f = t.is_pair && nt < N_ELEMENTS(field) && key_set_add(&ks, t.key, t.key_len);
		if (nt < N_ELEMENTS(field))
			field[nt] = f;
		nt++;
		words += !f;
	}
	if (words > 0 || always_msg) {
		size_t n0 = w->n;
		if (jw_put(w, ",\"msg\":\"", 8)) {
			bool first = true;
			size_t i = 0;
			pos = 0;
			while (kv_next(text, len, &pos, &t) && !w->full) {
				if (i >= N_ELEMENTS(field) || !field[i]) {
					if (!first)
						jw_put(w, " ", 1);
					jw_chars(w, t.word, t.word_len, false);
					first = false;
				}
				i++;
			}
			jw_force(w, "\"");
		} else {
			w->n = n0;
		}
	}
	pos = 0;
	for (size_t i = 0; kv_next(text, len, &pos, &t) && !w->full && i < nt; i++) {
		if (i >= N_ELEMENTS(field) || !field[i])
			continue;
		char key[64];
		snprintf(key, sizeof(key), "%.*s", (int)t.key_len, t.key);
		if (numbers && !t.quoted && is_count(t.val, t.val_len)) {
			char num[16];
			snprintf(num, sizeof(num), "%.*s", (int)t.val_len, t.val);
			jw_num(w, key, num);
		} else {
			jw_str(w, key, t.val, t.val_len, t.quoted);
		}
	}
}

static const struct key_set base_keys = {
    .key = {"time", "level", "msg", "truncated"},
    .len = {4, 5, 3, 9},
    .n = 4,
};

size_t log_json_line(char *out, size_t size, const char *level, const char *msg, size_t len)
{
	struct jw w;

	jw_open(&w, out, size, level);
	jw_text(&w, msg, len, &base_keys, true, false);
	return jw_close(&w);
}

/* The text form: control characters from the network never reach the log
   verbatim, and neither do octets that are not UTF-8 (journald would keep
   the line as a binary blob): each becomes '?'. */
static void text_clean(char *line, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)line[i];
		size_t k = c < 0x20 || c == 0x7f ? 0 : utf8_seq((unsigned char *)line + i, n - i);
		if (k == 0) {
			line[i++] = '?';
			continue;
		}
		i += k;
	}
}

static void write_line(const char *line, size_t n)
{
	ssize_t w = write(STDERR_FILENO, line, n);
	(void)w;
}

ATTR_FORMAT(2, 0) static void log_v(const char *level, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (atomic_load_explicit(&log_format, memory_order_relaxed) == LOG_FORMAT_JSON) {
		int m = vsnprintf(msg, sizeof(msg), fmt, ap);
		size_t len = m < 0 ? 0 : (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
		write_line(line, log_json_line(line, sizeof(line), level, msg, len));
		return;
	}
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
	text_clean(line, n);
	line[n++] = '\n';
	write_line(line, n);
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

/* --- records ------------------------------------------------------------------ */

/* " key=value", the value quoted (with \" and \\) when it is empty or holds
   a space, a quote, a backslash or '='; in whole or not at all. */
static void text_pair(char *buf, size_t cap, size_t *n, const char *key, const char *v, bool force)
{
	bool quote = force || v[0] == '\0' || strpbrk(v, " \"=\\") != NULL;
	size_t need = 2 + strlen(key) + strlen(v) + (quote ? 2 : 0);

	if (quote)
		for (const char *p = v; *p != '\0'; p++)
			need += *p == '"' || *p == '\\';
	if (*n + need >= cap)
		return;
	size_t k = *n;
	buf[k++] = ' ';
	k += (size_t)snprintf(buf + k, cap - k, "%s=", key);
	if (quote)
		buf[k++] = '"';
	for (const char *p = v; *p != '\0'; p++) {
		if (quote && (*p == '"' || *p == '\\'))
			buf[k++] = '\\';
		buf[k++] = *p;
	}
	if (quote)
		buf[k++] = '"';
	buf[k] = '\0';
	*n = k;
}

size_t log_extra_add(char *buf, size_t cap, size_t len, const char *key, const char *value)
{
	if (cap == 0 || len >= cap || value == NULL)
		return len;
	text_pair(buf, cap, &len, key, value, false);
	return len;
}

size_t log_extra_add_text(char *buf, size_t cap, size_t len, const char *key, const char *value)
{
	if (cap == 0 || len >= cap || value == NULL)
		return len;
	text_pair(buf, cap, &len, key, value, true);
	return len;
}

/* The fields of a record in their order, for both forms. */
struct rec_field {
	const char *key, *val;
	bool number;
};

static size_t rec_fields(const struct log_record *r, struct rec_field *f, char num[3][32])
{
	size_t n = 0;
	const char *strs[][2] = {
	    {"sid", r->sid},	   {"qid", r->qid},	    {"user", r->user},
	    {"ip", r->ip},	   {"command", r->command}, {"mech", r->mech},
	    {"result", r->result}, {"reason", r->reason},   {"tls", r->tls},
	};
	for (size_t i = 0; i < N_ELEMENTS(strs); i++)
		if (strs[i][1] != NULL)
			f[n++] = (struct rec_field){strs[i][0], strs[i][1], false};
	if (r->usec != 0) {
		snprintf(num[0], sizeof(num[0]), "%llu.%03llu",
			 (unsigned long long)(r->usec / 1000),
			 (unsigned long long)(r->usec % 1000));
		f[n++] = (struct rec_field){"ms", num[0], true};
	}
	if (r->bytes != 0) {
		snprintf(num[1], sizeof(num[1]), "%llu", (unsigned long long)r->bytes);
		f[n++] = (struct rec_field){"bytes", num[1], true};
	}
	if (r->count != 0) {
		snprintf(num[2], sizeof(num[2]), "%llu", (unsigned long long)r->count);
		f[n++] = (struct rec_field){"count", num[2], true};
	}
	return n;
}

size_t log_record_line(char *out, size_t size, const char *level, const struct log_record *r,
		       enum log_format format)
{
	struct rec_field f[16];
	char num[3][32];
	size_t nf = rec_fields(r, f, num);
	const char *service = r->service != NULL ? r->service : "-";

	if (format == LOG_FORMAT_JSON) {
		struct jw w;
		struct key_set taken = base_keys;
		jw_open(&w, out, size, level);
		jw_str(&w, "event", log_event_name(r->event), strlen(log_event_name(r->event)),
		       false);
		jw_str(&w, "service", service, strlen(service), false);
		key_set_add(&taken, "event", 5);
		key_set_add(&taken, "service", 7);
		for (size_t i = 0; i < nf; i++) {
			if (f[i].number)
				jw_num(&w, f[i].key, f[i].val);
			else
				jw_str(&w, f[i].key, f[i].val, strlen(f[i].val), false);
			key_set_add(&taken, f[i].key, strlen(f[i].key));
		}
		if (r->extra != NULL)
			jw_text(&w, r->extra, strlen(r->extra), &taken, false, true);
		return jw_close(&w);
	}
	/* text: "[sid=ID ]SERVICE EVENT key=value..." after the time and level */
	char body[LOG_LINE_MAX];
	size_t n = 0;
	body[0] = '\0';
	if (r->sid != NULL)
		n = (size_t)snprintf(body, sizeof(body), "sid=%s ", r->sid);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "%s %s", service,
			      log_event_name(r->event));
	for (size_t i = 0; i < nf; i++)
		if (strcmp(f[i].key, "sid") != 0)
			text_pair(body, sizeof(body), &n, f[i].key, f[i].val, false);
	if (r->extra != NULL && n + 1 + strlen(r->extra) < sizeof(body))
		n += (size_t)snprintf(body + n, sizeof(body) - n, " %s", r->extra);
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t k = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	int m = snprintf(out + k, size - k, ".%03ldZ %s %s", ts.tv_nsec / 1000000, level, body);
	k += m < 0 ? 0 : (size_t)m;
	if (k > size - 2)
		k = size - 2;
	text_clean(out, k);
	out[k++] = '\n';
	return k;
}

void log_login(const struct log_session *who, const char *result, const char *mech,
	       const char *user, const char *reason, uint64_t usec, const char *extra)
{
	char name[65];

	if (user != NULL)
		snprintf(name, sizeof(name), "%s", user);
	struct log_record r = {
	    .event = LOG_EV_LOGIN,
	    .service = who->service,
	    .sid = who->sid,
	    .ip = who->ip,
	    .user = user != NULL && *user != '\0' ? name : NULL,
	    .mech = mech,
	    .result = result,
	    .reason = reason,
	    .tls = who->tls,
	    .usec = usec,
	    .extra = extra,
	};
	log_record(LOG_INFO, &r);
}

uint64_t log_now_usec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void log_record(enum log_level level, const struct log_record *r)
{
	char line[LOG_LINE_MAX];

	if (sink != NULL)
		sink(r);
	if ((int)level < atomic_load_explicit(&min_level, memory_order_relaxed))
		return;
	enum log_format format = atomic_load_explicit(&log_format, memory_order_relaxed);
	write_line(line, log_record_line(line, sizeof(line), level_names[level], r, format));
}
