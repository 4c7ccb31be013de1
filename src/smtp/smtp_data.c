/* SPDX-License-Identifier: MIT */
/* smtp_data.c - see smtp_data.h. */
#include "smtp/smtp_data.h"

#include <strings.h>

enum {
	D_LINE_START, /* after CR LF, or at the start of the data */
	D_DOT,	      /* "." at the start of a line */
	D_DOT_CR,     /* ".\r" at the start of a line */
	D_MID,	      /* inside a line */
	D_CR,	      /* a CR inside a line: CR LF ends the line */
};

void smtp_data_init(struct smtp_data *d, struct buf *out, uint64_t max)
{
	*d = (struct smtp_data){.out = out, .max = max, .in_headers = true};
}

static void emit(struct smtp_data *d, char c)
{
	d->size++;
	if (d->max != 0 && d->size > d->max)
		d->too_big = true;
	if (!d->too_big)
		buf_append_c(d->out, c);
	if (d->in_headers && d->prefix_len < sizeof(d->prefix))
		d->prefix[d->prefix_len++] = c;
}

/* A CR LF was emitted: the line ends. */
static void line_end(struct smtp_data *d)
{
	if (d->in_headers) {
		if (d->prefix_len == 2) /* just the CR LF: the empty line */
			d->in_headers = false;
		else if (d->prefix_len == sizeof(d->prefix) &&
			 strncasecmp(d->prefix, "received:", sizeof(d->prefix)) == 0)
			d->received++;
	}
	d->prefix_len = 0;
}

bool smtp_data_feed(struct smtp_data *d, const char *p, size_t len, size_t *used_r)
{
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
	again:
		switch (d->state) {
		case D_LINE_START:
			if (c == '.' && !d->raw) {
				d->state = D_DOT;
				break;
			}
			d->state = D_MID;
			goto again;
		case D_DOT:
			if (c == '\r') {
				d->state = D_DOT_CR;
				break;
			}
			d->state = D_MID; /* the stuffing dot is dropped */
			goto again;
		case D_DOT_CR:
			if (c == '\n') {
				*used_r = i + 1;
				return true;
			}
			/* ".\r" then something else: the dot goes, the CR was bare */
			d->state = D_CR;
			goto again;
		case D_MID:
			if (c == '\r') {
				d->state = D_CR;
				break;
			}
			if (c == '\n')
				d->bare_lf_cr = true;
			emit(d, c);
			break;
		case D_CR:
			emit(d, '\r');
			if (c == '\n') {
				emit(d, '\n');
				line_end(d);
				d->state = D_LINE_START;
				break;
			}
			d->bare_lf_cr = true;
			d->state = D_MID;
			goto again;
		}
	}
	*used_r = len;
	return false;
}

void smtp_data_feed_raw(struct smtp_data *d, const char *p, size_t len)
{
	size_t used;

	d->raw = true;
	(void)smtp_data_feed(d, p, len, &used); /* never finds an end when raw */
}

void smtp_data_raw_end(struct smtp_data *d)
{
	if (d->state == D_CR) {
		emit(d, '\r');
		d->bare_lf_cr = true;
		d->state = D_MID;
	}
}
