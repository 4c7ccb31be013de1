/* SPDX-License-Identifier: MIT */
/*
 * dkim_canon.c - the simple and relaxed canonicalisations (RFC 6376 §3.4),
 * a message cut into header fields and body, and the header fields a
 * signature covers picked bottom-up (§5.4.2).
 */
#include "filter/dkim.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static bool wsp(char c)
{
	return c == ' ' || c == '\t';
}

void dkim_canon_header(struct buf *out, enum dkim_canon c, const char *field, size_t len)
{
	if (c == DKIM_CANON_SIMPLE) {
		buf_append(out, field, len);
		return;
	}
	const char *colon = memchr(field, ':', len);
	size_t nlen = colon ? (size_t)(colon - field) : len;
	while (nlen > 0 &&
	       (wsp(field[nlen - 1]) || field[nlen - 1] == '\r' || field[nlen - 1] == '\n'))
		nlen--;
	for (size_t i = 0; i < nlen; i++)
		buf_append_c(out, (char)tolower((unsigned char)field[i]));
	buf_append_c(out, ':');
	if (colon) {
		const char *p = colon + 1, *e = field + len;
		bool space = false, started = false;
		for (; p < e; p++) {
			char ch = *p;
			if (ch == '\r' || ch == '\n')
				continue; /* unfold */
			if (wsp(ch)) {
				space = true;
				continue;
			}
			if (space && started)
				buf_append_c(out, ' ');
			space = false;
			started = true;
			buf_append_c(out, ch);
		}
	}
	buf_append(out, "\r\n", 2);
}

void dkim_canon_body(struct buf *out, enum dkim_canon c, const char *body, size_t len)
{
	size_t start = out->len, keep = out->len; /* keep: length up to the last non-empty line */
	const char *p = body, *e = body + len;

	while (p < e) {
		const char *nl = NULL;
		for (const char *q = p; q + 1 < e; q++)
			if (q[0] == '\r' && q[1] == '\n') {
				nl = q;
				break;
			}
		const char *le = nl ? nl : e;
		size_t line_start = out->len;
		if (c == DKIM_CANON_RELAXED) {
			const char *s = le;
			while (s > p && wsp(s[-1]))
				s--;
			bool space = false;
			for (const char *q = p; q < s; q++) {
				if (wsp(*q)) {
					space = true;
					continue;
				}
				if (space)
					buf_append_c(out, ' ');
				space = false;
				buf_append_c(out, *q);
			}
		} else {
			buf_append(out, p, (size_t)(le - p));
		}
		bool empty = out->len == line_start;
		buf_append(out, "\r\n", 2);
		if (!empty)
			keep = out->len;
		p = nl ? nl + 2 : e;
	}
	out->len = keep; /* trailing empty lines go */
	if (out->data)
		out->data[out->len] = '\0';
	if (c == DKIM_CANON_SIMPLE && out->len == start)
		buf_append(out, "\r\n", 2);
}

void dkim_msg_split(struct dkim_msg *m, const char *msg, size_t len)
{
	size_t cap = 0;
	const char *p = msg, *e = msg + len;

	memset(m, 0, sizeof(*m));
	m->body = e;
	while (p < e) {
		if (e - p >= 2 && p[0] == '\r' && p[1] == '\n') {
			m->body = p + 2;
			break;
		}
		/* one field: lines until one not starting with WSP */
		const char *q = p;
		for (;;) {
			const char *nl = memchr(q, '\n', (size_t)(e - q));
			q = nl ? nl + 1 : e;
			if (q >= e || !wsp(*q))
				break;
		}
		if (m->n < DKIM_HEADERS_MAX) {
			if (m->n == cap) {
				cap = cap ? cap * 2 : 32;
				m->f = xrealloc(m->f, cap * sizeof(*m->f));
			}
			const char *colon = memchr(p, ':', (size_t)(q - p));
			size_t nl = colon ? (size_t)(colon - p) : 0;
			while (nl > 0 && wsp(p[nl - 1]))
				nl--;
			m->f[m->n++] = (struct dkim_field){p, (size_t)(q - p), nl};
		}
		p = q;
	}
	m->body_len = (size_t)(e - m->body);
}

void dkim_msg_free(struct dkim_msg *m)
{
	free(m->f);
	m->f = NULL;
	m->n = 0;
}

static bool name_is(const struct dkim_field *f, const char *name)
{
	size_t n = strlen(name);
	if (f->name_len != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (tolower((unsigned char)f->p[i]) != name[i])
			return false;
	return true;
}

void dkim_hash_headers(struct buf *out, const struct dkim_msg *m, enum dkim_canon c, char *const *h,
		       size_t nh, const struct dkim_field *skip)
{
	bool *used = xcalloc(m->n ? m->n : 1, sizeof(bool));
	for (size_t i = 0; i < nh; i++) {
		for (size_t j = m->n; j-- > 0;) {
			const struct dkim_field *f = &m->f[j];
			if (used[j] || f == skip || !name_is(f, h[i]))
				continue;
			used[j] = true;
			dkim_canon_header(out, c, f->p, f->len);
			/* a last field without CRLF is hashed as if it had one */
			if (c == DKIM_CANON_SIMPLE && (f->len < 2 || f->p[f->len - 1] != '\n'))
				buf_append(out, "\r\n", 2);
			break;
		}
	}
	free(used);
}
