/* SPDX-License-Identifier: MIT */
/*
 * line.h - finding command lines in a connection's input, shared by the
 * POP3 and SMTP parsers. Pure functions over slices.
 */
#ifndef MAILROOM_PROTO_LINE_H
#define MAILROOM_PROTO_LINE_H

#include <stddef.h>

#include "util/buf.h"

/* Finds the first line in p[0..len). Returns 1 with the line (without its
   CRLF or bare LF) in *line_r and the octets to consume in *used_r; 0 when
   more input is needed; -1 when no LF comes within the first max octets. */
int line_find(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r);

/* 0 if the line is clean; 1 if it holds a control character (0x01-0x1F,
   0x7F); 2 if it holds a NUL (which wins). */
int line_check_ctl(struct slice line);

#endif
