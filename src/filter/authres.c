/* SPDX-License-Identifier: MIT */
/*
 * authres.c - Authentication-Results: formatting and the finder of forged
 * ones (authres.h).
 */
#include "filter/authres.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

#define LINE_MAX_COLS 78

struct result {
	char *method, *result, *reason;
	char *pname[AUTHRES_MAX_PROPS], *pvalue[AUTHRES_MAX_PROPS];
	size_t np;
};

struct authres {
	char *id;
	struct result r[AUTHRES_MAX_RESULTS];
	size_t n;
};

/* a copy with controls (CR, LF, TAB...) as spaces */
static char *clean(const char *s)
{
	char *c = xstrdup(s != NULL ? s : "");
	for (char *p = c; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

struct authres *authres_new(const char *authserv_id)
{
	struct authres *ar = xcalloc(1, sizeof(*ar));
	ar->id = clean(authserv_id);
	return ar;
}

int authres_add(struct authres *ar, const char *method, const char *result, const char *reason)
{
	if (ar->n == AUTHRES_MAX_RESULTS)
		return -1;
	struct result *r = &ar->r[ar->n++];
	r->method = clean(method);
	r->result = clean(result);
	r->reason = reason != NULL ? clean(reason) : NULL;
	return 0;
}

int authres_prop(struct authres *ar, const char *name, const char *value)
{
	if (ar->n == 0)
		return -1;
	struct result *r = &ar->r[ar->n - 1];
	if (r->np == AUTHRES_MAX_PROPS)
		return -1;
	r->pname[r->np] = clean(name);
	r->pvalue[r->np++] = clean(value);
	return 0;
}

void authres_free(struct authres **arp)
{
	if (arp == NULL || *arp == NULL)
		return;
	struct authres *ar = *arp;
	for (size_t i = 0; i < ar->n; i++) {
		free(ar->r[i].method);
		free(ar->r[i].result);
		free(ar->r[i].reason);
		for (size_t j = 0; j < ar->r[i].np; j++) {
			free(ar->r[i].pname[j]);
			free(ar->r[i].pvalue[j]);
		}
	}
	free(ar->id);
	free(ar);
	*arp = NULL;
}

/* RFC 2045 token */
static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", *s) != NULL)
			return false;
	return true;
}

/* RFC 5322 atext */
static bool atext(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* dot-atom "@" dot-atom, or "@" dot-atom (RFC 8601 pvalue) */
static bool is_addr(const char *s)
{
	const char *at = strrchr(s, '@');
	if (at == NULL)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (p == at)
			continue;
		bool dot_ok = *p == '.' && p != s && p != at + 1 && p[1] != '\0' && p[1] != '@' &&
			      p[-1] != '.' && p[-1] != '@';
		if (!atext((unsigned char)*p) && !dot_ok)
			return false;
	}
	return at[1] != '\0';
}

struct buf {
	char *s;
	size_t len, cap, col;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	const char *nl = NULL;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n')
			nl = s + i;
	/* columns are characters, as in RFC 5322's 78 (a TAB is one) */
	b->col = nl != NULL ? (size_t)(s + n - nl - 1) : b->col + n;
}

/* quoted-string of s */
static char *quoted(const char *s)
{
	size_t n = strlen(s);
	char *q = xmalloc(2 * n + 3), *o = q;
	*o++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '"';
	*o = '\0';
	return q;
}

/* one part, folded before it when the line would pass the limit */
static void part(struct buf *b, const char *s, bool first_on_line)
{
	size_t n = strlen(s);
	if (!first_on_line) {
		if (b->col + 1 + n > LINE_MAX_COLS)
			put(b, "\r\n\t", 3);
		else
			put(b, " ", 1);
	}
	put(b, s, n);
}

char *authres_format(const struct authres *ar)
{
	struct buf b = {0};

	put(&b, "Authentication-Results: ", 24);
	put(&b, ar->id, strlen(ar->id));
	put(&b, ";", 1);
	if (ar->n == 0)
		put(&b, " none", 5);
	for (size_t i = 0; i < ar->n; i++) {
		const struct result *r = &ar->r[i];
		bool last = i + 1 == ar->n;
		/* the parts, the last one carrying the ';' */
		char *parts[2 + AUTHRES_MAX_PROPS];
		size_t np = 0;
		parts[np++] = xasprintf("%s=%s", r->method, r->result);
		if (r->reason != NULL) {
			char *q = quoted(r->reason);
			parts[np++] = xasprintf("reason=%s", q);
			free(q);
		}
		for (size_t j = 0; j < r->np; j++) {
			const char *v = r->pvalue[j];
			char *q = is_token(v) || is_addr(v) ? xstrdup(v) : quoted(v);
			parts[np++] = xasprintf("%s=%s", r->pname[j], q);
			free(q);
		}
		put(&b, "\r\n\t", 3);
		for (size_t j = 0; j < np; j++) {
			if (j + 1 == np && !last) {
				char *semi = xasprintf("%s;", parts[j]);
				free(parts[j]);
				parts[j] = semi;
			}
			part(&b, parts[j], j == 0);
			free(parts[j]);
		}
	}
	put(&b, "\r\n", 2);
	return b.s;
}

/* ---- reading ---- */

/* skips CFWS: whitespace, folding, (nested (comments)) with quoted-pairs */
static size_t skip_cfws(const char *p, size_t len, size_t i)
{
	int depth = 0;

	while (i < len) {
		char c = p[i];
		if (depth > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
			i++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			i++;
		else if (c == '(')
			depth = 1, i++;
		else
			break;
	}
	return i;
}

bool authres_is_ours(const char *v, size_t len, const char *hostname)
{
	char id[256];
	size_t n = 0, i = skip_cfws(v, len, 0);

	if (i < len && v[i] == '"') {
		for (i++; i < len && v[i] != '"'; i++) {
			if (v[i] == '\\' && i + 1 < len)
				i++;
			if (n + 1 >= sizeof(id))
				return false;
			id[n++] = v[i];
		}
		if (i >= len)
			return false;
		i++;
	} else {
		for (; i < len; i++) {
			unsigned char c = (unsigned char)v[i];
			if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?=", c) != NULL)
				break;
			if (n + 1 >= sizeof(id))
				return false;
			id[n++] = (char)c;
		}
	}
	id[n] = '\0';
	if (n == 0)
		return false;
	/* what follows the id: CFWS, then a version, ';' or the end */
	i = skip_cfws(v, len, i);
	if (i < len && v[i] != ';' && !isdigit((unsigned char)v[i]))
		return false;
	return strcasecmp(id, hostname) == 0;
}

size_t authres_find_forged(const char *msg, size_t len, const char *hostname,
			   struct authres_span *out, size_t max)
{
	static const char name[] = "Authentication-Results";
	size_t found = 0, i = 0;

	while (i < len) {
		/* the empty line ends the header */
		if (msg[i] == '\n' || (msg[i] == '\r' && i + 1 < len && msg[i + 1] == '\n'))
			break;
		size_t start = i, end = i;
		/* a field: a line and its continuation lines */
		for (;;) {
			const char *nl = memchr(msg + end, '\n', len - end);
			end = nl != NULL ? (size_t)(nl - msg) + 1 : len;
			if (end >= len || (msg[end] != ' ' && msg[end] != '\t'))
				break;
		}
		size_t nlen = sizeof(name) - 1, c = start + nlen;
		if (end - start > nlen && strncasecmp(msg + start, name, nlen) == 0) {
			while (c < end && (msg[c] == ' ' || msg[c] == '\t'))
				c++;
			if (c < end && msg[c] == ':' &&
			    authres_is_ours(msg + c + 1, end - c - 1, hostname)) {
				if (found < max)
					out[found] = (struct authres_span){start, end - start};
				found++;
			}
		}
		i = end;
	}
	return found;
}
