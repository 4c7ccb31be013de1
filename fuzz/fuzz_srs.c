/* SPDX-License-Identifier: MIT */
/*
 * fuzz_srs.c - libFuzzer target for the SRS addresses (delivery/srs.h), the
 * local part of every RCPT to a hosted domain. Byte 0 picks the output
 * buffer's size (1..256, or 0: a large one), bytes 1-2 the day; the rest,
 * up to a NUL, is the address. Checks: srs_reverse answers -1, 0 or 1,
 * 0 only for what carries no SRS tag, and 1 with a string that fits and is
 * no longer than the address; an address srs_forward takes as a sender
 * reverses to that sender (an SRS1 one to an SRS0 address at its first
 * hop); nothing is written past the buffer (a guard octet stays).
 */
#include "delivery/srs.h"
#include "fuzz.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GUARD 0x5a

static const unsigned char key[SRS_KEY_LEN] = "fuzz fuzz fuzz fuzz fuzz fuzz 3";

static bool tagged(const char *local, size_t len)
{
	return len >= 5 && strncasecmp(local, "SRS", 3) == 0 &&
	       (local[3] == '0' || local[3] == '1') && strchr("=+-", local[4]) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	size_t out_len = data[0] == 0 ? 8192 : data[0];
	int64_t now = (int64_t)(data[1] | data[2] << 8) * 86400 + 4242;
	size_t len = strnlen((const char *)data + 3, size - 3);
	char *in = malloc(len + 1);
	char *out = malloc(out_len + 1);
	char *fwd = malloc(len + 64);
	char *back = malloc(len + 64);

	memcpy(in, data + 3, len);
	in[len] = '\0';
	memset(out, GUARD, out_len + 1);
	int r = srs_reverse(key, sizeof(key), in, now, out, out_len);
	CHECK(r >= -1 && r <= 1);
	CHECK(out[out_len] == GUARD);
	const char *at = strrchr(in, '@');
	size_t local_len = at != NULL ? (size_t)(at - in) : len;
	if (r == 0)
		CHECK(!tagged(in, local_len));
	if (r == 1) {
		size_t n = strnlen(out, out_len);
		CHECK(n < out_len && n <= len);
		CHECK(memchr(out, '@', n) != NULL);
	}

	/* the address as a sender forwarded by fwd.test, and back */
	int f = srs_forward(key, sizeof(key), in, "fwd.test", now, fwd, len + 64);
	CHECK(f >= -1 && f <= 1);
	if (f == 1)
		CHECK(strcmp(fwd, in) == 0);
	if (f == 0) {
		CHECK(strncmp(fwd, "SRS", 3) == 0);
		int b = srs_reverse(key, sizeof(key), fwd, now, back, len + 64);
		CHECK(b == 1);
		bool srs1_in = strncasecmp(in, "SRS1", 4) == 0 && tagged(in, local_len);
		if (strncmp(fwd, "SRS1", 4) == 0 && srs1_in)
			CHECK(strncmp(back, "SRS0", 4) == 0);
		else if (strncmp(fwd, "SRS1", 4) == 0) /* an SRS0 sender */
			CHECK(strncasecmp(back, in, 4) == 0 && strcmp(back + 4, in + 4) == 0);
		else
			CHECK(strcmp(back, in) == 0);
		/* 21 days on it still reverses, 22 days on an SRS0 no longer */
		if (strncmp(fwd, "SRS0", 4) == 0) {
			CHECK(srs_reverse(key, sizeof(key), fwd, now + 21 * 86400, back,
					  len + 64) == 1);
			CHECK(srs_reverse(key, sizeof(key), fwd, now + 22 * 86400, back,
					  len + 64) == -1);
		}
	}
	free(in);
	free(out);
	free(fwd);
	free(back);
	return 0;
}
