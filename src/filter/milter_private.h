/* SPDX-License-Identifier: MIT */
/*
 * milter_private.h - what milter.c (the conversation) and milter_edit.c
 * (applying a filter's changes) share: where the header fields and the body
 * of a wire-form message lie.
 *
 * The header section is every line up to the first empty one. A line that
 * starts with SP or HT continues the field before it (RFC 5322 §2.2.3); a
 * line that is neither a field ("name:") nor a continuation ends the header
 * section there, without an empty line, as Postfix's MIME reader does: the
 * body then starts at that line. Lines end at LF, with or without CR.
 */
#ifndef MAILROOM_FILTER_MILTER_PRIVATE_H
#define MAILROOM_FILTER_MILTER_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

struct milter_field {
	size_t start;	  /* the field's first octet */
	size_t name_len;  /* the name, without the blanks before ':' */
	size_t value;	  /* the octet after ':' */
	size_t value_end; /* before the line end of the field's last line */
	size_t end;	  /* after that line end */
};

struct milter_layout {
	struct milter_field *fields; /* xmalloc'd; milter_layout_free() */
	size_t n_fields;
	size_t rest;  /* where the header section ends: the empty line, or the body */
	size_t body;  /* the body's first octet (after the empty line, if there is one) */
	bool has_sep; /* there is an empty line */
};

void milter_layout(const char *msg, size_t len, struct milter_layout *l);
void milter_layout_free(struct milter_layout *l);

#endif
