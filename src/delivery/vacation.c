/* SPDX-License-Identifier: MIT */
/*
 * vacation.c - see vacation.h.
 *
 * The check reads the header once. Address fields are parsed as RFC 5322
 * §3.4 has them, obsolete forms included (§4.4): a small lexer drops
 * comments and white space (folding is already undone by mime_fields_next)
 * and gives words, quoted strings, domain literals and the specials; the
 * parser then takes the addr-spec inside an angle-addr, or the bare one,
 * of every mailbox, inside groups too, and skips display names and source
 * routes. Addresses compare as the store keeps them: case-insensitively,
 * a quoted local part by its content (RFC 5321 §4.1.2: "a"@x is a@x).
 */
#include "delivery/vacation.h"
#include "mime/mime.h"
#include "util/base64.h"
#include "util/log.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LINE_SOFT 78	  /* RFC 5322 §2.1.1: lines SHOULD stay within 78 */
#define MSGID_MAX 250	  /* a longer message identifier is dropped, not folded */
#define REFERENCES_MAX 40 /* the first identifier and the newest others */

static const char *const skip_names[] = {
    "send", "no-sender",     "auto-submitted", "precedence",
    "list", "not-addressed", "special-sender", "self",
};

const char *vacation_skip_name(enum vacation_skip s)
{
	return (size_t)s < N_ELEMENTS(skip_names) ? skip_names[s] : "?";
}

/* --- the lexer of structured field values (RFC 5322 §3.2) --------------------- */

enum tok_kind { TOK_END, TOK_WORD, TOK_QUOTED, TOK_LITERAL, TOK_SPECIAL };

struct tok {
	enum tok_kind kind;
	const char *s; /* the raw text, quotes and brackets included */
	size_t n;
};

struct lex {
	const char *p, *end;
};

/* A value to read; an empty buf has no data at all. */
static struct lex lex_of(const char *v, size_t n)
{
	return v != NULL ? (struct lex){v, v + n} : (struct lex){"", ""};
}

static bool is_special(char c)
{
	return c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':';
}

/* Skips white space and comments (nested, with quoted pairs); an unclosed
   comment runs to the end of the value. */
static void skip_cfws(struct lex *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->p++;
			continue;
		}
		if (c != '(')
			return;
		int depth = 0;
		while (lx->p < lx->end) {
			c = *lx->p++;
			if (c == '\\' && lx->p < lx->end)
				lx->p++;
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
		}
	}
}

/* The span up to the unescaped closing character (or the end). */
static void delimited(struct lex *lx, char close)
{
	for (lx->p++; lx->p < lx->end; lx->p++) {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		else if (*lx->p == close) {
			lx->p++;
			return;
		}
	}
}

static struct tok lex_next(struct lex *lx)
{
	skip_cfws(lx);
	struct tok t = {TOK_END, lx->p, 0};
	if (lx->p == lx->end)
		return t;
	char c = *lx->p;
	if (is_special(c)) {
		t.kind = TOK_SPECIAL;
		lx->p++;
	} else if (c == '"' || c == '[') {
		t.kind = c == '"' ? TOK_QUOTED : TOK_LITERAL;
		delimited(lx, c == '"' ? '"' : ']');
	} else {
		/* atext and dots, 8-bit octets (RFC 6532) and any stray character
		   (')', ']', '\'), so that every octet belongs to some token */
		t.kind = TOK_WORD;
		do
			lx->p++;
		while (lx->p < lx->end && !is_special(*lx->p) &&
		       strchr(" \t\r\n(\"[", *lx->p) == NULL);
	}
	t.n = (size_t)(lx->p - t.s);
	return t;
}

static bool tok_is(const struct tok *t, char c)
{
	return t->kind == TOK_SPECIAL && t->s[0] == c;
}

/* --- addresses ------------------------------------------------------------------ */

/* Appends a token of an addr-spec in its compared form: lower-cased, a
   quoted string by its content. */
static void canon_append(struct buf *b, const struct tok *t)
{
	const char *s = t->s, *e = t->s + t->n;
	if (t->kind == TOK_QUOTED) {
		s++;
		if (e > s && e[-1] == '"')
			e--;
	}
	for (; s < e; s++) {
		if (t->kind == TOK_QUOTED && *s == '\\' && s + 1 < e)
			s++;
		buf_append_c(b, (char)tolower((unsigned char)*s));
	}
}

/* An address given as a string (the envelope sender, the mailbox's own)
   in the compared form; false if it has no '@' with text on both sides. */
static bool canon_string(const char *a, struct buf *out)
{
	struct lex lx = {a, a + strlen(a)};
	const char *at = strrchr(a, '@');

	buf_clear(out);
	if (at == NULL || at == a || at[1] == '\0')
		return false;
	if (a[0] == '"') { /* a quoted local part: by its content */
		struct tok t = lex_next(&lx);
		canon_append(out, &t);
		buf_append_c(out, '@');
		for (const char *d = at + 1; *d != '\0'; d++)
			buf_append_c(out, (char)tolower((unsigned char)*d));
		return true;
	}
	for (; *a != '\0'; a++)
		buf_append_c(out, (char)tolower((unsigned char)*a));
	return true;
}

/* One addr-spec being read: local part, '@', domain. */
struct spec {
	struct buf addr;
	bool at, domain, bad;
};

static void spec_reset(struct spec *sp)
{
	buf_clear(&sp->addr);
	sp->at = sp->domain = sp->bad = false;
}

static void spec_add(struct spec *sp, const struct tok *t)
{
	if (tok_is(t, '@')) {
		sp->bad |= sp->at || sp->addr.len == 0;
		sp->at = true;
		buf_append_c(&sp->addr, '@');
		return;
	}
	if (sp->at)
		sp->domain = true;
	canon_append(&sp->addr, t);
}

/* What the recipient fields are searched for: the mailbox's addresses in
   compared form, and the first one found. */
struct wanted {
	struct buf *addrs;
	size_t n;
	bool found;
	size_t index;
};

static void spec_done(struct spec *sp, struct wanted *w)
{
	if (!w->found && sp->at && sp->domain && !sp->bad)
		for (size_t i = 0; i < w->n; i++)
			if (w->addrs[i].len == sp->addr.len &&
			    memcmp(w->addrs[i].data, sp->addr.data, sp->addr.len) == 0) {
				w->found = true;
				w->index = i;
				break;
			}
	spec_reset(sp);
}

/* address-list (RFC 5322 §3.4, §4.4): mailboxes, groups of them,
   display names, angle-addrs with obsolete source routes. */
static void address_list(const char *v, size_t n, struct spec *sp, struct wanted *w)
{
	struct lex lx = lex_of(v, n);
	bool in_angle = false, angle_done = false;

	spec_reset(sp);
	for (struct tok t; (t = lex_next(&lx)).kind != TOK_END;) {
		if (in_angle) {
			if (tok_is(&t, '>')) {
				in_angle = false;
				angle_done = true;
			} else if (tok_is(&t, ':')) {
				spec_reset(sp); /* the end of a route: @a,@b:user@c */
			} else if (tok_is(&t, '<') || tok_is(&t, ';')) {
				sp->bad = true;
			} else if (!tok_is(&t, ',')) {
				spec_add(sp, &t);
			}
			continue;
		}
		if (tok_is(&t, '<')) {
			spec_reset(sp); /* what came before was the display name */
			sp->bad = angle_done;
			in_angle = true;
		} else if (tok_is(&t, ',') || tok_is(&t, ';')) {
			spec_done(sp, w);
			angle_done = false;
		} else if (tok_is(&t, ':')) {
			spec_reset(sp); /* a group's display name */
			angle_done = false;
		} else if (!angle_done && !tok_is(&t, '>')) {
			spec_add(sp, &t);
		}
	}
	spec_done(sp, w);
}

/* RFC 3834 §2 names the local parts of list software and bounce handlers
   that must not get answers; mailboxes that say they read nothing
   (noreply) join them. The part after a '+' (a subaddress, or a VERP
   address such as list-bounces+user=example.org) does not count. */
static bool special_local(const char *local, size_t n)
{
	static const char *const exact[] = {"mailer-daemon", "listserv", "majordomo"};
	static const char *const prefix[] = {"owner-",	    "noreply",	  "no-reply",
					     "no_reply",    "donotreply", "do-not-reply",
					     "do_not_reply"};
	static const char *const suffix[] = {"-owner",	"-request", "-bounces",
					     "-bounce", "-noreply", "-no-reply"};
	const char *plus = memchr(local, '+', n);
	if (plus != NULL && plus > local)
		n = (size_t)(plus - local);
	for (size_t i = 0; i < N_ELEMENTS(exact); i++)
		if (strlen(exact[i]) == n && strncasecmp(local, exact[i], n) == 0)
			return true;
	for (size_t i = 0; i < N_ELEMENTS(prefix); i++) {
		size_t k = strlen(prefix[i]);
		if (n >= k && strncasecmp(local, prefix[i], k) == 0)
			return true;
	}
	for (size_t i = 0; i < N_ELEMENTS(suffix); i++) {
		size_t k = strlen(suffix[i]);
		if (n > k && strncasecmp(local + n - k, suffix[i], k) == 0)
			return true;
	}
	return false;
}

/* --- header fields ---------------------------------------------------------------- */

/* The first token of a field value (after comments), e.g. Auto-Submitted's
   keyword before any parameters (RFC 3834 §5.1). */
static struct slice first_word(const struct buf *v)
{
	struct lex lx = lex_of(v->data, v->len);
	skip_cfws(&lx);
	const char *s = lx.p;
	while (lx.p < lx.end && strchr(" \t;(", *lx.p) == NULL)
		lx.p++;
	return (struct slice){s, (size_t)(lx.p - s)};
}

/* Whether a comma- or space-separated value holds one of the words. */
static bool has_word(const struct buf *v, const char *const *words, size_t n)
{
	for (size_t i = 0; i < v->len;) {
		while (i < v->len && strchr(" \t,;", v->data[i]) != NULL)
			i++;
		size_t s = i;
		while (i < v->len && strchr(" \t,;", v->data[i]) == NULL)
			i++;
		for (size_t k = 0; k < n && i > s; k++)
			if (slice_eq_ci((struct slice){v->data + s, i - s}, words[k]))
				return true;
	}
	return false;
}

enum vacation_skip vacation_check(const char *msg, size_t len, const char *sender,
				  const char *const *addrs, size_t n, size_t *matched_r)
{
	static const char *const bulk[] = {"bulk", "list", "junk", "auto_reply"};
	static const char *const suppress[] = {"all", "oof", "autoreply"};
	struct buf from = {0}, value = {0};
	struct spec sp = {0};
	struct wanted w = {.addrs = xcalloc(n > 0 ? n : 1, sizeof(struct buf)), .n = n};
	enum vacation_skip r = VACATION_SEND;
	bool automatic = false, precedence = false, list = false;

	/* §2: never to the null sender, nor to one nobody could name */
	if (sender == NULL || !canon_string(sender, &from)) {
		r = VACATION_NO_SENDER;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		canon_string(addrs[i], &w.addrs[i]);
		if (w.addrs[i].len == from.len && memcmp(w.addrs[i].data, from.data, from.len) == 0)
			r = VACATION_SELF;
	}
	if (r != VACATION_SEND)
		goto out;
	const char *at = strrchr(from.data, '@');
	if (special_local(from.data, (size_t)(at - from.data))) {
		r = VACATION_SPECIAL_SENDER;
		goto out;
	}

	struct mime_fields it;
	struct slice name;
	mime_fields_begin(&it, msg, len);
	while (mime_fields_next(&it, &name, &value)) {
		if (slice_eq_ci(name, "Auto-Submitted")) {
			/* §5: anything but "no" (any case, comments and parameters
			   aside) is automatic; an empty value too */
			automatic |= !slice_eq_ci(first_word(&value), "no");
		} else if (slice_eq_ci(name, "X-Auto-Response-Suppress")) {
			/* Exchange's way of asking for no out-of-office answer */
			automatic |= has_word(&value, suppress, N_ELEMENTS(suppress));
		} else if (slice_eq_ci(name, "Precedence")) {
			struct slice p = first_word(&value);
			for (size_t i = 0; i < N_ELEMENTS(bulk); i++)
				precedence |= slice_eq_ci(p, bulk[i]);
		} else if ((name.len > 5 && strncasecmp(name.p, "List-", 5) == 0) ||
			   slice_eq_ci(name, "Mailing-List") ||
			   slice_eq_ci(name, "X-Mailing-List")) {
			/* RFC 2369 and RFC 2919 fields, and ezmlm's and older
			   lists' own: list traffic */
			list = true;
		} else if (slice_eq_ci(name, "To") || slice_eq_ci(name, "Cc") ||
			   slice_eq_ci(name, "Bcc") || slice_eq_ci(name, "Resent-To") ||
			   slice_eq_ci(name, "Resent-Cc") || slice_eq_ci(name, "Resent-Bcc")) {
			address_list(value.data, value.len, &sp, &w);
		}
	}
	r = automatic	 ? VACATION_AUTO_SUBMITTED
	    : precedence ? VACATION_PRECEDENCE
	    : list	 ? VACATION_LIST
	    : !w.found	 ? VACATION_NOT_ADDRESSED
			 : VACATION_SEND;
	if (r == VACATION_SEND && matched_r != NULL)
		*matched_r = w.index;
out:
	for (size_t i = 0; i < n; i++)
		buf_free(&w.addrs[i]);
	free(w.addrs);
	buf_free(&from);
	buf_free(&value);
	buf_free(&sp.addr);
	return r;
}

/* --- the reply ---------------------------------------------------------------------- */

/* Text from the store or the envelope in a header line: a control
   character (CR, LF above all) becomes a space, so it can never end the
   line or add a field. */
static void put_clean(struct buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_append_c(out, (unsigned char)s[i] < 32 || s[i] == 127 ? ' ' : s[i]);
}

static bool is_ascii(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static size_t longest_word(const char *s, size_t n)
{
	size_t max = 0, run = 0;
	for (size_t i = 0; i < n; i++) {
		run = s[i] == ' ' ? 0 : run + 1;
		max = run > max ? run : max;
	}
	return max;
}

/* "Subject: " and the text, folded before spaces to stay near 78 octets;
   text that is not ASCII (or has a word no line could hold) as RFC 2047
   encoded-words of UTF-8 in base64, each line within 76 octets (§2), never
   splitting a UTF-8 sequence. */
static void put_subject(struct buf *out, const char *text, size_t n)
{
	struct buf t = {0};
	size_t col = 9;

	put_clean(&t, text, n);
	while (t.len > 0 && t.data[t.len - 1] == ' ')
		t.len--; /* no white space at the end: a fold there would end the header */
	buf_append_str(out, "Subject: ");
	if (is_ascii(t.data, t.len) && longest_word(t.data, t.len) < 900) {
		for (size_t i = 0; i < t.len; i++) {
			if (t.data[i] == ' ' && col > 9) {
				size_t w = 1;
				while (i + w < t.len && t.data[i + w] != ' ')
					w++;
				if (col + w > LINE_SOFT) {
					buf_append_str(out, "\r\n");
					col = 0;
				}
			}
			buf_append_c(out, t.data[i]);
			col++;
		}
	} else {
		/* 39 octets make 52 base64 characters: 64 with =?UTF-8?B? and ?= */
		for (size_t i = 0; i < t.len;) {
			size_t k = t.len - i < 39 ? t.len - i : 39;
			while (k < t.len - i && k > 1 &&
			       ((unsigned char)t.data[i + k] & 0xc0) == 0x80)
				k--;
			if (i > 0)
				buf_append_str(out, "\r\n ");
			buf_append_str(out, "=?UTF-8?B?");
			base64_encode(out, t.data + i, k);
			buf_append_str(out, "?=");
			i += k;
		}
	}
	buf_append_str(out, "\r\n");
	buf_free(&t);
}

/* The message identifiers of a field value (msg-id, RFC 5322 §3.6.4), in
   order, as slices of v; at most max. Anything else in the value (phrases
   of the obsolete syntax, comments, junk) is passed over. */
static size_t msg_ids(const struct buf *v, struct slice *ids, size_t max)
{
	struct lex lx = lex_of(v->data, v->len);
	size_t k = 0;

	for (struct tok t; (t = lex_next(&lx)).kind != TOK_END;) {
		if (!tok_is(&t, '<'))
			continue;
		const char *s = t.s;
		bool at = false, ok = true;
		while ((t = lex_next(&lx)).kind != TOK_END && !tok_is(&t, '>')) {
			at |= tok_is(&t, '@');
			ok &= t.kind != TOK_SPECIAL || tok_is(&t, '@');
		}
		if (t.kind == TOK_END)
			break;
		size_t n = (size_t)(t.s + 1 - s);
		/* printable ASCII alone, no white space or comment inside: the
		   id as it was written, safe to copy into a field */
		ok &= at && n <= MSGID_MAX;
		for (size_t i = 0; i < n && ok; i++)
			ok = s[i] > ' ' && s[i] < 127 && s[i] != '(';
		if (ok && k < max) {
			ids[k++] = (struct slice){s, n};
		} else if (ok && max > 2) { /* keep the first and the newest */
			memmove(ids + 1, ids + 2, (max - 2) * sizeof(*ids));
			ids[max - 1] = (struct slice){s, n};
		}
	}
	return k;
}

/* In-Reply-To and References as RFC 3834 §3.1.4 and RFC 5322 §3.6.4 make
   them: the parent's Message-ID; its References (or else its In-Reply-To
   when that holds one identifier) followed by its Message-ID. */
static void put_threading(struct buf *out, const char *msg, size_t len)
{
	struct slice refs[REFERENCES_MAX + 1], id, irt[2];
	struct buf v = {0};
	size_t n = 0, has_id = 0;

	if (mime_header_get(msg, len, "References", &v))
		n = msg_ids(&v, refs, REFERENCES_MAX);
	/* refs point into the value they came from: each field its own buf */
	struct buf iv = {0}, mv = {0};
	if (n == 0 && mime_header_get(msg, len, "In-Reply-To", &iv) && msg_ids(&iv, irt, 2) == 1)
		refs[n++] = irt[0];
	if (mime_header_get(msg, len, "Message-ID", &mv))
		has_id = msg_ids(&mv, &id, 1);
	if (has_id) {
		buf_append_str(out, "In-Reply-To: ");
		buf_append(out, id.p, id.len);
		buf_append_str(out, "\r\n");
		refs[n++] = id;
	}
	if (n > 0) {
		size_t col = 11;
		buf_append_str(out, "References:");
		for (size_t i = 0; i < n; i++) {
			if (col > 11 && col + 1 + refs[i].len > LINE_SOFT) {
				buf_append_str(out, "\r\n");
				col = 0;
			}
			buf_append_c(out, ' ');
			buf_append(out, refs[i].p, refs[i].len);
			col += 1 + refs[i].len;
		}
		buf_append_str(out, "\r\n");
	}
	buf_free(&v);
	buf_free(&iv);
	buf_free(&mv);
}

/* text with every line end (CRLF, LF or a lone CR) made CRLF, ending in
   one; whether it needs quoted-printable: 8-bit octets, or a line longer
   than SMTP carries (RFC 5321 §4.5.3.1.6). */
static bool body_lines(const char *text, struct buf *b)
{
	size_t run = 0, longest = 0;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			p += p[0] == '\r' && p[1] == '\n';
			buf_append_str(b, "\r\n");
			run = 0;
			continue;
		}
		buf_append_c(b, *p);
		longest = ++run > longest ? run : longest;
	}
	if (b->len > 0 && b->data[b->len - 1] != '\n')
		buf_append_str(b, "\r\n");
	return !is_ascii(b->data, b->len) || longest > 998;
}

void vacation_reply_build(struct buf *out, const char *hostname, const char *from, const char *to,
			  const char *subject, const char *text, const char *msg, size_t len)
{
	struct buf v = {0}, body = {0};
	unsigned char rnd[16];
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	buf_append_str(out, "From: <");
	put_clean(out, from, strlen(from));
	buf_append_str(out, ">\r\nTo: <");
	put_clean(out, to, strlen(to));
	buf_append_str(out, ">\r\n");
	if (subject != NULL && subject[0] != '\0') {
		put_subject(out, subject, strlen(subject));
	} else {
		/* §3.1.5: "Auto:" and the subject of the message answered */
		buf_append_str(&v, "Auto: ");
		struct buf orig = {0};
		if (mime_header_get(msg, len, "Subject", &orig))
			buf_append(&v, orig.data, orig.len);
		put_subject(out, v.data, v.len);
		buf_free(&orig);
	}
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		log_panic("RAND_bytes failed");
	buf_printf(out, "Date: %s\r\nMessage-ID: <", date);
	for (size_t i = 0; i < sizeof(rnd); i++)
		buf_printf(out, "%02x", rnd[i]);
	buf_append_str(out, ".auto@");
	put_clean(out, hostname, strlen(hostname));
	/* §5: what this is; X-Auto-Response-Suppress keeps Exchange from
	   answering it in turn */
	buf_append_str(out, ">\r\nAuto-Submitted: auto-replied\r\n"
			    "X-Auto-Response-Suppress: All\r\n");
	put_threading(out, msg, len);
	bool qp = body_lines(text != NULL ? text : "", &body);
	buf_printf(out,
		   "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
		   "Content-Transfer-Encoding: %s\r\n\r\n",
		   qp ? "quoted-printable" : "7bit");
	if (qp)
		mime_qp_encode(body.data, body.len, out);
	else
		buf_append(out, body.data, body.len);
	buf_free(&v);
	buf_free(&body);
}
