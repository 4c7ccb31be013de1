/* SPDX-License-Identifier: MIT */
/*
 * fuzz_codec.c - libFuzzer target for the small codecs every protocol leans
 * on, checked against properties rather than for crashes alone:
 *  - base64_decode (util/base64.h) is strict: whatever it accepts is
 *    canonical, so encoding the result gives the input back exactly; what it
 *    refuses leaves the output buffer as it was; encode-then-decode of any
 *    bytes is the identity;
 *  - store_to_wire (store/store.h, S4): the output has CR and LF only as
 *    CRLF pairs, ends with CRLF unless empty, keeps every other octet in
 *    order, and converting it again changes nothing;
 *  - slice_to_uint (util/buf.h) agrees with a plain reference parser.
 */
#include "store/store.h"
#include "util/base64.h"
#include "util/buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_base64(const uint8_t *data, size_t size)
{
	struct buf dec = {0}, enc = {0};

	buf_append(&dec, "#", 1); /* decoding appends after this */
	if (base64_decode(&dec, (const char *)data, size) == 0) {
		base64_encode(&enc, dec.data + 1, dec.len - 1);
		if (enc.len != size || (size > 0 && memcmp(enc.data, data, size) != 0))
			abort(); /* accepted a non-canonical form */
	} else if (dec.len != 1 || dec.data[0] != '#' || dec.data[1] != '\0') {
		abort(); /* a refusal changed the buffer */
	}
	buf_clear(&enc);
	buf_clear(&dec);
	base64_encode(&enc, data, size);
	if (enc.len != (size + 2) / 3 * 4)
		abort();
	if (base64_decode(&dec, enc.data != NULL ? enc.data : "", enc.len) != 0 ||
	    dec.len != size || (size > 0 && memcmp(dec.data, data, size) != 0))
		abort();
	buf_free(&enc);
	buf_free(&dec);
}

static void check_wire(const uint8_t *data, size_t size)
{
	struct buf w = {0}, w2 = {0};
	size_t j = 0;

	store_to_wire(&w, (const char *)data, size);
	if ((size == 0) != (w.len == 0))
		abort();
	if (w.len > 0 && (w.len < 2 || memcmp(w.data + w.len - 2, "\r\n", 2) != 0))
		abort();
	for (size_t i = 0; i < w.len; i++) {
		char c = w.data[i];
		if (c == '\r' && (i + 1 >= w.len || w.data[i + 1] != '\n'))
			abort();
		if (c == '\n' && (i == 0 || w.data[i - 1] != '\r'))
			abort();
		if (c == '\r' || c == '\n')
			continue;
		/* the next octet of the input that is not a line end */
		while (j < size && (data[j] == '\r' || data[j] == '\n'))
			j++;
		if (j >= size || (char)data[j] != c)
			abort();
		j++;
	}
	while (j < size && (data[j] == '\r' || data[j] == '\n'))
		j++;
	if (j != size)
		abort(); /* an octet was dropped */
	store_to_wire(&w2, w.data, w.len);
	if (w2.len != w.len || (w.len > 0 && memcmp(w.data, w2.data, w.len) != 0))
		abort();
	buf_free(&w);
	buf_free(&w2);
}

static void check_uint(const uint8_t *data, size_t size)
{
	uint64_t max = UINT64_MAX, v = 0, ref = 0;
	bool ok = size > 0, ovf = false;

	if (size > 0 && data[0] == 'M') { /* "M<digits>;<number>": a chosen maximum */
		const uint8_t *semi = memchr(data, ';', size);
		if (semi != NULL) {
			uint64_t m = 0;
			for (const uint8_t *p = data + 1; p < semi; p++)
				m = m * 10 + (uint64_t)(*p & 0x0f);
			max = m;
			size -= (size_t)(semi + 1 - data);
			data = semi + 1;
			ok = size > 0;
		}
	}
	for (size_t i = 0; i < size && ok; i++) {
		if (data[i] < '0' || data[i] > '9') {
			ok = false;
			break;
		}
		if (__builtin_mul_overflow(ref, 10, &ref) ||
		    __builtin_add_overflow(ref, (uint64_t)(data[i] - '0'), &ref))
			ovf = true;
	}
	bool want = ok && !ovf && ref <= max;
	bool got = slice_to_uint((struct slice){(const char *)data, size}, max, &v);
	if (got && (!want || v != ref))
		abort();
	if (!got && want && size <= 20)
		abort(); /* more than 20 digits (leading zeros) may be refused */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	check_base64(data, size);
	check_wire(data, size);
	if (size <= 64)
		check_uint(data, size);
	return 0;
}
