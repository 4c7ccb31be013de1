/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer targets share: CHECK(x) aborts when a
 * property of the code under test does not hold, so libFuzzer reports the
 * input (and the replay test fails on it).
 */
#ifndef MAILROOM_FUZZ_FUZZ_H
#define MAILROOM_FUZZ_FUZZ_H

#include <stdlib.h>

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

#endif
