/* SPDX-License-Identifier: MIT */
/*
 * imap_search.h - IMAP SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4): the
 * arguments of a SEARCH or UID SEARCH command compiled into a program, the
 * program evaluated against one message at a time, and the untagged result
 * written as SEARCH or ESEARCH (RFC 4731, RFC 9051 §7.3.4). A pure module:
 * no I/O, no clock, no store; the session gives it what it needs.
 *
 * How a session uses it:
 *
 *   struct imap_search *prog; const char *err;
 *   int r = imap_search_compile(cmd.args, &env, &prog, &err);
 *   if (r == IMAP_SEARCH_BADCHARSET) -> "tag NO " IMAP_SEARCH_BADCHARSET_CODE " <err>"
 *   if (r < 0)                       -> "tag BAD <err>"
 *   for each message of the folder, in sequence order:
 *       fill struct imap_search_msg (the text only if imap_search_needs_text();
 *       the store's cached MIME tree, if it has one, when
 *       imap_search_needs_body())
 *       if (imap_search_match(prog, &m)) append cmd.uid ? m.uid : m.seq
 *   imap_search_result(prog, ids, n, cmd.uid, tag, false, &out);  (tag: cmd.tag
 *       as a NUL-terminated string)
 *   if (imap_search_return(prog) & IMAP_SEARCH_RET_SAVE) save the UIDs that
 *       imap_search_save_filter() leaves of the matching UIDs ("$", RFC 5182)
 *   imap_search_free(&prog);
 *
 * Grammar (RFC 9051 §9 search, RFC 4731 search-return-opts, RFC 5182):
 *
 *   args     = ["RETURN" SP "(" [ret *(SP ret)] ")" SP]
 *              ["CHARSET" SP astring SP] key *(SP key)
 *   ret      = "MIN" / "MAX" / "COUNT" / "ALL" / "SAVE"     ; "()" is ALL
 *   key      = "ALL" / "ANSWERED" / "DELETED" / "DRAFT" / "FLAGGED" /
 *              "NEW" / "OLD" / "RECENT" / "SEEN" / "UNANSWERED" /
 *              "UNDELETED" / "UNDRAFT" / "UNFLAGGED" / "UNSEEN" /
 *              ("BCC" / "BODY" / "CC" / "FROM" / "SUBJECT" / "TEXT" /
 *               "TO") SP astring /
 *              "HEADER" SP astring SP astring /
 *              ("BEFORE" / "ON" / "SINCE" / "SENTBEFORE" / "SENTON" /
 *               "SENTSINCE") SP date /
 *              ("KEYWORD" / "UNKEYWORD") SP atom /
 *              ("LARGER" / "SMALLER") SP number64 /
 *              "MODSEQ" [SP entry-name SP entry-type] SP number64 (RFC 7162) /
 *              "NOT" SP key / "OR" SP key SP key /
 *              "UID" SP sequence-set / sequence-set /
 *              "(" key *(SP key) ")"
 *   date     = date-text or a quoted date-text (imap_parse_date())
 *
 * Key names, RETURN options and the charset are case-insensitive; strings
 * are astrings (atom, quoted or literal; a NUMBER or NIL by its text).
 * Keys in a row, and inside parentheses, are ANDed.
 *
 * Decisions:
 *  - Sequence numbers and UIDs: the caller gives both of every message in
 *    struct imap_search_msg, so a program needs no callback. "*" is
 *    resolved when compiling: env.messages for sequence sets, env.uid_max
 *    (the UID of the folder's last message, not UIDNEXT - 1) for UID sets,
 *    with imap_seq_range_resolve() ("5:*" with 3 messages is 3:5).
 *    Sequence numbers above env.messages match nothing: RFC 9051 §9 lets a
 *    server answer BAD, but a client racing an EXPUNGE deserves no error.
 *  - "$" (RFC 5182) is allowed only with env.searchres; it stands for
 *    env.saved, UIDs the program copies, both as a key and after "UID".
 *    RETURN (SAVE) also needs env.searchres.
 *  - CHARSET: UTF-8 and US-ASCII, case-insensitively; any other is
 *    IMAP_SEARCH_BADCHARSET. Strings are taken as UTF-8 octets either way.
 *  - RECENT, NEW, OLD: the store keeps no \Recent. For an IMAP4rev2 client
 *    (env.rev2) RECENT and NEW match nothing and OLD matches everything
 *    (RFC 9051 removed \Recent); for an IMAP4rev1 client they test the
 *    IMAP_SEARCH_RECENT bit that a session keeping \Recent may set (NEW is
 *    RECENT UNSEEN, OLD is NOT RECENT).
 *  - KEYWORD/UNKEYWORD compare keywords ASCII case-insensitively with the
 *    words of imap_search_msg.keywords. A system flag there ("KEYWORD
 *    \Seen") is read as the flag key; other "\..." atoms are BAD.
 *  - Strings match as case-insensitive substrings: ASCII letters are folded
 *    to lower case on both sides; every other octet (UTF-8 above ASCII
 *    included) must be equal, byte for byte. An empty string is found in
 *    any text (HEADER name "" matches every message that has the field).
 *  - HEADER name s: some field called name (case-insensitive; every
 *    occurrence counts) has s in its unfolded value, without the white
 *    space at either end (mime_fields_next()), after RFC 2047 encoded words
 *    are decoded. FROM, TO, CC, BCC, SUBJECT are HEADER with that name.
 *  - BODY s: s in the body's text: the message's MIME tree (mime_tree.h:
 *    msg.tree, or parsed from the text when it is NULL or belongs to other
 *    bytes) is walked to IMAP_SEARCH_MIME_DEPTH; text leaves (text/...,
 *    and leaves without a Content-Type) are decoded from quoted-printable
 *    or base64; other leaves are searched as they are when their encoding
 *    is 7bit, 8bit, binary or one we do not know, and skipped when base64
 *    or quoted-printable (base64 of an image would match anything); an
 *    encoded multipart or message part is such a leaf. Preambles,
 *    epilogues, delimiter lines and the parts' own header fields are no
 *    body text; a message/rfc822 part contributes its header as it is and
 *    its body walked the same way; a multipart without parts (no boundary,
 *    or no delimiter line) is searched as it is. The body is what follows
 *    the header's empty line: a message without one has none.
 *  - Charsets of decoded text: ISO-8859-1 (latin1) is converted to UTF-8,
 *    in bodies and in encoded words; other charsets are left as the
 *    decoded octets, so their ASCII still matches.
 *  - TEXT s: s in the header (every field as "name: value", decoded as for
 *    HEADER) or in the body text as for BODY.
 *  - BEFORE/ON/SINCE d: the UTC day of internaldate before, on, since
 *    (on or after) d. SENTBEFORE/SENTON/SENTSINCE d: the day written in
 *    the first Date: field, in its own zone (RFC 9051 "disregarding time
 *    and timezone"). That field is read as RFC 5322 §3.3 date-time, with
 *    its obsolete forms (two- and three-digit years, named zones, comments
 *    and folding white space): [day-name ","] day month year hh:mm[:ss]
 *    [zone]. A message whose Date: does not parse, or that has none,
 *    matches no SENT* key (and NOT SENT... then matches it).
 *  - LARGER/SMALLER n: size (RFC822.SIZE) > n, < n.
 *  - MODSEQ n: the message's modseq >= n; an entry name and type may come
 *    first and narrow nothing (the store keeps one modseq a message).
 *
 * Results (imap_search_result()), and which form is written when:
 *  - the ESEARCH form when esearch_form is true, or the command had RETURN,
 *    or env.rev2 was set; otherwise the IMAP4rev1 form "* SEARCH 2 5 7"
 *    ("* SEARCH" alone when nothing matched).
 *  - ESEARCH: "* ESEARCH (TAG "<tag>")" (left out when tag is NULL), " UID"
 *    for UID SEARCH, then in this order MIN, MAX, COUNT, ALL as asked; with
 *    no RETURN, ALL. MIN, MAX and ALL are left out when nothing matched,
 *    COUNT never (RFC 4731 §3.1). ALL is a sequence set with runs of
 *    consecutive ids as ranges ("2:4,7").
 *  - RETURN (SAVE) alone writes nothing at all (RFC 5182 §2.1): the client
 *    asked only to save.
 *
 * Limits (a limit that is hit is a BAD with its own text):
 *  - IMAP_SEARCH_DEPTH_MAX: NOT, OR and parentheses nested.
 *  - IMAP_SEARCH_KEYS_MAX: ops in a program (each key and each NOT, OR or
 *    parenthesised list counts one).
 *  - IMAP_SEARCH_RANGES_MAX: ranges of all the sequence sets together.
 *  - IMAP_SEARCH_STRINGS_MAX: octets of all the strings together.
 *  - IMAP_SEARCH_MIME_DEPTH: MIME levels walked for BODY and TEXT; deeper
 *    parts, and those the tree left whole (MIME_PART_TRUNCATED: past
 *    MIME_MAX_DEPTH or MIME_TREE_MAX_PARTS), are searched as they are.
 *
 * Memory: the program owns copies of everything it needs (strings, ranges,
 * the saved result); args and env may go once compile returned. A match
 * builds its views of the message (the decoded header fields, the body
 * text) in memory it frees before returning: each at most about twice the
 * message's size (ISO-8859-1 doubles in UTF-8), built only when a key needs
 * it, once however many keys use it; and, when msg.tree is NULL, the MIME
 * tree it parses (linear in the message, at most MIME_TREE_MAX_PARTS
 * parts). The message itself is the caller's (imap_msgs.c reads one
 * message at a time, whole, as FETCH does).
 *
 * Invariants (tests and fuzz/fuzz_imap_search.c cite them by number):
 *  S1. Compile reads only the argument chain: args, its ->next and ->child
 *      links, and the slices they hold; never anything past them.
 *  S2. Compile either succeeds with a program within the limits above, or
 *      fails with *prog_r NULL and a static *err_r; nothing leaks.
 *  S3. Match is pure: its answer depends only on the program and the
 *      message; it writes nothing the caller sees and reads msg only
 *      within [0, len).
 *  S4. Match is bounded: time O(len x program size) (each view is built
 *      once, in O(len + parts): the tree is parsed in O(len) when not
 *      given, and every leaf is read once); an encoded word is at
 *      most 200 octets; each string key is one linear scan of a view),
 *      stack depth O(IMAP_SEARCH_DEPTH_MAX + IMAP_SEARCH_MIME_DEPTH).
 *  S5. When imap_search_needs_text() is false, match never looks at msg
 *      (it may be NULL); when it is true, a NULL msg is an empty message.
 *  S6. Logic: NOT k matches exactly what k does not; OR k1 k2 what either
 *      does; keys in a row or in parentheses what all do.
 *  S7. The result lists exactly the ids given: COUNT is n, MIN and MAX are
 *      the smallest and largest, and ALL parsed back with
 *      imap_parse_seqset() covers each id once and nothing else.
 */
#ifndef MAILROOM_IMAP_IMAP_SEARCH_H
#define MAILROOM_IMAP_IMAP_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_parse.h"
#include "util/buf.h"

#define IMAP_SEARCH_DEPTH_MAX 128	    /* nested NOT / OR / "(" */
#define IMAP_SEARCH_KEYS_MAX 2000	    /* ops in one program */
#define IMAP_SEARCH_RANGES_MAX 65536	    /* sequence-set ranges in one program */
#define IMAP_SEARCH_STRINGS_MAX (64u << 10) /* octets of strings in one program */
#define IMAP_SEARCH_MIME_DEPTH 16	    /* MIME levels walked for BODY / TEXT */

/* imap_search_compile()'s result for an unknown CHARSET (RFC 9051 §6.4.4):
   answer "tag NO " IMAP_SEARCH_BADCHARSET_CODE " " err. */
#define IMAP_SEARCH_BADCHARSET (-2)
#define IMAP_SEARCH_BADCHARSET_CODE "[BADCHARSET (UTF-8 US-ASCII)]"

/* Message flags: the same values as the store's enum store_flag
   (STORE_FLAG_SEEN ... STORE_FLAG_DRAFT in store/store.h), so the store's
   flags go in as they are. IMAP_SEARCH_RECENT is no store flag: an
   IMAP4rev1 session that keeps \Recent sets it. */
enum imap_search_flag {
	IMAP_SEARCH_SEEN = 1 << 0,
	IMAP_SEARCH_ANSWERED = 1 << 1,
	IMAP_SEARCH_FLAGGED = 1 << 2,
	IMAP_SEARCH_DELETED = 1 << 3,
	IMAP_SEARCH_DRAFT = 1 << 4,
	IMAP_SEARCH_RECENT = 1 << 5,
};

/* RETURN options asked (imap_search_return()). */
enum imap_search_ret {
	IMAP_SEARCH_RET_MIN = 1 << 0,
	IMAP_SEARCH_RET_MAX = 1 << 1,
	IMAP_SEARCH_RET_COUNT = 1 << 2,
	IMAP_SEARCH_RET_ALL = 1 << 3, /* also for "RETURN ()" */
	IMAP_SEARCH_RET_SAVE = 1 << 4,
	IMAP_SEARCH_RET_GIVEN = 1 << 5, /* the command had RETURN */
};

/* What compiling needs to know about the session and its folder. */
struct imap_search_env {
	uint32_t messages;     /* messages in the folder: "*" of a sequence set */
	uint32_t uid_max;      /* the UID of its last message (0 if empty): "*" of a UID set */
	bool rev2;	       /* the client enabled IMAP4rev2 */
	bool searchres;	       /* "$" and RETURN (SAVE) allowed (RFC 5182; rev2 has it) */
	const uint32_t *saved; /* "$": the saved result's UIDs, any order; copied */
	size_t n_saved;
};

/* One message, as the session knows it. */
struct imap_search_msg {
	uint32_t seq, uid;
	unsigned flags;	      /* enum imap_search_flag */
	const char *keywords; /* space-separated, or NULL */
	uint64_t size;	      /* RFC822.SIZE */
	int64_t internaldate; /* unix time */
	uint64_t modseq;      /* CONDSTORE (RFC 7162): the MODSEQ key */
	const char *msg;      /* wire form (CRLF); NULL when no text is needed */
	size_t len;
	/* msg's MIME tree (the store's cached one), or NULL: BODY and TEXT
	   then parse msg once. Read only; ignored unless its message size is
	   len. */
	const struct mime_tree *tree;
};

struct imap_search;
struct mime_tree;

/* args: the first argument of SEARCH (imap_command.args; NULL if none).
   0 with *prog_r, which imap_search_free() frees; -1 (BAD) or
   IMAP_SEARCH_BADCHARSET (NO) with *prog_r NULL and a static *err_r. */
int imap_search_compile(const struct imap_node *args, const struct imap_search_env *env,
			struct imap_search **prog_r, const char **err_r);
void imap_search_free(struct imap_search **prog);

/* Whether any key reads the message text (HEADER, BODY, TEXT, FROM, TO,
   CC, BCC, SUBJECT, SENT*): only then does the caller load it. */
bool imap_search_needs_text(const struct imap_search *prog);
/* Whether BODY or TEXT is among them: only then is the MIME tree read. */
bool imap_search_needs_body(const struct imap_search *prog);
bool imap_search_match(const struct imap_search *prog, const struct imap_search_msg *m);

/* enum imap_search_ret bits; 0 when the command had no RETURN. */
unsigned imap_search_return(const struct imap_search *prog);

/* matches: the ids (UIDs when uid, else sequence numbers) of the matching
   messages in ascending order (any order works; only consecutive ascending
   ids make ranges). Appends the untagged response with its CRLF, or
   nothing (see "Results" above for the form); tag is the command's tag,
   NUL-terminated, or NULL. */
void imap_search_result(const struct imap_search *prog, const uint32_t *matches, size_t n, bool uid,
			const char *tag, bool esearch_form, struct buf *out);
/* The program has a MODSEQ key (RFC 7162 §3.1.5): the result then says the
   highest modseq of the matching messages, modseq, which the caller finds
   (imap_search_result_modseq; with no match nothing is said). */
bool imap_search_uses_modseq(const struct imap_search *prog);
void imap_search_result_modseq(const struct imap_search *prog, const uint32_t *matches, size_t n,
			       bool uid, const char *tag, bool esearch_form, uint64_t modseq,
			       struct buf *out);

/* RETURN (SAVE): reduces the matching UIDs (ascending) in place to what
   the saved result holds and returns how many are left: all of them, or
   with MIN and/or MAX but neither ALL nor COUNT only the smallest and/or
   largest (RFC 5182 §2.1). */
size_t imap_search_save_filter(const struct imap_search *prog, uint32_t *uids, size_t n);

#endif
