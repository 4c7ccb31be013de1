/* SPDX-License-Identifier: MIT */
/*
 * spf.c - RFC 7208 check_host() as a step machine (spf.h). A stack of
 * frames, one per record being evaluated (the top-level domain, then each
 * include); redirect= replaces its frame. A record is parsed whole into
 * terms before its first term runs. The stack cannot grow past the lookup
 * limit: every push costs a lookup.
 */
#include "filter/spf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/mem.h"

#define MAX_FRAMES (SPF_MAX_LOOKUPS + 2)
#define MACRO_OUT 1024 /* an expansion before truncation to 253 */

enum term_kind {
	T_ALL,
	T_INCLUDE,
	T_A,
	T_MX,
	T_PTR,
	T_IP4,
	T_IP6,
	T_EXISTS,
	T_REDIRECT,
	T_EXP,
	T_MODIFIER, /* unknown: ignored */
};

struct term {
	enum term_kind kind;
	char qual;	  /* + - ~ ? */
	const char *spec; /* domain-spec, or NULL for the current domain */
	size_t spec_len;
	int c4, c6; /* CIDR lengths */
	uint8_t net[16];
	const char *text; /* the whole term, for reasons */
	size_t text_len;
};

struct record {
	char *text;
	struct term *t;
	size_t n;
	const struct term *redirect;
};

enum wait {
	W_NONE,
	W_TXT,
	W_A,
	W_MX,
	W_MX_ADDR,
	W_PTR,
	W_PTR_ADDR,
	W_EXISTS,
};

struct frame {
	char domain[DNS_NAME_MAX];
	bool fetched;	   /* its record is parsed */
	bool none_is_perm; /* reached by include or redirect */
	struct record rec;
	size_t i;      /* the term under evaluation */
	enum wait sub; /* what the current term waits for */
	char target[DNS_NAME_MAX];
	char names[SPF_MAX_NAMES][DNS_NAME_MAX];
	size_t nn, ni;
};

struct spf {
	int family;
	uint8_t ip[16];
	char sender[DNS_NAME_MAX * 2];
	char local[DNS_NAME_MAX];
	char sender_domain[DNS_NAME_MAX];
	char helo[DNS_NAME_MAX];
	char domain[DNS_NAME_MAX];
	struct frame *fr[MAX_FRAMES];
	size_t depth;
	bool done, pending;
	enum spf_result result;
	unsigned lookups, voids, queries;
	struct dns_question q;
	char reason[SPF_REASON_MAX];
};

const char *spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

/* ---- syntax ---- */

static bool is_delim(int c)
{
	return c != '\0' && strchr(".-+,/_=", c) != NULL;
}

static bool macro_letter(int c, bool exp)
{
	c = tolower(c);
	if (c != '\0' && strchr("slodiphv", c) != NULL)
		return true;
	return exp && c != '\0' && strchr("crt", c) != NULL;
}

/* macro-string (§7.1): 0 or -1 */
static int macro_check(const char *p, size_t len, bool exp)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		if (c != '%') {
			if (c < 0x21 || c > 0x7e)
				return -1;
			i++;
			continue;
		}
		if (++i >= len)
			return -1;
		if (p[i] == '%' || p[i] == '_' || p[i] == '-') {
			i++;
			continue;
		}
		if (p[i] != '{' || ++i >= len || !macro_letter(p[i], exp))
			return -1;
		i++;
		size_t d0 = i;
		unsigned digits = 0;
		while (i < len && isdigit((unsigned char)p[i])) {
			digits = digits * 10 + (unsigned)(p[i] - '0');
			if (digits > 1000)
				return -1;
			i++;
		}
		if (i > d0 && digits == 0)
			return -1; /* §7.3: a DIGIT transformer is nonzero */
		if (i < len && (p[i] == 'r' || p[i] == 'R'))
			i++;
		while (i < len && is_delim(p[i]))
			i++;
		if (i >= len || p[i] != '}')
			return -1;
		i++;
	}
	return 0;
}

/* toplabel (§4.6.1 / RFC 3696): alphanumerics and hyphens, not all digits,
   no hyphen at an end */
static bool toplabel(const char *p, size_t len)
{
	bool alpha = false;

	if (len == 0 || len > 63 || p[0] == '-' || p[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (isalpha((unsigned char)p[i]))
			alpha = true;
		else if (!isdigit((unsigned char)p[i]) && p[i] != '-')
			return false;
	}
	return alpha;
}

/* domain-spec = macro-string domain-end */
static int domain_spec_check(const char *p, size_t len)
{
	if (len == 0 || macro_check(p, len, false) < 0)
		return -1;
	if (p[len - 1] == '}')
		return 0; /* ends in a macro-expand */
	if (p[len - 1] == '.')
		len--;
	size_t j = len;
	while (j > 0 && p[j - 1] != '.')
		j--;
	if (j == 0) /* domain-end is "." toplabel */
		return -1;
	return toplabel(p + j, len - j) ? 0 : -1;
}

/* "/" ("0" / %x31-39 0*2DIGIT), at most max; -1 if none or bad */
static int cidr_num(const char *p, size_t len, size_t *used, int max)
{
	size_t i = 0;
	int v = 0;

	if (len == 0 || !isdigit((unsigned char)p[0]))
		return -1;
	if (p[0] == '0' && len > 1 && isdigit((unsigned char)p[1]))
		return -1;
	while (i < len && isdigit((unsigned char)p[i]) && i < 4)
		v = v * 10 + (p[i++] - '0');
	if (i < len && isdigit((unsigned char)p[i]))
		return -1;
	if (v > max)
		return -1;
	*used = i;
	return v;
}

/* dual-cidr-length at the end of [p, p+len): sets c4, c6 and cuts len */
static int dual_cidr(const char *p, size_t *len, int *c4, int *c6)
{
	*c4 = 32;
	*c6 = 128;
	/* the first '/' after the last macro ("%{l/}" holds one) */
	size_t from = *len;
	while (from > 0 && p[from - 1] != '}')
		from--;
	const char *slash = memchr(p + from, '/', *len - from);
	if (slash == NULL)
		return 0;
	size_t at = (size_t)(slash - p), rest = *len - at, used;
	const char *q = slash;
	if (rest >= 2 && q[1] != '/') {
		*c4 = cidr_num(q + 1, rest - 1, &used, 32);
		if (*c4 < 0)
			return -1;
		q += 1 + used;
		rest -= 1 + used;
	}
	if (rest > 0) {
		if (rest < 3 || q[0] != '/' || q[1] != '/')
			return -1;
		*c6 = cidr_num(q + 2, rest - 2, &used, 128);
		if (*c6 < 0 || used != rest - 2)
			return -1;
	}
	*len = at;
	return 0;
}

static int ip_term(struct term *t, const char *v, size_t len, int family)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t used;
	const char *slash = memchr(v, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - v) : len;
	int max = family == AF_INET ? 32 : 128;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, v, alen);
	buf[alen] = '\0';
	if (inet_pton(family, buf, t->net) != 1)
		return -1;
	int c = max;
	if (slash != NULL) {
		c = cidr_num(slash + 1, len - alen - 1, &used, max);
		if (c < 0 || used != len - alen - 1)
			return -1;
	}
	if (family == AF_INET)
		t->c4 = c;
	else
		t->c6 = c;
	return 0;
}

static int fail(char *why, size_t cap, const char *fmt, ...) ATTR_FORMAT(3, 4);
static int fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && cap > 0) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* One term [p, p+len) into t */
static int term_parse(struct term *t, const char *p, size_t len, char *why, size_t cap)
{
	static const struct {
		const char *name;
		enum term_kind kind;
	} mechs[] = {
	    {"all", T_ALL}, {"include", T_INCLUDE}, {"a", T_A},	    {"mx", T_MX},
	    {"ptr", T_PTR}, {"ip4", T_IP4},	    {"ip6", T_IP6}, {"exists", T_EXISTS},
	};
	size_t n = 0;

	memset(t, 0, sizeof(*t));
	t->text = p;
	t->text_len = len;
	t->qual = '+';
	t->c4 = 32;
	t->c6 = 128;
	while (n < len &&
	       (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_' || p[n] == '.'))
		n++;
	if (n < len && p[n] == '=' && n > 0 && isalpha((unsigned char)p[0])) {
		const char *v = p + n + 1;
		size_t vlen = len - n - 1;
		if (n == 8 && strncasecmp(p, "redirect", 8) == 0) {
			t->kind = T_REDIRECT;
			if (domain_spec_check(v, vlen) < 0)
				return fail(why, cap, "bad redirect target");
			t->spec = v;
			t->spec_len = vlen;
			return 0;
		}
		if (n == 3 && strncasecmp(p, "exp", 3) == 0) {
			t->kind = T_EXP;
			if (domain_spec_check(v, vlen) < 0)
				return fail(why, cap, "bad exp target");
			return 0;
		}
		t->kind = T_MODIFIER;
		if (macro_check(v, vlen, true) < 0)
			return fail(why, cap, "bad modifier value");
		return 0;
	}
	if (len > 0 && strchr("+-~?", p[0]) != NULL) {
		t->qual = p[0];
		p++;
		len--;
	}
	n = 0;
	while (n < len && isalnum((unsigned char)p[n]))
		n++;
	size_t k;
	for (k = 0; k < N_ELEMENTS(mechs); k++)
		if (strlen(mechs[k].name) == n && strncasecmp(p, mechs[k].name, n) == 0)
			break;
	if (k == N_ELEMENTS(mechs))
		return fail(why, cap, "unknown mechanism \"%.*s\"", (int)(len > 40 ? 40 : len), p);
	t->kind = mechs[k].kind;
	const char *v = p + n;
	size_t vlen = len - n;
	bool colon = vlen > 0 && v[0] == ':';
	if (colon) {
		v++;
		vlen--;
	}
	switch (t->kind) {
	case T_ALL:
		if (vlen > 0 || colon)
			return fail(why, cap, "bad all");
		return 0;
	case T_IP4:
	case T_IP6:
		if (!colon || ip_term(t, v, vlen, t->kind == T_IP4 ? AF_INET : AF_INET6) < 0)
			return fail(why, cap, "bad %s", t->kind == T_IP4 ? "ip4" : "ip6");
		return 0;
	case T_INCLUDE:
	case T_EXISTS:
		if (!colon || domain_spec_check(v, vlen) < 0)
			return fail(why, cap, "bad %s target", mechs[k].name);
		t->spec = v;
		t->spec_len = vlen;
		return 0;
	case T_PTR:
		if (colon && domain_spec_check(v, vlen) < 0)
			return fail(why, cap, "bad ptr target");
		if (!colon && vlen > 0)
			return fail(why, cap, "bad ptr");
		if (colon) {
			t->spec = v;
			t->spec_len = vlen;
		}
		return 0;
	case T_A:
	case T_MX:
		if (!colon && vlen > 0 && v[0] != '/')
			return fail(why, cap, "bad %s", mechs[k].name);
		if (dual_cidr(v, &vlen, &t->c4, &t->c6) < 0)
			return fail(why, cap, "bad CIDR length on %s", mechs[k].name);
		if (colon) {
			if (domain_spec_check(v, vlen) < 0)
				return fail(why, cap, "bad %s target", mechs[k].name);
			t->spec = v;
			t->spec_len = vlen;
		}
		return 0;
	default:
		return fail(why, cap, "bad term");
	}
}

static void record_free(struct record *r)
{
	free(r->text);
	free(r->t);
	memset(r, 0, sizeof(*r));
}

/* "v=spf1" and its terms; the text is copied */
static int record_parse(struct record *r, const char *text, size_t len, char *why, size_t cap)
{
	memset(r, 0, sizeof(*r));
	if (len < 6 || strncasecmp(text, "v=spf1", 6) != 0 || (len > 6 && text[6] != ' '))
		return fail(why, cap, "not an SPF record");
	r->text = xstrndup(text, len);
	size_t cap_t = 0;
	const char *p = r->text + 6, *end = r->text + len;
	bool seen_redirect = false, seen_exp = false;
	while (p < end) {
		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		const char *e = p;
		while (e < end && *e != ' ')
			e++;
		if (r->n == cap_t) {
			cap_t = cap_t == 0 ? 8 : cap_t * 2;
			r->t = xrealloc(r->t, cap_t * sizeof(*r->t));
		}
		struct term *t = &r->t[r->n];
		if (term_parse(t, p, (size_t)(e - p), why, cap) < 0) {
			record_free(r);
			return -1;
		}
		r->n++;
		if (t->kind == T_REDIRECT || t->kind == T_EXP) {
			bool *seen = t->kind == T_REDIRECT ? &seen_redirect : &seen_exp;
			const char *what = t->kind == T_REDIRECT ? "redirect" : "exp";
			if (*seen) {
				record_free(r); /* t goes with it */
				return fail(why, cap, "%s twice", what);
			}
			*seen = true;
		}
		p = e;
	}
	for (size_t i = 0; i < r->n; i++)
		if (r->t[i].kind == T_REDIRECT)
			r->redirect = &r->t[i];
	return 0;
}

int spf_record_check(const char *text, size_t len, char *why, size_t cap)
{
	struct record r;

	if (record_parse(&r, text, len, why, cap) < 0)
		return -1;
	record_free(&r);
	return 0;
}

/* ---- names ---- */

/* a domain name to check or query: labels 1..63, at most 253 octets, a
   trailing dot dropped; multi: at least two labels */
static bool name_ok(char *name, bool multi)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	if (len == 0 || len > 253)
		return false;
	size_t lab = 0, labels = 1;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (lab == 0)
				return false;
			lab = 0;
			labels++;
		} else if (c <= 0x20 || c >= 0x7f || ++lab > 63) {
			return false;
		}
	}
	return lab > 0 && (!multi || labels >= 2);
}

static void ip_text(const struct spf *s, char *out, size_t cap, bool dotted_v6)
{
	if (s->family == AF_INET) {
		inet_ntop(AF_INET, s->ip, out, (socklen_t)cap);
		return;
	}
	if (!dotted_v6) {
		inet_ntop(AF_INET6, s->ip, out, (socklen_t)cap);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (size_t i = 0; i < 16 && o + 4 < cap; i++) {
		out[o++] = hex[s->ip[i] >> 4];
		out[o++] = '.';
		out[o++] = hex[s->ip[i] & 15];
		if (i < 15)
			out[o++] = '.';
	}
	out[o] = '\0';
}

/* one macro's value, split, reversed, cut to digits, joined by '.' */
static size_t macro_value(const struct spf *s, const struct frame *f, char letter, unsigned digits,
			  bool rev, const char *delims, size_t nd, char *out, size_t cap)
{
	char val[DNS_NAME_MAX * 2];
	const char *parts[256];
	size_t plen[256], np = 0;

	switch (tolower((unsigned char)letter)) {
	case 's':
		snprintf(val, sizeof(val), "%s", s->sender);
		break;
	case 'l':
		snprintf(val, sizeof(val), "%s", s->local);
		break;
	case 'o':
		snprintf(val, sizeof(val), "%s", s->sender_domain);
		break;
	case 'd':
		snprintf(val, sizeof(val), "%s", f->domain);
		break;
	case 'i':
		ip_text(s, val, sizeof(val), true);
		break;
	case 'p':
		snprintf(val, sizeof(val), "unknown");
		break;
	case 'h':
		snprintf(val, sizeof(val), "%s", s->helo);
		break;
	case 'v':
		snprintf(val, sizeof(val), "%s", s->family == AF_INET ? "in-addr" : "ip6");
		break;
	default:
		val[0] = '\0';
		break;
	}
	const char *p = val;
	for (;;) {
		const char *e = p;
		while (*e != '\0' && (nd == 0 ? *e != '.' : memchr(delims, *e, nd) == NULL))
			e++;
		if (np < N_ELEMENTS(parts)) {
			parts[np] = p;
			plen[np++] = (size_t)(e - p);
		}
		if (*e == '\0')
			break;
		p = e + 1;
	}
	if (rev)
		for (size_t i = 0; i < np / 2; i++) {
			const char *tp = parts[i];
			size_t tl = plen[i];
			parts[i] = parts[np - 1 - i];
			plen[i] = plen[np - 1 - i];
			parts[np - 1 - i] = tp;
			plen[np - 1 - i] = tl;
		}
	size_t first = digits > 0 && digits < np ? np - digits : 0, o = 0;
	bool escape = isupper((unsigned char)letter);
	for (size_t i = first; i < np; i++) {
		if (i > first && o + 1 < cap)
			out[o++] = '.';
		for (size_t j = 0; j < plen[i]; j++) {
			unsigned char c = (unsigned char)parts[i][j];
			if (escape && !isalnum(c) && strchr("-._~", c) == NULL) {
				if (o + 3 < cap)
					o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
			} else if (o + 1 < cap) {
				out[o++] = (char)c;
			}
		}
	}
	out[o] = '\0';
	return o;
}

/* expands a domain-spec (or the current domain) into out: 0, or -1 when
   the result is no domain name */
static int expand(const struct spf *s, const struct frame *f, const char *spec, size_t len,
		  char *out)
{
	char buf[MACRO_OUT];
	size_t o = 0, i = 0;

	if (spec == NULL) {
		snprintf(out, DNS_NAME_MAX, "%s", f->domain);
		return 0;
	}
	while (i < len && o + 1 < sizeof(buf)) {
		if (spec[i] != '%') {
			buf[o++] = spec[i++];
			continue;
		}
		i++;
		if (spec[i] == '%' || spec[i] == '_' || spec[i] == '-') {
			const char *lit = spec[i] == '%' ? "%" : spec[i] == '_' ? " " : "%20";
			for (; *lit != '\0' && o + 1 < sizeof(buf); lit++)
				buf[o++] = *lit;
			i++;
			continue;
		}
		i++; /* '{' */
		char letter = spec[i++];
		unsigned digits = 0;
		while (isdigit((unsigned char)spec[i]))
			digits = digits * 10 + (unsigned)(spec[i++] - '0');
		bool rev = spec[i] == 'r' || spec[i] == 'R';
		if (rev)
			i++;
		const char *delims = spec + i;
		while (spec[i] != '}')
			i++;
		size_t nd = (size_t)(spec + i - delims);
		i++;
		o += macro_value(s, f, letter, digits, rev, delims, nd, buf + o, sizeof(buf) - o);
	}
	buf[o] = '\0';
	/* §7.3: over 253 octets, labels go from the left */
	const char *p = buf;
	if (o > 0 && buf[o - 1] == '.')
		buf[--o] = '\0';
	while (strlen(p) > 253) {
		const char *dot = strchr(p, '.');
		if (dot == NULL)
			return -1;
		p = dot + 1;
	}
	size_t n = strlen(p); /* at most 253 now */
	memcpy(out, p, n + 1);
	return name_ok(out, false) ? 0 : -1;
}

/* ---- the machine ---- */

static void set_reason(struct spf *s, const char *fmt, ...) ATTR_FORMAT(2, 3);
static void set_reason(struct spf *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
	va_end(ap);
}

static void finish(struct spf *s, enum spf_result r)
{
	s->done = true;
	s->pending = false;
	s->result = r;
	while (s->depth > 0) {
		struct frame *f = s->fr[--s->depth];
		record_free(&f->rec);
		free(f);
	}
}

static struct frame *top(struct spf *s)
{
	return s->fr[s->depth - 1];
}

static const struct term *cur(struct frame *f)
{
	return &f->rec.t[f->i];
}

static void push(struct spf *s, const char *domain, bool none_is_perm)
{
	if (s->depth == MAX_FRAMES) {
		set_reason(s, "includes nested too deep");
		finish(s, SPF_PERMERROR);
		return;
	}
	struct frame *f = xcalloc(1, sizeof(*f));
	snprintf(f->domain, sizeof(f->domain), "%s", domain);
	f->none_is_perm = none_is_perm;
	s->fr[s->depth++] = f;
}

static void matched(struct spf *s, struct frame *f);

/* the frame on top ends with r */
static void frame_return(struct spf *s, enum spf_result r)
{
	struct frame *f = top(s);

	if (r == SPF_NONE && f->none_is_perm) {
		set_reason(s, "no SPF record at %.*s", 120, f->domain);
		r = SPF_PERMERROR;
	}
	if (r == SPF_TEMPERROR || r == SPF_PERMERROR || s->depth == 1) {
		finish(s, r);
		return;
	}
	record_free(&f->rec);
	free(f);
	s->depth--;
	struct frame *parent = top(s);
	if (r == SPF_PASS) {
		matched(s, parent);
		return;
	}
	parent->i++; /* fail, softfail, neutral: include does not match */
	parent->sub = W_NONE;
}

static void matched(struct spf *s, struct frame *f)
{
	const struct term *t = cur(f);
	enum spf_result r = t->qual == '-'   ? SPF_FAIL
			    : t->qual == '~' ? SPF_SOFTFAIL
			    : t->qual == '?' ? SPF_NEUTRAL
					     : SPF_PASS;
	if (s->depth == 1)
		set_reason(s, "mechanism %.*s matched", (int)(t->text_len > 80 ? 80 : t->text_len),
			   t->text);
	frame_return(s, r);
}

static void no_match(struct frame *f)
{
	f->i++;
	f->sub = W_NONE;
}

static bool count_lookup(struct spf *s)
{
	if (++s->lookups > SPF_MAX_LOOKUPS) {
		set_reason(s, "too many DNS lookups");
		finish(s, SPF_PERMERROR);
		return false;
	}
	return true;
}

static bool count_void(struct spf *s)
{
	if (++s->voids > SPF_MAX_VOID) {
		set_reason(s, "too many void DNS lookups");
		finish(s, SPF_PERMERROR);
		return false;
	}
	return true;
}

static bool in_net(const uint8_t *a, const uint8_t *net, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, net, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (net[full] & mask);
}

static bool addr_matches(const struct spf *s, const struct dns_answer *a, int c4, int c6)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct dns_record *r = &a->rr[i];
		if (r->u.addr.family != s->family)
			continue;
		if (in_net(s->ip, r->u.addr.bytes, s->family == AF_INET ? c4 : c6))
			return true;
	}
	return false;
}

static const struct dns_question *ask(struct spf *s, const char *name, enum dns_type type,
				      enum wait w)
{
	snprintf(s->q.name, sizeof(s->q.name), "%s", name);
	s->q.type = type;
	top(s)->sub = w;
	s->pending = true;
	s->queries++;
	return &s->q;
}

static enum dns_type addr_type(const struct spf *s)
{
	return s->family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

static void reverse_name(const struct spf *s, char *out)
{
	if (s->family == AF_INET) {
		snprintf(out, DNS_NAME_MAX, "%u.%u.%u.%u.in-addr.arpa", s->ip[3], s->ip[2],
			 s->ip[1], s->ip[0]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[s->ip[i] & 15];
		out[o++] = '.';
		out[o++] = hex[s->ip[i] >> 4];
		out[o++] = '.';
	}
	snprintf(out + o, DNS_NAME_MAX - o, "ip6.arpa");
}

/* name is target or below it */
static bool under(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (n == t)
		return strcasecmp(name, target) == 0;
	return n > t && name[n - t - 1] == '.' && strcasecmp(name + n - t, target) == 0;
}

/* the end of a record: redirect=, or neutral */
static void record_end(struct spf *s, struct frame *f)
{
	const struct term *rd = f->rec.redirect;
	char target[DNS_NAME_MAX];

	if (rd == NULL) {
		if (s->depth == 1)
			set_reason(s, "no mechanism matched");
		frame_return(s, SPF_NEUTRAL);
		return;
	}
	if (!count_lookup(s))
		return;
	if (expand(s, f, rd->spec, rd->spec_len, target) < 0) {
		set_reason(s, "bad redirect target");
		finish(s, SPF_PERMERROR);
		return;
	}
	record_free(&f->rec);
	memset(f, 0, sizeof(*f));
	snprintf(f->domain, sizeof(f->domain), "%s", target);
	f->none_is_perm = true;
}

/* evaluates terms until a question is needed or the result is known */
static const struct dns_question *step(struct spf *s)
{
	while (!s->done) {
		struct frame *f = top(s);
		if (s->pending)
			return &s->q;
		if (!f->fetched)
			return ask(s, f->domain, DNS_TYPE_TXT, W_TXT);
		if (f->sub == W_MX_ADDR) {
			if (f->ni == f->nn) {
				no_match(f);
				continue;
			}
			return ask(s, f->names[f->ni], addr_type(s), W_MX_ADDR);
		}
		if (f->sub == W_PTR_ADDR) {
			while (f->ni < f->nn && !under(f->names[f->ni], f->target))
				f->ni++;
			if (f->ni == f->nn) {
				no_match(f);
				continue;
			}
			return ask(s, f->names[f->ni], addr_type(s), W_PTR_ADDR);
		}
		if (f->i == f->rec.n) {
			record_end(s, f);
			continue;
		}
		const struct term *t = cur(f);
		switch (t->kind) {
		case T_ALL:
			matched(s, f);
			continue;
		case T_IP4:
			if (s->family == AF_INET && in_net(s->ip, t->net, t->c4))
				matched(s, f);
			else
				no_match(f);
			continue;
		case T_IP6:
			if (s->family == AF_INET6 && in_net(s->ip, t->net, t->c6))
				matched(s, f);
			else
				no_match(f);
			continue;
		case T_REDIRECT:
		case T_EXP:
		case T_MODIFIER:
			no_match(f);
			continue;
		default:
			break;
		}
		/* the terms that ask DNS */
		if (!count_lookup(s))
			continue;
		bool ok = expand(s, f, t->spec, t->spec_len, f->target) == 0;
		if (t->kind == T_INCLUDE) {
			if (!ok) {
				set_reason(s, "bad include target");
				finish(s, SPF_PERMERROR);
			} else {
				push(s, f->target, true);
			}
			continue;
		}
		if (!ok) {
			no_match(f);
			continue;
		}
		switch (t->kind) {
		case T_A:
			return ask(s, f->target, addr_type(s), W_A);
		case T_MX:
			return ask(s, f->target, DNS_TYPE_MX, W_MX);
		case T_EXISTS:
			return ask(s, f->target, DNS_TYPE_A, W_EXISTS);
		case T_PTR: {
			char rev[DNS_NAME_MAX];
			reverse_name(s, rev);
			return ask(s, rev, DNS_TYPE_PTR, W_PTR);
		}
		default:
			no_match(f);
			continue;
		}
	}
	return NULL;
}

const struct dns_question *spf_next(struct spf *s)
{
	return s == NULL ? NULL : step(s);
}

/* the TXT answer for the frame on top */
static void answer_txt(struct spf *s, struct frame *f, const struct dns_answer *a)
{
	const struct dns_record *pick = NULL;
	char why[128];

	if (a->result == DNS_RESULT_TEMP) {
		set_reason(s, "DNS error looking up %.*s TXT", 120, f->domain);
		finish(s, SPF_TEMPERROR);
		return;
	}
	if (a->result == DNS_RESULT_OK)
		for (size_t i = 0; i < a->n; i++) {
			const char *t = a->rr[i].u.txt.text;
			size_t len = a->rr[i].u.txt.len;
			if (len < 6 || strncasecmp(t, "v=spf1", 6) != 0 || (len > 6 && t[6] != ' '))
				continue;
			if (pick != NULL) {
				set_reason(s, "more than one SPF record at %.*s", 120, f->domain);
				finish(s, SPF_PERMERROR);
				return;
			}
			pick = &a->rr[i];
		}
	if (pick == NULL) {
		if (s->depth == 1 && !f->none_is_perm)
			set_reason(s, "no SPF record at %.*s", 120, f->domain);
		frame_return(s, SPF_NONE);
		return;
	}
	if (record_parse(&f->rec, pick->u.txt.text, pick->u.txt.len, why, sizeof(why)) < 0) {
		set_reason(s, "bad SPF record at %.*s: %.60s", 100, f->domain, why);
		finish(s, SPF_PERMERROR);
		return;
	}
	f->fetched = true;
	f->i = 0;
}

/* NXDOMAIN or NODATA to a mechanism's look-up */
static bool is_void(const struct dns_answer *a)
{
	return a->result == DNS_RESULT_NXDOMAIN || a->result == DNS_RESULT_NODATA ||
	       (a->result == DNS_RESULT_OK && a->n == 0);
}

static void copy_names(struct frame *f, const struct dns_answer *a)
{
	f->nn = 0;
	f->ni = 0;
	for (size_t i = 0; i < a->n && f->nn < SPF_MAX_NAMES; i++) {
		const char *name = a->rr[i].u.host.name;
		if (name == NULL || strlen(name) >= DNS_NAME_MAX)
			continue;
		snprintf(f->names[f->nn++], DNS_NAME_MAX, "%s", name);
	}
}

void spf_answer(struct spf *s, const struct dns_answer *a)
{
	if (s == NULL || a == NULL || s->done || !s->pending)
		return;
	if (a->result == DNS_RESULT_OK && a->type != s->q.type)
		return;
	struct frame *f = top(s);
	s->pending = false;
	enum wait w = f->sub;

	if (!f->fetched) {
		answer_txt(s, f, a);
		return;
	}
	if (a->result == DNS_RESULT_TEMP && w != W_PTR && w != W_PTR_ADDR) {
		set_reason(s, "DNS error looking up %.*s", 120, s->q.name);
		finish(s, SPF_TEMPERROR);
		return;
	}
	switch (w) {
	case W_A:
	case W_EXISTS:
		if (is_void(a)) {
			if (count_void(s))
				no_match(f);
		} else if (w == W_EXISTS || addr_matches(s, a, cur(f)->c4, cur(f)->c6)) {
			matched(s, f);
		} else {
			no_match(f);
		}
		return;
	case W_MX:
		if (is_void(a)) {
			if (count_void(s))
				no_match(f);
			return;
		}
		if (a->n > SPF_MAX_NAMES) {
			set_reason(s, "more than %d MX records at %.*s", SPF_MAX_NAMES, 120,
				   s->q.name);
			finish(s, SPF_PERMERROR);
			return;
		}
		copy_names(f, a);
		f->sub = W_MX_ADDR;
		return;
	case W_MX_ADDR:
		if (a->result == DNS_RESULT_OK && addr_matches(s, a, cur(f)->c4, cur(f)->c6)) {
			matched(s, f);
			return;
		}
		f->ni++;
		return;
	case W_PTR:
		if (a->result == DNS_RESULT_TEMP) {
			no_match(f);
		} else if (is_void(a)) {
			if (count_void(s))
				no_match(f);
		} else {
			copy_names(f, a);
			f->sub = W_PTR_ADDR;
		}
		return;
	case W_PTR_ADDR:
		if (a->result == DNS_RESULT_OK && addr_matches(s, a, 128, 128)) {
			matched(s, f);
			return;
		}
		f->ni++;
		return;
	default:
		return;
	}
}

static struct spf *spf_make(int family, const void *ip, const char *local, const char *domain,
			    const char *helo)
{
	struct spf *s = xcalloc(1, sizeof(*s));
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	s->family = family == AF_INET6 ? AF_INET6 : AF_INET;
	memcpy(s->ip, ip, s->family == AF_INET ? 4 : 16);
	if (s->family == AF_INET6 && memcmp(s->ip, mapped, 12) == 0) {
		s->family = AF_INET;
		memmove(s->ip, s->ip + 12, 4);
		memset(s->ip + 4, 0, 12);
	}
	snprintf(s->helo, sizeof(s->helo), "%s", helo != NULL ? helo : "");
	snprintf(s->local, sizeof(s->local), "%s", local);
	snprintf(s->sender_domain, sizeof(s->sender_domain), "%s", domain);
	snprintf(s->sender, sizeof(s->sender), "%s@%s", s->local, s->sender_domain);
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	if (strlen(domain) >= DNS_NAME_MAX || !name_ok(s->domain, true)) {
		set_reason(s, "no valid domain to check");
		s->done = true;
		s->result = SPF_NONE;
		return s;
	}
	push(s, s->domain, false);
	return s;
}

struct spf *spf_new(int family, const void *ip, const char *mail_from, const char *helo)
{
	const char *from = mail_from != NULL ? mail_from : "";
	const char *at = strrchr(from, '@');
	char local[DNS_NAME_MAX];

	if (*from == '\0')
		return spf_new_helo(family, ip, helo);
	if (at == NULL)
		return spf_make(family, ip, "postmaster", from, helo);
	size_t ll = (size_t)(at - from);
	if (ll == 0 || ll >= sizeof(local))
		snprintf(local, sizeof(local), "postmaster");
	else
		snprintf(local, sizeof(local), "%.*s", (int)ll, from);
	return spf_make(family, ip, local, at + 1, helo);
}

struct spf *spf_new_helo(int family, const void *ip, const char *helo)
{
	return spf_make(family, ip, "postmaster", helo != NULL ? helo : "", helo);
}

enum spf_result spf_result(const struct spf *s)
{
	return s != NULL && s->done ? s->result : SPF_TEMPERROR;
}

const char *spf_domain(const struct spf *s)
{
	return s != NULL ? s->domain : "";
}

const char *spf_reason(const struct spf *s)
{
	return s != NULL ? s->reason : "";
}

unsigned spf_queries(const struct spf *s)
{
	return s != NULL ? s->queries : 0;
}

void spf_free(struct spf **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	finish(*sp, (*sp)->result);
	free(*sp);
	*sp = NULL;
}
