/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pop3_parse.c - libFuzzer target for the POP3 line finder and command
 * parser (pop3/pop3_parse.h). The input is treated as a stream of pipelined
 * client bytes: lines are cut the way the session cuts them, each one is
 * parsed, and every slice the parser returns is checked to lie inside the
 * line it came from. Invariant failures abort, which libFuzzer reports.
 */
#include "fuzz.h"
#include "pop3/pop3_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool inside(struct slice s, struct slice outer)
{
	return s.len == 0 || (s.p >= outer.p && s.p + s.len <= outer.p + outer.len);
}

static void check_command(struct slice line)
{
	struct pop3_command cmd;
	enum pop3_parse_status st = pop3_parse_command(line, &cmd);

	CHECK(st == pop3_parse_check(line) || (st == POP3_PARSE_EMPTY && line.len == 0));
	if (st != POP3_PARSE_OK)
		return;
	CHECK(line.len > 0);
	CHECK(inside(cmd.verb, line) && inside(cmd.rest, line));
	CHECK(memchr(cmd.verb.p, ' ', cmd.verb.len) == NULL);
	for (size_t i = 0; i < cmd.argc && i < POP3_ARGS_MAX; i++) {
		CHECK(cmd.args[i].len > 0 && inside(cmd.args[i], cmd.rest));
		CHECK(memchr(cmd.args[i].p, ' ', cmd.args[i].len) == NULL);
	}
	for (size_t i = 0; i < line.len; i++)
		CHECK(line.p[i] != '\0' && line.p[i] != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t len = size;
	/* the first byte picks the limit: the short command one or the long one */
	size_t max = size > 0 && (data[0] & 1) ? POP3_LINE_MAX : POP3_LONG_LINE_MAX;

	while (len > 0) {
		struct slice line;
		size_t used;
		int r = pop3_parse_line(p, len, max, &line, &used);
		if (r < 0) {
			CHECK(len >= max);
			CHECK(memchr(p, '\n', max) == NULL);
			break;
		}
		if (r == 0) {
			CHECK(len < max && memchr(p, '\n', len) == NULL);
			break;
		}
		CHECK(used >= 1 && used <= len && used <= max);
		CHECK(line.p == p && line.len < used && p[used - 1] == '\n');
		CHECK(memchr(line.p, '\n', line.len) == NULL);
		check_command(line);
		p += used;
		len -= used;
	}
	return 0;
}
