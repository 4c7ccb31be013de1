/* SPDX-License-Identifier: MIT */
/*
 * buf.h - the two byte types of mailroom.
 *
 * struct buf owns a growable byte array (Postfix VSTRING, Dovecot buffer_t).
 * It is always NUL-terminated past `len` for convenience, but `len` is the
 * truth: bodies may contain NUL bytes. A zero-initialised struct buf is an
 * empty buffer. buf_free() releases it; buf_free_secret() zeroes it first.
 *
 * struct slice borrows: a pointer and a length into someone else's memory,
 * usually the connection's read buffer (nginx ngx_str_t). Parsers return
 * slices; handlers copy what must outlive the current line.
 */
#ifndef MAILROOM_UTIL_BUF_H
#define MAILROOM_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/mem.h"

struct buf {
	char *data;
	size_t len, cap;
};

struct slice {
	const char *p;
	size_t len;
};

#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_append_str(struct buf *b, const char *s);
void buf_append_c(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) ATTR_FORMAT(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) ATTR_FORMAT(2, 0);
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);
/* Zero the whole allocation, then free. */
void buf_free_secret(struct buf *b);

struct slice slice_from(const char *s);
bool slice_eq(struct slice s, const char *lit);
/* ASCII case-insensitive equality with a NUL-terminated literal. */
bool slice_eq_ci(struct slice s, const char *lit);
/* Split off the first space-separated token; *rest gets what follows the
   single separating space (may be empty). Returns false if s is empty. */
bool slice_token(struct slice s, struct slice *tok, struct slice *rest);
/* Parse a decimal number in [0, max] with no sign, no leading junk;
   returns false on any deviation. */
bool slice_to_uint(struct slice s, uint64_t max, uint64_t *v_r);

#endif
