/* SPDX-License-Identifier: MIT */
/*
 * smtp_reply.c - see smtp_reply.h. One octet at a time: each is judged by
 * its position in the line (code digits, separator, text), so the state is
 * the position, the code so far and whether a CR is pending.
 */
#include "queue/smtp_reply.h"

#include <string.h>
#include <strings.h>

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static enum smtp_reply_status bad(struct smtp_reply *r, enum smtp_reply_error e)
{
	r->error = e;
	r->done = true;
	return SMTP_REPLY_BAD;
}

/* RFC 5321 §4.2: Reply-code = %x32-35 %x30-35 %x30-39 */
static bool code_digit(size_t pos, char c)
{
	static const char lo[3] = {'2', '0', '0'}, hi[3] = {'5', '5', '9'};
	return c >= lo[pos] && c <= hi[pos];
}

/* The line is complete (its LF was consumed). */
static enum smtp_reply_status line_done(struct smtp_reply *r)
{
	if (r->pos < 3)
		return bad(r, SMTP_REPLY_ERR_CODE);
	if (r->pos == 3)
		r->last = true; /* "250" CRLF: a last line without text */
	r->text[r->text_len] = '\0';
	r->lines++;
	if (r->last) {
		r->done = true;
		return SMTP_REPLY_DONE;
	}
	if (r->lines >= SMTP_REPLY_LINES_MAX)
		return bad(r, SMTP_REPLY_ERR_TOO_MANY_LINES);
	return SMTP_REPLY_LINE;
}

static enum smtp_reply_status octet(struct smtp_reply *r, char c)
{
	if (r->cr) {
		if (c != '\n')
			return bad(r, SMTP_REPLY_ERR_CONTROL); /* CR alone */
		r->cr = false;
		return line_done(r);
	}
	if (c == '\n')
		return line_done(r);
	if (c == '\r') {
		r->cr = true;
		return SMTP_REPLY_MORE;
	}
	if (r->pos >= SMTP_REPLY_LINE_MAX)
		return bad(r, SMTP_REPLY_ERR_LONG_LINE);
	if (r->pos < 3) {
		if (!code_digit(r->pos, c))
			return bad(r, SMTP_REPLY_ERR_CODE);
		r->line_code = r->line_code * 10 + (c - '0');
		if (++r->pos == 3) {
			if (r->lines == 0)
				r->code = r->line_code;
			else if (r->line_code != r->code)
				return bad(r, SMTP_REPLY_ERR_MIXED);
		}
		return SMTP_REPLY_MORE;
	}
	if (r->pos == 3) {
		if (c != '-' && c != ' ')
			return bad(r, SMTP_REPLY_ERR_SEPARATOR);
		r->last = c == ' ';
		r->pos++;
		return SMTP_REPLY_MORE;
	}
	/* textstring = 1*(%d09 / %d32-126), plus UTF-8 (RFC 6531 §3.7.4) */
	if (((unsigned char)c < 32 && c != '\t') || c == 127)
		return bad(r, SMTP_REPLY_ERR_CONTROL);
	r->text[r->text_len++] = c;
	r->pos++;
	return SMTP_REPLY_MORE;
}

enum smtp_reply_status smtp_reply_feed(struct smtp_reply *r, const char *in, size_t len,
				       size_t *used_r)
{
	*used_r = 0;
	if (r->done)
		return r->error != SMTP_REPLY_OK ? SMTP_REPLY_BAD : SMTP_REPLY_DONE;
	if (r->pos == 0 && !r->cr) { /* a new line: the last one's text goes */
		r->text_len = 0;
		r->text[0] = '\0';
		r->line_code = 0;
	}
	for (size_t i = 0; i < len; i++) {
		enum smtp_reply_status st = octet(r, in[i]);
		if (st == SMTP_REPLY_MORE)
			continue;
		*used_r = i + 1;
		if (st == SMTP_REPLY_LINE) {
			r->pos = 0;
			r->last = false;
		}
		return st;
	}
	*used_r = len;
	return SMTP_REPLY_MORE;
}

const char *smtp_reply_error_text(enum smtp_reply_error e)
{
	switch (e) {
	case SMTP_REPLY_OK:
		return "no error";
	case SMTP_REPLY_ERR_CODE:
		return "a line without a valid reply code";
	case SMTP_REPLY_ERR_SEPARATOR:
		return "no space or hyphen after the reply code";
	case SMTP_REPLY_ERR_MIXED:
		return "different reply codes in one reply";
	case SMTP_REPLY_ERR_CONTROL:
		return "a control character or stray CR";
	case SMTP_REPLY_ERR_LONG_LINE:
		return "a line over 2048 octets";
	case SMTP_REPLY_ERR_TOO_MANY_LINES:
		return "more than 128 lines";
	}
	return "malformed";
}

/* --- EHLO keywords -------------------------------------------------------- */

/* The next space-separated word of text[*i..len) */
static bool word(const char *text, size_t len, size_t *i, const char **w_r, size_t *n_r)
{
	while (*i < len && text[*i] == ' ')
		(*i)++;
	size_t s = *i;
	while (*i < len && text[*i] != ' ')
		(*i)++;
	*w_r = text + s;
	*n_r = *i - s;
	return *n_r > 0;
}

static bool is(const char *w, size_t n, const char *kw)
{
	return strlen(kw) == n && strncasecmp(w, kw, n) == 0;
}

void smtp_ehlo_line(struct smtp_ehlo *e, const char *text, size_t len)
{
	const char *w;
	size_t n, i = 0;

	if (!word(text, len, &i, &w, &n))
		return;
	/* the obsolete "AUTH=PLAIN LOGIN" form: the first mechanism follows '=' */
	if (n > 5 && strncasecmp(w, "AUTH=", 5) == 0) {
		i = (size_t)(w - text) + 5;
		n = 4;
	}
	if (is(w, n, "STARTTLS"))
		e->starttls = true;
	else if (is(w, n, "PIPELINING"))
		e->pipelining = true;
	else if (is(w, n, "8BITMIME"))
		e->eightbit = true;
	else if (is(w, n, "SMTPUTF8"))
		e->smtputf8 = true;
	else if (is(w, n, "DSN"))
		e->dsn = true;
	else if (is(w, n, "SIZE")) {
		e->size = true;
		uint64_t v = 0;
		bool ok = word(text, len, &i, &w, &n) && n <= 19;
		for (size_t k = 0; ok && k < n; k++) {
			ok = w[k] >= '0' && w[k] <= '9';
			v = v * 10 + (uint64_t)(w[k] - '0');
		}
		e->size_max = ok ? v : 0;
	} else if (is(w, n, "AUTH")) {
		while (word(text, len, &i, &w, &n))
			if (is(w, n, "PLAIN"))
				e->auth_plain = true;
	}
}
