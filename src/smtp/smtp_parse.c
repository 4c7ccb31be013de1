/* SPDX-License-Identifier: MIT */
/*
 * smtp_parse.c - see smtp_parse.h. Pure functions: nothing read past the
 * slices given, no allocation; fuzz/fuzz_smtp_parse.c drives them directly.
 */
#include "smtp/smtp_parse.h"
#include "proto/line.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

int smtp_parse_line(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r)
{
	return line_find(p, len, max, line_r, used_r);
}

enum smtp_parse_status smtp_parse_command(struct slice line, struct smtp_command *cmd_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (line_check_ctl(line) != 0)
		return SMTP_PARSE_CTL;
	/* trailing spaces are common ("QUIT ") and harmless */
	while (line.len > 0 && line.p[line.len - 1] == ' ')
		line.len--;
	if (line.len == 0)
		return SMTP_PARSE_EMPTY;
	slice_token(line, &cmd_r->verb, &cmd_r->rest);
	/* a line that starts with a space has no keyword */
	return cmd_r->verb.len > 0 ? SMTP_PARSE_OK : SMTP_PARSE_EMPTY;
}

bool smtp_parse_prefix(struct slice rest, const char *prefix, struct slice *after_r)
{
	size_t n = strlen(prefix);

	if (rest.len < n || strncasecmp(rest.p, prefix, n) != 0)
		return false;
	after_r->p = rest.p + n;
	after_r->len = rest.len - n;
	return true;
}

bool smtp_parse_number(struct slice s, uint64_t *v_r)
{
	return s.len <= 19 && slice_to_uint(s, UINT64_MAX, v_r);
}

static bool is_atext(unsigned char c)
{
	/* RFC 5322 atext: ALPHA DIGIT ! # $ % & ' * + - / = ? ^ _ ` { | } ~ */
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

bool smtp_xtext_valid(struct slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '+') {
			if (i + 2 >= s.len || !isxdigit((unsigned char)s.p[i + 1]) ||
			    !isxdigit((unsigned char)s.p[i + 2]))
				return false;
			i += 2;
		} else if (c < 0x21 || c > 0x7e || c == '=') {
			return false;
		}
	}
	return true;
}

/* A host name: labels of letters, digits and hyphens (not at either end),
   1-63 octets each, no empty label; UTF-8 octets allowed with utf8. */
static bool domain_valid(const char *d, size_t len, bool utf8)
{
	size_t label = 0;

	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (c >= 0x80 ? !utf8 : !(isalnum(c) || (c == '-' && label > 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d[len - 1] != '-';
}

/* "[1.2.3.4]" or "[IPv6:...]" or "[tag:content]" (RFC 5321 §4.1.3): checked
   for shape only; such domains are never hosted. */
static bool literal_valid(const char *d, size_t len)
{
	if (len < 3 || d[0] != '[' || d[len - 1] != ']')
		return false;
	for (size_t i = 1; i + 1 < len; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c < 0x21 || c > 0x7e || c == '[' || c == ']' || c == '\\')
			return false;
	}
	return true;
}

/* Parses "local@domain" at p[0..len) into path->address. */
static enum smtp_path_error parse_mailbox(const char *p, size_t len, bool utf8,
					  struct smtp_path *path)
{
	char *out = path->address;
	size_t o = 0, i = 0;

	if (len == 0)
		return SMTP_PATH_ESYNTAX;
	if (p[0] == '"') {
		path->flags |= SMTP_PATH_QUOTED;
		for (i = 1; i < len && p[i] != '"'; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == '\\') {
				if (++i >= len)
					return SMTP_PATH_ESYNTAX;
				c = (unsigned char)p[i];
				if (c < 0x20 || c == 0x7f)
					return SMTP_PATH_ESYNTAX;
			} else if (c < 0x20 || c == 0x7f) {
				return SMTP_PATH_ESYNTAX;
			}
			if (c >= 0x80 && !utf8)
				return SMTP_PATH_E8BIT;
			if (c == '%' || c == '!' || c == '@')
				path->flags |= SMTP_PATH_ROUTING;
			if (o >= SMTP_LOCAL_MAX)
				return SMTP_PATH_ETOOLONG;
			out[o++] = (char)c;
		}
		if (i >= len || o == 0)
			return SMTP_PATH_ESYNTAX;
		i++; /* closing quote */
	} else {
		bool dot_ok = false;
		for (; i < len && p[i] != '@'; i++) {
			unsigned char c = (unsigned char)p[i];
			if (c == '.') {
				if (!dot_ok)
					return SMTP_PATH_ESYNTAX;
				dot_ok = false;
			} else if (c >= 0x80) {
				if (!utf8)
					return SMTP_PATH_E8BIT;
				dot_ok = true;
			} else if (is_atext(c)) {
				if (c == '%' || c == '!')
					path->flags |= SMTP_PATH_ROUTING;
				dot_ok = true;
			} else {
				return SMTP_PATH_ESYNTAX;
			}
			if (o >= SMTP_LOCAL_MAX)
				return SMTP_PATH_ETOOLONG;
			out[o++] = (char)c;
		}
		if (o == 0 || !dot_ok)
			return SMTP_PATH_ESYNTAX; /* empty, or ends in a dot */
	}
	path->local_len = o;
	if (i >= len || p[i] != '@')
		return SMTP_PATH_ESYNTAX;
	i++;
	const char *dom = p + i;
	size_t dlen = len - i;
	if (dlen > 0 && dom[0] == '[') {
		if (!literal_valid(dom, dlen))
			return SMTP_PATH_ESYNTAX;
		path->flags |= SMTP_PATH_LITERAL;
	} else if (dlen > SMTP_DOMAIN_MAX) {
		return SMTP_PATH_ETOOLONG;
	} else if (!domain_valid(dom, dlen, utf8)) {
		for (size_t k = 0; k < dlen; k++)
			if ((unsigned char)dom[k] >= 0x80 && !utf8)
				return SMTP_PATH_E8BIT;
		return SMTP_PATH_ESYNTAX;
	}
	if (o + 1 + dlen > SMTP_PATH_MAX)
		return SMTP_PATH_ETOOLONG;
	out[o++] = '@';
	for (size_t k = 0; k < dlen; k++)
		out[o++] = (char)tolower((unsigned char)dom[k]);
	out[o] = '\0';
	for (size_t k = 0; k < o; k++)
		if ((unsigned char)out[k] >= 0x80)
			path->flags |= SMTP_PATH_UTF8;
	return SMTP_PATH_OK;
}

/* "@a,@b:" at the start of a path: checked and skipped. */
static bool skip_route(const char **p, size_t *len)
{
	const char *colon = memchr(*p, ':', *len);

	if (colon == NULL)
		return false;
	const char *q = *p;
	while (q < colon) {
		if (*q != '@')
			return false;
		const char *end = memchr(q, ',', (size_t)(colon - q));
		if (end == NULL)
			end = colon;
		if (!domain_valid(q + 1, (size_t)(end - q - 1), false) &&
		    !literal_valid(q + 1, (size_t)(end - q - 1)))
			return false;
		q = end == colon ? colon : end + 1;
	}
	*len -= (size_t)(colon + 1 - *p);
	*p = colon + 1;
	return true;
}

static enum smtp_path_error parse_params(struct slice s, struct smtp_path *path)
{
	while (s.len > 0) {
		if (s.p[0] == ' ') {
			s.p++;
			s.len--;
			continue;
		}
		struct slice tok, rest;
		slice_token(s, &tok, &rest);
		s = rest;
		if (path->n_params == SMTP_PARAMS_MAX)
			return SMTP_PATH_EPARAM;
		struct smtp_param *pm = &path->params[path->n_params++];
		const char *eq = memchr(tok.p, '=', tok.len);
		pm->key = (struct slice){tok.p, eq != NULL ? (size_t)(eq - tok.p) : tok.len};
		pm->has_value = eq != NULL;
		if (eq != NULL)
			pm->value = (struct slice){eq + 1, tok.len - pm->key.len - 1};
		if (pm->key.len == 0 || !isalnum((unsigned char)pm->key.p[0]))
			return SMTP_PATH_EPARAM;
		for (size_t i = 0; i < pm->key.len; i++)
			if (!isalnum((unsigned char)pm->key.p[i]) && pm->key.p[i] != '-')
				return SMTP_PATH_EPARAM;
		if (pm->has_value && pm->value.len == 0)
			return SMTP_PATH_EPARAM;
		for (size_t i = 0; i < pm->value.len; i++) {
			unsigned char c = (unsigned char)pm->value.p[i];
			/* esmtp-value: %d33-60 / %d62-126, UTF-8 with SMTPUTF8 */
			if (c == '=' || c < 0x21 || c == 0x7f)
				return SMTP_PATH_EPARAM;
		}
	}
	return SMTP_PATH_OK;
}

enum smtp_path_error smtp_parse_path(struct slice arg, bool allow_null, bool utf8,
				     struct smtp_path *path_r)
{
	memset(path_r, 0, sizeof(*path_r));
	if (arg.len > 0 && arg.p[0] == ' ') { /* "MAIL FROM: <a@b>" is common */
		arg.p++;
		arg.len--;
	}
	if (arg.len == 0 || arg.p[0] != '<')
		return SMTP_PATH_ESYNTAX;
	/* the closing '>' is the first one outside a quoted string */
	size_t end = 1;
	bool quoted = false;
	for (; end < arg.len; end++) {
		char c = arg.p[end];
		if (quoted && c == '\\') {
			end++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (c == '>' && !quoted)
			break;
	}
	if (end >= arg.len)
		return SMTP_PATH_ESYNTAX;
	const char *p = arg.p + 1;
	size_t len = end - 1;
	struct slice params = {arg.p + end + 1, arg.len - end - 1};
	if (params.len > 0 && params.p[0] != ' ')
		return SMTP_PATH_ESYNTAX;
	if (len > SMTP_PATH_MAX)
		return SMTP_PATH_ETOOLONG;

	enum smtp_path_error e;
	if (len == 0) {
		if (!allow_null)
			return SMTP_PATH_ESYNTAX;
		path_r->flags |= SMTP_PATH_NULL;
	} else if (len == 10 && strncasecmp(p, "postmaster", 10) == 0) {
		memcpy(path_r->address, "postmaster", 11);
		path_r->local_len = 10;
		path_r->flags |= SMTP_PATH_POSTMASTER;
	} else {
		if (p[0] == '@') {
			if (!skip_route(&p, &len))
				return SMTP_PATH_ESYNTAX;
			path_r->flags |= SMTP_PATH_ROUTE;
		}
		if ((e = parse_mailbox(p, len, utf8, path_r)) != SMTP_PATH_OK)
			return e;
	}
	return parse_params(params, path_r);
}
