/* SPDX-License-Identifier: MIT */
/*
 * mime_tree.c - the MIME structure of a message (mime_tree.h): the parser,
 * the public form, and the IMAP section arithmetic.
 *
 * The parser is a loop over two states, as Dovecot's message-parser is
 * (its rules are the ones IMAP clients see, docs/imap.md): HEADER reads
 * the header of the current part, BODY looks for delimiter lines of the
 * open multiparts (a stack, innermost last). A delimiter line closes every
 * part opened inside its multipart, then starts the next child or, when it
 * is a close delimiter, the epilogue. Positions only ever move forward, so
 * the work is linear in the input; sizes and line counts are counted once
 * at the end, over the gaps between children.
 *
 * Header fields are read with mime_hdr_next() (mime.c) and their values
 * with the lexer of mime_private.h.
 */
#include "mime/mime_tree.h"
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Dovecot: a multipart part may have children while depth + 1 is below
   its nesting limit; ours makes MIME_MAX_DEPTH the deepest part. */
#define MAX_NESTED (MIME_MAX_DEPTH + 1)
#define BOUNDARY_LINE_MAX (MIME_BOUNDARY_MAX + 4) /* "--" boundary "--" */

/* --- storage ----------------------------------------------------------------- */

/* Room for one more element in an array of n with capacity *cap. */
static void *grow(void *arr, size_t n, size_t *cap, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? *cap * 2 : 8;
	return xrealloc(arr, *cap * size);
}

struct mime_tree *mime_tree_alloc(void)
{
	struct mime_tree *t = xcalloc(1, sizeof(*t));
	buf_append_c(&t->pool, '\0'); /* no string starts at 0 */
	return t;
}

void mime_tree_free(struct mime_tree **tp)
{
	struct mime_tree *t = *tp;
	if (t == NULL)
		return;
	free(t->recs);
	free(t->prm);
	free(t->strs);
	free(t->envs);
	buf_free(&t->pool);
	free(t->parts);
	free(t->params);
	free(t->strv);
	free(t->strlen);
	free(t->envelopes);
	free(t);
	*tp = NULL;
}

/* A string into the pool: its ref (0 only when the pool is full). */
static uint32_t pool_add(struct mime_tree *t, const char *s, size_t n)
{
	if (t->pool.len + n + 1 >= UINT32_MAX)
		return 0;
	uint32_t ref = (uint32_t)t->pool.len + 1;
	buf_append(&t->pool, s, n);
	buf_append_c(&t->pool, '\0');
	return ref;
}

/* --- the header of one part ------------------------------------------------- */

/* What a header says, gathered while it is read and committed at its end
   (fields may repeat, and some later ones override earlier ones). */
struct hdr_info {
	bool is_mime, seen_ct, seen_cte, seen_lang, seen_disp_params;
	int ct_ret;
	struct buf ct; /* "type/subtype" as far as it could be read */
	struct mime_kvs params, disp;
	uint32_t str[PS_COUNT];
	struct str_rec *lang;
	size_t n_lang, cap_lang;
	/* envelope fields, message parts only */
	bool message;
	uint32_t env[ES_COUNT];
	struct {
		uint32_t list;
		struct str_rec s;
	} * addr;
	size_t n_addr, cap_addr;
	char boundary[MIME_BOUNDARY_MAX];
	size_t boundary_len;
	bool has_boundary;
};

static void info_reset(struct hdr_info *h, bool is_mime, bool message)
{
	h->is_mime = is_mime;
	h->message = message;
	h->seen_ct = h->seen_cte = h->seen_lang = h->seen_disp_params = false;
	h->ct_ret = -1;
	buf_clear(&h->ct);
	mime_kvs_clear(&h->params);
	mime_kvs_clear(&h->disp);
	memset(h->str, 0, sizeof(h->str));
	memset(h->env, 0, sizeof(h->env));
	h->n_lang = h->n_addr = 0;
	h->has_boundary = false;
	h->boundary_len = 0;
}

static void info_free(struct hdr_info *h)
{
	buf_free(&h->ct);
	mime_kvs_free(&h->params);
	mime_kvs_free(&h->disp);
	free(h->lang);
	free(h->addr);
}

struct parser {
	const char *p;
	size_t n;
	struct mime_tree *t;
	uint32_t cur; /* the part being read */
	struct {
		uint32_t part;
		size_t len;
		char b[MIME_BOUNDARY_MAX];
	} stack[MAX_NESTED + 1];
	size_t nb;
	struct hdr_info h;
	struct buf v, raw, tmp;
	struct mime_lex lx;
};

static bool name_is(struct slice name, const char *lit)
{
	return slice_eq_ci(name, lit);
}

static void field_content_type(struct parser *ps)
{
	struct hdr_info *h = &ps->h;
	h->is_mime = true; /* a Content-Type alone makes it MIME (Dovecot) */
	if (h->seen_ct)
		return;
	h->seen_ct = true;
	mime_lex_init(&ps->lx, ps->raw.data, ps->raw.len, NULL);
	mime_lex_skip_lwsp(&ps->lx);
	h->ct_ret = mime_lex_content_type(&ps->lx, &h->ct);
	if (h->ct_ret >= 0)
		mime_lex_params(&ps->lx, &h->params);
	if (h->ct_ret < 0 || h->ct.len < 10 || strncasecmp(h->ct.data, "multipart/", 10) != 0)
		return;
	for (size_t i = 0; i < h->params.n; i++) {
		if (strcasecmp(mime_kvs_name(&h->params, i), "boundary") != 0)
			continue;
		const char *b = mime_kvs_value(&h->params, i);
		size_t len = strlen(b);
		h->boundary_len = len < MIME_BOUNDARY_MAX ? len : MIME_BOUNDARY_MAX;
		memcpy(h->boundary, b, h->boundary_len);
		h->has_boundary = true;
		break;
	}
}

/* The value without white space at either end being only a token:
   Content-Transfer-Encoding and the Content-Disposition type. */
static void field_encoding(struct parser *ps)
{
	struct hdr_info *h = &ps->h;
	if (h->seen_cte)
		return;
	buf_clear(&ps->tmp);
	mime_lex_init(&ps->lx, ps->raw.data, ps->raw.len, NULL);
	mime_lex_skip_lwsp(&ps->lx);
	if (mime_lex_token(&ps->lx, &ps->tmp) >= 0 && mime_lex_skip_lwsp(&ps->lx) == 0 &&
	    ps->tmp.len > 0) {
		h->str[PS_ENCODING] = pool_add(ps->t, ps->tmp.data, ps->tmp.len);
		h->seen_cte = true;
	}
}

static void field_disposition(struct parser *ps)
{
	struct hdr_info *h = &ps->h;
	/* Dovecot reads a later one again while the earlier had no parameters */
	if (h->seen_disp_params)
		return;
	buf_clear(&ps->tmp);
	mime_lex_init(&ps->lx, ps->raw.data, ps->raw.len, NULL);
	mime_lex_skip_lwsp(&ps->lx);
	if (mime_lex_token(&ps->lx, &ps->tmp) < 0)
		return;
	h->str[PS_DISPOSITION] =
	    pool_add(ps->t, ps->tmp.data != NULL ? ps->tmp.data : "", ps->tmp.len);
	mime_lex_params(&ps->lx, &h->disp);
	h->seen_disp_params = h->disp.n > 0;
}

/* RFC 3282: 1#Language-tag, read as atoms separated by commas */
static void field_language(struct parser *ps)
{
	struct hdr_info *h = &ps->h;
	if (h->seen_lang)
		return;
	mime_lex_init(&ps->lx, ps->raw.data, ps->raw.len, NULL);
	mime_lex_skip_lwsp(&ps->lx);
	for (;;) {
		buf_clear(&ps->tmp);
		if (mime_lex_atom(&ps->lx, &ps->tmp) < 0)
			break;
		uint32_t ref = pool_add(ps->t, ps->tmp.data, ps->tmp.len);
		h->lang = grow(h->lang, h->n_lang, &h->cap_lang, sizeof(*h->lang));
		if (ref != 0) /* 0: the pool is full */
			h->lang[h->n_lang++] = (struct str_rec){ref, (uint32_t)ps->tmp.len};
		if (mime_lex_cur(&ps->lx) != ',')
			break;
		ps->lx.p++;
		mime_lex_skip_lwsp(&ps->lx);
	}
	h->seen_lang = h->n_lang > 0;
}

static void field_raw(struct parser *ps, enum part_str which)
{
	if (ps->h.str[which] == 0)
		ps->h.str[which] = pool_add(ps->t, ps->v.data, ps->v.len);
}

static void field_content(struct parser *ps, struct slice name)
{
	struct slice rest = {name.p + 8, name.len - 8};
	if (name_is(rest, "Type"))
		field_content_type(ps);
	else if (name_is(rest, "Transfer-Encoding"))
		field_encoding(ps);
	else if (name_is(rest, "ID"))
		field_raw(ps, PS_ID);
	else if (name_is(rest, "Description"))
		field_raw(ps, PS_DESCRIPTION);
	else if (name_is(rest, "MD5"))
		field_raw(ps, PS_MD5);
	else if (name_is(rest, "Location"))
		field_raw(ps, PS_LOCATION);
	else if (name_is(rest, "Language"))
		field_language(ps);
	else if (name_is(rest, "Disposition"))
		field_disposition(ps);
}

static const char *const env_str_names[ES_COUNT] = {"Date", "Subject", "In-Reply-To", "Message-ID"};
static const char *const env_list_names[EL_COUNT] = {"From", "Sender", "Reply-To",
						     "To",   "Cc",     "Bcc"};

static void field_envelope(struct parser *ps, struct slice name)
{
	struct hdr_info *h = &ps->h;
	for (int i = 0; i < ES_COUNT; i++) {
		if (name_is(name, env_str_names[i])) { /* the last one counts */
			h->env[i] = pool_add(ps->t, ps->v.data, ps->v.len);
			return;
		}
	}
	for (uint32_t i = 0; i < EL_COUNT; i++) {
		if (name_is(name, env_list_names[i])) { /* every one counts */
			h->addr = grow(h->addr, h->n_addr, &h->cap_addr, sizeof(*h->addr));
			h->addr[h->n_addr].list = i;
			h->addr[h->n_addr].s = (struct str_rec){
			    pool_add(ps->t, ps->raw.data, ps->raw.len), (uint32_t)ps->raw.len};
			h->n_addr++;
			return;
		}
	}
}

static void field(struct parser *ps, const struct mime_hdr_field *f)
{
	bool content = f->name.len > 8 && strncasecmp(f->name.p, "Content-", 8) == 0;
	bool envelope = ps->h.message && f->name.len >= 2 && f->name.len <= 11;

	if (name_is(f->name, "MIME-Version")) {
		ps->h.is_mime = true;
		return;
	}
	if (!content && !envelope)
		return;
	/* Structured values are read with their NULs (a NUL ends a word,
	   as in Dovecot); the values kept as they are get U+FFFD for them. */
	mime_hdr_value_raw(ps->p, f, &ps->raw);
	mime_hdr_value(ps->p, f, &ps->v);
	if (content)
		field_content(ps, f->name);
	else
		field_envelope(ps, f->name);
}

static uint32_t add_params(struct mime_tree *t, const struct mime_kvs *kv, uint32_t *n_r)
{
	uint32_t first = (uint32_t)t->n_prm;
	for (size_t i = 0; i < kv->n; i++) {
		const char *name = mime_kvs_name(kv, i), *value = mime_kvs_value(kv, i);
		uint32_t nref = pool_add(t, name, strlen(name));
		uint32_t vref = pool_add(t, value, strlen(value));
		if (nref == 0 || vref == 0) /* the pool is full */
			break;
		t->prm = grow(t->prm, t->n_prm, &t->cap_prm, sizeof(*t->prm));
		t->prm[t->n_prm++] = (struct param_rec){nref, vref};
	}
	*n_r = (uint32_t)(t->n_prm - first);
	return first;
}

static uint32_t add_strs(struct mime_tree *t, const struct str_rec *strs, size_t n)
{
	uint32_t first = (uint32_t)t->n_strs;
	for (size_t i = 0; i < n; i++) {
		t->strs = grow(t->strs, t->n_strs, &t->cap_strs, sizeof(*t->strs));
		t->strs[t->n_strs++] = strs[i];
	}
	return first;
}

static void commit_envelope(struct parser *ps, struct part_rec *r)
{
	struct mime_tree *t = ps->t;
	struct hdr_info *h = &ps->h;
	struct env_rec e = {0};

	memcpy(e.str, h->env, sizeof(e.str));
	for (uint32_t l = 0; l < EL_COUNT; l++) {
		e.list[l] = (uint32_t)t->n_strs;
		for (size_t i = 0; i < h->n_addr; i++) {
			if (h->addr[i].list != l || h->addr[i].s.ref == 0)
				continue;
			add_strs(t, &h->addr[i].s, 1);
			e.n_list[l]++;
		}
	}
	t->envs = grow(t->envs, t->n_envs, &t->cap_envs, sizeof(*t->envs));
	t->envs[t->n_envs++] = e;
	r->envelope = (uint32_t)t->n_envs;
}

/* The end of a header: flags and Content-* strings into the record. */
static void commit(struct parser *ps, struct part_rec *r)
{
	struct mime_tree *t = ps->t;
	struct hdr_info *h = &ps->h;
	const char *ct = h->ct.data != NULL ? h->ct.data : "";
	unsigned flags = 0;

	if (h->seen_ct) {
		if (strcasecmp(ct, "message/rfc822") == 0 || strcasecmp(ct, "message/global") == 0)
			flags |= MIME_PART_MESSAGE;
		else if (strncasecmp(ct, "text", 4) == 0 && (ct[4] == '\0' || ct[4] == '/'))
			flags |= MIME_PART_TEXT;
		else if (strncasecmp(ct, "multipart/", 10) == 0) {
			flags |= MIME_PART_MULTIPART;
			if (strcasecmp(ct + 10, "digest") == 0)
				flags |= MIME_PART_DIGEST;
		}
	}
	if (!h->is_mime) /* not MIME: every Content-* field is forgotten */
		flags = 0;
	else
		flags |= MIME_PART_IS_MIME;
	if (!h->seen_ct || !h->is_mime) {
		bool digest =
		    r->parent != NO_PARENT && (t->recs[r->parent].flags & MIME_PART_DIGEST) != 0;
		flags |= digest ? MIME_PART_MESSAGE : MIME_PART_TEXT;
	}
	r->flags = flags;
	if (h->message)
		commit_envelope(ps, r);
	if (!h->is_mime)
		return;
	memcpy(r->str, h->str, sizeof(r->str));
	if (h->seen_ct) {
		const char *slash = strchr(ct, '/');
		size_t tl = slash != NULL ? (size_t)(slash - ct) : strlen(ct);
		r->str[PS_TYPE] = pool_add(t, ct, tl);
		r->str[PS_SUBTYPE] =
		    slash != NULL ? pool_add(t, slash + 1, strlen(slash + 1)) : pool_add(t, "", 0);
		r->params = add_params(t, &h->params, &r->n_params);
	}
	if (r->str[PS_DISPOSITION] != 0)
		r->disp = add_params(t, &h->disp, &r->n_disp);
	r->lang = add_strs(t, h->lang, h->n_lang);
	r->n_lang = (uint32_t)h->n_lang;
}

/* --- delimiters ---------------------------------------------------------------- */

/* Whether the line at i is a delimiter of an open multipart: its index
   on the stack in *bi and whether it closes (RFC 2046 §5.1.1: only the
   start of the line must match; the longest match wins, and the search
   goes from the innermost multipart out). */
static bool delimiter(const struct parser *ps, size_t i, size_t *bi, bool *close)
{
	const char *p = ps->p;
	size_t n = ps->n;

	if (ps->nb == 0 || n - i < 2 || p[i] != '-' || p[i + 1] != '-')
		return false;
	if (ps->t->n_recs >= MIME_TREE_MAX_PARTS)
		return false; /* no more parts: delimiters are text now */
	i += 2;
	const char *nl = memchr(p + i, '\n', n - i);
	size_t len;
	bool dashes = false;
	if (nl != NULL) {
		len = (size_t)(nl - (p + i));
		if (len > 0 && p[i + len - 1] == '\r')
			len--;
		dashes = len > 2 && p[i + len - 1] == '-' && p[i + len - 2] == '-';
	} else {
		len = n - i < BOUNDARY_LINE_MAX ? n - i : BOUNDARY_LINE_MAX;
	}
	size_t best = SIZE_MAX;
	for (size_t k = ps->nb; k-- > 0;) {
		size_t bl = ps->stack[k].len;
		if (bl > len || memcmp(ps->stack[k].b, p + i, bl) != 0)
			continue;
		if (best != SIZE_MAX && ps->stack[best].len >= bl)
			continue;
		best = k;
		if (bl == len || (bl + 2 == len && dashes))
			break; /* exactly this one */
	}
	if (best == SIZE_MAX)
		return false;
	size_t bl = ps->stack[best].len;
	*bi = best;
	*close = n - i >= bl + 2 && p[i + bl] == '-' && p[i + bl + 1] == '-';
	return true;
}

/* --- the parse loop -------------------------------------------------------------- */

enum state { ST_HEADER, ST_BODY, ST_DONE };

static uint32_t new_part(struct parser *ps, uint32_t parent, size_t off)
{
	struct mime_tree *t = ps->t;
	t->recs = grow(t->recs, t->n_recs, &t->cap_recs, sizeof(*t->recs));
	struct part_rec *r = &t->recs[t->n_recs];
	memset(r, 0, sizeof(*r));
	r->hdr_off = off;
	r->parent = parent;
	return (uint32_t)t->n_recs++;
}

static unsigned depth_of(const struct mime_tree *t, uint32_t i)
{
	unsigned d = 0;
	while (t->recs[i].parent != NO_PARENT) {
		i = t->recs[i].parent;
		d++;
	}
	return d;
}

/* Ends every open part up to (not including) `until` at `end`. */
static void close_parts(struct parser *ps, uint32_t until, size_t end)
{
	struct mime_tree *t = ps->t;
	while (ps->cur != until) {
		struct part_rec *r = &t->recs[ps->cur];
		r->body_len = end - (r->hdr_off + r->hdr_len);
		ps->cur = r->parent;
	}
}

/* A delimiter at line i of stack entry bi; the part before it ends at
   end. Where the reading goes on: the next child, the epilogue, or done. */
static enum state at_delimiter(struct parser *ps, size_t i, size_t bi, bool close, size_t end,
			       size_t *pos)
{
	uint32_t mp = ps->stack[bi].part;

	close_parts(ps, mp, end);
	ps->nb = close ? bi : bi + 1;
	const char *nl = memchr(ps->p + i, '\n', ps->n - i);
	if (nl == NULL) { /* the input ends on the delimiter line */
		close_parts(ps, NO_PARENT, ps->n);
		return ST_DONE;
	}
	*pos = (size_t)(nl - ps->p) + 1;
	if (close)
		return ST_BODY; /* the epilogue, in mp */
	ps->cur = new_part(ps, mp, *pos);
	return ST_HEADER;
}

static enum state read_header(struct parser *ps, size_t *pos)
{
	struct mime_tree *t = ps->t;
	uint32_t cur = ps->cur;
	struct part_rec *r = &t->recs[cur];
	bool in_multipart =
	    r->parent != NO_PARENT && (t->recs[r->parent].flags & MIME_PART_MULTIPART) != 0;
	bool message = r->parent == NO_PARENT || (t->recs[r->parent].flags & MIME_PART_MESSAGE);
	struct mime_hdr_walk w;
	struct mime_hdr_field f;
	enum mime_hdr_next how = MIME_HDR_EOF;
	size_t bi = 0, prev_nl = 0, at = 0;
	bool close = false, cut = false;

	info_reset(&ps->h, in_multipart, message);
	mime_hdr_begin(&w, ps->p, *pos, ps->n);
	for (;;) {
		at = w.pos;
		if (at < ps->n && delimiter(ps, at, &bi, &close)) {
			cut = true; /* the line end before it belongs to the delimiter */
			break;
		}
		how = mime_hdr_next(&w, &f);
		if (how != MIME_HDR_FIELD)
			break;
		field(ps, &f);
		const char *e = ps->p + f.off + f.len;
		prev_nl = f.len > 0 && e[-1] == '\n' ? (f.len > 1 && e[-2] == '\r' ? 2 : 1) : 0;
	}
	r = &t->recs[cur]; /* field() may not grow recs, but stay safe */
	size_t hdr_end = cut ? at - prev_nl : w.pos;
	r->hdr_len = hdr_end - r->hdr_off;
	commit(ps, r);
	*pos = hdr_end;

	unsigned depth = depth_of(t, cur);
	bool nest_ok = depth + 1 < MAX_NESTED;
	if ((r->flags & MIME_PART_MULTIPART) && ps->h.has_boundary && how == MIME_HDR_END && !cut) {
		if (!nest_ok) {
			r->flags &= ~(unsigned)MIME_PART_MULTIPART;
			r->flags |= MIME_PART_TRUNCATED;
		} else {
			ps->stack[ps->nb].part = cur;
			ps->stack[ps->nb].len = ps->h.boundary_len;
			memcpy(ps->stack[ps->nb].b, ps->h.boundary, ps->h.boundary_len);
			ps->nb++;
		}
	} else if (r->flags & MIME_PART_MESSAGE) {
		if (!nest_ok || t->n_recs >= MIME_TREE_MAX_PARTS) {
			r->flags &= ~(unsigned)MIME_PART_MESSAGE;
			r->flags |= MIME_PART_TRUNCATED;
		} else if (cut || how == MIME_HDR_EOF) {
			/* an encapsulated message with nothing in it */
			uint32_t c = new_part(ps, cur, hdr_end);
			t->recs[c].flags = MIME_PART_TEXT;
			t->envs = grow(t->envs, t->n_envs, &t->cap_envs, sizeof(*t->envs));
			memset(&t->envs[t->n_envs++], 0, sizeof(struct env_rec));
			t->recs[c].envelope = (uint32_t)t->n_envs;
			ps->cur = c;
		} else {
			ps->cur = new_part(ps, cur, hdr_end);
			return ST_HEADER;
		}
	}
	if (cut) {
		/* The cut part (and its empty message) end before the line end;
		   that belongs to its parent, as in Dovecot, which shows when
		   the parent is a message/rfc822 part. */
		close_parts(ps, t->recs[cur].parent, hdr_end);
		return at_delimiter(ps, at, bi, close, at, pos);
	}
	if (how == MIME_HDR_EOF) {
		close_parts(ps, NO_PARENT, ps->n);
		return ST_DONE;
	}
	return ST_BODY;
}

/* The body from *pos to a delimiter of an open multipart, or to the end. */
static enum state read_body(struct parser *ps, size_t *pos)
{
	size_t start = *pos, i = start, bi;
	bool close;

	while (i < ps->n) {
		if (delimiter(ps, i, &bi, &close)) {
			size_t end = i;
			if (i > start) { /* the CRLF before the delimiter is part of it */
				end--;
				if (end > start && ps->p[end - 1] == '\r')
					end--;
			}
			return at_delimiter(ps, i, bi, close, end, pos);
		}
		if (ps->nb == 0)
			break; /* nothing can end it but the end */
		const char *nl = memchr(ps->p + i, '\n', ps->n - i);
		if (nl == NULL)
			break;
		i = (size_t)(nl - ps->p) + 1;
	}
	close_parts(ps, NO_PARENT, ps->n);
	return ST_DONE;
}

/* --- sizes and line counts ---------------------------------------------------------- */

struct counts {
	uint64_t lines, size;
};

/* LFs in [a, b), and the size with each bare LF counted as CRLF. */
static struct counts count(const char *p, size_t a, size_t b)
{
	struct counts c = {0, b - a};
	for (size_t i = a; i < b;) {
		const char *nl = memchr(p + i, '\n', b - i);
		if (nl == NULL)
			break;
		size_t k = (size_t)(nl - p);
		c.lines++;
		if (k == 0 || p[k - 1] != '\r')
			c.size++;
		i = k + 1;
	}
	return c;
}

/* Children before parents (reverse pre-order): each body is its gaps
   between children plus the children's totals. */
static void measure(struct mime_tree *t, const char *p)
{
	size_t n = t->n_recs;
	uint32_t *first = xmalloc(n * sizeof(*first)), *next = xmalloc(n * sizeof(*next));
	uint32_t *last = xmalloc(n * sizeof(*last));

	for (size_t i = 0; i < n; i++)
		first[i] = next[i] = last[i] = NO_PARENT;
	for (size_t i = 1; i < n; i++) {
		uint32_t par = t->recs[i].parent;
		if (first[par] == NO_PARENT)
			first[par] = (uint32_t)i;
		else
			next[last[par]] = (uint32_t)i;
		last[par] = (uint32_t)i;
	}
	for (size_t i = n; i-- > 0;) {
		struct part_rec *r = &t->recs[i];
		size_t body = r->hdr_off + r->hdr_len, end = body + r->body_len, at = body;
		struct counts h = count(p, r->hdr_off, body), b = {0, 0};
		for (uint32_t c = first[i]; c != NO_PARENT; c = next[c]) {
			const struct part_rec *cr = &t->recs[c];
			struct counts g = count(p, at, cr->hdr_off);
			b.lines += g.lines + cr->hdr_lines + cr->body_lines;
			b.size += g.size + cr->hdr_size + cr->body_size;
			at = cr->hdr_off + cr->hdr_len + cr->body_len;
		}
		struct counts g = count(p, at, end);
		r->hdr_lines = h.lines;
		r->hdr_size = h.size;
		r->body_lines = b.lines + g.lines;
		r->body_size = b.size + g.size;
	}
	free(first);
	free(next);
	free(last);
}

struct mime_tree *mime_tree_parse(const char *msg, size_t len)
{
	struct parser ps = {.p = msg, .n = len};
	size_t pos = 0;
	enum state st = ST_HEADER;

	ps.t = mime_tree_alloc();
	ps.t->msg_size = len;
	ps.cur = new_part(&ps, NO_PARENT, 0);
	while (st != ST_DONE)
		st = st == ST_HEADER ? read_header(&ps, &pos) : read_body(&ps, &pos);
	info_free(&ps.h);
	buf_free(&ps.v);
	buf_free(&ps.raw);
	buf_free(&ps.tmp);
	measure(ps.t, msg);
	mime_tree_finish(ps.t);
	return ps.t;
}

/* --- the public form ------------------------------------------------------------------ */

static const char *str_of(const struct mime_tree *t, uint32_t ref)
{
	return ref == 0 ? NULL : t->pool.data + ref - 1;
}

static struct mime_strs strs_of(const struct mime_tree *t, uint32_t first, uint32_t n)
{
	if (n == 0)
		return (struct mime_strs){NULL, NULL, 0};
	return (struct mime_strs){t->strv + first, t->strlen + first, n};
}

void mime_tree_finish(struct mime_tree *t)
{
	free(t->parts);
	free(t->params);
	free(t->strv);
	free(t->strlen);
	free(t->envelopes);
	t->parts = xcalloc(t->n_recs, sizeof(*t->parts));
	t->params = xcalloc(t->n_prm + 1, sizeof(*t->params));
	t->strv = xcalloc(t->n_strs + 1, sizeof(*t->strv));
	t->strlen = xcalloc(t->n_strs + 1, sizeof(*t->strlen));
	t->envelopes = xcalloc(t->n_envs + 1, sizeof(*t->envelopes));
	struct mime_part **last = xcalloc(t->n_recs + 1, sizeof(*last));
	for (size_t i = 0; i < t->n_prm; i++)
		t->params[i] =
		    (struct mime_param){str_of(t, t->prm[i].name), str_of(t, t->prm[i].value)};
	for (size_t i = 0; i < t->n_strs; i++) {
		t->strv[i] = str_of(t, t->strs[i].ref);
		t->strlen[i] = t->strs[i].len;
	}
	for (size_t i = 0; i < t->n_envs; i++) {
		const struct env_rec *e = &t->envs[i];
		struct mime_envelope *v = &t->envelopes[i];
		v->date = str_of(t, e->str[ES_DATE]);
		v->subject = str_of(t, e->str[ES_SUBJECT]);
		v->in_reply_to = str_of(t, e->str[ES_IN_REPLY_TO]);
		v->message_id = str_of(t, e->str[ES_MESSAGE_ID]);
		struct mime_strs *lists[EL_COUNT] = {&v->from, &v->sender, &v->reply_to,
						     &v->to,   &v->cc,	   &v->bcc};
		for (int l = 0; l < EL_COUNT; l++)
			*lists[l] = strs_of(t, e->list[l], e->n_list[l]);
	}
	for (size_t i = 0; i < t->n_recs; i++) {
		const struct part_rec *r = &t->recs[i];
		struct mime_part *m = &t->parts[i];
		m->hdr_off = r->hdr_off;
		m->hdr_len = r->hdr_len;
		m->body_off = r->hdr_off + r->hdr_len;
		m->body_len = r->body_len;
		m->hdr_lines = r->hdr_lines;
		m->body_lines = r->body_lines;
		m->hdr_size = r->hdr_size;
		m->body_size = r->body_size;
		m->flags = r->flags;
		m->type = str_of(t, r->str[PS_TYPE]);
		m->subtype = str_of(t, r->str[PS_SUBTYPE]);
		m->encoding = str_of(t, r->str[PS_ENCODING]);
		m->id = str_of(t, r->str[PS_ID]);
		m->description = str_of(t, r->str[PS_DESCRIPTION]);
		m->md5 = str_of(t, r->str[PS_MD5]);
		m->location = str_of(t, r->str[PS_LOCATION]);
		m->disposition = str_of(t, r->str[PS_DISPOSITION]);
		m->params = r->n_params > 0 ? t->params + r->params : NULL;
		m->n_params = r->n_params;
		m->disp_params = r->n_disp > 0 ? t->params + r->disp : NULL;
		m->n_disp_params = r->n_disp;
		m->language = strs_of(t, r->lang, r->n_lang);
		m->envelope = r->envelope > 0 ? &t->envelopes[r->envelope - 1] : NULL;
		if (r->parent != NO_PARENT) {
			struct mime_part *par = &t->parts[r->parent];
			m->parent = par;
			m->depth = par->depth + 1;
			if (par->children == NULL)
				par->children = m;
			else
				last[r->parent]->next = m;
			last[r->parent] = m;
			par->n_children++;
		}
	}
	free(last);
}

const struct mime_part *mime_tree_root(const struct mime_tree *t)
{
	return &t->parts[0];
}

size_t mime_tree_count(const struct mime_tree *t)
{
	return t->n_recs;
}

size_t mime_tree_msg_size(const struct mime_tree *t)
{
	return (size_t)t->msg_size;
}

const struct mime_part *mime_tree_part(const struct mime_tree *t, size_t i)
{
	return i < t->n_recs ? &t->parts[i] : NULL;
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool params_eq(const struct mime_param *a, size_t na, const struct mime_param *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_eq(a[i].name, b[i].name) || !str_eq(a[i].value, b[i].value))
			return false;
	return true;
}

static bool strs_eq(struct mime_strs a, struct mime_strs b)
{
	if (a.n != b.n)
		return false;
	for (size_t i = 0; i < a.n; i++)
		if (a.len[i] != b.len[i] || memcmp(a.v[i], b.v[i], a.len[i]) != 0)
			return false;
	return true;
}

static bool env_eq(const struct mime_envelope *a, const struct mime_envelope *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return str_eq(a->date, b->date) && str_eq(a->subject, b->subject) &&
	       str_eq(a->in_reply_to, b->in_reply_to) && str_eq(a->message_id, b->message_id) &&
	       strs_eq(a->from, b->from) && strs_eq(a->sender, b->sender) &&
	       strs_eq(a->reply_to, b->reply_to) && strs_eq(a->to, b->to) &&
	       strs_eq(a->cc, b->cc) && strs_eq(a->bcc, b->bcc);
}

bool mime_tree_equal(const struct mime_tree *a, const struct mime_tree *b)
{
	if (a->n_recs != b->n_recs || a->msg_size != b->msg_size)
		return false;
	for (size_t i = 0; i < a->n_recs; i++) {
		const struct mime_part *x = &a->parts[i], *y = &b->parts[i];
		if (x->hdr_off != y->hdr_off || x->hdr_len != y->hdr_len ||
		    x->body_len != y->body_len || x->hdr_lines != y->hdr_lines ||
		    x->body_lines != y->body_lines || x->hdr_size != y->hdr_size ||
		    x->body_size != y->body_size || x->flags != y->flags || x->depth != y->depth ||
		    x->n_children != y->n_children ||
		    (x->parent == NULL
			 ? y->parent != NULL
			 : y->parent == NULL || x->parent - a->parts != y->parent - b->parts))
			return false;
		if (!str_eq(x->type, y->type) || !str_eq(x->subtype, y->subtype) ||
		    !str_eq(x->encoding, y->encoding) || !str_eq(x->id, y->id) ||
		    !str_eq(x->description, y->description) || !str_eq(x->md5, y->md5) ||
		    !str_eq(x->location, y->location) || !str_eq(x->disposition, y->disposition) ||
		    !params_eq(x->params, x->n_params, y->params, y->n_params) ||
		    !params_eq(x->disp_params, x->n_disp_params, y->disp_params,
			       y->n_disp_params) ||
		    !strs_eq(x->language, y->language) || !env_eq(x->envelope, y->envelope))
			return false;
	}
	return true;
}

/* --- IMAP sections (RFC 9051 §6.4.5) ---------------------------------------------------- */

const struct mime_part *mime_tree_find(const struct mime_tree *t, const char *section, size_t len)
{
	const struct mime_part *p = mime_tree_root(t);
	size_t i = 0;

	if (len == 0)
		return NULL;
	while (i < len) {
		/* a number: digits without a leading zero, then '.' or the end */
		size_t num = 0, start = i;
		while (i < len && section[i] >= '0' && section[i] <= '9') {
			if (num > MIME_TREE_MAX_PARTS)
				return NULL;
			num = num * 10 + (size_t)(section[i++] - '0');
		}
		if (i == start || num == 0 || section[start] == '0')
			return NULL;
		bool more = i < len;
		if (more && (section[i] != '.' || ++i == len))
			return NULL;
		if (p->flags & MIME_PART_MULTIPART) {
			const struct mime_part *c = p->children;
			for (; c != NULL && num > 1; num--)
				c = c->next;
			p = c;
		} else if (num != 1 || (more && !(p->flags & MIME_PART_MESSAGE))) {
			/* a leaf has only its body, "1" */
			return NULL;
		}
		if (p == NULL)
			return NULL;
		if (more && (p->flags & MIME_PART_MESSAGE))
			p = p->children; /* on into the encapsulated message */
	}
	return p;
}

void mime_part_range(const struct mime_part *p, enum mime_range what, size_t *off_r, size_t *len_r)
{
	switch (what) {
	case MIME_RANGE_WHOLE:
		*off_r = p->hdr_off;
		*len_r = p->hdr_len + p->body_len;
		return;
	case MIME_RANGE_HEADER:
		*off_r = p->hdr_off;
		*len_r = p->hdr_len;
		return;
	case MIME_RANGE_BODY:
		break;
	}
	*off_r = p->body_off;
	*len_r = p->body_len;
}

bool mime_tree_section(const struct mime_tree *t, const char *part, size_t len,
		       enum mime_section what, size_t *off_r, size_t *len_r)
{
	const struct mime_part *p = mime_tree_root(t);

	if (len > 0 && (p = mime_tree_find(t, part, len)) == NULL)
		return false;
	switch (what) {
	case MIME_SECTION_PART:
		mime_part_range(p, len == 0 ? MIME_RANGE_WHOLE : MIME_RANGE_BODY, off_r, len_r);
		return true;
	case MIME_SECTION_MIME:
		/* of a message/rfc822 part: its own header (as Dovecot does) */
		if (len == 0)
			return false;
		mime_part_range(p, MIME_RANGE_HEADER, off_r, len_r);
		return true;
	case MIME_SECTION_HEADER:
	case MIME_SECTION_TEXT:
		break;
	}
	if (len > 0) {
		if (!(p->flags & MIME_PART_MESSAGE))
			return false;
		p = p->children;
	}
	mime_part_range(p, what == MIME_SECTION_HEADER ? MIME_RANGE_HEADER : MIME_RANGE_BODY, off_r,
			len_r);
	return true;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool mime_param_decode(const char *value, struct buf *out, struct slice *charset_r)
{
	const char *q1 = strchr(value, '\'');
	const char *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;

	buf_clear(out);
	if (q2 == NULL)
		return false;
	*charset_r = (struct slice){value, (size_t)(q1 - value)};
	for (const char *s = q2 + 1; *s != '\0'; s++) {
		int h, l;
		if (*s == '%' && (h = hex(s[1])) >= 0 && (l = hex(s[2])) >= 0) {
			buf_append_c(out, (char)(h * 16 + l));
			s += 2;
		} else {
			buf_append_c(out, *s);
		}
	}
	if (out->data == NULL)
		buf_append(out, "", 0);
	return true;
}
