/* SPDX-License-Identifier: MIT */
/*
 * milter_edit.c - a filter's changes applied: to the message's header
 * fields and body (milter_apply_message) and to the envelope
 * (milter_apply_envelope); and the layout of a wire-form message
 * (milter_private.h). See milter.h for the rules.
 */
#include "filter/milter.h"
#include "filter/milter_private.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* --- layout ------------------------------------------------------------------------------- */

/* The end of the line at p (after its LF, or len). */
static size_t line_end(const char *msg, size_t len, size_t p)
{
	const char *nl = memchr(msg + p, '\n', len - p);
	return nl != NULL ? (size_t)(nl - msg) + 1 : len;
}

/* The octets of the line end before e (CRLF 2, LF 1, none 0). */
static size_t eol_len(const char *msg, size_t start, size_t e)
{
	if (e > start && msg[e - 1] == '\n')
		return e - 1 > start && msg[e - 2] == '\r' ? 2 : 1;
	return 0;
}

/* The name's length if the line at p is "name:" (blanks allowed before
   the colon), else 0. */
static size_t field_name(const char *msg, size_t e, size_t p, size_t *colon_r)
{
	size_t q = p;
	while (q < e && (unsigned char)msg[q] > 32 && (unsigned char)msg[q] < 127 && msg[q] != ':')
		q++;
	size_t name_len = q - p;
	while (q < e && (msg[q] == ' ' || msg[q] == '\t'))
		q++;
	if (name_len == 0 || q == e || msg[q] != ':')
		return 0;
	*colon_r = q;
	return name_len;
}

void milter_layout(const char *msg, size_t len, struct milter_layout *l)
{
	size_t cap = 0, p = 0;

	memset(l, 0, sizeof(*l));
	while (p < len) {
		size_t e = line_end(msg, len, p), colon;
		size_t content = e - eol_len(msg, p, e);
		if (content == p && e > p) { /* the empty line */
			l->rest = p;
			l->body = e;
			l->has_sep = true;
			return;
		}
		if ((msg[p] == ' ' || msg[p] == '\t') && l->n_fields > 0) {
			l->fields[l->n_fields - 1].value_end = content;
			l->fields[l->n_fields - 1].end = e;
		} else {
			size_t nl = field_name(msg, content, p, &colon);
			if (nl == 0)
				break; /* not a field: the body starts here */
			if (l->n_fields == cap) {
				cap = cap == 0 ? 32 : cap * 2;
				l->fields = xrealloc(l->fields, cap * sizeof(*l->fields));
			}
			l->fields[l->n_fields++] = (struct milter_field){.start = p,
									 .name_len = nl,
									 .value = colon + 1,
									 .value_end = content,
									 .end = e};
		}
		p = e;
	}
	l->rest = p;
	l->body = p;
}

void milter_layout_free(struct milter_layout *l)
{
	free(l->fields);
	memset(l, 0, sizeof(*l));
}

/* --- the message -------------------------------------------------------------------------- */

/* One header field of the message being edited: the original's octets,
   or a new field's text (owned). */
struct entry {
	const char *p; /* the field, line ends included */
	size_t len;
	size_t name_len;
	char *own;
};

struct fields {
	struct entry *v;
	size_t n, cap;
};

static void fields_insert(struct fields *f, size_t at, struct entry e)
{
	if (f->n == f->cap) {
		f->cap = f->cap == 0 ? 32 : f->cap * 2;
		f->v = xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	if (at > f->n)
		at = f->n;
	memmove(f->v + at + 1, f->v + at, (f->n - at) * sizeof(*f->v));
	f->v[at] = e;
	f->n++;
}

static void fields_remove(struct fields *f, size_t at)
{
	free(f->v[at].own);
	memmove(f->v + at, f->v + at + 1, (f->n - at - 1) * sizeof(*f->v));
	f->n--;
}

/* Appends p[0..len) to b with every LF that has no CR before it made CRLF. */
static void append_crlf(struct buf *b, const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			buf_append_c(b, '\r');
		buf_append_c(b, p[i]);
	}
}

/* "Name: value\r\n" (no space added when the value brings its own) */
static struct entry new_field(const struct milter_mod *m, bool leadspc)
{
	struct buf b = {0};
	buf_append_str(&b, m->name);
	buf_append_str(&b, leadspc ? ":" : ": ");
	append_crlf(&b, m->value, m->value_len);
	buf_append(&b, "\r\n", 2);
	return (struct entry){
	    .p = b.data, .len = b.len, .name_len = strlen(m->name), .own = b.data};
}

static bool name_is(const struct entry *e, const char *name)
{
	return e->name_len == strlen(name) && strncasecmp(e->p, name, e->name_len) == 0;
}

static void change_header(struct fields *f, const struct milter_mod *m, bool leadspc)
{
	uint32_t want = m->index == 0 ? 1 : m->index, seen = 0;

	for (size_t i = 0; i < f->n; i++) {
		if (!name_is(&f->v[i], m->name) || ++seen != want)
			continue;
		if (m->value_len == 0) {
			fields_remove(f, i);
		} else {
			free(f->v[i].own);
			f->v[i] = new_field(m, leadspc);
		}
		return;
	}
	/* Sendmail: past the last such field, a new value is added */
	if (m->value_len > 0)
		fields_insert(f, f->n, new_field(m, leadspc));
}

void milter_apply_message(const struct milter_result *res, const char *msg, size_t len,
			  struct buf *out)
{
	struct milter_layout l;
	struct fields f = {0};
	const struct milter_mod *body = NULL;

	milter_layout(msg, len, &l);
	for (size_t i = 0; i < l.n_fields; i++) {
		const struct milter_field *h = &l.fields[i];
		fields_insert(&f, f.n,
			      (struct entry){.p = msg + h->start,
					     .len = h->end - h->start,
					     .name_len = h->name_len});
	}
	for (size_t i = 0; i < res->n_mods; i++) {
		const struct milter_mod *m = &res->mods[i];
		switch (m->type) {
		case MILTER_MOD_ADD_HEADER:
			fields_insert(&f, f.n, new_field(m, res->leadspc));
			break;
		case MILTER_MOD_INSERT_HEADER:
			fields_insert(&f, m->index, new_field(m, res->leadspc));
			break;
		case MILTER_MOD_CHANGE_HEADER:
			change_header(&f, m, res->leadspc);
			break;
		case MILTER_MOD_REPLACE_BODY:
			body = m;
			break;
		case MILTER_MOD_ADD_RCPT:
		case MILTER_MOD_DELETE_RCPT:
		case MILTER_MOD_CHANGE_FROM:
			break;
		}
	}
	for (size_t i = 0; i < f.n; i++) {
		/* a last original field without a line end gets one before more follow */
		buf_append(out, f.v[i].p, f.v[i].len);
		if (f.v[i].len > 0 && f.v[i].p[f.v[i].len - 1] != '\n')
			buf_append(out, "\r\n", 2);
	}
	if (body == NULL) {
		buf_append(out, msg + l.rest, len - l.rest);
	} else {
		buf_append(out, "\r\n", 2);
		append_crlf(out, body->value, body->value_len);
		if (body->value_len > 0 && body->value[body->value_len - 1] != '\n')
			buf_append(out, "\r\n", 2);
	}
	for (size_t i = 0; i < f.n; i++)
		free(f.v[i].own);
	free(f.v);
	milter_layout_free(&l);
}

/* --- the envelope ------------------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

/* An address as the filter wrote it, without angle brackets. */
static char *bare_address(const char *a)
{
	size_t len = strlen(a);
	if (len >= 2 && a[0] == '<' && a[len - 1] == '>')
		return xstrndup(a + 1, len - 2);
	return xstrdup(a);
}

static bool rcpt_eq(const char *a, const char *b)
{
	char *x = bare_address(a), *y = bare_address(b);
	bool eq = strcasecmp(x, y) == 0;
	free(x);
	free(y);
	return eq;
}

static void rcpt_add(struct milter_rcpt_list *l, const char *addr, const char *args)
{
	for (size_t i = 0; i < l->count; i++)
		if (rcpt_eq(l->addr[i], addr))
			return;
	l->addr = xrealloc(l->addr, (l->count + 1) * sizeof(char *));
	l->args = xrealloc(l->args, (l->count + 1) * sizeof(char *));
	l->addr[l->count] = bare_address(addr);
	l->args[l->count] = dup_or_null(args);
	l->count++;
}

static void rcpt_remove(struct milter_rcpt_list *l, const char *addr)
{
	for (size_t i = 0; i < l->count;) {
		if (!rcpt_eq(l->addr[i], addr)) {
			i++;
			continue;
		}
		free(l->addr[i]);
		free(l->args[i]);
		memmove(l->addr + i, l->addr + i + 1, (l->count - i - 1) * sizeof(char *));
		memmove(l->args + i, l->args + i + 1, (l->count - i - 1) * sizeof(char *));
		l->count--;
	}
}

void milter_envelope_edit_init(struct milter_envelope_edit *e, const struct milter_envelope *env)
{
	memset(e, 0, sizeof(*e));
	e->sender = xstrdup(env->sender != NULL ? env->sender : "");
	e->sender_args = dup_or_null(env->sender_args);
	for (size_t i = 0; i < env->n_rcpts; i++)
		rcpt_add(&e->rcpts, env->rcpts[i].addr, env->rcpts[i].args);
}

void milter_apply_envelope(const struct milter_result *res, struct milter_envelope_edit *e)
{
	for (size_t i = 0; i < res->n_refused; i++)
		rcpt_remove(&e->rcpts, res->refused[i].rcpt);
	for (size_t i = 0; i < res->n_mods; i++) {
		const struct milter_mod *m = &res->mods[i];
		switch (m->type) {
		case MILTER_MOD_ADD_RCPT:
			rcpt_add(&e->rcpts, m->name, m->value);
			break;
		case MILTER_MOD_DELETE_RCPT:
			rcpt_remove(&e->rcpts, m->name);
			break;
		case MILTER_MOD_CHANGE_FROM:
			free(e->sender);
			free(e->sender_args);
			e->sender = bare_address(m->name);
			e->sender_args = dup_or_null(m->value);
			break;
		default:
			break;
		}
	}
}

void milter_envelope_edit_free(struct milter_envelope_edit *e)
{
	for (size_t i = 0; i < e->rcpts.count; i++) {
		free(e->rcpts.addr[i]);
		free(e->rcpts.args[i]);
	}
	free(e->rcpts.addr);
	free(e->rcpts.args);
	free(e->sender);
	free(e->sender_args);
	memset(e, 0, sizeof(*e));
}

/* --- names -------------------------------------------------------------------------------- */

const char *milter_action_name(enum milter_action a)
{
	switch (a) {
	case MILTER_CONTINUE:
		return "continue";
	case MILTER_ACCEPT:
		return "accept";
	case MILTER_REJECT:
		return "reject";
	case MILTER_TEMPFAIL:
		return "tempfail";
	case MILTER_DISCARD:
		return "discard";
	case MILTER_QUARANTINE:
		return "quarantine";
	}
	return "?";
}

const char *milter_mod_name(enum milter_mod_type t)
{
	switch (t) {
	case MILTER_MOD_ADD_HEADER:
		return "add-header";
	case MILTER_MOD_INSERT_HEADER:
		return "insert-header";
	case MILTER_MOD_CHANGE_HEADER:
		return "change-header";
	case MILTER_MOD_ADD_RCPT:
		return "add-rcpt";
	case MILTER_MOD_DELETE_RCPT:
		return "delete-rcpt";
	case MILTER_MOD_REPLACE_BODY:
		return "replace-body";
	case MILTER_MOD_CHANGE_FROM:
		return "change-from";
	}
	return "?";
}
