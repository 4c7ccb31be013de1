/* SPDX-License-Identifier: MIT */
/*
 * mime_lex.c - the lexer of structured header field values and the
 * Content-Type reader (mime_private.h).
 *
 * The rules are RFC 5322 §3.2 and RFC 2045 §5.1 read leniently, the way
 * Dovecot's lib-mail reads them, since IMAP's BODYSTRUCTURE and ENVELOPE
 * are compared with Dovecot's byte for byte: 8-bit octets are atext and
 * token characters, a quoted-pair before a line end is kept as it is,
 * folding line ends inside quoted strings and comments disappear, and a
 * parameter value that starts with '=' (a bare encoded-word) runs to the
 * next white space or ';'. A NUL octet is neither atext nor a token
 * character, so it ends words; inside quoted strings, comments and domain
 * literals it is kept as U+FFFD.
 */
#include "mime/mime_private.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mime_lex_init(struct mime_lex *lx, const char *p, size_t n, struct buf *comment)
{
	/* an empty value may come as NULL: no arithmetic on a null pointer */
	lx->p = (const unsigned char *)(p != NULL ? p : "");
	lx->end = lx->p + (p != NULL ? n : 0);
	lx->comment = comment;
}

bool mime_lex_is_atext(unsigned char c)
{
	if (c >= 0x80)
		return true;
	return c > 32 && c < 127 && strchr("\"(),.:;<>@[\\]", c) == NULL;
}

/* RFC 2045 token characters: atext without '/', '=' and '?', plus '.' */
static bool is_token(unsigned char c)
{
	return c == '.' || (mime_lex_is_atext(c) && c != '/' && c != '=' && c != '?');
}

static bool at_end(const struct mime_lex *lx)
{
	return lx->p >= lx->end;
}

#define NUL_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* A NUL at lx->p inside quoted text: [start, p) and U+FFFD to out. */
static void nul(struct mime_lex *lx, const unsigned char **start, struct buf *out)
{
	if (out != NULL) {
		buf_append(out, *start, (size_t)(lx->p - *start));
		buf_append_str(out, NUL_REPLACEMENT);
	}
	*start = lx->p + 1;
}

/* at '(': nested comments, quoted-pairs; the text of the outermost one
   (folding line ends removed) into lx->comment */
static int skip_comment(struct mime_lex *lx)
{
	const unsigned char *start;
	int level = 1;

	if (lx->comment != NULL)
		buf_clear(lx->comment);
	start = ++lx->p;
	for (; lx->p < lx->end; lx->p++) {
		switch (*lx->p) {
		case '\0':
			nul(lx, &start, lx->comment);
			break;
		case '(':
			level++;
			break;
		case ')':
			if (--level == 0) {
				if (lx->comment != NULL)
					buf_append(lx->comment, start, (size_t)(lx->p - start));
				lx->p++;
				return lx->p < lx->end ? 1 : 0;
			}
			break;
		case '\n':
			if (lx->comment != NULL) {
				size_t len = (size_t)(lx->p - start);
				if (len > 0 && start[len - 1] == '\r')
					len--;
				buf_append(lx->comment, start, len);
			}
			start = lx->p + 1;
			break;
		case '\\':
			lx->p++;
			if (lx->p >= lx->end)
				return -1;
			if (*lx->p == '\r' || *lx->p == '\n' || *lx->p == '\0') {
				/* not a quoted-pair (obs-qp): the backslash stays */
				lx->p--;
				break;
			}
			if (lx->comment != NULL)
				buf_append(lx->comment, start, (size_t)(lx->p - start - 1));
			start = lx->p;
			break;
		}
	}
	return -1; /* no ')' */
}

int mime_lex_skip_lwsp(struct mime_lex *lx)
{
	while (lx->p < lx->end) {
		unsigned char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->p++;
			continue;
		}
		if (c != '(')
			break;
		if (skip_comment(lx) < 0)
			return -1;
	}
	return lx->p < lx->end ? 1 : 0;
}

int mime_lex_atom(struct mime_lex *lx, struct buf *out)
{
	if (at_end(lx) || !mime_lex_is_atext(*lx->p))
		return -1;
	const unsigned char *start = lx->p++;
	while (lx->p < lx->end && mime_lex_is_atext(*lx->p))
		lx->p++;
	buf_append(out, start, (size_t)(lx->p - start));
	return at_end(lx) ? 0 : mime_lex_skip_lwsp(lx);
}

/* RFC 5322 dot-atom, with white space allowed around the dots (RFC 822) */
int mime_lex_dot_atom(struct mime_lex *lx, struct buf *out)
{
	int ret;

	if (at_end(lx) || !mime_lex_is_atext(*lx->p))
		return -1;
	const unsigned char *start = lx->p++;
	while (lx->p < lx->end) {
		if (mime_lex_is_atext(*lx->p)) {
			lx->p++;
			continue;
		}
		if (start == lx->p)
			return -1;
		buf_append(out, start, (size_t)(lx->p - start));
		if ((ret = mime_lex_skip_lwsp(lx)) <= 0)
			return ret;
		if (*lx->p != '.')
			return 1;
		lx->p++;
		buf_append_c(out, '.');
		if (mime_lex_skip_lwsp(lx) <= 0)
			return -1;
		start = lx->p;
	}
	buf_append(out, start, (size_t)(lx->p - start));
	return 0;
}

int mime_lex_token(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *start = lx->p;
	while (lx->p < lx->end && is_token(*lx->p))
		lx->p++;
	buf_append(out, start, (size_t)(lx->p - start));
	return at_end(lx) ? 0 : mime_lex_skip_lwsp(lx);
}

int mime_lex_quoted(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *start;

	start = ++lx->p; /* the opening '"' */
	for (; lx->p < lx->end; lx->p++) {
		switch (*lx->p) {
		case '\0':
			nul(lx, &start, out);
			break;
		case '"':
			buf_append(out, start, (size_t)(lx->p - start));
			lx->p++;
			return mime_lex_skip_lwsp(lx);
		case '\n': { /* folding white space: the (CR)LF goes */
			size_t len = (size_t)(lx->p - start);
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_append(out, start, len);
			start = lx->p + 1;
			break;
		}
		case '\\':
			lx->p++;
			if (lx->p >= lx->end)
				return -1;
			if (*lx->p == '\r' || *lx->p == '\n' || *lx->p == '\0') {
				lx->p--; /* obs-qp: kept as it is */
				break;
			}
			buf_append(out, start, (size_t)(lx->p - start - 1));
			start = lx->p;
			break;
		}
	}
	return -1; /* no closing '"' */
}

/* an atom or dots (obs-phrase), possibly empty */
static int atom_or_dot(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *start = lx->p;
	while (lx->p < lx->end && (mime_lex_is_atext(*lx->p) || *lx->p == '.'))
		lx->p++;
	buf_append(out, start, (size_t)(lx->p - start));
	return at_end(lx) ? 0 : mime_lex_skip_lwsp(lx);
}

int mime_lex_phrase(struct mime_lex *lx, struct buf *out)
{
	int ret;

	if (at_end(lx))
		return 0;
	if (*lx->p == '.')
		return -1;
	for (;;) {
		ret = mime_lex_cur(lx) == '"' ? mime_lex_quoted(lx, out) : atom_or_dot(lx, out);
		if (ret <= 0)
			return ret;
		unsigned char c = mime_lex_cur(lx);
		if (!mime_lex_is_atext(c) && c != '"' && c != '.')
			break;
		buf_append_c(out, ' ');
	}
	return mime_lex_skip_lwsp(lx);
}

/* at '[': kept with its brackets and backslashes */
static int domain_literal(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *start;

	for (start = lx->p++; lx->p < lx->end; lx->p++) {
		switch (*lx->p) {
		case '\0':
			nul(lx, &start, out);
			break;
		case '[':
			return -1;
		case ']':
			buf_append(out, start, (size_t)(lx->p - start + 1));
			lx->p++;
			return mime_lex_skip_lwsp(lx);
		case '\n': {
			size_t len = (size_t)(lx->p - start);
			if (len > 0 && start[len - 1] == '\r')
				len--;
			buf_append(out, start, len);
			start = lx->p + 1;
			break;
		}
		case '\\':
			lx->p++;
			if (lx->p >= lx->end)
				return -1;
			if (*lx->p == '\r' || *lx->p == '\n' || *lx->p == '\0') {
				buf_append(out, start, (size_t)(lx->p - start));
				start = lx->p;
				lx->p--;
			}
			break;
		}
	}
	return -1;
}

int mime_lex_domain(struct mime_lex *lx, struct buf *out)
{
	lx->p++; /* '@' */
	if (mime_lex_skip_lwsp(lx) <= 0)
		return -1;
	if (*lx->p == '[')
		return domain_literal(lx, out);
	return mime_lex_dot_atom(lx, out);
}

/* --- Content-Type and parameters ------------------------------------------ */

int mime_lex_content_type(struct mime_lex *lx, struct buf *ct)
{
	buf_clear(ct);
	if (mime_lex_skip_lwsp(lx) <= 0)
		return -1;
	/* the type: at least one octet, and a '/' after it */
	if (mime_lex_token(lx, ct) <= 0 || ct->len == 0)
		return -1; /* "text" alone stays "text" */
	if (*lx->p != '/') {
		buf_clear(ct);
		return -1;
	}
	lx->p++;
	if (mime_lex_skip_lwsp(lx) <= 0) {
		buf_clear(ct);
		return -1;
	}
	buf_append_c(ct, '/');
	size_t sub = ct->len;
	int ret = mime_lex_token(lx, ct);
	if (ret < 0 || ct->len == sub || (!at_end(lx) && *lx->p != ';')) {
		buf_clear(ct);
		return -1;
	}
	return ret;
}

/* One "; name=value": 1 with it in key/value, 0 at the end, -1 broken. */
static int param(struct mime_lex *lx, struct buf *key, struct buf *value)
{
	int ret;

	buf_clear(key);
	buf_clear(value);
	if (at_end(lx))
		return 0;
	if (*lx->p != ';')
		return -1;
	lx->p++;
	if (mime_lex_skip_lwsp(lx) <= 0)
		return -1;
	if (mime_lex_token(lx, key) <= 0)
		return -1;
	if (*lx->p != '=')
		return -1;
	lx->p++;
	if ((ret = mime_lex_skip_lwsp(lx)) <= 0) {
		/* no value */
	} else if (*lx->p == '"') {
		ret = mime_lex_quoted(lx, value);
	} else if (*lx->p == '=') {
		/* name==?utf-8?b?...?= : up to white space or ';' */
		while (lx->p < lx->end && *lx->p != ';' && *lx->p != ' ' && *lx->p != '\t' &&
		       *lx->p != '\r' && *lx->p != '\n')
			buf_append_c(value, (char)*lx->p++);
	} else {
		ret = mime_lex_token(lx, value);
	}
	return ret < 0 ? -1 : 1;
}

void mime_kvs_add(struct mime_kvs *kv, const char *name, size_t nlen, const char *value,
		  size_t vlen)
{
	if (kv->n == kv->cap) {
		kv->cap = kv->cap ? kv->cap * 2 : 8;
		kv->v = xrealloc(kv->v, kv->cap * sizeof(*kv->v));
	}
	kv->v[kv->n].name = kv->pool.len;
	buf_append(&kv->pool, name, nlen);
	buf_append_c(&kv->pool, '\0');
	kv->v[kv->n].value = kv->pool.len;
	buf_append(&kv->pool, value, vlen);
	buf_append_c(&kv->pool, '\0');
	kv->n++;
}

void mime_kvs_clear(struct mime_kvs *kv)
{
	buf_clear(&kv->pool);
	kv->n = 0;
}

void mime_kvs_free(struct mime_kvs *kv)
{
	buf_free(&kv->pool);
	free(kv->v);
	*kv = (struct mime_kvs){0};
}

/* An RFC 2231 piece: name*N or name*N* (or name*, whose index is the one
   the previous piece had, as in Dovecot). */
struct piece {
	size_t kv;	  /* index into the pieces list (name = base name) */
	size_t order;	  /* position in the header, for a stable sort */
	const char *name; /* set just before sorting */
	unsigned idx;
	bool extended;
};

static int piece_cmp(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;
	int r = strcmp(x->name, y->name);
	if (r != 0)
		return r;
	if (x->idx != y->idx)
		return x->idx < y->idx ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void escape_percent(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '%')
			buf_append_str(out, "%25");
		else
			buf_append_c(out, *s);
	}
}

static void merge_pieces(struct mime_kvs *kv, struct mime_kvs *pk, struct piece *pc, size_t n)
{
	struct buf v = {0}, k = {0};

	for (size_t i = 0; i < n; i++) /* the pool no longer moves */
		pc[i].name = mime_kvs_name(pk, pc[i].kv);
	qsort(pc, n, sizeof(*pc), piece_cmp);
	for (size_t i = 0, next; i < n; i = next) {
		bool ok = true, have_ext = false;
		unsigned want = 0;
		size_t j;
		for (j = i; j < n; j++) {
			if (strcasecmp(mime_kvs_name(pk, pc[i].kv), mime_kvs_name(pk, pc[j].kv)) !=
			    0)
				break;
			ok = ok && pc[j].idx == want;
			have_ext = have_ext || pc[j].extended;
			want++;
		}
		next = j;
		if (!ok) { /* a piece is missing: every piece as it was */
			for (j = i; j < next; j++) {
				buf_clear(&k);
				buf_printf(&k, pc[j].extended ? "%s*%u*" : "%s*%u",
					   mime_kvs_name(pk, pc[j].kv), pc[j].idx);
				const char *val = mime_kvs_value(pk, pc[j].kv);
				mime_kvs_add(kv, k.data, k.len, val, strlen(val));
			}
			continue;
		}
		buf_clear(&v);
		if (!pc[i].extended && have_ext)
			buf_append_str(&v, "''");
		for (j = i; j < next; j++) {
			if (!pc[j].extended && have_ext)
				escape_percent(&v, mime_kvs_value(pk, pc[j].kv));
			else
				buf_append_str(&v, mime_kvs_value(pk, pc[j].kv));
		}
		buf_clear(&k);
		buf_append_str(&k, mime_kvs_name(pk, pc[i].kv));
		if (have_ext)
			buf_append_c(&k, '*');
		mime_kvs_add(kv, k.data, k.len, v.data != NULL ? v.data : "", v.len);
	}
	buf_free(&v);
	buf_free(&k);
}

void mime_lex_params(struct mime_lex *lx, struct mime_kvs *kv)
{
	struct buf key = {0}, value = {0};
	struct mime_kvs pieces = {0};
	struct piece *pc = NULL;
	size_t npc = 0, cap = 0;
	unsigned idx = 0;
	int ret;

	mime_kvs_clear(kv);
	while ((ret = param(lx, &key, &value)) != 0) {
		if (ret < 0) { /* skip on, one octet at a time, to the next ';' */
			if (at_end(lx))
				break;
			lx->p++;
			continue;
		}
		const char *name = key.data != NULL ? key.data : "";
		const char *val = value.data != NULL ? value.data : "";
		const char *star = memchr(name, '*', key.len);
		bool extended = false;
		const char *q = NULL;
		if (star != NULL) {
			q = star;
			if (q[1] != '\0') {
				q++;
				idx = 0;
				for (; *q >= '0' && *q <= '9'; q++)
					idx = idx * 10 + (unsigned)(*q - '0');
			}
			if (*q == '*') {
				extended = true;
				q++;
			}
			if (*q != '\0')
				q = NULL;
		}
		if (q == NULL) {
			mime_kvs_add(kv, name, key.len, val, value.len);
			continue;
		}
		if (npc == cap) {
			cap = cap ? cap * 2 : 8;
			pc = xrealloc(pc, cap * sizeof(*pc));
		}
		mime_kvs_add(&pieces, name, (size_t)(star - name), val, value.len);
		pc[npc] = (struct piece){pieces.n - 1, npc, NULL, idx, extended};
		npc++;
	}
	if (npc > 0)
		merge_pieces(kv, &pieces, pc, npc);
	free(pc);
	mime_kvs_free(&pieces);
	buf_free(&key);
	buf_free(&value);
}
