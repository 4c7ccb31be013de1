/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config.c - libFuzzer target for the INI config parser (util/config.h).
 * Any input must parse or fail with a message naming the file, never crash,
 * leak or read out of bounds; a parsed config must hold sane values, and
 * what config_write() makes of it must read back to the same text.
 */
#include "util/buf.h"
#include "server/schema.h"
#include "util/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char *err = NULL;

	if (size > 65536)
		return 0;
	memset(&c, 0, sizeof(c));
	if (config_parse(server_schema(), "/fuzz/mailroom.conf", (const char *)data, size, &c,
			 &err) == 0) {
		if (err != NULL || c.data_dir == NULL || c.data_dir[0] != '/' || c.workers == 0)
			abort();
		for (size_t r = 0; r < CONFIG_LISTEN_MAX; r++)
			for (size_t i = 0; i < c.listen[r].count; i++)
				if (strlen(c.listen[r].addrs[i]) == 0)
					abort();
		struct buf once = {0}, twice = {0};
		struct config again;
		config_write(&c, &once);
		if (config_parse(server_schema(), "/fuzz/mailroom.conf", once.data, once.len,
				 &again, &err) != 0)
			abort();
		config_write(&again, &twice);
		if (once.len != twice.len || memcmp(once.data, twice.data, once.len) != 0)
			abort();
		config_free(&again);
		buf_free(&once);
		buf_free(&twice);
	} else if (err == NULL || strncmp(err, "/fuzz/mailroom.conf", 19) != 0) {
		abort();
	}
	free(err);
	config_free(&c);
	return 0;
}
