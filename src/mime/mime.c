/* SPDX-License-Identifier: MIT */
/* mime.c - see mime.h. */
#include "mime/mime.h"
#include "util/base64.h"
#include "mime/mime_private.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

enum cte { CTE_7BIT, CTE_8BIT, CTE_BINARY, CTE_QP, CTE_BASE64, CTE_OTHER };

/* An entity is its header fields [0, hdr_len), an optional empty line, and
   its body [body_off, len). */
struct split {
	size_t hdr_len, body_off;
};

struct ctype {
	char type[32], subtype[64];
	char boundary[71]; /* RFC 2046 §5.1.1: 1 to 70 characters */
	bool valid, has_boundary;
};

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return true;
	return false;
}

/* The line at p[i..n): returns where the next one starts; *text_end is
   where this one's text ends (before CRLF or LF). */
static size_t line_end(const char *p, size_t n, size_t i, size_t *text_end)
{
	const char *nl = memchr(p + i, '\n', n - i);
	size_t t = nl != NULL ? (size_t)(nl - p) : n;
	size_t e = nl != NULL ? t + 1 : n;
	if (t > i && p[t - 1] == '\r')
		t--;
	*text_end = t;
	return e;
}

/* field-name, optional white space (RFC 5322 §4.5.3 obsolete syntax), ':' */
static size_t field_name_len(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 && p[i] != ':')
		i++;
	size_t name = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return name > 0 && i < n && p[i] == ':' ? name : 0;
}

/* The header ends at the first empty line (which is skipped) or at the
   first line that is neither a field nor a field's continuation. */
static struct split split(const char *p, size_t n)
{
	size_t i = 0, t;
	bool any = false;

	while (i < n) {
		size_t e = line_end(p, n, i, &t);
		if (t == i)
			return (struct split){i, e};
		if (any && (p[i] == ' ' || p[i] == '\t')) {
			i = e;
			continue;
		}
		if (field_name_len(p + i, t - i) == 0)
			return (struct split){i, i};
		any = true;
		i = e;
	}
	return (struct split){n, n};
}

/* The field that starts at i ends after its continuation lines. */
static size_t field_end(const char *p, size_t hdr_len, size_t i)
{
	size_t t, e = line_end(p, hdr_len, i, &t);
	while (e < hdr_len && (p[e] == ' ' || p[e] == '\t'))
		e = line_end(p, hdr_len, e, &t);
	return e;
}

static bool field_is(const char *p, size_t i, size_t e, const char *name)
{
	size_t k = strlen(name);
	return field_name_len(p + i, e - i) == k && strncasecmp(p + i, name, k) == 0;
}

/* The value of the field [i, e): unfolded (line ends dropped), without the
   white space at either end. */
static void field_value(const char *p, size_t i, size_t e, struct buf *value)
{
	const char *colon = memchr(p + i, ':', e - i);

	buf_clear(value);
	for (const char *c = colon + 1; c < p + e; c++)
		if (*c != '\r' && *c != '\n')
			buf_append_c(value, *c);
	size_t skip = 0;
	while (skip < value->len && (value->data[skip] == ' ' || value->data[skip] == '\t'))
		skip++;
	buf_consume(value, skip);
	while (value->len > 0 &&
	       (value->data[value->len - 1] == ' ' || value->data[value->len - 1] == '\t'))
		value->data[--value->len] = '\0';
}

static bool header_get(const char *p, size_t hdr_len, const char *name, struct buf *value)
{
	buf_clear(value);
	for (size_t i = 0; i < hdr_len;) {
		size_t e = field_end(p, hdr_len, i);
		if (field_is(p, i, e, name)) {
			field_value(p, i, e, value);
			return true;
		}
		i = e;
	}
	return false;
}

bool mime_header_get(const char *msg, size_t len, const char *name, struct buf *value)
{
	return header_get(msg, split(msg, len).hdr_len, name, value);
}

void mime_fields_begin(struct mime_fields *it, const char *msg, size_t len)
{
	it->msg = msg;
	it->hdr_len = split(msg, len).hdr_len;
	it->pos = 0;
}

bool mime_fields_next(struct mime_fields *it, struct slice *name, struct buf *value)
{
	if (it->pos >= it->hdr_len)
		return false;
	size_t i = it->pos, e = field_end(it->msg, it->hdr_len, i);
	*name = (struct slice){it->msg + i, field_name_len(it->msg + i, e - i)};
	field_value(it->msg, i, e, value);
	it->pos = e;
	return true;
}

/* --- the header as IMAP reads it (mime.h) --------------------------------- */

/* A line of the header: text [i, *text_end), next line at the return
   value; only a CR right before the LF is left out of the text. */
static size_t hdr_line(const char *p, size_t end, size_t i, size_t *text_end)
{
	const char *nl = memchr(p + i, '\n', end - i);
	if (nl == NULL) {
		*text_end = end;
		return end;
	}
	size_t t = (size_t)(nl - p);
	*text_end = t > i && p[t - 1] == '\r' ? t - 1 : t;
	return t + 1;
}

void mime_hdr_begin(struct mime_hdr_walk *w, const char *msg, size_t start, size_t end)
{
	*w = (struct mime_hdr_walk){msg, end, start};
}

enum mime_hdr_next mime_hdr_next(struct mime_hdr_walk *w, struct mime_hdr_field *f)
{
	const char *p = w->msg;
	size_t i = w->pos, t;

	if (i >= w->end)
		return MIME_HDR_EOF;
	size_t e = hdr_line(p, w->end, i, &t);
	if (t == i && e > i && p[e - 1] == '\n') { /* the empty line */
		w->pos = e;
		return MIME_HDR_END;
	}
	const char *colon = memchr(p + i, ':', t - i);
	size_t name_end = colon != NULL ? (size_t)(colon - p) : i;
	while (name_end > i && (p[name_end - 1] == ' ' || p[name_end - 1] == '\t'))
		name_end--;
	if (colon == NULL || name_end - i > MIME_HDR_NAME_MAX) {
		f->name = (struct slice){p + i, 0};
		f->value_off = i;
	} else {
		f->name = (struct slice){p + i, name_end - i};
		f->value_off = (size_t)(colon - p) + 1;
	}
	f->off = i;
	while (e < w->end && (p[e] == ' ' || p[e] == '\t'))
		e = hdr_line(p, w->end, e, &t);
	f->len = e - i;
	w->pos = e;
	return MIME_HDR_FIELD;
}

static void append_clean(struct buf *out, const char *p, size_t n, bool raw)
{
	if (raw || memchr(p, '\0', n) == NULL) {
		buf_append(out, p, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\0')
			buf_append_str(out, "\xef\xbf\xbd");
		else
			buf_append_c(out, p[i]);
	}
}

static void hdr_value(const char *msg, const struct mime_hdr_field *f, struct buf *value, bool raw)
{
	size_t end = f->off + f->len, t;
	size_t e = hdr_line(msg, end, f->off, &t);
	size_t v = f->value_off;

	buf_clear(value);
	buf_reserve(value, f->len);
	if (v > f->off) { /* after a colon */
		size_t k = v;
		while (k < t && (msg[k] == ' ' || msg[k] == '\t'))
			k++;
		v = k < t ? k : v + (v < t); /* only white space: one goes */
	}
	append_clean(value, msg + v, t - v, raw);
	while (e < end) {
		size_t s = e;
		e = hdr_line(msg, end, s, &t);
		buf_append_c(value, '\n');
		append_clean(value, msg + s, t - s, raw);
	}
}

void mime_hdr_value(const char *msg, const struct mime_hdr_field *f, struct buf *value)
{
	hdr_value(msg, f, value, false);
}

void mime_hdr_value_raw(const char *msg, const struct mime_hdr_field *f, struct buf *value)
{
	hdr_value(msg, f, value, true);
}

/* --- Content-Type and Content-Transfer-Encoding (RFC 2045 §5.1, §6.1) --- */

/* Through the lexer the structure reader (mime_tree.c) uses, so that a
   message is one shape for SMTP and for IMAP. */
static void parse_ctype(const struct buf *v, struct ctype *ct)
{
	struct mime_lex lx;
	struct buf t = {0};
	struct mime_kvs kv = {0};

	memset(ct, 0, sizeof(*ct));
	mime_lex_init(&lx, v->data, v->len, NULL);
	int r = mime_lex_content_type(&lx, &t);
	const char *slash = t.len > 0 ? memchr(t.data, '/', t.len) : NULL;
	size_t tlen = slash != NULL ? (size_t)(slash - t.data) : 0;
	size_t slen = slash != NULL ? t.len - tlen - 1 : 0;
	if (r >= 0 && slash != NULL && tlen < sizeof(ct->type) && slen < sizeof(ct->subtype)) {
		memcpy(ct->type, t.data, tlen);
		memcpy(ct->subtype, slash + 1, slen);
		ct->valid = true;
		mime_lex_params(&lx, &kv);
		for (size_t i = 0; i < kv.n; i++) {
			if (strcasecmp(mime_kvs_name(&kv, i), "boundary") != 0)
				continue;
			size_t blen = strlen(mime_kvs_value(&kv, i));
			if (blen >= 1 && blen < sizeof(ct->boundary)) {
				memcpy(ct->boundary, mime_kvs_value(&kv, i), blen + 1);
				ct->has_boundary = true;
			}
			break;
		}
	}
	buf_free(&t);
	mime_kvs_free(&kv);
}

static enum cte parse_cte(const struct buf *v)
{
	struct mime_lex lx;
	struct buf word = {0};
	enum cte cte = CTE_OTHER;
	static const struct {
		const char *name;
		enum cte cte;
	} known[] = {{"7bit", CTE_7BIT},
		     {"8bit", CTE_8BIT},
		     {"binary", CTE_BINARY},
		     {"quoted-printable", CTE_QP},
		     {"base64", CTE_BASE64}};

	mime_lex_init(&lx, v->data, v->len, NULL);
	mime_lex_skip_lwsp(&lx);
	mime_lex_token(&lx, &word);
	for (size_t i = 0; word.len > 0 && i < N_ELEMENTS(known); i++)
		if (strcasecmp(word.data, known[i].name) == 0)
			cte = known[i].cte;
	buf_free(&word);
	return cte;
}

/* --- conversion for a next hop ---------------------------------------------- */

/* What the conversion must achieve, and why it failed. */
struct conv {
	bool seven_bit;	 /* no 8-bit octets may remain (no 8BITMIME there) */
	bool long_lines; /* no line over MIME_LINE_MAX may remain */
	enum mime_relay why;
};

static enum mime_downgrade give_up(struct conv *cv, enum mime_relay why)
{
	cv->why = why;
	return MIME_UNCONVERTIBLE;
}

/* A line over MIME_LINE_MAX octets, its CRLF not counted. */
static bool has_long_line(const char *p, size_t n)
{
	size_t i = 0;
	while (n - i > MIME_LINE_MAX) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t t = nl != NULL ? (size_t)(nl - p) : n;
		size_t len = t - i - (t > i && p[t - 1] == '\r');
		if (len > MIME_LINE_MAX)
			return true;
		if (nl == NULL)
			return false;
		i = t + 1;
	}
	return false;
}

/* Whether p[0..n) needs converting under cv. */
static bool needs_work(const struct conv *cv, const char *p, size_t n)
{
	return (cv->seven_bit && has_8bit(p, n)) || (cv->long_lines && has_long_line(p, n));
}

/* RFC 2045 §6.7: lines of at most 76 characters, '=' for soft breaks,
   white space encoded before a line end, CRLF kept as the line break. */
void mime_qp_encode(const char *p, size_t n, struct buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n')) {
			i += c == '\r';
			buf_append_str(out, "\r\n");
			col = 0;
			continue;
		}
		bool eol = i + 1 == n || p[i + 1] == '\n' ||
			   (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n');
		bool plain = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !eol);
		size_t w = plain ? 1 : 3;
		if (col + w > 75) {
			buf_append_str(out, "=\r\n");
			col = 0;
		}
		if (plain) {
			buf_append_c(out, (char)c);
		} else {
			char enc[3] = {'=', hex[c >> 4], hex[c & 15]};
			buf_append(out, enc, 3);
		}
		col += w;
	}
}

/* A quoted-printable body that breaks RFC 2045 §6.7 with long lines gets
   soft line breaks ("=" CRLF, which decoding removes) so that no line
   exceeds 76 characters; an "=XX" escape is never split. */
static void qp_rewrap(const char *p, size_t n, struct buf *out)
{
	size_t col = 0;
	for (size_t i = 0; i < n;) {
		size_t w = p[i] == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : p[i] == '\n' ? 1 : 0;
		if (w > 0) { /* a line end */
			buf_append(out, p + i, w);
			i += w;
			col = 0;
			continue;
		}
		w = 1;
		if (p[i] == '=')
			while (w < 3 && i + w < n && p[i + w] != '\r' && p[i + w] != '\n')
				w++;
		if (col + w > 75) {
			buf_append_str(out, "=\r\n");
			col = 0;
		}
		buf_append(out, p + i, w);
		col += w;
		i += w;
	}
}

/* base64 (RFC 2045 §6.8) ignores line breaks: long lines get a CRLF after
   every 76 characters, the decoded octets stay the same. */
static void b64_rewrap(const char *p, size_t n, struct buf *out)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\r') {
			col = 0;
		} else if (col == 76) {
			buf_append_str(out, "\r\n");
			col = 0;
		}
		buf_append_c(out, p[i]);
		col += p[i] != '\n' && p[i] != '\r';
	}
}

/* Appends the field p[0..n) (its continuation lines included), folding
   every line over MIME_LINE_MAX before white space (RFC 5322 §2.2.3: the
   CRLF goes before a WSP, and unfolding removes it). Fails when a long
   line has no white space to fold at. */
static bool fold_field(const char *p, size_t n, bool fold, struct buf *out)
{
	size_t i = 0, t;
	while (i < n) {
		size_t e = line_end(p, n, i, &t);
		while (fold && t - i > MIME_LINE_MAX) {
			size_t k = i + MIME_LINE_MAX;
			while (k > i + 1 && !((p[k] == ' ' || p[k] == '\t') && p[k - 1] != ' ' &&
					      p[k - 1] != '\t'))
				k--;
			if (k <= i + 1)
				return false;
			buf_append(out, p + i, k - i);
			buf_append_str(out, "\r\n");
			i = k;
		}
		buf_append(out, p + i, e - i);
		if (e == t) /* the header's last line, without its line end */
			buf_append_str(out, "\r\n");
		i = e;
	}
	return true;
}

/* The header with its long lines folded and, when cte is given, every
   Content-Transfer-Encoding field replaced by one saying cte and
   MIME-Version added to a message that lacks it; then the empty line that
   ends it. */
static bool write_header(const struct conv *cv, const char *p, size_t hdr_len, const char *cte,
			 bool message, struct buf *out)
{
	bool has_version = false;
	for (size_t i = 0; i < hdr_len;) {
		size_t e = field_end(p, hdr_len, i);
		if (cte == NULL || !field_is(p, i, e, "Content-Transfer-Encoding")) {
			has_version = has_version || field_is(p, i, e, "MIME-Version");
			if (!fold_field(p + i, e - i, cv->long_lines, out))
				return false;
		}
		i = e;
	}
	if (cte != NULL && message && !has_version)
		buf_append_str(out, "MIME-Version: 1.0\r\n");
	if (cte != NULL)
		buf_printf(out, "Content-Transfer-Encoding: %s\r\n", cte);
	buf_append_str(out, "\r\n");
	return true;
}

static enum mime_downgrade entity(struct conv *cv, const char *p, size_t n, bool message,
				  bool digest_child, int depth, struct buf *out);

/* A preamble or epilogue: nobody reads it, and it may not be encoded. */
static enum mime_downgrade outside_parts(struct conv *cv, const char *p, size_t n, struct buf *out)
{
	if (cv->seven_bit && has_8bit(p, n))
		return give_up(cv, MIME_RELAY_NO_8BIT);
	if (cv->long_lines && has_long_line(p, n))
		return give_up(cv, MIME_RELAY_LONG_LINE);
	buf_append(out, p, n);
	return MIME_CONVERTED;
}

/* RFC 2046 §5.1.1: the CRLF before a delimiter line belongs to it. */
static enum mime_downgrade multipart(struct conv *cv, const char *p, size_t n, const char *boundary,
				     bool digest, int depth, struct buf *out)
{
	size_t blen = strlen(boundary), part = SIZE_MAX, i = 0, t;

	while (i < n) {
		size_t e = line_end(p, n, i, &t);
		if (t - i < 2 + blen || p[i] != '-' || p[i + 1] != '-' ||
		    memcmp(p + i + 2, boundary, blen) != 0) {
			i = e;
			continue;
		}
		size_t k = i + 2 + blen;
		bool close = t - k >= 2 && p[k] == '-' && p[k + 1] == '-';
		k += close ? 2 : 0;
		while (k < t && (p[k] == ' ' || p[k] == '\t'))
			k++;
		if (k != t) { /* "--boundaryX": not a delimiter */
			i = e;
			continue;
		}
		if (part == SIZE_MAX) { /* the preamble */
			if (outside_parts(cv, p, i, out) == MIME_UNCONVERTIBLE)
				return MIME_UNCONVERTIBLE;
		} else {
			size_t end = i;
			if (end > part && p[end - 1] == '\n')
				end--;
			if (end > part && p[end - 1] == '\r')
				end--;
			if (entity(cv, p + part, end - part, false, digest, depth + 1, out) ==
			    MIME_UNCONVERTIBLE)
				return MIME_UNCONVERTIBLE;
			buf_append(out, p + end, i - end);
		}
		if (cv->long_lines && e - i > MIME_LINE_MAX + 2)
			return give_up(cv, MIME_RELAY_LONG_LINE); /* white space after it */
		buf_append(out, p + i, e - i);
		i = part = e;
		if (close) /* the epilogue */
			return outside_parts(cv, p + i, n - i, out);
	}
	if (part == SIZE_MAX) /* no delimiter at all: text nobody reads */
		return outside_parts(cv, p, n, out) == MIME_UNCONVERTIBLE ? MIME_UNCONVERTIBLE
									  : MIME_CONVERTED;
	/* no close delimiter: the last part runs to the end */
	return entity(cv, p + part, n - part, false, digest, depth + 1, out) == MIME_UNCONVERTIBLE
		   ? MIME_UNCONVERTIBLE
		   : MIME_CONVERTED;
}

/* A leaf's body that the header of p[0..h.body_off) labels cte. */
static enum mime_downgrade leaf(struct conv *cv, const char *p, size_t n, struct split h,
				enum cte cte, const struct ctype *ct, bool message, struct buf *out)
{
	const char *body = p + h.body_off;
	size_t body_len = n - h.body_off;
	bool eight = cv->seven_bit && has_8bit(body, body_len);
	bool is_message = strcasecmp(ct->type, "message") == 0;

	if (!eight && !(cv->long_lines && has_long_line(body, body_len))) {
		/* only the header needed folding */
		if (!write_header(cv, p, h.hdr_len, NULL, message, out))
			return give_up(cv, MIME_RELAY_LONG_LINE);
		buf_append(out, body, body_len);
		return MIME_CONVERTED;
	}
	if (cte == CTE_QP || cte == CTE_BASE64) {
		if (eight) /* octets these encodings cannot hold */
			return give_up(cv, MIME_RELAY_NO_8BIT);
		if (!write_header(cv, p, h.hdr_len, NULL, message, out))
			return give_up(cv, MIME_RELAY_LONG_LINE);
		(cte == CTE_QP ? qp_rewrap : b64_rewrap)(body, body_len, out);
		return MIME_CONVERTED;
	}
	if (cte != CTE_7BIT && cte != CTE_8BIT) /* binary, or unknown */
		return give_up(cv, eight ? MIME_RELAY_NO_8BIT : MIME_RELAY_LONG_LINE);
	/* message/global (RFC 6532) needs SMTPUTF8; message/partial and
	   message/external-body must be 7bit (RFC 2046 §5.2.2, §5.2.3) */
	if (is_message && (strncasecmp(ct->subtype, "global", 6) == 0 ||
			   strcasecmp(ct->subtype, "partial") == 0 ||
			   strcasecmp(ct->subtype, "external-body") == 0))
		return give_up(cv, eight ? MIME_RELAY_NO_8BIT : MIME_RELAY_LONG_LINE);
	if (!write_header(cv, p, h.hdr_len, "quoted-printable", message, out))
		return give_up(cv, MIME_RELAY_LONG_LINE);
	mime_qp_encode(body, body_len, out);
	return MIME_CONVERTED;
}

static enum mime_downgrade entity(struct conv *cv, const char *p, size_t n, bool message,
				  bool digest_child, int depth, struct buf *out)
{
	if (!needs_work(cv, p, n)) {
		buf_append(out, p, n);
		return MIME_7BIT;
	}
	struct split h = split(p, n);
	if (cv->seven_bit && has_8bit(p, h.hdr_len))
		return give_up(cv, MIME_RELAY_NO_8BIT); /* those need SMTPUTF8 */
	if (depth > MIME_MAX_DEPTH)
		return give_up(cv, has_8bit(p, n) && cv->seven_bit ? MIME_RELAY_NO_8BIT
								   : MIME_RELAY_LONG_LINE);

	struct buf v = {0};
	struct ctype ct;
	enum cte cte = CTE_7BIT;
	if (header_get(p, h.hdr_len, "Content-Type", &v))
		parse_ctype(&v, &ct);
	else
		ct.valid = false;
	if (!ct.valid) { /* RFC 2045 §5.2, RFC 2046 §5.1.5 */
		memset(&ct, 0, sizeof(ct));
		strcpy(ct.type, digest_child ? "message" : "text");
		strcpy(ct.subtype, digest_child ? "rfc822" : "plain");
	}
	if (header_get(p, h.hdr_len, "Content-Transfer-Encoding", &v))
		cte = parse_cte(&v);
	buf_free(&v);

	const char *body = p + h.body_off;
	size_t body_len = n - h.body_off;
	bool multi = strcasecmp(ct.type, "multipart") == 0;
	bool rfc822 = strcasecmp(ct.type, "message") == 0 && strcasecmp(ct.subtype, "rfc822") == 0;
	bool eight = cv->seven_bit && has_8bit(body, body_len);
	if ((multi || rfc822) && needs_work(cv, body, body_len)) {
		/* RFC 2046 §5: composite types are never encoded; 7bit now */
		if (cte != CTE_7BIT && cte != CTE_8BIT)
			return give_up(cv, eight ? MIME_RELAY_NO_8BIT : MIME_RELAY_LONG_LINE);
		if (multi && !ct.has_boundary) /* no parts to find, and it may not be encoded */
			return give_up(cv, eight ? MIME_RELAY_NO_8BIT : MIME_RELAY_LONG_LINE);
		bool relabel = cte == CTE_8BIT && cv->seven_bit;
		if (!write_header(cv, p, h.hdr_len, relabel ? "7bit" : NULL, false, out))
			return give_up(cv, MIME_RELAY_LONG_LINE);
		enum mime_downgrade r =
		    multi ? multipart(cv, body, body_len, ct.boundary,
				      strcasecmp(ct.subtype, "digest") == 0, depth, out)
			  : entity(cv, body, body_len, true, false, depth + 1, out);
		return r == MIME_UNCONVERTIBLE ? r : MIME_CONVERTED;
	}
	return leaf(cv, p, n, h, multi || rfc822 ? CTE_7BIT : cte, &ct, message, out);
}

static enum mime_downgrade convert(struct conv *cv, const char *msg, size_t len, struct buf *out)
{
	if (!needs_work(cv, msg, len))
		return MIME_7BIT;
	size_t start = out->len;
	if (entity(cv, msg, len, true, false, 0, out) == MIME_UNCONVERTIBLE) {
		out->len = start;
		if (out->data != NULL)
			out->data[start] = '\0';
		return MIME_UNCONVERTIBLE;
	}
	return MIME_CONVERTED;
}

enum mime_downgrade mime_downgrade(const char *msg, size_t len, struct buf *out)
{
	struct conv cv = {.seven_bit = true};
	return convert(&cv, msg, len, out);
}

enum mime_relay mime_relay_form(const char *msg, size_t len, bool seven_bit, struct buf *out)
{
	struct conv cv = {.seven_bit = seven_bit, .long_lines = true};
	switch (convert(&cv, msg, len, out)) {
	case MIME_7BIT:
		return MIME_RELAY_ASIS;
	case MIME_CONVERTED:
		return MIME_RELAY_CONVERTED;
	case MIME_UNCONVERTIBLE:
		break;
	}
	return cv.why;
}

bool mime_relay_possible(const char *body, size_t len)
{
	/* the stored form will end every line at a bare CR or LF as well */
	size_t run = 0, max = 0;
	for (size_t i = 0; i < len; i++) {
		run = body[i] == '\r' || body[i] == '\n' ? 0 : run + 1;
		max = run > max ? run : max;
	}
	if (max <= MIME_LINE_MAX)
		return true;
	struct buf wire = {0}, out = {0};
	buf_reserve(&wire, len + len / 32 + 2);
	for (size_t i = 0; i < len; i++) {
		if (body[i] == '\r' && i + 1 < len && body[i + 1] == '\n')
			continue; /* the CR of a CRLF: added with its LF */
		if (body[i] == '\r' || body[i] == '\n')
			buf_append_str(&wire, "\r\n");
		else
			buf_append_c(&wire, body[i]);
	}
	bool ok = mime_relay_form(wire.data, wire.len, false, &out) != MIME_RELAY_LONG_LINE;
	buf_free(&wire);
	buf_free(&out);
	return ok;
}

/* --- decoding transfer encodings (mime.h) --------------------------------------------- */

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lenient base64 (RFC 2045 §6.8): octets outside the alphabet are
   skipped; "=" ends a group, so concatenated encodings decode too. */
void mime_b64_decode(const char *p, size_t n, struct buf *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = base64_value(p[i]);
		if (v < 0) {
			if (p[i] == '=')
				acc = bits = 0;
			continue;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_append_c(out, (char)(acc >> bits & 0xff));
			acc &= (1u << bits) - 1;
		}
	}
}

/* Quoted-printable (RFC 2045 §6.7); header Q (RFC 2047 §4.2) when q, where
   "_" is a space. A "=" that starts nothing valid stays as it is. */
void mime_qp_decode(const char *p, size_t n, bool q, struct buf *out)
{
	for (size_t i = 0; i < n;) {
		char c = p[i];
		if (c == '_' && q) {
			buf_append_c(out, ' ');
			i++;
			continue;
		}
		if (c != '=') {
			buf_append_c(out, c);
			i++;
			continue;
		}
		if (i + 2 < n && hex_val(p[i + 1]) >= 0 && hex_val(p[i + 2]) >= 0) {
			buf_append_c(out, (char)(hex_val(p[i + 1]) << 4 | hex_val(p[i + 2])));
			i += 3;
			continue;
		}
		/* a soft line break: "=", white space, the line end */
		size_t j = i + 1;
		while (j < n && (p[j] == ' ' || p[j] == '\t'))
			j++;
		if (j < n && p[j] == '\r')
			j++;
		if (!q && (j == n || p[j] == '\n')) {
			i = j < n ? j + 1 : n;
			continue;
		}
		buf_append_c(out, c);
		i++;
	}
}
