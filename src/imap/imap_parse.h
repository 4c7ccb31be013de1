/* SPDX-License-Identifier: MIT */
/*
 * imap_parse.h - IMAP4rev2/IMAP4rev1 command lines from the client (RFC 9051
 * §2.2, §9; RFC 3501), parsed incrementally over the session's input buffer
 * into a tree of typed arguments. A pure byte machine: no I/O, no clock, and
 * the result never depends on how the input was cut into reads.
 *
 * What a command is here (RFC 9051 §9, the client side):
 *
 *   command  = tag SP ["UID" SP] name *(SP value) CRLF
 *   tag      = 1*<ASTRING-CHAR except "+">
 *   name     = atom, upper-cased into imap_command.name (at most
 *              IMAP_NAME_MAX octets); after "UID", imap_command.uid is set
 *              and name is the command that follows ("UID FETCH": FETCH)
 *   value    = atom / number / NIL / quoted / literal / "(" [values] ")"
 *              / fetch-att with a section (FETCH only, below)
 *   atom     = 1*<CHAR except SP, CTL, "(", ")", "{", DQUOTE, "\">, with
 *              one "\" allowed as the first octet: flags ("\Seen", "\*"),
 *              sequence sets ("1:*", "$"), list patterns ("%", "*"),
 *              mailbox names ("[Gmail]/Sent" - "[" and "]" are atom octets)
 *              and SASL base64 are all atoms. An atom of digits whose value
 *              fits number64 (0..2^63-1, RFC 9051) is a NUMBER; "NIL" in
 *              any case is NIL. Both keep their text, so they work as
 *              astrings too (imap_node_astring()).
 *   quoted   = DQUOTE *(TEXT-CHAR / "\" DQUOTE / "\\") DQUOTE; the escapes
 *              are removed; any other "\x" is an error. Octets >= 0x80 must
 *              be well-formed UTF-8 (RFC 9051 QUOTED-CHAR, RFC 6855
 *              UTF8=ACCEPT) and mark the node IMAP_NODE_8BIT.
 *   literal  = "{" number64 ["+"] "}" CRLF octets    (RFC 9051, RFC 7888)
 *            / "~{" number64 ["+"] "}" CRLF octets   (literal8, RFC 3516,
 *              only in APPEND; it may hold NUL, a plain literal may not)
 *   section  = ("BODY" / "BODY.PEEK" / "BINARY" / "BINARY.PEEK" /
 *              "BINARY.SIZE") "[" [section-spec] "]" ["<" n "." nz ">"],
 *              recognised in FETCH / UID FETCH only, case-insensitively;
 *              section-spec may end in SP header-list, whose astrings
 *              (literals too) become the node's children. The spec itself
 *              is checked with imap_parse_section(); BINARY takes part
 *              numbers only, BINARY.SIZE no partial.
 *
 * Policy (line ends, octets, spacing):
 *  - A line ends at LF. CRLF is the standard; a bare LF ends a line too, as
 *    in pop3_parse.h (hand-typed sessions, nc); the CR before the LF is
 *    dropped. A CR anywhere else outside a literal is an error.
 *  - NUL outside a literal is an error (IMAP_PERR_NUL), found as soon as it
 *    arrives; other control octets are errors wherever the grammar has no
 *    room for them (TEXT-CHAR lets a quoted string hold TAB). Octets >= 0x80
 *    are allowed only in quoted strings (as UTF-8) and in literals.
 *  - The grammar has single spaces; runs of spaces (between tag, name and
 *    values, after "(", before ")" or the line end) are taken as one, for
 *    clients that pad. TAB is no separator.
 *  - An empty line is IMAP_PERR_EMPTY: the session may ignore it.
 *
 * Limits (struct imap_parse_limits; imap_parse_limits_default() gives the
 * values in brackets):
 *  - line_max [IMAP_LINE_MAX]: octets of command text, all the line pieces
 *    between literals and their line ends counted, the literals' octets not.
 *  - depth_max [IMAP_DEPTH_MAX]: open "(" at once (a header list counts).
 *  - nodes_max [IMAP_NODES_MAX]: values in one command, lists included.
 *  - literal_max / literals_max [IMAP_LITERAL_MAX]: one literal, and all of
 *    one command's literals together.
 *  - nonsync_max [IMAP_LITERAL_MINUS_MAX]: the largest non-synchronizing
 *    literal taken: 4096 is LITERAL- (RFC 7888 §5), which IMAP4rev2 has
 *    built in (RFC 9051 §4.3); UINT64_MAX when LITERAL+ is advertised; 0 for
 *    an IMAP4rev1-only server that advertises neither.
 *  A limit that is hit is an error with its own code (below); nothing is
 *  allocated before the limit that bounds it was checked. Sequence sets are
 *  split into the caller's array (imap_parse_seqset()), whose size is the
 *  limit on ranges.
 *
 * Literals, and what the caller does on each result of imap_parser_feed():
 *  - IMAP_PARSE_MORE: read more, append it to the buffer, call again with
 *    the buffer from the command's first octet. Nothing is consumed yet.
 *  - IMAP_PARSE_LITERAL: the line ended in a literal announcement; cmd.lit
 *    says its size and kind, cmd.tag and cmd.name are known. The parser's own
 *    limits were checked already; the caller may refuse more (a smaller limit
 *    for commands other than APPEND, APPENDLIMIT RFC 7889) with
 *    imap_parser_refuse(). To accept, it sends "+ ..." for a synchronizing
 *    literal (cmd.lit.sync) and just calls imap_parser_feed() again. Every
 *    literal is reported, even when its octets have already arrived.
 *  - IMAP_PARSE_DONE: cmd is complete; it spans cmd.len octets. Handle it,
 *    drop those octets from the buffer, call imap_parser_reset().
 *  - IMAP_PARSE_ERROR: cmd.err and cmd.err_text ("tag BAD <err_text>";
 *    IMAP_PERR_TOOBIG wants [TOOBIG]); cmd.tag is empty when no valid tag was
 *    read ("* BAD"). Then skip the rest of the bad command with
 *    imap_parser_skip() and call imap_parser_reset().
 *
 * Resynchronisation (imap_parser_skip()), as RFC 2088 §3 (now RFC 7888) puts
 * it: a server may reject errors line by line "as long as it checks for
 * non-synchronizing literals at the end of each line".
 *  - The bad command runs to the end of the line the error is on.
 *  - If that line ends in "{N}" (synchronizing, also a refused one), the
 *    client waits for a "+" that never comes: the command ends there.
 *  - If it ends in "{N+}", the client sends N octets anyway: they and the
 *    line after them belong to the bad command, and the same rule applies to
 *    that line's end. A NUL inside a literal: the rest of the literal first.
 *  - A line over line_max is skipped to its LF however long it is; the
 *    caller drops the octets as skip() consumes them, so memory stays bounded.
 *  imap_parser_skip_pending() tells how many literal octets are still to come,
 *  so a session can choose to close the connection rather than read a huge
 *  refused non-synchronizing literal.
 *
 * Memory: nothing is copied but quoted strings that had escapes. Atoms,
 * other quoted strings and literals are slices into p, which must therefore
 * hold the whole command - literals included, so literal_max bounds the
 * session's input buffer - until the command was handled; escaped strings
 * point into the parser's own copy. Slices and node pointers in cmd are valid
 * until the next call on the parser or until the caller moves or changes its
 * buffer. The parser owns a node array and a string buffer that it reuses
 * across commands (and shrinks in reset() after a big one).
 *
 * Invariants (tests and fuzz/fuzz_imap_parse.c cite them by number):
 *  P1. Cut independence: the sequence of results other than MORE, and all
 *      they report (tree, literal announcements, error code and offset,
 *      octets skipped), depends only on the bytes, never on how they were
 *      split between calls.
 *  P2. Nothing at or past len is read, and nothing past the command's own
 *      final LF (the next pipelined command is not looked at).
 *  P3. Linear work: the scan resumes where it stopped; each line piece is
 *      tokenised once, when its LF is there.
 *  P4. Every literal is announced (IMAP_PARSE_LITERAL) before the parser
 *      needs any of its octets, exactly once, in order.
 *  P5. No string of a DONE command holds NUL except a literal8's; no quoted
 *      string holds CR or LF or invalid UTF-8.
 *  P6. Bounds: at most nodes_max nodes, depth_max open lists, line_max
 *      octets of text, literal_max per literal and literals_max per command.
 *  P7. After an error, imap_parser_skip() consumes exactly the bad command as
 *      the resynchronisation rule above defines it, and never a byte more.
 *  P8. imap_command_dump() of a DONE command parses back to the same dump.
 */
#ifndef MAILROOM_IMAP_IMAP_PARSE_H
#define MAILROOM_IMAP_IMAP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

#define IMAP_LINE_MAX 65536		  /* command text per command (Dovecot: 64 KiB) */
#define IMAP_DEPTH_MAX 16		  /* nested lists; the stack is this deep */
#define IMAP_NODES_MAX 10000		  /* a big UID set or SEARCH survives */
#define IMAP_LITERAL_MAX (64u << 20)	  /* default for one literal (APPEND) */
#define IMAP_LITERAL_MINUS_MAX 4096	  /* RFC 7888 §5 LITERAL-, RFC 9051 §4.3 */
#define IMAP_NAME_MAX 32		  /* a command name, more is an error */
#define IMAP_NUMBER64_MAX INT64_MAX	  /* RFC 9051 number64: 63 bits */
#define IMAP_SECTION_PARTS_MAX 32	  /* "1.2.3..." levels of a section-part */
#define IMAP_SEQ_STAR ((uint64_t)1 << 32) /* "*" in a range: above any number */

struct imap_parse_limits {
	size_t line_max;
	unsigned depth_max; /* <= IMAP_DEPTH_MAX */
	size_t nodes_max;
	uint64_t literal_max;
	uint64_t literals_max;
	uint64_t nonsync_max;
};

void imap_parse_limits_default(struct imap_parse_limits *lim);

enum imap_parse_result {
	IMAP_PARSE_MORE,    /* need more input (the "0" of util/mem.h) */
	IMAP_PARSE_LITERAL, /* a literal was announced: cmd.lit */
	IMAP_PARSE_DONE,    /* a whole command (the "1") */
	IMAP_PARSE_ERROR,   /* cmd.err (the "-1"); then imap_parser_skip() */
};

enum imap_parse_error {
	IMAP_PERR_NONE,
	IMAP_PERR_SYNTAX,  /* BAD <err_text> */
	IMAP_PERR_EMPTY,   /* an empty line: ignore it, or BAD */
	IMAP_PERR_NUL,	   /* NUL outside a literal8 */
	IMAP_PERR_TOOLONG, /* over line_max: BAD */
	IMAP_PERR_TOODEEP, /* over depth_max: BAD */
	IMAP_PERR_TOOMANY, /* over nodes_max: BAD */
	IMAP_PERR_TOOBIG,  /* a literal over a limit: cmd.lit; sync: NO [TOOBIG],
			      non-sync: BAD [TOOBIG] (RFC 7888 §5) */
	IMAP_PERR_REFUSED, /* the caller refused the literal in cmd.lit */
};

enum imap_node_type {
	IMAP_NODE_ATOM,
	IMAP_NODE_NUMBER,
	IMAP_NODE_NIL,
	IMAP_NODE_QUOTED,
	IMAP_NODE_LITERAL,
	IMAP_NODE_LIST,
	IMAP_NODE_SECTION,
};

enum imap_node_flags {
	IMAP_NODE_NUM32 = 1 << 0,   /* NUMBER: the value fits in 32 bits */
	IMAP_NODE_8BIT = 1 << 1,    /* QUOTED or LITERAL: octets >= 0x80 */
	IMAP_NODE_NONSYNC = 1 << 2, /* LITERAL: "{N+}" */
	IMAP_NODE_BINARY = 1 << 3,  /* LITERAL: literal8 "~{N}" */
	IMAP_NODE_FIELDS = 1 << 4,  /* SECTION: a header list (the children) */
	IMAP_NODE_PARTIAL = 1 << 5, /* SECTION: "<num.num2>" */
	IMAP_NODE_ESCAPED = 1 << 6, /* QUOTED: had escapes; str is the parser's copy */
};

struct imap_node {
	enum imap_node_type type;
	unsigned flags;
	/* ATOM, NUMBER, NIL: the text as sent. QUOTED: the content, unescaped.
	   LITERAL: its octets. SECTION: the name before "[", as sent. */
	struct slice str;
	struct slice spec;	       /* SECTION: between "[" and "]" or the header list */
	uint64_t num;		       /* NUMBER: the value; SECTION: partial offset */
	uint64_t num2;		       /* SECTION: partial length (> 0) */
	const struct imap_node *child; /* LIST, SECTION: the first child or NULL */
	const struct imap_node *next;  /* the next value at the same level or NULL */
	size_t count;		       /* LIST, SECTION: children */
	/* private to the parser */
	size_t off_;
	uint32_t child_, next_;
};

struct imap_literal {
	uint64_t size;
	bool sync;   /* "{N}": send "+ ..." before the client goes on */
	bool binary; /* literal8 */
};

struct imap_command {
	struct slice tag;	      /* empty until a valid tag was read */
	char name[IMAP_NAME_MAX + 1]; /* upper case, "" until read; no "UID " */
	bool uid;		      /* the name came after "UID" */
	const struct imap_node *args; /* DONE: the first argument or NULL */
	size_t argc;		      /* DONE: top-level arguments */
	size_t len;		      /* DONE: octets of the command */
	struct imap_literal lit;      /* LITERAL, and errors TOOBIG and REFUSED */
	enum imap_parse_error err;    /* ERROR */
	const char *err_text;	      /* ERROR: static text, for "BAD <text>" */
	size_t err_off;		      /* ERROR: offset from the command's start */
};

struct imap_parser_frame {
	uint32_t node, last; /* the open LIST or SECTION, its last child */
};

/* Fields after `lim` are private. `lim` may be changed between commands. */
struct imap_parser {
	struct imap_parse_limits lim;
	uint8_t phase, skip_phase, tail_len;
	bool have_tag, have_name, uid, is_fetch, is_append, need_sep;
	bool lit_sync, lit_binary;
	char name[IMAP_NAME_MAX + 1];
	size_t tag_off, tag_len;
	size_t seg, scan, line_used; /* offsets from the command's first octet */
	size_t lit_ann, lit_start, lit_end, lit_scan, lf;
	uint64_t lit_size, lit_total;
	struct imap_node *nodes;
	size_t n_nodes, cap_nodes, argc;
	uint32_t top_first, top_last;
	struct buf strings; /* unescaped quoted strings */
	struct imap_parser_frame stack[IMAP_DEPTH_MAX];
	unsigned depth;
	enum imap_parse_error err;
	const char *err_text;
	size_t err_off;
	size_t skip_pos;
	uint64_t skip_left;
	char tail[32]; /* the end of a line being skipped */
};

/* lim NULL = imap_parse_limits_default(). _deinit frees what the parser
   holds; both accept any parser state. */
void imap_parser_init(struct imap_parser *ps, const struct imap_parse_limits *lim);
void imap_parser_deinit(struct imap_parser *ps);
/* Ready for the next command (after DONE, or after skip() said DONE). */
void imap_parser_reset(struct imap_parser *ps);

/* p[0..len): the input buffer from the command's first octet. Fills *cmd_r
   on every return (see the top of this file for each result). */
enum imap_parse_result imap_parser_feed(struct imap_parser *ps, const char *p, size_t len,
					struct imap_command *cmd_r);
/* Only right after IMAP_PARSE_LITERAL: the caller will not take the literal.
   The parser is then in the error state with IMAP_PERR_REFUSED; answer
   (NO [TOOBIG], BAD ...) and skip as after any error. */
void imap_parser_refuse(struct imap_parser *ps);

/* After IMAP_PARSE_ERROR: consumes the rest of the bad command (the
   resynchronisation rule above). The first call gets the same p as feed();
   *used_r is what the caller drops from the front of its buffer before the
   next call. Returns IMAP_PARSE_DONE when the bad command is over (then
   reset()), IMAP_PARSE_MORE when all of p was used and more is needed. */
enum imap_parse_result imap_parser_skip(struct imap_parser *ps, const char *p, size_t len,
					size_t *used_r);
/* Literal octets skip() has still to read (0 when none is pending). */
uint64_t imap_parser_skip_pending(const struct imap_parser *ps);

/* Lines that are no commands: AUTHENTICATE responses (RFC 9051 §6.2.2) and
   IDLE's "DONE" (RFC 2177). Same contract as pop3_parse_line(): 1 with the
   line without its line end, 0 for more input, -1 when no LF comes within
   max octets; *nul_r tells whether the line holds a NUL. */
int imap_parse_line(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r,
		    bool *nul_r);

/* --- reading values ------------------------------------------------------ */

/* astring = atom / string (NUMBER and NIL count by their text). */
bool imap_node_astring(const struct imap_node *n, struct slice *s_r);
/* string = quoted / literal. */
bool imap_node_string(const struct imap_node *n, struct slice *s_r);
/* A NUMBER in [0, max]. */
bool imap_node_number(const struct imap_node *n, uint64_t max, uint64_t *v_r);
/* An ATOM (or NUMBER, NIL) equal to lit, ASCII case-insensitively. */
bool imap_node_is(const struct imap_node *n, const char *lit);

/* Canonical form: tag [UID] NAME and the values, single spaces, quoted
   strings re-escaped, literals as "{N}" CRLF octets, then CRLF. Literal
   octets are written as they are, so do not log it as is. */
void imap_command_dump(const struct imap_command *cmd, struct buf *out);

/* --- sections, sequence sets, dates -------------------------------------- */

enum imap_section_text {
	IMAP_SECTION_ALL, /* "" or a part alone: the whole part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME, /* only after a part number */
};

struct imap_section {
	uint32_t part[IMAP_SECTION_PARTS_MAX];
	size_t n_parts;
	enum imap_section_text text;
};

/* section-spec (RFC 9051 §9), the text of a SECTION node's spec; binary:
   section-binary (part numbers only). 0, or -1 when it is no valid spec. */
int imap_parse_section(struct slice spec, bool binary, struct imap_section *sec_r);

/* A range of a sequence set, lo <= hi; "*" is IMAP_SEQ_STAR, so "5:*" is
   {5, STAR}, "*:5" too, and "*" alone is {STAR, STAR}. */
struct imap_seq_range {
	uint64_t lo, hi;
};

struct imap_seqset {
	struct imap_seq_range *r; /* the caller's array of max entries */
	size_t max, n;
	bool last; /* "$" (RFC 5182 SEARCHRES): the saved result; n = 0 */
};

/* sequence-set (RFC 9051 §9): ranges as sent, each normalised; numbers are
   nz-number (1..2^32-1). allow_last lets "$" stand for the whole set. 0, or
   -1 with *err_r on bad syntax or more than set->max ranges. */
int imap_parse_seqset(struct slice s, bool allow_last, struct imap_seqset *set, const char **err_r);
/* A range with "*" replaced by largest, ordered again ("5:*" with largest 3
   is 3:5, RFC 9051 §9 seq-range). */
struct imap_seq_range imap_seq_range_resolve(struct imap_seq_range r, uint32_t largest);

/* date-text "1-Feb-1994" (SEARCH BEFORE/ON/SINCE; a quoted date's quotes
   already gone): midnight UTC of that day. 0, or -1 on any deviation. */
int imap_parse_date(struct slice s, time_t *t_r);
/* date-time "17-Jul-1996 02:44:25 -0700" (APPEND, without the quotes): the
   instant in *t_r, the zone in minutes east of UTC in *zone_r. The day is
   " 7" or "07" (date-day-fixed), or "7" (as Dovecot takes it). */
int imap_parse_date_time(struct slice s, time_t *t_r, int *zone_r);

#endif
