/* SPDX-License-Identifier: MIT */
/*
 * fuzz_log_json.c - libFuzzer target for the JSON log form (util/log.h).
 * The first octet picks the line size (128 octets up to LOG_LINE_MAX) and
 * whether the rest is a free-form message or the fields of a record (split
 * at NUL octets: user, reason, extra, command, ip); every line made must be
 * one strict JSON object (RFC 8259, UTF-8 only, no duplicate key) ending in
 * the one newline, within the size; a record's text form must be UTF-8
 * without control characters.
 */
#include "fuzz.h"
#include "util/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct rd {
	const unsigned char *p;
	size_t n, i;
};

static void ws(struct rd *r)
{
	while (r->i < r->n && (r->p[r->i] == ' ' || r->p[r->i] == '\t'))
		r->i++;
}

static bool lit(struct rd *r, const char *s)
{
	size_t k = strlen(s);
	if (r->n - r->i < k || memcmp(r->p + r->i, s, k) != 0)
		return false;
	r->i += k;
	return true;
}

/* The length of the valid UTF-8 sequence at p (a non-ASCII lead octet;
   RFC 3629: no overlong form, surrogate or code point past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t k = c >= 0xc2 && c <= 0xdf   ? 2
		   : c >= 0xe0 && c <= 0xef ? 3
		   : c >= 0xf0 && c <= 0xf4 ? 4
					    : 0;

	if (k == 0 || n < k)
		return 0;
	unsigned char c1 = p[1];
	if (c1 < 0x80 || c1 > 0xbf || (c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 > 0x9f) ||
	    (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 > 0x8f))
		return 0;
	for (size_t j = 2; j < k; j++)
		if (p[j] < 0x80 || p[j] > 0xbf)
			return 0;
	return k;
}

/* A text line: UTF-8 without control characters, then the newline. */
static void check_text(const char *line, size_t n, size_t size)
{
	const unsigned char *p = (const unsigned char *)line;

	CHECK(n > 0 && n <= size && line[n - 1] == '\n');
	for (size_t i = 0; i + 1 < n;) {
		CHECK(p[i] >= 0x20 && p[i] != 0x7f);
		size_t k = p[i] < 0x80 ? 1 : utf8_len(p + i, n - 1 - i);
		CHECK(k > 0);
		i += k;
	}
}

/* A string: valid escapes, no raw control octet, valid UTF-8 (no overlong
   form, surrogate or code point past U+10FFFF). Its raw text in *s, *len. */
static bool string(struct rd *r, const unsigned char **s, size_t *len)
{
	if (!lit(r, "\""))
		return false;
	*s = r->p + r->i;
	while (r->i < r->n) {
		unsigned char c = r->p[r->i];
		if (c == '"') {
			*len = (size_t)(r->p + r->i - *s);
			r->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (r->i + 1 >= r->n)
				return false;
			unsigned char e = r->p[r->i + 1];
			if (e == 'u') {
				if (r->n - r->i < 6)
					return false;
				for (size_t k = 2; k < 6; k++) {
					unsigned char h = r->p[r->i + k];
					if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
					      (h >= 'A' && h <= 'F')))
						return false;
				}
				r->i += 6;
			} else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
				r->i += 2;
			} else {
				return false;
			}
			continue;
		}
		if (c < 0x80) {
			r->i++;
			continue;
		}
		size_t k = utf8_len(r->p + r->i, r->n - r->i);
		if (k == 0)
			return false;
		r->i += k;
	}
	return false;
}

/* number: -?(0|[1-9][0-9]*)(.[0-9]+)?  (the log writes no exponent) */
static bool number(struct rd *r)
{
	lit(r, "-");
	if (r->i >= r->n || r->p[r->i] < '0' || r->p[r->i] > '9')
		return false;
	if (r->p[r->i] == '0')
		r->i++;
	else
		while (r->i < r->n && r->p[r->i] >= '0' && r->p[r->i] <= '9')
			r->i++;
	if (lit(r, ".")) {
		size_t d = r->i;
		while (r->i < r->n && r->p[r->i] >= '0' && r->p[r->i] <= '9')
			r->i++;
		if (r->i == d)
			return false;
	}
	return true;
}

/* The one object of a line: string keys, each once; values are strings,
   numbers or true. */
static bool object(struct rd *r)
{
	const unsigned char *keys[256];
	size_t key_len[256], nk = 0;

	if (!lit(r, "{"))
		return false;
	ws(r);
	if (lit(r, "}"))
		return true;
	for (;;) {
		const unsigned char *k, *v;
		size_t kl, vl;
		ws(r);
		if (!string(r, &k, &kl))
			return false;
		for (size_t i = 0; i < nk; i++)
			if (key_len[i] == kl && memcmp(keys[i], k, kl) == 0)
				return false;
		if (nk == 256)
			return false;
		keys[nk] = k;
		key_len[nk++] = kl;
		ws(r);
		if (!lit(r, ":"))
			return false;
		ws(r);
		if (r->i < r->n && r->p[r->i] == '"') {
			if (!string(r, &v, &vl))
				return false;
		} else if (!lit(r, "true") && !number(r)) {
			return false;
		}
		ws(r);
		if (lit(r, "}"))
			return true;
		if (!lit(r, ","))
			return false;
	}
}

static void check_line(const char *line, size_t n, size_t size)
{
	CHECK(n > 0 && n <= size);
	CHECK(line[n - 1] == '\n');
	CHECK(memchr(line, '\n', n - 1) == NULL);
	struct rd r = {(const unsigned char *)line, n - 1, 0};
	CHECK(object(&r));
	CHECK(r.i == r.n);
}

/* The next NUL-terminated part of the input, or NULL. */
static const char *part(char **p, char *end)
{
	if (*p >= end)
		return NULL;
	char *s = *p;
	char *z = memchr(s, '\0', (size_t)(end - s));
	*p = z != NULL ? z + 1 : end;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LOG_LINE_MAX];

	if (size < 1)
		return 0;
	size_t cap = 128 + (size_t)(data[0] & 0x7f) * ((LOG_LINE_MAX - 128) / 127);
	char *text = malloc(size); /* the rest, NUL-terminated */
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if (data[0] & 0x80) {
		char *p = text, *end = text + size - 1;
		struct log_record rec = {
		    .event = LOG_EV_LOGIN, .service = "pop3", .sid = "0123abcd"};
		rec.user = part(&p, end);
		rec.reason = part(&p, end);
		rec.extra = part(&p, end);
		rec.command = part(&p, end);
		rec.ip = part(&p, end);
		rec.usec = size * 997;
		rec.bytes = size;
		size_t n = log_record_line(line, cap, "info", &rec, LOG_FORMAT_JSON);
		check_line(line, n, cap);
		n = log_record_line(line, cap, "info", &rec, LOG_FORMAT_TEXT);
		check_text(line, n, cap);
	} else {
		size_t n = log_json_line(line, cap, "debug", text, size - 1);
		check_line(line, n, cap);
	}
	free(text);
	return 0;
}
