/* SPDX-License-Identifier: MIT */
/*
 * dotstuff.c - see dotstuff.h. The filter copies whole runs up to the next
 * LF with one memchr()+append, and looks at single bytes only at line starts
 * (for '.' and, in TOP mode, for the blank line that ends the headers).
 */
#include "proto/dotstuff.h"

#include <string.h>

enum { DS_HEADERS, DS_BODY, DS_DONE };
enum { DS_LINE_START, DS_MID_LINE, DS_HEADER_CR };

void dotstuff_init(struct dotstuff *ds)
{
	memset(ds, 0, sizeof(*ds));
	ds->phase = DS_BODY; /* no cut: the header boundary does not matter */
	ds->pos = DS_LINE_START;
	ds->last = '\n';
}

void dotstuff_init_top(struct dotstuff *ds, uint64_t body_lines)
{
	dotstuff_init(ds);
	ds->phase = DS_HEADERS;
	ds->limited = true;
	ds->lines_left = body_lines;
}

static void put(struct dotstuff *ds, struct buf *out, const char *p, size_t n)
{
	buf_append(out, p, n);
	ds->last = p[n - 1];
}

/* The blank line after the headers has just been passed. */
static void end_of_headers(struct dotstuff *ds)
{
	ds->pos = DS_LINE_START;
	ds->phase = ds->lines_left == 0 ? DS_DONE : DS_BODY;
}

bool dotstuff_feed(struct dotstuff *ds, const char *in, size_t len, struct buf *out)
{
	size_t i = 0;

	while (i < len && ds->phase != DS_DONE) {
		char c = in[i];
		if (ds->pos == DS_LINE_START) {
			if (c == '.')
				put(ds, out, ".", 1); /* RFC 1939 §3 byte-stuffing */
			if (ds->phase == DS_HEADERS && (c == '\r' || c == '\n')) {
				put(ds, out, &c, 1);
				i++;
				if (c == '\r')
					ds->pos = DS_HEADER_CR;
				else
					end_of_headers(ds); /* bare LF: not wire form; be kind */
				continue;
			}
			ds->pos = DS_MID_LINE;
		} else if (ds->pos == DS_HEADER_CR) {
			if (c == '\n') {
				put(ds, out, &c, 1);
				i++;
				end_of_headers(ds);
				continue;
			}
			ds->pos = DS_MID_LINE;
		}
		const char *nl = memchr(in + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - in) + 1 : len;
		put(ds, out, in + i, end - i);
		i = end;
		if (nl != NULL) {
			ds->pos = DS_LINE_START;
			if (ds->limited && ds->phase == DS_BODY && --ds->lines_left == 0)
				ds->phase = DS_DONE;
		}
	}
	return ds->phase == DS_DONE;
}

void dotstuff_finish(struct dotstuff *ds, struct buf *out)
{
	if (ds->last == '\r')
		buf_append_str(out, "\n");
	else if (ds->last != '\n')
		buf_append_str(out, "\r\n");
	buf_append_str(out, ".\r\n");
	ds->last = '\n';
	ds->phase = DS_DONE;
}
