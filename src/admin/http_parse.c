/* SPDX-License-Identifier: MIT */
/*
 * http_parse.c - see http_parse.h. The head is cut into lines first, then
 * each line is checked octet by octet; nothing is read past the first
 * HTTP_HEAD_MAX octets or past the end of what arrived.
 */
#include "admin/http_parse.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The next line from *pos: 1 (the line, without CRLF or LF), 0 (no line
   end yet), -1 (a CR that does not end a line). */
static int next_line(const char *p, size_t lim, size_t *pos, struct slice *line)
{
	const char *start = p + *pos;
	const char *nl = memchr(start, '\n', lim - *pos);

	if (nl == NULL)
		return 0;
	size_t n = (size_t)(nl - start);
	if (n > 0 && start[n - 1] == '\r')
		n--;
	if (memchr(start, '\r', n) != NULL)
		return -1;
	*line = (struct slice){start, n};
	*pos = (size_t)(nl - p) + 1;
	return 1;
}

static size_t token_len(struct slice s)
{
	size_t i = 0;
	while (i < s.len && is_tchar((unsigned char)s.p[i]))
		i++;
	return i;
}

/* Could an unfinished request line that starts so still be one? Its
   first octets must be a method token, then a space (or a CR that may
   begin an empty line). */
static bool method_prefix_ok(const char *p, size_t n)
{
	size_t k = 0;
	while (k < n && is_tchar((unsigned char)p[k]))
		k++;
	return k == n || (k > 0 && p[k] == ' ') || (k == 0 && p[0] == '\r');
}

/* The path of an origin-form or absolute-form target (§3.2.1, §3.2.2). */
static int target_path(struct slice t, struct slice *path_r)
{
	struct slice rest = t;

	if (t.len == 0)
		return -1;
	for (size_t i = 0; i < t.len; i++)
		if ((unsigned char)t.p[i] < 0x21 || (unsigned char)t.p[i] > 0x7e)
			return -1;
	if (t.p[0] != '/') {
		size_t skip = t.len >= 7 && strncasecmp(t.p, "http://", 7) == 0	   ? 7
			      : t.len >= 8 && strncasecmp(t.p, "https://", 8) == 0 ? 8
										   : 0;
		if (skip == 0)
			return -1;
		const char *slash = memchr(t.p + skip, '/', t.len - skip);
		if (slash == NULL) {
			*path_r = SLICE_LIT("/");
			return 0;
		}
		rest = (struct slice){slash, t.len - (size_t)(slash - t.p)};
	}
	const char *q = memchr(rest.p, '?', rest.len);
	*path_r = (struct slice){rest.p, q != NULL ? (size_t)(q - rest.p) : rest.len};
	return 0;
}

/* request-line = method SP request-target SP HTTP-version (§3) */
static int request_line(struct slice line, struct http_request *req, int *status_r)
{
	size_t m = token_len(line);

	*status_r = 400;
	if (m == 0 || m >= line.len || line.p[m] != ' ')
		return -1;
	req->method = (struct slice){line.p, m};
	const char *t = line.p + m + 1;
	const char *end = line.p + line.len;
	const char *sp = memchr(t, ' ', (size_t)(end - t));
	if (sp == NULL)
		return -1;
	req->target = (struct slice){t, (size_t)(sp - t)};
	if (target_path(req->target, &req->path) < 0)
		return -1;
	struct slice v = {sp + 1, (size_t)(end - sp - 1)};
	if (v.len != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[5] < '0' || v.p[5] > '9' ||
	    v.p[6] != '.' || v.p[7] < '0' || v.p[7] > '9')
		return -1;
	if (v.p[5] != '1') {
		*status_r = 505;
		return -1;
	}
	req->minor = v.p[7] - '0';
	return 0;
}

/* field-line = field-name ":" OWS field-value OWS (§5); returns 1 for a
   Host field, 0 for another, -1 for a bad one. */
static int field_line(struct slice line)
{
	size_t n = token_len(line);

	if (n == 0 || n >= line.len || line.p[n] != ':')
		return -1; /* also obs-fold: a line that starts with SP or HTAB */
	for (size_t i = n + 1; i < line.len; i++) {
		unsigned char c = (unsigned char)line.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -1;
	}
	return n == 4 && strncasecmp(line.p, "host", 4) == 0 ? 1 : 0;
}

int http_request_parse(const char *p, size_t len, struct http_request *req, int *status_r)
{
	size_t lim = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	size_t pos = 0;
	bool have_line = false;
	unsigned hosts = 0;

	memset(req, 0, sizeof(*req));
	*status_r = 400;
	for (;;) {
		struct slice line;
		int r = next_line(p, lim, &pos, &line);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (!have_line && !method_prefix_ok(p + pos, lim - pos))
				return -1; /* garbage, a TLS hello: no need to wait */
			if (len < HTTP_HEAD_MAX)
				return 0;
			*status_r = 431;
			return -1;
		}
		if (!have_line) {
			if (line.len == 0)
				continue; /* §2.2: empty lines before the request line */
			if (request_line(line, req, status_r) < 0)
				return -1;
			have_line = true;
			continue;
		}
		if (line.len == 0)
			break;
		int f = field_line(line);
		if (f < 0)
			return -1;
		hosts += (unsigned)f;
	}
	if (hosts > 1 || (req->minor >= 1 && hosts == 0))
		return -1; /* §3.2 */
	req->head_len = pos;
	return 1;
}
