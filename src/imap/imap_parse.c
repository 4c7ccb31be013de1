/* SPDX-License-Identifier: MIT */
/*
 * imap_parse.c - see imap_parse.h. Two layers. The framer walks the
 * caller's bytes: it looks for the LF that ends a line piece (resuming where
 * it stopped, P3) and counts a literal's octets. The tokeniser turns one
 * complete line piece into nodes in one go. So the state kept between calls
 * is always at a piece boundary - looking for an LF, or inside a literal -
 * and a cut in the input can change nothing but the number of MORE results
 * (P1). Nodes hold offsets while the command grows, because the caller's
 * buffer may move between calls; report() turns them into slices and
 * pointers when the command is complete.
 */
#include "imap/imap_parse.h"
#include "proto/line.h"

#include <stdlib.h>
#include <string.h>

enum { PH_LINE, PH_LITERAL_EVENT, PH_LITERAL_BODY, PH_DONE, PH_ERROR };
enum { SK_LINE, SK_LITERAL, SK_DONE };
enum seg_result { SEG_END, SEG_LITERAL, SEG_ERROR };

#define NO_NODE UINT32_MAX
#define KEEP_NODES 256	       /* reset() frees a node array bigger than this */
#define KEEP_STRINGS 4096      /* and a string buffer bigger than this */
#define OFF_MAX (SIZE_MAX / 4) /* offsets stay far from overflow */

/* --- character classes --------------------------------------------------- */

/* The atom octets of this parser: CHAR without SP, CTL, "(", ")", "{",
   DQUOTE and "\" (RFC 9051 atom-specials, but with list-wildcards and
   resp-specials let in, so that sequence sets, patterns and astrings are
   atoms as well; see the header). */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"' && c != '\\';
}

/* tag = 1*<any ASTRING-CHAR except "+"> */
static bool is_tag_char(unsigned char c)
{
	return is_atom_char(c) && c != '%' && c != '*' && c != '+';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static char to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static bool eq_ci(const char *p, size_t n, const char *lit)
{
	size_t i = 0;

	for (; i < n && lit[i] != '\0'; i++)
		if (to_upper(p[i]) != to_upper(lit[i]))
			return false;
	return i == n && lit[i] == '\0';
}

/* Octets of the UTF-8 sequence at p (RFC 3629 §4: no overlong forms, no
   surrogates, nothing above U+10FFFF), or 0 if there is none. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

/* Digits at p[*i..end) as a number up to max; false if there are none or
   the value is above max. */
static bool scan_number(const char *p, size_t *i, size_t end, uint64_t max, uint64_t *v_r)
{
	size_t j = *i;
	uint64_t v = 0;

	while (j < end && is_digit((unsigned char)p[j])) {
		unsigned d = (unsigned)(p[j] - '0');
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
		j++;
	}
	if (j == *i)
		return false;
	*i = j;
	*v_r = v;
	return true;
}

/* --- limits, lifecycle --------------------------------------------------- */

void imap_parse_limits_default(struct imap_parse_limits *lim)
{
	lim->line_max = IMAP_LINE_MAX;
	lim->depth_max = IMAP_DEPTH_MAX;
	lim->nodes_max = IMAP_NODES_MAX;
	lim->literal_max = IMAP_LITERAL_MAX;
	lim->literals_max = IMAP_LITERAL_MAX;
	lim->nonsync_max = IMAP_LITERAL_MINUS_MAX;
}

/* What the arithmetic below relies on, whatever the caller put in lim. */
static void clamp_limits(struct imap_parse_limits *lim)
{
	if (lim->depth_max > IMAP_DEPTH_MAX)
		lim->depth_max = IMAP_DEPTH_MAX;
	if (lim->nodes_max > NO_NODE - 1)
		lim->nodes_max = NO_NODE - 1;
	if (lim->line_max > OFF_MAX)
		lim->line_max = OFF_MAX;
	if (lim->literals_max > OFF_MAX)
		lim->literals_max = OFF_MAX;
	if (lim->literal_max > lim->literals_max)
		lim->literal_max = lim->literals_max;
}

void imap_parser_init(struct imap_parser *ps, const struct imap_parse_limits *lim)
{
	memset(ps, 0, sizeof(*ps));
	if (lim != NULL)
		ps->lim = *lim;
	else
		imap_parse_limits_default(&ps->lim);
	imap_parser_reset(ps);
}

void imap_parser_deinit(struct imap_parser *ps)
{
	free(ps->nodes);
	ps->nodes = NULL;
	ps->cap_nodes = ps->n_nodes = 0;
	buf_free(&ps->strings);
}

void imap_parser_reset(struct imap_parser *ps)
{
	struct imap_parse_limits lim = ps->lim;
	struct imap_node *nodes = ps->nodes;
	size_t cap = ps->cap_nodes;
	struct buf strings = ps->strings;

	/* a client that sent one huge command does not keep the memory */
	if (cap > KEEP_NODES) {
		free(nodes);
		nodes = NULL;
		cap = 0;
	}
	if (strings.cap > KEEP_STRINGS)
		buf_free(&strings);
	else
		buf_clear(&strings);
	memset(ps, 0, sizeof(*ps));
	ps->lim = lim;
	clamp_limits(&ps->lim);
	ps->nodes = nodes;
	ps->cap_nodes = cap;
	ps->strings = strings;
	ps->top_first = ps->top_last = NO_NODE;
}

/* --- the tokeniser --------------------------------------------------------- */

static enum seg_result fail(struct imap_parser *ps, enum imap_parse_error err, const char *text,
			    size_t off)
{
	ps->err = err;
	ps->err_text = text;
	ps->err_off = off;
	return SEG_ERROR;
}

/* A new node, linked as the last child of the open list (or as the last
   top-level argument). NO_NODE when over nodes_max (P6). */
static uint32_t new_node(struct imap_parser *ps, enum imap_node_type type, size_t off)
{
	if (ps->n_nodes >= ps->lim.nodes_max) {
		fail(ps, IMAP_PERR_TOOMANY, "Too many arguments", off);
		return NO_NODE;
	}
	if (ps->n_nodes == ps->cap_nodes) {
		size_t cap = ps->cap_nodes ? ps->cap_nodes * 2 : 16;
		if (cap > ps->lim.nodes_max)
			cap = ps->lim.nodes_max;
		ps->nodes = xrealloc(ps->nodes, cap * sizeof(*ps->nodes));
		ps->cap_nodes = cap;
	}
	uint32_t idx = (uint32_t)ps->n_nodes++;
	struct imap_node *n = &ps->nodes[idx];
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->off_ = off;
	n->child_ = n->next_ = NO_NODE;
	if (ps->depth > 0) {
		struct imap_parser_frame *f = &ps->stack[ps->depth - 1];
		struct imap_node *parent = &ps->nodes[f->node];
		if (f->last == NO_NODE)
			parent->child_ = idx;
		else
			ps->nodes[f->last].next_ = idx;
		f->last = idx;
		parent->count++;
	} else {
		if (ps->top_last == NO_NODE)
			ps->top_first = idx;
		else
			ps->nodes[ps->top_last].next_ = idx;
		ps->top_last = idx;
		ps->argc++;
	}
	return idx;
}

static bool in_section(const struct imap_parser *ps)
{
	return ps->depth > 0 && ps->nodes[ps->stack[ps->depth - 1].node].type == IMAP_NODE_SECTION;
}

static int push(struct imap_parser *ps, uint32_t node, size_t off)
{
	if (ps->depth >= ps->lim.depth_max) {
		fail(ps, IMAP_PERR_TOODEEP, "Too deeply nested", off);
		return -1;
	}
	ps->stack[ps->depth++] = (struct imap_parser_frame){node, NO_NODE};
	return 0;
}

/* tag SP name [SP name after "UID"]; leaves *i after the name. */
static int parse_head(struct imap_parser *ps, const char *p, size_t *i, size_t end)
{
	size_t j = *i, start = j;

	if (j == end) {
		fail(ps, IMAP_PERR_EMPTY, "Empty command", j);
		return -1;
	}
	while (j < end && is_tag_char((unsigned char)p[j]))
		j++;
	if (j == start || (j < end && p[j] != ' ')) {
		fail(ps, IMAP_PERR_SYNTAX, "Invalid tag", j);
		return -1;
	}
	ps->tag_off = start;
	ps->tag_len = j - start;
	ps->have_tag = true;
	for (int round = 0; round < 2; round++) {
		while (j < end && p[j] == ' ')
			j++;
		if (j == end) {
			fail(ps, IMAP_PERR_SYNTAX,
			     round ? "Missing command after UID" : "Missing command", j);
			return -1;
		}
		start = j;
		while (j < end && is_atom_char((unsigned char)p[j]))
			j++;
		if (j == start || (j < end && p[j] != ' ') || j - start > IMAP_NAME_MAX) {
			fail(ps, IMAP_PERR_SYNTAX, "Invalid command name", start);
			return -1;
		}
		for (size_t k = start; k < j; k++)
			ps->name[k - start] = to_upper(p[k]);
		ps->name[j - start] = '\0';
		if (round > 0 || strcmp(ps->name, "UID") != 0)
			break;
		ps->uid = true;
	}
	ps->have_name = true;
	ps->is_fetch = strcmp(ps->name, "FETCH") == 0;
	ps->is_append = strcmp(ps->name, "APPEND") == 0;
	ps->need_sep = true;
	*i = j;
	return 0;
}

/* "<" number "." nz-number ">" after a section's "]" (RFC 9051 partial). */
static int parse_partial(struct imap_parser *ps, uint32_t idx, const char *p, size_t *i, size_t end)
{
	size_t j = *i;
	uint64_t off, count;
	struct imap_node *n = &ps->nodes[idx];

	if (j == end || p[j] != '<')
		return 0;
	j++;
	if (eq_ci(p + n->off_, n->str.len, "BINARY.SIZE") ||
	    !scan_number(p, &j, end, IMAP_NUMBER64_MAX, &off) || j == end || p[j++] != '.' ||
	    !scan_number(p, &j, end, IMAP_NUMBER64_MAX, &count) || count == 0 || j == end ||
	    p[j++] != '>') {
		fail(ps, IMAP_PERR_SYNTAX, "Invalid partial", *i);
		return -1;
	}
	n->flags |= IMAP_NODE_PARTIAL;
	n->num = off;
	n->num2 = count;
	*i = j;
	return 0;
}

static bool is_section_name(const char *p, size_t n)
{
	static const char *const names[] = {"BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK",
					    "BINARY.SIZE"};

	for (size_t k = 0; k < N_ELEMENTS(names); k++)
		if (eq_ci(p, n, names[k]))
			return true;
	return false;
}

/* name "[" spec ( "]" [partial] / SP "(" ...header list... ), the name at
   p[start..open). A header list stays open as a frame; ")" closes it. */
static int parse_section(struct imap_parser *ps, const char *p, size_t *i, size_t end, size_t start,
			 size_t open)
{
	uint32_t idx = new_node(ps, IMAP_NODE_SECTION, start);
	size_t j = open + 1;
	struct imap_section sec;

	if (idx == NO_NODE)
		return -1;
	bool binary = eq_ci(p + start, 6 < open - start ? 6 : open - start, "BINARY");
	while (j < end && is_atom_char((unsigned char)p[j]) && p[j] != ']')
		j++;
	struct slice spec = {p + open + 1, j - open - 1};
	struct imap_node *n = &ps->nodes[idx];
	n->str.len = open - start;
	n->spec.len = spec.len;
	if (j < end && p[j] == ']' && imap_parse_section(spec, binary, &sec) == 0 &&
	    sec.text != IMAP_SECTION_HEADER_FIELDS && sec.text != IMAP_SECTION_HEADER_FIELDS_NOT) {
		*i = j + 1;
		return parse_partial(ps, idx, p, i, end);
	}
	if (j + 1 < end && p[j] == ' ' && p[j + 1] == '(' &&
	    imap_parse_section(spec, binary, &sec) == 0 &&
	    (sec.text == IMAP_SECTION_HEADER_FIELDS ||
	     sec.text == IMAP_SECTION_HEADER_FIELDS_NOT)) {
		n->flags |= IMAP_NODE_FIELDS;
		if (push(ps, idx, j + 1) < 0)
			return -1;
		ps->need_sep = false;
		*i = j + 2;
		return 0;
	}
	fail(ps, IMAP_PERR_SYNTAX, "Invalid section", open);
	return -1;
}

static int parse_atom(struct imap_parser *ps, const char *p, size_t *i, size_t end)
{
	size_t start = *i, j = start;
	uint64_t v;

	if (p[j] == '\\') /* a flag: "\Seen", "\*" */
		j++;
	while (j < end && is_atom_char((unsigned char)p[j])) {
		if (p[j] == '[' && ps->is_fetch && !in_section(ps) && p[start] != '\\' &&
		    is_section_name(p + start, j - start))
			return parse_section(ps, p, i, end, start, j);
		j++;
	}
	if (j == start || (p[start] == '\\' && j == start + 1) ||
	    (j < end && p[j] != ' ' && p[j] != ')')) {
		fail(ps, IMAP_PERR_SYNTAX, "Invalid characters in atom", j);
		return -1;
	}
	size_t k = start;
	enum imap_node_type type = IMAP_NODE_ATOM;
	if (scan_number(p, &k, j, IMAP_NUMBER64_MAX, &v) && k == j)
		type = IMAP_NODE_NUMBER;
	else if (eq_ci(p + start, j - start, "NIL"))
		type = IMAP_NODE_NIL;
	uint32_t idx = new_node(ps, type, start);
	if (idx == NO_NODE)
		return -1;
	struct imap_node *n = &ps->nodes[idx];
	n->str.len = j - start;
	if (type == IMAP_NODE_NUMBER) {
		n->num = v;
		if (v <= UINT32_MAX)
			n->flags |= IMAP_NODE_NUM32;
	}
	*i = j;
	return 0;
}

static int parse_quoted(struct imap_parser *ps, const char *p, size_t *i, size_t end)
{
	size_t start = *i + 1, j = start;
	bool esc = false, eight = false;

	for (;;) {
		if (j == end) {
			fail(ps, IMAP_PERR_SYNTAX, "Unterminated quoted string", j);
			return -1;
		}
		unsigned char c = (unsigned char)p[j];
		if (c == '"')
			break;
		if (c == '\\') {
			if (j + 1 == end || (p[j + 1] != '"' && p[j + 1] != '\\')) {
				fail(ps, IMAP_PERR_SYNTAX, "Invalid escape in quoted string", j);
				return -1;
			}
			esc = true;
			j += 2;
		} else if (c == '\r') { /* TEXT-CHAR has no CR; LF and NUL never get here */
			fail(ps, IMAP_PERR_SYNTAX, "CR in quoted string", j);
			return -1;
		} else if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)p + j, end - j);
			if (n == 0) {
				fail(ps, IMAP_PERR_SYNTAX, "Invalid UTF-8 in quoted string", j);
				return -1;
			}
			eight = true;
			j += n;
		} else {
			j++;
		}
	}
	uint32_t idx = new_node(ps, IMAP_NODE_QUOTED, start);
	if (idx == NO_NODE)
		return -1;
	struct imap_node *n = &ps->nodes[idx];
	n->str.len = j - start;
	if (eight)
		n->flags |= IMAP_NODE_8BIT;
	if (esc) {
		/* the copy is never longer than the line piece: bounded by line_max */
		n->flags |= IMAP_NODE_ESCAPED;
		n->off_ = ps->strings.len;
		for (size_t k = start; k < j; k++) {
			if (p[k] == '\\')
				k++;
			buf_append_c(&ps->strings, p[k]);
		}
		n->str.len = ps->strings.len - n->off_;
	}
	*i = j + 1;
	return 0;
}

/* "{" number64 ["+"] "}" or "~{" ... at the very end of the line piece. */
static enum seg_result parse_literal(struct imap_parser *ps, const char *p, size_t i, size_t end,
				     size_t lf, bool binary)
{
	size_t j = i + (binary ? 2 : 1), digits = j;
	uint64_t size = 0;
	bool nonsync = false;

	while (j < end && is_digit((unsigned char)p[j])) {
		unsigned d = (unsigned)(p[j] - '0');
		size = size > (UINT64_MAX - d) / 10 ? UINT64_MAX : size * 10 + d;
		j++;
	}
	digits = j - digits;
	if (j < end && p[j] == '+') {
		nonsync = true;
		j++;
	}
	if (digits == 0 || j == end || p[j] != '}')
		return fail(ps, IMAP_PERR_SYNTAX, "Invalid literal", i);
	if (j + 1 != end)
		return fail(ps, IMAP_PERR_SYNTAX, "Literal must end the line", i);
	if (binary && !ps->is_append)
		return fail(ps, IMAP_PERR_SYNTAX, "literal8 only in APPEND", i);
	ps->lit_size = size;
	ps->lit_sync = !nonsync;
	ps->lit_binary = binary;
	ps->lit_ann = i;
	if (nonsync && size > ps->lim.nonsync_max)
		return fail(ps, IMAP_PERR_TOOBIG, "Non-synchronizing literal too big", i);
	if (size > ps->lim.literal_max || size > ps->lim.literals_max - ps->lit_total)
		return fail(ps, IMAP_PERR_TOOBIG, "Literal too big", i);
	uint32_t idx = new_node(ps, IMAP_NODE_LITERAL, lf + 1);
	if (idx == NO_NODE)
		return SEG_ERROR;
	struct imap_node *n = &ps->nodes[idx];
	n->str.len = (size_t)size;
	n->flags = (nonsync ? IMAP_NODE_NONSYNC : 0) | (binary ? IMAP_NODE_BINARY : 0);
	ps->lit_total += size;
	ps->lit_start = lf + 1;
	ps->lit_end = lf + 1 + (size_t)size;
	ps->need_sep = true;
	return SEG_LITERAL;
}

/* ")" closing a list, or a header list and then "]" [partial]. */
static int close_frame(struct imap_parser *ps, const char *p, size_t *i, size_t end)
{
	uint32_t idx = ps->stack[--ps->depth].node;
	struct imap_node *n = &ps->nodes[idx];
	size_t j = *i + 1;

	if (n->type == IMAP_NODE_SECTION) {
		/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
		if (n->count == 0 || j == end || p[j] != ']') {
			fail(ps, IMAP_PERR_SYNTAX, "Invalid section", *i);
			return -1;
		}
		j++;
		if (parse_partial(ps, idx, p, &j, end) < 0)
			return -1;
	}
	*i = j;
	return 0;
}

/* The values of one complete line piece p[i..end); lf is its LF. */
static enum seg_result parse_args(struct imap_parser *ps, const char *p, size_t i, size_t end,
				  size_t lf)
{
	for (;;) {
		if (i == end) {
			if (ps->depth > 0)
				return fail(ps, IMAP_PERR_SYNTAX, "Missing ')'", i);
			return SEG_END;
		}
		unsigned char c = (unsigned char)p[i];
		if (c == ' ') {
			ps->need_sep = false;
			i++;
			continue;
		}
		if (c == ')') {
			if (ps->depth == 0)
				return fail(ps, IMAP_PERR_SYNTAX, "Unexpected ')'", i);
			if (close_frame(ps, p, &i, end) < 0)
				return SEG_ERROR;
			ps->need_sep = true;
			continue;
		}
		if (ps->need_sep)
			return fail(ps, IMAP_PERR_SYNTAX,
				    c > 0x20 && c < 0x7f ? "Missing space between arguments"
							 : "Invalid character",
				    i);
		ps->need_sep = true;
		int r = 0;
		if (c == '(') {
			if (in_section(ps)) /* a header list holds astrings only */
				return fail(ps, IMAP_PERR_SYNTAX, "Invalid section", i);
			uint32_t idx = new_node(ps, IMAP_NODE_LIST, i);
			if (idx == NO_NODE || push(ps, idx, i) < 0)
				return SEG_ERROR;
			ps->need_sep = false;
			i++;
		} else if (c == '"') {
			r = parse_quoted(ps, p, &i, end);
		} else if (c == '{') {
			return parse_literal(ps, p, i, end, lf, false);
		} else if (c == '~' && i + 1 < end && p[i + 1] == '{') {
			return parse_literal(ps, p, i, end, lf, true);
		} else {
			r = parse_atom(ps, p, &i, end);
		}
		if (r < 0)
			return SEG_ERROR;
	}
}

static enum seg_result parse_piece(struct imap_parser *ps, const char *p, size_t seg, size_t end,
				   size_t lf)
{
	size_t i = seg;

	if (!ps->have_name && parse_head(ps, p, &i, end) < 0)
		return SEG_ERROR;
	return parse_args(ps, p, i, end, lf);
}

/* --- the framer ------------------------------------------------------------- */

/* Keeps the last sizeof(tail) octets of the line being skipped. */
static void tail_push(struct imap_parser *ps, const char *s, size_t n)
{
	size_t cap = sizeof(ps->tail), keep;

	if (n >= cap) {
		memcpy(ps->tail, s + n - cap, cap);
		ps->tail_len = (uint8_t)cap;
		return;
	}
	keep = cap - n < ps->tail_len ? cap - n : ps->tail_len;
	memmove(ps->tail, ps->tail + ps->tail_len - keep, keep);
	if (n > 0)
		memcpy(ps->tail + keep, s, n);
	ps->tail_len = (uint8_t)(keep + n);
}

/* Does the line end (raw, a CR still there) in a literal announcement?
   XXX an announcement padded with zeros beyond the tail is not seen. */
static bool tail_literal(const char *s, size_t n, uint64_t *size_r, bool *nonsync_r)
{
	size_t d;
	uint64_t v = 0;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (n < 3 || s[n - 1] != '}')
		return false;
	n--;
	*nonsync_r = s[n - 1] == '+';
	if (*nonsync_r)
		n--;
	for (d = n; d > 0 && is_digit((unsigned char)s[d - 1]); d--)
		;
	if (d == n || d == 0 || s[d - 1] != '{')
		return false;
	for (size_t k = d; k < n; k++) {
		unsigned dig = (unsigned)(s[k] - '0');
		v = v > (UINT64_MAX - dig) / 10 ? UINT64_MAX : v * 10 + dig;
	}
	*size_r = v;
	return true;
}

/* The skip state once the line ending at lf is over: a non-synchronizing
   literal announced at its end still comes, a synchronizing one does not. */
static void skip_after_line(struct imap_parser *ps, const char *p, size_t from, size_t lf)
{
	uint64_t size;
	bool nonsync;

	ps->tail_len = 0;
	tail_push(ps, p + from, lf - from);
	ps->skip_pos = lf + 1;
	if (tail_literal(ps->tail, ps->tail_len, &size, &nonsync) && nonsync) {
		ps->skip_phase = SK_LITERAL;
		ps->skip_left = size;
	} else {
		ps->skip_phase = SK_DONE;
	}
	ps->tail_len = 0;
}

static void resolve(struct imap_parser *ps, const char *p)
{
	for (size_t i = 0; i < ps->n_nodes; i++) {
		struct imap_node *n = &ps->nodes[i];
		const char *base = (n->flags & IMAP_NODE_ESCAPED) ? ps->strings.data : p;
		n->str.p = base + n->off_;
		if (n->type == IMAP_NODE_SECTION)
			n->spec.p = p + n->off_ + n->str.len + 1;
		n->child = n->child_ != NO_NODE ? &ps->nodes[n->child_] : NULL;
		n->next = n->next_ != NO_NODE ? &ps->nodes[n->next_] : NULL;
	}
}

static enum imap_parse_result report(struct imap_parser *ps, const char *p,
				     struct imap_command *cmd, enum imap_parse_result r)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->tag =
	    ps->have_tag ? (struct slice){p + ps->tag_off, ps->tag_len} : (struct slice){"", 0};
	memcpy(cmd->name, ps->name, sizeof(cmd->name));
	cmd->uid = ps->uid;
	cmd->lit = (struct imap_literal){ps->lit_size, ps->lit_sync, ps->lit_binary};
	if (r == IMAP_PARSE_ERROR) {
		cmd->err = ps->err;
		cmd->err_text = ps->err_text;
		cmd->err_off = ps->err_off;
	} else if (r == IMAP_PARSE_DONE) {
		resolve(ps, p);
		cmd->args = ps->top_first != NO_NODE ? &ps->nodes[ps->top_first] : NULL;
		cmd->argc = ps->argc;
		cmd->len = ps->lf + 1;
	}
	return r;
}

static enum imap_parse_result error_at(struct imap_parser *ps, const char *p,
				       struct imap_command *cmd)
{
	ps->phase = PH_ERROR;
	return report(ps, p, cmd, IMAP_PARSE_ERROR);
}

/* Looks for the LF of the current line piece and tokenises the piece. */
static enum imap_parse_result feed_line(struct imap_parser *ps, const char *p, size_t len,
					struct imap_command *cmd)
{
	size_t budget = ps->lim.line_max - ps->line_used;
	size_t stop = len < ps->seg + budget ? len : ps->seg + budget;
	const char *lf = NULL, *nul = NULL;

	if (stop < ps->scan) /* less than was there before (P2) */
		return report(ps, p, cmd, IMAP_PARSE_MORE);
	if (stop > ps->scan) {
		lf = memchr(p + ps->scan, '\n', stop - ps->scan);
		size_t upto = lf != NULL ? (size_t)(lf - p) : stop;
		if (upto > ps->scan)
			nul = memchr(p + ps->scan, '\0', upto - ps->scan);
	}
	if (nul != NULL) {
		fail(ps, IMAP_PERR_NUL, "NUL octet in command", (size_t)(nul - p));
		ps->skip_phase = SK_LINE;
		ps->skip_pos = ps->err_off + 1;
		return error_at(ps, p, cmd);
	}
	if (lf == NULL) {
		if (stop > ps->scan)
			ps->scan = stop;
		if (stop - ps->seg < budget)
			return report(ps, p, cmd, IMAP_PARSE_MORE);
		fail(ps, IMAP_PERR_TOOLONG, "Command line too long", stop);
		ps->skip_phase = SK_LINE;
		ps->skip_pos = stop;
		ps->tail_len = 0;
		size_t from = stop - ps->seg > sizeof(ps->tail) ? stop - sizeof(ps->tail) : ps->seg;
		if (stop > from)
			tail_push(ps, p + from, stop - from);
		return error_at(ps, p, cmd);
	}
	size_t at = (size_t)(lf - p), end = at;
	if (end > ps->seg && p[end - 1] == '\r')
		end--;
	ps->lf = at;
	ps->line_used += at + 1 - ps->seg;
	switch (parse_piece(ps, p, ps->seg, end, at)) {
	case SEG_END:
		ps->phase = PH_DONE;
		return report(ps, p, cmd, IMAP_PARSE_DONE);
	case SEG_LITERAL:
		ps->phase = PH_LITERAL_EVENT;
		return report(ps, p, cmd, IMAP_PARSE_LITERAL);
	case SEG_ERROR:
		break;
	}
	skip_after_line(ps, p, at - ps->seg > sizeof(ps->tail) ? at - sizeof(ps->tail) : ps->seg,
			at);
	return error_at(ps, p, cmd);
}

/* Counts the literal's octets as they arrive; NUL only in a literal8. */
static enum imap_parse_result feed_literal(struct imap_parser *ps, const char *p, size_t len,
					   struct imap_command *cmd)
{
	size_t stop = len < ps->lit_end ? len : ps->lit_end;
	struct imap_node *n = &ps->nodes[ps->n_nodes - 1]; /* the literal, made last */

	for (size_t i = ps->lit_scan; i < stop; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '\0' && !ps->lit_binary) {
			fail(ps, IMAP_PERR_NUL, "NUL octet in literal", i);
			ps->skip_phase = SK_LITERAL;
			ps->skip_pos = i;
			ps->skip_left = ps->lit_end - i;
			return error_at(ps, p, cmd);
		}
		if (c >= 0x80)
			n->flags |= IMAP_NODE_8BIT;
	}
	if (stop > ps->lit_scan)
		ps->lit_scan = stop;
	if (stop < ps->lit_end)
		return report(ps, p, cmd, IMAP_PARSE_MORE);
	ps->seg = ps->scan = ps->lit_end;
	ps->phase = PH_LINE;
	return feed_line(ps, p, len, cmd);
}

enum imap_parse_result imap_parser_feed(struct imap_parser *ps, const char *p, size_t len,
					struct imap_command *cmd_r)
{
	switch (ps->phase) {
	case PH_LITERAL_EVENT: /* called again: the caller took the literal */
		ps->phase = PH_LITERAL_BODY;
		ps->lit_scan = ps->lit_start;
		return feed_literal(ps, p, len, cmd_r);
	case PH_LITERAL_BODY:
		return feed_literal(ps, p, len, cmd_r);
	case PH_LINE:
		return feed_line(ps, p, len, cmd_r);
	case PH_DONE:
		return report(ps, p, cmd_r, IMAP_PARSE_DONE);
	default:
		return report(ps, p, cmd_r, IMAP_PARSE_ERROR);
	}
}

void imap_parser_refuse(struct imap_parser *ps)
{
	if (ps->phase != PH_LITERAL_EVENT)
		return;
	fail(ps, IMAP_PERR_REFUSED, "Literal refused", ps->lit_ann);
	ps->phase = PH_ERROR;
	ps->skip_pos = ps->lit_start;
	if (ps->lit_sync) {
		ps->skip_phase = SK_DONE; /* the client waits for a "+" that never comes */
	} else {
		ps->skip_phase = SK_LITERAL;
		ps->skip_left = ps->lit_size;
	}
}

enum imap_parse_result imap_parser_skip(struct imap_parser *ps, const char *p, size_t len,
					size_t *used_r)
{
	size_t pos = ps->skip_pos;

	if (ps->phase != PH_ERROR) {
		*used_r = 0;
		return IMAP_PARSE_DONE;
	}
	if (pos > len) { /* less than was there before: nothing to do yet */
		*used_r = 0;
		return IMAP_PARSE_MORE;
	}
	for (;;) {
		if (ps->skip_phase == SK_DONE) {
			ps->skip_pos = pos;
			*used_r = pos;
			return IMAP_PARSE_DONE;
		}
		if (ps->skip_phase == SK_LITERAL) {
			if (ps->skip_left > len - pos) {
				ps->skip_left -= len - pos;
				ps->skip_pos = 0;
				*used_r = len;
				return IMAP_PARSE_MORE;
			}
			pos += (size_t)ps->skip_left;
			ps->skip_left = 0;
			ps->skip_phase = SK_LINE;
			ps->tail_len = 0;
			continue;
		}
		const char *lf = pos < len ? memchr(p + pos, '\n', len - pos) : NULL;
		if (lf == NULL) {
			if (len > pos)
				tail_push(ps, p + pos, len - pos);
			ps->skip_pos = 0;
			*used_r = len;
			return IMAP_PARSE_MORE;
		}
		size_t at = (size_t)(lf - p);
		tail_push(ps, p + pos, at - pos);
		uint64_t size;
		bool nonsync;
		if (tail_literal(ps->tail, ps->tail_len, &size, &nonsync) && nonsync) {
			ps->skip_phase = SK_LITERAL;
			ps->skip_left = size;
		} else {
			ps->skip_phase = SK_DONE;
		}
		ps->tail_len = 0;
		pos = at + 1;
	}
}

uint64_t imap_parser_skip_pending(const struct imap_parser *ps)
{
	return ps->phase == PH_ERROR && ps->skip_phase == SK_LITERAL ? ps->skip_left : 0;
}

int imap_parse_line(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r,
		    bool *nul_r)
{
	int r = line_find(p, len, max, line_r, used_r);

	*nul_r = r == 1 && line_r->len > 0 && memchr(line_r->p, '\0', line_r->len) != NULL;
	return r;
}

/* --- reading values ------------------------------------------------------ */

bool imap_node_astring(const struct imap_node *n, struct slice *s_r)
{
	if (n == NULL || n->type == IMAP_NODE_LIST || n->type == IMAP_NODE_SECTION ||
	    (n->flags & IMAP_NODE_BINARY))
		return false;
	*s_r = n->str;
	return true;
}

bool imap_node_string(const struct imap_node *n, struct slice *s_r)
{
	if (n == NULL || (n->type != IMAP_NODE_QUOTED && n->type != IMAP_NODE_LITERAL) ||
	    (n->flags & IMAP_NODE_BINARY))
		return false;
	*s_r = n->str;
	return true;
}

bool imap_node_number(const struct imap_node *n, uint64_t max, uint64_t *v_r)
{
	if (n == NULL || n->type != IMAP_NODE_NUMBER || n->num > max)
		return false;
	*v_r = n->num;
	return true;
}

bool imap_node_is(const struct imap_node *n, const char *lit)
{
	return n != NULL &&
	       (n->type == IMAP_NODE_ATOM || n->type == IMAP_NODE_NUMBER ||
		n->type == IMAP_NODE_NIL) &&
	       eq_ci(n->str.p, n->str.len, lit);
}

static void dump_node(const struct imap_node *n, struct buf *out);

static void dump_children(const struct imap_node *n, struct buf *out)
{
	for (const struct imap_node *c = n->child; c != NULL; c = c->next) {
		if (c != n->child)
			buf_append_c(out, ' ');
		dump_node(c, out);
	}
}

static void dump_node(const struct imap_node *n, struct buf *out)
{
	switch (n->type) {
	case IMAP_NODE_ATOM:
	case IMAP_NODE_NUMBER:
	case IMAP_NODE_NIL:
		buf_append(out, n->str.p, n->str.len);
		break;
	case IMAP_NODE_QUOTED:
		buf_append_c(out, '"');
		for (size_t i = 0; i < n->str.len; i++) {
			if (n->str.p[i] == '"' || n->str.p[i] == '\\')
				buf_append_c(out, '\\');
			buf_append_c(out, n->str.p[i]);
		}
		buf_append_c(out, '"');
		break;
	case IMAP_NODE_LITERAL:
		buf_printf(out, "%s{%zu%s}\r\n", (n->flags & IMAP_NODE_BINARY) ? "~" : "",
			   n->str.len, (n->flags & IMAP_NODE_NONSYNC) ? "+" : "");
		buf_append(out, n->str.p, n->str.len);
		break;
	case IMAP_NODE_LIST:
		buf_append_c(out, '(');
		dump_children(n, out);
		buf_append_c(out, ')');
		break;
	case IMAP_NODE_SECTION:
		buf_append(out, n->str.p, n->str.len);
		buf_append_c(out, '[');
		buf_append(out, n->spec.p, n->spec.len);
		if (n->flags & IMAP_NODE_FIELDS) {
			buf_append_str(out, " (");
			dump_children(n, out);
			buf_append_c(out, ')');
		}
		buf_append_c(out, ']');
		if (n->flags & IMAP_NODE_PARTIAL)
			buf_printf(out, "<%llu.%llu>", (unsigned long long)n->num,
				   (unsigned long long)n->num2);
		break;
	}
}

void imap_command_dump(const struct imap_command *cmd, struct buf *out)
{
	buf_append(out, cmd->tag.p, cmd->tag.len);
	buf_append_str(out, cmd->uid ? " UID " : " ");
	buf_append_str(out, cmd->name);
	for (const struct imap_node *n = cmd->args; n != NULL; n = n->next) {
		buf_append_c(out, ' ');
		dump_node(n, out);
	}
	buf_append_str(out, "\r\n");
}

/* --- sections, sequence sets, dates -------------------------------------- */

int imap_parse_section(struct slice spec, bool binary, struct imap_section *sec_r)
{
	struct imap_section sec;
	size_t i = 0;
	uint64_t v;

	memset(&sec, 0, sizeof(sec));
	sec.text = IMAP_SECTION_ALL;
	/* section-part = nz-number *("." nz-number) */
	while (i < spec.len && is_digit((unsigned char)spec.p[i])) {
		if (spec.p[i] == '0' || !scan_number(spec.p, &i, spec.len, UINT32_MAX, &v) ||
		    sec.n_parts == IMAP_SECTION_PARTS_MAX)
			return -1;
		sec.part[sec.n_parts++] = (uint32_t)v;
		if (i == spec.len)
			break;
		if (spec.p[i] != '.' || ++i == spec.len)
			return -1;
	}
	struct slice rest = {spec.p + i, spec.len - i};
	if (rest.len > 0) {
		if (binary) /* section-binary = "[" [section-part] "]" */
			return -1;
		if (eq_ci(rest.p, rest.len, "HEADER"))
			sec.text = IMAP_SECTION_HEADER;
		else if (eq_ci(rest.p, rest.len, "HEADER.FIELDS"))
			sec.text = IMAP_SECTION_HEADER_FIELDS;
		else if (eq_ci(rest.p, rest.len, "HEADER.FIELDS.NOT"))
			sec.text = IMAP_SECTION_HEADER_FIELDS_NOT;
		else if (eq_ci(rest.p, rest.len, "TEXT"))
			sec.text = IMAP_SECTION_TEXT;
		else if (eq_ci(rest.p, rest.len, "MIME") && sec.n_parts > 0)
			sec.text = IMAP_SECTION_MIME;
		else
			return -1;
	}
	if (sec_r != NULL)
		*sec_r = sec;
	return 0;
}

/* seq-number = nz-number / "*" */
static bool seq_number(struct slice s, size_t *i, uint64_t *v_r)
{
	if (*i < s.len && s.p[*i] == '*') {
		(*i)++;
		*v_r = IMAP_SEQ_STAR;
		return true;
	}
	return *i < s.len && s.p[*i] != '0' && scan_number(s.p, i, s.len, UINT32_MAX, v_r);
}

int imap_parse_seqset(struct slice s, bool allow_last, struct imap_seqset *set, const char **err_r)
{
	size_t i = 0;

	set->n = 0;
	set->last = false;
	if (s.len == 1 && s.p[0] == '$' && allow_last) {
		set->last = true;
		return 0;
	}
	for (;;) {
		uint64_t a, b;
		if (!seq_number(s, &i, &a)) {
			*err_r = "Invalid sequence set";
			return -1;
		}
		b = a;
		if (i < s.len && s.p[i] == ':' && (++i, !seq_number(s, &i, &b))) {
			*err_r = "Invalid sequence set";
			return -1;
		}
		if (set->n == set->max) {
			*err_r = "Too many ranges in sequence set";
			return -1;
		}
		set->r[set->n++] =
		    a <= b ? (struct imap_seq_range){a, b} : (struct imap_seq_range){b, a};
		if (i == s.len)
			return 0;
		if (s.p[i++] != ',') {
			*err_r = "Invalid sequence set";
			return -1;
		}
	}
}

struct imap_seq_range imap_seq_range_resolve(struct imap_seq_range r, uint32_t largest)
{
	if (r.lo == IMAP_SEQ_STAR)
		r.lo = largest;
	if (r.hi == IMAP_SEQ_STAR)
		r.hi = largest;
	if (r.lo > r.hi) {
		uint64_t t = r.lo;
		r.lo = r.hi;
		r.hi = t;
	}
	return r;
}

/* A cursor over a date: each step checks one piece of the grammar. */
struct date_cur {
	const char *p;
	size_t n, i;
};

static bool cur_char(struct date_cur *c, char ch)
{
	if (c->i >= c->n || c->p[c->i] != ch)
		return false;
	c->i++;
	return true;
}

/* Exactly min..max digits, value in [lo, hi]. */
static bool cur_digits(struct date_cur *c, size_t min, size_t max, unsigned lo, unsigned hi,
		       unsigned *v_r)
{
	size_t k = 0;
	unsigned v = 0;

	while (k < max && c->i < c->n && is_digit((unsigned char)c->p[c->i])) {
		v = v * 10 + (unsigned)(c->p[c->i++] - '0');
		k++;
	}
	if (k < min || (c->i < c->n && is_digit((unsigned char)c->p[c->i])) || v < lo || v > hi)
		return false;
	*v_r = v;
	return true;
}

static bool is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* day "-" month "-" 4DIGIT, the day already read; days since 1970-01-01. */
static bool cur_month_year(struct date_cur *c, unsigned day, int64_t *days_r)
{
	static const char months[12][4] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned m = 12, y;

	if (!cur_char(c, '-') || c->n - c->i < 3)
		return false;
	for (unsigned k = 0; k < 12; k++)
		if (eq_ci(c->p + c->i, 3, months[k]))
			m = k;
	if (m == 12)
		return false;
	c->i += 3;
	if (!cur_char(c, '-') || !cur_digits(c, 4, 4, 0, 9999, &y))
		return false;
	if (day < 1 || day > mdays[m] + (m == 1 && is_leap(y)))
		return false;
	/* days from civil (H. Hinnant's algorithm), proleptic Gregorian */
	int64_t yy = (int64_t)y - (m < 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t mp = (m + 10) % 12; /* March = 0 */
	int64_t doy = (153 * mp + 2) / 5 + day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	*days_r = era * 146097 + doe - 719468;
	return true;
}

static int to_time(int64_t secs, time_t *t_r)
{
	if ((int64_t)(time_t)secs != secs)
		return -1;
	*t_r = (time_t)secs;
	return 0;
}

int imap_parse_date(struct slice s, time_t *t_r)
{
	struct date_cur c = {s.p, s.len, 0};
	unsigned day;
	int64_t days;

	/* date-text = date-day "-" date-month "-" date-year; date-day = 1*2DIGIT */
	if (!cur_digits(&c, 1, 2, 1, 31, &day) || !cur_month_year(&c, day, &days) || c.i != c.n)
		return -1;
	return to_time(days * 86400, t_r);
}

int imap_parse_date_time(struct slice s, time_t *t_r, int *zone_r)
{
	struct date_cur c = {s.p, s.len, 0};
	unsigned day, h, m, sec, z;
	int64_t days;

	/* date-day-fixed = (SP DIGIT) / 2DIGIT; a lone DIGIT is taken too */
	if (cur_char(&c, ' ')) {
		if (!cur_digits(&c, 1, 1, 1, 9, &day))
			return -1;
	} else if (!cur_digits(&c, 1, 2, 1, 31, &day)) {
		return -1;
	}
	if (!cur_month_year(&c, day, &days) || !cur_char(&c, ' ') ||
	    !cur_digits(&c, 2, 2, 0, 23, &h) || !cur_char(&c, ':') ||
	    !cur_digits(&c, 2, 2, 0, 59, &m) || !cur_char(&c, ':') ||
	    !cur_digits(&c, 2, 2, 0, 60, &sec) || !cur_char(&c, ' ') || c.i >= c.n)
		return -1;
	char sign = c.p[c.i++];
	/* zone = ("+" / "-") 4DIGIT, hhmm */
	if ((sign != '+' && sign != '-') || !cur_digits(&c, 4, 4, 0, 2359, &z) || z % 100 > 59 ||
	    c.i != c.n)
		return -1;
	int zone = (int)(z / 100 * 60 + z % 100) * (sign == '-' ? -1 : 1);
	*zone_r = zone;
	return to_time(days * 86400 + h * 3600 + m * 60 + sec - (int64_t)zone * 60, t_r);
}
