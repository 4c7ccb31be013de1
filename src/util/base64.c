/* SPDX-License-Identifier: MIT */
/* base64.c - see base64.h. */
#include "util/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct buf *out, const void *in, size_t len)
{
	const unsigned char *p = in;
	buf_reserve(out, (len + 2) / 3 * 4);
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		buf_append_c(out, alphabet[(v >> 18) & 63]);
		buf_append_c(out, alphabet[(v >> 12) & 63]);
		buf_append_c(out, i + 1 < len ? alphabet[(v >> 6) & 63] : '=');
		buf_append_c(out, i + 2 < len ? alphabet[v & 63] : '=');
	}
}

int base64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(struct buf *out, const char *in, size_t len)
{
	size_t start = out->len;

	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = in[i + (size_t)j];
			if (c == '=') {
				/* padding only in the last quantum, only at its end */
				if (i + 4 != len || j < 2)
					goto bad;
				pad++;
				v[j] = 0;
			} else {
				if (pad > 0 || (v[j] = base64_value(c)) < 0)
					goto bad;
			}
		}
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 |
			     (unsigned)v[3];
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			goto bad; /* non-canonical trailing bits */
		buf_append_c(out, (char)(w >> 16));
		if (pad < 2)
			buf_append_c(out, (char)(w >> 8));
		if (pad < 1)
			buf_append_c(out, (char)w);
	}
	return 0;
bad:
	out->len = start;
	if (out->data != NULL)
		out->data[start] = '\0';
	return -1;
}
