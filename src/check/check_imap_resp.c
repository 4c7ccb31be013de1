/* SPDX-License-Identifier: MIT */
/*
 * check_imap_resp.c - how `mailroom check` reads an IMAP server
 * (check_private.h): a byte machine that cuts the input into whole
 * responses (RFC 9051 §2.2.2, §4.3: lines, with literals {n} CRLF and n
 * octets inside them), and pure readers of a whole response: its head
 * (tag, status, response code), CAPABILITY names, SEARCH/ESEARCH numbers
 * and a FETCH's UID and BODY[].
 *
 * Every function works on octets with lengths and never looks past them;
 * the machine never takes octets beyond the end of the response it reads
 * and bounds lines and literals before it stores them. Fuzzed by
 * fuzz/fuzz_check_imap.c.
 */
#include "check/check_private.h"

#include <string.h>

#define LITERAL_DIGITS 10 /* {n}: up to 9999999999, over any max */

void check_imap_resp_init(struct check_imap_resp *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void check_imap_resp_reset(struct check_imap_resp *r)
{
	buf_clear(&r->text);
	r->seg = 0;
	r->literal = 0;
	r->error = CHECK_IMAP_E_NONE;
	r->done = false;
}

void check_imap_resp_free(struct check_imap_resp *r)
{
	buf_free(&r->text);
}

const char *check_imap_resp_error_text(enum check_imap_error e)
{
	switch (e) {
	case CHECK_IMAP_E_NONE:
		return "no error";
	case CHECK_IMAP_E_LONG:
		return "a response line over 8192 octets";
	case CHECK_IMAP_E_BIG:
		return "a response over its size limit";
	case CHECK_IMAP_E_NUL:
		return "NUL in a response line";
	case CHECK_IMAP_E_DONE:
		return "read past a response";
	}
	return "?";
}

/* The n of a line (without its line end) that ends in a literal's
   announcement: "{n}", "{n+}" (RFC 7888) or "~{n}" (RFC 3516); an n past
   what uint64_t holds is UINT64_MAX (over any bound). */
static bool literal_at_end(const char *p, size_t len, uint64_t *n_r)
{
	if (len < 3 || p[len - 1] != '}')
		return false;
	size_t e = len - 1;
	if (p[e - 1] == '+')
		e--;
	size_t b = e;
	while (b > 0 && p[b - 1] >= '0' && p[b - 1] <= '9')
		b--;
	if (b == e || b == 0 || p[b - 1] != '{')
		return false;
	if (!slice_to_uint((struct slice){p + b, e - b}, UINT64_MAX, n_r))
		*n_r = UINT64_MAX;
	return true;
}

static enum check_imap_feed fail(struct check_imap_resp *r, enum check_imap_error e)
{
	r->error = e;
	return CHECK_IMAP_BAD;
}

enum check_imap_feed check_imap_resp_feed(struct check_imap_resp *r, const char *p, size_t len,
					  size_t *used_r)
{
	size_t i = 0;

	*used_r = 0;
	if (r->error != CHECK_IMAP_E_NONE)
		return CHECK_IMAP_BAD;
	if (r->done)
		return fail(r, CHECK_IMAP_E_DONE);
	while (i < len) {
		if (r->literal > 0) {
			size_t n = len - i < r->literal ? len - i : (size_t)r->literal;
			buf_append(&r->text, p + i, n);
			i += n;
			r->literal -= n;
			if (r->literal == 0)
				r->seg = r->text.len; /* the line goes on after it */
			continue;
		}
		/* a piece of the line, up to its LF; the first octet over a
		   bound decides the error, however the input was cut */
		size_t line_room = CHECK_IMAP_LINE_MAX - (r->text.len - r->seg);
		size_t big_room = r->max - r->text.len;
		size_t look = len - i;
		if (look > line_room + 1)
			look = line_room + 1;
		if (look > big_room + 1)
			look = big_room + 1;
		const char *nl = memchr(p + i, '\n', look);
		size_t n = nl != NULL ? (size_t)(nl - (p + i)) + 1 : look;
		const char *z = memchr(p + i, '\0', n);
		size_t nul_at = z != NULL ? (size_t)(z - (p + i)) : n;
		size_t long_at =
		    line_room < n && !(nl != NULL && line_room == n - 1) ? line_room : n;
		size_t big_at = big_room < n ? big_room : n;
		if (nul_at < n && nul_at <= long_at && nul_at <= big_at)
			return fail(r, CHECK_IMAP_E_NUL);
		if (long_at < n && long_at <= big_at)
			return fail(r, CHECK_IMAP_E_LONG);
		if (big_at < n)
			return fail(r, CHECK_IMAP_E_BIG);
		buf_append(&r->text, p + i, n);
		i += n;
		*used_r = i;
		if (nl == NULL)
			continue;
		size_t end = r->text.len - 1; /* the LF */
		if (end > r->seg && r->text.data[end - 1] == '\r')
			end--;
		uint64_t lit;
		if (!literal_at_end(r->text.data + r->seg, end - r->seg, &lit)) {
			r->done = true;
			return CHECK_IMAP_DONE;
		}
		if (lit > r->max - r->text.len)
			return fail(r, CHECK_IMAP_E_BIG);
		r->literal = lit;
		if (lit == 0)
			r->seg = r->text.len;
	}
	*used_r = i;
	return CHECK_IMAP_MORE;
}

/* --- reading a whole response ------------------------------------------ */

/* The first line of p, without its line end. */
static struct slice first_line(const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len);
	size_t n = nl != NULL ? (size_t)(nl - p) : len;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return (struct slice){p, n};
}

/* The next SP-separated word of *s (several SPs are one). */
static bool word(struct slice *s, struct slice *w)
{
	size_t i = 0;
	if (s->len == 0) { /* an empty slice may have no pointer */
		*w = *s;
		return false;
	}
	while (i < s->len && s->p[i] == ' ')
		i++;
	size_t b = i;
	while (i < s->len && s->p[i] != ' ')
		i++;
	*w = (struct slice){s->p + b, i - b};
	*s = (struct slice){s->p + i, s->len - i};
	return w->len > 0;
}

static struct slice skip_sp(struct slice s)
{
	while (s.len > 0 && s.p[0] == ' ')
		s.p++, s.len--;
	return s;
}

static bool is_status(struct slice w)
{
	return slice_eq_ci(w, "OK") || slice_eq_ci(w, "NO") || slice_eq_ci(w, "BAD") ||
	       slice_eq_ci(w, "BYE") || slice_eq_ci(w, "PREAUTH");
}

bool check_imap_head(const char *p, size_t len, struct check_imap_head *h)
{
	struct slice line = first_line(p, len), w;

	memset(h, 0, sizeof(*h));
	if (!word(&line, &w))
		return false;
	if (slice_eq(w, "+")) {
		h->kind = CHECK_IMAP_CONT;
		h->text = skip_sp(line);
		return true;
	}
	h->kind = slice_eq(w, "*") ? CHECK_IMAP_UNTAGGED : CHECK_IMAP_TAGGED;
	if (h->kind == CHECK_IMAP_TAGGED)
		h->tag = w;
	if (!word(&line, &h->word))
		return false;
	if (h->kind == CHECK_IMAP_UNTAGGED &&
	    slice_to_uint(h->word, UINT32_MAX, &h->num)) { /* "* 3 EXISTS" */
		h->has_num = true;
		if (!word(&line, &h->word))
			return false;
	}
	h->rest = skip_sp(line);
	if (!is_status(h->word))
		return true;
	struct slice t = h->rest;
	if (t.len > 0 && t.p[0] == '[') {
		const char *close = memchr(t.p, ']', t.len);
		if (close != NULL) {
			h->code = (struct slice){t.p + 1, (size_t)(close - t.p) - 1};
			t = skip_sp((struct slice){close + 1, (size_t)(t.p + t.len - close - 1)});
		}
	}
	h->text = t;
	return true;
}

void check_imap_parse_capa(struct slice list, struct check_imap_capa *c)
{
	struct slice w;
	while (word(&list, &w)) {
		c->imap4rev1 |= slice_eq_ci(w, "IMAP4rev1");
		c->imap4rev2 |= slice_eq_ci(w, "IMAP4rev2");
		c->starttls |= slice_eq_ci(w, "STARTTLS");
		c->logindisabled |= slice_eq_ci(w, "LOGINDISABLED");
		c->auth_plain |= slice_eq_ci(w, "AUTH=PLAIN");
		c->sasl_ir |= slice_eq_ci(w, "SASL-IR");
		c->uidplus |= slice_eq_ci(w, "UIDPLUS");
	}
}

/* The numbers of a sequence set ("3,5:7") into out, up to cap of them;
   returns how many the set holds (at most SIZE_MAX). */
static size_t set_numbers(struct slice s, uint64_t *out, size_t cap)
{
	size_t filled = 0, total = 0, i = 0;
	while (i < s.len) {
		size_t b = i;
		while (i < s.len && s.p[i] != ',')
			i++;
		struct slice item = {s.p + b, i - b};
		i++; /* the comma */
		const char *colon = memchr(item.p, ':', item.len);
		struct slice a = item, z = item;
		if (colon != NULL) {
			a.len = (size_t)(colon - item.p);
			z = (struct slice){colon + 1, item.len - a.len - 1};
		}
		uint64_t lo, hi;
		if (!slice_to_uint(a, UINT32_MAX, &lo) || !slice_to_uint(z, UINT32_MAX, &hi))
			continue;
		if (lo > hi) { /* RFC 9051 §9: 7:5 is 5:7 */
			uint64_t t = lo;
			lo = hi;
			hi = t;
		}
		for (uint64_t u = lo; u <= hi && filled < cap; u++)
			out[filled++] = u;
		uint64_t n = hi - lo + 1;
		total = n > SIZE_MAX - total ? SIZE_MAX : total + (size_t)n;
	}
	return total;
}

size_t check_imap_parse_search(const struct check_imap_head *h, uint64_t *uids, size_t cap)
{
	struct slice s = h->rest, w;
	size_t n = 0;

	if (h->kind != CHECK_IMAP_UNTAGGED || h->has_num)
		return 0;
	if (slice_eq_ci(h->word, "SEARCH")) {
		while (word(&s, &w)) {
			uint64_t u;
			if (w.len > 0 && w.p[0] == '(')
				break; /* "(MODSEQ n)" of RFC 7162 */
			if (!slice_to_uint(w, UINT32_MAX, &u))
				continue;
			if (n < cap)
				uids[n] = u;
			n++;
		}
		return n;
	}
	if (!slice_eq_ci(h->word, "ESEARCH"))
		return 0;
	/* RFC 4731 §3.1: [(TAG "x")] [UID] *(name value) */
	if (s.len > 0 && s.p[0] == '(') {
		const char *close = memchr(s.p, ')', s.len);
		if (close == NULL)
			return 0;
		s = (struct slice){close + 1, (size_t)(s.p + s.len - close - 1)};
	}
	while (word(&s, &w)) {
		if (slice_eq_ci(w, "UID"))
			continue;
		struct slice v;
		if (!word(&s, &v))
			break;
		if (slice_eq_ci(w, "ALL"))
			return set_numbers(v, uids, cap);
	}
	return 0;
}

/* --- FETCH ------------------------------------------------------------- */

enum tok { T_END, T_ATOM, T_QUOTED, T_LITERAL, T_OPEN, T_CLOSE, T_BAD };

/* The next item of s: an atom (with any [...] of BODY[] inside it), a
   quoted string (raw, escapes kept), a literal's octets, or a paren.
   Literals are bounded by what s holds. */
static enum tok next(struct slice *s, struct slice *t)
{
	*s = skip_sp(*s);
	if (s->len == 0)
		return T_END;
	const char *p = s->p;
	size_t len = s->len, i = 0;
	if (p[0] == '(' || p[0] == ')') {
		*t = (struct slice){p, 1};
		*s = (struct slice){p + 1, len - 1};
		return p[0] == '(' ? T_OPEN : T_CLOSE;
	}
	if (p[0] == '"') {
		for (i = 1; i < len && p[i] != '"'; i++)
			if (p[i] == '\\')
				i++;
		if (i >= len)
			return T_BAD;
		*t = (struct slice){p + 1, i - 1};
		*s = (struct slice){p + i + 1, len - i - 1};
		return T_QUOTED;
	}
	if (p[0] == '{' || (p[0] == '~' && len > 1 && p[1] == '{')) {
		size_t b = p[0] == '~' ? 2 : 1;
		for (i = b; i < len && i - b <= LITERAL_DIGITS && p[i] >= '0' && p[i] <= '9'; i++)
			;
		uint64_t n;
		if (!slice_to_uint((struct slice){p + b, i - b}, UINT64_MAX, &n))
			return T_BAD;
		if (i < len && p[i] == '+')
			i++;
		if (i >= len || p[i] != '}')
			return T_BAD;
		i++;
		if (i < len && p[i] == '\r')
			i++;
		if (i >= len || p[i] != '\n')
			return T_BAD;
		i++;
		if (n > len - i)
			return T_BAD;
		*t = (struct slice){p + i, (size_t)n};
		*s = (struct slice){p + i + n, len - i - (size_t)n};
		return T_LITERAL;
	}
	int depth = 0; /* BODY[HEADER.FIELDS (A B)] holds SPs and parens */
	for (; i < len; i++) {
		char c = p[i];
		if (c == '[')
			depth++;
		else if (c == ']' && depth > 0)
			depth--;
		else if (depth == 0 &&
			 (c == ' ' || c == '(' || c == ')' || c == '"' || c == '\r' || c == '\n'))
			break;
	}
	if (i == 0)
		return T_BAD;
	*t = (struct slice){p, i};
	*s = (struct slice){p + i, len - i};
	return T_ATOM;
}

/* Skips one value whose first token was k (a list to its close). */
static bool skip_value(struct slice *s, enum tok k)
{
	struct slice t;
	unsigned depth = k == T_OPEN ? 1 : 0;
	if (k == T_END || k == T_BAD || k == T_CLOSE)
		return false;
	while (depth > 0) {
		k = next(s, &t);
		if (k == T_END || k == T_BAD)
			return false;
		if (k == T_OPEN)
			depth++;
		else if (k == T_CLOSE)
			depth--;
	}
	return true;
}

static void unquote(struct slice q, struct buf *out)
{
	for (size_t i = 0; i < q.len; i++) {
		if (q.p[i] == '\\' && i + 1 < q.len)
			i++;
		buf_append_c(out, q.p[i]);
	}
}

bool check_imap_parse_fetch(const char *p, size_t len, uint64_t *uid_r, struct buf *body)
{
	struct check_imap_head h;
	struct slice t;

	*uid_r = 0;
	if (!check_imap_head(p, len, &h) || h.kind != CHECK_IMAP_UNTAGGED || !h.has_num ||
	    !slice_eq_ci(h.word, "FETCH"))
		return false;
	/* the items go on past the first line when it holds a literal */
	struct slice s = {h.rest.p, len - (size_t)(h.rest.p - p)};
	if (next(&s, &t) != T_OPEN)
		return false;
	for (;;) {
		enum tok k = next(&s, &t);
		if (k == T_CLOSE)
			return true;
		if (k != T_ATOM)
			return false;
		struct slice name = t, v;
		k = next(&s, &v);
		if (slice_eq_ci(name, "UID")) {
			if (k != T_ATOM || !slice_to_uint(v, UINT32_MAX, uid_r))
				return false;
		} else if (slice_eq_ci(name, "BODY[]") || slice_eq_ci(name, "BINARY[]")) {
			if (k == T_LITERAL)
				buf_append(body, v.p, v.len);
			else if (k == T_QUOTED)
				unquote(v, body);
			else if (k != T_ATOM || !slice_eq_ci(v, "NIL"))
				return false;
		} else if (!skip_value(&s, k)) {
			return false;
		}
	}
}

void check_imap_text(struct slice s, char *out, size_t len)
{
	size_t n = s.len < len - 1 ? s.len : len - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out[n] = '\0';
}
