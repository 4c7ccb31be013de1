/* SPDX-License-Identifier: MIT */
/*
 * dovecot_uidlist.h - Dovecot's dovecot-uidlist (the UIDs of a Maildir) and
 * its pop3_uidl_format, so an import serves the UIDLs Dovecot served; and
 * Courier's courierpop3dsizelist. Parsers of outside data: any input parses
 * or fails with a line number (fuzz/fuzz_dovecot_uidlist.c).
 *
 * dovecot-uidlist: a header line, "1 <uidvalidity> <next uid>" (version 1)
 * or "3 V<uidvalidity> N<next uid> G<guid> ..." (versions 2 and 3), then one
 * line per message: version 1 "<uid> <file name>", later ones
 * "<uid> [<field>...] :<file name>" where each field is one letter and a
 * value (P the POP3 UIDL, G the GUID, W the virtual size, S the size...).
 * File names are matched without their ":2,flags" part.
 */
#ifndef MAILROOM_MIGRATE_DOVECOT_UIDLIST_H
#define MAILROOM_MIGRATE_DOVECOT_UIDLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dc_uidrec {
	uint32_t uid;
	char *name;	 /* base file name: up to the first ':' */
	char *pop3_uidl; /* the P field, or NULL */
	char *guid;	 /* the G field, or NULL */
	unsigned line;	 /* in the file, for error texts */
};

struct dc_uidlist {
	unsigned version;     /* 1, 2 or 3 */
	uint32_t uidvalidity; /* never 0 */
	uint32_t next_uid;
	char *guid;		/* the header's G, or NULL */
	struct dc_uidrec *recs; /* in the file's order: ascending uids */
	size_t n;
};

/* The next line of [*p, end) without its LF (and a CR before it), *p
   moved past it; false at the end. For every parser of these files. */
bool dc_next_line(const char **p, const char *end, const char **line, size_t *len);

/* Returns 0, or -1 with err ("line N: ...") and *l empty. */
int dc_uidlist_parse(const char *data, size_t len, struct dc_uidlist *l, char *err, size_t err_len);
void dc_uidlist_free(struct dc_uidlist *l);

/* Expands a pop3_uidl_format (Dovecot's variables: %u the uid, %v the
   uidvalidity, %f the file name, %g the GUID; %{uid}, %{uidvalidity},
   %{filename}, %{guid}; %%; a width, 0 for zero padding; modifiers X
   (hexadecimal, in lower case as Dovecot writes it), U and L (case)). Returns 0, or -1 with err for
   an unknown variable or a result that is no valid UIDL (1-70 printable). */
int dc_uidl_format(const char *fmt, uint32_t uid, uint32_t uidvalidity, const char *filename,
		   const char *guid, char *out, size_t out_len, char *err, size_t err_len);

/* courierpop3dsizelist: "/<version> <next uid> <uidvalidity>", then
   "<file name> <size> <uid>:<uidvalidity>[:<utf8>]" per message. */
struct courier_rec {
	char *name; /* base file name */
	char uidl[71];
};
struct courier_list {
	struct courier_rec *recs;
	size_t n;
};
/* Returns 0, or -1 with err (a header Courier itself would not read). */
int courier_list_parse(const char *data, size_t len, struct courier_list *l, char *err,
		       size_t err_len);
void courier_list_free(struct courier_list *l);

#endif
