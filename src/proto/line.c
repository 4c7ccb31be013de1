/* SPDX-License-Identifier: MIT */
/* line.c - see line.h. */
#include "proto/line.h"

#include <string.h>

int line_find(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r)
{
	size_t scan = len < max ? len : max;
	const char *lf = scan > 0 ? memchr(p, '\n', scan) : NULL;

	if (lf == NULL)
		return len >= max ? -1 : 0;
	size_t n = (size_t)(lf - p);
	*used_r = n + 1;
	if (n > 0 && p[n - 1] == '\r')
		n--; /* CRLF; a bare LF ends the line as well */
	*line_r = (struct slice){p, n};
	return 1;
}

int line_check_ctl(struct slice line)
{
	int st = 0;

	for (size_t i = 0; i < line.len; i++) {
		unsigned char c = (unsigned char)line.p[i];
		if (c == '\0')
			return 2;
		if (c < 0x20 || c == 0x7f)
			st = 1;
	}
	return st;
}
