/* SPDX-License-Identifier: MIT */
/*
 * http_parse.h - the request head of HTTP/1.x (RFC 9112 §2-§5), as a pure
 * function over the bytes received so far: no allocation, no state, so a
 * head cut anywhere parses the same once it is whole.
 *
 * What it accepts is what the admin endpoint needs and no more:
 *  - empty lines before the request line are skipped (§2.2);
 *  - a line ends in CRLF or a bare LF (§2.2 lets a recipient take LF
 *    alone); a CR anywhere else is an error;
 *  - request-line = method SP request-target SP HTTP-version, single
 *    spaces (§3); the method a token; the target origin-form ("/path?q")
 *    or absolute-form ("http://host/path", §3.2.2), visible ASCII only;
 *    the version HTTP/1.0 or HTTP/1.1 (another major: 505);
 *  - header fields name ":" OWS value OWS: the name a token with no space
 *    before the colon (§5.1), no obs-fold (§5.2), no control octet but
 *    HTAB in the value;
 *  - HTTP/1.1 needs exactly one Host field (§3.2).
 * A body is never read (the endpoint answers GET and HEAD and closes).
 *
 * Slices point into the caller's bytes, which must outlive them.
 */
#ifndef MAILROOM_ADMIN_HTTP_PARSE_H
#define MAILROOM_ADMIN_HTTP_PARSE_H

#include <stddef.h>

#include "util/buf.h"

#define HTTP_HEAD_MAX 8192 /* the whole head, request line and fields */

struct http_request {
	struct slice method;
	struct slice target; /* as sent */
	struct slice path;   /* the target's path, without query; "/" at least */
	int minor;	     /* HTTP/1.<minor> */
	size_t head_len;     /* octets through the blank line */
};

/* Parses the head at the start of p[0..len). Returns 1 with *req set once
   the blank line that ends it is there; 0 if more bytes are needed (and
   len < HTTP_HEAD_MAX); -1 on a bad head with *status_r the answer: 400,
   431 (no end within HTTP_HEAD_MAX octets) or 505. */
int http_request_parse(const char *p, size_t len, struct http_request *req, int *status_r);

#endif
