/* SPDX-License-Identifier: MIT */
/*
 * maildirpp.c - Maildir++ folder names, info flags, dovecot-keywords and
 * subscriptions (maildirpp.h). Modified UTF-7 is the one codec IMAP uses
 * for rev1 names (imap/imap_utf7.h), so a folder has the same on-disk name
 * here as its rev1 name there.
 */
#include "migrate/maildirpp.h"
#include "migrate/dovecot_uidlist.h"
#include "imap/imap_utf7.h"
#include "store/store.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ESCAPE '\\'

static const char hex[] = "0123456789abcdef";

static void terminate(struct buf *out)
{
	buf_reserve(out, 1);
	out->data[out->len] = '\0';
}

int maildirpp_name_encode(const char *name, struct buf *out)
{
	struct buf lvl = {0};
	int r = 0;

	if (strcmp(name, "INBOX") == 0) {
		terminate(out);
		return 0;
	}
	for (const char *p = name; r == 0;) {
		size_t len = strcspn(p, "/");
		buf_clear(&lvl);
		r = imap_utf7_encode((struct slice){p, len}, &lvl);
		buf_append_c(out, '.');
		for (size_t i = 0; r == 0 && i < lvl.len; i++) {
			unsigned char c = (unsigned char)lvl.data[i];
			if (c == '.' || c == '/' || c == ESCAPE || (i == 0 && c == '~')) {
				buf_append_c(out, ESCAPE);
				buf_append_c(out, hex[c >> 4]);
				buf_append_c(out, hex[c & 15]);
			} else {
				buf_append_c(out, (char)c);
			}
		}
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	buf_free(&lvl);
	terminate(out);
	return r;
}

static int hexval(char c)
{
	const char *p = c != '\0' ? strchr(hex, c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c) : NULL;
	return p != NULL ? (int)(p - hex) : -1;
}

/* One level of a directory name, unescaped, then from modified UTF-7. */
static int level_decode(const char *p, size_t len, struct buf *out, char *err, size_t err_len)
{
	struct buf raw = {0};
	int r = 0;

	for (size_t i = 0; i < len && r == 0; i++) {
		if (p[i] != ESCAPE) {
			buf_append_c(&raw, p[i]);
			continue;
		}
		int hi = i + 2 < len ? hexval(p[i + 1]) : -1, lo = hi >= 0 ? hexval(p[i + 2]) : -1;
		if (lo < 0 || (hi == 0 && lo == 0)) {
			snprintf(err, err_len, "a '\\' that is no escape (\\ and two hex digits)");
			r = -1;
		} else {
			buf_append_c(&raw, (char)(hi << 4 | lo));
			i += 2;
		}
	}
	if (r == 0 && imap_utf7_decode((struct slice){raw.data, raw.len}, out) < 0) {
		snprintf(err, err_len, "a level that is no modified UTF-7");
		r = -1;
	}
	buf_free(&raw);
	return r;
}

int maildirpp_name_decode(const char *dir, size_t len, struct buf *out, char *err, size_t err_len)
{
	size_t start = out->len;

	if (len < 2 || dir[0] != '.') {
		snprintf(err, err_len, "no Maildir++ folder (a name '.' and more)");
		return -1;
	}
	for (size_t pos = 1; pos <= len;) {
		const char *dot = memchr(dir + pos, '.', len - pos);
		size_t end = dot != NULL ? (size_t)(dot - dir) : len;
		if (end == pos) {
			snprintf(err, err_len, "an empty level");
			out->len = start;
			terminate(out);
			return -1;
		}
		if (pos > 1)
			buf_append_c(out, '/');
		if (level_decode(dir + pos, end - pos, out, err, err_len) < 0) {
			out->len = start;
			terminate(out);
			return -1;
		}
		pos = end + 1;
	}
	terminate(out);
	return 0;
}

/* The info letters of the store's flags, in ASCII order. */
static const struct {
	char letter;
	unsigned flag;
} info_flags[] = {
    {'D', STORE_FLAG_DRAFT}, {'F', STORE_FLAG_FLAGGED}, {'R', STORE_FLAG_ANSWERED},
    {'S', STORE_FLAG_SEEN},  {'T', STORE_FLAG_DELETED},
};

void maildirpp_info_parse(const char *file_name, unsigned *flags_r, unsigned *letters_r)
{
	const char *info = strstr(file_name, ":2,");

	*flags_r = 0;
	*letters_r = 0;
	if (info == NULL)
		return;
	for (const char *p = info + 3; *p != '\0' && *p != ','; p++) {
		if (*p >= 'a' && *p <= 'z')
			*letters_r |= 1u << (*p - 'a');
		for (size_t i = 0; i < N_ELEMENTS(info_flags); i++)
			if (*p == info_flags[i].letter)
				*flags_r |= info_flags[i].flag;
	}
}

void maildirpp_info_format(unsigned flags, unsigned letters, struct buf *out)
{
	buf_append_str(out, ":2,");
	for (size_t i = 0; i < N_ELEMENTS(info_flags); i++)
		if (flags & info_flags[i].flag)
			buf_append_c(out, info_flags[i].letter);
	for (unsigned i = 0; i < MAILDIRPP_KEYWORDS; i++)
		if (letters & (1u << i))
			buf_append_c(out, (char)('a' + i));
}

void maildirpp_keywords_free(struct maildirpp_keywords *k)
{
	for (size_t i = 0; i < MAILDIRPP_KEYWORDS; i++) {
		free(k->name[i]);
		k->name[i] = NULL;
	}
}

int maildirpp_keywords_parse(const char *data, size_t len, struct maildirpp_keywords *k, char *err,
			     size_t err_len)
{
	const char *p = data, *end = data + len, *line;
	size_t n;
	unsigned no = 0;

	memset(k, 0, sizeof(*k));
	while (dc_next_line(&p, end, &line, &n)) {
		no++;
		if (n == 0)
			continue;
		size_t i = 0;
		unsigned idx = 0;
		while (i < n && i < 3 && line[i] >= '0' && line[i] <= '9')
			idx = idx * 10 + (unsigned)(line[i++] - '0');
		const char *why = NULL;
		if (i == 0 || i >= n || line[i] != ' ')
			why = "not '<number> <keyword>'";
		else if (idx >= MAILDIRPP_KEYWORDS)
			why = "a number past 25 (the letters a-z)";
		else if (k->name[idx] != NULL)
			why = "a number given twice";
		else if (i + 1 == n)
			why = "an empty keyword";
		for (size_t j = i + 1; why == NULL && j < n; j++)
			if ((unsigned char)line[j] < 0x20 || line[j] == 0x7f)
				why = "a control character in the keyword";
		if (why != NULL) {
			snprintf(err, err_len, "line %u: %s", no, why);
			maildirpp_keywords_free(k);
			return -1;
		}
		k->name[idx] = xstrndup(line + i + 1, n - i - 1);
	}
	return 0;
}

void maildirpp_subscriptions_parse(const char *data, size_t len, maildirpp_subscribed_cb *cb,
				   void *ctx)
{
	static const char v2[] = "V\t2\n\n";
	const char *p = data, *end = data + len, *line;
	size_t n;
	bool tabs = len >= sizeof(v2) - 1 && memcmp(data, v2, sizeof(v2) - 1) == 0;
	struct buf dir = {0}, name = {0};
	char why[128];

	if (tabs)
		p += sizeof(v2) - 1;
	while (dc_next_line(&p, end, &line, &n)) {
		if (n == 0)
			continue;
		if (n == 5 && strncmp(line, "INBOX", 5) == 0) {
			cb("INBOX", ctx);
			continue;
		}
		/* as a directory name: both forms hold escaped levels */
		buf_clear(&dir);
		buf_append_c(&dir, '.');
		for (size_t i = 0; i < n; i++)
			buf_append_c(&dir, tabs && line[i] == '\t' ? '.' : line[i]);
		buf_clear(&name);
		if (maildirpp_name_decode(dir.data, dir.len, &name, why, sizeof(why)) == 0)
			cb(name.data, ctx);
	}
	buf_free(&dir);
	buf_free(&name);
}
