/* SPDX-License-Identifier: MIT */
/*
 * mime_address.c - address lists (mime_address.h), a recursive-descent
 * reader over the lexer of mime_private.h that follows Dovecot's
 * message-address.c rule for rule, since ENVELOPE is compared with
 * Dovecot's byte for byte: a group is tried first, then name-addr, then
 * addr-spec; what is broken is patched with placeholders and the list goes
 * on while a ',' follows. The address being built is a set of buffers that
 * emit() hands to the callback and clears.
 */
#include "mime/mime_address.h"
#include "mime/mime_private.h"

#include <string.h>

struct field {
	struct buf b;
	bool set;
};

struct addr_parser {
	struct mime_lex lx;
	struct buf comment, str;
	struct field name, route, mailbox, domain;
	bool invalid;
	mime_address_fn *fn;
	void *ctx;
};

static void set(struct field *f, const char *s, size_t n)
{
	buf_clear(&f->b);
	buf_append(&f->b, s, n);
	f->set = true;
}

static void set_buf(struct field *f, const struct buf *b)
{
	set(f, b->data != NULL ? b->data : "", b->len);
}

static void set_lit(struct field *f, const char *s)
{
	set(f, s, strlen(s));
}

static void move(struct field *to, struct field *from)
{
	struct field t = *to;
	*to = *from;
	*from = t;
	from->set = false;
}

static const char *get(const struct field *f)
{
	return f->set ? f->b.data : NULL;
}

static void emit(struct addr_parser *ap, enum mime_addr_kind kind)
{
	struct mime_address a = {
	    kind,	get(&ap->name), get(&ap->route), get(&ap->mailbox), get(&ap->domain),
	    ap->invalid};
	ap->fn(ap->ctx, &a);
	ap->name.set = ap->route.set = ap->mailbox.set = ap->domain.set = false;
	ap->invalid = false;
}

static unsigned char cur(const struct addr_parser *ap)
{
	return mime_lex_cur(&ap->lx);
}

static bool at_end(const struct addr_parser *ap)
{
	return ap->lx.p >= ap->lx.end;
}

/* obs-local-part with the dots anywhere: "a..b", ".a", "a." */
static int nonstrict_dot_atom(struct addr_parser *ap, struct buf *out)
{
	int ret = -1;
	do {
		while (cur(ap) == '.') {
			buf_append_c(out, '.');
			ap->lx.p++;
			if (at_end(ap))
				return 0;
			ret = 1;
		}
		if (cur(ap) == '@')
			break;
		ret = mime_lex_atom(&ap->lx, out);
	} while (ret > 0 && cur(ap) == '.');
	return ret;
}

static int local_part(struct addr_parser *ap)
{
	int ret;
	buf_clear(&ap->str);
	if (cur(ap) == '"')
		ret = mime_lex_quoted(&ap->lx, &ap->str);
	else
		ret = nonstrict_dot_atom(ap, &ap->str);
	if (ret < 0)
		return -1;
	set_buf(&ap->mailbox, &ap->str);
	return ret;
}

static int domain(struct addr_parser *ap)
{
	int ret;
	buf_clear(&ap->str);
	if ((ret = mime_lex_domain(&ap->lx, &ap->str)) < 0)
		return -1;
	set_buf(&ap->domain, &ap->str);
	return ret;
}

/* obs-domain-list: "@a,@b" up to the ':' of a route-addr */
static int domain_list(struct addr_parser *ap)
{
	int ret;
	buf_clear(&ap->str);
	for (;;) {
		if (at_end(ap))
			return 0;
		if (cur(ap) != '@')
			break;
		if (ap->str.len > 0)
			buf_append_c(&ap->str, ',');
		buf_append_c(&ap->str, '@');
		if ((ret = mime_lex_domain(&ap->lx, &ap->str)) <= 0)
			return ret;
		while (mime_lex_skip_lwsp(&ap->lx) > 0 && cur(ap) == ',')
			ap->lx.p++;
	}
	set_buf(&ap->route, &ap->str);
	return 1;
}

static int angle_addr(struct addr_parser *ap)
{
	ap->lx.p++; /* '<' */
	if (mime_lex_skip_lwsp(&ap->lx) <= 0)
		return -1;
	if (cur(ap) == '@') {
		if (domain_list(ap) > 0 && cur(ap) == ':') {
			ap->lx.p++;
		} else {
			set_lit(&ap->route, "INVALID_ROUTE");
			if (at_end(ap))
				return -1;
		}
		if (mime_lex_skip_lwsp(&ap->lx) <= 0)
			return -1;
	}
	if (cur(ap) != '>') { /* "<>" has no mailbox */
		if (local_part(ap) <= 0)
			return -1;
		if (cur(ap) == '@' && domain(ap) <= 0)
			return -1;
	}
	if (cur(ap) != '>')
		return -1;
	ap->lx.p++;
	return mime_lex_skip_lwsp(&ap->lx);
}

static int name_addr(struct addr_parser *ap)
{
	buf_clear(&ap->str);
	if (mime_lex_phrase(&ap->lx, &ap->str) <= 0 || cur(ap) != '<')
		return -1;
	if (ap->str.len > 0)
		set_buf(&ap->name, &ap->str);
	if (angle_addr(ap) < 0) {
		set_lit(&ap->domain, "SYNTAX_ERROR");
		ap->invalid = true;
	}
	return at_end(ap) ? 0 : 1;
}

static int addr_spec(struct addr_parser *ap)
{
	int ret, ret2 = -2;
	bool quoted = cur(ap) == '"';

	buf_clear(&ap->comment);
	ret = local_part(ap);
	if (ret <= 0)
		ap->invalid = true;
	if (ret != 0 && !at_end(ap) && cur(ap) == '@') {
		ret2 = domain(ap);
		if (ret2 <= 0)
			ret = ret2;
	}
	if (ap->comment.len > 0) {
		set_buf(&ap->name, &ap->comment);
	} else if (ret2 == -2) {
		/* "user" alone is a mailbox; "user more words" a display name */
		buf_append_c(&ap->str, ' ');
		size_t was = ap->str.len;
		(void)mime_lex_phrase(&ap->lx, &ap->str);
		if (ap->str.len != was) {
			ap->mailbox.set = false;
			set_buf(&ap->name, &ap->str);
		} else if (!quoted) {
			set(&ap->domain, "", 0);
		}
		ap->invalid = true;
		ret = -1;
	}
	return ret;
}

static void add_fixed(struct addr_parser *ap)
{
	if (!ap->mailbox.set) {
		set_lit(&ap->mailbox, "MISSING_MAILBOX");
		ap->invalid = true;
	}
	if (!ap->domain.set || ap->domain.b.len == 0) {
		set_lit(&ap->domain, "MISSING_DOMAIN");
		ap->invalid = true;
	}
	emit(ap, MIME_ADDR_MAILBOX);
}

static int mailbox(struct addr_parser *ap)
{
	const unsigned char *start = ap->lx.p;
	int ret;

	if ((ret = name_addr(ap)) < 0) {
		ap->lx.p = start;
		ret = addr_spec(ap);
		if (ap->invalid && !ap->name.set && ap->mailbox.set && !ap->domain.set)
			move(&ap->name, &ap->mailbox);
	}
	if (ret < 0)
		ap->invalid = true;
	add_fixed(ap);
	return ret;
}

static int group(struct addr_parser *ap)
{
	int ret;

	buf_clear(&ap->str);
	if (mime_lex_phrase(&ap->lx, &ap->str) <= 0 || cur(ap) != ':')
		return -1;
	/* a group from here on, however broken */
	ap->lx.p++;
	if ((ret = mime_lex_skip_lwsp(&ap->lx)) <= 0)
		ap->invalid = true;
	set_buf(&ap->mailbox, &ap->str);
	emit(ap, MIME_ADDR_GROUP_START);
	if (ret > 0 && cur(ap) != ';') {
		for (;;) {
			(void)mailbox(ap);
			if (at_end(ap) || cur(ap) != ',')
				break;
			ap->lx.p++;
			if (mime_lex_skip_lwsp(&ap->lx) <= 0) {
				ret = -1;
				break;
			}
		}
	}
	if (ret >= 0) {
		if (at_end(ap) || cur(ap) != ';') {
			ret = -1;
		} else {
			ap->lx.p++;
			ret = mime_lex_skip_lwsp(&ap->lx);
		}
	}
	if (ret < 0)
		ap->invalid = true;
	emit(ap, MIME_ADDR_GROUP_END);
	return ret == 0 ? 0 : 1;
}

static int address(struct addr_parser *ap)
{
	const unsigned char *start = ap->lx.p;
	int ret;

	if ((ret = group(ap)) < 0) {
		ap->lx.p = start;
		ret = mailbox(ap);
	}
	return ret;
}

void mime_address_parse(const char *s, size_t n, mime_address_fn *fn, void *ctx)
{
	struct addr_parser ap = {.fn = fn, .ctx = ctx};
	int ret;

	mime_lex_init(&ap.lx, s, n, &ap.comment);
	if (mime_lex_skip_lwsp(&ap.lx) > 0) {
		for (;;) {
			if (address(&ap) == 0)
				break;
			if (at_end(&ap) || cur(&ap) != ',')
				break;
			ap.lx.p++;
			if ((ret = mime_lex_skip_lwsp(&ap.lx)) <= 0) {
				if (ret < 0) /* ends with garbage */
					add_fixed(&ap);
				break;
			}
		}
	}
	buf_free(&ap.comment);
	buf_free(&ap.str);
	buf_free(&ap.name.b);
	buf_free(&ap.route.b);
	buf_free(&ap.mailbox.b);
	buf_free(&ap.domain.b);
}
