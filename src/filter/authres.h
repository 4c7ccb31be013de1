/* SPDX-License-Identifier: MIT */
/*
 * authres.h - the Authentication-Results: header field (RFC 8601): a
 * builder that formats ours, and the finder of fields claiming our
 * authserv-id that came with the message (forged, or left by a host that
 * is no longer trusted), so the caller can drop them before adding ours
 * (§5: "MUST remove or rename").
 *
 *   struct authres *ar = authres_new("mx.example.net");
 *   authres_add(ar, "spf", "pass", NULL);
 *   authres_prop(ar, "smtp.mailfrom", "a@b.example");
 *   authres_add(ar, "dmarc", "fail", "p=reject");
 *   authres_prop(ar, "header.from", "b.example");
 *   char *field = authres_format(ar);   // "Authentication-Results: ...\r\n"
 *
 * Format: "Authentication-Results: <id>;" then each resinfo on a line of
 * its own after CRLF TAB, results separated by ';'; a result's parts are
 * folded (CRLF TAB) before a part that would pass 78 columns (a part
 * longer than a line stays whole). A property value is written bare when
 * it is a token (RFC 2045) or local-part@domain made of atoms, else as a
 * quoted-string; reasons are always quoted. CR, LF and other controls in
 * what the caller gives become spaces, so no value can end the field.
 * With no result the field says "none" (§2.2).
 */
#ifndef MAILROOM_FILTER_AUTHRES_H
#define MAILROOM_FILTER_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTHRES_MAX_RESULTS 16
#define AUTHRES_MAX_PROPS 6

struct authres;
struct authres *authres_new(const char *authserv_id);
/* A result "method=result", with an optional reason (NULL: none).
   -1 when AUTHRES_MAX_RESULTS are there already. */
int authres_add(struct authres *ar, const char *method, const char *result, const char *reason);
/* A property "ptype.property=value" of the last result added; -1 if there
   is none or it has AUTHRES_MAX_PROPS already. */
int authres_prop(struct authres *ar, const char *name, const char *value);
/* The whole field, name to CRLF; the caller frees it. */
char *authres_format(const struct authres *ar);
void authres_free(struct authres **ar);

/* A field value's authserv-id equals hostname (case-insensitive; CFWS and
   comments allowed before and after it). */
bool authres_is_ours(const char *field_value, size_t len, const char *hostname);

struct authres_span {
	size_t off, len; /* the whole field, its name to its line end included */
};
/* The Authentication-Results fields of a message header (up to the empty
   line) whose authserv-id is ours: up to max spans in out, in order. The
   count found is returned (it may pass max). */
size_t authres_find_forged(const char *msg, size_t len, const char *hostname,
			   struct authres_span *out, size_t max);

#endif
