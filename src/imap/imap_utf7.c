/* SPDX-License-Identifier: MIT */
/*
 * imap_utf7.c - modified UTF-7 mailbox names (RFC 3501 §5.1.3), the form
 * IMAP4rev1 clients use, to and from the store's UTF-8 (imap_utf7.h).
 */
#include "imap/imap_utf7.h"

#include <stdint.h>
#include <string.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int b64_val(unsigned char c)
{
	const char *p = c != '\0' ? strchr(b64, c) : NULL;
	return p != NULL ? (int)(p - b64) : -1;
}

/* One code point from UTF-8 at p[0..n); its length, or 0 if malformed. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
	if (len == 0 || len > n || p[0] > 0xf4)
		return 0;
	uint32_t v = p[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && v < 0x800) || (len == 4 && (v < 0x10000 || v > 0x10ffff)) ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return len;
}

static void put_utf8(struct buf *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_append(out, b, n);
}

int imap_utf7_encode(struct slice in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in.p;
	size_t i = 0;

	while (i < in.len) {
		if (p[i] >= 0x20 && p[i] < 0x7f) {
			buf_append_str(out, p[i] == '&' ? "&-" : (char[]){(char)p[i], '\0'});
			i++;
			continue;
		}
		/* a run of other characters, as UTF-16 in modified base64 */
		buf_append_c(out, '&');
		uint32_t bits = 0;
		int nbits = 0;
		while (i < in.len && !(p[i] >= 0x20 && p[i] < 0x7f)) {
			uint32_t cp;
			size_t l = utf8_next(p + i, in.len - i, &cp);
			if (l == 0 || cp < 0x20)
				return -1;
			i += l;
			uint16_t units[2];
			size_t nu = 1;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				units[0] = (uint16_t)(0xd800 | (cp >> 10));
				units[1] = (uint16_t)(0xdc00 | (cp & 0x3ff));
				nu = 2;
			} else {
				units[0] = (uint16_t)cp;
			}
			for (size_t u = 0; u < nu; u++) {
				bits = (bits << 16) | units[u];
				nbits += 16;
				while (nbits >= 6) {
					nbits -= 6;
					buf_append_c(out, b64[(bits >> nbits) & 0x3f]);
				}
			}
		}
		if (nbits > 0)
			buf_append_c(out, b64[(bits << (6 - nbits)) & 0x3f]);
		buf_append_c(out, '-');
	}
	return 0;
}

int imap_utf7_decode(struct slice in, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)in.p;
	size_t i = 0;

	while (i < in.len) {
		if (p[i] < 0x20 || p[i] >= 0x7f)
			return -1; /* 8-bit or control: not modified UTF-7 */
		if (p[i] != '&') {
			buf_append_c(out, (char)p[i++]);
			continue;
		}
		i++;
		if (i < in.len && p[i] == '-') {
			buf_append_c(out, '&');
			i++;
			continue;
		}
		uint32_t bits = 0, high = 0;
		int nbits = 0;
		size_t start = i;
		while (i < in.len && p[i] != '-') {
			int v = b64_val(p[i++]);
			if (v < 0)
				return -1;
			bits = (bits << 6) | (uint32_t)v;
			nbits += 6;
			if (nbits >= 16) {
				nbits -= 16;
				uint32_t unit = (bits >> nbits) & 0xffff;
				if (unit >= 0xd800 && unit <= 0xdbff) {
					if (high != 0)
						return -1;
					high = unit;
				} else if (unit >= 0xdc00 && unit <= 0xdfff) {
					if (high == 0)
						return -1;
					put_utf8(out, 0x10000 + ((high - 0xd800) << 10) +
							  (unit - 0xdc00));
					high = 0;
				} else {
					/* RFC 3501: printable ASCII must not be encoded */
					if (high != 0 || (unit >= 0x20 && unit < 0x7f) ||
					    unit < 0x20)
						return -1;
					put_utf8(out, unit);
				}
			}
		}
		/* "&-" is handled above; an empty or unterminated run is bad, as
		   are leftover bits that are not zero or a dangling surrogate */
		if (i >= in.len || i == start || high != 0 || nbits >= 6 ||
		    (bits & ((1u << nbits) - 1)) != 0)
			return -1;
		i++; /* '-' */
	}
	return 0;
}
