/* SPDX-License-Identifier: MIT */
/*
 * dkim_tags.c - the tag-list syntax (RFC 6376 §3.2) and the two things
 * written in it: the DKIM-Signature field (§3.5) and the key record
 * (§3.6.1). Pure parsers over bytes, fuzzed by fuzz/fuzz_dkim.c.
 */
#include "filter/dkim.h"
#include "util/base64.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *dkim_status_name(enum dkim_status s)
{
	static const char *const names[] = {
	    [DKIM_PASS] = "pass",	    [DKIM_FAIL] = "fail",
	    [DKIM_NEUTRAL] = "neutral",	    [DKIM_POLICY] = "policy",
	    [DKIM_TEMPERROR] = "temperror", [DKIM_PERMERROR] = "permerror",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "permerror";
}

const char *dkim_alg_name(enum dkim_alg a)
{
	return a == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static struct slice trim(const char *p, const char *e)
{
	while (p < e && is_wsp(*p))
		p++;
	while (e > p && is_wsp(e[-1]))
		e--;
	return (struct slice){p, (size_t)(e - p)};
}

int dkim_tags_parse(const char *s, size_t len, struct dkim_tags *out)
{
	const char *p = s, *end = s + len;

	out->n = 0;
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		const char *spec_end = semi ? semi : end;
		struct slice whole = trim(p, spec_end);
		if (whole.len == 0) {
			/* only a trailing ';' (with FWS) may leave an empty spec */
			if (semi && trim(semi + 1, end).len)
				return -1;
			break;
		}
		const char *eq = memchr(whole.p, '=', whole.len);
		if (!eq)
			return -1;
		struct slice name = trim(whole.p, eq);
		if (name.len == 0 || !isalpha((unsigned char)name.p[0]))
			return -1;
		for (size_t i = 0; i < name.len; i++)
			if (!isalnum((unsigned char)name.p[i]) && name.p[i] != '_')
				return -1;
		struct slice value = trim(eq + 1, spec_end);
		for (size_t i = 0; i < value.len; i++) {
			unsigned char c = (unsigned char)value.p[i];
			if (c < 0x21 && !is_wsp((char)c))
				return -1;
			if (c == 0x7f)
				return -1;
		}
		for (size_t i = 0; i < out->n; i++)
			if (out->t[i].name.len == name.len &&
			    memcmp(out->t[i].name.p, name.p, name.len) == 0)
				return -1;
		if (out->n == DKIM_TAGS_MAX)
			return -1;
		out->t[out->n++] =
		    (struct dkim_tag){name, value, {eq + 1, (size_t)(spec_end - (eq + 1))}};
		if (!semi)
			break;
		p = semi + 1;
	}
	return 0;
}

const struct dkim_tag *dkim_tags_get(const struct dkim_tags *t, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < t->n; i++)
		if (t->t[i].name.len == n && memcmp(t->t[i].name.p, name, n) == 0)
			return &t->t[i];
	return NULL;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(reason, rlen, __VA_ARGS__);                                               \
		return -1;                                                                         \
	} while (0)

/* base64 with FWS anywhere (§2.4 base64string) */
static int b64_fws(struct buf *out, struct slice v)
{
	struct buf tmp = {0};
	for (size_t i = 0; i < v.len; i++)
		if (!is_wsp(v.p[i]))
			buf_append_c(&tmp, v.p[i]);
	int r = base64_decode(out, tmp.data ? tmp.data : "", tmp.len);
	buf_free(&tmp);
	return r;
}

static bool copy_lower(char *dst, size_t cap, struct slice v)
{
	if (v.len == 0 || v.len >= cap)
		return false;
	for (size_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.p[i];
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
		dst[i] = (char)tolower(c);
	}
	dst[v.len] = '\0';
	return true;
}

static bool uint_tag(const struct dkim_tags *t, const char *name, bool *has, uint64_t *v)
{
	const struct dkim_tag *g = dkim_tags_get(t, name);
	*has = g != NULL;
	if (!g)
		return true;
	/* at most 12 digits (§3.5 l=, t=, x=); longer is refused */
	return g->value.len <= 12 && slice_to_uint(g->value, UINT64_MAX, v);
}

/* i= domain is d= or a subdomain of it */
static bool in_domain(const char *sub, const char *d)
{
	size_t ls = strlen(sub), ld = strlen(d);
	if (ls == ld)
		return strcmp(sub, d) == 0;
	return ls > ld && strcmp(sub + ls - ld, d) == 0 && sub[ls - ld - 1] == '.';
}

int dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig, char *reason, size_t rlen)
{
	struct dkim_tags t;
	const struct dkim_tag *g;

	memset(sig, 0, sizeof(*sig));
	if (len > DKIM_FIELD_MAX)
		FAIL("signature field too long");
	if (dkim_tags_parse(value, len, &t) < 0)
		FAIL("signature syntax error");
	if ((g = dkim_tags_get(&t, "d")) && !copy_lower(sig->domain, sizeof(sig->domain), g->value))
		FAIL("bad d=");
	if ((g = dkim_tags_get(&t, "s")) &&
	    !copy_lower(sig->selector, sizeof(sig->selector), g->value))
		FAIL("bad s=");
	if ((g = dkim_tags_get(&t, "b"))) {
		size_t k = 0;
		for (size_t i = 0; i < g->value.len && k < 12; i++)
			if (!is_wsp(g->value.p[i]))
				sig->b_prefix[k++] = g->value.p[i];
		sig->b_prefix[k] = '\0';
	}
	g = dkim_tags_get(&t, "v");
	if (!g || !slice_eq(g->value, "1"))
		FAIL("missing or bad v=");
	if (!(g = dkim_tags_get(&t, "a")))
		FAIL("missing a=");
	if (slice_eq_ci(g->value, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (slice_eq_ci(g->value, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (slice_eq_ci(g->value, "rsa-sha1"))
		FAIL("rsa-sha1 is not accepted (RFC 8301)");
	else
		FAIL("unknown algorithm");
	if (!sig->domain[0])
		FAIL("missing d=");
	if (!sig->selector[0])
		FAIL("missing s=");
	if (!(g = dkim_tags_get(&t, "b")) || b64_fws(&sig->b, g->value) < 0 || sig->b.len == 0)
		FAIL("missing or bad b=");
	if (!(g = dkim_tags_get(&t, "bh")) || b64_fws(&sig->bh, g->value) < 0 || sig->bh.len != 32)
		FAIL("missing or bad bh=");

	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if ((g = dkim_tags_get(&t, "c"))) {
		struct slice v = g->value, hc = v, bc = {0};
		const char *slash = memchr(v.p, '/', v.len);
		if (slash) {
			hc = (struct slice){v.p, (size_t)(slash - v.p)};
			bc = (struct slice){slash + 1, (size_t)(v.p + v.len - slash - 1)};
		}
		if (slice_eq(hc, "relaxed"))
			sig->hcanon = DKIM_CANON_RELAXED;
		else if (!slice_eq(hc, "simple"))
			FAIL("bad c=");
		if (slash && slice_eq(bc, "relaxed"))
			sig->bcanon = DKIM_CANON_RELAXED;
		else if (slash && !slice_eq(bc, "simple"))
			FAIL("bad c=");
	}
	if ((g = dkim_tags_get(&t, "q"))) {
		bool dns = false;
		const char *p = g->value.p, *e = p + g->value.len;
		while (p < e) {
			const char *c = memchr(p, ':', (size_t)(e - p));
			if (slice_eq(trim(p, c ? c : e), "dns/txt"))
				dns = true;
			p = c ? c + 1 : e;
		}
		if (!dns)
			FAIL("no q=dns/txt");
	}

	if (!(g = dkim_tags_get(&t, "h")))
		FAIL("missing h=");
	bool from = false;
	for (const char *p = g->value.p, *e = p + g->value.len; p < e;) {
		const char *c = memchr(p, ':', (size_t)(e - p));
		struct slice n = trim(p, c ? c : e);
		if (n.len == 0)
			FAIL("bad h=");
		if (sig->nh == DKIM_H_MAX)
			FAIL("too many names in h=");
		char *name = xstrndup(n.p, n.len);
		for (char *q = name; *q; q++) {
			if ((unsigned char)*q <= ' ' || *q == ':' || (unsigned char)*q >= 0x7f) {
				free(name);
				FAIL("bad h=");
			}
			*q = (char)tolower((unsigned char)*q);
		}
		if (strcmp(name, "from") == 0)
			from = true;
		sig->h[sig->nh++] = name;
		p = c ? c + 1 : e;
	}
	if (!from)
		FAIL("From not signed");

	snprintf(sig->idomain, sizeof(sig->idomain), "%s", sig->domain);
	if ((g = dkim_tags_get(&t, "i"))) {
		const char *at = memchr(g->value.p, '@', g->value.len);
		if (!at)
			FAIL("bad i=");
		struct slice dom = {at + 1, (size_t)(g->value.p + g->value.len - at - 1)};
		if (!copy_lower(sig->idomain, sizeof(sig->idomain), dom))
			FAIL("bad i=");
		if (!in_domain(sig->idomain, sig->domain))
			FAIL("i= not in d=");
	}
	if (!uint_tag(&t, "l", &sig->has_l, &sig->l))
		FAIL("bad l=");
	if (!uint_tag(&t, "t", &sig->has_t, &sig->t))
		FAIL("bad t=");
	if (!uint_tag(&t, "x", &sig->has_x, &sig->x))
		FAIL("bad x=");
	if (sig->has_t && sig->has_x && sig->x < sig->t)
		FAIL("x= before t=");
	return 0;
}

void dkim_sig_free(struct dkim_sig *sig)
{
	buf_free(&sig->b);
	buf_free(&sig->bh);
	for (size_t i = 0; i < sig->nh; i++)
		free(sig->h[i]);
	sig->nh = 0;
}

/* does a colon-separated list contain word (or "*" if star) */
static bool list_has(struct slice v, const char *word, bool star)
{
	for (const char *p = v.p, *e = p + v.len; p < e;) {
		const char *c = memchr(p, ':', (size_t)(e - p));
		struct slice w = trim(p, c ? c : e);
		if (slice_eq_ci(w, word) || (star && slice_eq(w, "*")))
			return true;
		p = c ? c + 1 : e;
	}
	return false;
}

int dkim_keyrec_parse(const char *txt, size_t len, struct dkim_keyrec *kr, char *reason,
		      size_t rlen)
{
	struct dkim_tags t;
	const struct dkim_tag *g;

	memset(kr, 0, sizeof(*kr));
	if (dkim_tags_parse(txt, len, &t) < 0)
		FAIL("key syntax error");
	if ((g = dkim_tags_get(&t, "v")) && (&t.t[0] != g || !slice_eq(g->value, "DKIM1")))
		FAIL("bad key v=");
	kr->alg = DKIM_ALG_RSA_SHA256;
	if ((g = dkim_tags_get(&t, "k"))) {
		if (slice_eq_ci(g->value, "ed25519"))
			kr->alg = DKIM_ALG_ED25519_SHA256;
		else if (!slice_eq_ci(g->value, "rsa"))
			FAIL("unknown key type");
	}
	if ((g = dkim_tags_get(&t, "h")) && !list_has(g->value, "sha256", false))
		FAIL("key does not allow sha256");
	if ((g = dkim_tags_get(&t, "s")) && !list_has(g->value, "email", true))
		FAIL("key not for email");
	if ((g = dkim_tags_get(&t, "t"))) {
		kr->strict = list_has(g->value, "s", false);
		kr->testing = list_has(g->value, "y", false);
	}
	if (!(g = dkim_tags_get(&t, "p")))
		FAIL("key has no p=");
	struct slice p = g->value;
	bool empty = true;
	for (size_t i = 0; i < p.len; i++)
		if (!is_wsp(p.p[i]))
			empty = false;
	if (empty) {
		kr->revoked = true;
		return 0;
	}
	if (b64_fws(&kr->p, p) < 0 || kr->p.len == 0)
		FAIL("bad key p=");
	return 0;
}

void dkim_keyrec_free(struct dkim_keyrec *kr)
{
	buf_free(&kr->p);
}
