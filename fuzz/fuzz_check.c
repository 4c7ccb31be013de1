/* SPDX-License-Identifier: MIT */
/*
 * fuzz_check.c - libFuzzer target for the readers of server output that
 * `mailroom check` adds (check/check_private.h: CAPA tags, EHLO AUTH
 * mechanisms, a header's fields, the probe's integrity, new UIDLs). The
 * input up to its first NUL is one server answer, the rest a second one
 * (the baseline UIDL listing, the message sent). Invariants abort.
 */
#include "check/check_private.h"
#include "fuzz.h"

#include <stdint.h>
#include <string.h>

struct seen {
	size_t calls;
};

static bool count(void *ctx, uint64_t n)
{
	struct seen *s = ctx;
	CHECK(n > 0 && n <= UINT32_MAX);
	s->calls++;
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nul = memchr(p, '\0', size);
	size_t a = nul != NULL ? (size_t)(nul - p) : size;
	const char *q = nul != NULL ? nul + 1 : p + size;
	size_t b = nul != NULL ? size - a - 1 : 0;

	struct check_capa c;
	check_parse_capa(p, a, &c);
	bool plain = false, login = false;
	check_parse_ehlo_auth(p, a, &plain, &login);
	if (plain || login) /* the first word of the line is AUTH or AUTH=... */
		CHECK(a >= 4 && (p[0] == 'a' || p[0] == 'A' || p[0] == ' ' || p[0] == '\t'));
	check_parse_header_has(p, a, "Subject", "mailroom check");
	CHECK(check_parse_header_has(p, a, "Subject", "") ==
	      check_parse_header_has(p, a, "subject", ""));
	if (check_parse_intact(p, a, q, b))
		CHECK(check_parse_intact(q, b, p, a));
	struct seen s = {0};
	size_t fresh = check_parse_new_uidls(p, a, q, b, count, &s);
	CHECK(fresh == s.calls);
	/* against itself nothing is new */
	s.calls = 0;
	CHECK(check_parse_new_uidls(p, a, p, a, count, &s) == 0 && s.calls == 0);
	return 0;
}
