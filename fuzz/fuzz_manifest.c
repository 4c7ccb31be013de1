/* SPDX-License-Identifier: MIT */
/*
 * fuzz_manifest.c - libFuzzer target for the backup MANIFEST reader
 * (store_verify on a backup folder, store.h). A backup folder is outside
 * data: any MANIFEST must be read or refused with a sentence, never crash
 * or leak. The folder holds nothing but the MANIFEST, so whatever it says,
 * verify must find a problem (no database, or a listed file missing) and
 * return STORE_INVALID, with every problem a non-empty sentence.
 */
#include "fuzz.h"
#include "store/store.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void count(const char *problem, void *ctx)
{
	CHECK(problem != NULL && problem[0] != '\0');
	(*(unsigned *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[] = "/tmp/fuzz_manifest.XXXXXX";
	static bool made;
	char path[64];

	if (size > 65536)
		return 0;
	if (!made) {
		CHECK(mkdtemp(dir) != NULL);
		made = true;
	}
	snprintf(path, sizeof(path), "%s/MANIFEST", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	close(fd);
	unsigned problems = 0;
	struct store_check_stats s;
	CHECK(store_verify(NULL, dir, count, &problems, &s) == STORE_INVALID);
	CHECK(problems > 0);
	return 0;
}
