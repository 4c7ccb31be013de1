/* SPDX-License-Identifier: MIT */
/*
 * base64.h - strict RFC 4648 base64 for SASL (RFC 4954 §4, RFC 5034 §4).
 *
 * The decoder refuses anything that is not canonical base64: characters
 * outside the alphabet, whitespace, missing or misplaced padding, and
 * non-zero trailing bits. A SASL exchange that gets bad base64 must answer
 * with an error, never guess.
 */
#ifndef MAILROOM_UTIL_BASE64_H
#define MAILROOM_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

void base64_encode(struct buf *out, const void *in, size_t len);
/* Appends the decoded bytes to out; returns 0, or -1 if `in` is not strict
   base64 (out is then left as it was). */
int base64_decode(struct buf *out, const char *in, size_t len);
/* The 6-bit value of one base64 character, or -1. */
int base64_value(char c);

#endif
