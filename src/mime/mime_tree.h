/* SPDX-License-Identifier: MIT */
/*
 * mime_tree.h - the MIME structure of a message, parsed once (RFC 2045,
 * RFC 2046, RFC 5322), kept as bytes a store can cache, and the IMAP
 * section arithmetic over it (RFC 9051 §6.4.5).
 *
 * mime_tree_parse() reads a message in wire form (CRLF; a bare LF is a
 * line end too) into a tree of parts. Every part knows where its header
 * and body are in the message, its body's line count and its size in the
 * CRLF form (what IMAP reports), and the Content-* fields IMAP shows. A
 * multipart part has its children (RFC 2046 §5.1: delimiters matched on
 * their prefix, the innermost boundary first, the CRLF before a delimiter
 * belonging to it, a missing close delimiter ending the part at its
 * parent's next delimiter or at the end); a message/rfc822 or
 * message/global part has one child, the encapsulated message. Message
 * parts (the root and those children) also keep the raw values of the
 * header fields ENVELOPE is made of, so that imap_fetch_struct.h renders
 * ENVELOPE, BODY and BODYSTRUCTURE from the tree alone.
 *
 * The rules for malformed input are Dovecot's (docs/imap.md, "ENVELOPE
 * and BODYSTRUCTURE"): any input gives a tree. Work is linear in the
 * message size; no part is deeper than MIME_MAX_DEPTH (mime.h), and there
 * are at most MIME_TREE_MAX_PARTS parts: past either limit a multipart or
 * message part stays a leaf (MIME_PART_TRUNCATED) and, past the parts
 * limit, delimiter lines are ordinary body text.
 *
 * A tree owns all its memory; the parts and strings it hands out live
 * until mime_tree_free(). Strings are NUL-terminated and free of NUL (a
 * NUL in a header reads as U+FFFD), but for the raw address fields of an
 * envelope, which carry their lengths. Offsets are into the message the
 * tree was parsed from (or, after deserialising, the one it was parsed
 * from then: check mime_tree_msg_size() against the bytes you have).
 */
#ifndef MAILROOM_MIME_MIME_TREE_H
#define MAILROOM_MIME_MIME_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mime/mime.h"
#include "util/buf.h"

#define MIME_TREE_MAX_PARTS 10000 /* parts per message, the root counted */
#define MIME_BOUNDARY_MAX 80	  /* RFC 2046 §5.1.1 says 70; longer ones are cut here */

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0, /* multipart/: children (none without a boundary) */
	MIME_PART_MESSAGE = 1 << 1,   /* message/rfc822 or /global: one child */
	MIME_PART_TEXT = 1 << 2,      /* text/ (or no Content-Type): lines count */
	MIME_PART_IS_MIME = 1 << 3,   /* MIME-Version or Content-Type, or in a multipart */
	MIME_PART_DIGEST = 1 << 4,    /* multipart/digest: children default to message/rfc822 */
	MIME_PART_TRUNCATED = 1 << 5, /* composite, but a limit left it a leaf */
};

struct mime_param {
	const char *name, *value; /* as written; value unquoted */
};

struct mime_strs {
	const char *const *v; /* NUL-terminated, but may hold NUL: see len */
	const size_t *len;
	size_t n;
};

/* Raw values (mime_hdr_value(): unfolded with LF, not decoded) of the
   fields ENVELOPE shows. For the four single fields the last occurrence
   counts; every occurrence of an address field is kept, in order, with
   its NUL octets (mime_hdr_value_raw(): the address reader treats them as
   Dovecot does). NULL or n == 0: no such field. */
struct mime_envelope {
	const char *date, *subject, *in_reply_to, *message_id;
	struct mime_strs from, sender, reply_to, to, cc, bcc;
};

struct mime_part {
	/* where it is: [hdr_off, hdr_off + hdr_len) is the header with the
	   empty line that ends it; the body follows at body_off */
	size_t hdr_off, hdr_len, body_off, body_len;
	/* LF counts, and sizes with every bare LF counted as CRLF */
	size_t hdr_lines, body_lines, hdr_size, body_size;
	unsigned flags; /* enum mime_part_flags */
	unsigned depth; /* 0 for the root */

	/* Content-Type: type NULL when there is none (text/plain then, or
	   message/rfc822 in a digest); "text" and "" (subtype "") when it
	   was only partly readable. Not lower-cased. */
	const char *type, *subtype;
	const struct mime_param *params; /* RFC 2231 pieces merged */
	size_t n_params;
	const char *encoding; /* Content-Transfer-Encoding token, NULL if none */
	const char *id, *description, *md5, *location; /* raw values */
	const char *disposition;		       /* its token; NULL if none */
	const struct mime_param *disp_params;
	size_t n_disp_params;
	struct mime_strs language;	      /* Content-Language tags */
	const struct mime_envelope *envelope; /* message parts only */

	const struct mime_part *parent, *children, *next; /* children: the first one */
	size_t n_children;
};

struct mime_tree;

/* Never fails; the caller frees with mime_tree_free(). msg must stay
   valid only during the call. */
struct mime_tree *mime_tree_parse(const char *msg, size_t len);
void mime_tree_free(struct mime_tree **t);

const struct mime_part *mime_tree_root(const struct mime_tree *t);
size_t mime_tree_count(const struct mime_tree *t); /* parts, the root counted */
size_t mime_tree_msg_size(const struct mime_tree *t);
/* Every part in order (a parent before its children): i < count. */
const struct mime_part *mime_tree_part(const struct mime_tree *t, size_t i);
bool mime_tree_equal(const struct mime_tree *a, const struct mime_tree *b);

/* The serialised form (docs/imap.md, "The cached structure"): appended
   to out. It holds everything above, little-endian, with a version and a
   CRC-32 of the whole. */
#define MIME_TREE_FORMAT 1
void mime_tree_serialize(const struct mime_tree *t, struct buf *out);
/* 0 with a new tree in *t_r, or -1 with *err_r (a static string) when
   the bytes are not a structure this version wrote: wrong magic or
   version, short, bad checksum, or inconsistent. */
int mime_tree_deserialize(const void *data, size_t len, struct mime_tree **t_r, const char **err_r);

/* --- IMAP sections (RFC 9051 §6.4.5) ------------------------------------- */

/* The part a section part number names ("1", "2.3"; NULL when there is
   no such part): "1" of a message that is not multipart is its body, and
   a number after a message/rfc822 part goes into the encapsulated
   message. len is the length of the part number text. */
const struct mime_part *mime_tree_find(const struct mime_tree *t, const char *section, size_t len);

enum mime_range {
	MIME_RANGE_WHOLE,  /* header and body */
	MIME_RANGE_HEADER, /* the header with its empty line */
	MIME_RANGE_BODY,   /* the body */
};
void mime_part_range(const struct mime_part *p, enum mime_range what, size_t *off_r, size_t *len_r);

enum mime_section {
	MIME_SECTION_PART,   /* BODY[] or BODY[1.2]: the message, or the part's content */
	MIME_SECTION_HEADER, /* BODY[HEADER], [1.2.HEADER], and HEADER.FIELDS (.NOT) */
	MIME_SECTION_TEXT,   /* BODY[TEXT], [1.2.TEXT] */
	MIME_SECTION_MIME,   /* BODY[1.2.MIME]: the part's own MIME header */
};
/* The byte range of a section: part is "" (len 0) for the message
   itself. HEADER and TEXT after a part number need a message/rfc822 (or
   message/global) part and mean its encapsulated message; MIME needs a
   part number. Returns false when there is no such section; IMAP then
   answers with an empty string. */
bool mime_tree_section(const struct mime_tree *t, const char *part, size_t len,
		       enum mime_section what, size_t *off_r, size_t *len_r);

/* RFC 2231 §4: an extended parameter's value ("name*" in params, which
   keeps it as written: charset'language'%XX...) decoded into out
   (cleared first), with *charset_r a slice of value. False when value
   lacks the two quotes. A '%' without two hex digits stays as it is; the
   octets are not converted from the charset. */
bool mime_param_decode(const char *value, struct buf *out, struct slice *charset_r);

#endif
