/* SPDX-License-Identifier: MIT */
/*
 * cli_limits.c - the quota levels and sending limits as `user set`,
 * `domain set` and the listings take and show them (store.h enum
 * store_limit): one option per limit, named as the store names it
 * (--quota-warn, --max-recipients, ...), sizes with K/M/G, counts as plain
 * numbers, 0 for none and, for a mailbox, `default` for its domain's value.
 */
#include "cli/cli_private.h"
#include "store/store.h"
#include "util/mem.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Sizes up to 1024 T and counts up to a billion: far beyond any real
   mailbox, and well inside the store's signed 64-bit integers. */
#define SIZE_MAX_ (1024ull * 1024 * 1024 * 1024 * 1024)
#define COUNT_MAX_ 1000000000ull

bool cli_limit_is_size(enum store_limit l)
{
	return l == STORE_LIMIT_QUOTA_WARN || l == STORE_LIMIT_QUOTA_SEND ||
	       l == STORE_LIMIT_QUOTA || l == STORE_LIMIT_MESSAGE_SIZE;
}

int cli_limit_parse(const char *verb, enum store_limit l, const char *s, bool inherit_ok,
		    int64_t *v_r)
{
	uint64_t v = 0;
	bool ok;

	if (inherit_ok && strcmp(s, "default") == 0) {
		*v_r = STORE_INHERIT;
		return 0;
	}
	if (cli_limit_is_size(l)) {
		ok = config_parse_size(s, &v) == 0 && v <= SIZE_MAX_;
	} else {
		char *end = NULL;
		errno = 0;
		v = s[0] >= '0' && s[0] <= '9' ? strtoull(s, &end, 10) : 0;
		ok = end != NULL && *end == '\0' && errno == 0 && v <= COUNT_MAX_;
	}
	if (!ok) {
		const char *dflt = inherit_ok ? ", or default (the domain's)" : "";
		if (cli_limit_is_size(l))
			cli_err(
			    "%s: --%s '%s' is not a size from 0 (none) to %lluG: give bytes, or "
			    "a number with K, M or G%s",
			    verb, store_limit_name(l), s, SIZE_MAX_ >> 30, dflt);
		else
			cli_err("%s: --%s '%s' is not a number from 0 (none) to %llu%s", verb,
				store_limit_name(l), s, COUNT_MAX_, dflt);
		return EX_USAGE;
	}
	*v_r = (int64_t)v;
	return 0;
}

void cli_limit_text(char *buf, size_t n, enum store_limit l, int64_t v)
{
	static const char units[] = "KMG";
	int u = -1;

	if (v <= 0) {
		snprintf(buf, n, "-");
		return;
	}
	if (cli_limit_is_size(l))
		while (u < 2 && v % 1024 == 0) {
			v /= 1024;
			u++;
		}
	if (u >= 0)
		snprintf(buf, n, "%" PRId64 "%c", v, units[u]);
	else
		snprintf(buf, n, "%" PRId64, v);
}

int cli_limits_order(const char *verb, const char *who, const struct store_limits *eff,
		     const struct store_limits *own)
{
	/* Exchange's order: the warning comes first, then sending stops,
	   then receiving; a level that is not set takes no part */
	static const enum store_limit order[] = {STORE_LIMIT_QUOTA_WARN, STORE_LIMIT_QUOTA_SEND,
						 STORE_LIMIT_QUOTA};
	for (size_t i = 0; i < N_ELEMENTS(order); i++)
		for (size_t k = i + 1; k < N_ELEMENTS(order); k++) {
			enum store_limit a = order[i], b = order[k];
			if (eff->v[a] <= 0 || eff->v[b] <= 0 || eff->v[a] <= eff->v[b])
				continue;
			char ta[32], tb[32];
			cli_limit_text(ta, sizeof(ta), a, eff->v[a]);
			cli_limit_text(tb, sizeof(tb), b, eff->v[b]);
			bool da = own != NULL && own->v[a] == STORE_INHERIT,
			     db = own != NULL && own->v[b] == STORE_INHERIT;
			cli_err("%s: %s would have %s %s%s above %s %s%s: the levels go quota-warn "
				"<= quota-send <= quota",
				verb, who, store_limit_name(a), ta, da ? " (the domain's)" : "",
				store_limit_name(b), tb, db ? " (the domain's)" : "");
			return EX_DATAERR;
		}
	return 0;
}

void cli_limits_json(FILE *f, const struct store_limits *l, bool inherit_null)
{
	fputc('{', f);
	for (int i = 0; i < STORE_LIMIT_COUNT; i++) {
		fprintf(f, "%s\"%s\":", i > 0 ? "," : "", store_limit_name((enum store_limit)i));
		if (inherit_null && l->v[i] == STORE_INHERIT)
			fputs("null", f);
		else
			fprintf(f, "%" PRId64, l->v[i]);
	}
	fputc('}', f);
}
