/* SPDX-License-Identifier: MIT */
/*
 * mime_private.h - what the files of src/mime/ share and nobody else sees:
 * the lexer of structured header field values (RFC 5322 §3.2, RFC 2045
 * §5.1), the Content-Type reader with its parameters (RFC 2231
 * continuations merged), and nothing else.
 *
 * The lexer reads [p, end) of an unfolded or folded field value; it never
 * reads past end. At end the current character reads as NUL, which is
 * what a NUL octet in the value is too: neither atext nor a token
 * character, so it ends words (inside quoted strings, comments and domain
 * literals it is kept, as U+FFFD), as in Dovecot. Its
 * functions return as Dovecot's rfc822-parser does, which mailroom matches
 * byte for byte in IMAP (docs/imap.md): 1 = more input follows, 0 = the
 * end was reached, -1 = broken input. Every function appends to the buffer
 * it is given and allocates nothing else.
 */
#ifndef MAILROOM_MIME_MIME_PRIVATE_H
#define MAILROOM_MIME_MIME_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct mime_lex {
	const unsigned char *p, *end;
	/* when not NULL: the text of the last comment skipped */
	struct buf *comment;
};

void mime_lex_init(struct mime_lex *lx, const char *p, size_t n, struct buf *comment);
/* The current character, or NUL at the end (as for a NUL octet). */
static inline unsigned char mime_lex_cur(const struct mime_lex *lx)
{
	return lx->p < lx->end ? *lx->p : 0;
}
/* RFC 5322 atext (8-bit octets count as atext, as they do in practice). */
bool mime_lex_is_atext(unsigned char c);

int mime_lex_skip_lwsp(struct mime_lex *lx); /* white space, line ends, comments */
int mime_lex_atom(struct mime_lex *lx, struct buf *out);
int mime_lex_dot_atom(struct mime_lex *lx, struct buf *out);
int mime_lex_token(struct mime_lex *lx, struct buf *out);  /* RFC 2045 token, may be empty */
int mime_lex_quoted(struct mime_lex *lx, struct buf *out); /* at '"' */
int mime_lex_phrase(struct mime_lex *lx, struct buf *out); /* words joined by one space */
int mime_lex_domain(struct mime_lex *lx, struct buf *out); /* at '@' */

/* Parameters as a list of name/value pairs (strings in pool, NUL-ended). */
struct mime_kv {
	size_t name, value; /* offsets into pool */
};
struct mime_kvs {
	struct buf pool;
	struct mime_kv *v;
	size_t n, cap;
};
void mime_kvs_add(struct mime_kvs *kv, const char *name, size_t nlen, const char *value,
		  size_t vlen);
void mime_kvs_clear(struct mime_kvs *kv);
void mime_kvs_free(struct mime_kvs *kv);
static inline const char *mime_kvs_name(const struct mime_kvs *kv, size_t i)
{
	return kv->pool.data + kv->v[i].name;
}
static inline const char *mime_kvs_value(const struct mime_kvs *kv, size_t i)
{
	return kv->pool.data + kv->v[i].value;
}

/* Content-Type's "type/subtype" into ct (cleared first): all of it, or
   only the type when the value ends after it ("text"), or nothing when it
   is broken otherwise. Returns -1 when broken (parameters must not be read
   then), 0 at the end, 1 when parameters may follow. */
int mime_lex_content_type(struct mime_lex *lx, struct buf *ct);
/* The "; name=value" list that follows (into kv, cleared first), with
   RFC 2231 continuations (name*0, name*1*, ...) merged into one
   parameter "name" or, when any piece is extended, "name*" whose value
   keeps the charset'language' prefix and the %XX escapes. Broken
   parameters are skipped. */
void mime_lex_params(struct mime_lex *lx, struct mime_kvs *kv);

/* --- the tree's storage (mime_tree.c, mime_tree_blob.c) --------------------
 *
 * What is serialised, index-based: a record per part in pre-order (a
 * parent before its children, children in order), parameter pairs, string
 * lists and envelopes, all referring to strings in one pool by "ref": 0
 * for NULL, else the pool offset plus one. mime_tree_finish() builds the
 * public pointer form (mime_tree.h) from these once they are complete.
 */
#include <stdint.h>

#include "mime/mime_tree.h"

enum part_str {
	PS_TYPE,
	PS_SUBTYPE,
	PS_ENCODING,
	PS_ID,
	PS_DESCRIPTION,
	PS_MD5,
	PS_LOCATION,
	PS_DISPOSITION,
	PS_COUNT
};
enum env_str { ES_DATE, ES_SUBJECT, ES_IN_REPLY_TO, ES_MESSAGE_ID, ES_COUNT };
enum env_list { EL_FROM, EL_SENDER, EL_REPLY_TO, EL_TO, EL_CC, EL_BCC, EL_COUNT };

#define NO_PARENT UINT32_MAX

struct part_rec {
	uint64_t hdr_off, hdr_len, body_len;
	uint64_t hdr_lines, body_lines, hdr_size, body_size;
	uint32_t flags, parent;
	uint32_t str[PS_COUNT];
	uint32_t params, n_params, disp, n_disp, lang, n_lang;
	uint32_t envelope; /* 0, or the envelope's index plus one */
};
struct param_rec {
	uint32_t name, value;
};
struct env_rec {
	uint32_t str[ES_COUNT];
	uint32_t list[EL_COUNT], n_list[EL_COUNT]; /* into strs */
};

struct str_rec {
	uint32_t ref, len; /* len octets at the ref, which may hold NUL */
};

struct mime_tree {
	uint64_t msg_size;
	struct part_rec *recs;
	size_t n_recs, cap_recs;
	struct param_rec *prm;
	size_t n_prm, cap_prm;
	struct str_rec *strs; /* languages and address fields */
	size_t n_strs, cap_strs;
	struct env_rec *envs;
	size_t n_envs, cap_envs;
	struct buf pool;

	/* the public form, made by mime_tree_finish() */
	struct mime_part *parts;
	struct mime_param *params;
	const char **strv;
	size_t *strlen;
	struct mime_envelope *envelopes;
};

struct mime_tree *mime_tree_alloc(void);
/* Makes the public form; the records must be consistent (checked by the
   deserialiser, true by construction in the parser). */
void mime_tree_finish(struct mime_tree *t);

#endif
