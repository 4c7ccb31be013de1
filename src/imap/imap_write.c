/* SPDX-License-Identifier: MIT */
/* imap_write.c - IMAP strings in responses; see imap_write.h. */
#include "imap/imap_write.h"

#include <string.h>
#include <strings.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD for a NUL */

bool imap_is_atom_char(unsigned char c)
{
	/* atom-specials: ( ) { SP CTL % * " \ ] and 8-bit octets */
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

void imap_write_literal(struct buf *out, const char *s, size_t n)
{
	size_t nuls = 0;
	for (size_t i = 0; i < n; i++)
		nuls += s[i] == '\0';
	buf_printf(out, "{%zu}\r\n", n + nuls * (sizeof(REPLACEMENT) - 2));
	if (nuls == 0) {
		buf_append(out, s, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\0')
			buf_append_str(out, REPLACEMENT);
		else
			buf_append_c(out, s[i]);
	}
}

/* Whether s must be a literal rather than a quoted string. */
static bool needs_literal(const char *s, size_t n)
{
	unsigned specials = 0;
	if (n > IMAP_QUOTED_MAX)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			if (++specials > IMAP_QUOTED_MAX_ESCAPES)
				return true;
		} else if (c == '\r' || c == '\n' || c == '\0' || c >= 0x80) {
			return true;
		}
	}
	return false;
}

static void write_quoted(struct buf *out, const char *s, size_t n)
{
	buf_reserve(out, n + 2);
	buf_append_c(out, '"');
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"' || s[i] == '\\')
			buf_append_c(out, '\\');
		buf_append_c(out, s[i]);
	}
	buf_append_c(out, '"');
}

void imap_write_string(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		n = 0, s = "";
	if (needs_literal(s, n))
		imap_write_literal(out, s, n);
	else
		write_quoted(out, s, n);
}

void imap_write_nstring(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		buf_append_str(out, "NIL");
	else
		imap_write_string(out, s, n);
}

void imap_write_nstr(struct buf *out, const char *s)
{
	imap_write_nstring(out, s, s != NULL ? strlen(s) : 0);
}

void imap_write_astring(struct buf *out, const char *s, size_t n)
{
	bool atom = s != NULL && n > 0 && !(n == 3 && strncasecmp(s, "NIL", 3) == 0);
	for (size_t i = 0; atom && i < n; i++)
		atom = imap_is_atom_char((unsigned char)s[i]) || s[i] == ']';
	if (atom)
		buf_append(out, s, n);
	else
		imap_write_string(out, s, n);
}

void imap_write_nstr_nolf(struct buf *out, const char *s)
{
	if (s == NULL || strpbrk(s, "\r\n") == NULL) {
		imap_write_nstr(out, s);
		return;
	}
	struct buf v = {0};
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] != '\r' && s[i] != '\n')
			buf_append_c(&v, s[i]);
		else if (s[i + 1] != ' ' && s[i + 1] != '\t' && s[i + 1] != '\r' &&
			 s[i + 1] != '\n' && s[i + 1] != '\0')
			buf_append_c(&v, ' ');
	}
	imap_write_string(out, v.data != NULL ? v.data : "", v.len);
	buf_free(&v);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Dovecot's imap_append_string_for_humans(): anything to change (white
   space, quoted-specials, 8-bit) makes it a literal of the cleaned text. */
void imap_write_text(struct buf *out, const char *s, size_t n)
{
	bool prefix = true, last_space = true, modify = false;
	size_t remove = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_space((char)c)) {
			modify = modify || c != ' ';
			if (last_space) {
				modify = true;
				remove++;
			}
			last_space = true;
		} else {
			modify = modify || c == '\0' || c == '"' || c == '\\' || c >= 0x80;
			last_space = false;
			prefix = false;
		}
	}
	if (last_space && n > 0 && !prefix) {
		modify = true;
		remove++;
	}
	if (!modify) {
		imap_write_string(out, s, n);
		return;
	}
	if (remove == n) {
		buf_append_str(out, "\"\"");
		return;
	}
	buf_printf(out, "{%zu}\r\n", n - remove);
	last_space = true;
	prefix = true;
	for (size_t i = 0; i < n; i++) {
		if (is_space(s[i])) {
			if (!last_space)
				buf_append_c(out, ' ');
			last_space = true;
			continue;
		}
		/* NUL as 0x80, as Dovecot does; mailroom's header values
		   have none (they hold U+FFFD instead) */
		buf_append_c(out, s[i] == '\0' ? (char)0x80 : s[i]);
		last_space = false;
		prefix = false;
	}
	if (last_space && n > 0 && !prefix)
		out->data[--out->len] = '\0';
}
