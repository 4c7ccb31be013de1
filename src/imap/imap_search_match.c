/* SPDX-License-Identifier: MIT */
/*
 * imap_search_match.c - a compiled SEARCH program evaluated against one
 * message (see imap_search.h for the semantics, S3-S6).
 *
 * Keys that read the text work on views of the message that a match
 * builds at most once each, when the first key needs them, and frees
 * before it returns:
 *  - the header view: every field as "name: value\n", the value unfolded
 *    and its RFC 2047 encoded words decoded, ASCII folded to lower case,
 *    with an index of where each field's name and value are; and the day
 *    of the first Date: field (RFC 5322 §3.3, obsolete forms included).
 *  - the body view: the text of the body, the message's MIME tree
 *    (mime/mime_tree.h: the store's cached one the caller gives, or one
 *    parsed here) walked to IMAP_SEARCH_MIME_DEPTH, each leaf's byte range
 *    taken from it, text leaves decoded (quoted-printable, base64;
 *    ISO-8859-1 to UTF-8), ASCII folded.
 * Needles were folded when compiling, so every string key is one memmem()
 * (linear, glibc's two-way) over a view.
 */
#include "imap/imap_search_private.h"
#include "mime/mime.h"
#include "mime/mime_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
	size_t name_off, name_len, val_off, val_len; /* in view.hdr */
};

struct view {
	const char *msg;
	size_t len;
	bool have_hdr, have_body, date_ok;
	int64_t sent_day;
	struct buf hdr;
	struct field *fields;
	size_t n_fields, cap_fields;
	struct buf body;
	struct buf tmp;		      /* a field's value */
	struct buf dec;		      /* a leaf's decoded octets */
	const struct mime_tree *tree; /* the caller's, or NULL */
	struct mime_tree *own;	      /* parsed here when the caller had none */
};

static void fold(char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
}

static bool eq_ci(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* Appends p[0..n), ISO-8859-1 converted to UTF-8 when latin1. */
static void append_charset(struct buf *out, const char *p, size_t n, bool latin1)
{
	if (!latin1) {
		buf_append(out, p, n);
		return;
	}
	buf_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x80) {
			buf_append_c(out, (char)c);
		} else {
			buf_append_c(out, (char)(0xc0 | c >> 6));
			buf_append_c(out, (char)(0x80 | (c & 0x3f)));
		}
	}
}

static bool is_latin1(const char *cs, size_t n)
{
	static const char *const names[] = {"iso-8859-1", "iso_8859-1", "iso8859-1",  "latin1",
					    "latin-1",	  "l1",		"iso-ir-100", "cp819"};
	for (size_t i = 0; i < N_ELEMENTS(names); i++)
		if (eq_ci(cs, n, names[i]))
			return true;
	return false;
}

/* --- decoders ----------------------------------------------------------- */

/* --- RFC 2047 encoded words in header values ---------------------------- */

#define WORD_MAX 200 /* RFC 2047 §2 says 75; some mailers write longer */

struct word {
	const char *cs, *text;
	size_t cs_len, text_len, end;
	char enc;
};

/* "=?" charset ["*" lang] "?" ("B" / "Q") "?" text "?=" at p[i]. */
static bool parse_word(const char *p, size_t n, size_t i, struct word *w)
{
	size_t lim = n - i > WORD_MAX ? i + WORD_MAX : n, j = i + 2;

	w->cs = p + j;
	while (j < lim && p[j] != '?' && p[j] != ' ' && p[j] != '\t')
		j++;
	if (j + 3 >= lim || p[j] != '?' || j == i + 2)
		return false;
	w->cs_len = (size_t)(p + j - w->cs);
	const char *star = memchr(w->cs, '*', w->cs_len);
	if (star != NULL)
		w->cs_len = (size_t)(star - w->cs);
	w->enc = p[j + 1];
	if ((w->enc != 'B' && w->enc != 'b' && w->enc != 'Q' && w->enc != 'q') || p[j + 2] != '?')
		return false;
	j += 3;
	w->text = p + j;
	while (j + 1 < lim && !(p[j] == '?' && p[j + 1] == '=')) {
		if (p[j] == ' ' || p[j] == '\t')
			return false;
		j++;
	}
	if (j + 1 >= lim)
		return false;
	w->text_len = (size_t)(p + j - w->text);
	w->end = j + 2;
	return true;
}

/* Appends the value p[0..n) with its encoded words decoded; white space
   between two encoded words goes (RFC 2047 §6.2). */
static void decode_value(const char *p, size_t n, struct buf *out, struct buf *scratch)
{
	size_t prev_end = SIZE_MAX, out_at_prev = 0;

	for (size_t i = 0; i < n;) {
		struct word w;
		if (p[i] == '=' && i + 1 < n && p[i + 1] == '?' && parse_word(p, n, i, &w)) {
			bool ws = prev_end != SIZE_MAX;
			for (size_t k = prev_end; ws && k < i; k++)
				ws = p[k] == ' ' || p[k] == '\t';
			if (ws) {
				out->len = out_at_prev;
				out->data[out->len] = '\0';
			}
			buf_clear(scratch);
			if (w.enc == 'B' || w.enc == 'b')
				mime_b64_decode(w.text, w.text_len, scratch);
			else
				mime_qp_decode(w.text, w.text_len, true, scratch);
			append_charset(out, scratch->data, scratch->len, is_latin1(w.cs, w.cs_len));
			prev_end = i = w.end;
			out_at_prev = out->len;
			continue;
		}
		buf_append_c(out, p[i++]);
	}
}

/* --- the Date: field (RFC 5322 §3.3, §4.3) ------------------------------ */

struct cur {
	const char *p;
	size_t n, i;
	bool open; /* a comment ran to the end unclosed */
};

/* CFWS: white space and comments, nested, with quoted pairs. */
static void skip_cfws(struct cur *c)
{
	unsigned depth = 0;

	while (c->i < c->n) {
		char ch = c->p[c->i];
		if (depth > 0 && ch == '\\' && c->i + 1 < c->n) {
			c->i += 2;
			continue;
		}
		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t' && ch != '\r' && ch != '\n')
			return;
		c->i++;
	}
	c->open |= depth > 0;
}

/* 1..max digits; returns how many (0: none), the value in *v_r. */
static size_t digits(struct cur *c, size_t max, unsigned *v_r)
{
	size_t k = 0;
	unsigned v = 0;

	while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
		if (++k > max)
			return 0;
		v = v * 10 + (unsigned)(c->p[c->i++] - '0');
	}
	*v_r = v;
	return k;
}

static size_t letters(struct cur *c)
{
	size_t k = c->i;
	while (c->i < c->n && ((c->p[c->i] >= 'A' && c->p[c->i] <= 'Z') ||
			       (c->p[c->i] >= 'a' && c->p[c->i] <= 'z')))
		c->i++;
	return c->i - k;
}

static int name_index(const char *p, size_t n, const char *const *names, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (eq_ci(p, n, names[i]))
			return (int)i;
	return -1;
}

/* The zone: "+hhmm" / "-hhmm", or an obsolete name (RFC 5322 §4.3). */
static bool zone(struct cur *c)
{
	static const char *const named[] = {"UT",  "GMT", "EST", "EDT", "CST",
					    "CDT", "MST", "MDT", "PST", "PDT"};
	char ch = c->p[c->i];
	unsigned z;

	if (ch == '+' || ch == '-') {
		c->i++;
		return digits(c, 4, &z) == 4 && z % 100 < 60;
	}
	size_t at = c->i, k = letters(c);
	if (k == 1) /* military zones, "J" excepted */
		return c->p[at] != 'J' && c->p[at] != 'j';
	return name_index(c->p + at, k, named, N_ELEMENTS(named)) >= 0;
}

/* [day-name ","] day month year hh ":" mm [":" ss] [zone], CFWS between
   the parts; the date's day, in the zone it was written in. */
static bool parse_date_field(const char *p, size_t n, int64_t *day_r)
{
	static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct cur c = {p, n, 0, false};
	unsigned day, year, h, m, s;
	size_t k, at;

	if (n == 0)
		return false;
	skip_cfws(&c);
	at = c.i;
	if ((k = letters(&c)) > 0) {
		if (name_index(p + at, k, days, 7) < 0)
			return false;
		skip_cfws(&c);
		if (c.i >= n || p[c.i++] != ',')
			return false;
		skip_cfws(&c);
	}
	if (digits(&c, 2, &day) == 0)
		return false;
	skip_cfws(&c);
	at = c.i;
	int mon = name_index(p + at, letters(&c), months, 12);
	if (mon < 0)
		return false;
	skip_cfws(&c);
	if ((k = digits(&c, 4, &year)) < 2)
		return false;
	if (k == 2) /* RFC 5322 §4.3 */
		year += year < 50 ? 2000 : 1900;
	else if (k == 3)
		year += 1900;
	skip_cfws(&c);
	if (digits(&c, 2, &h) == 0 || h > 23)
		return false;
	skip_cfws(&c);
	if (c.i >= n || p[c.i++] != ':')
		return false;
	skip_cfws(&c);
	if (digits(&c, 2, &m) != 2 || m > 59)
		return false;
	skip_cfws(&c);
	if (c.i < n && p[c.i] == ':') {
		c.i++;
		skip_cfws(&c);
		if (digits(&c, 2, &s) != 2 || s > 60)
			return false;
		skip_cfws(&c);
	}
	if (c.i < n && !zone(&c))
		return false;
	skip_cfws(&c);
	if (c.i != n || c.open || year > 9999)
		return false;
	/* imap_parse_date() knows the month lengths and the calendar */
	char text[16];
	time_t t;
	int len = snprintf(text, sizeof(text), "%u-%s-%04u", day, months[mon], year);
	if (imap_parse_date((struct slice){text, (size_t)len}, &t) < 0)
		return false;
	*day_r = (int64_t)t / 86400;
	return true;
}

/* --- the header view ---------------------------------------------------- */

/* A field's value as mime_hdr_value() gives it, unfolded (the LF before
   each continuation line dropped) and without white space at either end. */
static void unfold_trim(struct buf *b)
{
	size_t w = 0, skip = 0;

	if (b->data == NULL)
		return;
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] != '\n')
			b->data[w++] = b->data[i];
	while (w > 0 && (b->data[w - 1] == ' ' || b->data[w - 1] == '\t'))
		w--;
	while (skip < w && (b->data[skip] == ' ' || b->data[skip] == '\t'))
		skip++;
	memmove(b->data, b->data + skip, w - skip);
	b->len = w - skip;
	b->data[b->len] = '\0';
}

/* The header as the MIME tree reads it (mime_hdr_next(), Dovecot's way):
   every line up to the first empty one is a field, or continues the one
   before; a line without a colon is a field without a name, whose text
   only TEXT sees. */
static void build_header(struct view *v)
{
	struct mime_hdr_walk w;
	struct mime_hdr_field hf;
	bool seen_date = false;

	v->have_hdr = true;
	mime_hdr_begin(&w, v->msg, 0, v->len);
	while (mime_hdr_next(&w, &hf) == MIME_HDR_FIELD) {
		struct slice name = hf.name;
		mime_hdr_value(v->msg, &hf, &v->tmp);
		unfold_trim(&v->tmp);
		if (v->n_fields == v->cap_fields) {
			v->cap_fields = v->cap_fields ? 2 * v->cap_fields : 32;
			v->fields = xrealloc(v->fields, v->cap_fields * sizeof(*v->fields));
		}
		struct field *f = &v->fields[v->n_fields++];
		size_t start = v->hdr.len;
		f->name_off = v->hdr.len;
		f->name_len = name.len;
		if (name.len > 0) {
			buf_append(&v->hdr, name.p, name.len);
			buf_append_str(&v->hdr, ": ");
		}
		f->val_off = v->hdr.len;
		decode_value(v->tmp.data, v->tmp.len, &v->hdr, &v->dec);
		f->val_len = v->hdr.len - f->val_off;
		buf_append_c(&v->hdr, '\n');
		fold(v->hdr.data + start, v->hdr.len - start);
		if (!seen_date && eq_ci(name.p, name.len, "date")) {
			seen_date = true;
			v->date_ok = parse_date_field(v->tmp.data, v->tmp.len, &v->sent_day);
		}
	}
}

/* --- the body view ------------------------------------------------------ */

enum cte { CTE_IDENTITY, CTE_QP, CTE_BASE64 };

static enum cte cte_of(const char *p, size_t n)
{
	if (n == 16 && strncasecmp(p, "quoted-printable", n) == 0)
		return CTE_QP;
	if (n == 6 && strncasecmp(p, "base64", n) == 0)
		return CTE_BASE64;
	return CTE_IDENTITY;
}

/* The transfer encoding; one we cannot undo (x-uuencode, say) counts as
   identity: its text is searched as it is. The tree forgets the Content-*
   fields of a part that is not MIME (no MIME-Version, no Content-Type),
   but a reader still undoes a Content-Transfer-Encoding there (Dovecot
   does), so that part's header is read for it. */
static enum cte part_cte(struct view *v, const struct mime_part *p)
{
	if (p->encoding != NULL)
		return cte_of(p->encoding, strlen(p->encoding));
	if (p->flags & MIME_PART_IS_MIME)
		return CTE_IDENTITY;
	struct mime_hdr_walk w;
	struct mime_hdr_field f;
	mime_hdr_begin(&w, v->msg, p->hdr_off, p->hdr_off + p->hdr_len);
	while (mime_hdr_next(&w, &f) == MIME_HDR_FIELD) {
		if (!slice_eq_ci(f.name, "Content-Transfer-Encoding"))
			continue;
		mime_hdr_value(v->msg, &f, &v->tmp);
		unfold_trim(&v->tmp);
		size_t n = 0;
		while (n < v->tmp.len && v->tmp.data[n] != ' ' && v->tmp.data[n] != '\t' &&
		       v->tmp.data[n] != ';' && v->tmp.data[n] != '(')
			n++;
		return cte_of(v->tmp.data, n);
	}
	return CTE_IDENTITY;
}

/* charset=, or charset*= (RFC 2231, as the tree keeps it), is latin1. */
static bool part_latin1(const struct mime_part *p, struct buf *scratch)
{
	for (size_t i = 0; i < p->n_params; i++) {
		const struct mime_param *pm = &p->params[i];
		if (strcasecmp(pm->name, "charset") == 0)
			return is_latin1(pm->value, strlen(pm->value));
		struct slice cs;
		if (strcasecmp(pm->name, "charset*") == 0 &&
		    mime_param_decode(pm->value, scratch, &cs))
			return is_latin1(scratch->data, scratch->len);
	}
	return false;
}

/* Appends text to the body view, folded, after a line break that keeps
   a needle from spanning two parts. */
static void body_append(struct view *v, const char *p, size_t n, bool latin1)
{
	if (n == 0)
		return;
	if (v->body.len > 0)
		buf_append_c(&v->body, '\n');
	size_t at = v->body.len;
	append_charset(&v->body, p, n, latin1);
	fold(v->body.data + at, v->body.len - at);
}

/* The body of part p into the body view (imap_search.h, BODY): the tree
   has already split multiparts at their delimiters (RFC 2231 boundaries
   joined), so preambles, epilogues, delimiter lines and the parts' own
   headers never reach the view. Recursion is bounded by the tree's depth
   (MIME_MAX_DEPTH) and stops at IMAP_SEARCH_MIME_DEPTH. */
static void walk(struct view *v, const struct mime_part *p)
{
	const char *b = v->msg + p->body_off;
	size_t bn = p->body_len;
	enum cte cte = part_cte(v, p);

	if (p->depth >= IMAP_SEARCH_MIME_DEPTH || (p->flags & MIME_PART_TRUNCATED)) {
		body_append(v, b, bn, false);
	} else if ((p->flags & MIME_PART_MULTIPART) && cte == CTE_IDENTITY) {
		if (p->n_children == 0) /* no boundary, or no delimiter: as it is */
			body_append(v, b, bn, false);
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			walk(v, c);
	} else if ((p->flags & MIME_PART_MESSAGE) && cte == CTE_IDENTITY && p->children != NULL) {
		const struct mime_part *m = p->children;
		body_append(v, v->msg + m->hdr_off, m->hdr_len, false);
		walk(v, m);
	} else if ((p->flags & MIME_PART_TEXT) && cte != CTE_IDENTITY) {
		buf_clear(&v->dec);
		if (cte == CTE_QP)
			mime_qp_decode(b, bn, false, &v->dec);
		else
			mime_b64_decode(b, bn, &v->dec);
		body_append(v, v->dec.data, v->dec.len, part_latin1(p, &v->tmp));
	} else if ((p->flags & MIME_PART_TEXT) || cte == CTE_IDENTITY) {
		body_append(v, b, bn, (p->flags & MIME_PART_TEXT) && part_latin1(p, &v->tmp));
	}
	/* else an encoded leaf that is no text: not searched */
}

/* --- evaluation --------------------------------------------------------- */

static void header(struct view *v)
{
	if (!v->have_hdr)
		build_header(v);
}

/* The tree the caller gave, if it belongs to these bytes, else one parsed
   here (freed with the view). */
static void body(struct view *v)
{
	if (v->have_body)
		return;
	v->have_body = true;
	const struct mime_tree *t = v->tree;
	if (t == NULL || mime_tree_msg_size(t) != v->len)
		t = v->own = mime_tree_parse(v->msg, v->len);
	walk(v, mime_tree_root(t));
}

static bool find(const char *h, size_t hn, const char *needle, size_t nn)
{
	return nn == 0 || (hn >= nn && memmem(h, hn, needle, nn) != NULL);
}

static bool in_ranges(const struct imap_search *prog, const struct search_op_node *o, uint32_t id)
{
	if (o->r_n == 0)
		return false;
	const struct search_range *r = prog->ranges + o->r_off;
	size_t lo = 0, hi = o->r_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (id < r[mid].lo)
			hi = mid;
		else if (id > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* KEYWORD: kw is folded; the message's keywords are compared folded. */
static bool has_keyword(const char *list, const char *kw, size_t n)
{
	if (list == NULL)
		return false;
	for (const char *p = list; *p != '\0';) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p != '\0' && *p != ' ')
			p++;
		if ((size_t)(p - w) != n)
			continue;
		size_t i = 0;
		while (i < n && (w[i] >= 'A' && w[i] <= 'Z' ? w[i] - 'A' + 'a' : w[i]) == kw[i])
			i++;
		if (i == n)
			return true;
	}
	return false;
}

static bool day_cmp(int64_t day, int64_t want_day, unsigned cmp)
{
	return cmp == CMP_BEFORE ? day < want_day
	       : cmp == CMP_ON	 ? day == want_day
				 : day >= want_day;
}

static int64_t utc_day(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-(t + 1)) / 86400) - 1;
}

static bool eval(const struct imap_search *prog, uint32_t i, const struct imap_search_msg *m,
		 struct view *v)
{
	const struct search_op_node *o = &prog->ops[i];
	const char *s = o->s_len > 0 ? prog->strings.data + o->s_off : "";
	uint32_t c;

	switch ((enum search_op)o->op) {
	case OP_AND:
		for (c = o->child; c != OP_NONE; c = prog->ops[c].next)
			if (!eval(prog, c, m, v))
				return false;
		return true;
	case OP_OR:
		for (c = o->child; c != OP_NONE; c = prog->ops[c].next)
			if (eval(prog, c, m, v))
				return true;
		return false;
	case OP_NOT:
		return !eval(prog, o->child, m, v);
	case OP_CONST:
		return o->num != 0;
	case OP_FLAGS:
		return (m->flags & o->mask) == o->want;
	case OP_KEYWORD:
		return has_keyword(m->keywords, s, o->s_len) == (o->want != 0);
	case OP_SEQ:
		return in_ranges(prog, o, m->seq);
	case OP_UID:
		return in_ranges(prog, o, m->uid);
	case OP_LARGER:
		return m->size > o->num;
	case OP_SMALLER:
		return m->size < o->num;
	case OP_MODSEQ:
		return m->modseq >= o->num;
	case OP_DATE:
		return day_cmp(utc_day(m->internaldate), o->day, o->want);
	case OP_SENT:
		header(v);
		return v->date_ok && day_cmp(v->sent_day, o->day, o->want);
	case OP_HEADER:
		header(v);
		for (size_t f = 0; f < v->n_fields; f++) {
			const struct field *fd = &v->fields[f];
			if (fd->name_len == o->h_len &&
			    memcmp(v->hdr.data + fd->name_off, prog->strings.data + o->h_off,
				   o->h_len) == 0 &&
			    find(v->hdr.data + fd->val_off, fd->val_len, s, o->s_len))
				return true;
		}
		return false;
	case OP_BODY:
		body(v);
		return find(v->body.data, v->body.len, s, o->s_len);
	case OP_TEXT:
		header(v);
		if (find(v->hdr.data, v->hdr.len, s, o->s_len))
			return true;
		body(v);
		return find(v->body.data, v->body.len, s, o->s_len);
	}
	return false;
}

bool imap_search_match(const struct imap_search *prog, const struct imap_search_msg *m)
{
	struct view v = {0};

	v.msg = m->msg != NULL ? m->msg : "";
	v.len = m->msg != NULL ? m->len : 0;
	v.tree = m->msg != NULL ? m->tree : NULL;
	bool r = eval(prog, 0, m, &v);
	buf_free(&v.hdr);
	buf_free(&v.body);
	buf_free(&v.tmp);
	buf_free(&v.dec);
	free(v.fields);
	mime_tree_free(&v.own);
	return r;
}
