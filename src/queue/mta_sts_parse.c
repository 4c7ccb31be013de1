/* SPDX-License-Identifier: MIT */
/*
 * mta_sts_parse.c - see mta_sts.h: the TXT record and policy grammars of
 * RFC 8461 §3.1 and §3.2, the mx patterns of §4.1, the cache file's form
 * and the cache rules. Pure functions, no allocation: what arrives over
 * DNS or HTTPS is never trusted to be shorter than it claims.
 */
#include "queue/mta_sts.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *mta_sts_mode_name(enum mta_sts_mode m)
{
	return m == MTA_STS_ENFORCE ? "enforce" : m == MTA_STS_TESTING ? "testing" : "none";
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."): the extension names
   of both grammars. Returns the name's length, 0 when there is none. */
static size_t ext_name(const char *p, const char *end)
{
	size_t n = 0;
	if (p >= end || !is_alnum(*p))
		return 0;
	for (n = 1; p + n < end && n < 32; n++)
		if (!is_alnum(p[n]) && p[n] != '_' && p[n] != '-' && p[n] != '.')
			break;
	return n;
}

static bool sts_prefix(const char *rec)
{
	return strncmp(rec, "v=STSv1", 7) == 0 &&
	       (rec[7] == ';' || is_wsp(rec[7]) || rec[7] == '\0');
}

bool mta_sts_txt_parse(const char *rec, char id[MTA_STS_ID_MAX + 1])
{
	const char *p = rec, *end = rec + strlen(rec);
	bool have_id = false;
	size_t fields = 0;

	if (!sts_prefix(rec))
		return false;
	p += 7;
	for (;;) {
		while (p < end && is_wsp(*p))
			p++;
		if (p == end)
			break;
		if (*p++ != ';')
			return false;
		while (p < end && is_wsp(*p))
			p++;
		if (p == end)
			break; /* [sts-field-delim] at the end */
		size_t nl = ext_name(p, end);
		if (nl == 0 || p + nl == end || p[nl] != '=')
			return false;
		const char *v = p + nl + 1, *ve = v;
		while (ve < end && *ve >= 0x21 && *ve <= 0x7e && *ve != '=' && *ve != ';')
			ve++;
		if (ve == v)
			return false;
		if (nl == 2 && memcmp(p, "id", 2) == 0) {
			size_t k = (size_t)(ve - v);
			if (have_id || k > MTA_STS_ID_MAX)
				return false;
			for (size_t i = 0; i < k; i++)
				if (!is_alnum(v[i]))
					return false;
			memcpy(id, v, k);
			id[k] = '\0';
			have_id = true;
		}
		fields++;
		p = ve;
	}
	return fields > 0 && have_id;
}

bool mta_sts_txt_pick(const char (*recs)[DNS_TXT_MAX], size_t n, char id[MTA_STS_ID_MAX + 1])
{
	size_t found = 0, which = 0;

	for (size_t i = 0; i < n; i++)
		if (sts_prefix(recs[i])) {
			found++;
			which = i;
		}
	return found == 1 && mta_sts_txt_parse(recs[which], id);
}

/* ["*."] Domain (RFC 5321 §4.1.2): labels of letters, digits and inner
   hyphens, 1 to 63 octets each, 253 in all. */
static bool mx_pattern_valid(const char *v, size_t len)
{
	if (len >= 2 && v[0] == '*' && v[1] == '.') {
		v += 2;
		len -= 2;
	}
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (c == '.') {
			if (label == 0 || v[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alnum(c) && !(c == '-' && label > 0))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && v[len - 1] != '-';
}

static bool fail_why(char *why, size_t why_len, const char *text)
{
	if (why != NULL && why_len > 0)
		snprintf(why, why_len, "%s", text);
	return false;
}

static bool key_is(const char *k, size_t kl, const char *name)
{
	return kl == strlen(name) && memcmp(k, name, kl) == 0;
}

bool mta_sts_policy_parse(const char *text, size_t len, struct mta_sts_policy *p, char *why,
			  size_t why_len)
{
	const char *s = text, *end = text + len;
	bool version = false, mode = false, max_age = false;

	p->mode = MTA_STS_NONE;
	p->max_age = 0;
	p->n_mx = 0;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *le = nl != NULL ? nl : end, *next = nl != NULL ? nl + 1 : end;
		if (le > s && le[-1] == '\r')
			le--;
		if (le == s) { /* a blank line */
			s = next;
			continue;
		}
		size_t kl = ext_name(s, le);
		if (kl == 0 || s + kl == le || s[kl] != ':')
			return fail_why(why, why_len, "a line is not \"key: value\"");
		const char *v = s + kl + 1, *ve = le;
		while (v < ve && is_wsp(*v))
			v++;
		while (ve > v && is_wsp(ve[-1]))
			ve--;
		if (ve == v)
			return fail_why(why, why_len, "a field has no value");
		for (const char *c = v; c < ve; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return fail_why(why, why_len, "a control character in a value");
		size_t vl = (size_t)(ve - v);
		if (key_is(s, kl, "version")) {
			if (!version && (vl != 5 || memcmp(v, "STSv1", 5) != 0))
				return fail_why(why, why_len, "version is not STSv1");
			version = true;
		} else if (key_is(s, kl, "mode")) {
			if (!mode) {
				if (vl == 7 && memcmp(v, "enforce", 7) == 0)
					p->mode = MTA_STS_ENFORCE;
				else if (vl == 7 && memcmp(v, "testing", 7) == 0)
					p->mode = MTA_STS_TESTING;
				else if (vl == 4 && memcmp(v, "none", 4) == 0)
					p->mode = MTA_STS_NONE;
				else
					return fail_why(why, why_len, "unknown mode");
			}
			mode = true;
		} else if (key_is(s, kl, "max_age")) {
			if (!max_age) {
				uint64_t a = 0;
				if (vl > 10)
					return fail_why(why, why_len, "max_age is too long");
				for (size_t i = 0; i < vl; i++) {
					if (v[i] < '0' || v[i] > '9')
						return fail_why(why, why_len,
								"max_age is not a number");
					a = a * 10 + (uint64_t)(v[i] - '0');
				}
				p->max_age =
				    a > MTA_STS_MAX_AGE_MAX ? MTA_STS_MAX_AGE_MAX : (unsigned)a;
			}
			max_age = true;
		} else if (key_is(s, kl, "mx")) {
			if (!mx_pattern_valid(v, vl))
				return fail_why(why, why_len, "an mx pattern is not a host name");
			if (p->n_mx == MTA_STS_MX_MAX)
				return fail_why(why, why_len, "too many mx patterns");
			for (size_t i = 0; i < vl; i++) {
				char c = v[i];
				p->mx[p->n_mx][i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
			}
			p->mx[p->n_mx++][vl] = '\0';
		}
		/* other keys: extensions, ignored (§3.2) */
		s = next;
	}
	if (!version)
		return fail_why(why, why_len, "no version");
	if (!mode)
		return fail_why(why, why_len, "no mode");
	if (!max_age)
		return fail_why(why, why_len, "no max_age");
	if (p->mode != MTA_STS_NONE && p->n_mx == 0)
		return fail_why(why, why_len, "no mx");
	return true;
}

bool mta_sts_pattern_match(const char *pattern, const char *host)
{
	size_t hl = strlen(host);

	if (hl > 0 && host[hl - 1] == '.')
		hl--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		if (dot == NULL || dot == host)
			return false;
		size_t rest = hl - (size_t)(dot + 1 - host);
		return rest == strlen(pattern + 2) && strncasecmp(dot + 1, pattern + 2, rest) == 0;
	}
	return hl == strlen(pattern) && strncasecmp(host, pattern, hl) == 0;
}

bool mta_sts_mx_match(const struct mta_sts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (mta_sts_pattern_match(p->mx[i], host))
			return true;
	return false;
}

size_t mta_sts_cache_write(const struct mta_sts_policy *p, char *out, size_t cap)
{
	size_t n = 0;
	int k = snprintf(out, cap, "%s %" PRId64 "\nversion: STSv1\nmode: %s\nmax_age: %u\n", p->id,
			 p->fetched, mta_sts_mode_name(p->mode), p->max_age);
	if (k < 0 || (size_t)k >= cap)
		return 0;
	n = (size_t)k;
	for (size_t i = 0; i < p->n_mx; i++) {
		k = snprintf(out + n, cap - n, "mx: %s\n", p->mx[i]);
		if (k < 0 || (size_t)k >= cap - n)
			return 0;
		n += (size_t)k;
	}
	return n;
}

bool mta_sts_cache_read(const char *text, size_t len, struct mta_sts_policy *p)
{
	size_t i = 0, k = 0;
	int64_t fetched = 0;

	while (i < len && is_alnum(text[i]) && k < MTA_STS_ID_MAX)
		p->id[k++] = text[i++];
	p->id[k] = '\0';
	if (k == 0 || i == len || text[i++] != ' ')
		return false;
	size_t digits = 0;
	while (i < len && text[i] >= '0' && text[i] <= '9' && digits < 18) {
		fetched = fetched * 10 + (text[i++] - '0');
		digits++;
	}
	if (digits == 0 || i == len || text[i++] != '\n')
		return false;
	p->fetched = fetched;
	return mta_sts_policy_parse(text + i, len - i, p, NULL, 0);
}

bool mta_sts_expired(const struct mta_sts_policy *p, int64_t now)
{
	return now - p->fetched >= (int64_t)p->max_age;
}

bool mta_sts_stale(const struct mta_sts_policy *p, const char *id, int64_t now)
{
	return mta_sts_expired(p, now) || (id != NULL && strcmp(id, p->id) != 0) ||
	       now - p->fetched >= MTA_STS_REFRESH;
}
