/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_parse.c - libFuzzer target for the SMTP line finder, command,
 * path and parameter parsers (smtp/smtp_parse.h). The input is a stream of
 * pipelined client lines; MAIL/RCPT arguments go through the path parser
 * with and without SMTPUTF8, and their ESMTP parameters through the MAIL and
 * RCPT parameter policy (smtp/smtp_policy.h). Invariants abort, which
 * libFuzzer reports.
 */
#include "fuzz.h"
#include "smtp/smtp_parse.h"
#include "smtp/smtp_policy.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool inside(struct slice s, struct slice arg)
{
	return s.len == 0 || (s.p >= arg.p && s.p + s.len <= arg.p + arg.len);
}

/* MAIL and RCPT parameters: a refusal names a parameter that exists; what
   is kept borrows from the line and respects the RFC 3461 limits. */
static void check_params(const struct smtp_path *p, struct slice arg)
{
	struct smtp_mail_params mp;
	struct smtp_rcpt_params rp;
	size_t bad = SIZE_MAX;

	if (smtp_policy_mail_params(p, &mp, &bad)) {
		CHECK(inside(mp.ret, arg) && inside(mp.envid, arg));
		CHECK(mp.envid.len <= SMTP_ENVID_MAX);
		CHECK(mp.ret.len == 0 || slice_eq_ci(mp.ret, "FULL") ||
		      slice_eq_ci(mp.ret, "HDRS"));
	} else {
		CHECK(bad < p->n_params);
	}
	bad = SIZE_MAX;
	if (smtp_policy_rcpt_params(p, &rp, &bad)) {
		CHECK(inside(rp.notify, arg) && inside(rp.orcpt, arg));
		CHECK(rp.orcpt.len <= SMTP_ORCPT_MAX);
		CHECK(rp.notify.len == 0 || smtp_policy_notify_valid(rp.notify));
		(void)smtp_policy_notify_success(rp.notify);
	} else {
		CHECK(bad < p->n_params);
	}
}

static void check_path(struct slice arg, bool utf8)
{
	struct smtp_path p;
	enum smtp_path_error e = smtp_parse_path(arg, true, utf8, &p);

	if (e != SMTP_PATH_OK)
		return;
	size_t len = strlen(p.address);
	CHECK(len <= SMTP_PATH_MAX);
	CHECK(p.local_len <= SMTP_LOCAL_MAX && p.local_len <= len);
	CHECK(p.n_params <= SMTP_PARAMS_MAX);
	if (!utf8)
		for (size_t i = 0; i < len; i++)
			CHECK((unsigned char)p.address[i] < 0x80);
	if (p.flags & SMTP_PATH_NULL)
		CHECK(len == 0);
	else
		CHECK(len > 0);
	for (size_t i = 0; i < p.n_params; i++) {
		CHECK(p.params[i].key.p >= arg.p &&
		      p.params[i].key.p + p.params[i].key.len <= arg.p + arg.len);
		uint64_t v;
		(void)smtp_parse_number(p.params[i].value, &v);
		(void)smtp_xtext_valid(p.params[i].value);
	}
	check_params(&p, arg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t len = size;
	struct slice line, after;
	size_t used;

	while (len > 0) {
		int r = smtp_parse_line(p, len, SMTP_LINE_MAX, &line, &used);
		if (r <= 0)
			break;
		CHECK(used <= len && line.len < used);
		struct smtp_command cmd;
		if (smtp_parse_command(line, &cmd) == SMTP_PARSE_OK) {
			CHECK(cmd.verb.len > 0);
			if (smtp_parse_prefix(cmd.rest, "FROM:", &after) ||
			    smtp_parse_prefix(cmd.rest, "TO:", &after)) {
				check_path(after, false);
				check_path(after, true);
			}
		}
		p += used;
		len -= used;
	}
	return 0;
}
