/* SPDX-License-Identifier: MIT */
/*
 * fuzz_imap_parse.c - libFuzzer target for the IMAP command parser
 * (imap/imap_parse.h). The input is a stream of client bytes; a hash of it
 * picks the limits, whether literals over 3 octets are refused, and a cut
 * point. A fake session runs over the stream three times: all at once, cut
 * in two at that point, and in small pieces of changing size. The three
 * transcripts (every result but MORE, each command's canonical dump, error
 * codes and offsets, where each skip ended) must be equal (P1). Every DONE
 * command is checked on the way: slices inside the command or the parser's
 * own copy (P2), no NUL but in a literal8 and no CR/LF in a quoted string
 * (P5), the bounds (P6), and its dump parses back to itself (P8). Its atoms
 * and strings also go through the sequence-set and date parsers.
 */
#include "fuzz.h"
#include "imap/imap_parse.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct config {
	struct imap_parse_limits lim;
	long refuse; /* refuse literals above this size; -1: none */
	size_t cut;
};

static uint64_t hash(const uint8_t *p, size_t n)
{
	uint64_t h = 14695981039346656037u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211u;
	return h;
}

static void pick(const uint8_t *data, size_t size, struct config *cfg)
{
	uint64_t h = hash(data, size);

	imap_parse_limits_default(&cfg->lim);
	switch (h & 3) {
	case 1: /* tight: every limit is within reach of a small input */
		cfg->lim.line_max = 40;
		cfg->lim.depth_max = 3;
		cfg->lim.nodes_max = 6;
		cfg->lim.literal_max = 10;
		cfg->lim.literals_max = 15;
		cfg->lim.nonsync_max = 8;
		break;
	case 2:
		cfg->lim.line_max = 256;
		cfg->lim.depth_max = 5;
		cfg->lim.nodes_max = 64;
		cfg->lim.literal_max = 64;
		cfg->lim.literals_max = 100;
		cfg->lim.nonsync_max = 16;
		break;
	case 3: /* LITERAL+ */
		cfg->lim.nonsync_max = UINT64_MAX;
		break;
	}
	cfg->refuse = (h >> 8) % 4 == 0 ? 3 : -1;
	cfg->cut = size > 0 ? 1 + (size_t)((h >> 16) % size) : 0;
}

static bool inside(struct slice s, const char *p, size_t len)
{
	return s.len == 0 || (s.p >= p && s.len <= len && s.p <= p + len - s.len);
}

/* Walks the tree of a DONE command; returns the number of nodes. */
static size_t check_node(const struct imap_node *n, const struct imap_parser *ps, const char *p,
			 size_t len, unsigned depth)
{
	size_t nodes = 1, children = 0;
	bool copied = (n->flags & IMAP_NODE_ESCAPED) != 0;

	CHECK(copied
		  ? n->type == IMAP_NODE_QUOTED && inside(n->str, ps->strings.data, ps->strings.len)
		  : inside(n->str, p, len));
	if (!(n->flags & IMAP_NODE_BINARY))
		CHECK(n->str.len == 0 || memchr(n->str.p, '\0', n->str.len) == NULL);
	if (n->type == IMAP_NODE_QUOTED || n->type == IMAP_NODE_LITERAL) {
		bool eight = false;
		for (size_t i = 0; i < n->str.len; i++)
			eight |= (unsigned char)n->str.p[i] >= 0x80;
		CHECK(eight == ((n->flags & IMAP_NODE_8BIT) != 0));
	}
	switch (n->type) {
	case IMAP_NODE_ATOM:
	case IMAP_NODE_NUMBER:
	case IMAP_NODE_NIL:
		CHECK(n->str.len > 0 && n->child == NULL && n->count == 0);
		for (size_t i = 0; i < n->str.len; i++)
			CHECK(n->str.p[i] > ' ' && n->str.p[i] < 0x7f && n->str.p[i] != '(' &&
			      n->str.p[i] != ')' && n->str.p[i] != '"' && n->str.p[i] != '{');
		if (n->type == IMAP_NODE_NUMBER)
			CHECK(n->num <= IMAP_NUMBER64_MAX &&
			      ((n->flags & IMAP_NODE_NUM32) != 0) == (n->num <= UINT32_MAX));
		if (n->type == IMAP_NODE_NIL)
			CHECK(n->str.len == 3);
		break;
	case IMAP_NODE_QUOTED:
		CHECK(n->str.len == 0 || (memchr(n->str.p, '\r', n->str.len) == NULL &&
					  memchr(n->str.p, '\n', n->str.len) == NULL));
		break;
	case IMAP_NODE_LITERAL:
		CHECK(n->str.len <= ps->lim.literal_max);
		CHECK(!(n->flags & IMAP_NODE_NONSYNC) || n->str.len <= ps->lim.nonsync_max);
		break;
	case IMAP_NODE_SECTION:
		CHECK(inside(n->spec, p, len));
		CHECK(imap_parse_section(n->spec,
					 n->str.len >= 6 && strncasecmp(n->str.p, "BINARY", 6) == 0,
					 NULL) == 0);
		CHECK(((n->flags & IMAP_NODE_FIELDS) != 0) == (n->child != NULL));
		CHECK(!(n->flags & IMAP_NODE_PARTIAL) || n->num2 > 0);
		break;
	case IMAP_NODE_LIST:
		break;
	}
	if (n->child != NULL) {
		CHECK(depth < ps->lim.depth_max);
		for (const struct imap_node *c = n->child; c != NULL; c = c->next) {
			CHECK(n->type != IMAP_NODE_SECTION || c->type != IMAP_NODE_LIST);
			nodes += check_node(c, ps, p, len, depth + 1);
			children++;
		}
	}
	CHECK(children == n->count);
	return nodes;
}

/* A sequence set: ranges normalised, numbers nz-number or "*", one range
   per comma-separated piece. */
static void check_seqset(struct slice s)
{
	struct imap_seq_range r[8];
	struct imap_seqset set = {r, N_ELEMENTS(r), 0, false};
	const char *err = NULL;

	if (imap_parse_seqset(s, true, &set, &err) != 0) {
		CHECK(err != NULL);
		return;
	}
	if (set.last) {
		CHECK(s.len == 1 && s.p[0] == '$' && set.n == 0);
		return;
	}
	size_t commas = 0;
	for (size_t i = 0; i < s.len; i++)
		commas += s.p[i] == ',';
	CHECK(set.n == commas + 1);
	for (size_t i = 0; i < set.n; i++) {
		CHECK(r[i].lo >= 1 && r[i].lo <= r[i].hi && r[i].hi <= IMAP_SEQ_STAR);
		CHECK(r[i].lo <= UINT32_MAX || r[i].lo == IMAP_SEQ_STAR);
		struct imap_seq_range x = imap_seq_range_resolve(r[i], 7);
		CHECK(x.lo <= x.hi && x.hi <= UINT32_MAX);
	}
}

/* A date that parses, written back with gmtime_r(), is the text again (up
   to the case of the month and the day's padding). */
static void check_dates(struct slice s)
{
	static const char months[12][4] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
					   "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	char want[64], got[64];
	struct tm tm;
	time_t t;
	int zone;

	if (s.len >= sizeof(want) - 1)
		return;
	if (imap_parse_date(s, &t) == 0) {
		CHECK(t % 86400 == 0 && gmtime_r(&t, &tm) != NULL);
		snprintf(got, sizeof(got), "%d-%s-%04d", tm.tm_mday, months[tm.tm_mon],
			 tm.tm_year + 1900);
		size_t skip = s.p[0] == '0' ? 1 : 0; /* "01-Feb-1994" */
		CHECK(strlen(got) == s.len - skip &&
		      strncasecmp(got, s.p + skip, s.len - skip) == 0);
	}
	if (imap_parse_date_time(s, &t, &zone) == 0) {
		CHECK(zone > -24 * 60 && zone < 24 * 60);
		time_t local = t + (time_t)zone * 60;
		CHECK(gmtime_r(&local, &tm) != NULL);
		snprintf(got, sizeof(got), "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d", tm.tm_mday,
			 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
			 zone < 0 ? '-' : '+', abs(zone) / 60, abs(zone) % 60);
		/* the day as "07", however it came; a leap second rolls over */
		size_t n = s.len;
		if (s.p[1] == '-')
			snprintf(want, sizeof(want), "0%.*s", (int)n, s.p);
		else
			snprintf(want, sizeof(want), "%.*s", (int)n, s.p);
		if (want[0] == ' ')
			want[0] = '0';
		if (zone == 0 && want[strlen(want) - 5] == '-')
			want[strlen(want) - 5] = '+'; /* "-0000" is zone 0 */
		if (strstr(want, ":60 ") == NULL)
			CHECK(strcasecmp(got, want) == 0);
	}
}

static void check_values(const struct imap_node *n)
{
	for (; n != NULL; n = n->next) {
		if (n->type == IMAP_NODE_ATOM || n->type == IMAP_NODE_NUMBER)
			check_seqset(n->str);
		if (n->type == IMAP_NODE_ATOM || n->type == IMAP_NODE_QUOTED)
			check_dates(n->str);
		check_values(n->child);
	}
}

/* P8: the canonical dump parses back to the same dump. */
static void check_round_trip(const struct imap_command *cmd, const struct imap_parse_limits *lim)
{
	struct imap_parse_limits big = *lim;
	struct buf d1 = {0}, d2 = {0};
	struct imap_parser ps;
	struct imap_command again;
	enum imap_parse_result r;

	big.line_max = 1 << 24; /* a bare LF becomes CRLF, spaces shrink */
	imap_command_dump(cmd, &d1);
	imap_parser_init(&ps, &big);
	while ((r = imap_parser_feed(&ps, d1.data, d1.len, &again)) == IMAP_PARSE_LITERAL)
		;
	CHECK(r == IMAP_PARSE_DONE && again.len == d1.len);
	imap_command_dump(&again, &d2);
	CHECK(d1.len == d2.len && memcmp(d1.data, d2.data, d1.len) == 0);
	imap_parser_deinit(&ps);
	buf_free(&d1);
	buf_free(&d2);
}

static void check_command(const struct imap_command *cmd, const struct imap_parser *ps,
			  const char *p, size_t len)
{
	size_t nodes = 0, top = 0;

	CHECK(cmd->len >= 1 && cmd->len <= len && p[cmd->len - 1] == '\n');
	CHECK(cmd->tag.len > 0 && inside(cmd->tag, p, cmd->len));
	CHECK(cmd->name[0] != '\0' && strlen(cmd->name) <= IMAP_NAME_MAX);
	for (const struct imap_node *n = cmd->args; n != NULL; n = n->next) {
		nodes += check_node(n, ps, p, cmd->len, 0);
		top++;
	}
	CHECK(top == cmd->argc && nodes <= ps->lim.nodes_max);
	check_round_trip(cmd, &ps->lim);
	check_values(cmd->args);
}

/* The fake session over data, in pieces of the sizes step() gives. */
static void run(const struct config *cfg, const uint8_t *data, size_t size, int mode, struct buf *t)
{
	struct imap_parser ps;
	struct buf b = {0};
	size_t fed = 0, base = 0, step = 1;
	bool skipping = false;

	imap_parser_init(&ps, &cfg->lim);
	for (;;) {
		struct imap_command cmd;
		enum imap_parse_result r;
		size_t used;

		if (skipping) {
			r = imap_parser_skip(&ps, b.data, b.len, &used);
			CHECK(used <= b.len);
			buf_consume(&b, used);
			base += used;
			if (r == IMAP_PARSE_DONE) {
				buf_printf(t, "S@%zu\n", base);
				imap_parser_reset(&ps);
				skipping = false;
			}
		} else {
			r = imap_parser_feed(&ps, b.data, b.len, &cmd);
			if (r == IMAP_PARSE_LITERAL) {
				buf_printf(t, "L%llu%c%c\n", (unsigned long long)cmd.lit.size,
					   cmd.lit.sync ? 's' : 'n', cmd.lit.binary ? 'b' : 't');
				CHECK(cmd.tag.len > 0 && cmd.name[0] != '\0');
				CHECK(cmd.lit.size <= cfg->lim.literal_max);
				if (cfg->refuse >= 0 && cmd.lit.size > (uint64_t)cfg->refuse) {
					imap_parser_refuse(&ps);
					buf_append_str(t, "R\n");
					skipping = true;
				}
			} else if (r == IMAP_PARSE_DONE) {
				check_command(&cmd, &ps, b.data, b.len);
				buf_append_str(t, "D:");
				imap_command_dump(&cmd, t);
				buf_consume(&b, cmd.len);
				base += cmd.len;
				imap_parser_reset(&ps);
			} else if (r == IMAP_PARSE_ERROR) {
				CHECK(cmd.err != IMAP_PERR_NONE && cmd.err_text != NULL);
				CHECK(cmd.err_off <= b.len);
				buf_printf(t, "E%d %s@%zu\n", (int)cmd.err, cmd.err_text,
					   base + cmd.err_off);
				skipping = true;
			}
		}
		if (r != IMAP_PARSE_MORE)
			continue;
		if (fed == size)
			break;
		size_t n = mode == 0 ? size : mode == 1 ? (fed == 0 ? cfg->cut : size) : step;
		step = step * 7 % 23 + 1;
		if (n > size - fed)
			n = size - fed;
		buf_append(&b, data + fed, n);
		fed += n;
	}
	buf_printf(t, "end %zu %d\n", b.len, (int)skipping);
	imap_parser_deinit(&ps);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct buf whole = {0}, two = {0}, pieces = {0};

	pick(data, size, &cfg);
	run(&cfg, data, size, 0, &whole);
	run(&cfg, data, size, 1, &two);
	run(&cfg, data, size, 2, &pieces);
	CHECK(whole.len == two.len && memcmp(whole.data, two.data, whole.len) == 0);
	CHECK(whole.len == pieces.len && memcmp(whole.data, pieces.data, whole.len) == 0);
	buf_free(&whole);
	buf_free(&two);
	buf_free(&pieces);
	return 0;
}
