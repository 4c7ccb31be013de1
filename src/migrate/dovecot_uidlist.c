/* SPDX-License-Identifier: MIT */
/*
 * dovecot_uidlist.c - parsers of Dovecot's dovecot-uidlist and Courier's
 * courierpop3dsizelist, and Dovecot's pop3_uidl_format (dovecot_uidlist.h).
 *
 * Both files come from another server's disk and may be damaged: every line
 * is checked, nothing is trusted to be terminated or bounded, and a
 * malformed line fails the whole file with its number rather than giving a
 * message some UIDL nobody served.
 */
#include "migrate/dovecot_uidlist.h"
#include "util/mem.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool dc_next_line(const char **p, const char *end, const char **line, size_t *len)
{
	if (*p >= end)
		return false;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	*line = *p;
	*len = nl != NULL ? (size_t)(nl - *p) : (size_t)(end - *p);
	*p = nl != NULL ? nl + 1 : end;
	if (*len > 0 && (*line)[*len - 1] == '\r')
		(*len)--;
	return true;
}

/* A decimal uint32 at *s (advanced past it); false if none or too big. */
static bool u32_at(const char **s, const char *end, uint32_t *v)
{
	uint64_t x = 0;
	const char *p = *s;
	while (p < end && *p >= '0' && *p <= '9' && x <= UINT32_MAX)
		x = x * 10 + (uint64_t)(*p++ - '0');
	if (p == *s || x > UINT32_MAX)
		return false;
	*s = p;
	*v = (uint32_t)x;
	return true;
}

static char *base_name(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	return xstrndup(s, colon != NULL ? (size_t)(colon - s) : n);
}

static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

void dc_uidlist_free(struct dc_uidlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->recs[i].name);
		free(l->recs[i].pop3_uidl);
		free(l->recs[i].guid);
	}
	free(l->recs);
	free(l->guid);
	memset(l, 0, sizeof(*l));
}

static int parse_header(const char *s, size_t n, struct dc_uidlist *l, char *err, size_t err_len)
{
	const char *p = s, *end = s + n;
	uint32_t ver;

	if (!u32_at(&p, end, &ver) || (ver != 1 && ver != 2 && ver != 3) || p == end || *p != ' ') {
		snprintf(err, err_len, "line 1: not a dovecot-uidlist header of version 1, 2 or 3");
		return -1;
	}
	l->version = ver;
	p++;
	if (ver == 1) {
		/* "1 <uidvalidity> <next uid>" */
		if (!u32_at(&p, end, &l->uidvalidity) || p == end || *p++ != ' ' ||
		    !u32_at(&p, end, &l->next_uid) || p != end) {
			snprintf(err, err_len,
				 "line 1: version 1 header is not "
				 "\"1 UIDVALIDITY NEXTUID\"");
			return -1;
		}
	} else {
		/* space-separated fields, one letter and a value each */
		while (p < end) {
			const char *sp = memchr(p, ' ', (size_t)(end - p));
			const char *fe = sp != NULL ? sp : end;
			const char *v = p + 1;
			if (*p == 'V' && (!u32_at(&v, fe, &l->uidvalidity) || v != fe)) {
				snprintf(err, err_len, "line 1: bad V (uidvalidity) field");
				return -1;
			}
			if (*p == 'N' && (!u32_at(&v, fe, &l->next_uid) || v != fe)) {
				snprintf(err, err_len, "line 1: bad N (next uid) field");
				return -1;
			}
			if (*p == 'G' && l->guid == NULL)
				l->guid = xstrndup(p + 1, (size_t)(fe - p - 1));
			p = sp != NULL ? sp + 1 : end;
		}
	}
	if (l->uidvalidity == 0) {
		snprintf(err, err_len, "line 1: no uidvalidity");
		return -1;
	}
	return 0;
}

static int parse_record(const char *s, size_t n, unsigned line, struct dc_uidlist *l, char *err,
			size_t err_len)
{
	const char *p = s, *end = s + n;
	struct dc_uidrec r = {.line = line};

	if (!u32_at(&p, end, &r.uid) || r.uid == 0 || p == end || *p++ != ' ') {
		snprintf(err, err_len, "line %u: no uid", line);
		return -1;
	}
	if (l->n > 0 && r.uid <= l->recs[l->n - 1].uid) {
		snprintf(err, err_len, "line %u: uid %" PRIu32 " is not above the one before", line,
			 r.uid);
		return -1;
	}
	if (l->version == 1) {
		if (p == end) {
			snprintf(err, err_len, "line %u: no file name", line);
			return -1;
		}
		r.name = base_name(p, (size_t)(end - p));
	} else {
		while (p < end && *p != ':') {
			const char *sp = memchr(p, ' ', (size_t)(end - p));
			const char *fe = sp != NULL ? sp : end;
			if (*p == 'P' && r.pop3_uidl == NULL)
				r.pop3_uidl = xstrndup(p + 1, (size_t)(fe - p - 1));
			else if (*p == 'G' && r.guid == NULL)
				r.guid = xstrndup(p + 1, (size_t)(fe - p - 1));
			p = sp != NULL ? sp + 1 : end;
		}
		if (p >= end - 1) {
			free(r.pop3_uidl);
			free(r.guid);
			snprintf(err, err_len, "line %u: no \":FILENAME\"", line);
			return -1;
		}
		r.name = base_name(p + 1, (size_t)(end - p - 1));
	}
	if (r.name[0] == '\0' || strchr(r.name, '/') != NULL || memchr(s, '\0', n) != NULL) {
		free(r.name);
		free(r.pop3_uidl);
		free(r.guid);
		snprintf(err, err_len, "line %u: bad file name", line);
		return -1;
	}
	if ((l->n & (l->n + 1)) == 0 || l->n == 0)
		l->recs = xrealloc(l->recs, (l->n * 2 + 2) * sizeof(*l->recs));
	l->recs[l->n++] = r;
	return 0;
}

int dc_uidlist_parse(const char *data, size_t len, struct dc_uidlist *l, char *err, size_t err_len)
{
	const char *p = data, *end = data + len, *s;
	size_t n;
	unsigned line = 1;

	memset(l, 0, sizeof(*l));
	if (!dc_next_line(&p, end, &s, &n)) {
		snprintf(err, err_len, "line 1: empty file");
		return -1;
	}
	if (parse_header(s, n, l, err, err_len) < 0)
		goto fail;
	while (dc_next_line(&p, end, &s, &n)) {
		line++;
		if (n == 0)
			continue;
		if (parse_record(s, n, line, l, err, err_len) < 0)
			goto fail;
	}
	return 0;
fail:
	dc_uidlist_free(l);
	return -1;
}

/* Applies Dovecot's modifiers to a value. */
static void modify(char *v, size_t v_len, const char *mods, size_t n_mods)
{
	for (size_t i = 0; i < n_mods; i++) {
		char m = mods[i];
		if (m == 'X') {
			unsigned long long x = strtoull(v, NULL, 10);
			snprintf(v, v_len, "%llx", x); /* Dovecot: lower-case */
		} else {
			for (char *c = v; *c != '\0'; c++)
				if (m == 'U' && *c >= 'a' && *c <= 'z')
					*c = (char)(*c - 'a' + 'A');
				else if (m == 'L' && *c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
		}
	}
}

int dc_uidl_format(const char *fmt, uint32_t uid, uint32_t uidvalidity, const char *filename,
		   const char *guid, char *out, size_t out_len, char *err, size_t err_len)
{
	size_t o = 0;
	char v[256];

	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			if (o + 1 < out_len)
				out[o] = *p;
			o++;
			continue;
		}
		p++;
		bool zero = *p == '0';
		size_t width = 0;
		while (*p >= '0' && *p <= '9' && width < 100)
			width = width * 10 + (size_t)(*p++ - '0');
		const char *mods = p;
		while (*p == 'X' || *p == 'U' || *p == 'L')
			p++;
		size_t n_mods = (size_t)(p - mods);
		char var[16] = "";
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (close == NULL || (size_t)(close - p - 1) >= sizeof(var)) {
				snprintf(err, err_len, "pop3_uidl_format %s: unknown variable",
					 fmt);
				return -1;
			}
			memcpy(var, p + 1, (size_t)(close - p - 1));
			var[close - p - 1] = '\0';
			p = close;
		} else if (*p != '\0') {
			var[0] = *p;
		}
		if (strcmp(var, "%") == 0)
			snprintf(v, sizeof(v), "%%");
		else if (strcmp(var, "u") == 0 || strcmp(var, "uid") == 0)
			snprintf(v, sizeof(v), "%" PRIu32, uid);
		else if (strcmp(var, "v") == 0 || strcmp(var, "uidvalidity") == 0)
			snprintf(v, sizeof(v), "%" PRIu32, uidvalidity);
		else if (strcmp(var, "f") == 0 || strcmp(var, "filename") == 0)
			snprintf(v, sizeof(v), "%s", filename);
		else if (strcmp(var, "g") == 0 || strcmp(var, "guid") == 0)
			snprintf(v, sizeof(v), "%s", guid);
		else {
			/* %m (the header's MD5) would need Dovecot's own header
			   parse to match byte for byte: refused, not guessed */
			snprintf(err, err_len,
				 "pop3_uidl_format %s: variable %%%s is not supported", fmt, var);
			return -1;
		}
		if (*p == '\0')
			p--;
		modify(v, sizeof(v), mods, n_mods);
		size_t vl = strlen(v);
		if (zero) {
			for (size_t k = vl; k < width; k++, o++)
				if (o + 1 < out_len)
					out[o] = '0';
		} else if (width > 0 && vl > width) {
			vl = width; /* Dovecot: a width alone truncates */
		}
		for (size_t k = 0; k < vl; k++, o++)
			if (o + 1 < out_len)
				out[o] = v[k];
	}
	if (out_len > 0)
		out[o < out_len ? o : out_len - 1] = '\0';
	if (o == 0 || o > 70 || o >= out_len || !printable(out, o)) {
		snprintf(err, err_len,
			 "pop3_uidl_format %s gives \"%.80s\" for uid %" PRIu32
			 ", which is no valid UIDL (1-70 printable characters)",
			 fmt, o < out_len ? out : "...", uid);
		return -1;
	}
	return 0;
}

void courier_list_free(struct courier_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->recs[i].name);
	free(l->recs);
	memset(l, 0, sizeof(*l));
}

/* Courier's version 0 UIDL: the base name, with +XX for what is not
   printable or is ', " or +. */
static void courier_name_uidl(const char *name, char *out, size_t out_len)
{
	size_t o = 0;
	for (const unsigned char *c = (const unsigned char *)name; *c != '\0' && o + 4 < out_len;
	     c++) {
		if (*c < 0x21 || *c > 0x7e || *c == '\'' || *c == '"' || *c == '+')
			o += (size_t)snprintf(out + o, out_len - o, "+%02X", *c);
		else
			out[o++] = (char)*c;
	}
	out[o] = '\0';
}

int courier_list_parse(const char *data, size_t len, struct courier_list *l, char *err,
		       size_t err_len)
{
	const char *p = data, *end = data + len, *s;
	size_t n;
	unsigned line = 1;

	memset(l, 0, sizeof(*l));
	if (!dc_next_line(&p, end, &s, &n) || n < 2 || s[0] != '/' ||
	    (s[1] != '2' && s[1] != '3') || (n > 2 && s[2] != ' ')) {
		snprintf(err, err_len,
			 "line 1: not a courierpop3dsizelist header of version 2 or 3");
		return -1;
	}
	while (dc_next_line(&p, end, &s, &n)) {
		line++;
		/* "<name> <size> <uid>:<uidv>[:<utf8>]": the name may hold spaces,
		   so the last two fields are split off from the end (as Courier
		   does); a line that does not scan is skipped, as Courier does */
		const char *sp2 = NULL, *sp1 = NULL;
		for (const char *c = s + n; c > s; c--)
			if (c[-1] == ' ') {
				if (sp2 == NULL)
					sp2 = c - 1;
				else {
					sp1 = c - 1;
					break;
				}
			}
		if (sp1 == NULL || sp1 == s)
			continue;
		const char *q = sp1 + 1;
		uint32_t size, uid, uidv = 0;
		if (!u32_at(&q, sp2, &size) || q != sp2)
			continue;
		q = sp2 + 1;
		if (!u32_at(&q, s + n, &uid) || q == s + n || *q++ != ':' ||
		    !u32_at(&q, s + n, &uidv))
			continue;
		(void)size;
		if (memchr(s, '\0', (size_t)(sp1 - s)) != NULL)
			continue;
		struct courier_rec r = {.name = base_name(s, (size_t)(sp1 - s))};
		if (uid != 0 && uidv != 0)
			snprintf(r.uidl, sizeof(r.uidl), "UID%" PRIu32 "-%" PRIu32, uid, uidv);
		else if (uid != 0)
			snprintf(r.uidl, sizeof(r.uidl), "UID%" PRIu32, uid);
		else
			courier_name_uidl(r.name, r.uidl, sizeof(r.uidl));
		if (r.uidl[0] == '\0') {
			free(r.name);
			continue;
		}
		if ((l->n & (l->n + 1)) == 0 || l->n == 0)
			l->recs = xrealloc(l->recs, (l->n * 2 + 2) * sizeof(*l->recs));
		l->recs[l->n++] = r;
	}
	return 0;
}
