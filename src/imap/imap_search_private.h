/* SPDX-License-Identifier: MIT */
/*
 * imap_search_private.h - the compiled form of a SEARCH program, shared by
 * imap_search.c (compiling, results) and imap_search_match.c (evaluation
 * and the message views). Nothing outside those two files includes it.
 *
 * A program is a tree of ops in one array; op 0 is the root, an AND. Each
 * op lists its children through `child` and their `next`: an AND or OR has
 * any number (OR of a parenthesised key list is no key; OR has exactly
 * two), NOT has one. Children of AND and OR are ordered by cost, cheapest
 * first, so that evaluation builds a message view only when a cheaper key
 * could not decide. Strings (needles and header names, ASCII-folded to
 * lower case) live in `strings`; ranges (sorted, merged, inclusive) in
 * `ranges`.
 */
#ifndef MAILROOM_IMAP_IMAP_SEARCH_PRIVATE_H
#define MAILROOM_IMAP_IMAP_SEARCH_PRIVATE_H

#include "imap/imap_search.h"

#define OP_NONE UINT32_MAX /* no child, no next */

enum search_op {
	OP_AND,
	OP_OR,
	OP_NOT,
	OP_CONST,   /* num: 1 every message, 0 none */
	OP_FLAGS,   /* (flags & mask) == want */
	OP_KEYWORD, /* str: one keyword (folded); want: 1 KEYWORD, 0 UNKEYWORD */
	OP_SEQ,	    /* seq in ranges[r_off, r_off + r_n) */
	OP_UID,	    /* uid in the same kind of ranges (the saved result too) */
	OP_LARGER,  /* size > num */
	OP_SMALLER, /* size < num */
	OP_MODSEQ,  /* modseq >= num (RFC 7162 §3.1.5) */
	OP_DATE,    /* INTERNALDATE's UTC day against day, by want */
	OP_SENT,    /* the Date: field's own day against day, by want */
	OP_HEADER,  /* a field named hdr whose value holds str */
	OP_BODY,    /* the body text holds str */
	OP_TEXT,    /* the header or the body text holds str */
};

enum search_cmp { CMP_BEFORE, CMP_ON, CMP_SINCE };

/* What evaluating an op may need: 0 the message's attributes only, 1 its
   header, 2 its body as well. */
enum search_cost { COST_CHEAP, COST_HEADER, COST_BODY };

struct search_op_node {
	uint8_t op, cost;
	uint32_t child, next;
	uint64_t num;
	int64_t day; /* OP_DATE, OP_SENT: days since 1970-01-01 */
	unsigned mask, want;
	uint32_t s_off, s_len; /* str */
	uint32_t h_off, h_len; /* hdr */
	uint32_t r_off, r_n;
};

struct search_range {
	uint32_t lo, hi;
};

struct imap_search {
	struct search_op_node *ops;
	size_t n_ops, cap_ops;
	struct search_range *ranges;
	size_t n_ranges, cap_ranges;
	struct buf strings;
	unsigned ret;	/* enum imap_search_ret */
	bool rev2;	/* from the env */
	bool modseq;	/* a MODSEQ key: the result says the highest modseq */
	unsigned depth; /* deepest nesting seen (for tests) */
};

#endif
