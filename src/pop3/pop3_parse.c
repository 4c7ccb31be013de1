/* SPDX-License-Identifier: MIT */
/*
 * pop3_parse.c - see pop3_parse.h. Pure functions over slices: no state, no
 * allocation, nothing read past `len`, which is what lets the fuzzer
 * (fuzz/fuzz_pop3_parse.c) hammer them directly.
 */
#include "pop3/pop3_parse.h"
#include "proto/line.h"

#include <string.h>

int pop3_parse_line(const char *p, size_t len, size_t max, struct slice *line_r, size_t *used_r)
{
	return line_find(p, len, max, line_r, used_r);
}

enum pop3_parse_status pop3_parse_check(struct slice line)
{
	static const enum pop3_parse_status map[] = {POP3_PARSE_OK, POP3_PARSE_CTL, POP3_PARSE_NUL};
	return map[line_check_ctl(line)];
}

enum pop3_parse_status pop3_parse_command(struct slice line, struct pop3_command *cmd_r)
{
	struct slice tok, rest;
	enum pop3_parse_status st = pop3_parse_check(line);

	memset(cmd_r, 0, sizeof(*cmd_r));
	if (st != POP3_PARSE_OK)
		return st;
	if (line.len == 0)
		return POP3_PARSE_EMPTY;
	slice_token(line, &cmd_r->verb, &cmd_r->rest);
	/* split the arguments at runs of spaces; leading/trailing ones vanish */
	rest = cmd_r->rest;
	while (rest.len > 0) {
		if (rest.p[0] == ' ') {
			rest.p++;
			rest.len--;
			continue;
		}
		slice_token(rest, &tok, &rest);
		if (cmd_r->argc < POP3_ARGS_MAX)
			cmd_r->args[cmd_r->argc] = tok;
		cmd_r->argc++;
	}
	return POP3_PARSE_OK;
}
