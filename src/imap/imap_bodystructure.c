/* SPDX-License-Identifier: MIT */
/*
 * imap_bodystructure.c - BODY and BODYSTRUCTURE (imap_fetch_struct.h).
 *
 * RFC 9051 §7.5.2 with Dovecot's choices where the RFC leaves room:
 *   - a part without Content-Type is "text" "plain"; a text part without
 *     a charset parameter gets ("charset" "us-ascii") (RFC 2045 §5.2);
 *   - message/rfc822 is written "message" "rfc822" in lower case, and a
 *     multipart that has no children (no boundary, or none found) gets one
 *     empty text/plain child, since the grammar needs one (1*body);
 *   - a part that is composite by its type but that a limit left a leaf
 *     is "application" "octet-stream", so that no client looks inside;
 *   - Content-Language is always a list; a missing encoding is "7bit".
 * The size is that of the CRLF form of the body; text parts add their line
 * count, message parts their envelope, structure and line count.
 */
#include "imap/imap_fetch_struct.h"
#include "imap/imap_write.h"

#include <string.h>
#include <strings.h>

#define EMPTY_PART "\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0"

static void str(struct buf *out, const char *s)
{
	imap_write_string(out, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

static void params(struct buf *out, const struct mime_param *p, size_t n, bool charset)
{
	bool seen = false;

	if (!charset && n == 0) {
		buf_append_str(out, "NIL");
		return;
	}
	buf_append_c(out, '(');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_append_c(out, ' ');
		seen = seen || strcasecmp(p[i].name, "charset") == 0;
		str(out, p[i].name);
		buf_append_c(out, ' ');
		str(out, p[i].value);
	}
	if (charset && !seen)
		buf_append_str(out,
			       n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	buf_append_c(out, ')');
}

/* body-ext-1part / body-ext-mpart after MD5 or the parameters */
static void extension(struct buf *out, const struct mime_part *p)
{
	buf_append_c(out, ' ');
	if (p->disposition == NULL) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_c(out, '(');
		str(out, p->disposition);
		buf_append_c(out, ' ');
		params(out, p->disp_params, p->n_disp_params, false);
		buf_append_c(out, ')');
	}
	buf_append_c(out, ' ');
	if (p->language.n == 0) {
		buf_append_str(out, "NIL");
	} else {
		buf_append_c(out, '(');
		for (size_t i = 0; i < p->language.n; i++) {
			if (i > 0)
				buf_append_c(out, ' ');
			str(out, p->language.v[i]);
		}
		buf_append_c(out, ')');
	}
	buf_append_c(out, ' ');
	imap_write_nstr_nolf(out, p->location);
}

static bool is(const char *s, const char *lit)
{
	return s != NULL && strcasecmp(s, lit) == 0;
}

/* Composite by its type, but without the structure (a limit was hit). */
static bool truncated(const struct mime_part *p)
{
	if (p->type != NULL)
		return (is(p->type, "message") && is(p->subtype, "rfc822")) ||
		       is(p->type, "multipart");
	return p->parent != NULL && (p->parent->flags & MIME_PART_DIGEST);
}

static void part(struct buf *out, const struct mime_part *p, bool ext, unsigned flags);

static void multipart(struct buf *out, const struct mime_part *p, bool ext, unsigned flags)
{
	if (p->children == NULL)
		buf_append_str(out, ext ? "(" EMPTY_PART " NIL NIL NIL NIL)" : "(" EMPTY_PART ")");
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		buf_append_c(out, '(');
		part(out, c, ext, flags);
		buf_append_c(out, ')');
	}
	buf_append_c(out, ' ');
	str(out, p->subtype);
	if (!ext)
		return;
	buf_append_c(out, ' ');
	params(out, p->params, p->n_params, false);
	extension(out, p);
}

static void single(struct buf *out, const struct mime_part *p, bool ext, unsigned flags)
{
	bool text = false, message = false;

	if ((p->flags & MIME_PART_MESSAGE) && p->children != NULL &&
	    (!is(p->subtype, "global") || (flags & IMAP_STRUCT_REV2))) {
		message = true;
		buf_append_str(out, is(p->subtype, "global") ? "\"message\" \"global\""
							     : "\"message\" \"rfc822\"");
	} else if (!(p->flags & MIME_PART_MESSAGE) && truncated(p)) {
		buf_append_str(out, "\"application\" \"octet-stream\"");
	} else if (p->type == NULL) {
		text = true;
		buf_append_str(out, "\"text\" \"plain\"");
	} else {
		text = is(p->type, "text");
		str(out, p->type);
		buf_append_c(out, ' ');
		str(out, p->subtype);
	}
	buf_append_c(out, ' ');
	params(out, p->params, p->n_params, text);
	buf_append_c(out, ' ');
	imap_write_nstr_nolf(out, p->id);
	buf_append_c(out, ' ');
	imap_write_nstr_nolf(out, p->description);
	buf_append_c(out, ' ');
	if (p->encoding != NULL)
		str(out, p->encoding);
	else
		buf_append_str(out, "\"7bit\"");
	buf_printf(out, " %zu", p->body_size);
	if (text) {
		buf_printf(out, " %zu", p->body_lines);
	} else if (message) {
		buf_append_c(out, ' ');
		imap_envelope_write(p->children, out);
		buf_append_str(out, " (");
		part(out, p->children, ext, flags);
		buf_printf(out, ") %zu", p->body_lines);
	}
	if (!ext)
		return;
	buf_append_c(out, ' ');
	imap_write_nstr_nolf(out, p->md5);
	extension(out, p);
}

static void part(struct buf *out, const struct mime_part *p, bool ext, unsigned flags)
{
	if (p->flags & MIME_PART_MULTIPART)
		multipart(out, p, ext, flags);
	else
		single(out, p, ext, flags);
}

void imap_body_write(const struct mime_tree *t, unsigned flags, struct buf *out)
{
	buf_append_c(out, '(');
	part(out, mime_tree_root(t), false, flags);
	buf_append_c(out, ')');
}

void imap_bodystructure_write(const struct mime_tree *t, unsigned flags, struct buf *out)
{
	buf_append_c(out, '(');
	part(out, mime_tree_root(t), true, flags);
	buf_append_c(out, ')');
}
