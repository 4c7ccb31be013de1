/* SPDX-License-Identifier: MIT */
/*
 * check_parse.c - what `mailroom check` reads of a server's answers beyond
 * the status lines and replies (migrate/mig_pop3.h, queue/smtp_reply.h):
 * CAPA tags, EHLO AUTH mechanisms, a fetched header's fields, whether the
 * probe came back whole, and which UIDLs are new. Pure functions over
 * octets with lengths; fuzzed (fuzz/fuzz_check.c).
 */
#include "check/check_private.h"

#include <string.h>
#include <strings.h>

/* The next line of p[*i..len) without its CRLF/LF; false at the end. */
static bool next_line(const char *p, size_t len, size_t *i, struct slice *line)
{
	if (*i >= len)
		return false;
	const char *nl = memchr(p + *i, '\n', len - *i);
	size_t e = nl != NULL ? (size_t)(nl - p) : len;
	size_t n = e - *i;
	if (n > 0 && p[*i + n - 1] == '\r')
		n--;
	*line = (struct slice){p + *i, n};
	*i = nl != NULL ? e + 1 : len;
	return true;
}

/* The next blank-separated word of *s; false when none is left. */
static bool word(struct slice *s, struct slice *w)
{
	size_t i = 0;
	while (i < s->len && (s->p[i] == ' ' || s->p[i] == '\t'))
		i++;
	size_t b = i;
	while (i < s->len && s->p[i] != ' ' && s->p[i] != '\t')
		i++;
	*w = (struct slice){s->p + b, i - b};
	*s = (struct slice){s->p + i, s->len - i};
	return w->len > 0;
}

void check_parse_capa(const char *p, size_t len, struct check_capa *c)
{
	struct slice line, w;
	size_t i = 0;

	memset(c, 0, sizeof(*c));
	while (next_line(p, len, &i, &line)) {
		if (!word(&line, &w))
			continue;
		if (slice_eq_ci(w, "STLS"))
			c->stls = true;
		else if (slice_eq_ci(w, "USER"))
			c->user = true;
		else if (slice_eq_ci(w, "UIDL"))
			c->uidl = true;
		else if (slice_eq_ci(w, "TOP"))
			c->top = true;
		else if (slice_eq_ci(w, "SASL"))
			while (word(&line, &w))
				c->sasl_plain |= slice_eq_ci(w, "PLAIN");
	}
}

void check_parse_ehlo_auth(const char *text, size_t len, bool *plain, bool *login)
{
	struct slice s = {text, len}, w;

	if (!word(&s, &w))
		return;
	if (w.len > 5 && strncasecmp(w.p, "AUTH=", 5) == 0) {
		/* the pre-RFC 4954 form: "AUTH=LOGIN PLAIN" */
		s = (struct slice){w.p + 5, (size_t)(text + len - (w.p + 5))};
	} else if (!slice_eq_ci(w, "AUTH")) {
		return;
	}
	while (word(&s, &w)) {
		*plain |= slice_eq_ci(w, "PLAIN");
		*login |= slice_eq_ci(w, "LOGIN");
	}
}

/* needle within s, case-sensitively (the token is ours, in hex) */
static bool contains(struct slice s, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= s.len; i++)
		if (memcmp(s.p + i, needle, n) == 0)
			return true;
	return false;
}

bool check_parse_header_has(const char *p, size_t len, const char *name, const char *needle)
{
	enum { FIELD_MAX = 4096 };
	char field[FIELD_MAX];
	size_t nlen = strlen(name), flen = 0, i = 0;
	bool in = false;
	struct slice line;

	while (next_line(p, len, &i, &line) && line.len > 0) {
		bool folded = line.p[0] == ' ' || line.p[0] == '\t';
		if (!folded) {
			if (in && contains((struct slice){field, flen}, needle))
				return true;
			in = line.len > nlen && line.p[nlen] == ':' &&
			     strncasecmp(line.p, name, nlen) == 0;
			flen = 0;
			if (in)
				line = (struct slice){line.p + nlen + 1, line.len - nlen - 1};
		}
		if (in) { /* RFC 5322 §2.2.3: unfolding removes the line ends */
			size_t k = line.len < FIELD_MAX - flen ? line.len : FIELD_MAX - flen;
			if (k > 0)
				memcpy(field + flen, line.p, k);
			flen += k;
		}
	}
	return in && contains((struct slice){field, flen}, needle);
}

/* The offset of the body: after the first empty line, or len. */
static size_t body_start(const char *p, size_t len)
{
	size_t i = 0;
	struct slice line;
	while (next_line(p, len, &i, &line))
		if (line.len == 0)
			return i;
	return len;
}

bool check_parse_intact(const char *msg, size_t len, const char *sent, size_t sent_len)
{
	size_t b = body_start(msg, len), sb = body_start(sent, sent_len);
	return b < len && len - b == sent_len - sb && memcmp(msg + b, sent + sb, len - b) == 0;
}

size_t check_parse_new_uidls(const char *uidl, size_t len, const char *baseline, size_t blen,
			     bool (*fn)(void *ctx, uint64_t n), void *ctx)
{
	size_t i = 0, fresh = 0;
	struct slice line;
	char id[MIG_POP3_UIDL_MAX + 1];

	while (next_line(uidl, len, &i, &line)) {
		uint64_t n;
		if (!mig_pop3_uidl_line(line.p, line.len, &n, id))
			continue;
		bool seen = false;
		size_t j = 0;
		struct slice bl;
		while (!seen && next_line(baseline, blen, &j, &bl)) {
			uint64_t bn;
			char bid[MIG_POP3_UIDL_MAX + 1];
			seen = mig_pop3_uidl_line(bl.p, bl.len, &bn, bid) && strcmp(bid, id) == 0;
		}
		if (seen)
			continue;
		fresh++;
		if (fn(ctx, n))
			break;
	}
	return fresh;
}
